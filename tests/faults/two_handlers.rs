//! Two handlers get every batch of the same partitions at once, as while a partition's
//! lease moves between instances: both answer 200, and between them each event is
//! accepted once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::TestDb;
use crate::host::Host;
use crate::process::HandlerProcess;
use crate::traffic::{Plan, Traffic, assert_truth};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handlers_given_the_same_batches_at_once_store_each_event_once() {
    let began = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), async {
        let db = TestDb::migrated().await;
        let traffic = Traffic::generate(&Plan {
            name: "two-handlers",
            seed: 303,
            count: 3000,
            rate: 2.0,
            partitions: 4,
            batch_size: 50,
            span: None,
        })
        .await;
        let first = HandlerProcess::start(&db.url(), &[]).await;
        let second = HandlerProcess::start(&db.url(), &[]).await;
        let host = Arc::new(Host::new(vec![first.base(), second.base()]));
        host.deliver(&traffic.partitions).await;

        let (statuses, accepted, duplicates, per_target) = {
            let log = host.log.lock().unwrap();
            let per_target: Vec<usize> = (0..2)
                .map(|t| {
                    log.attempts
                        .iter()
                        .filter(|a| {
                            a.target == t
                                && matches!(a.outcome, crate::host::Outcome::Answered(200, _))
                        })
                        .count()
                })
                .collect();
            assert_eq!(log.broken().count(), 0);
            (
                log.statuses(),
                log.sum("accepted"),
                log.sum("duplicates"),
                per_target,
            )
        };
        // Every batch was answered 200 by both.
        assert_eq!(per_target, vec![traffic.batch_count(); 2], "{statuses:?}");
        // Between the two, each valid event was accepted by exactly one; the other
        // counted it as a duplicate (on top of the scenario's own duplicates).
        assert_eq!(accepted as usize, traffic.expected("accepted"));
        assert_eq!(
            duplicates as usize,
            traffic.expected("accepted") + 2 * traffic.expected("duplicate"),
            "{statuses:?}"
        );
        let report = assert_truth(&traffic, &first.base(), &db.url(), 0).await;
        println!(
            "two handlers: {} batches to each, answers {statuses:?}, accepted {accepted}, \
             duplicates {duplicates}; {report}",
            traffic.batch_count()
        );
    })
    .await
    .expect("the test finishes within 60 s");
    println!("{} took {:.1?}", module_path!(), began.elapsed());
}
