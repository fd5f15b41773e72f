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
//! - [`store`]: PostgreSQL: pool, migrations, the batch writer, window closing.
//! - [`functions`]: the Functions host adapter: routes, invocation responses, error
//!   mapping.
//! - [`settings`]: typed settings from the environment and the engine YAML.
//! - [`telemetry`]: logging set-up.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod domain;
pub mod engine;
pub mod functions;
pub mod ingest;
pub mod settings;
pub mod simulator;
pub mod store;
pub mod telemetry;
