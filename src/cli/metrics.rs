//! `baton metrics`: every measure of METRICS.md for a period, as a table or JSON.

use super::common::{load_config, on_terminal, Format, Spinner};
use crate::domain::Period;
use crate::metrics::render_table;
use crate::run::{steps, Input, MeasuresRequest};
use crate::source::{PullOptions, PullWindow};
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `baton metrics`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton metrics --input export.csv --period 2026-W46\n  baton metrics --source helpdesk --period last-week --by team,topic --format json"
)]
pub struct Args {
    /// Canonical events: a file (CSV, JSONL, Parquet) or an http(s):// or file:// URL.
    #[arg(long, required_unless_present = "source", value_name = "PATH|URL")]
    pub input: Option<String>,
    /// A source named in the config (`[sources.NAME]`) instead of --input.
    #[arg(long, conflicts_with = "input", value_name = "NAME")]
    pub source: Option<String>,
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// ISO week (2026-W46), date range (2026-11-09..2026-11-16) or last-week.
    #[arg(long, default_value = "last-week", value_name = "PERIOD")]
    pub period: String,
    /// Segment dimensions, comma-separated (team,channel,topic,agent); default from config.
    #[arg(long, value_delimiter = ',', value_name = "DIMS")]
    pub by: Vec<crate::domain::Dimension>,
    /// Output: a terminal table, or JSON on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub http: super::common::HttpArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    let period = Period::parse(&args.period, cfg.tz(), chrono::Utc::now())?;
    let input = match (&args.input, &args.source) {
        (Some(input), _) => Input::Export(input.clone()),
        (None, Some(name)) => Input::Source(name.clone()),
        (None, None) => unreachable!("clap requires one"),
    };
    let window = PullWindow::for_report(&period, &cfg.report);
    let opts = PullOptions {
        cache_dir: None,
        progress: on_terminal(),
    };
    let pulled = steps::pull(&cfg, &input, &window, &opts, &args.http.overrides()).await?;
    let mut req = MeasuresRequest::for_report(&cfg, &period);
    if !args.by.is_empty() {
        req.dimensions = args.by.clone();
    }
    let spinner = Spinner::start("computing conversation facts");
    let facts = steps::facts(&pulled.ingested, &cfg).await?;
    spinner.step("computing measures");
    let report = steps::measures(&facts, &cfg, &req, &pulled.ingested)
        .await
        .context("computing metrics")?;
    drop(spinner);
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print!("{}", render_table(&report)),
    }
    Ok(())
}
