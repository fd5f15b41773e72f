//! `handler replay` against archives written here in Event Hubs Capture's schema and
//! layout: simulated traffic with faults, its ground truth, files cut short, empty
//! files, live ingest before the replay. Built only with the `simulator` feature.
#![cfg(feature = "simulator")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use apache_avro::Writer;
use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::simulator::scenario::TimeMode;
use paymetrics::simulator::truth::Truth;
use paymetrics::simulator::{Arrivals, DEFAULT_SCENARIO, Expected, Generator, Scenario};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::azurite::{Azurite, TlsFiles};
use crate::capture_archive::{capture_name, capture_record, capture_schema, capture_writer};
use crate::helpers::{TestApp, TestDb, count};

const PARTITIONS: u32 = 4;

/// One archived event: what Capture records, and what the generator expects of it.
struct Archived {
    partition: u32,
    sequence: i64,
    enqueued: DateTime<Utc>,
    body: String,
    expected: Expected,
}

/// Simulated traffic over [from, to) at 3 events a second with the default faults, as
/// Event Hubs would hold it: partitioned by key, numbered per partition, each event
/// enqueued when it arrives; and the ground truth of what should be stored.
fn traffic(from: &str, to: &str) -> (Vec<Archived>, Vec<Value>) {
    let mut s = Scenario::from_yaml(DEFAULT_SCENARIO, "default").unwrap();
    s.rate.events_per_second = 3.0;
    s.rate.bursts = None;
    let (from, to) = (from.parse().unwrap(), to.parse().unwrap());
    s.time = TimeMode::Backfill { from, to };
    let mut generator = Generator::new(&s);
    let mut arrivals = Arrivals::new(&s, from);
    let mut pending = Vec::new();
    let mut events = Vec::new();
    let mut truth = Truth::default();
    let mut sequences = [0i64; PARTITIONS as usize];
    let mut take = |pending: &mut Vec<paymetrics::simulator::Emission>, at| {
        for emission in pending.drain(..) {
            let partition = emission.partition_key % PARTITIONS;
            let sequence = &mut sequences[partition as usize];
            if let Some(txn) = &emission.txn {
                truth.add(txn);
            }
            events.push(Archived {
                partition,
                sequence: *sequence,
                enqueued: at,
                body: emission.text,
                expected: emission.expected,
            });
            *sequence += 1;
        }
    };
    loop {
        let at = arrivals.next_time();
        if at >= to {
            break;
        }
        generator.arrival(at, &mut pending);
        take(&mut pending, at);
    }
    generator.flush(&mut pending);
    take(&mut pending, to - TimeDelta::seconds(1));
    (events, truth.rows())
}

/// Writes `events` as Capture does: a file per partition and 5-minute window, named
/// `{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}.avro`.
/// Returns the files written, by name.
fn write_archive(root: &Path, events: &[Archived]) -> BTreeMap<String, Vec<u8>> {
    let schema = capture_schema();
    let mut files: BTreeMap<String, Writer<'_, Vec<u8>>> = BTreeMap::new();
    for event in events {
        let name = capture_name(
            "evhns-paymetrics-dev-weu-001/evh-paymetrics-dev-weu-001",
            event.partition,
            event.enqueued,
        );
        files
            .entry(name)
            .or_insert_with(|| capture_writer(&schema))
            .append_value(capture_record(
                event.sequence,
                event.enqueued,
                event.body.as_bytes(),
            ))
            .unwrap();
    }
    let files: BTreeMap<String, Vec<u8>> = files
        .into_iter()
        .map(|(name, writer)| (name, writer.into_inner().unwrap()))
        .collect();
    for (name, bytes) in &files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    files
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pm-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `handler replay` with `args` against `db`.
async fn replay(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    replay_with(db, args, &[]).await
}

/// `handler replay` with `args` against `db`, in an environment with `env` too.
async fn replay_with(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_handler"));
    command
        .arg("replay")
        .args(args)
        .env_clear()
        .env("DATABASE_URL", db.url())
        .env(
            "PAYMETRICS_CONFIG",
            format!("{}/config/engine.yaml", env!("CARGO_MANIFEST_DIR")),
        )
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied());
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().await.unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The value of `key`'s line (`key\tN`) in a replay summary.
fn line(stdout: &str, key: &str) -> i64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .and_then(|rest| rest.split('\t').next())
        .unwrap_or_else(|| panic!("no {key} line in:\n{stdout}"))
        .parse()
        .unwrap()
}

