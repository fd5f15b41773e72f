//! The payment domain, free of I/O: what a valid transaction is.
//!
//! Every value here is parsed once at the edge (see [`crate::ingest`]) and can only
//! exist in a valid state: the value types (`Money`, `Currency`, `Country`, `Label`,
//! `TransactionId`, the closed sets) have private fields and constructors that return
//! `Result`. A [`Transaction`] is a plain record of such values, so its fields are public:
//! whatever it holds was already checked.

mod mcc;
mod money;
mod transaction;

pub use mcc::{Mcc, MccError};
pub use money::{Currency, DecimalText, Money, MoneyError, parse_decimal};
pub use transaction::{
    Channel, Country, Label, PaymentType, Status, Transaction, TransactionId, ValueError,
};
