//! Where generated events go: nowhere (benchmarks), stdout or a file (NDJSON), a running
//! `handler` exactly as the Functions host would call it, Azure Event Hubs, or Kafka
//! (Event Hubs' Kafka endpoint or any other).

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use serde_json::json;

use super::Emission;

/// Why a batch could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing to stdout or the file failed.
    #[error("writing events: {0}")]
    Io(#[from] std::io::Error),
    /// The handler answered with an error that retrying does not fix, or kept failing.
    #[error("the handler at {target} answered {status}: {body}")]
    Rejected {
        /// The handler's base URL (`--target`).
        target: String,
        /// HTTP status.
        status: u16,
        /// Its answer, shortened.
        body: String,
    },
    /// The handler could not be reached, after every retry.
    #[error("the handler at {target} is unreachable: {message}")]
    Unreachable {
        /// The handler's base URL (`--target`).
        target: String,
        /// The last error.
        message: String,
    },
    /// Event Hubs refused or failed the batch after every retry.
    #[error("Event Hubs: {0}")]
    EventHubs(String),
    /// The Kafka brokers refused or failed a produce request after every retry, or could
    /// not be reached or signed in to.
    #[error("Kafka: {0}")]
    Kafka(String),
}

/// The retry policy of the Event Hubs and Kafka sinks: `max_attempts` in all, from 200 ms
/// to 30 s apart, exponential with jitter.
pub(super) fn broker_backoff(max_attempts: u32) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(30))
        .with_max_times(max_attempts.saturating_sub(1) as usize)
        .with_jitter()
}

/// Delivery counters, for the progress line, the summary and the metrics.
#[derive(Debug, Clone, Default)]
pub struct SinkStats {
    /// Events delivered.
    pub sent: u64,
    /// Batches delivered.
    pub batches: u64,
    /// Bytes of event bodies delivered.
    pub bytes: u64,
    /// Retried attempts.
    pub retries: u64,
    /// Attempts refused as throttling (HTTP 429 / 503, Event Hubs server busy).
    pub throttles: u64,
    /// Events that could not be delivered.
    pub failed: u64,
    /// Sum of batch send latencies.
    pub latency_total: Duration,
    /// Largest batch send latency.
    pub latency_max: Duration,
}

impl SinkStats {
    /// Counts `events` delivered in one batch that took since `started`.
    pub(super) fn record<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a Emission>,
        started: Instant,
    ) {
        let latency = started.elapsed();
        for event in events {
            self.sent += 1;
            self.bytes += event.text.len() as u64;
        }
        self.batches += 1;
        self.latency_total += latency;
        self.latency_max = self.latency_max.max(latency);
    }

    /// Adds what `other` counted (a part of the same delivery).
    pub(super) fn absorb(&mut self, other: &Self) {
        self.sent += other.sent;
        self.batches += other.batches;
        self.bytes += other.bytes;
        self.retries += other.retries;
        self.throttles += other.throttles;
        self.failed += other.failed;
        self.latency_total += other.latency_total;
        self.latency_max = self.latency_max.max(other.latency_max);
    }

    /// Mean batch latency.
    pub fn latency_mean(&self) -> Duration {
        if self.batches == 0 {
            Duration::ZERO
        } else {
            self.latency_total / self.batches as u32
        }
    }
}

/// The handler sink: POSTs invocations to `{target}/EventHubTrigger` shaped like the
/// Functions host's (string-wrapped event array, metadata arrays, partition context).
pub struct HandlerSink {
    client: reqwest::Client,
    url: String,
    partitions: u32,
    sequence: HashMap<u32, i64>,
    max_attempts: u32,
}

