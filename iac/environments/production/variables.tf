# Inputs of this environment, set in terraform.tfvars. The root module (iac/variables.tf)
# validates each of them.

variable "location" {
  type        = string
  description = "Azure region of the environment."
}

variable "instance" {
  type        = string
  description = "Instance suffix of the resource names (001)."
  default     = "001"
}

variable "owner" {
  type        = string
  description = "Accountable team (owner tag)."
}

variable "cost_center" {
  type        = string
  description = "Cost center (costcenter tag)."
}

variable "vnet_address_space" {
  type        = list(string)
  description = "Address space of the environment's virtual network."
}

variable "function_subnet_prefix" {
  type        = string
  description = "CIDR of the Function App's integration subnet."
}

variable "endpoint_subnet_prefix" {
  type        = string
  description = "CIDR of the private endpoint subnet."
}

variable "eventhub_capacity" {
  type        = number
  description = "Event Hubs throughput units."
}

variable "eventhub_maximum_throughput_units" {
  type        = number
  description = "Auto-inflate ceiling in throughput units (0 = off)."
}

variable "eventhub_partition_count" {
  type        = number
  description = "Partitions of the payments hub."
}

variable "eventhub_message_retention_days" {
  type        = number
  description = "Retention of the payments hub in days."
}

variable "eventhub_allowed_ip_ranges" {
  type        = list(string)
  description = "Public CIDRs allowed to reach Event Hubs (where the simulator runs)."
  default     = []
}

variable "eventhub_sender_principals" {
  type = map(object({
    principal_id   = string
    principal_type = string
  }))
  description = "Extra principals allowed to send to the payments hub (developers running the simulator)."
  default     = {}
}

variable "function_plan_sku" {
  type        = string
  description = "App Service plan SKU of the Function App."
}

variable "function_worker_count" {
  type        = number
  description = "Always-ready instances of the plan."
}

variable "function_maximum_elastic_worker_count" {
  type        = number
  description = "Elastic Premium burst ceiling."
}

variable "function_zone_balancing_enabled" {
  type        = bool
  description = "Spread the plan over availability zones."
}

variable "function_staging_slot_enabled" {
  type        = bool
  description = "Create the staging deployment slot."
}

variable "storage_replication_type" {
  type        = string
  description = "Replication of the host storage account."
}

variable "storage_allowed_ip_ranges" {
  type        = list(string)
  description = "Public IPs admitted through the storage firewall (operators)."
  default     = []
}

variable "postgresql_sku_name" {
  type        = string
  description = "PostgreSQL compute SKU."
}

variable "postgresql_storage_mb" {
  type        = number
  description = "PostgreSQL storage in MB."
}

variable "postgresql_backup_retention_days" {
  type        = number
  description = "Backup and point-in-time-restore window in days."
}

variable "postgresql_geo_redundant_backup_enabled" {
  type        = bool
  description = "Geo-redundant backups."
}

variable "postgresql_high_availability_enabled" {
  type        = bool
  description = "Zone-redundant high availability."
}

variable "postgresql_public_network_access_enabled" {
  type        = bool
  description = "Open the public endpoint to postgresql_firewall_rules (operators only; the app uses the private endpoint)."
  default     = false
}

variable "postgresql_firewall_rules" {
  type = map(object({
    start_ip_address = string
    end_ip_address   = string
  }))
  description = "Narrow public firewall rules of the PostgreSQL server, keyed by rule name."
  default     = {}
}

variable "database_administrator" {
  type = object({
    principal_name = string
    object_id      = optional(string)
    principal_type = optional(string, "ServicePrincipal")
  })
  description = "Entra administrator of the PostgreSQL server for operators (by default the pipeline identity running Terraform)."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of logs and telemetry in days."
}
