//! How window close cost grows: with the work (the windows to close), and not with the
//! history already stored.
//!
//! `cargo bench --bench close_growth` runs, for each size in `PAYMETRICS_BENCH_HISTORY`
//! (default `100000,1000000,10000000` stored transactions; `0` is allowed), on a fresh
//! database on `PAYMETRICS_TEST_PG` (default 127.0.0.1:5432; skipped when no server
//! answers):
//!
//! 1. **history**: that many transactions in the days before the measured 12 hours, at
//!    the same rate (so 10^7 is 50 days), written server-side with `INSERT ... SELECT
//!    generate_series` into `normalized_transactions` (day partitions created first with
//!    `paymetrics_ensure_partition`) and `transaction_ids`, and their 5-minute windows in
//!    `window_state` as ingest leaves them (changed, never closed, revision 0, their
//!    event counts); then `VACUUM ANALYZE`. Values follow the same scramble as
//!    `benches/close.rs` (4 currencies x 5 payment types, 50,000 customers, 997
//!    merchants).
//! 2. **close_growing**: [`store::close_due_windows`] until no due window is left (no
//!    rules, default policy), over the whole history: the work grows with the stored
//!    count. Best of `PAYMETRICS_BENCH_ROUNDS` (default 3); between rounds what closing
//!    wrote is undone (as `benches/close.rs` resets). The last close leaves the history
//!    closed exactly as the timer leaves it, `payment_metrics_5m` rows included.
//! 3. **close_constant**: `PAYMETRICS_BENCH_WINDOW_TRANSACTIONS` (default 100,000)
//!    transactions over the next 12 hours (144 five-minute windows), stored through
//!    [`store::store_batch`] in host-shaped batches of 256, so `window_state` is marked
//!    as ingest marks it; then the same close, best of the rounds, resetting only those
//!    windows in between: the work is constant while the history grows.
//!
//! Prints a table; `PAYMETRICS_BENCH_CSV=FILE` appends one line per measurement,
//! `close_constant,<stored>,<windows>,<transactions_closed>,<ms>` and
//! `close_growing,<stored>,<windows>,<transactions_closed>,<ms>`, where `stored` is the
//! history's size. `PAYMETRICS_BENCH_KEEP_DB=1` keeps the databases. Figures are in
//! docs/growth-section.md (`scripts/growth.sh` runs this with the ingest bench and plots).

#[path = "support/mod.rs"]
mod support;

use std::io::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use deadpool_postgres::Object;
use paymetrics::engine::WindowPolicy;
use paymetrics::ingest::{self, IngestPolicy, Invocation};
use paymetrics::store::{self, BatchContext};
use support::{Server, env_list, env_usize, ms};

const BATCH: usize = 256;
const HOURS: i64 = 12;

/// The start of the measured 12 hours; the history lies in the days before it.
fn start() -> DateTime<Utc> {
    "2026-11-25T00:00:00Z".parse().unwrap()
}

/// Ten minutes after the last measured transaction: every window is due.
fn now() -> DateTime<Utc> {
    start() + TimeDelta::hours(HOURS) + TimeDelta::minutes(10)
}

/// Microseconds between two transactions, in the history as in the measured hours.
fn step_us(window_transactions: usize) -> i64 {
    TimeDelta::hours(HOURS).num_microseconds().unwrap() / window_transactions as i64
}

/// History transactions `$1..$2` (bigint), the first at `$3`, `$4` microseconds apart:
/// the same values [`support::close_body`] sends, written server-side (bench-only SQL).
const HISTORY_SQL: &str = "
INSERT INTO normalized_transactions (transaction_id, occurred_at, amount, currency,
    payment_type, status, merchant_id, merchant_category, customer_id, country, channel,
    is_fraud, partition_id, sequence_number, ingested_at, source_format)
SELECT 'hist-' || lpad(n::text, 10, '0'),
       at,
       CASE WHEN n % 4 = 2 THEN (100 + h % 90000)::numeric
            ELSE (1 + h % 2000) + ((h >> 11) % 100)::numeric / 100 END,
       (ARRAY['USD', 'EUR', 'JPY', 'GBP'])[n % 4 + 1],
       (ARRAY['card', 'ach', 'wallet', 'wire', 'bnpl'])[n % 5 + 1],
       (ARRAY['approved', 'approved', 'approved', 'declined', 'refunded', 'failed',
              'approved', 'pending'])[h % 8 + 1],
       'm-' || h % 997,
       (ARRAY['grocery', 'travel', 'electronics', 'fuel'])[h % 4 + 1],
       'c-' || (h >> 3) % 50000,
       (ARRAY['US', 'DE', 'FR', 'GB', 'JP'])[(h >> 5) % 5 + 1],
       (ARRAY['pos', 'online', 'mobile'])[(h >> 2) % 3 + 1],
       h % 97 = 0,
       '0',
       n,
       at + interval '1 second',
       'canonical_v1'
