//! One report run, start to end: pull every source, ingest, compute the metrics for the period
//! (and the previous one and the trend), build each owner's view, render it, and deliver it
//! through the ledger. The run is recorded in the store whatever happens.
//!
//! The CLI (`baton run`, `baton demo`) and the scheduler call [`run_report`]; nothing else strings
//! the stages together.

use crate::config::{Config, DeliveryMode, SourceConfig};
use crate::deliver::{
    deliver, DeliverError, DeliveryKey, DeliveryPolicy, DeliveryReport, Outbox, Outgoing,
    SmtpSender,
};
use crate::domain::{Owner, Period};
use crate::explain::{explain, ExplainError, Explanation, Metric};
use crate::ingest::{IngestError, Ingested};
use crate::metrics::{report, FactTables, MetricsError, MetricsReport, MetricsRequest};
use crate::report::{owner_views, RenderError, Renderer, OWNERS_REPORT};
use crate::source::{pull, PullOptions, PullWindow, SourceError};
use crate::store::{NewRun, RunId, RunKind, RunOutcome, Store, StoreError};
use lettre::message::Mailbox;
use polars::prelude::IntoLazy;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Sender used when no `[smtp]` table names one (outbox mode).
const DEFAULT_FROM: &str = "baton <baton@localhost>";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no [sources] are configured: add one (see docs/sources.md), or try `baton demo`")]
    NoSources,
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
    pub period: Period,
    pub trigger: Trigger,
    /// Write to this outbox folder whatever `delivery.mode` says.
    pub outbox: Option<PathBuf>,
    /// Only these recipients (addresses); empty = every owner.
    pub only_to: Vec<String>,
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
        report: OWNERS_REPORT.into(),
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

    // 1-2. Pull every source for the window the report needs, ingest, quarantine.
    if cfg.sources.is_empty() {
        return Err(RunError::NoSources);
    }
    let window = PullWindow::for_report(period, cfg.report.trend_weeks);
    let ingested = pull_all(&cfg.sources, &window, &req.pull).await?;
    ingested.check_threshold(cfg.report.quarantine_threshold)?;

    // 3. Metrics for the period, the previous one and the trend, overall and per segment.
    let facts = FactTables::build(&ingested.events, cfg)?;
    let metrics = report(
        &facts,
        cfg,
        &MetricsRequest {
            period,
            dimensions: &cfg.report.dimensions,
            trend_weeks: cfg.report.trend_weeks,
        },
        &ingested.quarantine.counts,
    )?;

    // 4. Why the handoff rate changed, routed to owners. With nothing to compare (no
    // conversations in one of the periods) the reports simply carry no drivers.
    let explanation = match explain(
        facts.conversations.clone().lazy(),
        cfg,
        period,
        &period.previous(),
        Metric::HandoffRate,
    ) {
        Ok(e) => Some(e),
        Err(ExplainError::Empty { .. }) => None,
        Err(e) => return Err(e.into()),
    };

    // 4-5. One view per owner, rendered.
    let renderer = Renderer::new().with_max_rows_inline(cfg.report.max_rows_inline);
    let from: Mailbox = cfg
        .smtp
        .as_ref()
        .map(|s| s.from.as_str())
        .unwrap_or(DEFAULT_FROM)
        .parse()
        .map_err(|e| RunError::Smtp(format!("from: {e}")))?;
    let mut owners = Vec::new();
    let mut messages = Vec::new();
    for mut view in owner_views(cfg, &metrics) {
        if let Some(e) = &explanation {
            view.attach_explanation(e);
        }
        if !req.only_to.is_empty()
            && !req
                .only_to
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&view.owner.email))
        {
            continue;
        }
        let rendered = renderer.render(&view)?;
        let headline = view
            .branches
            .iter()
            .map(|b| {
                format!(
                    "{} {} ({})",
                    b.cause,
                    crate::report::format::pct(b.rate),
                    crate::report::format::pp(b.change_pp)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let key = DeliveryKey::new(OWNERS_REPORT, period.label(), view.owner.email.clone());
        messages.push(Outgoing::new(&from, &view.owner, &rendered, key, &[])?);
        owners.push(OwnerResult {
            owner: view.owner.clone(),
            subject: rendered.subject.clone(),
            headline,
        });
    }

    // 6. Deliver through the ledger.
    let policy = DeliveryPolicy::from_config(&cfg.delivery);
    let (delivery, outbox) = if req.dry_run {
        (DeliveryReport::default(), None)
    } else if let Some(dir) = req.outbox.clone().or_else(|| {
        (cfg.delivery.mode == DeliveryMode::Outbox).then(|| cfg.delivery.outbox_dir.clone())
    }) {
        let outbox = Outbox::new(dir.clone());
        (
            deliver(store, &outbox, &messages, &policy).await?,
            Some(dir),
        )
    } else {
        let smtp = cfg
            .smtp
            .as_ref()
            .ok_or_else(|| RunError::Smtp("delivery.mode is smtp but [smtp] is missing".into()))?;
        let sender = SmtpSender::from_config(smtp).map_err(|e| RunError::Smtp(e.to_string()))?;
        (deliver(store, &sender, &messages, &policy).await?, None)
    };
    if let Some(stop) = &delivery.stopped {
        return Err(RunError::DeliveryStopped(stop.clone()));
    }
    Ok(RunSummary {
        run_id,
        period: period.clone(),
        events: ingested.events.height(),
        metrics,
        explanation,
        owners,
        delivery,
        outbox,
        elapsed: started.elapsed(),
    })
}

/// Pulls every configured source and appends their events.
async fn pull_all(
    sources: &BTreeMap<String, SourceConfig>,
    window: &PullWindow,
    opts: &PullOptions,
) -> Result<Ingested, RunError> {
    let mut all: Option<Ingested> = None;
    for (name, src) in sources {
        let got = pull(name, src, window, opts).await?;
        match &mut all {
            None => all = Some(got),
            Some(a) => a.extend(got)?,
        }
    }
    Ok(all.expect("at least one source"))
}