fn expected(events: &[Archived], what: fn(&Expected) -> bool) -> i64 {
    events.iter().filter(|e| what(&e.expected)).count() as i64
}

async fn stored(db: &tokio_postgres::Client) -> (i64, i64) {
    (
        count(db, "SELECT count(*) FROM normalized_transactions").await,
        count(db, "SELECT count(*) FROM rejected_events").await,
    )
}

async fn close_and_check(db: &TestDb, truth: &[Value]) {
    crate::helpers::close_and_check(db, "2026-11-20T12:00:00Z", truth).await;
}

const FROM: &str = "2026-11-19T08:00:00Z";
const TO: &str = "2026-11-19T09:00:00Z";

#[tokio::test]
async fn a_replayed_archive_matches_the_truth_and_a_second_replay_changes_nothing() {
    let (events, truth) = traffic(FROM, TO);
    let root = temp("truth");
    let files = write_archive(&root, &events);
    // Capture writes an empty file for a window without events unless told to skip them.
    let empty = capture_writer(&capture_schema()).into_inner().unwrap();
    let empty_name =
        "evhns-paymetrics-dev-weu-001/evh-paymetrics-dev-weu-001/0/2026/11/19/08/30/07.avro";
    std::fs::write(root.join(empty_name), empty).unwrap();
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let dir = root.to_str().unwrap();

    let (code, stdout, stderr) = replay(&db, &["--from", FROM, "--to", TO, "--dir", dir]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let accepted = expected(&events, |e| matches!(e, Expected::Accepted));
    let rejected = expected(&events, |e| matches!(e, Expected::Rejected(_)));
    assert!(accepted > 9_000 && rejected > 50, "{accepted} {rejected}");
    assert_eq!(line(&stdout, "accepted"), accepted, "{stdout}");
    assert_eq!(
        line(&stdout, "duplicates"),
        expected(&events, |e| matches!(e, Expected::Duplicate))
    );
    assert!(
        stdout.contains(&format!(
            "replayed {} events of {} files",
            events.len(),
            files.len() + 1
        )),
        "{stdout}"
    );
    assert_eq!(stored(&client).await, (accepted, rejected));
    let by_reason: BTreeMap<String, i64> = events
        .iter()
        .filter_map(|e| match e.expected {
            Expected::Rejected(reason) => Some(reason.to_string()),
            _ => None,
        })
        .fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r).or_default() += 1;
            m
        });
    for (reason, n) in &by_reason {
        assert_eq!(
            line(&stdout, &format!("rejected\t{reason}")),
            *n,
            "{stdout}"
        );
    }
    // Lineage: the archive's partition and sequence number.
    let lineage = count(
        &client,
        "SELECT count(*) FROM normalized_transactions WHERE partition_id IS NULL OR sequence_number IS NULL",
    )
    .await;
    assert_eq!(lineage, 0);
    close_and_check(&db, &truth).await;

    let (code, stdout, stderr) = replay(&db, &["--from", FROM, "--to", TO, "--dir", dir]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(line(&stdout, "accepted"), 0, "{stdout}");
    assert_eq!(stored(&client).await, (accepted, rejected));
    close_and_check(&db, &truth).await;
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn replay_after_live_ingest_brings_in_only_what_never_arrived() {
    let (events, truth) = traffic(FROM, "2026-11-19T08:20:00Z");
    let root = temp("live");
    write_archive(&root, &events);
    let app = TestApp::spawn().await;
    // Partitions 0 and 1 arrived through the trigger, with the same lineage; 2 and 3 were
    // lost (a database restored to an older point).
    for partition in 0..2 {
        let mine: Vec<&Archived> = events.iter().filter(|e| e.partition == partition).collect();
        for chunk in mine.chunks(100) {
            let texts: Vec<&str> = chunk.iter().map(|e| e.body.as_str()).collect();
            let sequences: Vec<i64> = chunk.iter().map(|e| e.sequence).collect();
            let enqueued: Vec<String> = chunk.iter().map(|e| e.enqueued.to_rfc3339()).collect();
            let body = json!({
                "Data": {"events": serde_json::to_string(&texts).unwrap()},
                "Metadata": {
                    "SequenceNumberArray": serde_json::to_string(&sequences).unwrap(),
                    "EnqueuedTimeUtcArray": serde_json::to_string(&enqueued).unwrap(),
                    "TriggerPartitionContext": {"PartitionId": partition.to_string()},
                }
            });
            let (status, answer) = app.invoke(body.to_string()).await;
            assert_eq!(status, 200, "{answer}");
        }
    }
    let client = app.db.connect().await;
    let (live_accepted, live_rejected) = stored(&client).await;
    assert!(live_accepted > 0 && live_rejected > 0);

    let dir = root.to_str().unwrap();
    let args = ["--from", FROM, "--to", "2026-11-19T08:20:00Z", "--dir", dir];
    let (code, stdout, stderr) = replay(&app.db, &args).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let accepted = expected(&events, |e| matches!(e, Expected::Accepted));
    let rejected = expected(&events, |e| matches!(e, Expected::Rejected(_)));
    assert_eq!(
        line(&stdout, "accepted"),
        accepted - live_accepted,
        "{stdout}"
    );
    assert_eq!(stored(&client).await, (accepted, rejected));
    close_and_check(&app.db, &truth).await;
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_file_cut_short_is_replayed_to_the_cut_named_and_finished_by_a_rerun() {
    let (events, truth) = traffic(FROM, "2026-11-19T08:15:00Z");
    let root = temp("cut");
    let files = write_archive(&root, &events);
    let (victim, bytes) = files.iter().next().unwrap();
    std::fs::write(root.join(victim), &bytes[..bytes.len() * 2 / 3]).unwrap();
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let dir = root.to_str().unwrap();
    let args = ["--from", FROM, "--to", "2026-11-19T08:15:00Z", "--dir", dir];

    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(victim.as_str()) && stderr.contains("record "),
        "{stderr}"
    );
    let (partial, _) = stored(&client).await;
    let accepted = expected(&events, |e| matches!(e, Expected::Accepted));
    assert!(partial > 0 && partial < accepted, "{partial} of {accepted}");

    // A dry run of the restored archive stores nothing and counts every valid event.
    std::fs::write(root.join(victim), bytes).unwrap();
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let (code, stdout, _) = replay(&db, &dry).await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stored(&client).await.0, partial);
    assert!(line(&stdout, "accepted") >= accepted, "{stdout}");

    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(line(&stdout, "accepted"), accepted - partial, "{stdout}");
    close_and_check(&db, &truth).await;
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn partitions_and_the_range_select_what_is_replayed_and_an_empty_archive_is_fine() {
    let (events, _) = traffic(FROM, "2026-11-19T08:20:00Z");
    let root = temp("select");
    write_archive(&root, &events);
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let dir = root.to_str().unwrap();

    // Partition 2, enqueued in [08:05, 08:10).
    let (from, to) = ("2026-11-19T08:05:00Z", "2026-11-19T08:10:00Z");
    let args = ["--from", from, "--to", to, "--partition", "2", "--dir", dir];
    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (from, to): (DateTime<Utc>, DateTime<Utc>) = (from.parse().unwrap(), to.parse().unwrap());
    let chosen: Vec<&Archived> = events
        .iter()
        .filter(|e| e.partition == 2 && e.enqueued >= from && e.enqueued < to)
        .collect();
    assert!(
        stdout.contains(&format!("replayed {} events", chosen.len())),
        "{stdout}"
    );
    let accepted = chosen
        .iter()
        .filter(|e| matches!(e.expected, Expected::Accepted))
        .count() as i64;
    assert_eq!(stored(&client).await.0, accepted);
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM normalized_transactions WHERE partition_id <> '2'"
        )
        .await,
        0
    );

    let nothing = temp("empty");
    let args = [
        "--from",
        FROM,
        "--to",
        TO,
        "--dir",
        nothing.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("replayed 0 events of 0 files"), "{stdout}");

    let (code, _, stderr) = replay(&db, &["--from", TO, "--to", FROM, "--dir", dir]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("must be after"), "{stderr}");
    std::fs::remove_dir_all(root).unwrap();
    std::fs::remove_dir_all(nothing).unwrap();
}

