//! Rule-based metrics end to end: rules from YAML, transactions through the handler,
//! windows closed, `dynamic_metrics` compared with a fold written independently here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::settings::EngineConfig;
use paymetrics::store;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{Rng, TestApp, TestDb, batch};

const RULES: &str = "
rules:
  - name: card_decline_rate
    description: Share of card transactions that were declined
    window: 15m
    where: payment_type == 'card'
    group_by: [merchant_category]
    aggregate: ratio(status == 'declined')
  - name: high_value_volume_usd
    where: currency == 'USD' && status == 'approved' && amount > 1000
    aggregate: sum(amount)
  - name: p95_ticket
    window: 1h
    group_by: [payment_type, currency]
    aggregate: p95(amount)
  - name: fraud_count_by_country
    window: 30m
    where: is_fraud
    group_by: [country]
    aggregate: count()
  - name: eur_avg_online
    where: currency == 'EUR' && channel in ['online', 'mobile']
    aggregate: avg(amount)
  - name: min_max_by_currency_min
    group_by: [currency]
    aggregate: min(amount)
  - name: min_max_by_currency_max
    window: 1m
    group_by: [currency]
    aggregate: max(amount)
  - name: customers_not_declined
    window: 15m
    where: \"!(status == 'declined') || amount >= 5000\"
    aggregate: distinct(customer_id)
  - name: merchants_per_channel
    group_by: [channel]
    aggregate: distinct(merchant_id)
  - name: refund_share_wallets
    window: 1h
    where: payment_type in ['wallet', 'bnpl']
    aggregate: ratio(status == 'refunded')
  - name: mid_tickets_not_fraud
    where: \"amount < 50 && !(amount <= 10) && is_fraud in [false]\"
    group_by: [currency]
    aggregate: count()
  - name: listed_amounts_or_all
    window: 1h
    where: \"(amount in [10, 20.5] && false) || true\"
    group_by: [currency]
    aggregate: sum(amount)
";

fn engine() -> EngineConfig {
    EngineConfig::from_yaml(RULES, Path::new("engine.yaml")).unwrap()
}

fn generate(seed: u64, count: usize, from: DateTime<Utc>, span_seconds: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let at = from + TimeDelta::microseconds(rng.below(span_seconds * 1_000_000) as i64);
            let currency = *rng.pick(&["USD", "EUR", "JPY"]);
            let amount = match currency {
                "JPY" => Decimal::from(50 + rng.below(900_000)),
                _ => Decimal::new(100 + rng.below(800_000) as i64, 2),
            };
            let channel = rng.pick(&[Some("pos"), Some("online"), Some("mobile"), None]);
            let country = rng.pick(&[Some("US"), Some("DE"), Some("JP"), None]);
            json!({
                "transaction_id": format!("r-{seed}-{i}"),
                "occurred_at": at.to_rfc3339(),
                "amount": amount.to_string(),
                "currency": currency,
                "payment_type": rng.pick(&["card", "card", "ach", "wallet", "bnpl"]),
                "status": rng.pick(&["approved", "approved", "declined", "refunded", "failed"]),
                "merchant_id": format!("m-{}", rng.below(9)),
                "merchant_category": rng.pick(&[Some("grocery"), Some("travel"), None]),
                "customer_id": format!("c-{}", rng.below(60)),
                "country": country,
                "channel": channel,
                "is_fraud": rng.below(10) == 0,
            })
        })
        .collect()
}

type Row = (String, DateTime<Utc>, String);

fn start_of(at: DateTime<Utc>, width: i64) -> DateTime<Utc> {
    let s = at.timestamp();
    DateTime::from_timestamp(s - s % width, 0).unwrap()
}

fn text(e: &Value, key: &str) -> Value {
    e.get(key).cloned().unwrap_or(Value::Null)
}

fn amount(e: &Value) -> Decimal {
    Decimal::from_str(e["amount"].as_str().unwrap()).unwrap()
}

