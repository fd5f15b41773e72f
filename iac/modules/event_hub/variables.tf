variable "namespace_name" {
  type        = string
  description = "Event Hubs namespace name (from naming_conventions.tf), globally unique."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{4,48}[a-zA-Z0-9]$", var.namespace_name))
    error_message = "namespace_name must be 6-50 letters, digits or hyphens, start with a letter and end with a letter or digit."
  }
}

variable "eventhub_name" {
  type        = string
  description = "Name of the payments hub (the Function App's EventHubName)."

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$", var.eventhub_name))
    error_message = "eventhub_name must be 1-256 letters, digits, periods, hyphens or underscores, starting with a letter or digit."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the namespace."

  validation {
    condition     = length(var.resource_group_name) > 0
    error_message = "resource_group_name must not be empty."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the namespace."

  validation {
    condition     = length(var.location) > 0
    error_message = "location must not be empty."
  }
}

variable "sku" {
  type        = string
  description = "Namespace tier: Standard or Premium (Basic allows no extra consumer groups, network rules or Capture)."
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "Premium"], var.sku)
    error_message = "sku must be Standard or Premium."
  }
}

variable "capacity" {
  type        = number
  description = "Throughput units (Standard, 1-40) or processing units (Premium: 1, 2, 4, 8, 16)."
  default     = 1

  validation {
    condition     = var.capacity >= 1 && var.capacity <= 40 && floor(var.capacity) == var.capacity
    error_message = "capacity must be a whole number from 1 to 40."
  }
}

variable "maximum_throughput_units" {
  type        = number
  description = "Auto-inflate ceiling (Standard only); 0 keeps the capacity fixed."
  default     = 0

  validation {
    condition     = var.maximum_throughput_units >= 0 && var.maximum_throughput_units <= 40
    error_message = "maximum_throughput_units must be from 0 to 40."
  }
}

variable "partition_count" {
  type        = number
  description = "Partitions of the hub: the most readers in parallel. Cannot change on Standard after creation."
  default     = 2

  validation {
    condition     = var.partition_count >= 1 && var.partition_count <= 32 && floor(var.partition_count) == var.partition_count
    error_message = "partition_count must be a whole number from 1 to 32."
  }
}

variable "message_retention_days" {
  type        = number
  description = "Days events stay in the hub (the replay window)."
  default     = 1

  validation {
    condition     = var.message_retention_days >= 1 && var.message_retention_days <= 7
    error_message = "message_retention_days must be from 1 to 7 (Standard)."
  }
}

variable "capture_storage_account_id" {
  type        = string
  description = "Resource ID of the storage account Capture writes the archive to."

  validation {
    condition     = can(regex("(?i)/providers/Microsoft.Storage/storageAccounts/[a-z0-9]{3,24}$", var.capture_storage_account_id))
    error_message = "capture_storage_account_id must be a storage account resource ID."
  }
}

variable "capture_container_name" {
  type        = string
  description = "Blob container of that account Capture writes the archive to."

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", var.capture_container_name))
    error_message = "capture_container_name must be 3-63 lowercase letters, digits and single hyphens."
  }
}

variable "capture_identity_id" {
  type        = string
  description = "Resource ID of the user-assigned identity the namespace runs Capture as (Storage Blob Data Contributor on the container)."

  validation {
    condition     = can(regex("(?i)/providers/Microsoft.ManagedIdentity/userAssignedIdentities/[^/]+$", var.capture_identity_id))
    error_message = "capture_identity_id must be a user-assigned identity resource ID."
  }
}

variable "capture_interval_seconds" {
  type        = number
  description = "Capture time window in seconds (60-900): a blob per partition at least this often while events arrive."
  default     = 300

  validation {
    condition     = var.capture_interval_seconds >= 60 && var.capture_interval_seconds <= 900 && floor(var.capture_interval_seconds) == var.capture_interval_seconds
    error_message = "capture_interval_seconds must be a whole number from 60 to 900."
  }
}

variable "capture_size_limit_bytes" {
  type        = number
  description = "Capture size window in bytes (10485760-524288000): a blob is closed early when a partition's window reaches it."
  default     = 314572800

  validation {
    condition     = var.capture_size_limit_bytes >= 10485760 && var.capture_size_limit_bytes <= 524288000 && floor(var.capture_size_limit_bytes) == var.capture_size_limit_bytes
    error_message = "capture_size_limit_bytes must be a whole number from 10485760 (10 MiB) to 524288000 (500 MiB)."
  }
}

variable "consumer_group_names" {
  type        = list(string)
  description = "Consumer groups to create on the hub, one per reader (the app, its staging slot)."

  validation {
    condition     = length(var.consumer_group_names) > 0 && alltrue([for n in var.consumer_group_names : can(regex("^[a-zA-Z0-9][a-zA-Z0-9._-]{0,49}$", n)) && n != "$Default"])
    error_message = "consumer_group_names must be 1-50 letters, digits, periods, hyphens or underscores, and not $Default."
  }
}

variable "allowed_subnet_ids" {
  type        = list(string)
  description = "Subnets (with the Microsoft.EventHub service endpoint) admitted through the namespace firewall."
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_subnet_ids : can(regex("/subnets/[^/]+$", id))])
    error_message = "allowed_subnet_ids must be subnet resource IDs."
  }
}

variable "allowed_ip_ranges" {
  type        = list(string)
  description = "Public CIDRs admitted through the namespace firewall (e.g. where the simulator runs)."
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_ip_ranges : can(cidrnetmask(c)) && !startswith(c, "0.0.0.0")])
    error_message = "allowed_ip_ranges must be IPv4 CIDRs and must not open the namespace to everyone."
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace receiving the namespace's logs and metrics."

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
  description = "Tags of the namespace (the common tag set)."

  validation {
    condition     = alltrue([for k in ["environment", "app", "owner", "costcenter", "managed_by"] : contains(keys(var.tags), k)])
    error_message = "tags must contain environment, app, owner, costcenter and managed_by."
  }
}