/// Puts every file of `files` into `container`, except that `cut` (when given) is cut to
/// two thirds of its bytes.
async fn upload(
    azurite: &Azurite,
    http: &reqwest::Client,
    container: &str,
    files: &BTreeMap<String, Vec<u8>>,
    cut: Option<&str>,
) {
    for (name, bytes) in files {
        let bytes = if Some(name.as_str()) == cut {
            &bytes[..bytes.len() * 2 / 3]
        } else {
            &bytes[..]
        };
        azurite.put_blob(http, container, name, bytes).await;
    }
}

#[tokio::test]
async fn a_container_in_blob_storage_replays_to_the_truth_with_a_sas_and_names_a_cut_file() {
    let Some(azurite) = Azurite::start(None).await else {
        return;
    };
    let http = reqwest::Client::new();
    azurite.create_container(&http, "archive").await;
    let url = format!("{}?{}", azurite.container_url("archive"), azurite.sas("rl"));
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let to = "2026-11-19T08:20:00Z";
    let args = ["--from", FROM, "--to", to, "--container", url.as_str()];

    // An empty container: nothing to replay, and that is no error.
    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("replayed 0 events of 0 files"), "{stdout}");

    let (events, truth) = traffic(FROM, to);
    let root = temp("container");
    let files = write_archive(&root, &events);
    let victim = files.keys().nth(1).unwrap().clone();
    upload(&azurite, &http, "archive", &files, Some(&victim)).await;
    // Something that is not an archive file is left alone.
    azurite
        .put_blob(&http, "archive", "README.txt", b"not an archive")
        .await;

    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(victim.as_str()) && stderr.contains("record "),
        "{stderr}"
    );
    assert!(
        !stderr.contains("sig="),
        "the SAS stays out of messages: {stderr}"
    );
    let accepted = expected(&events, |e| matches!(e, Expected::Accepted));
    let (partial, _) = stored(&client).await;
    assert!(partial > 0 && partial < accepted, "{partial} of {accepted}");

    // The whole file put back, a rerun stores the rest exactly once.
    azurite
        .put_blob(&http, "archive", &victim, &files[&victim])
        .await;
    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(line(&stdout, "accepted"), accepted - partial, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "replayed {} events of {} files",
            events.len(),
            files.len()
        )),
        "{stdout}"
    );
    let rejected = expected(&events, |e| matches!(e, Expected::Rejected(_)));
    assert_eq!(stored(&client).await, (accepted, rejected));
    close_and_check(&db, &truth).await;

    // A SAS that does not allow listing is refused, and the refusal is an error.
    let write_only = format!("{}?{}", azurite.container_url("archive"), azurite.sas("w"));
    let args = [
        "--from",
        FROM,
        "--to",
        to,
        "--container",
        write_only.as_str(),
    ];
    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("listing the archive") && stderr.contains("HTTP 403"),
        "{stderr}"
    );

    // A container that cannot be reached: an error naming it, without its SAS.
    let port = crate::helpers::free_port();
    let sas = azurite.sas("rl");
    let closed = format!("http://127.0.0.1:{port}/devstoreaccount1/archive?{sas}");
    let args = ["--from", FROM, "--to", to, "--container", closed.as_str()];
    let (code, stdout, stderr) = replay(&db, &args).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}/devstoreaccount1/archive?…")),
        "{stderr}"
    );
    let signature = sas.split("sig=").nth(1).unwrap();
    assert!(
        !stderr.contains("sig=") && !stderr.contains(signature),
        "{stderr}"
    );

    // Plain HTTP without a SAS would send a token in the clear: refused.
    let bare = azurite.container_url("archive");
    let args = ["--from", FROM, "--to", to, "--container", bare.as_str()];
    let (code, _, stderr) = replay(&db, &args).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("only sent over https"), "{stderr}");
    std::fs::remove_dir_all(root).unwrap();
}

