//! Window closing: `window_state` bookkeeping and the set-based SQL that turns stored
//! transactions into `payment_metrics_5m`.
//!
//! Ingest marks every 5-minute window it adds transactions to (an upsert, the last
//! statement of its transaction). The timer locks due, changed windows
//! (`FOR UPDATE SKIP LOCKED`), recomputes their metric rows from `normalized_transactions`
//! and marks them closed with the next revision, all in one transaction. A transaction
//! committed while a window is being closed either was visible to the close (its upsert
//! came first, so the timer waited for it) or finds the window closed when it upserts and
//! marks it changed again, as late. Nothing is missed and nothing is counted twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient};

use super::StoreError;
use crate::engine::rules::Sql;
use crate::engine::windows::FIVE_MINUTES;
use crate::engine::{Rule, Window, WindowPolicy};
use crate::ingest::Accepted;
use crate::settings::RetentionPolicy;

/// Marks the windows (of every width in `widths`) of newly stored transactions as
/// changed; counts the ones that arrive in windows already closed as late, per window and,
/// for the 5-minute windows, per (payment type, currency).
pub(super) async fn mark_windows(
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
    let widths_col: Vec<i32> = per_window.keys().map(|k| k.0 as i32).collect();
    let starts: Vec<DateTime<Utc>> = per_window.keys().map(|k| k.1).collect();
    let counts: Vec<i64> = per_window.values().copied().collect();
    let rows = client
        .query(
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
            &[&widths_col, &starts, &counts, &now],
        )
        .await
        .map_err(StoreError::query("marking changed windows"))?;
    let late: BTreeSet<DateTime<Utc>> = rows
        .iter()
        .filter(|row| row.get::<_, i32>(0) == FIVE_MINUTES as i32 && row.get::<_, bool>(2))
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
        .execute(
            "INSERT INTO late_events_5m (window_start, payment_type, currency, late_events)
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[])
             ORDER BY 1, 2, 3
             ON CONFLICT (window_start, payment_type, currency) DO UPDATE
             SET late_events = late_events_5m.late_events + EXCLUDED.late_events",
            &[&starts, &types, &currencies, &counts],
        )
        .await
        .map_err(StoreError::query("counting late events"))?;
    Ok(counts.iter().sum::<i64>().max(0) as usize)
}

/// What one timer run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// Windows closed for the first time.
    pub closed: u64,
    /// Windows closed before and recomputed because late data changed them.
    pub recomputed: u64,
    /// `payment_metrics_5m` rows written.
    pub rows: u64,
    /// `dynamic_metrics` rows written.
    pub rule_rows: u64,
    /// Due, changed windows left for the next run (time budget spent, or locked by a
    /// concurrent run).
    pub remaining: u64,
    /// Rule computations run (one per rule and chunk).
    pub rules_evaluated: u64,
}

/// Now minus the end of the oldest window that is due and not closed (zero when none):
/// how far behind window closing is.
///
/// # Errors
/// [`StoreError`] when the state cannot be read.
pub async fn window_close_lag(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    policy: &WindowPolicy,
    widths: &[i64],
) -> Result<std::time::Duration, StoreError> {
    let widths: Vec<i32> = widths.iter().map(|w| *w as i32).collect();
    let oldest: Option<DateTime<Utc>> = client
        .query_one(
            "SELECT min(window_end) FROM window_state
             WHERE width_seconds = ANY($2::integer[]) AND dirty AND window_end <= $1",
            &[&policy.due_before(now), &widths],
        )
        .await
        .map_err(StoreError::query("reading the oldest due window"))?
        .get(0);
    Ok(oldest.map_or(std::time::Duration::ZERO, |end| {
        (now - end).to_std().unwrap_or_default()
    }))
}

/// Closes every due, changed window: the 5-minute windows into `payment_metrics_5m`,
/// and for each rule its windows into `dynamic_metrics`. Works in chunks of
/// `policy.windows_per_chunk` windows per transaction until none is left or
/// `policy.max_run_time` is spent.
///
/// # Errors
/// Any [`StoreError`]; chunks already committed stay closed.
pub async fn close_due_windows(
    client: &mut Client,
    now: DateTime<Utc>,
    policy: &WindowPolicy,
    rules: &[Rule],
) -> Result<CloseReport, StoreError> {
    let started = Instant::now();
    let due_before = policy.due_before(now);
    let mut widths: Vec<i64> = rules.iter().map(|r| r.window_seconds).collect();
    widths.push(FIVE_MINUTES);
    widths.sort_unstable();
    widths.dedup();
    let mut report = CloseReport::default();
    for &width in &widths {
        adopt_width(client, width, now).await?;
        let width_rules: Vec<&Rule> = rules.iter().filter(|r| r.window_seconds == width).collect();
        loop {
            let chunk = close_chunk(
                client,
                now,
                due_before,
                policy.windows_per_chunk,
                width,
                &width_rules,
            )
            .await?;
            report.closed += chunk.closed;
            report.recomputed += chunk.recomputed;
            report.rows += chunk.rows;
            report.rule_rows += chunk.rule_rows;
            report.rules_evaluated += chunk.rules_evaluated;
            if chunk.closed + chunk.recomputed < u64::from(policy.windows_per_chunk)
                || started.elapsed() >= policy.max_run_time
            {
                break;
            }
        }
        if started.elapsed() >= policy.max_run_time {
            break;
        }
    }
    let widths32: Vec<i32> = widths.iter().map(|w| *w as i32).collect();
    let remaining: i64 = client
        .query_one(
            "SELECT count(*) FROM window_state
             WHERE width_seconds = ANY($1::integer[]) AND dirty AND window_end <= $2",
            &[&widths32, &due_before],
        )
        .await
        .map_err(StoreError::query("counting remaining windows"))?
        .get(0);
    report.remaining = u64::try_from(remaining).unwrap_or(0);
    Ok(report)
}

