//! The Microsoft Entra ID credentials the simulator signs in to Azure with (Event Hubs
//! over AMQP, and SASL OAUTHBEARER on Event Hubs' Kafka endpoint).

use std::sync::Arc;

use azure_core::credentials::TokenCredential;

/// Which Entra ID credential to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntraCredential {
    /// The managed identity of the host (Azure VM, Container Apps, AKS pod identity):
    /// the user-assigned identity of this client id (`--client-id`, `AZURE_CLIENT_ID`),
    /// or the system-assigned one without it.
    ManagedIdentity {
        /// The client id of a user-assigned identity.
        client_id: Option<String>,
    },
    /// Workload identity federation (AKS, GitHub Actions), from the standard variables.
    WorkloadIdentity,
    /// The signed-in Azure CLI user.
    AzureCli,
    /// A service principal's client secret, from the standard variables
    /// (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`).
    ClientSecret,
}

/// The options of a managed identity credential: the user-assigned identity of
/// `client_id`, or the system-assigned identity without one.
fn managed_identity_options(
    client_id: Option<&str>,
) -> azure_identity::ManagedIdentityCredentialOptions {
    azure_identity::ManagedIdentityCredentialOptions {
        user_assigned_id: client_id
            .map(|id| azure_identity::UserAssignedId::ClientId(id.to_owned())),
        ..Default::default()
    }
}

/// The credential `kind` names (building it reaches no network).
///
/// # Errors
/// The credential's error, or a missing variable of a client secret.
pub fn credential(kind: &EntraCredential) -> azure_core::Result<Arc<dyn TokenCredential>> {
    use azure_identity::{
        AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential,
        WorkloadIdentityCredential,
    };
    Ok(match kind {
        EntraCredential::ManagedIdentity { client_id } => {
            ManagedIdentityCredential::new(Some(managed_identity_options(client_id.as_deref())))?
        }
        EntraCredential::WorkloadIdentity => WorkloadIdentityCredential::new(None)?,
        EntraCredential::AzureCli => AzureCliCredential::new(None)?,
        EntraCredential::ClientSecret => {
            let var = |name: &str| {
                std::env::var(name).map_err(|_| {
                    azure_core::Error::with_message(
                        azure_core::error::ErrorKind::Credential,
                        format!("{name} is not set"),
                    )
                })
            };
            ClientSecretCredential::new(
                &var("AZURE_TENANT_ID")?,
                var("AZURE_CLIENT_ID")?,
                var("AZURE_CLIENT_SECRET")?.into(),
                None,
            )?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_picks_that_user_assigned_identity_and_none_the_system_assigned_one() {
        let options = managed_identity_options(Some("00000000-0000-0000-0000-000000000001"));
        match options.user_assigned_id {
            Some(azure_identity::UserAssignedId::ClientId(id)) => {
                assert_eq!(id, "00000000-0000-0000-0000-000000000001");
            }
            other => panic!("not a client id: {other:?}"),
        }
        assert!(managed_identity_options(None).user_assigned_id.is_none());
        // Building the credential reaches no network.
        let kind = EntraCredential::ManagedIdentity {
            client_id: Some("00000000-0000-0000-0000-000000000001".into()),
        };
        assert!(credential(&kind).is_ok());
    }
}
