//! Day partitions of `normalized_transactions`: created ahead of time so ingest never
//! waits on DDL, and, with a retention, dropped whole together with their id ledger and
//! window bookkeeping.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use tokio_postgres::Client;

use crate::engine::retention::RetentionPolicy;
use crate::store::StoreError;

/// What partition upkeep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionReport {
    /// Day partitions dropped past retention.
    pub dropped: Vec<String>,
}

/// Creates the day partitions from today to `partitions_ahead_days` ahead, and, when a
/// retention is set, drops whole days older than it together with their id ledger and
/// window bookkeeping.
///
/// # Errors
/// Any [`StoreError`].
pub async fn maintain_partitions(
    client: &mut Client,
    now: DateTime<Utc>,
    retention: &RetentionPolicy,
) -> Result<PartitionReport, StoreError> {
    let today = now.date_naive();
    let days: Vec<NaiveDate> = (0..=i64::from(retention.partitions_ahead_days))
        .map(|d| today + TimeDelta::days(d))
        .collect();
    client
        .execute(
            "SELECT paymetrics_ensure_partition(d) FROM unnest($1::date[]) AS d",
            &[&days],
        )
        .await
        .map_err(StoreError::query("creating upcoming day partitions"))?;

    let mut report = PartitionReport::default();
    let Some(keep) = retention.transactions else {
        return Ok(report);
    };
    let cutoff = now - TimeDelta::from_std(keep).unwrap_or(TimeDelta::MAX);
    // A partition goes only when its whole day is older than the cutoff.
    let partitions = client
        .query(
            "SELECT c.relname,
                    (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'normalized_transactions'::regclass",
            &[],
        )
        .await
        .map_err(StoreError::query("listing day partitions"))?;
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("starting retention"))?;
    for row in partitions {
        let name: String = row.get(0);
        let upper: Option<DateTime<Utc>> = row.get(1);
        if upper.is_some_and(|upper| upper <= cutoff) {
            tx.batch_execute(&format!("DROP TABLE IF EXISTS \"{name}\""))
                .await
                .map_err(StoreError::query("dropping an expired day partition"))?;
            report.dropped.push(name);
        }
    }
    if !report.dropped.is_empty() {
        let day_cutoff: DateTime<Utc> = cutoff
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        for statement in [
            "DELETE FROM transaction_ids WHERE occurred_at < $1",
            "DELETE FROM window_state WHERE window_end <= $1",
            "DELETE FROM late_events_5m WHERE window_start < $1",
        ] {
            tx.execute(statement, &[&day_cutoff])
                .await
                .map_err(StoreError::query("removing bookkeeping past retention"))?;
        }
    }
    tx.commit()
        .await
        .map_err(StoreError::query("committing retention"))?;
    Ok(report)
}
