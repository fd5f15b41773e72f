//! Running a scenario: pacing or backfilling, batching into the sink, the manifest, the
//! ground truth, progress and the summary.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::scenario::PlannedIncident;
use super::sinks::{Sink, SinkError, SinkStats};
use super::truth::Truth;
use super::{Arrivals, Emission, Expected, Generator, Scenario};

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The manifest or truth file could not be written.
    #[error("writing {path}: {source}")]
    Output {
        /// The manifest or truth file.
        path: PathBuf,
        /// The I/O error (disk full, permission denied, ...).
        #[source]
        source: std::io::Error,
    },
    /// The sink failed in a way that stops the run (stdout or file).
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// What to run on top of the scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop after this many transactions (faults come on top).
    pub count: Option<u64>,
    /// Stop after this long (real time).
    pub duration: Option<Duration>,
    /// Write the fault manifest here (NDJSON).
    pub manifest: Option<PathBuf>,
    /// Write the expected `payment_metrics_5m` rows here (JSON).
    pub truth: Option<PathBuf>,
    /// Re-read the scenario from this file while a realtime run goes on.
    pub watch: Option<PathBuf>,
    /// Show a progress bar (when stderr is a terminal) or periodic lines.
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Transactions generated (fraud payments included, faults not).
    pub transactions: u64,
    /// Events emitted (with duplicates and malformed extras).
    pub events: u64,
    /// Delivery counters.
    pub stats: SinkStats,
    /// Wall-clock time.
    pub elapsed: Duration,
    /// Scenario reloads applied (realtime).
    pub reloads: u32,
    /// Delivery errors, first few.
    pub errors: Vec<String>,
}

impl RunSummary {
    /// One paragraph for people.
    pub fn report(&self) -> String {
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "generated {} transactions, {} events; sent {} events in {} batches ({} bytes), \
             {} retries, {} throttled, {} failed; {:.0} events/s; batch latency mean {:?}, max {:?}{}",
            self.transactions,
            self.events,
            self.stats.sent,
            self.stats.batches,
            self.stats.bytes,
            self.stats.retries,
            self.stats.throttles,
            self.stats.failed,
            self.stats.sent as f64 / seconds,
            self.stats.latency_mean(),
            self.stats.latency_max,
            if self.reloads > 0 {
                format!("; {} scenario reloads", self.reloads)
            } else {
                String::new()
            },
        )
    }
}

struct Outputs {
    manifest: Option<(PathBuf, BufWriter<File>)>,
    truth: Option<Truth>,
    seq: u64,
}