/// The first time a window width is used (a rule with a new `window`), creates its
/// windows over all the history that has 5-minute windows, as changed, so the rule is
/// computed for every window, not only for those that receive transactions afterwards.
async fn adopt_width(
    client: &mut Client,
    width: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("starting to adopt a window width"))?;
    let new = tx
        .execute(
            "INSERT INTO window_widths (width_seconds, adopted_at) VALUES ($1, $2)
             ON CONFLICT (width_seconds) DO NOTHING",
            &[&(width as i32), &now],
        )
        .await
        .map_err(StoreError::query("recording a window width"))?;
    if new == 1 && width != FIVE_MINUTES {
        tx.execute(
            "INSERT INTO window_state (width_seconds, window_start, window_end, events, changed_at)
             SELECT DISTINCT $1::integer, w.start, w.start + $1::integer * interval '1 second', 0, $2::timestamptz
             FROM window_state f,
                  LATERAL generate_series(
                      to_timestamp(floor(extract(epoch FROM f.window_start) / $1::integer) * $1::integer),
                      f.window_end - interval '1 microsecond',
                      $1::integer * interval '1 second') AS w(start)
             WHERE f.width_seconds = 300
             ON CONFLICT (width_seconds, window_start) DO NOTHING",
            &[&(width as i32), &now],
        )
        .await
        .map_err(StoreError::query("creating the windows of a new width"))?;
    }
    tx.commit()
        .await
        .map_err(StoreError::query("adopting a window width"))
}

#[derive(Default)]
struct Chunk {
    closed: u64,
    recomputed: u64,
    rows: u64,
    rule_rows: u64,
    rules_evaluated: u64,
}

/// Closes one chunk of windows of one width in one transaction.
async fn close_chunk(
    client: &mut Client,
    now: DateTime<Utc>,
    due_before: DateTime<Utc>,
    limit: u32,
    width: i64,
    rules: &[&Rule],
) -> Result<Chunk, StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("starting a window close"))?;
    let due = tx
        .query(
            "SELECT window_start, revision FROM window_state
             WHERE width_seconds = $1 AND dirty AND window_end <= $2
             ORDER BY window_start
             LIMIT $3
             FOR UPDATE SKIP LOCKED",
            &[&(width as i32), &due_before, &i64::from(limit)],
        )
        .await
        .map_err(StoreError::query("locking due windows"))?;
    if due.is_empty() {
        tx.commit()
            .await
            .map_err(StoreError::query("ending a window close"))?;
        return Ok(Chunk::default());
    }
    let starts: Vec<DateTime<Utc>> = due.iter().map(|row| row.get(0)).collect();
    let recomputed = due.iter().filter(|row| row.get::<_, i32>(1) > 0).count() as u64;
    let mut chunk = Chunk {
        closed: due.len() as u64 - recomputed,
        recomputed,
        ..Chunk::default()
    };

    if width == FIVE_MINUTES {
        tx.execute(
            "DELETE FROM payment_metrics_5m WHERE window_start = ANY($1::timestamptz[])",
            &[&starts],
        )
        .await
        .map_err(StoreError::query("clearing recomputed windows"))?;
        chunk.rows = tx
            .execute(AGGREGATE_5M, &[&starts, &now])
            .await
            .map_err(StoreError::query("computing payment_metrics_5m"))?;
    }
    for rule in rules {
        chunk.rule_rows += compute_rule(&tx, rule, &starts, now).await?;
        chunk.rules_evaluated += 1;
    }
    tx.execute(
        "UPDATE window_state
         SET dirty = false, revision = revision + 1, closed_at = $3,
             first_closed_at = coalesce(first_closed_at, $3)
         WHERE width_seconds = $1 AND window_start = ANY($2::timestamptz[])",
        &[&(width as i32), &starts, &now],
    )
    .await
    .map_err(StoreError::query("marking windows closed"))?;
    tx.commit()
        .await
        .map_err(StoreError::query("committing closed windows"))?;
    Ok(chunk)
}

