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
    /// Segments smaller than this (in either period) are marked small.
    pub min_segment_size: i64,
    /// The trailing weeks, oldest first.
    pub trend: Vec<TrendRow>,
    pub footer: Footer,
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
}

/// One week of the trend.
#[derive(Debug, Clone, Serialize)]
pub struct TrendRow {
    pub period: String,
    pub conversations: i64,
    pub handoff_rate: Option<f64>,
    /// Sum of the owner's branch rates (the four rates add up to the handoff rate).
    pub branch_rate: Option<f64>,
    pub handoff_rate_text: String,
    pub branch_rate_text: String,
    /// A text bar proportional to `branch_rate` (the longest week is full width).
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

/// Width of the trend bars, in characters.
const BAR_WIDTH: usize = 20;

/// Everyone who receives the owners' report: the distinct owners of the metric tree, with
/// their branches.
pub fn recipients(cfg: &Config) -> Vec<(Owner, Vec<Cause>)> {
    cfg.owners()
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
    cfg.owners()
        .into_iter()
        .map(|(owner, causes)| owner_view(cfg, metrics, owner, causes, generated_at))
        .collect()
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
        summary: None,
        min_segment_size: cfg.explain.min_segment_size as i64,
        trend: trend(m, &causes),
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
    BranchLine {
        cause,
        label: cause.label().into(),
        rate: n.rate,
        rate_before: b.rate,
        change_pp: change,
        handoffs: n.handoffs,
        handoffs_before: b.handoffs,
        per_conversation: n.per_conversation,
        per_conversation_before: b.per_conversation,
        levers,
        alert_threshold_pp: threshold,
        alert: change.is_some_and(|c| c.abs() >= threshold),
        rate_text: format::pct(n.rate),
        before_text: format::pct(b.rate),
        change_text: format::pp(change),
        arrow: format::arrow(change).into(),
        tone: Tone::of(change, 1, Some(true)),
        per_conversation_text: format::num(n.per_conversation, 2),
        per_conversation_before_text: format::num(b.per_conversation, 2),
    }
}

/// `Handoffs 2026-W46: routing +3.1 pp (your branch)`: the owner's branch that moved most.
pub fn subject(period: &str, branches: &[BranchLine]) -> String {
    let moved = branches
        .iter()
        .filter(|b| b.change_pp.is_some())
        .max_by(|a, b| {
            let (x, y) = (a.change_pp.unwrap().abs(), b.change_pp.unwrap().abs());
            x.total_cmp(&y)
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
                c if format::Direction::at(c, 1) == Some(format::Direction::Flat) => {
                    format!(
                        "Handoffs {period}: {name} steady at {} ({whose})",
                        b.rate_text
                    )
                }
                Some(_) => format!("Handoffs {period}: {name} {} ({whose})", b.change_text),
                None => format!("Handoffs {period}: {name} {} ({whose})", b.rate_text),
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
    let (n, b) = (&m.overall.measures, &m.previous);
    let count = |x: i64| Some(x as f64);
    let hours = |m: &Measures| had(m).then_some(m.time_lost_hours);
    vec![
        line(
            "conversations",
            "Conversations resolved",
            (n.conversations.to_string(), b.conversations.to_string()),
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
        },
        line(
            "ticket_volume",
            "Tickets created",
            (n.ticket_volume.to_string(), b.ticket_volume.to_string()),
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
            now_text: m.overall.backlog.to_string(),
            before_text: format::MISSING.into(),
            change_text: String::new(),
            arrow: String::new(),
            tone: Tone::Neutral,
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
                out.push(SegmentMove {
                    dimension: dimension.clone(),
                    value: s.value.clone(),
                    cause: c,
                    cause_label: c.label().into(),
                    rate: now.rate,
                    rate_before: before.rate,
                    change_pp: change,
                    conversations: s.measures.conversations,
                    conversations_before: s.previous.conversations,
                    small: s.measures.conversations < min_size
                        || s.previous.conversations < min_size,
                    rate_text: format::pct(now.rate),
                    before_text: format::pct(before.rate),
                    change_text: format::pp(change),
                    arrow: format::arrow(change).into(),
                    tone: Tone::of(change, 1, Some(true)),
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
    let max = m.trend.iter().filter_map(branch).fold(0.0f64, f64::max);
    m.trend
        .iter()
        .map(|p| {
            let r = branch(p);
            let bar = match r {
                Some(v) if max > 0.0 => {
                    let n = ((v / max) * BAR_WIDTH as f64).round() as usize;
                    // A non-zero week never shows an empty bar.
                    "█".repeat(if v > 0.0 { n.max(1) } else { 0 })
                }
                _ => String::new(),
            };
            TrendRow {
                period: p.period.clone(),
                conversations: p.conversations,
                handoff_rate: p.handoff_rate,
                branch_rate: r,
                handoff_rate_text: format::pct(p.handoff_rate),
                branch_rate_text: format::pct(r),
                bar,
                current: p.period == m.period.label,
            }
        })
        .collect()
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
        self.drivers = e
            .pushes()
            .iter()
            .filter(|p| p.owner.id == self.owner.id && p.role != Role::TeamLead)
            .filter_map(|p| {
                let cause = p.branch?;
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
                Some(DriverLine {
                    cause,
                    dimension: p.key.dimensions().to_string(),
                    segment: crate::text::cut(&p.key.values().to_string(), MAX_NAME_CHARS)
                        .into_owned(),
                    contribution_pp: p.change * 100.0,
                    change_pp: driver.and_then(|d| Some((d.rate_after? - d.rate_before?) * 100.0)),
                    conversations: driver.map(|d| d.n_after.round() as i64).unwrap_or(0),
                    significant: true,
                    note: Some(format!(
                        "{}: {effect}; 95 % CI {} to {}, q = {:.3}",
                        shorten_in(&p.what),
                        format::pp(Some(p.ci[0] * 100.0)),
                        format::pp(Some(p.ci[1] * 100.0)),
                        p.q
                    )),
                })
            })
            .collect();
    }
}
