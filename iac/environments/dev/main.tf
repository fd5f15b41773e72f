# Dev environment: small and cheap. A Basic (B1) Dedicated plan without slots, burstable
# PostgreSQL without high availability, 2 partitions, 1 throughput unit, 1 day of retention.
#
# An environment root holds only what a root module must: the state backend (backend.tf),
# the provider, and one call of the root module (iac/), which declares, defaults and
# validates every setting and holds the outputs. This environment's values are the
# `settings` object of terraform.tfvars. Plan and apply from this folder (iac/README.md).

terraform {
  required_version = "~> 1.9.8"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.78"
    }
  }
}

# Subscription and credentials come from the environment (ARM_SUBSCRIPTION_ID,
# ARM_CLIENT_ID, ARM_TENANT_ID, ARM_USE_OIDC in the pipeline; `az login` by hand).
provider "azurerm" {
  storage_use_azuread = true

  features {
    resource_group {
      prevent_deletion_if_contains_resources = true
    }

    storage {
      # The host storage account's firewall admits only the Function App's subnet:
      # Terraform configures it through Azure Resource Manager alone.
      data_plane_available = false
    }
  }
}

variable "settings" {
  # Passed through as it is: the root module's `settings` type (iac/variables.tf) converts,
  # defaults and validates it, so it is declared once, there.
  type        = any
  description = "This environment's settings (terraform.tfvars), as iac/variables.tf declares them."
}

module "paymetrics" {
  source = "../.."

  environment = "dev"
  settings    = var.settings
}

# The root module's outputs (iac/outputs.tf) as one object, all but the secret:
# `terraform output paymetrics`, or one value with
# `terraform output -json paymetrics | jq -r .function_app_name`. Terraform refuses a
# sensitive value in it, so a new sensitive output of the root module fails the plan until
# it is left out here and passed on as its own sensitive output (tests/iac.rs checks both).
output "paymetrics" {
  description = "Every output of the root module (iac/outputs.tf) except the sensitive ones, which follow."
  value       = { for name, value in module.paymetrics : name => value if name != "application_insights_connection_string" }
}

output "application_insights_connection_string" {
  description = "Application Insights connection string."
  value       = module.paymetrics.application_insights_connection_string
  sensitive   = true
}
