//! The simulator's scenario: a YAML file, typed, defaulted and validated once.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::{Channel, Country, Currency, PaymentType};

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read the scenario {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// YAML or a key's type or name is wrong.
    #[error("invalid scenario {path}: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// Line, column, key and what was expected.
        message: String,
    },
    /// Values that parse but do not make sense together.
    #[error("invalid scenario {path}{}: {key}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: String,
        /// The line of the key, when it is written in the file.
        line: Option<usize>,
        /// The key at fault, dotted.
        key: String,
        /// What is wrong and the fix.
        message: String,
    },
}

/// A scenario.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Seed of every random choice: same seed and scenario, same bytes.
    pub seed: u64,
    /// How many events a second, and how that varies.
    pub rate: Rate,
    /// Real time or a backfill of a past range.
    pub time: TimeMode,
    /// Payment types with their weights, amounts and outcome rates.
    pub payment_types: BTreeMap<String, PaymentTypeMix>,
    /// Currencies with their weights and how amounts scale.
    pub currencies: BTreeMap<String, CurrencyMix>,
    /// The merchant population.
    pub merchants: Merchants,
    /// The customer population.
    pub customers: Customers,
    /// Countries by weight (ISO 3166-1 alpha-2).
    pub countries: BTreeMap<String, f64>,
    /// Channels by weight.
    pub channels: BTreeMap<String, f64>,
    /// Multipliers of every type's decline and failure rates per UTC hour (24 values,
    /// hour 0 first); unset: the same all day.
    pub outcomes_by_hour: Option<Vec<f64>>,
    /// Fraud: rate and typologies.
    pub fraud: Fraud,
    /// Deliberate faults, each labelled in the manifest.
    pub faults: Faults,
    /// How events are handed to the sinks.
    pub delivery: Delivery,
}

/// Arrival rate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rate {
    /// Mean events per second before the pattern and bursts apply.
    pub events_per_second: f64,
    /// How the rate varies with time.
    pub pattern: Pattern,
    /// Random bursts on top of the pattern.
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
        #[serde(with = "crate::settings::duration")]
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
    #[serde(with = "crate::settings::duration")]
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
#[serde(deny_unknown_fields, default)]
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
#[serde(deny_unknown_fields, default)]
pub struct Customers {
    /// Number of customers.
    pub count: u64,
}

/// Fraud.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
#[serde(deny_unknown_fields, default)]
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
#[serde(deny_unknown_fields, default)]
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
#[serde(deny_unknown_fields, default)]
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

/// Late delivery.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Late {
    /// Rate.
    pub rate: f64,
    /// How long after its event time the event is delivered.
    #[serde(with = "crate::settings::duration")]
    pub delay: Duration,
}

/// Out-of-order jitter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutOfOrder {
    /// Rate.
    pub rate: f64,
    /// Largest backwards shift of the event time.
    #[serde(with = "crate::settings::duration")]
    pub max_jitter: Duration,
}

/// Delivery settings shared by the sinks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
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

