//! A readable summary of what the pipeline produced, for the demo and for people.

use std::fmt::Write as _;

use tokio_postgres::GenericClient;

use crate::store::StoreError;

fn table(out: &mut String, title: &str, header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(out, "\n{title}");
    let _ = writeln!(out, "{}", line(header.to_vec()));
    let _ = writeln!(
        out,
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    if rows.is_empty() {
        let _ = writeln!(out, "(none)");
    }
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

/// The latest `payment_metrics_5m` rows, the latest rule results, and rejects by reason.
///
/// # Errors
/// [`StoreError`] when the database cannot be read.
pub async fn report(client: &impl GenericClient, limit: i64) -> Result<String, StoreError> {
    let mut out = String::new();
    let text_rows = |rows: Vec<tokio_postgres::Row>| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i).unwrap_or_default())
                    .collect()
            })
            .collect()
    };
    let metrics = client
        .query(
            "SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), payment_type, currency,
                    txn_count::text, approved_count::text, declined_count::text, total_amount::text,
                    round(avg_amount, 2)::text, round(p95_amount, 2)::text,
                    round(approval_rate, 3)::text, late_events::text, revision::text
             FROM payment_metrics_5m
             ORDER BY window_start DESC, txn_count DESC LIMIT $1",
            &[&limit],
        )
        .await
        .map_err(StoreError::query("reading payment_metrics_5m"))?;
    table(
        &mut out,
        "payment_metrics_5m (latest windows)",
        &[
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
        &text_rows(metrics),
    );
    let rules = client
        .query(
            "SELECT rule_name, to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                    group_key::text, round(value, 4)::text, sample_count::text
             FROM (SELECT *, rank() OVER (PARTITION BY rule_name ORDER BY window_start DESC) AS r
                   FROM dynamic_metrics) d
             WHERE r = 1
             ORDER BY rule_name, value DESC NULLS LAST LIMIT $1",
            &[&limit],
        )
        .await
        .map_err(StoreError::query("reading dynamic_metrics"))?;
    table(
        &mut out,
        "dynamic_metrics (latest window of each rule)",
        &["rule", "window (UTC)", "group", "value", "samples"],
        &text_rows(rules),
    );
    let rejects = client
        .query(
            "SELECT reason, count(*)::text FROM rejected_events GROUP BY reason ORDER BY count(*) DESC",
            &[],
        )
        .await
        .map_err(StoreError::query("reading rejected_events"))?;
    table(
        &mut out,
        "rejected_events by reason",
        &["reason", "events"],
        &text_rows(rejects),
    );
    let clusters = client
        .query(
            "SELECT cluster_id::text, size::text, centroid::text FROM merchant_cluster_centroids_latest ORDER BY cluster_id",
            &[],
        )
        .await
        .map_err(StoreError::query("reading merchant clusters"))?;
    table(
        &mut out,
        "merchant clusters (latest run)",
        &["cluster", "merchants", "centroid"],
        &text_rows(clusters),
    );
    Ok(out)
}
