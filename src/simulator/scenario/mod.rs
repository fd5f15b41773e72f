//! The simulator's scenario: a YAML file, typed, defaulted and validated once.
//!
//! There is one default scenario, `config/simulator.yaml`, embedded in the binary
//! ([`DEFAULT_SCENARIO`], printed by `simulator default-config`). A scenario file is laid
//! over it: a key the file leaves out keeps the default's value. Sections merge key by key;
//! the maps of entries (`payment_types`, `currencies`, `countries`, `channels`),
//! `rate.pattern` and `time` are replaced as a whole, so a file that lists two currencies
//! gets exactly those two. Map keys are parsed by the domain types that own their allowed
//! values ([`entries`]); the rest is checked once by [`validate`](self::validate).

mod entries;
mod incidents;
#[cfg(test)]
mod reference;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{Channel, Country, Currency, PaymentType};

pub use entries::{Entries, EntryKey};
pub use incidents::{
    Incident, IncidentEffect, IncidentKind, IncidentStart, MerchantRef, PlannedIncident,
};

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read the scenario {path}: {source}")]
    Read {
        /// The scenario file, as given (or a name for text from elsewhere).
        path: String,
        /// The I/O error (not found, permission denied, ...).
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("invalid scenario {path}: {message}")]
    Yaml {
        /// The scenario file, as given (or a name for text from elsewhere).
        path: String,
        /// Line, column and what the YAML parser expected.
        message: String,
    },
    /// A key that does not exist, a value of the wrong type, or values that parse but do
    /// not make sense together.
    #[error("invalid scenario {path}{}: {key}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Invalid {
        /// The scenario file, as given (or a name for text from elsewhere).
        path: String,
        /// The line of the key, when it is written in the file.
        line: Option<usize>,
        /// The key at fault, dotted.
        key: String,
        /// What is wrong and the fix.
        message: String,
    },
}

/// A scenario: everything the generator draws from and how the events are delivered.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed of every random choice: same seed and scenario, same bytes.
    pub seed: u64,
    /// How many events a second, and how that varies.
    pub rate: Rate,
    /// Real time or a backfill of a past range.
    pub time: TimeMode,
    /// Payment types with their weights, amounts and outcome rates.
    pub payment_types: Entries<PaymentType, PaymentTypeMix>,
    /// Currencies with their weights and how amounts scale.
    pub currencies: Entries<Currency, CurrencyMix>,
    /// The merchant population.
    pub merchants: Merchants,
    /// The customer population.
    pub customers: Customers,
    /// Countries by weight (ISO 3166-1 alpha-2).
    pub countries: Entries<Country, f64>,
    /// Channels by weight.
    pub channels: Entries<Channel, f64>,
    /// Multipliers of every type's decline and failure rates per UTC hour (24 values,
    /// hour 0 first); `null`: the same all day.
    pub outcomes_by_hour: Option<Vec<f64>>,
    /// Fraud: rate and typologies.
    pub fraud: Fraud,
    /// Deliberate faults, each labelled in the manifest.
    pub faults: Faults,
    /// Planted incidents, each written to the manifest; empty (or `null`): none.
    #[serde(deserialize_with = "incidents::null_is_none")]
    pub incidents: Vec<Incident>,
    /// How events are handed to the sinks.
    pub delivery: Delivery,
}

/// How many events arrive a second: a mean, shaped by a pattern over the day or week and
/// by random bursts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Mean events per second before the pattern and bursts apply.
    pub events_per_second: f64,
    /// How the rate varies with time.
    pub pattern: Pattern,
    /// Random bursts on top of the pattern; `null`: none.
    pub bursts: Option<Bursts>,
}

/// The shape of the rate over time; arrivals are Poisson at the resulting rate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum Pattern {
    /// The same rate all the time.
    Constant,
    /// A multiplier per UTC hour of the day (24 values; default: quiet nights, busy
    /// lunchtimes and evenings).
    Diurnal {
        /// 24 multipliers, hour 0 first.
        #[serde(default = "default_hourly")]
        hourly: Vec<f64>,
    },
    /// A multiplier per day of the week (7 values, Monday first), times the diurnal curve.
    Weekly {
        /// 7 multipliers, Monday first.
        #[serde(default = "default_daily")]
        daily: Vec<f64>,
        /// 24 multipliers, hour 0 first.
        #[serde(default = "default_hourly")]
        hourly: Vec<f64>,
    },
    /// A linear ramp of the multiplier from `from` to `to` over `over`, then flat.
    Ramp {
        /// Multiplier at the start.
        from: f64,
        /// Multiplier at the end.
        to: f64,
        /// Duration of the ramp.
        #[serde(with = "crate::serde_duration::duration")]
        over: Duration,
    },
}

