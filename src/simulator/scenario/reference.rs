//! The scenario key reference of `docs/SIMULATOR-USER-GUIDE.md`, generated from the
//! scenario's own definitions, and the test that keeps the guide in step with them.
//!
//! The keys are not written here: they are read from the serde types themselves (each
//! struct and enum is made to name its fields or variants by a probe with a key it does
//! not have). The defaults are read from [`DEFAULT_SCENARIO`] (the base every file is
//! laid over) and, for what a file's own entry may leave out, from the code's serde
//! defaults. Only the descriptions live here, in [`KEYS`]: a key of the types without a
//! row, or a row without a key, fails the test.
//!
//! Regenerate the table with
//! `PAYMETRICS_UPDATE_DOCS=1 cargo test --locked --lib simulator::scenario::reference`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use super::{DEFAULT_TREE, Scenario, default_daily, default_hourly};
use crate::domain::PaymentType;

/// The guide the table is written into, relative to the crate.
pub(crate) const GUIDE: &str = "docs/SIMULATOR-USER-GUIDE.md";
/// The markers around the generated table.
pub(crate) const START: &str = "<!-- scenario-keys:start -->";
/// The end marker.
pub(crate) const END: &str = "<!-- scenario-keys:end -->";

/// What a key is when a file does not write it.
#[derive(Clone, Copy)]
enum Absent {
    /// The built-in scenario's value (the key is always written there).
    Base,
    /// The built-in scenario's value where it writes one; in a section the file writes
    /// itself (an entry of a map, a pattern or time of that kind), this value of the code.
    Code(fn() -> String),
    /// Must be written where its section is written.
    Required,
}

/// One key: its dotted name (`<type>` and the like stand for a map's keys, `[]` for a
/// list's items), what it takes and what it means.
struct Key {
    key: &'static str,
    takes: &'static str,
    about: &'static str,
    absent: Absent,
}

const fn key(key: &'static str, takes: &'static str, about: &'static str) -> Key {
    Key {
        key,
        takes,
        about,
        absent: Absent::Base,
    }
}

const fn required(key: &'static str, takes: &'static str, about: &'static str) -> Key {
    Key {
        key,
        takes,
        about,
        absent: Absent::Required,
    }
}

const fn or_code(
    key: &'static str,
    takes: &'static str,
    about: &'static str,
    code: fn() -> String,
) -> Key {
    Key {
        key,
        takes,
        about,
        absent: Absent::Code(code),
    }
}

/// A payment type entry with only its required keys, as the code completes it.
fn bare_payment_type() -> super::PaymentTypeMix {
    let s = Scenario::from_yaml(
        "payment_types: {card: {weight: 1, median: 1, sigma: 1}}\n",
        "probe",
    )
    .expect("a bare payment type is valid");
    s.payment_types
        .get(PaymentType::Card)
        .expect("card")
        .clone()
}

fn list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(ToString::to_string).collect();
    format!("`[{}]`", items.join(", "))
}