impl Outputs {
    fn manifest_line(&mut self, line: &Value) -> Result<(), RunError> {
        if let Some((path, out)) = &mut self.manifest {
            writeln!(out, "{line}").map_err(|source| RunError::Output {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// One manifest line per planted incident, before the events they touch.
    fn incidents(&mut self, incidents: &[PlannedIncident]) -> Result<(), RunError> {
        for incident in incidents {
            self.manifest_line(&incident.manifest_line())?;
        }
        Ok(())
    }

    fn record(&mut self, events: &[Emission]) -> Result<(), RunError> {
        for event in events {
            self.manifest_line(&json!({
                "seq": self.seq,
                "transaction_id": event.transaction_id,
                "fault": event.fault.name(),
                "expected": event.expected.label(),
            }))?;
            if let (Some(truth), Some(txn), Expected::Accepted) =
                (&mut self.truth, &event.txn, event.expected)
            {
                truth.add(txn);
            }
            self.seq += 1;
        }
        Ok(())
    }
}

fn create(path: &Path) -> Result<BufWriter<File>, RunError> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|source| RunError::Output {
            path: path.to_owned(),
            source,
        })
}

/// Runs a scenario into a sink.
///
/// # Errors
/// [`RunError`] when an output file cannot be written or a local sink fails; delivery
/// failures to the handler or Event Hubs are counted in the summary instead, so the run
/// reports everything it could not deliver.
pub async fn run(
    scenario: Scenario,
    mut sink: Sink,
    options: RunOptions,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let mut outputs = Outputs {
        manifest: match &options.manifest {
            Some(path) => Some((path.clone(), create(path)?)),
            None => None,
        },
        truth: options.truth.as_ref().map(|_| Truth::default()),
        seq: 0,
    };
    let mut summary = RunSummary::default();
    let progress = Progress::new(options.progress, options.count);
    let batch_size = scenario.delivery.batch_size;
    let mut pending: Vec<Emission> = Vec::with_capacity(batch_size * 2);

    match scenario.backfill_range() {
        Some((from, to)) => {
            outputs.incidents(&scenario.incidents_at(from))?;
            let mut generator = Generator::starting_at(&scenario, from);
            let mut arrivals = Arrivals::new(&scenario, from);
            loop {
                if options.count.is_some_and(|n| summary.transactions >= n) {
                    break;
                }
                let at = arrivals.next_time();
                if at >= to {
                    break;
                }
                generator.arrival(at, &mut pending);
                summary.transactions += 1;
                if pending.len() >= batch_size {
                    deliver(&mut sink, &mut pending, &mut outputs, &mut summary).await?;
                    progress.update(&summary, &scenario, started);
                }
            }
            generator.flush(&mut pending);
        }
        None => {
            realtime(
                scenario.clone(),
                &mut sink,
                &options,
                &mut pending,
                &mut outputs,
                &mut summary,
                &progress,
                started,
            )
            .await?;
        }
    }
    while !pending.is_empty() {
        deliver(&mut sink, &mut pending, &mut outputs, &mut summary).await?;
    }
    sink.close().await?;
    if let Some((path, out)) = &mut outputs.manifest {
        out.flush().map_err(|source| RunError::Output {
            path: path.clone(),
            source,
        })?;
    }
    if let (Some(path), Some(truth)) = (&options.truth, &outputs.truth) {
        let mut out = create(path)?;
        serde_json::to_writer_pretty(&mut out, &truth.rows()).map_err(|e| RunError::Output {
            path: path.clone(),
            source: e.into(),
        })?;
        out.flush().map_err(|source| RunError::Output {
            path: path.clone(),
            source,
        })?;
    }
    summary.elapsed = started.elapsed();
    progress.finish(&summary);
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
async fn realtime(
    mut scenario: Scenario,
    sink: &mut Sink,
    options: &RunOptions,
    pending: &mut Vec<Emission>,
    outputs: &mut Outputs,
    summary: &mut RunSummary,
    progress: &Progress,
    started: Instant,
) -> Result<(), RunError> {
    let start = Utc::now();
    outputs.incidents(&scenario.incidents_at(start))?;
    let mut generator = Generator::starting_at(&scenario, start);
    let mut arrivals = Arrivals::new(&scenario, start);
    let mut last_flush = Instant::now();
    let mut last_check = Instant::now();
    let mut watched = options.watch.as_ref().and_then(|p| std::fs::read(p).ok());
    loop {
        if options.count.is_some_and(|n| summary.transactions >= n)
            || options.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        let at = arrivals.next_time();
        let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        generator.arrival(Utc::now(), pending);
        summary.transactions += 1;
        if pending.len() >= scenario.delivery.batch_size
            || last_flush.elapsed() >= Duration::from_millis(500)
        {
            deliver(sink, pending, outputs, summary).await?;
            last_flush = Instant::now();
            progress.update(summary, &scenario, started);
        }
        if let Some(path) = &options.watch
            && last_check.elapsed() >= Duration::from_secs(1)
        {
            last_check = Instant::now();
            let current = std::fs::read(path).ok();
            if current.is_some() && current != watched {
                watched = current;
                match Scenario::load(path) {
                    Ok(new) => {
                        summary.reloads += 1;
                        // A new seed stream, so ids never repeat those already sent.
                        let mut reseeded = new.clone();
                        reseeded.seed = new.seed
                            ^ u64::from(summary.reloads).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                        // Incidents still count from the run's start; changed ones are
                        // listed again.
                        generator = Generator::starting_at(&reseeded, start);
                        arrivals = Arrivals::new(&reseeded, Utc::now());
                        if new.incidents != scenario.incidents {
                            outputs.incidents(&new.incidents_at(start))?;
                        }
                        scenario = new;
                        tracing::info!(rate = scenario.rate.events_per_second, "scenario reloaded");
                        progress.message(&format!(
                            "scenario reloaded: {} events/s",
                            scenario.rate.events_per_second
                        ));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the changed scenario is invalid; the run goes on with the previous one");
                        progress.message(&format!("refused the changed scenario: {e}"));
                    }
                }
            }
        }
    }
    generator.flush(pending);
    Ok(())
}

async fn deliver(
    sink: &mut Sink,
    pending: &mut Vec<Emission>,
    outputs: &mut Outputs,
    summary: &mut RunSummary,
) -> Result<(), RunError> {
    let batch: Vec<Emission> = std::mem::take(pending);
    summary.events += batch.len() as u64;
    outputs.record(&batch)?;
    let before = summary.stats.clone();
    let started = Instant::now();
    let result = sink.send(&batch, &mut summary.stats).await;
    let instruments = crate::telemetry::metrics::get();
    let after = &summary.stats;
    instruments
        .simulator_sent
        .add(after.sent - before.sent, &[]);
    instruments
        .simulator_retried
        .add(after.retries - before.retries, &[]);
    instruments
        .simulator_throttled
        .add(after.throttles - before.throttles, &[]);
    instruments
        .simulator_failed
        .add(after.failed - before.failed, &[]);
    instruments
        .simulator_send_latency
        .record(started.elapsed().as_secs_f64(), &[]);
    match result {
        Ok(()) => Ok(()),
        Err(e @ SinkError::Io(_)) => Err(e.into()),
        Err(e) => {
            tracing::error!(error = %e, events = batch.len(), "a batch could not be delivered");
            if summary.errors.len() < 5 {
                summary.errors.push(e.to_string());
            }
            Ok(())
        }
    }
}

/// A progress bar on a terminal, plain lines every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    last: std::sync::Mutex<Instant>,
}

impl Progress {
    fn new(enabled: bool, count: Option<u64>) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = match count {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            plain: enabled && bar.is_none(),
            bar,
            last: std::sync::Mutex::new(Instant::now()),
        }
    }

    fn line(summary: &RunSummary, scenario: &Scenario, started: Instant) -> String {
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        format!(
            "target {:.0}/s, achieved {:.0}/s, sent {}, retries {}, errors {}",
            scenario.rate.events_per_second,
            summary.stats.sent as f64 / seconds,
            summary.stats.sent,
            summary.stats.retries,
            summary.stats.failed
        )
    }

    fn update(&self, summary: &RunSummary, scenario: &Scenario, started: Instant) {
        if let Some(bar) = &self.bar {
            bar.set_position(summary.transactions);
            bar.set_message(Self::line(summary, scenario, started));
        } else if self.plain {
            let mut last = self
                .last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.elapsed() >= Duration::from_secs(5) {
                *last = Instant::now();
                eprintln!("{}", Self::line(summary, scenario, started));
            }
        }
    }

    fn message(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if self.plain => eprintln!("{text}"),
            None => {}
        }
    }

    fn finish(&self, summary: &RunSummary) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.bar.is_some() || self.plain {
            eprintln!("{}", summary.report());
        }
    }
}

/// The backfill range of `--from/--to`, or of the last `hours` before `now`.
pub fn last_hours(now: DateTime<Utc>, hours: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    (now - TimeDelta::hours(hours), now)
}
