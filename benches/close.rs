//! Window close against the plain SQL aggregate of the same windows, side by side.
//!
//! `cargo bench --bench close` creates a fresh database on `PAYMETRICS_TEST_PG` (default
//! 127.0.0.1:5432; skipped when no server answers), stores
//! `PAYMETRICS_BENCH_TRANSACTIONS` (default 200,000) transactions spread over 12 hours
//! through [`store::store_batch`] in host-shaped batches of 256 (so `window_state` is
//! marked as ingest marks it), then for `PAYMETRICS_BENCH_ROUNDS` (default 3) interleaved
//! rounds:
//!
//! - **close**: resets what closing wrote (`payment_metrics_5m` emptied, the 5-minute
//!   `window_state` rows back to never closed, as ingest left them, vacuumed) and runs
//!   [`store::close_due_windows`] until no due window is left, as the timer does (no
//!   rules, clustering off);
//! - **plain**: one `GROUP BY` over `normalized_transactions` of the same windows and
//!   columns (`percentile_cont` in double precision), the floor a close can approach;
//! - **rules**: for each of 20 rules of mixed kinds, widths and filters, the same reset
//!   for the rule's width and a close with that rule alone, against the plain `GROUP BY`
//!   of that rule. A 5-minute rule's cost is its close minus a close without rules run
//!   just before it; and one close of every width with all 20 rules at once.
//!
//! `PAYMETRICS_BENCH_KEEP_DB=1` keeps the database for `EXPLAIN (ANALYZE, BUFFERS)`.
//! Prints the best of the rounds and the ratios; figures are in docs/BENCHMARKS.md.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::Object;
use paymetrics::engine::{Rule, RuleSpec, WindowPolicy};
use paymetrics::ingest::{self, IngestPolicy, Invocation};
use paymetrics::store::{self, BatchContext};
use support::{Server, env_usize, ms};

const BATCH: usize = 256;
const HOURS: i64 = 12;

/// A rule as the engine YAML declares it, and the plain SQL of the same numbers.
struct BenchRule {
    name: &'static str,
    /// Window width in seconds.
    width: i64,
    /// The rest of the YAML entry after `name` and `window`.
    yaml: &'static str,
    /// Plain SQL: the filter over `t`, the group columns (each prefixed ", "), the value.
    filter: &'static str,
    group: &'static str,
    value: &'static str,
}

