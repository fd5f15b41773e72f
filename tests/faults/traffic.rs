//! Reproducible traffic from the real `simulator` binary (file sink, manifest, ground
//! truth), cut into host-shaped batches per partition, and the end of every test: close
//! the windows through the handler's timer and compare with `simulator check`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use paymetrics::simulator::sinks::HandlerSink;
use paymetrics::simulator::{Emission, Expected, Fault};
use serde_json::Value;

use crate::helpers::fixture;

/// Event-time range of a fault test's backfill: long past, so every window is due at
/// once.
const PAST: (&str, &str) = ("2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z");

/// One host invocation's body.
#[derive(Debug, Clone)]
pub struct Batch {
    pub body: String,
}

/// A generated run: its events per partition as batches, and what the pipeline should
/// make of them.
pub struct Traffic {
    pub dir: PathBuf,
    pub truth: PathBuf,
    /// The event texts, in delivery order.
    pub lines: Vec<String>,
    /// One manifest entry per line (`transaction_id`, `fault`, `expected`).
    pub manifest: Vec<Value>,
    /// The batches of each partition, in order.
    pub partitions: Vec<Vec<Batch>>,
}

/// What a test generates.
pub struct Plan {
    pub name: &'static str,
    pub seed: u64,
    /// Transactions (faults come on top).
    pub count: u64,
    /// Simulated events per second: how densely the run fills the event-time windows.
    pub rate: f64,
    pub partitions: u32,
    pub batch_size: usize,
    /// Event times from..to (RFC 3339); None: a day long past.
    pub span: Option<(String, String)>,
}

impl Traffic {
    /// Runs `simulator run --sink file` for `plan` and cuts its output into batches.
    pub async fn generate(plan: &Plan) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "pm-faults-{}-{}-{}",
            plan.name,
            std::process::id(),
            plan.seed
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (out, truth, manifest) = (
            dir.join("events.ndjson"),
            dir.join("truth.json"),
            dir.join("manifest.ndjson"),
        );
        let (from, to) = plan
            .span
            .clone()
            .unwrap_or((PAST.0.to_owned(), PAST.1.to_owned()));
        let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_simulator"))
            .args([
                "run", "--sink", "file", "--quiet", "--from", &from, "--to", &to,
            ])
            .args(["--seed", &plan.seed.to_string()])
            .args(["--count", &plan.count.to_string()])
            .args(["--rate", &plan.rate.to_string()])
            .arg("--out")
            .arg(&out)
            .arg("--truth")
            .arg(&truth)
            .arg("--manifest")
            .arg(&manifest)
            .output()
            .await
            .unwrap();
        assert!(
            run.status.success(),
            "simulator run: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let lines: Vec<String> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let manifest: Vec<Value> = std::fs::read_to_string(&manifest)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), manifest.len());
        let partitions = batches(&lines, &manifest, plan.partitions, plan.batch_size);
        Self {
            dir,
            truth,
            lines,
            manifest,
            partitions,
        }
    }

    /// Events the manifest labels `label` (`accepted`, `duplicate`, `rejected`).
    pub fn expected(&self, label: &str) -> usize {
        self.manifest
            .iter()
            .filter(|m| m["expected"].as_str().unwrap().starts_with(label))
            .count()
    }

    pub fn batch_count(&self) -> usize {
        self.partitions.iter().map(Vec::len).sum()
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The simulator's file output carries no partition key, so an event goes to the
/// partition its transaction id hashes to: a duplicate lands where its original did,
/// as with a real partition key.
fn partition_of(transaction_id: &str, partitions: u32) -> u32 {
    let mut hasher = DefaultHasher::new();
    transaction_id.hash(&mut hasher);
    (hasher.finish() % u64::from(partitions)) as u32
}

/// Host-shaped invocations built by the simulator's own handler sink, `batch_size`
/// events each, sequence numbers increasing per partition.
fn batches(lines: &[String], manifest: &[Value], partitions: u32, size: usize) -> Vec<Vec<Batch>> {
    let mut by_partition: HashMap<u32, Vec<Emission>> = HashMap::new();
    for (line, label) in lines.iter().zip(manifest) {
        let id = label["transaction_id"].as_str().unwrap_or_default();
        let partition = partition_of(id, partitions);
        by_partition.entry(partition).or_default().push(Emission {
            text: line.clone(),
            partition_key: partition,
            transaction_id: id.to_owned(),
            fault: Fault::None,
            expected: Expected::Accepted,
            txn: None,
        });
    }
    let mut sink = HandlerSink::new("http://unused", partitions, 1);
    (0..partitions)
        .map(|partition| {
            let events = by_partition.remove(&partition).unwrap_or_default();
            events
                .chunks(size)
                .map(|chunk| {
                    let refs: Vec<&Emission> = chunk.iter().collect();
                    Batch {
                        body: sink.invocation(partition, &refs),
                    }
                })
                .collect()
        })
        .collect()
}

/// Closes every due window through the handler's timer function, as the host's timer
/// would; the timer's answer. `utc_now` is the host's clock in the invocation (the
/// handler works at the later of it and its own).
pub async fn close_windows_at(base: &str, utc_now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut body: Value = serde_json::from_str(&fixture("timer_invocation.json")).unwrap();
    body["Metadata"]["sys"]["UtcNow"] = utc_now.to_rfc3339().into();
    let response = reqwest::Client::new()
        .post(format!("{base}/TimerTrigger"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the timer failed");
    response.json().await.unwrap()
}

/// `simulator check --truth` against `database_url`: whether it passed, and its output.
pub async fn check(truth: &std::path::Path, database_url: &str) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_simulator"))
        .arg("check")
        .arg("--truth")
        .arg(truth)
        .args(["--database-url", database_url])
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Closes the windows and asserts that `simulator check` finds every expected row and
/// nothing else; also that the database holds each accepted transaction once and each
/// rejected event once (plus `quarantined_too`, events the test made fail on purpose).
pub async fn assert_truth(
    traffic: &Traffic,
    base: &str,
    database_url: &str,
    quarantined_too: usize,
) -> String {
    // Ten minutes ahead: past the allowed lateness of the newest window of any run. A
    // close skips windows another run still holds (`FOR UPDATE SKIP LOCKED`, e.g. a timer
    // call whose client went away) and leaves them to the next run, as the host's next
    // tick would: run again, a bounded number of times, until nothing is pending.
    let mut attempts = 0;
    let (ok, report) = loop {
        close_windows_at(base, chrono::Utc::now() + chrono::TimeDelta::minutes(10)).await;
        let (ok, report) = check(&traffic.truth, database_url).await;
        attempts += 1;
        if report.contains(" 0 in windows not closed yet") || attempts == 20 {
            break (ok, report);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(ok, "simulator check failed:\n{report}");
    assert!(report.contains(" 0 in windows not closed yet"), "{report}");
    let client = crate::helpers::connect(database_url).await;
    let stored =
        crate::helpers::count(&client, "SELECT count(*) FROM normalized_transactions").await;
    assert_eq!(stored as usize, traffic.expected("accepted"), "{report}");
    let quarantined = crate::helpers::count(&client, "SELECT count(*) FROM rejected_events").await;
    assert_eq!(
        quarantined as usize,
        traffic.expected("rejected") + quarantined_too,
        "{report}"
    );
    report.trim().to_owned()
}
