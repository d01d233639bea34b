//! The view model of one owner's report: everything the templates show, already chosen and
//! ordered (their branches first), with raw numbers for machines and display text for people.

use super::format::{self, change_pp, Tone};
use crate::config::Config;
use crate::domain::{Cause, Owner, PeriodJson};
use crate::metrics::{Measures, MetricsReport};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One owner's report.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerView {
    /// Report name (`owners`).
    pub report: crate::domain::ReportKind,
    pub owner: Owner,
    /// The branches this owner is responsible for, in tree order.
    pub causes: Vec<Cause>,
    pub period: PeriodJson,
    pub previous_period: PeriodJson,
    /// `9 Nov 2026 – 15 Nov 2026 (Europe/London)`.
    pub period_text: String,
    pub subject: String,
    /// The owner's branches: rate now and before, change, handoffs.
    pub branches: Vec<BranchLine>,
    /// The headline measures of METRICS.md sections 3 and 5, overall.
    pub headline: Vec<MeasureLine>,
    /// Raw movements of the owner's branch rates per segment, largest first. Not tested for
    /// significance: that is what `drivers` are for.
    pub movements: Vec<SegmentMove>,
    /// Significant drivers of the change, filled by the explain stage when it has run.
    pub drivers: Vec<DriverLine>,
    /// One-paragraph explanation of the change, filled by the explain stage.
    pub summary: Option<String>,
    /// The owner's fixes and their verdicts ("Your fixes"), filled by the verify stage.
    pub fixes: Vec<FixLine>,
    /// The first line of the report: the subject without `Handoffs <period>: `.
    pub headline_text: String,
    /// Per branch of the owner: the change split by the dimension that explains it best, the
    /// rows shown plus "everything else" adding up to the change (filled by the explain stage).
    pub breakdowns: Vec<Breakdown>,
    /// Statistical details (intervals, q-values) kept out of the body: `[1] ...`.
    pub footnotes: Vec<String>,
    /// The AI handover section, for the AI owner (`[ai] owner`).
    pub ai: Option<AiSection>,
    /// The team of a team lead's report (`[teams].X.lead`): its branches are the team's cells.
    pub team: Option<String>,
    /// Segments smaller than this (in either period) are marked small.
    pub min_segment_size: i64,
    /// The trailing weeks, oldest first.
    pub trend: Vec<TrendRow>,
    /// Every branch of the tree, whoever owns it, for context below the owner's own.
    pub tree: Vec<TreeLine>,
    /// A team lead's agents this period, ranked on shrunk handoff rates (filled by the run).
    pub team_agents: Vec<AgentLine>,
    pub footer: Footer,
}

/// One agent of a team lead's team: conversations resolved this period and the handoff rate,
/// raw and shrunk toward the team's (empirical Bayes: an agent with few conversations moves
/// little), which is what the list is ranked on.
#[derive(Debug, Clone, Serialize)]
pub struct AgentLine {
    pub agent: String,
    pub conversations: i64,
    pub rate_text: String,
    pub shrunk: f64,
    pub shrunk_text: String,
}

impl AgentLine {
    /// The team's agents from `(agent, conversations, handed off)`, ranked on shrunk rates,
    /// at most `max`.
    pub fn ranked(counts: &[(String, u64, u64)], max: usize) -> Vec<AgentLine> {
        let cells: Vec<(f64, f64)> = counts.iter().map(|c| (c.2 as f64, c.1 as f64)).collect();
        let prior = crate::explain::BetaPrior::fit(&cells);
        let mut out: Vec<AgentLine> = counts
            .iter()
            .filter(|c| c.1 > 0)
            .map(|(agent, n, x)| {
                let (n, x) = (*n as f64, *x as f64);
                let shrunk = prior.map_or(x / n, |p| p.shrink(x, n));
                AgentLine {
                    agent: crate::text::cut(agent, MAX_NAME_CHARS).into_owned(),
                    conversations: n as i64,
                    rate_text: format::pct(Some(x / n)),
                    shrunk,
                    shrunk_text: format::pct(Some(shrunk)),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.shrunk
                .total_cmp(&a.shrunk)
                .then(b.conversations.cmp(&a.conversations))
        });
        out.truncate(max);
        out
    }
}

/// One branch of the whole tree: its owner and its line, `yours` for the reader's own.
#[derive(Debug, Clone, Serialize)]
pub struct TreeLine {
    pub owner: String,
    pub yours: bool,
    pub line: BranchLine,
}

/// One branch of the metric tree, for its owner.
#[derive(Debug, Clone, Serialize)]
pub struct BranchLine {
    pub cause: Cause,
    pub label: String,
    /// Conversations whose first handoff has this cause / conversations (fraction).
    pub rate: Option<f64>,
    pub rate_before: Option<f64>,
    /// `rate - rate_before` in percentage points.
    pub change_pp: Option<f64>,
    pub handoffs: i64,
    pub handoffs_before: i64,
    /// Handoffs of this cause per resolved conversation.
    pub per_conversation: Option<f64>,
    pub per_conversation_before: Option<f64>,
    pub levers: Vec<String>,
    pub alert_threshold_pp: f64,
    /// The change reaches the branch's alert threshold (in either direction).
    pub alert: bool,
    pub rate_text: String,
    pub before_text: String,
    pub change_text: String,
    pub arrow: String,
    pub tone: Tone,
    pub per_conversation_text: String,
    pub per_conversation_before_text: String,
    /// 95 % interval of the change in points (Newcombe from the counts, or the explain
    /// stage's when it ran).
    pub ci_pp: Option<[f64; 2]>,
    /// The interval leaves out zero: the change is beyond week-to-week noise.
    pub significant: Option<bool>,
    /// The interval in words: `within normal week-to-week variation: anything from -0.7 to
    /// +3.3 pp is plausible, no change included`.
    pub verdict: String,
    /// The segment that drove the change, in words (`topic billing`), when one did.
    pub driver: Option<String>,
    /// The levers as things to do: `Review routing rules for topic billing`.
    pub actions: Vec<String>,
}

/// How the AI agent handed conversations to people (METRICS.md, AI agent), for its owner.
#[derive(Debug, Clone, Serialize)]
pub struct AiSection {
    /// Conversations resolved in the period that had an AI owner.
    pub conversations: i64,
    pub conversations_text: String,
    pub rows: Vec<MeasureLine>,
    /// Policy breaches: AI-resolved `must_escalate` topics plus handed-over
    /// `must_not_escalate` ones.
    pub breaches: i64,
    pub must_escalate_resolved: i64,
    pub must_not_escalate_handed_over: i64,
    /// Example conversations of the breaches, linked when `[report] conversation_url` is set.
    pub examples: Vec<Example>,
    /// Few escalations while AI-resolved customers end unhappy.
    pub unsafe_deflection: bool,
}

/// One example conversation: its id, and a link into the helpdesk when there is a pattern.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Example {
    pub id: String,
    pub url: Option<String>,
}

