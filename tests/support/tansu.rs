//! tansu, a Kafka-protocol broker (`cargo install tansu --locked --features dynostore`),
//! started for one test or bench on a free port of 127.0.0.1, keeping its topics in
//! memory, and stopped when dropped. Included by path from the binaries that need it.
//!
//! It is found at `PAYMETRICS_TEST_TANSU` or on `PATH` (`.ci/run` installs it). Without it
//! [`Broker::start`] panics saying what to install, unless `PAYMETRICS_SKIP_KAFKA=1`, when
//! it returns `None` and the caller skips.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A running broker.
pub struct Broker {
    _child: Child,
    /// `127.0.0.1:PORT`, the bootstrap address.
    pub address: String,
}

fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PAYMETRICS_TEST_TANSU") {
        return Some(path.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tansu"))
            .find(|p| p.is_file())
    })
}

impl Broker {
    /// Starts a broker and waits until it accepts connections.
    pub async fn start() -> Option<Self> {
        let Some(binary) = binary() else {
            if std::env::var("PAYMETRICS_SKIP_KAFKA").as_deref() == Ok("1") {
                eprintln!("skipped (PAYMETRICS_SKIP_KAFKA=1): tansu is not installed");
                return None;
            }
            panic!(
                "this needs a Kafka-protocol broker: cargo install tansu --locked \
                 --features dynostore (or PAYMETRICS_TEST_TANSU=path), or set \
                 PAYMETRICS_SKIP_KAFKA=1 to skip it"
            );
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let child = Command::new(binary)
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("tansu starts");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(&address).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "tansu listens within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(Self {
            _child: child,
            address,
        })
    }

    /// Creates `topic` with `partitions` partitions.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin = rskafka::client::ClientBuilder::new(vec![self.address.clone()])
            .build()
            .await
            .unwrap();
        admin
            .controller_client()
            .unwrap()
            .create_topic(topic, partitions, 1, 5_000)
            .await
            .unwrap();
    }
}
