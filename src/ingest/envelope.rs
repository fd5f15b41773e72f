//! The Functions host's invocation body for an Event Hub trigger, taken apart.
//!
//! The host POSTs `{"Data": {"<binding>": value}, "Metadata": {...}}`. It serializes
//! values a second time: with `cardinality: many` the trigger value is a *string* holding
//! a JSON array, of event texts (`dataType: string`) or of base64 strings
//! (`dataType: binary`). The metadata arrays (`SequenceNumberArray`, `OffsetArray`,
//! `EnqueuedTimeUtcArray`, `PartitionKeyArray`, `SystemPropertiesArray`) arrive the same
//! way, while `PartitionContext`, `TriggerPartitionContext` and `sys` arrive as objects.
//! Every value is accepted both string-wrapped and plain, and `cardinality: one` (a single
//! event with scalar metadata) works too.
//!
//! Host quirks handled here: `OffsetStringArray` is preferred over `OffsetArray` (which
//! holds `"-1"` in geo-replicated namespaces); the `cardinality: one` `Offset` arrives
//! JSON-quoted; a UTF-8 byte-order mark may precede JSON; an empty event does not make a
//! binary batch look like text. An event text whose JSON repeats a key is refused as
//! `ambiguous_json` (an event given as a JSON object, not text, was already read by the
//! body's parser and cannot be checked).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{RejectReason, Rejection};

/// The name of the trigger binding in `EventHubTrigger/function.json`, preferred when
/// `Data` holds more than one value.
pub const TRIGGER_BINDING: &str = "events";

/// Why a body is not an Event Hub invocation at all.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is not JSON.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object with a `Data` object.
    #[error(
        "the body has no \"Data\" object: expected {{\"Data\": {{\"{TRIGGER_BINDING}\": ...}}, \"Metadata\": {{...}}}}"
    )]
    NoData,
    /// `Data` holds no binding value.
    #[error("\"Data\" holds no trigger value")]
    NoTriggerValue,
    /// `Data` holds several values and none is named `events`.
    #[error("\"Data\" holds several values ({0}) and none is named \"{TRIGGER_BINDING}\"")]
    AmbiguousTrigger(String),
    /// The trigger value is null.
    #[error("the trigger value \"Data.{0}\" is null")]
    NullTrigger(String),
}

/// An event exactly as received, as it is stored in `rejected_events.raw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawText {
    /// The event's text (decoded from base64 when it arrived as binary).
    Utf8(String),
    /// Bytes that are not UTF-8 text or contain NUL, kept as base64 so nothing is lost.
    Base64(String),
}

impl RawText {
    pub(super) fn from_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => Self::Utf8(text.to_owned()),
            _ => Self::Base64(BASE64.encode(bytes)),
        }
    }

    fn from_text(text: &str) -> Self {
        if text.contains('\0') {
            Self::Base64(BASE64.encode(text.as_bytes()))
        } else {
            Self::Utf8(text.to_owned())
        }
    }

    /// The text stored in `rejected_events.raw` (its encoding in `raw_encoding`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Utf8(text) | Self::Base64(text) => text,
        }
    }

    /// `utf8` or `base64`, stored in `rejected_events.raw_encoding`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Self::Utf8(_) => "utf8",
            Self::Base64(_) => "base64",
        }
    }
}

/// Where an event came from in Event Hubs, as far as the host told us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    /// Event Hubs partition.
    pub partition_id: Option<String>,
    /// Sequence number within the partition: the event's stable identity for replays.
    pub sequence_number: Option<i64>,
    /// Offset within the partition.
    pub offset: Option<String>,
    /// When Event Hubs accepted the event.
    pub enqueued_at: Option<DateTime<Utc>>,
    /// Position in this invocation's batch, from 0.
    pub batch_index: usize,
}

/// One event of a batch, before validation.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// The event's text as received, kept for quarantine.
    pub raw: RawText,
    /// The event's JSON, or why it cannot be read as JSON (`malformed_json`, or
    /// `ambiguous_json` when an object repeats a key).
    pub parsed: Result<Value, Rejection>,
    /// Its place in the Event Hubs stream.
    pub lineage: Lineage,
}

/// A parsed Event Hub invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The events, in delivery order.
    pub events: Vec<RawEvent>,
    /// The partition the batch came from, when the host said.
    pub partition_id: Option<String>,
}

