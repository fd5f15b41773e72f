//! The traffic simulator behind the `simulator` binary: a scenario ([`scenario`]), the
//! deterministic event stream it describes ([`generator`]), the run loop that paces it and
//! hands it to a sink ([`run`], [`sinks`], [`eventhubs`]), and what the pipeline should
//! make of it: the ground truth ([`truth`]), compared with the database by [`check`] and
//! summarised by [`report`].
//!
//! Built only with the `simulator` feature (on by default); the deployed handler is built
//! without it, so none of the crates only the simulator uses is compiled into it.

pub mod check;
pub mod eventhubs;
pub mod generator;
pub mod identity;
pub mod kafka;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sinks;
pub mod truth;

pub use generator::{Arrivals, Emission, Expected, Fault, Generator, Txn};
pub use scenario::{DEFAULT_SCENARIO, Scenario, ScenarioError};
