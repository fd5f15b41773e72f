//! The simulator's scenario file (`Scenario::from_yaml`). A file is refused with an error
//! naming it, or accepted as a scenario the simulator can run: a generator is built and
//! draws events from it, and every event it says the pipeline accepts (or rejects, and
//! why) is classified that way by the handler's own input path.

#![no_main]

use chrono::TimeDelta;
use libfuzzer_sys::fuzz_target;
use paymetrics::ingest::{self, IngestPolicy, Invocation};
use paymetrics::simulator::{Emission, Expected, Generator, Scenario};
use serde_json::json;

/// Arrivals drawn from each accepted scenario: enough to meet its faults, few enough to
/// keep the target fast.
const ARRIVALS: i64 = 24;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scenario = match Scenario::from_yaml(text, "fuzz.yaml") {
        Ok(scenario) => scenario,
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains("fuzz.yaml"),
                "the error names no file: {message}"
            );
            return;
        }
    };
    let mut generator = Generator::new(&scenario);
    let start = paymetrics_fuzz::now();
    let mut out = Vec::new();
    for second in 0..ARRIVALS {
        let at = start + TimeDelta::seconds(second);
        generator.arrival(at, &mut out);
        classify(std::mem::take(&mut out), at);
    }
    generator.flush(&mut out);
    classify(out, start + TimeDelta::seconds(ARRIVALS));
});

/// The emissions, as one invocation through the handler's path, judged at `now`.
fn classify(emissions: Vec<Emission>, now: chrono::DateTime<chrono::Utc>) {
    if emissions.is_empty() {
        return;
    }
    let texts: Vec<&str> = emissions.iter().map(|e| e.text.as_str()).collect();
    let body = json!({"Data": {"events": texts}}).to_string();
    let invocation = Invocation::parse(body.as_bytes()).expect("a generated invocation");
    let policy = IngestPolicy::default();
    let batch = ingest::prepare(invocation.events, now, &policy);
    for accepted in &batch.accepted {
        let emission = &emissions[accepted.lineage.batch_index];
        let tx = &accepted.transaction;
        match (&emission.expected, &emission.txn) {
            (Expected::Accepted, Some(txn)) => {
                assert_eq!(tx.id.as_str(), txn.id, "{}", emission.text);
                assert_eq!(
                    tx.money.minor(),
                    i128::from(txn.amount_minor),
                    "{}",
                    emission.text
                );
                assert_eq!(tx.money.currency(), txn.currency, "{}", emission.text);
                assert_eq!(tx.occurred_at, txn.occurred_at, "{}", emission.text);
            }
            (Expected::Duplicate, _) => {}
            (expected, _) => panic!("{expected:?} but accepted: {}", emission.text),
        }
        paymetrics_fuzz::check_transaction(tx, now, &policy);
    }
    for rejected in &batch.rejected {
        let emission = &emissions[rejected.lineage.batch_index];
        assert_eq!(
            emission.expected,
            Expected::Rejected(rejected.rejection.reason),
            "{:?}: {}",
            rejected.rejection,
            emission.text
        );
        paymetrics_fuzz::check_rejection(&rejected.rejection);
    }
}
