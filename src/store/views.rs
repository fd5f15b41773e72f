//! What the HTTP API and the dashboard read: closed windows, rule metrics, the latest
//! segmentation run, declines and ingest health over a time range. Read-only; every
//! value the caller chose is a bound parameter.
//!
//! Exact decimals (`numeric`) are read as PostgreSQL's own text, so an amount reaches
//! the caller digit for digit; the charts convert them to `f64` only to draw.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::GenericClient;
use tokio_postgres::types::{ToSql, Type};

use super::StoreError;
use crate::domain::{Currency, PaymentType};

/// A half-open time range `[from, to)` and the optional filters of a read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selection {
    /// Start, inclusive.
    pub from: DateTime<Utc>,
    /// End, exclusive.
    pub to: DateTime<Utc>,
    /// Only this payment type.
    pub payment_type: Option<PaymentType>,
    /// Only this currency.
    pub currency: Option<Currency>,
}

/// One row of `payment_metrics_5m`, every column, amounts as exact decimal text.
#[allow(
    missing_docs,
    reason = "the fields are the columns of the table, described in docs/API.md"
)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics5mRow {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub payment_type: String,
    pub currency: String,
    pub txn_count: i64,
    pub approved_count: i64,
    pub declined_count: i64,
    pub failed_count: i64,
    pub pending_count: i64,
    pub refunded_count: i64,
    pub total_amount: String,
    pub approved_amount: String,
    pub avg_amount: String,
    pub min_amount: String,
    pub max_amount: String,
    pub p50_amount: String,
    pub p95_amount: String,
    pub p99_amount: String,
    pub unique_customers: i64,
    pub unique_merchants: i64,
    pub fraud_count: i64,
    /// `null` for a window without a decided transaction.
    pub approval_rate: Option<String>,
    pub late_events: i64,
    pub revision: i32,
    pub closed_at: DateTime<Utc>,
}

/// The closed 5-minute windows that start in the selection, ordered by window, payment
/// type and currency.
///
/// # Errors
/// [`StoreError::Query`].
pub async fn metrics_5m(
    client: &impl GenericClient,
    selection: &Selection,
) -> Result<Vec<Metrics5mRow>, StoreError> {
    let rows = client
        .query_typed(
            "SELECT window_start, window_end, payment_type, currency, txn_count, approved_count,
                    declined_count, failed_count, pending_count, refunded_count,
                    total_amount::text, approved_amount::text, avg_amount::text,
                    min_amount::text, max_amount::text, p50_amount::text, p95_amount::text,
                    p99_amount::text, unique_customers, unique_merchants, fraud_count,
                    approval_rate::text, late_events, revision, closed_at
             FROM payment_metrics_5m
             WHERE window_start >= $1 AND window_start < $2
               AND ($3::text IS NULL OR payment_type = $3)
               AND ($4::text IS NULL OR currency = $4)
             ORDER BY window_start, payment_type, currency",
            &Bound::new(selection).params(),
        )
        .await
        .map_err(StoreError::query("reading payment_metrics_5m"))?;
    Ok(rows
        .iter()
        .map(|r| Metrics5mRow {
            window_start: r.get(0),
            window_end: r.get(1),
            payment_type: r.get(2),
            currency: r.get(3),
            txn_count: r.get(4),
            approved_count: r.get(5),
            declined_count: r.get(6),
            failed_count: r.get(7),
            pending_count: r.get(8),
            refunded_count: r.get(9),
            total_amount: r.get(10),
            approved_amount: r.get(11),
            avg_amount: r.get(12),
            min_amount: r.get(13),
            max_amount: r.get(14),
            p50_amount: r.get(15),
            p95_amount: r.get(16),
            p99_amount: r.get(17),
            unique_customers: r.get(18),
            unique_merchants: r.get(19),
            fraud_count: r.get(20),
            approval_rate: r.get(21),
            late_events: r.get(22),
            revision: r.get(23),
            closed_at: r.get(24),
        })
        .collect())
}

/// A selection's values, bound as `$1` from, `$2` to, `$3` payment type, `$4` currency.
struct Bound {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    payment_type: Option<&'static str>,
    currency: Option<&'static str>,
}

