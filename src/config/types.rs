//! The shape of `baton.toml`. Unknown keys are errors (`deny_unknown_fields`), so a typo is
//! reported instead of silently ignored.

use super::typed::{self, CronExpr};
use super::SourceConfig;
use crate::domain::{Cause, Dimension, ReportKind};
use chrono::NaiveDate;
use chrono_tz::Tz;
use lettre::message::Mailbox;
use lettre::Address;
use serde::{Deserialize, Deserializer, Serialize};
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
    /// `[[fixes]]`: fixes declared in the file (they win over `baton fix add` on the same id).
    #[serde(default)]
    pub fixes: Vec<Fix>,
    #[serde(default)]
    pub serve: ServeConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
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
    /// Days of events read before the first trend week, so conversations that started before
    /// it keep their history (owners, `created`). Every source reads the same window.
    pub history_days: u32,
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
            history_days: 28,
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
    /// Cron in `time_zone`: five fields (minute hour day-of-month month day-of-week) or six
    /// (a seconds field first). Day-of-month and day-of-week combine as in standard cron: when
    /// both are restricted, a day matching either fires.
    pub cron: CronExpr,
    #[serde(default = "utc", deserialize_with = "typed::tz")]
    pub time_zone: Tz,
    #[serde(default = "owners_report")]
    pub report: ReportKind,
    /// Who gets the report: `"all"` (default) or a list of owner addresses.
    #[serde(default)]
    pub owners: OwnerSelection,
    /// A paused schedule is listed but never fires (nor catches up).
    #[serde(default)]
    pub paused: bool,
    /// A missed fire within this many hours is run once after downtime.
    #[serde(default = "grace")]
    pub grace_hours: u32,
    /// A run of this schedule still working after this many seconds is stopped and marked
    /// failed.
    #[serde(default = "working_timeout")]
    pub working_timeout_secs: u64,
}

/// `owners = "all"` or `owners = ["support-ops@example.com", ...]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OwnerSelection {
    #[default]
    All,
    Only(Vec<Address>),
}

impl OwnerSelection {
    /// The addresses to restrict a run to (empty: every owner).
    pub fn addresses(&self) -> Vec<String> {
        match self {
            OwnerSelection::All => vec![],
            OwnerSelection::Only(list) => list.iter().map(|a| a.to_string()).collect(),
        }
    }
}

impl<'de> Deserialize<'de> for OwnerSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OwnerSelection, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(OwnerSelection::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "`{w}`: expected \"all\" or a list of owner addresses"
            ))),
            Raw::List(list) if list.is_empty() => Err(serde::de::Error::custom(
                "an empty list sends to nobody: use \"all\" or name owners",
            )),
            Raw::List(list) => list
                .iter()
                .map(|s| {
                    s.trim().parse::<Address>().map_err(|_| {
                        serde::de::Error::custom(format!("`{s}` is not an email address"))
                    })
                })
                .collect::<Result<_, _>>()
                .map(OwnerSelection::Only),
        }
    }
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
fn working_timeout() -> u64 {
    3600
}

/// `[serve]`: the daemon's HTTP endpoint and its run leases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address of the trigger / health / metrics endpoint (loopback unless you mean it).
    pub listen: String,
    /// Environment variable holding the bearer token of `POST /runs` (never the token itself).
    pub token_env: Option<String>,
    /// File holding the bearer token (read at start).
    pub token_file: Option<PathBuf>,
    /// How long a report's run lease holds without being renewed: a `serve` that dies frees
    /// the report after this long. At least `delivery.abandoned_after_secs` is wise, so the
    /// dead run is found abandoned by then.
    pub lease_secs: u64,
    /// Working timeout of runs started over HTTP.
    pub working_timeout_secs: u64,
    /// On SIGTERM / SIGINT, how long a run in progress may finish before it is abandoned (the
    /// ledger keeps its sends safe).
    pub shutdown_grace_secs: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8787".into(),
            token_env: Some("BATON_TOKEN".into()),
            token_file: None,
            lease_secs: 150,
            working_timeout_secs: 3600,
            shutdown_grace_secs: 30,
        }
    }
}

