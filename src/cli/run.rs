//! `baton run`: one report run on the configured sources.

use super::common::{load_config, on_terminal, Format};
use super::UsageError;
use crate::deliver::DeliveryKey;
use crate::domain::{Period, ReportKind};
use crate::run::{run_report, Recipients, RunRequest, Trigger};
use crate::source::PullOptions;
use crate::store::DeliveryState;
use crate::store::Store;
use std::path::PathBuf;

/// Arguments of `baton run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton run --period last-week\n  baton run --period 2026-W46 --to me@example.com            a [test] copy of every report to me, ledger untouched\n  baton run --period 2026-W46 --owner routing-lead --to me@example.com\n  baton run --period 2026-W46 --preview preview/               .eml + .html to look at, nothing sent\n  baton run --dry-run                                            the same, into ./preview\n  baton run --period 2026-W46 --force                            send a delivered period again, on purpose"
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
    /// Only these owners (id, name or address; repeatable). One that matches no owner is an
    /// error.
    #[arg(long = "owner", value_name = "OWNER")]
    pub owners: Vec<String>,
    /// A test send: a copy of every selected owner's report goes to ADDRESS, subject prefixed
    /// `[test]`. Never recorded as the owners' delivery: the real send still goes out.
    #[arg(long = "to", value_name = "ADDRESS")]
    pub to: Option<String>,
    /// Write each message as .eml + .html to DIR to look at; nothing is sent and the delivery
    /// ledger is untouched.
    #[arg(long, value_name = "DIR")]
    pub preview: Option<PathBuf>,
    /// Send again reports the ledger says were already delivered for the period.
    #[arg(long)]
    pub force: bool,
    /// Write to this outbox folder instead of the configured delivery.
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// Compute and render, deliver nothing: the messages are written to --preview DIR (default
    /// ./preview) to look at, the ledger is untouched.
    #[arg(long)]
    pub dry_run: bool,
    /// Output: a summary for people, or one JSON object on stdout (docs/json.md).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
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
    let preview = match (&args.preview, args.dry_run) {
        (Some(dir), _) => Some(dir.clone()),
        (None, true) => Some(PathBuf::from(DEFAULT_PREVIEW_DIR)),
        (None, false) => None,
    };
    let recipients = Recipients {
        only: args.owners.clone(),
        test_to: args.to.clone(),
        preview: preview.clone(),
        force: args.force,
    };
    let owners: Vec<_> = crate::report::recipients(&cfg)
        .into_iter()
        .map(|(o, _)| o)
        .chain(crate::report::team_leads(&cfg).into_iter().map(|(_, o)| o))
        .collect();
    recipients.check(&owners).map_err(UsageError)?;
    let store = Store::open(&cfg.store.path)?;
    // What --force is about to send again, said before it does.
    let forced: Vec<String> = if args.force && args.to.is_none() && preview.is_none() {
        owners
            .iter()
            .filter(|o| recipients.wants(o))
            .filter(|o| {
                let key = DeliveryKey::new(report.as_str(), period.label(), o.email.clone());
                matches!(store.delivery_state(&key), Ok(Some(r)) if r.state == DeliveryState::Sent)
            })
            .map(|o| o.email.clone())
            .collect()
    } else {
        vec![]
    };
    if !forced.is_empty() {
        eprintln!(
            "--force: {} was already delivered to {}; sending it again on purpose (same Message-ID)",
            period.label(),
            forced.join(", ")
        );
    }
    let req = RunRequest {
        report,
        period,
        trigger: Trigger::Manual,
        outbox: args.outbox,
        recipients,
        // A preview or a test send never goes through the ledger; a preview sends nothing.
        dry_run: preview.is_some(),
        http: args.http.overrides(),
        pull: PullOptions {
            cache_dir: args.cache_dir,
            progress: on_terminal(),
        },
    };
    let summary = run_report(&cfg, &store, &req).await?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&crate::run::RunJson::new(&summary))?
        ),
        Format::Table => print!(
            "{}",
            describe_for_people(&summary, args.to.as_deref(), &preview, &forced)
        ),
    }
    if summary.delivery.failed() > 0 {
        anyhow::bail!(
            "{} message(s) not delivered: see the log above; a rerun retries them",
            summary.delivery.failed()
        );
    }
    Ok(())
}

/// The summary and what the flags did, for a person at a terminal.
fn describe_for_people(
    summary: &crate::run::RunSummary,
    test_to: Option<&str>,
    preview: &Option<PathBuf>,
    forced: &[String],
) -> String {
    let mut out = super::demo::describe(summary);
    if let Some(dir) = preview {
        let shown = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        out.push_str(&format!(
            "preview: {} message(s) written to {} (.eml + .html); nothing sent, ledger untouched\n",
            summary.owners.len(),
            shown.display()
        ));
    } else if let Some(to) = test_to {
        out.push_str(&format!(
            "test copies to {to}: {} of {} sent, subject prefixed [test]; not recorded as the owners' delivery\n",
            summary.delivery.sent(),
            summary.owners.len()
        ));
    }
    if !forced.is_empty() {
        out.push_str(&format!(
            "--force: sent again to {} (already delivered before this run)\n",
            forced.join(", ")
        ));
    }
    out
}

/// Where `--dry-run` writes its messages when `--preview` does not say.
pub const DEFAULT_PREVIEW_DIR: &str = "preview";
