//! A quarantined event made a [`RawEvent`] again, so `handler redrive` judges it with
//! exactly the code live ingest uses.
//!
//! The stored text goes back through [`Invocation::parse`] as a one-event invocation
//! (base64 rows as the host's binary items, text rows as text items), so the event's
//! JSON is read as ingest reads it; its lineage comes from the quarantine row.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use super::{Invocation, Lineage, RawEvent, RawText, RejectReason, Rejection};

/// Why a quarantine row cannot be made an event again.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    /// `raw_encoding` is `base64` but `raw` does not decode.
    #[error("raw is marked base64 but does not decode: {0}")]
    Base64(String),
    /// `raw_encoding` is neither `utf8` nor `base64`.
    #[error("unknown raw_encoding {0:?}")]
    Encoding(String),
}

/// The event a quarantine row holds: `raw` decoded as `encoding` says, parsed as ingest
/// parses an event, placed where `lineage` says.
///
/// # Errors
/// [`RedriveError`] when the stored text cannot be decoded.
pub fn raw_event(raw: &str, encoding: &str, lineage: Lineage) -> Result<RawEvent, RedriveError> {
    let stored = match encoding {
        "utf8" => RawText::Utf8(raw.to_owned()),
        "base64" => {
            BASE64
                .decode(raw)
                .map_err(|e| RedriveError::Base64(e.to_string()))?;
            RawText::Base64(raw.to_owned())
        }
        other => return Err(RedriveError::Encoding(other.to_owned())),
    };
    let body = json!({ "Data": { "events": [raw] } });
    let parsed = Invocation::parse(body.to_string().as_bytes())
        .ok()
        .and_then(|invocation| invocation.events.into_iter().next())
        .map_or_else(
            || {
                Err(Rejection {
                    reason: RejectReason::MalformedJson,
                    detail: "the event could not be read".to_owned(),
                    transaction_id: None,
                })
            },
            |e| e.parsed,
        );
    Ok(RawEvent {
        raw: stored,
        parsed,
        lineage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_row_is_parsed_as_ingest_parses_it() {
        let event = raw_event(r#"{"a": 1}"#, "utf8", Lineage::default()).unwrap();
        assert_eq!(event.parsed.unwrap(), json!({"a": 1}));
        assert_eq!(event.raw, RawText::Utf8(r#"{"a": 1}"#.into()));
        let event = raw_event("{not json", "utf8", Lineage::default()).unwrap();
        assert!(event.parsed.is_err());
    }

    #[test]
    fn a_base64_row_is_decoded_exactly_and_kept_as_it_was() {
        let bytes = BASE64.encode([0xff, 0x00, 0x7b]);
        let event = raw_event(&bytes, "base64", Lineage::default()).unwrap();
        assert!(event.parsed.is_err());
        assert_eq!(event.raw, RawText::Base64(bytes));
        assert!(raw_event("@@@", "base64", Lineage::default()).is_err());
        assert!(raw_event("x", "latin1", Lineage::default()).is_err());
    }
}
