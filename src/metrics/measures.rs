//! One definition of every measure (METRICS.md sections 3, 5 and 6), as aggregation expressions
//! over the facts frame; the same expressions serve overall, per segment and per period.

use super::facts::fact;
use crate::domain::Cause;
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

const US_PER_MIN: f64 = 60e6;
const US_PER_HOUR: f64 = 3600e6;

/// `value` where `cond` holds, null elsewhere: the aggregations below skip nulls, so this is a
/// filter, computed once over all rows (a `filter` inside an aggregation runs group by group).
fn only(cond: Expr, value: Expr) -> Expr {
    when(cond.fill_null(lit(false)))
        .then(value)
        .otherwise(lit(NULL))
}

/// Aggregations over conversations resolved in a period (the set C). The counts are kept so
/// rates can be recomputed and explained; [`Measures::from_row`] turns them into measures.
pub fn resolved_aggs() -> Vec<Expr> {
    let n = |e: Expr| e.cast(DataType::Int64).sum();
    let h = || col(fact::HANDOFFS);
    let minutes = |a: &str, b: &str| (col(b) - col(a)).cast(DataType::Float64) / lit(US_PER_MIN);
    let hours = (col(fact::DURATION_US)).cast(DataType::Float64) / lit(US_PER_HOUR);
    let ai = || col(fact::AI_INVOLVED);
    let handed = || col(fact::AI_HANDED_OVER);
    let mut v = vec![
        len().cast(DataType::Int64).alias("conversations"),
        n(h().gt_eq(lit(1))).alias("with_handoff"),
        h().sum().alias("handoffs"),
        n(h().eq(lit(0))).alias("h0"),
        n(h().eq(lit(1))).alias("h1"),
        n(h().eq(lit(2))).alias("h2"),
        n(h().gt_eq(lit(3))).alias("h3"),
        n(col(fact::FCR)).alias("fcr"),
        n(col(fact::REOPENED)).alias("reopened"),
        col(fact::WAIT_US).sum().alias("wait_us"),
        col(fact::DURATION_US).sum().alias("duration_us"),
        col(fact::AVOIDABLE).sum().alias("avoidable"),
        col(fact::AUTOMATION_MOVES).sum().alias("automation_moves"),
        n(col(fact::handoffs_of(Cause::Escalation)).gt(lit(0))).alias("escalated"),
        minutes(fact::CREATED_AT, fact::FIRST_RESPONSE_AT)
            .mean()
            .alias("frt_mean"),
        minutes(fact::CREATED_AT, fact::FIRST_RESPONSE_AT)
            .median()
            .alias("frt_median"),
        hours.clone().mean().alias("res_mean"),
        hours.median().alias("res_median"),
        n(ai()).alias("ai_involved"),
        n(ai().and(handed())).alias("ai_handed"),
        n(col(fact::AI_RESOLVED)).alias("ai_resolved"),
        only(
            ai().and(handed()),
            col(fact::AI_TO_HANDOVER_US).cast(DataType::Float64) / lit(US_PER_MIN),
        )
        .median()
        .alias("ai_to_handover_median"),
        only(ai().and(handed()), col(fact::SENTIMENT_BEFORE_SUM))
            .sum()
            .alias("sent_before_sum"),
        only(ai().and(handed()), col(fact::SENTIMENT_BEFORE_N))
            .sum()
            .alias("sent_before_n"),
        n(col(fact::POST_HANDOVER_CLEAN).and(ai())).alias("post_handover_clean"),
        only(col(fact::AI_RESOLVED), col(fact::LAST_SENTIMENT))
            .mean()
            .alias("ai_resolved_last_sentiment"),
        n(col(fact::BREACH_RESOLVED)).alias("breach_resolved"),
        n(col(fact::BREACH_HANDED)).alias("breach_handed"),
    ];
    for c in Cause::ALL {
        v.push(
            n(col(fact::FIRST_CAUSE)
                .eq(lit(c.as_str()))
                .fill_null(lit(false)))
            .alias(format!("first_{}", c.as_str())),
        );
        v.push(col(fact::handoffs_of(c)).sum().alias(fact::handoffs_of(c)));
    }
    v
}