fn percentile_float(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let position = p * (values.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    values[lo] + (position - lo as f64) * (values[hi] - values[lo])
}

/// (value, sample_count) per (rule, window, group key), folded by hand.
fn expected(events: &[Value]) -> BTreeMap<Row, (Decimal, i64)> {
    type Filter = fn(&Value) -> bool;
    type Agg = fn(&[&Value]) -> Decimal;
    let ratio = |rows: &[&Value], f: Filter| {
        Decimal::from(rows.iter().filter(|e| f(e)).count() as i64)
            / Decimal::from(rows.len() as i64)
    };
    let _ = ratio;
    let rules: Vec<(&str, i64, Filter, &[&str], Agg)> = vec![
        (
            "card_decline_rate",
            900,
            |e| e["payment_type"] == "card",
            &["merchant_category"],
            |rows| {
                Decimal::from(rows.iter().filter(|e| e["status"] == "declined").count() as i64)
                    / Decimal::from(rows.len() as i64)
            },
        ),
        (
            "high_value_volume_usd",
            300,
            |e| {
                e["currency"] == "USD"
                    && e["status"] == "approved"
                    && amount(e) > Decimal::from(1000)
            },
            &[],
            |rows| rows.iter().map(|e| amount(e)).sum(),
        ),
        (
            "p95_ticket",
            3600,
            |_| true,
            &["payment_type", "currency"],
            |rows| {
                let values: Vec<f64> = rows
                    .iter()
                    .map(|e| e["amount"].as_str().unwrap().parse().unwrap())
                    .collect();
                Decimal::from_str(&format!("{:.6}", percentile_float(values, 0.95))).unwrap()
            },
        ),
        (
            "fraud_count_by_country",
            1800,
            |e| e["is_fraud"] == true,
            &["country"],
            |rows| Decimal::from(rows.len() as i64),
        ),
        (
            "eur_avg_online",
            300,
            |e| e["currency"] == "EUR" && (e["channel"] == "online" || e["channel"] == "mobile"),
            &[],
            |rows| {
                rows.iter().map(|e| amount(e)).sum::<Decimal>() / Decimal::from(rows.len() as i64)
            },
        ),
        (
            "min_max_by_currency_min",
            300,
            |_| true,
            &["currency"],
            |rows| rows.iter().map(|e| amount(e)).min().unwrap(),
        ),
        (
            "min_max_by_currency_max",
            60,
            |_| true,
            &["currency"],
            |rows| rows.iter().map(|e| amount(e)).max().unwrap(),
        ),
        (
            "customers_not_declined",
            900,
            |e| e["status"] != "declined" || amount(e) >= Decimal::from(5000),
            &[],
            |rows| {
                Decimal::from(
                    rows.iter()
                        .map(|e| e["customer_id"].as_str().unwrap())
                        .collect::<BTreeSet<_>>()
                        .len() as i64,
                )
            },
        ),
        (
            "merchants_per_channel",
            300,
            |_| true,
            &["channel"],
            |rows| {
                Decimal::from(
                    rows.iter()
                        .map(|e| e["merchant_id"].as_str().unwrap())
                        .collect::<BTreeSet<_>>()
                        .len() as i64,
                )
            },
        ),
        (
            "refund_share_wallets",
            3600,
            |e| e["payment_type"] == "wallet" || e["payment_type"] == "bnpl",
            &[],
            |rows| {
                Decimal::from(rows.iter().filter(|e| e["status"] == "refunded").count() as i64)
                    / Decimal::from(rows.len() as i64)
            },
        ),
        (
            "mid_tickets_not_fraud",
            300,
            |e| {
                amount(e) < Decimal::from(50)
                    && amount(e) > Decimal::from(10)
                    && e["is_fraud"] == false
            },
            &["currency"],
            |rows| Decimal::from(rows.len() as i64),
        ),
        (
            "listed_amounts_or_all",
            3600,
            |_| true,
            &["currency"],
            |rows| rows.iter().map(|e| amount(e)).sum(),
        ),
    ];
    let mut out = BTreeMap::new();
    for (name, width, filter, dims, agg) in rules {
        let mut groups: BTreeMap<(DateTime<Utc>, String), Vec<&Value>> = BTreeMap::new();
        for e in events.iter().filter(|e| filter(e)) {
            let at: DateTime<Utc> = e["occurred_at"].as_str().unwrap().parse().unwrap();
            let key: serde_json::Map<String, Value> =
                dims.iter().map(|d| (d.to_string(), text(e, d))).collect();
            groups
                .entry((start_of(at, width), Value::Object(key).to_string()))
                .or_default()
                .push(e);
        }
        for ((start, key), rows) in groups {
            out.insert(
                (name.to_owned(), start, key),
                (agg(&rows), rows.len() as i64),
            );
        }
    }
    out
}

async fn actual(client: &tokio_postgres::Client) -> BTreeMap<Row, (Decimal, i64)> {
    client
        .query(
            "SELECT rule_name, window_start, group_key::text, value, sample_count, window_end - window_start
             FROM dynamic_metrics",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let key: Value = serde_json::from_str(r.get::<_, &str>(2)).unwrap();
            ((r.get(0), r.get(1), key.to_string()), (r.get(3), r.get(4)))
        })
        .collect()
}

fn assert_close(actual: &BTreeMap<Row, (Decimal, i64)>, expected: &BTreeMap<Row, (Decimal, i64)>) {
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (key, (want, want_n)) in expected {
        let (got, got_n) = actual[key];
        assert_eq!(got_n, *want_n, "{key:?} sample_count");
        let tolerance = if key.0 == "p95_ticket" {
            Decimal::new(1, 4)
        } else {
            Decimal::new(1, 12)
        };
        assert!((got - want).abs() <= tolerance, "{key:?}: {got} vs {want}");
    }
}

