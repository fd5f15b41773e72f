//! Planted incidents (`incidents:`): for a while, the transactions of one scope take an
//! outcome the alerts on the metrics should notice (an approval-rate drop of a payment
//! type and currency, a fraud burst in a country, a merchant's decline spike).
//!
//! An entry is read as written ([`Incident`], every field but `kind`, `start` and
//! `duration` optional, so that a missing or misplaced field is named by the validation
//! with its line); [`Scenario::incidents_at`] turns the validated entries into
//! [`PlannedIncident`]s with absolute times, which the generator applies and the manifest
//! lists.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Value, json};

use super::entries::EntryKey;
use super::{Scenario, TimeMode};
use crate::domain::{Country, Currency, PaymentType};
use crate::simulator::generator::push_id;

/// What an incident does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The approvals of one payment type and currency fall to `approval_rate` (the rest
    /// declined).
    ApprovalDrop,
    /// A share `fraud_rate` of one country's transactions is fraud.
    FraudBurst,
    /// One merchant's transactions are declined at `decline_rate` (the rest approved).
    MerchantDeclineSpike,
}

impl IncidentKind {
    /// The name written in the scenario and the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Self::ApprovalDrop => "approval_drop",
            Self::FraudBurst => "fraud_burst",
            Self::MerchantDeclineSpike => "merchant_decline_spike",
        }
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When an incident starts: an offset from the run's start (`2h`) or a time (RFC 3339).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStart {
    /// This long after the run's start.
    After(Duration),
    /// At this time.
    At(DateTime<Utc>),
}

impl<'de> Deserialize<'de> for IncidentStart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
            return Ok(Self::At(at.with_timezone(&Utc)));
        }
        crate::serde_duration::duration::parse(&text)
            .map(Self::After)
            .map_err(|_| {
                de::Error::custom(format!(
                    "{text:?} is neither an offset from the run's start (2h, 90m) nor an RFC 3339 time"
                ))
            })
    }
}

/// The merchant of a decline spike: one the scenario generates, or the busiest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantRef {
    /// `top`: the busiest merchant (`m-000000`, the most popular under the Zipf
    /// popularity; with `zipf_exponent: 0` all are alike and it is still `m-000000`).
    Top,
    /// `m-000042` (or `m-42`): merchant number 42.
    Id(u32),
}

impl MerchantRef {
    /// The merchant number.
    pub fn number(self) -> u32 {
        match self {
            Self::Top => 0,
            Self::Id(n) => n,
        }
    }
}

impl<'de> Deserialize<'de> for MerchantRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "top" {
            return Ok(Self::Top);
        }
        text.strip_prefix("m-")
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok())
            .map(Self::Id)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "{text:?} is not a merchant id like m-000042, nor top (the busiest)"
                ))
            })
    }
}

/// A key of a domain type, optional (payment type, currency, country of an incident).
fn domain_key<'de, D: Deserializer<'de>, K: EntryKey>(d: D) -> Result<Option<K>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => K::parse_key(&text).map(Some).map_err(de::Error::custom),
    }
}

/// `incidents: null` is no incidents, as `bursts: null` is no bursts.
pub(super) fn null_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Incident>, D::Error> {
    Ok(Option::<Vec<Incident>>::deserialize(d)?.unwrap_or_default())
}

/// One entry of `incidents:`, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// What it does.
    pub kind: IncidentKind,
    /// When it starts.
    pub start: IncidentStart,
    /// How long it lasts.
    #[serde(with = "crate::serde_duration::duration")]
    pub duration: Duration,
    /// `approval_drop`: the payment type.
    #[serde(default, deserialize_with = "domain_key")]
    pub payment_type: Option<PaymentType>,
    /// `approval_drop`: the currency.
    #[serde(default, deserialize_with = "domain_key")]
    pub currency: Option<Currency>,
    /// `fraud_burst`: the country.
    #[serde(default, deserialize_with = "domain_key")]
    pub country: Option<Country>,
    /// `merchant_decline_spike`: the merchant.
    #[serde(default)]
    pub merchant: Option<MerchantRef>,
    /// `approval_drop`: share approved while it lasts.
    #[serde(default)]
    pub approval_rate: Option<f64>,
    /// `fraud_burst`: share of the country's transactions that are fraud.
    #[serde(default)]
    pub fraud_rate: Option<f64>,
    /// `merchant_decline_spike`: share of the merchant's transactions declined.
    #[serde(default)]
    pub decline_rate: Option<f64>,
}

impl Incident {
    /// The fields a kind needs, and those it does not take, by name.
    pub(super) fn fields(kind: IncidentKind) -> (&'static [&'static str], &'static [&'static str]) {
        match kind {
            IncidentKind::ApprovalDrop => (
                &["payment_type", "currency", "approval_rate"],
                &["country", "merchant", "fraud_rate", "decline_rate"],
            ),
            IncidentKind::FraudBurst => (
                &["country", "fraud_rate"],
                &[
                    "payment_type",
                    "currency",
                    "merchant",
                    "approval_rate",
                    "decline_rate",
                ],
            ),
            IncidentKind::MerchantDeclineSpike => (
                &["merchant", "decline_rate"],
                &[
                    "payment_type",
                    "currency",
                    "country",
                    "approval_rate",
                    "fraud_rate",
                ],
            ),
        }
    }

    /// Whether the field of that name is written.
    pub(super) fn has(&self, field: &str) -> bool {
        match field {
            "payment_type" => self.payment_type.is_some(),
            "currency" => self.currency.is_some(),
            "country" => self.country.is_some(),
            "merchant" => self.merchant.is_some(),
            "approval_rate" => self.approval_rate.is_some(),
            "fraud_rate" => self.fraud_rate.is_some(),
            "decline_rate" => self.decline_rate.is_some(),
            _ => false,
        }
    }

    /// Its start for a run that starts at `run_start`.
    pub fn start_at(&self, run_start: DateTime<Utc>) -> DateTime<Utc> {
        match self.start {
            IncidentStart::After(offset) => run_start + delta(offset),
            IncidentStart::At(at) => at,
        }
    }
}

