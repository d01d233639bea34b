//! `baton generate`: write a synthetic helpdesk export (canonical events).

use super::common::format_for;
use super::UsageError;
use crate::config::{Config, SourceFormat};
use crate::demo::{generate_frame, GenerateOptions, Injection};
use crate::ingest::{normalise, write_canonical};
use anyhow::Context;
use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
}

impl From<Format> for SourceFormat {
    fn from(f: Format) -> SourceFormat {
        match f {
            Format::Csv => SourceFormat::Csv,
            Format::Jsonl => SourceFormat::Jsonl,
            Format::Parquet => SourceFormat::Parquet,
        }
    }
}

/// Arguments of `baton generate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton generate --out export.csv\n  baton generate --out export.parquet --weeks 6 --per-week 4000 --seed 2 --inject routing:topic=billing:+10pp:from=2026-11-23"
)]
pub struct Args {
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Weeks of conversations, ending at --end.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub weeks: u32,
    /// Conversations per week, on average.
    #[arg(long = "per-week", default_value_t = 1500, value_name = "N")]
    pub per_week: u32,
    /// Seed of the generated helpdesk: the same seed gives the same data.
    #[arg(long, default_value_t = 7, value_name = "N")]
    pub seed: u64,
    /// A planted change, KIND:SCOPE:DELTA:from=YYYY-MM-DD (repeatable), e.g.
    /// routing:topic=billing:+10pp:from=2026-11-09. Kinds: routing, skill, escalation, channel;
    /// scopes: all, topic=NAME, team=NAME (home team), channel=NAME.
    #[arg(long = "inject", value_name = "SPEC")]
    pub inject: Vec<Injection>,
    /// Output format; guessed from the extension of --out when omitted (CSV when unknown).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The Monday the data ends on (exclusive); default: the Monday that starts the current
    /// week in the embedded config's time zone.
    #[arg(long, value_name = "DATE")]
    pub end: Option<NaiveDate>,
}

impl Args {
    /// The generator options these arguments ask for, `today` being the local date now.
    pub fn options(
        &self,
        tz: chrono_tz::Tz,
        today: NaiveDate,
    ) -> Result<GenerateOptions, UsageError> {
        let end = match self.end {
            Some(d) if d.weekday() != Weekday::Mon => {
                return Err(UsageError(format!(
                    "--end {d} is a {:?}; the data ends on a Monday so its weeks are ISO weeks (e.g. {})",
                    d.weekday(),
                    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
                )))
            }
            Some(d) => d,
            None => today - Duration::days(i64::from(today.weekday().num_days_from_monday())),
        };
        if self.weeks == 0 || self.per_week == 0 {
            return Err(UsageError(
                "--weeks and --per-week must be at least 1".to_string(),
            ));
        }
        Ok(GenerateOptions {
            weeks: self.weeks,
            per_week: self.per_week,
            seed: self.seed,
            end,
            tz,
            injections: self.inject.clone(),
        })
    }

    /// The format to write: --format, else the extension of --out.
    pub fn format(&self) -> SourceFormat {
        self.format
            .map(SourceFormat::from)
            .unwrap_or_else(|| format_for(&self.out.to_string_lossy()))
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub conversations: usize,
    pub events: usize,
}

/// Generates `opts` and writes it to `out` in `format`, through the same checks as any
/// ingested export. The file appears whole or not at all (written aside, then renamed).
pub fn write(opts: &GenerateOptions, out: &Path, format: SourceFormat) -> anyhow::Result<Summary> {
    let raw = generate_frame(opts).context("generating the helpdesk failed")?;
    let ingested = normalise(raw, &Default::default(), None)?;
    if !ingested.quarantine.is_empty() {
        // The generator writes only valid rows; anything else is a bug worth stopping for.
        anyhow::bail!(
            "the generator produced {} invalid rows ({:?}); nothing was written",
            ingested.quarantine.len(),
            ingested.quarantine.counts
        );
    }
    let events = &ingested.events;
    let conversations = events.column("conversation_id")?.n_unique()?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    let name = out
        .file_name()
        .with_context(|| format!("--out {} does not name a file", out.display()))?;
    let partial = out.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let written = (|| -> anyhow::Result<()> {
        let file = std::fs::File::create(&partial)?;
        let mut w = std::io::BufWriter::new(file);
        write_canonical(events, format, &mut w)?;
        w.flush()?;
        std::fs::rename(&partial, out)?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e.context(format!("cannot write {}", out.display())));
    }
    Ok(Summary {
        conversations,
        events: events.height(),
    })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let tz = Config::embedded()?.tz();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let opts = args.options(tz, today)?;
    let format = args.format();
    let out = args.out.clone();
    // Generation and writing are CPU and disk work: keep them off the async workers.
    let spinner = super::common::Spinner::start(&format!(
        "generating {} weeks of {} conversations",
        opts.weeks, opts.per_week
    ));
    let summary = {
        let opts = opts.clone();
        let out = out.clone();
        crate::offload::cpu("generating", move || write(&opts, &out, format)).await??
    };
    drop(spinner);
    let injected = if opts.injections.is_empty() {
        String::new()
    } else {
        let specs: Vec<String> = opts.injections.iter().map(|i| i.to_string()).collect();
        format!(", injected {}", specs.join(" "))
    };
    eprintln!(
        "generated {} conversations, {} events ({}..{}, seed {}{injected}) -> {}",
        summary.conversations,
        summary.events,
        opts.start(),
        opts.end,
        opts.seed,
        out.display()
    );
    Ok(())
}
