//! Read-only views of what the pipeline produced, for people (`simulator report`) and for
//! checks against a ground truth (`simulator check`). They change nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::GenericClient;

use super::StoreError;
use crate::engine::windows::FIVE_MINUTES;

/// One table of the report, as text (NULL as empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTable {
    /// What the table shows.
    pub title: &'static str,
    /// Column headings.
    pub header: &'static [&'static str],
    /// The rows, each as wide as `header`.
    pub rows: Vec<Vec<String>>,
}

/// One table of the report: its query, and how to show it.
struct Section {
    title: &'static str,
    header: &'static [&'static str],
    /// Returns text columns; `$1`, when present, is the row limit.
    sql: &'static str,
    /// What was being read, for the error.
    reading: &'static str,
}

/// The report's tables, in order.
const SECTIONS: &[Section] = &[
    Section {
        title: "payment_metrics_5m (latest windows)",
        header: &[
            "window (UTC)",
            "type",
            "cur",
            "txns",
            "appr",
            "decl",
            "total",
            "avg",
            "p95",
            "approval",
            "late",
            "rev",
        ],
        sql: "SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), payment_type, currency,
                    txn_count::text, approved_count::text, declined_count::text, total_amount::text,
                    round(avg_amount, 2)::text, round(p95_amount, 2)::text,
                    round(approval_rate, 3)::text, late_events::text, revision::text
             FROM payment_metrics_5m
             ORDER BY window_start DESC, txn_count DESC LIMIT $1",
        reading: "reading payment_metrics_5m",
    },
    Section {
        title: "dynamic_metrics (latest window of each rule)",
        header: &["rule", "window (UTC)", "group", "value", "samples"],
        sql: "SELECT rule_name, to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                    group_key::text, round(value, 4)::text, sample_count::text
             FROM (SELECT *, rank() OVER (PARTITION BY rule_name ORDER BY window_start DESC) AS r
                   FROM dynamic_metrics) d
             WHERE r = 1
             ORDER BY rule_name, value DESC NULLS LAST LIMIT $1",
        reading: "reading dynamic_metrics",
    },
    Section {
        title: "rejected_events by reason",
        header: &["reason", "events"],
        sql: "SELECT reason, count(*)::text FROM rejected_events GROUP BY reason ORDER BY count(*) DESC",
        reading: "reading rejected_events",
    },
    Section {
        title: "merchant clusters (latest run)",
        header: &["cluster", "merchants", "centroid"],
        sql: "SELECT cluster_id::text, size::text, centroid::text FROM merchant_cluster_centroids_latest ORDER BY cluster_id",
        reading: "reading merchant clusters",
    },
];

/// A section's rows as text (NULL as empty).
async fn section_rows(
    client: &impl GenericClient,
    section: &Section,
    limit: i64,
) -> Result<Vec<Vec<String>>, StoreError> {
    let rows = if section.sql.contains("$1") {
        client.query(section.sql, &[&limit]).await
    } else {
        client.query(section.sql, &[]).await
    }
    .map_err(StoreError::query(section.reading))?;
    Ok(rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<_, Option<String>>(i).unwrap_or_default())
                .collect()
        })
        .collect())
}

/// The report's tables: the latest `payment_metrics_5m` rows, the latest rule results,
/// rejects by reason and the latest merchant clusters, at most `limit` rows each (all
/// the reject reasons and clusters).
///
/// # Errors
/// [`StoreError::Query`] naming the table that could not be read.
pub async fn report_tables(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<ReportTable>, StoreError> {
    let mut tables = Vec::with_capacity(SECTIONS.len());
    for section in SECTIONS {
        tables.push(ReportTable {
            title: section.title,
            header: section.header,
            rows: section_rows(client, section, limit).await?,
        });
    }
    Ok(tables)
}

/// The `payment_metrics_5m` rows whose window starts in `[first, last]`, each as the JSON
/// object PostgreSQL makes of it (`row_to_json`: numerics keep their exact text).
///
/// # Errors
/// [`StoreError::Query`] when the table cannot be read.
pub async fn metrics_5m_rows(
    client: &impl GenericClient,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Result<Vec<Value>, StoreError> {
    let rows = client
        .query(
            "SELECT row_to_json(m)::text FROM payment_metrics_5m m
             WHERE window_start >= $1 AND window_start <= $2",
            &[&first, &last],
        )
        .await
        .map_err(StoreError::query("reading payment_metrics_5m"))?;
    Ok(rows
        .iter()
        .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap_or(Value::Null))
        .collect())
}

/// The starts of the 5-minute windows that are closed and not reopened by late data.
///
/// # Errors
/// [`StoreError::Query`] when `window_state` cannot be read.
pub async fn closed_5m_windows(
    client: &impl GenericClient,
) -> Result<BTreeSet<DateTime<Utc>>, StoreError> {
    let width = i32::try_from(FIVE_MINUTES).expect("300 fits an integer");
    Ok(client
        .query(
            "SELECT window_start FROM window_state
             WHERE width_seconds = $1 AND closed_at IS NOT NULL AND NOT dirty",
            &[&width],
        )
        .await
        .map_err(StoreError::query("reading closed windows"))?
        .iter()
        .map(|row| row.get(0))
        .collect())
}
