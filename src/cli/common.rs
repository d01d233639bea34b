//! Helpers shared by subcommands.

use crate::config::{Config, SourceFormat};
use std::path::Path;

/// Loads `--config FILE`, else `config/baton.toml` when present, else the embedded default.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(Config::load_or_default(path)?)
}

/// `--format` of the commands that print a result: a terminal table, or one JSON object on
/// stdout (the contracts of docs/json.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Progress bars only when a person is watching.
pub fn on_terminal() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// The format a path or URL names by its extension; CSV when it names none.
pub fn format_for(path_or_url: &str) -> SourceFormat {
    let path = path_or_url.split(['?', '#']).next().unwrap_or("");
    crate::source::format_from_path(path).unwrap_or(SourceFormat::Csv)
}

/// `--max-retries` and `--timeout-secs`, for every command that pulls.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HttpArgs {
    /// Retries of a failed request (refused connection, 5xx, timeout) before the pull gives
    /// up; default: the source's `max_retries` (5). 0 fails at the first error.
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Seconds a request may take before it is retried; default: the source's
    /// `timeout_secs` (30).
    #[arg(long, value_name = "SECS")]
    pub timeout_secs: Option<u64>,
}

impl HttpArgs {
    pub fn overrides(&self) -> crate::run::HttpOverrides {
        crate::run::HttpOverrides {
            max_retries: self.max_retries,
            timeout_secs: self.timeout_secs,
        }
    }
}

/// A spinner naming the step under way, drawn only on a terminal (piped stderr stays clean),
/// for commands that would otherwise sit silent for seconds.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    pub fn start(what: &str) -> Spinner {
        if !on_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .expect("a valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar.set_message(what.to_string());
        Spinner(Some(bar))
    }

    pub fn step(&self, what: &str) {
        if let Some(b) = &self.0 {
            b.set_message(what.to_string());
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
