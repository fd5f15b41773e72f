//! A poisoned event (a trigger made by the test refuses one transaction) among good ones:
//! its batches still answer 200, the rest is stored once, the one event is quarantined as
//! `store_failed` with the database's message; the ground truth then differs in exactly
//! that event's row, and after the trigger is dropped `handler redrive` stores it and the
//! truth matches everywhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::helpers::{TestDb, handler};
use crate::host::Host;
use crate::process::HandlerProcess;
use crate::traffic::{Plan, Traffic, assert_truth, check, close_windows_at};

const REFUSAL: &str = "poisoned row refused by the fault suite";

/// An accepted, canonical event from the second half of the run whose id appears once,
/// and the key of its `payment_metrics_5m` row as `simulator check` prints it.
fn victim(traffic: &Traffic) -> (String, String) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for m in &traffic.manifest {
        *seen
            .entry(m["transaction_id"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    let half = traffic.lines.len() / 2;
    let (line, id) = traffic.lines[half..]
        .iter()
        .zip(&traffic.manifest[half..])
        .find_map(|(line, m)| {
            let id = m["transaction_id"].as_str()?;
            let event: Value = serde_json::from_str(line).ok()?;
            (m["fault"] == "none" && seen[id] == 1 && event.get("transaction_id").is_some())
                .then(|| (event, id.to_owned()))
        })
        .expect("a plain accepted event");
    let at: DateTime<Utc> = line["occurred_at"].as_str().unwrap().parse().unwrap();
    let start =
        DateTime::from_timestamp(at.timestamp() - at.timestamp().rem_euclid(300), 0).unwrap();
    let key = format!(
        "{start} {} {}:",
        line["payment_type"].as_str().unwrap(),
        line["currency"].as_str().unwrap()
    );
    (id, key)
}

async fn poison(db: &tokio_postgres::Client, id: &str) {
    db.batch_execute(&format!(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.transaction_id = '{id}' THEN RAISE EXCEPTION '{REFUSAL}'; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_poison BEFORE INSERT ON normalized_transactions
             FOR EACH ROW EXECUTE FUNCTION refuse_poison();"
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_event_is_quarantined_alone_and_redriven_to_the_truth() {
    let began = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), async {
        let db = TestDb::migrated().await;
        let client = db.connect().await;
        let traffic = Traffic::generate(&Plan {
            name: "poison",
            seed: 404,
            count: 3000,
            rate: 2.0,
            partitions: 4,
            batch_size: 100,
            span: None,
        })
        .await;
        let (id, row) = victim(&traffic);
        poison(&client, &id).await;
        let handler_process = HandlerProcess::start(&db.url(), &[]).await;
        let host = Arc::new(Host::new(vec![handler_process.base()]));
        host.deliver(&traffic.partitions).await;
        let (statuses, store_failed) = {
            let log = host.log.lock().unwrap();
            let store_failed: u64 = log
                .answers
                .iter()
                .filter_map(|a| a["rejected_by_reason"]["store_failed"].as_u64())
                .sum();
            (log.statuses(), store_failed)
        };
        assert_eq!(statuses.keys().collect::<Vec<_>>(), ["200"], "{statuses:?}");
        assert_eq!(store_failed, 1, "one event failed to store");

        let quarantined = client
            .query(
                "SELECT reason, detail FROM rejected_events WHERE transaction_id = $1",
                &[&id],
            )
            .await
            .unwrap();
        assert_eq!(quarantined.len(), 1);
        assert_eq!(quarantined[0].get::<_, &str>(0), "store_failed");
        let detail: &str = quarantined[0].get(1);
        assert!(detail.contains(REFUSAL), "{detail}");

        // The truth counts the refused event: exactly its row differs, by that event.
        close_windows_at(&handler_process.base(), Utc::now()).await;
        let (ok, report) = check(&traffic.truth, &db.url()).await;
        assert!(!ok, "{report}");
        let differences: Vec<&str> = report.lines().filter(|l| l.starts_with("  ")).collect();
        assert!(
            differences.iter().all(|l| l.trim_start().starts_with(&row)),
            "a difference outside {row}\n{report}"
        );
        assert!(
            differences.iter().any(|l| l.contains("txn_count"))
                || differences.iter().any(|l| l.contains("missing")),
            "{report}"
        );

        client
            .batch_execute("DROP TRIGGER refuse_poison ON normalized_transactions")
            .await
            .unwrap();
        let redrive = handler(&db.url(), 0)
            .args(["redrive", "--reason", "store_failed"])
            .output()
            .await
            .unwrap();
        let redrive_out = String::from_utf8_lossy(&redrive.stdout).into_owned();
        assert!(redrive.status.success(), "{redrive:?}");
        let report = assert_truth(&traffic, &handler_process.base(), &db.url(), 1).await;
        println!(
            "poison: {} batches, answers {statuses:?}; before redrive {} differences in {row}; \
             redrive: {}; after: {report}",
            traffic.batch_count(),
            differences.len(),
            redrive_out.trim().replace('\n', "; ")
        );
    })
    .await
    .expect("the test finishes within 60 s");
    println!("{} took {:.1?}", module_path!(), began.elapsed());
}
