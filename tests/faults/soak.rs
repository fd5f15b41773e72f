//! The soak: steady traffic at the real handler for `PAYMETRICS_SOAK_SECONDS` (default
//! 180), event times following the wall clock as in production, with the timer closing
//! windows meanwhile. Per interval (a sixth of the run) it
//! records the handler's RSS, the database connections it holds and the batch latency,
//! prints the table, and asserts that after the first interval (warm-up) none of them
//! grows; then the ground truth. Ignored by plain `cargo test`:
//! `cargo test --locked --test faults -- --ignored soak`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};

use crate::helpers::TestDb;
use crate::host::{Host, Outcome};
use crate::process::{HandlerProcess, rss_kib};
use crate::traffic::{Plan, Traffic, assert_truth, close_windows_at};

const POOL_SIZE: i64 = 4;
const PARTITIONS: u32 = 4;
const BATCH_SIZE: usize = 50;
/// Events per second offered to the handler, all partitions together.
const RATE: f64 = 400.0;
const INTERVALS: u32 = 6;

/// One sample of the handler's footprint.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    rss_kib: u64,
    connections: i64,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, Default)]
struct Interval {
    batches: usize,
    rss_mib: f64,
    connections_max: i64,
    p50_ms: f64,
    p99_ms: f64,
    /// p99 of the batches that did not overlap a timer run: ingest's own latency.
    p99_alone_ms: f64,
    max_ms: f64,
    /// The longest timer run that started in the interval.
    timer_ms: f64,
}

fn soak_seconds() -> u64 {
    std::env::var("PAYMETRICS_SOAK_SECONDS")
        .ok()
        .map(|s| {
            s.parse()
                .expect("PAYMETRICS_SOAK_SECONDS is a whole number of seconds")
        })
        .unwrap_or(180)
}

/// Nearest-rank percentile of sorted milliseconds.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak of minutes: cargo test --test faults -- --ignored soak"]
async fn soak_steady_traffic_keeps_memory_connections_and_latency_flat() {
    let seconds = soak_seconds();
    tokio::time::timeout(Duration::from_secs(seconds + 180), async {
        let db = TestDb::migrated().await;
        // Event time runs with the wall clock from a few seconds ahead (while the events
        // are generated), at the rate they are delivered.
        let from = Utc::now() + TimeDelta::seconds(5);
        let to = from + TimeDelta::seconds(seconds as i64 + 60);
        let traffic = Traffic::generate(&Plan {
            name: "soak",
            seed: 606,
            // The scenario's faults add about 2 % events on top of the transactions.
            count: (RATE * seconds as f64 / 1.02) as u64,
            rate: RATE / 1.02,
            partitions: PARTITIONS,
            batch_size: BATCH_SIZE,
            span: Some((from.to_rfc3339(), to.to_rfc3339())),
        })
        .await;
        let pool = POOL_SIZE.to_string();
        let handler = HandlerProcess::start(&db.url(), &[("PAYMETRICS_DB_POOL_SIZE", &pool)]).await;
        let longest = traffic.partitions.iter().map(Vec::len).max().unwrap();
        let pace = Duration::from_secs(seconds) / longest as u32;
        let host = Arc::new(Host::new(vec![handler.base()]).pace(pace));

        let started = Instant::now();
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let sampler = tokio::spawn(sample(handler.pid(), db.url(), samples.clone()));
        let timer_runs: Arc<Mutex<Vec<(Instant, Duration)>>> = Arc::default();
        // Stopped between runs, never in the middle of one: a timer call cut off would
        // keep its windows locked for a while and the final close would skip them.
        let (stop_timer, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let timer = tokio::spawn({
            let (base, runs) = (handler.base(), timer_runs.clone());
            async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(10)) => {}
                        _ = &mut stopped => break,
                    }
                    let run = Instant::now();
                    close_windows_at(&base, Utc::now()).await;
                    runs.lock().unwrap().push((run, run.elapsed()));
                }
            }
        });
        host.deliver(&traffic.partitions).await;
        let elapsed = started.elapsed();
        sampler.abort();
        let _ = stop_timer.send(());
        timer.await.unwrap();

        let samples = samples.lock().unwrap().clone();
        let timer_runs = timer_runs.lock().unwrap().clone();
        let (rows, statuses) = {
            let log = host.log.lock().unwrap();
            let rows = intervals(started, elapsed, &samples, &log.attempts, &timer_runs);
            (rows, log.statuses())
        };
        print_table(&rows, elapsed, traffic.lines.len(), pace);
        println!("soak answers: {statuses:?}");
        assert_flat(&rows, &samples);
        let report = assert_truth(&traffic, &handler.base(), &db.url(), 0).await;
        println!("soak: {report}");
    })
    .await
    .expect("the soak finishes within its time and 3 minutes");
}

