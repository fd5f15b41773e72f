//! Ingest through the handler over HTTP against `COPY` of the same rows, side by side.
//!
//! `cargo bench --bench ingest` generates a stream with the simulator (default scenario,
//! its faults off: the **clean** case; then 10 % duplicates and 1 % malformed events:
//! the **dirty** case), splits it by partition key into `PAYMETRICS_BENCH_PARTITIONS`
//! partitions (default 4; a list such as `1,2,4,8` measures each) and each partition
//! into host-shaped invocations of `PAYMETRICS_BENCH_BATCH` events (default 1,000), then
//! for `PAYMETRICS_BENCH_ROUNDS` (default 3) interleaved rounds, each on a fresh database:
//!
//! - **handler**: the real `handler` binary (release build) serving on 127.0.0.1; one
//!   client task per partition posts that partition's invocations one after the other,
//!   as the Functions host does, to `POST /EventHubTrigger`;
//! - **copy**: the rows the handler stores (first occurrence of each valid transaction),
//!   written by `COPY ... FROM STDIN (FORMAT binary)` into a table created `LIKE
//!   normalized_transactions INCLUDING ALL`, one connection per partition and one `COPY`
//!   (one transaction) per batch, as the handler commits one per invocation.
//!
//! It prints the best round of each, the ratio (copy time / handler time for the same
//! stored rows), the CPU the handler and PostgreSQL used per event and the handler's peak
//! RSS. `PAYMETRICS_BENCH_EVENTS` sets the stream's size (default 200,000 transactions),
//! `PAYMETRICS_BENCH_HANDLER` runs another handler binary (an older build, for a
//! before/after pair), `PAYMETRICS_BENCH_CSV=FILE` appends one line per best result, `PAYMETRICS_TEST_PG`
//! the server (skipped when none answers). Figures are in docs/BENCHMARKS.md.

#[path = "support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::ingest::{self, Accepted, IngestPolicy, Invocation};
use paymetrics::simulator::scenario::PartitionKey;
use paymetrics::simulator::sinks::HandlerSink;
use paymetrics::simulator::{Arrivals, DEFAULT_SCENARIO, Emission, Generator, Scenario};
use support::{Server, env_list, env_usize, ms};

/// One case's stream, cut into invocations per partition.
struct Workload {
    case: &'static str,
    /// Events the handler receives.
    events: usize,
    /// Host-shaped invocation bodies, per partition, in delivery order.
    bodies: Vec<Vec<String>>,
    /// The rows the handler stores, per partition and batch, for COPY.
    rows: Vec<Vec<Vec<Accepted>>>,
    /// Rows stored in all.
    stored: usize,
}

/// The best of the rounds of one kind of run.
#[derive(Clone, Copy)]
struct Run {
    wall: Duration,
    /// CPU of the handler process (zero for COPY).
    handler_cpu: Duration,
    /// CPU of every postgres process.
    postgres_cpu: Duration,
    /// CPU of the whole machine, for the load the other processes added.
    machine_cpu: Duration,
    peak_rss_kb: u64,
}

fn scenario(case: &str, events_per_second: f64) -> Scenario {
    let mut scenario = Scenario::from_yaml(DEFAULT_SCENARIO, "default").unwrap();
    scenario.rate.events_per_second = events_per_second;
    scenario.rate.bursts = None;
    // Keyed by customer, as many producers do: 10,000 keys spread the partitions evenly.
    scenario.delivery.partition_key = PartitionKey::Customer;
    scenario.faults.duplicates = 0.0;
    scenario.faults.late.rate = 0.0;
    scenario.faults.out_of_order.rate = 0.0;
    scenario.faults.malformed = 0.0;
    scenario.faults.legacy_format = 0.0;
    if case == "dirty" {
        scenario.faults.duplicates = 0.10;
        scenario.faults.malformed = 0.01;
    }
    scenario
}

/// The partition of a key, as a hash would place it.
fn spread(key: u32, partitions: usize) -> usize {
    (key.wrapping_mul(2_654_435_761) >> 8) as usize % partitions
}

