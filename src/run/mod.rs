//! One report run, start to end: pull every source, ingest, compute the metrics for the period
//! (and the previous one and the trend), build each owner's view, render it, and deliver it
//! through the ledger. The run is recorded in the store whatever happens.
//!
//! The stages are reached only through [`steps`]: one function per step with typed input and
//! output (pull, facts, measures, explanation, owner views, render, deliver), which every
//! command calls. [`run_report`] is the whole report run on them, for `baton run`, `baton demo`
//! and the scheduler.

pub mod output;
pub mod steps;

pub use output::{PullJson, RunJson};

pub use steps::{
    Comparison, Destination, HttpOverrides, Input, MeasuresRequest, Message, Pulled, Recipients,
    SourcePull,
};

use crate::config::Config;
use crate::deliver::{DeliverError, DeliveryKey, DeliveryReport, Outcome};
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
    Verify(#[from] crate::verify::VerifyError),
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
    /// A setup error (credentials, TLS, outbox folder) stopped delivery; `report` has what
    /// went out before.
    #[error("delivery stopped: {stop}")]
    DeliveryStopped {
        stop: String,
        report: DeliveryReport,
    },
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
    /// The latest missed fire of a schedule, run once after downtime (`baton serve`).
    CatchUp {
        schedule: String,
        scheduled_for: chrono::DateTime<chrono::Utc>,
    },
    /// `POST /runs` on `baton serve`'s endpoint.
    Http,
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
    pub http: HttpOverrides,
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
    /// What each source's pull took.
    pub sources: Vec<SourcePull>,
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
        Trigger::CatchUp {
            schedule,
            scheduled_for,
        } => (
            RunKind::CatchUp,
            Some(schedule.clone()),
            Some(*scheduled_for),
        ),
        Trigger::Http => (RunKind::Trigger, None, None),
    };
    let policy = crate::deliver::DeliveryPolicy::from_config(&cfg.delivery);
    // A run killed earlier (kill -9, a panic, power loss) is still `running`: say so, and free
    // its claims before this run looks at them.
    store.mark_abandoned(policy.abandoned_after)?;
    let id = store.start_run(&NewRun {
        kind,
        report: req.report.as_str().into(),
        period: Some(req.period.label()),
        schedule,
        scheduled_for,
    })?;
    store.set_current_run(Some(id));
    // A panic inside the stages still ends the run in the log (the process may go on: the
    // scheduler survives a bad run).
    let stages = run_stages(cfg, store, req, id);
    let result =
        crate::deliver::with_heartbeat(store, id, policy.heartbeat_every(), catch_panic(stages))
            .await;
    store.set_current_run(None);
    let (outcome, result) = match result {
        Ok(r) => (outcome_of(&r), r),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            let outcome = RunOutcome::Failed {
                messages_sent: 0,
                messages_failed: 0,
                quarantined_rows: 0,
                error: format!("the run panicked: {}", crate::text::cut(what, 500)),
            };
            store.release_leases(id.0)?;
            store.finish_run(id, &outcome)?;
            std::panic::resume_unwind(panic);
        }
    };
    // Claims this run still holds (it stopped mid-way) go back: unconfirmed sends in doubt.
    store.release_leases(id.0)?;
    store.finish_run(id, &outcome)?;
    result
}

/// `fut`, with a panic inside it caught as an `Err` (the future is polled in place, so
/// borrowed state is fine).
async fn catch_panic<F: std::future::Future>(
    fut: F,
) -> Result<F::Output, Box<dyn std::any::Any + Send>> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(p) => std::task::Poll::Ready(Err(p)),
        }
    })
    .await
}

/// The run log's line for a run's result, with true counts: a run that failed part-way
/// still counts what went out before it failed.
fn outcome_of(result: &Result<RunSummary, RunError>) -> RunOutcome {
    match result {
        Ok(s) => s
            .delivery
            .run_outcome(s.metrics.overall.quarantined_rows as u64, None),
        Err(RunError::DeliveryStopped { report, .. }) => report.run_outcome(0, None),
        Err(e) => RunOutcome::Failed {
            messages_sent: 0,
            messages_failed: 0,
            quarantined_rows: 0,
            error: e.to_string(),
        },
    }
}

async fn run_stages(
    cfg: &Config,
    store: &Store,
    req: &RunRequest,
    run_id: RunId,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let period = &req.period;
    // Open fixes widen the pull to their baselines (the weeks before each went live).
    let fixes = crate::verify::open_fixes(cfg, Some(store))?;
    let mut window = PullWindow::for_report(period, &cfg.report);
    if let Some(start) =
        crate::verify::pull_start(&fixes, cfg, &crate::verify::VerifyPolicy::default())
    {
        window.start = window.start.min(start);
    }
    let pulled = steps::pull(cfg, &Input::Configured, &window, &req.pull, &req.http).await?;
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
        Err(e) => return Err(e),
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
                    pulled.ingested.events.height() + pulled.ingested.outside_window
                ),
                None => "The sources gave no events at all.".into(),
            },
        });
    }
    let verdicts = steps::verdicts(&facts, cfg, &fixes, period).await?;
    let mut views = steps::owner_views(cfg, &metrics, explanation.as_ref(), &verdicts);
    steps::attach_examples(&mut views, &facts, period, cfg);
    steps::attach_team_sections(
        &mut views,
        &facts,
        period,
        &period.report_span(cfg.report.trend_weeks),
    );
    // One owner at a time: a report still too big after shortening fails for its owner
    // only, and the others go out.
    let mut messages = Vec::new();
    let mut unrendered = Vec::new();
    for view in &views {
        let one = std::slice::from_ref(view);
        match steps::render(cfg, one, req.report, period, &req.recipients) {
            Ok(m) => messages.extend(m),
            Err(RunError::Render(e @ RenderError::TooLarge { .. })) => {
                tracing::error!(owner = %view.owner.email, "not sent: {e}");
                let key = DeliveryKey::new(req.report.as_str(), period.label(), &view.owner.email);
                unrendered.push((
                    key,
                    Outcome::NotRendered {
                        error: e.to_string(),
                    },
                ));
            }
            Err(e) => return Err(e),
        }
    }
    // The reports first, then the alerts of branches that moved past their line.
    let reports = messages.len();
    messages.extend(steps::render_alerts(cfg, &views, period, &req.recipients)?);
    let destination = Destination::from_config(cfg, req.outbox.clone(), req.dry_run);
    let mut delivery = steps::deliver(cfg, store, &messages, &destination).await?;
    delivery.outcomes.extend(unrendered);
    if let Some(stop) = &delivery.stopped {
        return Err(RunError::DeliveryStopped {
            stop: stop.clone(),
            report: delivery,
        });
    }
    Ok(RunSummary {
        run_id,
        period: period.clone(),
        events: pulled.ingested.events.height(),
        sources: pulled.sources.clone(),
        metrics,
        explanation,
        owners: messages
            .into_iter()
            .take(reports)
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
