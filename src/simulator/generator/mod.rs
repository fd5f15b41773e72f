//! The deterministic event stream: arrivals, transactions, fraud episodes and faults.
//!
//! Everything random comes from two xoshiro256++ streams seeded by the scenario's seed
//! (one for the transactions and their faults, one for the arrival times), and nothing
//! reads the clock: the caller passes every event time in. The same seed and scenario give
//! the same bytes, whatever the sinks do with them afterwards. Transactions hold the
//! domain's values (`PaymentType`, `Status`, `Currency`, ...), whose canonical text is what
//! the events carry.
//!
//! While a planted incident is active (event time in its `[start, end)`), the ordinary
//! transactions of its scope take its outcome: an approval drop and a merchant's decline
//! spike decide approved or declined from the transaction's own outcome roll, a fraud
//! burst rolls once more for `is_fraud`, and only inside it, so a stream is the same as
//! without incidents up to the first one. Fraud episodes' payments keep their own
//! outcomes. An out-of-order event keeps its outcome while its time moves back (by up to
//! `faults.out_of_order.max_jitter`, possibly out of the window).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use rand::Rng;
use rand::distributions::{Distribution, WeightedIndex};
use rand_distr::Zipf;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

mod arrivals;
mod model;
mod text;

pub use arrivals::Arrivals;
use model::{CategoryModel, CurrencyModel, Draw, TypeModel, choice, fraud_index, weighted};
use text::push_rfc3339;
pub use text::{push_id, push_major};

use super::scenario::{IncidentEffect, PartitionKey, PlannedIncident, Scenario};
use crate::domain::{Channel, Country, Currency, PaymentType, Status};
use crate::ingest::RejectReason;

/// What the pipeline should do with an emitted event, for the manifest and the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Stored as a new transaction.
    Accepted,
    /// Counted as a duplicate, not stored again.
    Duplicate,
    /// Quarantined with this reason.
    Rejected(RejectReason),
}

impl Expected {
    /// `accepted`, `duplicate` or `rejected:<reason>`.
    pub fn label(self) -> String {
        match self {
            Self::Accepted => "accepted".into(),
            Self::Duplicate => "duplicate".into(),
            Self::Rejected(reason) => format!("rejected:{}", reason.as_str()),
        }
    }
}

/// The fault an emitted event carries, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A plain event.
    None,
    /// The same bytes as an earlier event.
    Duplicate,
    /// Delivered long after its event time.
    Late,
    /// Event time moved back.
    OutOfOrder,
    /// In the legacy camelCase format.
    Legacy,
    /// Truncated JSON.
    BrokenJson,
    /// `merchant_id` left out.
    MissingField,
    /// An unknown currency.
    BadCurrency,
    /// More decimals than the currency has.
    TooManyDecimals,
}

impl Fault {
    /// The manifest name.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Duplicate => "duplicate",
            Self::Late => "late",
            Self::OutOfOrder => "out_of_order",
            Self::Legacy => "legacy_format",
            Self::BrokenJson => "broken_json",
            Self::MissingField => "missing_field",
            Self::BadCurrency => "bad_currency",
            Self::TooManyDecimals => "too_many_decimals",
        }
    }
}

/// A generated transaction, as the pipeline should store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// UUID-shaped id derived from the seed.
    pub id: String,
    /// Event time.
    pub occurred_at: DateTime<Utc>,
    /// Amount in minor units of `currency`.
    pub amount_minor: i64,
    /// Currency (and so the number of minor units).
    pub currency: Currency,
    /// Payment type.
    pub payment_type: PaymentType,
    /// Outcome.
    pub status: Status,
    /// Merchant number (sent as `m-000042`); also picks its category.
    pub merchant: u32,
    /// Index into the scenario's categories.
    pub category: usize,
    /// Customer number (sent as `c-000123`).
    pub customer: u32,
    /// Country of the payment.
    pub country: Country,
    /// Sales channel.
    pub channel: Channel,
    /// Why it was declined, for declined payments.
    pub decline_reason: Option<&'static str>,
    /// Labelled as fraud by the producer (a fraud episode's payments).
    pub is_fraud: bool,
}