/// The stream of `transactions` transactions, event times in the ten minutes before
/// `now`, in host-shaped invocations per partition.
fn workload(
    case: &'static str,
    transactions: usize,
    partitions: usize,
    batch: usize,
    now: DateTime<Utc>,
) -> Workload {
    let span = TimeDelta::minutes(10);
    let scenario = scenario(case, transactions as f64 / span.num_seconds() as f64);
    let mut generator = Generator::new(&scenario);
    let mut arrivals = Arrivals::new(&scenario, now - span - TimeDelta::seconds(30));
    let mut per_partition: Vec<Vec<Emission>> = (0..partitions).map(|_| Vec::new()).collect();
    let mut out = Vec::new();
    let mut events = 0;
    for _ in 0..transactions {
        generator.arrival(arrivals.next_time(), &mut out);
        for emission in out.drain(..) {
            let partition = spread(emission.partition_key, partitions);
            per_partition[partition].push(emission);
            events += 1;
        }
    }
    generator.flush(&mut out);
    for emission in out.drain(..) {
        per_partition[spread(emission.partition_key, partitions)].push(emission);
        events += 1;
    }

    let mut sink = HandlerSink::new("http://127.0.0.1:1", partitions as u32, 1);
    let policy = IngestPolicy::default();
    let mut seen = HashSet::new();
    let mut bodies = Vec::new();
    let mut rows = Vec::new();
    let mut stored = 0;
    for (partition, emissions) in per_partition.iter().enumerate() {
        let mut partition_bodies = Vec::new();
        let mut partition_rows = Vec::new();
        for chunk in emissions.chunks(batch) {
            let refs: Vec<&Emission> = chunk.iter().collect();
            let body = sink.invocation(partition as u32, &refs);
            // What the handler will store: the first valid occurrence of each id.
            let invocation = Invocation::parse(body.as_bytes()).unwrap();
            let prepared = ingest::prepare(invocation.events, now, &policy);
            let fresh: Vec<Accepted> = prepared
                .accepted
                .into_iter()
                .filter(|a| seen.insert(a.transaction.id.as_str().to_owned()))
                .collect();
            stored += fresh.len();
            partition_rows.push(fresh);
            partition_bodies.push(body);
        }
        bodies.push(partition_bodies);
        rows.push(partition_rows);
    }
    Workload {
        case,
        events,
        bodies,
        rows,
        stored,
    }
}

