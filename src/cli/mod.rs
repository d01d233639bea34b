//! The command line: one module per subcommand, each with its clap `Args` and a `run`.
//! `src/main.rs` parses and dispatches; exit codes are 0 ok, 1 run failed, 2 bad usage or config.

pub mod check;
pub mod common;
pub mod demo;
pub mod explain;
pub mod fix;
pub mod generate;
pub mod metrics;
pub mod pull;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod serve;
pub mod verify;

/// 2 for configuration and usage errors (wherever they are wrapped), 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(is_usage) {
        2
    } else {
        1
    }
}

/// Whether an error is the caller's to fix in the command line or the config (not the data's
/// or the network's). `#[error(transparent)]` wrappers hide their inner error from the chain,
/// so those are matched by variant.
fn is_usage(e: &(dyn std::error::Error + 'static)) -> bool {
    use crate::explain::ExplainError;
    use crate::report::RenderError;
    use crate::run::RunError;
    let explain_usage = |e: &ExplainError| matches!(e, ExplainError::Overlap { .. });
    e.is::<crate::config::ConfigError>()
        || e.is::<crate::domain::PeriodError>()
        || e.is::<UsageError>()
        || e.is::<crate::report::TemplateError>()
        || matches!(
            e.downcast_ref::<RenderError>(),
            Some(RenderError::Template(_) | RenderError::ReadDir { .. })
        )
        || e.downcast_ref::<ExplainError>().is_some_and(explain_usage)
        || match e.downcast_ref::<RunError>() {
            Some(RunError::NoSources | RunError::UnknownSource { .. }) => true,
            Some(RunError::Explain(x)) => explain_usage(x),
            Some(RunError::Render(RenderError::Template(_) | RenderError::ReadDir { .. })) => true,
            _ => false,
        }
}

/// A mistake in how a command was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