/// The keys, in the order of the table.
const KEYS: &[Key] = &[
    key(
        "seed",
        "whole number",
        "Seed of every random choice: the same seed and scenario give the same bytes. `run --seed` overrides it.",
    ),
    key(
        "rate",
        "section",
        "How many events a second, and how that varies.",
    ),
    key(
        "rate.events_per_second",
        "number, positive",
        "Mean events per second before the pattern and bursts apply; arrivals are Poisson. `run --rate` overrides it.",
    ),
    key(
        "rate.pattern",
        "section, replaced as a whole",
        "How the rate varies with time.",
    ),
    key(
        "rate.pattern.kind",
        "name",
        "`constant`: the same rate all the time; `diurnal`: a multiplier per UTC hour; `weekly`: a multiplier per weekday times the hourly one; `ramp`: a linear ramp of the multiplier, then flat.",
    ),
    or_code(
        "rate.pattern.hourly",
        "24 numbers (`diurnal`, `weekly`)",
        "Multipliers per UTC hour, hour 0 first.",
        || list(&default_hourly()),
    ),
    or_code(
        "rate.pattern.daily",
        "7 numbers (`weekly`)",
        "Multipliers per day of the week, Monday first.",
        || list(&default_daily()),
    ),
    required(
        "rate.pattern.from",
        "number, 0 or more (`ramp`)",
        "Multiplier at the start of the ramp.",
    ),
    required(
        "rate.pattern.to",
        "number, 0 or more (`ramp`)",
        "Multiplier at the end of the ramp.",
    ),
    required(
        "rate.pattern.over",
        "duration, positive (`ramp`)",
        "How long the ramp lasts.",
    ),
    key(
        "rate.bursts",
        "section, or `null` for none",
        "Random bursts on top of the pattern.",
    ),
    key(
        "rate.bursts.probability",
        "share, 0 to 1",
        "Chance per simulated second that a burst starts.",
    ),
    key(
        "rate.bursts.multiplier",
        "number, at least 1",
        "Rate multiplier during a burst.",
    ),
    key(
        "rate.bursts.duration",
        "duration",
        "How long a burst lasts.",
    ),
    key(
        "time",
        "section, replaced as a whole",
        "Real time or a backfill. `run --from/--to` switch to a backfill over that range.",
    ),
    key(
        "time.mode",
        "name",
        "`realtime`: paced at the rate, event time is the wall clock; `backfill`: event times over `[from, to)`, generated as fast as the sink takes them.",
    ),
    required(
        "time.from",
        "RFC 3339 time (`backfill`)",
        "First event time.",
    ),
    required(
        "time.to",
        "RFC 3339 time, after `from` (`backfill`)",
        "End of the range (exclusive).",
    ),
    key(
        "payment_types",
        "map of payment type to entry, replaced as a whole",
        "The payment types generated, by weight. A key is parsed as the handler parses `payment_type`.",
    ),
    required(
        "payment_types.<type>.weight",
        "number, 0 or more",
        "Relative weight; at least one type needs a positive weight.",
    ),
    required(
        "payment_types.<type>.median",
        "number, positive",
        "Median amount, in USD-equivalent major units (log-normal).",
    ),
    required(
        "payment_types.<type>.sigma",
        "number, 0 or more, under 5",
        "Log-normal sigma (spread) of the amount.",
    ),
    or_code(
        "payment_types.<type>.decline_rate",
        "share, 0 to 1",
        "Share declined. The four rates add up to at most 1; the rest is approved.",
        || bare_payment_type().decline_rate.to_string(),
    ),
    or_code(
        "payment_types.<type>.failure_rate",
        "share, 0 to 1",
        "Share failed.",
        || bare_payment_type().failure_rate.to_string(),
    ),
    or_code(
        "payment_types.<type>.pending_rate",
        "share, 0 to 1",
        "Share pending.",
        || bare_payment_type().pending_rate.to_string(),
    ),
    or_code(
        "payment_types.<type>.refund_rate",
        "share, 0 to 1",
        "Share refunded.",
        || bare_payment_type().refund_rate.to_string(),
    ),
    or_code(
        "payment_types.<type>.category_medians",
        "map of merchant category to positive number",
        "Median amount for merchants of a category (one of `merchants.categories`), instead of `median`.",
        || format!("`{:?}`", bare_payment_type().category_medians),
    ),
    key(
        "currencies",
        "map of ISO 4217 code to entry, replaced as a whole",
        "The currencies generated, by weight. Amounts are rounded to the currency's minor units (JPY 0, USD 2, KWD 3).",
    ),
    required(
        "currencies.<code>.weight",
        "number, 0 or more",
        "Relative weight; at least one currency needs a positive weight.",
    ),
    required(
        "currencies.<code>.per_usd",
        "number, positive",
        "Units of this currency per USD: amounts are drawn in USD-equivalent and multiplied by it.",
    ),
    key(
        "outcomes_by_hour",
        "24 numbers, 0 or more, or `null`",
        "Multipliers of every type's `decline_rate` and `failure_rate` per UTC hour, hour 0 first; `null`: the same rates all day.",
    ),
    key("merchants", "section", "The merchant population."),
    key(
        "merchants.count",
        "whole number, at least 1",
        "Number of merchants, `m-000000` upwards.",
    ),
    key(
        "merchants.zipf_exponent",
        "number, 0 or more",
        "Zipf exponent of their popularity: 0 is uniform, larger is a longer tail of small merchants.",
    ),
    key(
        "merchants.categories",
        "list of names, at least one",
        "Merchant categories, assigned to merchants in turn.",
    ),
    key("customers", "section", "The customer population."),
    key(
        "customers.count",
        "whole number, at least 1",
        "Number of customers.",
    ),
    key(
        "countries",
        "map of ISO 3166-1 alpha-2 code to weight, replaced as a whole",
        "Countries by weight; at least one positive.",
    ),
    key(
        "channels",
        "map of channel to weight, replaced as a whole",
        "Channels by weight; at least one positive. A key is parsed as the handler parses `channel`.",
    ),
    key(
        "fraud",
        "section",
        "Fraud episodes; their payments carry `is_fraud: true`.",
    ),
    key(
        "fraud.rate",
        "share, 0 to 1",
        "Chance per generated transaction that a fraud episode starts.",
    ),
    key(
        "fraud.card_testing",
        "section",
        "Card testing: a burst of small card payments at one merchant, mostly declined.",
    ),
    key(
        "fraud.card_testing.weight",
        "number",
        "Relative weight among the two typologies.",
    ),
    key(
        "fraud.card_testing.burst_size",
        "whole number",
        "Payments per burst.",
    ),
    key(
        "fraud.card_testing.max_amount",
        "number",
        "Largest amount, USD-equivalent.",
    ),
    key(
        "fraud.card_testing.decline_rate",
        "share, 0 to 1",
        "Share of the burst declined.",
    ),
    key(
        "fraud.account_takeover",
        "section",
        "Account takeover: a customer's account makes a few high-value payments.",
    ),
    key(
        "fraud.account_takeover.weight",
        "number",
        "Relative weight among the two typologies.",
    ),
    key(
        "fraud.account_takeover.payments",
        "whole number",
        "Payments per episode.",
    ),
    key(
        "fraud.account_takeover.amount_multiplier",
        "number",
        "Amount multiplier over the payment type's usual amount.",
    ),
    key(
        "faults",
        "section",
        "Deliberate faults, each at its own rate per transaction, each labelled in the manifest. Set a rate to 0 to turn that fault off.",
    ),
    key(
        "faults.duplicates",
        "share, 0 to 1",
        "The same bytes sent again, 1 to 20 events later.",
    ),
    key("faults.late", "section", "Events delivered late."),
    key(
        "faults.late.rate",
        "share, 0 to 1",
        "Share of transactions delivered late.",
    ),
    key(
        "faults.late.delay",
        "duration, at most 100y",
        "How long after its event time a late event is delivered.",
    ),
    key(
        "faults.out_of_order",
        "section",
        "Event times moved back, the position in the stream unchanged.",
    ),
    key(
        "faults.out_of_order.rate",
        "share, 0 to 1",
        "Share of transactions whose event time is moved back.",
    ),
    key(
        "faults.out_of_order.max_jitter",
        "duration, at most 1d",
        "Largest backwards shift of the event time.",
    ),
    key(
        "faults.malformed",
        "share, 0 to 1",
        "Extra broken events, on top of the transactions: broken JSON, missing field, bad currency, too many decimals, in turn.",
    ),
    key(
        "faults.legacy_format",
        "share, 0 to 1",
        "Share of transactions sent in the legacy camelCase format.",
    ),
    key(
        "incidents",
        "list of entries, or `null` for none; replaced as a whole",
        "Planted incidents, each written to the manifest. See [Incidents](#incidents).",
    ),
    required("incidents[].kind", "name", "What the incident does."),
    required(
        "incidents[].start",
        "offset (`2h`) or RFC 3339 time",
        "When it starts: an offset from the run's start, or a time.",
    ),
    required(
        "incidents[].duration",
        "duration, positive",
        "How long it lasts; active while event time is in `[start, start + duration)`.",
    ),
    required(
        "incidents[].payment_type",
        "payment type (`approval_drop`)",
        "One of `payment_types`, of positive weight.",
    ),
    required(
        "incidents[].currency",
        "ISO 4217 code (`approval_drop`)",
        "One of `currencies`, of positive weight.",
    ),
    required(
        "incidents[].country",
        "ISO 3166-1 alpha-2 code (`fraud_burst`)",
        "One of `countries`, of positive weight.",
    ),
    required(
        "incidents[].merchant",
        "`m-000042`, `m-42` or `top` (`merchant_decline_spike`)",
        "A merchant below `merchants.count`, or `top`: the busiest, `m-000000`.",
    ),
    required(
        "incidents[].approval_rate",
        "share, 0 to 1 (`approval_drop`)",
        "Share approved while it lasts; the rest is declined.",
    ),
    required(
        "incidents[].fraud_rate",
        "share, 0 to 1 (`fraud_burst`)",
        "Share of the country's transactions with `is_fraud: true` while it lasts.",
    ),
    required(
        "incidents[].decline_rate",
        "share, 0 to 1 (`merchant_decline_spike`)",
        "Share of the merchant's transactions declined while it lasts; the rest is approved.",
    ),
    key("delivery", "section", "How events are handed to the sinks."),
    key(
        "delivery.batch_size",
        "whole number, at least 1",
        "Events per batch (handler and Event Hubs sinks; Event Hubs batches also stop at the hub's size limit).",
    ),
    key(
        "delivery.partitions",
        "whole number, at least 1",
        "Partitions the handler sink simulates (sequence numbers are per partition).",
    ),
    key(
        "delivery.partition_key",
        "name",
        "Which field keys the partition: `merchant` (`merchant_id`) or `customer` (`customer_id`).",
    ),
    key(
        "delivery.max_attempts",
        "whole number, at least 1",
        "Attempts per batch before it counts as failed.",
    ),
];

