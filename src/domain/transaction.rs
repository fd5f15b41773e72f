//! A normalized payment transaction and its small value types.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Mcc, Money};

/// Why a field value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Empty or only white space.
    #[error("is empty")]
    Empty,
    /// Longer than the field allows.
    #[error("is {len} characters long, the limit is {max}")]
    TooLong {
        /// Characters received.
        len: usize,
        /// Characters allowed.
        max: usize,
    },
    /// Contains a control character (NUL, newline, ...), which ids and labels never need.
    #[error("contains a control character")]
    ControlCharacter,
    /// Not one of the allowed values.
    #[error("{value:?} is not one of {allowed}")]
    NotOneOf {
        /// The value received.
        value: String,
        /// The allowed values, for the message.
        allowed: &'static str,
    },
}

fn check_text(value: &str, max: usize) -> Result<(), ValueError> {
    if value.trim().is_empty() {
        return Err(ValueError::Empty);
    }
    let len = value.chars().count();
    if len > max {
        return Err(ValueError::TooLong { len, max });
    }
    if value.chars().any(char::is_control) {
        return Err(ValueError::ControlCharacter);
    }
    Ok(())
}

/// The producer's id of a transaction: any string of 1 to 64 characters without control
/// characters (often, not always, a UUID). Compared exactly, case and all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(String);

impl TransactionId {
    /// Longest accepted id, in characters.
    pub const MAX_CHARS: usize = 64;

    /// # Errors
    /// [`ValueError`] for an empty, too long or control-character id.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        check_text(value, Self::MAX_CHARS)?;
        Ok(Self(value.to_owned()))
    }

    /// The id as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short free-text identifier or label: merchant and customer ids, merchant category,
/// decline reason. 1 to 128 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(String);

impl Label {
    /// Longest accepted label, in characters.
    pub const MAX_CHARS: usize = 128;

    /// # Errors
    /// [`ValueError`] for an empty, too long or control-character label.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        check_text(value, Self::MAX_CHARS)?;
        Ok(Self(value.to_owned()))
    }

    /// The label as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            const ALLOWED: &'static str = concat!($($text, " "),+);

            /// Parses the lower-case name in any letter case (`card`, `CARD`).
            ///
            /// # Errors
            /// [`ValueError::NotOneOf`] for anything else.
            pub fn parse(value: &str) -> Result<Self, ValueError> {
                match value.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(ValueError::NotOneOf { value: value.to_owned(), allowed: Self::ALLOWED.trim_end() }),
                }
            }

            /// The canonical lower-case name, as stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set!(
    /// How the customer paid.
    PaymentType { Card => "card", Ach => "ach", Wire => "wire", Wallet => "wallet", Bnpl => "bnpl" }
);
closed_set!(
    /// The outcome of the payment.
    Status { Approved => "approved", Declined => "declined", Failed => "failed", Pending => "pending", Refunded => "refunded" }
);
closed_set!(
    /// Where the payment was made.
    Channel { Pos => "pos", Online => "online", Mobile => "mobile" }
);

/// An ISO 3166-1 alpha-2 country code, stored upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country(isocountry::CountryCode);

impl Country {
    /// Parses an alpha-2 code in any letter case (`de`, `DE`).
    ///
    /// # Errors
    /// [`ValueError::NotOneOf`] for anything that is not an assigned alpha-2 code.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        if value.len() != 2 {
            return Err(ValueError::NotOneOf {
                value: value.to_owned(),
                allowed: "the ISO 3166-1 alpha-2 codes",
            });
        }
        isocountry::CountryCode::for_alpha2_caseless(value)
            .map(Self)
            .map_err(|_| ValueError::NotOneOf {
                value: value.to_owned(),
                allowed: "the ISO 3166-1 alpha-2 codes",
            })
    }

    /// The upper-case alpha-2 code.
    pub fn as_str(&self) -> &'static str {
        self.0.alpha2()
    }
}

