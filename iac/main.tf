# paymetrics on Azure: Event Hubs -> Function App (Rust custom handler) -> PostgreSQL.
#
# This root module composes the modules for one environment; environments/<env>/ call it
# with their sizes, provider settings and state backend. Names come from
# naming_conventions.tf, tags from local.tags. Every role assignment is in this file, so
# the access model can be reviewed in one place.

terraform {
  required_version = "~> 1.9.8"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.78"
    }
  }
}

data "azurerm_client_config" "current" {}

locals {
  is_elastic_premium = startswith(var.settings.function_plan_sku, "EP")

  # Host storage shared keys: off wherever the plan allows. Elastic Premium keeps the app's
  # content on an Azure Files share, and Azure Files only takes a key-based connection
  # string (WEBSITE_CONTENTAZUREFILECONNECTIONSTRING); AzureWebJobsStorage itself always
  # uses the managed identity.
  storage_shared_key_enabled = local.is_elastic_premium

  content_share_names = local.is_elastic_premium ? concat(
    [local.names.content_share],
    var.settings.function_staging_slot_enabled ? [local.names.content_share_staging] : [],
  ) : []

  database_administrators = merge(
    {
      operators = {
        object_id      = coalesce(var.settings.database_administrator.object_id, data.azurerm_client_config.current.object_id)
        principal_name = var.settings.database_administrator.principal_name
        principal_type = var.settings.database_administrator.principal_type
      }
    },
    # The app and its slot log in as one shared identity. It migrates the schema at start
    # (PAYMETRICS_MIGRATE=on-start) and creates and drops day partitions, so by default it
    # is an Entra administrator (a member of azure_pg_admin) and owns what it creates.
    var.settings.function_identity_is_database_administrator ? {
      function = {
        object_id      = azurerm_user_assigned_identity.function_database.principal_id
        principal_name = azurerm_user_assigned_identity.function_database.name
        principal_type = "ServicePrincipal"
      }
    } : {},
  )
}

resource "azurerm_resource_group" "main" {
  name     = local.names.resource_group
  location = var.settings.location
  tags     = local.tags
}

# ---------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------

resource "azurerm_log_analytics_workspace" "main" {
  name                         = local.names.log_analytics
  resource_group_name          = azurerm_resource_group.main.name
  location                     = azurerm_resource_group.main.location
  sku                          = "PerGB2018"
  retention_in_days            = var.settings.log_retention_days
  local_authentication_enabled = false
  tags                         = local.tags
}

resource "azurerm_application_insights" "main" {
  name                = local.names.app_insights
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  workspace_id        = azurerm_log_analytics_workspace.main.id
  application_type    = "other"
  retention_in_days   = var.settings.log_retention_days
  # The Functions host sends its own telemetry with the app's Entra identity
  # (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), but the handler's exporter
  # (opentelemetry-application-insights) can only send with the instrumentation key of the
  # connection string, so key ingestion stays on. The key allows writing telemetry only.
  local_authentication_enabled = true
  tags                         = local.tags
}

# ---------------------------------------------------------------------------------------
# Alerts: the handler writes a PaymetricsAlert custom event to Application Insights for every
# transition of one of its alerts (customDimensions alert, severity "0".."4", state "fired"
# or "resolved", group, value, baseline, window_start, description). One log search alert
# rule per routed severity turns the fired ones into notifications of the action group.
# ---------------------------------------------------------------------------------------

locals {
  # The rules to create, keyed by severity as the events carry it ("0".."4").
  alert_rules = var.settings.alerts_enabled ? { for severity in var.settings.alert_severities : tostring(severity) => severity } : {}

  alert_severity_names = {
    "0" = "critical"
    "1" = "error"
    "2" = "warning"
    "3" = "informational"
    "4" = "verbose"
  }
}

