//! From finest cells to an [`Explanation`]: headline changes, the split of every series
//! (measure and branches) along every dimension, localisation, one Benjamini-Hochberg pass
//! over every test, ranking, pruning with an "everything else" row, routing and sentences.
//!
//! [`run`] reads top to bottom as its steps; each step is a function below, in that order.

use super::attribution::{self, Assessment, Presence, Split};
use super::cells::{CellTable, Counts, Model};
use super::explanation::{
    Branch, Driver, Effect, EffectTest, Explanation, Localised, PeriodRef, Push,
};
use super::localise;
use super::route::{Routing, TEAM_DIMENSION};
use super::segment::SegmentKey;
use super::stats::{self, Z95};
use super::summary::{self, Headline};
use super::ExplainError;
use crate::config::Config;
use crate::domain::Cause;
use std::collections::BTreeMap;

/// What is being explained, in words and periods.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Stable name (`handoff_rate`, or the generic table's `numerator/denominator`).
    pub metric: String,
    /// For sentences: "the handoff rate".
    pub label: String,
    /// For phrases about a segment: "handoff rate" ("a higher handoff rate in team Billing").
    pub short: String,
    /// Branches of the tree, one per numerator series after the first (empty: no tree).
    pub branches: Vec<Cause>,
    /// For sentences, one per branch: "routing handoffs".
    pub branch_labels: Vec<String>,
    /// Values are shares shown in points.
    pub percent: bool,
    /// What the denominator counts ("conversations resolved"), for errors.
    pub den_label: String,
    pub period: PeriodRef,
    pub vs: PeriodRef,
}

/// The knobs of the explanation and who owns what.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Units (conversations) a segment needs to be called significant.
    pub min_segment_size: f64,
    /// False-discovery rate of the Benjamini-Hochberg pass.
    pub fdr: f64,
    /// Rows per dimension before "everything else".
    pub max_drivers: usize,
    pub routing: Routing,
    /// Dimensions whose segments are exploratory rather than pre-planned (agents): tested in
    /// their own families behind the gate, never part of it.
    pub exploratory: Vec<String>,
}

impl Policy {
    pub fn from_config(cfg: &Config) -> Policy {
        Policy {
            min_segment_size: cfg.explain.min_segment_size as f64,
            fdr: cfg.explain.fdr,
            max_drivers: cfg.explain.max_drivers,
            routing: Routing::from_config(cfg),
            exploratory: vec!["agent".to_string()],
        }
    }
}

impl Subject {
    /// The branch series `s` stands for; None for series 0, the measure itself.
    fn branch(&self, s: usize) -> Option<Cause> {
        (s > 0).then(|| self.branches[s - 1])
    }

    /// Whether the measure splits into branches.
    fn tree(&self) -> bool {
        !self.branches.is_empty()
    }
}

/// Builds the explanation of `table` (series 0 the measure, 1.. its branches), step by step:
/// headlines, cells (segments, then localised combinations), attribution, significance,
/// localisation, routing, summaries, and the ranked drivers of each series.
pub fn run(
    table: &CellTable,
    subject: &Subject,
    policy: &Policy,
) -> Result<Explanation, ExplainError> {
    assert_eq!(
        table.series,
        1 + subject.branches.len(),
        "one series per branch plus the measure"
    );
    // Window-length invariance: the period compared against is read at the explained period's
    // volume (every count scaled by one factor), so a baseline of four weeks gives the same
    // answer as its weekly average, and scaling it by any factor changes nothing.
    let raw = Totals::checked(table, subject)?;
    let scale = raw.after.units / raw.before.units;
    let scaled;
    let table = if scale.is_finite() && scale > 0.0 && scale != 1.0 {
        scaled = table.scaled_before(scale);
        &scaled
    } else {
        table
    };
    let mut totals = Totals::checked(table, subject)?;
    totals.scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    let heads: Vec<Head> = (0..table.series)
        .map(|s| head(table.model, &totals.before, &totals.after, s))
        .collect();

    // Cells: every segment of every dimension for every series.
    let segments = segments(table);
    let candidates = segment_candidates(table, &segments);
    let mut cells = attribute(table.model, policy, &totals, &candidates);

    // Gatekeeping, level 1: which series changed at all (their own change, or a pre-planned
    // segment), one family over the series.
    let planned = planned_dimensions(table, policy);
    let gates = gates(subject, policy, &totals, &heads, &cells, &planned);

    // Localised combinations, only where the gate opened (searching noise finds noise), then
    // level 2: one Benjamini-Hochberg family per series and dimension (and one for the
    // localised cells of each series), a cell significant only behind an open gate.
    let combinations = combinations(table, policy, &gates.series);
    let combination_cells = combination_candidates(table, &combinations);
    cells.extend(attribute(table.model, policy, &totals, &combination_cells));
    assign_significance(&mut cells, &gates, policy.fdr);

    // What the tested cells say: where it concentrates, who hears about it, in which words,
    // and the ranked split of the measure and of each branch.
    let localised = localised(subject, &combinations, &cells);
    let pushes = route(subject, policy, &totals, &cells);
    let leads = leads(subject, &totals, &heads, &cells, &planned);
    let summary = summarise(subject, policy, &heads, &pushes, &leads);

    let measure = ranked_drivers(table, subject, policy, &cells, 0, heads[0].change);
    let branches = subject
        .tree()
        .then(|| branches(table, subject, policy, &heads, &cells));
    let h = &heads[0];
    Ok(Explanation {
        schema_version: super::explanation::EXPLANATION_SCHEMA_VERSION,
        metric: subject.metric.clone(),
        model: table.model,
        percent: subject.percent,
        period: subject.period.clone(),
        vs: subject.vs.clone(),
        before: h.before,
        after: h.after,
        change: h.change,
        ci: h.ci,
        z: h.z,
        significant: h.significant,
        n_before: raw.before.den,
        n_after: raw.after.den,
        dimensions: table.dimensions.clone(),
        drivers: measure.drivers,
        other: measure.other,
        branches,
        localised,
        pushes,
        summary,
    })
}