impl Default for Scenario {
    fn default() -> Self {
        let types = [
            ("card", 60.0, 42.0, 0.9, 0.08, 0.01, 0.01, 0.02),
            ("ach", 12.0, 250.0, 1.0, 0.03, 0.02, 0.05, 0.01),
            ("wire", 3.0, 4_000.0, 1.1, 0.02, 0.01, 0.03, 0.0),
            ("wallet", 18.0, 28.0, 0.8, 0.05, 0.01, 0.0, 0.02),
            ("bnpl", 7.0, 180.0, 0.7, 0.15, 0.02, 0.02, 0.03),
        ];
        Self {
            seed: 42,
            rate: Rate::default(),
            time: TimeMode::Realtime,
            payment_types: types
                .iter()
                .map(
                    |(name, weight, median, sigma, decline, failure, pending, refund)| {
                        (
                            (*name).to_owned(),
                            PaymentTypeMix {
                                weight: *weight,
                                median: *median,
                                sigma: *sigma,
                                decline_rate: *decline,
                                failure_rate: *failure,
                                pending_rate: *pending,
                                refund_rate: *refund,
                                category_medians: BTreeMap::new(),
                            },
                        )
                    },
                )
                .collect(),
            currencies: [
                ("USD", 55.0, 1.0),
                ("EUR", 25.0, 0.92),
                ("GBP", 10.0, 0.79),
                ("JPY", 8.0, 150.0),
                ("KWD", 2.0, 0.31),
            ]
            .iter()
            .map(|(c, w, p)| {
                (
                    (*c).to_owned(),
                    CurrencyMix {
                        weight: *w,
                        per_usd: *p,
                    },
                )
            })
            .collect(),
            merchants: Merchants::default(),
            customers: Customers::default(),
            countries: [
                ("US", 45.0),
                ("DE", 15.0),
                ("GB", 12.0),
                ("FR", 10.0),
                ("JP", 8.0),
                ("KW", 2.0),
                ("BR", 8.0),
            ]
            .iter()
            .map(|(c, w)| ((*c).to_owned(), *w))
            .collect(),
            channels: [("pos", 40.0), ("online", 45.0), ("mobile", 15.0)]
                .iter()
                .map(|(c, w)| ((*c).to_owned(), *w))
                .collect(),
            outcomes_by_hour: None,
            fraud: Fraud::default(),
            faults: Faults::default(),
            delivery: Delivery::default(),
        }
    }
}

impl Default for Rate {
    fn default() -> Self {
        Self {
            events_per_second: 50.0,
            pattern: Pattern::Constant,
            bursts: None,
        }
    }
}

impl Default for Merchants {
    fn default() -> Self {
        Self {
            count: 200,
            zipf_exponent: 1.1,
            categories: [
                "grocery",
                "restaurants",
                "travel",
                "electronics",
                "fuel",
                "apparel",
                "digital_goods",
            ]
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
        }
    }
}

impl Default for Customers {
    fn default() -> Self {
        Self { count: 10_000 }
    }
}

impl Default for Fraud {
    fn default() -> Self {
        Self {
            rate: 0.001,
            card_testing: CardTesting::default(),
            account_takeover: AccountTakeover::default(),
        }
    }
}

impl Default for CardTesting {
    fn default() -> Self {
        Self {
            weight: 1.0,
            burst_size: 12,
            max_amount: 2.0,
            decline_rate: 0.7,
        }
    }
}

impl Default for AccountTakeover {
    fn default() -> Self {
        Self {
            weight: 1.0,
            payments: 3,
            amount_multiplier: 15.0,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            duplicates: 0.0,
            late: Late::default(),
            out_of_order: OutOfOrder::default(),
            malformed: 0.0,
            legacy_format: 0.0,
        }
    }
}

impl Default for Late {
    fn default() -> Self {
        Self {
            rate: 0.0,
            delay: Duration::from_secs(20 * 60),
        }
    }
}

impl Default for OutOfOrder {
    fn default() -> Self {
        Self {
            rate: 0.0,
            max_jitter: Duration::from_secs(30),
        }
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            batch_size: 256,
            partitions: 4,
            partition_key: PartitionKey::Merchant,
            max_attempts: 8,
        }
    }
}

