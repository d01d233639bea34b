//! The steps of the pipeline, one function each with typed input and output:
//!
//! ```text
//! pull -> Ingested -> facts -> FactTables -> measures -> MetricsReport
//!                                        \-> explanation -> Explanation
//! (MetricsReport, Explanation) -> owner_views -> OwnerView -> render -> Message -> deliver
//! ```
//!
//! Every command (`metrics`, `explain`, `pull`, `run`, `demo`, and the scheduler) reaches the
//! stages through these functions, so every input gets the same HTTP client, retries, cache,
//! quarantine and batching. The CPU-heavy steps (`facts`, `measures`, `explanation`) run
//! through [`crate::offload::cpu`] here and nowhere else in this module.

use super::RunError;
use crate::config::{Config, DeliveryMode, SourceConfig};
use crate::deliver::{
    DeliveryKey, DeliveryPolicy, DeliveryReport, Headers, NoGate, Outbox, Outcome, Outgoing,
    SendError, SmtpSender, Transport,
};
use crate::domain::{Dimension, Owner, Period, ReportKind};
use crate::explain::{Explanation, Metric};
use crate::ingest::Ingested;
use crate::metrics::{FactTables, MetricsReport, MetricsRequest};
use crate::offload;
use crate::report::{OwnerView, Renderer};
use crate::source::{PullOptions, PullStats, PullWindow};
use crate::store::Store;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use polars::prelude::IntoLazy;
use std::path::PathBuf;

/// Where a command's events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Every `[sources.NAME]` of the config (a report run).
    Configured,
    /// One configured source (`--source NAME`).
    Source(String),
    /// A canonical export given on the command line (`--input PATH|URL`): a local path, a
    /// `file://` or an `http(s)://` URL, pulled like a canonical source with default options.
    Export(String),
}

/// The first and the last instant of an export.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// What [`pull`] gave: the events of every source, appended, and what each pull took.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub ingested: Ingested,
    /// What each source's pull took, in pull order.
    pub sources: Vec<SourcePull>,
}

/// One source's share of a [`Pulled`].
#[derive(Debug, Clone)]
pub struct SourcePull {
    pub name: String,
    pub events: usize,
    pub quarantined: usize,
    /// Requests, retries, rate-limit waits, cache hits, skipped records.
    pub stats: PullStats,
}

impl Pulled {
    /// First and last event instant, or none for an empty export.
    pub fn span(&self) -> Result<Option<Span>, RunError> {
        Ok(self.ingested.span_micros()?.and_then(|(a, b)| {
            DateTime::from_timestamp_micros(a).zip(DateTime::from_timestamp_micros(b))
        }))
    }
}

/// Retry and timeout settings given on the command line, over every source's own
/// (`max_retries`, `timeout_secs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpOverrides {
    pub max_retries: Option<u32>,
    pub timeout_secs: Option<u64>,
}

impl HttpOverrides {
    fn apply(&self, src: &mut SourceConfig) {
        let http = src.http_mut();
        if let Some(n) = self.max_retries {
            http.max_retries = n;
        }
        if let Some(t) = self.timeout_secs {
            http.timeout_secs = t;
        }
    }
}

