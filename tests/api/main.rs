//! Integration tests against a real PostgreSQL, one fresh database per test.

mod clusters;
mod dashboard_browser;
mod expand_only;
mod health;
mod helpers;
mod ingest;
mod migrations;
mod poison;
#[path = "../support/private_pg.rs"]
mod private_pg;
mod process;
mod redrive;
mod retention;
mod rules;
mod security;
mod simulator;
mod simulator_cli;
mod startup;
mod windows;
