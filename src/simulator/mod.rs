//! The traffic simulator: scenarios, the deterministic generator, sinks, ground truth.

pub mod check;
pub mod eventhubs;
pub mod generator;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sinks;
pub mod truth;

pub use generator::{Arrivals, Emission, Expected, Fault, Generator, Txn};
pub use scenario::{DEFAULT_SCENARIO, Scenario, ScenarioError};
