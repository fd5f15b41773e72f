//! A demo-sized database for dashboard tests: `hours` of simulated traffic ending now,
//! with faults (rejects, duplicates, late events), one known spike of declines, and every
//! due window, rule and cluster run computed, behind a running handler. Built only with
//! the `simulator` feature.
#![cfg(feature = "simulator")]

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use paymetrics::settings::EngineConfig;
use paymetrics::simulator::run::last_hours;
use paymetrics::simulator::scenario::TimeMode;
use paymetrics::simulator::sinks::{HandlerSink, Sink, SinkStats};
use paymetrics::simulator::{Arrivals, DEFAULT_SCENARIO, Emission, Generator, Scenario};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, batch};

/// Event time between timer runs while the traffic is sent. The timer closes
/// everything sent so far, so late events and out-of-order ones sent after a run reopen
/// windows it closed: those windows get revision 2 and late_events, as in production,
/// where the timer runs while traffic arrives. (One close after the whole backfill would
/// revise nothing.)
const CLOSE_EVERY: TimeDelta = TimeDelta::minutes(30);

/// The injected burst of declines.
#[derive(Debug, Clone)]
pub struct Spike {
    /// Start of the 5-minute window holding every spike event.
    pub window_start: DateTime<Utc>,
    pub payment_type: &'static str,
    pub currency: &'static str,
    pub category: &'static str,
    pub reason: &'static str,
    /// Declined events in the spike, all accepted.
    pub count: i64,
}

/// A demo database behind a running handler, and what is known about its data.
pub struct Demo {
    pub app: TestApp,
    /// The time range that holds all of it: the first simulated event time to the moment
    /// the last timer run finished (ingest counts and rejects are stamped with the
    /// handler's clock, which runs after the last event time).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub spike: Spike,
}

/// `hours` of traffic ending now at about one transaction a second (86,400 for a day,
/// plus faults), the spike about two hours before now, all windows closed.
///
/// In a debug build on a 2-core machine shared with other builds, `demo(24)` took 20 to
/// 43 s (about 87,000 transactions, 850 rejects) and `demo(6)` about 13 s; nearly all of
/// it is the debug handler storing the batches (the 48 timer runs of a day took 4 s).
pub async fn demo(hours: i64) -> Demo {
    assert!(
        hours >= 3,
        "the spike sits 2 hours before now; ask for 3 hours or more"
    );
    let db = TestDb::migrated().await;
    let url = db.url();
    let engine = EngineConfig::check_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/engine.yaml"),
    )
    .expect("config/engine.yaml is valid");
    let app = TestApp::spawn_with(db, &url, engine, 100 * 1024 * 1024).await;
    let (from, end) = last_hours(Utc::now(), hours);

    let spike = Spike {
        window_start: (end - TimeDelta::hours(2))
            .duration_trunc(TimeDelta::minutes(5))
            .unwrap(),
        payment_type: "card",
        currency: "USD",
        category: "electronics",
        reason: "suspected_fraud",
        count: 150,
    };
    let (status, body) = app.invoke(batch(&spike_events(&spike), "spike", 0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["accepted"], spike.count, "{body}");

    send_traffic(&app, scenario(from, end)).await;
    close_all(&app).await;
    Demo {
        app,
        from,
        to: Utc::now(),
        spike,
    }
}

/// The built-in scenario over [from, to) at one event a second, without bursts (so a day
/// stays under 100,000 events), with its faults on at their default rates.
fn scenario(from: DateTime<Utc>, to: DateTime<Utc>) -> Scenario {
    let mut s = Scenario::from_yaml(DEFAULT_SCENARIO, "default").unwrap();
    s.rate.events_per_second = 1.0;
    s.rate.bursts = None;
    s.time = TimeMode::Backfill { from, to };
    s
}

/// The spike's events in the canonical format, one a second from the window's start.
fn spike_events(spike: &Spike) -> Vec<Value> {
    (0..spike.count)
        .map(|i| {
            let at = spike.window_start + TimeDelta::seconds(i);
            json!({
                "transaction_id": format!("demo-spike-{i:04}"),
                "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "amount": "249.00",
                "currency": spike.currency,
                "payment_type": spike.payment_type,
                "status": "declined",
                "merchant_id": "m-spike",
                "merchant_category": spike.category,
                "customer_id": format!("c-spike-{i}"),
                "country": "US",
                "channel": "online",
                "decline_reason": spike.reason,
                "is_fraud": false,
            })
        })
        .collect()
}

/// Generates the scenario's backfill and sends it through the handler sink, running the
/// timer every [`CLOSE_EVERY`] of event time.
pub async fn send_traffic(app: &TestApp, s: Scenario) {
    let (from, to) = s.backfill_range().expect("a backfill");
    let mut generator = Generator::new(&s);
    let mut arrivals = Arrivals::new(&s, from);
    let mut sink = Sink::Handler(HandlerSink::new(
        &format!("http://{}", app.address),
        s.delivery.partitions,
        3,
    ));
    let mut stats = SinkStats::default();
    let mut pending: Vec<Emission> = Vec::new();
    let mut next_close = from + CLOSE_EVERY;
    loop {
        let at = arrivals.next_time();
        if at >= to {
            break;
        }
        if at >= next_close {
            send(&mut sink, &mut pending, &mut stats).await;
            close_all(app).await;
            next_close += CLOSE_EVERY;
        }
        generator.arrival(at, &mut pending);
        if pending.len() >= s.delivery.batch_size {
            send(&mut sink, &mut pending, &mut stats).await;
        }
    }
    generator.flush(&mut pending);
    send(&mut sink, &mut pending, &mut stats).await;
    assert_eq!(stats.failed, 0, "events the handler did not take");
}

async fn send(sink: &mut Sink, pending: &mut Vec<Emission>, stats: &mut SinkStats) {
    if !pending.is_empty() {
        sink.send(pending, stats)
            .await
            .expect("the handler takes the batch");
        pending.clear();
    }
}

/// Runs the timer until no due window is left.
pub async fn close_all(app: &TestApp) {
    for _ in 0..100 {
        if app.run_timer().await["ReturnValue"]["windows_remaining"] == 0 {
            return;
        }
    }
    panic!("windows still due after 100 timer runs");
}
