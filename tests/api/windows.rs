//! Window closing into `payment_metrics_5m`, checked against an independent fold over the
//! transactions the test sent.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::engine::WindowPolicy;
use paymetrics::settings::EngineConfig;
use paymetrics::store;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{Rng, TestApp, TestDb, batch, count, fixture};

fn t(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// `count` transactions spread over [from, from + span), varied in every dimension.
fn generate(seed: u64, count: usize, from: DateTime<Utc>, span_seconds: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let micros = rng.below(span_seconds * 1_000_000);
            let at = from + TimeDelta::microseconds(micros as i64);
            let currency = *rng.pick(&["USD", "EUR", "JPY", "KWD"]);
            let decimals = match currency {
                "JPY" => 0,
                "KWD" => 3,
                _ => 2,
            };
            let amount = Decimal::new(1 + rng.below(5_000_000) as i64, decimals);
            json!({
                "transaction_id": format!("w-{seed}-{i}"),
                "occurred_at": at.to_rfc3339(),
                "amount": amount.to_string(),
                "currency": currency,
                "payment_type": rng.pick(&["card", "ach", "wire", "wallet", "bnpl"]),
                "status": rng.pick(&["approved", "approved", "approved", "declined", "failed", "pending", "refunded"]),
                "merchant_id": format!("m-{}", rng.below(12)),
                "customer_id": format!("c-{}", rng.below(40)),
                "is_fraud": rng.below(20) == 0,
            })
        })
        .collect()
}

async fn ingest(app: &TestApp, events: &[Value]) {
    for (n, chunk) in events.chunks(250).enumerate() {
        let (status, body) = app.invoke(batch(chunk, "0", (n * 250) as i64)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ReturnValue"]["rejected"], 0, "{body}");
    }
}

/// One expected metrics row, folded by hand from the events.
#[derive(Debug, PartialEq)]
struct Expected {
    txn_count: i64,
    statuses: [i64; 5],
    total: Decimal,
    approved_amount: Decimal,
    avg: Decimal,
    min: Decimal,
    max: Decimal,
    p50: Decimal,
    p95: Decimal,
    p99: Decimal,
    customers: i64,
    merchants: i64,
    fraud: i64,
    approval_rate: Option<Decimal>,
}

type Key = (DateTime<Utc>, String, String);

fn window_of(at: DateTime<Utc>) -> DateTime<Utc> {
    // 300 s windows from the epoch, by integer seconds (events here have no pre-1970 times).
    let secs = at.timestamp();
    DateTime::from_timestamp(secs - secs % 300, 0).unwrap()
}

fn percentile(sorted: &[Decimal], p: &str) -> Decimal {
    let p = Decimal::from_str(p).unwrap();
    let position = p * Decimal::from(sorted.len() - 1);
    let lo = position.floor();
    let hi = position.ceil();
    let (a, b) = (
        sorted[lo.to_string().parse::<usize>().unwrap()],
        sorted[hi.to_string().parse::<usize>().unwrap()],
    );
    a + (position - lo) * (b - a)
}

fn fold(events: &[Value]) -> BTreeMap<Key, Expected> {
    let mut groups: BTreeMap<Key, Vec<&Value>> = BTreeMap::new();
    for e in events {
        let at: DateTime<Utc> = e["occurred_at"].as_str().unwrap().parse().unwrap();
        let key = (
            window_of(at),
            e["payment_type"].as_str().unwrap().to_owned(),
            e["currency"].as_str().unwrap().to_owned(),
        );
        groups.entry(key).or_default().push(e);
    }
    groups
        .into_iter()
        .map(|(key, rows)| {
            let amount = |e: &Value| Decimal::from_str(e["amount"].as_str().unwrap()).unwrap();
            let status = |e: &Value, s: &str| e["status"] == s;
            let mut amounts: Vec<Decimal> = rows.iter().map(|e| amount(e)).collect();
            amounts.sort();
            let n = amounts.len() as i64;
            let statuses = ["approved", "declined", "failed", "pending", "refunded"]
                .map(|s| rows.iter().filter(|e| status(e, s)).count() as i64);
            let total: Decimal = amounts.iter().sum();
            let decided = statuses[0] + statuses[1];
            let expected = Expected {
                txn_count: n,
                statuses,
                total,
                approved_amount: rows
                    .iter()
                    .filter(|e| status(e, "approved"))
                    .map(|e| amount(e))
                    .sum(),
                avg: total / Decimal::from(n),
                min: amounts[0],
                max: amounts[amounts.len() - 1],
                p50: percentile(&amounts, "0.50"),
                p95: percentile(&amounts, "0.95"),
                p99: percentile(&amounts, "0.99"),
                customers: rows
                    .iter()
                    .map(|e| e["customer_id"].as_str().unwrap())
                    .collect::<BTreeSet<_>>()
                    .len() as i64,
                merchants: rows
                    .iter()
                    .map(|e| e["merchant_id"].as_str().unwrap())
                    .collect::<BTreeSet<_>>()
                    .len() as i64,
                fraud: rows.iter().filter(|e| e["is_fraud"] == true).count() as i64,
                approval_rate: (decided > 0)
                    .then(|| Decimal::from(statuses[0]) / Decimal::from(decided)),
            };
            (key, expected)
        })
        .collect()
}

async fn stored(client: &tokio_postgres::Client) -> BTreeMap<Key, Expected> {
    client
        .query(
            "SELECT window_start, payment_type, currency, txn_count, approved_count, declined_count,
                    failed_count, pending_count, refunded_count, total_amount, approved_amount,
                    avg_amount, min_amount, max_amount, p50_amount, p95_amount, p99_amount,
                    unique_customers, unique_merchants, fraud_count, approval_rate, window_end
             FROM payment_metrics_5m",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let start: DateTime<Utc> = r.get(0);
            assert_eq!(r.get::<_, DateTime<Utc>>(21), start + TimeDelta::minutes(5));
            (
                (start, r.get(1), r.get(2)),
                Expected {
                    txn_count: r.get(3),
                    statuses: [r.get(4), r.get(5), r.get(6), r.get(7), r.get(8)],
                    total: r.get(9),
                    approved_amount: r.get(10),
                    avg: r.get(11),
                    min: r.get(12),
                    max: r.get(13),
                    p50: r.get(14),
                    p95: r.get(15),
                    p99: r.get(16),
                    customers: r.get(17),
                    merchants: r.get(18),
                    fraud: r.get(19),
                    approval_rate: r.get(20),
                },
            )
        })
        .collect()
}

