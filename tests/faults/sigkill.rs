//! The handler is killed with SIGKILL while batches are in flight and started again; the
//! host delivers again from its checkpoints (batches already answered among them), and
//! every event is still stored exactly once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::helpers::TestDb;
use crate::host::{Attempt, Host, Outcome};
use crate::process::HandlerProcess;
use crate::traffic::{Plan, Traffic, assert_truth};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_killed_mid_batch_and_redelivered_to_stores_each_event_once() {
    let began = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), async {
        let db = TestDb::migrated().await;
        let traffic = Traffic::generate(&Plan {
            name: "sigkill",
            seed: 202,
            count: 4000,
            rate: 2.0,
            partitions: 4,
            batch_size: 100,
            span: None,
        })
        .await;
        let mut handler = HandlerProcess::start(&db.url(), &[]).await;
        // About 11 batches a partition, a checkpoint every 10 (`batchCheckpointFrequency`):
        // killed a third of the way in, each partition's redelivery replays every batch
        // it was answered for, not only the one cut.
        let host = Arc::new(Host::new(vec![handler.base()]).checkpoint_every(10));
        let delivering = host.start(&traffic.partitions);

        while host.log.lock().unwrap().delivered < traffic.batch_count() / 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        while host.in_flight.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let killed = Instant::now();
        let pid = handler.pid();
        handler.kill().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        handler.restart().await;
        delivering.await.unwrap();

        let (cut, replayed, statuses, duplicates, how) = {
            let log = host.log.lock().unwrap();
            let cut: Vec<&Attempt> = log.broken().filter(|a| a.started < killed).collect();
            let how = match cut.first().map(|a| &a.outcome) {
                Some(Outcome::Broken(error)) => error.clone(),
                _ => String::new(),
            };
            (
                cut.len(),
                log.replayed,
                log.statuses(),
                log.sum("duplicates"),
                how,
            )
        };
        assert!(cut > 0, "SIGKILL did not land while a batch was in flight");
        assert!(replayed > 0, "the host replayed no answered batch");
        assert_ne!(handler.pid(), pid, "the handler was started again");
        assert_eq!(handler.log().matches("handler listening").count(), 2);
        let report = assert_truth(&traffic, &handler.base(), &db.url(), 0).await;
        println!(
            "sigkill: {} batches; {cut} cut by the kill, {replayed} redelivered, {duplicates} \
             duplicates answered, answers {statuses:?}; a cut attempt: {how}; {report}",
            traffic.batch_count()
        );
    })
    .await
    .expect("the test finishes within 60 s");
    println!("{} took {:.1?}", module_path!(), began.elapsed());
}
