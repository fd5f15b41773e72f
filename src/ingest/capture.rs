//! Event Hubs Capture's archive files, read back into the events the trigger delivered.
//!
//! Capture writes each partition's events as Avro object container files of records in
//! its fixed schema: `SequenceNumber` (long), `Offset` (string), `EnqueuedTimeUtc`
//! (string), `SystemProperties` and `Properties` (maps), `Body` (bytes or null). A
//! [`CaptureReader`] streams one file's records; [`CaptureRecord::into_event`] makes each
//! the [`RawEvent`] a binary trigger batch would have held, with the same lineage
//! (partition, sequence number, offset, enqueued time), so the event is judged, stored
//! and deduplicated exactly as when it first arrived.

use std::io::Read;

use apache_avro::types::Value;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::{Lineage, RawEvent};

/// Why an archive file, or one of its records, cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file is not an Avro object container file (its header is unreadable).
    #[error("not an Avro object container file: {0}")]
    NotAvro(String),
    /// A record cannot be read (a file cut short, a corrupt block) or is not in Capture's
    /// schema; `index` counts the file's records from 0.
    #[error("record {index}: {reason}")]
    Record {
        /// The record's position in the file.
        index: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// One archived event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRecord {
    /// Its sequence number in the partition: the identity a replay keeps.
    pub sequence_number: i64,
    /// Its offset in the partition.
    pub offset: String,
    /// When Event Hubs accepted it.
    pub enqueued_at: DateTime<Utc>,
    /// The event's body as sent (empty when Capture wrote null).
    pub body: Vec<u8>,
}

impl CaptureRecord {
    /// The event as the trigger delivers it from partition `partition_id`, at position
    /// `batch_index` of the batch it is replayed in.
    pub fn into_event(self, partition_id: &str, batch_index: usize) -> RawEvent {
        RawEvent::from_body(
            &self.body,
            Lineage {
                partition_id: Some(partition_id.to_owned()),
                sequence_number: Some(self.sequence_number),
                offset: Some(self.offset),
                enqueued_at: Some(self.enqueued_at),
                batch_index,
            },
        )
    }
}

/// The records of one archive file, read as they are needed (a file is never held whole).
/// After the first error the reader yields nothing more.
pub struct CaptureReader<R: Read> {
    avro: apache_avro::Reader<'static, R>,
    next: u64,
    failed: bool,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file's header.
    ///
    /// # Errors
    /// [`CaptureError::NotAvro`] when `reader` does not start with an Avro header.
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        let avro =
            apache_avro::Reader::new(reader).map_err(|e| CaptureError::NotAvro(e.to_string()))?;
        Ok(Self {
            avro,
            next: 0,
            failed: false,
        })
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<CaptureRecord, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let index = self.next;
        let item = self
            .avro
            .next()?
            .map_err(|e| e.to_string())
            .and_then(record);
        self.next += 1;
        Some(item.map_err(|reason| {
            self.failed = true;
            CaptureError::Record { index, reason }
        }))
    }
}

/// A record in Capture's schema, by field name (so an added field changes nothing).
fn record(value: Value) -> Result<CaptureRecord, String> {
    let Value::Record(fields) = value else {
        return Err("not a record".into());
    };
    let mut sequence_number = None;
    let mut offset = None;
    let mut enqueued = None;
    let mut body = None;
    for (name, value) in fields {
        match (name.as_str(), unwrap_union(value)) {
            ("SequenceNumber", Value::Long(n)) => sequence_number = Some(n),
            ("Offset", Value::String(text)) => offset = Some(text),
            ("EnqueuedTimeUtc", Value::String(text)) => {
                enqueued = Some(
                    parse_enqueued_time(&text)
                        .ok_or_else(|| format!("EnqueuedTimeUtc {text:?} is not a time"))?,
                );
            }
            ("Body", Value::Bytes(bytes)) => body = Some(bytes),
            ("Body", Value::Null) => body = Some(Vec::new()),
            ("SequenceNumber" | "Offset" | "EnqueuedTimeUtc" | "Body", other) => {
                return Err(format!("{name} has the wrong type ({other:?})"));
            }
            _ => {}
        }
    }
    let missing = |field: &str| format!("the record has no {field} (not Capture's schema)");
    Ok(CaptureRecord {
        sequence_number: sequence_number.ok_or_else(|| missing("SequenceNumber"))?,
        offset: offset.ok_or_else(|| missing("Offset"))?,
        enqueued_at: enqueued.ok_or_else(|| missing("EnqueuedTimeUtc"))?,
        body: body.ok_or_else(|| missing("Body"))?,
    })
}

fn unwrap_union(value: Value) -> Value {
    match value {
        Value::Union(_, inner) => *inner,
        other => other,
    }
}