resource "azurerm_monitor_action_group" "alerts" {
  count = var.settings.alerts_enabled ? 1 : 0

  name                = local.names.action_group
  resource_group_name = azurerm_resource_group.main.name
  short_name          = local.names.action_group_short
  tags                = local.tags

  dynamic "email_receiver" {
    for_each = var.settings.alert_email_receivers

    content {
      name                    = email_receiver.value.name
      email_address           = email_receiver.value.email_address
      use_common_alert_schema = true
    }
  }

  dynamic "webhook_receiver" {
    for_each = var.settings.alert_webhook_receivers

    content {
      name                    = webhook_receiver.value.name
      service_uri             = webhook_receiver.value.service_uri
      use_common_alert_schema = true
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "alerts" {
  for_each = local.alert_rules

  name                = local.names.alert_rules[each.key]
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  display_name        = "${var.settings.workload} ${var.environment}: ${local.alert_severity_names[each.key]} alert fired (severity ${each.key})"
  description         = "A ${var.settings.workload} alert of severity ${each.key} (${local.alert_severity_names[each.key]}) fired: one notification per alert and group (docs/OBSERVABILITY.md, Alerts in Azure Monitor)."
  severity            = each.value
  scopes              = [azurerm_application_insights.main.id]
  # No identity: a rule scoped to one Application Insights component queries it with the
  # permissions of whoever last applied it (the pipeline's identity). Azure requires a managed
  # identity only for queries of Azure Data Explorer or Azure Resource Graph.

  # Every 5 minutes over the last 5: each fired event is counted in one evaluation.
  evaluation_frequency = "PT5M"
  window_duration      = "PT5M"

  # The rule counts transitions, not a condition that lasts: the handler's own "resolved"
  # event says when an alert is over. Stateful rules (auto mitigation) would send a resolved
  # notification 15 minutes after every fired one and keep quiet about a second firing of
  # the same alert and group while the first is open, so each fired event notifies on its own.
  auto_mitigation_enabled = false

  # The rules are created in the same apply as the Application Insights component, before
  # the handler has sent any PaymetricsAlert event: Azure's validation runs the query against
  # a component that may not be queryable yet and holds none of these events, which must not
  # fail the apply. tests/iac.rs checks the query's shape; run it by hand in Logs and watch
  # the rule's Resource health after the first apply (docs/OBSERVABILITY.md).
  skip_query_validation = true

  criteria {
    query = <<-KQL
      customEvents
      | where name == "PaymetricsAlert"
      | extend state = tostring(customDimensions.state), severity = tostring(customDimensions.severity)
      | where state == "fired" and severity == "${each.key}"
      | summarize fired = count() by alert = tostring(customDimensions.alert), ['group'] = tostring(customDimensions['group'])
    KQL

    time_aggregation_method = "Total"
    metric_measure_column   = "fired"
    operator                = "GreaterThan"
    threshold               = 0

    # One alert (and notification) per alert name and group ({"payment_type":"card",...}).
    dimension {
      name     = "alert"
      operator = "Include"
      values   = ["*"]
    }

    dimension {
      name     = "group"
      operator = "Include"
      values   = ["*"]
    }

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.alerts[0].id]
  }

  tags = local.tags
}

# ---------------------------------------------------------------------------------------
# Network: the Function App reaches Event Hubs and Storage through service endpoints of its
# integration subnet, and PostgreSQL through a private endpoint.
# ---------------------------------------------------------------------------------------

resource "azurerm_virtual_network" "main" {
  name                = local.names.virtual_network
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  address_space       = var.settings.vnet_address_space
  tags                = local.tags
}

resource "azurerm_subnet" "function" {
  name                 = local.names.subnet_function
  resource_group_name  = azurerm_resource_group.main.name
  virtual_network_name = azurerm_virtual_network.main.name
  address_prefixes     = [var.settings.function_subnet_prefix]
  service_endpoints    = ["Microsoft.EventHub", "Microsoft.Storage"]

  delegation {
    name = "Microsoft.Web.serverFarms"

    service_delegation {
      name    = "Microsoft.Web/serverFarms"
      actions = ["Microsoft.Network/virtualNetworks/subnets/action"]
    }
  }
}

resource "azurerm_subnet" "endpoints" {
  name                              = local.names.subnet_endpoints
  resource_group_name               = azurerm_resource_group.main.name
  virtual_network_name              = azurerm_virtual_network.main.name
  address_prefixes                  = [var.settings.endpoint_subnet_prefix]
  private_endpoint_network_policies = "Enabled"
}

resource "azurerm_network_security_group" "function" {
  name                = local.names.nsg_function
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}

resource "azurerm_network_security_group" "endpoints" {
  name                = local.names.nsg_endpoints
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}

resource "azurerm_subnet_network_security_group_association" "function" {
  subnet_id                 = azurerm_subnet.function.id
  network_security_group_id = azurerm_network_security_group.function.id
}

resource "azurerm_subnet_network_security_group_association" "endpoints" {
  subnet_id                 = azurerm_subnet.endpoints.id
  network_security_group_id = azurerm_network_security_group.endpoints.id
}

resource "azurerm_private_dns_zone" "postgresql" {
  name                = local.names.postgresql_private_dns_zone
  resource_group_name = azurerm_resource_group.main.name
  tags                = local.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "postgresql" {
  name                  = local.names.dns_zone_link
  resource_group_name   = azurerm_resource_group.main.name
  private_dns_zone_name = azurerm_private_dns_zone.postgresql.name
  virtual_network_id    = azurerm_virtual_network.main.id
  registration_enabled  = false
  tags                  = local.tags
}

# ---------------------------------------------------------------------------------------
# The services
# ---------------------------------------------------------------------------------------

module "storage_account" {
  source = "./modules/storage_account"

  name                       = local.names.storage_account
  resource_group_name        = azurerm_resource_group.main.name
  location                   = azurerm_resource_group.main.location
  replication_type           = var.settings.storage_replication_type
  shared_access_key_enabled  = local.storage_shared_key_enabled
  allowed_subnet_ids         = [azurerm_subnet.function.id]
  allowed_ip_ranges          = var.settings.storage_allowed_ip_ranges
  content_share_names        = local.content_share_names
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  diagnostic_setting_name    = local.names.diagnostic_setting
  tags                       = local.tags
}

# The raw-event archive (docs/ARCHIVE.md): its own account, so that the Function App's
# Storage Blob Data Owner on the host account (and that account's shared key on Elastic
# Premium) reaches none of it. Shared keys off everywhere; Capture comes in as a trusted
# Azure service (the firewall's AzureServices bypass), the app through its subnet.
module "archive_storage_account" {
  source = "./modules/storage_account"

  name                       = local.names.archive_storage_account
  resource_group_name        = azurerm_resource_group.main.name
  location                   = azurerm_resource_group.main.location
  replication_type           = var.settings.archive_replication_type
  shared_access_key_enabled  = false
  allowed_subnet_ids         = [azurerm_subnet.function.id]
  allowed_ip_ranges          = var.settings.storage_allowed_ip_ranges
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  diagnostic_setting_name    = local.names.diagnostic_setting
  tags                       = local.tags

  containers = {
    (local.names.archive_container) = {
      cool_after_days   = var.settings.archive_cool_after_days
      delete_after_days = var.settings.archive_retention_days
    }
  }
}

# The identity the Event Hubs namespace runs Capture as. User-assigned rather than the
# namespace's system-assigned one, so its role on the archive container exists before the
# hub is created with Capture on (a system-assigned identity would only exist with the
# namespace, after the role could be granted).
resource "azurerm_user_assigned_identity" "capture" {
  name                = local.names.capture_identity
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}

module "event_hub" {
  source = "./modules/event_hub"

  # Capture writes from the moment the hub exists: grant its role first.
  depends_on = [azurerm_role_assignment.archive_writer]

  namespace_name             = local.names.eventhub_namespace
  eventhub_name              = local.names.eventhub
  resource_group_name        = azurerm_resource_group.main.name
  location                   = azurerm_resource_group.main.location
  sku                        = var.settings.eventhub_sku
  capacity                   = var.settings.eventhub_capacity
  maximum_throughput_units   = var.settings.eventhub_maximum_throughput_units
  partition_count            = var.settings.eventhub_partition_count
  message_retention_days     = var.settings.eventhub_message_retention_days
  consumer_group_names       = var.settings.function_staging_slot_enabled ? [local.names.consumer_group_function, local.names.consumer_group_staging] : [local.names.consumer_group_function]
  allowed_subnet_ids         = [azurerm_subnet.function.id]
  allowed_ip_ranges          = var.settings.eventhub_allowed_ip_ranges
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  diagnostic_setting_name    = local.names.diagnostic_setting
  tags                       = local.tags

  capture_storage_account_id = module.archive_storage_account.id
  capture_container_name     = local.names.archive_container
  capture_identity_id        = azurerm_user_assigned_identity.capture.id
  capture_interval_seconds   = var.settings.archive_capture_interval_seconds
  capture_size_limit_bytes   = var.settings.archive_capture_size_limit_bytes
}

module "postgresql" {
  source = "./modules/postgresql"

  name                            = local.names.postgresql_server
  resource_group_name             = azurerm_resource_group.main.name
  location                        = azurerm_resource_group.main.location
  postgresql_version              = var.settings.postgresql_version
  sku_name                        = var.settings.postgresql_sku_name
  storage_mb                      = var.settings.postgresql_storage_mb
  backup_retention_days           = var.settings.postgresql_backup_retention_days
  geo_redundant_backup_enabled    = var.settings.postgresql_geo_redundant_backup_enabled
  high_availability_enabled       = var.settings.postgresql_high_availability_enabled
  zone                            = var.settings.postgresql_zone
  standby_zone                    = var.settings.postgresql_standby_zone
  tenant_id                       = data.azurerm_client_config.current.tenant_id
  administrators                  = local.database_administrators
  database_name                   = local.names.database
  public_network_access_enabled   = var.settings.postgresql_public_network_access_enabled
  firewall_rules                  = var.settings.postgresql_firewall_rules
  private_endpoint_name           = local.names.postgresql_endpoint
  private_endpoint_nic_name       = local.names.postgresql_endpoint_nic
  private_service_connection_name = local.names.postgresql_connection
  private_dns_zone_group_name     = local.names.postgresql_dns_zone_group
  private_endpoint_subnet_id      = azurerm_subnet.endpoints.id
  private_dns_zone_id             = azurerm_private_dns_zone.postgresql.id
  log_analytics_workspace_id      = azurerm_log_analytics_workspace.main.id
  diagnostic_setting_name         = local.names.diagnostic_setting
  tags                            = local.tags
}

# The identity the Function App and its staging slot both connect to PostgreSQL with. One
# principal for both slots: the slot's on-start migration creates tables that production
# must still be able to use after the swap, and members of azure_pg_admin are not superusers,
# so two roles could not use each other's tables.
resource "azurerm_user_assigned_identity" "function_database" {
  name                = local.names.function_database_identity
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}

module "function_app" {
  source = "./modules/function_app"

  # The app migrates at start: create it after its database principal is registered.
  depends_on = [module.postgresql]

  name                                   = local.names.function_app
  service_plan_name                      = local.names.service_plan
  resource_group_name                    = azurerm_resource_group.main.name
  location                               = azurerm_resource_group.main.location
  sku_name                               = var.settings.function_plan_sku
  worker_count                           = var.settings.function_worker_count
  maximum_elastic_worker_count           = var.settings.function_maximum_elastic_worker_count
  zone_balancing_enabled                 = var.settings.function_zone_balancing_enabled
  staging_slot_name                      = var.settings.function_staging_slot_enabled ? local.names.function_staging_slot : null
  virtual_network_subnet_id              = azurerm_subnet.function.id
  storage_account_name                   = module.storage_account.name
  content_share_connection_string        = module.storage_account.primary_connection_string
  content_share_name                     = lookup(module.storage_account.content_shares, local.names.content_share, null)
  staging_content_share_name             = lookup(module.storage_account.content_shares, local.names.content_share_staging, null)
  application_insights_connection_string = azurerm_application_insights.main.connection_string
  eventhub_namespace_fqdn                = module.event_hub.namespace_fqdn
  eventhub_name                          = module.event_hub.eventhub_name
  consumer_group                         = module.event_hub.consumer_groups[local.names.consumer_group_function]
  staging_consumer_group                 = lookup(module.event_hub.consumer_groups, local.names.consumer_group_staging, local.names.consumer_group_staging)
  window_schedule                        = var.settings.window_schedule
  engine_config_path                     = var.settings.engine_config_path
  database_host                          = module.postgresql.fqdn
  database_name                          = module.postgresql.database_name
  database_user                          = azurerm_user_assigned_identity.function_database.name
  database_identity_id                   = azurerm_user_assigned_identity.function_database.id
  database_identity_client_id            = azurerm_user_assigned_identity.function_database.client_id
  archive_container_url                  = module.archive_storage_account.container_urls[local.names.archive_container]
  tags                                   = local.tags
}

# The identity the payment simulator (or any producer run by the pipeline) sends with.
resource "azurerm_user_assigned_identity" "simulator" {
  name                = local.names.simulator_identity
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}

# ---------------------------------------------------------------------------------------
# Role assignments (least privilege, each on the narrowest scope that works)
# ---------------------------------------------------------------------------------------

locals {
  # The system-assigned identities the Functions host runs as: the app and, when present,
  # its staging slot (the database identity needs no Azure role).
  function_principals = merge(
    { function = module.function_app.principal_id },
    var.settings.function_staging_slot_enabled ? { function_staging = module.function_app.staging_slot_principal_id } : {},
  )

  eventhub_senders = merge(
    {
      simulator = {
        principal_id   = azurerm_user_assigned_identity.simulator.principal_id
        principal_type = "ServicePrincipal"
      }
    },
    var.settings.eventhub_sender_principals,
  )

  # Who reads the archive: the app and its slot (handler replay), and the principals of the
  # settings (operators, auditors). Nobody but Capture writes it.
  archive_readers = merge(
    { for key, id in local.function_principals : key => { principal_id = id, principal_type = "ServicePrincipal" } },
    var.settings.archive_reader_principals,
  )

  function_storage_role_assignments = {
    for pair in setproduct(keys(local.function_principals), var.settings.function_storage_roles) :
    "${pair[0]}/${pair[1]}" => { principal = pair[0], role = pair[1] }
  }
}

# The trigger reads the payments hub (all consumer groups of that hub, nothing else).
resource "azurerm_role_assignment" "eventhub_receiver" {
  for_each = local.function_principals

  scope                = module.event_hub.eventhub_id
  role_definition_name = "Azure Event Hubs Data Receiver"
  principal_id         = each.value
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "eventhub_sender" {
  for_each = local.eventhub_senders

  scope                = module.event_hub.eventhub_id
  role_definition_name = "Azure Event Hubs Data Sender"
  principal_id         = each.value.principal_id
  principal_type       = each.value.principal_type
}

# Identity-based AzureWebJobsStorage (AzureWebJobsStorage__accountName): host keys,
# checkpoints and leases of the Event Hubs trigger, timer locks, diagnostic events.
resource "azurerm_role_assignment" "function_storage" {
  for_each = local.function_storage_role_assignments

  scope                = module.storage_account.id
  role_definition_name = each.value.role
  principal_id         = local.function_principals[each.value.principal]
  principal_type       = "ServicePrincipal"
}

# The Functions host sends its telemetry with its identity
# (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD); the handler's own exporter
# uses the connection string's key (see azurerm_application_insights.main).
resource "azurerm_role_assignment" "function_telemetry" {
  for_each = local.function_principals

  scope                = azurerm_application_insights.main.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = each.value
  principal_type       = "ServicePrincipal"
}

# Capture writes the archive, on the archive container only. The only writer: no other
# principal has a role on that account that can write blobs.
resource "azurerm_role_assignment" "archive_writer" {
  scope                = module.archive_storage_account.containers[local.names.archive_container]
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.capture.principal_id
  principal_type       = "ServicePrincipal"
}

# The archive is read by handler replay (PAYMETRICS_ARCHIVE_CONTAINER_URL) and by the
# operators and auditors of the settings, on the archive container only.
resource "azurerm_role_assignment" "archive_reader" {
  for_each = local.archive_readers

  scope                = module.archive_storage_account.containers[local.names.archive_container]
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = each.value.principal_id
  principal_type       = each.value.principal_type
}