async fn spawn() -> TestApp {
    let db = TestDb::migrated().await;
    let url = db.url();
    TestApp::spawn_with(db, &url, engine(), 1 << 24).await
}

async fn ingest(app: &TestApp, events: &[Value], first_sequence: i64) {
    for (n, chunk) in events.chunks(200).enumerate() {
        let (status, body) = app
            .invoke(batch(chunk, "0", first_sequence + (n * 200) as i64))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ReturnValue"]["rejected"], 0, "{body}");
    }
}

#[tokio::test]
async fn every_aggregate_kind_matches_an_independent_fold_over_several_window_sizes() {
    let app = spawn().await;
    let db = app.db.connect().await;
    let events = generate(11, 2500, "2026-11-25T09:00:00Z".parse().unwrap(), 2 * 3600);
    ingest(&app, &events, 0).await;
    let engine = engine();
    let mut client = app.db.connect().await;
    let report = store::close_due_windows(
        &mut client,
        "2026-11-25T12:00:00Z".parse().unwrap(),
        &engine.windows,
        &engine.rules,
    )
    .await
    .unwrap();
    assert_eq!(report.remaining, 0);
    assert_close(&actual(&db).await, &expected(&events));
    let versions: BTreeSet<String> = db
        .query("SELECT DISTINCT rule_version FROM dynamic_metrics", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions.len(), engine.rules.len(), "one version per rule");
}

#[tokio::test]
async fn late_data_bumps_the_revision_of_the_rule_windows_it_lands_in() {
    let app = spawn().await;
    let db = app.db.connect().await;
    let mut events = generate(12, 600, "2026-11-25T09:00:00Z".parse().unwrap(), 3600);
    ingest(&app, &events, 0).await;
    let engine = engine();
    let mut client = app.db.connect().await;
    let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap();
    store::close_due_windows(&mut client, now, &engine.windows, &engine.rules)
        .await
        .unwrap();
    let mut late = generate(13, 1, "2026-11-25T09:20:00Z".parse().unwrap(), 1);
    late[0]["payment_type"] = json!("card");
    ingest(&app, &late, 10_000).await;
    events.extend(late);
    store::close_due_windows(
        &mut client,
        now + TimeDelta::minutes(5),
        &engine.windows,
        &engine.rules,
    )
    .await
    .unwrap();
    assert_close(&actual(&db).await, &expected(&events));
    let revision = |rule: &str, start: &str| {
        let db = &db;
        let (rule, start) = (rule.to_owned(), start.to_owned());
        async move {
            db.query(
                "SELECT DISTINCT revision FROM dynamic_metrics WHERE rule_name = $1 AND window_start = $2::text::timestamptz",
                &[&rule, &start],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, i32>(0))
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        revision("card_decline_rate", "2026-11-25T09:15:00Z").await,
        [2]
    );
    assert_eq!(revision("p95_ticket", "2026-11-25T09:00:00Z").await, [2]);
    assert_eq!(
        revision("card_decline_rate", "2026-11-25T09:30:00Z").await,
        [1]
    );
}

#[tokio::test]
async fn a_rule_added_later_covers_windows_closed_before_it_and_percentiles_are_exact() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1 << 20).await;
    let client = app.db.connect().await;
    let mut big = generate(31, 1, "2026-11-25T10:00:01Z".parse().unwrap(), 1);
    big[0]["currency"] = json!("USD");
    big[0]["payment_type"] = json!("card");
    big[0]["amount"] = json!("123456789012345.67");
    ingest(&app, &big, 0).await;
    let mut conn = app.db.connect().await;
    let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap();
    store::close_due_windows(&mut conn, now, &Default::default(), &[])
        .await
        .unwrap();

    // The rule arrives after its window was closed, with a padded literal in any case.
    let later = EngineConfig::from_yaml(
        "rules:\n  - name: p50_card\n    window: 15m\n    where: \"payment_type == 'CARD '\"\n    group_by: [currency]\n    aggregate: p50(amount)\n",
        Path::new("engine.yaml"),
    )
    .unwrap();
    store::close_due_windows(
        &mut conn,
        now + TimeDelta::minutes(5),
        &Default::default(),
        &later.rules,
    )
    .await
    .unwrap();
    let value: Decimal = client
        .query_one(
            "SELECT value FROM dynamic_metrics WHERE rule_name = 'p50_card' AND window_start = '2026-11-25T10:00:00Z'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(value, Decimal::from_str("123456789012345.67").unwrap());
}
