//! Schema migrations against a real PostgreSQL.

use paymetrics::store::{self, MIGRATIONS, Migration, StoreError};

use crate::helpers::{TestDb, count};

#[tokio::test]
async fn every_migration_file_is_embedded_in_order() {
    let dir = format!("{}/migrations", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let embedded: Vec<String> = MIGRATIONS
        .iter()
        .map(|m| format!("{:04}_{}.sql", m.version, m.name))
        .collect();
    assert_eq!(embedded, files);
}

#[tokio::test]
async fn migrating_twice_applies_nothing_the_second_time() {
    let db = TestDb::empty().await;
    let mut client = db.connect().await;
    let first = store::migrate(&mut client).await.unwrap();
    assert_eq!(first.len(), MIGRATIONS.len());
    assert!(store::migrate(&mut client).await.unwrap().is_empty());
    let status = store::check_schema(&client).await.unwrap();
    assert_eq!(status.current, status.required);
}

#[tokio::test]
async fn concurrent_runners_apply_each_migration_once() {
    let db = TestDb::empty().await;
    let (mut a, mut b, mut c) = (db.connect().await, db.connect().await, db.connect().await);
    let (ra, rb, rc) = tokio::join!(
        store::migrate(&mut a),
        store::migrate(&mut b),
        store::migrate(&mut c)
    );
    let applied: usize = [ra, rb, rc].into_iter().map(|r| r.unwrap().len()).sum();
    assert_eq!(applied, MIGRATIONS.len());
    assert_eq!(
        count(&a, "SELECT count(*) FROM schema_migrations").await,
        MIGRATIONS.len() as i64
    );
}

#[tokio::test]
async fn the_schema_has_the_tables_and_key_columns_the_pipeline_validates() {
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let expected = [
        ("normalized_transactions", "transaction_id"),
        ("normalized_transactions", "occurred_at"),
        ("normalized_transactions", "amount"),
        ("normalized_transactions", "source_format"),
        ("rejected_events", "reason"),
        ("rejected_events", "detail"),
        ("rejected_events", "raw"),
        ("rejected_events", "rejected_at"),
        ("payment_metrics_5m", "window_start"),
        ("payment_metrics_5m", "p99_amount"),
        ("payment_metrics_5m", "revision"),
        ("dynamic_metrics", "rule_name"),
        ("dynamic_metrics", "group_key"),
        ("dynamic_metrics", "rule_version"),
    ];
    for (table, column) in expected {
        let found = count(
            &client,
            &format!(
                "SELECT count(*) FROM information_schema.columns
                 WHERE table_name = '{table}' AND column_name = '{column}'"
            ),
        )
        .await;
        assert_eq!(found, 1, "{table}.{column}");
    }
}

#[tokio::test]
async fn a_failing_migration_leaves_the_schema_exactly_as_it_was() {
    let db = TestDb::migrated().await;
    let mut client = db.connect().await;
    let tables = "SELECT string_agg(table_name, ',' ORDER BY table_name)
                  FROM information_schema.tables WHERE table_schema = 'public'";
    let before: String = client.query_one(tables, &[]).await.unwrap().get(0);
    let mut broken: Vec<Migration> = MIGRATIONS.to_vec();
    broken.push(Migration {
        version: 9999,
        name: "rehearsal",
        sql: "CREATE TABLE half_done (id int); ALTER TABLE no_such_table ADD COLUMN x int;",
    });
    let err = store::migrations_apply(&mut client, &broken)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Migration { version: 9999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("rehearsal"));
    let after: String = client.query_one(tables, &[]).await.unwrap().get(0);
    assert_eq!(after, before);
    assert_eq!(
        count(&client, "SELECT max(version) FROM schema_migrations").await,
        i64::from(MIGRATIONS.last().unwrap().version)
    );
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused() {
    let db = TestDb::migrated().await;
    let mut client = db.connect().await;
    client
        .execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
            &[],
        )
        .await
        .unwrap();
    let err = store::migrate(&mut client).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ChecksumMismatch { version: 1, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_empty_database_is_too_old_to_serve() {
    let db = TestDb::empty().await;
    let client = db.connect().await;
    let err = store::check_schema(&client).await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooOld { found: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("handler migrate"));
}

#[tokio::test]
async fn verification_names_every_missing_table_and_column() {
    let db = TestDb::migrated().await;
    let client = db.connect().await;
    let fine = store::verify(&client).await.unwrap();
    assert!(fine.ok(), "{fine:?}");
    client
        .batch_execute(
            "ALTER TABLE payment_metrics_5m DROP COLUMN p99_amount; DROP TABLE dynamic_metrics;",
        )
        .await
        .unwrap();
    let broken = store::verify(&client).await.unwrap();
    assert!(!broken.ok());
    assert_eq!(
        broken.missing,
        ["payment_metrics_5m.p99_amount", "dynamic_metrics"]
    );

    let empty = TestDb::empty().await;
    let report = store::verify(&empty.connect().await).await.unwrap();
    assert_eq!(report.status, None);
    assert!(
        report
            .missing
            .contains(&"normalized_transactions".to_string())
    );
}

#[tokio::test]
async fn the_schema_gate_reads_a_refused_schema_again_only_after_its_interval() {
    use paymetrics::functions::{FunctionError, SchemaGate};
    use std::time::Duration;

    let db = TestDb::empty().await;
    let mut client = db.connect().await;
    let gate = SchemaGate::new(Duration::from_secs(60));
    let start = tokio::time::Instant::now();
    let refused = gate.admit(&client, start).await.unwrap_err();
    assert!(
        matches!(
            refused,
            FunctionError::Store(StoreError::SchemaTooOld { found: 0, .. })
        ),
        "{refused}"
    );
    store::migrate(&mut client).await.unwrap();
    let later = start + Duration::from_secs(59);
    assert!(
        gate.admit(&client, later).await.is_err(),
        "within the interval the refusal stands without reading the schema"
    );
    let after = start + Duration::from_secs(60);
    gate.admit(&client, after).await.unwrap();
    // Open for good: migrations only add, so it never reads the schema again.
    client
        .batch_execute("DROP TABLE schema_migrations")
        .await
        .unwrap();
    gate.admit(&client, after).await.unwrap();
}
