//! One event's JSON to a [`Transaction`]: format detection, field mapping, validation.
//!
//! Two formats are accepted and detected per event (docs/EVENT-FORMATS.md):
//! canonical v1 (snake_case, `occurred_at` RFC 3339, `amount` in major units) and legacy
//! camelCase (`timestampMs` epoch milliseconds, `amountMinor` integer minor units).
//! Every problem of an event is reported, each naming its field; the reason code is the
//! first problem's.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{Map, Value};

use super::{IngestPolicy, RejectReason, Rejection, SourceFormat};
use crate::domain::{
    Channel, Country, Currency, Label, Mcc, Money, MoneyError, PaymentType, Status, Transaction,
    TransactionId, ValueError, parse_decimal,
};

/// Event times before this are not plausible payments (often seconds sent as millis).
const EARLIEST_PLAUSIBLE: i64 = 946_684_800; // 2000-01-01T00:00:00Z

/// Field names of one input format.
struct Names {
    format: SourceFormat,
    id: &'static str,
    time: &'static str,
    amount: &'static str,
    currency: &'static str,
    payment_type: &'static str,
    status: &'static str,
    merchant_id: &'static str,
    merchant_category: &'static str,
    customer_id: &'static str,
    country: &'static str,
    channel: &'static str,
    decline_reason: &'static str,
    is_fraud: &'static str,
}

const CANONICAL: Names = Names {
    format: SourceFormat::CanonicalV1,
    id: "transaction_id",
    time: "occurred_at",
    amount: "amount",
    currency: "currency",
    payment_type: "payment_type",
    status: "status",
    merchant_id: "merchant_id",
    merchant_category: "merchant_category",
    customer_id: "customer_id",
    country: "country",
    channel: "channel",
    decline_reason: "decline_reason",
    is_fraud: "is_fraud",
};

const LEGACY: Names = Names {
    format: SourceFormat::LegacyCamel,
    id: "transactionId",
    time: "timestampMs",
    amount: "amountMinor",
    currency: "currency",
    payment_type: "paymentMethod",
    status: "status",
    merchant_id: "merchantId",
    merchant_category: "mcc",
    customer_id: "customerId",
    country: "countryCode",
    channel: "channel",
    decline_reason: "declineReason",
    is_fraud: "isFraud",
};

/// Problems found so far in one event.
#[derive(Default)]
struct Problems(Vec<(RejectReason, String)>);

impl Problems {
    fn push(&mut self, reason: RejectReason, field: &str, message: impl std::fmt::Display) {
        self.0.push((reason, format!("{field}: {message}")));
    }

    fn value(&mut self, field: &str, error: ValueError) {
        self.push(RejectReason::InvalidField, field, error);
    }
}

/// What a present field holds.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Event<'a> {
    object: &'a Map<String, Value>,
    problems: Problems,
}