const RULES: &[BenchRule] = &[
    BenchRule {
        name: "count_all",
        width: 300,
        yaml: "aggregate: count()",
        filter: "true",
        group: "",
        value: "count(*)",
    },
    BenchRule {
        name: "card_count",
        width: 900,
        yaml: "where: payment_type == 'card'\n    group_by: [currency]\n    aggregate: count()",
        filter: "payment_type = 'card'",
        group: ", currency",
        value: "count(*)",
    },
    BenchRule {
        name: "usd_approved_sum",
        width: 300,
        yaml: "where: currency == 'USD' && status == 'approved'\n    aggregate: sum(amount)",
        filter: "currency = 'USD' AND status = 'approved'",
        group: "",
        value: "sum(amount)",
    },
    BenchRule {
        name: "sum_by_type",
        width: 3600,
        yaml: "group_by: [payment_type, currency]\n    aggregate: sum(amount)",
        filter: "true",
        group: ", payment_type, currency",
        value: "sum(amount)",
    },
    BenchRule {
        name: "avg_ticket",
        width: 900,
        yaml: "group_by: [currency]\n    aggregate: avg(amount)",
        filter: "true",
        group: ", currency",
        value: "avg(amount)",
    },
    BenchRule {
        name: "avg_online",
        width: 1800,
        yaml: "where: channel == 'online'\n    group_by: [currency]\n    aggregate: avg(amount)",
        filter: "channel = 'online'",
        group: ", currency",
        value: "avg(amount)",
    },
    BenchRule {
        name: "min_ticket",
        width: 300,
        yaml: "group_by: [currency]\n    aggregate: min(amount)",
        filter: "true",
        group: ", currency",
        value: "min(amount)",
    },
    BenchRule {
        name: "max_ticket",
        width: 3600,
        yaml: "group_by: [currency, payment_type]\n    aggregate: max(amount)",
        filter: "true",
        group: ", currency, payment_type",
        value: "max(amount)",
    },
    BenchRule {
        name: "card_decline_rate",
        width: 900,
        yaml: "where: payment_type == 'card'\n    group_by: [merchant_category]\n    aggregate: ratio(status == 'declined')",
        filter: "payment_type = 'card'",
        group: ", merchant_category",
        value: "count(*) FILTER (WHERE status = 'declined')::numeric / count(*)",
    },
    BenchRule {
        name: "refund_rate",
        width: 3600,
        yaml: "group_by: [country]\n    aggregate: ratio(status == 'refunded')",
        filter: "true",
        group: ", country",
        value: "count(*) FILTER (WHERE status = 'refunded')::numeric / count(*)",
    },
    BenchRule {
        name: "active_customers",
        width: 3600,
        yaml: "aggregate: distinct(customer_id)",
        filter: "true",
        group: "",
        value: "count(DISTINCT customer_id)",
    },
    BenchRule {
        name: "active_merchants",
        width: 900,
        yaml: "group_by: [currency]\n    aggregate: distinct(merchant_id)",
        filter: "true",
        group: ", currency",
        value: "count(DISTINCT merchant_id)",
    },
    BenchRule {
        name: "p50_ticket",
        width: 300,
        yaml: "group_by: [payment_type, currency]\n    aggregate: p50(amount)",
        filter: "true",
        group: ", payment_type, currency",
        value: "percentile_cont(0.50) WITHIN GROUP (ORDER BY amount)",
    },
    BenchRule {
        name: "p95_ticket",
        width: 3600,
        yaml: "group_by: [payment_type, currency]\n    aggregate: p95(amount)",
        filter: "true",
        group: ", payment_type, currency",
        value: "percentile_cont(0.95) WITHIN GROUP (ORDER BY amount)",
    },
    BenchRule {
        name: "p99_ticket",
        width: 1800,
        yaml: "group_by: [currency]\n    aggregate: p99(amount)",
        filter: "true",
        group: ", currency",
        value: "percentile_cont(0.99) WITHIN GROUP (ORDER BY amount)",
    },
    BenchRule {
        name: "p95_large",
        width: 900,
        yaml: "where: amount > 100\n    group_by: [currency]\n    aggregate: p95(amount)",
        filter: "amount > 100",
        group: ", currency",
        value: "percentile_cont(0.95) WITHIN GROUP (ORDER BY amount)",
    },
    BenchRule {
        name: "fraud_by_country",
        width: 1800,
        yaml: "where: is_fraud\n    group_by: [country]\n    aggregate: count()",
        filter: "is_fraud",
        group: ", country",
        value: "count(*)",
    },
    BenchRule {
        name: "p90_approved",
        width: 3600,
        yaml: "where: status == 'approved'\n    group_by: [currency]\n    aggregate: p90(amount)",
        filter: "status = 'approved'",
        group: ", currency",
        value: "percentile_cont(0.90) WITHIN GROUP (ORDER BY amount)",
    },
    BenchRule {
        name: "in_store_sum",
        width: 300,
        yaml: "where: channel in ['mobile', 'pos']\n    group_by: [currency]\n    aggregate: sum(amount)",
        filter: "channel IN ('mobile', 'pos')",
        group: ", currency",
        value: "sum(amount)",
    },
    BenchRule {
        name: "non_card_max",
        width: 1800,
        yaml: "where: payment_type != 'card' && amount >= 10\n    group_by: [channel, currency]\n    aggregate: max(amount)",
        filter: "payment_type <> 'card' AND amount >= 10",
        group: ", channel, currency",
        value: "max(amount)",
    },
];

fn start() -> DateTime<Utc> {
    "2026-11-25T00:00:00Z".parse().unwrap()
}

/// Ten minutes after the last transaction: every window of every width above is due.
fn now() -> DateTime<Utc> {
    start() + TimeDelta::hours(HOURS) + TimeDelta::minutes(10)
}

