//! The JSON forms of `baton run --format json` and `baton pull --format json`: contracts
//! documented field by field in docs/json.md. Fields are only ever added within a
//! `schema_version`; a rename, a removal or a change of meaning bumps it.

use super::{RunSummary, SourcePull};
use crate::deliver::Outcome;
use crate::domain::PeriodJson;
use crate::source::PullWindow;
use serde::Serialize;
use std::collections::BTreeMap;

/// The version of [`RunJson`].
pub const RUN_SCHEMA_VERSION: u32 = 1;
/// The version of [`PullJson`].
pub const PULL_SCHEMA_VERSION: u32 = 1;

/// What one source's pull took.
#[derive(Debug, Clone, Serialize)]
pub struct SourceJson {
    pub name: String,
    pub events: usize,
    pub quarantined: usize,
    pub requests: u64,
    pub retries: u64,
    pub rate_limit_waits: u64,
    pub cached_pages: u64,
    /// Vendor records that are not events, by reason.
    pub skipped: BTreeMap<String, usize>,
}

impl From<&SourcePull> for SourceJson {
    fn from(p: &SourcePull) -> SourceJson {
        SourceJson {
            name: p.name.clone(),
            events: p.events,
            quarantined: p.quarantined,
            requests: p.stats.requests,
            retries: p.stats.retries,
            rate_limit_waits: p.stats.rate_limit_waits,
            cached_pages: p.stats.cached_pages,
            skipped: p.stats.skipped.clone(),
        }
    }
}

/// `baton run --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunJson {
    pub schema_version: u32,
    pub run_id: i64,
    pub period: PeriodJson,
    /// Valid events read, after the window cut.
    pub events: usize,
    /// Conversations resolved in the period, and their handoff rate (a fraction).
    pub conversations: i64,
    pub handoff_rate: Option<f64>,
    pub sources: Vec<SourceJson>,
    /// Rows set aside while ingesting, by reason (every source).
    pub quarantine: BTreeMap<String, usize>,
    /// One per message rendered, in send order.
    pub messages: Vec<MessageJson>,
    pub delivery: DeliveryJson,
    /// The outbox folder, in outbox mode.
    pub outbox: Option<String>,
    pub elapsed_seconds: f64,
}

/// One rendered message.
#[derive(Debug, Clone, Serialize)]
pub struct MessageJson {
    pub owner_id: String,
    pub owner: String,
    pub email: String,
    pub subject: String,
}

/// What delivery did, per recipient and in totals.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryJson {
    pub sent: usize,
    pub already_delivered: usize,
    pub claimed_elsewhere: usize,
    pub in_doubt: usize,
    /// Not delivered by this run or an earlier one (failed, deferred, in doubt, not attempted,
    /// not rendered).
    pub failed: usize,
    pub outcomes: Vec<OutcomeJson>,
}

/// One recipient's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeJson {
    pub recipient: String,
    /// `sent`, `already_delivered`, `claimed_elsewhere`, `failed_permanent`, `deferred`,
    /// `in_doubt`, `not_attempted` or `not_rendered`.
    pub outcome: &'static str,
    /// Attempts over all runs, for `sent`.
    pub attempts: Option<u32>,
    pub error: Option<String>,
}

impl OutcomeJson {
    fn new(recipient: &str, o: &Outcome) -> OutcomeJson {
        let (outcome, attempts, error) = match o {
            Outcome::Sent { attempts } => ("sent", Some(*attempts), None),
            Outcome::AlreadyDelivered => ("already_delivered", None, None),
            Outcome::ClaimedElsewhere { run } => (
                "claimed_elsewhere",
                None,
                Some(format!("run {run} is sending it")),
            ),
            Outcome::FailedPermanent { error } => ("failed_permanent", None, Some(error.clone())),
            Outcome::Deferred { error } => ("deferred", None, Some(error.clone())),
            Outcome::InDoubt { error, .. } => ("in_doubt", None, Some(error.clone())),
            Outcome::NotAttempted => ("not_attempted", None, None),
            Outcome::NotRendered { error } => ("not_rendered", None, Some(error.clone())),
        };
        OutcomeJson {
            recipient: recipient.to_string(),
            outcome,
            attempts,
            error,
        }
    }
}

impl RunJson {
    pub fn new(s: &RunSummary) -> RunJson {
        let d = &s.delivery;
        RunJson {
            schema_version: RUN_SCHEMA_VERSION,
            run_id: s.run_id.0,
            period: s.period.to_json(),
            events: s.events,
            conversations: s.metrics.overall.measures.conversations,
            handoff_rate: s.metrics.overall.measures.handoff_rate,
            sources: s.sources.iter().map(SourceJson::from).collect(),
            quarantine: s.metrics.quarantine.clone(),
            messages: s
                .owners
                .iter()
                .map(|o| MessageJson {
                    owner_id: o.owner.id.as_str().to_string(),
                    owner: o.owner.name.clone(),
                    email: o.owner.email.clone(),
                    subject: o.subject.clone(),
                })
                .collect(),
            delivery: DeliveryJson {
                sent: d.sent(),
                already_delivered: d.already_delivered(),
                claimed_elsewhere: d.claimed_elsewhere(),
                in_doubt: d.in_doubt(),
                failed: d.failed(),
                outcomes: d
                    .outcomes
                    .iter()
                    .map(|(key, o)| OutcomeJson::new(&key.recipient, o))
                    .collect(),
            },
            outbox: s.outbox.as_ref().map(|p| p.display().to_string()),
            elapsed_seconds: s.elapsed.as_secs_f64(),
        }
    }
}

/// `baton pull --format json` (the events go to `--out`).
#[derive(Debug, Clone, Serialize)]
pub struct PullJson {
    pub schema_version: u32,
    /// The window cut (`start <= at < end`, RFC 3339 UTC); null when everything was pulled.
    pub window: Option<WindowJson>,
    /// Valid events written.
    pub events: usize,
    /// Valid events the window left out.
    pub outside_window: usize,
    pub sources: Vec<SourceJson>,
    pub quarantine: BTreeMap<String, usize>,
    /// Where the events were written.
    pub out: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowJson {
    pub start: String,
    pub end: String,
}

impl PullJson {
    pub fn new(pulled: &super::Pulled, window: &PullWindow, out: &std::path::Path) -> PullJson {
        let ing = &pulled.ingested;
        PullJson {
            schema_version: PULL_SCHEMA_VERSION,
            window: (!window.is_everything()).then(|| WindowJson {
                start: window.start.to_rfc3339(),
                end: window.end.to_rfc3339(),
            }),
            events: ing.events.height(),
            outside_window: ing.outside_window,
            sources: pulled.sources.iter().map(SourceJson::from).collect(),
            quarantine: ing.quarantine.counts.clone(),
            out: out.display().to_string(),
        }
    }
}
