//! `handler replay` against `COPY` of the same rows, side by side.
//!
//! `cargo bench --bench replay` generates `PAYMETRICS_BENCH_EVENTS` transactions (default
//! 200,000) with the simulator (default scenario, faults off), keys them into 4
//! partitions and writes them as Event Hubs Capture would: Avro files (deflate) in
//! Capture's schema, one per partition and 5-minute window, in Capture's folder layout.
//! Then, for `PAYMETRICS_BENCH_ROUNDS` (default 3) interleaved rounds, each on a fresh
//! database:
//!
//! - **replay**: the library's [`archive::replay`] (what `handler replay --dir` runs)
//!   over the whole archive, on one connection: read and decompress the files, judge each
//!   event, store 1,000-event batches with the batch writer;
//! - **replay from Blob Storage**: the same from the archive uploaded to Azurite (what
//!   `handler replay --container` runs: list, download each file, then as above), when
//!   `tests/azurite` is installed;
//! - **copy**: the same stored rows by binary `COPY` into a table `LIKE
//!   normalized_transactions INCLUDING ALL`, one `COPY` per 1,000 rows, on one
//!   connection.
//!
//! It prints the best round of each and the ratio (copy time / replay time). Skipped when
//! no PostgreSQL answers at `PAYMETRICS_TEST_PG`. Figures are in docs/BENCHMARKS.md.

#[path = "../tests/support/azurite.rs"]
mod azurite;
#[path = "../tests/support/capture_archive.rs"]
mod capture_archive;
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use apache_avro::Writer;
use capture_archive::{capture_name, capture_record, capture_schema, capture_writer};
use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::archive::{self, ReplayPlan, Source};
use paymetrics::ingest::{self, Accepted, IngestPolicy, RawEvent};
use paymetrics::simulator::scenario::{Faults, TimeMode};
use paymetrics::simulator::{Arrivals, DEFAULT_SCENARIO, Generator, Scenario};
use paymetrics::store;
use support::{Server, env_usize, ms};

const PARTITIONS: u32 = 4;
const BATCH: usize = 1000;

/// The archive on disk and the rows its replay stores.
struct Workload {
    events: usize,
    rows: Vec<Accepted>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

fn workload(dir: &Path, count: usize) -> Workload {
    let mut s = Scenario::from_yaml(DEFAULT_SCENARIO, "default").unwrap();
    s.faults = Faults::none();
    s.rate.bursts = None;
    s.rate.events_per_second = 50.0;
    let from: DateTime<Utc> = "2026-11-10T00:00:00Z".parse().unwrap();
    let to = from + TimeDelta::days(10);
    s.time = TimeMode::Backfill { from, to };
    let mut generator = Generator::new(&s);
    let mut arrivals = Arrivals::new(&s, from);
    let schema = capture_schema();
    let mut files: BTreeMap<String, Writer<'_, Vec<u8>>> = BTreeMap::new();
    let mut sequences = [0i64; PARTITIONS as usize];
    let mut pending = Vec::new();
    let mut rows = Vec::new();
    let mut events = 0;
    let mut last = from;
    let policy = IngestPolicy::default();
    while events < count {
        let at = arrivals.next_time();
        last = at;
        generator.arrival(at, &mut pending);
        for emission in pending.drain(..) {
            let partition = emission.partition_key % PARTITIONS;
            let sequence = sequences[partition as usize];
            sequences[partition as usize] += 1;
            files
                .entry(capture_name("ns/hub", partition, at))
                .or_insert_with(|| capture_writer(&schema))
                .append_value(capture_record(sequence, at, emission.text.as_bytes()))
                .unwrap();
            let event = RawEvent::from_body(emission.text.as_bytes(), Default::default());
            rows.extend(ingest::prepare(vec![event], at, &policy).accepted);
            events += 1;
        }
    }
    for (name, writer) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, writer.into_inner().unwrap()).unwrap();
    }
    Workload {
        events,
        rows,
        from,
        to: last + TimeDelta::seconds(1),
    }
}