/// `pattern` with `{id}` replaced by `id`, percent-encoded (ids come from the helpdesk).
pub fn conversation_link(pattern: Option<&str>, id: &str) -> Option<String> {
    let p = pattern?;
    let enc: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Some(p.replace("{id}", &enc))
}

/// Examples shown per list.
const EXAMPLES: usize = 5;

fn ai_section(cfg: &Config, m: &MetricsReport) -> AiSection {
    let (n, b) = (&m.overall.measures.ai, &m.previous.ai);
    let minutes = |x: Option<f64>| match x {
        Some(_) => format!("{} min", format::num(x, 1)),
        None => format::MISSING.into(),
    };
    let mut rows = vec![
        rate_line(
            "ai_escalation_rate",
            "Handed over to a person",
            n.ai_escalation_rate,
            b.ai_escalation_rate,
            true,
        ),
        rate_line(
            "ai_resolution_rate",
            "Resolved by the AI alone",
            n.ai_resolution_rate,
            b.ai_resolution_rate,
            false,
        ),
        line(
            "ai_time_to_handover_minutes",
            "Time to handover (median)",
            (
                minutes(n.ai_time_to_handover_minutes),
                minutes(b.ai_time_to_handover_minutes),
            ),
            Delta {
                change: diff(n.ai_time_to_handover_minutes, b.ai_time_to_handover_minutes),
                digits: 1,
                unit: " min",
            },
            None,
        ),
        line(
            "human_response_after_handover_minutes",
            "A person's first reply after the handover (median)",
            (
                minutes(n.human_response_after_handover_minutes),
                minutes(b.human_response_after_handover_minutes),
            ),
            Delta {
                change: diff(
                    n.human_response_after_handover_minutes,
                    b.human_response_after_handover_minutes,
                ),
                digits: 1,
                unit: " min",
            },
            // Longer is worse: the customer waits.
            Some(true),
        ),
        line(
            "sentiment_before_handover",
            "Customer sentiment before handover",
            (
                format::num(n.sentiment_before_handover, 2),
                format::num(b.sentiment_before_handover, 2),
            ),
            Delta {
                change: diff(n.sentiment_before_handover, b.sentiment_before_handover),
                digits: 2,
                unit: "",
            },
            Some(false),
        ),
        rate_line(
            "post_handover_resolution_rate",
            "Resolved after handover, no further handoff",
            n.post_handover_resolution_rate,
            b.post_handover_resolution_rate,
            false,
        ),
    ];
    for r in &mut rows {
        r.note = match r.key.as_str() {
            "ai_escalation_rate" => "Of the conversations the AI held.",
            "sentiment_before_handover" => "Mean over customer messages, -1 to +1.",
            _ => "",
        }
        .into();
    }
    let p = &n.ai_policy_breaches;
    AiSection {
        conversations: n.conversations,
        conversations_text: format::count(n.conversations),
        rows,
        breaches: p.count,
        must_escalate_resolved: p.must_escalate_resolved,
        must_not_escalate_handed_over: p.must_not_escalate_handed_over,
        examples: p
            .examples
            .iter()
            .take(EXAMPLES)
            .map(|id| Example {
                id: crate::text::cut(id, MAX_NAME_CHARS).into_owned(),
                url: conversation_link(cfg.report.conversation_url.as_deref(), id),
            })
            .collect(),
        unsafe_deflection: n.unsafe_deflection,
    }
}

/// The AI owner of the config, when there is one.
fn ai_owner(cfg: &Config) -> Option<Owner> {
    let o = cfg.ai.owner.as_ref()?;
    let email = o.email.as_ref()?.to_string();
    let name = if o.name.is_empty() {
        "AI owner".to_string()
    } else {
        o.name.clone()
    };
    Some(Owner {
        id: crate::domain::OwnerId::from_name(&name),
        name,
        email,
    })
}

/// A branch's change split across the segments of one dimension, reconciled: `rows` plus
/// `other_pp` add up to `change_pp`.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    pub cause: Cause,
    pub label: String,
    pub dimension: String,
    pub change_pp: f64,
    pub change_text: String,
    pub rows: Vec<BreakdownRow>,
    /// Everything not in `rows`.
    pub other_pp: f64,
    pub other_text: String,
    pub other_role: String,
}

/// One segment's share of a branch's change (mix and rate effects together).
#[derive(Debug, Clone, Serialize)]
pub struct BreakdownRow {
    pub segment: String,
    pub contribution_pp: f64,
    pub contribution_text: String,
    pub arrow: String,
    /// `drove it` (same sign as the change) or `offset it`.
    pub role: String,
    /// Survived the false-discovery-rate test.
    pub significant: bool,
    /// Number of the footnote with its interval and q-value.
    pub footnote: Option<usize>,
}

/// One headline measure, now and in the previous period.
#[derive(Debug, Clone, Serialize)]
pub struct MeasureLine {
    /// Field name of METRICS.md section 8 (`handoff_rate`).
    pub key: String,
    pub label: String,
    pub now_text: String,
    pub before_text: String,
    pub change_text: String,
    pub arrow: String,
    pub tone: Tone,
    /// What the measure is, when the label is not enough (`escalation_rate`, `band`).
    pub note: String,
}

/// How one segment's rate of one of the owner's branches moved.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentMove {
    pub dimension: String,
    /// The segment value as the helpdesk names it (may contain markup: templates escape it).
    pub value: String,
    pub cause: Cause,
    pub cause_label: String,
    pub rate: Option<f64>,
    pub rate_before: Option<f64>,
    pub change_pp: Option<f64>,
    /// Conversations resolved in the segment, now and before: small segments move a lot.
    pub conversations: i64,
    pub conversations_before: i64,
    /// Fewer conversations than `explain.min_segment_size` in either period.
    pub small: bool,
    /// Newcombe 95 % interval of the change in points, from the counts.
    pub ci_pp: Option<[f64; 2]>,
    /// The interval leaves out zero.
    pub significant: bool,
    /// Small or not significant: shown greyed, if at all.
    pub noisy: bool,
    pub rate_text: String,
    pub before_text: String,
    pub change_text: String,
    pub arrow: String,
    pub tone: Tone,
}

