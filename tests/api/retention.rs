//! Retention of the quarantine: `retention.rejected_events` deletes exactly the
//! quarantined events rejected before the cutoff, in bounded batches.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::settings::EngineConfig;
use paymetrics::store;

use crate::helpers::{TestApp, TestDb, count, fixture};

fn t(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Inserts `n` quarantine rows rejected at `at`, tagged `tag` in `detail`.
async fn quarantine(client: &tokio_postgres::Client, tag: &str, at: DateTime<Utc>, n: i64) {
    client
        .execute(
            "INSERT INTO rejected_events (reason, detail, raw, fingerprint, rejected_at)
             SELECT 'invalid_json', $1, 'x', sha256(($1 || i)::bytea), $2
             FROM generate_series(1::bigint, $3) AS i",
            &[&tag, &at, &n],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn one_purge_deletes_exactly_the_rows_older_than_the_retention() {
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let now = t("2026-11-30T12:00:00Z");
    quarantine(&client, "old", t("2026-10-01T00:00:00Z"), 3).await;
    quarantine(&client, "just-old", t("2026-10-31T11:59:59Z"), 2).await;
    quarantine(&client, "at-cutoff", t("2026-10-31T12:00:00Z"), 4).await;
    quarantine(&client, "new", t("2026-11-30T11:00:00Z"), 5).await;

    let report = store::purge_rejected_events(&client, now, Some(Duration::from_secs(30 * 86_400)))
        .await
        .unwrap();

    assert_eq!(report.deleted, 5);
    assert!(!report.more);
    let left = count(
        &client,
        "SELECT count(*) FROM rejected_events WHERE detail IN ('at-cutoff', 'new')",
    )
    .await;
    assert_eq!(left, 9);
    assert_eq!(
        count(&client, "SELECT count(*) FROM rejected_events").await,
        9
    );
}

#[tokio::test]
async fn without_a_retention_the_quarantine_is_kept() {
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    quarantine(&client, "ancient", t("2000-01-01T00:00:00Z"), 3).await;

    let report = store::purge_rejected_events(&client, t("2026-11-30T12:00:00Z"), None)
        .await
        .unwrap();

    assert_eq!(report, store::PurgeReport::default());
    assert_eq!(
        count(&client, "SELECT count(*) FROM rejected_events").await,
        3
    );
}

#[tokio::test]
async fn a_large_backlog_is_deleted_in_bounded_batches_over_several_runs() {
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let per_run = store::PURGE_BATCH * store::PURGE_STATEMENTS as i64;
    quarantine(&client, "old", t("2026-01-01T00:00:00Z"), per_run + 7).await;
    quarantine(&client, "new", t("2026-11-30T00:00:00Z"), 2).await;
    let now = t("2026-11-30T12:00:00Z");
    let keep = Some(Duration::from_secs(86_400));

    let first = store::purge_rejected_events(&client, now, keep)
        .await
        .unwrap();
    assert_eq!(first.deleted, per_run.unsigned_abs());
    assert!(first.more, "a full run says more remain");
    let second = store::purge_rejected_events(&client, now, keep)
        .await
        .unwrap();
    assert_eq!((second.deleted, second.more), (7, false));
    assert_eq!(
        count(&client, "SELECT count(*) FROM rejected_events").await,
        2
    );
}

#[tokio::test]
async fn the_timer_purges_the_quarantine_past_its_retention() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let engine = EngineConfig::from_yaml(
        "retention:\n  rejected_events: 30d\n",
        std::path::Path::new("engine.yaml"),
    )
    .unwrap();
    let app = TestApp::spawn_with(db, &url, engine, 1 << 20).await;
    let client = app.db.connect().await;
    // The timer works at the later of the host's clock and the handler's: today.
    let today = Utc::now();
    quarantine(&client, "old", today - TimeDelta::days(31), 3).await;
    quarantine(&client, "new", today - TimeDelta::days(29), 2).await;

    let body = app.timer(fixture("timer_invocation.json")).await;

    assert!(
        body["Logs"]
            .to_string()
            .contains("deleted 3 quarantined events"),
        "{body}"
    );
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM rejected_events WHERE detail = 'new'"
        )
        .await,
        2
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM rejected_events").await,
        2
    );
}

#[tokio::test]
async fn a_past_due_timer_says_so_and_drops_day_partitions_past_retention() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let engine = EngineConfig::from_yaml(
        "retention:\n  transactions: 30d\n",
        std::path::Path::new("engine.yaml"),
    )
    .unwrap();
    let app = TestApp::spawn_with(db, &url, engine, 1 << 20).await;
    let client = app.db.connect().await;
    let old_day = (Utc::now() - TimeDelta::days(40)).date_naive();
    let recent_day = (Utc::now() - TimeDelta::days(10)).date_naive();
    client
        .execute(
            "SELECT paymetrics_ensure_partition(d) FROM unnest($1::date[]) AS d",
            &[&vec![old_day, recent_day]],
        )
        .await
        .unwrap();
    let names = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    let listing = "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                   WHERE i.inhparent = 'normalized_transactions'::regclass ORDER BY 1";
    let before = names(client.query(listing, &[]).await.unwrap());
    let old = before
        .iter()
        .find(|n| n.contains(&old_day.format("%Y%m%d").to_string()))
        .unwrap_or_else(|| panic!("no partition of {old_day} in {before:?}"))
        .clone();

    let body =
        fixture("timer_invocation.json").replace("\"IsPastDue\": false", "\"IsPastDue\": true");
    let logs = app.timer(body).await["Logs"].to_string();
    assert!(logs.contains("the timer was past due"), "{logs}");
    assert!(
        logs.contains(&format!("dropped partitions past retention: {old}")),
        "{logs}"
    );
    let after = names(client.query(listing, &[]).await.unwrap());
    assert!(!after.contains(&old), "{after:?}");
    assert!(
        after
            .iter()
            .any(|n| n.contains(&recent_day.format("%Y%m%d").to_string())),
        "the partition inside the retention stays: {after:?}"
    );
}
