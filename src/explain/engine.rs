//! From finest cells to an [`Explanation`]: headline changes, the split of every series
//! (measure and branches) along every dimension, localisation, one Benjamini-Hochberg pass
//! over every test, ranking, pruning with an "everything else" row, routing and sentences.

use super::attribution::{self, Assessment, Presence, Split};
use super::cells::{CellTable, Counts, Model};
use super::explanation::{
    Branch, Driver, Effect, EffectTest, Explanation, Localised, PeriodRef, Push,
};
use super::localise;
use super::route::{Routing, TEAM_DIMENSION};
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
}

impl Policy {
    pub fn from_config(cfg: &Config) -> Policy {
        Policy {
            min_segment_size: cfg.explain.min_segment_size as f64,
            fdr: cfg.explain.fdr,
            max_drivers: cfg.explain.max_drivers,
            routing: Routing::from_config(cfg),
        }
    }
}

/// Where a tested cell comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A segment of dimension `i`.
    Dimension(usize),
    /// The `k`-th localised cell.
    Localised(usize),
}

/// One effect of one cell of one series, with its test.
#[derive(Debug, Clone)]
struct Cell {
    series: usize,
    origin: Origin,
    /// (dimension, value) in table order.
    cells: Vec<(String, String)>,
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

/// A localised cell before its tests are turned into q-values.
struct LocalCell {
    series: usize,
    found: localise::Found,
}

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

#[allow(clippy::too_many_arguments)]
fn tested_cells(
    table: &CellTable,
    policy: &Policy,
    s: usize,
    origin: Origin,
    cells: Vec<(String, String)>,
    b: &Counts,
    a: &Counts,
    shrunk: (Option<f64>, Option<f64>),
    totals: (&Counts, &Counts),
) -> Option<[Cell; 2]> {
    let (t0, t1) = totals;
    let sp = attribution::split(b, a, t0, t1, s)?;
    let min = policy.min_segment_size;
    let rate = attribution::assess_rate(table.model, &sp, b, a, s, min);
    let mix = attribution::assess_mix(table.model, &sp, (b, a), (t0, t1), s, min);
    let (r0, r1) = attribution::overall(t0, t1, s);
    let (rate_score, mix_score) = attribution::shrunk_scores(&sp, shrunk, (r0 + r1) / 2.0);
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
        origin,
        cells: cells.clone(),
        effect,
        split: sp.clone(),
        note: note_for(effect, &assess),
        assess,
        n: (b.den, a.den),
        wilson: match table.model {
            Model::Binomial => (
                stats::wilson(b.num[s], b.den).map(|(l, u)| [l, u]),
                stats::wilson(a.num[s], a.den).map(|(l, u)| [l, u]),
            ),
            Model::Ratio => (None, None),
        },
        shrunk,
        score,
        q: None,
        significant: false,
    };
    Some([
        make(Effect::Mix, mix, mix_score),
        make(Effect::Rate, rate, rate_score),
    ])
}

