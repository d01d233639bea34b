//! `baton run`: one report run on the configured sources.

use super::common::{load_config, on_terminal};
use super::UsageError;
use crate::domain::{Period, ReportKind};
use crate::run::{run_report, Recipients, RunRequest, Trigger};
use crate::source::PullOptions;
use crate::store::Store;
use std::path::PathBuf;

/// Arguments of `baton run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton run --period last-week\n  baton run --period 2026-W46 --outbox preview/ --to support-ops@example.com\n  baton run --dry-run"
)]
pub struct Args {
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// The report to run (only `owners` for now).
    #[arg(long, default_value = "owners", value_name = "NAME")]
    pub report: String,
    /// The period reported: ISO week (2026-W46), date range (2026-11-09..2026-11-16, end exclusive) or last-week.
    #[arg(long, default_value = "last-week", value_name = "PERIOD")]
    pub period: String,
    /// Send only to these owners' addresses.
    #[arg(long = "to", value_name = "ADDRESS")]
    pub to: Vec<String>,
    /// Write to this outbox folder instead of the configured delivery.
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// Compute and render but deliver nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where pulled pages are cached between runs.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub http: super::common::HttpArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    let report: ReportKind = args
        .report
        .parse()
        .map_err(|e: crate::domain::UnknownReport| UsageError(e.to_string()))?;
    let period = Period::parse(&args.period, cfg.tz(), chrono::Utc::now())?;
    let store = Store::open(&cfg.store.path)?;
    let req = RunRequest {
        report,
        period,
        trigger: Trigger::Manual,
        outbox: args.outbox,
        recipients: Recipients { only: args.to },
        dry_run: args.dry_run,
        http: args.http.overrides(),
        pull: PullOptions {
            cache_dir: args.cache_dir,
            progress: on_terminal(),
        },
    };
    let summary = run_report(&cfg, &store, &req).await?;
    print!("{}", super::demo::describe(&summary));
    if summary.delivery.failed() > 0 {
        anyhow::bail!(
            "{} message(s) not delivered: see the log above; a rerun retries them",
            summary.delivery.failed()
        );
    }
    Ok(())
}
