//! Ingest's side of window closing: marking the windows a batch adds transactions to as
//! changed, and counting the ones that arrive in windows already closed as late.
//!
//! The marking upsert is the last statement of the batch's transaction and takes the
//! window rows in one order, (width, start), so concurrent batches cannot deadlock; the
//! parent module says why nothing is missed or counted twice.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use super::width_param;
use crate::engine::Window;
use crate::engine::windows::FIVE_MINUTES;
use crate::ingest::Accepted;
use crate::store::StoreError;

/// Marks the windows (of every width in `widths`) of newly stored transactions as
/// changed; counts the ones that arrive in windows already closed as late, per window and,
/// for the 5-minute windows, per (payment type, currency).
pub(crate) async fn mark_windows(
    client: &impl GenericClient,
    fresh: &[Accepted],
    widths: &[i64],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    if fresh.is_empty() {
        return Ok(0);
    }
    // (width, start) in one order for every writer, so concurrent batches cannot deadlock.
    let mut per_window: BTreeMap<(i64, DateTime<Utc>), i64> = BTreeMap::new();
    for item in fresh {
        for &width in widths {
            let window = Window::containing(item.transaction.occurred_at, width);
            *per_window.entry((width, window.start())).or_default() += 1;
        }
    }
    let widths_col: Vec<i32> = per_window.keys().map(|k| width_param(k.0)).collect();
    let starts: Vec<DateTime<Utc>> = per_window.keys().map(|k| k.1).collect();
    let counts: Vec<i64> = per_window.values().copied().collect();
    let rows = client
        .query_typed(
            "INSERT INTO window_state (width_seconds, window_start, window_end, events, changed_at)
             SELECT w, ws, ws + w * interval '1 second', n, $4
             FROM unnest($1::integer[], $2::timestamptz[], $3::bigint[]) AS u(w, ws, n)
             ORDER BY w, ws
             ON CONFLICT (width_seconds, window_start) DO UPDATE SET
                 dirty = true,
                 events = window_state.events + EXCLUDED.events,
                 late_events = window_state.late_events
                     + CASE WHEN window_state.closed_at IS NULL THEN 0 ELSE EXCLUDED.events END,
                 changed_at = EXCLUDED.changed_at
             RETURNING width_seconds, window_start, closed_at IS NOT NULL",
            &[
                (&widths_col, Type::INT4_ARRAY),
                (&starts, Type::TIMESTAMPTZ_ARRAY),
                (&counts, Type::INT8_ARRAY),
                (&now, Type::TIMESTAMPTZ),
            ],
        )
        .await
        .map_err(StoreError::query("marking changed windows"))?;
    let late: BTreeSet<DateTime<Utc>> = rows
        .iter()
        .filter(|row| row.get::<_, i32>(0) == width_param(FIVE_MINUTES) && row.get::<_, bool>(2))
        .map(|row| row.get(1))
        .collect();
    if late.is_empty() {
        return Ok(0);
    }
    let mut groups: BTreeMap<(DateTime<Utc>, &str, &str), i64> = BTreeMap::new();
    for item in fresh {
        let start = Window::containing(item.transaction.occurred_at, FIVE_MINUTES).start();
        if late.contains(&start) {
            let key = (
                start,
                item.transaction.payment_type.as_str(),
                item.transaction.money.currency().code(),
            );
            *groups.entry(key).or_default() += 1;
        }
    }
    let starts: Vec<DateTime<Utc>> = groups.keys().map(|k| k.0).collect();
    let types: Vec<&str> = groups.keys().map(|k| k.1).collect();
    let currencies: Vec<&str> = groups.keys().map(|k| k.2).collect();
    let counts: Vec<i64> = groups.values().copied().collect();
    client
        .execute_typed(
            "INSERT INTO late_events_5m (window_start, payment_type, currency, late_events)
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[])
             ORDER BY 1, 2, 3
             ON CONFLICT (window_start, payment_type, currency) DO UPDATE
             SET late_events = late_events_5m.late_events + EXCLUDED.late_events",
            &[
                (&starts, Type::TIMESTAMPTZ_ARRAY),
                (&types, Type::TEXT_ARRAY),
                (&currencies, Type::TEXT_ARRAY),
                (&counts, Type::INT8_ARRAY),
            ],
        )
        .await
        .map_err(StoreError::query("counting late events"))?;
    Ok(counts.iter().sum::<i64>().max(0) as usize)
}
