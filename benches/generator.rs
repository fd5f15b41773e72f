//! Simulator throughput: events generated and serialized per second on one core, into
//! the null sink (`cargo bench --bench generator`). Recorded in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::simulator::{Arrivals, DEFAULT_SCENARIO, Generator, Scenario};

fn main() {
    let mut scenario = Scenario::from_yaml(DEFAULT_SCENARIO, "default").unwrap();
    scenario.rate.events_per_second = 100_000.0;
    let start: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().unwrap();
    let n = 2_000_000u64;
    let mut best = f64::MAX;
    let mut bytes = 0usize;
    for _ in 0..3 {
        let mut generator = Generator::new(&scenario);
        let mut arrivals = Arrivals::new(&scenario, start);
        let mut out = Vec::with_capacity(4096);
        let started = Instant::now();
        bytes = 0;
        for _ in 0..n {
            let at = arrivals.next_time();
            generator.arrival(at, &mut out);
            for event in out.drain(..) {
                bytes += black_box(event).text.len();
            }
        }
        generator.flush(&mut out);
        best = best.min(started.elapsed().as_secs_f64());
    }
    let _ = TimeDelta::zero();
    println!(
        "generate + serialize  {n} transactions in {:.0} ms  {:.0} transactions/s  {:.0} ns each  ({} MB)",
        best * 1e3,
        n as f64 / best,
        best * 1e9 / n as f64,
        bytes / 1_000_000
    );
}
