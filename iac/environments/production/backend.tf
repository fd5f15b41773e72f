# Remote state of the production environment: a blob in a storage container of its own state
# account (versioned, soft delete on), reached with Microsoft Entra ID, not account keys.
# Create it once with the bootstrap in iac/README.md before the first `terraform init`.

terraform {
  backend "azurerm" {
    resource_group_name  = "rg-paymetrics-tfstate-prod-weu-001"
    storage_account_name = "stpaymetricstfprodweu001"
    container_name       = "tfstate"
    key                  = "paymetrics.production.tfstate"
    use_azuread_auth     = true
  }
}