/// A YAML fragment probing a struct's fields or an enum's variants, and the key prefix
/// (or enum key) it probes.
const FIELD_PROBES: &[(&str, &str)] = &[
    ("", "zz_probe: 1"),
    ("rate", "rate: {zz_probe: 1}"),
    (
        "rate.pattern",
        "rate: {pattern: {kind: diurnal, zz_probe: 1}}",
    ),
    (
        "rate.pattern",
        "rate: {pattern: {kind: weekly, zz_probe: 1}}",
    ),
    (
        "rate.pattern",
        "rate: {pattern: {kind: ramp, from: 1, to: 1, over: 1m, zz_probe: 1}}",
    ),
    ("rate.bursts", "rate: {bursts: {zz_probe: 1}}"),
    (
        "time",
        "time: {mode: backfill, from: 2026-01-01T00:00:00Z, to: 2026-01-02T00:00:00Z, zz_probe: 1}",
    ),
    (
        "payment_types.<type>",
        "payment_types: {card: {zz_probe: 1}}",
    ),
    ("currencies.<code>", "currencies: {USD: {zz_probe: 1}}"),
    ("merchants", "merchants: {zz_probe: 1}"),
    ("customers", "customers: {zz_probe: 1}"),
    ("fraud", "fraud: {zz_probe: 1}"),
    ("fraud.card_testing", "fraud: {card_testing: {zz_probe: 1}}"),
    (
        "fraud.account_takeover",
        "fraud: {account_takeover: {zz_probe: 1}}",
    ),
    ("faults", "faults: {zz_probe: 1}"),
    ("faults.late", "faults: {late: {zz_probe: 1}}"),
    (
        "faults.out_of_order",
        "faults: {out_of_order: {zz_probe: 1}}",
    ),
    ("incidents[]", "incidents: [{zz_probe: 1}]"),
    ("delivery", "delivery: {zz_probe: 1}"),
];