/// Exact equality, except quotients (average, approval rate), which each side rounds in
/// its own last digits.
fn assert_matches(actual: &BTreeMap<Key, Expected>, expected: &BTreeMap<Key, Expected>) {
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    let close = |a: Decimal, b: Decimal| (a - b).abs() < Decimal::new(1, 12);
    for (key, want) in expected {
        let got = &actual[key];
        assert!(
            close(got.avg, want.avg),
            "{key:?} avg {} vs {}",
            got.avg,
            want.avg
        );
        match (got.approval_rate, want.approval_rate) {
            (Some(a), Some(b)) => assert!(close(a, b), "{key:?} approval_rate {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "{key:?} approval_rate"),
        }
        let strip = |e: &Expected| {
            (
                e.txn_count,
                e.statuses,
                e.total.normalize(),
                e.approved_amount.normalize(),
                e.min.normalize(),
                e.max.normalize(),
                e.p50.normalize(),
                e.p95.normalize(),
                e.p99.normalize(),
                e.customers,
                e.merchants,
                e.fraud,
            )
        };
        assert_eq!(strip(got), strip(want), "{key:?}");
    }
}

fn policy() -> WindowPolicy {
    WindowPolicy::default()
}

#[tokio::test]
async fn two_hours_ingested_then_one_timer_call_match_an_independent_fold() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let events = generate(7, 1500, t("2026-11-25T10:00:00Z"), 2 * 3600);
    ingest(&app, &events).await;

    let body = app.timer(fixture("timer_invocation.json")).await;
    assert_eq!(body["ReturnValue"]["windows_closed"], 24, "{body}");
    assert_eq!(body["ReturnValue"]["windows_remaining"], 0);

    assert_matches(&stored(&db).await, &fold(&events));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM payment_metrics_5m WHERE revision <> 1 OR late_events <> 0"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn an_event_at_a_boundary_belongs_to_the_window_it_starts() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let mut events = generate(1, 2, t("2026-11-25T12:00:00Z"), 1);
    events[0]["occurred_at"] = json!("2026-11-25T12:05:00.000Z");
    events[1]["occurred_at"] = json!("2026-11-25T12:04:59.999Z");
    events[1]["payment_type"] = events[0]["payment_type"].clone();
    events[1]["currency"] = events[0]["currency"].clone();
    ingest(&app, &events).await;
    let mut client = app.db.connect().await;
    store::close_due_windows(&mut client, t("2026-11-25T13:00:00Z"), &policy(), &[])
        .await
        .unwrap();
    let windows: Vec<(DateTime<Utc>, i64)> = db
        .query(
            "SELECT window_start, txn_count FROM payment_metrics_5m ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        windows,
        [
            (t("2026-11-25T12:00:00Z"), 1),
            (t("2026-11-25T12:05:00Z"), 1)
        ]
    );
}