/// Sums of the whole population in each period: what every cell is split against.
struct Totals {
    before: Counts,
    after: Counts,
    /// The factor the period before was scaled by (its counts shown divided by it).
    scale: f64,
}

impl Totals {
    /// The table's totals; an error when a period has nothing to compare (every rate would be
    /// a division by zero).
    fn checked(table: &CellTable, subject: &Subject) -> Result<Totals, ExplainError> {
        let (before, after) = table.totals();
        for (t, p) in [(&before, &subject.vs), (&after, &subject.period)] {
            if t.den.is_nan() || t.den <= 0.0 {
                return Err(ExplainError::Empty {
                    what: subject.den_label.clone(),
                    period: p.label.clone(),
                });
            }
        }
        Ok(Totals {
            before,
            after,
            scale: 1.0,
        })
    }
}

/// The change of one series overall, with its interval and test.
struct Head {
    before: f64,
    after: f64,
    change: f64,
    ci: Option<[f64; 2]>,
    z: Option<f64>,
    significant: bool,
}

fn head(model: Model, t0: &Counts, t1: &Counts, s: usize) -> Head {
    let (before, after) = attribution::overall(t0, t1, s);
    let change = after - before;
    let (ci, z) = match model {
        Model::Binomial => (
            stats::newcombe(t1.num[s], t1.den, t0.num[s], t0.den).map(|(l, u)| [l, u]),
            stats::two_proportion_z(t1.num[s], t1.den, t0.num[s], t0.den),
        ),
        Model::Ratio => {
            let v = |c: &Counts| {
                stats::ratio_variance(c.units, c.den, c.num[s], c.xx, c.xy[s], c.yy[s])
            };
            match (v(t0), v(t1)) {
                (Some(v0), Some(v1)) => {
                    let se = (v0 + v1).sqrt();
                    (
                        Some([change - Z95 * se, change + Z95 * se]),
                        Some(if se > 0.0 { change / se } else { 0.0 }),
                    )
                }
                _ => (None, None),
            }
        }
    };
    Head {
        before,
        after,
        change,
        ci,
        z,
        significant: ci.is_some_and(|[l, u]| l > 0.0 || u < 0.0),
    }
}

// ---- Cells: what gets tested ----------------------------------------------------------------

/// The segments of one dimension: each value with its sums before and after.
type Segments = Vec<(Vec<String>, Counts, Counts)>;

/// Every segment of every dimension, in table order (one aggregation serves every series).
fn segments(table: &CellTable) -> Vec<Segments> {
    (0..table.dimensions.len())
        .map(|di| table.marginal(&[di], |_| true))
        .collect()
}

/// A combination of dimension values where the change of one series concentrates.
struct Combination {
    series: usize,
    found: localise::Found,
}

/// The localised combinations of every series whose change is beyond noise (searching noise
/// finds noise).
fn combinations(table: &CellTable, policy: &Policy, gates: &[Gate]) -> Vec<Combination> {
    (0..table.series)
        .filter(|&s| gates[s].open)
        .flat_map(|s| {
            localise::localise(table, s, policy.min_segment_size)
                .into_iter()
                .map(move |found| Combination { series: s, found })
        })
        .collect()
}

/// Where a tested cell comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A segment of dimension `i`.
    Dimension(usize),
    /// The `k`-th localised combination.
    Localised(usize),
}

