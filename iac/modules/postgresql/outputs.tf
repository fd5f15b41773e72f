output "id" {
  description = "Resource ID of the server."
  value       = azurerm_postgresql_flexible_server.this.id
}

output "name" {
  description = "Name of the server."
  value       = azurerm_postgresql_flexible_server.this.name
}

output "fqdn" {
  description = "Host name clients connect to (PAYMETRICS_DB_HOST); inside the virtual network it resolves to the private endpoint."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "database_name" {
  description = "Name of the application database (PAYMETRICS_DB_NAME)."
  value       = azurerm_postgresql_flexible_server_database.this.name
}

output "administrator_names" {
  description = "Database role names of the registered Entra principals, keyed like var.administrators."
  value       = { for k, a in azurerm_postgresql_flexible_server_active_directory_administrator.this : k => a.principal_name }
}