FROM (SELECT n, ((n * 2654435761) >> 7) & 16777215 AS h,
             $3::timestamptz + (n - $1) * $4::bigint * interval '1 microsecond' AS at
      FROM generate_series($1::bigint, $2::bigint - 1) AS n) s";

/// Loads `total` history transactions before [`start`]; returns the load time.
async fn load_history(conn: &Object, total: usize, window_transactions: usize) -> Duration {
    let started = Instant::now();
    let step = step_us(window_transactions);
    let first_at = start() - TimeDelta::microseconds(step * total as i64);
    let days: Vec<NaiveDate> = first_at
        .date_naive()
        .iter_days()
        .take_while(|d| *d <= now().date_naive())
        .collect();
    conn.execute(
        "SELECT paymetrics_ensure_partition(d) FROM unnest($1::date[]) AS d",
        &[&days],
    )
    .await
    .unwrap();
    // In chunks of a million, so no statement holds the whole load.
    let chunk = 1_000_000;
    let mut from = 0;
    while from < total {
        let until = (from + chunk).min(total);
        let at = first_at + TimeDelta::microseconds(step * from as i64);
        conn.execute(HISTORY_SQL, &[&(from as i64), &(until as i64), &at, &step])
            .await
            .unwrap();
        from = until;
    }
    // The id ledger, and the 5-minute windows as ingest marks them: changed, never closed.
    for statement in [
        "INSERT INTO transaction_ids (transaction_id, content_hash, occurred_at, first_seen_at)
         SELECT transaction_id, sha256(convert_to(transaction_id, 'UTF8')), occurred_at, ingested_at
         FROM normalized_transactions",
        "INSERT INTO window_state (width_seconds, window_start, window_end, events, changed_at)
         SELECT 300, ws, ws + interval '5 minutes', count(*), max(ingested_at)
         FROM (SELECT date_bin(interval '5 minutes', occurred_at, timestamptz 'epoch') AS ws,
                      ingested_at
               FROM normalized_transactions) t
         GROUP BY ws",
        "VACUUM ANALYZE",
        "CHECKPOINT",
    ] {
        conn.batch_execute(statement).await.unwrap();
    }
    started.elapsed()
}

/// Stores the measured transactions through [`store::store_batch`], as ingest does.
async fn ingest(conn: &mut Object, total: usize) {
    let policy = IngestPolicy::default();
    let context = BatchContext {
        invocation_id: None,
        now: now(),
        window_widths: vec![300],
    };
    let mut first = 0;
    while first < total {
        let len = BATCH.min(total - first);
        let invocation =
            Invocation::parse(&support::close_body(start(), step_us(total), first, len)).unwrap();
        let batch = ingest::prepare(invocation.events, now(), &policy);
        assert_eq!(batch.accepted.len(), len);
        store::store_batch(conn, batch, &context).await.unwrap();
        first += len;
    }
    conn.batch_execute("ANALYZE").await.unwrap();
}

/// Undoes what closing the 5-minute windows from `from` on wrote, leaving them as ingest
/// left them (changed, never closed, revision 0), and vacuums.
async fn reset(conn: &Object, from: DateTime<Utc>) {
    conn.execute(
        "DELETE FROM payment_metrics_5m WHERE window_start >= $1",
        &[&from],
    )
    .await
    .unwrap();
    conn.execute(
        "UPDATE window_state
         SET dirty = true, revision = 0, first_closed_at = NULL, closed_at = NULL
         WHERE width_seconds = 300 AND window_start >= $1",
        &[&from],
    )
    .await
    .unwrap();
    for table in ["payment_metrics_5m", "window_state"] {
        conn.batch_execute(&format!("VACUUM (ANALYZE) {table}"))
            .await
            .unwrap();
    }
}

/// What one close did: its time, the windows it closed and the transactions in them.
struct Closed {
    elapsed: Duration,
    windows: u64,
    transactions: i64,
}

