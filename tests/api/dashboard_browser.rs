//! The dashboard in a real browser: simulated traffic with a known decline spike, the
//! page served through a stand-in for the Functions host's front end, opened in a
//! headless Chromium by `tests/browser/dashboard.mjs`.
//!
//! Needs `node`, `/usr/bin/chromium` and `tests/browser/node_modules` (`npm ci
//! --ignore-scripts` there); without them the test fails saying what to install, unless
//! `PAYMETRICS_SKIP_BROWSER=1`. `PAYMETRICS_SCREENSHOT=docs/dashboard.png` keeps the
//! screenshot there (relative to the crate) instead of a temporary folder;
//! `PAYMETRICS_BROWSER_SUMMARY=FILE` keeps the script's JSON summary.
//!
//! Ignored: the page of a day of demo traffic, its render time and size
//! (`--ignored a_day_of`).
#![cfg(feature = "simulator")]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use paymetrics::settings::EngineConfig;
use paymetrics::simulator::run::{RunOptions, run};
use paymetrics::simulator::scenario::TimeMode;
use paymetrics::simulator::sinks::{HandlerSink, Sink};
use paymetrics::simulator::{DEFAULT_SCENARIO, Scenario};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, batch};

/// The function key the browser opens the page with; the stand-in refuses any other.
const KEY: &str = "browser-test-key";
/// The browser, unless `CHROMIUM` names another (GitHub's runners: /usr/bin/google-chrome);
/// dashboard.mjs reads the same variable.
fn chromium() -> std::path::PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), Into::into)
}
/// The spike: this many declines of one category and reason in one 5-minute window.
const SPIKE: usize = 150;
const SPIKE_CATEGORY: &str = "electronics";
const SPIKE_REASON: &str = "do_not_honor";
/// The panels every page has, besides one per rule.
const PANELS: [&str; 8] = [
    "volume",
    "approval",
    "declines",
    "decline-category",
    "decline-reason",
    "late-revisions",
    "clusters",
    "ingest",
];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the browser can run: `false` (after saying so) when it cannot and
/// `PAYMETRICS_SKIP_BROWSER=1`; otherwise a failure naming what to install.
fn browser_available() -> bool {
    let mut missing = Vec::new();
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        missing.push("node (Node.js 20 or newer; Debian: apt-get install nodejs npm)");
    }
    if !chromium().exists() {
        missing
            .push("a Chromium at /usr/bin/chromium or CHROMIUM (Debian: apt-get install chromium)");
    }
    if !manifest_dir()
        .join("tests/browser/node_modules/playwright-core")
        .is_dir()
    {
        missing.push("tests/browser/node_modules (cd tests/browser && npm ci --ignore-scripts)");
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("PAYMETRICS_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!(
            "skipped (PAYMETRICS_SKIP_BROWSER=1): the browser test needs {}",
            missing.join(", ")
        );
        return false;
    }
    panic!(
        "the browser test needs {}; install them, or set PAYMETRICS_SKIP_BROWSER=1 to skip it",
        missing.join(", ")
    );
}

fn engine() -> EngineConfig {
    EngineConfig::check_file(&manifest_dir().join("config/engine.yaml"))
        .expect("config/engine.yaml is valid")
}

/// Simulated traffic over the `hours` before now, the spike two hours ago, every window
/// closed, then late data into the windows `late_minutes` ago and the revisions it causes.
struct Demo {
    app: TestApp,
    now: DateTime<Utc>,
    spike_window: DateTime<Utc>,
    rules: Vec<String>,
}

fn window_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(5)).unwrap()
}

fn event(id: String, at: DateTime<Utc>, status: &str, reason: Option<&str>) -> Value {
    let mut e = json!({
        "transaction_id": id,
        "occurred_at": at.to_rfc3339(),
        "amount": "129.99",
        "currency": "USD",
        "payment_type": "card",
        "status": status,
        "merchant_id": "m-spike",
        "merchant_category": SPIKE_CATEGORY,
        "customer_id": "c-spike",
        "country": "US",
        "channel": "online",
        "is_fraud": false,
    });
    if let Some(reason) = reason {
        e["decline_reason"] = json!(reason);
    }
    e
}

