//! The Azure Event Hubs sink, on the official `azure_messaging_eventhubs` crate (AMQP,
//! signed in with Microsoft Entra ID; a connection string reaches the hub through its
//! Kafka endpoint, [`super::kafka`]).
//!
//! Events are grouped by partition (hash of the configured partition key over the hub's
//! partitions, so one merchant's or customer's events stay in order), packed into batches
//! up to the hub's size limit or `delivery.batch_size` events, and sent with retries:
//! exponential backoff with jitter, slower still when the service is busy (throttled).

use std::time::Instant;

use azure_messaging_eventhubs::models::EventData;
use azure_messaging_eventhubs::{EventDataBatchOptions, ProducerClient};
use backon::Retryable;

use super::Emission;
use super::identity::{EntraCredential, credential};
use super::sinks::{SinkError, SinkStats};

/// Where to send.
#[derive(Debug, Clone)]
pub struct EventHubsTarget {
    /// `<namespace>.servicebus.windows.net`.
    pub namespace: String,
    /// The event hub's name in the namespace (`payments`).
    pub hub: String,
    /// The Microsoft Entra ID credential to sign in with.
    pub credential: EntraCredential,
}

/// An open producer.
pub struct EventHubsSink {
    producer: ProducerClient,
    partitions: Vec<String>,
    batch_size: usize,
    max_attempts: u32,
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
        let credential = credential(&target.credential)
            .map_err(|e| SinkError::EventHubs(format!("credential: {e}")))?;
        let producer = ProducerClient::builder()
            .with_application_id("paymetrics-simulator".into())
            .open(&target.namespace, &target.hub, credential)
            .await
            .map_err(|e| {
                SinkError::EventHubs(format!("connecting to {}: {e}", target.namespace))
            })?;
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
    /// [`SinkError::EventHubs`] (the first failure) after every retry; every batch is
    /// still tried, and the events of those not sent are counted as failed.
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
        let mut outcome = Ok(());
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
                    .retry(super::sinks::broker_backoff(self.max_attempts))
                    .notify(|error: &String, _| {
                        if error.contains("ServerBusy") || error.contains("server-busy") {
                            throttles.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    })
                    .await;
                stats.retries += attempts.into_inner().saturating_sub(1);
                stats.throttles += throttles.into_inner();
                match result {
                    Ok(_) => stats.record(chunk.iter().copied(), started),
                    Err(message) => {
                        stats.failed += chunk.len() as u64;
                        if outcome.is_ok() {
                            outcome = Err(SinkError::EventHubs(message));
                        }
                    }
                }
            }
        }
        outcome
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
