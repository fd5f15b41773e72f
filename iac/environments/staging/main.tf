# Staging environment: production's shape at a smaller size. Elastic Premium EP1 with the
# staging slot, general-purpose PostgreSQL, 4 partitions with auto-inflate, 3 days of retention.
#
# Plan and apply from this folder (iac/README.md): terraform init, then plan/apply; the
# values are in terraform.tfvars, the state backend in backend.tf.

terraform {
  required_version = "~> 1.9.8"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.78"
    }
  }
}

# Subscription and credentials come from the environment (ARM_SUBSCRIPTION_ID,
# ARM_CLIENT_ID, ARM_TENANT_ID, ARM_USE_OIDC in the pipeline; `az login` by hand).
provider "azurerm" {
  storage_use_azuread = true

  features {
    resource_group {
      prevent_deletion_if_contains_resources = true
    }

    storage {
      # The host storage account's firewall admits only the Function App's subnet:
      # Terraform configures it through Azure Resource Manager alone.
      data_plane_available = false
    }
  }
}

module "paymetrics" {
  source = "../.."

  environment = "staging"
  location    = var.location
  instance    = var.instance
  owner       = var.owner
  cost_center = var.cost_center

  vnet_address_space     = var.vnet_address_space
  function_subnet_prefix = var.function_subnet_prefix
  endpoint_subnet_prefix = var.endpoint_subnet_prefix

  eventhub_capacity                 = var.eventhub_capacity
  eventhub_maximum_throughput_units = var.eventhub_maximum_throughput_units
  eventhub_partition_count          = var.eventhub_partition_count
  eventhub_message_retention_days   = var.eventhub_message_retention_days
  eventhub_allowed_ip_ranges        = var.eventhub_allowed_ip_ranges
  eventhub_sender_principals        = var.eventhub_sender_principals

  function_plan_sku                     = var.function_plan_sku
  function_worker_count                 = var.function_worker_count
  function_maximum_elastic_worker_count = var.function_maximum_elastic_worker_count
  function_zone_balancing_enabled       = var.function_zone_balancing_enabled
  function_staging_slot_enabled         = var.function_staging_slot_enabled

  storage_replication_type  = var.storage_replication_type
  storage_allowed_ip_ranges = var.storage_allowed_ip_ranges

  postgresql_sku_name                      = var.postgresql_sku_name
  postgresql_storage_mb                    = var.postgresql_storage_mb
  postgresql_backup_retention_days         = var.postgresql_backup_retention_days
  postgresql_geo_redundant_backup_enabled  = var.postgresql_geo_redundant_backup_enabled
  postgresql_high_availability_enabled     = var.postgresql_high_availability_enabled
  postgresql_public_network_access_enabled = var.postgresql_public_network_access_enabled
  postgresql_firewall_rules                = var.postgresql_firewall_rules
  database_administrator                   = var.database_administrator

  log_retention_days = var.log_retention_days
}
