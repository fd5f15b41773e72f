//! Ground truth: the `payment_metrics_5m` rows the pipeline should produce for the valid,
//! de-duplicated transactions of a run, with the same column names.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::Txn;
use crate::domain::Status;
use crate::engine::Window;
use crate::engine::windows::FIVE_MINUTES;

/// The accepted transactions of one row: a window, payment type and currency.
#[derive(Default)]
struct Group {
    amounts: Vec<Decimal>,
    statuses: BTreeMap<Status, i64>,
    approved_amount: Decimal,
    customers: BTreeSet<u32>,
    merchants: BTreeSet<u32>,
    fraud: i64,
}

/// Accumulates accepted transactions.
#[derive(Default)]
pub struct Truth {
    /// By window start, payment type and currency code: keyed by the stored text, so the
    /// rows come out in the order the database sorts them.
    groups: BTreeMap<(DateTime<Utc>, &'static str, &'static str), Group>,
}

impl Truth {
    /// Counts one accepted transaction.
    pub fn add(&mut self, txn: &Txn) {
        let window = Window::containing(txn.occurred_at, FIVE_MINUTES).start();
        let group = self
            .groups
            .entry((window, txn.payment_type.as_str(), txn.currency.code()))
            .or_default();
        let amount = Decimal::new(txn.amount_minor, txn.currency.minor_units());
        group.amounts.push(amount);
        *group.statuses.entry(txn.status).or_default() += 1;
        if txn.status == Status::Approved {
            group.approved_amount += amount;
        }
        group.customers.insert(txn.customer);
        group.merchants.insert(txn.merchant);
        group.fraud += i64::from(txn.is_fraud);
    }

    /// The rows, ordered by window, payment type and currency. Amounts are exact JSON
    /// numbers; percentiles interpolate like `percentile_cont`.
    pub fn rows(&self) -> Vec<Value> {
        self.groups
            .iter()
            .map(|((start, payment_type, currency), g)| {
                let mut sorted = g.amounts.clone();
                sorted.sort();
                let n = sorted.len();
                let total: Decimal = sorted.iter().sum();
                let count = |s: Status| g.statuses.get(&s).copied().unwrap_or(0);
                let (approved, declined) = (count(Status::Approved), count(Status::Declined));
                let rate = (approved + declined > 0)
                    .then(|| number(Decimal::from(approved) / Decimal::from(approved + declined)));
                json!({
                    "window_start": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "window_end": Window::containing(*start, FIVE_MINUTES).end().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "payment_type": payment_type,
                    "currency": currency,
                    "txn_count": n,
                    "approved_count": approved,
                    "declined_count": declined,
                    "failed_count": count(Status::Failed),
                    "pending_count": count(Status::Pending),
                    "refunded_count": count(Status::Refunded),
                    "total_amount": number(total),
                    "approved_amount": number(g.approved_amount),
                    "avg_amount": number(total / Decimal::from(n)),
                    "min_amount": number(sorted[0]),
                    "max_amount": number(sorted[n - 1]),
                    "p50_amount": number(percentile(&sorted, Decimal::new(50, 2))),
                    "p95_amount": number(percentile(&sorted, Decimal::new(95, 2))),
                    "p99_amount": number(percentile(&sorted, Decimal::new(99, 2))),
                    "unique_customers": g.customers.len(),
                    "unique_merchants": g.merchants.len(),
                    "fraud_count": g.fraud,
                    "approval_rate": rate,
                })
            })
            .collect()
    }
}

fn percentile(sorted: &[Decimal], p: Decimal) -> Decimal {
    let position = p * Decimal::from(sorted.len() - 1);
    let lo = position.floor();
    let index = |d: Decimal| usize::try_from(d.mantissa() / 10i128.pow(d.scale())).unwrap_or(0);
    let (a, b) = (sorted[index(lo)], sorted[index(position.ceil())]);
    a + (position - lo) * (b - a)
}

/// An exact JSON number (serde_json keeps the text with arbitrary_precision).
fn number(d: Decimal) -> Value {
    let text = d.normalize().to_string();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}
