//! Ingestion: from the Functions host's Event Hub invocation to accepted transactions
//! and quarantined rejects.
//!
//! [`envelope`] takes the host's invocation body apart into raw events with their Event
//! Hubs lineage; [`normalize`] turns one raw event (canonical v1 or legacy camelCase) into
//! a [`Transaction`] or a [`Rejection`] naming the field and the reason; [`prepare`] does
//! both for a whole batch; [`settle()`] decides, with what the store found when it claimed
//! the batch's ids, which accepted events are new, duplicates or conflicts. Nothing here
//! does I/O: storing is [`crate::store`]'s job.

pub mod capture;
pub mod envelope;
mod normalize;
pub mod redrive;
mod settle;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::Transaction;
pub use envelope::{Invocation, Lineage, RawEvent, RawText};
pub use normalize::normalize;
pub use settle::{Claimed, Settled, candidates, settle};

/// Ingest policy, from the `ingest` section of the engine settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestPolicy {
    /// How far ahead of the handler's clock an event's `occurred_at` may be before it is
    /// rejected as `future_timestamp`. Producers' clocks drift; an event from the future
    /// beyond that is a bug that would otherwise land in a window nobody has closed yet.
    #[serde(with = "crate::serde_duration::duration")]
    pub max_future: Duration,
    /// How far behind the handler's clock an event's `occurred_at` may be before it is
    /// rejected as `expired_timestamp`. Unset by default (any age is accepted); when
    /// `retention.transactions` is set it defaults to, and may not exceed, that, so a
    /// replay of a day that retention already dropped cannot be counted again.
    #[serde(with = "crate::serde_duration::optional_duration")]
    pub max_age: Option<Duration>,
    /// Largest accepted event, in bytes; a larger one is quarantined as
    /// `event_too_large` (Event Hubs itself allows up to 1 MiB).
    pub max_event_bytes: usize,
    /// Most events one invocation may carry; a larger batch is quarantined whole as
    /// `envelope_invalid`. Keep it at or above `maxEventBatchSize` in host.json (100).
    pub max_events_per_batch: usize,
}

impl Default for IngestPolicy {
    fn default() -> Self {
        Self {
            max_future: Duration::from_secs(5 * 60),
            max_age: None,
            max_event_bytes: 1024 * 1024,
            max_events_per_batch: 10_000,
        }
    }
}

/// The input format an accepted event arrived in, stored as `source_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// snake_case fields, `occurred_at` RFC 3339, `amount` in major units.
    CanonicalV1,
    /// camelCase fields, `timestampMs`, `amountMinor` in minor units.
    LegacyCamel,
}

impl SourceFormat {
    /// The name stored in `normalized_transactions.source_format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CanonicalV1 => "canonical_v1",
            Self::LegacyCamel => "legacy_camel",
        }
    }
}

/// Why an event was quarantined: the stable code stored in `rejected_events.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Not JSON, or JSON that is not an object.
    MalformedJson,
    /// JSON whose object repeats a key: which value was meant is unknowable.
    AmbiguousJson,
    /// A required field is absent or null.
    MissingField,
    /// A field has the wrong type or a value outside its allowed set.
    InvalidField,
    /// The amount is not a non-negative decimal number (or integer minor units).
    InvalidAmount,
    /// The amount has more decimals than its currency's minor units.
    AmountPrecision,
    /// The currency is not an ISO 4217 code with minor units.
    UnknownCurrency,
    /// `occurred_at` is further ahead of now than `ingest.max_future`.
    FutureTimestamp,
    /// `occurred_at` is older than `ingest.max_age` (data past retention).
    ExpiredTimestamp,
    /// The event is larger than `ingest.max_event_bytes`.
    EventTooLarge,
    /// The transaction id was seen before with different content.
    DuplicateConflict,
    /// The whole invocation body was not a valid host invocation.
    EnvelopeInvalid,
    /// The event passed validation but the database refused to store it for a reason
    /// retrying cannot fix (a constraint, a trigger); the detail names its SQLSTATE.
    StoreFailed,
}

impl RejectReason {
    /// Every reason, for documentation and tests.
    pub const ALL: &'static [Self] = &[
        Self::MalformedJson,
        Self::AmbiguousJson,
        Self::MissingField,
        Self::InvalidField,
        Self::InvalidAmount,
        Self::AmountPrecision,
        Self::UnknownCurrency,
        Self::FutureTimestamp,
        Self::ExpiredTimestamp,
        Self::EventTooLarge,
        Self::DuplicateConflict,
        Self::EnvelopeInvalid,
        Self::StoreFailed,
    ];

    /// The stable code stored in `rejected_events.reason` and counted in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::AmbiguousJson => "ambiguous_json",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::InvalidAmount => "invalid_amount",
            Self::AmountPrecision => "amount_precision",
            Self::UnknownCurrency => "unknown_currency",
            Self::FutureTimestamp => "future_timestamp",
            Self::ExpiredTimestamp => "expired_timestamp",
            Self::EventTooLarge => "event_too_large",
            Self::DuplicateConflict => "duplicate_conflict",
            Self::EnvelopeInvalid => "envelope_invalid",
            Self::StoreFailed => "store_failed",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused event: the reason code and a human sentence naming the field(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The stable code of the first problem found.
    pub reason: RejectReason,
    /// Every problem found, `field: what is wrong`, separated by `; `.
    pub detail: String,
    /// The transaction id, when one could be read (helps find the producer's record).
    pub transaction_id: Option<String>,
}