/// One cell of one series to test, with its sums in each period.
struct Candidate<'a> {
    series: usize,
    origin: Origin,
    key: SegmentKey,
    before: &'a Counts,
    after: &'a Counts,
    /// Empirical-Bayes shrunk rates before and after (segments of binomial measures).
    shrunk: (Option<f64>, Option<f64>),
    /// For a combination of two or more dimensions: the number of cells the search chose it
    /// from, so that its p-value is corrected for the choice.
    searched: Option<usize>,
}

/// Every segment of every dimension for every series (dimension, then series, then segment).
fn segment_candidates<'a>(table: &CellTable, segments: &'a [Segments]) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    for (di, (dim, segs)) in table.dimensions.iter().zip(segments).enumerate() {
        let pairs: Vec<(&Counts, &Counts)> = segs.iter().map(|(_, b, a)| (b, a)).collect();
        for s in 0..table.series {
            // Shrinkage pools the segments of one dimension of one series.
            let shrunk = attribution::shrink_all(table.model, &pairs, s);
            for ((keys, b, a), sh) in segs.iter().zip(shrunk) {
                out.push(Candidate {
                    series: s,
                    origin: Origin::Dimension(di),
                    key: SegmentKey::single(dim.clone(), keys[0].clone()),
                    before: b,
                    after: a,
                    shrunk: sh,
                    searched: None,
                });
            }
        }
    }
    out
}

/// Every localised combination, re-expressed as the cell against the rest.
fn combination_candidates<'a>(
    table: &CellTable,
    combinations: &'a [Combination],
) -> Vec<Candidate<'a>> {
    combinations
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let f = &c.found;
            let pairs = f
                .dims
                .iter()
                .zip(&f.keys)
                .map(|(&d, v)| (table.dimensions[d].clone(), v.clone()))
                .collect();
            Candidate {
                series: c.series,
                origin: Origin::Localised(k),
                key: SegmentKey::new(pairs).expect("a localised cell has a dimension"),
                before: &f.before,
                after: &f.after,
                shrunk: (None, None),
                // A single segment is the same test as its driver row: nothing to correct.
                searched: (f.dims.len() > 1).then(|| f.searched.max(1)),
            }
        })
        .collect()
}

// ---- Attribution: the mix and rate effect of each cell, with its test -----------------------

/// One effect of one cell of one series, with its test.
#[derive(Debug, Clone)]
struct Cell {
    series: usize,
    origin: Origin,
    key: SegmentKey,
    effect: Effect,
    split: Split,
    assess: Assessment,
    n: (f64, f64),
    /// Wilson 95 % intervals of the cell's rate in each period (binomial measures).
    wilson: (Option<[f64; 2]>, Option<[f64; 2]>),
    shrunk: (Option<f64>, Option<f64>),
    /// Ranking score (on shrunk rates where the model allows).
    score: f64,
    note: Option<String>,
    q: Option<f64>,
    significant: bool,
}

/// The mix and rate cells of every candidate (in candidate order: the order of the
/// significance family and of the pushes), without q-values yet.
fn attribute(
    model: Model,
    policy: &Policy,
    totals: &Totals,
    candidates: &[Candidate],
) -> Vec<Cell> {
    let mut out = Vec::with_capacity(2 * candidates.len());
    for c in candidates {
        let Some(mut pair) = tested_cells(model, policy.min_segment_size, c, totals) else {
            continue;
        };
        // A combination is the best of many searched: correct its p-value for the choice.
        if let Some(searched) = c.searched {
            for cell in &mut pair {
                cell.assess.p = cell.assess.p.map(|p| (p * searched as f64).min(1.0));
            }
        }
        out.extend(pair);
    }
    out
}

/// The mix and the rate cell of one candidate; None when it has no denominator in either
/// period (it contributes nothing).
fn tested_cells(model: Model, min: f64, c: &Candidate, totals: &Totals) -> Option<[Cell; 2]> {
    let (b, a, s) = (c.before, c.after, c.series);
    let (t0, t1) = (&totals.before, &totals.after);
    let sp = attribution::split(b, a, t0, t1, s)?;
    let rate = attribution::assess_rate(model, &sp, b, a, s, min);
    let mix = attribution::assess_mix(model, &sp, (b, a), (t0, t1), s, min);
    let (r0, r1) = attribution::overall(t0, t1, s);
    let (rate_score, mix_score) = attribution::shrunk_scores(&sp, c.shrunk, (r0 + r1) / 2.0);
    let note_for = |effect: Effect, a_: &Assessment| -> Option<String> {
        match (sp.presence, effect) {
            (Presence::New, Effect::Rate) => Some("new segment: all of it is mix".into()),
            (Presence::Vanished, Effect::Rate) => Some("vanished segment: all of it is mix".into()),
            _ if a_.p.is_some() && !a_.eligible => Some(format!(
                "below the minimum segment size ({min:.0} {})",
                if effect == Effect::Rate {
                    "in each period"
                } else {
                    "in one period"
                }
            )),
            _ => None,
        }
    };
    let make = |effect: Effect, assess: Assessment, score: f64| Cell {
        series: s,
        origin: c.origin,
        key: c.key.clone(),
        effect,
        split: sp.clone(),
        note: note_for(effect, &assess),
        assess,
        n: (b.den / totals.scale, a.den),
        wilson: match model {
            Model::Binomial => (
                stats::wilson(b.num[s], b.den).map(|(l, u)| [l, u]),
                stats::wilson(a.num[s], a.den).map(|(l, u)| [l, u]),
            ),
            Model::Ratio => (None, None),
        },
        shrunk: c.shrunk,
        score,
        q: None,
        significant: false,
    };
    Some([
        make(Effect::Mix, mix, mix_score),
        make(Effect::Rate, rate, rate_score),
    ])
}