fn default_hourly() -> Vec<f64> {
    vec![
        0.3, 0.2, 0.15, 0.15, 0.2, 0.3, 0.5, 0.8, 1.0, 1.1, 1.2, 1.3, 1.5, 1.4, 1.2, 1.1, 1.1, 1.2,
        1.4, 1.5, 1.4, 1.1, 0.8, 0.5,
    ]
}

fn default_daily() -> Vec<f64> {
    vec![1.0, 1.0, 1.0, 1.05, 1.2, 1.3, 0.9]
}

/// Random bursts of traffic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bursts {
    /// Chance per second of simulated time that a burst starts.
    pub probability: f64,
    /// Rate multiplier during a burst.
    pub multiplier: f64,
    /// How long a burst lasts.
    #[serde(with = "crate::serde_duration::duration")]
    pub duration: Duration,
}

/// Real time or backfill.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, tag = "mode", rename_all = "snake_case")]
pub enum TimeMode {
    /// Paced at the rate; event time is the wall clock.
    Realtime,
    /// Event times over `[from, to)`, generated as fast as the sink takes them.
    Backfill {
        /// First event time (RFC 3339).
        from: DateTime<Utc>,
        /// End of the range (RFC 3339).
        to: DateTime<Utc>,
    },
}

/// One payment type's share and behaviour.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentTypeMix {
    /// Relative weight.
    pub weight: f64,
    /// Median amount in USD-equivalent major units (log-normal).
    pub median: f64,
    /// Log-normal sigma (spread).
    pub sigma: f64,
    /// Share declined.
    #[serde(default)]
    pub decline_rate: f64,
    /// Share failed.
    #[serde(default)]
    pub failure_rate: f64,
    /// Share pending.
    #[serde(default)]
    pub pending_rate: f64,
    /// Share refunded.
    #[serde(default)]
    pub refund_rate: f64,
    /// Amount medians per merchant category, overriding `median`.
    #[serde(default)]
    pub category_medians: BTreeMap<String, f64>,
}

/// One currency's share.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyMix {
    /// Relative weight.
    pub weight: f64,
    /// Units of this currency per USD: amounts are drawn in USD-equivalent, multiplied
    /// by this, and rounded to the currency's minor units (JPY ~150, EUR ~0.92).
    pub per_usd: f64,
}

/// The merchant population.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merchants {
    /// Number of merchants.
    pub count: u64,
    /// Zipf exponent of their popularity (0 is uniform; 1.1 is a long tail).
    pub zipf_exponent: f64,
    /// Categories, assigned to merchants in turn.
    pub categories: Vec<String>,
}

/// The customer population.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customers {
    /// Number of customers.
    pub count: u64,
}

/// Fraud episodes: how often one starts and what it looks like; their payments carry
/// `is_fraud: true`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fraud {
    /// Chance per generated transaction that a fraud episode starts.
    pub rate: f64,
    /// Card testing: a burst of small card payments at one merchant, mostly declined.
    pub card_testing: CardTesting,
    /// Account takeover: a customer's account makes a few high-value payments.
    pub account_takeover: AccountTakeover,
}

/// Card-testing typology.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardTesting {
    /// Relative weight among typologies.
    pub weight: f64,
    /// Payments per burst.
    pub burst_size: u32,
    /// Largest amount, USD-equivalent.
    pub max_amount: f64,
    /// Share of the burst declined.
    pub decline_rate: f64,
}

/// Account-takeover typology.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountTakeover {
    /// Relative weight among typologies.
    pub weight: f64,
    /// Payments per episode.
    pub payments: u32,
    /// Amount multiplier over the payment type's usual amount.
    pub amount_multiplier: f64,
}

/// Faults, each at its own rate (per generated transaction).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// The same event sent again, a little later.
    pub duplicates: f64,
    /// Delivered long after its event time.
    pub late: Late,
    /// Event time moved back by up to `max_jitter`, position in the stream unchanged.
    pub out_of_order: OutOfOrder,
    /// Extra malformed events (broken JSON, missing field, bad currency, too many
    /// decimals, in turn).
    pub malformed: f64,
    /// Share of transactions sent in the legacy camelCase format.
    pub legacy_format: f64,
}

