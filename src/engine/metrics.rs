//! The fixed metrics of the 5-minute windows: the columns of `payment_metrics_5m`, in
//! table order. The one list that the schema contract, the window closer and the
//! simulator's checks share.

/// The columns of `payment_metrics_5m`, in table order: the window, its group
/// (payment type, currency), the counts and amounts, and the bookkeeping (`late_events`,
/// `revision`, `closed_at`).
pub const COLUMNS: &[&str] = &[
    "window_start",
    "window_end",
    "payment_type",
    "currency",
    "txn_count",
    "approved_count",
    "declined_count",
    "failed_count",
    "pending_count",
    "refunded_count",
    "total_amount",
    "approved_amount",
    "avg_amount",
    "min_amount",
    "max_amount",
    "p50_amount",
    "p95_amount",
    "p99_amount",
    "unique_customers",
    "unique_merchants",
    "fraud_count",
    "approval_rate",
    "late_events",
    "revision",
    "closed_at",
];