// ---- Significance: gatekeeping, then one family per dimension --------------------------------

/// A dimension with more segments than this is exploratory, whatever its name.
pub const MAX_PLANNED_SEGMENTS: usize = 50;

/// Whether each dimension is pre-planned (teams, topics, channels) rather than exploratory
/// (agents, or any dimension with more than [`MAX_PLANNED_SEGMENTS`] values).
fn planned_dimensions(table: &CellTable, policy: &Policy) -> Vec<bool> {
    (0..table.dimensions.len())
        .map(|di| {
            let name = &table.dimensions[di];
            let mut values: Vec<&str> = table.leaves.iter().map(|l| l.keys[di].as_str()).collect();
            values.sort_unstable();
            values.dedup();
            !policy.exploratory.iter().any(|e| e == name) && values.len() <= MAX_PLANNED_SEGMENTS
        })
        .collect()
}

/// The level-1 test of one series: did it change at all?
#[derive(Debug, Clone, Copy)]
struct Gate {
    /// Adjusted over the level-1 family.
    q: f64,
    /// `q` below the false-discovery rate: the series' cells may be called significant.
    open: bool,
}

/// The level-1 gates: one per series, and one per pre-planned segment's share of volume.
struct Gates {
    series: Vec<Gate>,
    /// A segment whose share of conversations moved (the same test whatever the branch):
    /// its mix cells may be called significant in every series.
    volume: BTreeMap<SegmentKey, Gate>,
}

/// Level 1 of the hierarchy. The hypothesis of series `s` is "nothing changed in it": neither
/// its overall rate nor the rate of any pre-planned segment; the hypothesis of a pre-planned
/// segment's volume is "its share of conversations did not move". One Benjamini-Hochberg
/// family holds, for each series routed to owners (the branches of a tree; the measure
/// without one), the test of its own change and the rate test of each of its pre-planned
/// segments (teams, topics, channels: a few dozen hypotheses, not the hundreds of agents and
/// combinations), plus one share test per pre-planned segment (a volume shift is the same
/// test in every branch, so it is counted once). A series' gate q is the smallest q among its
/// members; a segment's volume gate is its share test's q. So a change spread over a branch,
/// one concentrated in a segment's rate and one from volume moving into a segment all open a
/// gate, and each pays for the planned family once. Under the complete null (nothing changed
/// anywhere) BH rejects anything, and so any gate opens and anything at all is reported, with
/// probability at most the false-discovery rate. For a tree, the measure's own cells (sums of
/// the branches') are gated by the smallest branch q: the measure changed exactly when some
/// branch did.
fn gates(
    subject: &Subject,
    policy: &Policy,
    totals: &Totals,
    heads: &[Head],
    cells: &[Cell],
    planned: &[bool],
) -> Gates {
    let n = heads.len();
    let level1: Vec<usize> = if subject.tree() {
        (1..n).collect()
    } else {
        vec![0]
    };
    let is_planned =
        |c: &Cell| c.assess.eligible && matches!(c.origin, Origin::Dimension(d) if planned[d]);
    // Members of the level-1 family: a series' own test or one of its segments' rates
    // (Ok(series)), or a segment's share of volume (Err(segment)).
    let mut members: Vec<(Result<usize, &SegmentKey>, f64)> = Vec::new();
    for &s in &level1 {
        members.push((Ok(s), heads[s].z.map(stats::p_two_sided).unwrap_or(1.0)));
        members.extend(
            cells
                .iter()
                .filter(|c| c.series == s && c.effect == Effect::Rate && is_planned(c))
                .filter_map(|c| c.assess.p.map(|p| (Ok(s), p))),
        );
    }
    let (n0, n1) = (totals.before.den, totals.after.den);
    let mut seen: Vec<&SegmentKey> = Vec::new();
    for c in cells
        .iter()
        .filter(|c| c.effect == Effect::Mix && is_planned(c))
    {
        if seen.contains(&&c.key) {
            continue;
        }
        seen.push(&c.key);
        if let Some(p) = share_p(c.split.w0, c.split.w1, n0, n1) {
            members.push((Err(&c.key), p));
        }
    }
    let ps: Vec<f64> = members.iter().map(|m| m.1).collect();
    let mut q = vec![1.0f64; n];
    let mut volume = BTreeMap::new();
    for (&(of, _), qs) in members.iter().zip(stats::bh_qvalues(&ps)) {
        match of {
            Ok(s) => q[s] = q[s].min(qs),
            Err(key) => {
                volume.insert(
                    key.clone(),
                    Gate {
                        q: qs,
                        open: qs < policy.fdr,
                    },
                );
            }
        }
    }
    if subject.tree() {
        q[0] = level1.iter().map(|&s| q[s]).fold(1.0, f64::min);
    }
    let series = q
        .into_iter()
        .map(|q| Gate {
            q,
            open: q < policy.fdr,
        })
        .collect();
    Gates { series, volume }
}