impl Event<'_> {
    fn get(&self, field: &str) -> Option<&Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    fn required_str(&mut self, field: &str) -> Option<&str> {
        match self.object.get(field) {
            None | Some(Value::Null) => {
                self.problems
                    .push(RejectReason::MissingField, field, "is required");
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                let got = kind(other);
                self.problems.push(
                    RejectReason::InvalidField,
                    field,
                    format!("expected a string, got {got}"),
                );
                None
            }
        }
    }

    fn required<T>(&mut self, field: &str, parse: fn(&str) -> Result<T, ValueError>) -> Option<T> {
        let text = self.required_str(field)?.to_owned();
        parse(&text).map_err(|e| self.problems.value(field, e)).ok()
    }

    /// An optional text field; `numbers` also accepts an integer (a customer number such as 42).
    fn optional<T>(
        &mut self,
        field: &str,
        numbers: bool,
        parse: fn(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let text = match self.get(field)? {
            Value::String(s) => s.clone(),
            Value::Number(n) if numbers && n.is_u64() => n.to_string(),
            other => {
                let got = kind(other);
                self.problems.push(
                    RejectReason::InvalidField,
                    field,
                    format!("expected a string, got {got}"),
                );
                return None;
            }
        };
        parse(&text).map_err(|e| self.problems.value(field, e)).ok()
    }

    /// The merchant category: a name as it came; an ISO 18245 code (an integer, or a
    /// string of one to four digits, as legacy producers send it) as the name of its
    /// canonical category, with the code kept beside it.
    fn merchant_category(&mut self, field: &str) -> (Option<Label>, Option<Mcc>) {
        let code = match self.get(field) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        };
        let Some(code) = code else {
            return (self.optional(field, false, Label::parse), None);
        };
        match Mcc::new(code) {
            Ok(mcc) => {
                let name = Label::parse(mcc.category()).expect("category names are labels");
                (Some(name), Some(mcc))
            }
            Err(e) => {
                self.problems.push(RejectReason::InvalidField, field, e);
                (None, None)
            }
        }
    }

    fn is_fraud(&mut self, field: &str) -> bool {
        match self.get(field) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                let got = kind(other);
                self.problems.push(
                    RejectReason::InvalidField,
                    field,
                    format!("expected true or false, got {got}"),
                );
                false
            }
        }
    }

    fn currency(&mut self, field: &str) -> Option<Currency> {
        match self.object.get(field) {
            None | Some(Value::Null) => {
                self.problems
                    .push(RejectReason::MissingField, field, "is required");
                None
            }
            Some(Value::String(code)) => Currency::parse(code)
                .map_err(|e| self.problems.push(RejectReason::UnknownCurrency, field, e))
                .ok(),
            Some(other) => {
                let got = kind(other);
                self.problems.push(
                    RejectReason::UnknownCurrency,
                    field,
                    format!("expected an ISO 4217 code such as \"USD\", got {got}"),
                );
                None
            }
        }
    }

    fn money_problem(&mut self, field: &str, error: MoneyError) {
        let reason = match error {
            MoneyError::TooPrecise { .. } => RejectReason::AmountPrecision,
            MoneyError::UnknownCurrency(_) => RejectReason::UnknownCurrency,
            _ => RejectReason::InvalidAmount,
        };
        self.problems.push(reason, field, error);
    }

    /// Canonical `amount`: a decimal string or a JSON number, in major units.
    fn major_amount(&mut self, field: &str, currency: Option<Currency>) -> Option<Money> {
        let text = match self.object.get(field) {
            None | Some(Value::Null) => {
                self.problems
                    .push(RejectReason::MissingField, field, "is required");
                return None;
            }
            // With serde_json's arbitrary_precision the number keeps its exact text.
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                let got = kind(other);
                self.problems.push(
                    RejectReason::InvalidAmount,
                    field,
                    format!("expected a decimal number or string, got {got}"),
                );
                return None;
            }
        };
        let Some(currency) = currency else {
            // Without a valid currency the precision cannot be judged (the currency's own
            // problem is already reported), but a non-number is still named.
            if let Err(e) = parse_decimal(&text) {
                self.money_problem(field, e);
            }
            return None;
        };
        Money::parse_major(&text, currency)
            .map_err(|e| self.money_problem(field, e))
            .ok()
    }

    /// Legacy `amountMinor`: an integer count of the currency's minor units.
    fn minor_amount(&mut self, field: &str, currency: Option<Currency>) -> Option<Money> {
        let minor = match self.object.get(field) {
            None | Some(Value::Null) => {
                self.problems
                    .push(RejectReason::MissingField, field, "is required");
                return None;
            }
            Some(Value::Number(n)) => n.to_string().parse::<i64>().ok(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        let Some(minor) = minor else {
            let got = self
                .object
                .get(field)
                .map(|v| v.to_string())
                .unwrap_or_default();
            self.problems.push(
                RejectReason::InvalidAmount,
                field,
                format!("{got} is not an integer number of minor units"),
            );
            return None;
        };
        Money::from_minor(minor, currency?)
            .map_err(|e| self.money_problem(field, e))
            .ok()
    }

    fn check_time(
        &mut self,
        field: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        policy: &IngestPolicy,
    ) -> Option<DateTime<Utc>> {
        if at.timestamp() < EARLIEST_PLAUSIBLE {
            self.problems.push(
                RejectReason::InvalidField,
                field,
                format!(
                    "{} is before 2000-01-01, not a plausible payment time",
                    at.to_rfc3339()
                ),
            );
            return None;
        }
        // `now` comes from the host's metadata (the enqueued time) and may be anything a
        // date can be: a limit beyond the calendar admits every event.
        if let Some(max_age) = policy.max_age
            && shifted(now, max_age, false).is_some_and(|oldest| at < oldest)
        {
            self.problems.push(
                RejectReason::ExpiredTimestamp,
                field,
                format!(
                    "{} is more than {} before now ({}), past the retention of stored data",
                    at.to_rfc3339(),
                    humantime::format_duration(max_age),
                    now.to_rfc3339()
                ),
            );
            return None;
        }
        if shifted(now, policy.max_future, true).is_some_and(|limit| at > limit) {
            self.problems.push(
                RejectReason::FutureTimestamp,
                field,
                format!(
                    "{} is more than {} ahead of now ({})",
                    at.to_rfc3339(),
                    humantime::format_duration(policy.max_future),
                    now.to_rfc3339()
                ),
            );
            return None;
        }
        Some(at)
    }

    fn canonical_time(&mut self, field: &str) -> Option<DateTime<Utc>> {
        let text = self.required_str(field)?.to_owned();
        DateTime::parse_from_rfc3339(text.trim())
            .map(|t| without_leap_second(t.with_timezone(&Utc)))
            .map_err(|e| {
                self.problems.push(
                    RejectReason::InvalidField,
                    field,
                    format!("{text:?} is not an RFC 3339 timestamp ({e})"),
                )
            })
            .ok()
    }

    fn epoch_millis(&mut self, field: &str) -> Option<DateTime<Utc>> {
        let millis = match self.object.get(field) {
            None | Some(Value::Null) => {
                self.problems
                    .push(RejectReason::MissingField, field, "is required");
                return None;
            }
            Some(Value::Number(n)) => n.to_string().parse::<i64>().ok(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        let time = millis.and_then(|ms| Utc.timestamp_millis_opt(ms).single());
        if time.is_none() {
            let got = self
                .object
                .get(field)
                .map(|v| v.to_string())
                .unwrap_or_default();
            self.problems.push(
                RejectReason::InvalidField,
                field,
                format!("{got} is not an integer of epoch milliseconds"),
            );
        }
        time
    }
}

/// `at` moved `by` forward or back; `None` past the calendar's ends.
fn shifted(at: DateTime<Utc>, by: std::time::Duration, forward: bool) -> Option<DateTime<Utc>> {
    let by = TimeDelta::from_std(by).ok()?;
    if forward {
        at.checked_add_signed(by)
    } else {
        at.checked_sub_signed(by)
    }
}

/// RFC 3339 allows a leap second (`11:59:60.250Z`), which chrono keeps as second 59 with
/// more than a billion nanoseconds. Epoch milliseconds (the legacy format) and PostgreSQL
/// cannot hold one and mean the next minute's first second (`12:00:00.250Z`): so does
/// this, so that both formats give the same transaction and the stored time is the one
/// whose window the event was counted in.
fn without_leap_second(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.timestamp_subsec_nanos();
    if nanos < 1_000_000_000 {
        return at;
    }
    DateTime::from_timestamp(at.timestamp() + 1, nanos - 1_000_000_000).unwrap_or(at)
}

/// Validates and normalizes one event. `now` is the instant event times are judged
/// against (the event's enqueued time when known, see [`super::prepare`]).
///
/// # Errors
/// A [`Rejection`] whose `detail` names every offending field and why.
pub fn normalize(
    json: &Value,
    now: DateTime<Utc>,
    policy: &IngestPolicy,
) -> Result<(Transaction, SourceFormat), Rejection> {
    let Some(object) = json.as_object() else {
        return Err(Rejection {
            reason: RejectReason::MalformedJson,
            detail: format!("the event is {}, expected a JSON object", kind(json)),
            transaction_id: None,
        });
    };
    let names = detect(object)?;
    let mut event = Event {
        object,
        problems: Problems::default(),
    };
    match event.transaction(names, now, policy) {
        Some(transaction) if event.problems.0.is_empty() => Ok((transaction, names.format)),
        _ => Err(event.problems.into_rejection(
            object
                .get(names.id)
                .and_then(Value::as_str)
                .map(str::to_owned),
        )),
    }
}

/// The event's format, told by its fields.
fn detect(object: &Map<String, Value>) -> Result<&'static Names, Rejection> {
    let has = |keys: &[&str]| keys.iter().any(|k| object.contains_key(*k));
    if has(&["transaction_id", "occurred_at"]) {
        Ok(&CANONICAL)
    } else if has(&["transactionId", "timestampMs", "amountMinor"]) {
        Ok(&LEGACY)
    } else {
        Err(Rejection {
            reason: RejectReason::MissingField,
            detail: "transaction_id: is required (the event has neither canonical v1 fields \
                     such as transaction_id nor legacy fields such as transactionId)"
                .to_owned(),
            transaction_id: None,
        })
    }
}

impl Problems {
    /// The rejection for the problems found: the first one's reason, every one's text.
    fn into_rejection(self, transaction_id: Option<String>) -> Rejection {
        let reason = self.0.first().map_or(RejectReason::InvalidField, |p| p.0);
        let detail = self
            .0
            .into_iter()
            .map(|p| p.1)
            .collect::<Vec<_>>()
            .join("; ");
        Rejection {
            reason,
            detail,
            transaction_id,
        }
    }
}

impl Event<'_> {
    /// Reads every field as `names` calls them, recording each problem; the transaction
    /// when every required field could be read.
    fn transaction(
        &mut self,
        names: &Names,
        now: DateTime<Utc>,
        policy: &IngestPolicy,
    ) -> Option<Transaction> {
        // Every field is read before any `?`, so that every problem is reported.
        let id = self.required(names.id, TransactionId::parse);
        let occurred_at = match names.format {
            SourceFormat::CanonicalV1 => self.canonical_time(names.time),
            SourceFormat::LegacyCamel => self.epoch_millis(names.time),
        }
        .and_then(|at| self.check_time(names.time, at, now, policy));
        let currency = self.currency(names.currency);
        let money = match names.format {
            SourceFormat::CanonicalV1 => self.major_amount(names.amount, currency),
            SourceFormat::LegacyCamel => self.minor_amount(names.amount, currency),
        };
        let payment_type = self.required(names.payment_type, PaymentType::parse);
        let status = self.required(names.status, Status::parse);
        let merchant_id = self.required(names.merchant_id, Label::parse);
        let (merchant_category, mcc) = self.merchant_category(names.merchant_category);
        let customer_id = self.optional(names.customer_id, true, Label::parse);
        let country = self.optional(names.country, false, Country::parse);
        let channel = self.optional(names.channel, false, Channel::parse);
        let decline_reason = self.optional(names.decline_reason, false, Label::parse);
        let is_fraud = self.is_fraud(names.is_fraud);
        Some(Transaction {
            id: id?,
            occurred_at: occurred_at?,
            money: money?,
            payment_type: payment_type?,
            status: status?,
            merchant_id: merchant_id?,
            merchant_category,
            mcc,
            customer_id,
            country,
            channel,
            decline_reason,
            is_fraud,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-26T12:00:00Z".parse().unwrap()
    }

    fn canonical() -> Value {
        json!({
            "transaction_id": "3f6c2b1e-9a7d-4c1e-8f00-1b2c3d4e5f60",
            "occurred_at": "2026-11-26T11:58:30.250Z",
            "amount": "42.10",
            "currency": "USD",
            "payment_type": "card",
            "status": "approved",
            "merchant_id": "m-001",
            "merchant_category": "grocery",
            "customer_id": "c-9",
            "country": "us",
            "channel": "online",
            "is_fraud": false
        })
    }

    fn reject(event: Value) -> Rejection {
        normalize(&event, now(), &IngestPolicy::default()).unwrap_err()
    }

    fn with(mut event: Value, key: &str, value: Value) -> Value {
        event[key] = value;
        event
    }

    #[test]
    fn a_canonical_event_is_normalized() {
        let (tx, format) = normalize(&canonical(), now(), &IngestPolicy::default()).unwrap();
        assert_eq!(format, SourceFormat::CanonicalV1);
        assert_eq!(tx.money.amount().to_string(), "42.10");
        assert_eq!(tx.country.unwrap().as_str(), "US");
        assert_eq!(tx.occurred_at.to_rfc3339(), "2026-11-26T11:58:30.250+00:00");
    }

    #[test]
    fn a_number_amount_is_read_exactly_without_floats() {
        let event: Value = serde_json::from_str(
            &canonical()
                .to_string()
                .replace("\"42.10\"", "0.30000000000000004"),
        )
        .unwrap();
        // 0.30000000000000004 as f64 would print 0.30000000000000004; as text it has 17
        // decimals, which USD refuses: proof that the exact text was used.
        assert_eq!(reject(event).reason, RejectReason::AmountPrecision);
        let event: Value =
            serde_json::from_str(&canonical().to_string().replace("\"42.10\"", "0.3")).unwrap();
        let (tx, _) = normalize(&event, now(), &IngestPolicy::default()).unwrap();
        assert_eq!(tx.money.amount().to_string(), "0.30");
    }

    #[test]
    fn a_legacy_event_is_normalized_to_the_same_transaction() {
        let legacy = json!({
            "transactionId": "3f6c2b1e-9a7d-4c1e-8f00-1b2c3d4e5f60",
            "timestampMs": 1_795_694_310_250_i64,
            "amountMinor": 4210,
            "currency": "usd",
            "paymentMethod": "CARD",
            "status": "APPROVED",
            "merchantId": "m-001",
            "mcc": "grocery",
            "customerId": "c-9",
            "countryCode": "US",
            "channel": "ONLINE"
        });
        let (tx, format) = normalize(&legacy, now(), &IngestPolicy::default()).unwrap();
        let (canonical, _) = normalize(&canonical(), now(), &IngestPolicy::default()).unwrap();
        assert_eq!(format, SourceFormat::LegacyCamel);
        assert_eq!(tx, canonical);
        assert_eq!(tx.fingerprint(), canonical.fingerprint());
    }

    #[test]
    fn a_leap_second_is_the_next_minute_as_in_the_legacy_format() {
        // Found by fuzzing (fuzz/corpus/normalize/leap-second): the canonical event kept
        // 11:58:60.250, its legacy twin said 11:59:00.250.
        let leap = with(
            canonical(),
            "occurred_at",
            json!("2026-11-26T11:58:60.250Z"),
        );
        let (tx, _) = normalize(&leap, now(), &IngestPolicy::default()).unwrap();
        assert_eq!(tx.occurred_at.to_rfc3339(), "2026-11-26T11:59:00.250+00:00");
        let next = with(
            canonical(),
            "occurred_at",
            json!("2026-11-26T11:59:00.250Z"),
        );
        assert_eq!(
            tx,
            normalize(&next, now(), &IngestPolicy::default()).unwrap().0
        );
        let legacy = json!({
            "transactionId": "3f6c2b1e-9a7d-4c1e-8f00-1b2c3d4e5f60",
            "timestampMs": tx.occurred_at.timestamp_millis(),
            "amountMinor": 4210, "currency": "USD", "paymentMethod": "card",
            "status": "approved", "merchantId": "m-001", "mcc": "grocery",
            "customerId": "c-9", "countryCode": "US", "channel": "online"
        });
        assert_eq!(
            tx,
            normalize(&legacy, now(), &IngestPolicy::default())
                .unwrap()
                .0
        );
    }

    #[test]
    fn a_merchant_category_code_becomes_its_category_and_is_kept() {
        let with_mcc = |mcc: Value| {
            let mut legacy = json!({
                "transactionId": "t-1", "timestampMs": 1_795_694_310_250_i64,
                "amountMinor": 4210, "currency": "usd", "paymentMethod": "CARD",
                "status": "APPROVED", "merchantId": "m-001",
            });
            legacy["mcc"] = mcc;
            normalize(&legacy, now(), &IngestPolicy::default())
        };
        for sent in [json!(5411), json!("5411"), json!(5499)] {
            let (tx, _) = with_mcc(sent.clone()).unwrap();
            let category = tx.merchant_category.as_ref().map(Label::as_str);
            assert_eq!(category, Some("grocery"), "{sent}");
        }
        let (tx, _) = with_mcc(json!(5411)).unwrap();
        assert_eq!(tx.mcc.map(Mcc::code), Some(5411));
        let (tx, _) = with_mcc(json!(1234)).unwrap();
        assert_eq!(tx.merchant_category.unwrap().as_str(), "other");
        let (tx, _) = with_mcc(json!("grocery")).unwrap();
        assert_eq!(tx.mcc, None);
        let rejection = with_mcc(json!(54110)).unwrap_err();
        assert_eq!(rejection.reason, RejectReason::InvalidField);
        assert!(
            rejection
                .detail
                .starts_with("mcc: 54110 is not a merchant category code")
        );
        let (a, _) = with_mcc(json!(5411)).unwrap();
        let (b, _) = with_mcc(json!(5412)).unwrap();
        assert_ne!(
            a.fingerprint(),
            b.fingerprint(),
            "the code is a business field"
        );
    }

    /// One event per kind of problem, with the reason and field its rejection names.
    fn problem_cases() -> Vec<(Value, RejectReason, &'static str)> {
        vec![
            (
                with(canonical(), "amount", json!("12,5")),
                RejectReason::InvalidAmount,
                "amount:",
            ),
            (
                with(canonical(), "amount", json!(-3)),
                RejectReason::InvalidAmount,
                "amount:",
            ),
            (
                with(canonical(), "amount", json!("1.234")),
                RejectReason::AmountPrecision,
                "amount:",
            ),
            (
                with(canonical(), "currency", json!("ZZZ")),
                RejectReason::UnknownCurrency,
                "currency:",
            ),
            (
                with(canonical(), "payment_type", json!("cash")),
                RejectReason::InvalidField,
                "payment_type:",
            ),
            (
                with(canonical(), "status", json!(3)),
                RejectReason::InvalidField,
                "status:",
            ),
            (
                with(canonical(), "merchant_id", Value::Null),
                RejectReason::MissingField,
                "merchant_id:",
            ),
            (
                with(canonical(), "occurred_at", json!("yesterday")),
                RejectReason::InvalidField,
                "occurred_at:",
            ),
            (
                with(canonical(), "occurred_at", json!("2026-11-26T12:05:01Z")),
                RejectReason::FutureTimestamp,
                "occurred_at:",
            ),
            (
                with(canonical(), "country", json!("XX")),
                RejectReason::InvalidField,
                "country:",
            ),
            (
                with(canonical(), "channel", json!("fax")),
                RejectReason::InvalidField,
                "channel:",
            ),
            (
                with(canonical(), "is_fraud", json!("yes")),
                RejectReason::InvalidField,
                "is_fraud:",
            ),
            (
                json!([1, 2]),
                RejectReason::MalformedJson,
                "expected a JSON object",
            ),
            (
                json!({"foo": 1}),
                RejectReason::MissingField,
                "transaction_id:",
            ),
        ]
    }

    #[test]
    fn each_problem_has_its_reason_and_names_its_field() {
        for (event, reason, field) in problem_cases() {
            let rejection = reject(event.clone());
            assert_eq!(rejection.reason, reason, "{event}");
            assert!(
                rejection.detail.contains(field),
                "{} lacks {field}",
                rejection.detail
            );
        }
    }

    #[test]
    fn with_a_maximum_age_older_events_are_expired() {
        let policy = IngestPolicy {
            max_age: Some(std::time::Duration::from_secs(86_400)),
            ..IngestPolicy::default()
        };
        let old = with(canonical(), "occurred_at", json!("2026-11-25T11:59:59Z"));
        let rejection = normalize(&old, now(), &policy).unwrap_err();
        assert_eq!(rejection.reason, RejectReason::ExpiredTimestamp);
        let edge = with(canonical(), "occurred_at", json!("2026-11-25T12:00:00Z"));
        assert!(normalize(&edge, now(), &policy).is_ok());
    }

    #[test]
    fn an_enqueued_time_at_the_end_of_the_calendar_judges_without_a_panic() {
        // The host's EnqueuedTimeUtc is `now`: "+262142-12-31T23:59:59" plus max_future
        // overflowed chrono and panicked the handler (fuzz/corpus/envelope/calendar-end).
        let end = DateTime::<Utc>::MAX_UTC;
        let policy = IngestPolicy {
            max_age: Some(std::time::Duration::from_secs(86_400)),
            ..IngestPolicy::default()
        };
        let rejection = normalize(&canonical(), end, &policy).unwrap_err();
        assert_eq!(rejection.reason, RejectReason::ExpiredTimestamp);
        let start = DateTime::<Utc>::MIN_UTC;
        let rejection = normalize(&canonical(), start, &policy).unwrap_err();
        assert_eq!(rejection.reason, RejectReason::FutureTimestamp);
    }

    #[test]
    fn an_event_exactly_at_the_future_limit_is_accepted() {
        let event = with(canonical(), "occurred_at", json!("2026-11-26T12:05:00Z"));
        assert!(normalize(&event, now(), &IngestPolicy::default()).is_ok());
    }

    #[test]
    fn all_problems_are_reported_and_the_first_decides_the_reason() {
        let mut event = canonical();
        event.as_object_mut().unwrap().remove("currency");
        event["status"] = json!("lost");
        let rejection = reject(event);
        assert_eq!(rejection.reason, RejectReason::MissingField);
        assert!(rejection.detail.contains("currency: is required"));
        assert!(rejection.detail.contains("status: \"lost\" is not one of"));
        assert_eq!(
            rejection.transaction_id.as_deref(),
            Some("3f6c2b1e-9a7d-4c1e-8f00-1b2c3d4e5f60")
        );
    }

    #[test]
    fn legacy_amounts_must_be_integer_minor_units() {
        let legacy = json!({
            "transactionId": "t1", "timestampMs": 1_795_694_310_250_i64, "amountMinor": 12.5,
            "currency": "USD", "paymentMethod": "card", "status": "approved", "merchantId": "m"
        });
        let rejection = reject(legacy);
        assert_eq!(rejection.reason, RejectReason::InvalidAmount);
        assert!(rejection.detail.starts_with("amountMinor:"));
    }

    fn legacy() -> Value {
        json!({
            "transactionId": "t-1", "timestampMs": 1_795_694_310_250_i64, "amountMinor": 4210,
            "currency": "usd", "paymentMethod": "CARD", "status": "APPROVED", "merchantId": "m-001"
        })
    }

    fn without(mut event: Value, key: &str) -> Value {
        event.as_object_mut().unwrap().remove(key);
        event
    }

    /// Each case's rejection has exactly this reason and detail.
    fn assert_rejected(cases: Vec<(Value, RejectReason, &str)>) {
        for (event, reason, detail) in cases {
            let rejection = reject(event.clone());
            assert_eq!(
                (rejection.reason, rejection.detail.as_str()),
                (reason, detail),
                "{event}"
            );
        }
    }

    #[test]
    fn each_wrong_shape_is_named_with_what_was_sent() {
        assert_rejected(vec![
            (
                json!(null),
                RejectReason::MalformedJson,
                "the event is null, expected a JSON object",
            ),
            (
                json!(true),
                RejectReason::MalformedJson,
                "the event is a boolean, expected a JSON object",
            ),
            (
                with(canonical(), "status", json!({"code": 1})),
                RejectReason::InvalidField,
                "status: expected a string, got an object",
            ),
            (
                with(canonical(), "country", json!(840)),
                RejectReason::InvalidField,
                "country: expected a string, got a number",
            ),
            (
                with(canonical(), "customer_id", json!(-7)),
                RejectReason::InvalidField,
                "customer_id: expected a string, got a number",
            ),
            (
                with(canonical(), "currency", json!(840)),
                RejectReason::UnknownCurrency,
                "currency: expected an ISO 4217 code such as \"USD\", got a number",
            ),
            (
                without(canonical(), "amount"),
                RejectReason::MissingField,
                "amount: is required",
            ),
            (
                with(canonical(), "amount", json!(true)),
                RejectReason::InvalidAmount,
                "amount: expected a decimal number or string, got a boolean",
            ),
            (
                with(canonical(), "amount", json!(["1.00"])),
                RejectReason::InvalidAmount,
                "amount: expected a decimal number or string, got an array",
            ),
            (
                with(
                    with(canonical(), "currency", json!("ZZZ")),
                    "amount",
                    json!("ten"),
                ),
                RejectReason::UnknownCurrency,
                "currency: \"ZZZ\" is not an ISO 4217 currency code with minor units; \
                 amount: \"ten\" is not a decimal number",
            ),
        ]);
    }

    #[test]
    fn each_wrong_legacy_amount_or_time_is_named_with_what_was_sent() {
        assert_rejected(vec![
            (
                without(legacy(), "amountMinor"),
                RejectReason::MissingField,
                "amountMinor: is required",
            ),
            (
                with(legacy(), "amountMinor", json!(true)),
                RejectReason::InvalidAmount,
                "amountMinor: true is not an integer number of minor units",
            ),
            (
                without(legacy(), "timestampMs"),
                RejectReason::MissingField,
                "timestampMs: is required",
            ),
            (
                with(legacy(), "timestampMs", json!(false)),
                RejectReason::InvalidField,
                "timestampMs: false is not an integer of epoch milliseconds",
            ),
            (
                with(legacy(), "timestampMs", json!("soon")),
                RejectReason::InvalidField,
                "timestampMs: \"soon\" is not an integer of epoch milliseconds",
            ),
            (
                with(legacy(), "timestampMs", json!(i64::MAX)),
                RejectReason::InvalidField,
                "timestampMs: 9223372036854775807 is not an integer of epoch milliseconds",
            ),
        ]);
    }

    #[test]
    fn legacy_numbers_sent_as_strings_and_a_numeric_customer_are_accepted() {
        let sent = with(
            with(legacy(), "amountMinor", json!(" 4210 ")),
            "timestampMs",
            json!("1795694310250"),
        );
        let sent = with(sent, "customerId", json!(42));
        let (tx, format) = normalize(&sent, now(), &IngestPolicy::default()).unwrap();
        assert_eq!(format, SourceFormat::LegacyCamel);
        assert_eq!(tx.money.minor(), 4210);
        assert_eq!(tx.money.currency().code(), "USD");
        assert_eq!(tx.occurred_at.to_rfc3339(), "2026-11-26T11:58:30.250+00:00");
        assert_eq!(tx.customer_id.unwrap().as_str(), "42");
    }

    #[test]
    fn seconds_sent_as_milliseconds_are_refused() {
        let legacy = json!({
            "transactionId": "t1", "timestampMs": 1_795_694_310_i64, "amountMinor": 1,
            "currency": "JPY", "paymentMethod": "card", "status": "approved", "merchantId": "m"
        });
        let rejection = reject(legacy);
        assert_eq!(rejection.reason, RejectReason::InvalidField);
        assert!(rejection.detail.contains("before 2000-01-01"));
    }
}
