variable "name" {
  type        = string
  description = "Storage account name (from naming_conventions.tf): 3-24 lowercase letters and digits, globally unique."

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.name))
    error_message = "name must be 3-24 lowercase letters or digits."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the account."

  validation {
    condition     = length(var.resource_group_name) > 0
    error_message = "resource_group_name must not be empty."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the account (the Function App's region)."

  validation {
    condition     = length(var.location) > 0
    error_message = "location must not be empty."
  }
}

variable "replication_type" {
  type        = string
  description = "Replication: LRS (dev), ZRS (zone-redundant production), GRS or GZRS."
  default     = "LRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS"], var.replication_type)
    error_message = "replication_type must be LRS, ZRS, GRS or GZRS."
  }
}

variable "shared_access_key_enabled" {
  type        = bool
  description = "Allow shared key authorization. Keep false unless an Elastic Premium content share (Azure Files, key-based only) lives here."
  default     = false
}

variable "allowed_subnet_ids" {
  type        = list(string)
  description = "Subnets (with the Microsoft.Storage service endpoint) admitted through the firewall."
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_subnet_ids : can(regex("/subnets/[^/]+$", id))])
    error_message = "allowed_subnet_ids must be subnet resource IDs."
  }
}

variable "allowed_ip_ranges" {
  type        = list(string)
  description = "Public IPs or CIDRs (/30 or larger; /31 and /32 are given as plain addresses) admitted through the firewall."
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_ip_ranges : !startswith(c, "0.0.0.0") && !endswith(c, "/31") && !endswith(c, "/32")])
    error_message = "allowed_ip_ranges must not open the account to everyone; give /31 and /32 ranges as plain IP addresses."
  }
}

variable "content_share_names" {
  type        = list(string)
  description = "Azure Files shares to create for Elastic Premium app content (one per app or slot)."
  default     = []

  validation {
    condition     = alltrue([for n in var.content_share_names : can(regex("^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", n))])
    error_message = "content_share_names must be 3-63 lowercase letters, digits and single hyphens."
  }
}

variable "containers" {
  type = map(object({
    cool_after_days   = optional(number, 0)
    delete_after_days = optional(number, 0)
  }))
  description = "Private blob containers to create, by name, with their lifecycle: blobs move to the cool tier cool_after_days after creation and are deleted delete_after_days after creation (0: never)."
  default     = {}

  validation {
    condition     = alltrue([for n in keys(var.containers) : can(regex("^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", n))])
    error_message = "container names must be 3-63 lowercase letters, digits and single hyphens."
  }

  validation {
    condition = alltrue([for c in values(var.containers) :
      c.cool_after_days >= 0 && c.delete_after_days >= 0 && floor(c.cool_after_days) == c.cool_after_days && floor(c.delete_after_days) == c.delete_after_days
      && (c.cool_after_days == 0 || c.delete_after_days == 0 || c.cool_after_days < c.delete_after_days)
    ])
    error_message = "cool_after_days and delete_after_days must be whole numbers of days, 0 or more, and a container that has both moves blobs to cool before it deletes them (cool_after_days < delete_after_days)."
  }
}

variable "content_share_quota_gb" {
  type        = number
  description = "Quota of each content share in GB."
  default     = 5

  validation {
    condition     = var.content_share_quota_gb >= 1 && var.content_share_quota_gb <= 5120
    error_message = "content_share_quota_gb must be from 1 to 5120."
  }
}

variable "soft_delete_retention_days" {
  type        = number
  description = "Days deleted blobs, containers and shares can be recovered."
  default     = 7

  validation {
    condition     = var.soft_delete_retention_days >= 1 && var.soft_delete_retention_days <= 365
    error_message = "soft_delete_retention_days must be from 1 to 365."
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace receiving the blob service's logs and metrics."

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
  description = "Tags of the account (the common tag set)."

  validation {
    condition     = alltrue([for k in ["environment", "app", "owner", "costcenter", "managed_by"] : contains(keys(var.tags), k)])
    error_message = "tags must contain environment, app, owner, costcenter and managed_by."
  }
}
