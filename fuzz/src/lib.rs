//! What the fuzz targets check of every result: the promises the library documents for
//! an accepted value and for a refusal. Written from the documentation (docs/, the doc
//! comments of the public types), not from the code that keeps them, so that a result
//! that breaks a promise is a finding even when it does not panic.

use chrono::{DateTime, TimeDelta, Utc};
use paymetrics::domain::{Channel, Country, Currency, Money, PaymentType, Status, Transaction};
use paymetrics::engine::rules::{Aggregate, Cmp, Condition, Field, Kind, Literal, Rule, RuleError};
use paymetrics::ingest::{IngestPolicy, RejectReason, Rejection};
use rust_decimal::Decimal;

/// The instant events are judged against: fixed, so a crash reproduces.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
        .expect("a valid instant")
        .with_timezone(&Utc)
}

/// Every field name of both input formats (docs/EVENT-FORMATS.md): a refusal of a
/// field names one of these.
const EVENT_FIELDS: &[&str] = &[
    "transaction_id",
    "occurred_at",
    "amount",
    "currency",
    "payment_type",
    "status",
    "merchant_id",
    "merchant_category",
    "customer_id",
    "country",
    "channel",
    "decline_reason",
    "is_fraud",
    "transactionId",
    "timestampMs",
    "amountMinor",
    "paymentMethod",
    "merchantId",
    "mcc",
    "customerId",
    "countryCode",
    "declineReason",
    "isFraud",
];

/// 1 to `max` characters, not blank, no control character: `TransactionId` and `Label`.
fn check_text(what: &str, text: &str, max: usize) {
    let chars = text.chars().count();
    assert!(
        (1..=max).contains(&chars),
        "{what} {text:?} has {chars} characters"
    );
    assert!(!text.trim().is_empty(), "{what} {text:?} is blank");
    assert!(
        !text.chars().any(char::is_control),
        "{what} {text:?} has a control character"
    );
}

/// An accepted transaction is what `Transaction` and `Money` promise.
pub fn check_transaction(tx: &Transaction, now: DateTime<Utc>, policy: &IngestPolicy) {
    check_text("transaction id", tx.id.as_str(), 64);
    check_money(&tx.money);
    let earliest = DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z").expect("an instant");
    assert!(
        tx.occurred_at >= earliest,
        "{} is before 2000",
        tx.occurred_at
    );
    if let Ok(ahead) = TimeDelta::from_std(policy.max_future)
        && let Some(limit) = now.checked_add_signed(ahead)
    {
        assert!(
            tx.occurred_at <= limit,
            "{} is past max_future",
            tx.occurred_at
        );
    }
    if let Some(max_age) = policy.max_age
        && let Ok(age) = TimeDelta::from_std(max_age)
        && let Some(oldest) = now.checked_sub_signed(age)
    {
        assert!(
            tx.occurred_at >= oldest,
            "{} is past max_age",
            tx.occurred_at
        );
    }
    check_text("merchant id", tx.merchant_id.as_str(), 128);
    for (what, label) in [
        ("merchant category", &tx.merchant_category),
        ("customer id", &tx.customer_id),
        ("decline reason", &tx.decline_reason),
    ] {
        if let Some(label) = label {
            check_text(what, label.as_str(), 128);
        }
    }
    if let Some(mcc) = tx.mcc {
        assert!(mcc.code() <= 9999, "mcc {}", mcc.code());
        let category = tx.merchant_category.as_ref().map(|c| c.as_str());
        assert_eq!(
            category,
            Some(mcc.category()),
            "an mcc is kept with its category"
        );
    }
    if let Some(country) = tx.country {
        let code = country.as_str();
        assert!(
            code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()),
            "country {code:?}"
        );
        assert_eq!(Country::parse(code).map(|c| c.as_str()), Ok(code));
    }
    assert_eq!(
        PaymentType::parse(tx.payment_type.as_str()),
        Ok(tx.payment_type)
    );
    assert_eq!(Status::parse(tx.status.as_str()), Ok(tx.status));
    if let Some(channel) = tx.channel {
        assert_eq!(Channel::parse(channel.as_str()), Ok(channel));
    }
}

/// Money is non-negative, below 10^15 major units and held at exactly its currency's
/// minor units; its minor units give it back.
pub fn check_money(money: &Money) {
    let currency = money.currency();
    let amount = money.amount();
    assert!(!amount.is_sign_negative(), "{money} is negative");
    assert!(
        amount < Decimal::from(1_000_000_000_000_000_i64),
        "{money} is 10^15 or more"
    );
    assert_eq!(
        amount.scale(),
        currency.minor_units(),
        "{money} has the wrong scale"
    );
    assert_eq!(
        Currency::parse(currency.code()),
        Ok(currency),
        "{money}: the code parses back"
    );
    let minor = i64::try_from(money.minor()).expect("below 10^15 major units fits i64 minor");
    assert_eq!(Money::from_minor(minor, currency), Ok(*money));
}

