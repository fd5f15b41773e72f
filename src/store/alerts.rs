//! Alert state in `metric_alerts`: after a close, every alert judges the windows that
//! close has just written (`payment_metrics_5m.closed_at`, `dynamic_metrics.computed_at`
//! equal to the run's instant), group by group, against the series read here
//! ([`alerts::judge`]), and fires or resolves.
//!
//! Per alert and group there is at most one firing row (a unique partial index). A window
//! whose streak reaches `for` opens one, or moves an open one's `last_window` on; a window
//! at or after the open row's `last_window` that does not breach resolves it; a breach
//! that a late revision finds again in the windows of a resolved alert extends that alert
//! instead of telling a new one. Groups with
//! an open alert but no row in the run's latest window are judged there too, so an alert
//! whose group went quiet resolves. Every transition is returned once, for the caller to
//! tell (telemetry) and count.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient, Transaction};

use super::StoreError;
use crate::engine::alerts::{self, Alert, Measure, Sample, Source, Verdict};

/// A change of an alert's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// The alert's name.
    pub alert: String,
    /// 0 (critical) to 4 (verbose).
    pub severity: u8,
    /// What the alert means.
    pub description: Option<String>,
    /// `fired` or `resolved`.
    pub state: &'static str,
    /// The group's values.
    pub group_key: Value,
    /// The window that made the change.
    pub window_start: DateTime<Utc>,
    /// First window of the breach.
    pub first_window: DateTime<Utc>,
    /// Latest breaching window.
    pub last_window: DateTime<Utc>,
    /// The value at the window.
    pub value: Option<f64>,
    /// The baseline (or threshold) it was judged by.
    pub baseline: Option<f64>,
}

/// The SQL of a measure over `payment_metrics_5m`, from this fixed list only.
fn measure_sql(measure: Measure) -> &'static str {
    match measure {
        Measure::ApprovalRate => "approval_rate",
        Measure::DeclineRate => "declined_count::numeric / nullif(txn_count, 0)",
        Measure::FraudRate => "fraud_count::numeric / nullif(txn_count, 0)",
        Measure::TxnCount => "txn_count",
        Measure::TotalAmount => "total_amount",
        Measure::AvgAmount => "avg_amount",
        Measure::P95Amount => "p95_amount",
        Measure::FraudCount => "fraud_count",
        Measure::DeclinedCount => "declined_count",
        Measure::FailedCount => "failed_count",
        Measure::RefundedCount => "refunded_count",
    }
}

const MEASURE_GROUP: &str =
    "jsonb_build_object('payment_type', payment_type, 'currency', currency)::text";

/// Judges every alert against what the close at `now` wrote, and stores the changes.
///
/// # Errors
/// [`StoreError::Query`]; each alert's changes are one transaction.
pub async fn evaluate_alerts(
    client: &mut Client,
    alerts: &[Alert],
    now: DateTime<Utc>,
) -> Result<Vec<Transition>, StoreError> {
    let mut transitions = Vec::new();
    for alert in alerts {
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::query("starting the alerts transaction"))?;
        transitions.extend(evaluate(&tx, alert, now).await?);
        tx.commit()
            .await
            .map_err(StoreError::query("committing the alerts"))?;
    }
    Ok(transitions)
}

/// An open alert of a group.
struct Open {
    id: i64,
    first_window: DateTime<Utc>,
    last_window: DateTime<Utc>,
}

async fn evaluate(
    tx: &Transaction<'_>,
    alert: &Alert,
    now: DateTime<Utc>,
) -> Result<Vec<Transition>, StoreError> {
    let changed = changed_windows(tx, &alert.source, now).await?;
    let mut open = open_alerts(tx, &alert.name).await?;
    let Some(latest) = changed.iter().map(|(w, _)| *w).max() else {
        return Ok(Vec::new());
    };
    // Per group, the windows to judge, in order.
    let mut judged: BTreeMap<String, BTreeSet<DateTime<Utc>>> = BTreeMap::new();
    for (window, group) in &changed {
        judged.entry(group.clone()).or_default().insert(*window);
    }
    for group in open.keys() {
        judged.entry(group.clone()).or_default().insert(latest);
    }
    let earliest = judged
        .values()
        .filter_map(|w| w.first().copied())
        .min()
        .unwrap_or(latest);
    let series = read_series(
        tx,
        &alert.source,
        earliest - alerts::lookback(alert),
        latest,
    )
    .await?;
    let empty = BTreeMap::new();
    let mut transitions = Vec::new();
    for (group, windows) in &judged {
        let samples = series.get(group).unwrap_or(&empty);
        let windows: Vec<DateTime<Utc>> = windows.iter().copied().collect();
        for verdict in alerts::judge_all(alert, samples, &windows) {
            if let Some(t) = step(tx, alert, group, &verdict, &mut open, now).await? {
                transitions.push(t);
            }
        }
    }
    Ok(transitions)
}