/// Late delivery: events that reach the pipeline after their window may have closed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Late {
    /// Share of transactions delivered late.
    pub rate: f64,
    /// How long after its event time the event is delivered.
    #[serde(with = "crate::serde_duration::duration")]
    pub delay: Duration,
}

/// Out-of-order jitter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutOfOrder {
    /// Share of transactions whose event time is moved back.
    pub rate: f64,
    /// Largest backwards shift of the event time.
    #[serde(with = "crate::serde_duration::duration")]
    pub max_jitter: Duration,
}

/// Delivery settings shared by the sinks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Events per batch (the handler sink and Event Hubs; Event Hubs batches also stop
    /// at the hub's size limit).
    pub batch_size: usize,
    /// Partitions the handler sink simulates (sequence numbers are per partition).
    pub partitions: u32,
    /// Which field keys the partition: `merchant` or `customer`.
    pub partition_key: PartitionKey,
    /// Attempts per batch before it counts as failed.
    pub max_attempts: u32,
}

/// The partition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionKey {
    /// `merchant_id`
    Merchant,
    /// `customer_id`
    Customer,
}

impl Faults {
    /// No faults: every rate 0 (the default's delays and jitter kept, for when a rate is
    /// raised again).
    pub fn none() -> Self {
        let defaults = &Scenario::default().faults;
        Self {
            duplicates: 0.0,
            late: Late {
                rate: 0.0,
                delay: defaults.late.delay,
            },
            out_of_order: OutOfOrder {
                rate: 0.0,
                max_jitter: defaults.out_of_order.max_jitter,
            },
            malformed: 0.0,
            legacy_format: 0.0,
        }
    }
}

/// The shipped, commented scenario (`simulator default-config`): the built-in scenario,
/// and the value of every key a scenario file leaves out.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../config/simulator.yaml");

/// Keys whose value replaces the default's instead of merging into it: maps of entries
/// (a file's currencies are all its currencies) and tagged sections (a backfill's `from`
/// must not follow a file into realtime).
const REPLACED: &[&str] = &[
    "payment_types",
    "currencies",
    "countries",
    "channels",
    "rate.pattern",
    "time",
];

/// [`DEFAULT_SCENARIO`] as a YAML tree, the base every file is laid over.
static DEFAULT_TREE: LazyLock<Value> = LazyLock::new(|| {
    serde_saphyr::from_str(DEFAULT_SCENARIO).expect("config/simulator.yaml is YAML")
});

/// [`DEFAULT_SCENARIO`], parsed.
static DEFAULT: LazyLock<Scenario> = LazyLock::new(|| {
    Scenario::from_yaml(DEFAULT_SCENARIO, "config/simulator.yaml")
        .expect("config/simulator.yaml is a valid scenario")
});

impl Default for Scenario {
    /// The built-in scenario, [`DEFAULT_SCENARIO`].
    fn default() -> Self {
        DEFAULT.clone()
    }
}

/// Lays `file` over `base`: objects merge key by key (except at [`REPLACED`] keys),
/// anything else replaces.
fn overlay(base: &mut Value, file: Value, key: &str) {
    match (base, file) {
        (Value::Object(base), Value::Object(file)) if !REPLACED.contains(&key) => {
            for (name, value) in file {
                let dotted = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}.{name}")
                };
                match base.get_mut(&name) {
                    Some(slot) => overlay(slot, value, &dotted),
                    None => {
                        base.insert(name, value);
                    }
                }
            }
        }
        (base, file) => *base = file,
    }
}

impl Scenario {
    /// Parses a scenario laid over [`DEFAULT_SCENARIO`] and validates it; `path` names
    /// the file in errors.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, the key (and its line, when the file writes
    /// it) and the fix.
    pub fn from_yaml(text: &str, path: &str) -> Result<Self, ScenarioError> {
        let file: Value = serde_saphyr::from_str(text).map_err(|e| ScenarioError::Yaml {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut tree = DEFAULT_TREE.clone();
        if !file.is_null() {
            overlay(&mut tree, file, "");
        }
        let invalid = |key: String, message: String| ScenarioError::Invalid {
            path: path.to_owned(),
            line: line_of(text, &key),
            key,
            message,
        };
        let scenario: Self = serde_path_to_error::deserialize(&tree)
            .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))?;
        validate::scenario(&scenario).map_err(|p| invalid(p.key, p.message))?;
        Ok(scenario)
    }

