//! The `handler` binary itself, as the Functions host runs it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Child;

use crate::helpers::{TestDb, count, fixture, free_port, handler, output, wait_ready};

/// Stops the handler as the host does, with SIGTERM, and waits for it to exit (a kill
/// after 10 s): a handler that exits on its own also flushes what it buffered.
pub(crate) async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
}

/// Waits until a changed engine settings file has been looked at: the handler polls it
/// every `RELOAD_INTERVAL`, so two intervals and a margin cover one full poll.
pub(crate) async fn wait_for_reload() {
    tokio::time::sleep(paymetrics::settings::RELOAD_INTERVAL * 2 + Duration::from_millis(500))
        .await;
}

#[tokio::test]
async fn migrate_then_serve_answers_a_host_batch_and_stops_on_sigterm() {
    let db = TestDb::empty().await;
    let port = free_port();
    let migrate = handler(&db.url(), port)
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("schema is at version"));

    let mut child = handler(&db.url(), port).spawn().unwrap();
    wait_ready(port).await;
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/EventHubTrigger"))
        .body(fixture("eventhub_mixed_batch.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let client = db.connect().await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM normalized_transactions").await,
        4
    );

    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops on SIGTERM")
        .unwrap();
    assert!(status.success());
    let text = output(&mut child).await;
    assert!(text.contains("handler listening"), "{text}");
}

