variable "name" {
  type        = string
  description = "Function App name (from naming_conventions.tf), globally unique. At most 30 characters, so the Functions host IDs of the app and of its staging slot (their first 32 characters) cannot collide in the shared storage account."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,28}[a-z0-9]$", var.name))
    error_message = "name must be 2-30 lowercase letters, digits or hyphens, not starting or ending with a hyphen."
  }
}

variable "service_plan_name" {
  type        = string
  description = "App Service plan name (from naming_conventions.tf)."

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,60}$", var.service_plan_name))
    error_message = "service_plan_name must be 1-60 letters, digits or hyphens."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the plan and the app."

  validation {
    condition     = length(var.resource_group_name) > 0
    error_message = "resource_group_name must not be empty."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the plan and the app."

  validation {
    condition     = length(var.location) > 0
    error_message = "location must not be empty."
  }
}

variable "sku_name" {
  type        = string
  description = "Plan SKU: EP1-EP3 (Elastic Premium) or a Linux Dedicated SKU (B1-B3, S1-S3, P0v3-P3v3)."

  validation {
    condition     = contains(["B1", "B2", "B3", "S1", "S2", "S3", "P0v3", "P1v3", "P2v3", "P3v3", "EP1", "EP2", "EP3"], var.sku_name)
    error_message = "sku_name must be EP1-EP3, B1-B3, S1-S3 or P0v3-P3v3."
  }
}

variable "worker_count" {
  type        = number
  description = "Instances of the plan; on Elastic Premium the always-ready minimum."
  default     = 1

  validation {
    condition     = var.worker_count >= 1 && var.worker_count <= 30 && floor(var.worker_count) == var.worker_count
    error_message = "worker_count must be a whole number from 1 to 30."
  }
}

variable "maximum_elastic_worker_count" {
  type        = number
  description = "Elastic Premium burst ceiling; ignored on Dedicated plans."
  default     = 1

  validation {
    condition     = var.maximum_elastic_worker_count >= var.worker_count && var.maximum_elastic_worker_count <= 100
    error_message = "maximum_elastic_worker_count must be at least worker_count and at most 100."
  }
}

variable "zone_balancing_enabled" {
  type        = bool
  description = "Spread instances over availability zones (Elastic Premium or Premium v3, 3 instances or more)."
  default     = false

  validation {
    condition     = !var.zone_balancing_enabled || (var.worker_count >= 3 && (startswith(var.sku_name, "EP") || endswith(var.sku_name, "v3")))
    error_message = "zone_balancing_enabled needs an EP or Premium v3 SKU and worker_count of at least 3."
  }
}

variable "staging_slot_name" {
  type        = string
  description = "Name of the deployment slot to create (the CD pipeline uses `staging`); null for none."
  default     = null

  validation {
    condition     = var.staging_slot_name == null || !startswith(var.sku_name, "B")
    error_message = "Basic plans have no deployment slots."
  }
}

variable "virtual_network_subnet_id" {
  type        = string
  description = "Subnet (delegated to Microsoft.Web/serverFarms) for the app's outbound virtual network integration."

  validation {
    condition     = can(regex("/subnets/[^/]+$", var.virtual_network_subnet_id))
    error_message = "virtual_network_subnet_id must be a subnet resource ID."
  }
}

variable "storage_account_name" {
  type        = string
  description = "Host storage account, reached with the app's identity (AzureWebJobsStorage__accountName)."

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.storage_account_name))
    error_message = "storage_account_name must be 3-24 lowercase letters or digits."
  }
}

variable "content_share_connection_string" {
  type        = string
  description = "Key-based connection string of the content share's account (WEBSITE_CONTENTAZUREFILECONNECTIONSTRING); required on Elastic Premium, unused otherwise."
  default     = null
  sensitive   = true

  validation {
    condition     = !startswith(var.sku_name, "EP") || var.content_share_connection_string != null
    error_message = "Elastic Premium needs content_share_connection_string (Azure Files takes no identity-based connection)."
  }
}

variable "content_share_name" {
  type        = string
  description = "Azure Files share holding the app's content on Elastic Premium (WEBSITE_CONTENTSHARE). Set at creation only: a swap exchanges the shares with the code."
  default     = null

  validation {
    condition     = !startswith(var.sku_name, "EP") || var.content_share_name != null
    error_message = "Elastic Premium needs content_share_name."
  }
}

variable "staging_content_share_name" {
  type        = string
  description = "Azure Files share of the staging slot on Elastic Premium (a slot needs its own). Set at creation only: a swap exchanges the shares with the code."
  default     = null

  validation {
    condition     = !startswith(var.sku_name, "EP") || var.staging_slot_name == null || (var.staging_content_share_name != null && var.staging_content_share_name != var.content_share_name)
    error_message = "An Elastic Premium staging slot needs its own staging_content_share_name."
  }
}