/// One event to send.
#[derive(Debug, Clone)]
pub struct Emission {
    /// The event body.
    pub text: String,
    /// Partition key value (merchant or customer id).
    pub partition_key: u32,
    /// The transaction id the event carries (for the manifest).
    pub transaction_id: String,
    /// The fault it carries, for the manifest.
    pub fault: Fault,
    /// What the pipeline should do with it.
    pub expected: Expected,
    /// The transaction, for events the pipeline should accept.
    pub txn: Option<Txn>,
}

const DECLINE_REASONS: &[&str] = &[
    "insufficient_funds",
    "do_not_honor",
    "expired_card",
    "suspected_fraud",
    "limit_exceeded",
];
/// The outcome of each of a type's outcome rates, in the order of [`TypeModel::outcome`];
/// a roll past all of them is approved.
const OUTCOMES: [Status; 4] = [
    Status::Declined,
    Status::Failed,
    Status::Pending,
    Status::Refunded,
];

/// The event stream of a scenario.
pub struct Generator {
    rng: Xoshiro256PlusPlus,
    types: Vec<TypeModel>,
    type_index: WeightedIndex<f64>,
    currencies: Vec<CurrencyModel>,
    currency_index: WeightedIndex<f64>,
    countries: Vec<Country>,
    country_index: WeightedIndex<f64>,
    channels: Vec<Channel>,
    channel_index: WeightedIndex<f64>,
    merchant_zipf: Option<Zipf<f64>>,
    merchants: u64,
    categories: Vec<CategoryModel>,
    customers: u64,
    scenario: Scenario,
    fraud_index: WeightedIndex<f64>,
    /// Fraud payments queued to follow.
    fraud_queue: VecDeque<Txn>,
    /// Events to emit next (duplicates, malformed extras), with the number of fresh
    /// transactions to wait for.
    delayed: VecDeque<(u32, Emission)>,
    /// Late events, by the time they are due.
    late: BinaryHeap<Reverse<(DateTime<Utc>, u64, LateEvent)>>,
    /// The transactions of the late events, by id.
    late_txns: Vec<(String, Txn)>,
    counter: u64,
    malformed_turn: u8,
    /// The scenario's incidents with their windows (none when the run's start is not
    /// known: see [`Generator::starting_at`]).
    incidents: Vec<PlannedIncident>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LateEvent(String, u32, String, bool);

impl Generator {
    /// A generator for a validated scenario. Its incidents count from the backfill's
    /// `from`; a realtime scenario's are only planted by [`Generator::starting_at`].
    pub fn new(scenario: &Scenario) -> Self {
        match scenario.run_start() {
            Some(start) => Self::starting_at(scenario, start),
            None => Self::without_incidents(scenario),
        }
    }

    /// A generator for a run of a validated scenario that starts at `run_start`, the
    /// instant its incidents' offsets count from ([`Scenario::incidents_at`]).
    pub fn starting_at(scenario: &Scenario, run_start: DateTime<Utc>) -> Self {
        let mut generator = Self::without_incidents(scenario);
        generator.incidents = scenario.incidents_at(run_start);
        generator
    }

    fn without_incidents(scenario: &Scenario) -> Self {
        let categories = &scenario.merchants.categories;
        let types = scenario
            .payment_types
            .iter()
            .map(|(payment_type, mix)| TypeModel::new(payment_type, mix, categories))
            .collect();
        let currencies = scenario
            .currencies
            .iter()
            .map(|(currency, mix)| CurrencyModel {
                currency,
                per_usd: mix.per_usd,
            })
            .collect();
        let (countries, country_index) = choice(scenario.countries.iter());
        let (channels, channel_index) = choice(scenario.channels.iter());
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(scenario.seed),
            types,
            type_index: weighted(scenario.payment_types.values().map(|m| m.weight)),
            currencies,
            currency_index: weighted(scenario.currencies.values().map(|m| m.weight)),
            countries,
            country_index,
            channels,
            channel_index,
            merchant_zipf: (scenario.merchants.zipf_exponent > 0.0).then(|| {
                Zipf::new(scenario.merchants.count, scenario.merchants.zipf_exponent)
                    .expect("validated")
            }),
            merchants: scenario.merchants.count,
            categories: categories.iter().map(|c| CategoryModel::new(c)).collect(),
            customers: scenario.customers.count,
            scenario: scenario.clone(),
            fraud_index: fraud_index(scenario),
            fraud_queue: VecDeque::new(),
            delayed: VecDeque::new(),
            late: BinaryHeap::new(),
            late_txns: Vec::new(),
            counter: 0,
            malformed_turn: 0,
            incidents: Vec::new(),
        }
    }

