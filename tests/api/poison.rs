//! A batch the database refuses for good: split, store what it can, quarantine the rest.

use serde_json::{Value, json};

use crate::helpers::{FlakyProxy, TestApp, TestDb, batch, count};
use paymetrics::settings::EngineConfig;

const POISON: &str = "t-poison";

fn event(id: &str, minute: usize) -> Value {
    json!({
        "transaction_id": id, "occurred_at": format!("2026-11-25T09:{:02}:00Z", minute % 60),
        "amount": "12.50", "currency": "EUR", "payment_type": "card", "status": "approved",
        "merchant_id": "m-1"
    })
}

/// 50 good events with the poisoned one in the middle.
fn poisoned_batch() -> String {
    let mut events: Vec<Value> = (0..50).map(|i| event(&format!("t-{i:02}"), i)).collect();
    events.insert(23, event(POISON, 23));
    batch(&events, "3", 1000)
}

/// A trigger, as a test's sabotage, that refuses one transaction id.
async fn poison(db: &tokio_postgres::Client) {
    db.batch_execute(&format!(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.transaction_id = '{POISON}' THEN
                 RAISE EXCEPTION 'poisoned row refused by the test';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_poison BEFORE INSERT ON normalized_transactions
             FOR EACH ROW EXECUTE FUNCTION refuse_poison();"
    ))
    .await
    .unwrap();
}

async fn stored(db: &tokio_postgres::Client) -> (i64, i64, i64) {
    (
        count(db, "SELECT count(*) FROM normalized_transactions").await,
        count(
            db,
            "SELECT count(DISTINCT transaction_id) FROM transaction_ids",
        )
        .await,
        count(db, "SELECT count(*) FROM rejected_events").await,
    )
}

#[tokio::test]
async fn a_poisoned_event_is_quarantined_and_the_rest_of_its_batch_stored_once() {
    let app = TestApp::spawn().await;
    let db = app.db.connect().await;
    poison(&db).await;

    let (status, body) = app.invoke(poisoned_batch()).await;
    assert_eq!(status, 200, "{body}");
    let outcome = &body["ReturnValue"];
    assert_eq!(outcome["received"], 51, "{body}");
    assert_eq!(outcome["accepted"], 50, "{body}");
    assert_eq!(outcome["rejected"], 1, "{body}");
    assert_eq!(outcome["rejected_by_reason"]["store_failed"], 1, "{body}");
    assert_eq!(stored(&db).await, (50, 50, 1));
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM normalized_transactions WHERE transaction_id = '{POISON}'"
            )
        )
        .await,
        0
    );
    let row = db
        .query_one(
            "SELECT reason, detail, transaction_id, partition_id, sequence_number
             FROM rejected_events",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "store_failed");
    let detail: &str = row.get(1);
    assert!(detail.contains("SQLSTATE P0001"), "{detail}");
    assert!(
        detail.contains("poisoned row refused by the test"),
        "{detail}"
    );
    assert_eq!(row.get::<_, Option<&str>>(2), Some(POISON));
    assert_eq!(row.get::<_, Option<&str>>(3), Some("3"));
    assert_eq!(row.get::<_, Option<i64>>(4), Some(1023));

    // The host's redelivery of the same batch changes nothing.
    let (status, body) = app.invoke(poisoned_batch()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["accepted"], 0, "{body}");
    assert_eq!(body["ReturnValue"]["duplicates"], 50, "{body}");
    assert_eq!(stored(&db).await, (50, 50, 1));
}

#[tokio::test]
async fn a_poisoned_batch_during_an_outage_still_fails_whole_and_is_retried() {
    let db = TestDb::migrated().await;
    let proxy = FlakyProxy::start().await;
    let url = db.url_via(&proxy.address);
    let app = TestApp::spawn_with(db, &url, EngineConfig::default(), 1 << 20).await;
    let direct = app.db.connect().await;
    poison(&direct).await;

    proxy.down();
    let (status, body) = app.invoke(poisoned_batch()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["retryable"], true, "{body}");
    assert_eq!(stored(&direct).await, (0, 0, 0), "nothing partial");

    proxy.up();
    let (status, body) = app.invoke(poisoned_batch()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["accepted"], 50, "{body}");
    assert_eq!(stored(&direct).await, (50, 50, 1));
}
