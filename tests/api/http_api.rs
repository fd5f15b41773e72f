//! The HTTP API (`Metrics5m`, `RuleMetrics`, `Clusters`, `Dashboard`), invoked exactly as
//! the Functions host invokes an HTTP-triggered custom handler function: a POST to the
//! folder's name with the caller's request in `Data.req`, the caller's response in
//! `Outputs.res`. Expected values are computed here from the events sent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use paymetrics::settings::EngineConfig;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, batch};

const ENGINE: &str = "
rules:
  - name: declines_by_category
    description: Declined share per merchant category
    window: 15m
    group_by: [merchant_category]
    aggregate: ratio(status == 'declined')
clustering:
  enabled: true
  k: 2
  period: 1000d
  features: [volume, avg_ticket, decline_rate, refund_rate]
";

/// The caller's response, as the host would hand it on.
struct Res {
    invocation_status: u16,
    status: u16,
    headers: Value,
    body: String,
}

impl Res {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// GETs `function` with `query` and route `params` through the host's envelope.
async fn get(app: &TestApp, function: &str, query: &[(&str, &str)], params: Value) -> Res {
    let query: BTreeMap<&str, &str> = query.iter().copied().collect();
    let (invocation_status, res) = app.invoke_http(function, &json!(query), &params).await;
    Res {
        invocation_status,
        status: u16::try_from(res["statusCode"].as_u64().unwrap()).unwrap(),
        headers: res["headers"].clone(),
        body: res["body"].as_str().unwrap().to_owned(),
    }
}

fn event(id: usize, minute: u32, kind: &str, currency: &str, status: &str, amount: &str) -> Value {
    json!({
        "transaction_id": format!("api-{id:04}"),
        "occurred_at": format!("2026-11-25T09:{minute:02}:00Z"),
        "amount": amount, "currency": currency, "payment_type": kind, "status": status,
        "merchant_id": format!("m-{}", id % 5), "merchant_category": if id.is_multiple_of(3) { "grocery" } else { "electronics" },
        "customer_id": format!("c-{}", id % 7), "country": "GB",
        "decline_reason": if status == "declined" { Some("insufficient_funds") } else { None }
    })
}

/// 40 transactions in the windows 09:00 and 09:05, card and ach, GBP and EUR, then the
/// timer closes the windows, computes the rule and clusters the merchants.
async fn loaded() -> (TestApp, Vec<Value>) {
    let db = TestDb::migrated().await;
    let url = db.url();
    let engine = EngineConfig::from_yaml(ENGINE, Path::new("engine.yaml")).unwrap();
    let app = TestApp::spawn_with(db, &url, engine, 1 << 24).await;
    let events: Vec<Value> = (0..40)
        .map(|i| {
            let kind = if i % 4 == 0 { "ach" } else { "card" };
            let currency = if i % 2 == 0 { "GBP" } else { "EUR" };
            let status = if i % 5 == 0 { "declined" } else { "approved" };
            let amount = format!("{}.{:02}", 10 + i, i % 100);
            event(i, (i % 10) as u32, kind, currency, status, &amount)
        })
        .collect();
    let (status, body) = app.invoke(batch(&events, "0", 1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["accepted"], 40, "{body}");
    app.run_timer().await;
    (app, events)
}

const RANGE: [(&str, &str); 2] = [
    ("from", "2026-11-25T08:00:00Z"),
    ("to", "2026-11-25T12:00:00Z"),
];

#[tokio::test]
async fn metrics_5m_answers_every_column_with_exact_amounts_in_window_type_currency_order() {
    let (app, events) = loaded().await;
    let res = get(&app, "Metrics5m", &RANGE, json!({})).await;
    assert_eq!(
        (res.invocation_status, res.status),
        (200, 200),
        "{}",
        res.body
    );
    assert_eq!(res.headers["Content-Type"], "application/json");
    let body = res.json();
    assert_eq!(body["from"], "2026-11-25T08:00:00Z");
    assert_eq!(body["to"], "2026-11-25T12:00:00Z");
    let windows = body["windows"].as_array().unwrap();

    // Every column of the table, by name, read from the database's catalog.
    let db = app.db.connect().await;
    let columns: BTreeSet<String> = db
        .query(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_name = 'payment_metrics_5m'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for w in windows {
        let keys: BTreeSet<String> = w.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, columns);
    }

    // Independently: count and total per (window, type, currency) from the events.
    let mut expected: BTreeMap<(String, String, String), (i64, Decimal)> = BTreeMap::new();
    for e in &events {
        let minute: u32 = e["occurred_at"].as_str().unwrap()[14..16].parse().unwrap();
        let window = format!("2026-11-25T09:{:02}:00Z", minute / 5 * 5);
        let key = (
            window,
            e["payment_type"].as_str().unwrap().to_owned(),
            e["currency"].as_str().unwrap().to_owned(),
        );
        let entry = expected.entry(key).or_default();
        entry.0 += 1;
        entry.1 += e["amount"].as_str().unwrap().parse::<Decimal>().unwrap();
    }
    let actual: BTreeMap<(String, String, String), (i64, Decimal)> = windows
        .iter()
        .map(|w| {
            assert!(w["total_amount"].is_string(), "amounts are strings: {w}");
            assert!(w["p95_amount"].is_string());
            (
                (
                    w["window_start"].as_str().unwrap().to_owned(),
                    w["payment_type"].as_str().unwrap().to_owned(),
                    w["currency"].as_str().unwrap().to_owned(),
                ),
                (
                    w["txn_count"].as_i64().unwrap(),
                    w["total_amount"].as_str().unwrap().parse().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(actual, expected);
    // The order is the map's order: window, then type, then currency.
    let order: Vec<_> = windows
        .iter()
        .map(|w| {
            (
                w["window_start"].as_str().unwrap(),
                w["payment_type"].as_str().unwrap(),
                w["currency"].as_str().unwrap(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted);
}

#[tokio::test]
async fn filters_narrow_the_rows_and_bad_parameters_are_400s_naming_them() {
    let (app, events) = loaded().await;
    let mut query = RANGE.to_vec();
    query.push(("payment_type", "ach"));
    query.push(("currency", "gbp"));
    let body = get(&app, "Metrics5m", &query, json!({})).await.json();
    let windows = body["windows"].as_array().unwrap();
    let sent = events
        .iter()
        .filter(|e| e["payment_type"] == "ach" && e["currency"] == "GBP")
        .count() as i64;
    assert!(!windows.is_empty());
    assert_eq!(
        windows
            .iter()
            .map(|w| w["txn_count"].as_i64().unwrap())
            .sum::<i64>(),
        sent
    );
    assert!(
        windows
            .iter()
            .all(|w| w["payment_type"] == "ach" && w["currency"] == "GBP")
    );

    let bad: &[(&[(&str, &str)], &str)] = &[
        (&[("from", "yesterday")], "from"),
        (&[("to", "2026-11-25T12:00:00")], "to"),
        (
            &[
                ("from", "2026-11-01T00:00:00Z"),
                ("to", "2026-11-25T00:00:00Z"),
            ],
            "to",
        ),
        (
            &[
                ("from", "2026-11-25T12:00:00Z"),
                ("to", "2026-11-25T08:00:00Z"),
            ],
            "from",
        ),
        (&[("payment_type", "cash")], "payment_type"),
        (&[("currency", "ZZZ")], "currency"),
        (&[("curency", "USD")], "curency"),
        // A quote cannot reach SQL as text: it is an invalid value, nothing more.
        (&[("payment_type", "card' OR '1'='1")], "payment_type"),
    ];
    for (query, parameter) in bad {
        let res = get(&app, "Metrics5m", query, json!({})).await;
        assert_eq!(res.invocation_status, 200, "the invocation itself succeeds");
        assert_eq!(res.status, 400, "{query:?}: {}", res.body);
        let error = &res.json()["error"];
        assert_eq!(error["code"], "invalid_parameter");
        assert_eq!(error["parameter"], *parameter, "{query:?}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{parameter}: expected")),
            "{error}"
        );
    }
    // The function key is allowed everywhere and never echoed.
    let res = get(
        &app,
        "Metrics5m",
        &[("code", "s3cret"), ("form", "x")],
        json!({}),
    )
    .await;
    assert_eq!(res.status, 400);
    assert!(!res.body.contains("s3cret"));
}

#[tokio::test]
async fn rule_metrics_carry_the_rules_settings_and_an_unknown_rule_is_a_404_naming_it() {
    let (app, events) = loaded().await;
    let res = get(
        &app,
        "RuleMetrics",
        &RANGE,
        json!({"rule": "declines_by_category"}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["rule"], "declines_by_category");
    assert_eq!(body["description"], "Declined share per merchant category");
    assert_eq!(body["window"], "15m");
    assert_eq!(body["window_seconds"], 900);
    assert_eq!(body["group_by"], json!(["merchant_category"]));
    // All 40 events fall in the 09:00 15-minute window: one row per category.
    let rows = body["windows"].as_array().unwrap();
    for category in ["electronics", "grocery"] {
        let of: Vec<&Value> = events
            .iter()
            .filter(|e| e["merchant_category"] == category)
            .collect();
        let declined = of.iter().filter(|e| e["status"] == "declined").count();
        let row = rows
            .iter()
            .find(|r| r["group_key"]["merchant_category"] == category)
            .unwrap_or_else(|| panic!("{category} in {body}"));
        assert_eq!(row["window_start"], "2026-11-25T09:00:00Z");
        assert_eq!(row["sample_count"], of.len() as i64);
        let value: Decimal = row["value"].as_str().unwrap().parse().unwrap();
        let want = Decimal::from(declined as i64) / Decimal::from(of.len() as i64);
        assert!(
            (value - want).abs() < Decimal::new(1, 15),
            "{value} vs {want}"
        );
    }

    let res = get(&app, "RuleMetrics", &RANGE, json!({"rule": "no_such_rule"})).await;
    assert_eq!((res.invocation_status, res.status), (200, 404));
    let error = &res.json()["error"];
    assert_eq!(error["code"], "rule_not_found");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("'no_such_rule'")
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("declines_by_category")
    );
}

#[tokio::test]
async fn clusters_answer_the_latest_run_with_every_merchant_and_null_before_the_first() {
    let empty = TestApp::spawn().await;
    let res = get(&empty, "Clusters", &[], json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json(), json!({"run": null}));

    let (app, events) = loaded().await;
    let body = get(&app, "Clusters", &[("code", "k")], json!({}))
        .await
        .json();
    let run = &body["run"];
    assert_eq!(run["k"], 2);
    let merchants: BTreeSet<&str> = events
        .iter()
        .map(|e| e["merchant_id"].as_str().unwrap())
        .collect();
    let members: BTreeSet<&str> = run["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["merchant_id"].as_str().unwrap())
        .collect();
    assert_eq!(members, merchants);
    let sizes: i64 = run["centroids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["size"].as_i64().unwrap())
        .sum();
    assert_eq!(sizes, merchants.len() as i64);
    for c in run["centroids"].as_array().unwrap() {
        for feature in ["volume", "avg_ticket", "decline_rate", "refund_rate"] {
            assert!(c["centroid"].get(feature).is_some(), "{c}");
        }
    }
    let res = get(
        &app,
        "Clusters",
        &[("from", "2026-11-25T08:00:00Z")],
        json!({}),
    )
    .await;
    assert_eq!(res.status, 400);
}

#[tokio::test]
async fn the_dashboard_is_one_self_contained_page_with_every_panel_drawn() {
    let (app, events) = loaded().await;
    let mut query = RANGE.to_vec();
    query.push(("code", "k3y"));
    let res = get(&app, "Dashboard", &query, json!({})).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.headers["Content-Type"], "text/html; charset=utf-8");
    let csp = res.headers["Content-Security-Policy"].as_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = &res.body;
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains("<link"), "no external style or font");
    // The only URLs are SVG's namespace; links are relative to the page.
    for (i, _) in html.match_indices("://") {
        let url = &html[i.saturating_sub(4)..(i + 30).min(html.len())];
        assert!(url.starts_with("http://www.w3.org/"), "{url}");
    }
    for panel in [
        "volume",
        "approval",
        "declines",
        "decline-category",
        "decline-reason",
        "late-revisions",
        "rule-declines_by_category",
        "clusters",
        "ingest",
    ] {
        let at = html
            .find(&format!("id=\"panel-{panel}\""))
            .unwrap_or_else(|| panic!("panel {panel} is missing"));
        let section = &html[at..at + html[at..].find("</section>").unwrap()];
        assert!(section.contains("<svg"), "panel {panel} has no chart");
    }
    // The decline-by-reason panel reads the declines sent.
    let declined = events.iter().filter(|e| e["status"] == "declined").count();
    let at = html.find("id=\"panel-decline-reason\"").unwrap();
    let section = &html[at..at + html[at..].find("</section>").unwrap()];
    assert!(
        section.contains(&format!(
            "<td>insufficient_funds</td><td>{declined}</td><td>{declined}</td>"
        )),
        "{section}"
    );
    // Links keep the function key, so the time-range picker works behind authLevel
    // function; the filter form carries it too.
    assert!(html.contains("code=k3y"));
    assert!(html.contains("name=\"code\" value=\"k3y\""));

    let res = get(&app, "Dashboard", &[("payment_type", "cheque")], json!({})).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.headers["Content-Type"], "application/json");
}

#[tokio::test]
async fn a_database_failure_is_a_503_inside_a_successful_invocation() {
    let db = TestDb::migrated().await;
    let app = TestApp::spawn_with(
        db,
        "postgres://postgres@127.0.0.1:1/none",
        EngineConfig::default(),
        1 << 20,
    )
    .await;
    for function in ["Metrics5m", "Clusters", "Dashboard"] {
        let res = get(&app, function, &[], json!({})).await;
        assert_eq!(
            (res.invocation_status, res.status),
            (200, 503),
            "{function}"
        );
        assert_eq!(res.json()["error"]["code"], "database_unavailable");
    }
}