impl Invocation {
    /// Parses an invocation body.
    ///
    /// # Errors
    /// [`EnvelopeError`] when the body is not an invocation at all; single malformed events
    /// are not errors here, they become [`RawEvent`]s whose `parsed` is `Err`.
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let body = body.strip_prefix(BOM.as_bytes()).unwrap_or(body);
        let root: Value =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        let root = root.as_object().ok_or(EnvelopeError::NoData)?;
        let data = field(root, "Data")
            .and_then(Value::as_object)
            .ok_or(EnvelopeError::NoData)?;
        let (name, value) = trigger_value(data)?;
        let empty = Map::new();
        let metadata = field(root, "Metadata")
            .and_then(Value::as_object)
            .unwrap_or(&empty);

        let items = unwrap_trigger(name, value)?;
        // dataType binary: every item is base64. Only then is an item that does not decode
        // to JSON kept as base64; otherwise a text item is kept exactly as received.
        // An empty event body is "" in either, so it decides nothing.
        let mut bodies = items
            .iter()
            .filter(|item| item.as_str() != Some(""))
            .peekable();
        let binary = bodies.peek().is_some()
            && bodies.all(|item| item.as_str().is_some_and(|t| decode_base64(t).is_some()));
        let partition_id = partition_id(metadata);
        let single = items.len() == 1;
        let sequence = metadata_array(metadata, "SequenceNumberArray");
        // Geo-replicated namespaces put "-1" in OffsetArray; OffsetStringArray is right.
        let offsets = metadata_array(metadata, "OffsetStringArray")
            .or_else(|| metadata_array(metadata, "OffsetArray"));
        let enqueued = metadata_array(metadata, "EnqueuedTimeUtcArray");
        let system = metadata_array(metadata, "SystemPropertiesArray");

        let events = items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let at = |array: &Option<Vec<Value>>, scalar: &str, system_keys: &[&str]| {
                    array
                        .as_ref()
                        .and_then(|a| a.get(index))
                        .filter(|v| !v.is_null())
                        .or_else(|| single.then(|| metadata.get(scalar)).flatten())
                        .or_else(|| {
                            let props = system.as_ref()?.get(index)?.as_object()?;
                            system_keys.iter().find_map(|k| props.get(*k))
                        })
                        .cloned()
                };
                let seq = at(
                    &sequence,
                    "SequenceNumber",
                    &["x-opt-sequence-number", "SequenceNumber"],
                );
                let offset = at(&offsets, "Offset", &["x-opt-offset", "Offset"]);
                let enqueued_at = at(
                    &enqueued,
                    "EnqueuedTimeUtc",
                    &["x-opt-enqueued-time", "EnqueuedTimeUtc"],
                );
                let (raw, parsed) = decode_event(item, binary);
                RawEvent {
                    raw,
                    parsed,
                    lineage: Lineage {
                        partition_id: partition_id.clone(),
                        sequence_number: seq.as_ref().and_then(as_i64),
                        offset: offset.as_ref().and_then(as_text).map(unquoted),
                        enqueued_at: enqueued_at.as_ref().and_then(as_time),
                        batch_index: index,
                    },
                }
            })
            .collect();
        Ok(Self {
            events,
            partition_id,
        })
    }
}

/// `Data`, `data`: the host writes `Data`; be lenient about hand-written bodies.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .get(name)
        .or_else(|| object.get(&name.to_ascii_lowercase()))
}

fn trigger_value(data: &Map<String, Value>) -> Result<(&str, &Value), EnvelopeError> {
    match data.len() {
        0 => Err(EnvelopeError::NoTriggerValue),
        1 => {
            let (name, value) = data.iter().next().expect("one entry");
            Ok((name, value))
        }
        _ => data
            .get_key_value(TRIGGER_BINDING)
            .map(|(n, v)| (n.as_str(), v))
            .ok_or_else(|| {
                EnvelopeError::AmbiguousTrigger(data.keys().cloned().collect::<Vec<_>>().join(", "))
            }),
    }
}

