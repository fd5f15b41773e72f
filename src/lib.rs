//! paymetrics: real-time payment metrics on Azure.
//!
//! Payment events flow from Azure Event Hubs through an Azure Functions *custom handler*
//! (this crate's `handler` binary) into PostgreSQL, where a timer closes them into
//! metrics. The `simulator` binary produces realistic traffic.
//!
//! # Layout
//! - [`domain`]: transactions, money and their value types; no I/O.
//! - [`ingest`]: the host's invocation envelope, input formats, normalization and
//!   validation into accepted and rejected events.
//! - [`engine`]: windows on event time and the policies that close them.
//! - [`store`]: PostgreSQL: pool, migrations, the batch writer, window closing, the
//!   figures of the health report.
//! - [`functions`]: the Functions host adapter: routes (the Event Hub, timer and health
//!   functions), invocation responses, error mapping, and the schema gate that holds
//!   invocations (503) until the schema is current.
//! - [`settings`]: typed settings from the environment and the engine YAML.
//! - [`telemetry`]: logging set-up.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// This build: the crate version and the git commit it was built from, e.g.
/// `0.1.0+abc123def456` (`unknown` when the build saw no commit). Baked in by `build.rs`
/// from `PAYMETRICS_GIT_COMMIT`, else `GITHUB_SHA`, else `git rev-parse`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "+",
    env!("PAYMETRICS_BUILD_COMMIT")
);

pub mod domain;
pub mod engine;
pub mod functions;
pub mod ingest;
mod serde_duration;
pub mod settings;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod store;
pub mod telemetry;