async fn demo(hours: i64, events_per_second: f64, late_minutes: &[i64]) -> Demo {
    let engine = engine();
    let rules = engine.rules.iter().map(|r| r.name.clone()).collect();
    let db = TestDb::migrated().await;
    let url = db.url();
    let app = TestApp::spawn_with(db, &url, engine, 100 * 1024 * 1024).await;
    let now = Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap();

    let mut scenario = Scenario::from_yaml(DEFAULT_SCENARIO, "default").unwrap();
    scenario.rate.events_per_second = events_per_second;
    scenario.rate.bursts = None;
    scenario.time = TimeMode::Backfill {
        from: now - TimeDelta::hours(hours),
        to: now,
    };
    let sink = Sink::Handler(HandlerSink::new(&format!("http://{}", app.address), 4, 3));
    let summary = run(scenario, sink, RunOptions::default()).await.unwrap();
    assert_eq!(summary.stats.failed, 0, "{}", summary.report());

    // The spike, on a partition of its own, spread over one window.
    let spike_window = window_of(now - TimeDelta::hours(2));
    let spike: Vec<Value> = (0..SPIKE)
        .map(|i| {
            let at = spike_window + TimeDelta::milliseconds(i as i64 * 1900);
            event(format!("spike-{i}"), at, "declined", Some(SPIKE_REASON))
        })
        .collect();
    let (status, body) = app.invoke(batch(&spike, "7", 0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["accepted"], SPIKE, "{body}");
    assert_eq!(close_all(&app).await.0, 0);

    // Late data into closed windows: the next run revises them.
    let late: Vec<Value> = late_minutes
        .iter()
        .flat_map(|minutes| {
            let window = window_of(now - TimeDelta::minutes(*minutes));
            (0..5).map(move |i| {
                let at = window + TimeDelta::seconds(20 * i);
                event(format!("late-{minutes}-{i}"), at, "approved", None)
            })
        })
        .collect();
    let (status, body) = app.invoke(batch(&late, "7", SPIKE as i64)).await;
    assert_eq!(status, 200, "{body}");
    let (recomputed, _) = close_all(&app).await;
    assert!(
        recomputed >= late_minutes.len() as u64,
        "the late events revised {recomputed} windows"
    );
    Demo {
        app,
        now,
        spike_window,
        rules,
    }
}

/// Runs the timer until no due window remains: (windows recomputed, runs).
async fn close_all(app: &TestApp) -> (u64, u32) {
    let mut recomputed = 0;
    for runs in 1..=50 {
        let body = app.run_timer().await;
        recomputed += body["ReturnValue"]["windows_recomputed"].as_u64().unwrap();
        if body["ReturnValue"]["windows_remaining"] == 0 {
            return (recomputed, runs);
        }
    }
    panic!("windows still remain after 50 timer runs");
}

/// What the stand-in saw: each request, its answer, and how long the handler took.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    status: u16,
    render: Option<Duration>,
}

#[derive(Clone)]
struct FrontEnd {
    handler: SocketAddr,
    http: reqwest::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A stand-in for the Functions host's front end on 127.0.0.1: `GET /api/dashboard?...`
/// becomes the host's `POST /Dashboard` invocation, and its `res` the answer. A request
/// without the function key is refused as the host refuses it; anything else is 404.
async fn front_end(handler: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = FrontEnd {
        handler,
        http: reqwest::Client::new(),
        seen: seen.clone(),
    };
    let app = axum::Router::new().fallback(serve).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, seen)
}

async fn serve(
    State(front): State<FrontEnd>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    let (status, headers, body, render) = if method != Method::GET || uri.path() != "/api/dashboard"
    {
        (404, Vec::new(), String::new(), None)
    } else if query.get("code").map(String::as_str) != Some(KEY) {
        (401, Vec::new(), String::new(), None)
    } else {
        invoke(&front, &uri, &headers, &query).await
    };
    front.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        uri: uri.to_string(),
        status,
        render,
    });
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(name, value);
    }
    response.body(Body::from(body)).unwrap()
}

type Answer = (u16, Vec<(String, String)>, String, Option<Duration>);