/// The trigger value as a list of items, each an event (text, base64 or JSON).
fn unwrap_trigger(name: &str, value: &Value) -> Result<Vec<Value>, EnvelopeError> {
    match value {
        Value::Null => Err(EnvelopeError::NullTrigger(name.to_owned())),
        Value::Array(items) => Ok(items.clone()),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            // cardinality many: a JSON array serialized into a string.
            Ok(Value::Array(items)) => Ok(items),
            // cardinality one, dataType string: a JSON string serialized into a string.
            Ok(inner @ Value::String(_)) => Ok(vec![inner]),
            // A lone event given as text, or something that is not JSON: one raw event.
            _ => Ok(vec![value.clone()]),
        },
        other => Ok(vec![other.clone()]),
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with(['{', '[', '"']) {
        return None;
    }
    BASE64.decode(trimmed).ok()
}

/// One item of the batch: an event's text, its bytes in base64 (`dataType: binary`), or
/// a JSON value. A text item that happens to be valid base64 is decoded only when the
/// result is JSON, or when the whole batch is binary.
fn decode_event(item: Value, binary: bool) -> (RawText, Result<Value, Rejection>) {
    match item {
        Value::String(text) => {
            if let Some(bytes) = decode_base64(&text) {
                let (decoded, parsed) = decode_body(&bytes);
                let is_json = match &parsed {
                    Ok(_) => true,
                    Err(rejection) => rejection.reason == RejectReason::AmbiguousJson,
                };
                if is_json || binary {
                    return (decoded, parsed);
                }
            }
            let parsed = parse_event_json(&text);
            (RawText::from_text(&text), parsed)
        }
        other => (RawText::Utf8(other.to_string()), Ok(other)),
    }
}

/// An event body given as bytes (a binary batch's item, an archived event): its text, or
/// base64 when it is not UTF-8 text, and its JSON.
fn decode_body(bytes: &[u8]) -> (RawText, Result<Value, Rejection>) {
    let decoded = RawText::from_bytes(bytes);
    let parsed = match &decoded {
        RawText::Utf8(text) => parse_event_json(text),
        RawText::Base64(_) => Err(malformed(
            "the binary event body is not UTF-8 text (kept as base64 in raw)".into(),
        )),
    };
    (decoded, parsed)
}

impl RawEvent {
    /// The event whose body is `bytes`, read as the trigger reads a binary batch's item
    /// (`dataType: binary`), placed where `lineage` says.
    pub fn from_body(bytes: &[u8], lineage: Lineage) -> Self {
        let (raw, parsed) = decode_body(bytes);
        Self {
            raw,
            parsed,
            lineage,
        }
    }
}

/// The byte-order mark some .NET producers put before UTF-8 text.
const BOM: &str = "\u{feff}";

/// An event's JSON: malformed, ambiguous (a key repeated in one object, of which serde
/// would silently keep the last), or its value with numbers exact.
fn parse_event_json(text: &str) -> Result<Value, Rejection> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let json = serde_json::from_str(text)
        .map_err(|e| malformed(format!("the event is not valid JSON: {e}")))?;
    serde_json::from_str::<UniqueKeys>(text).map_err(|e| Rejection {
        reason: RejectReason::AmbiguousJson,
        detail: format!("the event's JSON is ambiguous: {e}"),
        transaction_id: None,
    })?;
    Ok(json)
}

fn malformed(detail: String) -> Rejection {
    Rejection {
        reason: RejectReason::MalformedJson,
        detail,
        transaction_id: None,
    }
}

/// A JSON document read only to refuse an object that repeats a key.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!(
                    "the key \"{key}\" appears more than once in one object"
                )));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

/// The host writes the `Offset` of `cardinality: one` JSON-quoted (`"\"4096\""`).
fn unquoted(offset: String) -> String {
    match serde_json::from_str::<String>(&offset) {
        Ok(inner) if offset.starts_with('"') => inner,
        _ => offset,
    }
}

/// A metadata array, string-wrapped (`"[1,2]"`) or plain (`[1,2]`).
fn metadata_array(metadata: &Map<String, Value>, key: &str) -> Option<Vec<Value>> {
    match metadata.get(key)? {
        Value::Array(items) => Some(items.clone()),
        Value::String(text) => match serde_json::from_str(text) {
            Ok(Value::Array(items)) => Some(items),
            _ => None,
        },
        _ => None,
    }
}

/// A metadata object, plain or string-wrapped.
fn metadata_object(metadata: &Map<String, Value>, key: &str) -> Option<Map<String, Value>> {
    match metadata.get(key)? {
        Value::Object(object) => Some(object.clone()),
        Value::String(text) => match serde_json::from_str(text) {
            Ok(Value::Object(object)) => Some(object),
            _ => None,
        },
        _ => None,
    }
}

