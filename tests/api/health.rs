//! The Health function through the router, with the host's request envelope
//! (`tests/fixtures/health_invocation.json`, sent chunked as the host sends it).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use paymetrics::settings::EngineConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{FlakyProxy, TestApp, TestDb, batch, fixture};

/// What the host gets back from `POST /Health`.
struct HostAnswer {
    status: u16,
    content_type: String,
    envelope: Value,
}

impl HostAnswer {
    /// `Outputs.res`, after checking the envelope has exactly the host's shape.
    fn res(&self) -> &Value {
        assert_eq!(self.status, 200, "the invocation itself must succeed");
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        let keys: Vec<&String> = self.envelope.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["Logs", "Outputs", "ReturnValue"],
            "{}",
            self.envelope
        );
        assert!(self.envelope["ReturnValue"].is_null());
        assert!(self.envelope["Logs"].is_array());
        let outputs: Vec<&String> = self.envelope["Outputs"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(outputs, ["res"]);
        let res = &self.envelope["Outputs"]["res"];
        let fields: Vec<&String> = res.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["body", "headers", "statusCode"]);
        assert_eq!(res["headers"], json!({"Content-Type": "application/json"}));
        res
    }

    /// `res.statusCode` and `res.body`, parsed.
    fn caller(&self) -> (u64, Value) {
        let res = self.res();
        let body = res["body"]
            .as_str()
            .expect("body is a pre-serialized string");
        (
            res["statusCode"].as_u64().unwrap(),
            serde_json::from_str(body).unwrap(),
        )
    }
}

/// POSTs the host's health envelope to `/Health` with `Transfer-Encoding: chunked` and
/// no Content-Length, as the host does.
async fn invoke_health(address: std::net::SocketAddr) -> HostAnswer {
    let body = fixture("health_invocation.json");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut request = String::from(
        "POST /Health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\n\
         Transfer-Encoding: chunked\r\nX-Azure-Functions-InvocationId: 0b1b6a52-0000-4000-8000-000000000009\r\n\
         User-Agent: Azure-Functions-Host/4.1037.0.0\r\nConnection: close\r\n\r\n",
    );
    for chunk in [first, rest] {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, payload) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let envelope = serde_json::from_str(payload)
        .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {raw}"));
    HostAnswer {
        status,
        content_type,
        envelope,
    }
}

/// The highest migration version in `migrations/` (`0007_x.sql` is 7): the schema version
/// a migrated database reports, whether or not the numbers are contiguous.
fn migration_files() -> u64 {
    std::fs::read_dir(format!("{}/migrations", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
        })
        .max()
        .unwrap()
}

async fn insert_reject(client: &tokio_postgres::Client, tag: &str, at: DateTime<Utc>) {
    client
        .execute(
            "INSERT INTO rejected_events (reason, detail, raw, fingerprint, rejected_at)
             VALUES ('malformed_json', 'test', $1, sha256($1::text::bytea), $2)",
            &[&tag, &at],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn health_reports_200_with_the_figures_of_a_current_schema() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let now = Utc::now();
    insert_reject(&db, "ten minutes ago", now - chrono::Duration::minutes(10)).await;
    insert_reject(
        &db,
        "fifty minutes ago",
        now - chrono::Duration::minutes(50),
    )
    .await;
    insert_reject(&db, "two hours ago", now - chrono::Duration::hours(2)).await;
    let event = json!({
        "transaction_id": "h-1", "occurred_at": "2026-11-25T09:00:00Z", "amount": "10.00",
        "currency": "GBP", "payment_type": "card", "status": "approved", "merchant_id": "m-9"
    });
    let (status, _) = app.invoke(batch(&[event], "0", 1)).await;
    assert_eq!(status, 200);
    let ingested: DateTime<Utc> = db
        .query_one("SELECT max(ingested_at) FROM normalized_transactions", &[])
        .await
        .unwrap()
        .get(0);

    let (status, body) = invoke_health(app.address).await.caller();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["schema_version"], migration_files());
    assert_eq!(body["schema_expected"], migration_files());
    assert_eq!(body["rejected_last_hour"], 2);
    let reported: DateTime<Utc> = body["last_ingested_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(reported, ingested);
    assert!(
        body["window_close_lag_seconds"].as_u64().is_some(),
        "{body}"
    );
    assert!(
        body["version"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}+", env!("CARGO_PKG_VERSION"))),
        "{body}"
    );
}

#[tokio::test]
async fn health_stays_200_on_a_schema_newer_than_this_build() {
    let app = TestApp::spawn().await;
    app.db
        .connect()
        .await
        .batch_execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'later_release', 'x')",
        )
        .await
        .unwrap();
    let (status, body) = invoke_health(app.address).await.caller();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schema_version"], 9999);
}

#[tokio::test]
async fn health_reports_503_on_an_unmigrated_database() {
    let db = TestDb::empty().await;
    let url = db.url();
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1024 * 1024).await;
    let (status, body) = invoke_health(app.address).await.caller();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["schema_version"], 0);
    assert_eq!(body["schema_expected"], migration_files());
    assert!(body["rejected_last_hour"].is_null());
}

#[tokio::test]
async fn health_reports_503_naming_the_error_when_the_database_is_down() {
    let db = TestDb::migrated().await;
    let proxy = FlakyProxy::start().await;
    let url = db.url_via(&proxy.address);
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1024 * 1024).await;
    let (status, _) = invoke_health(app.address).await.caller();
    assert_eq!(status, 200);

    proxy.down();
    let (status, body) = invoke_health(app.address).await.caller();
    assert_eq!(status, 503, "{body}");
    let database = body["database"].as_str().unwrap();
    assert!(database.contains("connect"), "{database}");
    assert!(body["schema_version"].is_null());

    proxy.up();
    let (status, _) = invoke_health(app.address).await.caller();
    assert_eq!(status, 200, "health recovers with the database");
}

#[tokio::test]
async fn health_answers_within_seconds_when_the_database_accepts_but_never_replies() {
    // A server that takes connections and says nothing: a hung database.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let db = TestDb::empty().await;
    let url = db.url_via(&address.to_string());
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1024 * 1024).await;
    let started = Instant::now();
    let (status, body) = invoke_health(app.address).await.caller();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 503, "{body}");
    assert_ne!(body["database"], "ok");
}