impl Bound {
    fn new(selection: &Selection) -> Self {
        Self {
            from: selection.from,
            to: selection.to,
            payment_type: selection.payment_type.map(PaymentType::as_str),
            currency: selection.currency.as_ref().map(Currency::code),
        }
    }

    fn params(&self) -> [(&(dyn ToSql + Sync), Type); 4] {
        [
            (&self.from, Type::TIMESTAMPTZ),
            (&self.to, Type::TIMESTAMPTZ),
            (&self.payment_type, Type::TEXT),
            (&self.currency, Type::TEXT),
        ]
    }
}

/// One row of `dynamic_metrics` for a rule.
#[allow(
    missing_docs,
    reason = "the fields are the columns of the table, described in docs/API.md"
)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleMetricRow {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// The group's values by `group_by` field (`{}` for a rule without groups).
    pub group_key: Value,
    /// Exact decimal text; `null` when the group had nothing to compute.
    pub value: Option<String>,
    pub sample_count: i64,
    pub rule_version: String,
    pub revision: i32,
    pub computed_at: DateTime<Utc>,
}

/// The rows of `rule` for windows that start in `[from, to)`, by window and group.
///
/// # Errors
/// [`StoreError::Query`].
pub async fn rule_metrics(
    client: &impl GenericClient,
    rule: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RuleMetricRow>, StoreError> {
    let rows = client
        .query_typed(
            "SELECT window_start, window_end, group_key, value::text, sample_count,
                    rule_version, revision, computed_at
             FROM dynamic_metrics
             WHERE rule_name = $1 AND window_start >= $2 AND window_start < $3
             ORDER BY window_start, group_key::text",
            &[
                (&rule, Type::TEXT),
                (&from, Type::TIMESTAMPTZ),
                (&to, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query("reading dynamic_metrics"))?;
    Ok(rows
        .iter()
        .map(|r| RuleMetricRow {
            window_start: r.get(0),
            window_end: r.get(1),
            group_key: r.get(2),
            value: r.get(3),
            sample_count: r.get(4),
            rule_version: r.get(5),
            revision: r.get(6),
            computed_at: r.get(7),
        })
        .collect())
}

/// The latest merchant segmentation run.
#[allow(
    missing_docs,
    reason = "the fields are the columns of the table, described in docs/API.md"
)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterRun {
    pub run_id: i64,
    pub computed_at: DateTime<Utc>,
    /// The period whose transactions were clustered, `[period_start, period_end)`.
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub k: i32,
    /// Feature names, in the order of the run.
    pub features: Vec<String>,
    pub seed: i64,
    /// Merchants clustered.
    pub merchants: i32,
    /// One per cluster, by cluster id.
    pub centroids: Vec<Centroid>,
    /// Every merchant of the run, outliers first, then by cluster and distance.
    pub members: Vec<Member>,
}

/// A cluster's centre.
#[allow(
    missing_docs,
    reason = "the fields are the columns of the table, described in docs/API.md"
)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Centroid {
    pub cluster_id: i32,
    pub size: i32,
    /// Feature name to the centroid's value, in the feature's own units.
    pub centroid: Value,
}

/// A merchant's place in the run.
#[allow(
    missing_docs,
    reason = "the fields are the columns of the table, described in docs/API.md"
)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub merchant_id: String,
    pub cluster_id: i32,
    /// Euclidean distance to its centroid, in standardized feature units.
    pub distance: f64,
    pub is_outlier: bool,
    /// Feature name to the merchant's value.
    pub features: Value,
}

