//! The measures `explain` can split, each defined once as a numerator and a denominator over
//! the conversation facts (METRICS.md sections 3 and 4).

use super::cells::Model;
use crate::config::Config;
use crate::domain::Cause;
use crate::metrics::measures::Count;
use polars::prelude::*;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A rate measure of the conversation facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Conversations with a handoff / conversations; branches: the cause of the first handoff.
    HandoffRate,
    /// Avoidable handoffs / handoffs; branches: the avoidable causes.
    AvoidableShare,
    /// Conversations solved without a handoff or reopening / conversations.
    FcrRate,
    /// Waiting after handoffs / time from creation to resolution.
    TimeLostShare,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown metric `{0}` (expected handoff_rate, avoidable_share, fcr_rate or time_lost_share)"
)]
pub struct UnknownMetric(pub String);

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::HandoffRate,
        Metric::AvoidableShare,
        Metric::FcrRate,
        Metric::TimeLostShare,
    ];

    /// Stable name (JSON, `--metric`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::HandoffRate => "handoff_rate",
            Metric::AvoidableShare => "avoidable_share",
            Metric::FcrRate => "fcr_rate",
            Metric::TimeLostShare => "time_lost_share",
        }
    }

    /// Words for sentences ("the handoff rate rose ...").
    pub fn label(self) -> &'static str {
        match self {
            Metric::HandoffRate => "the handoff rate",
            Metric::AvoidableShare => "the avoidable share of handoffs",
            Metric::FcrRate => "first-contact resolution",
            Metric::TimeLostShare => "the share of time lost to handoffs",
        }
    }

    /// What the denominator counts, for errors and tables.
    pub fn denominator_label(self) -> &'static str {
        match self {
            Metric::HandoffRate | Metric::FcrRate => "conversations resolved",
            Metric::AvoidableShare => "handoffs in conversations resolved",
            Metric::TimeLostShare => "resolved conversations with a duration",
        }
    }

    /// The branches of the metric tree this measure splits into (empty: no tree).
    pub fn branches(self, cfg: &Config) -> Vec<Cause> {
        match self {
            Metric::HandoffRate => Cause::ALL.to_vec(),
            Metric::AvoidableShare => Cause::ALL
                .into_iter()
                .filter(|c| cfg.handoffs.avoidable.contains(c))
                .collect(),
            Metric::FcrRate | Metric::TimeLostShare => vec![],
        }
    }

    /// Numerator and denominator of each conversation, made of the per-conversation terms the
    /// metrics aggregations sum ([`Count::term`]), so both stages count the same things;
    /// `tests/measures_agree.rs` checks the rates agree.
    pub(crate) fn definition(self, cfg: &Config) -> Definition {
        let f = |c: Count| c.term().cast(DataType::Float64);
        let branches = self.branches(cfg);
        let sum = |parts: &[Expr]| {
            parts
                .iter()
                .cloned()
                .reduce(|a, b| a + b)
                .unwrap_or_else(|| lit(0.0))
        };
        match self {
            Metric::HandoffRate => {
                let parts: Vec<Expr> = branches.iter().map(|c| f(Count::FirstCause(*c))).collect();
                Definition::tree(
                    Model::Binomial,
                    f(Count::Conversations),
                    sum(&parts),
                    parts,
                    None,
                    branches,
                )
            }
            Metric::AvoidableShare => {
                let parts: Vec<Expr> = branches
                    .iter()
                    .map(|c| f(Count::CauseHandoffs(*c)))
                    .collect();
                Definition::tree(
                    Model::Ratio,
                    f(Count::Handoffs),
                    sum(&parts),
                    parts,
                    // Conversations without handoffs add nothing to either side.
                    Some(Count::WithHandoff.term()),
                    branches,
                )
            }
            Metric::FcrRate => Definition::tree(
                Model::Binomial,
                f(Count::Conversations),
                f(Count::Fcr),
                vec![],
                None,
                vec![],
            ),
            // Hours, so sums of squares stay in a comfortable range; the ratio is unit-free.
            Metric::TimeLostShare => Definition::tree(
                Model::Ratio,
                f(Count::DurationUs) / lit(3.6e9),
                f(Count::WaitUs) / lit(3.6e9),
                vec![],
                Some(Count::DurationUs.term().is_not_null()),
                vec![],
            ),
        }
    }
}

/// A measure as polars expressions over one row per unit.
pub(crate) struct Definition {
    pub model: Model,
    pub den: Expr,
    /// Series 0 is the measure, then one per branch (which add up to it).
    pub nums: Vec<Expr>,
    pub filter: Option<Expr>,
    pub branches: Vec<Cause>,
}

impl Definition {
    fn tree(
        model: Model,
        den: Expr,
        total: Expr,
        parts: Vec<Expr>,
        filter: Option<Expr>,
        branches: Vec<Cause>,
    ) -> Definition {
        let mut nums = vec![total];
        nums.extend(parts);
        Definition {
            model,
            den,
            nums,
            filter,
            branches,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = UnknownMetric;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let k = s.trim().to_ascii_lowercase().replace('-', "_");
        match k.as_str() {
            "handoff_rate" | "handoffs" => Ok(Metric::HandoffRate),
            "avoidable_share" | "avoidable" => Ok(Metric::AvoidableShare),
            "fcr_rate" | "fcr" => Ok(Metric::FcrRate),
            "time_lost_share" | "time_lost" => Ok(Metric::TimeLostShare),
            _ => Err(UnknownMetric(s.to_string())),
        }
    }
}
