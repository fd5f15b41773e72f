//! The `simulator` binary as people run it: `default-config`, `validate`, `run` into each
//! local sink, `check` against a database and `report`, and the usage errors with their
//! exit status (0 delivered, 1 undelivered or a difference, 2 usage or configuration).
#![cfg(feature = "simulator")]

use std::path::PathBuf;
use std::process::Output;

use paymetrics::store;
use serde_json::Value;
use tokio::process::Command;

use crate::helpers::{TestApp, TestDb, count};

fn simulator() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_simulator"));
    command.env_remove("DATABASE_URL").kill_on_drop(true);
    command
}

async fn run(args: &[&str]) -> Output {
    simulator().args(args).output().await.unwrap()
}

fn text(output: &Output) -> (i32, String, String) {
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pm-simcli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn shipped_scenario() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/simulator.yaml"
    ))
    .unwrap()
}

#[tokio::test]
async fn simulator_validate_lists_the_demo_incidents_and_run_refuses_a_range_that_misses_them() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/config/incidents.yaml");
    let (code, out, err) = text(&run(&["validate", "--config", demo]).await);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<Value> = out
        .lines()
        .skip_while(|l| !l.starts_with("3 incidents planted:"))
        .skip(1)
        .map(|l| serde_json::from_str(l.trim()).unwrap())
        .collect();
    let kinds: Vec<&str> = listed
        .iter()
        .map(|l| l["incident"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["approval_drop", "fraud_burst", "merchant_decline_spike"],
        "{out}"
    );
    assert_eq!(listed[0]["start"], "2026-11-25T04:00:00.000Z");

    // Six hours from --from: the fraud burst at 10h falls outside; nothing is sent.
    let (code, out, err) = text(
        &run(&[
            "run",
            "--config",
            demo,
            "--from",
            "2026-11-20T00:00:00Z",
            "--to",
            "2026-11-20T06:00:00Z",
            "--sink",
            "null",
            "--quiet",
        ])
        .await,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("incidents[1].start: fraud_burst: starts at 2026-11-20 10:00:00 UTC"),
        "{err}"
    );
}

