//! The metric engine: windows on event time, the policies that decide when a window
//! is closed, and the rule language of `dynamic_metrics`. The SQL that computes the metrics lives in [`crate::store`]; this module is
//! free of I/O.

pub mod clustering;
pub mod metrics;
pub mod retention;
pub mod rules;
pub mod windows;

pub use rules::{Rule, RuleError, RuleSpec};
pub use windows::{Window, WindowPolicy};
