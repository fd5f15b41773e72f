//! The Kafka sink, on `rskafka`: Event Hubs' Kafka endpoint
//! (`<namespace>.servicebus.windows.net:9093`, SASL_SSL with OAUTHBEARER and a Microsoft
//! Entra ID token, or PLAIN with a connection string where the namespace allows keys) or
//! any other Kafka.
//!
//! Events go to the partition of their partition key (its hash over the topic's
//! partitions, as the Event Hubs sink does, so one merchant's or customer's events stay
//! in order), `delivery.batch_size` records and at most [`MAX_REQUEST_BYTES`] to a produce
//! request, keyed by the partition key and timestamped when sent; the partitions of a
//! delivery batch are sent to at once, each partition's requests one after the other. A request that fails in
//! a way a retry can mend (a broker away, a leader moving, no answer within
//! [`REQUEST_TIMEOUT`]) is retried with exponential backoff and jitter up to
//! `delivery.max_attempts` times; one the brokers refuse for good (too large, not
//! authorized) fails at once. Throttling is absorbed by the client (Kafka's
//! `throttle_time_ms`) and does not show in the throttle counter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::Retryable;
use chrono::Utc;
use futures_util::FutureExt;
use rskafka::BackoffConfig;
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{ClientBuilder, Credentials, OauthBearerCredentials, SaslConfig};
use rskafka::record::Record;

use super::Emission;
use super::identity::{EntraCredential, credential};
use super::sinks::{SinkError, SinkStats};
use crate::store::Secret;

/// How the connection to the brokers is protected: Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaSecurity {
    /// Neither TLS nor SASL (a local broker).
    Plaintext,
    /// TLS, no SASL.
    Ssl,
    /// SASL without TLS.
    SaslPlaintext,
    /// SASL over TLS (Event Hubs).
    SaslSsl,
}

impl KafkaSecurity {
    fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// How the simulator signs in over SASL.
#[derive(Debug, Clone)]
pub enum KafkaSasl {
    /// SASL PLAIN: for Event Hubs the user `$ConnectionString` and the namespace's
    /// connection string as the password.
    Plain {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// SASL OAUTHBEARER with a Microsoft Entra ID token for `scope`
    /// (`https://<namespace>.servicebus.windows.net/.default` for Event Hubs).
    OauthBearer {
        /// Where the token comes from.
        credential: EntraCredential,
        /// The token's scope.
        scope: String,
    },
}

/// Where to send.
#[derive(Debug, Clone)]
pub struct KafkaTarget {
    /// The bootstrap brokers, `host:port` each.
    pub bootstrap: Vec<String>,
    /// The topic (the event hub's name on Event Hubs).
    pub topic: String,
    /// TLS and SASL or not.
    pub security: KafkaSecurity,
    /// The SASL sign-in, with [`KafkaSecurity::SaslPlaintext`] or
    /// [`KafkaSecurity::SaslSsl`].
    pub sasl: Option<KafkaSasl>,
}

impl KafkaTarget {
    /// The scope of an Entra ID token for the brokers: `https://<first broker's host>/.default`.
    pub fn default_scope(bootstrap: &[String]) -> Option<String> {
        let first = bootstrap.first()?;
        let host = first
            .rsplit_once(':')
            .map_or(first.as_str(), |(host, _)| host);
        (!host.is_empty()).then(|| format!("https://{host}/.default"))
    }
}

/// An open producer: one client per partition of the topic.
pub struct KafkaSink {
    topic: String,
    partitions: Vec<PartitionClient>,
    batch_size: usize,
    max_attempts: u32,
}

/// How long the client's own retries of a request may take before it gives up and this
/// sink's retries (counted in the statistics) take over.
const CLIENT_RETRY_DEADLINE: Duration = Duration::from_secs(10);

/// How long one attempt (connecting, a metadata request, a produce request with the
/// client's own retries) may take before it counts as failed: a broker that keeps the
/// connection open and never answers must not hold the run forever.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest produce request: Event Hubs' Kafka endpoint takes requests of up to 1 MB.
pub const MAX_REQUEST_BYTES: usize = 1_000_000;

/// Bytes a record adds to a request besides its value (Kafka's record header and a key).
const RECORD_OVERHEAD: usize = 90;

/// Why one produce attempt failed.
#[derive(Debug)]
enum Attempt {
    /// A retry can mend it.
    Retry(String),
    /// The brokers refuse it for good.
    Fatal(String),
}

impl Attempt {
    fn of(error: &KafkaError) -> Self {
        match error {
            KafkaError::ServerError {
                protocol_error:
                    ProtocolError::MessageTooLarge
                    | ProtocolError::RecordListTooLarge
                    | ProtocolError::InvalidRecord
                    | ProtocolError::CorruptMessage
                    | ProtocolError::TopicAuthorizationFailed
                    | ProtocolError::ClusterAuthorizationFailed
                    | ProtocolError::SaslAuthenticationFailed,
                ..
            } => Self::Fatal(error.to_string()),
            _ => Self::Retry(error.to_string()),
        }
    }

