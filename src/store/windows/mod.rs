//! Window closing: `window_state` bookkeeping (`mark`), the set-based SQL that turns
//! stored transactions into `payment_metrics_5m` and rule rows (`close`), and the day
//! partitions those transactions live in (`partitions`).
//!
//! Ingest marks every 5-minute window it adds transactions to (an upsert, the last
//! statement of its transaction). The timer locks due, changed windows
//! (`FOR UPDATE SKIP LOCKED`), recomputes their metric rows from `normalized_transactions`
//! and marks them closed with the next revision, all in one transaction. A transaction
//! committed while a window is being closed either was visible to the close (its upsert
//! came first, so the timer waited for it) or finds the window closed when it upserts and
//! marks it changed again, as late. Nothing is missed and nothing is counted twice.

mod close;
mod mark;
mod partitions;

pub(crate) use close::Spans;
pub use close::{CloseReport, close_due_windows, window_close_lag};
pub(crate) use mark::mark_windows;
pub use partitions::{PartitionReport, maintain_partitions};

/// A width in seconds as the `integer` column `width_seconds` holds it. Widths come from
/// the engine settings, which keep them far below `i32::MAX` seconds (68 years).
fn width_param(width: i64) -> i32 {
    i32::try_from(width).expect("window widths are validated to fit width_seconds")
}
