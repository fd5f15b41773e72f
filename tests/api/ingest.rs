//! `POST /EventHubTrigger` end to end: host-shaped bodies in, rows out.

use std::collections::BTreeMap;

use base64::Engine as _;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::{
    FlakyProxy, TestApp, TestDb, batch, count, fixture, fixture_events, snapshot,
};
use paymetrics::settings::EngineConfig;

fn reasons(client_rows: Vec<tokio_postgres::Row>) -> BTreeMap<String, i64> {
    client_rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

async fn rejected_by_reason(client: &tokio_postgres::Client) -> BTreeMap<String, i64> {
    reasons(
        client
            .query(
                "SELECT reason, count(*) FROM rejected_events GROUP BY reason",
                &[],
            )
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn the_readiness_probe_answers_without_the_database() {
    let db = TestDb::empty().await;
    let app = TestApp::spawn_with(
        db,
        "postgres://nobody@127.0.0.1:1/none",
        EngineConfig::default(),
        1024,
    )
    .await;
    let response = app
        .http
        .get(format!("http://{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_mixed_batch_yields_exactly_the_expected_rows_and_a_replay_changes_nothing() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;

    let (status, body) = app.invoke_fixture("eventhub_mixed_batch.json").await;
    assert_eq!(status, 200, "{body}");
    let counts = &body["ReturnValue"];
    assert_eq!(counts["received"], 13);
    assert_eq!(counts["accepted"], 4);
    assert_eq!(counts["duplicates"], 1);
    assert_eq!(counts["rejected"], 8);
    assert!(body["Logs"][0].as_str().unwrap().contains("accepted 4"));

    let ids: Vec<String> = db
        .query(
            "SELECT transaction_id FROM normalized_transactions ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids,
        [
            "LEG-000003",
            "c0ffee00-0000-4000-8000-000000000005",
            "c0ffee00-0000-4000-8000-000000000006",
            "c0ffee00-0000-4000-8000-000000000007",
        ]
    );
    let expected: BTreeMap<String, i64> = [
        "malformed_json",
        "duplicate_conflict",
        "missing_field",
        "invalid_amount",
        "amount_precision",
        "unknown_currency",
        "future_timestamp",
        "invalid_field",
    ]
    .iter()
    .map(|r| (r.to_string(), 1))
    .collect();
    assert_eq!(rejected_by_reason(&db).await, expected);

    legacy_event_is_normalized(&db).await;
    rejects_keep_the_event_and_name_the_field(&db).await;

    // Replay: same answer counts as duplicates, not one row changes.
    let before = snapshot(&db).await;
    let (status, body) = app.invoke_fixture("eventhub_mixed_batch.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["ReturnValue"]["accepted"], 0);
    assert_eq!(body["ReturnValue"]["duplicates"], 5);
    assert_eq!(snapshot(&db).await, before);

    // The hour's ingest counts: the first delivery's 4 new and 1 duplicate, then the
    // replay's 5 duplicates; its rejects are kept in rejected_events, not here.
    let row = db
        .query_one(
            "SELECT bool_and(partition_id = '2'), sum(accepted)::bigint, sum(duplicates)::bigint,
                    bool_and(hour = date_trunc('hour', hour, 'UTC')
                             AND hour BETWEEN now() - interval '2 hours' AND now())
             FROM ingest_counts",
            &[],
        )
        .await
        .unwrap();
    let counted: (bool, i64, i64, bool) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(counted, (true, 4, 6, true));
}

/// The mixed batch's legacy event: 2002 minor units of EUR, normalized.
async fn legacy_event_is_normalized(db: &tokio_postgres::Client) {
    let row = db
        .query_one(
            "SELECT amount, currency, payment_type, status, merchant_category, country, channel,
                    source_format, partition_id, sequence_number, occurred_at = to_timestamp(1795600803)
             FROM normalized_transactions WHERE transaction_id = 'LEG-000003'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Decimal>(0), Decimal::new(2002, 2));
    assert_eq!(row.get::<_, &str>(1), "EUR");
    assert_eq!(row.get::<_, &str>(2), "wallet");
    assert_eq!(row.get::<_, &str>(3), "declined");
    assert_eq!(row.get::<_, &str>(4), "grocery");
    assert_eq!(row.get::<_, &str>(5), "DE");
    assert_eq!(row.get::<_, &str>(6), "mobile");
    assert_eq!(row.get::<_, &str>(7), "legacy_camel");
    assert_eq!(row.get::<_, &str>(8), "2");
    assert_eq!(row.get::<_, i64>(9), 501);
    assert!(row.get::<_, bool>(10));
}

/// The mixed batch's rejects keep the event exactly as received and name the field.
async fn rejects_keep_the_event_and_name_the_field(db: &tokio_postgres::Client) {
    let events = fixture_events("eventhub_mixed_batch.json");
    let malformed: (String, String, i64) = db
        .query_one(
            "SELECT raw, detail, sequence_number FROM rejected_events WHERE reason = 'malformed_json'",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!(malformed.0, events[2]);
    assert_eq!(malformed.2, 502);
    let conflict: (String, String) = db
        .query_one(
            "SELECT raw, detail FROM rejected_events WHERE reason = 'duplicate_conflict'",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(conflict.0, events[6]);
    assert!(conflict.1.starts_with("transaction_id:"), "{}", conflict.1);
    let missing: String = db
        .query_one(
            "SELECT detail FROM rejected_events WHERE reason = 'missing_field'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(missing, "merchant_id: is required");
}

#[tokio::test]
async fn string_and_binary_batches_store_every_event_with_its_lineage() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let (status, body) = app.invoke_fixture("eventhub_string_batch.json").await;
    assert_eq!(
        (status, &body["ReturnValue"]["accepted"]),
        (200, &json!(4)),
        "{body}"
    );
    let (status, body) = app.invoke_fixture("eventhub_binary_batch.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["ReturnValue"]["accepted"], 2);
    assert_eq!(
        body["ReturnValue"]["rejected_by_reason"]["malformed_json"],
        1
    );

    // Amounts are exact at each currency's minor units.
    let amounts: BTreeMap<String, String> = db
        .query(
            "SELECT transaction_id, amount::text || ' ' || currency FROM normalized_transactions",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(amounts["c0ffee00-0000-4000-8000-000000000002"], "1235 JPY");
    assert_eq!(amounts["c0ffee00-0000-4000-8000-000000000003"], "0.125 KWD");
    assert_eq!(amounts["LEG-000001"], "20.00 EUR");
    assert_eq!(amounts["LEG-000002"], "20.01 EUR");

    let lineage: (String, i64, String) = db
        .query_one(
            "SELECT partition_id, sequence_number, to_char(enqueued_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS')
             FROM normalized_transactions WHERE transaction_id = 'LEG-000002'",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!(lineage, ("1".to_string(), 78, "10:11:00.001".to_string()));

    // The non-text binary body is kept, base64, exactly as the host delivered it.
    let (raw, encoding): (String, String) = db
        .query_one("SELECT raw, raw_encoding FROM rejected_events", &[])
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    let delivered: Value = serde_json::from_str(&fixture("eventhub_binary_batch.json")).unwrap();
    let delivered: Vec<String> =
        serde_json::from_str(delivered["Data"]["events"].as_str().unwrap()).unwrap();
    assert_eq!(
        (raw.as_str(), encoding.as_str()),
        (delivered[2].as_str(), "base64")
    );
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap(),
        b"\x00\x01not json"
    );
}

fn event(id: &str, amount: &str) -> Value {
    json!({
        "transaction_id": id, "occurred_at": "2026-11-25T09:00:00Z", "amount": amount,
        "currency": "GBP", "payment_type": "card", "status": "approved", "merchant_id": "m-9"
    })
}

#[tokio::test]
async fn a_conflicting_redelivery_in_a_later_batch_is_quarantined_and_the_first_kept() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    app.invoke(batch(&[event("t-1", "10.00")], "0", 1)).await;
    let (_, body) = app
        .invoke(batch(
            &[event("t-1", "10.01"), event("t-1", "10.00")],
            "0",
            2,
        ))
        .await;
    // Both are judged against the stored first version: one conflicts, one repeats it.
    assert_eq!(body["ReturnValue"]["duplicates"], 1, "{body}");
    assert_eq!(
        body["ReturnValue"]["rejected_by_reason"]["duplicate_conflict"],
        1
    );
    let amount: Decimal = db
        .query_one(
            "SELECT amount FROM normalized_transactions WHERE transaction_id = 't-1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(amount, Decimal::new(1000, 2));
}

#[tokio::test]
async fn the_same_transaction_in_both_formats_is_one_transaction() {
    let app = TestApp::spawn().await;
    let canonical = event("x-1", "12.34");
    let legacy = json!({
        "transactionId": "x-1", "timestampMs": 1_795_597_200_000_i64, "amountMinor": 1234,
        "currency": "gbp", "paymentMethod": "Card", "status": "Approved", "merchantId": "m-9"
    });
    let (_, body) = app.invoke(batch(&[canonical, legacy], "0", 1)).await;
    assert_eq!(body["ReturnValue"]["accepted"], 1, "{body}");
    assert_eq!(body["ReturnValue"]["duplicates"], 1);
}

#[tokio::test]
async fn a_body_that_is_no_invocation_is_quarantined_whole_and_answered_200() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let garbage = "this is not an invocation \u{1F4A5}";
    let (status, body) = app.invoke(garbage).await;
    assert_eq!(status, 200, "a poison body must not block the partition");
    assert!(
        body["Logs"][0]
            .as_str()
            .unwrap()
            .contains("envelope_invalid"),
        "{body}"
    );
    assert_eq!(
        body["ReturnValue"]["rejected_by_reason"]["envelope_invalid"],
        1
    );
    let (raw, invocation): (String, String) = db
        .query_one(
            "SELECT raw, invocation_id FROM rejected_events WHERE reason = 'envelope_invalid'",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(raw, garbage);
    assert_eq!(invocation, "7a1c5f0e-0000-4000-8000-000000000001");

    app.invoke("{\"Data\": {}}").await;
    app.invoke(garbage).await;
    assert_eq!(count(&db, "SELECT count(*) FROM rejected_events").await, 2);
}

#[tokio::test]
async fn a_nul_character_anywhere_is_rejected_or_kept_without_failing_the_batch() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let with_nul_id = event("bad\u{0}id", "1.00");
    let raw_nul = "{\"transaction_id\": \"a\0b\"}".to_string();
    let texts = vec![
        with_nul_id.to_string(),
        raw_nul,
        event("fine", "1.00").to_string(),
    ];
    let body = json!({"Data": {"events": serde_json::to_string(&texts).unwrap()}}).to_string();
    let (status, body) = app.invoke(body).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["accepted"], 1);
    assert_eq!(body["ReturnValue"]["rejected"], 2);
    assert_eq!(count(&db, "SELECT count(*) FROM rejected_events").await, 2);
}

#[tokio::test]
async fn a_batch_sent_while_the_database_is_down_is_stored_exactly_once_after_recovery() {
    let db = TestDb::migrated().await;
    let proxy = FlakyProxy::start().await;
    let url = db.url_via(&proxy.address);
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1 << 20).await;
    let direct = app.db.connect().await;

    // Warm the pool, then cut the database off.
    let (status, _) = app.invoke(batch(&[event("warm", "1.00")], "0", 1)).await;
    assert_eq!(status, 200);
    proxy.down();
    let body = fixture("eventhub_mixed_batch.json");
    for _ in 0..3 {
        let (status, answer) = app.invoke(body.clone()).await;
        assert!(
            status >= 500,
            "an outage must fail the invocation: {status} {answer}"
        );
        assert_eq!(answer["error"]["retryable"], true);
        assert!(answer["Logs"][0].as_str().unwrap().contains("retry"));
    }
    assert_eq!(
        count(&direct, "SELECT count(*) FROM normalized_transactions").await,
        1
    );

    // The host retries after the database is back: everything lands once.
    proxy.up();
    let (status, answer) = app.invoke(body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ReturnValue"]["accepted"], 4);
    let (status, answer) = app.invoke(body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["ReturnValue"]["accepted"], 0);
    assert_eq!(
        count(&direct, "SELECT count(*) FROM normalized_transactions").await,
        5
    );
    assert_eq!(
        count(&direct, "SELECT count(*) FROM rejected_events").await,
        8
    );
}

#[tokio::test]
async fn two_partitions_writing_overlapping_batches_at_once_store_each_id_once() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let shared: Vec<Value> = (0..200)
        .map(|i| event(&format!("shared-{i:03}"), "5.00"))
        .collect();
    let mut first = shared.clone();
    first.extend((0..100).map(|i| event(&format!("p0-{i}"), "1.00")));
    let mut second: Vec<Value> = shared.into_iter().rev().collect();
    second.extend((0..100).map(|i| event(&format!("p1-{i}"), "2.00")));

    let mut rounds = Vec::new();
    for round in 0..3 {
        let (a, b) = tokio::join!(
            app.invoke(batch(&first, "0", round * 1000)),
            app.invoke(batch(&second, "1", round * 1000))
        );
        rounds.push((a, b));
    }
    for ((sa, a), (sb, b)) in &rounds {
        assert_eq!((*sa, *sb), (200, 200), "{a} {b}");
    }
    let accepted: i64 = rounds
        .iter()
        .map(|((_, a), (_, b))| {
            a["ReturnValue"]["accepted"].as_i64().unwrap()
                + b["ReturnValue"]["accepted"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(accepted, 400);
    assert_eq!(
        count(&db, "SELECT count(*) FROM normalized_transactions").await,
        400
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT transaction_id) FROM normalized_transactions"
        )
        .await,
        400
    );
    assert_eq!(count(&db, "SELECT count(*) FROM rejected_events").await, 0);
}

#[tokio::test]
async fn a_broken_schema_fails_the_invocation_and_stores_nothing_of_the_batch() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    db.batch_execute("ALTER TABLE rejected_events RENAME TO rejected_events_gone")
        .await
        .unwrap();
    let (status, body) = app.invoke_fixture("eventhub_mixed_batch.json").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rejected events"),
        "{body}"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM normalized_transactions").await,
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM transaction_ids").await, 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_a_json_error() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1024).await;
    let (status, body) = app.invoke(fixture("eventhub_mixed_batch.json")).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "body_too_large");
}

#[tokio::test]
async fn events_spanning_several_days_land_in_their_day_partitions() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let mut early = event("d-1", "1.00");
    early["occurred_at"] = json!("2026-11-20T23:59:59.999Z");
    let mut late = event("d-2", "1.00");
    late["occurred_at"] = json!("2026-11-21T00:00:00Z");
    let (status, body) = app.invoke(batch(&[early, late], "0", 1)).await;
    assert_eq!(status, 200, "{body}");
    let placed: Vec<(String, String)> = db
        .query(
            "SELECT transaction_id, tableoid::regclass::text FROM normalized_transactions ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        placed,
        [
            (
                "d-1".to_string(),
                "normalized_transactions_p20261120".to_string()
            ),
            (
                "d-2".to_string(),
                "normalized_transactions_p20261121".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn event_times_are_judged_against_the_enqueued_time_so_redeliveries_agree() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    // Enqueued long ago; the event claims a time 5 minutes and 1 second after that, which
    // is past ingest.max_future relative to the enqueued time, though long past by the
    // wall clock.
    let mut early = event("e-1", "1.00");
    early["occurred_at"] = json!("2026-11-25T10:05:01Z");
    let body = json!({
        "Data": {"events": serde_json::to_string(&[early.to_string()]).unwrap()},
        "Metadata": {
            "SequenceNumberArray": "[7]",
            "EnqueuedTimeUtcArray": "[\"2026-11-25T10:00:00Z\"]",
            "TriggerPartitionContext": {"PartitionId": "0"},
        }
    })
    .to_string();
    let (_, first) = app.invoke(body.clone()).await;
    assert_eq!(
        first["ReturnValue"]["rejected_by_reason"]["future_timestamp"], 1,
        "{first}"
    );
    let before = snapshot(&db).await;
    let (_, second) = app.invoke(body).await;
    assert_eq!(second["ReturnValue"], first["ReturnValue"]);
    assert_eq!(snapshot(&db).await, before);
}

#[tokio::test]
async fn conflicting_versions_racing_on_two_partitions_keep_exactly_one() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let a: Vec<Value> = (0..150)
        .map(|i| event(&format!("race-{i}"), "1.00"))
        .collect();
    let b: Vec<Value> = (0..150)
        .rev()
        .map(|i| event(&format!("race-{i}"), "2.00"))
        .collect();
    let ((sa, ra), (sb, rb)) =
        tokio::join!(app.invoke(batch(&a, "0", 1)), app.invoke(batch(&b, "1", 1)));
    assert_eq!((sa, sb), (200, 200));
    let accepted = ra["ReturnValue"]["accepted"].as_i64().unwrap()
        + rb["ReturnValue"]["accepted"].as_i64().unwrap();
    let conflicts = ra["ReturnValue"]["rejected"].as_i64().unwrap()
        + rb["ReturnValue"]["rejected"].as_i64().unwrap();
    assert_eq!((accepted, conflicts), (150, 150));
    assert_eq!(
        count(&db, "SELECT count(*) FROM normalized_transactions").await,
        150
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM rejected_events WHERE reason = 'duplicate_conflict'"
        )
        .await,
        150
    );
}

#[tokio::test]
async fn an_unmigrated_database_answers_503_until_it_is_migrated() {
    let db = TestDb::empty().await;
    let url = db.url();
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1 << 20).await;
    let (status, body) = app.invoke(batch(&[event("s-1", "1.00")], "0", 1)).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("run handler migrate or set PAYMETRICS_MIGRATE=on-start"),
        "{body}"
    );
    let mut client = app.db.connect().await;
    paymetrics::store::migrate(&mut client).await.unwrap();
    // The refused schema is read again once the recheck interval has passed.
    tokio::time::sleep(paymetrics::functions::RECHECK_INTERVAL).await;
    let (status, body) = app.invoke(batch(&[event("s-1", "1.00")], "0", 1)).await;
    assert_eq!(
        (status, &body["ReturnValue"]["accepted"]),
        (200, &json!(1)),
        "{body}"
    );
}

#[tokio::test]
async fn a_statement_stuck_on_a_lock_fails_the_invocation_instead_of_hanging() {
    let app = TestApp::spawn().await;
    let mut blocker = app.db.connect().await;
    let tx = blocker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE transaction_ids IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (status, body) = app.invoke(batch(&[event("l-1", "1.00")], "0", 1)).await;
    assert_eq!(status, 503, "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    tx.rollback().await.unwrap();
    let (status, _) = app.invoke(batch(&[event("l-1", "1.00")], "0", 1)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn oversized_events_and_batches_are_quarantined_with_the_limit_named() {
    let db = TestDb::migrated().await;
    let url = db.url();
    let engine = EngineConfig::from_yaml(
        "ingest:\n  max_event_bytes: 400\n  max_events_per_batch: 3\n",
        std::path::Path::new("engine.yaml"),
    )
    .unwrap();
    let app = TestApp::spawn_with(db, &url, engine, 1 << 20).await;
    let client = app.db.connect().await;
    let mut big = event("big-1", "1.00");
    big["merchant_category"] = json!("x".repeat(500));
    let (status, body) = app
        .invoke(batch(&[big, event("small-1", "1.00")], "0", 1))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["ReturnValue"]["rejected_by_reason"]["event_too_large"], 1,
        "{body}"
    );
    let detail: String = client
        .query_one(
            "SELECT detail FROM rejected_events WHERE reason = 'event_too_large'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(detail.contains("ingest.max_event_bytes (400)"), "{detail}");

    let four: Vec<Value> = (0..4)
        .map(|i| event(&format!("many-{i}"), "1.00"))
        .collect();
    let (status, body) = app.invoke(batch(&four, "0", 10)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["ReturnValue"]["rejected_by_reason"]["envelope_invalid"], 1,
        "{body}"
    );
    assert!(
        body["Logs"][0]
            .as_str()
            .unwrap()
            .contains("max_events_per_batch")
    );
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM normalized_transactions WHERE transaction_id LIKE 'many-%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_batch_shaped_exactly_as_the_host_sends_it_is_read_event_by_event() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    // Independently of the handler: decode the items and tell the shapes apart.
    let items = fixture_events("eventhub_host_binary_batch.json");
    let texts: Vec<String> = items
        .iter()
        .map(|b| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
            String::from_utf8(bytes).unwrap()
        })
        .collect();
    let empty = texts.iter().filter(|t| t.is_empty()).count();
    let repeated = texts
        .iter()
        .filter(|t| t.matches("\"amount\"").count() > 1)
        .count();
    let good = texts.len() - empty - repeated;
    assert_eq!((good, empty, repeated), (3, 1, 1));

    let (status, body) = app.invoke_fixture("eventhub_host_binary_batch.json").await;
    assert_eq!(status, 200, "{body}");
    let outcome = &body["ReturnValue"];
    assert_eq!(outcome["accepted"], good, "{body}");
    assert_eq!(
        outcome["rejected_by_reason"]["malformed_json"], empty,
        "{body}"
    );
    assert_eq!(
        outcome["rejected_by_reason"]["ambiguous_json"], repeated,
        "{body}"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM normalized_transactions").await,
        good as i64
    );
    // Naive, trimmed enqueued times are UTC; the BOM-prefixed first event is stored.
    let first = db
        .query_one(
            "SELECT partition_id, sequence_number, enqueued_at = '2026-11-25T10:10:00Z'
             FROM normalized_transactions WHERE transaction_id = 'h-1'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(first.get::<_, Option<&str>>(0), Some("2"));
    assert_eq!(first.get::<_, Option<i64>>(1), Some(101));
    assert!(first.get::<_, bool>(2));
    // Offsets come from OffsetStringArray, not the geo-replicated "-1" of OffsetArray.
    let rejects = db
        .query(
            "SELECT reason, event_offset FROM rejected_events ORDER BY sequence_number",
            &[],
        )
        .await
        .unwrap();
    let rejects: Vec<(String, Option<String>)> =
        rejects.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        rejects,
        [
            ("malformed_json".to_owned(), Some("413696".to_owned())),
            ("ambiguous_json".to_owned(), Some("421888".to_owned())),
        ]
    );
}

#[tokio::test]
async fn a_legacy_mcc_and_a_canonical_category_name_store_the_same_category() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    let legacy = json!({
        "transactionId": "mcc-legacy", "timestampMs": 1_795_600_803_000_i64,
        "amountMinor": 1250, "currency": "EUR", "paymentMethod": "CARD",
        "status": "APPROVED", "merchantId": "m-7", "mcc": 5411
    });
    let mut canonical = event("mcc-canonical", "12.50");
    canonical["merchant_category"] = json!("grocery");
    let (status, body) = app.invoke(batch(&[legacy, canonical], "0", 1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["accepted"], 2, "{body}");

    // Read back column by column, not through the code under test.
    let rows: Vec<(String, String, Option<i16>)> = db
        .query(
            "SELECT transaction_id, merchant_category, mcc FROM normalized_transactions
             WHERE transaction_id LIKE 'mcc-%' ORDER BY transaction_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        [
            ("mcc-canonical".into(), "grocery".into(), None),
            ("mcc-legacy".into(), "grocery".into(), Some(5411)),
        ]
    );
    let categories = count(
        &db,
        "SELECT count(DISTINCT merchant_category) FROM normalized_transactions",
    )
    .await;
    assert_eq!(categories, 1, "one category, not 5411 beside grocery");
}