/// A driver of the change, as the explain stage attributes it (METHODS.md).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DriverLine {
    pub cause: Cause,
    pub dimension: String,
    pub segment: String,
    /// Share of the branch's change attributed to this segment, in percentage points.
    pub contribution_pp: f64,
    /// The segment's own rate change, in percentage points.
    pub change_pp: Option<f64>,
    pub conversations: i64,
    /// Survived the false-discovery-rate test.
    pub significant: bool,
    pub note: Option<String>,
    /// Number of the footnote with its interval and q-value.
    pub footnote: Option<usize>,
    /// The segment as (dimension, value) pairs, for finding its conversations.
    pub pairs: Vec<(String, String)>,
    /// A few of the segment's conversations with a handoff of this branch (filled by the run
    /// from the facts), linked when `[report] conversation_url` is set.
    pub examples: Vec<Example>,
}

/// One week of the trend.
#[derive(Debug, Clone, Serialize)]
pub struct TrendRow {
    pub period: String,
    pub conversations: i64,
    pub handoff_rate: Option<f64>,
    /// Sum of the owner's branch rates (the four rates add up to the handoff rate); for a team
    /// lead, the team's handoff rate ([`OwnerView::set_team_trend`]).
    pub branch_rate: Option<f64>,
    pub handoff_rate_text: String,
    pub branch_rate_text: String,
    /// A text bar from the lowest week of the series (1 block) to the highest (full width).
    pub bar: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuarantineLine {
    pub reason: String,
    pub rows: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Footer {
    pub quarantined_rows: usize,
    pub quarantine: Vec<QuarantineLine>,
    pub period_label: String,
    pub previous_label: String,
    pub time_zone: String,
    pub generated_at: String,
}

/// Helpdesk names (teams, agents, topics) longer than this are shortened in the report
/// (whole in the CSV attachment).
pub const MAX_NAME_CHARS: usize = 60;

/// Width of the trend bars, in characters (the highest week of the series).
const BAR_WIDTH: usize = 20;

/// Everyone who receives the owners' report: the distinct owners of the metric tree, with
/// their branches.
pub fn recipients(cfg: &Config) -> Vec<(Owner, Vec<Cause>)> {
    let mut out = cfg.owners();
    if let Some(ai) = ai_owner(cfg) {
        if !out
            .iter()
            .any(|(o, _)| o.email.eq_ignore_ascii_case(&ai.email))
        {
            out.push((ai, vec![]));
        }
    }
    out
}

/// The team leads who receive their team's report (`[teams].X.lead`), by team. A lead whose
/// address is already a branch owner's (or an earlier lead's) is left out: one person, one
/// report per period, and the delivery ledger keys a report by address.
pub fn team_leads(cfg: &Config) -> Vec<(String, Owner)> {
    let mut taken: Vec<String> = recipients(cfg)
        .into_iter()
        .map(|(o, _)| o.email.to_ascii_lowercase())
        .collect();
    let mut out = Vec::new();
    for (team, t) in &cfg.teams {
        let Some(email) = t.lead.as_ref().map(|l| l.to_string()) else {
            continue;
        };
        if taken.contains(&email.to_ascii_lowercase()) {
            continue;
        }
        taken.push(email.to_ascii_lowercase());
        let name = format!("{team} lead");
        let owner = Owner {
            id: crate::domain::OwnerId::from_name(&name),
            name,
            email,
        };
        out.push((team.clone(), owner));
    }
    out
}

/// The subject of a team lead's report: the owners' subject with the team after the period.
fn team_subject(period: &str, team: &str, branches: &[BranchLine]) -> String {
    subject(period, branches)
        .replacen(
            &format!("Handoffs {period}"),
            &format!("Handoffs {period}, team {}", crate::text::one_line(team)),
            1,
        )
        .replace("(your branches)", "(your team)")
}

/// One view per distinct owner of the metric tree, generated now.
pub fn owner_views(cfg: &Config, metrics: &MetricsReport) -> Vec<OwnerView> {
    owner_views_at(cfg, metrics, Utc::now())
}

/// [`owner_views`] with a fixed generation time (tests, reproducible previews).
pub fn owner_views_at(
    cfg: &Config,
    metrics: &MetricsReport,
    generated_at: DateTime<Utc>,
) -> Vec<OwnerView> {
    let ai = ai_owner(cfg);
    recipients(cfg)
        .into_iter()
        .map(|(owner, causes)| {
            let mut v = owner_view(cfg, metrics, owner, causes, generated_at);
            if ai
                .as_ref()
                .is_some_and(|a| a.email.eq_ignore_ascii_case(&v.owner.email))
            {
                v.ai = Some(ai_section(cfg, metrics));
                if v.branches.is_empty() {
                    v.subject = ai_subject(&metrics.period.label, v.ai.as_ref().unwrap());
                    v.headline_text = headline_of(&v.subject, &metrics.period.label);
                }
            }
            v
        })
        .collect()
}

/// One view per team lead (`[teams].X.lead`) whose team has a segment: the team's rate in
/// every branch, now and before, with intervals from the team's counts; the drivers routed to
/// the lead come with the explanation ([`OwnerView::attach_explanation`]). The levers stay
/// with the branch owners.
pub fn team_views_at(
    cfg: &Config,
    metrics: &MetricsReport,
    generated_at: DateTime<Utc>,
) -> Vec<OwnerView> {
    let Some(teams) = metrics.segments.get("team") else {
        return vec![];
    };
    team_leads(cfg)
        .into_iter()
        .filter_map(|(team, owner)| {
            let seg = teams.iter().find(|s| s.value == team)?;
            let mut v = owner_view(cfg, metrics, owner, Cause::ALL.to_vec(), generated_at);
            v.branches = Cause::ALL
                .iter()
                .map(|&c| {
                    let mut b = branch_line(cfg, c, &seg.measures, &seg.previous);
                    b.levers.clear();
                    let ci = b.ci_pp;
                    b.set_interval(ci, None);
                    b
                })
                .collect();
            v.movements.clear();
            // The tree is the whole helpdesk's: none of it is the team's own line.
            for t in &mut v.tree {
                t.yours = false;
            }
            let period = &metrics.period.label;
            v.subject = team_subject(period, &team, &v.branches);
            v.headline_text = headline_of(&v.subject, period);
            v.team = Some(team.clone());
            Some(v)
        })
        .collect()
}

/// `Handoffs 2026-W46: AI handed over 23.0% (+1.2 pp)`.
fn ai_subject(period: &str, ai: &AiSection) -> String {
    match ai.rows.first() {
        Some(r) if ai.conversations > 0 => format!(
            "Handoffs {period}: AI handed over {} ({}){}",
            r.now_text,
            r.change_text,
            if ai.breaches > 0 {
                format!(", {} policy breaches", ai.breaches)
            } else {
                String::new()
            }
        ),
        _ => format!("Handoffs {period}: no AI conversations"),
    }
}

fn owner_view(
    cfg: &Config,
    m: &MetricsReport,
    owner: Owner,
    causes: Vec<Cause>,
    generated_at: DateTime<Utc>,
) -> OwnerView {
    let branches: Vec<BranchLine> = causes
        .iter()
        .map(|&c| branch_line(cfg, c, &m.overall.measures, &m.previous))
        .collect();
    let subject = subject(&m.period.label, &branches);
    let headline_text = headline_of(&subject, &m.period.label);
    let tz: chrono_tz::Tz = m.period.tz.parse().unwrap_or(chrono_tz::UTC);
    OwnerView {
        report: crate::domain::ReportKind::Owners,
        owner,
        period: m.period.clone(),
        previous_period: m.previous_period.clone(),
        period_text: period_text(&m.period),
        subject,
        headline: headline(m),
        movements: movements(m, &causes, cfg.explain.min_segment_size as i64),
        drivers: vec![],
        fixes: vec![],
        summary: None,
        headline_text,
        breakdowns: vec![],
        footnotes: vec![],
        ai: None,
        team: None,
        min_segment_size: cfg.explain.min_segment_size as i64,
        trend: trend(
            m,
            if causes.is_empty() {
                &Cause::ALL
            } else {
                &causes
            },
        ),
        team_agents: vec![],
        tree: Cause::ALL
            .iter()
            .map(|&c| TreeLine {
                owner: cfg
                    .tree
                    .get(&c)
                    .map(|b| b.owner.name.clone())
                    .unwrap_or_default(),
                yours: causes.contains(&c),
                line: branch_line(cfg, c, &m.overall.measures, &m.previous),
            })
            .collect(),
        footer: Footer {
            quarantined_rows: m.overall.quarantined_rows,
            quarantine: m
                .quarantine
                .iter()
                .map(|(reason, rows)| QuarantineLine {
                    reason: reason.clone(),
                    rows: *rows,
                })
                .collect(),
            period_label: m.period.label.clone(),
            previous_label: m.previous_period.label.clone(),
            time_zone: m.period.tz.clone(),
            generated_at: generated_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
        },
        branches,
        causes,
    }
}

fn branch_line(cfg: &Config, cause: Cause, now: &Measures, before: &Measures) -> BranchLine {
    let n = now.by_cause.get(&cause).copied().unwrap_or_default();
    let b = before.by_cause.get(&cause).copied().unwrap_or_default();
    let change = change_pp(n.rate, b.rate);
    let (levers, threshold) = cfg
        .tree
        .get(&cause)
        .map(|t| (t.levers.clone(), t.alert_threshold_pp))
        .unwrap_or_default();
    let ci = change.and_then(|_| {
        crate::explain::newcombe(
            n.conversations as f64,
            now.conversations as f64,
            b.conversations as f64,
            before.conversations as f64,
        )
    });
    let mut line = BranchLine {
        cause,
        label: cause.label().into(),
        rate: n.rate,
        rate_before: b.rate,
        change_pp: change,
        handoffs: n.handoffs,
        handoffs_before: b.handoffs,
        per_conversation: n.per_conversation,
        per_conversation_before: b.per_conversation,
        actions: vec![],
        levers,
        alert_threshold_pp: threshold,
        alert: false,
        rate_text: format::pct(n.rate),
        before_text: format::pct(b.rate),
        change_text: format::pp(change),
        arrow: format::arrow(change).into(),
        tone: Tone::Neutral,
        per_conversation_text: format::num(n.per_conversation, 2),
        per_conversation_before_text: format::num(b.per_conversation, 2),
        ci_pp: None,
        significant: None,
        verdict: String::new(),
        driver: None,
    };
    line.set_interval(ci.map(|(lo, hi)| [lo * 100.0, hi * 100.0]), None);
    line
}

impl BranchLine {
    /// Sets the interval of the change (points) and what follows from it: significance
    /// (`significant`, else whether the interval leaves out zero), the verdict in words, the
    /// tone (a change within noise is not coloured), the alert and the actions.
    fn set_interval(&mut self, ci: Option<[f64; 2]>, significant: Option<bool>) {
        self.ci_pp = ci;
        self.significant = significant.or(ci.map(|[lo, hi]| lo > 0.0 || hi < 0.0));
        self.verdict = verdict(self.change_pp, self.ci_pp, self.significant);
        self.tone = match self.significant {
            Some(false) => Tone::Neutral,
            _ => Tone::of(self.change_pp, 1, Some(true)),
        };
        self.alert = self.significant != Some(false)
            && self
                .change_pp
                .is_some_and(|c| c.abs() >= self.alert_threshold_pp);
        self.actions = actions(
            &self.levers,
            self.driver.as_deref(),
            self.significant,
            self.change_pp,
        );
    }
}

/// The interval of a change in words, for someone who does not read statistics.
fn verdict(change: Option<f64>, ci: Option<[f64; 2]>, significant: Option<bool>) -> String {
    let Some(c) = change else {
        return "no previous period to compare with".into();
    };
    let range =
        |[lo, hi]: [f64; 2]| format!("{} to {}", format::pp(Some(lo)), format::pp(Some(hi)));
    match (significant, ci) {
        (Some(true), Some(ci)) => format!(
            "a real {}: beyond normal week-to-week variation (95 % interval {})",
            if c > 0.0 { "rise" } else { "fall" },
            range(ci)
        ),
        (Some(true), None) => "beyond normal week-to-week variation".into(),
        (_, Some(ci)) => format!(
            "within normal week-to-week variation: anything from {} is plausible, including no change at all",
            range(ci)
        ),
        _ => "not enough conversations to tell change from noise".into(),
    }
}

/// Levers as actions, aimed at the driver when there is one. A change within noise asks
/// for nothing but watching.
fn actions(
    levers: &[String],
    driver: Option<&str>,
    significant: Option<bool>,
    change: Option<f64>,
) -> Vec<String> {
    // A significant driver is something to act on even when the branch as a whole is within
    // noise (the rest of it moved the other way).
    if significant == Some(false) && driver.is_none() {
        return match levers.first() {
            Some(l) => vec![format!(
                "Nothing to act on this week; if it moves again, start with {l}"
            )],
            None => vec![],
        };
    }
    if (significant == Some(true) || driver.is_some())
        && change.is_some_and(|c| c < 0.0)
        && !levers.is_empty()
    {
        // Fewer handoffs is better: find what worked and keep it.
        return vec![format!(
            "Find what changed in {}{} and keep it",
            levers.join(", "),
            driver.map(|d| format!(" for {d}")).unwrap_or_default()
        )];
    }
    levers
        .iter()
        .map(|l| match driver {
            Some(d) => format!("Review {l} for {d}"),
            None => format!("Review {l}"),
        })
        .collect()
}

/// The subject without its `Handoffs <period>: ` prefix (the report's first line).
fn headline_of(subject: &str, period: &str) -> String {
    // `Handoffs P: ...` and a team's `Handoffs P, team X: ...`: the heading says both.
    let prefix = format!("Handoffs {period}");
    let rest = match subject.strip_prefix(&prefix) {
        Some(r) => r.split_once(": ").map_or(r, |(_, rest)| rest),
        None => subject,
    };
    let mut c = rest.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => rest.to_string(),
    }
}

/// The subject: the owner's branch that moved most, with its driver when the explain stage
/// found one (`Handoffs 2026-W48: routing +1.8 pp, driven by topic billing`), or an honest
/// `no significant change` when the move is within week-to-week noise.
pub fn subject(period: &str, branches: &[BranchLine]) -> String {
    let moved = branches
        .iter()
        .filter(|b| b.change_pp.is_some())
        .max_by(|a, b| {
            // A real move leads over a bigger noisy one.
            let key = |x: &BranchLine| (x.significant == Some(true), x.change_pp.unwrap().abs());
            let (x, y) = (key(a), key(b));
            x.0.cmp(&y.0).then(x.1.total_cmp(&y.1))
        });
    let whose = if branches.len() > 1 {
        "your branches"
    } else {
        "your branch"
    };
    match moved.or(branches.first()) {
        None => format!("Handoffs {period}"),
        Some(b) => {
            let name = b.cause.as_str();
            match b.change_pp {
                None => format!("Handoffs {period}: {name} {} ({whose})", b.rate_text),
                c if format::Direction::at(c, 1) == Some(format::Direction::Flat) => {
                    format!(
                        "Handoffs {period}: {name} steady at {} ({whose})",
                        b.rate_text
                    )
                }
                // A significant driver is news even when the branch as a whole is within
                // noise (the rest of it moved the other way).
                Some(_) if b.driver.is_some() => format!(
                    "Handoffs {period}: {name} {}, driven by {}",
                    b.change_text,
                    b.driver.as_deref().unwrap_or_default()
                ),
                Some(_) if b.significant == Some(false) => format!(
                    "Handoffs {period}: no significant change ({name} {}, {} within normal variation)",
                    b.rate_text, b.change_text
                ),
                Some(_) => format!("Handoffs {period}: {name} {} ({whose})", b.change_text),
            }
        }
    }
}

/// A change and how to print it: decimals and unit suffix.
struct Delta<'a> {
    change: Option<f64>,
    digits: usize,
    unit: &'a str,
}

