//! The timer's side: closing due, changed windows in chunks under a time budget, the
//! first use of a new window width, and the 5-minute aggregate into `payment_metrics_5m`.
//!
//! A chunk locks its windows with `FOR UPDATE SKIP LOCKED`, so concurrent closers take
//! different windows; it recomputes their rows (deleting the previous revision) and marks
//! them closed with the next revision in the same transaction.

use std::sync::LazyLock;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient};

use super::width_param;
use crate::engine::metrics;
use crate::engine::windows::FIVE_MINUTES;
use crate::engine::{Rule, WindowPolicy};
use crate::store::{StoreError, rules};

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
    let widths: Vec<i32> = widths.iter().map(|w| width_param(*w)).collect();
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
    let widths = crate::engine::windows::widths(rules.iter().map(|r| r.window_seconds));
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
    let widths32: Vec<i32> = widths.iter().map(|w| width_param(*w)).collect();
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
            &[&width_param(width), &now],
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
             WHERE f.width_seconds = $3::integer
             ON CONFLICT (width_seconds, window_start) DO NOTHING",
            &[&width_param(width), &now, &width_param(FIVE_MINUTES)],
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
            &[&width_param(width), &due_before, &i64::from(limit)],
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

    let spans = Spans::new(&starts, width);
    if width == FIVE_MINUTES {
        tx.execute(
            "DELETE FROM payment_metrics_5m WHERE window_start = ANY($1::timestamptz[])",
            &[&starts],
        )
        .await
        .map_err(StoreError::query("clearing recomputed windows"))?;
        let width = width_param(FIVE_MINUTES);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&now, &width];
        params.extend(spans.params());
        chunk.rows = tx
            .execute(aggregate_5m(&spans).as_str(), &params)
            .await
            .map_err(StoreError::query("computing payment_metrics_5m"))?;
    }
    for rule in rules {
        chunk.rule_rows += rules::compute_rule(&tx, rule, &starts, &spans, now).await?;
        chunk.rules_evaluated += 1;
    }
    tx.execute(
        "UPDATE window_state
         SET dirty = false, revision = revision + 1, closed_at = $3,
             first_closed_at = coalesce(first_closed_at, $3)
         WHERE width_seconds = $1 AND window_start = ANY($2::timestamptz[])",
        &[&width_param(width), &starts, &now],
    )
    .await
    .map_err(StoreError::query("marking windows closed"))?;
    tx.commit()
        .await
        .map_err(StoreError::query("committing closed windows"))?;
    Ok(chunk)
}

/// The time ranges a chunk's windows cover, adjacent windows merged: one range for a
/// backfill, a few for scattered recomputations. Bound as literals, so the planner prunes
/// the day partitions, estimates the rows from the event-time statistics (and so picks
/// the right aggregation) and reads only the transactions of the windows being closed.
pub(crate) struct Spans {
    /// `[from, until)` pairs, ordered and disjoint.
    bounds: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Spans {
    /// The ranges of the windows of `width` seconds starting at `starts`.
    pub(crate) fn new(starts: &[DateTime<Utc>], width: i64) -> Self {
        let width = chrono::TimeDelta::seconds(width);
        let mut sorted = starts.to_vec();
        sorted.sort_unstable();
        let mut bounds: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for start in sorted {
            match bounds.last_mut() {
                Some((_, until)) if *until >= start => *until = (*until).max(start + width),
                _ => bounds.push((start, start + width)),
            }
        }
        Self { bounds }
    }

    /// How many parameters [`Spans::condition`] binds.
    pub(crate) fn params_len(&self) -> usize {
        self.bounds.len() * 2
    }

    /// A condition on `t.occurred_at` over parameters `$first..`, bound by [`Spans::params`].
    pub(crate) fn condition(&self, first: usize) -> String {
        let ranges: Vec<String> = (0..self.bounds.len())
            .map(|i| {
                let n = first + 2 * i;
                format!(
                    "(t.occurred_at >= ${n}::timestamptz AND t.occurred_at < ${}::timestamptz)",
                    n + 1
                )
            })
            .collect();
        format!("({})", ranges.join(" OR "))
    }

    /// The values of [`Spans::condition`]'s parameters, in order.
    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.bounds
            .iter()
            .flat_map(|(from, until)| [from as &(dyn ToSql + Sync), until as &(dyn ToSql + Sync)])
            .collect()
    }
}

