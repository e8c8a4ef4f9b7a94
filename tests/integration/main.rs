//! The integration tests, one binary: each module holds the tests of one
//! capability, run on every configured backend by `backend_tests!` (see
//! `common`). One binary links once, which keeps CI fast on two cores.

#[macro_use]
mod common;

mod asking;
mod attribution;
mod axum_layer;
mod backends;
mod bulk;
mod cascade;
mod concurrency;
mod conflict;
mod deletion;
mod edges;
mod erase;
mod faults;
mod feed;
mod guard;
mod history;
#[cfg(feature = "history-ui")]
mod history_ui;
#[cfg(feature = "history-ui")]
mod history_ui_browser;
mod journal;
mod kinds;
mod migration;
mod policy;
mod prune;
mod reference;
#[cfg(feature = "nats")]
mod relay;
mod roundtrip;
mod schema_change;
mod single;
mod snapshot;
mod tamper;
mod transaction;
mod trash;
