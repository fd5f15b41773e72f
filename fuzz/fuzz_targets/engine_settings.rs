//! The engine settings file (`EngineConfig::from_yaml`), as the handler reads it at
//! start-up and on every change. A file is refused with an error naming it, or accepted
//! as settings the handler can run with: its rules keep their promises, and events are
//! judged and windows closed under it without a panic.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use paymetrics::ingest::normalize;
use paymetrics::settings::{EngineConfig, SettingsError};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    // The handler reads the file as UTF-8; other bytes are a read error, not a parse.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match EngineConfig::from_yaml(text, Path::new("fuzz.yaml")) {
        Ok(config) => config,
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains("fuzz.yaml"),
                "the error names no file: {message}"
            );
            if let SettingsError::Rules { errors, .. } = &error {
                assert!(!errors.is_empty(), "rules refused without an error");
                for e in errors {
                    assert!(e.line >= 1 && !e.message.trim().is_empty(), "{e}");
                }
            }
            return;
        }
    };
    paymetrics_fuzz::check_rules(&config.rules);
    let widths = config.window_widths();
    assert!(
        widths.contains(&300),
        "the 5-minute windows are always computed"
    );
    for width in widths {
        paymetrics_fuzz::check_window(width);
    }
    assert!(!config.summary().is_empty());
    assert_eq!(config.clustering.validate(), Ok(()));
    assert!(config.windows.windows_per_chunk >= 1);
    if let (Some(age), Some(kept)) = (config.ingest.max_age, config.retention.transactions) {
        assert!(age <= kept, "max_age beyond retention");
    }
    let now = paymetrics_fuzz::now();
    assert!(config.windows.due_before(now) <= now);
    // An event happening now is valid under any accepted policy; events at the ends of
    // time are judged, either way, without a panic.
    for (at, must_accept) in [
        ("2026-11-26T12:00:00Z", true),
        ("2000-01-01T00:00:00Z", false),
        ("9999-12-31T23:59:59Z", false),
    ] {
        let event = json!({
            "transaction_id": "t-1", "occurred_at": at, "amount": "1.00", "currency": "USD",
            "payment_type": "card", "status": "approved", "merchant_id": "m-1",
        });
        match normalize(&event, now, &config.ingest) {
            Ok((tx, _)) => paymetrics_fuzz::check_transaction(&tx, now, &config.ingest),
            Err(rejection) => {
                assert!(!must_accept, "an event of now refused: {rejection:?}");
                paymetrics_fuzz::check_rejection(&rejection);
            }
        }
    }
});