impl Scenario {
    /// Parses and validates a scenario; `path` names the file in errors.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, the key (and line, for YAML errors) and the fix.
    pub fn from_yaml(text: &str, path: &str) -> Result<Self, ScenarioError> {
        let scenario: Self = serde_saphyr::from_str(text).map_err(|e| ScenarioError::Yaml {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        scenario.validate(path).map_err(|e| match e {
            ScenarioError::Invalid {
                path, key, message, ..
            } => ScenarioError::Invalid {
                line: line_of(text, &key),
                path,
                key,
                message,
            },
            other => other,
        })?;
        Ok(scenario)
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

    fn validate(&self, path: &str) -> Result<(), ScenarioError> {
        let fail = |key: &str, message: String| {
            Err(ScenarioError::Invalid {
                path: path.to_owned(),
                line: None,
                key: key.to_owned(),
                message,
            })
        };
        let share = |key: &str, value: f64| -> Result<(), ScenarioError> {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                fail(key, format!("{value} is not a share between 0 and 1"))
            }
        };
        let weights = |key: &str, map: &BTreeMap<String, f64>| -> Result<(), ScenarioError> {
            if map.is_empty()
                || map.values().all(|w| *w <= 0.0)
                || map.values().any(|w| *w < 0.0 || !w.is_finite())
            {
                return fail(
                    key,
                    "needs at least one positive weight and no negative one".into(),
                );
            }
            Ok(())
        };
        if !(self.rate.events_per_second > 0.0 && self.rate.events_per_second.is_finite()) {
            return fail(
                "rate.events_per_second",
                "must be a positive number of events per second".into(),
            );
        }
        match &self.rate.pattern {
            Pattern::Diurnal { hourly } if hourly.len() != 24 => {
                return fail(
                    "rate.pattern.hourly",
                    format!("needs 24 values (hour 0 to 23), has {}", hourly.len()),
                );
            }
            Pattern::Weekly { daily, hourly } if daily.len() != 7 || hourly.len() != 24 => {
                return fail(
                    "rate.pattern",
                    "weekly needs 7 daily values (Monday first) and 24 hourly values".into(),
                );
            }
            Pattern::Ramp { from, to, over } if *from < 0.0 || *to < 0.0 || over.is_zero() => {
                return fail(
                    "rate.pattern",
                    "a ramp needs non-negative from and to and a duration over".into(),
                );
            }
            _ => {}
        }
        if let Some(bursts) = &self.rate.bursts {
            share("rate.bursts.probability", bursts.probability)?;
            if bursts.multiplier < 1.0 {
                return fail("rate.bursts.multiplier", "must be at least 1".into());
            }
        }
        if let TimeMode::Backfill { from, to } = &self.time
            && from >= to
        {
            return fail("time.to", format!("{to} is not after time.from ({from})"));
        }
        let type_weights: BTreeMap<String, f64> = self
            .payment_types
            .iter()
            .map(|(k, v)| (k.clone(), v.weight))
            .collect();
        weights("payment_types", &type_weights)?;
        for (name, mix) in &self.payment_types {
            if PaymentType::parse(name).is_err() {
                return fail(
                    &format!("payment_types.{name}"),
                    "is not one of card, ach, wire, wallet, bnpl".into(),
                );
            }
            let key = |k: &str| format!("payment_types.{name}.{k}");
            if mix.median.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return fail(&key("median"), "must be a positive amount".into());
            }
            if !(mix.sigma >= 0.0 && mix.sigma < 5.0) {
                return fail(&key("sigma"), "must be between 0 and 5".into());
            }
            for (k, v) in [
                ("decline_rate", mix.decline_rate),
                ("failure_rate", mix.failure_rate),
                ("pending_rate", mix.pending_rate),
                ("refund_rate", mix.refund_rate),
            ] {
                share(&key(k), v)?;
            }
            if mix.decline_rate + mix.failure_rate + mix.pending_rate + mix.refund_rate > 1.0 {
                return fail(
                    &key("decline_rate"),
                    "the outcome rates add up to more than 1".into(),
                );
            }
            for (category, median) in &mix.category_medians {
                if !self.merchants.categories.contains(category) {
                    return fail(
                        &key(&format!("category_medians.{category}")),
                        "is not one of merchants.categories".into(),
                    );
                }
                if median.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    return fail(
                        &key(&format!("category_medians.{category}")),
                        "must be a positive amount".into(),
                    );
                }
            }
        }
        let currency_weights: BTreeMap<String, f64> = self
            .currencies
            .iter()
            .map(|(k, v)| (k.clone(), v.weight))
            .collect();
        weights("currencies", &currency_weights)?;
        for (code, mix) in &self.currencies {
            if Currency::parse(code).is_err() {
                return fail(
                    &format!("currencies.{code}"),
                    "is not an ISO 4217 code with minor units".into(),
                );
            }
            if mix.per_usd.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return fail(
                    &format!("currencies.{code}.per_usd"),
                    "must be positive".into(),
                );
            }
        }
        if let Some(hourly) = &self.outcomes_by_hour {
            if hourly.len() != 24 || hourly.iter().any(|m| !m.is_finite() || *m < 0.0) {
                return fail(
                    "outcomes_by_hour",
                    "needs 24 non-negative multipliers, hour 0 first".into(),
                );
            }
            let worst = hourly.iter().copied().fold(0.0, f64::max);
            for (name, mix) in &self.payment_types {
                if (mix.decline_rate + mix.failure_rate) * worst
                    + mix.pending_rate
                    + mix.refund_rate
                    > 1.0
                {
                    return fail(
                        "outcomes_by_hour",
                        format!(
                            "at its largest multiplier the outcome rates of {name} add up to more than 1"
                        ),
                    );
                }
            }
        }
        weights("countries", &self.countries)?;
        for code in self.countries.keys() {
            if Country::parse(code).is_err() {
                return fail(
                    &format!("countries.{code}"),
                    "is not an ISO 3166-1 alpha-2 code".into(),
                );
            }
        }
        weights("channels", &self.channels)?;
        for name in self.channels.keys() {
            if Channel::parse(name).is_err() {
                return fail(
                    &format!("channels.{name}"),
                    "is not one of pos, online, mobile".into(),
                );
            }
        }
        if self.merchants.count == 0 || self.merchants.categories.is_empty() {
            return fail(
                "merchants",
                "needs a count of at least 1 and at least one category".into(),
            );
        }
        if self.merchants.zipf_exponent < 0.0 {
            return fail(
                "merchants.zipf_exponent",
                "must be 0 (uniform) or more".into(),
            );
        }
        if self.customers.count == 0 {
            return fail("customers.count", "must be at least 1".into());
        }
        share("fraud.rate", self.fraud.rate)?;
        share(
            "fraud.card_testing.decline_rate",
            self.fraud.card_testing.decline_rate,
        )?;
        share("faults.duplicates", self.faults.duplicates)?;
        share("faults.late.rate", self.faults.late.rate)?;
        share("faults.out_of_order.rate", self.faults.out_of_order.rate)?;
        share("faults.malformed", self.faults.malformed)?;
        share("faults.legacy_format", self.faults.legacy_format)?;
        if self.delivery.batch_size == 0
            || self.delivery.partitions == 0
            || self.delivery.max_attempts == 0
        {
            return fail(
                "delivery",
                "batch_size, partitions and max_attempts must be at least 1".into(),
            );
        }
        Ok(())
    }
}

/// The line where a dotted key (`faults.late.rate`) is written: each segment is looked
/// for as `segment:` after the line of the one before it.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut found = None;
    for segment in key.split('.') {
        let needle = format!("{segment}:");
        let at = (from..lines.len()).find(|&i| {
            let line = lines[i].split('#').next().unwrap_or("");
            line.trim_start().starts_with(&needle)
                || line.contains(&format!(" {needle}"))
                || line.contains(&format!("{{{needle}"))
        })?;
        found = Some(at + 1);
        from = at;
    }
    found
}

/// The shipped, commented scenario (`simulator default-config`).
pub const DEFAULT_SCENARIO: &str = include_str!("../../config/simulator.yaml");

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
        ];
        for (yaml, key, fix) in cases {
            let message = Scenario::from_yaml(yaml, "s.yaml").unwrap_err().to_string();
            assert!(
                message.contains("s.yaml") && message.contains(key) && message.contains(fix),
                "{message}"
            );
        }
    }
}
