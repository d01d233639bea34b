//! The command line: one module per subcommand, each with its clap `Args` and a `run`.
//! `src/main.rs` parses and dispatches; exit codes are 0 ok, 1 run failed, 2 bad usage or config.

pub mod common;
pub mod explain;
pub mod generate;
pub mod pull;
