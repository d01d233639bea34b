//! `baton pull`: pull configured sources and write the canonical events they gave.

use super::common::{format_for, load_config, Format};
use super::UsageError;
use crate::domain::Period;
use crate::ingest::write_canonical;
use crate::run::{steps, Input};
use crate::source::{PullOptions, PullWindow};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `baton pull`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton pull --source helpdesk --out events.parquet\n  baton pull --period 2026-W46 --cache-dir .baton-cache > events.csv"
)]
pub struct Args {
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// The source to pull (`[sources.NAME]`); default every configured source.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Only the events a report on this period reads (ISO week 2026-W46,
    /// 2026-11-09..2026-11-16, last-week): from the first trend week less
    /// `[report] history_days` to the period's end, the same window for every kind of source;
    /// default everything the source has.
    #[arg(long, value_name = "PERIOD")]
    pub period: Option<String>,
    /// Where to write the events (.csv, .jsonl or .parquet); default CSV on stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// What to print on stdout: a summary for people on stderr (`table`), or one JSON object
    /// on stdout (docs/json.md), which needs --out for the events.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Keep pulled pages here so a rerun or an interrupted pull does not pull them again.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub http: super::common::HttpArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    if args.format == Format::Json && args.out.is_none() {
        return Err(UsageError(
            "--format json prints the pull's summary on stdout: give --out FILE for the events"
                .into(),
        )
        .into());
    }
    let input = match &args.source {
        Some(n) => Input::Source(n.clone()),
        None => Input::Configured,
    };
    let window = match &args.period {
        Some(p) => {
            let period = Period::parse(p, cfg.tz(), chrono::Utc::now())?;
            PullWindow::for_report(&period, &cfg.report)
        }
        None => PullWindow::everything(),
    };
    let opts = PullOptions {
        cache_dir: args.cache_dir.clone(),
        progress: true,
    };
    let pulled = steps::pull(&cfg, &input, &window, &opts, &args.http.overrides()).await?;
    for p in &pulled.sources {
        let s = &p.stats;
        let skipped: usize = s.skipped.values().sum();
        eprintln!(
            "{}: {} events, {} quarantined, {} skipped; {} requests, {} retries, {} rate-limit waits, {} pages from cache",
            p.name, p.events, p.quarantined, skipped, s.requests, s.retries, s.rate_limit_waits, s.cached_pages
        );
        for (reason, n) in &s.skipped {
            eprintln!("  skipped {n}: {reason}");
        }
    }
    let all = &pulled.ingested;
    match &args.out {
        Some(path) => {
            let format = format_for(&path.to_string_lossy());
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            write_canonical(&all.events, format, &mut w)
                .with_context(|| format!("cannot write {}", path.display()))?;
            w.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} events to {}", all.events.height(), path.display());
            if args.format == Format::Json {
                let json = crate::run::PullJson::new(&pulled, &window, path);
                println!("{}", serde_json::to_string_pretty(&json)?);
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            write_canonical(&all.events, crate::config::SourceFormat::Csv, &mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}