/// Closes every due window as timer runs do (no rules).
async fn close(conn: &mut Object) -> Closed {
    let policy = WindowPolicy::default();
    let started = Instant::now();
    let mut windows = 0;
    loop {
        let report = store::close_due_windows(conn, now(), &policy, &[])
            .await
            .unwrap();
        windows += report.closed + report.recomputed;
        if report.remaining == 0 {
            break;
        }
    }
    let elapsed = started.elapsed();
    Closed {
        elapsed,
        windows,
        transactions: 0,
    }
}

/// Best of `rounds` closes of the windows from `from` on, reset before each.
async fn best_close(conn: &mut Object, from: DateTime<Utc>, rounds: usize) -> Closed {
    let mut best: Option<Closed> = None;
    for _ in 0..rounds.max(1) {
        reset(conn, from).await;
        let closed = close(conn).await;
        if best.as_ref().is_none_or(|b| closed.elapsed < b.elapsed) {
            best = Some(closed);
        }
    }
    let mut best = best.unwrap();
    best.transactions = conn
        .query_one(
            "SELECT coalesce(sum(txn_count), 0)::bigint FROM payment_metrics_5m
             WHERE window_start >= $1",
            &[&from],
        )
        .await
        .unwrap()
        .get(0);
    best
}

struct Row {
    series: &'static str,
    stored: usize,
    closed: Closed,
}

async fn bench(server: &Server) {
    let sizes = env_list(
        "PAYMETRICS_BENCH_HISTORY",
        &[100_000, 1_000_000, 10_000_000],
    );
    let window_transactions = env_usize("PAYMETRICS_BENCH_WINDOW_TRANSACTIONS", 100_000);
    let rounds = env_usize("PAYMETRICS_BENCH_ROUNDS", 3);
    let mut csv = support::csv_appender();
    println!("machine: {}", support::machine());
    println!("{}", server.describe().await);
    println!(
        "history {sizes:?} transactions; {window_transactions} transactions over {HOURS} h to \
         close; best of {rounds} rounds"
    );
    let mut rows = Vec::new();
    for (i, &stored) in sizes.iter().enumerate() {
        let database = server.fresh_database("pm_bench_growth", i, 2).await;
        let mut conn = database.pool.get().await.unwrap();
        let loaded = load_history(&conn, stored, window_transactions).await;
        println!(
            "history of {stored} transactions loaded in {:.1} s",
            loaded.as_secs_f64()
        );
        let history_from = DateTime::<Utc>::UNIX_EPOCH;
        if stored > 0 {
            let closed = best_close(&mut conn, history_from, rounds).await;
            assert_eq!(closed.transactions, stored as i64);
            println!(
                "close_growing  stored {stored:>10}: {:>6} windows, {:>10} transactions, {:>9.0} ms",
                closed.windows,
                closed.transactions,
                ms(closed.elapsed)
            );
            rows.push(Row {
                series: "close_growing",
                stored,
                closed,
            });
        }
        ingest(&mut conn, window_transactions).await;
        let closed = best_close(&mut conn, start(), rounds).await;
        assert_eq!(closed.transactions, window_transactions as i64);
        println!(
            "close_constant stored {stored:>10}: {:>6} windows, {:>10} transactions, {:>9.0} ms",
            closed.windows,
            closed.transactions,
            ms(closed.elapsed)
        );
        rows.push(Row {
            series: "close_constant",
            stored,
            closed,
        });
        drop(conn);
        server.drop_database(database).await;
    }
    println!(
        "\n{:<15} {:>12} {:>8} {:>14} {:>10} {:>14}",
        "series", "stored", "windows", "transactions", "ms", "µs/transaction"
    );
    rows.sort_by_key(|r| (r.series, r.stored));
    for row in &rows {
        let c = &row.closed;
        println!(
            "{:<15} {:>12} {:>8} {:>14} {:>10.0} {:>14.2}",
            row.series,
            row.stored,
            c.windows,
            c.transactions,
            ms(c.elapsed),
            ms(c.elapsed) * 1e3 / c.transactions.max(1) as f64
        );
        if let Some(file) = csv.as_mut() {
            writeln!(
                file,
                "{},{},{},{},{:.3}",
                row.series,
                row.stored,
                c.windows,
                c.transactions,
                ms(c.elapsed)
            )
            .unwrap();
        }
    }
}

async fn run() {
    if let Some(server) = Server::connect("close_growth").await {
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