#[tokio::test]
async fn a_window_closes_only_once_its_lateness_has_passed() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    ingest(&app, &generate(2, 10, t("2026-11-25T12:00:00Z"), 300)).await;
    let mut client = app.db.connect().await;
    let early =
        store::close_due_windows(&mut client, t("2026-11-25T12:05:59.999Z"), &policy(), &[])
            .await
            .unwrap();
    assert_eq!((early.closed, early.remaining), (0, 0));
    assert_eq!(
        count(&db, "SELECT count(*) FROM payment_metrics_5m").await,
        0
    );
    let due = store::close_due_windows(&mut client, t("2026-11-25T12:06:00Z"), &policy(), &[])
        .await
        .unwrap();
    assert_eq!(due.closed, 1);
    assert!(count(&db, "SELECT count(*) FROM payment_metrics_5m").await > 0);
}

#[tokio::test]
async fn a_backfill_closes_in_bounded_chunks_and_reports_what_remains() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let events = generate(3, 600, t("2026-11-25T00:00:00Z"), 6 * 3600);
    ingest(&app, &events).await;
    let small = WindowPolicy {
        windows_per_chunk: 10,
        max_run_time: Duration::ZERO,
        ..policy()
    };
    let mut client = app.db.connect().await;
    let now = t("2026-11-25T12:00:00Z");
    let first = store::close_due_windows(&mut client, now, &small, &[])
        .await
        .unwrap();
    assert_eq!((first.closed, first.remaining), (10, 62));
    let mut runs = 1;
    loop {
        let report = store::close_due_windows(&mut client, now, &small, &[])
            .await
            .unwrap();
        runs += 1;
        if report.remaining == 0 {
            break;
        }
    }
    assert_eq!(runs, 8);
    assert_matches(&stored(&db).await, &fold(&events));
}