/// Recomputes one rule's rows for the given windows (of the rule's width).
async fn compute_rule(
    client: &impl GenericClient,
    rule: &Rule,
    starts: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    client
        .execute(
            "DELETE FROM dynamic_metrics
             WHERE rule_name = $1 AND window_start = ANY($2::timestamptz[])",
            &[&rule.name, &starts],
        )
        .await
        .map_err(StoreError::query("clearing recomputed rule windows"))?;
    // $1 starts, $2 width, $3 rule name, $4 version, $5 now; the rule's literals follow.
    let mut sql = Sql::starting_after(5);
    let filter = rule
        .filter
        .as_ref()
        .map_or_else(|| "true".to_owned(), |c| sql.condition(c));
    let value = sql.aggregate(&rule.aggregate);
    let dimensions: Vec<&str> = rule.group_by.iter().map(|f| f.column()).collect();
    let group_key = if dimensions.is_empty() {
        "'{}'::jsonb".to_owned()
    } else {
        let pairs: Vec<String> = dimensions.iter().map(|d| format!("'{d}', t.{d}")).collect();
        format!("jsonb_build_object({})", pairs.join(", "))
    };
    let group_columns: String = dimensions.iter().map(|d| format!(", t.{d}")).collect();
    let statement = format!(
        "WITH due AS (
             SELECT s.ws, st.revision
             FROM unnest($1::timestamptz[]) AS s(ws)
             JOIN window_state st ON st.width_seconds = $2::integer AND st.window_start = s.ws
         )
         INSERT INTO dynamic_metrics (rule_name, window_start, window_end, group_key, value,
                                      sample_count, rule_version, revision, computed_at)
         SELECT $3::text, d.ws, d.ws + $2::integer * interval '1 second', {group_key}, {value},
                count(*), $4::text, d.revision + 1, $5::timestamptz
         FROM due d
         JOIN normalized_transactions t
           ON t.occurred_at >= d.ws AND t.occurred_at < d.ws + $2::integer * interval '1 second'
         WHERE {filter}
         GROUP BY d.ws, d.revision{group_columns}"
    );
    let width = rule.window_seconds as i32;
    let mut params: Vec<&(dyn ToSql + Sync)> =
        vec![&starts, &width, &rule.name, &rule.version, &now];
    params.extend(sql.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)));
    client
        .execute(statement.as_str(), &params)
        .await
        .map_err(StoreError::query("computing dynamic_metrics"))
}

/// One row per window and (payment_type, currency), computed from the stored
/// transactions of the given window starts. Percentiles follow `percentile_cont`
/// (linear interpolation between the two nearest ranks) but in exact `numeric`
/// arithmetic: `percentile_cont` itself only takes `double precision`.
const AGGREGATE_5M: &str = "
WITH due AS (
    SELECT s.ws, st.revision
    FROM unnest($1::timestamptz[]) AS s(ws)
    JOIN window_state st ON st.width_seconds = 300 AND st.window_start = s.ws
),
ranked AS (
    SELECT d.ws, d.revision, t.payment_type, t.currency, t.amount, t.status,
           t.customer_id, t.merchant_id, t.is_fraud,
           row_number() OVER (PARTITION BY d.ws, t.payment_type, t.currency ORDER BY t.amount) - 1 AS rn,
           count(*) OVER (PARTITION BY d.ws, t.payment_type, t.currency) AS n
    FROM due d
    JOIN normalized_transactions t
      ON t.occurred_at >= d.ws AND t.occurred_at < d.ws + interval '5 minutes'
),
groups AS (
    SELECT ws, revision, payment_type, currency, max(n) AS n,
           count(*) AS txn_count,
           count(*) FILTER (WHERE status = 'approved') AS approved_count,
           count(*) FILTER (WHERE status = 'declined') AS declined_count,
           count(*) FILTER (WHERE status = 'failed') AS failed_count,
           count(*) FILTER (WHERE status = 'pending') AS pending_count,
           count(*) FILTER (WHERE status = 'refunded') AS refunded_count,
           sum(amount) AS total_amount,
           coalesce(sum(amount) FILTER (WHERE status = 'approved'), 0) AS approved_amount,
           avg(amount) AS avg_amount,
           min(amount) AS min_amount,
           max(amount) AS max_amount,
           min(amount) FILTER (WHERE rn = floor(0.50 * (n - 1))) AS p50_lo,
           min(amount) FILTER (WHERE rn = ceil(0.50 * (n - 1))) AS p50_hi,
           min(amount) FILTER (WHERE rn = floor(0.95 * (n - 1))) AS p95_lo,
           min(amount) FILTER (WHERE rn = ceil(0.95 * (n - 1))) AS p95_hi,
           min(amount) FILTER (WHERE rn = floor(0.99 * (n - 1))) AS p99_lo,
           min(amount) FILTER (WHERE rn = ceil(0.99 * (n - 1))) AS p99_hi,
           count(DISTINCT customer_id) AS unique_customers,
           count(DISTINCT merchant_id) AS unique_merchants,
           count(*) FILTER (WHERE is_fraud) AS fraud_count
    FROM ranked
    GROUP BY ws, revision, payment_type, currency
)
INSERT INTO payment_metrics_5m (
    window_start, window_end, payment_type, currency, txn_count, approved_count,
    declined_count, failed_count, pending_count, refunded_count, total_amount,
    approved_amount, avg_amount, min_amount, max_amount, p50_amount, p95_amount,
    p99_amount, unique_customers, unique_merchants, fraud_count, approval_rate,
    late_events, revision, closed_at)
