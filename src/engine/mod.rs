//! The metric engine, pure (no I/O, no SQL): windows on event time and their widths
//! (`windows`), the policies that decide when a window is closed and how long data is
//! kept (`retention`), the metric columns of the 5-minute windows (`metrics`), the rule
//! language of `dynamic_metrics` (parse, type-check, compile into a typed plan: `rules`),
//! merchant segmentation (`clustering`) and the alerts' judgement of closed windows
//! (`alerts`). [`crate::store`] turns the plans into SQL and runs them.

pub mod alerts;
pub mod clustering;
pub mod metrics;
pub mod retention;
pub mod rules;
pub mod windows;

pub use rules::{Rule, RuleError, RuleSpec};
pub use windows::{Window, WindowPolicy};