fn line(
    key: &str,
    label: &str,
    (now, before): (String, String),
    Delta {
        change,
        digits,
        unit,
    }: Delta,
    higher_is_worse: Option<bool>,
) -> MeasureLine {
    MeasureLine {
        key: key.into(),
        label: label.into(),
        now_text: now,
        before_text: before,
        change_text: format::signed(change, digits, unit),
        arrow: format::arrow_at(change, digits).into(),
        tone: Tone::of(change, digits, higher_is_worse),
        note: String::new(),
    }
}

/// A rate measure: percentages, change in points.
fn rate_line(
    key: &str,
    label: &str,
    now: Option<f64>,
    before: Option<f64>,
    worse_up: bool,
) -> MeasureLine {
    line(
        key,
        label,
        (format::pct(now), format::pct(before)),
        Delta {
            change: change_pp(now, before),
            digits: 1,
            unit: " pp",
        },
        Some(worse_up),
    )
}

fn diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

/// A measure that has a previous value only when the previous period had conversations.
fn had(m: &Measures) -> bool {
    m.conversations > 0
}

fn headline(m: &MetricsReport) -> Vec<MeasureLine> {
    let mut lines = headline_lines(m);
    for l in &mut lines {
        l.note = measure_note(&l.key).into();
    }
    lines
}

