//! One report run, start to end: pull every source, ingest, compute the metrics for the period
//! (and the previous one and the trend), build each owner's view, render it, and deliver it
//! through the ledger. The run is recorded in the store whatever happens.
//!
//! The stages are reached only through [`steps`]: one function per step with typed input and
//! output (pull, facts, measures, explanation, owner views, render, deliver), which every
//! command calls. [`run_report`] is the whole report run on them, for `baton run`, `baton demo`
//! and the scheduler.

pub mod steps;

pub use steps::{
    Comparison, Destination, Input, MeasuresRequest, Message, Pulled, Recipients, SourcePull,
};

use crate::config::Config;
use crate::deliver::{DeliverError, DeliveryReport};
use crate::domain::{Owner, Period, ReportKind};
use crate::explain::{ExplainError, Explanation, Metric};
use crate::ingest::IngestError;
use crate::metrics::{MetricsError, MetricsReport};
use crate::report::RenderError;
use crate::source::{PullOptions, PullWindow, SourceError};
use crate::store::{NewRun, RunId, RunKind, RunOutcome, Store, StoreError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no [sources] are configured: add one (see docs/sources.md), or try `baton demo`")]
    NoSources,
    /// Nothing to report: sending every owner a page of dashes would look like a quiet week.
    #[error("no conversations were resolved in {period}; nothing was sent. {covered}")]
    EmptyPeriod { period: String, covered: String },
    #[error("no source `{name}` in the config (sources: {known})")]
    UnknownSource { name: String, known: String },
    #[error(transparent)]
    Offload(#[from] crate::offload::Offloaded),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Explain(#[from] ExplainError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Deliver(#[from] DeliverError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("smtp: {0}")]
    Smtp(String),
    #[error("delivery stopped: {0}")]
    DeliveryStopped(String),
}

/// What started the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Manual,
    Demo,
    Scheduled {
        schedule: String,
        scheduled_for: chrono::DateTime<chrono::Utc>,
    },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub report: ReportKind,
    pub period: Period,
    pub trigger: Trigger,
    /// Write to this outbox folder whatever `delivery.mode` says.
    pub outbox: Option<PathBuf>,
    pub recipients: Recipients,
    /// Compute and render, deliver nothing.
    pub dry_run: bool,
    pub pull: PullOptions,
}

/// One owner's line in the run summary.
#[derive(Debug, Clone)]
pub struct OwnerResult {
    pub owner: Owner,
    pub subject: String,
    /// Their branch(es): `routing 12.3 % (+3.1 pp)`.
    pub headline: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: RunId,
    pub period: Period,
    pub events: usize,
    pub metrics: MetricsReport,
    /// The explanation of the handoff rate's change (none when a period had no conversations).
    pub explanation: Option<Explanation>,
    pub owners: Vec<OwnerResult>,
    pub delivery: DeliveryReport,
    /// Where messages were written, in outbox mode.
    pub outbox: Option<PathBuf>,
    pub elapsed: Duration,
}

/// Runs the owners' report for `req.period` and records it in `store`.
pub async fn run_report(
    cfg: &Config,
    store: &Store,
    req: &RunRequest,
) -> Result<RunSummary, RunError> {
    let (kind, schedule, scheduled_for) = match &req.trigger {
        Trigger::Manual => (RunKind::Manual, None, None),
        Trigger::Demo => (RunKind::Manual, Some("demo".to_string()), None),
        Trigger::Scheduled {
            schedule,
            scheduled_for,
        } => (
            RunKind::Scheduled,
            Some(schedule.clone()),
            Some(*scheduled_for),
        ),
    };
    let id = store.start_run(&NewRun {
        kind,
        report: req.report.as_str().into(),
        period: Some(req.period.label()),
        schedule,
        scheduled_for,
    })?;
    let result = run_stages(cfg, store, req, id).await;
    let outcome = match &result {
        Ok(s) => RunOutcome::Succeeded {
            messages_sent: s.delivery.sent() as u32,
            messages_failed: s.delivery.failed() as u32,
            quarantined_rows: s.metrics.overall.quarantined_rows as u64,
        },
        Err(e) => RunOutcome::Failed {
            messages_sent: 0,
            messages_failed: 0,
            quarantined_rows: 0,
            error: e.to_string(),
        },
    };
    store.finish_run(id, &outcome)?;
    result
}

async fn run_stages(
    cfg: &Config,
    store: &Store,
    req: &RunRequest,
    run_id: RunId,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let period = &req.period;
    let window = PullWindow::for_report(period, cfg.report.trend_weeks);
    let pulled = steps::pull(cfg, &Input::Configured, &window, &req.pull).await?;
    let facts = steps::facts(&pulled.ingested, cfg).await?;
    let metrics = steps::measures(
        &facts,
        cfg,
        &MeasuresRequest::for_report(cfg, period),
        &pulled.ingested,
    )
    .await?;
    // With nothing to compare (no conversations in one of the periods) the reports simply
    // carry no drivers.
    let explanation = match steps::explanation(
        &facts,
        cfg,
        &Comparison::previous(period),
        Metric::HandoffRate,
    )
    .await
    {
        Ok(e) => Some(e),
        Err(RunError::Explain(ExplainError::Empty { .. })) => None,
        Err(e) => return Err(e.into()),
    };
    if metrics.overall.measures.conversations == 0 {
        return Err(RunError::EmptyPeriod {
            period: format!(
                "{} ({} to {}, {})",
                period.label(),
                period.start_date(),
                period.end_date(),
                period.tz().name()
            ),
            covered: match pulled.span()? {
                Some((a, b)) => format!(
                    "The data covers {} to {} ({} events): pick a period inside it.",
                    a.format("%Y-%m-%d %H:%M UTC"),
                    b.format("%Y-%m-%d %H:%M UTC"),
                    pulled.ingested.events.height()
                ),
                None => "The sources gave no events at all.".into(),
            },
        });
    }
    let views = steps::owner_views(cfg, &metrics, explanation.as_ref());
    let messages = steps::render(cfg, &views, req.report, period, &req.recipients)?;
    let destination = Destination::from_config(cfg, req.outbox.clone(), req.dry_run);
    let delivery = steps::deliver(cfg, store, &messages, &destination).await?;
    if let Some(stop) = &delivery.stopped {
        return Err(RunError::DeliveryStopped(stop.clone()));
    }
    Ok(RunSummary {
        run_id,
        period: period.clone(),
        events: pulled.ingested.events.height(),
        metrics,
        explanation,
        owners: messages
            .into_iter()
            .map(|m| OwnerResult {
                owner: m.owner,
                subject: m.subject,
                headline: m.headline,
            })
            .collect(),
        delivery,
        outbox: match destination {
            Destination::Outbox(dir) => Some(dir),
            _ => None,
        },
        elapsed: started.elapsed(),
    })
}
