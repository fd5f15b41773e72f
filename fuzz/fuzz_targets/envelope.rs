//! The handler's whole input path for an Event Hub invocation: the body taken apart
//! (`Invocation::parse`), then every event validated (`ingest::prepare`), as
//! `functions::event_hub` does. Every body is either an envelope error, which the handler
//! quarantines whole, or a batch in which every event is accepted or rejected exactly once,
//! each result keeping its promises (paymetrics_fuzz).

#![no_main]

use libfuzzer_sys::fuzz_target;
use paymetrics::ingest::{self, IngestPolicy, InvalidBody, Invocation, RawText};

fuzz_target!(|body: &[u8]| {
    let invocation = match Invocation::parse(body) {
        Ok(invocation) => invocation,
        Err(error) => {
            let detail = error.to_string();
            assert!(!detail.trim().is_empty(), "{error:?} without a message");
            // The quarantine record keeps the body exactly, as text or base64.
            let invalid = InvalidBody::new(body, detail);
            if let RawText::Utf8(text) = &invalid.raw {
                assert_eq!(text.as_bytes(), body, "a text body is kept as received");
            }
            return;
        }
    };
    let received = invocation.events.len();
    for (index, event) in invocation.events.iter().enumerate() {
        assert_eq!(event.lineage.batch_index, index, "events keep their order");
        assert_eq!(event.lineage.partition_id, invocation.partition_id);
        if let RawText::Utf8(text) = &event.raw {
            assert!(
                !text.contains('\0'),
                "a raw text with NUL is kept as base64"
            );
        }
        if let Err(rejection) = &event.parsed {
            paymetrics_fuzz::check_rejection(rejection);
        }
    }
    let now = paymetrics_fuzz::now();
    let policy = IngestPolicy::default();
    let batch = ingest::prepare(invocation.events, now, &policy);
    assert_eq!(batch.received, received);
    let mut seen = vec![false; received];
    for accepted in &batch.accepted {
        let judged_at = accepted.lineage.enqueued_at.unwrap_or(now);
        paymetrics_fuzz::check_transaction(&accepted.transaction, judged_at, &policy);
        assert_eq!(accepted.fingerprint, accepted.transaction.fingerprint());
        seen[accepted.lineage.batch_index] = true;
    }
    for rejected in &batch.rejected {
        paymetrics_fuzz::check_rejection(&rejected.rejection);
        let index = rejected.lineage.batch_index;
        assert!(!seen[index], "event {index} both accepted and rejected");
        seen[index] = true;
    }
    assert!(
        seen.iter().all(|s| *s),
        "an event was neither accepted nor rejected"
    );
});