/// A validated duration (at most a century) as a `TimeDelta`.
fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// Whom an incident touches and how, with everything resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IncidentEffect {
    /// Transactions of this payment type and currency are approved at `approval_rate`,
    /// declined otherwise.
    ApprovalDrop {
        /// Payment type.
        payment_type: PaymentType,
        /// Currency.
        currency: Currency,
        /// Share approved.
        approval_rate: f64,
    },
    /// Transactions in this country are fraud (`is_fraud: true`) at `fraud_rate`.
    FraudBurst {
        /// Country.
        country: Country,
        /// Share fraud.
        fraud_rate: f64,
    },
    /// This merchant's transactions are declined at `decline_rate`, approved otherwise.
    MerchantDeclineSpike {
        /// Merchant number (`m-000042` is 42).
        merchant: u32,
        /// Share declined.
        decline_rate: f64,
    },
}

/// An incident of a run: its absolute window `[start, end)` and its effect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedIncident {
    /// Its place in the scenario's `incidents` (0 first).
    pub index: usize,
    /// First instant it is active.
    pub start: DateTime<Utc>,
    /// First instant it is no longer active.
    pub end: DateTime<Utc>,
    /// Whom it touches and how.
    pub effect: IncidentEffect,
}

impl PlannedIncident {
    /// Its kind.
    pub fn kind(&self) -> IncidentKind {
        match self.effect {
            IncidentEffect::ApprovalDrop { .. } => IncidentKind::ApprovalDrop,
            IncidentEffect::FraudBurst { .. } => IncidentKind::FraudBurst,
            IncidentEffect::MerchantDeclineSpike { .. } => IncidentKind::MerchantDeclineSpike,
        }
    }

    /// Whether it is active at `at`.
    pub fn active(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    /// Its scope as the events carry it: `{"payment_type": "card", "currency": "USD"}`,
    /// `{"country": "BR"}` or `{"merchant_id": "m-000042"}`.
    pub fn scope(&self) -> Value {
        match self.effect {
            IncidentEffect::ApprovalDrop {
                payment_type,
                currency,
                ..
            } => json!({"payment_type": payment_type.as_str(), "currency": currency.code()}),
            IncidentEffect::FraudBurst { country, .. } => json!({"country": country.as_str()}),
            IncidentEffect::MerchantDeclineSpike { merchant, .. } => {
                let mut id = String::new();
                push_id(&mut id, 'm', merchant);
                json!({"merchant_id": id})
            }
        }
    }

    /// The outcome while it lasts: `{"approval_rate": 0.5}`, `{"fraud_rate": 0.2}` or
    /// `{"decline_rate": 0.6}`.
    pub fn outcome(&self) -> Value {
        match self.effect {
            IncidentEffect::ApprovalDrop { approval_rate, .. } => {
                json!({"approval_rate": approval_rate})
            }
            IncidentEffect::FraudBurst { fraud_rate, .. } => json!({"fraud_rate": fraud_rate}),
            IncidentEffect::MerchantDeclineSpike { decline_rate, .. } => {
                json!({"decline_rate": decline_rate})
            }
        }
    }

    /// Its manifest line (docs/SIMULATOR-USER-GUIDE.md, "Incidents").
    pub fn manifest_line(&self) -> Value {
        json!({
            "incident": self.kind().name(),
            "index": self.index,
            "start": self.start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "end": self.end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "scope": self.scope(),
            "outcome": self.outcome(),
            "expected": "alert",
        })
    }
}

impl Scenario {
    /// The start of a run of this scenario when it is known before the run: a backfill's
    /// `from` (a realtime run starts when it is started).
    pub fn run_start(&self) -> Option<DateTime<Utc>> {
        match self.time {
            TimeMode::Backfill { from, .. } => Some(from),
            TimeMode::Realtime => None,
        }
    }

    /// The scenario's incidents, in the order written, with their absolute windows for a
    /// run that starts at `run_start` (offsets count from it; RFC 3339 starts stand as
    /// they are). A backfill starts at its `from` ([`Scenario::run_start`]).
    pub fn incidents_at(&self, run_start: DateTime<Utc>) -> Vec<PlannedIncident> {
        self.incidents
            .iter()
            .enumerate()
            .map(|(index, incident)| {
                let start = incident.start_at(run_start);
                let effect = match incident.kind {
                    IncidentKind::ApprovalDrop => IncidentEffect::ApprovalDrop {
                        payment_type: incident.payment_type.expect("validated"),
                        currency: incident.currency.expect("validated"),
                        approval_rate: incident.approval_rate.expect("validated"),
                    },
                    IncidentKind::FraudBurst => IncidentEffect::FraudBurst {
                        country: incident.country.expect("validated"),
                        fraud_rate: incident.fraud_rate.expect("validated"),
                    },
                    IncidentKind::MerchantDeclineSpike => IncidentEffect::MerchantDeclineSpike {
                        merchant: incident.merchant.expect("validated").number(),
                        decline_rate: incident.decline_rate.expect("validated"),
                    },
                };
                PlannedIncident {
                    index,
                    start,
                    end: start + delta(incident.duration),
                    effect,
                }
            })
            .collect()
    }
}