/// Applies one verdict to the group's state; returns the transition it made, if any.
async fn step(
    tx: &Transaction<'_>,
    alert: &Alert,
    group: &str,
    verdict: &Verdict,
    open: &mut BTreeMap<String, Open>,
    now: DateTime<Utc>,
) -> Result<Option<Transition>, StoreError> {
    let width = chrono::TimeDelta::seconds(alert.source.window_seconds());
    let value = verdict.value;
    let baseline = verdict.baseline;
    let transition = |state, first_window, last_window| Transition {
        alert: alert.name.clone(),
        severity: alert.severity,
        description: alert.description.clone(),
        state,
        group_key: serde_json::from_str(group).unwrap_or(Value::Null),
        window_start: verdict.window_start,
        first_window,
        last_window,
        value,
        baseline,
    };
    if verdict.fires(alert) {
        if let Some(o) = open.get_mut(group) {
            if verdict.window_start > o.last_window {
                o.last_window = verdict.window_start;
                tx.execute_typed(
                    "UPDATE metric_alerts SET last_window = $2, value = $3::float8::numeric,
                            baseline = $4::float8::numeric
                     WHERE id = $1",
                    &[
                        (&o.id, Type::INT8),
                        (&o.last_window, Type::TIMESTAMPTZ),
                        (&value, Type::FLOAT8),
                        (&baseline, Type::FLOAT8),
                    ],
                )
                .await
                .map_err(StoreError::query("updating a firing alert"))?;
            }
            return Ok(None);
        }
        let first_window =
            verdict.window_start - width * i32::try_from(verdict.streak - 1).unwrap_or(0);
        if extend_resolved(tx, alert, group, first_window - width, verdict.window_start).await? {
            // Late data revised a window of a breach already told and resolved: the
            // breach is that alert, not a new one.
            return Ok(None);
        }
        let id = fire(tx, alert, group, verdict, first_window, now).await?;
        open.insert(
            group.to_owned(),
            Open {
                id,
                first_window,
                last_window: verdict.window_start,
            },
        );
        return Ok(Some(transition(
            "fired",
            first_window,
            verdict.window_start,
        )));
    }
    let Some(o) = open.get(group) else {
        return Ok(None);
    };
    if verdict.window_start < o.last_window {
        // An earlier window of the breach was revised; the later ones still breach.
        return Ok(None);
    }
    let (id, first_window, last_window) = (o.id, o.first_window, o.last_window);
    open.remove(group);
    tx.execute_typed(
        "UPDATE metric_alerts SET state = 'resolved', resolved_at = $2 WHERE id = $1",
        &[(&id, Type::INT8), (&now, Type::TIMESTAMPTZ)],
    )
    .await
    .map_err(StoreError::query("resolving an alert"))?;
    Ok(Some(transition("resolved", first_window, last_window)))
}