/// What a headline measure is, where its label could mislead.
fn measure_note(key: &str) -> &'static str {
    match key {
        "handoff_rate" => "Conversations handed off at least once; the four branches add up to it.",
        "escalation_rate" => {
            "Conversations with an escalation at any point. The escalation branch counts only \
             those whose first handoff was an escalation, so it is lower."
        }
        "band" => {
            "Where the handoff rate sits: lean under 15 %, balanced under 30 %, \
             transfer-heavy up to 50 %, bouncing above."
        }
        "avoidable_share" => {
            "Handoffs whose cause is in handoffs.avoidable (routing and skill by default)."
        }
        "time_lost_hours" => "Customer wait after each handoff, summed.",
        "fcr_rate" => "Resolved with no handoff and never reopened.",
        _ => "",
    }
}

fn headline_lines(m: &MetricsReport) -> Vec<MeasureLine> {
    let (n, b) = (&m.overall.measures, &m.previous);
    let count = |x: i64| Some(x as f64);
    let hours = |m: &Measures| had(m).then_some(m.time_lost_hours);
    vec![
        line(
            "conversations",
            "Conversations resolved",
            (
                format::count(n.conversations),
                format::count(b.conversations),
            ),
            Delta {
                change: diff(count(n.conversations), count(b.conversations)),
                digits: 0,
                unit: "",
            },
            None,
        ),
        rate_line(
            "handoff_rate",
            "Handoff rate",
            n.handoff_rate,
            b.handoff_rate,
            true,
        ),
        line(
            "handoffs_per_conversation",
            "Handoffs per conversation",
            (
                format::num(n.handoffs_per_conversation, 2),
                format::num(b.handoffs_per_conversation, 2),
            ),
            Delta {
                change: diff(n.handoffs_per_conversation, b.handoffs_per_conversation),
                digits: 2,
                unit: "",
            },
            Some(true),
        ),
        rate_line(
            "fcr_rate",
            "First contact resolution",
            n.fcr_rate,
            b.fcr_rate,
            false,
        ),
        line(
            "time_lost_hours",
            "Time lost to handoffs",
            (
                format!("{} h", format::num(hours(n), 1)),
                format!("{} h", format::num(hours(b), 1)),
            ),
            Delta {
                change: diff(hours(n), hours(b)),
                digits: 1,
                unit: " h",
            },
            Some(true),
        ),
        rate_line(
            "avoidable_share",
            "Avoidable share of handoffs",
            n.avoidable_share,
            b.avoidable_share,
            true,
        ),
        rate_line(
            "escalation_rate",
            "Escalation rate",
            n.escalation_rate,
            b.escalation_rate,
            true,
        ),
        MeasureLine {
            key: "band".into(),
            label: "Benchmark band".into(),
            now_text: n.band.map(|x| x.label()).unwrap_or(format::MISSING).into(),
            before_text: b.band.map(|x| x.label()).unwrap_or(format::MISSING).into(),
            change_text: String::new(),
            arrow: String::new(),
            tone: Tone::Neutral,
            note: String::new(),
        },
        line(
            "ticket_volume",
            "Tickets created",
            (
                format::count(n.ticket_volume),
                format::count(b.ticket_volume),
            ),
            Delta {
                change: diff(count(n.ticket_volume), count(b.ticket_volume)),
                digits: 0,
                unit: "",
            },
            None,
        ),
        MeasureLine {
            // The previous period's backlog is not computed: show now only.
            key: "backlog".into(),
            label: "Open at period end (backlog)".into(),
            now_text: format::count(m.overall.backlog),
            before_text: format::MISSING.into(),
            change_text: String::new(),
            arrow: String::new(),
            tone: Tone::Neutral,
            note: String::new(),
        },
    ]
}

