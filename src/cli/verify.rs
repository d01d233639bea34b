//! `baton verify`: did the fixes work? Pulls the events (a configured source, every source,
//! or `--input`), builds the facts like `baton metrics`, and gives each open fix (or the one
//! named) its verdict.

use super::common::{load_config, on_terminal, Format};
use super::UsageError;
use crate::run::{steps, Input};
use crate::source::{PullOptions, PullWindow};
use crate::store::Store;
use crate::verify::{
    last_full_week_end, pull_start, registry, render_table, verify_with, VerifyPolicy, VerifyReport,
};
use chrono::{Duration, NaiveDate};
use std::path::PathBuf;

/// Arguments of `baton verify`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton verify\n  baton verify --fix billing-keywords --as-of 2026-12-07 --input export.parquet\n  baton verify --input http://127.0.0.1:8080/export.csv --format json"
)]
pub struct Args {
    /// Only this fix (open or closed); default: every open fix.
    #[arg(long, value_name = "ID")]
    pub fix: Option<String>,
    /// The look: the after window ends with the last full ISO week before this local date
    /// (default: today in the report's time zone).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// Canonical events: a file (CSV, JSONL, Parquet) or an http(s):// or file:// URL;
    /// default: every configured source.
    #[arg(long, value_name = "PATH|URL")]
    pub input: Option<String>,
    /// One source named in the config instead.
    #[arg(long, conflicts_with = "input", value_name = "NAME")]
    pub source: Option<String>,
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// The store (SQLite) instead of the config's `[store] path`.
    #[arg(long, value_name = "FILE")]
    pub store: Option<PathBuf>,
    /// Record each verdict in the store (so a flip to verified or regressed is known once).
    #[arg(long)]
    pub record: bool,
    /// Output: a terminal table, or JSON on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Weeks before go-live compared (default 4).
    #[arg(long, value_name = "N")]
    pub before_weeks: Option<u32>,
    /// Days after go-live under which a fix is too early (default 7).
    #[arg(long, value_name = "N")]
    pub min_days: Option<i64>,
    /// Conversations in scope after go-live under which a fix is too early (default 100).
    #[arg(long, value_name = "N")]
    pub min_conversations: Option<u64>,
    /// Minimum detectable effect in percentage points, for "conversations needed" (default 2).
    #[arg(long, value_name = "PP")]
    pub mde_pp: Option<f64>,
}

impl Args {
    /// The policy these arguments ask for.
    pub fn policy(&self) -> Result<VerifyPolicy, UsageError> {
        let mut p = VerifyPolicy::default();
        if let Some(w) = self.before_weeks {
            if !(1..=52).contains(&w) {
                return Err(UsageError("--before-weeks must be between 1 and 52".into()));
            }
            p.before_weeks = w;
        }
        if let Some(d) = self.min_days {
            if d < 1 {
                return Err(UsageError("--min-days must be at least 1".into()));
            }
            p.min_days = d;
        }
        if let Some(n) = self.min_conversations {
            p.min_conversations = n;
        }
        if let Some(m) = self.mde_pp {
            if !(m.is_finite() && m > 0.0 && m <= 100.0) {
                return Err(UsageError(
                    "--mde-pp must be a positive number of percentage points".into(),
                ));
            }
            p.mde = m / 100.0;
        }
        Ok(p)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    let policy = args.policy()?;
    let store_path = args.store.clone().unwrap_or_else(|| cfg.store.path.clone());
    let store = Store::open(&store_path)?;
    let all = registry(&cfg, Some(&store))?;
    let fixes: Vec<_> = match &args.fix {
        Some(id) => match all.into_iter().find(|r| &r.fix.id == id) {
            Some(r) => vec![r.fix],
            None => {
                return Err(UsageError(format!(
                    "no fix with id `{id}` (`baton fix list --all` shows them)"
                ))
                .into())
            }
        },
        None => all
            .into_iter()
            .filter(|r| r.fix.state == crate::config::FixState::Open)
            .map(|r| r.fix)
            .collect(),
    };
    let tz = cfg.tz();
    let as_of = args
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().with_timezone(&tz).date_naive());
    if fixes.is_empty() {
        match args.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&VerifyReport::new(as_of, &policy, vec![]))?
            ),
            Format::Table => print!("{}", render_table(&[])),
        }
        return Ok(());
    }
    let input = match (&args.input, &args.source) {
        (Some(i), _) => Input::Export(i.clone()),
        (None, Some(s)) => Input::Source(s.clone()),
        (None, None) => Input::Configured,
    };
    // Every open fix's before window, to the end of the last full week (a day more, so the
    // last conversations resolved in it are in).
    let mut probe = fixes.clone();
    for f in &mut probe {
        f.state = crate::config::FixState::Open;
    }
    let start = pull_start(&probe, &cfg, &policy).expect("at least one fix");
    let end_date = last_full_week_end(as_of) + Duration::days(1);
    let end = crate::domain::Period::range(end_date, end_date + Duration::days(1), tz)?.start_utc();
    let window = PullWindow {
        start,
        end: end.max(start),
    };
    let opts = PullOptions {
        cache_dir: None,
        progress: on_terminal(),
    };
    let pulled = steps::pull(&cfg, &input, &window, &opts, &Default::default()).await?;
    let facts = steps::facts(&pulled.ingested, &cfg).await?;
    let verdicts = {
        let (cfg, policy, fixes) = (cfg.clone(), policy.clone(), fixes.clone());
        tokio::task::spawn_blocking(move || verify_with(&facts, &fixes, &cfg, &policy, as_of))
            .await??
    };
    if args.record {
        for v in &verdicts {
            store.record_verdict(&v.fix.id, as_of, v.kind().as_str())?;
        }
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&VerifyReport::new(as_of, &policy, verdicts))?
        ),
        Format::Table => print!("{}", render_table(&verdicts)),
    }
    Ok(())
}
