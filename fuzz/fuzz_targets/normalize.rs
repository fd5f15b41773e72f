//! One event's JSON through `ingest::normalize`, under the default policy and under one
//! with a maximum age: accepted as a transaction that keeps its promises, or rejected with
//! a reason and the field at fault. An accepted canonical event, rewritten in the legacy
//! format (docs/EVENT-FORMATS.md), is accepted as the same transaction.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use paymetrics::domain::Transaction;
use paymetrics::ingest::{IngestPolicy, SourceFormat, normalize};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    // Bytes that are no JSON never reach normalize: the envelope target covers them.
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let now = paymetrics_fuzz::now();
    let policies = [
        IngestPolicy::default(),
        IngestPolicy {
            max_age: Some(Duration::from_secs(86_400)),
            max_future: Duration::ZERO,
            ..IngestPolicy::default()
        },
    ];
    for policy in &policies {
        match normalize(&event, now, policy) {
            Ok((tx, format)) => {
                paymetrics_fuzz::check_transaction(&tx, now, policy);
                if format == SourceFormat::CanonicalV1 {
                    same_as_legacy(&tx, now, policy);
                }
            }
            Err(rejection) => paymetrics_fuzz::check_rejection(&rejection),
        }
    }
});

/// The legacy camelCase event of `tx` is normalized to `tx` (when its time has no
/// digits beyond milliseconds, which `timestampMs` cannot carry).
fn same_as_legacy(tx: &Transaction, now: chrono::DateTime<chrono::Utc>, policy: &IngestPolicy) {
    let millis = tx.occurred_at.timestamp_millis();
    if tx.occurred_at.timestamp_subsec_nanos() % 1_000_000 != 0 {
        return;
    }
    let minor = i64::try_from(tx.money.minor()).expect("checked below 10^15");
    let mut legacy = json!({
        "transactionId": tx.id.as_str(),
        "timestampMs": millis,
        "amountMinor": minor,
        "currency": tx.money.currency().code(),
        "paymentMethod": tx.payment_type.as_str(),
        "status": tx.status.as_str(),
        "merchantId": tx.merchant_id.as_str(),
        "isFraud": tx.is_fraud,
    });
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            legacy[key] = value;
        }
    };
    let category = match tx.mcc {
        Some(mcc) => Some(json!(mcc.code())),
        None => tx.merchant_category.as_ref().map(|c| json!(c.as_str())),
    };
    set("mcc", category);
    set(
        "customerId",
        tx.customer_id.as_ref().map(|c| json!(c.as_str())),
    );
    set("countryCode", tx.country.map(|c| json!(c.as_str())));
    set("channel", tx.channel.map(|c| json!(c.as_str())));
    set(
        "declineReason",
        tx.decline_reason.as_ref().map(|d| json!(d.as_str())),
    );
    match normalize(&legacy, now, policy) {
        Ok((again, format)) => {
            assert_eq!(format, SourceFormat::LegacyCamel);
            assert_eq!(&again, tx, "legacy {legacy}");
            assert_eq!(again.fingerprint(), tx.fingerprint());
        }
        Err(rejection) => {
            panic!("legacy form {legacy} of an accepted event refused: {rejection:?}")
        }
    }
}
