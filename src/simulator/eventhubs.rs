//! The Azure Event Hubs sink, on the official `azure_messaging_eventhubs` crate.
//!
//! Events are grouped by partition (hash of the configured partition key over the hub's
//! partitions, so one merchant's or customer's events stay in order), packed into batches
//! up to the hub's size limit or `delivery.batch_size` events, and sent with retries:
//! exponential backoff with jitter, slower still when the service is busy (throttled).

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use azure_messaging_eventhubs::models::EventData;
use azure_messaging_eventhubs::{EventDataBatchOptions, ProducerClient};
use backon::{ExponentialBuilder, Retryable};

use super::Emission;
use super::sinks::{SinkError, SinkStats};
use crate::store::Secret;

/// How the simulator authenticates to Event Hubs.
#[derive(Debug, Clone)]
pub enum EventHubsAuth {
    /// A connection string with a shared access key (`EVENTHUBS_CONNECTION_STRING`).
    ConnectionString(Secret),
    /// Microsoft Entra ID: managed identity, workload identity, the Azure CLI, or a
    /// client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`).
    EntraId(EntraCredential),
}

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
    /// A service principal's client secret, from the standard variables.
    ClientSecret,
}

/// Where to send.
#[derive(Debug, Clone)]
pub struct EventHubsTarget {
    /// `<namespace>.servicebus.windows.net` (ignored with a connection string that names it).
    pub namespace: String,
    /// The event hub's name in the namespace (`payments`).
    pub hub: String,
    /// How to sign in: a connection string or a Microsoft Entra ID credential.
    pub auth: EventHubsAuth,
}

/// An open producer.
pub struct EventHubsSink {
    producer: ProducerClient,
    partitions: Vec<String>,
    batch_size: usize,
    max_attempts: u32,
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

fn credential(kind: &EntraCredential) -> azure_core::Result<Arc<dyn TokenCredential>> {
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

impl EventHubsSink {
    /// Connects and reads the hub's partitions.
    ///
    /// # Errors
    /// [`SinkError::EventHubs`] without the secret in it.
    pub async fn open(
        target: &EventHubsTarget,
        batch_size: usize,
        max_attempts: u32,
    ) -> Result<Self, SinkError> {
        let builder = ProducerClient::builder().with_application_id("paymetrics-simulator".into());
        let producer = match &target.auth {
            EventHubsAuth::ConnectionString(secret) => builder
                .open_with_connection_string(secret.expose(), Some(&target.hub))
                .await
                .map_err(|e| {
                    SinkError::EventHubs(format!(
                        "connecting with the connection string failed ({:?})",
                        e.kind
                    ))
                })?,
            EventHubsAuth::EntraId(kind) => {
                let credential = credential(kind)
                    .map_err(|e| SinkError::EventHubs(format!("credential: {e}")))?;
                builder
                    .open(&target.namespace, &target.hub, credential)
                    .await
                    .map_err(|e| {
                        SinkError::EventHubs(format!("connecting to {}: {e}", target.namespace))
                    })?
            }
        };
        let properties = producer
            .get_eventhub_properties()
            .await
            .map_err(|e| SinkError::EventHubs(format!("reading the hub's partitions: {e}")))?;
        Ok(Self {
            producer,
            partitions: properties.partition_ids,
            batch_size,
            max_attempts,
        })
    }

    /// Sends events, one batch per partition and size limit.
    ///
    /// # Errors
    /// [`SinkError::EventHubs`] after every retry.
    pub async fn send(&self, events: &[Emission], stats: &mut SinkStats) -> Result<(), SinkError> {
        let count = self.partitions.len().max(1) as u32;
        let mut groups: Vec<(usize, Vec<&Emission>)> = Vec::new();
        for event in events {
            let partition = (event.partition_key % count) as usize;
            match groups.iter_mut().find(|(p, _)| *p == partition) {
                Some((_, list)) => list.push(event),
                None => groups.push((partition, vec![event])),
            }
        }
        for (partition, list) in groups {
            let partition_id = self.partitions.get(partition).cloned();
            for chunk in list.chunks(self.batch_size) {
                let started = Instant::now();
                let attempts = std::sync::atomic::AtomicU64::new(0);
                let throttles = std::sync::atomic::AtomicU64::new(0);
                let send = || async {
                    attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.send_chunk(chunk, partition_id.clone()).await
                };
                let result = send
                    .retry(
                        ExponentialBuilder::default()
                            .with_min_delay(Duration::from_millis(200))
                            .with_max_delay(Duration::from_secs(30))
                            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
                            .with_jitter(),
                    )
                    .notify(|error: &String, _| {
                        if error.contains("ServerBusy") || error.contains("server-busy") {
                            throttles.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    })
                    .await;
                stats.retries += attempts.into_inner().saturating_sub(1);
                stats.throttles += throttles.into_inner();
                match result {
                    Ok(sent) => {
                        stats.sent += sent as u64;
                        stats.batches += 1;
                        stats.bytes += chunk.iter().map(|e| e.text.len() as u64).sum::<u64>();
                        let latency = started.elapsed();
                        stats.latency_total += latency;
                        stats.latency_max = stats.latency_max.max(latency);
                    }
                    Err(message) => {
                        stats.failed += chunk.len() as u64;
                        return Err(SinkError::EventHubs(message));
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends one chunk, splitting it over several batches when the size limit requires.
    async fn send_chunk(
        &self,
        chunk: &[&Emission],
        partition_id: Option<String>,
    ) -> Result<usize, String> {
        let options = || EventDataBatchOptions {
            partition_id: partition_id.clone(),
            ..EventDataBatchOptions::default()
        };
        let mut batch = self
            .producer
            .create_batch(Some(options()))
            .await
            .map_err(|e| e.to_string())?;
        let mut sent = 0;
        for event in chunk {
            let data = EventData::builder()
                .with_body(event.text.as_bytes().to_vec())
                .build();
            if !batch
                .try_add_event_data(data.clone(), None)
                .map_err(|e| e.to_string())?
            {
                let full = std::mem::replace(
                    &mut batch,
                    self.producer
                        .create_batch(Some(options()))
                        .await
                        .map_err(|e| e.to_string())?,
                );
                sent += full.len();
                self.producer
                    .send_batch(full, None)
                    .await
                    .map_err(|e| e.to_string())?;
                if !batch
                    .try_add_event_data(data, None)
                    .map_err(|e| e.to_string())?
                {
                    return Err(format!(
                        "an event of {} bytes is larger than the hub's batch limit",
                        event.text.len()
                    ));
                }
            }
        }
        sent += batch.len();
        self.producer
            .send_batch(batch, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(sent)
    }

    /// Closes the connection.
    ///
    /// # Errors
    /// [`SinkError::EventHubs`].
    pub async fn close(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
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
