//! The payment domain, free of I/O: what a valid transaction is.
//!
//! Every value here is parsed once at the edge (see [`crate::ingest`]) and can only
//! exist in a valid state: constructors return `Result`, fields are private.

mod money;
mod transaction;

pub use money::{Currency, DecimalText, Money, MoneyError, parse_decimal};
pub use transaction::{
    Channel, Country, Label, PaymentType, Status, Transaction, TransactionId, ValueError,
};