fn partition_id(metadata: &Map<String, Value>) -> Option<String> {
    ["TriggerPartitionContext", "PartitionContext"]
        .iter()
        .filter_map(|key| metadata_object(metadata, key))
        .find_map(|context| context.get("PartitionId").and_then(as_text))
}

fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// .NET writes `DateTime` as RFC 3339 with an offset, or without one for unspecified
/// kinds (which the Event Hubs extension always means as UTC).
fn as_time(value: &Value) -> Option<DateTime<Utc>> {
    let text = value.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    #[test]
    fn a_string_wrapped_batch_and_its_metadata_arrays_are_unwrapped() {
        let events = vec![r#"{"a":1}"#, r#"{"a":2}"#];
        let invocation = Invocation::parse(&body(json!({
            "Data": {"events": serde_json::to_string(&events).unwrap()},
            "Metadata": {
                "SequenceNumberArray": "[7,8]",
                "OffsetArray": "[\"100\",\"200\"]",
                "EnqueuedTimeUtcArray": "[\"2026-11-26T10:00:00Z\",\"2026-11-26T10:00:01.5\"]",
                "TriggerPartitionContext": {"PartitionId": "3"},
            }
        })))
        .unwrap();
        assert_eq!(invocation.partition_id.as_deref(), Some("3"));
        assert_eq!(invocation.events.len(), 2);
        let second = &invocation.events[1];
        assert_eq!(second.raw, RawText::Utf8(r#"{"a":2}"#.into()));
        assert_eq!(second.parsed.as_ref().unwrap(), &json!({"a": 2}));
        assert_eq!(second.lineage.sequence_number, Some(8));
        assert_eq!(second.lineage.offset.as_deref(), Some("200"));
        assert_eq!(
            second.lineage.enqueued_at.unwrap().to_rfc3339(),
            "2026-11-26T10:00:01.500+00:00"
        );
        assert_eq!(second.lineage.batch_index, 1);
    }

    #[test]
    fn plain_arrays_and_base64_binary_bodies_are_accepted() {
        let invocation = Invocation::parse(&body(json!({
            "Data": {"events": [BASE64.encode(br#"{"b":true}"#), {"c": 3}]},
            "Metadata": {"SequenceNumberArray": [1, 2], "PartitionContext": "{\"PartitionId\":\"0\"}"}
        })))
        .unwrap();
        assert_eq!(invocation.partition_id.as_deref(), Some("0"));
        assert_eq!(
            invocation.events[0].raw,
            RawText::Utf8(r#"{"b":true}"#.into())
        );
        assert_eq!(
            invocation.events[0].parsed.as_ref().unwrap(),
            &json!({"b": true})
        );
        assert_eq!(
            invocation.events[1].parsed.as_ref().unwrap(),
            &json!({"c": 3})
        );
    }

    #[test]
    fn cardinality_one_with_scalar_metadata_is_one_event() {
        let invocation = Invocation::parse(&body(json!({
            "Data": {"event": "\"{\\\"a\\\":1}\""},
            "Metadata": {"SequenceNumber": 42}
        })))
        .unwrap();
        assert_eq!(invocation.events.len(), 1);
        assert_eq!(
            invocation.events[0].parsed.as_ref().unwrap(),
            &json!({"a": 1})
        );
        assert_eq!(invocation.events[0].lineage.sequence_number, Some(42));
    }

    #[test]
    fn a_broken_event_is_kept_raw_with_its_parse_error() {
        let invocation = Invocation::parse(&body(
            json!({"Data": {"events": ["{\"a\":", "not json at all"]}}),
        ))
        .unwrap();
        assert_eq!(invocation.events[0].raw.as_str(), "{\"a\":");
        assert!(
            invocation.events[0]
                .parsed
                .as_ref()
                .unwrap_err()
                .detail
                .contains("not valid JSON")
        );
        assert_eq!(invocation.events[1].raw.as_str(), "not json at all");
        assert!(invocation.events[1].parsed.is_err());
    }

    #[test]
    fn text_events_that_happen_to_be_base64_are_kept_as_received() {
        let invocation = Invocation::parse(&body(
            json!({"Data": {"events": ["SGVsbG8=", "test", "{\"a\":1}"]}}),
        ))
        .unwrap();
        assert_eq!(invocation.events[0].raw, RawText::Utf8("SGVsbG8=".into()));
        assert_eq!(invocation.events[1].raw, RawText::Utf8("test".into()));
        assert!(invocation.events[0].parsed.is_err());
    }

    #[test]
    fn binary_that_is_not_text_is_kept_as_base64() {
        let encoded = BASE64.encode([0xff, 0x00, 0x10]);
        let invocation =
            Invocation::parse(&body(json!({"Data": {"events": [encoded.clone()]}}))).unwrap();
        assert_eq!(invocation.events[0].raw, RawText::Base64(encoded));
        assert!(invocation.events[0].parsed.is_err());
    }

    #[test]
    fn bodies_that_are_not_invocations_are_envelope_errors() {
        assert!(matches!(
            Invocation::parse(b"{"),
            Err(EnvelopeError::NotJson(_))
        ));
        assert!(matches!(
            Invocation::parse(b"[1]"),
            Err(EnvelopeError::NoData)
        ));
        assert!(matches!(
            Invocation::parse(b"{\"Data\":{}}"),
            Err(EnvelopeError::NoTriggerValue)
        ));
        assert!(matches!(
            Invocation::parse(b"{\"Data\":{\"x\":1,\"y\":2}}"),
            Err(EnvelopeError::AmbiguousTrigger(_))
        ));
        assert!(matches!(
            Invocation::parse(b"{\"Data\":{\"events\":null}}"),
            Err(EnvelopeError::NullTrigger(_))
        ));
    }

    #[test]
    fn the_offset_string_array_wins_over_the_geo_replicated_offset_array() {
        let invocation = Invocation::parse(&body(json!({
            "Data": {"events": "[\"{}\",\"{}\"]"},
            "Metadata": {
                "OffsetArray": "[\"-1\",\"-1\"]",
                "OffsetStringArray": "[\"4096\",\"8192\"]",
            }
        })))
        .unwrap();
        let offsets: Vec<_> = invocation
            .events
            .iter()
            .map(|e| e.lineage.offset.as_deref())
            .collect();
        assert_eq!(offsets, [Some("4096"), Some("8192")]);
    }

    #[test]
    fn the_json_quoted_offset_of_cardinality_one_is_unwrapped() {
        let invocation = Invocation::parse(&body(json!({
            "Data": {"events": "{\"a\":1}"},
            "Metadata": {"Offset": "\"4096\"", "SequenceNumber": "7"}
        })))
        .unwrap();
        assert_eq!(invocation.events[0].lineage.offset.as_deref(), Some("4096"));
        assert_eq!(invocation.events[0].lineage.sequence_number, Some(7));
    }

    #[test]
    fn a_byte_order_mark_before_the_body_or_an_event_is_skipped() {
        let mut bytes = BOM.as_bytes().to_vec();
        bytes.extend(body(json!({
            "Data": {"events": [format!("{BOM}{{\"a\":1}}")]}
        })));
        let invocation = Invocation::parse(&bytes).unwrap();
        assert_eq!(
            invocation.events[0].parsed.as_ref().unwrap(),
            &json!({"a": 1})
        );
    }

    #[test]
    fn an_empty_event_in_a_binary_batch_leaves_the_rest_binary() {
        // "e30=" is "{}", "bm90IGpzb24=" is "not json": binary only if the batch is.
        let invocation = Invocation::parse(&body(json!({
            "Data": {"events": "[\"\",\"e30=\",\"bm90IGpzb24=\"]"}
        })))
        .unwrap();
        let events = &invocation.events;
        assert!(events[0].parsed.is_err());
        assert_eq!(events[1].parsed.as_ref().unwrap(), &json!({}));
        assert_eq!(events[2].raw.as_str(), "not json");
        assert_eq!(
            events[2].parsed.as_ref().unwrap_err().reason,
            RejectReason::MalformedJson
        );
    }

    #[test]
    fn an_event_repeating_a_key_is_ambiguous_even_when_nested() {
        for text in [
            r#"{"amount": "1.00", "amount": "100.00"}"#,
            r#"{"a": [{"b": 1, "b": 2}]}"#,
        ] {
            let rejection = parse_event_json(text).unwrap_err();
            assert_eq!(rejection.reason, RejectReason::AmbiguousJson, "{text}");
        }
        let rejection = parse_event_json(r#"{"amount": 1, "amount": 2}"#).unwrap_err();
        assert!(
            rejection
                .detail
                .contains(r#""amount" appears more than once"#)
        );
        // Same key in sibling objects is fine, and numbers stay exact.
        let json = parse_event_json(r#"{"a": {"k": 1}, "b": {"k": 12.340}}"#).unwrap();
        assert_eq!(json["b"]["k"].to_string(), "12.340");
    }

    #[test]
    fn every_kind_of_json_value_in_an_event_is_read_for_repeated_keys() {
        let text = r#"{"list": [1, -2, 3.5, "x", true, null, {"k": -9}], "n": -40}"#;
        let json = parse_event_json(text).unwrap();
        assert_eq!(json["list"][1].to_string(), "-2");
        assert_eq!(json["list"][2].to_string(), "3.5");
        assert_eq!(json["n"].to_string(), "-40");
        let rejection = parse_event_json(r#"[{"k": -1, "k": -2}]"#).unwrap_err();
        assert_eq!(rejection.reason, RejectReason::AmbiguousJson);
    }

    #[test]
    fn a_text_event_holding_nul_is_kept_as_base64() {
        let text = "{\"a\":\"\u{0}\"}";
        let invocation =
            Invocation::parse(&body(json!({"Data": {"events": [text, "{}"]}}))).unwrap();
        let (nul, plain) = (&invocation.events[0].raw, &invocation.events[1].raw);
        assert_eq!(nul, &RawText::Base64(BASE64.encode(text.as_bytes())));
        assert_eq!((nul.encoding(), plain.encoding()), ("base64", "utf8"));
        assert_eq!(
            invocation.events[0].parsed.as_ref().unwrap_err().reason,
            RejectReason::MalformedJson
        );
    }

    #[test]
    fn a_trigger_value_that_is_an_object_is_one_event() {
        let invocation = Invocation::parse(&body(json!({"Data": {"events": {"a": 1}}}))).unwrap();
        assert_eq!(invocation.events.len(), 1);
        assert_eq!(invocation.events[0].raw.as_str(), r#"{"a":1}"#);
        assert_eq!(
            invocation.events[0].parsed.as_ref().unwrap(),
            &json!({"a": 1})
        );
    }

    #[test]
    fn the_system_properties_fill_in_what_the_metadata_arrays_leave_out() {
        let invocation = Invocation::parse(&body(json!({
            "Data": {"events": ["{}", "{}"]},
            "Metadata": {
                "SequenceNumberArray": [10, null],
                "SystemPropertiesArray": [
                    {"x-opt-sequence-number": 1},
                    {
                        "x-opt-sequence-number": 11,
                        "x-opt-offset": 4096,
                        "EnqueuedTimeUtc": "2026-11-26T10:00:00+01:00",
                    },
                ],
            }
        })))
        .unwrap();
        let second = &invocation.events[1].lineage;
        assert_eq!(invocation.events[0].lineage.sequence_number, Some(10));
        assert_eq!(second.sequence_number, Some(11));
        assert_eq!(second.offset.as_deref(), Some("4096"));
        assert_eq!(
            second.enqueued_at.unwrap().to_rfc3339(),
            "2026-11-26T09:00:00+00:00"
        );
    }

    #[test]
    fn metadata_of_an_unexpected_shape_is_ignored_not_fatal() {
        let invocation = Invocation::parse(&body(json!({
            "Data": {"events": ["{}", "{}"]},
            "Metadata": {
                "SequenceNumberArray": "not an array",
                "OffsetStringArray": 7,
                "OffsetArray": [true, "-1"],
                "EnqueuedTimeUtcArray": "[1, \"yesterday\"]",
                "SystemPropertiesArray": [{"x-opt-sequence-number": false}],
                "TriggerPartitionContext": "[\"0\"]",
                "PartitionContext": 3,
            }
        })))
        .unwrap();
        assert_eq!(invocation.partition_id, None);
        let lineages: Vec<_> = invocation
            .events
            .iter()
            .map(|e| {
                let l = &e.lineage;
                (l.sequence_number, l.offset.as_deref(), l.enqueued_at)
            })
            .collect();
        assert_eq!(lineages, [(None, None, None), (None, Some("-1"), None)]);
    }
}
