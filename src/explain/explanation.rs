//! What `explain` returns: serialisable as the stable JSON of `baton explain --format json`.

use super::segment::SegmentKey;
use crate::domain::{Cause, Owner, OwnerId, Period};
use serde::Serialize;
use std::collections::BTreeMap;

/// A period as the JSON shows it; start, end and zone are absent for a generic table, whose
/// periods are values of its period column (or its two files).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodRef {
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
}

impl PeriodRef {
    pub fn label(label: impl Into<String>) -> PeriodRef {
        PeriodRef {
            label: label.into(),
            start: None,
            end: None,
            tz: None,
        }
    }
}

impl From<&Period> for PeriodRef {
    fn from(p: &Period) -> PeriodRef {
        let j = p.to_json();
        PeriodRef {
            label: j.label,
            start: Some(j.start),
            end: Some(j.end),
            tz: Some(j.tz),
        }
    }
}

/// The two effects of the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Volume moved toward segments with above- (or below-) average rates.
    Mix,
    /// The segment's own rate changed.
    Rate,
}

/// One cell of a split: a segment of one dimension and one effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    /// The segment; in the JSON `dimension` (`team`) and `segment` (`Billing`).
    #[serde(flatten)]
    pub key: SegmentKey,
    pub effect: Effect,
    /// Points of the change (a fraction: 0.031 is 3.1 points) this cell accounts for.
    pub contribution: f64,
    /// 95 % interval of the contribution; null when the effect is not tested.
    pub ci: Option<[f64; 2]>,
    pub z: Option<f64>,
    /// Benjamini-Hochberg q-value over every test of the explanation.
    pub q: Option<f64>,
    /// q below the false-discovery rate and the segment large enough.
    pub significant: bool,
    /// Who the cell routes to (see `pushes` for every recipient); null when it has no owner
    /// (a rate cell of the whole measure, which its branches carry).
    pub owner: Option<OwnerId>,
    pub rate_before: Option<f64>,
    pub rate_after: Option<f64>,
    /// Wilson 95 % intervals of the segment's rate (binomial measures; null otherwise).
    pub rate_ci_before: Option<[f64; 2]>,
    pub rate_ci_after: Option<[f64; 2]>,
    /// Empirical-Bayes shrunk rates used for ranking (binomial measures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shrunk_rate_before: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shrunk_rate_after: Option<f64>,
    pub share_before: f64,
    pub share_after: f64,
    /// Denominators of the segment (conversations for the handoff rate).
    pub n_before: f64,
    pub n_after: f64,
    /// Why a cell is not tested or cannot be significant ("new segment", "below minimum size").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A branch of the metric tree with its split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Branch {
    pub cause: Cause,
    pub owner: Owner,
    pub before: f64,
    pub after: f64,
    pub change: f64,
    pub ci: Option<[f64; 2]>,
    pub z: Option<f64>,
    pub significant: bool,
    /// Top cells of every dimension, ranked (significant first).
    pub drivers: Vec<Driver>,
    /// Per dimension: the change not in the rows shown ("everything else"), so that the rows
    /// of one dimension plus this add up to `change` exactly.
    pub other: BTreeMap<String, f64>,
}

/// The tested contribution of one effect of a localised cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EffectTest {
    pub contribution: f64,
    pub ci: Option<[f64; 2]>,
    pub z: Option<f64>,
    pub q: Option<f64>,
    pub significant: bool,
}

/// A combination of dimension values where the change concentrates. Cells are listed in the
/// order found; each one's numbers are net of the cells listed before it (of the same cause).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Localised {
    /// The branch localised; null for the measure as a whole.
    pub cause: Option<Cause>,
    pub cells: BTreeMap<String, String>,
    /// Mix plus rate of the cell against the rest of the population.
    pub contribution: f64,
    pub mix: EffectTest,
    pub rate: EffectTest,
    /// Ratio form: the change in the overall rate if only this cell had moved (after the cells
    /// listed before it), as a fraction of the change.
    pub explanatory_power: f64,
    /// Adtributor's surprise: Jensen-Shannon divergence of the cell's share of the numerator
    /// plus that of the denominator, before vs after.
    pub surprise: f64,
    pub rate_before: Option<f64>,
    pub rate_after: Option<f64>,
    pub share_before: f64,
    pub share_after: f64,
    pub n_before: f64,
    pub n_after: f64,
    pub significant: bool,
}

/// Why an owner receives a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A rate effect in the owner's branch.
    BranchOwner,
    /// A mix (volume) effect: routing and volume are the mix owner's (`explain.mix_owner`).
    MixOwner,
    /// A cell of the lead's team (`teams.X.lead`).
    TeamLead,
}

/// One significant driver routed to one owner: what reports and alerts carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Push {
    pub owner: Owner,
    pub role: Role,
    pub metric: String,
    pub branch: Option<Cause>,
    /// The segment or localised combination; in the JSON `dimension` (`team` or
    /// `team & channel`), `segment` (`Billing` or `Billing & chat`) and `cells`
    /// (dimension -> value).
    #[serde(flatten, serialize_with = "SegmentKey::serialize_with_cells")]
    pub key: SegmentKey,
    pub effect: Effect,
    /// The cell's contribution to the change.
    pub change: f64,
    pub ci: [f64; 2],
    pub z: f64,
    pub q: f64,
    /// The cell in words: "topic billing landing on General Support first".
    pub what: String,
}

/// The version of [`Explanation`]'s JSON form.
pub const EXPLANATION_SCHEMA_VERSION: u32 = 1;

/// The full answer to "why did my metric change".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// [`EXPLANATION_SCHEMA_VERSION`]: the JSON of `baton explain` is a contract
    /// (docs/json.md); fields are only added, a rename or removal bumps it.
    pub schema_version: u32,
    pub metric: String,
    /// Binomial (Wilson, Newcombe) or ratio (delta method) uncertainty.
    pub model: super::Model,
    /// Whether values are shares shown in points (percentages).
    pub percent: bool,
    pub period: PeriodRef,
    pub vs: PeriodRef,
    pub before: f64,
    pub after: f64,
    pub change: f64,
    pub ci: Option<[f64; 2]>,
    pub z: Option<f64>,
    /// Whether the change of the measure itself is beyond sampling noise (95 %).
    pub significant: bool,
    /// Denominators of the two periods (conversations for the handoff rate).
    pub n_before: f64,
    pub n_after: f64,
    pub dimensions: Vec<String>,
    /// The measure's own split across segments (for a tree these are the sums of the
    /// branches' cells).
    pub drivers: Vec<Driver>,
    pub other: BTreeMap<String, f64>,
    /// Branches of the metric tree; absent for measures without one and generic tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<Branch>>,
    pub localised: Vec<Localised>,
    pub pushes: Vec<Push>,
    /// Owner id -> one plain-language sentence.
    pub summary: BTreeMap<String, String>,
}

impl Explanation {
    /// Significant drivers routed to owners, largest first.
    pub fn pushes(&self) -> &[Push] {
        &self.pushes
    }

    /// Owner id -> one sentence.
    pub fn summary(&self) -> &BTreeMap<String, String> {
        &self.summary
    }

    /// The branches (empty for a measure without a tree).
    pub fn branch_list(&self) -> &[Branch] {
        self.branches.as_deref().unwrap_or(&[])
    }
}
