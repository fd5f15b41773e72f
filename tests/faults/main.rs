//! The fault suite: the real `handler` and `simulator` binaries under one fault each, a
//! host-like driver between them, and the simulator's ground truth (`simulator check`)
//! at the end of every test, so that nothing is lost or counted twice. The soak
//! (`--ignored soak`) runs steady traffic and watches memory, connections and latency.
//! Built only with the `simulator` feature. Described in docs/TESTING-PROCEDURES.md.
#![cfg(feature = "simulator")]

mod database_restart;
mod delay_proxy;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod host;
mod poison;
#[allow(dead_code)]
#[path = "../support/private_pg.rs"]
mod private_pg;
mod process;
mod sigkill;
mod slow_database;
mod soak;
mod traffic;
mod two_handlers;