async fn ingest(conn: &mut Object, total: usize) {
    let policy = IngestPolicy::default();
    let context = BatchContext {
        invocation_id: None,
        now: now(),
        window_widths: vec![300],
    };
    let started = Instant::now();
    let mut first = 0;
    while first < total {
        let len = BATCH.min(total - first);
        let invocation = Invocation::parse(&support::close_body(
            start(),
            TimeDelta::hours(HOURS).num_microseconds().unwrap() / total as i64,
            first,
            len,
        ))
        .unwrap();
        let batch = ingest::prepare(invocation.events, now(), &policy);
        assert_eq!(batch.accepted.len(), len);
        store::store_batch(conn, batch, &context).await.unwrap();
        first += len;
    }
    conn.batch_execute("ANALYZE").await.unwrap();
    println!(
        "stored {total} transactions over {HOURS} h in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Undoes what closing windows of `width` wrote, leaving `window_state` as ingest left it
/// (changed, never closed, revision 0), and vacuums so no round reads another's dead rows.
async fn reset(conn: &Object, width: i64, rule: Option<&str>) {
    let width = i32::try_from(width).unwrap();
    if width == 300 {
        conn.execute("DELETE FROM payment_metrics_5m", &[])
            .await
            .unwrap();
    }
    if let Some(rule) = rule {
        conn.execute("DELETE FROM dynamic_metrics WHERE rule_name = $1", &[&rule])
            .await
            .unwrap();
    }
    conn.execute(
        "UPDATE window_state
         SET dirty = true, revision = 0, first_closed_at = NULL, closed_at = NULL
         WHERE width_seconds = $1",
        &[&width],
    )
    .await
    .unwrap();
    conn.batch_execute("VACUUM (ANALYZE) payment_metrics_5m")
        .await
        .unwrap();
    conn.batch_execute("VACUUM (ANALYZE) dynamic_metrics")
        .await
        .unwrap();
    conn.batch_execute("VACUUM (ANALYZE) window_state")
        .await
        .unwrap();
}

/// Closes every due window as timer runs do; returns the time and the rows written.
async fn close(conn: &mut Object, rules: &[Rule]) -> (Duration, u64) {
    let policy = WindowPolicy::default();
    let started = Instant::now();
    let mut rows = 0;
    loop {
        let report = store::close_due_windows(conn, now(), &policy, rules)
            .await
            .unwrap();
        rows += report.rows + report.rule_rows;
        if report.remaining == 0 {
            break;
        }
    }
    (started.elapsed(), rows)
}

const PLAIN_5M: &str = "
SELECT date_bin(interval '300 seconds', occurred_at, timestamptz 'epoch') AS ws,
       payment_type, currency,
       count(*),
       count(*) FILTER (WHERE status = 'approved'),
       count(*) FILTER (WHERE status = 'declined'),
       count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'pending'),
       count(*) FILTER (WHERE status = 'refunded'),
       sum(amount),
       sum(amount) FILTER (WHERE status = 'approved'),
       avg(amount), min(amount), max(amount),
       percentile_cont(0.50) WITHIN GROUP (ORDER BY amount),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY amount),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY amount),
       count(DISTINCT customer_id), count(DISTINCT merchant_id),
       count(*) FILTER (WHERE is_fraud)
FROM normalized_transactions
WHERE occurred_at < $1
GROUP BY 1, 2, 3";

fn plain_rule(rule: &BenchRule) -> String {
    format!(
        "SELECT date_bin(interval '{w} seconds', occurred_at, timestamptz 'epoch') AS ws{g}, {v}, count(*)
         FROM normalized_transactions
         WHERE occurred_at < $1 AND {f}
         GROUP BY 1{g}",
        w = rule.width,
        g = rule.group,
        v = rule.value,
        f = rule.filter
    )
}

/// Runs a plain statement; returns the time and the rows it answered.
async fn plain(conn: &Object, statement: &str) -> (Duration, u64) {
    let started = Instant::now();
    let rows = conn.query(statement, &[&now()]).await.unwrap();
    (started.elapsed(), rows.len() as u64)
}

fn compile(rule: &BenchRule) -> Rule {
    let yaml = format!(
        "- name: {}\n  window: {}m\n  {}\n",
        rule.name,
        rule.width / 60,
        rule.yaml.replace("\n    ", "\n  ")
    );
    let specs: Vec<RuleSpec> = serde_saphyr::from_str(&yaml).unwrap();
    paymetrics::engine::rules::compile(&specs)
        .unwrap()
        .remove(0)
}