/// An event that passed validation.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The normalized transaction.
    pub transaction: Transaction,
    /// [`Transaction::fingerprint`], computed once.
    pub fingerprint: [u8; 32],
    /// The input format it arrived in, stored as `source_format`.
    pub format: SourceFormat,
    /// The event as received, kept in case it turns out to conflict with a stored one.
    pub raw: RawText,
    /// Partition, sequence number and enqueued time, stored with the transaction so a
    /// row can be traced back to its event.
    pub lineage: Lineage,
}

/// An event to quarantine in `rejected_events`.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The reason code and the sentence naming the offending fields.
    pub rejection: Rejection,
    /// The event exactly as received, so it can be fixed and replayed.
    pub raw: RawText,
    /// Where in the stream it was, to find the producer's record and to tell a
    /// redelivery of this reject from another event with the same text.
    pub lineage: Lineage,
}

impl Rejected {
    /// Identity of this reject, so that a redelivered batch stores it once: the reason,
    /// the raw event and its position in the stream (partition and sequence number, or
    /// its index in the batch when the host gave no sequence number).
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.rejection.reason.as_str().as_bytes());
        hash.update([0]);
        hash.update(self.raw.as_str().as_bytes());
        hash.update([0]);
        hash.update(
            self.lineage
                .partition_id
                .as_deref()
                .unwrap_or("")
                .as_bytes(),
        );
        hash.update([0]);
        match self.lineage.sequence_number {
            Some(seq) => hash.update(format!("seq:{seq}").as_bytes()),
            None => hash.update(format!("idx:{}", self.lineage.batch_index).as_bytes()),
        }
        hash.finalize().into()
    }
}

/// A whole body that is not an invocation the handler takes, to quarantine once as
/// `envelope_invalid` (a poison body must not block its partition).
#[derive(Debug, Clone)]
pub struct InvalidBody {
    /// The body as received: its text, or base64 when it is not UTF-8 or holds a NUL.
    pub raw: RawText,
    /// Why it is not an invocation.
    pub detail: String,
    /// Identity of the body, so a redelivery stores it once: a SHA-256 over the reason
    /// and the body's bytes.
    pub fingerprint: [u8; 32],
}

impl InvalidBody {
    /// The quarantine record of `body`, refused because of `detail`.
    pub fn new(body: &[u8], detail: String) -> Self {
        let mut hash = Sha256::new();
        hash.update(RejectReason::EnvelopeInvalid.as_str().as_bytes());
        hash.update([0]);
        hash.update(body);
        Self {
            raw: RawText::from_bytes(body),
            detail,
            fingerprint: hash.finalize().into(),
        }
    }
}

/// A batch after validation, ready to store.
#[derive(Debug, Clone, Default)]
pub struct PreparedBatch {
    /// Number of events in the invocation.
    pub received: usize,
    /// Valid events, in delivery order. The same transaction id may appear more than once:
    /// whether a repeat is a duplicate or a conflict depends on what is already stored
    /// ([`settle()`]).
    pub accepted: Vec<Accepted>,
    /// Events that failed validation, to quarantine (settling adds the conflicts).
    pub rejected: Vec<Rejected>,
}

/// Validates every event of an invocation, reading the clock only through `now`.
///
/// Event times are judged against the event's `enqueued_at` when the host gave one, and
/// against `now` otherwise: a redelivery of the same event then gets the same verdict
/// however much later it comes.
pub fn prepare(events: Vec<RawEvent>, now: DateTime<Utc>, policy: &IngestPolicy) -> PreparedBatch {
    let mut batch = PreparedBatch {
        received: events.len(),
        ..PreparedBatch::default()
    };
    for event in events {
        let size = event.raw.as_str().len();
        let normalized = match &event.parsed {
            _ if size > policy.max_event_bytes => Err(Rejection {
                reason: RejectReason::EventTooLarge,
                detail: format!(
                    "the event is {size} bytes, more than ingest.max_event_bytes ({})",
                    policy.max_event_bytes
                ),
                transaction_id: None,
            }),
            Ok(json) => normalize(json, event.lineage.enqueued_at.unwrap_or(now), policy),
            Err(rejection) => Err(rejection.clone()),
        };
        match normalized {
            Ok((transaction, format)) => batch.accepted.push(Accepted {
                fingerprint: transaction.fingerprint(),
                transaction,
                format,
                raw: event.raw,
                lineage: event.lineage,
            }),
            Err(rejection) => batch.rejected.push(Rejected {
                rejection,
                raw: event.raw,
                lineage: event.lineage,
            }),
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_body_is_kept_as_text_or_base64_and_identified_by_its_bytes() {
        let text = InvalidBody::new(b"not json", "the body is not JSON".into());
        assert_eq!(text.raw, RawText::Utf8("not json".into()));
        assert_eq!(text.detail, "the body is not JSON");
        let binary = InvalidBody::new(b"nul\0byte", String::new());
        assert_eq!(binary.raw, RawText::Base64("bnVsAGJ5dGU=".into()));
        assert_eq!(binary.raw.encoding(), "base64");
        let again = InvalidBody::new(b"not json", "another reason".into());
        assert_eq!(
            again.fingerprint, text.fingerprint,
            "the detail is not identity"
        );
        assert_ne!(binary.fingerprint, text.fingerprint);
    }
}