async fn run_replay(
    server: &Server,
    source: &Source,
    work: &Workload,
    round: usize,
    slot: usize,
) -> Duration {
    let database = server
        .fresh_database("pm_bench_replay", round * 3 + slot, 1)
        .await;
    let mut conn = database.pool.get().await.unwrap();
    let plan = ReplayPlan {
        from: work.from,
        to: work.to,
        partitions: Vec::new(),
        dry_run: false,
        batch_size: BATCH,
    };
    let context = store::BatchContext {
        invocation_id: Some("bench".into()),
        now: Utc::now(),
        window_widths: vec![300],
    };
    let started = Instant::now();
    let report = archive::replay(
        &mut conn,
        source,
        &plan,
        &IngestPolicy::default(),
        &context,
        |_| {},
    )
    .await
    .unwrap();
    let wall = started.elapsed();
    assert_eq!(report.events as usize, work.events, "events replayed");
    assert_eq!(report.accepted as usize, work.rows.len(), "rows stored");
    drop(conn);
    server.drop_database(database).await;
    wall
}

async fn run_copy(server: &Server, work: &Workload, round: usize) -> Duration {
    let database = server
        .fresh_database("pm_bench_replay", round * 3 + 2, 1)
        .await;
    let conn = database.pool.get().await.unwrap();
    conn.batch_execute("CREATE TABLE copy_target (LIKE normalized_transactions INCLUDING ALL)")
        .await
        .unwrap();
    let now = Utc::now();
    let started = Instant::now();
    for rows in work.rows.chunks(BATCH) {
        support::copy_rows(&conn, rows, now).await;
    }
    let wall = started.elapsed();
    let stored: i64 = conn
        .query_one("SELECT count(*) FROM copy_target", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, work.rows.len(), "rows copied");
    drop(conn);
    server.drop_database(database).await;
    wall
}

async fn run() {
    let Some(server) = Server::connect("replay").await else {
        return;
    };
    let count = env_usize("PAYMETRICS_BENCH_EVENTS", 200_000);
    let rounds = env_usize("PAYMETRICS_BENCH_ROUNDS", 3);
    let dir = std::env::temp_dir().join(format!("pm-bench-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let work = workload(&dir, count);
    println!(
        "replay bench: {} events in an archive of {:.1} MB, written in {:.1} s; {}; {}",
        work.events,
        dir_size(&dir) as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        support::machine(),
        server.describe().await
    );
    let local = Source::Dir(dir.clone());
    let (_azurite, blob) = upload(&dir).await;
    let (mut replay, mut from_blob, mut copy) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for round in 0..rounds {
        let r = run_replay(&server, &local, &work, round, 0).await;
        let b = match &blob {
            Some(source) => run_replay(&server, source, &work, round, 1).await,
            None => Duration::MAX,
        };
        let c = run_copy(&server, &work, round).await;
        println!(
            "round {round}: replay {:.0} ms, from Blob Storage {}, copy {:.0} ms",
            ms(r),
            if blob.is_some() {
                format!("{:.0} ms", ms(b))
            } else {
                "skipped".into()
            },
            ms(c)
        );
        replay = replay.min(r);
        from_blob = from_blob.min(b);
        copy = copy.min(c);
    }
    let rate = |d: Duration| work.events as f64 / d.as_secs_f64();
    println!(
        "best: replay {:.0} events/s, copy {:.0} rows/s of the same rows; ratio {:.2} (copy time / replay time)",
        rate(replay),
        work.rows.len() as f64 / copy.as_secs_f64(),
        copy.as_secs_f64() / replay.as_secs_f64()
    );
    if blob.is_some() {
        println!(
            "best from Blob Storage (Azurite on this machine): {:.0} events/s; ratio {:.2} (copy time / replay time)",
            rate(from_blob),
            copy.as_secs_f64() / from_blob.as_secs_f64()
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The archive uploaded to a container of an Azurite started here, and that container as
/// a replay source (with a SAS); `None` when `tests/azurite` is not installed.
async fn upload(dir: &Path) -> (Option<azurite::Azurite>, Option<Source>) {
    let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/azurite/node_modules/azurite")
        .exists();
    if !installed {
        println!("replay from Blob Storage skipped: tests/azurite is not installed");
        return (None, None);
    }
    let azurite = azurite::Azurite::start(None).await.unwrap();
    let http = reqwest::Client::new();
    azurite.create_container(&http, "archive").await;
    let mut names = Vec::new();
    files_under(dir, "", &mut names);
    for name in &names {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        azurite.put_blob(&http, "archive", name, &bytes).await;
    }
    let url = format!("{}?{}", azurite.container_url("archive"), azurite.sas("rl"));
    let container =
        archive::Container::new(&url, || Err("a SAS needs no identity".into())).unwrap();
    (Some(azurite), Some(Source::Container(container)))
}

fn files_under(dir: &Path, prefix: &str, names: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            files_under(&entry.path(), &format!("{name}/"), names);
        } else {
            names.push(name);
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dir_size(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