/// A valid, normalized payment transaction.
///
/// Every field holds a parsed value; a `Transaction` cannot be built from unchecked
/// input except through [`crate::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The producer's id; the key of exactly-once storage.
    pub id: TransactionId,
    /// Event time: when the payment happened, which decides its window.
    pub occurred_at: DateTime<Utc>,
    /// Amount and currency.
    pub money: Money,
    /// Payment method.
    pub payment_type: PaymentType,
    /// Outcome.
    pub status: Status,
    /// The merchant that took the payment.
    pub merchant_id: Label,
    /// Merchant category: a name; an MCC received is stored as its category's name
    /// (`5411` is `grocery`), so one category is one value for the rules that group by it.
    pub merchant_category: Option<Label>,
    /// The ISO 18245 code the category came as, when it came as one: kept because the
    /// category name keeps only its group.
    pub mcc: Option<Mcc>,
    /// The paying customer, when known.
    pub customer_id: Option<Label>,
    /// Country of the payment.
    pub country: Option<Country>,
    /// Sales channel.
    pub channel: Option<Channel>,
    /// Why it was declined, when it was.
    pub decline_reason: Option<Label>,
    /// Labelled as fraud by the producer; absent means `false`.
    pub is_fraud: bool,
}

impl Transaction {
    /// A SHA-256 over every business field in a fixed, length-prefixed layout.
    ///
    /// Two deliveries of the same transaction have the same fingerprint whatever their
    /// input format or JSON layout; a changed field changes it. Lineage (partition,
    /// sequence number, arrival time) is deliberately left out: a redelivery is the same
    /// transaction.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        let mut field = |value: Option<&str>| match value {
            None => hash.update([0u8]),
            Some(text) => {
                hash.update([1u8]);
                hash.update((text.len() as u64).to_be_bytes());
                hash.update(text.as_bytes());
            }
        };
        field(Some(self.id.as_str()));
        field(Some(&self.occurred_at.timestamp_micros().to_string()));
        field(Some(&self.money.amount().to_string()));
        field(Some(self.money.currency().code()));
        field(Some(self.payment_type.as_str()));
        field(Some(self.status.as_str()));
        field(Some(self.merchant_id.as_str()));
        field(self.merchant_category.as_ref().map(Label::as_str));
        field(self.customer_id.as_ref().map(Label::as_str));
        field(self.country.as_ref().map(Country::as_str));
        field(self.channel.map(Channel::as_str));
        field(self.decline_reason.as_ref().map(Label::as_str));
        field(Some(if self.is_fraud { "true" } else { "false" }));
        // Last and only when present, so that a transaction without a code keeps the
        // fingerprint it was stored with before codes were kept.
        if let Some(mcc) = self.mcc {
            field(Some(&mcc.to_string()));
        }
        hash.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_sets_parse_in_any_case_and_name_the_allowed_values() {
        assert_eq!(PaymentType::parse("CARD").unwrap(), PaymentType::Card);
        assert_eq!(Status::parse("Approved").unwrap(), Status::Approved);
        assert_eq!(Channel::parse("pos").unwrap(), Channel::Pos);
        let err = PaymentType::parse("cash").unwrap_err().to_string();
        assert_eq!(err, "\"cash\" is not one of card ach wire wallet bnpl");
    }

    #[test]
    fn ids_are_bounded_and_free_of_control_characters() {
        assert!(TransactionId::parse(&"x".repeat(64)).is_ok());
        assert_eq!(
            TransactionId::parse(&"x".repeat(65)),
            Err(ValueError::TooLong { len: 65, max: 64 })
        );
        assert_eq!(TransactionId::parse("  "), Err(ValueError::Empty));
        assert_eq!(
            TransactionId::parse("a\u{0}b"),
            Err(ValueError::ControlCharacter)
        );
    }

    #[test]
    fn an_id_displays_exactly_as_received() {
        let id = TransactionId::parse("Tx-42 é").unwrap();
        assert_eq!(id.to_string(), "Tx-42 é");
        assert_eq!(format!("[{id}]"), "[Tx-42 é]");
    }

    #[test]
    fn countries_are_iso_3166_alpha_2() {
        assert_eq!(Country::parse("de").unwrap().as_str(), "DE");
        assert!(Country::parse("XX").is_err());
        assert!(Country::parse("DEU").is_err());
    }
}
