//! Integration tests against a real PostgreSQL, one fresh database per test.

mod alerts;
#[cfg(feature = "simulator")]
#[path = "../support/azurite.rs"]
mod azurite;
#[cfg(feature = "simulator")]
#[path = "../support/capture_archive.rs"]
mod capture_archive;
mod clusters;
mod dashboard_browser;
mod demo_data;
mod expand_only;
mod grafana;
mod health;
mod helpers;
mod http_api;
mod ingest;
mod kafka;
mod migrations;
mod openapi;
mod poison;
#[path = "../support/private_pg.rs"]
mod private_pg;
mod process;
mod redrive;
mod replay;
mod retention;
mod rules;
mod schema_contract;
mod security;
mod simulator;
mod simulator_cli;
mod startup;
#[cfg(feature = "simulator")]
#[path = "../support/tansu.rs"]
mod tansu;
mod windows;