/// Every second: the handler's RSS and its connections to the test database.
async fn sample(pid: u32, url: String, samples: Arc<Mutex<Vec<Sample>>>) {
    let client = crate::helpers::connect(&url).await;
    loop {
        let rss_kib = rss_kib(pid).unwrap_or(0);
        let connections: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        samples.lock().unwrap().push(Sample {
            at: Instant::now(),
            rss_kib,
            connections,
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn intervals(
    started: Instant,
    elapsed: Duration,
    samples: &[Sample],
    attempts: &[crate::host::Attempt],
    timer_runs: &[(Instant, Duration)],
) -> Vec<Interval> {
    let width = elapsed / INTERVALS;
    (0..INTERVALS)
        .map(|i| {
            let (from, to) = (started + width * i, started + width * (i + 1));
            let inside: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.at >= from && s.at < to)
                .collect();
            let mut latencies: Vec<f64> = attempts
                .iter()
                .filter(|a| a.ended >= from && a.ended < to)
                .filter(|a| matches!(a.outcome, Outcome::Answered(200..=299, _)))
                .map(|a| (a.ended - a.started).as_secs_f64() * 1000.0)
                .collect();
            latencies.sort_by(f64::total_cmp);
            let overlaps_timer = |a: &crate::host::Attempt| {
                timer_runs
                    .iter()
                    .any(|(at, took)| a.started < *at + *took && a.ended > *at)
            };
            let mut alone: Vec<f64> = attempts
                .iter()
                .filter(|a| a.ended >= from && a.ended < to)
                .filter(|a| matches!(a.outcome, Outcome::Answered(200..=299, _)))
                .filter(|a| !overlaps_timer(a))
                .map(|a| (a.ended - a.started).as_secs_f64() * 1000.0)
                .collect();
            alone.sort_by(f64::total_cmp);
            Interval {
                batches: latencies.len(),
                rss_mib: inside.last().map_or(0.0, |s| s.rss_kib as f64 / 1024.0),
                connections_max: inside.iter().map(|s| s.connections).max().unwrap_or(0),
                p50_ms: percentile(&latencies, 0.50),
                p99_ms: percentile(&latencies, 0.99),
                p99_alone_ms: percentile(&alone, 0.99),
                max_ms: latencies.last().copied().unwrap_or(0.0),
                timer_ms: timer_runs
                    .iter()
                    .filter(|(at, _)| *at >= from && *at < to)
                    .map(|(_, took)| took.as_secs_f64() * 1000.0)
                    .fold(0.0, f64::max),
            }
        })
        .collect()
}

fn print_table(rows: &[Interval], elapsed: Duration, events: usize, pace: Duration) {
    println!(
        "soak: {events} events in {elapsed:.0?}, a batch of {BATCH_SIZE} per partition every {pace:.0?} \
         ({PARTITIONS} partitions, pool {POOL_SIZE})"
    );
    println!(
        "| interval | batches | RSS MiB | connections (max) | p50 ms | p99 ms | p99 ms without timer | max ms | timer ms (max) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (i, r) in rows.iter().enumerate() {
        println!(
            "| {} | {} | {:.1} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
            i + 1,
            r.batches,
            r.rss_mib,
            r.connections_max,
            r.p50_ms,
            r.p99_ms,
            r.p99_alone_ms,
            r.max_ms,
            r.timer_ms
        );
    }
}

/// After the warm-up interval (the first): RSS of the last interval within 1.2 x the
/// second's plus 16 MiB (allocator slack, not a leak: a leak of even 100 bytes an event
/// grows past it in a long run); connections never above the pool size; p99 of the last
/// interval's batches that overlapped no timer run at most twice the median of the
/// intervals between, plus 250 ms. Batches that coincide with a timer run (it closes
/// windows and clusters merchants for most of a second on a 2-core machine) spread one
/// interval's overall p99 from another's (110-590 ms measured within one run), so they
/// are left out of the comparison; the table shows both.
fn assert_flat(rows: &[Interval], samples: &[Sample]) {
    let (second, last) = (rows[1], rows[rows.len() - 1]);
    assert!(
        last.rss_mib <= second.rss_mib * 1.2 + 16.0,
        "RSS grew from {:.1} MiB to {:.1} MiB",
        second.rss_mib,
        last.rss_mib
    );
    // Ingest's own latency: the batches that overlapped a timer run wait on the windows it
    // closes (their spread is the timer's, shown in its column), and with a few of them
    // in an interval of 240 they alone decide its p99.
    let mut between: Vec<f64> = rows[1..rows.len() - 1]
        .iter()
        .map(|r| r.p99_alone_ms)
        .collect();
    between.sort_by(f64::total_cmp);
    let baseline = percentile(&between, 0.5);
    assert!(
        last.p99_alone_ms <= baseline * 2.0 + 250.0,
        "p99 without timer runs grew from {baseline:.1} ms (median) to {:.1} ms",
        last.p99_alone_ms
    );
    let most = samples.iter().map(|s| s.connections).max().unwrap_or(0);
    assert!(
        (1..=POOL_SIZE).contains(&most),
        "{most} connections with a pool of {POOL_SIZE}"
    );
    assert!(
        rows.iter().all(|r| r.batches > 0),
        "an interval without traffic"
    );
}