/// Aggregations over handoff rows (joined to their conversation's period and segment).
pub fn handoff_aggs() -> Vec<Expr> {
    vec![(col("wait_us").cast(DataType::Float64) / lit(US_PER_MIN))
        .median()
        .alias("wait_median")]
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct MeanMedian {
    pub mean: Option<f64>,
    pub median: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct CauseMeasures {
    pub handoffs: i64,
    /// Conversations whose first handoff has this cause / conversations.
    pub rate: Option<f64>,
    /// Handoffs of this cause / conversations.
    pub per_conversation: Option<f64>,
    /// Conversations whose first handoff has this cause (numerator of `rate`).
    pub conversations: i64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct Distribution {
    #[serde(rename = "0")]
    pub zero: i64,
    #[serde(rename = "1")]
    pub one: i64,
    #[serde(rename = "2")]
    pub two: i64,
    #[serde(rename = "3+")]
    pub three_plus: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct AiMeasures {
    /// Conversations resolved in the period that had an AI owner.
    pub conversations: i64,
    pub ai_escalation_rate: Option<f64>,
    pub ai_resolution_rate: Option<f64>,
    pub ai_time_to_handover_minutes: Option<f64>,
    pub sentiment_before_handover: Option<f64>,
    pub post_handover_resolution_rate: Option<f64>,
    pub ai_policy_breaches: PolicyBreaches,
    pub unsafe_deflection: bool,
    /// Mean last customer sentiment of AI-resolved conversations.
    pub ai_resolved_last_sentiment: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct PolicyBreaches {
    pub count: i64,
    /// `must_escalate` topics the AI resolved itself.
    pub must_escalate_resolved: i64,
    /// `must_not_escalate` topics it handed over.
    pub must_not_escalate_handed_over: i64,
    /// Some of the conversations involved (filled for the overall view).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

/// Every measure of METRICS.md for one population (overall or one segment, one period).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Measures {
    /// |C|: conversations resolved in the period.
    pub conversations: i64,
    /// Conversations created in the period.
    pub ticket_volume: i64,
    pub handoff_rate: Option<f64>,
    pub handoffs: i64,
    pub handoffs_per_conversation: Option<f64>,
    pub handoff_distribution: Distribution,
    pub bouncing_share: Option<f64>,
    pub fcr_rate: Option<f64>,
    pub reopened: i64,
    pub time_lost_hours: f64,
    pub time_lost_share: Option<f64>,
    pub wait_per_handoff_minutes: MeanMedian,
    pub avoidable_share: Option<f64>,
    pub escalation_rate: Option<f64>,
    pub band: Option<Band>,
    pub by_cause: BTreeMap<Cause, CauseMeasures>,
    pub first_response_minutes: MeanMedian,
    pub resolution_hours: MeanMedian,
    pub automation_moves: i64,
    pub ai: AiMeasures,
}

/// Benchmark band of the handoff rate (METRICS.md section 5).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Lean,
    Balanced,
    TransferHeavy,
    Bouncing,
}

impl Band {
    pub fn of(rate: f64) -> Band {
        if rate < 0.15 {
            Band::Lean
        } else if rate < 0.30 {
            Band::Balanced
        } else if rate <= 0.50 {
            Band::TransferHeavy
        } else {
            Band::Bouncing
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Band::Lean => "lean",
            Band::Balanced => "balanced",
            Band::TransferHeavy => "transfer-heavy",
            Band::Bouncing => "bouncing",
        }
    }
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

/// Reads one row of an aggregated frame by column name.
pub struct Row<'a> {
    df: &'a DataFrame,
    i: usize,
}

impl<'a> Row<'a> {
    pub fn new(df: &'a DataFrame, i: usize) -> Row<'a> {
        Row { df, i }
    }
    pub fn f(&self, name: &str) -> Option<f64> {
        let c = self.df.column(name).ok()?;
        let v = c.get(self.i).ok()?;
        match v {
            AnyValue::Null => None,
            v => v.extract::<f64>(),
        }
    }
    pub fn i(&self, name: &str) -> i64 {
        self.f(name).map(|x| x.round() as i64).unwrap_or(0)
    }
    pub fn s(&self, name: &str) -> Option<String> {
        let c = self.df.column(name).ok()?;
        match c.get(self.i).ok()? {
            AnyValue::String(s) => Some(s.to_string()),
            AnyValue::StringOwned(s) => Some(s.to_string()),
            AnyValue::Null => None,
            other => Some(other.to_string()),
        }
    }
}

impl Measures {
    /// Measures from one row of counts made by [`resolved_aggs`] and [`handoff_aggs`], plus
    /// the volume created in the period.
    pub fn from_row(r: &Row, ticket_volume: i64, ai_cfg: &crate::config::AiConfig) -> Measures {
        let n = r.i("conversations");
        let nf = n as f64;
        let handoffs = r.i("handoffs");
        let wait_us = r.f("wait_us").unwrap_or(0.0);
        let handoff_rate = ratio(r.i("with_handoff") as f64, nf);
        let mut by_cause = BTreeMap::new();
        for c in Cause::ALL {
            let first = r.i(&format!("first_{}", c.as_str()));
            let hc = r.i(&fact::handoffs_of(c));
            by_cause.insert(
                c,
                CauseMeasures {
                    handoffs: hc,
                    rate: ratio(first as f64, nf),
                    per_conversation: ratio(hc as f64, nf),
                    conversations: first,
                },
            );
        }
        let ai_n = r.i("ai_involved");
        let handed = r.i("ai_handed");
        let ai_escalation_rate = ratio(handed as f64, ai_n as f64);
        let last_sent = r.f("ai_resolved_last_sentiment");
        let unsafe_deflection = matches!((ai_escalation_rate, last_sent), (Some(e), Some(s)) if e < ai_cfg.unsafe_escalation_below && s < ai_cfg.unsafe_sentiment_below);
        let breach_resolved = r.i("breach_resolved");
        let breach_handed = r.i("breach_handed");
        Measures {
            conversations: n,
            ticket_volume,
            handoff_rate,
            handoffs,
            handoffs_per_conversation: ratio(handoffs as f64, nf),
            handoff_distribution: Distribution {
                zero: r.i("h0"),
                one: r.i("h1"),
                two: r.i("h2"),
                three_plus: r.i("h3"),
            },
            bouncing_share: ratio(r.i("h3") as f64, nf),
            fcr_rate: ratio(r.i("fcr") as f64, nf),
            reopened: r.i("reopened"),
            time_lost_hours: wait_us / US_PER_HOUR,
            time_lost_share: ratio(wait_us, r.f("duration_us").unwrap_or(0.0)),
            wait_per_handoff_minutes: MeanMedian {
                mean: ratio(wait_us / US_PER_MIN, handoffs as f64),
                median: r.f("wait_median"),
            },
            avoidable_share: ratio(r.i("avoidable") as f64, handoffs as f64),
            escalation_rate: ratio(r.i("escalated") as f64, nf),
            band: handoff_rate.map(Band::of),
            by_cause,
            first_response_minutes: MeanMedian {
                mean: r.f("frt_mean"),
                median: r.f("frt_median"),
            },
            resolution_hours: MeanMedian {
                mean: r.f("res_mean"),
                median: r.f("res_median"),
            },
            automation_moves: r.i("automation_moves"),
            ai: AiMeasures {
                conversations: ai_n,
                ai_escalation_rate,
                ai_resolution_rate: ratio(r.i("ai_resolved") as f64, ai_n as f64),
                ai_time_to_handover_minutes: r.f("ai_to_handover_median"),
                sentiment_before_handover: ratio(
                    r.f("sent_before_sum").unwrap_or(0.0),
                    r.f("sent_before_n").unwrap_or(0.0),
                ),
                post_handover_resolution_rate: ratio(
                    r.i("post_handover_clean") as f64,
                    handed as f64,
                ),
                ai_policy_breaches: PolicyBreaches {
                    count: breach_resolved + breach_handed,
                    must_escalate_resolved: breach_resolved,
                    must_not_escalate_handed_over: breach_handed,
                    examples: vec![],
                },
                unsafe_deflection,
                ai_resolved_last_sentiment: last_sent,
            },
        }
    }
}