/// Step 1-2: pulls `input` for `window` and ingests it to canonical events, malformed rows
/// quarantined with their reasons.
pub async fn pull(
    cfg: &Config,
    input: &Input,
    window: &PullWindow,
    opts: &PullOptions,
    http: &HttpOverrides,
) -> Result<Pulled, RunError> {
    let mut sources: Vec<(String, SourceConfig)> = match input {
        Input::Configured if cfg.sources.is_empty() => return Err(RunError::NoSources),
        Input::Configured => cfg
            .sources
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect(),
        Input::Source(name) => match cfg.sources.get(name) {
            Some(s) => vec![(name.clone(), s.clone())],
            None => {
                return Err(RunError::UnknownSource {
                    name: name.clone(),
                    known: cfg.sources.keys().cloned().collect::<Vec<_>>().join(", "),
                })
            }
        },
        Input::Export(path_or_url) => vec![(
            "input".to_string(),
            crate::source::input_source(path_or_url)?,
        )],
    };
    for (_, src) in &mut sources {
        http.apply(src);
    }
    let mut all: Option<Ingested> = None;
    let mut pulls = Vec::new();
    for (name, src) in &sources {
        let got = crate::source::pull_with_stats(name, src, window, opts).await?;
        pulls.push(SourcePull {
            name: name.clone(),
            events: got.ingested.events.height(),
            quarantined: got.ingested.quarantine.len(),
            stats: got.stats,
        });
        match &mut all {
            None => all = Some(got.ingested),
            Some(a) => a.extend(got.ingested)?,
        }
    }
    let ingested = all.expect("at least one source");
    Ok(Pulled {
        ingested,
        sources: pulls,
    })
}

/// Step 3: one row per conversation and per handoff, a batch of whole conversations per core.
/// Fails first when the malformed share of the export passes `report.quarantine_threshold`:
/// numbers from an export that broken would mislead.
pub async fn facts(ingested: &Ingested, cfg: &Config) -> Result<FactTables, RunError> {
    ingested.check_threshold(cfg.report.quarantine_threshold)?;
    let events = ingested.events.clone();
    let cfg = cfg.clone();
    Ok(offload::cpu("computing facts", move || FactTables::build(&events, &cfg)).await??)
}

/// What [`measures`] computes: the period (with the previous one and the trend before it) and
/// the dimensions to segment by.
#[derive(Debug, Clone)]
pub struct MeasuresRequest {
    pub period: Period,
    pub dimensions: Vec<Dimension>,
    pub trend_weeks: usize,
}

impl MeasuresRequest {
    /// The report's own request: `[report] dimensions` and `trend_weeks`.
    pub fn for_report(cfg: &Config, period: &Period) -> MeasuresRequest {
        MeasuresRequest {
            period: period.clone(),
            dimensions: cfg.report.dimensions.clone(),
            trend_weeks: cfg.report.trend_weeks,
        }
    }
}

/// Step 4: every measure of METRICS.md for the period, the previous one and the trend,
/// overall and per segment.
pub async fn measures(
    facts: &FactTables,
    cfg: &Config,
    req: &MeasuresRequest,
    ingested: &Ingested,
) -> Result<MetricsReport, RunError> {
    let (facts, cfg, req) = (facts.clone(), cfg.clone(), req.clone());
    let quarantine = ingested.quarantine.counts.clone();
    let report = offload::cpu("computing measures", move || {
        crate::metrics::report(
            &facts,
            &cfg,
            &MetricsRequest {
                period: &req.period,
                dimensions: &req.dimensions,
                trend_weeks: req.trend_weeks,
            },
            &quarantine,
        )
    })
    .await??;
    Ok(report)
}

/// Two periods to compare: `period` (after) against `vs` (before).
#[derive(Debug, Clone)]
pub struct Comparison {
    pub period: Period,
    pub vs: Period,
}

impl Comparison {
    /// A period against the one just before it.
    pub fn previous(period: &Period) -> Comparison {
        Comparison {
            period: period.clone(),
            vs: period.previous(),
        }
    }
}

/// Step 5: why `metric` changed between the two periods, per branch and segment.
pub async fn explanation(
    facts: &FactTables,
    cfg: &Config,
    cmp: &Comparison,
    metric: Metric,
) -> Result<Explanation, RunError> {
    let (conversations, cfg, cmp) = (facts.conversations.clone(), cfg.clone(), cmp.clone());
    Ok(offload::cpu("explaining the change", move || {
        crate::explain::explain(conversations.lazy(), &cfg, &cmp.period, &cmp.vs, metric)
    })
    .await??)
}