/// The tags of tagged sections (not fields of a struct), probed with their variants.
const VARIANT_PROBES: &[(&str, &str)] = &[
    ("rate.pattern.kind", "rate: {pattern: {kind: zz_probe}}"),
    ("time.mode", "time: {mode: zz_probe}"),
    (
        "delivery.partition_key",
        "delivery: {partition_key: zz_probe}",
    ),
    (
        "incidents[].kind",
        "incidents: [{kind: zz_probe, start: 1h, duration: 1m}]",
    ),
];

/// For each key marked required, a scenario that writes its section without it.
const REQUIRED_PROBES: &[(&str, &str)] = &[
    (
        "rate.pattern.from",
        "rate: {pattern: {kind: ramp, to: 1, over: 1m}}",
    ),
    (
        "rate.pattern.to",
        "rate: {pattern: {kind: ramp, from: 1, over: 1m}}",
    ),
    (
        "rate.pattern.over",
        "rate: {pattern: {kind: ramp, from: 1, to: 1}}",
    ),
    (
        "time.from",
        "time: {mode: backfill, to: 2026-01-02T00:00:00Z}",
    ),
    (
        "time.to",
        "time: {mode: backfill, from: 2026-01-01T00:00:00Z}",
    ),
    (
        "payment_types.<type>.weight",
        "payment_types: {card: {median: 1, sigma: 1}}",
    ),
    (
        "payment_types.<type>.median",
        "payment_types: {card: {weight: 1, sigma: 1}}",
    ),
    (
        "payment_types.<type>.sigma",
        "payment_types: {card: {weight: 1, median: 1}}",
    ),
    (
        "currencies.<code>.weight",
        "currencies: {USD: {per_usd: 1}}",
    ),
    (
        "currencies.<code>.per_usd",
        "currencies: {USD: {weight: 1}}",
    ),
    ("incidents[].kind", "incidents: [{start: 1h, duration: 1m}]"),
    (
        "incidents[].start",
        "incidents: [{kind: fraud_burst, country: BR, fraud_rate: 0.1, duration: 1m}]",
    ),
    (
        "incidents[].duration",
        "incidents: [{kind: fraud_burst, country: BR, fraud_rate: 0.1, start: 1h}]",
    ),
    (
        "incidents[].payment_type",
        "incidents: [{kind: approval_drop, currency: USD, approval_rate: 0.5, start: 1h, duration: 1m}]",
    ),
    (
        "incidents[].currency",
        "incidents: [{kind: approval_drop, payment_type: card, approval_rate: 0.5, start: 1h, duration: 1m}]",
    ),
    (
        "incidents[].approval_rate",
        "incidents: [{kind: approval_drop, payment_type: card, currency: USD, start: 1h, duration: 1m}]",
    ),
    (
        "incidents[].country",
        "incidents: [{kind: fraud_burst, fraud_rate: 0.1, start: 1h, duration: 1m}]",
    ),
    (
        "incidents[].fraud_rate",
        "incidents: [{kind: fraud_burst, country: BR, start: 1h, duration: 1m}]",
    ),
    (
        "incidents[].merchant",
        "incidents: [{kind: merchant_decline_spike, decline_rate: 0.5, start: 1h, duration: 1m}]",
    ),
    (
        "incidents[].decline_rate",
        "incidents: [{kind: merchant_decline_spike, merchant: top, start: 1h, duration: 1m}]",
    ),
];