/// Posts every partition's invocations through a real handler process; returns the run
/// once every invocation has answered 200.
async fn run_handler(server: &Server, work: &Workload, round: usize) -> Run {
    let database = server.fresh_database("pm_bench_ingest", round * 2, 1).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let handler = std::env::var_os("PAYMETRICS_BENCH_HANDLER")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_handler").into());
    let mut child = tokio::process::Command::new(handler)
        .env_clear()
        .env("DATABASE_URL", &database.url)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env(
            "PAYMETRICS_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/engine.yaml"),
        )
        .env(
            "PAYMETRICS_DB_POOL_SIZE",
            work.bodies.len().max(2).to_string(),
        )
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if http.get(format!("{base}/")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // One invocation first, so the pool's connections and the schema check are warm.
    warm_up(&http, &base).await;

    let (handler_before, postgres_before, machine_before) = (
        support::process_cpu(pid),
        support::postgres_cpu(),
        support::machine_busy(),
    );
    let started = Instant::now();
    let tasks: Vec<_> = work
        .bodies
        .iter()
        .map(|bodies| {
            let http = http.clone();
            let url = format!("{base}/EventHubTrigger");
            let bodies = bodies.clone();
            tokio::spawn(async move {
                for body in bodies {
                    let response = http
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let text = response.text().await.unwrap();
                    assert!(status.is_success(), "{status}: {text}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let wall = started.elapsed();
    let run = Run {
        wall,
        handler_cpu: support::process_cpu(pid).saturating_sub(handler_before),
        postgres_cpu: support::postgres_cpu().saturating_sub(postgres_before),
        machine_cpu: support::machine_busy().saturating_sub(machine_before),
        peak_rss_kb: support::peak_rss_kb(pid).unwrap_or(0),
    };
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;

    let conn = database.pool.get().await.unwrap();
    let stored: i64 = conn
        .query_one(
            "SELECT count(*) FROM normalized_transactions WHERE transaction_id <> 'bench-warm-up'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, work.stored, "{}: rows stored", work.case);
    drop(conn);
    server.drop_database(database).await;
    run
}

async fn warm_up(http: &reqwest::Client, base: &str) {
    let event = serde_json::json!({
        "transaction_id": "bench-warm-up", "occurred_at": "2026-01-01T00:00:00Z",
        "amount": "1.00", "currency": "USD", "payment_type": "card", "status": "approved",
        "merchant_id": "m-warm-up"
    })
    .to_string();
    let body = serde_json::json!({
        "Data": {"events": serde_json::to_string(&[event]).unwrap()},
        "Metadata": {"SequenceNumberArray": "[0]", "TriggerPartitionContext": {"PartitionId": "warm-up"}}
    });
    let response = http
        .post(format!("{base}/EventHubTrigger"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// COPYs the stored rows, one connection per partition and one COPY per batch.
async fn run_copy(server: &Server, work: &Workload, round: usize, now: DateTime<Utc>) -> Run {
    let partitions = work.rows.len();
    let database = server
        .fresh_database("pm_bench_ingest", round * 2 + 1, partitions)
        .await;
    let conn = database.pool.get().await.unwrap();
    conn.batch_execute("CREATE TABLE copy_target (LIKE normalized_transactions INCLUDING ALL)")
        .await
        .unwrap();
    drop(conn);
    let mut connections = Vec::new();
    for _ in 0..partitions {
        let conn = database.pool.get().await.unwrap();
        conn.simple_query("SELECT 1").await.unwrap();
        connections.push(conn);
    }

    let (postgres_before, machine_before) = (support::postgres_cpu(), support::machine_busy());
    let started = Instant::now();
    let copies = connections
        .into_iter()
        .zip(&work.rows)
        .map(|(conn, batches)| async move {
            for rows in batches {
                support::copy_rows(&conn, rows, now).await;
            }
            conn
        });
    let connections = futures_util::future::join_all(copies).await;
    let wall = started.elapsed();
    let run = Run {
        wall,
        handler_cpu: Duration::ZERO,
        postgres_cpu: support::postgres_cpu().saturating_sub(postgres_before),
        machine_cpu: support::machine_busy().saturating_sub(machine_before),
        peak_rss_kb: 0,
    };
    let stored: i64 = connections[0]
        .query_one("SELECT count(*) FROM copy_target", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, work.stored, "{}: rows copied", work.case);
    drop(connections);
    server.drop_database(database).await;
    run
}

/// Parse + validate alone, CPU only on one core: the handler's own work per event.
fn bench_parse(work: &Workload, now: DateTime<Utc>) -> Duration {
    let policy = IngestPolicy::default();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        for body in work.bodies.iter().flatten() {
            let invocation = Invocation::parse(black_box(body.as_bytes())).unwrap();
            black_box(ingest::prepare(invocation.events, now, &policy));
        }
        best = best.min(started.elapsed());
    }
    best
}

fn best(runs: &[Run]) -> Run {
    *runs.iter().min_by_key(|r| r.wall).unwrap()
}

fn per_event(d: Duration, events: usize) -> f64 {
    d.as_secs_f64() * 1e6 / events as f64
}

fn print_run(kind: &str, run: &Run, events: usize, rows: usize) {
    println!(
        "  {kind:<8} {:>9.1} ms {:>9.0} events/s {:>9.0} rows/s  CPU µs/event: handler {:>5.1}  postgres {:>5.1}  machine {:>5.1}{}",
        ms(run.wall),
        events as f64 / run.wall.as_secs_f64(),
        rows as f64 / run.wall.as_secs_f64(),
        per_event(run.handler_cpu, events),
        per_event(run.postgres_cpu, events),
        per_event(run.machine_cpu, events),
        if run.peak_rss_kb > 0 {
            format!("  peak RSS {:.1} MB", run.peak_rss_kb as f64 / 1024.0)
        } else {
            String::new()
        }
    );
}

async fn run() {
    let Some(server) = Server::connect("ingest").await else {
        return;
    };
    let transactions = env_usize("PAYMETRICS_BENCH_EVENTS", 200_000);
    let batch = env_usize("PAYMETRICS_BENCH_BATCH", 1_000);
    let rounds = env_usize("PAYMETRICS_BENCH_ROUNDS", 3);
    let partition_counts = env_list("PAYMETRICS_BENCH_PARTITIONS", &[4]);
    let cases: Vec<&'static str> = match std::env::var("PAYMETRICS_BENCH_CASES").as_deref() {
        Ok("clean") => vec!["clean"],
        Ok("dirty") => vec!["dirty"],
        _ => vec!["clean", "dirty"],
    };
    let mut csv = support::csv_appender();
    println!("machine: {}", support::machine());
    println!("{}", server.describe().await);
    println!(
        "{transactions} transactions, batches of {batch}, best of {rounds} interleaved rounds"
    );
    let now = Utc::now();
    for &partitions in &partition_counts {
        let works: Vec<Workload> = cases
            .iter()
            .map(|case| workload(case, transactions, partitions, batch, now))
            .collect();
        let mut results: HashMap<(&str, &str), Vec<Run>> = HashMap::new();
        for round in 0..rounds {
            for work in &works {
                let handler = run_handler(&server, work, round).await;
                let copy = run_copy(&server, work, round, now).await;
                results
                    .entry((work.case, "handler"))
                    .or_default()
                    .push(handler);
                results.entry((work.case, "copy")).or_default().push(copy);
            }
        }
        for work in &works {
            let handler = best(&results[&(work.case, "handler")]);
            let copy = best(&results[&(work.case, "copy")]);
            let parse = bench_parse(work, now);
            println!(
                "{partitions} partitions, {} case: {} events, {} rows stored",
                work.case, work.events, work.stored
            );
            print_run("handler", &handler, work.events, work.stored);
            print_run("copy", &copy, work.events, work.stored);
            let ratio = copy.wall.as_secs_f64() / handler.wall.as_secs_f64();
            println!(
                "  ratio (copy time / handler time, same rows): {ratio:.2}; parse + validate alone {:.2} µs/event",
                per_event(parse, work.events)
            );
            if let Some(file) = csv.as_mut() {
                writeln!(
                    file,
                    "ingest,{},{partitions},{},{},{:.3},{:.3},{:.2},{:.2},{},{ratio:.3}",
                    work.case,
                    work.events,
                    work.stored,
                    ms(handler.wall),
                    ms(copy.wall),
                    per_event(handler.handler_cpu, work.events),
                    per_event(handler.postgres_cpu, work.events),
                    handler.peak_rss_kb
                )
                .unwrap();
            }
        }
    }
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