SELECT g.ws, g.ws + interval '5 minutes', g.payment_type, g.currency, g.txn_count,
       g.approved_count, g.declined_count, g.failed_count, g.pending_count,
       g.refunded_count, g.total_amount, g.approved_amount, trim_scale(g.avg_amount),
       g.min_amount, g.max_amount,
       trim_scale(g.p50_lo + (0.50 * (g.n - 1) - floor(0.50 * (g.n - 1))) * (g.p50_hi - g.p50_lo)),
       trim_scale(g.p95_lo + (0.95 * (g.n - 1) - floor(0.95 * (g.n - 1))) * (g.p95_hi - g.p95_lo)),
       trim_scale(g.p99_lo + (0.99 * (g.n - 1) - floor(0.99 * (g.n - 1))) * (g.p99_hi - g.p99_lo)),
       g.unique_customers, g.unique_merchants, g.fraud_count,
       CASE WHEN g.approved_count + g.declined_count = 0 THEN NULL
            ELSE trim_scale(g.approved_count::numeric / (g.approved_count + g.declined_count)) END,
       coalesce(l.late_events, 0), g.revision + 1, $2
FROM groups g
LEFT JOIN late_events_5m l
  ON l.window_start = g.ws AND l.payment_type = g.payment_type AND l.currency = g.currency";

/// What partition upkeep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionReport {
    /// Day partitions dropped past retention.
    pub dropped: Vec<String>,
}

/// Creates the day partitions from today to `partitions_ahead_days` ahead, and, when a
/// retention is set, drops whole days older than it together with their id ledger and
/// window bookkeeping.
///
/// # Errors
/// Any [`StoreError`].
pub async fn maintain_partitions(
    client: &mut Client,
    now: DateTime<Utc>,
    retention: &RetentionPolicy,
) -> Result<PartitionReport, StoreError> {
    let today = now.date_naive();
    let days: Vec<NaiveDate> = (0..=i64::from(retention.partitions_ahead_days))
        .map(|d| today + TimeDelta::days(d))
        .collect();
    client
        .execute(
            "SELECT paymetrics_ensure_partition(d) FROM unnest($1::date[]) AS d",
            &[&days],
        )
        .await
        .map_err(StoreError::query("creating upcoming day partitions"))?;

    let mut report = PartitionReport::default();
    let Some(keep) = retention.transactions else {
        return Ok(report);
    };
    let cutoff = now - TimeDelta::from_std(keep).unwrap_or(TimeDelta::MAX);
    // A partition goes only when its whole day is older than the cutoff.
    let partitions = client
        .query(
            "SELECT c.relname,
                    (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'normalized_transactions'::regclass",
            &[],
        )
        .await
        .map_err(StoreError::query("listing day partitions"))?;
    let tx = client
        .transaction()
        .await
        .map_err(StoreError::query("starting retention"))?;
    for row in partitions {
        let name: String = row.get(0);
        let upper: Option<DateTime<Utc>> = row.get(1);
        if upper.is_some_and(|upper| upper <= cutoff) {
            tx.batch_execute(&format!("DROP TABLE IF EXISTS \"{name}\""))
                .await
                .map_err(StoreError::query("dropping an expired day partition"))?;
            report.dropped.push(name);
        }
    }
    if !report.dropped.is_empty() {
        let day_cutoff: DateTime<Utc> = cutoff
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        for statement in [
            "DELETE FROM transaction_ids WHERE occurred_at < $1",
            "DELETE FROM window_state WHERE window_end <= $1",
            "DELETE FROM late_events_5m WHERE window_start < $1",
        ] {
            tx.execute(statement, &[&day_cutoff])
                .await
                .map_err(StoreError::query("removing bookkeeping past retention"))?;
        }
    }
    tx.commit()
        .await
        .map_err(StoreError::query("committing retention"))?;
    Ok(report)
}