/// One row per window and (payment_type, currency), computed from the stored
/// transactions of the given window starts in one pass over their time range: each
/// transaction finds its window by `date_bin` (epoch-aligned, as [`Window::containing`]),
/// a hash join with the chunk's windows keeps those being closed, and one `GROUP BY`
/// computes every column. Percentiles follow `percentile_cont` (linear interpolation
/// between the two nearest ranks) but in exact `numeric` arithmetic
/// (`paymetrics_percentile` over the group's sorted amounts, one sort for all three):
/// `percentile_cont` itself only takes `double precision`.
///
/// [`Window::containing`]: crate::engine::Window::containing
const AGGREGATE_5M_TEMPLATE: &str = "
WITH groups AS (
    SELECT date_bin($2::integer * interval '1 second', t.occurred_at, timestamptz 'epoch') AS ws,
           t.payment_type, t.currency,
           count(*) AS txn_count,
           count(*) FILTER (WHERE t.status = 'approved') AS approved_count,
           count(*) FILTER (WHERE t.status = 'declined') AS declined_count,
           count(*) FILTER (WHERE t.status = 'failed') AS failed_count,
           count(*) FILTER (WHERE t.status = 'pending') AS pending_count,
           count(*) FILTER (WHERE t.status = 'refunded') AS refunded_count,
           sum(t.amount) AS total_amount,
           coalesce(sum(t.amount) FILTER (WHERE t.status = 'approved'), 0) AS approved_amount,
           avg(t.amount) AS avg_amount,
           min(t.amount) AS min_amount,
           max(t.amount) AS max_amount,
           array_agg(t.amount ORDER BY t.amount) AS sorted,
           count(DISTINCT t.customer_id) AS unique_customers,
           count(DISTINCT t.merchant_id) AS unique_merchants,
           count(*) FILTER (WHERE t.is_fraud) AS fraud_count
    FROM normalized_transactions t
    WHERE {spans}
    GROUP BY 1, t.payment_type, t.currency
)
INSERT INTO payment_metrics_5m ({columns})
SELECT g.ws, g.ws + $2::integer * interval '1 second', g.payment_type, g.currency, g.txn_count,
       g.approved_count, g.declined_count, g.failed_count, g.pending_count,
       g.refunded_count, g.total_amount, g.approved_amount, trim_scale(g.avg_amount),
       g.min_amount, g.max_amount,
       trim_scale(paymetrics_percentile(g.sorted, 0.50)),
       trim_scale(paymetrics_percentile(g.sorted, 0.95)),
       trim_scale(paymetrics_percentile(g.sorted, 0.99)),
       g.unique_customers, g.unique_merchants, g.fraud_count,
       CASE WHEN g.approved_count + g.declined_count = 0 THEN NULL
            ELSE trim_scale(g.approved_count::numeric / (g.approved_count + g.declined_count)) END,
       coalesce(l.late_events, 0), st.revision + 1, $1
FROM groups g
JOIN window_state st ON st.width_seconds = $2::integer AND st.window_start = g.ws
LEFT JOIN late_events_5m l
  ON l.window_start = g.ws AND l.payment_type = g.payment_type AND l.currency = g.currency";

/// [`AGGREGATE_5M_TEMPLATE`] with the column list of [`metrics::COLUMNS`] and the
/// condition of `spans`; `$1` now, `$2` the width ([`FIVE_MINUTES`]), `$3..` the spans.
fn aggregate_5m(spans: &Spans) -> String {
    static TEMPLATE: LazyLock<String> =
        LazyLock::new(|| AGGREGATE_5M_TEMPLATE.replace("{columns}", &metrics::COLUMNS.join(", ")));
    TEMPLATE.replace("{spans}", &spans.condition(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_windows_make_one_span_and_a_gap_starts_another() {
        let t = |text: &str| -> DateTime<Utc> { text.parse().unwrap() };
        let spans = Spans::new(
            &[
                t("2026-11-26T12:05:00Z"),
                t("2026-11-26T12:00:00Z"),
                t("2026-11-26T12:20:00Z"),
            ],
            FIVE_MINUTES,
        );
        assert_eq!(
            spans.bounds,
            vec![
                (t("2026-11-26T12:00:00Z"), t("2026-11-26T12:10:00Z")),
                (t("2026-11-26T12:20:00Z"), t("2026-11-26T12:25:00Z")),
            ]
        );
        assert_eq!(spans.params_len(), 4);
        assert_eq!(
            spans.condition(3),
            "((t.occurred_at >= $3::timestamptz AND t.occurred_at < $4::timestamptz) OR \
             (t.occurred_at >= $5::timestamptz AND t.occurred_at < $6::timestamptz))"
        );
    }

    #[test]
    fn the_aggregate_writes_one_value_per_metric_column_and_binds_its_width() {
        let start: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let statement = aggregate_5m(&Spans::new(&[start], FIVE_MINUTES));
        let select = &statement[statement.rfind("SELECT g.ws").unwrap()..];
        let select = &select[..select.find("FROM groups").unwrap()];
        // Top-level commas of the SELECT list separate its values.
        let mut depth = 0i32;
        let mut values = 1;
        for c in select.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => values += 1,
                _ => {}
            }
        }
        assert_eq!(values, metrics::COLUMNS.len());
        assert!(!statement.contains("300") && !statement.contains("5 minutes"));
    }
}
