//! The quarantine's upkeep: deleting `rejected_events` rows past
//! `retention.rejected_events`, and redriving quarantined events through the batch
//! writer once a fix or a relaxed setting lets them pass.
//!
//! The purge deletes by `rejected_at` through `rejected_events_rejected_at_idx`, at most
//! [`PURGE_BATCH`] rows per statement and [`PURGE_STATEMENTS`] statements per timer run,
//! so one run never holds a long transaction or a large lock set; what is left goes at
//! the next run. Each statement is its own transaction: a purge cut short by an outage
//! has deleted whole batches only, and rows are chosen by time alone, so two timers
//! purging at once at worst find nothing left to delete.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_postgres::{Client, GenericClient, Row};

use super::{BatchContext, StoreError, store_batch};
use crate::ingest::redrive::raw_event;
use crate::ingest::{self, IngestPolicy, Lineage, RejectReason};

/// Most rows one purge statement deletes.
pub const PURGE_BATCH: i64 = 10_000;

/// Most purge statements one timer run issues.
pub const PURGE_STATEMENTS: usize = 10;

/// What a purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Rows deleted.
    pub deleted: u64,
    /// The run stopped at [`PURGE_STATEMENTS`] full batches: older rows remain for the
    /// next run.
    pub more: bool,
}

/// Deletes quarantined events rejected before `now - keep`; with `keep` unset, nothing.
///
/// # Errors
/// [`StoreError::Query`] when a delete fails; batches deleted before it stay deleted.
pub async fn purge_rejected_events(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    keep: Option<Duration>,
) -> Result<PurgeReport, StoreError> {
    let mut report = PurgeReport::default();
    let Some(keep) = keep else {
        return Ok(report);
    };
    let cutoff = now - TimeDelta::from_std(keep).unwrap_or(TimeDelta::MAX);
    for _ in 0..PURGE_STATEMENTS {
        let deleted = client
            .execute(
                "DELETE FROM rejected_events WHERE id IN (
                     SELECT id FROM rejected_events
                     WHERE rejected_at < $1
                     ORDER BY rejected_at
                     LIMIT $2)",
                &[&cutoff, &PURGE_BATCH],
            )
            .await
            .map_err(StoreError::query(
                "deleting quarantined events past retention",
            ))?;
        report.deleted += deleted;
        if deleted < PURGE_BATCH.unsigned_abs() {
            return Ok(report);
        }
    }
    report.more = true;
    Ok(report)
}

/// Which quarantined events a redrive takes, and whether it only looks.
#[derive(Debug, Clone, Default)]
pub struct RedriveFilter {
    /// Only these reasons; empty: every reason.
    pub reasons: Vec<String>,
    /// Only events rejected at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Judge the events but store and mark nothing.
    pub dry_run: bool,
}

/// What a redrive did: quarantined events by their reason and their outcome (`stored`,
/// `duplicate`, `still_rejected:<reason>`, or `would_store` in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedriveReport {
    /// Events by (reason they were quarantined for, outcome).
    pub counts: BTreeMap<(String, String), usize>,
}

/// Rows one redrive query reads.
const REDRIVE_PAGE: i64 = 500;

/// Re-validates quarantined events with `policy` and stores those that now pass through
/// [`store_batch`], one event per batch, so the outcome of each is known and the
/// exactly-once claim on its transaction id holds against a second redrive or live
/// ingest. Each row gets `redriven_at` and `redrive_outcome`; rows already `stored` or
/// `duplicate` are skipped, and `envelope_invalid` rows (whole invocation bodies, not
/// events) are never taken. Quarantine rows are never deleted.
///
/// A crash between storing an event and marking its row leaves the row unmarked; the next
/// redrive finds the transaction stored and marks it `duplicate`.
///
/// # Errors
/// Any [`StoreError`]; rows handled before it keep their outcome.
pub async fn redrive(
    client: &mut Client,
    filter: &RedriveFilter,
    policy: &IngestPolicy,
    context: &BatchContext,
) -> Result<RedriveReport, StoreError> {
    let mut report = RedriveReport::default();
    let mut after = 0_i64;
    loop {
        let rows = client
            .query(
                "SELECT id, reason, raw, raw_encoding, partition_id, sequence_number,
                        event_offset, enqueued_at, batch_index
                 FROM rejected_events
                 WHERE id > $1
                   AND reason <> 'envelope_invalid'
                   AND (cardinality($2::text[]) = 0 OR reason = ANY($2))
                   AND ($3::timestamptz IS NULL OR rejected_at >= $3)
                   AND (redrive_outcome IS NULL OR redrive_outcome NOT IN ('stored', 'duplicate'))
                 ORDER BY id
                 LIMIT $4",
                &[&after, &filter.reasons, &filter.since, &REDRIVE_PAGE],
            )
            .await
            .map_err(StoreError::query("reading quarantined events to redrive"))?;
        let Some(last) = rows.last() else {
            return Ok(report);
        };
        after = last.get(0);
        for row in &rows {
            let outcome = redrive_one(client, row, filter.dry_run, policy, context).await?;
            if !filter.dry_run {
                client
                    .execute(
                        "UPDATE rejected_events SET redriven_at = $2, redrive_outcome = $3
                         WHERE id = $1",
                        &[&row.get::<_, i64>(0), &context.now, &outcome],
                    )
                    .await
                    .map_err(StoreError::query("recording a redrive outcome"))?;
            }
            *report.counts.entry((row.get(1), outcome)).or_default() += 1;
        }
    }
}

/// The outcome of redriving one quarantine row.
async fn redrive_one(
    client: &mut Client,
    row: &Row,
    dry_run: bool,
    policy: &IngestPolicy,
    context: &BatchContext,
) -> Result<String, StoreError> {
    let lineage = Lineage {
        partition_id: row.get(4),
        sequence_number: row.get(5),
        offset: row.get(6),
        enqueued_at: row.get(7),
        batch_index: row
            .get::<_, Option<i32>>(8)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0),
    };
    let event = match raw_event(row.get(2), row.get(3), lineage) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(id = row.get::<_, i64>(0), error = %e, "a quarantine row cannot be redriven");
            return Ok("still_rejected:undecodable".to_owned());
        }
    };
    let batch = ingest::prepare(vec![event], context.now, policy);
    if let Some(reject) = batch.rejected.first() {
        return Ok(still_rejected(reject.rejection.reason));
    }
    if dry_run {
        return Ok("would_store".to_owned());
    }
    let stored = store_batch(client, batch, context).await?;
    Ok(if stored.accepted == 1 {
        "stored".to_owned()
    } else if stored.duplicates == 1 {
        "duplicate".to_owned()
    } else {
        stored.rejected.keys().next().map_or_else(
            || "still_rejected:unknown".to_owned(),
            |r| still_rejected(*r),
        )
    })
}

fn still_rejected(reason: RejectReason) -> String {
    format!("still_rejected:{}", reason.as_str())
}
