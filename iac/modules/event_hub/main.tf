# The Event Hubs namespace and the payments hub, with one consumer group per reader (the
# Function App, and its staging slot separately so a slot never steals the app's leases).
# TLS 1.2 minimum, local (SAS key) authentication off: every client uses Microsoft Entra ID.
# Standard namespaces in regions with availability zones are zone-redundant by default.
#
# Capture archives every event the hub receives to a blob container (Avro, one blob per
# partition and time window), written with the namespace's user-assigned identity: no SAS
# key, no shared key on the storage account. Capture needs Standard or Premium.

terraform {
  required_version = "~> 1.9.8"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.78"
    }
  }
}

resource "azurerm_eventhub_namespace" "this" {
  name                          = var.namespace_name
  resource_group_name           = var.resource_group_name
  location                      = var.location
  sku                           = var.sku
  capacity                      = var.capacity
  auto_inflate_enabled          = var.sku == "Standard" && var.maximum_throughput_units > 0
  maximum_throughput_units      = var.sku == "Standard" && var.maximum_throughput_units > 0 ? var.maximum_throughput_units : null
  minimum_tls_version           = "1.2"
  local_authentication_enabled  = false
  public_network_access_enabled = true

  # The identity Capture writes to the archive container with (Storage Blob Data Contributor
  # on that container, granted in iac/main.tf before the hub is created).
  identity {
    type         = "UserAssigned"
    identity_ids = [var.capture_identity_id]
  }

  network_rulesets {
    default_action                 = "Deny"
    public_network_access_enabled  = true
    trusted_service_access_enabled = true

    virtual_network_rule = [for id in var.allowed_subnet_ids : {
      subnet_id                                       = id
      ignore_missing_virtual_network_service_endpoint = false
    }]

    ip_rule = [for cidr in var.allowed_ip_ranges : {
      ip_mask = cidr
      action  = "Allow"
    }]
  }

  tags = var.tags
}

resource "azurerm_eventhub" "payments" {
  name              = var.eventhub_name
  namespace_id      = azurerm_eventhub_namespace.this.id
  partition_count   = var.partition_count
  message_retention = var.message_retention_days

  # Every event, as received, before any reader sees it: one Avro blob per partition each
  # time the window closes or the size limit is reached, whichever comes first; no blob for a
  # window without events.
  capture_description {
    enabled             = true
    encoding            = "Avro"
    interval_in_seconds = var.capture_interval_seconds
    size_limit_in_bytes = var.capture_size_limit_bytes
    skip_empty_archives = true

    destination {
      name = "EventHubArchive.AzureBlockBlob"
      # Azure's documented default: <container>/<namespace>/<hub>/<partition>/<yyyy>/<MM>/<dd>/<HH>/<mm>/<ss>.avro
      archive_name_format         = "{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}"
      blob_container_name         = var.capture_container_name
      storage_account_id          = var.capture_storage_account_id
      storage_authentication_type = "UserAssigned"
      storage_authentication_id   = var.capture_identity_id
    }
  }
}

resource "azurerm_eventhub_consumer_group" "this" {
  for_each = toset(var.consumer_group_names)

  name                = each.value
  namespace_name      = azurerm_eventhub_namespace.this.name
  eventhub_name       = azurerm_eventhub.payments.name
  resource_group_name = var.resource_group_name
  user_metadata       = "Read by the paymetrics Function App (checkpoints in its AzureWebJobsStorage)."
}

resource "azurerm_monitor_diagnostic_setting" "namespace" {
  name                       = var.diagnostic_setting_name
  target_resource_id         = azurerm_eventhub_namespace.this.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category_group = "allLogs"
  }

  enabled_metric {
    category = "AllMetrics"
  }
}