/// The host's invocation of `Dashboard` for this request, and `res` of its answer.
async fn invoke(
    front: &FrontEnd,
    uri: &Uri,
    headers: &HeaderMap,
    query: &BTreeMap<String, String>,
) -> Answer {
    let mut request_headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        request_headers
            .entry(name.to_string())
            .or_default()
            .push(value.to_str().unwrap_or_default().to_owned());
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let envelope = json!({
        "Data": {"req": {
            "Url": format!("http://{host}{uri}"),
            "Method": "GET",
            "Query": query,
            "Headers": request_headers,
            "Params": {},
            "Identities": [],
        }},
        "Metadata": {
            "Query": query,
            "Headers": request_headers,
            "sys": {
                "MethodName": "Dashboard",
                "UtcNow": Utc::now().to_rfc3339(),
                "RandGuid": "3b1f0c3e-5d0a-4c55-9a6e-0d1f2a3b4c5d",
            },
        },
    });
    let started = Instant::now();
    let answer = front
        .http
        .post(format!("http://{}/Dashboard", front.handler))
        .header("Content-Type", "application/json")
        .header(
            "X-Azure-Functions-InvocationId",
            "7a1c5f0e-0000-4000-8000-0000000000d5",
        )
        .json(&envelope)
        .send()
        .await
        .expect("the handler answers");
    let invocation_status = answer.status().as_u16();
    let answer: Value = answer.json().await.expect("the invocation answer is JSON");
    let render = started.elapsed();
    if invocation_status != 200 {
        return (500, Vec::new(), answer.to_string(), Some(render));
    }
    let res = &answer["Outputs"]["res"];
    let headers = res["headers"]
        .as_object()
        .expect("res has headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    (
        u16::try_from(res["statusCode"].as_u64().expect("res has a statusCode")).unwrap(),
        headers,
        res["body"].as_str().expect("res has a body").to_owned(),
        Some(render),
    )
}

fn page_url(front: SocketAddr, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "from",
            &from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .append_pair("to", &to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .append_pair("code", KEY)
        .finish();
    format!("http://{front}/api/dashboard?{query}")
}

/// Where the screenshot goes: `PAYMETRICS_SCREENSHOT` (relative to the crate), else a
/// temporary folder.
fn screenshot_path() -> PathBuf {
    match std::env::var_os("PAYMETRICS_SCREENSHOT") {
        Some(path) => {
            let path = manifest_dir().join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            path
        }
        None => temp_file("dashboard.png"),
    }
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pm-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `tests/browser/dashboard.mjs`: its JSON summary and how long it took.
async fn open(url: &str, screenshot: &Path, panels: &[String]) -> (Value, Duration) {
    let started = Instant::now();
    let run = tokio::process::Command::new("node")
        .arg(manifest_dir().join("tests/browser/dashboard.mjs"))
        .arg(url)
        .arg(screenshot)
        .arg(panels.join(","))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser run ends within 3 minutes")
        .expect("node runs");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if let Ok(path) = std::env::var("PAYMETRICS_BROWSER_SUMMARY") {
        std::fs::write(path, stdout.as_bytes()).unwrap();
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("dashboard.mjs printed no JSON summary ({e}):\n{stdout}\n{stderr}")
    });
    assert!(
        output.status.success(),
        "dashboard.mjs failed ({}): {:#}\n{stderr}\n{}",
        output.status,
        summary["failures"],
        stdout.chars().take(4000).collect::<String>()
    );
    (summary, elapsed)
}

fn panel<'a>(summary: &'a Value, key: &str) -> &'a Value {
    summary["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == format!("panel-{key}"))
        .unwrap_or_else(|| panic!("no panel-{key}"))
}

/// How many lines, bars or points the panel's chart draws of its data.
fn marks(summary: &Value, key: &str, kind: &str) -> u64 {
    panel(summary, key)["marks"][kind].as_u64().unwrap_or(0)
}

fn table<'a>(summary: &'a Value, key: &str) -> (Vec<&'a str>, Vec<Vec<&'a str>>) {
    let table = &panel(summary, key)["tables"][0];
    let headers = table["headers"]
        .as_array()
        .unwrap_or_else(|| panic!("panel-{key} has no data table"))
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let rows = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect()
        })
        .collect();
    (headers, rows)
}

/// Every panel's chart draws its data: a line per series of the time series, a bar per
/// row of the bar charts, the merchants of the scatter.
fn assert_panels_drawn(summary: &Value, rules: &[String]) {
    for key in ["volume", "approval", "declines"] {
        let (headers, _) = table(summary, key);
        assert_eq!(
            marks(summary, key, "lines"),
            headers.len() as u64 - 1,
            "panel-{key}: a line per series of {headers:?}"
        );
    }
    assert!(marks(summary, "late-revisions", "lines") >= 1);
    // A 1-hour rule over three hours may have closed a single window, depending on the
    // minute the test starts: each of its series is then one point, drawn as a dot.
    for rule in rules {
        let key = format!("rule-{rule}");
        assert!(
            marks(summary, &key, "lines") + marks(summary, &key, "points") >= 1,
            "{key} draws neither a line nor a dot"
        );
        assert_eq!(
            marks(summary, &key, "invisible_lines"),
            0,
            "{key} has a series drawn as a line of one point, which shows nothing"
        );
    }
    for key in ["decline-category", "decline-reason"] {
        let (_, rows) = table(summary, key);
        assert_eq!(
            marks(summary, key, "bars"),
            rows.len() as u64,
            "panel-{key}"
        );
    }
    // One hour of arrivals (a backfill arrives within seconds); its duplicates' bar may be
    // less than a pixel high.
    assert!(marks(summary, "ingest", "bars") >= 1);
    let (_, centroids) = table(summary, "clusters");
    assert!(
        marks(summary, "clusters", "points") >= 4 * centroids.len() as u64,
        "panel-clusters: {}",
        panel(summary, "clusters")["note"]
    );
}