/// Two-sided p-value of "a segment's share of conversations did not move": the pooled
/// two-proportion z-test of share `w0` of `n0` conversations against `w1` of `n1`.
fn share_p(w0: f64, w1: f64, n0: f64, n1: f64) -> Option<f64> {
    if !(n0 > 0.0 && n1 > 0.0) {
        return None;
    }
    let pooled = (w0 * n0 + w1 * n1) / (n0 + n1);
    let se = (pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1)).sqrt();
    (se > 0.0).then(|| stats::p_two_sided((w1 - w0) / se))
}

/// Level 2: behind each open gate, one Benjamini-Hochberg family per dimension of the series
/// (pre-planned dimensions one each; exploratory ones such as agents one each) and one for the
/// series' localised cells (whose combinations are already corrected for the search). A cell's
/// q is the larger of its family's q and its gate's q, so it is significant exactly when its
/// gate is open and it passes within its family. Cells below the minimum size take no part.
fn assign_significance(cells: &mut [Cell], gates: &Gates, fdr: f64) {
    let mut families: BTreeMap<(usize, Option<usize>), Vec<usize>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        if !(c.assess.eligible && c.assess.p.is_some()) {
            continue;
        }
        let family = match c.origin {
            Origin::Dimension(d) => Some(d),
            Origin::Localised(_) => None,
        };
        families.entry((c.series, family)).or_default().push(i);
    }
    for ((series, _), members) in families {
        let ps: Vec<f64> = members
            .iter()
            .map(|&i| cells[i].assess.p.unwrap_or(1.0))
            .collect();
        for (&i, q) in members.iter().zip(stats::bh_qvalues(&ps)) {
            // A mix cell also stands behind its segment's volume gate.
            let mut gate = gates.series[series];
            if cells[i].effect == Effect::Mix {
                if let Some(v) = gates.volume.get(&cells[i].key) {
                    if v.q < gate.q {
                        gate = *v;
                    }
                }
            }
            cells[i].q = Some(q.max(gate.q));
            cells[i].significant = gate.open && q < fdr;
        }
    }
}

// ---- Localisation ---------------------------------------------------------------------------

/// The localised combinations with the tests of their mix and rate effects.
fn localised(subject: &Subject, combinations: &[Combination], cells: &[Cell]) -> Vec<Localised> {
    combinations
        .iter()
        .enumerate()
        .filter_map(|(k, l)| {
            let pick = |e: Effect| {
                cells
                    .iter()
                    .find(|c| c.origin == Origin::Localised(k) && c.effect == e)
            };
            let (mix, rate) = (pick(Effect::Mix)?, pick(Effect::Rate)?);
            let test = |c: &Cell| EffectTest {
                contribution: c.assess.contribution,
                ci: c.assess.ci.map(|(l, u)| [l, u]),
                z: c.assess.z,
                q: c.q,
                significant: c.significant,
            };
            Some(Localised {
                cause: subject.branch(l.series),
                cells: mix.key.to_map(),
                contribution: mix.assess.contribution + rate.assess.contribution,
                mix: test(mix),
                rate: test(rate),
                explanatory_power: l.found.explanatory_power,
                surprise: l.found.surprise,
                rate_before: mix.split.r0,
                rate_after: mix.split.r1,
                share_before: mix.split.w0,
                share_after: mix.split.w1,
                n_before: mix.n.0,
                n_after: mix.n.1,
                significant: mix.significant || rate.significant,
            })
        })
        .collect()
}

// ---- Routing --------------------------------------------------------------------------------