/// Step 6: one view per owner of the metric tree, then one per team lead (their team's cells
/// in every branch), with the drivers routed to each.
pub fn owner_views(
    cfg: &Config,
    metrics: &MetricsReport,
    explanation: Option<&Explanation>,
    verdicts: &[crate::verify::Verdict],
) -> Vec<OwnerView> {
    let now = Utc::now();
    let mut views = crate::report::owner_views_at(cfg, metrics, now);
    views.extend(crate::report::team_views_at(cfg, metrics, now));
    for v in &mut views {
        if let Some(e) = explanation {
            v.attach_explanation(e);
        }
        v.attach_verdicts(verdicts);
    }
    views
}

/// Step 6b: a few example conversations of each driver of each view, from the facts (the
/// period's conversations of the driver's segment whose first handoff has its branch),
/// linked when `[report] conversation_url` is set. A failed lookup leaves a driver without
/// examples rather than failing the report.
pub fn attach_examples(views: &mut [OwnerView], facts: &FactTables, period: &Period, cfg: &Config) {
    const EXAMPLES: u32 = 5;
    let pattern = cfg.report.conversation_url.as_deref();
    for v in views.iter_mut() {
        for d in &mut v.drivers {
            match crate::metrics::example_conversations(
                facts.conversations.clone().lazy(),
                period,
                d.cause,
                &d.pairs,
                EXAMPLES,
            ) {
                Ok(ids) => {
                    d.examples = ids
                        .into_iter()
                        .map(|id| crate::report::Example {
                            url: crate::report::conversation_link(pattern, &id),
                            id,
                        })
                        .collect();
                }
                Err(e) => tracing::warn!(owner = %v.owner.id, "no example conversations: {e}"),
            }
        }
    }
}

/// Step 6c: what only a team lead's report has, from the facts when they have a `team`
/// column: the team's agents this period, ranked on shrunk handoff rates (with an `agent`
/// column), and the team's own handoff rate week by week over the report's trend periods. A
/// failed lookup leaves that section as it was rather than failing the report.
pub fn attach_team_sections(
    views: &mut [OwnerView],
    facts: &FactTables,
    period: &Period,
    trend_periods: &[Period],
) {
    const SHOWN: usize = 10;
    let schema = facts.conversations.schema();
    if !schema.contains("team") {
        return;
    }
    let has_agents = schema.contains("agent");
    for v in views.iter_mut() {
        let Some(team) = v.team.clone() else { continue };
        let conversations = || facts.conversations.clone().lazy();
        if has_agents {
            match crate::metrics::team_agent_counts(
                conversations(),
                period,
                ("team", &team),
                "agent",
            ) {
                Ok(counts) => v.team_agents = crate::report::AgentLine::ranked(&counts, SHOWN),
                Err(e) => tracing::warn!(team = %team, "no agent list for the team lead: {e}"),
            }
        }
        match crate::metrics::team_trend_counts(conversations(), trend_periods, ("team", &team)) {
            Ok(counts) => v.set_team_trend(&counts),
            Err(e) => tracing::warn!(team = %team, "the team's trend is the helpdesk's: {e}"),
        }
    }
}

/// Who a run's messages go to, and whether they count as the owners' delivery.
#[derive(Debug, Clone, Default)]
pub struct Recipients {
    /// Only these owners (id, name or address, any case); empty = every owner.
    pub only: Vec<String>,
    /// A test send: a copy of every selected owner's report goes to this address instead of
    /// the owner, subject prefixed `[test]`. Never recorded in the ledger, so it neither
    /// consumes nor is blocked by the owners' delivery.
    pub test_to: Option<String>,
    /// A preview: `.eml` + `.html` written to this folder, nothing sent, ledger untouched.
    pub preview: Option<PathBuf>,
    /// Re-send messages the ledger says were already delivered for the period, on purpose.
    pub force: bool,
}

impl Recipients {
    /// Whether `owner` is selected: by id, name or address, ignoring case.
    pub fn wants(&self, owner: &Owner) -> bool {
        self.only.is_empty() || self.only.iter().any(|t| selects(t, owner))
    }

