//! The command line: one module per subcommand, each with its clap `Args` and a `run`.
//! `src/main.rs` parses and dispatches; exit codes are 0 ok, 1 run failed, 2 bad usage or config.

pub mod check;
pub mod common;
pub mod demo;
pub mod explain;
pub mod generate;
pub mod metrics;
pub mod pull;
pub mod run;

/// 2 for configuration and usage errors (wherever they are wrapped), 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    let usage = err.chain().any(|e| {
        e.is::<crate::config::ConfigError>()
            || e.is::<crate::domain::PeriodError>()
            || e.is::<UsageError>()
            || e.is::<crate::report::TemplateError>()
            || matches!(
                e.downcast_ref::<crate::report::RenderError>(),
                Some(
                    crate::report::RenderError::Template(_)
                        | crate::report::RenderError::ReadDir { .. }
                )
            )
    });
    if usage {
        2
    } else {
        1
    }
}

/// A mistake in how a command was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
