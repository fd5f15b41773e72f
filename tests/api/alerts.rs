//! Alerts end to end: transactions in, the timer closes windows and judges them, one
//! `metric_alerts` row per breach that fires once and resolves once, late data revising
//! a window, and the `Alerts` function listing them. Expected windows and values are
//! worked out here from the transactions sent.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::settings::EngineConfig;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, batch};

const ENGINE: &str = "
alerts:
  - name: card_gbp_approval_drop
    description: Card approvals in GBP fell by a third
    severity: 1
    on: approval_rate
    drops_by: 30%
    baseline_windows: 6
    for: 2
    min_samples: 20
  - name: many_declines
    on: declined_count
    above: 1000
";

fn base() -> DateTime<Utc> {
    "2026-11-25T08:00:00Z".parse().unwrap()
}

/// 40 card GBP transactions in the 5-minute window `window` (from `base`), `approved` of
/// them approved and the rest declined; ids unique per window and `tag`.
fn window_events(window: i64, approved: usize, tag: &str) -> Vec<Value> {
    (0..40)
        .map(|i| {
            let at = base() + TimeDelta::minutes(5 * window) + TimeDelta::seconds(i as i64 * 7);
            json!({
                "transaction_id": format!("al-{tag}-{window}-{i}"),
                "occurred_at": at.to_rfc3339(),
                "amount": "25.00", "currency": "GBP", "payment_type": "card",
                "status": if i < approved { "approved" } else { "declined" },
                "decline_reason": if i < approved { None } else { Some("do_not_honor") },
                "merchant_id": format!("m-{}", i % 4)
            })
        })
        .collect()
}

async fn spawn() -> TestApp {
    let db = TestDb::migrated().await;
    let url = db.url();
    let engine = EngineConfig::from_yaml(ENGINE, Path::new("engine.yaml")).unwrap();
    TestApp::spawn_with(db, &url, engine, 1 << 24).await
}

async fn send(app: &TestApp, events: &[Value], sequence: i64) {
    let (status, body) = app.invoke(batch(events, "0", sequence)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["rejected"], 0, "{body}");
}

