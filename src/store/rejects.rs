//! The quarantine's upkeep: deleting `rejected_events` rows past
//! `retention.rejected_events`.
//!
//! The purge deletes by `rejected_at` through `rejected_events_rejected_at_idx`, at most
//! [`PURGE_BATCH`] rows per statement and [`PURGE_STATEMENTS`] statements per timer run,
//! so one run never holds a long transaction or a large lock set; what is left goes at
//! the next run. Each statement is its own transaction: a purge cut short by an outage
//! has deleted whole batches only, and rows are chosen by time alone, so two timers
//! purging at once at worst find nothing left to delete.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_postgres::GenericClient;

use super::StoreError;

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
