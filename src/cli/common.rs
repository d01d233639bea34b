//! Helpers shared by subcommands: loading config and events from `--input` or a source.

use crate::config::{Config, SourceFormat};
use crate::ingest::{read_canonical, Ingested};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Loads `--config FILE`, else `config/baton.toml` when present, else the embedded default.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(Config::load_or_default(path)?)
}

/// The canonical format of a path or URL, from its extension (CSV when unknown).
pub fn format_of(input: &str) -> SourceFormat {
    let lower = input.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or("");
    if path.ends_with(".parquet") || path.ends_with(".pq") {
        SourceFormat::Parquet
    } else if path.ends_with(".jsonl") || path.ends_with(".ndjson") || path.ends_with(".json") {
        SourceFormat::Jsonl
    } else {
        SourceFormat::Csv
    }
}

/// Reads canonical events from a local path (`--input FILE`).
pub fn read_events_file(path: &Path) -> anyhow::Result<Ingested> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let fmt = format_of(&path.to_string_lossy());
    read_canonical(&bytes, fmt, &Default::default(), None)
        .with_context(|| format!("cannot ingest {}", path.display()))
}

/// `--input PATH|URL`: a local file, or anything a canonical source can pull (http(s), file://).
pub async fn load_input(input: &str) -> anyhow::Result<Ingested> {
    if input.starts_with("http://") || input.starts_with("https://") || input.starts_with("file://")
    {
        let src = crate::config::SourceConfig::canonical(input);
        let window = crate::source::PullWindow::everything();
        let ingested = crate::source::pull(
            "input",
            &src,
            &window,
            &crate::source::PullOptions::default(),
        )
        .await
        .with_context(|| format!("cannot pull {}", redact_url(input)))?;
        Ok(ingested)
    } else {
        read_events_file(&PathBuf::from(input))
    }
}

/// A URL with any user-info and query string removed, safe for logs and errors.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
            let rest = rest.split('?').next().unwrap_or(rest);
            format!("{scheme}://{rest}")
        }
        None => url.to_string(),
    }
}

/// Pulls a source named in the config, for the window a period's report needs
/// (the trend weeks before it included).
pub async fn load_source(
    cfg: &Config,
    name: &str,
    period: &crate::domain::Period,
) -> anyhow::Result<Ingested> {
    let src = cfg.sources.get(name).with_context(|| {
        format!(
            "no source `{name}` in the config (sources: {})",
            cfg.sources.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let window = crate::source::PullWindow::for_report(period, cfg.report.trend_weeks);
    let opts = crate::source::PullOptions {
        cache_dir: None,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    crate::source::pull(name, src, &window, &opts)
        .await
        .with_context(|| format!("pulling source `{name}`"))
}
