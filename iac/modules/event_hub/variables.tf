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
  description = "Namespace tier: Standard or Premium (Basic allows neither extra consumer groups nor network rules)."
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