    /// Checks the selection against the owners of the config: every `only` entry must match
    /// an owner, and `test_to` must be an address. The error is for the person who typed it.
    pub fn check(&self, owners: &[Owner]) -> Result<(), String> {
        for t in &self.only {
            if !owners.iter().any(|o| selects(t, o)) {
                let known = owners
                    .iter()
                    .map(|o| format!("{} <{}>", o.id, o.email))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(format!(
                    "--owner `{t}` matches no owner of the report (owners: {known})"
                ));
            }
        }
        if let Some(to) = &self.test_to {
            to.trim()
                .parse::<lettre::Address>()
                .map_err(|e| format!("--to `{to}` is not an email address: {e}"))?;
        }
        Ok(())
    }
}

fn selects(t: &str, owner: &Owner) -> bool {
    let t = t.trim();
    t.eq_ignore_ascii_case(&owner.email)
        || t.eq_ignore_ascii_case(owner.id.as_str())
        || t.eq_ignore_ascii_case(&owner.name)
}

/// What a message is for, which decides whether the ledger sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    /// The owner's delivery for the period: through the ledger, once.
    Delivery,
    /// The owner's delivery, re-sent even when the ledger says it went out (`--force`).
    Forced,
    /// A `[test]` copy to another address: sent, never recorded in the ledger.
    Test,
    /// Written to a folder for looking at: never sent, never recorded.
    Preview(PathBuf),
}

/// One rendered message, ready for the ledger and a transport.
#[derive(Debug, Clone)]
pub struct Message {
    pub owner: Owner,
    pub subject: String,
    /// The owner's branches in a line: `routing 12.3 % (+3.1 pp)`.
    pub headline: String,
    pub outgoing: Outgoing,
    pub purpose: Purpose,
}