/// Pushes: the significant cells of the branches (of the measure itself without a tree), one
/// per recipient, largest first. A cell found both as a segment and as a localised cell goes
/// to each owner once.
fn route(subject: &Subject, policy: &Policy, totals: &Totals, cells: &[Cell]) -> Vec<Push> {
    let tree = subject.tree();
    let mut pushes: Vec<Push> = Vec::new();
    for c in cells.iter().filter(|c| c.significant) {
        if tree == (c.series == 0) {
            continue;
        }
        let (Some((l, u)), Some(z), Some(q)) = (c.assess.ci, c.assess.z, c.q) else {
            continue;
        };
        let branch = subject.branch(c.series);
        let what = what(subject, totals, c, branch);
        for (owner, role) in policy.routing.recipients(branch, c.effect, tree, &c.key) {
            let dup = pushes.iter().any(|p| {
                p.owner.email == owner.email
                    && p.branch == branch
                    && p.key == c.key
                    && p.effect == c.effect
            });
            if dup {
                continue;
            }
            pushes.push(Push {
                owner,
                role,
                metric: subject.metric.clone(),
                branch,
                key: c.key.clone(),
                effect: c.effect,
                change: c.assess.contribution,
                ci: [l, u],
                z,
                q,
                what: what.clone(),
            });
        }
    }
    pushes.sort_by(|a, b| {
        b.change
            .abs()
            .total_cmp(&a.change.abs())
            .then(a.owner.id.cmp(&b.owner.id))
            .then(a.key.cmp_values(&b.key))
    });
    pushes
}

/// The cell in words: "topic billing landing on General Support first".
fn what(subject: &Subject, totals: &Totals, c: &Cell, branch: Option<Cause>) -> String {
    let (r0, r1) = attribution::overall(&totals.before, &totals.after, c.series);
    // A new or vanished segment's rate is its rate in the period it has.
    let rb = |r: Option<f64>, o: Option<f64>| r.or(o).unwrap_or(0.0);
    let r_bar = (rb(c.split.r0, c.split.r1) + rb(c.split.r1, c.split.r0)) / 2.0;
    summary::phrase(
        c.effect,
        c.key.pairs(),
        branch,
        &subject.short,
        c.assess.contribution > 0.0,
        c.split.w1 > c.split.w0,
        r_bar > (r0 + r1) / 2.0,
    )
}

// ---- Drivers: the ranked split of each series -----------------------------------------------

/// The drivers of one series and, per dimension, the change not in the rows shown.
struct RankedDrivers {
    drivers: Vec<Driver>,
    other: BTreeMap<String, f64>,
}

/// The segments of series `s`, per dimension ranked (significant first, then by score) and
/// pruned to `max_drivers`, with the "everything else" that makes each dimension add up to
/// `change`.
fn ranked_drivers(
    table: &CellTable,
    subject: &Subject,
    policy: &Policy,
    cells: &[Cell],
    s: usize,
    change: f64,
) -> RankedDrivers {
    let mut drivers = Vec::new();
    let mut other = BTreeMap::new();
    for (di, dim) in table.dimensions.iter().enumerate() {
        let mut mine: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.series == s && c.origin == Origin::Dimension(di))
            .collect();
        // Significant cells by what their effect is at least (the end of its interval nearest
        // zero): a clear mid-sized effect ranks above a large one that barely passed, which
        // is often noise the open gate let through. The rest by their shrunk effect.
        mine.sort_by(|a, b| {
            b.significant
                .cmp(&a.significant)
                .then(if a.significant && b.significant {
                    at_least(b).total_cmp(&at_least(a))
                } else {
                    std::cmp::Ordering::Equal
                })
                .then(b.score.abs().total_cmp(&a.score.abs()))
                .then(
                    b.assess
                        .contribution
                        .abs()
                        .total_cmp(&a.assess.contribution.abs()),
                )
                .then(a.key.cmp(&b.key))
                .then(a.effect.cmp(&b.effect))
        });
        let shown: Vec<&Cell> = mine.into_iter().take(policy.max_drivers).collect();
        let sum: f64 = shown.iter().map(|c| c.assess.contribution).sum();
        other.insert(dim.clone(), change - sum);
        drivers.extend(shown.into_iter().map(|c| driver(subject, policy, c)));
    }
    RankedDrivers { drivers, other }
}

/// The smallest size a cell's effect has within its 95 % interval (0 when it spans zero).
fn at_least(c: &Cell) -> f64 {
    match c.assess.ci {
        Some((l, _)) if l > 0.0 => l,
        Some((_, u)) if u < 0.0 => -u,
        Some(_) => 0.0,
        None => c.assess.contribution.abs(),
    }
}

fn driver(subject: &Subject, policy: &Policy, c: &Cell) -> Driver {
    Driver {
        key: c.key.clone(),
        effect: c.effect,
        contribution: c.assess.contribution,
        ci: c.assess.ci.map(|(l, u)| [l, u]),
        z: c.assess.z,
        q: c.q,
        significant: c.significant,
        owner: policy
            .routing
            .primary(subject.branch(c.series), c.effect, subject.tree())
            .map(|o| o.id.clone()),
        rate_before: c.split.r0,
        rate_after: c.split.r1,
        rate_ci_before: c.wilson.0,
        rate_ci_after: c.wilson.1,
        shrunk_rate_before: c.shrunk.0,
        shrunk_rate_after: c.shrunk.1,
        share_before: c.split.w0,
        share_after: c.split.w1,
        n_before: c.n.0,
        n_after: c.n.1,
        note: c.note.clone(),
    }
}

