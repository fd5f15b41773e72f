//! The simulator's Kafka sink against a local broker (tansu, in memory), side by side in
//! one run with its two limits: the generator alone into the null sink, and the Kafka
//! client producing the same events, already serialized, in the same requests (each
//! delivery batch split by partition, the partitions at once) with nothing else to do (`cargo bench --bench kafka_sink`; needs `tansu`, see
//! tests/support/tansu.rs). Best of 3 each. Recorded in docs/BENCHMARKS.md.

#[path = "../tests/support/tansu.rs"]
mod tansu;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Utc;
use paymetrics::simulator::kafka::{KafkaSecurity, KafkaSink, KafkaTarget};
use paymetrics::simulator::run::{RunOptions, run};
use paymetrics::simulator::scenario::TimeMode;
use paymetrics::simulator::sinks::Sink;
use paymetrics::simulator::{Arrivals, DEFAULT_SCENARIO, Generator, Scenario};
use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;

const PARTITIONS: i32 = 4;
/// Transactions per round (`PAYMETRICS_BENCH_EVENTS`, default 20,000).
fn transactions() -> u64 {
    std::env::var("PAYMETRICS_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn scenario() -> Scenario {
    let mut s = Scenario::from_yaml(DEFAULT_SCENARIO, "default").unwrap();
    s.rate.events_per_second = 1_000.0;
    s.time = TimeMode::Backfill {
        from: "2026-11-25T00:00:00Z".parse().unwrap(),
        to: "2026-11-26T00:00:00Z".parse().unwrap(),
    };
    s
}

/// The events of [`transactions()`] transactions, with their partition keys.
fn events() -> Vec<(u32, String)> {
    let s = scenario();
    let mut generator = Generator::new(&s);
    let mut arrivals = Arrivals::new(&s, "2026-11-25T00:00:00Z".parse().unwrap());
    let mut out = Vec::new();
    let mut events = Vec::new();
    for _ in 0..transactions() {
        generator.arrival(arrivals.next_time(), &mut out);
        events.extend(out.drain(..).map(|e| (e.partition_key, e.text)));
    }
    generator.flush(&mut out);
    events.extend(out.drain(..).map(|e| (e.partition_key, e.text)));
    events
}

async fn simulate(sink: Sink) -> (u64, f64) {
    let options = RunOptions {
        count: Some(transactions()),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let summary = run(scenario(), sink, options).await.unwrap();
    assert_eq!(summary.stats.failed, 0, "{}", summary.report());
    (summary.stats.sent, started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let Some(broker) = tansu::Broker::start().await else {
        return;
    };
    let batch = scenario().delivery.batch_size;
    let target = |topic: &str| KafkaTarget {
        bootstrap: vec![broker.address.clone()],
        topic: topic.to_owned(),
        security: KafkaSecurity::Plaintext,
        sasl: None,
    };
    let events = events();
    let bytes: usize = events.iter().map(|(_, t)| t.len()).sum();
    let (mut null, mut sink, mut raw) = (f64::MAX, f64::MAX, f64::MAX);
    let mut sent = 0;
    for round in 0..3 {
        let (_, null_round) = simulate(Sink::Null).await;
        null = null.min(null_round);

        let topic = format!("sink-{round}");
        broker.create_topic(&topic, PARTITIONS).await;
        let kafka = KafkaSink::open(&target(&topic), batch, 8).await.unwrap();
        let (n, sink_round) = simulate(Sink::Kafka(kafka)).await;
        sent = n;
        sink = sink.min(sink_round);

        // The client alone: the same events, grouped by partition, in the same batches.
        let topic = format!("raw-{round}");
        broker.create_topic(&topic, PARTITIONS).await;
        let client = ClientBuilder::new(vec![broker.address.clone()])
            .build()
            .await
            .unwrap();
        let mut partitions = Vec::new();
        for p in 0..PARTITIONS {
            partitions.push(
                client
                    .partition_client(topic.clone(), p, UnknownTopicHandling::Error)
                    .await
                    .unwrap(),
            );
        }
        // As the sink does: each delivery batch of `batch` events split by partition, one
        // produce request per partition, the partitions at once.
        let started = Instant::now();
        for delivery in events.chunks(batch) {
            let mut by_partition: BTreeMap<usize, Vec<&(u32, String)>> = BTreeMap::new();
            for event in delivery {
                by_partition
                    .entry((event.0 % PARTITIONS as u32) as usize)
                    .or_default()
                    .push(event);
            }
            let produced = by_partition.into_iter().map(|(p, list)| {
                let records = list
                    .iter()
                    .map(|(key, text)| Record {
                        key: Some(key.to_string().into_bytes()),
                        value: Some(text.as_bytes().to_vec()),
                        headers: BTreeMap::new(),
                        timestamp: Utc::now(),
                    })
                    .collect();
                partitions[p].produce(records, Compression::NoCompression)
            });
            for result in futures_util::future::join_all(produced).await {
                result.unwrap();
            }
        }
        let this = started.elapsed().as_secs_f64();
        println!(
            "round {round}: null sink {null_round:.2} s, kafka sink {sink_round:.2} s, client alone {this:.2} s"
        );
        raw = raw.min(this);
    }
    let rate = |s: f64| sent as f64 / s;
    println!(
        "{} transactions ({} MB of events), batches of {batch}, {PARTITIONS} partitions, best of 3",
        transactions(),
        bytes / 1_000_000
    );
    println!(
        "generator into the null sink   {:>8.0} ms  {:>9.0} events/s",
        null * 1e3,
        rate(null)
    );
    println!(
        "simulator --sink kafka          {:>8.0} ms  {:>9.0} events/s  ({sent} sent)",
        sink * 1e3,
        rate(sink)
    );
    let raw_rate = events.len() as f64 / raw;
    println!(
        "rskafka produce alone           {:>8.0} ms  {:>9.0} events/s  ({} produced)",
        raw * 1e3,
        raw_rate,
        events.len()
    );
    println!(
        "the sink runs at {:.2} of the client alone",
        rate(sink) / raw_rate
    );
}
