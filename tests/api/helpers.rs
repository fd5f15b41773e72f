//! Test harness: a fresh database per test, the handler on a real socket, and a TCP proxy
//! that can take the database "down".

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paymetrics::functions::{AppState, app};
use paymetrics::settings::{EngineConfig, EngineHandle};
use paymetrics::store::{self, PoolSettings};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::AbortHandle;
use tokio_postgres::NoTls;

/// host:port of the PostgreSQL server the tests use.
pub fn pg_address() -> String {
    std::env::var("PAYMETRICS_TEST_PG").unwrap_or_else(|_| "127.0.0.1:5432".into())
}

fn admin_url() -> String {
    format!("postgres://postgres@{}/postgres", pg_address())
}

/// A database created for one test and dropped after it.
pub struct TestDb {
    pub name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// A fresh database with every migration applied.
    pub async fn migrated() -> Self {
        let db = Self::empty().await;
        let mut client = db.connect().await;
        store::migrate(&mut client).await.expect("migrations apply");
        db
    }

    /// A fresh, empty database.
    pub async fn empty() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "pm_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            nanos
        );
        let admin = connect(&admin_url()).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        Self { name }
    }

    pub fn url(&self) -> String {
        self.url_via(&pg_address())
    }

    /// The URL through another host:port (a proxy).
    pub fn url_via(&self, address: &str) -> String {
        format!("postgres://postgres@{address}/{}", self.name)
    }

    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url()).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; use a private runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&admin_url(), NoTls).await {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// The handler serving on 127.0.0.1:<random port>.
pub struct TestApp {
    pub address: SocketAddr,
    pub http: reqwest::Client,
    pub db: TestDb,
}

impl TestApp {
    /// A migrated database and the handler in front of it.
    pub async fn spawn() -> Self {
        let db = TestDb::migrated().await;
        let url = db.url();
        Self::spawn_with(db, &url, EngineConfig::default(), 100 * 1024 * 1024).await
    }

    /// The handler against `database_url` (which may point through a proxy to `db`).
    pub async fn spawn_with(
        db: TestDb,
        database_url: &str,
        engine: EngineConfig,
        max_body_bytes: usize,
    ) -> Self {
        let pool = store::pool(
            database_url,
            PoolSettings {
                max_size: 4,
                timeout: Duration::from_secs(2),
                statement_timeout: Duration::from_secs(30),
                lock_timeout: Duration::from_secs(5),
            },
        )
        .unwrap();
        let state = AppState::new(pool, EngineHandle::fixed(engine), max_body_bytes);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        Self {
            address,
            http: reqwest::Client::new(),
            db,
        }
    }

    /// POSTs a body to `/EventHubTrigger` as the host does.
    pub async fn invoke(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .http
            .post(format!("http://{}/EventHubTrigger", self.address))
            .header("Content-Type", "application/json")
            .header(
                "X-Azure-Functions-InvocationId",
                "7a1c5f0e-0000-4000-8000-000000000001",
            )
            .body(body)
            .send()
            .await
            .expect("the handler answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {text}"));
        (status, json)
    }

    pub async fn invoke_fixture(&self, name: &str) -> (u16, Value) {
        self.invoke(fixture(name)).await
    }

    /// POSTs the host's timer invocation (`timer_invocation.json`) to `/TimerTrigger` and
    /// returns the answer, which must be 200.
    pub async fn run_timer(&self) -> Value {
        self.run_timer_with(fixture("timer_invocation.json")).await
    }

    /// Invokes an HTTP-triggered function as the host does with
    /// `enableForwardingHttpRequest: false`: a POST to the folder's name with the caller's
    /// GET in `Data.req` (`query` its query string, `params` its route values). Returns
    /// the invocation's status and `Outputs.res`, the caller's response.
    pub async fn invoke_http(&self, function: &str, query: &Value, params: &Value) -> (u16, Value) {
        let envelope = serde_json::json!({
            "Data": {"req": {
                "Url": format!("https://app.azurewebsites.net/api/{function}?code=k"),
                "Method": "GET",
                "Query": query,
                "Headers": {"Accept": ["*/*"], "User-Agent": ["curl/8.5.0"]},
                "Params": params,
                "Identities": [{"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true}]
            }},
            "Metadata": {"Query": query, "sys": {"MethodName": function}}
        });
        let response = self
            .http
            .post(format!("http://{}/{function}", self.address))
            .header("Content-Type", "application/json; charset=utf-8")
            .body(envelope.to_string())
            .send()
            .await
            .expect("the handler answers");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        (status, answer["Outputs"]["res"].clone())
    }

    /// POSTs `body` to `/TimerTrigger` and returns the answer, which must be 200.
    pub async fn run_timer_with(&self, body: String) -> Value {
        let response = self
            .http
            .post(format!("http://{}/TimerTrigger", self.address))
            .body(body)
            .send()
            .await
            .expect("the handler answers");
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The event texts of a string-batch fixture, decoded the way a reader of the host's
/// format would (independently of the handler's decoder).
pub fn fixture_events(name: &str) -> Vec<String> {
    let body: Value = serde_json::from_str(&fixture(name)).unwrap();
    let wrapped = body["Data"]["events"]
        .as_str()
        .expect("string-wrapped events");
    serde_json::from_str(wrapped).unwrap()
}

/// Every stored row of both ingest tables, as text, in a stable order.
pub async fn snapshot(client: &tokio_postgres::Client) -> Vec<String> {
    let mut rows = Vec::new();
    for query in [
        "SELECT row_to_json(t)::text FROM normalized_transactions t ORDER BY transaction_id",
        "SELECT row_to_json(t)::text FROM transaction_ids t ORDER BY transaction_id",
        "SELECT row_to_json(t)::text FROM rejected_events t ORDER BY id",
    ] {
        for row in client.query(query, &[]).await.unwrap() {
            rows.push(row.get(0));
        }
    }
    rows
}

pub async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// A TCP proxy to PostgreSQL that can be switched off, cutting every open connection
/// and refusing new ones: a database outage without stopping the shared server.
pub struct FlakyProxy {
    pub address: String,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl FlakyProxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (up2, connections2) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(pg_address()).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections2.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            address,
            up,
            connections,
        }
    }

    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A host-shaped invocation body (`dataType: string`, `cardinality: many`) of `events`,
/// with consecutive sequence numbers from `first_sequence`.
pub fn batch(events: &[Value], partition: &str, first_sequence: i64) -> String {
    let texts: Vec<String> = events.iter().map(Value::to_string).collect();
    let sequences: Vec<i64> = (0..events.len() as i64)
        .map(|i| first_sequence + i)
        .collect();
    serde_json::json!({
        "Data": {"events": serde_json::to_string(&texts).unwrap()},
        "Metadata": {
            "SequenceNumberArray": serde_json::to_string(&sequences).unwrap(),
            "TriggerPartitionContext": {"PartitionId": partition},
        }
    })
    .to_string()
}

/// A small deterministic generator (xorshift64*), so tests need no RNG crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for the process under test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real `handler` binary against `url`, serving on `port`, with nothing of this
/// process's environment but what the host would set.
pub fn handler(url: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_handler"));
    command
        .env_clear()
        .env("DATABASE_URL", url)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env(
            "PAYMETRICS_CONFIG",
            format!("{}/config/engine.yaml", env!("CARGO_MANIFEST_DIR")),
        )
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Under `cargo tarpaulin` the handler writes its coverage where the test's goes.
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    command
}

/// Everything the process wrote, stdout then stderr, once it has ended.
pub async fn output(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut text).await.unwrap();
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut text).await.unwrap();
    }
    text
}

/// Waits until the handler on `port` answers `GET /` (at most 10 s).
pub async fn wait_ready(port: u16) {
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the handler did not answer GET / within 10 s");
}

/// Closes every window due at `now` in `db` and checks `payment_metrics_5m` against the
/// simulator's `truth`: every row matches and none is pending.
#[cfg(feature = "simulator")]
pub async fn close_and_check(db: &TestDb, now: &str, truth: &[Value]) {
    let mut client = db.connect().await;
    store::close_due_windows(&mut client, now.parse().unwrap(), &Default::default(), &[])
        .await
        .unwrap();
    let report = paymetrics::simulator::check::compare(&client, truth)
        .await
        .unwrap();
    assert!(report.ok(), "{:?}", report.differences);
    assert_eq!((report.matching, report.pending), (truth.len(), 0));
}
