//! `baton schedule --next N`: the coming fire times of each schedule, in its own time zone and
//! in UTC (daylight saving included).

use super::common::{load_config, Format};
use super::UsageError;
use crate::schedule::times;
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// Arguments of `baton schedule`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton schedule --next 5\n  baton schedule --next 3 --from 2026-10-20T00:00:00Z --format json"
)]
pub struct Args {
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// How many coming fires to list per schedule.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub next: usize,
    /// List the fires after this instant (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    let from = match &args.from {
        None => Utc::now(),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| UsageError(format!("--from `{s}`: not an RFC 3339 time ({e})")))?
            .with_timezone(&Utc),
    };
    let mut json = Vec::new();
    let mut text = String::new();
    if cfg.schedules.is_empty() {
        text.push_str("no [[schedules]] in the config\n");
    }
    for s in &cfg.schedules {
        let fires = times::upcoming(&s.cron, s.time_zone, from, args.next);
        text.push_str(&format!(
            "{} (`{}` in {}, report {}{}):\n",
            s.name,
            s.cron,
            s.time_zone.name(),
            s.report.as_str(),
            if s.paused { ", PAUSED" } else { "" }
        ));
        for t in &fires {
            text.push_str(&format!(
                "  {}   {}\n",
                times::local_text(*t, s.time_zone),
                t.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        json.push(serde_json::json!({
            "schedule": s.name,
            "cron": s.cron.as_str(),
            "time_zone": s.time_zone.name(),
            "report": s.report.as_str(),
            "paused": s.paused,
            "fires": fires.iter().map(|t| serde_json::json!({
                "local": t.with_timezone(&s.time_zone).to_rfc3339(),
                "utc": crate::store::time_text_pub(*t),
            })).collect::<Vec<_>>(),
        }));
    }
    match args.format {
        Format::Table => print!("{text}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&json)?),
    }
    Ok(())
}