/// The latest run, or `None` before the first.
///
/// # Errors
/// [`StoreError::Query`].
pub async fn latest_cluster_run(
    client: &impl GenericClient,
) -> Result<Option<ClusterRun>, StoreError> {
    let Some(run) = client
        .query_opt(
            "SELECT run_id, computed_at, period_start, period_end, k, features, seed, merchants
             FROM merchant_cluster_runs ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(StoreError::query("reading merchant_cluster_runs"))?
    else {
        return Ok(None);
    };
    let run_id: i64 = run.get(0);
    let centroids = client
        .query_typed(
            "SELECT cluster_id, size, centroid FROM merchant_cluster_centroids
             WHERE run_id = $1 ORDER BY cluster_id",
            &[(&run_id, Type::INT8)],
        )
        .await
        .map_err(StoreError::query("reading merchant_cluster_centroids"))?
        .iter()
        .map(|r| Centroid {
            cluster_id: r.get(0),
            size: r.get(1),
            centroid: r.get(2),
        })
        .collect();
    let members = client
        .query_typed(
            "SELECT merchant_id, cluster_id, distance, is_outlier, features FROM merchant_clusters
             WHERE run_id = $1 ORDER BY is_outlier DESC, cluster_id, distance DESC, merchant_id",
            &[(&run_id, Type::INT8)],
        )
        .await
        .map_err(StoreError::query("reading merchant_clusters"))?
        .iter()
        .map(|r| Member {
            merchant_id: r.get(0),
            cluster_id: r.get(1),
            distance: r.get(2),
            is_outlier: r.get(3),
            features: r.get(4),
        })
        .collect();
    Ok(Some(ClusterRun {
        run_id,
        computed_at: run.get(1),
        period_start: run.get(2),
        period_end: run.get(3),
        k: run.get(4),
        features: run.get(5),
        seed: run.get(6),
        merchants: run.get(7),
        centroids,
        members,
    }))
}

/// One point of a series: a time, a series name, a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The start of the point's window or hour.
    pub at: DateTime<Utc>,
    /// Which line it belongs to (a payment type, a category, a rule's group).
    pub series: String,
    /// Its value.
    pub value: f64,
}

/// A label's count out of a total (`declined` of all, per merchant category).
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// What is counted (a category, a reason).
    pub label: String,
    /// How many of `total` it has.
    pub count: i64,
    /// Out of how many.
    pub total: i64,
}

/// A 5-minute window recomputed for late data (all its rows are recomputed together).
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The window's start.
    pub window_start: DateTime<Utc>,
    /// Late transactions in the window, over the selected types and currencies.
    pub late_events: i64,
    /// Times the window was computed.
    pub revision: i32,
    /// Payment type and currency rows of the window that received late transactions.
    pub rows_with_late_data: i64,
    /// When it was last computed.
    pub closed_at: DateTime<Utc>,
}

/// What ingest did in one hour.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IngestHour {
    /// Transactions stored for the first time.
    pub accepted: i64,
    /// Events whose transaction was stored already.
    pub duplicates: i64,
    /// Quarantined events by reason.
    pub rejected: BTreeMap<String, i64>,
}

/// Everything the dashboard draws, for one selection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DashboardData {
    /// Transactions per 5-minute window, by payment type.
    pub volume: Vec<Point>,
    /// Approved share of the window's transactions, by payment type.
    pub approval_rate: Vec<Point>,
    /// Declines per 5 minutes by merchant category (event time, from the stored
    /// transactions; the largest categories, the rest as `other`).
    pub declines: Vec<Point>,
    /// Declined share per merchant category, largest first.
    pub decline_rate_by_category: Vec<Share>,
    /// Declines per reason, largest first (`total` is all declines).
    pub declines_by_reason: Vec<Share>,
    /// Windows recomputed for late data, in window order.
    pub revisions: Vec<Revision>,
    /// Rule values by rule name; each point's series is the group.
    pub rules: BTreeMap<String, Vec<Point>>,
    /// Ingest per hour of the handler's clock.
    pub ingest: BTreeMap<DateTime<Utc>, IngestHour>,
    /// The latest segmentation run.
    pub clusters: Option<ClusterRun>,
    /// Alerts firing now and those resolved in the range.
    pub alerts: Vec<super::AlertRow>,
}

/// Categories drawn apart in the declines chart; the rest are summed as `other`.
const DECLINE_CATEGORIES: i64 = 6;

