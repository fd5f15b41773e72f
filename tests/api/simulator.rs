//! The simulator: determinism, distributions, faults, ground truth, the handler sink
//! end to end, and hot reload. Built only with the `simulator` feature.
#![cfg(feature = "simulator")]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use paymetrics::ingest::{IngestPolicy, normalize};
use paymetrics::simulator::run::{RunOptions, run};
use paymetrics::simulator::scenario::{Faults, TimeMode};
use paymetrics::simulator::sinks::{HandlerSink, Sink};
use paymetrics::simulator::{Arrivals, DEFAULT_SCENARIO, Generator, Scenario, check};
use paymetrics::store;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::helpers::{TestApp, count};

fn scenario(faults: bool) -> Scenario {
    let mut s = Scenario::from_yaml(DEFAULT_SCENARIO, "default").unwrap();
    s.rate.events_per_second = 20.0;
    s.rate.bursts = None;
    if !faults {
        s.faults = Faults::none();
        s.fraud.rate = 0.0;
        s.outcomes_by_hour = None;
    }
    s
}

fn backfill(mut s: Scenario, from: &str, to: &str) -> Scenario {
    s.time = TimeMode::Backfill {
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    };
    s
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pm-sim-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn to_file(s: Scenario, dir: &Path, count: u64) -> (String, Vec<Value>, Vec<Value>) {
    let out = dir.join("events.ndjson");
    let file = std::fs::File::create(&out).unwrap();
    let options = RunOptions {
        count: Some(count),
        manifest: Some(dir.join("manifest.ndjson")),
        truth: Some(dir.join("truth.json")),
        ..RunOptions::default()
    };
    run(
        s,
        Sink::Lines(Box::new(std::io::BufWriter::new(file))),
        options,
    )
    .await
    .unwrap();
    let events = std::fs::read_to_string(&out).unwrap();
    let manifest = std::fs::read_to_string(dir.join("manifest.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let truth =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    (events, manifest, truth)
}

fn demo_incidents() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/incidents.yaml");
    Scenario::load(&path).unwrap()
}

#[tokio::test]
async fn simulator_manifest_lists_the_planted_incidents_before_the_events() {
    let dir = temp("incidents");
    let s = demo_incidents();
    let planned = s.incidents_at(s.run_start().unwrap());
    let (events, manifest, _) = to_file(s, &dir, 2000).await;
    let (incidents, faults) = manifest.split_at(3);
    let expected: Vec<Value> = planned.iter().map(|i| i.manifest_line()).collect();
    assert_eq!(incidents, expected);
    assert_eq!(
        incidents[2],
        serde_json::json!({
            "incident": "merchant_decline_spike", "index": 2,
            "start": "2026-11-25T16:00:00.000Z", "end": "2026-11-25T16:45:00.000Z",
            "scope": {"merchant_id": "m-000000"}, "outcome": {"decline_rate": 0.6},
            "expected": "alert",
        })
    );
    // Then one line per event, as without incidents.
    assert_eq!(faults.len(), events.lines().count());
    assert!(
        faults
            .iter()
            .all(|f| f.get("incident").is_none() && f["seq"].is_u64())
    );

    // A realtime run's incidents count from when it starts.
    let mut realtime = demo_incidents();
    realtime.time = TimeMode::Realtime;
    realtime.rate.events_per_second = 2000.0;
    let before = Utc::now();
    let (_, manifest, _) = to_file(realtime, &dir, 100).await;
    let after = Utc::now();
    let start =
        |line: &Value| -> DateTime<Utc> { line["start"].as_str().unwrap().parse().unwrap() };
    let first = start(&manifest[0]) - TimeDelta::hours(4);
    // The manifest writes milliseconds.
    let before = before.trunc_subsecs(3);
    assert!(
        before <= first && first <= after,
        "{before} {first} {after}"
    );
    assert_eq!(manifest[0]["incident"], "approval_drop");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_same_seed_gives_the_same_bytes_whatever_the_batch_size() {
    let dir = temp("determinism");
    let mut a = backfill(
        scenario(true),
        "2026-11-25T00:00:00Z",
        "2026-11-25T06:00:00Z",
    );
    a.delivery.batch_size = 7;
    let mut b = a.clone();
    b.delivery.batch_size = 500;
    let (first, _, _) = to_file(a.clone(), &dir, 5000).await;
    let (second, _, _) = to_file(b, &dir, 5000).await;
    assert_eq!(first, second);
    let mut c = a;
    c.seed += 1;
    let (third, _, _) = to_file(c, &dir, 5000).await;
    assert_ne!(first, third);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn shares_outcomes_and_amounts_follow_the_scenario() {
    let s = scenario(false);
    let mut generator = Generator::new(&s);
    let mut arrivals = Arrivals::new(&s, "2026-11-25T00:00:00Z".parse().unwrap());
    let mut out = Vec::new();
    let n = 200_000;
    for _ in 0..n {
        generator.arrival(arrivals.next_time(), &mut out);
    }
    let events: Vec<Value> = out
        .iter()
        .map(|e| serde_json::from_str(&e.text).unwrap())
        .collect();
    let total_weight: f64 = s.payment_types.values().map(|m| m.weight).sum();
    for (name, mix) in &s.payment_types {
        let of_type: Vec<&Value> = events
            .iter()
            .filter(|e| e["payment_type"] == name.as_str())
            .collect();
        let share = of_type.len() as f64 / n as f64;
        let expected = mix.weight / total_weight;
        assert!(
            (share - expected).abs() < 0.01,
            "{name}: share {share} vs {expected}"
        );
        let declined = of_type.iter().filter(|e| e["status"] == "declined").count() as f64
            / of_type.len() as f64;
        assert!(
            (declined - mix.decline_rate).abs() < 0.015,
            "{name}: decline rate {declined} vs {}",
            mix.decline_rate
        );
        // Median of USD amounts outside the categories with their own medians.
        let mut usd: Vec<f64> = of_type
            .iter()
            .filter(|e| {
                e["currency"] == "USD"
                    && !mix
                        .category_medians
                        .contains_key(e["merchant_category"].as_str().unwrap())
            })
            .map(|e| e["amount"].as_str().unwrap().parse::<f64>().unwrap())
            .collect();
        usd.sort_by(f64::total_cmp);
        let median = usd[usd.len() / 2];
        assert!(
            (median / mix.median - 1.0).abs() < 0.08,
            "{name}: USD median {median} vs {}",
            mix.median
        );
    }
    // Currencies are scaled and rounded to their minor units: JPY has no decimals and
    // runs about 150 times USD.
    let median_of = |code: &str| {
        let mut v: Vec<f64> = events
            .iter()
            .filter(|e| e["currency"] == code && e["payment_type"] == "wallet")
            .map(|e| e["amount"].as_str().unwrap().parse::<f64>().unwrap())
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!((median_of("JPY") / median_of("USD") / 150.0 - 1.0).abs() < 0.1);
    assert!(
        events
            .iter()
            .filter(|e| e["currency"] == "JPY")
            .all(|e| !e["amount"].as_str().unwrap().contains('.'))
    );
    assert!(events.iter().filter(|e| e["currency"] == "KWD").all(|e| {
        e["amount"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .len()
            == 3
    }));
}

#[tokio::test]
async fn every_fault_appears_at_its_rate_labelled_with_what_the_pipeline_does() {
    let mut s = backfill(
        scenario(true),
        "2026-11-25T00:00:00Z",
        "2026-11-26T00:00:00Z",
    );
    s.faults.duplicates = 0.05;
    s.faults.late.rate = 0.04;
    s.faults.out_of_order.rate = 0.1;
    s.faults.malformed = 0.04;
    s.faults.legacy_format = 0.2;
    let dir = temp("faults");
    let n = 40_000u64;
    let (events, manifest, _) = to_file(s.clone(), &dir, n).await;
    let lines: Vec<&str> = events.lines().collect();
    assert_eq!(lines.len(), manifest.len());
    assert_fault_rates(&manifest, n);
    assert_each_label_is_true(&lines, &manifest);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Each fault appears at its configured rate, every malformed kind among them.
fn assert_fault_rates(manifest: &[Value], n: u64) {
    let rate =
        |fault: &str| manifest.iter().filter(|m| m["fault"] == fault).count() as f64 / n as f64;
    // Late events are not duplicated: 0.05 x (1 - 0.04).
    assert!(
        (rate("duplicate") - 0.048).abs() < 0.006,
        "duplicates {}",
        rate("duplicate")
    );
    assert!((rate("late") - 0.04).abs() < 0.006, "late {}", rate("late"));
    let malformed: f64 = [
        "broken_json",
        "missing_field",
        "bad_currency",
        "too_many_decimals",
    ]
    .iter()
    .map(|f| rate(f))
    .sum();
    assert!((malformed - 0.04).abs() < 0.006, "malformed {malformed}");
    for kind in [
        "broken_json",
        "missing_field",
        "bad_currency",
        "too_many_decimals",
    ] {
        assert!(rate(kind) > 0.005, "{kind} missing");
    }
}

/// Each label is true of its event, checked with the handler's own validation.
fn assert_each_label_is_true(lines: &[&str], manifest: &[Value]) {
    let policy = IngestPolicy::default();
    let now: DateTime<Utc> = "2026-11-27T00:00:00Z".parse().unwrap();
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut last_time: Option<DateTime<Utc>> = None;
    // Late events still held when the run ends are released at its end, less late.
    let tail = manifest
        .iter()
        .rposition(|m| m["fault"] != "late" && m["fault"] != "duplicate")
        .unwrap();
    for (index, (line, label)) in lines.iter().zip(manifest).enumerate() {
        let expected = label["expected"].as_str().unwrap();
        let id = label["transaction_id"].as_str().unwrap();
        let verdict = serde_json::from_str::<Value>(line)
            .map_err(|_| "malformed_json".to_string())
            .and_then(|json| {
                normalize(&json, now, &policy).map_err(|r| r.reason.as_str().to_string())
            });
        match expected {
            "accepted" => {
                let (txn, format) = verdict.unwrap_or_else(|e| panic!("{line}: {e}"));
                assert_eq!(txn.id.as_str(), id);
                if label["fault"] == "legacy_format" {
                    assert_eq!(format.as_str(), "legacy_camel", "{line}");
                }
                if label["fault"] == "late" && index < tail {
                    let behind = last_time.unwrap() - txn.occurred_at;
                    assert!(
                        behind >= TimeDelta::minutes(19),
                        "a late event only {behind} behind"
                    );
                } else if label["fault"] != "out_of_order" {
                    last_time = Some(last_time.map_or(txn.occurred_at, |t| t.max(txn.occurred_at)));
                }
                assert!(
                    seen.insert(id.to_owned(), line).is_none(),
                    "accepted twice: {id}"
                );
            }
            "duplicate" => assert_eq!(
                seen.get(id),
                Some(line),
                "a duplicate differs from its original"
            ),
            rejected => {
                let reason = rejected.strip_prefix("rejected:").unwrap();
                assert_eq!(verdict.err().as_deref(), Some(reason), "{line}");
            }
        }
    }
}

/// Reads an accepted event's JSON in either format, by hand.
fn read_event(
    line: &str,
) -> (
    String,
    DateTime<Utc>,
    String,
    String,
    Decimal,
    String,
    String,
    String,
    bool,
) {
    let e: Value = serde_json::from_str(line).unwrap();
    if let Some(id) = e.get("transaction_id") {
        (
            id.as_str().unwrap().into(),
            e["occurred_at"].as_str().unwrap().parse().unwrap(),
            e["payment_type"].as_str().unwrap().into(),
            e["currency"].as_str().unwrap().into(),
            Decimal::from_str(e["amount"].as_str().unwrap()).unwrap(),
            e["status"].as_str().unwrap().into(),
            e["customer_id"].as_str().unwrap().into(),
            e["merchant_id"].as_str().unwrap().into(),
            e["is_fraud"].as_bool().unwrap(),
        )
    } else {
        let currency = e["currency"].as_str().unwrap().to_uppercase();
        let exponent = match currency.as_str() {
            "JPY" => 0,
            "KWD" => 3,
            _ => 2,
        };
        (
            e["transactionId"].as_str().unwrap().into(),
            DateTime::from_timestamp_millis(e["timestampMs"].as_i64().unwrap()).unwrap(),
            e["paymentMethod"].as_str().unwrap().to_lowercase(),
            currency,
            Decimal::new(e["amountMinor"].as_i64().unwrap(), exponent),
            e["status"].as_str().unwrap().to_lowercase(),
            e["customerId"].as_str().unwrap().into(),
            e["merchantId"].as_str().unwrap().into(),
            e["isFraud"].as_bool().unwrap(),
        )
    }
}

#[tokio::test]
async fn the_truth_file_equals_an_independent_aggregation_of_the_emitted_events() {
    let dir = temp("truth");
    let s = backfill(
        scenario(true),
        "2026-11-25T00:00:00Z",
        "2026-11-25T03:00:00Z",
    );
    let (events, manifest, truth) = to_file(s, &dir, 3000).await;
    type Key = (String, String, String);
    type Seen = (Decimal, String, String, String, bool);
    let mut groups: BTreeMap<Key, Vec<Seen>> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for (line, label) in events.lines().zip(&manifest) {
        if label["expected"] != "accepted" {
            continue;
        }
        let (id, at, kind, currency, amount, status, customer, merchant, fraud) = read_event(line);
        assert!(ids.insert(id));
        let secs = at.timestamp();
        let window = DateTime::from_timestamp(secs - secs.rem_euclid(300), 0).unwrap();
        groups
            .entry((
                window.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                kind,
                currency,
            ))
            .or_default()
            .push((amount, status, customer, merchant, fraud));
    }
    assert_eq!(truth.len(), groups.len());
    for row in &truth {
        let key = (
            row["window_start"].as_str().unwrap().to_owned(),
            row["payment_type"].as_str().unwrap().to_owned(),
            row["currency"].as_str().unwrap().to_owned(),
        );
        let rows = &groups[&key];
        let number = |v: &Value| Decimal::from_str(&v.to_string()).unwrap();
        let total: Decimal = rows.iter().map(|r| r.0).sum();
        assert_eq!(
            row["txn_count"].as_u64().unwrap() as usize,
            rows.len(),
            "{key:?}"
        );
        assert_eq!(number(&row["total_amount"]), total, "{key:?}");
        let approved: Vec<&Decimal> = rows
            .iter()
            .filter(|r| r.1 == "approved")
            .map(|r| &r.0)
            .collect();
        assert_eq!(
            row["approved_count"].as_u64().unwrap() as usize,
            approved.len()
        );
        assert_eq!(
            number(&row["approved_amount"]),
            approved.into_iter().sum::<Decimal>()
        );
        assert_eq!(
            number(&row["max_amount"]),
            rows.iter().map(|r| r.0).max().unwrap()
        );
        assert_eq!(
            row["unique_customers"].as_u64().unwrap() as usize,
            rows.iter().map(|r| &r.2).collect::<BTreeSet<_>>().len()
        );
        assert_eq!(
            row["fraud_count"].as_u64().unwrap() as usize,
            rows.iter().filter(|r| r.4).count()
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_handler_sink_drives_the_whole_pipeline_to_the_truth() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let dir = temp("e2e");
    let mut s = backfill(
        scenario(true),
        "2026-11-25T08:00:00Z",
        "2026-11-25T09:30:00Z",
    );
    s.rate.events_per_second = 2.0;
    // A category without a merchant category code, sent by name in both formats.
    s.merchants.categories.push("books".into());
    let categories = s.merchants.categories.clone();
    let options = RunOptions {
        manifest: Some(dir.join("manifest.ndjson")),
        truth: Some(dir.join("truth.json")),
        ..RunOptions::default()
    };
    let sink = Sink::Handler(HandlerSink::new(&format!("http://{}", app.address), 4, 3));
    let summary = run(s, sink, options).await.unwrap();
    assert_eq!(summary.stats.failed, 0, "{}", summary.report());
    assert!(summary.transactions > 9_000, "{}", summary.report());

    let manifest: Vec<Value> = std::fs::read_to_string(dir.join("manifest.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expect = |label: &str| {
        manifest
            .iter()
            .filter(|m| m["expected"].as_str().unwrap().starts_with(label))
            .count() as i64
    };
    assert_eq!(
        count(&db, "SELECT count(*) FROM normalized_transactions").await,
        expect("accepted")
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM rejected_events").await,
        expect("rejected")
    );
    let partitions = count(
        &db,
        "SELECT count(DISTINCT partition_id) FROM normalized_transactions",
    )
    .await;
    assert_eq!(partitions, 4);
    categories_agree_across_formats(&db, &categories).await;

    let mut client = app.db.connect().await;
    store::close_due_windows(
        &mut client,
        "2026-11-25T12:00:00Z".parse().unwrap(),
        &Default::default(),
        &[],
    )
    .await
    .unwrap();
    let truth: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    let report = check::compare(&db, &truth).await.unwrap();
    assert!(report.ok(), "{:?}", report.differences);
    assert_eq!((report.matching, report.pending), (truth.len(), 0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_realtime_run_picks_up_a_changed_scenario_and_refuses_a_bad_one() {
    let dir = temp("reload");
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, "rate:\n  events_per_second: 200\n").unwrap();
    let options = RunOptions {
        duration: Some(Duration::from_millis(3500)),
        watch: Some(path.clone()),
        ..RunOptions::default()
    };
    let scenario = Scenario::load(&path).unwrap();
    let running = tokio::spawn(run(scenario, Sink::Null, options));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    std::fs::write(&path, "rate:\n  events_per_second: 400\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    std::fs::write(&path, "rate:\n  events_per_second: -5\n").unwrap();
    let summary = running.await.unwrap().unwrap();
    assert_eq!(summary.reloads, 1, "{}", summary.report());
    assert!(summary.transactions > 300, "{}", summary.report());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn arrivals_follow_the_diurnal_curve_and_declines_their_hourly_multiplier() {
    let mut s = scenario(false);
    s.rate.events_per_second = 1.0;
    s.rate.pattern = serde_saphyr::from_str("kind: diurnal\n").unwrap();
    let mut hourly = vec![1.0; 24];
    hourly[3] = 3.0;
    s.outcomes_by_hour = Some(hourly);
    let start: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
    let mut arrivals = Arrivals::new(&s, start);
    let mut generator = Generator::new(&s);
    let mut per_hour = [0u32; 24];
    let mut out = Vec::new();
    loop {
        let at = arrivals.next_time();
        if at >= start + TimeDelta::days(2) {
            break;
        }
        per_hour[chrono::Timelike::hour(&at) as usize] += 1;
        generator.arrival(at, &mut out);
    }
    // Default curve: hour 12 is 1.5, hour 3 is 0.15: ten times the traffic.
    let ratio = f64::from(per_hour[12]) / f64::from(per_hour[3]);
    assert!(
        (ratio / 10.0 - 1.0).abs() < 0.2,
        "noon/3am traffic ratio {ratio}"
    );
    let decline_rate = |hour: u32| {
        let of_hour: Vec<Value> = out
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.text).unwrap())
            .filter(|e| {
                chrono::Timelike::hour(
                    &e["occurred_at"]
                        .as_str()
                        .unwrap()
                        .parse::<DateTime<Utc>>()
                        .unwrap(),
                ) == hour
            })
            .collect();
        of_hour.iter().filter(|e| e["status"] == "declined").count() as f64 / of_hour.len() as f64
    };
    let (night, noon) = (decline_rate(3), decline_rate(12));
    assert!(
        night / noon > 2.0 && night / noon < 4.5,
        "declines at 3am {night}, noon {noon}"
    );
}

#[tokio::test]
async fn the_handler_sink_retries_what_is_transient_and_reports_what_is_not() {
    use axum::http::StatusCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    // A handler that fails twice with 503, then accepts; and one that refuses with 400.
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let flaky = axum::Router::new().route(
        "/EventHubTrigger",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let refusing = axum::Router::new().route(
        "/EventHubTrigger",
        axum::routing::post(|| async { StatusCode::BAD_REQUEST }),
    );
    let mut targets = Vec::new();
    for app in [flaky, refusing] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        targets.push(format!("http://{}", listener.local_addr().unwrap()));
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    let mut s = backfill(
        scenario(false),
        "2026-11-25T00:00:00Z",
        "2026-11-25T01:00:00Z",
    );
    s.delivery.partitions = 1;
    let options = RunOptions {
        count: Some(10),
        ..RunOptions::default()
    };
    let ok = run(
        s.clone(),
        Sink::Handler(HandlerSink::new(&targets[0], 1, 5)),
        options.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            ok.stats.sent,
            ok.stats.retries,
            ok.stats.throttles,
            ok.stats.failed
        ),
        (10, 2, 2, 0)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let refused = run(
        s,
        Sink::Handler(HandlerSink::new(&targets[1], 1, 5)),
        options,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            refused.stats.sent,
            refused.stats.retries,
            refused.stats.failed
        ),
        (0, 0, 10)
    );
    assert!(refused.errors[0].contains("400"), "{:?}", refused.errors);
}

/// Legacy events carry codes and canonical ones names, yet every merchant has one stored
/// category, a name of the scenario; only legacy rows keep a code.
async fn categories_agree_across_formats(db: &tokio_postgres::Client, categories: &[String]) {
    let split = count(
        db,
        "SELECT count(*) FROM (SELECT merchant_id FROM normalized_transactions
         GROUP BY merchant_id HAVING count(DISTINCT merchant_category) > 1) AS m",
    )
    .await;
    assert_eq!(split, 0, "a merchant's category differs between formats");
    let stored: Vec<(String, String, Option<i16>)> = db
        .query(
            "SELECT DISTINCT source_format, merchant_category, mcc FROM normalized_transactions
             ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (format, category, mcc) in &stored {
        assert!(
            categories.contains(category),
            "{category} is not a scenario category"
        );
        let has_code = format == "legacy_camel" && category != "books";
        assert_eq!(mcc.is_some(), has_code, "{format} {category} {mcc:?}");
    }
    let legacy: BTreeSet<&str> = stored
        .iter()
        .filter(|(format, ..)| format == "legacy_camel")
        .map(|(_, category, _)| category.as_str())
        .collect();
    assert!(
        legacy.contains("grocery") && legacy.contains("books"),
        "{legacy:?}"
    );
    let grocery: Vec<Option<i16>> = stored
        .iter()
        .filter(|(f, c, _)| f == "legacy_camel" && c == "grocery")
        .map(|r| r.2)
        .collect();
    assert_eq!(grocery, [Some(5411)]);
}
