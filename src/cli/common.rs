//! Helpers shared by subcommands.

use crate::config::{Config, SourceFormat};
use std::path::Path;

/// Loads `--config FILE`, else `config/baton.toml` when present, else the embedded default.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(Config::load_or_default(path)?)
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
