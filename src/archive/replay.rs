//! `handler replay`: archived events of a time range through exactly the path a trigger
//! batch takes. Each event is judged as at the moment Event Hubs enqueued it (so a
//! replay reaches the verdicts live ingest reached: `max_age`, `max_future`), keeps its
//! partition and sequence number as lineage, and is stored with
//! [`store::store_batch`]: a transaction already stored counts as a duplicate, a reject
//! already quarantined at the same stream position is not stored again, and the windows
//! of new transactions are marked changed for the next timer run. Replaying a range twice,
//! or replaying what live ingest already took, changes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::{ArchiveError, ArchiveFile, Source};
use crate::ingest::capture::{CaptureError, CaptureReader};
use crate::ingest::{self, IngestPolicy, PreparedBatch, RejectReason};
use crate::store::{self, BatchContext, StoreError};

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The archive cannot be listed.
    #[error("listing the archive: {0}")]
    Archive(#[from] ArchiveError),
    /// The database failed; what was stored before stays stored and a rerun finishes it.
    #[error("storing events of {file}: {source}")]
    Store {
        /// The file whose events were being stored.
        file: String,
        /// The database's error.
        #[source]
        source: StoreError,
    },
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    /// Events enqueued at or after this instant...
    pub from: DateTime<Utc>,
    /// ...and before this one.
    pub to: DateTime<Utc>,
    /// Only these partitions; all when empty.
    pub partitions: Vec<String>,
    /// Read and judge the events, store nothing.
    pub dry_run: bool,
    /// Events per stored batch (the trigger's `maxEventBatchSize` is 100; larger batches
    /// take fewer round trips).
    pub batch_size: usize,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Archive files read.
    pub files: usize,
    /// Archived events enqueued in the range, replayed.
    pub events: u64,
    /// Archived events of the files read but enqueued outside the range, skipped.
    pub outside: u64,
    /// Transactions stored for the first time (with `dry_run`: valid events).
    pub accepted: u64,
    /// Events whose transaction was already stored with the same content.
    pub duplicates: u64,
    /// Events quarantined (or, with `dry_run`, that would be), by reason.
    pub rejected: BTreeMap<RejectReason, u64>,
    /// New transactions that landed in windows already closed (recomputed by the next
    /// timer run).
    pub late: u64,
    /// Files that could not be read to their end: the file, the record, why. Their events
    /// before that record were replayed.
    pub failures: Vec<(String, String)>,
}

/// Where a replay stands, after each file.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Files done.
    pub files_done: usize,
    /// Files to read.
    pub files_total: usize,
    /// Events replayed so far.
    pub events: u64,
    /// The report so far.
    pub report: &'a ReplayReport,
}

/// Replays the archive's events of `plan` from `source` through ingest into the
/// database, file by file in partition and time order, holding one batch in memory.
/// `context` is the store's (its `now` marks changed windows); `progress` is called after
/// every file.
///
/// # Errors
/// [`ReplayError`] when the archive cannot be listed or the database fails; a file that
/// cannot be read is not an error here but a [`ReplayReport::failures`] entry.
pub async fn replay(
    client: &mut Client,
    source: &Source,
    plan: &ReplayPlan,
    policy: &IngestPolicy,
    context: &BatchContext,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<ReplayReport, ReplayError> {
    let files = source.list(plan.from, plan.to, &plan.partitions).await?;
    let mut report = ReplayReport::default();
    for (done, file) in files.iter().enumerate() {
        replay_file(client, source, file, plan, policy, context, &mut report).await?;
        report.files += 1;
        progress(Progress {
            files_done: done + 1,
            files_total: files.len(),
            events: report.events,
            report: &report,
        });
    }
    Ok(report)
}

async fn replay_file(
    client: &mut Client,
    source: &Source,
    file: &ArchiveFile,
    plan: &ReplayPlan,
    policy: &IngestPolicy,
    context: &BatchContext,
    report: &mut ReplayReport,
) -> Result<(), ReplayError> {
    let records = match source.open(file).await {
        Ok(reader) => CaptureReader::new(reader),
        Err(e) => {
            report.failures.push((file.name.clone(), e.to_string()));
            return Ok(());
        }
    };
    let mut records = match records {
        Ok(records) => records,
        Err(e) => {
            report.failures.push((file.name.clone(), e.to_string()));
            return Ok(());
        }
    };
    let mut batch = PreparedBatch::default();
    loop {
        let record = records.next();
        let end = match record {
            None => true,
            Some(Err(e @ CaptureError::Record { .. } | e @ CaptureError::NotAvro(_))) => {
                report.failures.push((file.name.clone(), e.to_string()));
                true
            }
            Some(Ok(record)) => {
                if record.enqueued_at < plan.from || record.enqueued_at >= plan.to {
                    report.outside += 1;
                } else {
                    report.events += 1;
                    let judged_at = record.enqueued_at;
                    let event = record.into_event(&file.partition_id, batch.received);
                    // Each event judged at its own enqueued time, as the trigger judged it
                    // on arrival; the batch is stored as one.
                    let one = ingest::prepare(vec![event], judged_at, policy);
                    batch.received += one.received;
                    batch.accepted.extend(one.accepted);
                    batch.rejected.extend(one.rejected);
                }
                false
            }
        };
        if batch.received >= plan.batch_size || (end && batch.received > 0) {
            store(
                client,
                std::mem::take(&mut batch),
                file,
                plan,
                context,
                report,
            )
            .await?;
        }
        if end {
            return Ok(());
        }
    }
}

async fn store(
    client: &mut Client,
    batch: PreparedBatch,
    file: &ArchiveFile,
    plan: &ReplayPlan,
    context: &BatchContext,
    report: &mut ReplayReport,
) -> Result<(), ReplayError> {
    if plan.dry_run {
        report.accepted += batch.accepted.len() as u64;
        for rejected in &batch.rejected {
            *report
                .rejected
                .entry(rejected.rejection.reason)
                .or_default() += 1;
        }
        return Ok(());
    }
    let stored = store::store_batch(client, batch, context)
        .await
        .map_err(|source| ReplayError::Store {
            file: file.name.clone(),
            source,
        })?;
    report.accepted += stored.accepted as u64;
    report.duplicates += stored.duplicates as u64;
    report.late += stored.late as u64;
    for (reason, n) in stored.rejected {
        *report.rejected.entry(reason).or_default() += n as u64;
    }
    Ok(())
}