    /// Validates a scenario again after it was changed in code (the command line's
    /// `--from/--to` move a run, and with it the incidents that must fall inside it);
    /// `path` names the file in errors, which give no line.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] naming the key and the fix.
    pub fn check(&self, path: &str) -> Result<(), ScenarioError> {
        validate::scenario(self).map_err(|p| ScenarioError::Invalid {
            path: path.to_owned(),
            line: None,
            key: p.key,
            message: p.message,
        })
    }

    /// Reads, parses and validates a scenario file.
    ///
    /// # Errors
    /// As [`Scenario::from_yaml`], or [`ScenarioError::Read`].
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_yaml(&text, &shown)
    }
}

/// The line where a dotted key (`faults.late.rate`, `incidents[1].start`) is written:
/// each segment is looked for as `segment:` after the line of the one before it; an index
/// (`[1]`) picks that item of a block list (`- ...` lines), and a key not written in the
/// item is placed at the item's first line.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect();
    let (mut from, mut until) = (0, lines.len());
    let mut found = None;
    let mut in_item = false;
    for segment in key.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let needle = format!("{name}:");
        let at = (from..until).find(|&i| {
            let line = lines[i];
            line.trim_start().starts_with(&needle)
                || line.contains(&format!(" {needle}"))
                || line.contains(&format!("{{{needle}"))
        });
        let Some(at) = at else {
            return if in_item { found } else { None };
        };
        found = Some(at + 1);
        from = at;
        if let Some(index) = index {
            let Some((item, end)) = list_item(&lines[..until], at, index) else {
                return found;
            };
            found = Some(item + 1);
            (from, until, in_item) = (item, end, true);
        }
    }
    found
}