async fn bench(server: &Server) {
    let total = env_usize("PAYMETRICS_BENCH_TRANSACTIONS", 200_000);
    let rounds = env_usize("PAYMETRICS_BENCH_ROUNDS", 3);
    let database = server.fresh_database("pm_bench_close", 0, 2).await;
    let mut conn = database.pool.get().await.unwrap();
    println!("machine: {}", support::machine());
    println!("{}", server.describe().await);
    ingest(&mut conn, total).await;

    let compiled: Vec<Rule> = RULES.iter().map(compile).collect();
    let plain_rules: Vec<String> = RULES.iter().map(plain_rule).collect();
    let mut best_close = Duration::MAX;
    let mut best_plain = Duration::MAX;
    let mut best_rule = vec![Duration::MAX; RULES.len()];
    let mut best_rule_plain = vec![Duration::MAX; RULES.len()];
    let mut best_all = Duration::MAX;
    for round in 1..=rounds {
        reset(&conn, 300, None).await;
        let (closed, rows) = close(&mut conn, &[]).await;
        let (aggregated, plain_rows) = plain(&conn, PLAIN_5M).await;
        assert_eq!(
            rows, plain_rows,
            "the close and the plain aggregate disagree on rows"
        );
        println!(
            "round {round}: close {:.0} ms, plain {:.0} ms ({rows} rows), ratio {:.2}",
            ms(closed),
            ms(aggregated),
            closed.as_secs_f64() / aggregated.as_secs_f64()
        );
        best_close = best_close.min(closed);
        best_plain = best_plain.min(aggregated);
        for (i, (rule, bench_rule)) in compiled.iter().zip(RULES).enumerate() {
            // A 5-minute rule also recomputes payment_metrics_5m: its own part is the close
            // with it minus the close without it, run just before.
            let baseline = if bench_rule.width == 300 {
                reset(&conn, 300, None).await;
                close(&mut conn, &[]).await.0
            } else {
                Duration::ZERO
            };
            reset(&conn, bench_rule.width, Some(bench_rule.name)).await;
            let (elapsed, rows) = close(&mut conn, std::slice::from_ref(rule)).await;
            let (aggregated, plain_rows) = plain(&conn, &plain_rules[i]).await;
            let rule_rows = if bench_rule.width == 300 {
                rows - plain_rows_5m(&conn).await
            } else {
                rows
            };
            assert_eq!(
                rule_rows, plain_rows,
                "rule {} disagrees on rows",
                bench_rule.name
            );
            best_rule[i] = best_rule[i].min(elapsed.saturating_sub(baseline));
            best_rule_plain[i] = best_rule_plain[i].min(aggregated);
        }
        for width in [300, 900, 1800, 3600] {
            reset(&conn, width, None).await;
        }
        conn.execute("DELETE FROM dynamic_metrics", &[])
            .await
            .unwrap();
        let (all, _) = close(&mut conn, &compiled).await;
        best_all = best_all.min(all);
    }
    println!(
        "\nclose (best of {rounds}) {:.0} ms, plain aggregate {:.0} ms, ratio {:.2}",
        ms(best_close),
        ms(best_plain),
        best_close.as_secs_f64() / best_plain.as_secs_f64()
    );
    println!(
        "\n{:<18} {:>6} {:>10} {:>10} {:>6}",
        "rule", "window", "close ms", "plain ms", "ratio"
    );
    for (i, rule) in RULES.iter().enumerate() {
        println!(
            "{:<18} {:>5}m {:>10.0} {:>10.0} {:>6.2}",
            rule.name,
            rule.width / 60,
            ms(best_rule[i]),
            ms(best_rule_plain[i]),
            best_rule[i].as_secs_f64() / best_rule_plain[i].as_secs_f64()
        );
    }
    let sum: Duration = best_rule.iter().sum();
    let sum_plain: Duration = best_rule_plain.iter().sum();
    println!(
        "{:<18} {:>6} {:>10.0} {:>10.0} {:>6.2}  (mean per rule {:.0} ms)",
        "all 20",
        "",
        ms(sum),
        ms(sum_plain),
        sum.as_secs_f64() / sum_plain.as_secs_f64(),
        ms(sum) / RULES.len() as f64
    );
    println!(
        "one close with all 20 rules {:.0} ms: {:.0} ms per rule over the close without rules",
        ms(best_all),
        (ms(best_all) - ms(best_close)) / RULES.len() as f64
    );
    drop(conn);
    server.drop_database(database).await;
}

async fn plain_rows_5m(conn: &Object) -> u64 {
    let n: i64 = conn
        .query_one("SELECT count(*) FROM payment_metrics_5m", &[])
        .await
        .unwrap()
        .get(0);
    u64::try_from(n).unwrap()
}

async fn run() {
    if let Some(server) = Server::connect("close").await {
        bench(&server).await;
    }
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