/// Reads everything the dashboard shows for `selection`, and the values of `rules`.
///
/// # Errors
/// [`StoreError::Query`].
pub async fn dashboard_data(
    client: &impl GenericClient,
    selection: &Selection,
    rules: &[&str],
) -> Result<DashboardData, StoreError> {
    let bound = Bound::new(selection);
    let params = bound.params();
    let (volume, approval_rate) = window_points(client, &bound).await?;
    let mut data = DashboardData {
        volume,
        approval_rate,
        declines: declines_per_window(client, &bound).await?,
        ..DashboardData::default()
    };
    data.decline_rate_by_category = shares(
        client,
        "SELECT coalesce(merchant_category, '(none)'),
                count(*) FILTER (WHERE status = 'declined'), count(*)
         FROM normalized_transactions
         WHERE occurred_at >= $1 AND occurred_at < $2
           AND ($3::text IS NULL OR payment_type = $3)
           AND ($4::text IS NULL OR currency = $4)
         GROUP BY 1
         ORDER BY count(*) FILTER (WHERE status = 'declined')::float8 / count(*) DESC, 1",
        &params,
        "reading the decline rate by category",
    )
    .await?;
    data.declines_by_reason = shares(
        client,
        "SELECT coalesce(decline_reason, '(none)'), count(*), sum(count(*)) OVER ()::bigint
         FROM normalized_transactions
         WHERE occurred_at >= $1 AND occurred_at < $2 AND status = 'declined'
           AND ($3::text IS NULL OR payment_type = $3)
           AND ($4::text IS NULL OR currency = $4)
         GROUP BY 1 ORDER BY 2 DESC, 1",
        &params,
        "reading declines by reason",
    )
    .await?;
    data.revisions = revised_windows(client, &bound).await?;
    data.rules = rule_points(client, selection, rules).await?;
    data.ingest = ingest_hours(client, selection).await?;
    data.clusters = latest_cluster_run(client).await?;
    data.alerts = super::recent_alerts(client, selection.from).await?;
    Ok(data)
}

/// Volume and approval rate per window and payment type.
async fn window_points(
    client: &impl GenericClient,
    bound: &Bound,
) -> Result<(Vec<Point>, Vec<Point>), StoreError> {
    let windows = client
        .query_typed(
            "SELECT window_start, payment_type, sum(txn_count)::float8,
                    sum(approved_count)::float8
                      / nullif(sum(approved_count + declined_count + failed_count), 0)
             FROM payment_metrics_5m
             WHERE window_start >= $1 AND window_start < $2
               AND ($3::text IS NULL OR payment_type = $3)
               AND ($4::text IS NULL OR currency = $4)
             GROUP BY 1, 2 ORDER BY 1, 2",
            &bound.params(),
        )
        .await
        .map_err(StoreError::query("reading volume and approval rate"))?;
    let (mut volume, mut approval) = (Vec::new(), Vec::new());
    for r in &windows {
        let at: DateTime<Utc> = r.get(0);
        let series: String = r.get(1);
        volume.push(Point {
            at,
            series: series.clone(),
            value: r.get(2),
        });
        if let Some(rate) = r.get::<_, Option<f64>>(3) {
            approval.push(Point {
                at,
                series,
                value: rate,
            });
        }
    }
    Ok((volume, approval))
}

/// Declines per 5 minutes of event time by merchant category.
async fn declines_per_window(
    client: &impl GenericClient,
    bound: &Bound,
) -> Result<Vec<Point>, StoreError> {
    Ok(client
        .query_typed(
            "WITH declined AS (
                 SELECT coalesce(merchant_category, '(none)') AS category,
                        date_bin('5 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00') AS at
                 FROM normalized_transactions
                 WHERE occurred_at >= $1 AND occurred_at < $2 AND status = 'declined'
                   AND ($3::text IS NULL OR payment_type = $3)
                   AND ($4::text IS NULL OR currency = $4)),
             top AS (
                 SELECT category FROM declined GROUP BY category
                 ORDER BY count(*) DESC, category LIMIT $5)
             SELECT at, CASE WHEN category IN (SELECT category FROM top) THEN category
                             ELSE 'other' END AS series, count(*)::float8
             FROM declined GROUP BY 1, 2 ORDER BY 1, 2",
            &[
                (&bound.from, Type::TIMESTAMPTZ),
                (&bound.to, Type::TIMESTAMPTZ),
                (&bound.payment_type, Type::TEXT),
                (&bound.currency, Type::TEXT),
                (&DECLINE_CATEGORIES, Type::INT8),
            ],
        )
        .await
        .map_err(StoreError::query("reading declines per window"))?
        .iter()
        .map(|r| Point {
            at: r.get(0),
            series: r.get(1),
            value: r.get(2),
        })
        .collect())
}

