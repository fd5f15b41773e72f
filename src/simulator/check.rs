//! Comparing `payment_metrics_5m` in the database with a run's ground truth.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio_postgres::GenericClient;

use crate::store::{self, StoreError};

/// Columns compared exactly (counts) and as decimals (amounts, rates).
const COUNTS: &[&str] = &[
    "txn_count",
    "approved_count",
    "declined_count",
    "failed_count",
    "pending_count",
    "refunded_count",
    "unique_customers",
    "unique_merchants",
    "fraud_count",
];
const DECIMALS: &[&str] = &[
    "total_amount",
    "approved_amount",
    "avg_amount",
    "min_amount",
    "max_amount",
    "p50_amount",
    "p95_amount",
    "p99_amount",
    "approval_rate",
];

/// The outcome of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Rows in the truth.
    pub expected_rows: usize,
    /// Of them, in windows the pipeline has not closed yet (not compared).
    pub pending: usize,
    /// Of them, equal in the database.
    pub matching: usize,
    /// One line per difference, first ones.
    pub differences: Vec<String>,
    /// Total number of differences.
    pub difference_count: usize,
}

impl CheckReport {
    /// Everything matched.
    pub fn ok(&self) -> bool {
        self.difference_count == 0
    }
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

/// A row's identity: window start, payment type and currency.
type RowKey = (DateTime<Utc>, String, String);

fn key(row: &Value) -> Option<RowKey> {
    Some((
        row["window_start"].as_str()?.parse().ok()?,
        row["payment_type"].as_str()?.to_owned(),
        row["currency"].as_str()?.to_owned(),
    ))
}

/// The stored `payment_metrics_5m` rows over the truth's windows, by key.
async fn stored_rows(
    client: &impl GenericClient,
    truth: &[Value],
) -> Result<BTreeMap<RowKey, Value>, StoreError> {
    let starts = || {
        truth
            .iter()
            .filter_map(|r| r["window_start"].as_str()?.parse::<DateTime<Utc>>().ok())
    };
    let (first, last) = (
        starts().min().unwrap_or_default(),
        starts().max().unwrap_or_default(),
    );
    Ok(store::metrics_5m_rows(client, first, last)
        .await?
        .into_iter()
        .filter_map(|row| Some((key(&row)?, row)))
        .collect())
}

impl CheckReport {
    /// Counts a difference, keeping the first 20 lines.
    fn differ(&mut self, line: String) {
        self.difference_count += 1;
        if self.differences.len() < 20 {
            self.differences.push(line);
        }
    }

    /// Compares one expected row with the stored one, column by column; true when they
    /// are the same.
    fn compare_row(&mut self, k: &RowKey, expected: &Value, actual: &Value) -> bool {
        let mut same = true;
        for column in COUNTS.iter().chain(DECIMALS) {
            let equal = if COUNTS.contains(column) {
                expected[*column].as_i64() == actual[*column].as_i64()
            } else {
                match (decimal(&expected[*column]), decimal(&actual[*column])) {
                    (Some(a), Some(b)) => (a - b).abs() <= Decimal::new(1, 9),
                    (None, None) => true,
                    _ => false,
                }
            };
            if !equal {
                same = false;
                self.differ(format!(
                    "{} {} {}: {column} expected {} found {}",
                    k.0, k.1, k.2, expected[*column], actual[*column]
                ));
            }
        }
        same
    }
}

/// Compares the truth rows with the database over the truth's windows that the pipeline
/// has closed (and not reopened); rows of other windows are counted as pending. Quotients
/// (averages, rates) may differ in their last digits; anything closer than 1e-9 matches.
///
/// # Errors
/// [`StoreError`] when the database cannot be read.
pub async fn compare(
    client: &impl GenericClient,
    truth: &[Value],
) -> Result<CheckReport, StoreError> {
    let mut stored = stored_rows(client, truth).await?;
    let closed = store::closed_5m_windows(client).await?;
    let mut report = CheckReport {
        expected_rows: truth.len(),
        ..CheckReport::default()
    };
    for expected in truth {
        let Some(k) = key(expected) else { continue };
        if !closed.contains(&k.0) {
            report.pending += 1;
            stored.remove(&k);
            continue;
        }
        match stored.remove(&k) {
            None => report.differ(format!(
                "{} {} {}: missing in payment_metrics_5m",
                k.0, k.1, k.2
            )),
            Some(actual) => {
                if report.compare_row(&k, expected, &actual) {
                    report.matching += 1;
                }
            }
        }
    }
    for (k, _) in stored {
        report.differ(format!(
            "{} {} {}: in payment_metrics_5m but not expected",
            k.0, k.1, k.2
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::{COUNTS, DECIMALS};
    use crate::engine::metrics::COLUMNS;

    #[test]
    fn every_metric_column_is_compared_or_is_a_key_or_bookkeeping() {
        let keys_and_bookkeeping = [
            "window_start",
            "window_end",
            "payment_type",
            "currency",
            "late_events",
            "revision",
            "closed_at",
        ];
        for column in COLUMNS {
            let compared = COUNTS.contains(column) || DECIMALS.contains(column);
            assert!(
                compared ^ keys_and_bookkeeping.contains(column),
                "{column} must be compared or be a key or bookkeeping, not both or neither"
            );
        }
        for column in COUNTS.iter().chain(DECIMALS) {
            assert!(COLUMNS.contains(column), "{column} is not a metric column");
        }
    }
}