fn movements(m: &MetricsReport, causes: &[Cause], min_size: i64) -> Vec<SegmentMove> {
    let mut out = Vec::new();
    for (dimension, segments) in &m.segments {
        for s in segments {
            for &c in causes {
                let now = s.measures.by_cause.get(&c).copied().unwrap_or_default();
                let before = s.previous.by_cause.get(&c).copied().unwrap_or_default();
                if now.rate.is_none() && before.rate.is_none() {
                    continue;
                }
                let change = change_pp(now.rate, before.rate);
                let ci = change.and_then(|_| {
                    crate::explain::newcombe(
                        now.conversations as f64,
                        s.measures.conversations as f64,
                        before.conversations as f64,
                        s.previous.conversations as f64,
                    )
                });
                let significant = ci.is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0);
                let small =
                    s.measures.conversations < min_size || s.previous.conversations < min_size;
                out.push(SegmentMove {
                    ci_pp: ci.map(|(lo, hi)| [lo * 100.0, hi * 100.0]),
                    significant,
                    noisy: small || !significant,
                    dimension: dimension.clone(),
                    value: s.value.clone(),
                    cause: c,
                    cause_label: c.label().into(),
                    rate: now.rate,
                    rate_before: before.rate,
                    change_pp: change,
                    conversations: s.measures.conversations,
                    conversations_before: s.previous.conversations,
                    small,
                    rate_text: format::pct(now.rate),
                    before_text: format::pct(before.rate),
                    change_text: format::pp(change),
                    arrow: format::arrow(change).into(),
                    tone: if small || !significant {
                        Tone::Neutral
                    } else {
                        Tone::of(change, 1, Some(true))
                    },
                });
            }
        }
    }
    // Largest movement first; segments new or gone (no change to measure) last.
    out.sort_by(|a, b| {
        let key = |x: &SegmentMove| x.change_pp.map(f64::abs);
        match (key(a), key(b)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then(b.conversations.cmp(&a.conversations))
        .then(a.dimension.cmp(&b.dimension))
        .then(a.value.cmp(&b.value))
        .then(a.cause.cmp(&b.cause))
    });
    out
}

fn trend(m: &MetricsReport, causes: &[Cause]) -> Vec<TrendRow> {
    let branch = |p: &crate::metrics::TrendPoint| -> Option<f64> {
        causes
            .iter()
            .map(|c| p.by_cause.get(c).copied().flatten())
            .sum::<Option<f64>>()
    };
    let mut rows: Vec<TrendRow> = m
        .trend
        .iter()
        .map(|p| TrendRow {
            period: p.period.clone(),
            conversations: p.conversations,
            handoff_rate: p.handoff_rate,
            branch_rate: branch(p),
            handoff_rate_text: format::pct(p.handoff_rate),
            branch_rate_text: String::new(),
            bar: String::new(),
            current: p.period == m.period.label,
        })
        .collect();
    draw_bars(&mut rows);
    rows
}

/// The text and the text bar of each row's `branch_rate`, scaled over the series.
fn draw_bars(rows: &mut [TrendRow]) {
    let rates: Vec<f64> = rows.iter().filter_map(|t| t.branch_rate).collect();
    let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for t in rows {
        t.branch_rate_text = format::pct(t.branch_rate);
        t.bar = match t.branch_rate {
            Some(v) => "█".repeat(bar_len(v, lo, hi)),
            None => String::new(),
        };
    }
}

impl OwnerView {
    /// A team lead's trend: the team's own handoff rate in place of the branches', from
    /// (conversations, handed off) per trend period in the order of `trend`. Ignored when the
    /// lengths disagree.
    pub fn set_team_trend(&mut self, counts: &[(u64, u64)]) {
        if self.team.is_none() || counts.len() != self.trend.len() {
            return;
        }
        for (t, &(n, x)) in self.trend.iter_mut().zip(counts) {
            t.branch_rate = (n > 0).then(|| x as f64 / n as f64);
        }
        draw_bars(&mut self.trend);
    }
}