/// A JSON Web Token in the shape Microsoft Entra ID issues for `audience`, unsigned: what
/// Azurite's OAuth checks (format, lifetime, issuer, audience), not a real sign-in.
fn entra_token(audience: &str) -> String {
    use base64::Engine;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let now = Utc::now().timestamp();
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let claims = json!({
        "aud": audience,
        "iss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        "iat": now - 60, "nbf": now - 60, "exp": now + 3600,
        "oid": "11059fcc-5514-4800-b5f8-49808b9cfab6",
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    });
    format!("{}.{}.c2lnbmF0dXJl", b64(&header), b64(&claims))
}

/// An App Service managed identity endpoint (`IDENTITY_ENDPOINT`) on this machine that
/// hands out [`entra_token`]s for Blob Storage, checks the `X-IDENTITY-HEADER` secret,
/// and records the resources asked for.
async fn identity_endpoint() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::extract::{RawQuery, State};
    use axum::http::{HeaderMap, StatusCode};
    type Asked = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
    async fn token(
        State(asked): State<Asked>,
        headers: HeaderMap,
        RawQuery(query): RawQuery,
    ) -> Result<axum::Json<Value>, StatusCode> {
        let query: BTreeMap<String, String> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        if headers
            .get("x-identity-header")
            .and_then(|h| h.to_str().ok())
            != Some("s3cret")
        {
            return Err(StatusCode::UNAUTHORIZED);
        }
        let resource = query.get("resource").cloned().unwrap_or_default();
        asked.lock().unwrap().push(resource.clone());
        Ok(axum::Json(json!({
            "access_token": entra_token("https://storage.azure.com"),
            "expires_on": (Utc::now().timestamp() + 3600).to_string(),
            "resource": resource,
            "token_type": "Bearer",
        })))
    }
    let asked: Asked = Default::default();
    let app = axum::Router::new()
        .route("/msi/token", axum::routing::get(token))
        .with_state(asked.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/msi/token"), asked)
}

