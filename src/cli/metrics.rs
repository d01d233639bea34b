//! `baton metrics`: every measure of METRICS.md for a period, as a table or JSON.

use super::common::{load_config, load_input, load_source};
use crate::domain::Period;
use crate::metrics::{compute, render_table, MetricsRequest};
use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Arguments of `baton metrics`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Canonical events: a file (CSV, JSONL, Parquet) or an http(s):// or file:// URL.
    #[arg(long, required_unless_present = "source")]
    pub input: Option<String>,
    /// A source named in the config (`[sources.NAME]`) instead of --input.
    #[arg(long, conflicts_with = "input")]
    pub source: Option<String>,
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// ISO week (2026-W46), date range (2026-11-09..2026-11-16) or last-week.
    #[arg(long, default_value = "last-week")]
    pub period: String,
    /// Segment dimensions, comma-separated (team,channel,topic,agent); default from config.
    #[arg(long, value_delimiter = ',')]
    pub by: Vec<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    let period = Period::parse(&args.period, cfg.tz(), chrono::Utc::now())?;
    let ingested = match (&args.input, &args.source) {
        (Some(input), _) => load_input(input).await?,
        (None, Some(name)) => load_source(&cfg, name, &period).await?,
        (None, None) => unreachable!("clap requires one"),
    };
    ingested.check_threshold(cfg.report.quarantine_threshold)?;
    let dims = if args.by.is_empty() {
        cfg.report.dimensions.clone()
    } else {
        args.by.clone()
    };
    let report = compute(
        &ingested.events,
        &cfg,
        &MetricsRequest {
            period: &period,
            dimensions: &dims,
            trend_weeks: cfg.report.trend_weeks,
        },
        &ingested.quarantine.counts,
    )
    .context("computing metrics")?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print!("{}", render_table(&report)),
    }
    Ok(())
}