#[tokio::test]
async fn default_config_prints_the_shipped_scenario_and_validate_accepts_it() {
    let (code, out, _) = text(&run(&["default-config"]).await);
    assert_eq!(code, 0);
    assert_eq!(out, shipped_scenario());

    let dir = temp("validate");
    let good = dir.join("good.yaml");
    std::fs::write(&good, &out).unwrap();
    let (code, out, err) = text(&run(&["validate", "--config", good.to_str().unwrap()]).await);
    assert_eq!(code, 0, "{err}");
    // The shipped file: 50 events/s; card, ach, wire, wallet and bnpl; USD, EUR, GBP,
    // JPY and KWD; real time.
    assert!(
        out.contains("is valid: 50 events/s, 5 payment types, 5 currencies, realtime"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("realtime"), "{out}");

    let backfill = dir.join("backfill.yaml");
    std::fs::write(
        &backfill,
        "time: {mode: backfill, from: 2026-11-26T06:00:00Z, to: 2026-11-26T09:00:00Z}\n",
    )
    .unwrap();
    let (code, out, err) = text(&run(&["validate", "--config", backfill.to_str().unwrap()]).await);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("backfill 2026-11-26 06:00:00 UTC to 2026-11-26 09:00:00 UTC"),
        "{out}"
    );

    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "rate:\n  events_per_second: -3\n").unwrap();
    let (code, out, err) = text(&run(&["validate", "--config", bad.to_str().unwrap()]).await);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("events_per_second"), "{err}");
    let (code, _, err) = text(&run(&["validate", "--config", "/nonexistent/scenario.yaml"]).await);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/scenario.yaml"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn run_writes_the_same_events_to_a_file_and_to_stdout_with_truth_and_manifest() {
    let dir = temp("file");
    let events = dir.join("events.ndjson");
    let truth = dir.join("truth.json");
    let manifest = dir.join("manifest.ndjson");
    let window = [
        "--from",
        "2026-11-25T08:00:00Z",
        "--to",
        "2026-11-25T09:00:00Z",
        "--count",
        "200",
        "--seed",
        "7",
    ];
    let mut args = vec!["run", "--sink", "file", "--out", events.to_str().unwrap()];
    args.extend(window);
    args.extend(["--truth", truth.to_str().unwrap()]);
    args.extend(["--manifest", manifest.to_str().unwrap(), "--quiet"]);
    let (code, _, err) = text(&run(&args).await);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("generated 200 transactions"), "{err}");
    let file = std::fs::read_to_string(&events).unwrap();
    let lines: Vec<Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Faults (duplicates, malformed extras) come on top of the 200 transactions.
    assert!(lines.len() >= 200, "{}", lines.len());
    let truth: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
    assert!(!truth.is_empty());
    let counted: u64 = truth.iter().map(|r| r["txn_count"].as_u64().unwrap()).sum();
    assert!(counted <= 200, "{counted}");
    assert!(!std::fs::read_to_string(&manifest).unwrap().is_empty());

    // The same seed and window to stdout: the same bytes.
    let mut args = vec!["run", "--sink", "stdout"];
    args.extend(window);
    let (code, out, err) = text(&run(&args).await);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, file);
    // To stdout the summary goes to stderr, so the events stay clean.
    assert!(err.contains("generated 200 transactions"), "{err}");

    let mut args = vec!["run", "--sink", "null"];
    args.extend(window);
    let (code, out, err) = text(&run(&args).await);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn usage_and_configuration_errors_exit_2_naming_what_is_wrong() {
    let window = [
        "--from",
        "2026-11-25T08:00:00Z",
        "--to",
        "2026-11-25T09:00:00Z",
    ];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--rate", "0"], "--rate must be a positive number"),
        (
            vec![
                "--from",
                "2026-11-25T09:00:00Z",
                "--to",
                "2026-11-25T08:00:00Z",
            ],
            "must be after --from",
        ),
        (
            [&["--sink", "eventhubs"][..], &window].concat(),
            "--namespace (or EVENTHUBS_NAMESPACE) is required",
        ),
        (
            [
                &["--sink", "eventhubs", "--auth", "connection-string"][..],
                &window,
            ]
            .concat(),
            "--sink kafka --bootstrap <namespace>.servicebus.windows.net:9093 --auth connection-string",
        ),
        (
            [
                &[
                    "--sink",
                    "kafka",
                    "--bootstrap",
                    "127.0.0.1:9",
                    "--auth",
                    "connection-string",
                ][..],
                &window,
            ]
            .concat(),
            "EVENTHUBS_CONNECTION_STRING is not set",
        ),
        (
            [&["--sink", "kafka"][..], &window].concat(),
            "--bootstrap (or KAFKA_BOOTSTRAP_SERVERS) is required for Kafka",
        ),
        (vec!["--sink", "file"], "--out"),
        (
            [&["--config", "/nonexistent/scenario.yaml"][..], &window].concat(),
            "/nonexistent/scenario.yaml",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["run", "--count", "1"];
        args.extend(&extra);
        let output = simulator()
            .args(&args)
            .env_remove("EVENTHUBS_NAMESPACE")
            .env_remove("EVENTHUBS_CONNECTION_STRING")
            .env_remove("KAFKA_BOOTSTRAP_SERVERS")
            .output()
            .await
            .unwrap();
        let (code, _, err) = text(&output);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn an_unreachable_handler_exits_1_and_reports_each_undelivered_batch() {
    let port = crate::helpers::free_port();
    let target = format!("http://127.0.0.1:{port}");
    let dir = temp("unreachable");
    let scenario = dir.join("scenario.yaml");
    // One attempt per batch, so the run ends at once.
    std::fs::write(&scenario, "delivery:\n  max_attempts: 1\n").unwrap();
    let args = [
        "run",
        "--config",
        scenario.to_str().unwrap(),
        "--sink",
        "handler",
        "--target",
        &target,
        "--from",
        "2026-11-25T08:00:00Z",
        "--to",
        "2026-11-25T09:00:00Z",
        "--count",
        "20",
        "--quiet",
    ];
    let (code, _, err) = text(&run(&args).await);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("delivery error:"), "{err}");
    assert!(!err.contains(" 0 failed"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn run_to_the_handler_then_check_and_report_against_the_database() {
    let app = TestApp::spawn().await;
    let dir = temp("check");
    let truth = dir.join("truth.json");
    let target = format!("http://{}", app.address);
    let args = [
        "run",
        "--sink",
        "handler",
        "--target",
        &target,
        "--from",
        "2026-11-25T08:00:00Z",
        "--to",
        "2026-11-25T09:00:00Z",
        "--count",
        "500",
        "--truth",
        truth.to_str().unwrap(),
        "--quiet",
    ];
    let (code, _, err) = text(&run(&args).await);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(" 0 failed"), "{err}");
    let rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
    let url = app.db.url();
    let check = [
        "check",
        "--truth",
        truth.to_str().unwrap(),
        "--database-url",
        &url,
    ];

    // Before the timer closed anything, every expected row is pending: not a difference.
    let (code, out, err) = text(&run(&check).await);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "0 differences; {} in windows not closed yet",
            rows.len()
        )),
        "{out}"
    );

    let mut client = app.db.connect().await;
    store::close_due_windows(
        &mut client,
        "2026-11-25T12:00:00Z".parse().unwrap(),
        &Default::default(),
        &[],
    )
    .await
    .unwrap();
    let (code, out, err) = text(&run(&check).await);
    assert_eq!(code, 0, "{out}{err}");
    let n = rows.len();
    assert!(
        out.contains(&format!(
            "{n} of {n} expected payment_metrics_5m rows match; 0 differences; 0 in windows"
        )),
        "{out}"
    );

    // One window counted once too often: check names it and exits 1.
    client
        .batch_execute(
            "UPDATE payment_metrics_5m SET txn_count = txn_count + 1 \
             WHERE ctid = (SELECT ctid FROM payment_metrics_5m ORDER BY window_start LIMIT 1)",
        )
        .await
        .unwrap();
    let (code, out, _) = text(&run(&check).await);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("txn_count"), "{out}");
    assert!(out.contains("1 differences"), "{out}");

    // A truth without its first row: that window's stored row was not expected.
    let fewer = dir.join("fewer.json");
    std::fs::write(&fewer, serde_json::to_string(&rows[1..]).unwrap()).unwrap();
    let (code, out, _) = text(
        &run(&[
            "check",
            "--truth",
            fewer.to_str().unwrap(),
            "--database-url",
            &url,
        ])
        .await,
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("in payment_metrics_5m but not expected"),
        "{out}"
    );
    // A stored row gone: missing.
    client
        .batch_execute(
            "DELETE FROM payment_metrics_5m \
             WHERE ctid = (SELECT ctid FROM payment_metrics_5m ORDER BY window_start DESC LIMIT 1)",
        )
        .await
        .unwrap();
    let (code, out, _) = text(&run(&check).await);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("missing in payment_metrics_5m"), "{out}");
    assert!(out.contains("2 differences"), "{out}");

    let (code, out, err) = text(&run(&["report", "--database-url", &url, "--limit", "3"]).await);
    assert_eq!(code, 0, "{err}");
    for title in [
        "payment_metrics_5m (latest windows)",
        "dynamic_metrics (latest window of each rule)",
        "rejected_events by reason",
        "merchant clusters (latest run)",
    ] {
        assert!(out.contains(title), "{title}: {out}");
    }
    // The latest window's row is printed: its count appears under the header.
    let windows = count(&client, "SELECT count(*) FROM payment_metrics_5m").await;
    assert!(windows > 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn check_and_report_refuse_what_they_cannot_read() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let dir = temp("refuse");
    let (code, _, err) = text(
        &run(&[
            "check",
            "--truth",
            "/nonexistent/truth.json",
            "--database-url",
            &url,
        ])
        .await,
    );
    assert_eq!(code, 2);
    assert!(err.contains("reading /nonexistent/truth.json"), "{err}");

    let broken = dir.join("truth.json");
    std::fs::write(&broken, "{not json").unwrap();
    let (code, _, err) = text(
        &run(&[
            "check",
            "--truth",
            broken.to_str().unwrap(),
            "--database-url",
            &url,
        ])
        .await,
    );
    assert_eq!(code, 2);
    assert!(err.contains("parsing"), "{err}");

    let output = simulator()
        .args(["report", "--database-url", &url])
        .env("PAYMETRICS_DB_AUTH", "entra")
        .output()
        .await
        .unwrap();
    // Entra ID as the handler signs in, and with its rule: never a token over plain TCP
    // (the local server's URL asks for none).
    let (code, _, err) = text(&output);
    assert_eq!(code, 2);
    assert!(err.contains("PAYMETRICS_DB_SSLMODE"), "{err}");
    assert!(err.contains("a token must not travel in clear"), "{err}");

    let (code, _, err) = text(
        &run(&[
            "report",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/nothing",
        ])
        .await,
    );
    assert_eq!(code, 2);
    assert!(err.contains("connecting to the database"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
