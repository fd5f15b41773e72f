output "id" {
  description = "Resource ID of the storage account (scope of the Function App's host storage roles; Capture's destination)."
  value       = azurerm_storage_account.this.id
}

output "name" {
  description = "Name of the storage account (AzureWebJobsStorage__accountName)."
  value       = azurerm_storage_account.this.name
}

output "primary_blob_endpoint" {
  description = "Blob endpoint of the account."
  value       = azurerm_storage_account.this.primary_blob_endpoint
}

output "content_shares" {
  description = "Content share names keyed by themselves (empty unless Elastic Premium); referencing them orders the app after its shares."
  value       = { for k, share in azurerm_storage_share.content : k => share.name }
}

output "containers" {
  description = "Resource IDs of the blob containers, by name (scopes of the archive's role assignments)."
  value       = { for k, c in azurerm_storage_container.this : k => c.id }
}

output "container_urls" {
  description = "Data-plane URLs of the blob containers, by name: https://<account>.blob.core.windows.net/<container>."
  value       = { for k, c in azurerm_storage_container.this : k => "${azurerm_storage_account.this.primary_blob_endpoint}${c.name}" }
}

output "primary_connection_string" {
  description = "Key-based connection string, only when shared keys are enabled (the Elastic Premium content share); null otherwise."
  value       = var.shared_access_key_enabled ? azurerm_storage_account.this.primary_connection_string : null
  sensitive   = true
}
