# The Linux Function App that runs the Rust custom handler (`handler`, host.json
# customHandler), its App Service plan, and the `staging` slot the CD pipeline deploys to and
# swaps.
#
# App settings the handler and the function bindings read (names are a contract):
#   FUNCTIONS_WORKER_RUNTIME=custom            application_stack.use_custom_runtime
#   AzureWebJobsStorage__accountName           storage_account_name + storage_uses_managed_identity
#   APPLICATIONINSIGHTS_CONNECTION_STRING      site_config.application_insights_connection_string
#   EventHubConnection__fullyQualifiedNamespace, EventHubName, EventHubConsumerGroup,
#   PAYMETRICS_WINDOW_SCHEDULE, PAYMETRICS_CONFIG, PAYMETRICS_DB_HOST, PAYMETRICS_DB_NAME,
#   PAYMETRICS_DB_USER, PAYMETRICS_DB_AUTH, PAYMETRICS_DB_SSLMODE   app_settings below
# The provider writes the first three itself and drops them from app_settings when read
# back, so they are set through the arguments named, not in app_settings (that would show a
# change on every plan).
#
# The staging slot has its own identity, consumer group and database role, and both
# triggers disabled, all as sticky (slot) settings, so a swap moves the code but never those.

terraform {
  required_version = "~> 1.9.8"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.55"
    }
  }
}

locals {
  is_elastic_premium = startswith(var.sku_name, "EP")
  staging_enabled    = var.staging_slot_name != null

  # Settings that are the same in the app and its slot.
  shared_app_settings = {
    EventHubConnection__fullyQualifiedNamespace = var.eventhub_namespace_fqdn
    EventHubName                                = var.eventhub_name
    PAYMETRICS_WINDOW_SCHEDULE                  = var.window_schedule
    PAYMETRICS_CONFIG                           = var.engine_config_path
    PAYMETRICS_DB_HOST                          = var.database_host
    PAYMETRICS_DB_NAME                          = var.database_name
    PAYMETRICS_DB_AUTH                          = "entra"
    PAYMETRICS_DB_SSLMODE                       = "verify-full"
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING   = "Authorization=AAD"
    WEBSITE_RUN_FROM_PACKAGE                    = "1"
  }

  # Elastic Premium keeps app content on an Azure Files share, reached over the VNet.
  content_settings = local.is_elastic_premium ? {
    WEBSITE_CONTENTAZUREFILECONNECTIONSTRING = var.content_share_connection_string
    WEBSITE_CONTENTOVERVNET                  = "1"
  } : {}

  app_settings = merge(local.shared_app_settings, local.content_settings,
    local.is_elastic_premium ? { WEBSITE_CONTENTSHARE = var.content_share_name } : {},
    {
      EventHubConsumerGroup = var.consumer_group
      PAYMETRICS_DB_USER    = var.database_user
    },
  )

  staging_app_settings = merge(local.shared_app_settings, local.content_settings,
    local.is_elastic_premium ? { WEBSITE_CONTENTSHARE = var.staging_content_share_name } : {},
    {
      EventHubConsumerGroup                   = var.staging_consumer_group
      PAYMETRICS_DB_USER                      = var.staging_database_user
      "AzureWebJobs.EventHubTrigger.Disabled" = "true"
      "AzureWebJobs.TimerTrigger.Disabled"    = "true"
    },
  )

  # Settings that stay with their slot on a swap.
  sticky_app_setting_names = [
    "EventHubConsumerGroup",
    "PAYMETRICS_DB_USER",
    "AzureWebJobs.EventHubTrigger.Disabled",
    "AzureWebJobs.TimerTrigger.Disabled",
  ]
}

resource "azurerm_service_plan" "this" {
  name                         = var.service_plan_name
  resource_group_name          = var.resource_group_name
  location                     = var.location
  os_type                      = "Linux"
  sku_name                     = var.sku_name
  worker_count                 = var.worker_count
  maximum_elastic_worker_count = local.is_elastic_premium ? var.maximum_elastic_worker_count : null
  zone_balancing_enabled       = var.zone_balancing_enabled
  tags                         = var.tags
}

resource "azurerm_linux_function_app" "this" {
  #checkov:skip=CKV_AZURE_221:Inbound public access stays on: the CD pipeline deploys from GitHub-hosted runners (zip deploy to the SCM site, Entra-authenticated; basic auth is off) and smoke-tests through the host's admin API. There are no HTTP-triggered functions.
  name                                           = var.name
  resource_group_name                            = var.resource_group_name
  location                                       = var.location
  service_plan_id                                = azurerm_service_plan.this.id
  storage_account_name                           = var.storage_account_name
  storage_uses_managed_identity                  = true
  functions_extension_version                    = "~4"
  builtin_logging_enabled                        = false
  https_only                                     = true
  public_network_access_enabled                  = true
  client_certificate_enabled                     = false
  virtual_network_subnet_id                      = var.virtual_network_subnet_id
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false
  app_settings                                   = local.app_settings

  identity {
    type = "SystemAssigned"
  }

  site_config {
    always_on                              = !local.is_elastic_premium
    application_insights_connection_string = var.application_insights_connection_string
    elastic_instance_minimum               = local.is_elastic_premium ? var.worker_count : null
    pre_warmed_instance_count              = local.is_elastic_premium ? 1 : null
    runtime_scale_monitoring_enabled       = local.is_elastic_premium
    vnet_route_all_enabled                 = true
    ftps_state                             = "Disabled"
    http2_enabled                          = true
    minimum_tls_version                    = "1.2"
    scm_minimum_tls_version                = "1.2"
    remote_debugging_enabled               = false
    use_32_bit_worker                      = false

    application_stack {
      use_custom_runtime = true
    }
  }

  dynamic "sticky_settings" {
    for_each = local.staging_enabled ? [local.sticky_app_setting_names] : []

    content {
      app_setting_names = sticky_settings.value
    }
  }

  tags = var.tags
}

resource "azurerm_linux_function_app_slot" "staging" {
  #checkov:skip=CKV_AZURE_221:Inbound public access stays on: the CD pipeline deploys from GitHub-hosted runners (zip deploy to the SCM site, Entra-authenticated; basic auth is off) and smoke-tests through the host's admin API. There are no HTTP-triggered functions.
  count = local.staging_enabled ? 1 : 0

  name                                           = var.staging_slot_name
  function_app_id                                = azurerm_linux_function_app.this.id
  storage_account_name                           = var.storage_account_name
  storage_uses_managed_identity                  = true
  functions_extension_version                    = "~4"
  builtin_logging_enabled                        = false
  https_only                                     = true
  public_network_access_enabled                  = true
  client_certificate_enabled                     = false
  virtual_network_subnet_id                      = var.virtual_network_subnet_id
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false
  app_settings                                   = local.staging_app_settings

  identity {
    type = "SystemAssigned"
  }

  site_config {
    always_on                              = !local.is_elastic_premium
    application_insights_connection_string = var.application_insights_connection_string
    elastic_instance_minimum               = local.is_elastic_premium ? 1 : null
    runtime_scale_monitoring_enabled       = local.is_elastic_premium
    vnet_route_all_enabled                 = true
    ftps_state                             = "Disabled"
    http2_enabled                          = true
    minimum_tls_version                    = "1.2"
    scm_minimum_tls_version                = "1.2"
    remote_debugging_enabled               = false
    use_32_bit_worker                      = false

    application_stack {
      use_custom_runtime = true
    }
  }

  tags = var.tags
}
