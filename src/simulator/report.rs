//! A readable summary of what the pipeline produced, for the demo and for people.

use std::fmt::Write as _;

use tokio_postgres::GenericClient;

use crate::store::StoreError;

/// Writes a titled table with right-aligned columns as wide as their widest cell.
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

/// The latest `payment_metrics_5m` rows, the latest rule results, rejects by reason and
/// the latest merchant clusters, as text tables of at most `limit` rows (all the reject
/// reasons and clusters).
///
/// # Errors
/// [`StoreError`] when the database cannot be read.
pub async fn report(client: &impl GenericClient, limit: i64) -> Result<String, StoreError> {
    let mut out = String::new();
    for section in SECTIONS {
        let rows = section_rows(client, section, limit).await?;
        table(&mut out, section.title, section.header, &rows);
    }
    Ok(out)
}
