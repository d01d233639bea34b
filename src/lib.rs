//! baton: weekly conversation-handoff reports for support teams.
//!
//! Data flows one way, and each stage only imports the stages before it:
//! `source -> ingest -> metrics -> explain -> report -> deliver`, strung together by [`run`],
//! which the CLI (`src/main.rs`, `src/cli/`) and the scheduler (`schedule`) call.
//! `domain` holds the shared vocabulary (periods, causes, owners) and `config` the typed
//! configuration; both come before every stage. `store` is the SQLite ledger of runs and
//! deliveries. `demo` generates and serves a synthetic helpdesk for the demo and the tests.

pub mod cli;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod domain;
pub mod explain;
pub mod format;
pub mod ingest;
pub mod metrics;
pub mod offload;
pub mod report;
pub mod run;
pub mod schedule;
pub mod secret;
pub mod source;
pub mod store;
pub mod text;
pub mod verify;