/// The browser fetched the page and nothing else, from the stand-in only.
fn assert_only_the_page(summary: &Value, url: &str, seen: &[Seen]) {
    let requests = summary["requests"].as_array().unwrap();
    assert_eq!(
        requests.len(),
        1,
        "the page made other requests: {requests:#?}"
    );
    assert_eq!(requests[0]["url"], url);
    assert_eq!(requests[0]["resource_type"], "document");
    for s in seen {
        assert!(
            s.method == "GET" && s.uri.starts_with("/api/dashboard?") && s.status == 200,
            "the stand-in saw {s:?}"
        );
    }
    let csp = summary["headers"]["content-security-policy"]
        .as_str()
        .expect("the page carries its Content-Security-Policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
}

/// The spike's window and category carry the largest count of the declines panel, and
/// its reason at least the spike's count.
fn assert_spike_shows(summary: &Value, spike_window: DateTime<Utc>) {
    let (headers, rows) = table(summary, "declines");
    let mut max: Option<(f64, &str, &str)> = None;
    for row in &rows {
        for (column, cell) in headers.iter().zip(row).skip(1) {
            let Ok(value) = cell.parse::<f64>() else {
                continue;
            };
            if max.is_none_or(|(m, ..)| value > m) {
                max = Some((value, row[0], column));
            }
        }
    }
    let spike_time = spike_window.format("%Y-%m-%d %H:%M").to_string();
    let (value, time, category) = max.expect("the declines table has numbers");
    assert_eq!(
        (time, category),
        (spike_time.as_str(), SPIKE_CATEGORY),
        "the largest count of declines ({value}) is not the spike's"
    );
    assert!(
        value >= SPIKE as f64,
        "{value} declines in the spike's cell"
    );

    let (_, reasons) = table(summary, "decline-reason");
    let reason = reasons
        .iter()
        .find(|r| r[0] == SPIKE_REASON)
        .unwrap_or_else(|| panic!("no {SPIKE_REASON} in {reasons:?}"));
    let count: u64 = reason[1].parse().unwrap();
    assert!(count >= SPIKE as u64, "{SPIKE_REASON}: {count}");
    let (_, categories) = table(summary, "decline-category");
    assert!(
        categories.iter().any(|r| r[0] == SPIKE_CATEGORY),
        "{categories:?}"
    );
}

/// The time-range links and the filter form keep the function key, and a link works.
async fn assert_links_keep_the_key(summary: &Value, front: SocketAddr) {
    let links = summary["links"].as_array().unwrap();
    assert!(links.len() >= 6, "{links:?}");
    for link in links {
        let href = link["href"].as_str().unwrap();
        let url = reqwest::Url::parse(href).unwrap();
        assert_eq!(
            url.origin().ascii_serialization(),
            format!("http://{front}")
        );
        assert_eq!(url.path(), "/api/dashboard", "{href}");
        let pairs: BTreeMap<_, _> = url.query_pairs().collect();
        assert_eq!(pairs.get("code").map(|c| c.as_ref()), Some(KEY), "{href}");
        assert!(
            pairs.contains_key("from") && pairs.contains_key("to"),
            "{href}"
        );
    }
    for form in summary["forms"].as_array().unwrap() {
        assert_eq!(form["method"], "get");
        assert_eq!(form["hidden"]["code"], KEY, "{form}");
    }
    let day = links
        .iter()
        .find(|l| l["text"] == "24 h")
        .expect("a 24 h link");
    let response = reqwest::get(day["href"].as_str().unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

fn expected_panels(rules: &[String]) -> Vec<String> {
    PANELS
        .iter()
        .map(|p| (*p).to_owned())
        .chain(rules.iter().map(|r| format!("rule-{r}")))
        .collect()
}

#[tokio::test]
async fn the_dashboard_in_a_browser_draws_every_panel_from_its_own_origin_and_shows_the_spike() {
    if !browser_available() {
        return;
    }
    let started = Instant::now();
    // Two revised windows: one alone draws nothing (see the ignored test below).
    let demo = demo(3, 0.5, &[90, 60]).await;
    let fixture_time = started.elapsed();
    let (front, seen) = front_end(demo.app.address).await;
    let url = page_url(front, demo.now - TimeDelta::hours(3), demo.now);
    let screenshot = screenshot_path();
    let panels = expected_panels(&demo.rules);

    let (summary, browser_time) = open(&url, &screenshot, &panels).await;
    let seen_now = seen.lock().unwrap().clone();
    assert_eq!(seen_now.len(), 1, "{seen_now:?}");

    assert_eq!(summary["status"], 200);
    assert_panels_drawn(&summary, &demo.rules);
    assert_only_the_page(&summary, &url, &seen_now);
    assert_spike_shows(&summary, demo.spike_window);
    assert_eq!(summary["refresh"], "60", "the page does not reload itself");
    assert_links_keep_the_key(&summary, front).await;
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        screenshot.display()
    );

    println!(
        "fixture {:.1} s; page {} bytes, rendered in {} ms; browser run {:.1} s \
         (load {} ms, screenshot {} ms); screenshot {}",
        fixture_time.as_secs_f64(),
        summary["page_bytes"],
        seen_now[0].render.unwrap().as_millis(),
        browser_time.as_secs_f64(),
        summary["timings"]["page"]["load_ms"],
        summary["timings"]["screenshot_ms"],
        screenshot.display()
    );
}

/// A series of a single point (here: the one window revised by late data) must still
/// show: a polyline of one point draws nothing, so `charts::time_series` draws a dot.
#[tokio::test]
async fn a_single_revised_window_is_drawn() {
    if !browser_available() {
        return;
    }
    let demo = demo(3, 0.5, &[90]).await;
    let (front, _) = front_end(demo.app.address).await;
    let url = page_url(front, demo.now - TimeDelta::hours(3), demo.now);
    let (summary, _) = open(
        &url,
        &temp_file("single-point.png"),
        &expected_panels(&demo.rules),
    )
    .await;
    // Every chart (the alerts are a list, without one).
    for panel in summary["panels"].as_array().unwrap() {
        if panel["svgs"] == 0 {
            continue;
        }
        assert_eq!(panel["marks"]["invisible_lines"], 0, "{}", panel["id"]);
    }
}

/// The page for a day of demo traffic (scripts/demo.sh's rate, 5 events/s, or
/// `PAYMETRICS_DEMO_RATE`): how long the handler takes to render it and how large it is.
#[tokio::test]
#[ignore = "a day of traffic: minutes in a debug build"]
async fn a_day_of_demo_traffic_renders_and_its_time_and_size_are_printed() {
    let rate = std::env::var("PAYMETRICS_DEMO_RATE").ok().map_or(5.0, |r| {
        r.parse().expect("PAYMETRICS_DEMO_RATE is a number")
    });
    let started = Instant::now();
    // Apart and away from the legend in the upper right, which covers what is under it.
    let demo = demo(24, rate, &[600, 300]).await;
    let fixture_time = started.elapsed();
    let (front, seen) = front_end(demo.app.address).await;
    let url = page_url(front, demo.now - TimeDelta::hours(24), demo.now);
    let mut renders = Vec::new();
    let mut bytes = 0;
    for _ in 0..3 {
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        for key in expected_panels(&demo.rules) {
            assert!(
                page.contains(&format!("id=\"panel-{key}\"")),
                "no panel-{key}"
            );
        }
        bytes = page.len();
        renders.push(seen.lock().unwrap().last().unwrap().render.unwrap());
    }
    let mut browser = String::new();
    if browser_available() {
        let (summary, took) = open(
            &url,
            &temp_file("dashboard-24h.png"),
            &expected_panels(&demo.rules),
        )
        .await;
        browser = format!(
            "; browser run {:.1} s (load {} ms)",
            took.as_secs_f64(),
            summary["timings"]["page"]["load_ms"]
        );
    }
    println!(
        "24 h at {rate} events/s (fixture {:.0} s): page {bytes} bytes, rendered in {:?} ms \
         ({} build){browser}",
        fixture_time.as_secs_f64(),
        renders.iter().map(Duration::as_millis).collect::<Vec<_>>(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}
