//! Ingest throughput, measured outside the test suite.
//!
//! `cargo bench --bench ingest` prints, for host-shaped batches of 256 events (the
//! `maxEventBatchSize` in host.json):
//! - parse + validate: envelope decoding (string-wrapped array of base64 bodies) and
//!   normalization, CPU only, one core;
//! - store: the whole batch write into PostgreSQL (claim ids, insert, mark windows,
//!   commit) against a fresh database on `PAYMETRICS_TEST_PG` (default 127.0.0.1:5432),
//!   skipped when no server answers;
//! - close windows: one timer run closing every window of the stored transactions.
//!
//! Figures are recorded in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use paymetrics::ingest::{self, IngestPolicy, Invocation, PreparedBatch};
use paymetrics::store::{self, BatchContext, PoolSettings};
use serde_json::json;

const BATCH: usize = 256;

fn body(batch: usize, first_id: usize) -> Vec<u8> {
    let events: Vec<String> = (0..batch)
        .map(|i| {
            let n = first_id + i;
            let currency = ["USD", "EUR", "JPY", "GBP"][n % 4];
            let payment_type = ["card", "ach", "wallet", "wire", "bnpl"][n % 5];
            let status = ["approved", "approved", "approved", "declined", "refunded"][n % 5];
            let amount = if currency == "JPY" {
                format!("{}", 500 + n % 50_000)
            } else {
                format!("{}.{:02}", 5 + n % 500, n % 100)
            };
            let event = json!({
                "transaction_id": format!("bench-{n:010}"),
                "occurred_at": format!("2026-11-25T10:{:02}:{:02}.{:03}Z", (n / 60) % 60, n % 60, n % 1000),
                "amount": amount,
                "currency": currency,
                "payment_type": payment_type,
                "status": status,
                "merchant_id": format!("m-{}", n % 997),
                "merchant_category": "grocery",
                "customer_id": format!("c-{}", n % 50_000),
                "country": "US",
                "channel": "online",
                "is_fraud": false
            });
            base64::engine::general_purpose::STANDARD.encode(event.to_string())
        })
        .collect();
    let sequence: Vec<usize> = (first_id..first_id + batch).collect();
    serde_json::to_vec(&json!({
        "Data": {"events": serde_json::to_string(&events).unwrap()},
        "Metadata": {
            "SequenceNumberArray": serde_json::to_string(&sequence).unwrap(),
            "TriggerPartitionContext": {"PartitionId": "0"},
        }
    }))
    .unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-26T00:00:00Z".parse().unwrap()
}

fn report(name: &str, events: usize, elapsed: Duration) {
    let per_second = events as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<18} {events:>8} events in {:>8.1} ms  {:>12.0} events/s  {:>8.2} µs/event",
        elapsed.as_secs_f64() * 1e3,
        per_second,
        elapsed.as_secs_f64() * 1e6 / events as f64
    );
}

fn bench_parse() {
    let bodies: Vec<Vec<u8>> = (0..200).map(|b| body(BATCH, b * BATCH)).collect();
    let policy = IngestPolicy::default();
    // Warm-up, then the best of five passes.
    let mut best = Duration::MAX;
    for _ in 0..6 {
        let start = Instant::now();
        for bytes in &bodies {
            let invocation = Invocation::parse(black_box(bytes)).unwrap();
            let batch = ingest::prepare(invocation.events, now(), &policy);
            assert_eq!(batch.accepted.len(), BATCH);
            black_box(batch);
        }
        best = best.min(start.elapsed());
    }
    report("parse + validate", bodies.len() * BATCH, best);
}

/// `batches` host batches, validated and ready to store.
fn prepare_batches(batches: usize) -> Vec<PreparedBatch> {
    let policy = IngestPolicy::default();
    (0..batches)
        .map(|b| {
            let invocation = Invocation::parse(&body(BATCH, b * BATCH)).unwrap();
            ingest::prepare(invocation.events, now(), &policy)
        })
        .collect()
}

async fn bench_store() {
    let address = std::env::var("PAYMETRICS_TEST_PG").unwrap_or_else(|_| "127.0.0.1:5432".into());
    let admin = format!("postgres://postgres@{address}/postgres");
    let Ok((client, connection)) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
    else {
        println!("store: skipped, no PostgreSQL at {address}");
        return;
    };
    tokio::spawn(connection);
    let name = format!("pm_bench_{}", std::process::id());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let pool = store::pool(
        &format!("postgres://postgres@{address}/{name}"),
        PoolSettings {
            max_size: 4,
            timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(300),
            lock_timeout: Duration::from_secs(30),
        },
    )
    .unwrap();
    let mut conn = pool.get().await.unwrap();
    store::migrate(&mut conn).await.unwrap();
    let batches = 100;
    let prepared = prepare_batches(batches);
    let replays = prepare_batches(batches);
    let context = BatchContext {
        invocation_id: None,
        now: now(),
        window_widths: vec![300],
    };
    let start = Instant::now();
    for batch in prepared {
        store::store_batch(&mut conn, batch, &context)
            .await
            .unwrap();
    }
    report("store (new)", batches * BATCH, start.elapsed());
    let start = Instant::now();
    for batch in replays {
        let stored = store::store_batch(&mut conn, batch, &context)
            .await
            .unwrap();
        assert_eq!(stored.duplicates, BATCH);
    }
    report("store (replay)", batches * BATCH, start.elapsed());
    let start = Instant::now();
    let closed = store::close_due_windows(
        &mut conn,
        "2026-11-26T00:00:00Z".parse().unwrap(),
        &paymetrics::engine::WindowPolicy::default(),
        &[],
    )
    .await
    .unwrap();
    let elapsed = start.elapsed();
    report("close windows", batches * BATCH, elapsed);
    println!(
        "{:<18} {:>8} windows, {} payment_metrics_5m rows",
        "", closed.closed, closed.rows
    );
    drop(conn);
    drop(pool);
    client
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}

fn main() {
    println!("batches of {BATCH} events");
    bench_parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench_store());
}
