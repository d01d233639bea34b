//! `baton explain`: why did a metric change between two periods.
//!
//! Two inputs: handoff events (`--input`, canonical export; `--metric` picks the measure), or
//! any table with dimension columns and a numerator and a denominator column
//! (`--numerator --denominator --dims`, periods from `--period-column` or two files
//! `--input` (after) and `--input-vs` (before)).

use super::common::{load_config, on_terminal, Format, Spinner};
use super::UsageError;
use crate::config::Config;
use crate::domain::Period;
use crate::explain::{
    default_period, explain_table, explain_tables, render_table_with, Explanation, Metric,
    TableSpec,
};
use crate::run::{steps, Comparison, Input};
use crate::source::{PullOptions, PullWindow};
use chrono::Utc;
use polars::prelude::*;
use std::path::PathBuf;

/// Arguments of `baton explain`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  baton explain --input export.csv --period 2026-W46\n  baton explain --input export.parquet --period 2026-W46 --vs 2026-10-12..2026-11-09 --format json\n  baton explain --input table.csv --numerator handoffs --denominator conversations --dims team,channel --period-column week"
)]
pub struct Args {
    /// Canonical handoff events, or with --numerator any table: a file (CSV, JSONL, Parquet)
    /// or an http(s):// or file:// URL. With --input-vs, the table of the period explained.
    #[arg(long, value_name = "PATH|URL")]
    pub input: String,
    /// A generic table of the period compared against (the --input table is the period
    /// explained).
    #[arg(
        long,
        requires = "numerator",
        conflicts_with = "period_column",
        value_name = "PATH|URL"
    )]
    pub input_vs: Option<String>,
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Period explained: ISO week (2026-W46), date range (2026-11-09..2026-11-16) or
    /// last-week; a value of --period-column for a generic table. Default: last week, or the
    /// last full ISO week of the data when it ends earlier.
    #[arg(long, value_name = "PERIOD")]
    pub period: Option<String>,
    /// Period compared against; default: the one just before --period.
    #[arg(long, value_name = "PERIOD")]
    pub vs: Option<String>,
    /// handoff_rate (default), avoidable_share, fcr_rate or time_lost_share.
    #[arg(long, value_name = "METRIC")]
    pub metric: Option<String>,
    /// Output: a terminal table, or JSON on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Generic table: the numerator column.
    #[arg(long, requires = "denominator", value_name = "COLUMN")]
    pub numerator: Option<String>,
    /// Generic table: the denominator column.
    #[arg(long, requires = "numerator", value_name = "COLUMN")]
    pub denominator: Option<String>,
    /// Generic table: dimension columns, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        requires = "numerator",
        value_name = "COLUMNS"
    )]
    pub dims: Vec<String>,
    /// Generic table: the column naming each row's period.
    #[arg(long, requires = "numerator", value_name = "COLUMN")]
    pub period_column: Option<String>,
    #[command(flatten)]
    pub http: super::common::HttpArgs,
    /// Table: show every driver row, not only the significant ones (the others are summed in
    /// one row by default).
    #[arg(long)]
    pub all: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let out = execute(args).await?;
    print!("{out}");
    Ok(())
}

/// Runs the command and returns what it prints.
pub async fn execute(args: Args) -> anyhow::Result<String> {
    let cfg = load_config(args.config.as_deref())?;
    let explanation = if args.numerator.is_some() {
        generic(&args, &cfg).await?
    } else {
        handoffs(&args, &cfg).await?
    };
    Ok(match args.format {
        Format::Json => serde_json::to_string_pretty(&explanation)? + "\n",
        Format::Table => render_table_with(&explanation, args.all),
    })
}

async fn handoffs(args: &Args, cfg: &Config) -> anyhow::Result<Explanation> {
    let metric: Metric = match &args.metric {
        Some(m) => m
            .parse()
            .map_err(|e: crate::explain::UnknownMetric| UsageError(e.to_string()))?,
        None => Metric::HandoffRate,
    };
    let opts = PullOptions {
        cache_dir: None,
        progress: on_terminal(),
    };
    // The whole export first: the default period comes from its span. Then the same window
    // cut as every other source (docs/sources.md, "The window a report reads").
    let mut pulled = steps::pull(
        cfg,
        &Input::Export(args.input.clone()),
        &PullWindow::everything(),
        &opts,
        &args.http.overrides(),
    )
    .await?;
    let tz = cfg.tz();
    let now = Utc::now();
    let period = match &args.period {
        Some(p) => Period::parse(p, tz, now)?,
        None => default_period(pulled.span()?, tz, now),
    };
    let vs = match &args.vs {
        Some(p) => Period::parse(p, tz, now)?,
        None => period.previous(),
    };
    let window = PullWindow::for_comparison(&period, &vs, &cfg.report);
    pulled.ingested.retain_window(window.start, window.end)?;
    let spinner = Spinner::start("computing conversation facts");
    let facts = steps::facts(&pulled.ingested, cfg).await?;
    spinner.step("explaining the change");
    Ok(steps::explanation(&facts, cfg, &Comparison { period, vs }, metric).await?)
}

async fn generic(args: &Args, cfg: &Config) -> anyhow::Result<Explanation> {
    if args.metric.is_some() {
        return Err(UsageError(
            "--metric names a handoff measure; a generic table is explained as --numerator / --denominator".into(),
        )
        .into());
    }
    let spec = TableSpec {
        numerator: args.numerator.clone().unwrap_or_default(),
        denominator: args.denominator.clone().unwrap_or_default(),
        dimensions: args.dims.clone(),
    };
    if spec.dimensions.is_empty() {
        return Err(UsageError("--dims needs at least one dimension column".into()).into());
    }
    let after = pull_table(&args.input).await?;
    match (&args.input_vs, &args.period_column) {
        (Some(vs_input), None) => {
            let before = pull_table(vs_input).await?;
            let name = |s: &str, given: &Option<String>| {
                given.clone().unwrap_or_else(|| label_of(s))
            };
            let labels = (name(vs_input, &args.vs), name(&args.input, &args.period));
            Ok(explain_tables(
                before.lazy(),
                after.lazy(),
                &spec,
                (&labels.0, &labels.1),
                cfg,
            )?)
        }
        (None, Some(column)) => Ok(explain_table(
            after.lazy(),
            &spec,
            column,
            args.period.as_deref(),
            args.vs.as_deref(),
            cfg,
        )?),
        _ => Err(UsageError(
            "a generic table needs its periods: --period-column COL, or two files --input (after) and --input-vs (before)".into(),
        )
        .into()),
    }
}

/// A generic table from a file or URL, through the source stage (retries, redaction) and
/// ingest's table reader.
async fn pull_table(input: &str) -> anyhow::Result<DataFrame> {
    let opts = PullOptions {
        cache_dir: None,
        progress: on_terminal(),
    };
    Ok(crate::source::pull_table(input, &opts).await?)
}

/// The file name of a path or URL, to label a period.
fn label_of(input: &str) -> String {
    let path = input.split(['?', '#']).next().unwrap_or(input);
    path.rsplit('/').next().unwrap_or(path).to_string()
}