#[tokio::test]
async fn a_late_event_recomputes_exactly_its_window_with_the_next_revision() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let mut events = generate(4, 400, t("2026-11-25T10:00:00Z"), 3600);
    ingest(&app, &events).await;
    let mut client = app.db.connect().await;
    store::close_due_windows(&mut client, t("2026-11-25T12:00:00Z"), &policy(), &[])
        .await
        .unwrap();
    let all_rows = "SELECT row_to_json(m)::text FROM payment_metrics_5m m
                    WHERE window_start <> '2026-11-25T10:20:00Z' ORDER BY window_start, payment_type, currency";
    let others: Vec<String> = db
        .query(all_rows, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();

    let mut late = generate(99, 1, t("2026-11-25T10:22:00Z"), 1);
    late[0]["payment_type"] = json!("wire");
    late[0]["currency"] = json!("USD");
    ingest(&app, &late).await;
    events.extend(late);
    let report = store::close_due_windows(&mut client, t("2026-11-25T12:10:00Z"), &policy(), &[])
        .await
        .unwrap();
    assert_eq!((report.closed, report.recomputed), (0, 1));

    let after: Vec<String> = db
        .query(all_rows, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(after, others, "other windows must not change");
    let revisions: BTreeSet<i32> = db
        .query(
            "SELECT revision FROM payment_metrics_5m WHERE window_start = '2026-11-25T10:20:00Z'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(revisions, BTreeSet::from([2]));
    let late_events: i64 = db
        .query_one(
            "SELECT late_events FROM payment_metrics_5m
             WHERE window_start = '2026-11-25T10:20:00Z' AND payment_type = 'wire' AND currency = 'USD'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(late_events, 1);
    assert_eq!(
        count(
            &db,
            "SELECT sum(late_events)::bigint FROM payment_metrics_5m"
        )
        .await,
        1,
        "only the late event's group counts it"
    );
    assert_matches(&stored(&db).await, &fold(&events));
}

#[tokio::test]
async fn a_replayed_batch_after_close_and_an_empty_run_change_nothing() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let events = generate(5, 300, t("2026-11-25T10:00:00Z"), 3600);
    ingest(&app, &events).await;
    let mut client = app.db.connect().await;
    let now = t("2026-11-25T12:00:00Z");
    store::close_due_windows(&mut client, now, &policy(), &[])
        .await
        .unwrap();
    let snapshot =
        "SELECT coalesce(string_agg(row_to_json(x)::text, '|' ORDER BY x::text), '') FROM
                    (SELECT * FROM payment_metrics_5m UNION ALL SELECT NULL, NULL, NULL, NULL, NULL,
                     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                     NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE false) x";
    let state =
        "SELECT string_agg(row_to_json(s)::text, '|' ORDER BY window_start) FROM window_state s";
    let before: (String, String) = (
        db.query_one(snapshot, &[]).await.unwrap().get(0),
        db.query_one(state, &[]).await.unwrap().get(0),
    );
    ingest(&app, &events).await;
    let replay = store::close_due_windows(&mut client, now + TimeDelta::minutes(5), &policy(), &[])
        .await
        .unwrap();
    let empty = store::close_due_windows(&mut client, now + TimeDelta::minutes(10), &policy(), &[])
        .await
        .unwrap();
    assert_eq!(
        (
            replay.closed,
            replay.recomputed,
            empty.closed,
            empty.recomputed
        ),
        (0, 0, 0, 0)
    );
    let after: (String, String) = (
        db.query_one(snapshot, &[]).await.unwrap().get(0),
        db.query_one(state, &[]).await.unwrap().get(0),
    );
    assert_eq!(after, before);
}

#[tokio::test]
async fn concurrent_timer_runs_produce_the_same_table_as_one() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let events = generate(6, 1200, t("2026-11-25T08:00:00Z"), 4 * 3600);
    ingest(&app, &events).await;
    let small = WindowPolicy {
        windows_per_chunk: 4,
        ..policy()
    };
    let now = t("2026-11-25T13:00:00Z");
    let (mut a, mut b) = (app.db.connect().await, app.db.connect().await);
    let (ra, rb) = tokio::join!(
        store::close_due_windows(&mut a, now, &small, &[]),
        store::close_due_windows(&mut b, now, &small, &[])
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.closed + rb.closed, 48);
    assert_eq!(ra.recomputed + rb.recomputed, 0);
    assert_matches(&stored(&db).await, &fold(&events));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM payment_metrics_5m WHERE revision <> 1"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn ingest_racing_the_timer_loses_nothing() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let events = generate(8, 2000, t("2026-11-25T10:00:00Z"), 1800);
    let chunks: Vec<Vec<Value>> = events.chunks(100).map(<[Value]>::to_vec).collect();
    let now = t("2026-11-25T12:00:00Z");
    let ingesting = async {
        for (n, chunk) in chunks.iter().enumerate() {
            let (status, _) = app.invoke(batch(chunk, "3", (n * 100) as i64)).await;
            assert_eq!(status, 200);
        }
    };
    let closing = async {
        let mut client = app.db.connect().await;
        for _ in 0..40 {
            store::close_due_windows(&mut client, now, &policy(), &[])
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
    };
    tokio::join!(ingesting, closing);
    let mut client = app.db.connect().await;
    store::close_due_windows(&mut client, now, &policy(), &[])
        .await
        .unwrap();
    assert_matches(&stored(&db).await, &fold(&events));
    let late: i64 = count(
        &db,
        "SELECT coalesce(sum(late_events), 0)::bigint FROM window_state",
    )
    .await;
    let late_rows: i64 = count(
        &db,
        "SELECT coalesce(sum(late_events), 0)::bigint FROM payment_metrics_5m",
    )
    .await;
    assert_eq!(
        late, late_rows,
        "per-group late counts add up to the windows' counts"
    );
}

#[tokio::test]
async fn the_timer_creates_partitions_ahead_and_drops_those_past_retention() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let engine = EngineConfig::from_yaml(
        "retention:\n  transactions: 2d\n  partitions_ahead_days: 3\n",
        std::path::Path::new("engine.yaml"),
    )
    .unwrap();
    let app = TestApp::spawn_with(db, &url, engine.clone(), 1 << 20).await;
    let client = app.db.connect().await;
    // Ingest checks ages against the wall clock, so this test's days are around today.
    let today = Utc::now();
    let old_day = today - TimeDelta::days(1) - TimeDelta::hours(1);
    let events = generate(9, 20, old_day - TimeDelta::hours(2), 3600);
    ingest(&app, &events).await;
    let mut conn = app.db.connect().await;
    store::close_due_windows(&mut conn, today, &engine.windows, &[])
        .await
        .unwrap();
    let report =
        store::maintain_partitions(&mut conn, today + TimeDelta::days(3), &engine.retention)
            .await
            .unwrap();
    let dropped_day = (old_day - TimeDelta::hours(2)).format("%Y%m%d").to_string();
    assert!(
        report.dropped.iter().any(|p| p.ends_with(&dropped_day)),
        "{:?}",
        report.dropped
    );
    let ahead = (today + TimeDelta::days(6))
        .format("normalized_transactions_p%Y%m%d")
        .to_string();
    assert_eq!(
        count(
            &client,
            &format!("SELECT count(*) FROM pg_class WHERE relname = '{ahead}'")
        )
        .await,
        1
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM normalized_transactions").await,
        0
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM transaction_ids").await,
        0
    );
    assert_eq!(count(&client, "SELECT count(*) FROM window_state").await, 0);
    assert!(
        count(&client, "SELECT count(*) FROM payment_metrics_5m").await > 0,
        "metrics outlive raw data"
    );

    let mut ancient = generate(10, 1, today - TimeDelta::days(3), 60);
    ancient[0]["transaction_id"] = json!("ancient");
    let (status, body) = app.invoke(batch(&ancient, "0", 1)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["ReturnValue"]["rejected_by_reason"]["expired_timestamp"], 1,
        "{body}"
    );
}
