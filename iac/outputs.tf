output "resource_group_name" {
  description = "Resource group of the environment (PAYMETRICS_RESOURCE_GROUP in the CD pipeline)."
  value       = azurerm_resource_group.main.name
}

output "function_app_name" {
  description = "Name of the Function App (PAYMETRICS_FUNCTION_APP in the CD pipeline)."
  value       = module.function_app.name
}

output "function_app_staging_slot_name" {
  description = "Deployment slot the CD pipeline deploys to and swaps, or null (dev)."
  value       = module.function_app.staging_slot_name
}

output "function_app_principal_id" {
  description = "Object ID of the Function App's system-assigned identity (Event Hubs, host storage, telemetry)."
  value       = module.function_app.principal_id
}

output "function_database_user" {
  description = "PostgreSQL role of the Function App and its slot (PAYMETRICS_DB_USER): the name of their shared user-assigned identity."
  value       = azurerm_user_assigned_identity.function_database.name
}

output "function_database_identity_principal_id" {
  description = "Object ID of that identity (for pgaadauth_create_principal_with_oid when function_identity_is_database_administrator is false)."
  value       = azurerm_user_assigned_identity.function_database.principal_id
}

output "function_database_identity_client_id" {
  description = "Client ID of that identity (PAYMETRICS_DB_CLIENT_ID)."
  value       = azurerm_user_assigned_identity.function_database.client_id
}

output "eventhub_namespace_name" {
  description = "Name of the Event Hubs namespace."
  value       = module.event_hub.namespace_name
}

output "eventhub_namespace_fqdn" {
  description = "Fully qualified Event Hubs namespace (EventHubConnection__fullyQualifiedNamespace, and where the simulator sends)."
  value       = module.event_hub.namespace_fqdn
}

output "eventhub_name" {
  description = "Name of the payments hub (EventHubName)."
  value       = module.event_hub.eventhub_name
}

output "eventhub_consumer_groups" {
  description = "Consumer groups of the app and of its staging slot."
  value       = values(module.event_hub.consumer_groups)
}

output "database_host" {
  description = "PostgreSQL host name (PAYMETRICS_DB_HOST in the app)."
  value       = module.postgresql.fqdn
}

output "database_name" {
  description = "Application database (PAYMETRICS_DB_NAME)."
  value       = module.postgresql.database_name
}

output "database_administrator_name" {
  description = "Entra administrator role for operators (psql, handler verify-schema by hand); migrations run in the app."
  value       = var.settings.database_administrator.principal_name
}

output "storage_account_name" {
  description = "Host storage account (AzureWebJobsStorage__accountName)."
  value       = module.storage_account.name
}

output "archive_storage_account_name" {
  description = "Storage account of the raw-event archive (docs/ARCHIVE.md)."
  value       = module.archive_storage_account.name
}

output "archive_container_url" {
  description = "URL of the archive container Event Hubs Capture writes to (the app setting PAYMETRICS_ARCHIVE_CONTAINER_URL)."
  value       = module.archive_storage_account.container_urls[local.names.archive_container]
}

output "simulator_identity_client_id" {
  description = "Client ID of the user-assigned identity that may send to the payments hub (the simulator)."
  value       = azurerm_user_assigned_identity.simulator.client_id
}

output "action_group_name" {
  description = "Action group the alert rules notify (az monitor action-group test-notifications create --action-group), or null where alerts_enabled is false."
  value       = one(azurerm_monitor_action_group.alerts[*].name)
}

output "alert_rule_names" {
  description = "Log search alert rules of the routed severities, by severity (\"0\"..\"4\")."
  value       = { for severity, rule in azurerm_monitor_scheduled_query_rules_alert_v2.alerts : severity => rule.name }
}

output "application_insights_connection_string" {
  description = "Application Insights connection string (APPLICATIONINSIGHTS_CONNECTION_STRING)."
  value       = azurerm_application_insights.main.connection_string
  sensitive   = true
}