async fn rows(app: &TestApp) -> Vec<(String, String, String, String, Option<String>)> {
    app.db
        .connect()
        .await
        .query(
            "SELECT alert, state, first_window::text, last_window::text, resolved_at::text
             FROM metric_alerts ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

#[tokio::test]
async fn a_drop_that_lasts_three_windows_fires_once_and_resolves_once() {
    let app = spawn().await;
    // 8 windows at 36/40 approved (0.9), windows 8-10 at 20/40 (0.5), 11-12 back at 0.9.
    let mut sequence = 0;
    for w in 0..13 {
        let approved = if (8..=10).contains(&w) { 20 } else { 36 };
        send(&app, &window_events(w, approved, "a"), sequence).await;
        sequence += 40;
    }
    let body = app.run_timer().await;
    // Window 8 breaches alone (for: 2), 9 makes the streak and fires, 10 extends it,
    // 11 no longer breaches: one fire, one resolve, in the same run.
    assert_eq!(body["ReturnValue"]["alerts_fired"], 1, "{body}");
    assert_eq!(body["ReturnValue"]["alerts_resolved"], 1, "{body}");
    let logs: Vec<&str> = body["Logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.starts_with("alert card_gbp_approval_drop fired (severity 1)")),
        "{logs:?}"
    );
    let t = |w: i64| {
        (base() + TimeDelta::minutes(5 * w))
            .format("%Y-%m-%d %H:%M:%S+00")
            .to_string()
    };
    let stored = rows(&app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let (alert, state, first, last, resolved) = &stored[0];
    assert_eq!(alert, "card_gbp_approval_drop");
    assert_eq!(state, "resolved");
    assert_eq!(
        (first.as_str(), last.as_str()),
        (t(8).as_str(), t(10).as_str())
    );
    assert!(resolved.is_some());
    let db = app.db.connect().await;
    let (value, baseline): (String, String) = {
        let r = db
            .query_one("SELECT value::text, baseline::text FROM metric_alerts", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    // At window 10 the rate is 20/40 against the 6 windows before it that did not breach
    // (2 to 7, all 36/40): the breaching 8 and 9 stay out of the baseline.
    assert_eq!(value.parse::<f64>().unwrap(), 0.5);
    assert!(
        (baseline.parse::<f64>().unwrap() - 0.9).abs() < 1e-9,
        "{baseline}"
    );

    // Another run with nothing new changes nothing.
    let body = app.run_timer().await;
    assert_eq!(body["ReturnValue"]["alerts_fired"], 0);
    assert_eq!(rows(&app).await, stored);
}

#[tokio::test]
async fn an_alert_fires_in_one_run_resolves_in_a_later_one_and_late_data_can_resolve_it() {
    let app = spawn().await;
    let mut sequence = 0;
    for w in 0..10 {
        let approved = if w >= 8 { 20 } else { 36 };
        send(&app, &window_events(w, approved, "b"), sequence).await;
        sequence += 40;
    }
    let body = app.run_timer().await;
    assert_eq!(body["ReturnValue"]["alerts_fired"], 1, "{body}");
    assert_eq!(body["ReturnValue"]["alerts_resolved"], 0, "{body}");
    assert_eq!(rows(&app).await[0].1, "firing");

    // The Alerts function lists it as firing.
    let (status, res) = app
        .invoke_http("Alerts", &json!({"code": "k"}), &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(res["statusCode"], 200, "{res}");
    let listed: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(listed["firing"], 1, "{listed}");
    assert_eq!(listed["alerts"][0]["alert"], "card_gbp_approval_drop");
    assert_eq!(
        listed["alerts"][0]["group_key"],
        json!({"payment_type": "card", "currency": "GBP"})
    );
    assert_eq!(listed["alerts"][0]["severity"], 1);

    // Late approvals for window 9 lift it back to the baseline: the revised window no
    // longer breaches, and it was the open alert's last window, so the alert resolves.
    // 40 late approvals make window 9 60/80 = 0.75, above 70 % of its baseline.
    send(&app, &window_events(9, 40, "late"), sequence).await;
    let body = app.run_timer().await;
    assert_eq!(body["ReturnValue"]["windows_recomputed"], 1, "{body}");
    assert_eq!(body["ReturnValue"]["alerts_resolved"], 1, "{body}");
    let stored = rows(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, "resolved");
}

#[tokio::test]
async fn alerts_are_validated_with_their_line_when_the_settings_load() {
    let error = EngineConfig::from_yaml(
        "alerts:\n  - name: a\n    on: no_such_measure\n    above: 1\n",
        Path::new("engine.yaml"),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("invalid alerts in engine.yaml"), "{error}");
    assert!(error.contains("line 3: alert \"a\""), "{error}");
}

/// alert, group_key, first_window, last_window, state.
#[cfg(feature = "simulator")]
type StoredAlert = (String, Value, DateTime<Utc>, DateTime<Utc>, String);

/// A simulated day of config/incidents.yaml through the handler with the example alerts
/// of config/engine.yaml: every planted incident fires its alert, inside its window and
/// for its group, each resolves, and nothing else fires.
#[cfg(feature = "simulator")]
#[tokio::test]
async fn every_planted_incident_fires_the_example_alerts_and_nothing_else_does() {
    use paymetrics::simulator::Scenario;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let engine = EngineConfig::check_file(&root.join("config/engine.yaml")).unwrap();
    assert!(
        !engine.alerts.is_empty(),
        "config/engine.yaml has example alerts"
    );
    let db = TestDb::migrated().await;
    let url = db.url();
    let app = TestApp::spawn_with(db, &url, engine, 100 * 1024 * 1024).await;
    let mut scenario = Scenario::load(&root.join("config/incidents.yaml")).unwrap();
    // A transaction a second (86,400 in the day), as the dashboard's demo data.
    scenario.rate.events_per_second = 1.0;
    scenario.rate.bursts = None;
    let planted = scenario.incidents_at(scenario.run_start().expect("a backfill"));
    assert_eq!(planted.len(), 3);
    crate::demo_data::send_traffic(&app, scenario).await;
    crate::demo_data::close_all(&app).await;

    let db = app.db.connect().await;
    let fired: Vec<StoredAlert> = db
        .query(
            "SELECT alert, group_key, first_window, last_window, state FROM metric_alerts
             ORDER BY first_window",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let engine = EngineConfig::check_file(&root.join("config/engine.yaml")).unwrap();
    let app_alert = |name: &str| {
        engine
            .alerts
            .iter()
            .find(|a| a.name == name)
            .cloned()
            .unwrap()
    };
    let expected_alert = |kind: &str| match kind {
        "approval_drop" => "approval_drop",
        "fraud_burst" => "fraud_burst",
        _ => "merchant_decline_spike",
    };
    // Each alert belongs to an incident: its alert, its group, its time.
    let mut matched = vec![0; planted.len()];
    for (alert, group, first, last, state) in &fired {
        let owner = planted.iter().position(|p| {
            let scope = p.scope();
            expected_alert(&p.kind().to_string()) == alert
                && scope
                    .as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| group.get(k) == Some(v))
                && *first < p.end
                && *last + TimeDelta::minutes(30) > p.start
        });
        let Some(i) = owner else {
            panic!(
                "a false positive: {alert} for {group} from {first} to {last}, planted: {planted:?}"
            );
        };
        matched[i] += 1;
        assert_eq!(
            state, "resolved",
            "{alert} {group} resolves after its incident"
        );
        // The alert can be told once the window completing its streak has closed.
        let a = app_alert(alert);
        let told = *first
            + TimeDelta::seconds(a.source.window_seconds()) * i32::try_from(a.for_windows).unwrap();
        println!(
            "{alert} for {group}: planted {} to {}, breaching {first} to {last}, \
             told {} min after the incident started (event time)",
            planted[i].start,
            planted[i].end,
            (told - planted[i].start).num_minutes(),
        );
    }
    for (p, n) in planted.iter().zip(&matched) {
        assert!(
            *n >= 1,
            "the planted {:?} did not fire: {fired:?}",
            p.kind()
        );
    }
}