/// Blocks of a trend bar: the lowest week of the series gets 1, the highest the full width,
/// linearly between (a bar from zero would make 7.3 % -> 8.8 % look flat).
fn bar_len(v: f64, lo: f64, hi: f64) -> usize {
    if hi - lo <= f64::EPSILON {
        return BAR_WIDTH / 2;
    }
    1 + (((v - lo) / (hi - lo)) * (BAR_WIDTH - 1) as f64).round() as usize
}

/// How to read the trend bars: `Bars run from 5.0% (1 block) to 12.0% (20 blocks).`
pub fn trend_scale(trend: &[TrendRow]) -> String {
    let rates: Vec<f64> = trend.iter().filter_map(|t| t.branch_rate).collect();
    let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if rates.is_empty() {
        String::new()
    } else if hi - lo <= f64::EPSILON {
        format!("Every week at {}.", format::pct(Some(lo)))
    } else {
        format!(
            "Bars run from {} (1 block) to {} ({BAR_WIDTH} blocks): they show the shape, not zero.",
            format::pct(Some(lo)),
            format::pct(Some(hi))
        )
    }
}

/// `9 Nov 2026 – 15 Nov 2026 (Europe/London)`: the period's local days, end inclusive.
fn period_text(p: &PeriodJson) -> String {
    let day = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.date_naive());
    match (day(&p.start), day(&p.end)) {
        (Some(a), Some(b)) => {
            let last = b.pred_opt().unwrap_or(b);
            format!(
                "{} – {} ({})",
                a.format("%-d %b %Y"),
                last.format("%-d %b %Y"),
                p.tz
            )
        }
        _ => format!("{} ({})", p.label, p.tz),
    }
}

impl OwnerView {
    /// Fills `drivers` and `summary` from the explanation of the handoff rate: the significant
    /// cells routed to this owner (rate cells of their branches, mix cells when they own
    /// volume), with the interval and q-value in the note.
    pub fn attach_explanation(&mut self, e: &crate::explain::Explanation) {
        use crate::explain::{Effect, Role};
        // Helpdesk names are shortened here, before rendering, wherever they appear (driver
        // rows, notes, the summary sentence): one 20,000-character team name must not push
        // the HTML past the size limit.
        let long_names: Vec<String> = e
            .pushes()
            .iter()
            .flat_map(|p| p.key.pairs().iter().map(|(_, v)| v.clone()))
            .filter(|n| n.chars().count() > MAX_NAME_CHARS)
            .collect();
        let shorten_in = |text: &str| -> String {
            let mut t = text.to_string();
            for n in &long_names {
                if t.contains(n) {
                    t = t.replace(n, &crate::text::cut(n, MAX_NAME_CHARS));
                }
            }
            // A sentence is not a name: no bidi control may reorder the rest of it.
            t.chars()
                .filter(|c| !crate::text::is_bidi_control(*c))
                .collect()
        };
        self.summary = e
            .summary()
            .get(self.owner.id.as_str())
            .map(|s| shorten_in(s));
        let mut footnotes: Vec<String> = Vec::new();
        let mut drivers: Vec<DriverLine> = Vec::new();
        for p in e.pushes().iter().filter(|p| {
            p.owner.id == self.owner.id && (p.role == Role::TeamLead) == self.team.is_some()
        }) {
            let Some(cause) = p.branch else { continue };
            let driver = e
                .branch_list()
                .iter()
                .find(|b| b.cause == cause)
                .and_then(|b| {
                    b.drivers
                        .iter()
                        .find(|d| d.key == p.key && d.effect == p.effect)
                });
            let effect = match p.effect {
                Effect::Mix => "more volume in a segment that hands off more",
                Effect::Rate => "the segment's own rate moved",
            };
            footnotes.push(format!(
                "{}: 95 % interval of its share {} to {}; q = {:.3} (its p-value adjusted for \
                 testing many segments at once, Benjamini-Hochberg; under explain.fdr, 0.05 by \
                 default, counts as real).",
                shorten_in(&p.what),
                format::pp(Some(p.ci[0] * 100.0)),
                format::pp(Some(p.ci[1] * 100.0)),
                p.q
            ));
            drivers.push(DriverLine {
                cause,
                dimension: p.key.dimensions().to_string(),
                segment: crate::text::cut(&p.key.values().to_string(), MAX_NAME_CHARS).into_owned(),
                contribution_pp: p.change * 100.0,
                change_pp: driver.and_then(|d| Some((d.rate_after? - d.rate_before?) * 100.0)),
                conversations: driver.map(|d| d.n_after.round() as i64).unwrap_or(0),
                significant: true,
                note: Some(format!("{}: {effect}", shorten_in(&p.what))),
                footnote: Some(footnotes.len()),
                pairs: p
                    .key
                    .pairs()
                    .iter()
                    .map(|(d, v)| (d.to_string(), v.clone()))
                    .collect(),
                examples: vec![],
            });
        }
        // Each branch: the explain stage's interval and test, its top driver, and the change
        // split by the dimension of that driver (or of the largest cell).
        let mut breakdowns = Vec::new();
        // A team's branches are its own cells: the whole branch's test is not theirs.
        let branches = if self.team.is_some() {
            &mut [][..]
        } else {
            &mut self.branches[..]
        };
        for line in branches {
            let Some(b) = e.branch_list().iter().find(|b| b.cause == line.cause) else {
                continue;
            };
            let top = drivers
                .iter()
                .filter(|d| d.cause == line.cause)
                .max_by(|x, y| x.contribution_pp.abs().total_cmp(&y.contribution_pp.abs()));
            line.driver = top.map(|d| format!("{} {}", d.dimension, d.segment));
            line.set_interval(
                b.ci.map(|[lo, hi]| [lo * 100.0, hi * 100.0]),
                Some(b.significant),
            );
            if let Some(bd) = breakdown(b, top.map(|d| d.dimension.as_str()), &drivers) {
                breakdowns.push(bd);
            }
        }
        // The tree's lines take the explain stage's intervals, like the owner's own.
        for t in &mut self.tree {
            if let Some(b) = e.branch_list().iter().find(|b| b.cause == t.line.cause) {
                t.line.set_interval(
                    b.ci.map(|[lo, hi]| [lo * 100.0, hi * 100.0]),
                    Some(b.significant),
                );
            }
        }
        self.subject = match &self.team {
            Some(team) => team_subject(&self.period.label, team, &self.branches),
            None => subject(&self.period.label, &self.branches),
        };
        self.headline_text = headline_of(&self.subject, &self.period.label);
        self.drivers = drivers;
        self.footnotes = footnotes;
        self.breakdowns = breakdowns;
    }
}

