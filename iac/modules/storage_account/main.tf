# A storage account of the workload: HTTPS only, TLS 1.2, no anonymous blob access, no local
# users, firewall closed except for the Function App's subnet, the IPs given and trusted
# Azure services, shared keys off unless the plan needs an Azure Files share. Two instances:
#
# - the Functions host's account (AzureWebJobsStorage): host keys, Event Hubs checkpoints and
#   leases, timer locks, and on Elastic Premium the app content share;
# - the raw-event archive: the container Event Hubs Capture writes to (a trusted Azure
#   service, through the firewall's AzureServices bypass), with its lifecycle policy.
#
# Terraform manages it through Azure Resource Manager only (the provider runs with
# features.storage.data_plane_available = false), so plans work from outside the network.

terraform {
  required_version = "~> 1.9.8"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.78"
    }
  }
}

resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure (double) encryption on both accounts (host metadata, and the raw-event archive of events already readable in the hub): no Key Vault and key rotation to run for them.
  #checkov:skip=CKV2_AZURE_33:No private endpoints by design: the firewall denies by default and admits only the Function App's integration subnet through a service endpoint (traffic stays on the Azure backbone), which avoids four private endpoints and DNS zones per environment.
  #checkov:skip=CKV_AZURE_59:Public network access must stay enabled for the subnet and IP rules of the firewall to apply; its default action is Deny (CKV_AZURE_35 passes).
  #checkov:skip=CKV_AZURE_206:Replication is chosen per environment (var.replication_type: LRS in dev and staging, ZRS in production); geo-replication adds nothing for host metadata of a single-region app, and the archive's copy of the events is the hub's own, in the same region.
  #checkov:skip=CKV_AZURE_33:Queue logging (queue_properties) is data-plane configuration, and Terraform reaches this account through ARM only; queue reads, writes and deletes go to Log Analytics through the diagnostic setting below.
  #checkov:skip=CKV2_AZURE_40:Shared keys are off except on Elastic Premium (var.shared_access_key_enabled), whose Azure Files content share only accepts a key-based connection string; AzureWebJobsStorage uses the managed identity everywhere.
  #checkov:skip=CKV2_AZURE_41:The SAS expiration policy is set (sas_policy below); checkov cannot resolve the per-plan shared-key flag it looks at first.
  name                              = var.name
  resource_group_name               = var.resource_group_name
  location                          = var.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.replication_type
  access_tier                       = "Hot"
  https_traffic_only_enabled        = true
  min_tls_version                   = "TLS1_2"
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = var.shared_access_key_enabled
  default_to_oauth_authentication   = true
  public_network_access_enabled     = true
  local_user_enabled                = false
  sftp_enabled                      = false
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false

  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices", "Logging", "Metrics"]
    ip_rules                   = var.allowed_ip_ranges
    virtual_network_subnet_ids = var.allowed_subnet_ids
  }

  blob_properties {
    delete_retention_policy {
      days = var.soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  share_properties {
    retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }

  tags = var.tags
}

# Content shares of an Elastic Premium app and its slots (WEBSITE_CONTENTSHARE). They are
# created here, through ARM, because an app that reaches its content over the virtual
# network (WEBSITE_CONTENTOVERVNET) needs the share to exist beforehand.
resource "azurerm_storage_share" "content" {
  for_each = toset(var.content_share_names)

  name               = each.value
  storage_account_id = azurerm_storage_account.this.id
  quota              = var.content_share_quota_gb
  enabled_protocol   = "SMB"
}

# Private blob containers (the archive), created through ARM like the shares.
resource "azurerm_storage_container" "this" {
  #checkov:skip=CKV2_AZURE_21:Blob reads are logged: the diagnostic setting below sends the blob service's StorageRead, StorageWrite and StorageDelete logs to Log Analytics; checkov looks only for the legacy azurerm_log_analytics_storage_insights.
  for_each = var.containers

  name                  = each.key
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

locals {
  lifecycle_containers = { for name, c in var.containers : name => c if c.cool_after_days > 0 || c.delete_after_days > 0 }
}

# One rule per container with a lifecycle: block blobs under the container's prefix move to
# the cool tier, then are deleted, counted in days since the blob was created. Azure runs
# the policy about once a day, so a blob can outlive its age by up to a day.
resource "azurerm_storage_management_policy" "this" {
  count = length(local.lifecycle_containers) > 0 ? 1 : 0

  storage_account_id = azurerm_storage_account.this.id

  dynamic "rule" {
    for_each = local.lifecycle_containers

    content {
      name    = "${rule.key}-lifecycle"
      enabled = true

      filters {
        blob_types   = ["blockBlob"]
        prefix_match = ["${azurerm_storage_container.this[rule.key].name}/"]
      }

      actions {
        base_blob {
          tier_to_cool_after_days_since_creation_greater_than = rule.value.cool_after_days > 0 ? rule.value.cool_after_days : null
          delete_after_days_since_creation_greater_than       = rule.value.delete_after_days > 0 ? rule.value.delete_after_days : null
        }
      }
    }
  }
}

resource "azurerm_monitor_diagnostic_setting" "queue" {
  name                       = var.diagnostic_setting_name
  target_resource_id         = "${azurerm_storage_account.this.id}/queueServices/default"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }

  enabled_metric {
    category = "Transaction"
  }
}

resource "azurerm_monitor_diagnostic_setting" "blob" {
  name                       = var.diagnostic_setting_name
  target_resource_id         = "${azurerm_storage_account.this.id}/blobServices/default"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }

  enabled_metric {
    category = "Transaction"
  }
}