/// Extends the group's resolved alert whose windows reach `[from, to]`, if there is one.
async fn extend_resolved(
    tx: &Transaction<'_>,
    alert: &Alert,
    group: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = tx
        .execute_typed(
            "UPDATE metric_alerts SET last_window = greatest(last_window, $4)
             WHERE id = (SELECT id FROM metric_alerts
                         WHERE alert = $1 AND group_key = $2::text::jsonb AND state = 'resolved'
                           AND last_window >= $3 AND first_window <= $4
                         ORDER BY id DESC LIMIT 1)",
            &[
                (&alert.name, Type::TEXT),
                (&group, Type::TEXT),
                (&from, Type::TIMESTAMPTZ),
                (&to, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query("extending a resolved alert"))?;
    Ok(updated > 0)
}

/// Opens the group's alert; returns its id.
async fn fire(
    tx: &Transaction<'_>,
    alert: &Alert,
    group: &str,
    verdict: &Verdict,
    first_window: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let severity = i16::from(alert.severity);
    let row = tx
        .query_typed(
            "INSERT INTO metric_alerts (alert, group_key, severity, first_window, last_window,
                                        value, baseline, state, fired_at)
             VALUES ($1, $2::text::jsonb, $3, $4, $5, $6::float8::numeric,
                     $7::float8::numeric, 'firing', $8)
             RETURNING id",
            &[
                (&alert.name, Type::TEXT),
                (&group, Type::TEXT),
                (&severity, Type::INT2),
                (&first_window, Type::TIMESTAMPTZ),
                (&verdict.window_start, Type::TIMESTAMPTZ),
                (&verdict.value, Type::FLOAT8),
                (&verdict.baseline, Type::FLOAT8),
                (&now, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query("firing an alert"))?;
    Ok(row[0].get(0))
}

/// The (window, group) pairs the close at `now` wrote for this source.
async fn changed_windows(
    client: &impl GenericClient,
    source: &Source,
    now: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, String)>, StoreError> {
    let rows = match source {
        Source::Measure(_) => {
            client
                .query_typed(
                    &format!(
                        "SELECT window_start, {MEASURE_GROUP} FROM payment_metrics_5m
                         WHERE closed_at = $1"
                    ),
                    &[(&now, Type::TIMESTAMPTZ)],
                )
                .await
        }
        Source::Rule { name, .. } => {
            client
                .query_typed(
                    "SELECT window_start, group_key::text FROM dynamic_metrics
                     WHERE rule_name = $2 AND computed_at = $1",
                    &[(&now, Type::TIMESTAMPTZ), (name, Type::TEXT)],
                )
                .await
        }
    }
    .map_err(StoreError::query("reading the windows just closed"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn open_alerts(
    client: &impl GenericClient,
    alert: &str,
) -> Result<BTreeMap<String, Open>, StoreError> {
    let rows = client
        .query_typed(
            "SELECT id, group_key::text, first_window, last_window FROM metric_alerts
             WHERE alert = $1 AND state = 'firing'",
            &[(&alert, Type::TEXT)],
        )
        .await
        .map_err(StoreError::query("reading firing alerts"))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(1),
                Open {
                    id: r.get(0),
                    first_window: r.get(2),
                    last_window: r.get(3),
                },
            )
        })
        .collect())
}

/// Every group's windows in `[from, to]`, by the group's canonical JSON text.
async fn read_series(
    client: &impl GenericClient,
    source: &Source,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<String, BTreeMap<DateTime<Utc>, Sample>>, StoreError> {
    let rows = match source {
        Source::Measure(measure) => {
            client
                .query_typed(
                    &format!(
                        "SELECT window_start, {MEASURE_GROUP}, ({})::float8, txn_count
                         FROM payment_metrics_5m WHERE window_start BETWEEN $1 AND $2",
                        measure_sql(*measure)
                    ),
                    &[(&from, Type::TIMESTAMPTZ), (&to, Type::TIMESTAMPTZ)],
                )
                .await
        }
        Source::Rule { name, .. } => {
            client
                .query_typed(
                    "SELECT window_start, group_key::text, value::float8, sample_count
                     FROM dynamic_metrics
                     WHERE rule_name = $3 AND window_start BETWEEN $1 AND $2",
                    &[
                        (&from, Type::TIMESTAMPTZ),
                        (&to, Type::TIMESTAMPTZ),
                        (name, Type::TEXT),
                    ],
                )
                .await
        }
    }
    .map_err(StoreError::query("reading an alert's series"))?;
    let mut series: BTreeMap<String, BTreeMap<DateTime<Utc>, Sample>> = BTreeMap::new();
    for r in &rows {
        series.entry(r.get(1)).or_default().insert(
            r.get(0),
            Sample {
                value: r.get(2),
                samples: r.get(3),
            },
        );
    }
    Ok(series)
}

/// An alert as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(
    missing_docs,
    reason = "the fields are the columns of metric_alerts, described in docs/ALERTS.md"
)]
pub struct AlertRow {
    pub id: i64,
    pub alert: String,
    pub group_key: Value,
    pub severity: i16,
    pub first_window: DateTime<Utc>,
    pub last_window: DateTime<Utc>,
    pub value: Option<String>,
    pub baseline: Option<String>,
    pub state: String,
    pub fired_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Alerts firing now, and those resolved since `since`, the most recent first.
///
/// # Errors
/// [`StoreError::Query`].
pub async fn recent_alerts(
    client: &impl GenericClient,
    since: DateTime<Utc>,
) -> Result<Vec<AlertRow>, StoreError> {
    let rows = client
        .query_typed(
            "SELECT id, alert, group_key, severity, first_window, last_window, value::text,
                    baseline::text, state, fired_at, resolved_at
             FROM metric_alerts
             WHERE state = 'firing' OR resolved_at >= $1
             ORDER BY state = 'firing' DESC, fired_at DESC, id DESC",
            &[(&since, Type::TIMESTAMPTZ)],
        )
        .await
        .map_err(StoreError::query("reading metric_alerts"))?;
    Ok(rows
        .iter()
        .map(|r| AlertRow {
            id: r.get(0),
            alert: r.get(1),
            group_key: r.get(2),
            severity: r.get(3),
            first_window: r.get(4),
            last_window: r.get(5),
            value: r.get(6),
            baseline: r.get(7),
            state: r.get(8),
            fired_at: r.get(9),
            resolved_at: r.get(10),
        })
        .collect())
}
