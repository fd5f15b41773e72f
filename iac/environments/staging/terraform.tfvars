# Staging: production's shape at a smaller size, so slot deployment and swap are rehearsed
# here. Elastic Premium EP1 with the staging slot, general-purpose PostgreSQL without a
# standby, 4 partitions with auto-inflate.
#
# Every setting iac/variables.tf declares can be set here; those left out take its
# default. Keys it does not declare are refused by tests/iac.rs (Terraform drops them).

settings = {
  location    = "westeurope"
  owner       = "payments-platform"
  cost_center = "cc-payments-staging"

  vnet_address_space     = ["10.41.0.0/22"]
  function_subnet_prefix = "10.41.0.0/24"
  endpoint_subnet_prefix = "10.41.1.0/27"

  eventhub_capacity                 = 1
  eventhub_maximum_throughput_units = 4
  eventhub_partition_count          = 4
  eventhub_message_retention_days   = 3
  eventhub_allowed_ip_ranges        = []

  function_plan_sku                     = "EP1"
  function_worker_count                 = 1
  function_maximum_elastic_worker_count = 4
  function_zone_balancing_enabled       = false
  function_staging_slot_enabled         = true

  storage_replication_type = "LRS"

  # Raw-event archive (docs/ARCHIVE.md): 5-minute, 100 MiB windows, kept 30 days, hot
  # throughout (cool storage bills 30 days at least).
  archive_capture_interval_seconds = 300
  archive_capture_size_limit_bytes = 104857600
  archive_retention_days           = 30
  archive_cool_after_days          = 0
  archive_replication_type         = "LRS"

  postgresql_sku_name                     = "GP_Standard_D2ds_v5"
  postgresql_storage_mb                   = 65536
  postgresql_backup_retention_days        = 14
  postgresql_geo_redundant_backup_enabled = false
  postgresql_high_availability_enabled    = false

  database_administrator = {
    principal_name = "sp-paymetrics-github-staging"
  }

  log_retention_days = 30

  # Alerts: email, critical to warning (informational and verbose stay in Application
  # Insights). Replace the address with the team's.
  alert_severities = [0, 1, 2]
  alert_email_receivers = [
    { name = "payments-platform-staging", email_address = "payments-platform-staging@example.com" },
  ]
}
