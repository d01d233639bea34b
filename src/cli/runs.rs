//! `baton runs`: the run log, newest first.

use super::common::{load_config, Format};
use crate::store::{RunRecord, Store};
use std::path::PathBuf;

/// Arguments of `baton runs`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  baton runs\n  baton runs --limit 50 --format json")]
pub struct Args {
    /// The configuration file (TOML): names the store. Default: $BATON_CONFIG, else
    /// config/baton.toml when it exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// How many runs to show.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// A run as JSON (`baton runs --format json`, `GET /runs/{id}`).
pub fn run_json(r: &RunRecord) -> serde_json::Value {
    let t = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(crate::store::time_text_pub);
    serde_json::json!({
        "id": r.id.0,
        "trigger": r.kind.trigger(),
        "report": r.report,
        "period": r.period,
        "schedule": r.schedule,
        "scheduled_for": t(r.scheduled_for),
        "started_at": t(Some(r.started_at)),
        "finished_at": t(r.finished_at),
        "state": r.state.as_str(),
        "messages_sent": r.messages_sent,
        "messages_failed": r.messages_failed,
        "messages_already_delivered": r.messages_already,
        "quarantined_rows": r.quarantined_rows,
        "error": r.error,
        "operator_alerted_at": t(r.alerted_at),
    })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    let store = Store::open(&cfg.store.path)?;
    let runs = store.recent_runs(args.limit)?;
    match args.format {
        Format::Json => {
            let all: Vec<_> = runs.iter().map(run_json).collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        Format::Table => print!("{}", table(&runs)),
    }
    Ok(())
}

/// The terminal table of `baton runs`.
pub fn table(runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "no runs yet\n".into();
    }
    let t = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let mut rows = vec![[
        "id".to_string(),
        "trigger".into(),
        "schedule".into(),
        "scheduled (UTC)".into(),
        "period".into(),
        "started (UTC)".into(),
        "ended (UTC)".into(),
        "state".into(),
        "sent".into(),
        "failed".into(),
        "already".into(),
    ]];
    for r in runs {
        rows.push([
            r.id.to_string(),
            r.kind.trigger().into(),
            r.schedule.clone().unwrap_or_else(|| "-".into()),
            t(r.scheduled_for),
            r.period.clone().unwrap_or_else(|| "-".into()),
            t(Some(r.started_at)),
            t(r.finished_at),
            r.state.as_str().into(),
            r.messages_sent.to_string(),
            r.messages_failed.to_string(),
            r.messages_already.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if n > 0 {
            if let Some(e) = &runs[n - 1].error {
                out.push_str(&format!("    error: {}\n", crate::text::cut(e, 300)));
            }
        }
    }
    out
}
