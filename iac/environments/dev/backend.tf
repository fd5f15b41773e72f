# Remote state of the dev environment: a blob in a storage container of its own state
# account (versioned, soft delete on), reached with Microsoft Entra ID, not account keys.
# Create it once with the bootstrap in iac/README.md before the first `terraform init`.

terraform {
  backend "azurerm" {
    resource_group_name  = "rg-paymetrics-tfstate-dev-weu-001"
    storage_account_name = "stpaymetricstfdevweu001"
    container_name       = "tfstate"
    key                  = "paymetrics.dev.tfstate"
    use_azuread_auth     = true
  }
}
