//! The metric engine: windows on event time, and the policies that decide when a window
//! is closed. The SQL that computes the metrics lives in [`crate::store`]; this module is
//! free of I/O.

pub mod windows;

pub use windows::{Window, WindowPolicy};