/// `EnqueuedTimeUtc` as Capture writes it (`12/1/2026 8:55:03 PM`, UTC, the .NET
/// invariant format), or an ISO 8601 time (with or without an offset; without is UTC).
pub fn parse_enqueued_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    [
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M:%S%.f %p",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|time| time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::{Codec, DeflateSettings, Schema, Writer};
    use chrono::TimeZone;

    const SCHEMA: &str = r#"{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging","fields":[
        {"name":"SequenceNumber","type":"long"},{"name":"Offset","type":"string"},
        {"name":"EnqueuedTimeUtc","type":"string"},
        {"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},
        {"name":"Properties","type":{"type":"map","values":["long","double","string","bytes"]}},
        {"name":"Body","type":["null","bytes"]}]}"#;

    fn file(records: &[(i64, &str, Option<&[u8]>)]) -> Vec<u8> {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let mut writer = Writer::with_codec(
            &schema,
            Vec::new(),
            Codec::Deflate(DeflateSettings::default()),
        )
        .unwrap();
        for (seq, enqueued, body) in records {
            let body = match body {
                Some(bytes) => Value::Union(1, Box::new(Value::Bytes(bytes.to_vec()))),
                None => Value::Union(0, Box::new(Value::Null)),
            };
            writer
                .append_value(Value::Record(vec![
                    ("SequenceNumber".into(), Value::Long(*seq)),
                    ("Offset".into(), Value::String(format!("{}", seq * 100))),
                    ("EnqueuedTimeUtc".into(), Value::String((*enqueued).into())),
                    ("SystemProperties".into(), Value::Map(Default::default())),
                    ("Properties".into(), Value::Map(Default::default())),
                    ("Body".into(), body),
                ]))
                .unwrap();
        }
        writer.into_inner().unwrap()
    }

    #[test]
    fn capture_records_become_the_events_a_binary_batch_delivers() {
        let bytes = file(&[
            (
                7,
                "12/1/2026 8:55:03 PM",
                Some(br#"{"transaction_id":"t-1"}"#),
            ),
            (8, "12/1/2026 8:55:04 PM", Some(&[0xff, 0xfe, 0x00])),
            (9, "2026-12-01T20:55:05.1234567Z", None),
        ]);
        let records: Vec<_> = CaptureReader::new(&bytes[..])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[0].enqueued_at,
            Utc.with_ymd_and_hms(2026, 12, 1, 20, 55, 3).unwrap()
        );
        let events: Vec<RawEvent> = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.into_event("3", i))
            .collect();
        assert_eq!(events[0].parsed.as_ref().unwrap()["transaction_id"], "t-1");
        assert_eq!(events[0].lineage.partition_id.as_deref(), Some("3"));
        assert_eq!(events[0].lineage.sequence_number, Some(7));
        assert_eq!(events[0].lineage.offset.as_deref(), Some("700"));
        // Not UTF-8: kept as base64 and malformed, as the trigger keeps a binary item.
        assert_eq!(events[1].raw.encoding(), "base64");
        assert!(events[1].parsed.is_err());
        // A null body is an empty event, malformed.
        assert_eq!(events[2].raw.as_str(), "");
        assert!(events[2].parsed.is_err());
        assert_eq!(events[2].lineage.batch_index, 2);
    }

    #[test]
    fn a_file_cut_short_yields_what_it_holds_then_one_error_naming_the_record() {
        let records: Vec<(i64, &str, Option<&[u8]>)> = (0..2000)
            .map(|i| (i, "12/1/2026 8:55:03 PM", Some(&b"{}"[..])))
            .collect();
        let bytes = file(&records);
        let cut = &bytes[..bytes.len() - 40];
        let results: Vec<_> = CaptureReader::new(cut).unwrap().collect();
        let errors: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
        assert_eq!(errors.len(), 1, "one error, then nothing");
        assert!(results.last().unwrap().is_err());
        let Err(CaptureError::Record { index, .. }) = results.last().unwrap() else {
            unreachable!()
        };
        assert_eq!(*index as usize, results.len() - 1);
        assert!(CaptureReader::new(&b"not avro"[..]).is_err());
    }

    #[test]
    fn enqueued_times_in_captures_and_iso_formats() {
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 3, 4, h, m, s).unwrap();
        assert_eq!(
            parse_enqueued_time("3/4/2026 1:02:03 AM"),
            Some(at(1, 2, 3))
        );
        assert_eq!(
            parse_enqueued_time("03/04/2026 12:02:03 PM"),
            Some(at(12, 2, 3))
        );
        assert_eq!(
            parse_enqueued_time("3/4/2026 12:02:03 AM"),
            Some(at(0, 2, 3))
        );
        assert_eq!(
            parse_enqueued_time("2026-03-04T01:02:03Z"),
            Some(at(1, 2, 3))
        );
        assert_eq!(
            parse_enqueued_time("2026-03-04T01:02:03"),
            Some(at(1, 2, 3))
        );
        assert_eq!(parse_enqueued_time("yesterday"), None);
    }
}
