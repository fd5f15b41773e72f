//! The database stops in the middle of a run (a crash: `pg_ctl stop -m immediate`) and
//! comes back: the handler answers 503 meanwhile, the host retries, nothing is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::handler;
use crate::host::{Host, Log, Outcome};
use crate::private_pg::PrivatePg;
use crate::process::HandlerProcess;
use crate::traffic::{Plan, Traffic, assert_truth};

const TRUST: &str = "local all all trust\nhost all all 127.0.0.1/32 trust\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_mid_run_loses_nothing_and_counts_nothing_twice() {
    let began = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), async {
        let pg = PrivatePg::start(TRUST, &[], |_| {});
        pg.psql("CREATE DATABASE paymetrics");
        let url = format!("postgres://postgres@127.0.0.1:{}/paymetrics", pg.port);
        let migrate = handler(&url, 0).arg("migrate").output().await.unwrap();
        assert!(migrate.status.success(), "{migrate:?}");

        let traffic = Traffic::generate(&Plan {
            name: "restart",
            seed: 101,
            count: 4000,
            rate: 2.0,
            partitions: 4,
            batch_size: 50,
            span: None,
        })
        .await;
        let handler = HandlerProcess::start(&url, &[("PAYMETRICS_DB_TIMEOUT", "2s")]).await;
        let host = Arc::new(Host::new(vec![handler.base()]));
        let delivering = host.start(&traffic.partitions);

        while host.log.lock().unwrap().delivered < traffic.batch_count() / 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stopped = Instant::now();
        tokio::task::block_in_place(|| pg.stop());
        tokio::time::sleep(Duration::from_secs(3)).await;
        let during_outage = host.log.lock().unwrap().status_count(503);
        tokio::task::block_in_place(|| pg.start_again());
        let restarted = Instant::now();
        delivering.await.unwrap();

        let statuses = {
            let log = host.log.lock().unwrap();
            assert_outage_was_seen(&log, during_outage, stopped, restarted);
            log.statuses()
        };
        let report = assert_truth(&traffic, &handler.base(), &url, 0).await;
        println!(
            "database restart: {} batches, answers {statuses:?}; {report}",
            traffic.batch_count()
        );
    })
    .await
    .expect("the test finishes within 60 s");
    println!("{} took {:.1?}", module_path!(), began.elapsed());
}

/// 503s, retryable, were answered while the database was down, and the handler never
/// dropped a connection.
fn assert_outage_was_seen(log: &Log, during_outage: usize, stopped: Instant, restarted: Instant) {
    assert!(
        during_outage > 0,
        "no 503 while the database was down: {:?}",
        log.statuses()
    );
    assert!(
        log.attempts.iter().any(|a| a.started >= stopped
            && a.ended <= restarted
            && matches!(&a.outcome, Outcome::Answered(503, body)
                    if body.contains("\"retryable\":true"))),
        "no retryable 503 during the outage"
    );
    assert_eq!(log.broken().count(), 0, "the handler itself never failed");
}