#[tokio::test]
async fn a_container_is_read_with_the_handlers_managed_identity_over_https() {
    use rcgen::{CertificateParams, KeyPair, SanType};
    // Azurite over HTTPS with a certificate of a private authority the handler is told
    // to trust (SSL_CERT_FILE), checking bearer tokens.
    let ca = crate::security::self_signed_ca();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.signed_by(&key, &ca).unwrap();
    let dir = temp("identity");
    let tls = TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&tls.cert, cert.pem()).unwrap();
    std::fs::write(&tls.key, key.serialize_pem()).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let Some(azurite) = Azurite::start(Some(&tls)).await else {
        return;
    };
    let http = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    azurite.create_container(&http, "archive").await;
    let to = "2026-11-19T08:10:00Z";
    let (events, truth) = traffic(FROM, to);
    let files = write_archive(&dir.join("archive"), &events);
    upload(&azurite, &http, "archive", &files, None).await;

    let (endpoint, asked) = identity_endpoint().await;
    let db = TestDb::migrated().await;
    let url = azurite.container_url("archive");
    let args = ["--from", FROM, "--to", to, "--container", url.as_str()];
    let env = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", "s3cret"),
        ("SSL_CERT_FILE", ca_file.to_str().unwrap()),
    ];
    let (code, stdout, stderr) = replay_with(&db, &args, &env).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let accepted = expected(&events, |e| matches!(e, Expected::Accepted));
    assert_eq!(line(&stdout, "accepted"), accepted, "{stdout}");
    close_and_check(&db, &truth).await;
    let asked = asked.lock().unwrap().clone();
    assert!(
        !asked.is_empty(),
        "the managed identity was asked for a token"
    );
    assert!(
        asked
            .iter()
            .all(|r| r.trim_end_matches('/') == "https://storage.azure.com"),
        "{asked:?}"
    );

    // Without a token (no identity to ask), Azurite refuses to list the container.
    let anonymous = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()])
        .build()
        .unwrap()
        .get(format!("{url}?restype=container&comp=list"))
        .header("x-ms-version", "2020-12-06")
        .send()
        .await
        .unwrap();
    assert!(
        anonymous.status().is_client_error(),
        "{}",
        anonymous.status()
    );
    std::fs::remove_dir_all(dir).unwrap();
}