/// Every branch of the tree with its headline and ranked drivers.
fn branches(
    table: &CellTable,
    subject: &Subject,
    policy: &Policy,
    heads: &[Head],
    cells: &[Cell],
) -> Vec<Branch> {
    subject
        .branches
        .iter()
        .enumerate()
        .map(|(i, &cause)| {
            let s = i + 1;
            let h = &heads[s];
            let ranked = ranked_drivers(table, subject, policy, cells, s, h.change);
            Branch {
                cause,
                owner: policy.routing.branch_owner(cause).clone(),
                before: h.before,
                after: h.after,
                change: h.change,
                ci: h.ci,
                z: h.z,
                significant: h.significant,
                drivers: ranked.drivers,
                other: ranked.other,
            }
        })
        .collect()
}

// ---- Leads: where most of a change sits when nothing passes the checks -----------------------

/// A lead must be this clear of noise on its own (|z|), ...
pub const LEAD_Z: f64 = 3.0;
/// ... and carry at least this share of its series' change, in either direction (more than
/// all of it when the rest moved the other way; against it when the segment moved the other
/// way from the whole). The series' own change need not be clear of noise: a segment that
/// moved while the rest offset it is what an owner should check.
pub const LEAD_SHARE: f64 = 0.5;

/// Per series: the pre-planned segment effects that carry most of the change when their own
/// test is clear of noise but not significant after the hierarchy (the change is then named as
/// a lead, never pushed or flagged): the clearest, and the clearest of another dimension moving
/// the same way (correlated segments such as topic billing and team Billing both show).
fn leads(
    subject: &Subject,
    totals: &Totals,
    heads: &[Head],
    cells: &[Cell],
    planned: &[bool],
) -> Vec<Vec<summary::Lead>> {
    (0..heads.len())
        .map(|s| {
            let h = &heads[s];
            if h.change == 0.0 {
                return vec![];
            }
            let candidates: Vec<&Cell> = cells
                .iter()
                .filter(|c| {
                    c.series == s
                        && !c.significant
                        && c.assess.eligible
                        && matches!(c.origin, Origin::Dimension(d) if planned[d])
                        && c.assess.z.is_some_and(|z| z.abs() >= LEAD_Z)
                        && ((c.assess.contribution / h.change).abs() >= LEAD_SHARE
                            // A real change that no segment passes: its clearest segment
                            // moving with it is the place to look, whatever its share.
                            || (h.significant && c.assess.contribution * h.change > 0.0))
                })
                .collect();
            // A segment moving with the change first, then the clearest.
            let key = |c: &Cell| {
                (
                    c.assess.contribution * h.change > 0.0,
                    c.assess.z.unwrap_or(0.0).abs(),
                )
            };
            let order = |a: &&Cell, b: &&Cell| {
                let (x, y) = (key(a), key(b));
                x.0.cmp(&y.0).then(x.1.total_cmp(&y.1))
            };
            let Some(first) = candidates.iter().copied().max_by(order) else {
                return vec![];
            };
            let second = candidates
                .iter()
                .copied()
                .filter(|c| {
                    c.origin != first.origin
                        && c.assess.contribution * first.assess.contribution > 0.0
                })
                .max_by(order);
            std::iter::once(first)
                .chain(second)
                .map(|c| summary::Lead {
                    what: what(subject, totals, c, subject.branch(s)),
                    contribution: c.assess.contribution,
                    z: c.assess.z.unwrap_or(0.0),
                })
                .collect()
        })
        .collect()
}

// ---- Summaries ------------------------------------------------------------------------------

/// The pushes of one owner about one series (None: the measure), team-lead copies aside, in
/// their order (largest first).
fn owned<'a>(
    pushes: &'a [Push],
    email: &str,
    branch: Option<Cause>,
) -> impl Iterator<Item = &'a Push> + use<'a> {
    let email = email.to_owned();
    pushes.iter().filter(move |p| {
        p.owner.email == email && p.branch == branch && p.role != super::explanation::Role::TeamLead
    })
}