impl HandlerSink {
    /// A sink to the handler at `target` (`http://127.0.0.1:3000`).
    pub fn new(target: &str, partitions: u32, max_attempts: u32) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("a plain HTTP client builds"),
            url: format!("{}/EventHubTrigger", target.trim_end_matches('/')),
            partitions,
            sequence: HashMap::new(),
            max_attempts,
        }
    }

    /// The host-shaped invocation body of one partition's events.
    pub fn invocation(&mut self, partition: u32, events: &[&Emission]) -> String {
        let first = *self.sequence.entry(partition).or_insert(0);
        self.sequence.insert(partition, first + events.len() as i64);
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let texts: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        let sequences: Vec<i64> = (first..first + events.len() as i64).collect();
        let offsets: Vec<String> = sequences.iter().map(|s| (s * 1024).to_string()).collect();
        let keys: Vec<String> = events.iter().map(|e| e.partition_key.to_string()).collect();
        let context = json!({
            "FullyQualifiedNamespace": "simulator.local",
            "EventHubName": "payments",
            "ConsumerGroup": "$Default",
            "PartitionId": partition.to_string(),
        });
        json!({
            "Data": {"events": serde_json::to_string(&texts).expect("strings serialize")},
            "Metadata": {
                "PartitionContext": context,
                "TriggerPartitionContext": context,
                "SequenceNumberArray": serde_json::to_string(&sequences).expect("numbers serialize"),
                "OffsetArray": serde_json::to_string(&offsets).expect("strings serialize"),
                "EnqueuedTimeUtcArray": serde_json::to_string(&vec![now.clone(); events.len()]).expect("strings serialize"),
                "PartitionKeyArray": serde_json::to_string(&keys).expect("strings serialize"),
                "sys": {"MethodName": "EventHubTrigger", "UtcNow": now},
            }
        })
        .to_string()
    }

    async fn post(&self, body: String, stats: &mut SinkStats) -> Result<(), SinkError> {
        #[derive(Debug)]
        enum Attempt {
            Retry(String),
            Fatal(u16, String),
        }
        let attempts = std::sync::atomic::AtomicU64::new(0);
        let throttles = std::sync::atomic::AtomicU64::new(0);
        let send = || async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let response = self
                .client
                .post(&self.url)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
                .map_err(|e| Attempt::Retry(e.to_string()))?;
            let status = response.status().as_u16();
            if response.status().is_success() {
                return Ok(());
            }
            let text: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            if status == 429 || status == 503 {
                throttles.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(Attempt::Retry(format!("{status}: {text}")))
            } else if status >= 500 {
                Err(Attempt::Retry(format!("{status}: {text}")))
            } else {
                Err(Attempt::Fatal(status, text))
            }
        };
        let result = send
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(100))
                    .with_max_delay(Duration::from_secs(10))
                    .with_max_times(self.max_attempts.saturating_sub(1) as usize)
                    .with_jitter(),
            )
            .when(|e| matches!(e, Attempt::Retry(..)))
            .await;
        stats.retries += attempts.into_inner().saturating_sub(1);
        stats.throttles += throttles.into_inner();
        result.map_err(|e| match e {
            Attempt::Fatal(status, body) => SinkError::Rejected {
                target: self.url.clone(),
                status,
                body,
            },
            Attempt::Retry(message) => SinkError::Unreachable {
                target: self.url.clone(),
                message,
            },
        })
    }
}

/// A destination for events.
pub enum Sink {
    /// Discards events (benchmarks).
    Null,
    /// NDJSON to a writer (stdout or a file).
    Lines(Box<dyn Write + Send>),
    /// A running handler.
    Handler(HandlerSink),
    /// Azure Event Hubs.
    EventHubs(super::eventhubs::EventHubsSink),
    /// Kafka.
    Kafka(super::kafka::KafkaSink),
}

impl Sink {
    /// Delivers one batch, updating `stats`; events that cannot be delivered are counted
    /// as failed and the error returned.
    ///
    /// # Errors
    /// [`SinkError`] after every retry.
    pub async fn send(
        &mut self,
        events: &[Emission],
        stats: &mut SinkStats,
    ) -> Result<(), SinkError> {
        let started = Instant::now();
        let result = match self {
            Self::Null => Ok(()),
            Self::Lines(out) => {
                let mut write = || -> std::io::Result<()> {
                    for event in events {
                        out.write_all(event.text.as_bytes())?;
                        out.write_all(b"\n")?;
                    }
                    Ok(())
                };
                write().map_err(SinkError::from)
            }
            Self::Handler(sink) => {
                let mut by_partition: Vec<(u32, Vec<&Emission>)> = Vec::new();
                for event in events {
                    let partition = event.partition_key % sink.partitions;
                    match by_partition.iter_mut().find(|(p, _)| *p == partition) {
                        Some((_, list)) => list.push(event),
                        None => by_partition.push((partition, vec![event])),
                    }
                }
                by_partition.sort_by_key(|(p, _)| *p);
                let mut outcome = Ok(());
                for (partition, list) in by_partition {
                    let posted = Instant::now();
                    let body = sink.invocation(partition, &list);
                    match sink.post(body, stats).await {
                        Ok(()) => stats.record(list.iter().copied(), posted),
                        Err(e) => {
                            stats.failed += list.len() as u64;
                            outcome = Err(e);
                        }
                    }
                }
                return outcome;
            }
            // These two count what they deliver and fail themselves, batch by batch.
            Self::EventHubs(sink) => return sink.send(events, stats).await,
            Self::Kafka(sink) => return sink.send(events, stats).await,
        };
        match result {
            Ok(()) => {
                stats.record(events, started);
                Ok(())
            }
            Err(e) => {
                stats.failed += events.len() as u64;
                Err(e)
            }
        }
    }

    /// Flushes buffered output.
    ///
    /// # Errors
    /// [`SinkError::Io`].
    pub async fn close(&mut self) -> Result<(), SinkError> {
        match self {
            Self::Lines(out) => out.flush().map_err(SinkError::from),
            Self::EventHubs(sink) => sink.close().await,
            _ => Ok(()),
        }
    }
}