/// Builds the explanation of `table` (series 0 the measure, 1.. its branches).
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
    let (t0, t1) = table.totals();
    for (t, p) in [(&t0, &subject.vs), (&t1, &subject.period)] {
        if t.den.is_nan() || t.den <= 0.0 {
            return Err(ExplainError::Empty {
                what: subject.den_label.clone(),
                period: p.label.clone(),
            });
        }
    }
    let tree = !subject.branches.is_empty();
    let heads: Vec<Head> = (0..table.series)
        .map(|s| head(table.model, &t0, &t1, s))
        .collect();

    // Every segment of every dimension, for every series.
    let mut all: Vec<Cell> = Vec::new();
    for (di, dim) in table.dimensions.iter().enumerate() {
        let segs = table.marginal(&[di], |_| true);
        let pairs: Vec<(&Counts, &Counts)> = segs.iter().map(|(_, b, a)| (b, a)).collect();
        for s in 0..table.series {
            let shrunk = attribution::shrink_all(table.model, &pairs, s);
            for ((keys, b, a), sh) in segs.iter().zip(shrunk) {
                let cells = vec![(dim.clone(), keys[0].clone())];
                if let Some(pair) = tested_cells(
                    table,
                    policy,
                    s,
                    Origin::Dimension(di),
                    cells,
                    b,
                    a,
                    sh,
                    (&t0, &t1),
                ) {
                    all.extend(pair);
                }
            }
        }
    }

    // Localisation of every series, re-expressed as the cell against the rest.
    let mut locals: Vec<LocalCell> = Vec::new();
    // Only a change beyond noise is worth localising: searching noise finds noise.
    for s in (0..table.series).filter(|&s| heads[s].significant) {
        for found in localise::localise(table, s, policy.min_segment_size) {
            let k = locals.len();
            let cells: Vec<(String, String)> = found
                .dims
                .iter()
                .zip(&found.keys)
                .map(|(&d, v)| (table.dimensions[d].clone(), v.clone()))
                .collect();
            if let Some(mut pair) = tested_cells(
                table,
                policy,
                s,
                Origin::Localised(k),
                cells,
                &found.before,
                &found.after,
                (None, None),
                (&t0, &t1),
            ) {
                // A combination is the best of many searched: correct its p-value for the
                // choice. A single segment is the same test as its driver row.
                if found.dims.len() > 1 {
                    for c in &mut pair {
                        c.assess.p = c
                            .assess
                            .p
                            .map(|p| (p * found.searched.max(1) as f64).min(1.0));
                    }
                }
                all.extend(pair);
            }
            locals.push(LocalCell { series: s, found });
        }
    }

    // One Benjamini-Hochberg family: every tested cell large enough to count.
    let family: Vec<usize> = (0..all.len())
        .filter(|&i| all[i].assess.eligible && all[i].assess.p.is_some())
        .collect();
    let ps: Vec<f64> = family
        .iter()
        .map(|&i| all[i].assess.p.unwrap_or(1.0))
        .collect();
    for (&i, q) in family.iter().zip(stats::bh_qvalues(&ps)) {
        all[i].q = Some(q);
        all[i].significant = q < policy.fdr;
    }

    let branch_of = |s: usize| (s > 0).then(|| subject.branches[s - 1]);
    let to_driver = |c: &Cell| -> Driver {
        let dimension = c
            .cells
            .iter()
            .map(|x| x.0.as_str())
            .collect::<Vec<_>>()
            .join(" & ");
        let segment = c
            .cells
            .iter()
            .map(|x| x.1.as_str())
            .collect::<Vec<_>>()
            .join(" & ");
        Driver {
            dimension,
            segment,
            effect: c.effect,
            contribution: c.assess.contribution,
            ci: c.assess.ci.map(|(l, u)| [l, u]),
            z: c.assess.z,
            q: c.q,
            significant: c.significant,
            owner: policy
                .routing
                .primary(branch_of(c.series), c.effect, tree)
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
    };

    // Ranked, pruned drivers of one series with the "everything else" per dimension.
    let drivers_of = |s: usize| -> (Vec<Driver>, BTreeMap<String, f64>) {
        let mut drivers = Vec::new();
        let mut other = BTreeMap::new();
        for (di, dim) in table.dimensions.iter().enumerate() {
            let mut cells: Vec<&Cell> = all
                .iter()
                .filter(|c| c.series == s && c.origin == Origin::Dimension(di))
                .collect();
            cells.sort_by(|a, b| {
                b.significant
                    .cmp(&a.significant)
                    .then(b.score.abs().total_cmp(&a.score.abs()))
                    .then(
                        b.assess
                            .contribution
                            .abs()
                            .total_cmp(&a.assess.contribution.abs()),
                    )
                    .then(a.cells.cmp(&b.cells))
                    .then(a.effect.cmp(&b.effect))
            });
            let shown: Vec<&Cell> = cells.into_iter().take(policy.max_drivers).collect();
            let sum: f64 = shown.iter().map(|c| c.assess.contribution).sum();
            other.insert(dim.clone(), heads[s].change - sum);
            drivers.extend(shown.into_iter().map(to_driver));
        }
        (drivers, other)
    };

    // Pushes: significant cells of the branches (of the measure itself without a tree).
    let mut pushes: Vec<Push> = Vec::new();
    for c in all.iter().filter(|c| c.significant) {
        if tree == (c.series == 0) {
            continue;
        }
        let branch = branch_of(c.series);
        let map: BTreeMap<String, String> = c.cells.iter().cloned().collect();
        let (r0, r1) = attribution::overall(&t0, &t1, c.series);
        let rb = |r: Option<f64>, o: Option<f64>| r.or(o).unwrap_or(0.0);
        let r_bar = (rb(c.split.r0, c.split.r1) + rb(c.split.r1, c.split.r0)) / 2.0;
        let what = summary::phrase(
            c.effect,
            &c.cells,
            branch,
            &subject.short,
            c.assess.contribution > 0.0,
            c.split.w1 > c.split.w0,
            r_bar > (r0 + r1) / 2.0,
        );
        let (Some((l, u)), Some(z), Some(q)) = (c.assess.ci, c.assess.z, c.q) else {
            continue;
        };
        for (owner, role) in policy.routing.recipients(branch, c.effect, tree, &map) {
            let dup = pushes.iter().any(|p| {
                p.owner.email == owner.email
                    && p.branch == branch
                    && p.cells == map
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
                dimension: c
                    .cells
                    .iter()
                    .map(|x| x.0.as_str())
                    .collect::<Vec<_>>()
                    .join(" & "),
                segment: c
                    .cells
                    .iter()
                    .map(|x| x.1.as_str())
                    .collect::<Vec<_>>()
                    .join(" & "),
                cells: map.clone(),
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
            .then(a.segment.cmp(&b.segment))
    });

    let localised: Vec<Localised> = locals
        .iter()
        .enumerate()
        .filter_map(|(k, l)| {
            let pick = |e: Effect| {
                all.iter()
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
                cause: branch_of(l.series),
                cells: mix.cells.iter().cloned().collect(),
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
        .collect();

    let summary = summarise(subject, policy, &heads, &pushes);

    let (drivers, other) = drivers_of(0);
    let branches = tree.then(|| {
        subject
            .branches
            .iter()
            .enumerate()
            .map(|(i, &cause)| {
                let s = i + 1;
                let (drivers, other) = drivers_of(s);
                let h = &heads[s];
                Branch {
                    cause,
                    owner: policy.routing.branch_owner(cause).clone(),
                    before: h.before,
                    after: h.after,
                    change: h.change,
                    ci: h.ci,
                    z: h.z,
                    significant: h.significant,
                    drivers,
                    other,
                }
            })
            .collect()
    });
    let h = &heads[0];
    Ok(Explanation {
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
        n_before: t0.den,
        n_after: t1.den,
        dimensions: table.dimensions.clone(),
        drivers,
        other,
        branches,
        localised,
        pushes,
        summary,
    })
}

/// One sentence per owner: branch owners about their branch, the mix owner (and, without a
/// tree, everyone pushed to) about the measure, team leads about their team's largest cell.
fn summarise(
    subject: &Subject,
    policy: &Policy,
    heads: &[Head],
    pushes: &[Push],
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
    // The owner's largest push in this series, in the direction of its change; a localised
    // combination (the most specific answer) wins if it carries at least 80 % of that.
    let top = |email: &str, branch: Option<Cause>, change: f64| {
        let mine: Vec<&Push> = pushes
            .iter()
            .filter(|p| {
                p.owner.email == email
                    && p.branch == branch
                    && p.role != super::explanation::Role::TeamLead
                    && p.change * change > 0.0
            })
            .collect();
        let best = mine.first().copied()?;
        mine.iter()
            .copied()
            .find(|p| p.cells.len() > 1 && p.change.abs() >= 0.8 * best.change.abs())
            .or(Some(best))
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
        let t = top(&owner.email, Some(subject.branches[s - 1]), h.change);
        out.insert(owner.id.to_string(), summary::sentence(&h, t));
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
        out.insert(o.id.to_string(), summary::sentence(&h, t));
        covered.push(o.email.clone());
    }
    for p in pushes
        .iter()
        .filter(|p| p.role == super::explanation::Role::TeamLead)
    {
        if covered.contains(&p.owner.email) {
            continue;
        }
        let team = p.cells.get(TEAM_DIMENSION).cloned().unwrap_or_default();
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
            summary::team_sentence(&team, p, &of_what, percent),
        );
        covered.push(p.owner.email.clone());
    }
    out
}
