# The one place where resource names and the common tags are built. Every `name` of a
# resource elsewhere refers to local.names (or to a module input that is given one of them).
#
# Pattern: <abbreviation>-<workload>-<environment>-<region>-<instance>, for example
# func-paymetrics-prod-weu-001. Abbreviations follow the Cloud Adoption Framework
# (https://learn.microsoft.com/azure/cloud-adoption-framework/ready/azure-best-practices/resource-abbreviations).
# Storage account names allow 3-24 lowercase letters and digits only, so they drop the
# hyphens: stpaymetricsprodweu001.

locals {
  environment_short = {
    dev        = "dev"
    staging    = "stg"
    production = "prod"
  }

  # Short codes of the regions this workload may run in (variables.tf validates location
  # against the same list).
  region_short = {
    westeurope         = "weu"
    northeurope        = "neu"
    swedencentral      = "sdc"
    germanywestcentral = "gwc"
    francecentral      = "frc"
    uksouth            = "uks"
    eastus             = "eus"
    eastus2            = "eus2"
    westus3            = "wus3"
  }

  name_suffix = join("-", [
    var.settings.workload,
    local.environment_short[var.environment],
    local.region_short[var.settings.location],
    var.settings.instance,
  ])
  compact_suffix = lower(replace(local.name_suffix, "/[^0-9A-Za-z]/", ""))

  names = {
    resource_group     = "rg-${local.name_suffix}"
    log_analytics      = "log-${local.name_suffix}"
    app_insights       = "appi-${local.name_suffix}"
    virtual_network    = "vnet-${local.name_suffix}"
    subnet_function    = "snet-func-${local.name_suffix}"
    subnet_endpoints   = "snet-pep-${local.name_suffix}"
    nsg_function       = "nsg-func-${local.name_suffix}"
    nsg_endpoints      = "nsg-pep-${local.name_suffix}"
    eventhub_namespace = "evhns-${local.name_suffix}"
    eventhub           = "evh-${local.name_suffix}"
    storage_account    = substr("st${local.compact_suffix}", 0, 24)
    # The raw-event archive's account: `st` plus `a` for archive, the one character the
    # 24-character limit leaves with a 10-character workload and a 4-character region code.
    archive_storage_account = "sta${local.compact_suffix}"
    service_plan            = "asp-${local.name_suffix}"
    function_app            = "func-${local.name_suffix}"
    postgresql_server       = "psql-${local.name_suffix}"
    simulator_identity      = "id-sim-${local.name_suffix}"
    # The identity Event Hubs Capture writes the archive with (the namespace's).
    capture_identity = "id-evh-capture-${local.name_suffix}"
    # The database identity of the app and its slot; its name is their PostgreSQL role
    # (PAYMETRICS_DB_USER), at most 63 characters.
    function_database_identity = "id-func-db-${local.name_suffix}"
    action_group               = "ag-${local.name_suffix}"
    # The action group's short name, shown as the sender of its notifications: at most 12
    # characters (7 of the workload, a hyphen, the environment's short code).
    action_group_short = "${substr(var.settings.workload, 0, 7)}-${local.environment_short[var.environment]}"
    # One log search alert rule per severity ("0".."4", as the PaymetricsAlert events carry
    # it). The Cloud Adoption Framework has no abbreviation for them; `alert` says what they are.
    alert_rules = { for severity in ["0", "1", "2", "3", "4"] : severity => "alert-sev${severity}-${local.name_suffix}" }

    # Children of the resources above (unique within their parent).
    function_staging_slot     = "staging" # the CD pipeline deploys to --slot staging
    consumer_group_function   = "${var.settings.workload}-function"
    consumer_group_staging    = "${var.settings.workload}-function-staging"
    archive_container         = "archive"
    content_share             = "func-${local.name_suffix}-content"
    content_share_staging     = "func-${local.name_suffix}-staging-content"
    database                  = var.settings.workload # the handler's default PAYMETRICS_DB_NAME
    diagnostic_setting        = "diag-${local.name_suffix}"
    postgresql_endpoint       = "pep-psql-${local.name_suffix}"
    postgresql_endpoint_nic   = "nic-pep-psql-${local.name_suffix}"
    postgresql_connection     = "psc-psql-${local.name_suffix}"
    postgresql_dns_zone_group = "default"
    dns_zone_link             = "vnetlink-${local.name_suffix}"

    # Fixed by Azure: the private DNS zone of PostgreSQL flexible server private endpoints.
    postgresql_private_dns_zone = "privatelink.postgres.database.azure.com"
  }

  # Common tags (lowercase keys) on every resource that takes tags.
  tags = merge(var.settings.extra_tags, {
    environment = var.environment
    app         = var.settings.workload
    owner       = var.settings.owner
    costcenter  = var.settings.cost_center
    managed_by  = "terraform"
  })
}
