//! Azurite, the Azure Storage emulator (`tests/azurite`, from npm), serving Blob Storage
//! to one test on a port of its own, in memory; its well-known account's shared access
//! signatures, computed here from Microsoft's description of the account SAS; and the
//! two REST calls the tests write with (create a container, put a block blob).
//! Included by path from the binaries that need it.
//!
//! Needs `node` and `tests/azurite/node_modules` (`npm ci --ignore-scripts` there; `.ci/run`
//! does it). Without them the tests that use it fail and say so, unless
//! `PAYMETRICS_SKIP_AZURITE=1`, which skips them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Azurite's built-in account and its published key.
pub const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The SAS version the signatures are computed for.
const SAS_VERSION: &str = "2020-12-06";

/// The certificate and key Azurite serves HTTPS with (PEM files).
pub struct TlsFiles {
    /// The server certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// A running Azurite Blob service; stopped when dropped.
pub struct Azurite {
    child: Child,
    /// `http(s)://127.0.0.1:PORT/devstoreaccount1`.
    pub account_url: String,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn azurite_main() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/azurite/node_modules/azurite/dist/src/blob/main.js")
}

impl Azurite {
    /// Starts Azurite's Blob service on a free port: plain HTTP, or HTTPS with `tls` and
    /// OAuth (bearer tokens checked for format, lifetime, issuer and audience). `None`
    /// when `PAYMETRICS_SKIP_AZURITE=1` and Azurite is not installed.
    pub async fn start(tls: Option<&TlsFiles>) -> Option<Self> {
        let main = azurite_main();
        if !main.exists() {
            if std::env::var("PAYMETRICS_SKIP_AZURITE").as_deref() == Ok("1") {
                eprintln!("skipped (PAYMETRICS_SKIP_AZURITE=1): Azurite is not installed");
                return None;
            }
            panic!(
                "this test needs Azurite: (cd tests/azurite && npm ci --ignore-scripts), \
                 or set PAYMETRICS_SKIP_AZURITE=1 to skip it"
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "pm-azurite-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = Command::new("node");
        command
            .arg(&main)
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0"])
            .args(["--inMemoryPersistence", "--extentMemoryLimit", "512"])
            .args(["--skipApiVersionCheck", "--disableTelemetry", "--silent"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(tls) = tls {
            command
                .arg("--cert")
                .arg(&tls.cert)
                .arg("--key")
                .arg(&tls.key)
                .args(["--oauth", "basic"]);
        }
        let mut child = command.spawn().expect("node runs Azurite");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some((_, url)) = line.split_once("successfully listens on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("Azurite stopped before listening");
        })
        .await
        .expect("Azurite listens within a minute");
        // Keep reading its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(Self {
            child,
            account_url: format!("{}/{ACCOUNT}", base.trim_end_matches('/')),
            _dir: TempDir(dir),
        })
    }

    /// An account SAS (query string, no `?`) for the Blob service with `permissions`
    /// (`rl`: read and list; `rwdlac`: everything) on the service, containers and
    /// objects, valid for a day.
    pub fn sas(&self, permissions: &str) -> String {
        let expiry = (chrono::Utc::now() + chrono::TimeDelta::days(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        // accountname, permissions, services, resource types, start, expiry, IP,
        // protocol, version, encryption scope: each followed by a newline.
        let to_sign = format!(
            "{ACCOUNT}\n{permissions}\nb\nsco\n\n{expiry}\n\nhttps,http\n{SAS_VERSION}\n\n"
        );
        let key = STANDARD.decode(ACCOUNT_KEY).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(to_sign.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        form_urlencoded::Serializer::new(String::new())
            .append_pair("sv", SAS_VERSION)
            .append_pair("ss", "b")
            .append_pair("srt", "sco")
            .append_pair("sp", permissions)
            .append_pair("se", &expiry)
            .append_pair("spr", "https,http")
            .append_pair("sig", &signature)
            .finish()
    }

    /// The URL of `container`.
    pub fn container_url(&self, container: &str) -> String {
        format!("{}/{container}", self.account_url)
    }

    /// Creates `container` (with a full-permission SAS).
    pub async fn create_container(&self, http: &reqwest::Client, container: &str) {
        let url = format!(
            "{}?restype=container&{}",
            self.container_url(container),
            self.sas("rwdlac")
        );
        created(http.put(url), container).await;
    }

    /// Writes `bytes` to the block blob `name` of `container`, replacing it.
    pub async fn put_blob(
        &self,
        http: &reqwest::Client,
        container: &str,
        name: &str,
        bytes: &[u8],
    ) {
        let url = format!(
            "{}/{name}?{}",
            self.container_url(container),
            self.sas("rwdlac")
        );
        let request = http
            .put(url)
            .header("x-ms-blob-type", "BlockBlob")
            .body(bytes.to_vec());
        created(request, name).await;
    }
}

/// Sends `request` and checks Blob Storage answered 201 Created.
async fn created(request: reqwest::RequestBuilder, what: &str) {
    let response = request
        .header("x-ms-version", SAS_VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "{what}: {:?}",
        response.text().await
    );
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