/// The first line of item `index` of the block list under the key at line `key` (0
/// first), and the line after the item.
fn list_item(lines: &[&str], key: usize, index: usize) -> Option<(usize, usize)> {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut items = Vec::new();
    let mut end = lines.len();
    let mut list_indent = None;
    for (i, line) in lines.iter().enumerate().skip(key + 1) {
        if line.trim().is_empty() {
            continue;
        }
        let dash = line.trim_start().starts_with('-');
        match list_indent {
            None if dash => list_indent = Some(indent(line)),
            None => return None,
            Some(_) => {}
        }
        let level = list_indent.expect("set");
        if indent(line) < level || (indent(line) == level && !dash) {
            end = i;
            break;
        }
        if indent(line) == level {
            items.push(i);
        }
    }
    let item = *items.get(index)?;
    Some((item, items.get(index + 1).copied().unwrap_or(end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_scenario_is_valid_and_complete() {
        let scenario = Scenario::from_yaml(DEFAULT_SCENARIO, "config/simulator.yaml").unwrap();
        assert_eq!(scenario.payment_types.len(), 5);
        assert!(scenario.faults.duplicates > 0.0);
    }

    #[test]
    fn the_default_scenario_is_the_shipped_file() {
        let shipped = Scenario::from_yaml(DEFAULT_SCENARIO, "config/simulator.yaml").unwrap();
        assert_eq!(Scenario::default(), shipped);
        assert_eq!(Scenario::from_yaml("", "empty.yaml").unwrap(), shipped);
    }

    #[test]
    fn a_key_a_file_leaves_out_takes_the_shipped_value() {
        let shipped = Scenario::default();
        let s = Scenario::from_yaml(
            "rate:\n  events_per_second: 5\nfaults:\n  duplicates: 0\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(s.rate.events_per_second, 5.0);
        assert_eq!(s.rate.bursts, shipped.rate.bursts);
        assert_eq!(s.seed, shipped.seed);
        assert_eq!(s.faults.duplicates, 0.0);
        assert_eq!(s.faults.late, shipped.faults.late);
        assert!(
            s.faults.late.rate > 0.0,
            "the shipped fault rates are the defaults"
        );
        let off = Scenario::from_yaml("rate: {bursts: null}\noutcomes_by_hour: null\n", "s.yaml")
            .unwrap();
        assert_eq!((off.rate.bursts, off.outcomes_by_hour), (None, None));
    }

    #[test]
    fn a_map_of_entries_in_a_file_replaces_the_shipped_one() {
        let s = Scenario::from_yaml(
            "currencies:\n  eur: {weight: 1, per_usd: 0.9}\nchannels: {online: 1}\n",
            "s.yaml",
        )
        .unwrap();
        let currencies: Vec<&str> = s.currencies.iter().map(|(c, _)| c.code()).collect();
        assert_eq!(currencies, ["EUR"]);
        assert_eq!(s.channels.len(), 1);
        assert_eq!(s.channels.get(Channel::Online), Some(&1.0));
        assert_eq!(Faults::none().duplicates, 0.0);
    }

    #[test]
    fn map_keys_are_checked_by_the_domain_types() {
        for (yaml, key) in [
            (
                "payment_types:\n  cash: {weight: 1, median: 5, sigma: 0.5}\n",
                "payment_types.cash",
            ),
            ("countries: {XX: 1}\n", "countries.XX"),
            ("channels: {fax: 1}\n", "channels.fax"),
        ] {
            let message = Scenario::from_yaml(yaml, "s.yaml").unwrap_err().to_string();
            assert!(
                message.contains(key) && message.contains("is not one of"),
                "{message}"
            );
        }
        let twice = Scenario::from_yaml("countries: {de: 1, DE: 2}\n", "s.yaml").unwrap_err();
        assert!(twice.to_string().contains("DE is written twice"), "{twice}");
    }

    #[test]
    fn errors_name_the_file_the_key_and_the_fix() {
        let cases = [
            (
                "seed: 1\nrate:\n  events_per_secnd: 5\n",
                "line 3",
                "events_per_secnd",
            ),
            (
                "rate:\n  events_per_second: -1\n",
                "rate.events_per_second",
                "positive",
            ),
            (
                "currencies:\n  XYZ: {weight: 1, per_usd: 1}\n",
                "currencies.XYZ",
                "ISO 4217",
            ),
            (
                "faults:\n  duplicates: 1.5\n",
                "faults.duplicates",
                "between 0 and 1",
            ),
            (
                "time:\n  mode: backfill\n  from: 2026-11-26T10:00:00Z\n  to: 2026-11-26T09:00:00Z\n",
                "time.to",
                "not after",
            ),
            (
                "rate:\n  events_per_second: 5\n  pattern:\n    kind: diurnal\n    hourly: [1, 2]\n",
                "rate.pattern.hourly",
                "24 values",
            ),
            // Both were accepted, and panicked the generator or made it expect an event
            // from before 2000 to be accepted (found with fuzz/fuzz_targets/scenario.rs).
            (
                "faults:\n  late: {rate: 1, delay: 300000y}\n",
                "faults.late.delay",
                "longer than 100y",
            ),
            (
                "faults:\n  out_of_order: {rate: 1, max_jitter: 30y}\n",
                "faults.out_of_order.max_jitter",
                "at most 1d",
            ),
        ];
        for (yaml, key, fix) in cases {
            let message = Scenario::from_yaml(yaml, "s.yaml").unwrap_err().to_string();
            assert!(
                message.contains("s.yaml") && message.contains(key) && message.contains(fix),
                "{message}"
            );
        }
    }

    #[test]
    fn text_that_is_not_yaml_and_a_file_that_cannot_be_read_are_named() {
        let err = Scenario::from_yaml("rate: [1,\n", "s.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid scenario s.yaml: "), "{err}");
        let path = std::env::temp_dir().join(format!("pm-no-scenario-{}.yaml", std::process::id()));
        let err = Scenario::load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read the scenario {}: ", path.display())),
            "{err}"
        );
    }

    #[test]
    fn a_scenario_file_is_loaded_laid_over_the_default() {
        let path = std::env::temp_dir().join(format!("pm-scenario-{}.yaml", std::process::id()));
        std::fs::write(&path, "seed: 99\n").unwrap();
        let loaded = Scenario::load(&path);
        std::fs::remove_file(&path).unwrap();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.seed, 99);
        assert_eq!(loaded.rate, Scenario::default().rate);
    }

    #[test]
    fn a_weekly_pattern_without_days_takes_the_default_week() {
        let s = Scenario::from_yaml("rate:\n  pattern: {kind: weekly}\n", "s.yaml").unwrap();
        let Pattern::Weekly { daily, hourly } = s.rate.pattern else {
            panic!("not weekly: {:?}", s.rate.pattern);
        };
        assert_eq!(daily, [1.0, 1.0, 1.0, 1.05, 1.2, 1.3, 0.9]);
        assert_eq!(hourly.len(), 24);
    }

    #[test]
    fn a_map_of_entries_written_as_a_list_is_refused() {
        let err = Scenario::from_yaml("countries: [DE, FR]\n", "s.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid scenario s.yaml, line 1: countries: invalid type: sequence, expected a map"
        );
        let s = Scenario::from_yaml("channels: {pos: 3, online: 1}\n", "s.yaml").unwrap();
        let mut written = Vec::new();
        for (channel, weight) in &s.channels {
            written.push((channel, *weight));
        }
        // In the order of their names, whatever the order in the file.
        assert_eq!(written, [(Channel::Online, 1.0), (Channel::Pos, 3.0)]);
        assert!(!s.channels.is_empty());
        assert!(Entries::<Channel, f64>::new([]).is_empty());
    }

    #[test]
    fn simulator_default_plants_no_incident_and_the_demo_one_of_each_at_its_hours() {
        assert!(Scenario::default().incidents.is_empty());
        let off = Scenario::from_yaml("incidents: null\n", "s.yaml").unwrap();
        assert!(off.incidents.is_empty());
        let demo = Scenario::from_yaml(
            include_str!("../../../config/incidents.yaml"),
            "config/incidents.yaml",
        )
        .unwrap();
        let start = demo.run_start().expect("a backfill");
        let (_, end) = demo.backfill_range().expect("a backfill");
        assert_eq!(end - start, chrono::TimeDelta::hours(24));
        let hours = |t: DateTime<Utc>| (t - start).num_minutes() as f64 / 60.0;
        let planned: Vec<(&str, f64, f64)> = demo
            .incidents_at(start)
            .iter()
            .map(|i| (i.kind().name(), hours(i.start), hours(i.end)))
            .collect();
        // As the file's header says.
        assert_eq!(
            planned,
            [
                ("approval_drop", 4.0, 4.75),
                ("fraud_burst", 10.0, 10.5),
                ("merchant_decline_spike", 16.0, 16.75),
            ]
        );
        // Offsets move with the run; a time stands.
        let later = start + chrono::TimeDelta::days(3);
        assert_eq!(
            demo.incidents_at(later)[0].start,
            later + chrono::TimeDelta::hours(4)
        );
        let fixed = Scenario::from_yaml(
            "incidents:\n  - {kind: fraud_burst, country: BR, start: 2026-11-25T10:00:00Z, \
             duration: 1m, fraud_rate: 0.2}\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(
            fixed.incidents_at(later)[0].start.to_rfc3339(),
            "2026-11-25T10:00:00+00:00"
        );
    }

    #[test]
    fn simulator_incident_manifest_lines_carry_the_window_scope_and_outcome() {
        let demo = Scenario::from_yaml(
            include_str!("../../../config/incidents.yaml"),
            "config/incidents.yaml",
        )
        .unwrap();
        let lines: Vec<String> = demo
            .incidents_at(demo.run_start().unwrap())
            .iter()
            .map(|i| i.manifest_line().to_string())
            .collect();
        assert_eq!(
            lines,
            [
                r#"{"end":"2026-11-25T04:45:00.000Z","expected":"alert","incident":"approval_drop","index":0,"outcome":{"approval_rate":0.5},"scope":{"currency":"USD","payment_type":"card"},"start":"2026-11-25T04:00:00.000Z"}"#,
                r#"{"end":"2026-11-25T10:30:00.000Z","expected":"alert","incident":"fraud_burst","index":1,"outcome":{"fraud_rate":0.25},"scope":{"country":"BR"},"start":"2026-11-25T10:00:00.000Z"}"#,
                r#"{"end":"2026-11-25T16:45:00.000Z","expected":"alert","incident":"merchant_decline_spike","index":2,"outcome":{"decline_rate":0.6},"scope":{"merchant_id":"m-000000"},"start":"2026-11-25T16:00:00.000Z"}"#,
            ]
        );
    }

    #[test]
    fn simulator_incident_keys_are_found_in_their_list_item() {
        let text = "seed: 1\nincidents:\n  # a comment\n  - kind: a\n    start: 1h\n\n  - kind: b\n    \
                    duration: 5m\n  - {kind: c}\nfaults:\n  duplicates: 0\n";
        assert_eq!(line_of(text, "incidents[0].start"), Some(5));
        assert_eq!(line_of(text, "incidents[1].kind"), Some(7));
        // Not written in its item: the item's line, not the next item's start.
        assert_eq!(line_of(text, "incidents[1].start"), Some(7));
        assert_eq!(line_of(text, "incidents[2].kind"), Some(9));
        // No such item: the list's line.
        assert_eq!(line_of(text, "incidents[3].kind"), Some(2));
        assert_eq!(line_of(text, "faults.duplicates"), Some(11));
        assert_eq!(
            line_of("incidents: [{kind: a}]\n", "incidents[0].kind"),
            Some(1)
        );
    }
}