/// Panics unless a scenario that leaves the required `key` out is refused for it.
fn required_is_refused(key: &str) {
    let (_, yaml) = REQUIRED_PROBES
        .iter()
        .find(|(k, _)| *k == key)
        .unwrap_or_else(|| panic!("{key} is marked required but has no REQUIRED_PROBES entry"));
    let leaf = key.rsplit('.').next().expect("a key");
    match Scenario::from_yaml(yaml, "probe") {
        Ok(_) => panic!(
            "{key} is marked required in src/simulator/scenario/reference.rs, but {yaml:?} \
             without it is accepted: give the row the code's default instead"
        ),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(&format!("`{leaf}`"))
                    || message.contains(&format!("needs {leaf}")),
                "{key}: {yaml:?} is refused for another reason: {message}"
            );
        }
    }
}

/// The names serde lists after "expected" in the error a probe gets.
fn expected_names(yaml: &str) -> Vec<String> {
    let message = match Scenario::from_yaml(yaml, "probe") {
        Ok(_) => panic!("the probe {yaml:?} was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("zz_probe"),
        "the probe {yaml:?} failed for another reason: {message}"
    );
    let Some((_, tail)) = message.split_once("expected") else {
        return Vec::new();
    };
    tail.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Every key the scenario's types have, and the variants of each tag.
fn keys_of_the_types() -> (BTreeSet<String>, Vec<(&'static str, Vec<String>)>) {
    let mut keys = BTreeSet::new();
    for (prefix, yaml) in FIELD_PROBES {
        for field in expected_names(yaml) {
            keys.insert(if prefix.is_empty() {
                field
            } else {
                format!("{prefix}.{field}")
            });
        }
    }
    let mut variants = Vec::new();
    for (key, yaml) in VARIANT_PROBES {
        keys.insert((*key).to_owned());
        variants.push((*key, expected_names(yaml)));
    }
    (keys, variants)
}

/// A value of the built-in scenario, as it would be written in a flow-style file.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", show(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// The built-in scenario's values of a key: one, or one per entry of a map (`<...>`)
/// that writes it; a section is named, not shown.
fn base_values(key: &str) -> Vec<(Option<String>, String)> {
    fn walk(
        value: &Value,
        segments: &[&str],
        entry: Option<String>,
        out: &mut Vec<(Option<String>, String)>,
    ) {
        let Some((first, rest)) = segments.split_first() else {
            out.push((entry, show(value)));
            return;
        };
        if first.starts_with('<') {
            if let Value::Object(map) = value {
                for (name, inner) in map {
                    walk(inner, rest, Some(name.clone()), out);
                }
            }
        } else if let Some(inner) = value.get(*first) {
            walk(inner, rest, entry, out);
        }
    }
    let mut out = Vec::new();
    if key.contains("[]") {
        return out;
    }
    let segments: Vec<&str> = key.split('.').collect();
    walk(&DEFAULT_TREE, &segments, None, &mut out);
    out
}

/// Whether a key names a section (its value in the built-in scenario is a map of
/// settings, not of entries).
fn is_section(takes: &str) -> bool {
    takes.starts_with("section")
}

fn default_cell(row: &Key) -> String {
    let base = base_values(row.key);
    let mut cell = match DEFAULT_TREE.pointer(&format!("/{}", row.key.replace('.', "/"))) {
        // A section: its keys have the values.
        Some(Value::Object(_)) if is_section(row.takes) => "(its keys)".to_owned(),
        // A map of entries: their names; a map of weights: the map.
        Some(Value::Object(map)) if map.values().all(Value::is_object) => {
            let names: Vec<String> = map.keys().map(|k| format!("`{k}`")).collect();
            names.join(", ")
        }
        _ => {
            let shown: Vec<String> = base
                .iter()
                .map(|(entry, value)| match entry {
                    Some(entry) => format!("{entry}: `{value}`"),
                    None => format!("`{value}`"),
                })
                .collect();
            shown.join(", ")
        }
    };
    let in_map = row.key.contains('<');
    match row.absent {
        Absent::Base => assert!(
            !base.is_empty(),
            "{} has no value in config/simulator.yaml; give it a default in the code (or.code) or mark it required",
            row.key
        ),
        Absent::Code(code) => {
            let value = code();
            if cell.is_empty() {
                cell = value;
            } else if in_map {
                let _ = write!(cell, "; {value} in an entry that leaves it out");
            } else {
                let _ = write!(cell, "; {value} in a pattern that leaves it out");
            }
        }
        Absent::Required => {
            if cell.is_empty() {
                cell = "required".into();
            } else {
                cell.push_str("; required in an entry of a file");
            }
        }
    }
    cell
}

/// The generated table, between (not including) the markers.
pub(crate) fn table() -> String {
    let (types, variants) = keys_of_the_types();
    let rows: BTreeSet<String> = KEYS.iter().map(|k| k.key.to_owned()).collect();
    let missing: Vec<&String> = types.difference(&rows).collect();
    let stale: Vec<&String> = rows.difference(&types).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the scenario's types and the table in src/simulator/scenario/reference.rs differ: \
         keys without a row {missing:?}, rows without a key {stale:?}; add or remove the rows"
    );
    for row in KEYS {
        if let Absent::Required = row.absent {
            required_is_refused(row.key);
        }
    }
    let mut out =
        String::from("\n\n| key | takes | default | meaning |\n| --- | --- | --- | --- |\n");
    for row in KEYS {
        let mut takes = row.takes.to_owned();
        if let Some((_, names)) = variants.iter().find(|(k, _)| *k == row.key) {
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            let _ = write!(takes, ": {}", names.join(", "));
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            row.key,
            takes,
            default_cell(row),
            row.about
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of `text` between the markers.
    fn between(text: &str) -> Option<(usize, usize)> {
        let start = text.find(START)? + START.len();
        let end = start + text[start..].find(END)?;
        Some((start, end))
    }

    #[test]
    fn the_guide_lists_every_scenario_key_with_its_code_default() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GUIDE);
        let text = std::fs::read_to_string(&path).expect("the simulator guide");
        let (start, end) = between(&text).expect("the guide has the scenario-keys markers");
        let table = table();
        if text[start..end] == table {
            return;
        }
        if std::env::var_os("PAYMETRICS_UPDATE_DOCS").is_some() {
            let updated = format!("{}{table}{}", &text[..start], &text[end..]);
            std::fs::write(&path, updated).expect("writing the guide");
            return;
        }
        panic!(
            "{GUIDE}: the scenario key table differs from the scenario's definitions; \
             regenerate it with\n  PAYMETRICS_UPDATE_DOCS=1 cargo test --locked --lib \
             simulator::scenario::reference\nand commit the guide"
        );
    }

    #[test]
    fn a_key_the_probes_do_not_know_is_found() {
        let (keys, variants) = keys_of_the_types();
        assert!(keys.contains("faults.late.delay"));
        assert!(keys.contains("incidents[].merchant"));
        let pattern = &variants
            .iter()
            .find(|(k, _)| *k == "rate.pattern.kind")
            .unwrap()
            .1;
        assert_eq!(pattern, &["constant", "diurnal", "weekly", "ramp"]);
    }
}