/// `[alerts]`: who hears about a failed scheduled run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Gets a short notice, once, for every failed run of `baton serve`.
    #[serde(deserialize_with = "typed::address")]
    pub operator: Option<Address>,
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

/// A fix whose effect baton verifies (METHODS.md part B): a `[[fixes]]` entry, or a fix
/// registered with `baton fix add` (the store keeps who added it and when).
///
/// ```toml
/// [[fixes]]
/// id = "billing-keywords"
/// title = "Billing keywords route to Billing"
/// branch = "routing"
/// scope = "topic=billing"            # or "team=Billing & channel=chat", or "all"
/// live = 2026-11-09                  # the local date it went live
/// owner = "support-ops@example.com"
/// expect = "down"                    # default; "up" for a fix meant to raise the rate
/// review_by = 2026-12-07             # optional
/// state = "open"                     # default; "closed" stops verifying it
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// Letters, digits, `-`, `_` and `.`; unique.
    pub id: String,
    pub title: String,
    /// The branch of the metric tree the fix acts on: its rate (conversations whose first
    /// handoff has this cause / conversations) is what is verified.
    pub branch: Cause,
    /// The conversations the fix is meant to change.
    pub scope: FixScope,
    /// Local date (report time zone) from which the fix was live.
    #[serde(deserialize_with = "date", serialize_with = "date_text")]
    pub live: NaiveDate,
    #[serde(default)]
    pub expect: Expect,
    /// The fix owner's email address.
    pub owner: String,
    #[serde(
        default,
        deserialize_with = "optional_date",
        serialize_with = "optional_date_text"
    )]
    pub review_by: Option<NaiveDate>,
    #[serde(default)]
    pub state: FixState,
}

/// A date as TOML writes one (`live = 2026-11-09`) or as text (`"2026-11-09"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

fn date_value(v: DateValue) -> Result<chrono::NaiveDate, String> {
    let text = match v {
        DateValue::Toml(d) => match (d.date, d.time) {
            (Some(date), None) => date.to_string(),
            _ => {
                return Err(format!(
                    "`{d}` is not a date; write a plain date, e.g. 2026-11-09"
                ))
            }
        },
        DateValue::Text(s) => s,
    };
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD, e.g. 2026-11-09)"))
}

/// `live = 2026-11-09` (or `"2026-11-09"`).
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<chrono::NaiveDate, D::Error> {
    date_value(DateValue::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// An optional [`date`].
fn optional_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<chrono::NaiveDate>, D::Error> {
    date_value(DateValue::deserialize(d)?)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn date_text<S: serde::Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.format("%Y-%m-%d").to_string())
}

fn optional_date_text<S: serde::Serializer>(
    d: &Option<NaiveDate>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => date_text(d, s),
        None => s.serialize_none(),
    }
}

/// Which way a fix is meant to move its branch rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Fewer handoffs of the branch (the usual aim).
    #[default]
    Down,
    Up,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Down => "down",
            Expect::Up => "up",
        }
    }
    /// -1 for down, +1 for up: the sign of an effect on the expected side.
    pub fn sign(self) -> f64 {
        match self {
            Expect::Down => -1.0,
            Expect::Up => 1.0,
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Expect {
    type Err = String;
    fn from_str(s: &str) -> Result<Expect, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "down" => Ok(Expect::Down),
            "up" => Ok(Expect::Up),
            _ => Err(format!("unknown direction `{s}` (expected down or up)")),
        }
    }
}

/// Whether a fix is still verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FixState {
    #[default]
    Open,
    Closed,
}

impl FixState {
    pub fn as_str(self) -> &'static str {
        match self {
            FixState::Open => "open",
            FixState::Closed => "closed",
        }
    }
}

impl std::fmt::Display for FixState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FixState {
    type Err = String;
    fn from_str(s: &str) -> Result<FixState, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(FixState::Open),
            "closed" => Ok(FixState::Closed),
            _ => Err(format!("unknown fix state `{s}` (expected open or closed)")),
        }
    }
}

