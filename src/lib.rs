//! paymetrics: real-time payment metrics on Azure.
//!
//! Payment events flow from Azure Event Hubs through an Azure Functions *custom handler*
//! (this crate's `handler` binary) into PostgreSQL, where a timer closes them into
//! metrics. The `simulator` binary produces realistic traffic.
//!
//! # Layout
//! Dependencies point down this list: `functions` and `settings` use `store`, `engine`
//! and `ingest`; `store` uses `engine` and `ingest`; those two use only `domain`.
//! - [`domain`]: transactions, money and their value types; no I/O.
//! - [`ingest`]: the host's invocation envelope, input formats, normalization and
//!   validation into accepted and rejected events, and the settlement of duplicates and
//!   conflicts against what is already stored (`ingest::settle`, pure).
//! - [`engine`]: windows on event time and their widths, the metric columns, the rule
//!   language (parsed, type-checked and planned, no SQL), retention, merchant
//!   clustering and the alerts' judgement of closed windows.
//! - [`store`]: PostgreSQL and the only place with SQL: connection settings and the one
//!   TLS policy, pool, migrations, the batch writer, window marking, closing and
//!   partitions, rule statements, clusters, alert state, the quarantine's retention and
//!   redrive, the reads of the HTTP API and the dashboard (`views`) and of the
//!   simulator's report and check (`reads`), the figures of the health report.
//! - [`archive`]: the raw-event archive Event Hubs Capture writes (its file layout, a
//!   local copy's files) and `handler replay`, which runs a time range of it through
//!   ingest and the store again.
//! - [`dashboard`]: the dashboard page, a pure function of what the store read: HTML
//!   with inline SVG charts.
//! - [`functions`]: the Functions host adapter: the app builder, one middleware for
//!   spans, trace context, timing and failure logs, the routes (Event Hub, timer, health
//!   and the HTTP API's functions), request parameters, typed invocation responses,
//!   error mapping, and the schema gate that holds invocations (503) until the schema is
//!   current.
//! - [`settings`]: typed settings from the environment, the engine YAML file, and its
//!   reload by a background poller.
//! - [`telemetry`]: logging, tracing and metrics, exported to Application Insights.
//! - `simulator` (feature `simulator`, on by default): scenarios, the deterministic
//!   generator, sinks, ground truth and its check. The deployed handler is built without
//!   it (`--no-default-features`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::too_many_lines)]

/// This build: the crate version and the git commit it was built from, e.g.
/// `0.1.0+abc123def456` (`unknown` when the build saw no commit). Baked in by `build.rs`
/// from `PAYMETRICS_GIT_COMMIT`, else `GITHUB_SHA`, else `git rev-parse`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "+",
    env!("PAYMETRICS_BUILD_COMMIT")
);

pub mod archive;
pub mod dashboard;
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