    /// The outcome an active incident gives a transaction of this payment type,
    /// currency and merchant at `at`, from the transaction's outcome `roll`: the first
    /// such incident in the scenario's order decides.
    fn incident_status(
        &self,
        at: DateTime<Utc>,
        payment_type: PaymentType,
        currency: Currency,
        merchant: u32,
        roll: f64,
    ) -> Option<Status> {
        let share_approved = self
            .incidents
            .iter()
            .filter(|incident| incident.active(at))
            .find_map(|incident| match incident.effect {
                IncidentEffect::ApprovalDrop {
                    payment_type: p,
                    currency: c,
                    approval_rate,
                } if p == payment_type && c == currency => Some(approval_rate),
                IncidentEffect::MerchantDeclineSpike {
                    merchant: m,
                    decline_rate,
                } if m == merchant => Some(1.0 - decline_rate),
                _ => None,
            })?;
        Some(if roll < share_approved {
            Status::Approved
        } else {
            Status::Declined
        })
    }

    /// The fraud rate of the first fraud burst active at `at` in `country`.
    fn fraud_burst(&self, at: DateTime<Utc>, country: Country) -> Option<f64> {
        self.incidents
            .iter()
            .filter(|incident| incident.active(at))
            .find_map(|incident| match incident.effect {
                IncidentEffect::FraudBurst {
                    country: c,
                    fraud_rate,
                } if c == country => Some(fraud_rate),
                _ => None,
            })
    }