/// Windows recomputed for late data.
async fn revised_windows(
    client: &impl GenericClient,
    bound: &Bound,
) -> Result<Vec<Revision>, StoreError> {
    Ok(client
        .query_typed(
            "SELECT window_start, sum(late_events)::bigint, max(revision),
                    count(*) FILTER (WHERE late_events > 0), max(closed_at)
             FROM payment_metrics_5m
             WHERE window_start >= $1 AND window_start < $2 AND revision > 1
               AND ($3::text IS NULL OR payment_type = $3)
               AND ($4::text IS NULL OR currency = $4)
             GROUP BY window_start ORDER BY window_start",
            &bound.params(),
        )
        .await
        .map_err(StoreError::query("reading revised windows"))?
        .iter()
        .map(|r| Revision {
            window_start: r.get(0),
            late_events: r.get(1),
            revision: r.get(2),
            rows_with_late_data: r.get(3),
            closed_at: r.get(4),
        })
        .collect())
}

async fn shares(
    client: &impl GenericClient,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
    reading: &'static str,
) -> Result<Vec<Share>, StoreError> {
    Ok(client
        .query_typed(sql, params)
        .await
        .map_err(StoreError::query(reading))?
        .iter()
        .map(|r| Share {
            label: r.get(0),
            count: r.get(1),
            total: r.get(2),
        })
        .collect())
}

async fn rule_points(
    client: &impl GenericClient,
    selection: &Selection,
    rules: &[&str],
) -> Result<BTreeMap<String, Vec<Point>>, StoreError> {
    let mut points: BTreeMap<String, Vec<Point>> = rules
        .iter()
        .map(|r| ((*r).to_owned(), Vec::new()))
        .collect();
    if rules.is_empty() {
        return Ok(points);
    }
    // A group's label is its values, `merchant_category=electronics`; `all` without groups.
    let rows = client
        .query_typed(
            "SELECT rule_name, window_start,
                    coalesce((SELECT string_agg(key || '=' || coalesce(value #>> '{}', 'null'), ', '
                                                ORDER BY key)
                              FROM jsonb_each(group_key)), 'all'),
                    value::float8
             FROM dynamic_metrics
             WHERE rule_name = ANY($3) AND window_start >= $1 AND window_start < $2
               AND value IS NOT NULL
             ORDER BY rule_name, window_start, 3",
            &[
                (&selection.from, Type::TIMESTAMPTZ),
                (&selection.to, Type::TIMESTAMPTZ),
                (&rules, Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(StoreError::query("reading rule metrics"))?;
    for r in &rows {
        let rule: String = r.get(0);
        points.entry(rule).or_default().push(Point {
            at: r.get(1),
            series: r.get(2),
            value: r.get(3),
        });
    }
    Ok(points)
}

async fn ingest_hours(
    client: &impl GenericClient,
    selection: &Selection,
) -> Result<BTreeMap<DateTime<Utc>, IngestHour>, StoreError> {
    let range = [
        (&selection.from as &(dyn ToSql + Sync), Type::TIMESTAMPTZ),
        (&selection.to, Type::TIMESTAMPTZ),
    ];
    let mut hours: BTreeMap<DateTime<Utc>, IngestHour> = BTreeMap::new();
    let counted = client
        .query_typed(
            "SELECT hour, sum(accepted)::bigint, sum(duplicates)::bigint FROM ingest_counts
             WHERE hour >= date_trunc('hour', $1, 'UTC') AND hour < $2
             GROUP BY hour ORDER BY hour",
            &range,
        )
        .await
        .map_err(StoreError::query("reading ingest_counts"))?;
    for r in &counted {
        let hour = hours.entry(r.get(0)).or_default();
        hour.accepted = r.get(1);
        hour.duplicates = r.get(2);
    }
    let rejected = client
        .query_typed(
            "SELECT date_trunc('hour', rejected_at, 'UTC'), reason, count(*) FROM rejected_events
             WHERE rejected_at >= date_trunc('hour', $1, 'UTC') AND rejected_at < $2
             GROUP BY 1, 2 ORDER BY 1, 2",
            &range,
        )
        .await
        .map_err(StoreError::query("reading rejected_events by hour"))?;
    for r in &rejected {
        hours
            .entry(r.get(0))
            .or_default()
            .rejected
            .insert(r.get(1), r.get(2));
    }
    Ok(hours)
}
