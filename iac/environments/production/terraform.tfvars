# Production: zone-redundant end to end. Elastic Premium EP2 with 3 always-ready instances
# spread over the zones (up to 20 on bursts) and the staging slot; PostgreSQL with a
# zone-redundant standby and 35 days of geo-redundant backups; 16 partitions and up to 10
# throughput units; 7 days of Event Hubs retention; zone-redundant (ZRS) host storage.
#
# Every setting iac/variables.tf declares can be set here; those left out take its
# default. Keys it does not declare are refused by tests/iac.rs (Terraform drops them).

settings = {
  location    = "westeurope"
  owner       = "payments-platform"
  cost_center = "cc-payments-prod"

  vnet_address_space     = ["10.42.0.0/22"]
  function_subnet_prefix = "10.42.0.0/24"
  endpoint_subnet_prefix = "10.42.1.0/27"

  eventhub_capacity                 = 2
  eventhub_maximum_throughput_units = 10
  eventhub_partition_count          = 16
  eventhub_message_retention_days   = 7
  eventhub_allowed_ip_ranges        = []

  function_plan_sku                     = "EP2"
  function_worker_count                 = 3
  function_maximum_elastic_worker_count = 20
  function_zone_balancing_enabled       = true
  function_staging_slot_enabled         = true

  storage_replication_type = "ZRS"

  # Raw-event archive (docs/ARCHIVE.md): 5-minute, 300 MiB windows, kept 400 days (a year
  # and a month), moved to the cool tier after 30; zone-redundant like the host storage.
  archive_capture_interval_seconds = 300
  archive_capture_size_limit_bytes = 314572800
  archive_retention_days           = 400
  archive_cool_after_days          = 30
  archive_replication_type         = "ZRS"

  postgresql_sku_name                     = "GP_Standard_D4ds_v5"
  postgresql_storage_mb                   = 131072
  postgresql_backup_retention_days        = 35
  postgresql_geo_redundant_backup_enabled = true
  postgresql_high_availability_enabled    = true

  database_administrator = {
    principal_name = "sp-paymetrics-github-production"
  }

  log_retention_days = 90

  # Alerts: every severity. Replace the address with the team's on-call list; an incident
  # tool's webhook goes into alert_webhook_receivers (https, no secret in the URL: this file
  # is committed).
  alert_severities = [0, 1, 2, 3, 4]
  alert_email_receivers = [
    { name = "payments-platform-oncall", email_address = "payments-platform-oncall@example.com" },
  ]
  alert_webhook_receivers = []
}
