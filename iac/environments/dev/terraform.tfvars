# Dev: small and cheap. One Basic B1 instance (Dedicated: custom handlers and VNet
# integration, no slots: the pipeline deploys dev in place), burstable PostgreSQL with the
# minimum backup window, the smallest Event Hubs namespace that allows consumer groups and
# network rules.
#
# Every setting iac/variables.tf declares can be set here; those left out take its
# default. Keys it does not declare are refused by tests/iac.rs (Terraform drops them).

settings = {
  location    = "westeurope"
  owner       = "payments-platform"
  cost_center = "cc-payments-dev"

  vnet_address_space     = ["10.40.0.0/22"]
  function_subnet_prefix = "10.40.0.0/24"
  endpoint_subnet_prefix = "10.40.1.0/27"

  eventhub_capacity                 = 1
  eventhub_maximum_throughput_units = 0
  eventhub_partition_count          = 2
  eventhub_message_retention_days   = 1
  # Add the public IPs of machines that run the simulator against dev, e.g. ["203.0.113.0/28"].
  eventhub_allowed_ip_ranges = []

  function_plan_sku                     = "B1"
  function_worker_count                 = 1
  function_maximum_elastic_worker_count = 1
  function_zone_balancing_enabled       = false
  function_staging_slot_enabled         = false

  storage_replication_type = "LRS"

  # Raw-event archive (docs/ARCHIVE.md): 15-minute, 10 MiB windows (few small blobs at dev's
  # volume), kept 7 days, hot throughout.
  archive_capture_interval_seconds = 900
  archive_capture_size_limit_bytes = 10485760
  archive_retention_days           = 7
  archive_cool_after_days          = 0
  archive_replication_type         = "LRS"

  postgresql_sku_name                     = "B_Standard_B1ms"
  postgresql_storage_mb                   = 32768
  postgresql_backup_retention_days        = 7
  postgresql_geo_redundant_backup_enabled = false
  postgresql_high_availability_enabled    = false

  # The identity the dev pipeline runs as (AZURE_CLIENT_ID of the GitHub environment "dev"):
  # it runs Terraform and is the operators' Entra administrator of the server. Migrations are
  # not run by it: the Function App applies them at start.
  database_administrator = {
    principal_name = "sp-paymetrics-github-dev"
  }

  log_retention_days = 30

  # Alerts: email only, and only what needs a look (critical, error, warning); informational
  # and verbose alerts stay in Application Insights. Replace the address with the team's.
  alert_severities = [0, 1, 2]
  alert_email_receivers = [
    { name = "payments-platform-dev", email_address = "payments-platform-dev@example.com" },
  ]
}
