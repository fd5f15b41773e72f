# The Linux Function App that runs the Rust custom handler (`handler`, host.json
# customHandler), its App Service plan, and the `staging` slot the CD pipeline deploys to and
# swaps.
#
# App settings the handler and the function bindings read (names are a contract):
#   FUNCTIONS_WORKER_RUNTIME=custom            application_stack.use_custom_runtime
#   AzureWebJobsStorage__accountName           storage_account_name + storage_uses_managed_identity
#   APPLICATIONINSIGHTS_CONNECTION_STRING      site_config.application_insights_connection_string
#   EventHubConnection__fullyQualifiedNamespace, EventHubName, EventHubConsumerGroup,
#   PAYMETRICS_WINDOW_SCHEDULE, PAYMETRICS_CONFIG, PAYMETRICS_CONFIG_FALLBACK,
#   PAYMETRICS_MIGRATE, PAYMETRICS_DB_HOST, PAYMETRICS_DB_NAME, PAYMETRICS_DB_USER,
#   PAYMETRICS_DB_CLIENT_ID, PAYMETRICS_DB_AUTH, PAYMETRICS_DB_SSLMODE,
#   PAYMETRICS_ARCHIVE_CONTAINER_URL                                   app_settings below
# The provider writes the first three itself and drops them from app_settings when read
# back, so they are set through the arguments named, not in app_settings (that would show a
# change on every plan).
#
# Identities: the app and the slot each have a system-assigned identity (Event Hubs, host
# storage, telemetry) and share ONE user-assigned identity for PostgreSQL
# (PAYMETRICS_DB_CLIENT_ID), so the objects a migration creates, from whichever slot starts
# first, always have the same owner.
#
# The staging slot has its own consumer group and both triggers disabled, as sticky (slot)
# settings, so a swap moves the code but never those. The content share
# (WEBSITE_CONTENTSHARE) is not sticky: on Elastic Premium the deployed package lives in it
# (/home/data/SitePackages), so it must travel with the code on a swap; Terraform sets it at
# creation and then leaves it to the platform.

terraform {
  required_version = "~> 1.9.8"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.78"
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
    # Reviewed rule changes are uploaded to the app's persistent storage; until a file
    # exists there the handler reads the one in the package (the app root is a read-only
    # mount with WEBSITE_RUN_FROM_PACKAGE). Hot reload picks up an uploaded file.
    PAYMETRICS_CONFIG          = var.engine_config_path
    PAYMETRICS_CONFIG_FALLBACK = "config/engine.yaml"
    # The handler applies pending migrations at start, under an advisory lock, from inside
    # the virtual network; no pipeline runner connects to PostgreSQL.
    PAYMETRICS_MIGRATE      = "on-start"
    PAYMETRICS_DB_HOST      = var.database_host
    PAYMETRICS_DB_NAME      = var.database_name
    PAYMETRICS_DB_USER      = var.database_user
    PAYMETRICS_DB_CLIENT_ID = var.database_identity_client_id
    PAYMETRICS_DB_AUTH      = "entra"
    PAYMETRICS_DB_SSLMODE   = "verify-full"
    # The raw-event archive Event Hubs Capture writes (docs/ARCHIVE.md): the default
    # container of handler replay. The app's identities may read it, not write it.
    PAYMETRICS_ARCHIVE_CONTAINER_URL          = var.archive_container_url
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD"
    WEBSITE_RUN_FROM_PACKAGE                  = "1"
    # Zip deployment writes this setting; declaring it keeps plans free of that drift.
    SCM_DO_BUILD_DURING_DEPLOYMENT = "false"
  }

  # Elastic Premium keeps app content on an Azure Files share, reached over the VNet. The
  # share is created by Terraform beforehand, so the platform's create-time check of it
  # (which the storage firewall can refuse) is skipped.
  content_settings = local.is_elastic_premium ? {
    WEBSITE_CONTENTAZUREFILECONNECTIONSTRING = var.content_share_connection_string
    WEBSITE_CONTENTOVERVNET                  = "1"
    WEBSITE_SKIP_CONTENTSHARE_VALIDATION     = "1"
  } : {}

  app_settings = merge(local.shared_app_settings, local.content_settings,
    local.is_elastic_premium ? { WEBSITE_CONTENTSHARE = var.content_share_name } : {},
    {
      EventHubConsumerGroup = var.consumer_group
    },
  )

  staging_app_settings = merge(local.shared_app_settings, local.content_settings,
    local.is_elastic_premium ? { WEBSITE_CONTENTSHARE = var.staging_content_share_name } : {},
    {
      EventHubConsumerGroup                   = var.staging_consumer_group
      "AzureWebJobs.EventHubTrigger.Disabled" = "true"
      "AzureWebJobs.TimerTrigger.Disabled"    = "true"
    },
  )

  # Settings that stay with their slot on a swap. Not the content share settings: Microsoft
  # documents that a function app breaks on a swap when they are slot settings, because the
  # package moves with the share. The database settings are the same in both slots.
  sticky_app_setting_names = [
    "EventHubConsumerGroup",
    "AzureWebJobs.EventHubTrigger.Disabled",
    "AzureWebJobs.TimerTrigger.Disabled",
  ]
}

resource "azurerm_service_plan" "this" {
  #checkov:skip=CKV_AZURE_211:The SKU is chosen per environment: Basic B1 only in dev (the cheapest plan with virtual network integration; no slot), Elastic Premium in staging and production (tests/iac.rs asserts it). checkov reads the root module's dev-sized defaults.
  #checkov:skip=CKV_AZURE_212:Instances are chosen per environment: dev and staging keep one always-ready instance (Elastic Premium scales out on demand), production runs 3 zone-balanced instances (tests/iac.rs asserts at least 3).
  #checkov:skip=CKV_AZURE_225:Zone redundancy is chosen per environment: production spreads 3 instances over the zones (tests/iac.rs asserts it); dev's Basic B1 cannot be zone-redundant and staging keeps one instance. checkov reads each environment's settings.
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
  #checkov:skip=CKV_AZURE_221:Inbound public access stays on: the CD pipeline deploys from GitHub-hosted runners (zip deploy to the SCM site, Entra-authenticated; basic auth is off) and checks the HTTP-triggered Health function (GET /api/health) from there. Every HTTP-triggered function needs a function key (authLevel function): Health, and the read-only API and dashboard Metrics5m, RuleMetrics, Clusters, Alerts and Dashboard (docs/API.md).
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
    type         = "SystemAssigned, UserAssigned"
    identity_ids = [var.database_identity_id]
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

  lifecycle {
    # A swap exchanges the content shares of the app and the slot with their code; set at
    # creation, then left to the platform, so an apply after a swap never points production
    # back at the share holding the previous release.
    ignore_changes = [app_settings["WEBSITE_CONTENTSHARE"]]
  }
}

resource "azurerm_linux_function_app_slot" "staging" {
  #checkov:skip=CKV_AZURE_221:Inbound public access stays on: the CD pipeline deploys from GitHub-hosted runners (zip deploy to the SCM site, Entra-authenticated; basic auth is off) and checks the HTTP-triggered Health function (GET /api/health) from there. Every HTTP-triggered function needs a function key (authLevel function): Health, and the read-only API and dashboard Metrics5m, RuleMetrics, Clusters, Alerts and Dashboard (docs/API.md).
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
    type         = "SystemAssigned, UserAssigned"
    identity_ids = [var.database_identity_id]
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

  lifecycle {
    # See the app: the slot's share moves with its code on a swap.
    ignore_changes = [app_settings["WEBSITE_CONTENTSHARE"]]
  }
}
