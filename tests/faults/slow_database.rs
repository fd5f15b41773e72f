//! The database answers slowly (a proxy holds every chunk back 200 ms to 2 s) and the
//! handler's database timeouts are short: batches hit them and answer 503, the host
//! retries, and once the delay is gone every batch completes, each event stored once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::delay_proxy::DelayProxy;
use crate::helpers::TestDb;
use crate::host::{Host, Outcome};
use crate::process::HandlerProcess;
use crate::traffic::{Plan, Traffic, assert_truth};

/// Short limits, so a slow database shows as timeouts within seconds: connecting and
/// waiting for a pooled connection 1 s, a statement 2 s, two connections.
const LIMITS: &[(&str, &str)] = &[
    ("PAYMETRICS_DB_POOL_SIZE", "2"),
    ("PAYMETRICS_DB_TIMEOUT", "1s"),
    ("PAYMETRICS_DB_STATEMENT_TIMEOUT", "2s"),
    ("PAYMETRICS_DB_LOCK_TIMEOUT", "1s"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_database_times_batches_out_and_the_retries_complete_them_once() {
    let began = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), async {
        let db = TestDb::migrated().await;
        let proxy = DelayProxy::start().await;
        proxy.set(Duration::from_millis(200), Duration::from_secs(2));
        let traffic = Traffic::generate(&Plan {
            name: "slow",
            seed: 505,
            count: 2000,
            rate: 2.0,
            partitions: 4,
            batch_size: 50,
            span: None,
        })
        .await;
        let handler = HandlerProcess::start(&db.url_via(&proxy.address), LIMITS).await;
        let host = Arc::new(Host::new(vec![handler.base()]));
        let delivering = host.start(&traffic.partitions);
        tokio::time::sleep(Duration::from_secs(8)).await;
        let fast_again = Instant::now();
        let delivered_while_slow = host.log.lock().unwrap().delivered;
        proxy.set(Duration::ZERO, Duration::ZERO);
        delivering.await.unwrap();

        let (statuses, timeouts, retried_after) = {
            let log = host.log.lock().unwrap();
            let timeouts: Vec<String> = log
                .attempts
                .iter()
                .filter_map(|a| match &a.outcome {
                    Outcome::Answered(503, body) if a.started < fast_again => Some(body.clone()),
                    _ => None,
                })
                .collect();
            let retried_after = log
                .attempts
                .iter()
                .filter(|a| {
                    a.started >= fast_again && matches!(a.outcome, Outcome::Answered(200, _))
                })
                .count();
            assert_eq!(log.broken().count(), 0);
            (log.statuses(), timeouts, retried_after)
        };
        assert!(!timeouts.is_empty(), "no batch timed out: {statuses:?}");
        assert!(
            timeouts.iter().all(|b| b.contains("\"retryable\":true")),
            "{timeouts:?}"
        );
        // deadpool's words: connecting took longer than the limit, or every pooled
        // connection stayed busy longer than it.
        let kind = |words: &str| timeouts.iter().filter(|b| b.contains(words)).count();
        let (connect, wait) = (
            kind("Timeout occurred while creating a new object"),
            kind("Timeout occurred while waiting for a slot"),
        );
        assert!(connect + wait > 0, "no 503 names a timeout: {timeouts:?}");
        assert!(delivered_while_slow < traffic.batch_count());
        assert!(retried_after > 0);
        let report = assert_truth(&traffic, &handler.base(), &db.url(), 0).await;
        println!(
            "slow database: {} batches, {delivered_while_slow} delivered in the slow 8 s, \
             {} chunks delayed, {} answered 503 then ({connect} connect timeouts, {wait} pool \
             wait timeouts), answers {statuses:?}; {report}",
            traffic.batch_count(),
            proxy.delayed_chunks(),
            timeouts.len(),
        );
    })
    .await
    .expect("the test finishes within 60 s");
    println!("{} took {:.1?}", module_path!(), began.elapsed());
}