/// One sentence per owner: branch owners about their branch, the mix owner (and, without a
/// tree, everyone pushed to) about the measure, team leads about their team's largest cell.
fn summarise(
    subject: &Subject,
    policy: &Policy,
    heads: &[Head],
    pushes: &[Push],
    leads: &[Vec<summary::Lead>],
) -> BTreeMap<String, String> {
    let percent = subject.percent;
    let mut out = BTreeMap::new();
    let headline = |s: usize| {
        let h = &heads[s];
        Headline {
            label: if s == 0 {
                subject.label.clone()
            } else {
                subject.branch_labels[s - 1].clone()
            },
            change: h.change,
            ci: h.ci,
            significant: h.significant,
            percent,
        }
    };
    // The owner's largest push in this series, in the direction of its change (pushes within
    // 5 % of the largest count as tied and the strongest evidence, |z|, wins); a localised
    // combination (the most specific answer) wins if it carries at least 80 % of that.
    let top = |email: &str, branch: Option<Cause>, change: f64| {
        let mine: Vec<&Push> = owned(pushes, email, branch)
            .filter(|p| p.change * change > 0.0)
            .collect();
        let largest = mine.first().copied()?;
        let best = mine
            .iter()
            .copied()
            .filter(|p| p.change.abs() >= 0.95 * largest.change.abs())
            .max_by(|a, b| a.z.abs().total_cmp(&b.z.abs()))
            .unwrap_or(largest);
        mine.iter()
            .copied()
            .find(|p| p.key.is_combination() && p.change.abs() >= 0.8 * best.change.abs())
            .or(Some(best))
    };
    // Correlated segments of other dimensions (topic billing and the team it lands on) can
    // both pass: the strongest other one is named too, so the owner sees both. Either
    // direction: a segment that moved against the whole is named as such. Among them,
    // pre-planned dimensions (teams, topics, channels) before exploratory ones. A segment of
    // the same dimension that moved against the named one is named too (team Technical up
    // while team General Support fell). Without a push moving with the change, the clearest
    // push against it is named as such rather than left out.
    let planned_key = |p: &Push| {
        p.key
            .pairs()
            .iter()
            .all(|(d, _)| !policy.exploratory.iter().any(|e| e == d.as_str()))
    };
    let also = |email: &str, branch: Option<Cause>, t: Option<&Push>, change: f64| {
        owned(pushes, email, branch)
            .filter(|p| match t {
                Some(t) => {
                    !p.key.pairs().iter().any(|kv| t.key.pairs().contains(kv))
                        && (p.key.dimensions().to_string() != t.key.dimensions().to_string()
                            || p.change * t.change < 0.0)
                }
                None => p.change * change <= 0.0,
            })
            .max_by(|a, b| {
                (planned_key(a), a.z.abs())
                    .partial_cmp(&(planned_key(b), b.z.abs()))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    };
    let mut covered: Vec<String> = Vec::new();
    for (i, &cause) in subject.branches.iter().enumerate() {
        let owner = policy.routing.branch_owner(cause);
        if covered.contains(&owner.email) {
            continue;
        }
        // An owner of several branches hears about the one that moved most.
        let s = subject
            .branches
            .iter()
            .enumerate()
            .filter(|(_, c)| policy.routing.branch_owner(**c).email == owner.email)
            .map(|(j, _)| j + 1)
            .max_by(|&a, &b| heads[a].change.abs().total_cmp(&heads[b].change.abs()))
            .unwrap_or(i + 1);
        let h = headline(s);
        let branch = Some(subject.branches[s - 1]);
        let t = top(&owner.email, branch, h.change);
        let also = also(&owner.email, branch, t, h.change);
        out.insert(
            owner.id.to_string(),
            summary::with_also(&h, summary::sentence_with_lead(&h, t, &leads[s]), also),
        );
        covered.push(owner.email.clone());
    }
    let mut measure_owners = vec![policy.routing.mix_owner().clone()];
    if subject.branches.is_empty() {
        for p in pushes
            .iter()
            .filter(|p| p.role != super::explanation::Role::TeamLead)
        {
            if !measure_owners.iter().any(|o| o.email == p.owner.email) {
                measure_owners.push(p.owner.clone());
            }
        }
    }
    for o in measure_owners {
        if covered.contains(&o.email) {
            continue;
        }
        let h = headline(0);
        let t = top(&o.email, None, h.change);
        let lead: &[summary::Lead] = if subject.tree() { &[] } else { &leads[0] };
        let also = also(&o.email, None, t, h.change);
        out.insert(
            o.id.to_string(),
            summary::with_also(&h, summary::sentence_with_lead(&h, t, lead), also),
        );
        covered.push(o.email.clone());
    }
    for p in pushes
        .iter()
        .filter(|p| p.role == super::explanation::Role::TeamLead)
    {
        if covered.contains(&p.owner.email) {
            continue;
        }
        let team = p.key.value_of(TEAM_DIMENSION).unwrap_or_default();
        let of_what = match p.branch {
            Some(c) => subject
                .branches
                .iter()
                .position(|x| *x == c)
                .map(|i| subject.branch_labels[i].clone())
                .unwrap_or_else(|| subject.label.clone()),
            None => subject.label.clone(),
        };
        out.insert(
            p.owner.id.to_string(),
            summary::team_sentence(team, p, &of_what, percent),
        );
        covered.push(p.owner.email.clone());
    }
    out
}
