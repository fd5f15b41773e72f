# The Event Hubs namespace and the payments hub, with one consumer group per reader (the
# Function App, and its staging slot separately so a slot never steals the app's leases).
# TLS 1.2 minimum, local (SAS key) authentication off: every client uses Microsoft Entra ID.
# Standard namespaces in regions with availability zones are zone-redundant by default.

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