    fn message(self) -> String {
        match self {
            Self::Retry(m) | Self::Fatal(m) => m,
        }
    }
}

/// `future`, or a timeout error after [`REQUEST_TIMEOUT`].
async fn timed<T>(
    what: &str,
    future: impl std::future::Future<Output = Result<T, KafkaError>>,
) -> Result<T, SinkError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, future).await {
        Ok(result) => result.map_err(|e| SinkError::Kafka(format!("{what}: {e}"))),
        Err(_) => Err(SinkError::Kafka(format!(
            "{what}: no answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

/// `events` cut into requests of at most `batch_size` records and [`MAX_REQUEST_BYTES`].
fn requests<'a>(events: &[&'a Emission], batch_size: usize) -> Vec<Vec<&'a Emission>> {
    let mut requests = Vec::new();
    let mut current: Vec<&Emission> = Vec::new();
    let mut bytes = 0;
    for event in events {
        let size = event.text.len() + RECORD_OVERHEAD;
        if !current.is_empty() && (current.len() >= batch_size || bytes + size > MAX_REQUEST_BYTES)
        {
            requests.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(*event);
    }
    if !current.is_empty() {
        requests.push(current);
    }
    requests
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("the default provider supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

fn sasl_config(sasl: &KafkaSasl) -> Result<SaslConfig, SinkError> {
    Ok(match sasl {
        KafkaSasl::Plain { username, password } => SaslConfig::Plain(Credentials::new(
            username.clone(),
            password.expose().to_owned(),
        )),
        KafkaSasl::OauthBearer {
            credential: kind,
            scope,
        } => {
            let credential =
                credential(kind).map_err(|e| SinkError::Kafka(format!("credential: {e}")))?;
            let scope = scope.clone();
            SaslConfig::Oauthbearer(OauthBearerCredentials {
                callback: Arc::new(move || {
                    let credential = Arc::clone(&credential);
                    let scope = scope.clone();
                    async move {
                        let token = credential.get_token(&[scope.as_str()], None).await?;
                        Ok(token.token.secret().to_owned())
                    }
                    .boxed()
                }),
                authz_id: None,
                bearer_kvs: Vec::new(),
            })
        }
    })
}

impl KafkaSink {
    /// Connects to the brokers and opens a client for every partition of the topic.
    ///
    /// # Errors
    /// [`SinkError::Kafka`] when the brokers cannot be reached or signed in to, or the
    /// topic does not exist (Event Hubs: the event hub; other Kafkas: create it first).
    pub async fn open(
        target: &KafkaTarget,
        batch_size: usize,
        max_attempts: u32,
    ) -> Result<Self, SinkError> {
        let shown = target.bootstrap.join(",");
        let mut builder = ClientBuilder::new(target.bootstrap.clone())
            .client_id("paymetrics-simulator")
            .backoff_config(BackoffConfig {
                deadline: Some(CLIENT_RETRY_DEADLINE),
                ..BackoffConfig::default()
            });
        if target.security.tls() {
            builder = builder.tls_config(tls_config());
        }
        match (&target.sasl, target.security.sasl()) {
            (Some(sasl), true) => builder = builder.sasl_config(sasl_config(sasl)?),
            (None, true) => {
                return Err(SinkError::Kafka(
                    "SASL is asked for but no sign-in is configured".to_owned(),
                ));
            }
            (_, false) => {}
        }
        let client = timed(&format!("connecting to {shown}"), builder.build()).await?;
        let topics = timed(
            &format!("listing the topics of {shown}"),
            client.list_topics(),
        )
        .await?;
        let Some(topic) = topics.into_iter().find(|t| t.name == target.topic) else {
            return Err(SinkError::Kafka(format!(
                "{shown} has no topic {:?} (on Event Hubs the topic is the event hub; \
                 elsewhere create it first)",
                target.topic
            )));
        };
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in topic.partitions {
            partitions.push(
                timed(
                    &format!("{}/{partition}", target.topic),
                    client.partition_client(
                        target.topic.clone(),
                        partition,
                        UnknownTopicHandling::Error,
                    ),
                )
                .await?,
            );
        }
        if partitions.is_empty() {
            return Err(SinkError::Kafka(format!(
                "topic {:?} has no partitions",
                target.topic
            )));
        }
        Ok(Self {
            topic: target.topic.clone(),
            partitions,
            batch_size: batch_size.max(1),
            max_attempts,
        })
    }

    /// The topic's partitions, in order.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// Sends events, one produce request per partition, `batch_size` records and
    /// [`MAX_REQUEST_BYTES`]: the partitions at once, each partition's requests one after
    /// the other (so a retry never puts a partition's events out of order).
    ///
    /// # Errors
    /// [`SinkError::Kafka`] (the first failure) after every retry; every request is still
    /// tried, and the events of those not sent are counted as failed.
    pub async fn send(&self, events: &[Emission], stats: &mut SinkStats) -> Result<(), SinkError> {
        let count = self.partitions.len() as u32;
        let mut groups: BTreeMap<usize, Vec<&Emission>> = BTreeMap::new();
        for event in events {
            groups
                .entry((event.partition_key % count) as usize)
                .or_default()
                .push(event);
        }
        let sent = futures_util::future::join_all(
            groups
                .into_iter()
                .map(|(partition, list)| self.send_partition(partition, list)),
        )
        .await;
        let mut outcome = Ok(());
        for (partition_stats, result) in sent {
            stats.absorb(&partition_stats);
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }

    /// One partition's events, request after request; what it delivered and its first
    /// failure.
    async fn send_partition(
        &self,
        partition: usize,
        list: Vec<&Emission>,
    ) -> (SinkStats, Result<(), SinkError>) {
        let client = &self.partitions[partition];
        let mut stats = SinkStats::default();
        let mut outcome = Ok(());
        for chunk in requests(&list, self.batch_size) {
            let chunk = chunk.as_slice();
            let started = Instant::now();
            let attempts = std::sync::atomic::AtomicU64::new(0);
            let produce = || async {
                attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let now = Utc::now();
                let records = chunk
                    .iter()
                    .map(|event| Record {
                        key: Some(event.partition_key.to_string().into_bytes()),
                        value: Some(event.text.as_bytes().to_vec()),
                        headers: BTreeMap::new(),
                        timestamp: now,
                    })
                    .collect();
                match tokio::time::timeout(
                    REQUEST_TIMEOUT,
                    client.produce(records, Compression::NoCompression),
                )
                .await
                {
                    Ok(Ok(offsets)) => Ok(offsets),
                    Ok(Err(e)) => Err(Attempt::of(&e)),
                    Err(_) => Err(Attempt::Retry(format!(
                        "no answer within {} s",
                        REQUEST_TIMEOUT.as_secs()
                    ))),
                }
            };
            let result = produce
                .retry(super::sinks::broker_backoff(self.max_attempts))
                .when(|e| matches!(e, Attempt::Retry(_)))
                .await;
            stats.retries += attempts.into_inner().saturating_sub(1);
            match result {
                Ok(_) => stats.record(chunk.iter().copied(), started),
                Err(e) => {
                    stats.failed += chunk.len() as u64;
                    if outcome.is_ok() {
                        outcome = Err(SinkError::Kafka(format!(
                            "producing to {}/{partition}: {}",
                            self.topic,
                            e.message()
                        )));
                    }
                }
            }
        }
        (stats, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_scope_is_the_first_brokers_host() {
        let scope = |b: &[&str]| {
            KafkaTarget::default_scope(&b.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        };
        assert_eq!(
            scope(&["evhns-pm.servicebus.windows.net:9093"]).as_deref(),
            Some("https://evhns-pm.servicebus.windows.net/.default")
        );
        assert_eq!(
            scope(&["a.example:9092", "b.example:9092"]).as_deref(),
            Some("https://a.example/.default")
        );
        assert_eq!(scope(&[]), None);
        assert_eq!(scope(&[":9092"]), None);
    }

    fn emission(key: u32, bytes: usize) -> Emission {
        Emission {
            text: "x".repeat(bytes),
            partition_key: key,
            transaction_id: String::new(),
            fault: crate::simulator::generator::Fault::None,
            expected: crate::simulator::Expected::Accepted,
            txn: None,
        }
    }

    #[test]
    fn requests_stop_at_the_batch_size_and_at_a_megabyte() {
        let small: Vec<Emission> = (0..10).map(|k| emission(k, 100)).collect();
        let small: Vec<&Emission> = small.iter().collect();
        let sizes: Vec<usize> = requests(&small, 4).iter().map(Vec::len).collect();
        assert_eq!(sizes, [4, 4, 2]);
        let large: Vec<Emission> = (0..5).map(|k| emission(k, 400_000)).collect();
        let large: Vec<&Emission> = large.iter().collect();
        let sizes: Vec<usize> = requests(&large, 256).iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1]);
        // An event larger than a request still goes, alone, for the broker to judge.
        let huge = [emission(1, 2_000_000)];
        let huge: Vec<&Emission> = huge.iter().collect();
        assert_eq!(requests(&huge, 256).len(), 1);
    }

    #[test]
    fn what_the_brokers_refuse_for_good_is_not_retried() {
        let refused = |protocol_error| KafkaError::ServerError {
            protocol_error,
            error_message: None,
            request: rskafka::client::error::RequestContext::Topic("payments".to_owned()),
            response: None,
            is_virtual: false,
        };
        assert!(matches!(
            Attempt::of(&refused(ProtocolError::MessageTooLarge)),
            Attempt::Fatal(_)
        ));
        assert!(matches!(
            Attempt::of(&refused(ProtocolError::NotLeaderOrFollower)),
            Attempt::Retry(_)
        ));
    }

    #[test]
    fn security_protocols_say_tls_and_sasl() {
        use KafkaSecurity::*;
        let both: Vec<(bool, bool)> = [Plaintext, Ssl, SaslPlaintext, SaslSsl]
            .iter()
            .map(|s| (s.tls(), s.sasl()))
            .collect();
        assert_eq!(
            both,
            [(false, false), (true, false), (false, true), (true, true)]
        );
    }

    #[tokio::test]
    async fn a_sasl_protocol_without_a_sign_in_is_refused_before_connecting() {
        let target = KafkaTarget {
            bootstrap: vec!["127.0.0.1:1".to_owned()],
            topic: "payments".to_owned(),
            security: KafkaSecurity::SaslPlaintext,
            sasl: None,
        };
        let error = KafkaSink::open(&target, 10, 1)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("no sign-in is configured"), "{error}");
    }

    #[tokio::test]
    async fn plain_sign_in_keeps_the_password_and_oauthbearer_builds_without_network() {
        let plain = sasl_config(&KafkaSasl::Plain {
            username: "$ConnectionString".to_owned(),
            password: Secret::new("Endpoint=sb://x/;SharedAccessKey=k".to_owned()),
        })
        .unwrap();
        match plain {
            SaslConfig::Plain(c) => {
                assert_eq!(c.username, "$ConnectionString");
                assert_eq!(c.password, "Endpoint=sb://x/;SharedAccessKey=k");
            }
            _ => panic!("not PLAIN"),
        }
        let oauth = sasl_config(&KafkaSasl::OauthBearer {
            credential: EntraCredential::ManagedIdentity { client_id: None },
            scope: "https://x.servicebus.windows.net/.default".to_owned(),
        })
        .unwrap();
        assert!(matches!(oauth, SaslConfig::Oauthbearer(_)));
    }
}