/// A refusal of an event by validation: a reason validation gives, and a detail that
/// says what is wrong, naming the field for the field-level reasons.
pub fn check_rejection(rejection: &Rejection) {
    let detail = &rejection.detail;
    assert!(
        !detail.trim().is_empty(),
        "{:?} without a detail",
        rejection.reason
    );
    match rejection.reason {
        RejectReason::MalformedJson | RejectReason::AmbiguousJson | RejectReason::EventTooLarge => {
        }
        RejectReason::MissingField
        | RejectReason::InvalidField
        | RejectReason::InvalidAmount
        | RejectReason::AmountPrecision
        | RejectReason::UnknownCurrency
        | RejectReason::FutureTimestamp
        | RejectReason::ExpiredTimestamp => {
            // "Every problem found, `field: what is wrong`, separated by `; `": the
            // first one at least starts with a field of the formats.
            let named = EVENT_FIELDS
                .iter()
                .any(|field| detail.starts_with(&format!("{field}:")));
            assert!(
                named,
                "{:?} detail names no field: {detail}",
                rejection.reason
            );
        }
        other => panic!("validation gave {other:?}, a reason only storing gives: {detail}"),
    }
}

/// Compiled rules keep what docs/RULES.md promises: valid unique names, windows of whole
/// minutes dividing a day, known dimensions listed once, typed and normalized literals.
pub fn check_rules(rules: &[Rule]) {
    let mut names = Vec::new();
    for rule in rules {
        let name = rule.name.as_str();
        assert!(
            (1..=63).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "rule name {name:?}"
        );
        assert!(!names.contains(&name), "rule {name} twice");
        names.push(name);
        check_window(rule.window_seconds);
        assert!(
            rule.version.len() == 16
                && rule
                    .version
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "rule version {:?}",
            rule.version
        );
        for (i, field) in rule.group_by.iter().enumerate() {
            assert_ne!(
                *field,
                Field::Amount,
                "amount is a measure, not a dimension"
            );
            assert!(
                !rule.group_by[..i].contains(field),
                "{field:?} grouped twice"
            );
        }
        if let Some(filter) = &rule.filter {
            check_condition(filter);
        }
        match &rule.aggregate {
            Aggregate::Ratio(condition) => check_condition(condition),
            Aggregate::Distinct(field) => {
                assert!(
                    matches!(field, Field::CustomerId | Field::MerchantId),
                    "distinct({field:?})"
                )
            }
            Aggregate::Percentile(p) => {
                assert!([50, 90, 95, 99].contains(p), "p{p}");
                check_one_currency(rule);
            }
            Aggregate::Sum | Aggregate::Avg | Aggregate::Min | Aggregate::Max => {
                check_one_currency(rule)
            }
            Aggregate::Count => {}
        }
    }
}

/// An aggregate over amounts never mixes currencies: grouped by currency, or filtered.
fn check_one_currency(rule: &Rule) {
    assert!(
        rule.group_by.contains(&Field::Currency) || rule.filter.is_some(),
        "rule {} adds amounts of any currency",
        rule.name
    );
}

/// A window width: whole minutes that divide a day.
pub fn check_window(seconds: i64) {
    assert!(
        seconds > 0 && seconds % 60 == 0 && 86_400 % seconds == 0,
        "window of {seconds} s"
    );
}

fn check_condition(condition: &Condition) {
    match condition {
        Condition::And(a, b) | Condition::Or(a, b) => {
            check_condition(a);
            check_condition(b);
        }
        Condition::Not(a) => check_condition(a),
        Condition::Compare(field, cmp, literal) => {
            if field.kind() != Kind::Number {
                assert!(matches!(cmp, Cmp::Eq | Cmp::Ne), "{field:?} {cmp:?}");
            }
            check_literal(*field, literal);
        }
        Condition::In(field, literals) => {
            assert!(!literals.is_empty(), "{field:?} in []");
            for literal in literals {
                check_literal(*field, literal);
            }
        }
        Condition::Flag(field) => assert_eq!(field.kind(), Kind::Bool, "{field:?} as a flag"),
        Condition::Constant(_) => {}
    }
}

/// A literal has its field's type and, for the closed sets, the stored spelling.
fn check_literal(field: Field, literal: &Literal) {
    let kind = match literal {
        Literal::Text(_) => Kind::Text,
        Literal::Number(_) => Kind::Number,
        Literal::Bool(_) => Kind::Bool,
    };
    assert_eq!(kind, field.kind(), "{field:?} compared with {literal:?}");
    let Literal::Text(text) = literal else {
        return;
    };
    let stored = match field {
        Field::PaymentType => PaymentType::parse(text).map(PaymentType::as_str).ok(),
        Field::Status => Status::parse(text).map(Status::as_str).ok(),
        Field::Channel => Channel::parse(text).map(Channel::as_str).ok(),
        Field::Currency => Currency::parse(text).map(|c| c.code()).ok(),
        Field::Country => Country::parse(text).map(|c| c.as_str()).ok(),
        _ => return,
    };
    assert_eq!(
        stored,
        Some(text.as_str()),
        "{field:?} literal not in its stored spelling"
    );
}

/// Refused rules: at least one error, each with a line, a rule of the file and a message.
pub fn check_rule_errors(errors: &[RuleError], names: &[&str]) {
    assert!(!errors.is_empty(), "refused without an error");
    for error in errors {
        assert!(error.line >= 1, "{error}: no line");
        assert!(!error.message.trim().is_empty(), "{error}: no message");
        assert!(
            names.contains(&error.rule.as_str()),
            "{error}: not a rule of the file"
        );
    }
}
