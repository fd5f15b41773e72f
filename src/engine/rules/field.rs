//! The transaction fields a rule can read: the fixed list of column names, each field's
//! type, and the allowed values of the closed sets (taken from the domain types).

use std::fmt;

use crate::domain::{Channel, Country, Currency, PaymentType, Status};

/// A transaction field a rule can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `payment_type` (text)
    PaymentType,
    /// `status` (text)
    Status,
    /// `currency` (text)
    Currency,
    /// `amount` (number)
    Amount,
    /// `merchant_id` (text)
    MerchantId,
    /// `merchant_category` (text)
    MerchantCategory,
    /// `customer_id` (text)
    CustomerId,
    /// `country` (text)
    Country,
    /// `channel` (text)
    Channel,
    /// `is_fraud` (boolean)
    IsFraud,
    /// `decline_reason` (text)
    DeclineReason,
}

const FIELDS: &[(&str, Field)] = &[
    ("payment_type", Field::PaymentType),
    ("status", Field::Status),
    ("currency", Field::Currency),
    ("amount", Field::Amount),
    ("merchant_id", Field::MerchantId),
    ("merchant_category", Field::MerchantCategory),
    ("customer_id", Field::CustomerId),
    ("country", Field::Country),
    ("channel", Field::Channel),
    ("is_fraud", Field::IsFraud),
    ("decline_reason", Field::DeclineReason),
];

/// The type of a field, which decides the literals and operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Compared with strings, by `==`, `!=` and `in` only.
    Text,
    /// Compared with numbers, by every operator.
    Number,
    /// A condition by itself (`is_fraud`).
    Bool,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "a string",
            Self::Number => "a number",
            Self::Bool => "a boolean",
        })
    }
}

impl Field {
    pub(super) fn parse(name: &str) -> Option<Self> {
        FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// The column of `normalized_transactions`, from this fixed list only.
    pub fn column(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .expect("listed")
    }

    /// The field's type.
    pub fn kind(self) -> Kind {
        match self {
            Self::Amount => Kind::Number,
            Self::IsFraud => Kind::Bool,
            _ => Kind::Text,
        }
    }

    /// Checks a literal compared with this field, and normalizes it as stored.
    pub(super) fn check_text(self, value: &str) -> Result<String, String> {
        // The stored (canonical) spelling is what is bound, so `'CARD '` matches `card`.
        let closed = |parsed: Option<&'static str>, allowed: &[&str]| {
            if let Some(canonical) = parsed {
                Ok(canonical.to_owned())
            } else {
                Err(format!(
                    "'{value}' is never a {}: the values are {}",
                    self.column(),
                    allowed.join(", ")
                ))
            }
        };
        match self {
            Self::PaymentType => closed(
                PaymentType::parse(value).ok().map(PaymentType::as_str),
                &PaymentType::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>(),
            ),
            Self::Status => closed(
                Status::parse(value).ok().map(Status::as_str),
                &Status::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
            ),
            Self::Channel => closed(
                Channel::parse(value).ok().map(Channel::as_str),
                &Channel::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
            ),
            Self::Currency => Currency::parse(value)
                .map(|c| c.code().to_owned())
                .map_err(|_| format!("'{value}' is not an ISO 4217 currency code")),
            Self::Country => Country::parse(value)
                .map(|c| c.as_str().to_owned())
                .map_err(|_| format!("'{value}' is not an ISO 3166-1 alpha-2 country code")),
            _ => Ok(value.to_owned()),
        }
    }
}

/// "the fields are ...", for messages about an unknown field.
pub(super) fn field_list() -> String {
    let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
    format!("the fields are {}", names.join(", "))
}