    fn next_id(&mut self) -> String {
        let bits: u128 = self.rng.r#gen();
        let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let hex = format!("{bits:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    fn merchant(&mut self) -> u32 {
        match &self.merchant_zipf {
            Some(zipf) => zipf.sample(&mut self.rng) as u32 - 1,
            None => self.rng.gen_range(0..self.merchants) as u32,
        }
    }

    /// A fresh ordinary transaction at `at`.
    fn transaction(&mut self, at: DateTime<Utc>) -> Txn {
        let kind = self.type_index.sample(&mut self.rng);
        let currency = self.currency_index.sample(&mut self.rng);
        let merchant = self.merchant();
        let category = merchant as usize % self.categories.len();
        let model = &self.types[kind];
        let usd = match &model.by_category[category] {
            Some(distribution) => distribution.sample(&mut self.rng),
            None => model.amount.sample(&mut self.rng),
        };
        let roll: f64 = self.rng.r#gen();
        let hourly = self
            .scenario
            .outcomes_by_hour
            .as_ref()
            .map_or(1.0, |m| m[at.hour() as usize]);
        let payment_type = model.payment_type;
        let incident = self.incident_status(
            at,
            payment_type,
            self.currencies[currency].currency,
            merchant,
            roll,
        );
        let status = incident.unwrap_or_else(|| {
            let [decline, failure, pending, refund] = model.outcome;
            let edges = [decline * hourly, failure * hourly, pending, refund];
            let mut edge = 0.0;
            for (outcome, share) in OUTCOMES.iter().zip(edges) {
                edge += share;
                if roll < edge {
                    return *outcome;
                }
            }
            Status::Approved
        });
        let draw = Draw {
            payment_type,
            currency,
            usd,
            status,
            merchant,
        };
        self.finish(at, draw, false)
    }

    /// The transaction of a draw: its amount in the currency's minor units, and the
    /// customer, country, channel and decline reason drawn now.
    fn finish(&mut self, at: DateTime<Utc>, draw: Draw, is_fraud: bool) -> Txn {
        let Draw {
            payment_type,
            currency,
            usd,
            status,
            merchant,
        } = draw;
        let model = &self.currencies[currency];
        let currency = model.currency;
        let scaled = usd * model.per_usd * 10f64.powi(currency.minor_units() as i32);
        let amount_minor = (scaled.round() as i64).clamp(1, 99_999_999_999_999);
        let decline_reason = (status == Status::Declined)
            .then(|| DECLINE_REASONS[self.rng.gen_range(0..DECLINE_REASONS.len())]);
        let customer = self.rng.gen_range(0..self.customers) as u32;
        let country = self.countries[self.country_index.sample(&mut self.rng)];
        let channel = self.channels[self.channel_index.sample(&mut self.rng)];
        // Drawn only inside a burst, so a stream without one is unchanged.
        let is_fraud = is_fraud
            || self
                .fraud_burst(at, country)
                .is_some_and(|rate| self.rng.r#gen::<f64>() < rate);
        Txn {
            id: self.next_id(),
            occurred_at: at,
            amount_minor,
            currency,
            payment_type,
            status,
            merchant,
            category: merchant as usize % self.categories.len(),
            customer,
            country,
            channel,
            decline_reason,
            is_fraud,
        }
    }

    /// Queues the payments of a fraud episode starting at `at`.
    fn fraud_episode(&mut self, at: DateTime<Utc>) {
        let fraud = self.scenario.fraud.clone();
        let card = self
            .types
            .iter()
            .position(|t| t.payment_type == PaymentType::Card)
            .unwrap_or(0);
        if self.fraud_index.sample(&mut self.rng) == 0 {
            // Card testing: small amounts at one merchant, one after the other.
            let merchant = self.merchant();
            for i in 0..fraud.card_testing.burst_size {
                let usd = self
                    .rng
                    .gen_range(0.5..fraud.card_testing.max_amount.max(0.51));
                let declined = self.rng.r#gen::<f64>() < fraud.card_testing.decline_rate;
                let status = if declined {
                    Status::Declined
                } else {
                    Status::Approved
                };
                let currency = self.currency_index.sample(&mut self.rng);
                let when = at + TimeDelta::milliseconds(i64::from(i) * 700);
                let card = self.types[card].payment_type;
                let draw = Draw {
                    payment_type: card,
                    currency,
                    usd,
                    status,
                    merchant,
                };
                let txn = self.finish(when, draw, true);
                self.fraud_queue.push_back(txn);
            }
        } else {
            // Account takeover: one customer, a few high-value payments.
            let mut first: Option<u32> = None;
            for i in 0..fraud.account_takeover.payments {
                let kind = self.type_index.sample(&mut self.rng);
                let usd = self.types[kind].amount.sample(&mut self.rng)
                    * fraud.account_takeover.amount_multiplier;
                let currency = self.currency_index.sample(&mut self.rng);
                let merchant = self.merchant();
                let when = at + TimeDelta::seconds(i64::from(i) * 40);
                let payment_type = self.types[kind].payment_type;
                let draw = Draw {
                    payment_type,
                    currency,
                    usd,
                    status: Status::Approved,
                    merchant,
                };
                let mut txn = self.finish(when, draw, true);
                let customer = *first.get_or_insert(txn.customer);
                txn.customer = customer;
                self.fraud_queue.push_back(txn);
            }
        }
    }

    /// The events due at event time `at`: the transaction (or fraud payment) of this
    /// arrival with its faults, and whatever earlier faults release now. Late events
    /// whose delay has passed by `at` come first.
    pub fn arrival(&mut self, at: DateTime<Utc>, out: &mut Vec<Emission>) {
        self.release_late(Some(at), out);
        if self.fraud_queue.is_empty() && self.rng.r#gen::<f64>() < self.scenario.fraud.rate {
            self.fraud_episode(at);
        }
        let mut txn = match self.fraud_queue.pop_front() {
            Some(txn) => txn,
            None => self.transaction(at),
        };
        let faults = self.scenario.faults.clone();
        let mut fault = Fault::None;
        if self.rng.r#gen::<f64>() < faults.out_of_order.rate {
            let jitter_ms = faults.out_of_order.max_jitter.as_millis().max(1) as i64;
            txn.occurred_at -= TimeDelta::milliseconds(self.rng.gen_range(1..=jitter_ms));
            fault = Fault::OutOfOrder;
        }
        let legacy = self.rng.r#gen::<f64>() < faults.legacy_format;
        let text = if legacy {
            self.legacy_json(&txn)
        } else {
            self.canonical_json(&txn, None)
        };
        if legacy && fault == Fault::None {
            fault = Fault::Legacy;
        }
        let late = self.rng.r#gen::<f64>() < faults.late.rate;
        // A late event's copy would arrive before it and swap the roles; late events are
        // not duplicated.
        let duplicate = self.rng.r#gen::<f64>() < faults.duplicates && !late;
        let key = self.partition_key(&txn);
        if duplicate {
            let wait = self.rng.gen_range(1..=20);
            self.delayed.push_back((
                wait,
                Emission {
                    text: text.clone(),
                    partition_key: key,
                    transaction_id: txn.id.clone(),
                    fault: Fault::Duplicate,
                    expected: Expected::Duplicate,
                    txn: None,
                },
            ));
        }
        if self.rng.r#gen::<f64>() < faults.malformed {
            let broken = self.malformed(at);
            self.delayed.push_back((0, broken));
        }
        self.counter += 1;
        if late {
            let due = txn.occurred_at
                + TimeDelta::from_std(faults.late.delay).unwrap_or(TimeDelta::zero());
            let id = txn.id.clone();
            self.late_txns.push((id.clone(), txn));
            self.late.push(Reverse((
                due,
                self.counter,
                LateEvent(text, key, id, legacy),
            )));
        } else {
            out.push(Emission {
                text,
                partition_key: key,
                transaction_id: txn.id.clone(),
                fault,
                expected: Expected::Accepted,
                txn: Some(txn),
            });
        }
        self.release_delayed(out);
    }

    fn release_delayed(&mut self, out: &mut Vec<Emission>) {
        let mut keep = VecDeque::with_capacity(self.delayed.len());
        while let Some((wait, emission)) = self.delayed.pop_front() {
            if wait == 0 {
                out.push(emission);
            } else {
                keep.push_back((wait - 1, emission));
            }
        }
        self.delayed = keep;
    }

    /// Emits the late events due by `now` (all of them with `None`, at the end of a run).
    pub fn release_late(&mut self, now: Option<DateTime<Utc>>, out: &mut Vec<Emission>) {
        while let Some(Reverse((due, _, _))) = self.late.peek() {
            if now.is_some_and(|now| *due > now) {
                break;
            }
            let Reverse((_, _, LateEvent(text, key, id, _))) = self.late.pop().expect("peeked");
            let position = self
                .late_txns
                .iter()
                .position(|(i, _)| *i == id)
                .expect("kept");
            let (_, txn) = self.late_txns.swap_remove(position);
            out.push(Emission {
                text,
                partition_key: key,
                transaction_id: id,
                fault: Fault::Late,
                expected: Expected::Accepted,
                txn: Some(txn),
            });
        }
    }

    /// Everything still held back (duplicates waiting, late events): call at the end.
    pub fn flush(&mut self, out: &mut Vec<Emission>) {
        self.release_late(None, out);
        while let Some((_, emission)) = self.delayed.pop_front() {
            out.push(emission);
        }
    }

    fn partition_key(&self, txn: &Txn) -> u32 {
        match self.scenario.delivery.partition_key {
            PartitionKey::Merchant => txn.merchant,
            PartitionKey::Customer => txn.customer,
        }
    }

    /// An extra broken event, the four kinds in turn.
    fn malformed(&mut self, at: DateTime<Utc>) -> Emission {
        let txn = self.transaction(at);
        let key = self.partition_key(&txn);
        self.malformed_turn = (self.malformed_turn + 1) % 4;
        let (fault, reason, text) = match self.malformed_turn {
            0 => {
                let full = self.canonical_json(&txn, None);
                let cut = full.len() / 2;
                (
                    Fault::BrokenJson,
                    RejectReason::MalformedJson,
                    full[..cut].to_owned(),
                )
            }
            1 => (
                Fault::MissingField,
                RejectReason::MissingField,
                self.canonical_json(&txn, Some(Broken::NoMerchant)),
            ),
            2 => (
                Fault::BadCurrency,
                RejectReason::UnknownCurrency,
                self.canonical_json(&txn, Some(Broken::Currency)),
            ),
            _ => (
                Fault::TooManyDecimals,
                RejectReason::AmountPrecision,
                self.canonical_json(&txn, Some(Broken::Decimals)),
            ),
        };
        Emission {
            text,
            partition_key: key,
            transaction_id: txn.id,
            fault,
            expected: Expected::Rejected(reason),
            txn: None,
        }
    }

    /// The canonical v1 JSON of a transaction, written by hand: this is the hot path.
    fn canonical_json(&self, txn: &Txn, broken: Option<Broken>) -> String {
        let mut s = String::with_capacity(360);
        s.push_str("{\"transaction_id\":\"");
        s.push_str(&txn.id);
        s.push_str("\",\"occurred_at\":\"");
        push_rfc3339(&mut s, txn.occurred_at);
        s.push_str("\",\"amount\":\"");
        push_major(&mut s, txn.amount_minor, txn.currency.minor_units());
        if broken == Some(Broken::Decimals) {
            if txn.currency.minor_units() == 0 {
                s.push_str(".5");
            } else {
                s.push('5');
            }
        }
        s.push_str("\",\"currency\":\"");
        s.push_str(if broken == Some(Broken::Currency) {
            "XXZ"
        } else {
            txn.currency.code()
        });
        s.push_str("\",\"payment_type\":\"");
        s.push_str(txn.payment_type.as_str());
        s.push_str("\",\"status\":\"");
        s.push_str(txn.status.as_str());
        if broken != Some(Broken::NoMerchant) {
            s.push_str("\",\"merchant_id\":\"");
            push_id(&mut s, 'm', txn.merchant);
        }
        s.push_str("\",\"merchant_category\":");
        s.push_str(&self.categories[txn.category].quoted);
        s.push_str(",\"customer_id\":\"");
        push_id(&mut s, 'c', txn.customer);
        s.push_str("\",\"country\":\"");
        s.push_str(txn.country.as_str());
        s.push_str("\",\"channel\":\"");
        s.push_str(txn.channel.as_str());
        if let Some(reason) = txn.decline_reason {
            s.push_str("\",\"decline_reason\":\"");
            s.push_str(reason);
        }
        s.push_str("\",\"is_fraud\":");
        s.push_str(if txn.is_fraud { "true}" } else { "false}" });
        s
    }

    /// The legacy camelCase JSON of a transaction.
    fn legacy_json(&self, txn: &Txn) -> String {
        let mut s = String::with_capacity(320);
        s.push_str("{\"transactionId\":\"");
        s.push_str(&txn.id);
        s.push_str("\",\"timestampMs\":");
        s.push_str(&txn.occurred_at.timestamp_millis().to_string());
        s.push_str(",\"amountMinor\":");
        s.push_str(&txn.amount_minor.to_string());
        s.push_str(",\"currency\":\"");
        s.push_str(&txn.currency.code().to_ascii_lowercase());
        s.push_str("\",\"paymentMethod\":\"");
        s.push_str(&txn.payment_type.as_str().to_ascii_uppercase());
        s.push_str("\",\"status\":\"");
        s.push_str(&txn.status.as_str().to_ascii_uppercase());
        s.push_str("\",\"merchantId\":\"");
        push_id(&mut s, 'm', txn.merchant);
        s.push_str("\",\"mcc\":");
        s.push_str(&self.categories[txn.category].legacy);
        s.push_str(",\"customerId\":\"");
        push_id(&mut s, 'c', txn.customer);
        s.push_str("\",\"countryCode\":\"");
        s.push_str(txn.country.as_str());
        s.push_str("\",\"channel\":\"");
        s.push_str(&txn.channel.as_str().to_ascii_uppercase());
        if let Some(reason) = txn.decline_reason {
            s.push_str("\",\"declineReason\":\"");
            s.push_str(reason);
        }
        s.push_str("\",\"isFraud\":");
        s.push_str(if txn.is_fraud { "true}" } else { "false}" });
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broken {
    NoMerchant,
    Currency,
    Decimals,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duplicate_follows_its_event_on_the_same_customer_partition() {
        let scenario = Scenario::from_yaml(
            "merchants: {count: 5, zipf_exponent: 0}\n\
             delivery: {partition_key: customer}\n\
             fraud: {rate: 0}\n\
             faults: {duplicates: 1, late: {rate: 0}, out_of_order: {rate: 0}, malformed: 0, \
             legacy_format: 0}\n",
            "s.yaml",
        )
        .unwrap();
        let mut generator = Generator::new(&scenario);
        let start: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let mut out = Vec::new();
        for i in 0..10 {
            generator.arrival(start + TimeDelta::seconds(i), &mut out);
        }
        let before_flush = out.iter().filter(|e| e.fault == Fault::Duplicate).count();
        assert!(
            before_flush < 10,
            "the last duplicate waits for later events"
        );
        generator.flush(&mut out);

        let accepted: Vec<&Emission> = out
            .iter()
            .filter(|e| e.expected == Expected::Accepted)
            .collect();
        assert_eq!(accepted.len(), 10);
        for original in &accepted {
            let txn = original.txn.as_ref().unwrap();
            assert!(txn.merchant < 5, "merchant {}", txn.merchant);
            assert_eq!(original.partition_key, txn.customer);
            let copies: Vec<&Emission> = out
                .iter()
                .filter(|e| {
                    e.transaction_id == original.transaction_id && e.fault == Fault::Duplicate
                })
                .collect();
            assert_eq!(copies.len(), 1, "{}", original.transaction_id);
            assert_eq!(copies[0].text, original.text);
            assert_eq!(copies[0].partition_key, txn.customer);
            assert_eq!(copies[0].expected, Expected::Duplicate);
        }
    }

    /// Three quiet hours of backfill at 20 transactions a second (no faults, bursts or
    /// hourly outcomes, the default fraud), with `incidents` (YAML list entries).
    fn with_incidents(incidents: &str) -> Scenario {
        Scenario::from_yaml(
            &format!(
                "rate: {{events_per_second: 20, bursts: null}}\n\
                 outcomes_by_hour: null\n\
                 faults: {{duplicates: 0, late: {{rate: 0}}, out_of_order: {{rate: 0}}, \
                 malformed: 0, legacy_format: 0}}\n\
                 time: {{mode: backfill, from: 2026-11-25T00:00:00Z, to: 2026-11-25T03:00:00Z}}\n\
                 incidents:{incidents}\n"
            ),
            "s.yaml",
        )
        .unwrap()
    }

    /// Every transaction of a scenario's backfill, as generated.
    fn transactions(scenario: &Scenario) -> Vec<Txn> {
        let (from, to) = scenario.backfill_range().unwrap();
        let mut generator = Generator::new(scenario);
        let mut arrivals = Arrivals::new(scenario, from);
        let mut out = Vec::new();
        loop {
            let at = arrivals.next_time();
            if at >= to {
                break;
            }
            generator.arrival(at, &mut out);
        }
        generator.flush(&mut out);
        out.into_iter().filter_map(|e| e.txn).collect()
    }

    /// The share of `txns` that `hit`, and how many there were.
    fn share<'a>(txns: impl Iterator<Item = &'a Txn>, hit: impl Fn(&Txn) -> bool) -> (f64, usize) {
        let (mut hits, mut n) = (0, 0);
        for txn in txns {
            n += 1;
            hits += usize::from(hit(txn));
        }
        (hits as f64 / n.max(1) as f64, n)
    }

    const PLANTED: &str = "
  - {kind: approval_drop, payment_type: card, currency: USD, start: 30m, duration: 30m, approval_rate: 0.5}
  - {kind: fraud_burst, country: BR, start: 75m, duration: 30m, fraud_rate: 0.2}
  - {kind: merchant_decline_spike, merchant: top, start: 2h, duration: 30m, decline_rate: 0.6}";

    #[test]
    fn simulator_incidents_change_their_scopes_outcomes_inside_their_windows_only() {
        let scenario = with_incidents(PLANTED);
        let planned = &scenario.incidents_at(scenario.run_start().unwrap());
        let txns = transactions(&scenario);
        let inside = |i: usize| {
            txns.iter()
                .filter(move |t| planned[i].active(t.occurred_at))
        };
        let quiet = || {
            txns.iter()
                .filter(|t| !planned.iter().any(|p| p.active(t.occurred_at)))
        };
        let card_usd = |t: &&Txn| t.payment_type == PaymentType::Card && t.currency.code() == "USD";
        let approved = |t: &Txn| t.status == Status::Approved;
        let (during, n) = share(inside(0).filter(card_usd), approved);
        let (usual, _) = share(quiet().filter(card_usd), approved);
        assert!(n > 5000 && (during - 0.5).abs() < 0.02, "{during} of {n}");
        assert!(usual > 0.85, "{usual}");
        // The rest of a drop is declined, with a reason.
        assert!(
            inside(0)
                .filter(card_usd)
                .all(|t| approved(t) || t.decline_reason.is_some())
        );

        let br = |t: &&Txn| t.country.as_str() == "BR";
        let (during, n) = share(inside(1).filter(br), |t| t.is_fraud);
        let (usual, _) = share(quiet().filter(br), |t| t.is_fraud);
        assert!(n > 2000 && (during - 0.2).abs() < 0.03, "{during} of {n}");
        assert!(usual < 0.03, "{usual}");

        let top = |t: &&Txn| t.merchant == 0;
        let declined = |t: &Txn| t.status == Status::Declined;
        let (during, n) = share(inside(2).filter(top), declined);
        let (usual, _) = share(quiet().filter(top), declined);
        assert!(n > 3000 && (during - 0.6).abs() < 0.03, "{during} of {n}");
        assert!(usual < 0.15, "{usual}");
        // Other merchants keep their declines meanwhile.
        let (others, _) = share(inside(2).filter(|t| t.merchant != 0), declined);
        assert!(others < 0.15, "{others}");
    }

    #[test]
    fn simulator_incident_windows_start_and_end_exactly() {
        let mut scenario = with_incidents(
            "
  - {kind: approval_drop, payment_type: card, currency: USD, start: 30m, duration: 30m, approval_rate: 0}",
        );
        // Fraud episodes' card payments keep their own outcomes.
        scenario.fraud.rate = 0.0;
        let start: DateTime<Utc> = "2026-11-25T00:30:00Z".parse().unwrap();
        let end = start + TimeDelta::minutes(30);
        let card_usd: Vec<Txn> = transactions(&scenario)
            .into_iter()
            .filter(|t| t.payment_type == PaymentType::Card && t.currency.code() == "USD")
            .collect();
        let approved = |from: DateTime<Utc>, to: DateTime<Utc>| {
            card_usd
                .iter()
                .filter(|t| from <= t.occurred_at && t.occurred_at < to)
                .filter(|t| t.status == Status::Approved)
                .count()
        };
        let minute = TimeDelta::minutes(1);
        assert_eq!(approved(start, end), 0);
        assert!(approved(start - minute, start) > 100);
        assert!(approved(end, end + minute) > 100);
    }

    #[test]
    fn simulator_incidents_are_deterministic_and_leave_the_stream_before_them_alone() {
        let planted = with_incidents(PLANTED);
        let first = transactions(&planted);
        assert_eq!(first, transactions(&planted));
        let mut reseeded = planted.clone();
        reseeded.seed += 1;
        assert_ne!(first, transactions(&reseeded));
        let plain = transactions(&with_incidents(" []"));
        let before = |txns: &[Txn]| -> Vec<Txn> {
            let start: DateTime<Utc> = "2026-11-25T00:30:00Z".parse().unwrap();
            txns.iter()
                .take_while(|t| t.occurred_at < start)
                .cloned()
                .collect()
        };
        assert!(before(&first).len() > 30_000);
        assert_eq!(before(&first), before(&plain));
        assert_ne!(first, plain);
        // A realtime scenario's incidents wait for the run's start.
        let mut realtime = planted.clone();
        realtime.time = crate::simulator::scenario::TimeMode::Realtime;
        assert!(Generator::new(&realtime).incidents.is_empty());
        let start: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().unwrap();
        assert_eq!(
            Generator::starting_at(&realtime, start).incidents,
            planted.incidents_at(start)
        );
    }
}
