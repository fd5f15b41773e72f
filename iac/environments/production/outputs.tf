output "resource_group_name" {
  description = "Resource group of the environment."
  value       = module.paymetrics.resource_group_name
}

output "function_app_name" {
  description = "Name of the Function App."
  value       = module.paymetrics.function_app_name
}

output "function_app_staging_slot_name" {
  description = "Deployment slot of the Function App, or null."
  value       = module.paymetrics.function_app_staging_slot_name
}

output "eventhub_namespace_fqdn" {
  description = "Fully qualified Event Hubs namespace."
  value       = module.paymetrics.eventhub_namespace_fqdn
}

output "eventhub_name" {
  description = "Name of the payments hub."
  value       = module.paymetrics.eventhub_name
}

output "database_host" {
  description = "PostgreSQL host name."
  value       = module.paymetrics.database_host
}

output "database_name" {
  description = "Application database."
  value       = module.paymetrics.database_name
}

output "database_administrator_name" {
  description = "Entra administrator role for operators; migrations run in the app."
  value       = module.paymetrics.database_administrator_name
}

output "function_database_user" {
  description = "PostgreSQL role of the Function App and its slot (their shared identity's name)."
  value       = module.paymetrics.function_database_user
}

output "function_database_identity_principal_id" {
  description = "Object ID of the Function App's database identity."
  value       = module.paymetrics.function_database_identity_principal_id
}

output "simulator_identity_client_id" {
  description = "Client ID of the simulator's identity (Event Hubs Data Sender)."
  value       = module.paymetrics.simulator_identity_client_id
}

output "application_insights_connection_string" {
  description = "Application Insights connection string."
  value       = module.paymetrics.application_insights_connection_string
  sensitive   = true
}