/// One fix in its owner's report: the verdict in words and whether a review is due.
#[derive(Debug, Clone, Serialize)]
pub struct FixLine {
    pub title: String,
    /// `verified`, `regressed`, `inconclusive` or `too early`.
    pub verdict: String,
    /// The verdict in one sentence, with the effect, its always-valid interval and the control.
    pub summary: String,
    pub review_due: bool,
    pub warnings: Vec<String>,
}

impl OwnerView {
    /// Fills `fixes` with the verdicts of the fixes this owner owns.
    pub fn attach_verdicts(&mut self, verdicts: &[crate::verify::Verdict]) {
        self.fixes = verdicts
            .iter()
            .filter(|v| v.fix.owner.eq_ignore_ascii_case(&self.owner.email))
            .map(|v| FixLine {
                title: crate::text::one_line(&v.fix.title),
                verdict: v.kind().label().to_string(),
                summary: v.summary.clone(),
                review_due: v.review_due,
                warnings: v.warnings.clone(),
            })
            .collect();
    }
}

/// Segment rows shown per breakdown; the rest is "everything else".
const BREAKDOWN_ROWS: usize = 3;

/// `b`'s change split by `dimension` (else the single-segment dimension, agents last, with
/// the largest cell): the segments' mix and rate cells summed, the largest few shown, and the
/// remainder as "everything else", so the rows add up to the change exactly.
fn breakdown(
    b: &crate::explain::Branch,
    dimension: Option<&str>,
    drivers: &[DriverLine],
) -> Option<Breakdown> {
    let single: Vec<&crate::explain::Driver> = b
        .drivers
        .iter()
        .filter(|d| !d.key.is_combination())
        .collect();
    let dim = match dimension {
        Some(d) if single.iter().any(|x| x.key.is_segment_of(d)) => d.to_string(),
        _ => single
            .iter()
            .max_by(|x, y| {
                let k = |d: &crate::explain::Driver| {
                    (!d.key.is_segment_of("agent"), d.contribution.abs())
                };
                let (a, c) = (k(x), k(y));
                a.0.cmp(&c.0).then(a.1.total_cmp(&c.1))
            })?
            .key
            .dimensions()
            .to_string(),
    };
    let mut by_segment: Vec<(String, f64, bool)> = Vec::new();
    for d in single.iter().filter(|d| d.key.is_segment_of(&dim)) {
        let name = d.key.values().to_string();
        match by_segment.iter_mut().find(|(n, _, _)| *n == name) {
            Some(row) => {
                row.1 += d.contribution;
                row.2 |= d.significant;
            }
            None => by_segment.push((name, d.contribution, d.significant)),
        }
    }
    by_segment.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
    by_segment.truncate(BREAKDOWN_ROWS);
    let change = b.change * 100.0;
    let role = |x: f64| {
        if x.abs() < 0.05 {
            // Rounds to 0.0 pp: neither drove nor offset anything.
            ""
        } else if (x > 0.0) == (change > 0.0) {
            "drove it"
        } else {
            "offset it"
        }
    };
    let rows: Vec<BreakdownRow> = by_segment
        .into_iter()
        .map(|(name, c, significant)| {
            let pp = c * 100.0;
            BreakdownRow {
                footnote: drivers
                    .iter()
                    .find(|d| {
                        d.cause == b.cause
                            && d.dimension == dim
                            && d.segment == crate::text::cut(&name, MAX_NAME_CHARS)
                    })
                    .and_then(|d| d.footnote),
                segment: crate::text::cut(&name, MAX_NAME_CHARS).into_owned(),
                contribution_pp: pp,
                contribution_text: format::pp(Some(pp)),
                arrow: format::arrow(Some(pp)).into(),
                role: role(pp).into(),
                significant,
            }
        })
        .collect();
    let other = change - rows.iter().map(|r| r.contribution_pp).sum::<f64>();
    Some(Breakdown {
        cause: b.cause,
        label: b.cause.label().into(),
        dimension: dim,
        change_pp: change,
        change_text: format::pp(Some(change)),
        rows,
        other_pp: other,
        other_text: format::pp(Some(other)),
        other_role: role(other).into(),
    })
}

#[cfg(test)]
mod tests {
    use super::{actions, AgentLine};

    #[test]
    fn agents_rank_on_shrunk_rates_so_a_small_sample_does_not_top_the_list() {
        // ann 30 of 100, bob 3 of 4 (75 % raw), cy 10 of 100: bob's raw rate tops, but his
        // 4 conversations say little, and the shrunk rate pulls him toward the team's.
        let counts = [
            ("ann".to_string(), 100, 30),
            ("bob".to_string(), 4, 3),
            ("cy".to_string(), 100, 10),
        ];
        let lines = AgentLine::ranked(&counts, 10);
        let order: Vec<&str> = lines.iter().map(|l| l.agent.as_str()).collect();
        assert_eq!(order[2], "cy");
        let bob = lines.iter().find(|l| l.agent == "bob").unwrap();
        assert_eq!(bob.rate_text, "75.0%");
        // The prior by hand: mu = 43/204; shrunk = (3 + a) / (4 + a + b) lies between mu
        // and 0.75, well below 0.75.
        let mu = 43.0 / 204.0;
        assert!(bob.shrunk > mu && bob.shrunk < 0.5, "{}", bob.shrunk);
        assert_eq!(AgentLine::ranked(&counts, 1).len(), 1);
    }

    #[test]
    fn a_significant_driver_is_acted_on_even_when_the_branch_is_within_noise() {
        let levers = vec!["routing rules".to_string()];
        assert_eq!(
            actions(&levers, Some("topic billing"), Some(false), Some(1.0)),
            ["Review routing rules for topic billing"]
        );
        assert_eq!(
            actions(&levers, None, Some(false), Some(1.0)),
            ["Nothing to act on this week; if it moves again, start with routing rules"]
        );
        assert_eq!(
            actions(&levers, Some("topic refund"), Some(false), Some(-1.0)),
            ["Find what changed in routing rules for topic refund and keep it"]
        );
    }
}