/// The conversations a fix is about: (dimension, value) pairs that must all hold, at most one
/// per dimension, kept in dimension order (team, channel, topic, agent) like explain's segment
/// keys; no pairs = every conversation (`all`). Values match the facts case-insensitively.
///
/// Text form: `topic=billing`, `team=Billing & channel=chat` (`,` also separates), `all`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FixScope(Vec<(Dimension, String)>);

impl FixScope {
    pub fn all() -> FixScope {
        FixScope(Vec::new())
    }

    /// A scope from pairs; an error names a dimension given twice or an empty value.
    pub fn new(mut pairs: Vec<(Dimension, String)>) -> Result<FixScope, String> {
        pairs.sort_by_key(|(d, _)| *d);
        for w in pairs.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(format!(
                    "dimension `{}` is given twice (`{}` and `{}`); a scope has one value per dimension",
                    w[0].0, w[0].1, w[1].1
                ));
            }
        }
        for (d, v) in &pairs {
            if v.trim().is_empty() {
                return Err(format!("dimension `{d}` has an empty value"));
            }
        }
        Ok(FixScope(
            pairs
                .into_iter()
                .map(|(d, v)| (d, v.trim().to_string()))
                .collect(),
        ))
    }

    /// The pairs, in dimension order; empty for `all`.
    pub fn pairs(&self) -> &[(Dimension, String)] {
        &self.0
    }

    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// The value required of `d`, if any.
    pub fn value_of(&self, d: Dimension) -> Option<&str> {
        self.0
            .iter()
            .find(|(x, _)| *x == d)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Display for FixScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("all");
        }
        for (i, (d, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" & ")?;
            }
            write!(f, "{d}={v}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FixScope {
    type Err = String;
    fn from_str(s: &str) -> Result<FixScope, String> {
        let t = s.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("all") {
            return Ok(FixScope::all());
        }
        let mut pairs = Vec::new();
        for part in t.split(['&', ',']) {
            let part = part.trim();
            let Some((d, v)) = part.split_once('=') else {
                return Err(format!(
                    "scope `{s}`: `{part}` is not DIMENSION=VALUE (e.g. topic=billing, or team=Billing & channel=chat)"
                ));
            };
            let d: Dimension = d
                .trim()
                .to_ascii_lowercase()
                .parse()
                .map_err(|e: crate::domain::UnknownDimension| format!("scope `{s}`: {e}"))?;
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            pairs.push((d, v.to_string()));
        }
        FixScope::new(pairs).map_err(|e| format!("scope `{s}`: {e}"))
    }
}

impl Serialize for FixScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for FixScope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FixScope, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Fix {
    /// The checks every fix passes, wherever it was declared: an id, a one-line title, an
    /// owner address, a live date not after `today` and a review date not before it. The
    /// error is the field and the message.
    pub fn check(&self, today: NaiveDate) -> Result<(), (&'static str, String)> {
        if !valid_fix_id(&self.id) {
            return Err((
                "id",
                format!(
                    "`{}` is not a fix id: use 1 to 64 letters, digits, `-`, `_` or `.` (e.g. billing-keywords)",
                    self.id
                ),
            ));
        }
        if self.title.trim().is_empty() {
            return Err(("title", format!("fix `{}` needs a title", self.id)));
        }
        if let Some(c) = crate::text::control_char(&self.title) {
            return Err((
                "title",
                format!(
                    "fix `{}`: the title contains the control character U+{:04X}; it must be one line of text",
                    self.id, c as u32
                ),
            ));
        }
        if self.owner.trim().parse::<Address>().is_err() {
            return Err((
                "owner",
                format!(
                    "fix `{}`: `{}` is not an email address (the fix owner receives its verdicts)",
                    self.id, self.owner
                ),
            ));
        }
        if self.live > today {
            return Err((
                "live",
                format!(
                    "fix `{}` goes live on {}, which is in the future (today is {today}); declare a fix once it is live",
                    self.id, self.live
                ),
            ));
        }
        if let Some(r) = self.review_by {
            if r < self.live {
                return Err((
                    "review_by",
                    format!(
                        "fix `{}`: review date {r} is before its live date {}",
                        self.id, self.live
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `id` can name a fix: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn valid_fix_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
