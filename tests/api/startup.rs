//! Start-up of the real `handler` binary: readiness before any database work, the
//! schema gate (`PAYMETRICS_MIGRATE`), `handler check-config` and the engine settings
//! fallback.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{TestDb, count, fixture, free_port, handler, output, wait_ready};
use crate::process::{stop, wait_for_reload};

/// The key of the advisory lock migration runners take (`store::migrations::LOCK_KEY`).
const MIGRATION_LOCK: i64 = 0x7061_796d_6574;

async fn post(port: u16, function: &str, body: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/{function}"))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// `res.statusCode` of the Health function.
async fn health(port: u16) -> u64 {
    let (status, answer) = post(port, "Health", fixture("health_invocation.json")).await;
    assert_eq!(status, 200, "{answer}");
    answer["Outputs"]["res"]["statusCode"].as_u64().unwrap()
}

async fn wait_healthy(port: u16) {
    // The process may not have bound its port yet: a refused connection is no answer.
    wait_ready(port).await;
    for _ in 0..150 {
        if health(port).await == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the handler on port {port} did not become healthy within 30 s");
}

/// The versions of the migrations in `migrations/` (`0007_x.sql` is 7), ascending; the
/// numbers need not be contiguous.
fn migration_versions() -> Vec<i64> {
    let mut versions: Vec<i64> =
        std::fs::read_dir(format!("{}/migrations", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
            })
            .collect();
    versions.sort_unstable();
    versions
}

#[tokio::test]
async fn the_handler_answers_get_root_at_once_while_the_database_is_unreachable() {
    let port = free_port();
    let started = Instant::now();
    let mut child = handler("postgres://postgres@127.0.0.1:1/paymetrics", port)
        .env("PAYMETRICS_MIGRATE", "on-start")
        .spawn()
        .unwrap();
    wait_ready(port).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (status, answer) = post(
        port,
        "EventHubTrigger",
        fixture("eventhub_mixed_batch.json"),
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(health(port).await, 503);
    assert!(child.try_wait().unwrap().is_none(), "the handler exited");
    stop(&mut child).await;
    let text = output(&mut child).await;
    assert!(text.contains("migrating the database failed"), "{text}");
}

#[tokio::test]
async fn on_start_migrates_a_fresh_database_and_invocations_answer_503_until_it_is_done() {
    let db = TestDb::empty().await;
    // Hold the migration lock, as another instance migrating would.
    let other = db.connect().await;
    other
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .unwrap();
    let port = free_port();
    let mut child = handler(&db.url(), port)
        .env("PAYMETRICS_MIGRATE", "on-start")
        .spawn()
        .unwrap();
    wait_ready(port).await;
    let (status, answer) = post(
        port,
        "EventHubTrigger",
        fixture("eventhub_mixed_batch.json"),
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "schema_migrating", "{answer}");
    let (status, _) = post(port, "TimerTrigger", fixture("timer_invocation.json")).await;
    assert_eq!(status, 503);
    assert_eq!(health(port).await, 503);

    other
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .unwrap();
    wait_healthy(port).await;
    let (status, answer) = post(
        port,
        "EventHubTrigger",
        fixture("eventhub_mixed_batch.json"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = post(port, "TimerTrigger", fixture("timer_invocation.json")).await;
    assert_eq!(status, 200);
    assert_eq!(
        count(&other, "SELECT count(*) FROM normalized_transactions").await,
        4
    );
    assert_eq!(
        count(&other, "SELECT count(*) FROM schema_migrations").await,
        migration_versions().len() as i64
    );
    stop(&mut child).await;
}

#[tokio::test]
async fn with_migrate_off_an_old_schema_is_served_with_503_until_someone_migrates() {
    let db = TestDb::empty().await;
    let port = free_port();
    let mut child = handler(&db.url(), port).spawn().unwrap();
    wait_ready(port).await;
    let (status, answer) = post(
        port,
        "EventHubTrigger",
        fixture("eventhub_mixed_batch.json"),
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "schema_too_old");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("run handler migrate or set PAYMETRICS_MIGRATE=on-start"),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(child.try_wait().unwrap().is_none(), "the handler exited");

    let migrate = handler(&db.url(), free_port())
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let mut answered = 0;
    for _ in 0..50 {
        let (status, _) = post(
            port,
            "EventHubTrigger",
            fixture("eventhub_mixed_batch.json"),
        )
        .await;
        answered = status;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        answered, 200,
        "the handler did not recover within 10 s of the migration"
    );
    let client = db.connect().await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM normalized_transactions").await,
        4
    );
    stop(&mut child).await;
    let text = output(&mut child).await;
    assert!(
        text.contains("run handler migrate or set PAYMETRICS_MIGRATE=on-start"),
        "{text}"
    );
}

#[tokio::test]
async fn two_handlers_migrating_one_fresh_database_on_start_apply_each_migration_once() {
    let db = TestDb::empty().await;
    let (a, b) = (free_port(), free_port());
    let spawn = |port| {
        handler(&db.url(), port)
            .env("PAYMETRICS_MIGRATE", "on-start")
            .spawn()
            .unwrap()
    };
    let (mut first, mut second) = (spawn(a), spawn(b));
    wait_healthy(a).await;
    wait_healthy(b).await;
    let client = db.connect().await;
    let rows = client
        .query(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let expected: Vec<(i64, i64)> = migration_versions().into_iter().map(|v| (v, 1)).collect();
    assert_eq!(versions, expected);
    for child in [&mut first, &mut second] {
        stop(child).await;
        let text = output(child).await;
        assert!(text.contains("database schema migrated"), "{text}");
        assert!(!text.contains("failed"), "{text}");
    }
}

#[tokio::test]
async fn check_config_accepts_the_shipped_file_and_names_the_line_of_a_broken_one() {
    let shipped = format!("{}/config/engine.yaml", env!("CARGO_MANIFEST_DIR"));
    // The entries of the `rules:` section (up to the next top-level key).
    let rules = std::fs::read_to_string(&shipped)
        .unwrap()
        .lines()
        .skip_while(|l| !l.starts_with("rules:"))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .filter(|l| l.starts_with("  - name:"))
        .count();
    let out = handler("", 0)
        .arg("check-config")
        .arg(&shipped)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with(&format!("ok: {shipped} ({rules} rules")),
        "{text}"
    );

    let dir = std::env::temp_dir().join(format!("pm-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, yaml, expected) in [
        (
            "unknown.yaml",
            "ingest:\n  max_future: 5m\n  surprise: 1\n",
            "line 3",
        ),
        (
            "rule.yaml",
            "rules:\n  - name: n\n    window: 15m\n    aggregate: sum(amount)\n",
            "line 4",
        ),
        ("empty.yaml", "\n", "is empty"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, yaml).unwrap();
        let out = handler("", 0)
            .arg("check-config")
            .arg(&path)
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} passed");
        assert!(
            text.contains(name) && text.contains(expected),
            "{name}: {text}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_fallback_engine_file_serves_until_the_primary_appears_and_then_the_primary_wins() {
    let db = TestDb::migrated().await;
    let dir = std::env::temp_dir().join(format!("pm-fallback-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (primary, fallback) = (dir.join("uploaded.yaml"), dir.join("packaged.yaml"));
    // The fallback takes one event per batch, so the four-event fixture is quarantined.
    std::fs::write(&fallback, "ingest:\n  max_events_per_batch: 1\n").unwrap();
    let port = free_port();
    let mut child = handler(&db.url(), port)
        .env("PAYMETRICS_CONFIG", &primary)
        .env("PAYMETRICS_CONFIG_FALLBACK", &fallback)
        .spawn()
        .unwrap();
    wait_ready(port).await;
    let client = db.connect().await;
    let (status, _) = post(
        port,
        "EventHubTrigger",
        fixture("eventhub_mixed_batch.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM rejected_events WHERE reason = 'envelope_invalid'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM normalized_transactions").await,
        0
    );

    std::fs::write(&primary, "ingest:\n  max_events_per_batch: 100\n").unwrap();
    wait_for_reload().await;
    let (status, _) = post(
        port,
        "EventHubTrigger",
        fixture("eventhub_mixed_batch.json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        count(&client, "SELECT count(*) FROM normalized_transactions").await,
        4
    );
    stop(&mut child).await;
    let text = output(&mut child).await;
    assert!(text.contains("using the fallback"), "{text}");
    assert!(
        text.contains(&primary.display().to_string())
            && text.contains(&fallback.display().to_string()),
        "{text}"
    );
    assert!(text.contains("engine settings reloaded"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn without_a_fallback_a_missing_explicit_engine_file_stops_the_handler() {
    let db = TestDb::migrated().await;
    let missing = std::env::temp_dir().join(format!("pm-missing-{}.yaml", std::process::id()));
    let out = handler(&db.url(), free_port())
        .env("PAYMETRICS_CONFIG", &missing)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&missing.display().to_string()),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn verify_schema_and_migrate_say_where_the_schema_stands_and_what_is_missing() {
    let latest = *migration_versions().last().unwrap();
    let db = TestDb::empty().await;
    let port = free_port();
    let run = |args: &'static [&'static str]| {
        let mut command = handler(&db.url(), port);
        command.args(args);
        async move {
            let out = command.output().await.unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        }
    };

    let (ok, text) = run(&["verify-schema"]).await;
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "schema is older than version {latest}: run `handler migrate`"
        )),
        "{text}"
    );
    assert!(
        text.contains("missing: normalized_transactions\n"),
        "{text}"
    );

    let (ok, text) = run(&["migrate"]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("schema is at version {latest}")),
        "{text}"
    );
    let (ok, text) = run(&["migrate"]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("schema is up to date at version {latest}")),
        "{text}"
    );
    let (ok, text) = run(&["verify-schema"]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!(
            "schema version {latest} (this build needs {latest})"
        )),
        "{text}"
    );
    assert!(text.contains("ok: "), "{text}");

    // A column the handler writes, gone: named, and the command fails.
    db.connect()
        .await
        .batch_execute("ALTER TABLE normalized_transactions DROP COLUMN merchant_category")
        .await
        .unwrap();
    let (ok, text) = run(&["verify-schema"]).await;
    assert!(!ok, "{text}");
    assert!(
        text.contains("missing: normalized_transactions.merchant_category"),
        "{text}"
    );
    assert!(
        text.contains("the schema does not match this build (1 missing)"),
        "{text}"
    );
}