/// Step 7: renders each selected owner's view (HTML, text, CSV) into a MIME message keyed for
/// the delivery ledger.
pub fn render(
    cfg: &Config,
    views: &[OwnerView],
    report: ReportKind,
    period: &Period,
    recipients: &Recipients,
) -> Result<Vec<Message>, RunError> {
    let renderer = Renderer::new().with_max_rows_inline(cfg.report.max_rows_inline);
    let from = sender(cfg);
    let headers = Headers {
        reply_to: cfg.delivery.reply_to.clone(),
    };
    let mut out = Vec::new();
    for view in views.iter().filter(|v| recipients.wants(&v.owner)) {
        let rendered = renderer.render(view)?;
        let headline = view
            .branches
            .iter()
            .map(|b| {
                format!(
                    "{} {} ({})",
                    b.cause,
                    crate::format::pct(b.rate),
                    crate::format::pp(b.change_pp)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        out.push(addressed(
            &view.owner,
            report.as_str(),
            rendered,
            headline,
            period,
            recipients,
            (&from, &headers),
        )?);
    }
    Ok(out)
}

/// A rendered message for `owner` under the ledger's report name `report`, addressed as the
/// run asks: to the owner (a delivery, or forced), or as a `[test]` copy to another address
/// under a key the ledger never sees, or written to a preview folder.
fn addressed(
    owner: &Owner,
    report: &str,
    rendered: crate::report::Rendered,
    headline: String,
    period: &Period,
    recipients: &Recipients,
    (from, headers): (&Mailbox, &Headers),
) -> Result<Message, RunError> {
    let (to, key, rendered) = match &recipients.test_to {
        // A key the ledger never sees, unique per owner and per send: the copies of
        // different owners (and two tests in a row) are different messages to a client.
        Some(addr) => {
            let mut r = rendered;
            r.subject = format!("[test] {}", r.subject);
            let key = DeliveryKey::new(
                format!(
                    "test:{report}:{}:{}",
                    owner.id,
                    Utc::now().timestamp_millis()
                ),
                period.label(),
                addr.trim(),
            );
            let to = Owner {
                id: owner.id.clone(),
                name: format!("{} (test copy)", owner.name),
                email: addr.trim().to_string(),
            };
            (to, key, r)
        }
        None => (
            owner.clone(),
            DeliveryKey::new(report, period.label(), owner.email.clone()),
            rendered,
        ),
    };
    let purpose = match (&recipients.preview, &recipients.test_to) {
        (Some(dir), _) => Purpose::Preview(dir.clone()),
        (None, Some(_)) => Purpose::Test,
        (None, None) if recipients.force => Purpose::Forced,
        (None, None) => Purpose::Delivery,
    };
    Ok(Message {
        owner: owner.clone(),
        subject: rendered.subject.clone(),
        headline,
        outgoing: Outgoing::with_headers(from, &to, &rendered, key, &[], headers)?,
        purpose,
    })
}

/// Step 7b: the short alert of each branch that moved significantly past its
/// `alert_threshold_pp` ([`crate::report::branch_alerts`]), to its owner, right after the
/// reports; keyed `alert-<branch>` in the ledger, so once per branch and period.
pub fn render_alerts(
    cfg: &Config,
    views: &[OwnerView],
    period: &Period,
    recipients: &Recipients,
) -> Result<Vec<Message>, RunError> {
    let renderer = Renderer::new();
    let from = sender(cfg);
    let headers = Headers {
        reply_to: cfg.delivery.reply_to.clone(),
    };
    let mut out = Vec::new();
    for alert in crate::report::branch_alerts(views)
        .iter()
        .filter(|a| recipients.wants(&a.owner))
    {
        let rendered = renderer.render_alert(alert)?;
        let headline = format!("alert: {} {}", alert.cause, alert.branch.change_text);
        out.push(addressed(
            &alert.owner,
            &alert.report_name(),
            rendered,
            headline,
            period,
            recipients,
            (&from, &headers),
        )?);
    }
    Ok(out)
}

/// The From of every message: `[smtp] from`, else a local placeholder (outbox mode).
fn sender(cfg: &Config) -> Mailbox {
    cfg.smtp
        .as_ref()
        .map(|s| s.from.clone())
        .unwrap_or_else(|| {
            "baton <baton@localhost>"
                .parse()
                .expect("a valid placeholder address")
        })
}

/// Where [`deliver`] sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    /// Compute and render only.
    Nowhere,
    /// `.eml` + `.html` files in a folder.
    Outbox(PathBuf),
    /// The configured `[smtp]` server.
    Smtp,
}

impl Destination {
    /// `--outbox DIR` when given, else what `[delivery] mode` says.
    pub fn from_config(cfg: &Config, outbox: Option<PathBuf>, dry_run: bool) -> Destination {
        if dry_run {
            Destination::Nowhere
        } else if let Some(dir) = outbox {
            Destination::Outbox(dir)
        } else if cfg.delivery.mode == DeliveryMode::Outbox {
            Destination::Outbox(cfg.delivery.outbox_dir.clone())
        } else {
            Destination::Smtp
        }
    }
}

/// Step 8: delivers through the ledger (a message already delivered for its report, period and
/// recipient is not sent again). Test copies are sent without the ledger; previews are written
/// to their folder whatever the destination; forced messages already delivered are sent again.
pub async fn deliver(
    cfg: &Config,
    store: &Store,
    messages: &[Message],
    to: &Destination,
) -> Result<DeliveryReport, RunError> {
    let of = |f: fn(&Purpose) -> bool| -> Vec<Outgoing> {
        messages
            .iter()
            .filter(|m| f(&m.purpose))
            .map(|m| m.outgoing.clone())
            .collect()
    };
    let owned = of(|p| matches!(p, Purpose::Delivery | Purpose::Forced));
    let tests = of(|p| matches!(p, Purpose::Test));
    let forced = messages.iter().any(|m| m.purpose == Purpose::Forced);
    let mut report = DeliveryReport::default();
    for m in messages {
        if let Purpose::Preview(dir) = &m.purpose {
            if let Err(e) = Outbox::new(dir.clone()).send(&m.outgoing, &NoGate).await {
                report.stopped = Some(format!("preview: {e}"));
                return Ok(report);
            }
        }
    }
    let policy = DeliveryPolicy::from_config(&cfg.delivery);
    match to {
        Destination::Nowhere => {}
        Destination::Outbox(dir) => {
            let outbox = Outbox::new(dir.clone());
            report = crate::deliver::deliver(store, &outbox, &owned, &policy).await?;
            // The outbox rewrites delivered messages anyway: forcing changes nothing there.
            direct(&outbox, &tests, &mut report).await;
        }
        Destination::Smtp => {
            let smtp = cfg.smtp.as_ref().ok_or_else(|| {
                RunError::Smtp("delivery.mode is smtp but [smtp] is missing".into())
            })?;
            let sender =
                SmtpSender::from_config(smtp).map_err(|e| RunError::Smtp(e.to_string()))?;
            report = crate::deliver::deliver(store, &sender, &owned, &policy).await?;
            if forced && report.stopped.is_none() {
                resend_delivered(&sender, &owned, &mut report).await;
            }
            if report.stopped.is_none() {
                direct(&sender, &tests, &mut report).await;
            }
        }
    }
    Ok(report)
}

/// Step 5b: the verdict on each open fix at the end of the period (before/after against the
/// rest of the company, on an always-valid interval), for the fix owners' reports.
pub async fn verdicts(
    facts: &FactTables,
    cfg: &Config,
    fixes: &[crate::config::Fix],
    period: &Period,
) -> Result<Vec<crate::verify::Verdict>, RunError> {
    if fixes.is_empty() {
        return Ok(vec![]);
    }
    let (facts, cfg, fixes) = (facts.clone(), cfg.clone(), fixes.to_vec());
    let as_of = period.end_date();
    Ok(offload::cpu("verifying fixes", move || {
        crate::verify::verify(&facts, &fixes, &cfg, as_of)
    })
    .await??)
}

/// Sends each message once, outside the ledger (test copies): the outcome is reported under
/// the message's own (test) key.
async fn direct<T: Transport>(transport: &T, messages: &[Outgoing], report: &mut DeliveryReport) {
    for msg in messages {
        let outcome = match transport.send(msg, &NoGate).await {
            Ok(()) => {
                tracing::info!(key = %msg.key, "test copy sent (not recorded as a delivery)");
                Outcome::Sent { attempts: 1 }
            }
            Err(SendError::Setup(e)) => {
                report.stopped = Some(e.clone());
                Outcome::Deferred { error: e }
            }
            Err(SendError::Permanent(e)) => Outcome::FailedPermanent { error: e },
            Err(SendError::InDoubt(e)) => Outcome::InDoubt {
                error: e,
                retried: false,
            },
            Err(SendError::Transient(e)) => Outcome::Deferred { error: e },
        };
        report.outcomes.push((msg.key.clone(), outcome));
        if report.stopped.is_some() {
            return;
        }
    }
}

/// `--force`: the messages the ledger skipped as already delivered are sent again (same
/// Message-ID, so a client can thread or drop the copy), and the log says so.
async fn resend_delivered<T: Transport>(
    transport: &T,
    messages: &[Outgoing],
    report: &mut DeliveryReport,
) {
    for (key, outcome) in report.outcomes.iter_mut() {
        if *outcome != Outcome::AlreadyDelivered {
            continue;
        }
        let Some(msg) = messages.iter().find(|m| &m.key == key) else {
            continue;
        };
        tracing::warn!(key = %key, "--force: sending again a report already delivered");
        *outcome = match transport.send(msg, &NoGate).await {
            Ok(()) => Outcome::Sent { attempts: 1 },
            Err(SendError::Permanent(e)) => Outcome::FailedPermanent { error: e },
            Err(SendError::InDoubt(e)) => Outcome::InDoubt {
                error: e,
                retried: false,
            },
            Err(SendError::Transient(e) | SendError::Setup(e)) => Outcome::Deferred { error: e },
        };
    }
}