#[tokio::test]
async fn the_password_never_appears_in_the_output() {
    let port = free_port();
    let secret = "s3cret-Pa55word";
    let mut child = handler(
        &format!("postgres://paymetrics:{secret}@127.0.0.1:1/paymetrics"),
        port,
    )
    .spawn()
    .unwrap();
    wait_ready(port).await;
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/EventHubTrigger"))
        .body(fixture("eventhub_mixed_batch.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body = response.text().await.unwrap();
    stop(&mut child).await;
    let text = output(&mut child).await;
    assert!(
        !text.contains(secret) && !body.contains(secret),
        "{text}\n{body}"
    );
    assert!(text.contains("database unreachable"), "{text}");
}

#[tokio::test]
async fn an_invalid_engine_file_stops_the_handler_naming_the_file() {
    let db = TestDb::migrated().await;
    let dir = std::env::temp_dir().join(format!("pm-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("engine.yaml");
    std::fs::write(&path, "ingest:\n  max_future: 5m\n  surprise: 1\n").unwrap();
    let mut command = handler(&db.url(), free_port());
    command.env("PAYMETRICS_CONFIG", &path);
    let out = command.output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("engine.yaml") && text.contains("surprise"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_handler_swaps_in_a_changed_engine_file_and_refuses_a_bad_one() {
    let db = TestDb::migrated().await;
    let dir = std::env::temp_dir().join(format!("pm-hot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("engine.yaml");
    std::fs::write(&path, "ingest:\n  max_future: 5m\n").unwrap();
    let port = free_port();
    let mut command = handler(&db.url(), port);
    command.env("PAYMETRICS_CONFIG", &path);
    let mut child = command.spawn().unwrap();
    wait_ready(port).await;
    let http = reqwest::Client::new();
    let timer = |http: reqwest::Client| async move {
        http.post(format!("http://127.0.0.1:{port}/TimerTrigger"))
            .body(fixture("timer_invocation.json"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };

    // A rule added while the handler runs applies within the reload interval.
    std::fs::write(
        &path,
        "rules:\n  - name: all_count\n    window: 15m\n    aggregate: count()\n",
    )
    .unwrap();
    wait_for_reload().await;
    let response = http
        .post(format!("http://127.0.0.1:{port}/EventHubTrigger"))
        .body(fixture("eventhub_mixed_batch.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer = timer(http.clone()).await;
    assert!(
        answer["ReturnValue"]["rule_rows_written"].as_u64().unwrap() > 0,
        "{answer}"
    );
    let client = db.connect().await;
    assert_eq!(
        count(
            &client,
            "SELECT sum(value)::bigint FROM dynamic_metrics WHERE rule_name = 'all_count'"
        )
        .await,
        4
    );

    // A broken file is refused; the handler keeps serving with the rules in force.
    std::fs::write(
        &path,
        "rules:\n  - name: all_count\n    aggregate: sum(amount)\n",
    )
    .unwrap();
    wait_for_reload().await;
    let answer = timer(http.clone()).await;
    assert_eq!(answer["ReturnValue"]["windows_closed"], 0, "{answer}");
    stop(&mut child).await;
    let text = output(&mut child).await;
    assert!(text.contains("engine settings reloaded"), "{text}");
    assert!(
        text.contains("the previous settings stay in force") && text.contains("would mix amounts"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A stand-in for the Application Insights ingestion endpoint: its URL, and every request
/// it received as (path, body), gzip undone.
async fn collector() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    use std::io::Read;

    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = received.clone();
    let collector = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let gzip = headers
                    .get("content-encoding")
                    .is_some_and(|v| v.to_str().unwrap_or("").contains("gzip"));
                let mut text = String::new();
                if gzip {
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_string(&mut text)
                        .unwrap();
                } else {
                    text = String::from_utf8_lossy(&body).into_owned();
                }
                sink.lock().unwrap().push((uri.path().to_owned(), text));
                axum::Json(
                    serde_json::json!({"itemsReceived": 1, "itemsAccepted": 1, "errors": []}),
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });
    (endpoint, received)
}

#[tokio::test]
async fn telemetry_of_an_invocation_reaches_a_local_collector() {
    let (endpoint, received) = collector().await;

    let db = TestDb::migrated().await;
    let port = free_port();
    let mut command = handler(&db.url(), port);
    command
        .env(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
        )
        .env("PAYMETRICS_TELEMETRY_ENDPOINT", &endpoint);
    let mut child = command.spawn().unwrap();
    wait_ready(port).await;
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/EventHubTrigger"))
        .header("X-Azure-Functions-InvocationId", "telemetry-invocation-42")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(fixture("eventhub_mixed_batch.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops")
        .unwrap();
    assert!(status.success());

    let envelopes: String = received
        .lock()
        .unwrap()
        .iter()
        .map(|(path, body)| format!("{path} {body}\n"))
        .collect();
    assert!(
        envelopes.contains("/v2/track") || envelopes.contains("/v2.1/track"),
        "{envelopes}"
    );
    assert!(
        envelopes.contains("EventHubTrigger"),
        "no request for the invocation: {envelopes}"
    );
    assert!(
        envelopes.contains("telemetry-invocation-42"),
        "no invocation id: {envelopes}"
    );
    assert!(
        envelopes.contains("4bf92f3577b34da6a3ce929d0e0e4736"),
        "the caller's trace was not continued: {envelopes}"
    );
    assert!(
        envelopes.contains("paymetrics.events.received"),
        "no counter: {envelopes}"
    );
    assert!(!envelopes.contains("s3cret"), "a secret was exported");
}

#[tokio::test]
async fn an_alert_that_fires_reaches_application_insights_as_a_custom_event() {
    let (endpoint, received) = collector().await;
    let db = TestDb::migrated().await;
    let config = std::env::temp_dir().join(format!("pm-alert-engine-{}.yaml", std::process::id()));
    std::fs::write(
        &config,
        "alerts:\n  - name: any_volume\n    description: every window with a transaction\n    severity: 3\n    on: txn_count\n    above: 0\n",
    )
    .unwrap();
    let port = free_port();
    let mut command = handler(&db.url(), port);
    command
        .env(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
        )
        .env("PAYMETRICS_TELEMETRY_ENDPOINT", &endpoint)
        .env("PAYMETRICS_CONFIG", &config);
    let mut child = command.spawn().unwrap();
    wait_ready(port).await;
    let http = reqwest::Client::new();
    let post = |function: &str, body: String| {
        http.post(format!("http://127.0.0.1:{port}/{function}"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(
        post("EventHubTrigger", fixture("eventhub_mixed_batch.json"))
            .await
            .unwrap()
            .status(),
        200
    );
    let timer: serde_json::Value = post("TimerTrigger", fixture("timer_invocation.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fired = timer["ReturnValue"]["alerts_fired"].as_u64().unwrap();
    assert!(fired >= 1, "{timer}");
    stop(&mut child).await;
    let _ = std::fs::remove_file(&config);

    // Every envelope line, as the collector received them.
    let events: Vec<serde_json::Value> = received
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, body)| {
            let parsed: Vec<serde_json::Value> = serde_json::from_str::<serde_json::Value>(body)
                .map(|v| match v {
                    serde_json::Value::Array(items) => items,
                    other => vec![other],
                })
                .unwrap_or_else(|_| {
                    body.lines()
                        .filter_map(|l| serde_json::from_str(l).ok())
                        .collect()
                });
            parsed
        })
        .filter(|e| e["data"]["baseType"] == "EventData")
        .collect();
    let alerts: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["data"]["baseData"]["name"] == "PaymetricsAlert")
        .collect();
    assert_eq!(alerts.len() as u64, fired, "{events:?}");
    let properties = &alerts[0]["data"]["baseData"]["properties"];
    assert_eq!(properties["alert"], "any_volume");
    assert_eq!(properties["severity"], "3");
    assert_eq!(properties["state"], "fired");
    assert_eq!(properties["description"], "every window with a transaction");
    let group: serde_json::Value =
        serde_json::from_str(properties["group"].as_str().unwrap()).unwrap();
    assert!(group.get("payment_type").is_some() && group.get("currency").is_some());
    assert!(
        properties["window_start"]
            .as_str()
            .unwrap()
            .starts_with("2026-")
    );
}
