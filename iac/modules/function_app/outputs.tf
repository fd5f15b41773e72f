output "id" {
  description = "Resource ID of the Function App."
  value       = azurerm_linux_function_app.this.id
}

output "name" {
  description = "Name of the Function App (PAYMETRICS_FUNCTION_APP in the CD pipeline)."
  value       = azurerm_linux_function_app.this.name
}

output "default_hostname" {
  description = "Default host name of the app."
  value       = azurerm_linux_function_app.this.default_hostname
}

output "principal_id" {
  description = "Object ID of the app's system-assigned identity (Event Hubs, host storage, telemetry; not the database)."
  value       = azurerm_linux_function_app.this.identity[0].principal_id
}

output "staging_slot_name" {
  description = "Name of the staging slot, or null without one."
  value       = one(azurerm_linux_function_app_slot.staging[*].name)
}

output "staging_slot_principal_id" {
  description = "Object ID of the staging slot's system-assigned identity, or null without a slot (not the database)."
  value       = one(azurerm_linux_function_app_slot.staging[*].identity[0].principal_id)
}

output "service_plan_id" {
  description = "Resource ID of the App Service plan."
  value       = azurerm_service_plan.this.id
}
