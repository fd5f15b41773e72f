//! How long stored data is kept: the `retention` section of the engine settings, applied
//! by the timer when it maintains the day partitions and purges the quarantine.

use std::time::Duration;

use serde::Deserialize;

/// How long data is kept, from the `retention` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionPolicy {
    /// Day partitions of `normalized_transactions` (and their `transaction_ids` and window
    /// bookkeeping) older than this are dropped by the timer. Unset: kept forever.
    #[serde(with = "crate::serde_duration::optional_duration")]
    pub transactions: Option<Duration>,
    /// Quarantined events in `rejected_events` older than this (by `rejected_at`) are
    /// deleted by the timer, in bounded batches. Unset: the quarantine is kept forever.
    #[serde(with = "crate::serde_duration::optional_duration")]
    pub rejected_events: Option<Duration>,
    /// Days of partitions the timer creates ahead of today, so ingest never waits on DDL.
    pub partitions_ahead_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            transactions: None,
            rejected_events: None,
            partitions_ahead_days: 2,
        }
    }
}
