//! Event Hubs Capture archive files written as Capture writes them, for the replay tests
//! and the replay bench: Avro object container files (deflate) of records in Capture's
//! documented schema, named by Capture's default layout. Written from Microsoft's
//! description, independently of the code that reads them (`src/ingest/capture.rs`).
//! Included by path from the binaries that need it.

use apache_avro::types::Value as Avro;
use apache_avro::{Codec, DeflateSettings, Schema, Writer};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Capture's record schema, as Microsoft documents it.
pub const CAPTURE_SCHEMA: &str = r#"{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging","fields":[
    {"name":"SequenceNumber","type":"long"},{"name":"Offset","type":"string"},
    {"name":"EnqueuedTimeUtc","type":"string"},
    {"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},
    {"name":"Properties","type":{"type":"map","values":["long","double","string","bytes"]}},
    {"name":"Body","type":["null","bytes"]}]}"#;

/// The schema, parsed.
pub fn capture_schema() -> Schema {
    Schema::parse_str(CAPTURE_SCHEMA).unwrap()
}

/// A writer of one archive file, deflate-coded as Capture's are.
pub fn capture_writer(schema: &Schema) -> Writer<'_, Vec<u8>> {
    Writer::with_codec(
        schema,
        Vec::new(),
        Codec::Deflate(DeflateSettings::default()),
    )
    .unwrap()
}

/// Capture's `EnqueuedTimeUtc` text (`12/1/2026 8:55:03 PM`).
pub fn capture_time(at: DateTime<Utc>) -> String {
    at.format("%-m/%-d/%Y %-I:%M:%S %p").to_string()
}

/// The name of the file of `partition`'s 5-minute window holding `at`, under
/// `{Namespace}/{EventHub}`: `{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}.avro`.
pub fn capture_name(namespace_and_hub: &str, partition: u32, at: DateTime<Utc>) -> String {
    let window = at.duration_trunc(TimeDelta::minutes(5)).unwrap();
    format!(
        "{namespace_and_hub}/{partition}/{}.avro",
        window.format("%Y/%m/%d/%H/%M/%S")
    )
}

/// One record: the event's position, enqueued time and body, with the enqueued time also
/// in `SystemProperties` as Capture writes it.
pub fn capture_record(sequence: i64, enqueued: DateTime<Utc>, body: &[u8]) -> Avro {
    let system = [(
        "x-opt-enqueued-time".to_owned(),
        Avro::Union(0, Box::new(Avro::Long(enqueued.timestamp_millis()))),
    )];
    Avro::Record(vec![
        ("SequenceNumber".into(), Avro::Long(sequence)),
        ("Offset".into(), Avro::String((sequence * 512).to_string())),
        (
            "EnqueuedTimeUtc".into(),
            Avro::String(capture_time(enqueued)),
        ),
        (
            "SystemProperties".into(),
            Avro::Map(system.into_iter().collect()),
        ),
        ("Properties".into(), Avro::Map(Default::default())),
        (
            "Body".into(),
            Avro::Union(1, Box::new(Avro::Bytes(body.to_vec()))),
        ),
    ])
}