variable "application_insights_connection_string" {
  type        = string
  description = "Application Insights connection string (APPLICATIONINSIGHTS_CONNECTION_STRING)."
  sensitive   = true

  validation {
    condition     = can(regex("InstrumentationKey=", var.application_insights_connection_string))
    error_message = "application_insights_connection_string must be an Application Insights connection string."
  }
}

variable "eventhub_namespace_fqdn" {
  type        = string
  description = "Event Hubs namespace host name (EventHubConnection__fullyQualifiedNamespace)."

  validation {
    condition     = endswith(var.eventhub_namespace_fqdn, ".servicebus.windows.net")
    error_message = "eventhub_namespace_fqdn must end with .servicebus.windows.net."
  }
}

variable "eventhub_name" {
  type        = string
  description = "The payments hub (EventHubName)."

  validation {
    condition     = length(var.eventhub_name) > 0
    error_message = "eventhub_name must not be empty."
  }
}

variable "consumer_group" {
  type        = string
  description = "Consumer group the app's trigger reads with (EventHubConsumerGroup)."

  validation {
    condition     = length(var.consumer_group) > 0 && var.consumer_group != "$Default"
    error_message = "consumer_group must be the app's own consumer group, not $Default."
  }
}

variable "staging_consumer_group" {
  type        = string
  description = "Consumer group of the staging slot (its sticky EventHubConsumerGroup)."

  validation {
    condition     = var.staging_consumer_group != var.consumer_group && var.staging_consumer_group != "$Default"
    error_message = "staging_consumer_group must differ from consumer_group and from $Default."
  }
}

variable "window_schedule" {
  type        = string
  description = "NCRONTAB schedule of the timer (PAYMETRICS_WINDOW_SCHEDULE)."
  default     = "0 */5 * * * *"

  validation {
    condition     = length(split(" ", var.window_schedule)) == 6
    error_message = "window_schedule must be a six-field NCRONTAB expression."
  }
}

variable "engine_config_path" {
  type        = string
  description = "Engine settings file the handler reads (PAYMETRICS_CONFIG), on the app's persistent storage under /home, where reviewed rule changes are uploaded. Until it exists the handler reads the packaged config/engine.yaml (PAYMETRICS_CONFIG_FALLBACK)."
  default     = "/home/data/paymetrics/engine.yaml"

  validation {
    condition     = startswith(var.engine_config_path, "/home/") && endswith(var.engine_config_path, ".yaml")
    error_message = "engine_config_path must be a .yaml file under /home/ (the app's persistent storage; the package mount is read-only)."
  }
}

variable "database_host" {
  type        = string
  description = "PostgreSQL server host name (PAYMETRICS_DB_HOST)."

  validation {
    condition     = length(var.database_host) > 0
    error_message = "database_host must not be empty."
  }
}

variable "database_name" {
  type        = string
  description = "Database name (PAYMETRICS_DB_NAME)."
  default     = "paymetrics"

  validation {
    condition     = length(var.database_name) > 0
    error_message = "database_name must not be empty."
  }
}

variable "database_user" {
  type        = string
  description = "Database role of the shared database identity (PAYMETRICS_DB_USER, the same in the app and the slot): the user-assigned identity's name."

  validation {
    condition     = length(var.database_user) > 0 && length(var.database_user) <= 63
    error_message = "database_user must be 1-63 characters (a PostgreSQL role name)."
  }
}

variable "database_identity_id" {
  type        = string
  description = "Resource ID of the user-assigned identity the app and its slot both connect to PostgreSQL with (attached next to their system-assigned identities)."

  validation {
    condition     = can(regex("(?i)/providers/Microsoft.ManagedIdentity/userAssignedIdentities/[^/]+$", var.database_identity_id))
    error_message = "database_identity_id must be the resource ID of a user-assigned managed identity."
  }
}

variable "database_identity_client_id" {
  type        = string
  description = "Client ID of that identity (PAYMETRICS_DB_CLIENT_ID): the handler asks for its database tokens as this identity, not the system-assigned one."

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.database_identity_client_id))
    error_message = "database_identity_client_id must be a client ID (a GUID)."
  }
}

variable "archive_container_url" {
  type        = string
  description = "URL of the raw-event archive container (the app setting PAYMETRICS_ARCHIVE_CONTAINER_URL)."

  validation {
    condition     = can(regex("^https://[a-z0-9]{3,24}\\.blob\\.[a-z0-9.]+/[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", var.archive_container_url))
    error_message = "archive_container_url must be https://<account>.blob.<suffix>/<container>."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags of the plan, the app and the slot (the common tag set)."

  validation {
    condition     = alltrue([for k in ["environment", "app", "owner", "costcenter", "managed_by"] : contains(keys(var.tags), k)])
    error_message = "tags must contain environment, app, owner, costcenter and managed_by."
  }
}
