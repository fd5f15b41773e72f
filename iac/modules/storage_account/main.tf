# The Functions host's storage account (AzureWebJobsStorage): host keys, Event Hubs
# checkpoints and leases, timer locks, and on Elastic Premium the app content share.
# HTTPS only, TLS 1.2, no anonymous blob access, no local users, firewall closed except for
# the Function App's subnet, shared keys off unless the plan needs an Azure Files share.
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
  #checkov:skip=CKV2_AZURE_1:The account holds only Functions host metadata (keys, checkpoints, leases); Microsoft-managed keys with infrastructure (double) encryption, no Key Vault and key rotation to run for it.
  #checkov:skip=CKV2_AZURE_33:No private endpoints by design: the firewall denies by default and admits only the Function App's integration subnet through a service endpoint (traffic stays on the Azure backbone), which avoids four private endpoints and DNS zones per environment.
  #checkov:skip=CKV_AZURE_59:Public network access must stay enabled for the subnet and IP rules of the firewall to apply; its default action is Deny (CKV_AZURE_35 passes).
  #checkov:skip=CKV_AZURE_206:Replication is chosen per environment (var.replication_type: LRS in dev and staging, ZRS in production); geo-replication adds nothing for host metadata of a single-region app.
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
