output "namespace_id" {
  description = "Resource ID of the namespace."
  value       = azurerm_eventhub_namespace.this.id
}

output "namespace_name" {
  description = "Name of the namespace."
  value       = azurerm_eventhub_namespace.this.name
}

output "namespace_fqdn" {
  description = "Fully qualified namespace (EventHubConnection__fullyQualifiedNamespace)."
  value       = "${azurerm_eventhub_namespace.this.name}.servicebus.windows.net"
}

output "eventhub_id" {
  description = "Resource ID of the payments hub (scope of the Data Receiver and Data Sender roles)."
  value       = azurerm_eventhub.payments.id
}

output "eventhub_name" {
  description = "Name of the payments hub (EventHubName)."
  value       = azurerm_eventhub.payments.name
}

output "consumer_groups" {
  description = "Consumer groups created on the hub, keyed by name (referencing one orders a reader after its group)."
  value       = { for key, cg in azurerm_eventhub_consumer_group.this : key => cg.name }
}
