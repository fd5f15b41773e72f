//! A readable summary of what the pipeline produced, for the demo and for people.

use std::fmt::Write as _;

use tokio_postgres::GenericClient;

use crate::store::{self, StoreError};

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

/// The latest `payment_metrics_5m` rows, the latest rule results, rejects by reason and
/// the latest merchant clusters, as text tables of at most `limit` rows (all the reject
/// reasons and clusters).
///
/// # Errors
/// [`StoreError`] when the database cannot be read.
pub async fn report(client: &impl GenericClient, limit: i64) -> Result<String, StoreError> {
    let mut out = String::new();
    for section in store::report_tables(client, limit).await? {
        table(&mut out, section.title, section.header, &section.rows);
    }
    Ok(out)
}
