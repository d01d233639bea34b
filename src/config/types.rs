//! The shape of `baton.toml`. Unknown keys are errors (`deny_unknown_fields`), so a typo is
//! reported instead of silently ignored.

use super::typed::{self, CronExpr};
use super::SourceConfig;
use crate::domain::{Cause, Dimension, ReportKind};
use chrono_tz::Tz;
use lettre::message::Mailbox;
use lettre::Address;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub report: ReportConfig,
    #[serde(default)]
    pub handoffs: HandoffConfig,
    #[serde(default)]
    pub teams: BTreeMap<String, TeamConfig>,
    #[serde(default)]
    pub causes: CausesConfig,
    #[serde(default, deserialize_with = "tree")]
    pub tree: BTreeMap<Cause, BranchConfig>,
    #[serde(default)]
    pub ai: AiConfig,
    #[serde(default)]
    pub explain: ExplainConfig,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub schedules: Vec<ScheduleConfig>,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(skip)]
    pub(super) origin: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// IANA zone: periods and schedules are cut in it.
    #[serde(deserialize_with = "typed::tz")]
    pub time_zone: Tz,
    pub trend_weeks: usize,
    pub dimensions: Vec<Dimension>,
    /// Fraction of malformed rows past which a run fails and sends nothing.
    pub quarantine_threshold: f64,
    /// Rows shown inline per table before the rest goes to the CSV attachment.
    pub max_rows_inline: usize,
    /// A link to one conversation in the helpdesk, `{id}` standing for its id
    /// (`https://acme.zendesk.com/agent/tickets/{id}`): example conversations become links.
    pub conversation_url: Option<String>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            time_zone: Tz::UTC,
            trend_weeks: 8,
            dimensions: Dimension::ALL.to_vec(),
            quarantine_threshold: 0.05,
            max_rows_inline: 10,
            conversation_url: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandoffConfig {
    /// Queues that are not owners: reaching the first real owner from them is not a handoff.
    pub intake_teams: Vec<String>,
    /// Whether owner changes made by automation count as handoffs.
    pub count_automation: bool,
    pub avoidable: Vec<Cause>,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        HandoffConfig {
            intake_teams: vec![],
            count_automation: true,
            avoidable: vec![Cause::Routing, Cause::Skill],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    #[serde(default = "one")]
    pub tier: u32,
    #[serde(default, deserialize_with = "typed::address")]
    pub lead: Option<Address>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CausesConfig {
    /// Export reason / tag -> cause; the first cause rule (METRICS.md section 4).
    #[serde(default)]
    pub reasons: BTreeMap<String, Cause>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchConfig {
    pub owner: PersonConfig,
    #[serde(default)]
    pub levers: Vec<String>,
    #[serde(default = "default_alert_pp")]
    pub alert_threshold_pp: f64,
}

/// `[tree.*]` as a table with one field per branch, so a bad value deep inside is reported
/// at `tree.routing.owner.email` (serde_path_to_error cannot name an enum map key) and an
/// unknown branch is an error naming it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeTable {
    routing: Option<BranchConfig>,
    skill: Option<BranchConfig>,
    escalation: Option<BranchConfig>,
    channel: Option<BranchConfig>,
}

fn tree<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<Cause, BranchConfig>, D::Error> {
    let t = TreeTable::deserialize(d)?;
    Ok([
        (Cause::Routing, t.routing),
        (Cause::Skill, t.skill),
        (Cause::Escalation, t.escalation),
        (Cause::Channel, t.channel),
    ]
    .into_iter()
    .filter_map(|(c, b)| Some((c, b?)))
    .collect())
}

fn default_alert_pp() -> f64 {
    2.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "typed::address")]
    pub email: Option<Address>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AiConfig {
    pub must_escalate: Vec<String>,
    pub must_not_escalate: Vec<String>,
    pub unsafe_escalation_below: f64,
    pub unsafe_sentiment_below: f64,
    /// Who receives the AI handover section (`owner = { name, email }`).
    pub owner: Option<PersonConfig>,
}

impl Default for AiConfig {
    fn default() -> Self {
        AiConfig {
            must_escalate: vec![],
            must_not_escalate: vec![],
            unsafe_escalation_below: 0.10,
            unsafe_sentiment_below: -0.2,
            owner: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExplainConfig {
    /// Minimum conversations in each period for a segment to be called significant.
    pub min_segment_size: u64,
    /// False-discovery rate for Benjamini-Hochberg.
    pub fdr: f64,
    /// Drivers shown per branch before the "everything else" row.
    pub max_drivers: usize,
    /// Branch whose owner receives mix (volume) effects.
    pub mix_owner: Cause,
}

impl Default for ExplainConfig {
    fn default() -> Self {
        ExplainConfig {
            min_segment_size: 30,
            fdr: 0.05,
            max_drivers: 5,
            mix_owner: Cause::Routing,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    #[default]
    Outbox,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    pub mode: DeliveryMode,
    pub outbox_dir: PathBuf,
    /// Sends per minute at most (Office 365 allows about 30 per mailbox).
    pub max_per_minute: u32,
    /// Attempts per message within one run before it is left for the next run.
    pub max_attempts: u32,
    /// How long a run's claim on a message holds (it must cover one whole send, including
    /// `smtp.data_timeout_secs`); another run takes it over only after that, or once the
    /// holder is found abandoned.
    pub lease_secs: u64,
    /// A message whose data went out without an answer (in doubt) is retried once, by a run
    /// at least this long after, with the same Message-ID.
    pub in_doubt_retry_after_secs: u64,
    /// A run still `running` with no heartbeat for this long is marked `abandoned` (its
    /// process died) and its claims are released.
    pub abandoned_after_secs: u64,
    /// The Reply-To of every report: a person who can answer, not the sending mailbox.
    #[serde(deserialize_with = "optional_mailbox")]
    pub reply_to: Option<Mailbox>,
}

fn optional_mailbox<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Mailbox>, D::Error> {
    typed::mailbox(d).map(Some)
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            mode: DeliveryMode::Outbox,
            outbox_dir: PathBuf::from("outbox"),
            max_per_minute: 30,
            max_attempts: 3,
            lease_secs: 900,
            in_doubt_retry_after_secs: 3600,
            abandoned_after_secs: 120,
            reply_to: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Implicit TLS, normally port 465.
    Implicit,
    /// STARTTLS required (never silently downgraded), normally port 587.
    Starttls,
    /// Plain text: refused unless the host is loopback.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    #[serde(default)]
    pub user: Option<String>,
    /// Environment variable holding the password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(deserialize_with = "typed::mailbox")]
    pub from: Mailbox,
    /// Wait for each command's reply.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Wait for the reply to the end of the message data: RFC 5321 gives the server 10
    /// minutes, and giving up sooner leaves a message the server may keep in doubt.
    #[serde(default = "default_data_timeout")]
    pub data_timeout_secs: u64,
}

fn default_timeout() -> u64 {
    30
}

fn default_data_timeout() -> u64 {
    600
}

impl SmtpConfig {
    pub(super) fn validate(&self, file: &str) -> Result<(), super::ConfigError> {
        let err = |k: &str, m: String| {
            Err(super::ConfigError::Invalid {
                file: file.into(),
                key: format!("smtp.{k}"),
                message: m,
            })
        };
        if self.host.trim().is_empty() {
            return err("host", "missing".into());
        }
        if self.tls == SmtpTls::None && !is_loopback(&self.host) {
            return err("tls", format!("\"none\" (plain text) is only allowed to a loopback host, not `{}`; use \"starttls\" (587) or \"implicit\" (465)", self.host));
        }
        if self.tls == SmtpTls::Implicit && self.port == 587 {
            return err("port", "587 is the STARTTLS port but tls = \"implicit\"; use tls = \"starttls\" or port 465".into());
        }
        if self.tls == SmtpTls::Starttls && self.port == 465 {
            return err("port", "465 is the implicit-TLS port but tls = \"starttls\"; use tls = \"implicit\" or port 587".into());
        }
        if self.user.is_some() && self.password_env.is_none() && self.password_file.is_none() {
            return err(
                "password_env",
                "a user is set but no password_env or password_file names where the password is"
                    .into(),
            );
        }
        Ok(())
    }
}

pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub name: String,
    /// Five-field cron (minute hour day-of-month month day-of-week), in `time_zone`.
    pub cron: CronExpr,
    #[serde(default = "utc", deserialize_with = "typed::tz")]
    pub time_zone: Tz,
    #[serde(default = "owners_report")]
    pub report: ReportKind,
    /// A missed fire within this many hours is run once after downtime.
    #[serde(default = "grace")]
    pub grace_hours: u32,
}

fn utc() -> Tz {
    Tz::UTC
}
fn owners_report() -> ReportKind {
    ReportKind::Owners
}
fn grace() -> u32 {
    6
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("baton.db"),
        }
    }
}
