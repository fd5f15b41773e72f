//! `handler redrive`, the real binary: events quarantined under a strict setting are
//! stored exactly once after the setting is relaxed, and nothing else changes.

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::settings::EngineConfig;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, batch, count, handler};

fn event(id: &str, at: DateTime<Utc>, amount: &str) -> Value {
    json!({
        "transaction_id": id, "occurred_at": at.to_rfc3339(), "amount": amount,
        "currency": "GBP", "payment_type": "card", "status": "approved", "merchant_id": "m-9"
    })
}

/// Runs `handler redrive ARGS` against `url` with `engine_yaml` as its engine settings;
/// the exit status and stdout.
async fn redrive(url: &str, engine_yaml: &str, args: &[&str]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("pm-redrive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("engine-{}.yaml", rand_suffix()));
    std::fs::write(&file, engine_yaml).unwrap();
    let out = handler(url, 0)
        .env("PAYMETRICS_CONFIG", &file)
        .arg("redrive")
        .args(args)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_file(&file);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn outcomes(client: &tokio_postgres::Client) -> Vec<(String, Option<String>)> {
    client
        .query(
            "SELECT reason, redrive_outcome FROM rejected_events ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

const RELAXED: &str = "ingest:\n  max_future: 1h\n";

#[tokio::test]
async fn events_quarantined_by_a_strict_setting_are_stored_once_after_it_is_relaxed() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let strict = EngineConfig::from_yaml(
        "ingest:\n  max_future: 1m\n",
        std::path::Path::new("e.yaml"),
    )
    .unwrap();
    let app = TestApp::spawn_with(db, &url, strict, 1 << 20).await;
    let client = app.db.connect().await;
    let now = Utc::now();
    let ahead = now + TimeDelta::minutes(10);
    let (status, _) = app
        .invoke(batch(
            &[
                event("r-1", ahead, "10.00"),
                event("r-2", now, "11.00"),
                event("r-3", ahead, "12.00"),
                event("r-4", now, "ten"),
            ],
            "0",
            1,
        ))
        .await;
    assert_eq!(status, 200);
    let stored = "SELECT count(*) FROM normalized_transactions";
    assert_eq!(count(&client, stored).await, 1);
    assert_eq!(
        count(&client, "SELECT count(*) FROM rejected_events").await,
        3
    );

    let (ok, text) = redrive(&url, RELAXED, &["--dry-run"]).await;
    assert!(ok, "{text}");
    assert!(text.contains("future_timestamp\twould_store\t2"), "{text}");
    assert!(
        text.contains("invalid_amount\tstill_rejected:invalid_amount\t1"),
        "{text}"
    );
    assert_eq!(count(&client, stored).await, 1, "a dry run stores nothing");
    assert!(outcomes(&client).await.iter().all(|(_, o)| o.is_none()));

    let later = (Utc::now() + TimeDelta::hours(1)).to_rfc3339();
    let (ok, text) = redrive(&url, RELAXED, &["--since", &later]).await;
    assert!(ok && text.contains("redrove 0"), "{text}");
    let (ok, text) = redrive(&url, RELAXED, &["--reason", "invalid_amount"]).await;
    assert!(ok && text.contains("redrove 1"), "{text}");
    assert_eq!(count(&client, stored).await, 1);

    let (ok, text) = redrive(&url, RELAXED, &[]).await;
    assert!(ok, "{text}");
    assert!(text.contains("future_timestamp\tstored\t2"), "{text}");
    assert_eq!(count(&client, stored).await, 3);
    let ids = "SELECT count(DISTINCT transaction_id) FROM normalized_transactions \
               WHERE transaction_id IN ('r-1', 'r-2', 'r-3')";
    assert_eq!(count(&client, ids).await, 3);
    let marked = outcomes(&client).await;
    assert_eq!(marked.len(), 3, "quarantine rows are never deleted");
    assert!(marked.contains(&(
        "invalid_amount".into(),
        Some("still_rejected:invalid_amount".into())
    )));

    let (ok, text) = redrive(&url, RELAXED, &[]).await;
    assert!(ok, "{text}");
    assert!(
        !text.contains("\tstored\t"),
        "a second redrive stores nothing: {text}"
    );
    assert_eq!(count(&client, stored).await, 3);
    let redriven = "SELECT count(*) FROM rejected_events WHERE redrive_outcome = 'stored'";
    assert_eq!(count(&client, redriven).await, 2);
}

#[tokio::test]
async fn a_redrive_whose_transaction_was_stored_meanwhile_counts_a_duplicate() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let strict = EngineConfig::from_yaml(
        "ingest:\n  max_future: 1m\n",
        std::path::Path::new("e.yaml"),
    )
    .unwrap();
    let app = TestApp::spawn_with(db, &url, strict, 1 << 20).await;
    let client = app.db.connect().await;
    let ahead = Utc::now() + TimeDelta::minutes(10);
    app.invoke(batch(&[event("d-1", ahead, "10.00")], "0", 1))
        .await;
    // Live ingest, with the setting relaxed elsewhere, stores the same transaction first
    // (into the first database: the second TestDb is only held by the app).
    let relaxed = EngineConfig::from_yaml(RELAXED, std::path::Path::new("e.yaml")).unwrap();
    let live = TestApp::spawn_with(TestDb::migrated().await, &url, relaxed, 1 << 20).await;
    live.invoke(batch(&[event("d-1", ahead, "10.00")], "0", 1))
        .await;

    let (ok, text) = redrive(&url, RELAXED, &[]).await;
    assert!(ok, "{text}");
    assert!(text.contains("future_timestamp\tduplicate\t1"), "{text}");
    assert_eq!(
        count(&client, "SELECT count(*) FROM normalized_transactions").await,
        1
    );
}

#[tokio::test]
async fn a_redrive_without_a_database_fails() {
    let (ok, text) = redrive("postgres://postgres@127.0.0.1:1/none", RELAXED, &[]).await;
    assert!(!ok, "{text}");
}

#[tokio::test]
async fn two_redrives_at_once_store_each_transaction_once() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let strict = EngineConfig::from_yaml(
        "ingest:\n  max_future: 1m\n",
        std::path::Path::new("e.yaml"),
    )
    .unwrap();
    let app = TestApp::spawn_with(db, &url, strict, 1 << 20).await;
    let client = app.db.connect().await;
    let ahead = Utc::now() + TimeDelta::minutes(10);
    let events: Vec<Value> = (0..40)
        .map(|i| event(&format!("c-{i}"), ahead, "1.00"))
        .collect();
    app.invoke(batch(&events, "0", 1)).await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM rejected_events").await,
        40
    );

    let ((ok_a, a), (ok_b, b)) =
        tokio::join!(redrive(&url, RELAXED, &[]), redrive(&url, RELAXED, &[]));
    assert!(ok_a && ok_b, "{a}\n{b}");

    assert_eq!(
        count(&client, "SELECT count(*) FROM normalized_transactions").await,
        40
    );
    let stored_by = |text: &str| -> usize {
        text.lines()
            .filter_map(|l| l.strip_prefix("future_timestamp\tstored\t"))
            .map(|n| n.parse::<usize>().unwrap())
            .sum()
    };
    assert_eq!(
        stored_by(&a) + stored_by(&b),
        40,
        "stored once in all: {a}\n{b}"
    );
    let settled = "SELECT count(*) FROM rejected_events \
                   WHERE redrive_outcome IN ('stored', 'duplicate')";
    assert_eq!(count(&client, settled).await, 40, "{a}\n{b}");
}
