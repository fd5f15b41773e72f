variable "name" {
  type        = string
  description = "Server name (from naming_conventions.tf), globally unique: <name>.postgres.database.azure.com."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be 3-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the server."

  validation {
    condition     = length(var.resource_group_name) > 0
    error_message = "resource_group_name must not be empty."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the server."

  validation {
    condition     = length(var.location) > 0
    error_message = "location must not be empty."
  }
}

variable "postgresql_version" {
  type        = string
  description = "PostgreSQL major version."
  default     = "16"

  validation {
    condition     = contains(["14", "15", "16", "17"], var.postgresql_version)
    error_message = "postgresql_version must be 14, 15, 16 or 17."
  }
}

variable "sku_name" {
  type        = string
  description = "Compute SKU, e.g. B_Standard_B1ms, GP_Standard_D2ds_v5."

  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_", var.sku_name))
    error_message = "sku_name must be a flexible server SKU (B_Standard_*, GP_Standard_* or MO_Standard_*)."
  }
}

variable "storage_mb" {
  type        = number
  description = "Initial storage in MB; auto-grow raises it when needed."
  default     = 32768

  validation {
    condition     = contains([32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408], var.storage_mb)
    error_message = "storage_mb must be one of the sizes flexible server offers."
  }
}

variable "backup_retention_days" {
  type        = number
  description = "Backup retention, which is also the point-in-time-restore window, in days."
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be from 7 to 35."
  }
}

variable "geo_redundant_backup_enabled" {
  type        = bool
  description = "Copy backups to the paired region (set at creation)."
  default     = false
}

variable "high_availability_enabled" {
  type        = bool
  description = "Add a zone-redundant hot standby with automatic failover."
  default     = false

  validation {
    condition     = !var.high_availability_enabled || !startswith(var.sku_name, "B_")
    error_message = "High availability is not available on burstable (B_) SKUs."
  }
}

variable "zone" {
  type        = string
  description = "Availability zone of the primary."
  default     = "1"

  validation {
    condition     = contains(["1", "2", "3"], var.zone)
    error_message = "zone must be 1, 2 or 3."
  }
}

variable "standby_zone" {
  type        = string
  description = "Availability zone of the standby (used with high availability)."
  default     = "2"

  validation {
    condition     = contains(["1", "2", "3"], var.standby_zone)
    error_message = "standby_zone must be 1, 2 or 3."
  }
}

variable "maintenance_window" {
  type = object({
    day_of_week = number
    start_hour  = number
  })
  description = "Weekly planned-maintenance window in UTC (day_of_week 0 = Sunday)."
  default = {
    day_of_week = 0
    start_hour  = 3
  }

  validation {
    condition     = var.maintenance_window.day_of_week >= 0 && var.maintenance_window.day_of_week <= 6 && var.maintenance_window.start_hour >= 0 && var.maintenance_window.start_hour <= 23
    error_message = "maintenance_window needs day_of_week 0-6 and start_hour 0-23."
  }
}

variable "tenant_id" {
  type        = string
  description = "Microsoft Entra tenant whose identities log in to the server."

  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
  }
}

variable "administrators" {
  type = map(object({
    object_id      = string
    principal_name = string
    principal_type = string
  }))
  description = "Microsoft Entra principals registered on the server, keyed by a label. principal_name is the database role name the principal logs in as (PAYMETRICS_DB_USER for the Function App)."

  validation {
    condition     = length(var.administrators) > 0 && alltrue([for a in values(var.administrators) : contains(["User", "Group", "ServicePrincipal"], a.principal_type)])
    error_message = "administrators needs at least one principal, each of type User, Group or ServicePrincipal."
  }
}

variable "database_name" {
  type        = string
  description = "Name of the application database (PAYMETRICS_DB_NAME)."
  default     = "paymetrics"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must be a lowercase PostgreSQL identifier (letters, digits, underscores)."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  description = "Open the public endpoint to the firewall_rules (the private endpoint works either way)."
  default     = false
}

variable "firewall_rules" {
  type = map(object({
    start_ip_address = string
    end_ip_address   = string
  }))
  description = "Narrow public firewall rules keyed by rule name; only applied with public_network_access_enabled."
  default     = {}

  validation {
    condition = alltrue([for r in values(var.firewall_rules) :
      can(cidrhost("${r.start_ip_address}/32", 0)) && can(cidrhost("${r.end_ip_address}/32", 0)) &&
      r.start_ip_address != "0.0.0.0" && r.end_ip_address != "255.255.255.255"
    ])
    error_message = "firewall_rules need IPv4 start and end addresses and must not allow everyone or all of Azure (0.0.0.0, 255.255.255.255)."
  }

  validation {
    condition     = alltrue([for k in keys(var.firewall_rules) : can(regex("^[a-zA-Z0-9_-]{1,128}$", k))])
    error_message = "firewall_rules keys (the rule names) must be 1-128 letters, digits, hyphens or underscores."
  }
}

variable "private_endpoint_name" {
  type        = string
  description = "Name of the private endpoint (from naming_conventions.tf)."

  validation {
    condition     = length(var.private_endpoint_name) > 0
    error_message = "private_endpoint_name must not be empty."
  }
}

variable "private_endpoint_nic_name" {
  type        = string
  description = "Name of the private endpoint's network interface (from naming_conventions.tf)."

  validation {
    condition     = length(var.private_endpoint_nic_name) > 0
    error_message = "private_endpoint_nic_name must not be empty."
  }
}

variable "private_service_connection_name" {
  type        = string
  description = "Name of the private endpoint's service connection (from naming_conventions.tf)."

  validation {
    condition     = length(var.private_service_connection_name) > 0
    error_message = "private_service_connection_name must not be empty."
  }
}

variable "private_dns_zone_group_name" {
  type        = string
  description = "Name of the private endpoint's DNS zone group."

  validation {
    condition     = length(var.private_dns_zone_group_name) > 0
    error_message = "private_dns_zone_group_name must not be empty."
  }
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet the private endpoint gets its address in."

  validation {
    condition     = can(regex("/subnets/[^/]+$", var.private_endpoint_subnet_id))
    error_message = "private_endpoint_subnet_id must be a subnet resource ID."
  }
}

variable "private_dns_zone_id" {
  type        = string
  description = "ID of the privatelink.postgres.database.azure.com zone linked to the virtual network."

  validation {
    condition     = can(regex("(?i)/privateDnsZones/privatelink\\.postgres\\.database\\.azure\\.com$", var.private_dns_zone_id))
    error_message = "private_dns_zone_id must be the ID of a privatelink.postgres.database.azure.com private DNS zone."
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace receiving the server's logs and metrics."

  validation {
    condition     = can(regex("(?i)/providers/Microsoft.OperationalInsights/workspaces/[^/]+$", var.log_analytics_workspace_id))
    error_message = "log_analytics_workspace_id must be a Log Analytics workspace resource ID."
  }
}

variable "diagnostic_setting_name" {
  type        = string
  description = "Name of the diagnostic setting (from naming_conventions.tf)."

  validation {
    condition     = length(var.diagnostic_setting_name) > 0
    error_message = "diagnostic_setting_name must not be empty."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags of the server and its private endpoint (the common tag set)."

  validation {
    condition     = alltrue([for k in ["environment", "app", "owner", "costcenter", "managed_by"] : contains(keys(var.tags), k)])
    error_message = "tags must contain environment, app, owner, costcenter and managed_by."
  }
}
