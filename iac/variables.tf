# Inputs of the root module: the environment's name and its settings. Each environment root
# (environments/<env>/) passes the `settings` object of its terraform.tfvars through as it
# is; the type below declares, describes and defaults every setting (defaults are the
# small, cheap end), and the validations after it check them.

variable "environment" {
  type        = string
  description = "Deployment environment: dev, staging or production."

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be dev, staging or production."
  }
}

variable "settings" {
  description = "Everything an environment sets, by name: each attribute is described above it in the type, and those declared optional(type, default) may be left out."
  type = object({
    # --- Naming and tags
    # Workload name used in every resource name and in the `app` tag.
    workload = optional(string, "paymetrics")
    # Azure region (programmatic name, e.g. westeurope). It needs availability zones for
    # zone-redundant production.
    location = string
    # Instance suffix of every resource name, three digits (001, 002, ...), to run a second
    # copy side by side.
    instance = optional(string, "001")
    # Team or person accountable for the resources (the `owner` tag).
    owner = string
    # Cost center the resources are billed to (the `costcenter` tag).
    cost_center = string
    # Tags added to the common set (environment, app, owner, costcenter, managed_by win on a
    # clash).
    extra_tags = optional(map(string), {})

    # --- Network
    # Address space of the environment's virtual network.
    vnet_address_space = list(string)
    # CIDR of the subnet delegated to the Function App's virtual network integration (/26 or
    # larger: one address per instance, slots included).
    function_subnet_prefix = string
    # CIDR of the subnet holding private endpoints (PostgreSQL).
    endpoint_subnet_prefix = string

    # --- Event Hubs
    # Event Hubs namespace tier. Standard or Premium (Basic has no extra consumer groups, no
    # network rules and no Capture).
    eventhub_sku = optional(string, "Standard")
    # Throughput units (Standard) or processing units (Premium) of the namespace.
    eventhub_capacity = optional(number, 1)
    # Auto-inflate ceiling in throughput units (Standard only); 0 turns auto-inflate off.
    eventhub_maximum_throughput_units = optional(number, 0)
    # Partitions of the payments hub: the most Function instances that read it in parallel.
    # Fixed after creation on Standard.
    eventhub_partition_count = optional(number, 2)
    # Days events stay readable in the hub (replay window after an outage), 1-7 on Standard.
    eventhub_message_retention_days = optional(number, 1)
    # Public CIDRs allowed to reach the Event Hubs namespace (e.g. where the simulator runs).
    # Everything else is denied except the Function App's subnet.
    eventhub_allowed_ip_ranges = optional(list(string), [])
    # Extra principals (e.g. developers running the simulator) given Azure Event Hubs Data
    # Sender on the hub, keyed by a label. The simulator's own identity always gets it.
    eventhub_sender_principals = optional(map(object({
      principal_id   = string
      principal_type = string
    })), {})

    # --- Function App
    # App Service plan SKU of the Function App: EP1-EP3 (Elastic Premium: event-driven scale,
    # slots) or a Dedicated SKU (B1-B3, S1-S3, P0v3-P3v3).
    function_plan_sku = optional(string, "B1")
    # Always-ready instances of the plan (Elastic Premium: minimum instances). 3 or more for
    # zone redundancy.
    function_worker_count = optional(number, 1)
    # Elastic Premium burst ceiling (instances); ignored on Dedicated plans.
    function_maximum_elastic_worker_count = optional(number, 1)
    # Spread the plan's instances over availability zones (Elastic Premium or Premium v3, at
    # least 3 instances).
    function_zone_balancing_enabled = optional(bool, false)
    # Create the `staging` deployment slot the CD pipeline deploys to and swaps (needs Elastic
    # Premium or Standard and above).
    function_staging_slot_enabled = optional(bool, false)
    # Roles of the Function App identities on the host storage account (AzureWebJobsStorage).
    # Microsoft documents Storage Blob Data Owner for the host, Event Hubs checkpoints and
    # timer locks, Storage Table Data Contributor for diagnostic events; Storage Queue Data
    # Contributor and Storage Account Contributor are only needed for blob triggers.
    function_storage_roles = optional(list(string), [
      "Storage Blob Data Owner", "Storage Queue Data Contributor", "Storage Table Data Contributor",
    ])
    # NCRONTAB schedule of the window-closing timer (PAYMETRICS_WINDOW_SCHEDULE).
    window_schedule = optional(string, "0 */5 * * * *")
    # Engine settings file the handler reads (PAYMETRICS_CONFIG): on the app's persistent
    # storage under /home, where reviewed rule changes are uploaded (docs/RULES.md). Until a
    # file exists there the handler reads the packaged config/engine.yaml
    # (PAYMETRICS_CONFIG_FALLBACK).
    engine_config_path = optional(string, "/home/data/paymetrics/engine.yaml")

    # --- Storage (Functions host)
    # Replication of the host storage account (checkpoints, leases, keys). ZRS for a
    # zone-redundant Function App.
    storage_replication_type = optional(string, "LRS")
    # Public IPs or CIDRs allowed through the firewalls of both storage accounts, the host's
    # and the archive's (operators). The Function App's subnet is always allowed, and so are
    # trusted Azure services (Event Hubs Capture).
    storage_allowed_ip_ranges = optional(list(string), [])

    # --- Raw-event archive (Event Hubs Capture, docs/ARCHIVE.md)
    # Capture time window in seconds (60-900): each partition gets a new Avro blob at least
    # this often while events arrive. Azure's default is 300.
    archive_capture_interval_seconds = optional(number, 300)
    # Capture size window in bytes (10485760-524288000): a partition's blob is closed early
    # when it reaches this size. Azure's default is 314572800 (300 MiB).
    archive_capture_size_limit_bytes = optional(number, 314572800)
    # Days after its creation an archive blob is deleted (the archive's retention).
    archive_retention_days = optional(number, 7)
    # Days after its creation an archive blob moves from the hot to the cool tier, less than
    # archive_retention_days; 0 keeps blobs hot until they are deleted. Cool storage bills at
    # least 30 days per blob, so this pays off only when blobs stay 30 days or more after it.
    archive_cool_after_days = optional(number, 0)
    # Replication of the archive's storage account: LRS, ZRS, GRS or GZRS.
    archive_replication_type = optional(string, "LRS")
    # Extra principals (operators, auditors) given Storage Blob Data Reader on the archive
    # container, keyed by a label. The Function App and its slot always get it.
    archive_reader_principals = optional(map(object({
      principal_id   = string
      principal_type = string
    })), {})

    # --- PostgreSQL
    # PostgreSQL major version.
    postgresql_version = optional(string, "16")
    # Compute SKU, e.g. B_Standard_B1ms (burstable), GP_Standard_D2ds_v5 (general purpose).
    postgresql_sku_name = optional(string, "B_Standard_B1ms")
    # Storage size in MB (grows automatically from there).
    postgresql_storage_mb = optional(number, 32768)
    # Backup and point-in-time-restore window in days (7-35).
    postgresql_backup_retention_days = optional(number, 7)
    # Keep backups in the paired region too (restore after a regional outage). Fixed at
    # creation.
    postgresql_geo_redundant_backup_enabled = optional(bool, false)
    # Zone-redundant standby with automatic failover (not on burstable SKUs).
    postgresql_high_availability_enabled = optional(bool, false)
    # Availability zone of the primary server.
    postgresql_zone = optional(string, "1")
    # Availability zone of the high-availability standby (different from postgresql_zone).
    postgresql_standby_zone = optional(string, "2")
    # Allow connections from the internet to the addresses in postgresql_firewall_rules, for
    # operators who cannot reach the virtual network. Nothing in the pipeline needs it: the
    # Function App connects (and migrates) through the private endpoint.
    postgresql_public_network_access_enabled = optional(bool, false)
    # Narrow public firewall rules for operators, keyed by rule name. Only used with
    # postgresql_public_network_access_enabled.
    postgresql_firewall_rules = optional(map(object({
      start_ip_address = string
      end_ip_address   = string
    })), {})
    # Microsoft Entra administrator of the PostgreSQL server for operators (psql, handler
    # verify-schema by hand). principal_name is its display name; object_id defaults to the
    # identity running Terraform (the pipeline's). Migrations do not use it: the app applies
    # them at start.
    database_administrator = object({
      principal_name = string
      object_id      = optional(string)
      principal_type = optional(string, "ServicePrincipal")
    })
    # Register the Function App's database identity (the user-assigned identity the app and
    # its staging slot share) as an Entra administrator of the server (a member of
    # azure_pg_admin), so the handler can log in, migrate at start and create and drop its day
    # partitions. Set false to create it as an ordinary role with
    # pgaadauth_create_principal_with_oid instead, and grant it what the migrations need
    # (iac/README.md).
    function_identity_is_database_administrator = optional(bool, true)

    # --- Monitoring
    # Retention of Log Analytics and Application Insights data in days.
    log_retention_days = optional(number, 30)

    # --- Alerts (Azure Monitor): the handler's PaymetricsAlert events as notifications
    # Create the action group and the log search alert rules that notify the receivers below
    # when the handler fires an alert. false creates neither; the events are still written to
    # Application Insights.
    alerts_enabled = optional(bool, true)
    # Severities to notify, on Azure Monitor's scale (0 critical, 1 error, 2 warning,
    # 3 informational, 4 verbose), the one the events carry: one alert rule each.
    alert_severities = optional(list(number), [0, 1, 2, 3, 4])
    # Email receivers of the action group: a name (unique among all its receivers) and an
    # address.
    alert_email_receivers = optional(list(object({
      name          = string
      email_address = string
    })), [])
    # Webhook receivers of the action group (https, common alert schema), e.g. an incident
    # tool's endpoint: a name (unique among all its receivers) and the URL. The URL is
    # committed with terraform.tfvars and kept in the state: use one that carries no secret.
    alert_webhook_receivers = optional(list(object({
      name        = string
      service_uri = string
    })), [])
  })

  # --- Naming and tags
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.settings.workload))
    error_message = "workload must be 2-10 lowercase letters or digits, starting with a letter (it is part of the 24-character storage account name)."
  }

  validation {
    condition = contains([
      "westeurope", "northeurope", "swedencentral", "germanywestcentral", "francecentral",
      "uksouth", "eastus", "eastus2", "westus3",
    ], var.settings.location)
    error_message = "location must be one of the regions with a short code in naming_conventions.tf (westeurope, northeurope, swedencentral, germanywestcentral, francecentral, uksouth, eastus, eastus2, westus3)."
  }

  validation {
    condition     = can(regex("^[0-9]{3}$", var.settings.instance))
    error_message = "instance must be three digits, e.g. 001."
  }

  validation {
    condition     = length(trimspace(var.settings.owner)) > 0
    error_message = "owner must not be empty."
  }

  validation {
    condition     = length(trimspace(var.settings.cost_center)) > 0
    error_message = "cost_center must not be empty."
  }

  validation {
    condition     = alltrue([for k in keys(var.settings.extra_tags) : k == lower(k)])
    error_message = "extra_tags keys must be lowercase, like the common tags."
  }

  # --- Network
  validation {
    condition     = length(var.settings.vnet_address_space) > 0 && alltrue([for c in var.settings.vnet_address_space : can(cidrnetmask(c))])
    error_message = "vnet_address_space must be a non-empty list of IPv4 CIDR blocks."
  }

  validation {
    condition     = can(cidrnetmask(var.settings.function_subnet_prefix)) && try(tonumber(split("/", var.settings.function_subnet_prefix)[1]), 99) <= 26
    error_message = "function_subnet_prefix must be an IPv4 CIDR of /26 or larger."
  }

  validation {
    condition     = can(cidrnetmask(var.settings.endpoint_subnet_prefix)) && try(tonumber(split("/", var.settings.endpoint_subnet_prefix)[1]), 99) <= 28
    error_message = "endpoint_subnet_prefix must be an IPv4 CIDR of /28 or larger."
  }

  # --- Event Hubs
  validation {
    condition     = contains(["Standard", "Premium"], var.settings.eventhub_sku)
    error_message = "eventhub_sku must be Standard or Premium (Basic has no Capture, which writes the raw-event archive)."
  }

  validation {
    condition     = var.settings.eventhub_capacity >= 1 && var.settings.eventhub_capacity <= 40 && floor(var.settings.eventhub_capacity) == var.settings.eventhub_capacity
    error_message = "eventhub_capacity must be a whole number from 1 to 40."
  }

  validation {
    condition     = var.settings.eventhub_maximum_throughput_units == 0 || (var.settings.eventhub_maximum_throughput_units >= var.settings.eventhub_capacity && var.settings.eventhub_maximum_throughput_units <= 40)
    error_message = "eventhub_maximum_throughput_units must be 0 (off) or between eventhub_capacity and 40."
  }

  validation {
    condition     = var.settings.eventhub_partition_count >= 1 && var.settings.eventhub_partition_count <= 32 && floor(var.settings.eventhub_partition_count) == var.settings.eventhub_partition_count
    error_message = "eventhub_partition_count must be a whole number from 1 to 32."
  }

  validation {
    condition     = var.settings.eventhub_message_retention_days >= 1 && var.settings.eventhub_message_retention_days <= 7
    error_message = "eventhub_message_retention_days must be from 1 to 7."
  }

  validation {
    condition     = alltrue([for c in var.settings.eventhub_allowed_ip_ranges : can(cidrnetmask(c)) && !startswith(c, "0.0.0.0")])
    error_message = "eventhub_allowed_ip_ranges must be IPv4 CIDRs and must not open the namespace to everyone (0.0.0.0/x)."
  }

  validation {
    condition     = alltrue([for p in values(var.settings.eventhub_sender_principals) : contains(["User", "Group", "ServicePrincipal"], p.principal_type)])
    error_message = "principal_type must be User, Group or ServicePrincipal."
  }

  # --- Function App
  validation {
    condition     = contains(["B1", "B2", "B3", "S1", "S2", "S3", "P0v3", "P1v3", "P2v3", "P3v3", "EP1", "EP2", "EP3"], var.settings.function_plan_sku)
    error_message = "function_plan_sku must be EP1-EP3 or a Linux Dedicated SKU (B1-B3, S1-S3, P0v3-P3v3). Consumption and Flex Consumption are not offered: Linux Consumption has no virtual network integration, and Flex Consumption has no deployment slots (the CD pipeline deploys to a slot and swaps)."
  }

  validation {
    condition     = var.settings.function_worker_count >= 1 && var.settings.function_worker_count <= 30
    error_message = "function_worker_count must be from 1 to 30."
  }

  validation {
    condition     = var.settings.function_maximum_elastic_worker_count >= 1 && var.settings.function_maximum_elastic_worker_count <= 100
    error_message = "function_maximum_elastic_worker_count must be from 1 to 100."
  }

  validation {
    condition     = !var.settings.function_staging_slot_enabled || !startswith(var.settings.function_plan_sku, "B")
    error_message = "Basic plans have no deployment slots: use EP1-EP3, S1-S3 or P0v3-P3v3 with function_staging_slot_enabled."
  }

  validation {
    condition = length(var.settings.function_storage_roles) > 0 && alltrue([for r in var.settings.function_storage_roles : contains([
      "Storage Blob Data Owner", "Storage Queue Data Contributor", "Storage Table Data Contributor", "Storage Account Contributor",
    ], r)])
    error_message = "function_storage_roles may only list Storage Blob Data Owner, Storage Queue Data Contributor, Storage Table Data Contributor and Storage Account Contributor."
  }

  validation {
    condition     = length(split(" ", var.settings.window_schedule)) == 6
    error_message = "window_schedule must be a six-field NCRONTAB expression (with seconds), e.g. \"0 */5 * * * *\"."
  }

  validation {
    condition     = startswith(var.settings.engine_config_path, "/home/") && endswith(var.settings.engine_config_path, ".yaml")
    error_message = "engine_config_path must be a .yaml file under /home/ (the app's persistent storage; the package mount is read-only)."
  }

  # --- Storage (Functions host)
  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS"], var.settings.storage_replication_type)
    error_message = "storage_replication_type must be LRS, ZRS, GRS or GZRS (the read-access variants are no use to the Functions host)."
  }

  validation {
    condition     = alltrue([for c in var.settings.storage_allowed_ip_ranges : !startswith(c, "0.0.0.0")])
    error_message = "storage_allowed_ip_ranges must not open the account to everyone."
  }

  # --- Raw-event archive
  validation {
    condition     = var.settings.archive_capture_interval_seconds >= 60 && var.settings.archive_capture_interval_seconds <= 900 && floor(var.settings.archive_capture_interval_seconds) == var.settings.archive_capture_interval_seconds
    error_message = "archive_capture_interval_seconds must be a whole number from 60 to 900 (Event Hubs Capture's time window)."
  }

  validation {
    condition     = var.settings.archive_capture_size_limit_bytes >= 10485760 && var.settings.archive_capture_size_limit_bytes <= 524288000 && floor(var.settings.archive_capture_size_limit_bytes) == var.settings.archive_capture_size_limit_bytes
    error_message = "archive_capture_size_limit_bytes must be a whole number from 10485760 (10 MiB) to 524288000 (500 MiB) (Event Hubs Capture's size window)."
  }

  validation {
    condition     = var.settings.archive_retention_days >= 1 && var.settings.archive_retention_days <= 99999 && floor(var.settings.archive_retention_days) == var.settings.archive_retention_days
    error_message = "archive_retention_days must be a whole number of days from 1 to 99999."
  }

  validation {
    condition     = var.settings.archive_cool_after_days == 0 || (var.settings.archive_cool_after_days >= 1 && var.settings.archive_cool_after_days < var.settings.archive_retention_days && floor(var.settings.archive_cool_after_days) == var.settings.archive_cool_after_days)
    error_message = "archive_cool_after_days must be 0 (stay hot) or a whole number of days less than archive_retention_days (blobs move to cool before they are deleted)."
  }

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS"], var.settings.archive_replication_type)
    error_message = "archive_replication_type must be LRS, ZRS, GRS or GZRS."
  }

  validation {
    condition     = alltrue([for p in values(var.settings.archive_reader_principals) : contains(["User", "Group", "ServicePrincipal"], p.principal_type)])
    error_message = "archive_reader_principals: principal_type must be User, Group or ServicePrincipal."
  }

  # --- PostgreSQL
  validation {
    condition     = contains(["14", "15", "16", "17"], var.settings.postgresql_version)
    error_message = "postgresql_version must be 14, 15, 16 or 17."
  }

  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_", var.settings.postgresql_sku_name))
    error_message = "postgresql_sku_name must be a flexible server SKU (B_Standard_*, GP_Standard_* or MO_Standard_*)."
  }

  validation {
    condition     = contains([32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408], var.settings.postgresql_storage_mb)
    error_message = "postgresql_storage_mb must be one of the sizes flexible server offers (32768, 65536, 131072, ...)."
  }

  validation {
    condition     = var.settings.postgresql_backup_retention_days >= 7 && var.settings.postgresql_backup_retention_days <= 35
    error_message = "postgresql_backup_retention_days must be from 7 to 35."
  }

  validation {
    condition     = !var.settings.postgresql_high_availability_enabled || !startswith(var.settings.postgresql_sku_name, "B_")
    error_message = "High availability is not available on burstable (B_) SKUs."
  }

  validation {
    condition     = contains(["1", "2", "3"], var.settings.postgresql_zone)
    error_message = "postgresql_zone must be 1, 2 or 3."
  }

  validation {
    condition     = contains(["1", "2", "3"], var.settings.postgresql_standby_zone) && var.settings.postgresql_standby_zone != var.settings.postgresql_zone
    error_message = "postgresql_standby_zone must be 1, 2 or 3 and differ from postgresql_zone."
  }

  validation {
    condition = alltrue([for r in values(var.settings.postgresql_firewall_rules) :
      r.start_ip_address != "0.0.0.0" && r.end_ip_address != "255.255.255.255"
    ])
    error_message = "postgresql_firewall_rules must not contain allow-all or allow-all-Azure rules (0.0.0.0 or 255.255.255.255)."
  }

  validation {
    condition     = contains(["User", "Group", "ServicePrincipal"], var.settings.database_administrator.principal_type) && length(trimspace(var.settings.database_administrator.principal_name)) > 0
    error_message = "database_administrator needs a principal_name and a principal_type of User, Group or ServicePrincipal."
  }

  # --- Monitoring
  validation {
    condition     = contains([30, 60, 90, 120, 180, 270, 365, 550, 730], var.settings.log_retention_days)
    error_message = "log_retention_days must be one of 30, 60, 90, 120, 180, 270, 365, 550, 730 (the Application Insights values)."
  }

  # --- Alerts
  validation {
    condition = length(var.settings.alert_severities) > 0 && length(distinct(var.settings.alert_severities)) == length(var.settings.alert_severities) && alltrue([
      for s in var.settings.alert_severities : contains([0, 1, 2, 3, 4], s)
    ])
    error_message = "alert_severities must list each severity at most once, from 0 (critical) to 4 (verbose), and at least one (set alerts_enabled = false to notify none)."
  }

  validation {
    condition = alltrue([
      for r in var.settings.alert_email_receivers : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", r.email_address))
    ])
    error_message = "alert_email_receivers: each email_address must be an address such as team@example.com."
  }

  validation {
    condition     = alltrue([for r in var.settings.alert_webhook_receivers : startswith(r.service_uri, "https://")])
    error_message = "alert_webhook_receivers: each service_uri must be an https:// URL (alerts carry operating data)."
  }

  validation {
    # Blank names are dropped and duplicates merged, so either makes the count come up short.
    condition = length(distinct([
      for name in concat(var.settings.alert_email_receivers[*].name, var.settings.alert_webhook_receivers[*].name) : trimspace(name) if trimspace(name) != ""
    ])) == length(var.settings.alert_email_receivers) + length(var.settings.alert_webhook_receivers)
    error_message = "alert_email_receivers and alert_webhook_receivers: every receiver needs a name, unique across both lists (Azure Monitor requires unique receiver names in an action group)."
  }
}
