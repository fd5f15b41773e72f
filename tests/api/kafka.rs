//! The simulator's Kafka sink end to end against a real Kafka-protocol broker (`tansu`,
//! started here on a port of its own, in memory): every event the simulator produces is
//! read back by a Kafka consumer, partition by partition, checked against the same
//! run's events written to a file, and fed through the handler to the run's ground truth.
//! Built only with the `simulator` feature.
//!
//! Needs `tansu` (`tests/support/tansu.rs`); `PAYMETRICS_SKIP_KAFKA=1` skips them without it.
#![cfg(feature = "simulator")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rskafka::client::ClientBuilder;
use rskafka::client::partition::UnknownTopicHandling;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::helpers::{TestApp, free_port};
use crate::tansu::Broker;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pm-kafka-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `simulator run` of the same half hour of traffic with the default faults, to `sink`.
async fn simulate(sink: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_simulator"))
        .args(["run", "--quiet", "--seed", "1207", "--rate", "2"])
        .args([
            "--from",
            "2026-11-25T08:00:00Z",
            "--to",
            "2026-11-25T08:30:00Z",
        ])
        .args(sink)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The flags of a run to the broker at `address`, without TLS or SASL.
fn to_kafka(address: &str) -> [&str; 6] {
    [
        "--sink",
        "kafka",
        "--bootstrap",
        address,
        "--security-protocol",
        "plaintext",
    ]
}

const PARTITIONS: i32 = 3;

/// One record read back: its partition, offset, key and value.
struct Consumed {
    partition: i32,
    offset: i64,
    key: String,
    value: String,
}

/// Every record of `topic`, read with a Kafka consumer partition by partition from the
/// first offset to the high watermark.
async fn consume(address: &str, topic: &str) -> Vec<Consumed> {
    let client = ClientBuilder::new(vec![address.to_owned()])
        .build()
        .await
        .unwrap();
    let mut consumed = Vec::new();
    for partition in 0..PARTITIONS {
        let reader = client
            .partition_client(topic, partition, UnknownTopicHandling::Error)
            .await
            .unwrap();
        let mut offset = 0;
        loop {
            let (records, high_watermark) = reader
                .fetch_records(offset, 1..1_000_000, 1_000)
                .await
                .unwrap();
            for record in records {
                assert_eq!(
                    record.offset, offset,
                    "offsets of partition {partition} follow each other"
                );
                consumed.push(Consumed {
                    partition,
                    offset: record.offset,
                    key: String::from_utf8(record.record.key.unwrap()).unwrap(),
                    value: String::from_utf8(record.record.value.unwrap()).unwrap(),
                });
                offset += 1;
            }
            if offset >= high_watermark {
                break;
            }
        }
    }
    consumed
}

/// Whether `part` appears in `whole` in the same order (not necessarily together).
fn in_order_within(part: &[&str], whole: &[&str]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|p| rest.any(|w| w == p))
}

#[tokio::test]
async fn every_event_the_kafka_sink_produces_is_read_back_in_partition_order_to_the_truth() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    broker.create_topic("payments", PARTITIONS).await;
    let dir = temp("e2e");
    let truth_file = dir.join("truth.json");
    let (code, stderr) = simulate(
        &[
            &to_kafka(&broker.address)[..],
            &["--truth", truth_file.to_str().unwrap()],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(" 0 failed"), "{stderr}");
    let file = dir.join("events.ndjson");
    let (code, stderr) = simulate(&["--sink", "file", "--out", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(&file).unwrap();
    let written: Vec<&str> = written.lines().collect();
    assert!(written.len() > 3_000, "{}", written.len());

    let consumed = consume(&broker.address, "payments").await;
    // Every event, once: the same multiset of bodies as the file run.
    assert_eq!(consumed.len(), written.len());
    let mut a: Vec<&str> = consumed.iter().map(|c| c.value.as_str()).collect();
    let mut b = written.clone();
    a.sort_unstable();
    b.sort_unstable();
    assert!(a == b, "the records are the file run's events");
    // Each key on the partition its hash picks, each partition in the order produced.
    for partition in 0..PARTITIONS {
        let mine: Vec<&Consumed> = consumed
            .iter()
            .filter(|c| c.partition == partition)
            .collect();
        assert!(!mine.is_empty(), "partition {partition} got events");
        for c in &mine {
            let key: u32 = c.key.parse().unwrap();
            assert_eq!(key % PARTITIONS as u32, partition as u32, "{}", c.key);
        }
        let values: Vec<&str> = mine.iter().map(|c| c.value.as_str()).collect();
        assert!(
            in_order_within(&values, &written),
            "partition {partition} holds its events in the order they were produced"
        );
    }

    // Through the handler as the trigger would deliver them, to the run's ground truth.
    let app = TestApp::spawn().await;
    for partition in 0..PARTITIONS {
        let mine: Vec<&Consumed> = consumed
            .iter()
            .filter(|c| c.partition == partition)
            .collect();
        for chunk in mine.chunks(100) {
            let texts: Vec<&str> = chunk.iter().map(|c| c.value.as_str()).collect();
            let sequences: Vec<i64> = chunk.iter().map(|c| c.offset).collect();
            let body = json!({
                "Data": {"events": serde_json::to_string(&texts).unwrap()},
                "Metadata": {
                    "SequenceNumberArray": serde_json::to_string(&sequences).unwrap(),
                    "TriggerPartitionContext": {"PartitionId": partition.to_string()},
                }
            });
            let (status, answer) = app.invoke(body.to_string()).await;
            assert_eq!(status, 200, "{answer}");
        }
    }
    let truth: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&truth_file).unwrap()).unwrap();
    assert!(!truth.is_empty());
    crate::helpers::close_and_check(&app.db, "2026-11-25T12:00:00Z", &truth).await;
    let by_partition: BTreeMap<i32, usize> = consumed.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.partition).or_default() += 1;
        m
    });
    eprintln!("read back {} records: {by_partition:?}", consumed.len());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_missing_topic_and_an_unreachable_broker_are_errors_that_say_so() {
    let Some(broker) = Broker::start().await else {
        return;
    };
    let (code, stderr) = simulate(
        &[
            &to_kafka(&broker.address)[..],
            &["--topic", "no-such-topic"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no topic \"no-such-topic\""), "{stderr}");

    let closed = format!("127.0.0.1:{}", free_port());
    let started = Instant::now();
    let (code, stderr) = simulate(&to_kafka(&closed)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("connecting to {closed}")),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "it gives up");
}
