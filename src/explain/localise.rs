//! Where exactly: the cells (one segment, or a combination such as team=Billing & channel=chat)
//! where a change concentrates (METHODS.md part A), in the spirit of Adtributor (explanatory
//! power, surprise), Squeeze and RiskLoc (deviation scores over leaves, a search that prefers
//! succinct cells), for rates.
//!
//! Everything is on shares and rates, so scaling one period's counts by any factor changes
//! nothing (the engine also reads the period compared against at the explained period's volume):
//!
//! - **Contribution** of a cell `C`, additive over the finest cells (leaves):
//!   `c_C = W1_C (R1_C - R0) - W0_C (R0_C - R0)` with `W` its share of the denominator, `R_C` its
//!   rate and `R0` the overall rate before. It is the cell's rate change plus the volume that
//!   moved into it weighted by how far its rate sits from the overall one; over any partition the
//!   contributions add up to the change `R1 - R0` exactly. Rate changes and volume moves count
//!   alike (a misrouted topic shows up as volume landing on the wrong team).
//! - **Deviation** (the score): `z_C = c_C / se(c_C)`, with the sampling variance of the sum of
//!   `y - R0 x` over the cell's units in each period (binomial or ratio alike), i.e. how surprising
//!   the cell's contribution is for its size. A cell that moved uniformly scores higher than any of
//!   its children (more data, same shift); a child that moved alone scores higher than its parent
//!   (the rest of the parent only adds noise).
//! - **Succinctness**: each cell pays a description cost `2 ln(number of dimension sets of its
//!   size) + 2 ln(number of cells in its layer)` (the Bonferroni cost of picking it out of its
//!   layer, in chi-square units), so a combination must beat its parents by more than the extra
//!   choice it needs. The best cell by `z² - cost` is taken when the excess is at least
//!   [`MIN_EXCESS`].
//! - **Narrowing only when due**: a chosen cell is widened to a parent (one dimension fewer)
//!   unless the rest of the parent did not move the same way: its contribution falls short of
//!   what the cell's shift per unit of share would give it by [`REST_Z`] standard errors or
//!   more. A segment that moved uniformly is named as a whole; a child is named alone only when
//!   the data say its siblings stayed put.
//! - **Several causes**: the chosen cell's leaves are taken out and the search repeats on the
//!   rest (up to [`MAX_CELLS`] cells, each carrying at least [`MIN_SHARE`] of the change), so two
//!   topics of one dimension (billing and refund) can both be found.
//!
//! The caller re-expresses each cell in mix and rate terms (the cell against the rest).

use super::cells::{CellTable, Counts, Model};
use std::collections::HashMap;

/// A cell's `z² - cost` must reach this to be reported.
pub const MIN_EXCESS: f64 = 3.0;
/// A chosen cell is widened to its parent unless the rest of the parent fell short of moving
/// the same way (the chosen cell's shift per unit of share) by at least this many standard
/// errors.
pub const REST_Z: f64 = 2.0;
/// A cell must carry at least this share of the change.
pub const MIN_SHARE: f64 = 0.05;
pub const MAX_CELLS: usize = 5;

/// A cell found, with its sums in each period net of the cells found before it (so a second
/// cell overlapping the first is tested on what it adds).
#[derive(Debug, Clone)]
pub struct Found {
    /// Dimension indices and the value of each.
    pub dims: Vec<usize>,
    pub keys: Vec<String>,
    /// The cell's contribution as a share of the change (additive over cells).
    pub explanatory_power: f64,
    /// Adtributor's surprise: Jensen-Shannon divergence of the cell's share of the numerator
    /// plus that of the denominator, before vs after.
    pub surprise: f64,
    /// Multi-dimension cells the search could have picked: a cell of two or more dimensions is
    /// the best of this many, so its test is corrected for the choice (Bonferroni).
    pub searched: usize,
    pub before: Counts,
    pub after: Counts,
}

/// One series' sums of a candidate cell in both periods: units, denominator, `Σ (y - R0 x)`
/// and `Σ (y - R0 x)²`.
#[derive(Debug, Clone, Copy, Default)]
struct Light {
    units_b: f64,
    t_b: f64,
    ss_b: f64,
    den_b: f64,
    num_b: f64,
    units_a: f64,
    t_a: f64,
    ss_a: f64,
    den_a: f64,
    num_a: f64,
}

impl Light {
    fn add(&mut self, o: &Light) {
        self.units_b += o.units_b;
        self.t_b += o.t_b;
        self.ss_b += o.ss_b;
        self.den_b += o.den_b;
        self.num_b += o.num_b;
        self.units_a += o.units_a;
        self.t_a += o.t_a;
        self.ss_a += o.ss_a;
        self.den_a += o.den_a;
        self.num_a += o.num_a;
    }

    fn minus(&self, o: &Light) -> Light {
        Light {
            units_b: self.units_b - o.units_b,
            t_b: self.t_b - o.t_b,
            ss_b: self.ss_b - o.ss_b,
            den_b: self.den_b - o.den_b,
            num_b: self.num_b - o.num_b,
            units_a: self.units_a - o.units_a,
            t_a: self.t_a - o.t_a,
            ss_a: self.ss_a - o.ss_a,
            den_a: self.den_a - o.den_a,
            num_a: self.num_a - o.num_a,
        }
    }
}

/// The whole population's sums: what a cell's contribution and variance are read against.
struct Whole {
    /// Denominators and units of each period.
    den_b: f64,
    den_a: f64,
    units_b: f64,
    units_a: f64,
}

impl Whole {
    /// The cell's mean share of the denominator over the two periods.
    fn share(&self, x: &Light) -> f64 {
        (x.den_b / self.den_b + x.den_a / self.den_a) / 2.0
    }

    /// Standard error of a cell's contribution.
    fn se(&self, x: &Light) -> f64 {
        let var = |ss: f64, t: f64, units: f64, den: f64| {
            if units <= 1.0 {
                return 0.0;
            }
            ((ss - t * t / units).max(0.0) * units / (units - 1.0)) / (den * den)
        };
        (var(x.ss_b, x.t_b, self.units_b, self.den_b)
            + var(x.ss_a, x.t_a, self.units_a, self.den_a))
        .sqrt()
    }

    /// `(contribution, z)` of a cell.
    fn score(&self, x: &Light) -> (f64, f64) {
        let c = x.t_a / self.den_a - x.t_b / self.den_b;
        let se = self.se(x);
        let z = if se > 0.0 {
            c / se
        } else if c == 0.0 {
            0.0
        } else {
            c.signum() * 1e6
        };
        (c, z)
    }
}

/// Candidate cells of one set of dimensions, over the leaves not yet taken: each with a
/// representative leaf (to read its values) and its sums.
struct Layer {
    dims: Vec<usize>,
    cells: Vec<(usize, Light)>,
    index: HashMap<u128, usize>,
}

/// Interned value ids of every leaf in every dimension, so cells are keyed by integers.
fn intern(table: &CellTable) -> Vec<Vec<u32>> {
    let mut maps: Vec<HashMap<&str, u32>> = vec![HashMap::new(); table.dimensions.len()];
    table
        .leaves
        .iter()
        .map(|l| {
            l.keys
                .iter()
                .zip(maps.iter_mut())
                .map(|(k, m)| {
                    let next = m.len() as u32;
                    *m.entry(k.as_str()).or_insert(next)
                })
                .collect()
        })
        .collect()
}

fn key_of(ids: &[u32], dims: &[usize]) -> u128 {
    // At most three dimensions of 32-bit ids (plus a marker bit each): an exact key.
    dims.iter()
        .fold(0u128, |k, &d| (k << 40) | (1u128 << 39) | ids[d] as u128)
}

fn layer(ids: &[Vec<u32>], lights: &[Light], dims: &[usize], taken: &[bool]) -> Layer {
    let mut index: HashMap<u128, usize> = HashMap::new();
    let mut cells: Vec<(usize, Light)> = Vec::new();
    for (i, x) in lights.iter().enumerate() {
        if taken[i] {
            continue;
        }
        let c = *index.entry(key_of(&ids[i], dims)).or_insert_with(|| {
            cells.push((i, Light::default()));
            cells.len() - 1
        });
        cells[c].1.add(x);
    }
    Layer {
        dims: dims.to_vec(),
        cells,
        index,
    }
}

/// Every set of up to `depth` dimension indices out of `n`, smallest first.
fn subsets(n: usize, depth: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![vec![]];
    let mut all = Vec::new();
    for _ in 0..depth {
        let mut next = Vec::new();
        for s in &out {
            let from = s.last().map(|x| x + 1).unwrap_or(0);
            for d in from..n {
                let mut t = s.clone();
                t.push(d);
                next.push(t);
            }
        }
        all.extend(next.iter().cloned());
        out = next;
    }
    all
}

fn js(p: f64, q: f64) -> f64 {
    let term = |a: f64, m: f64| if a > 0.0 { a * (a / m).ln() } else { 0.0 };
    let m = (p + q) / 2.0;
    if m <= 0.0 {
        return 0.0;
    }
    0.5 * (term(p, m) + term(q, m))
}

fn ln_choose(n: usize, k: usize) -> f64 {
    (0..k).map(|i| ((n - i) as f64 / (i + 1) as f64).ln()).sum()
}

/// Finds where the change of series `s` concentrates. `min_units`: a cell needs this many units
/// in at least one period to be considered.
pub fn localise(table: &CellTable, s: usize, min_units: f64) -> Vec<Found> {
    let (t0, t1) = table.totals();
    let (r0, r1) = (t0.num[s] / t0.den, t1.num[s] / t1.den);
    let delta = r1 - r0;
    let n_dims = table.dimensions.len();
    if !r0.is_finite() || !r1.is_finite() || delta.abs() <= 1e-12 || n_dims == 0 {
        return vec![];
    }
    // Three-way cells for up to six dimensions; wider tables stop at pairs.
    let depth = if n_dims <= 6 { n_dims.min(3) } else { 2 };
    let sets = subsets(n_dims, depth);
    let ids = intern(table);
    let light = |c: &Counts| -> (f64, f64) {
        let t = c.num[s] - r0 * c.den;
        let ss = match table.model {
            // 0/1 outcomes of unit weight: Σy² = Σxy = Σy, Σx² = Σx.
            Model::Binomial => c.num[s] - 2.0 * r0 * c.num[s] + r0 * r0 * c.den,
            Model::Ratio => c.yy[s] - 2.0 * r0 * c.xy[s] + r0 * r0 * c.xx,
        };
        (t, ss.max(0.0))
    };
    let lights: Vec<Light> = table
        .leaves
        .iter()
        .map(|l| {
            let (t_b, ss_b) = light(&l.before);
            let (t_a, ss_a) = light(&l.after);
            Light {
                units_b: l.before.units,
                t_b,
                ss_b,
                den_b: l.before.den,
                num_b: l.before.num[s],
                units_a: l.after.units,
                t_a,
                ss_a,
                den_a: l.after.den,
                num_a: l.after.num[s],
            }
        })
        .collect();
    let whole = Whole {
        den_b: t0.den,
        den_a: t1.den,
        units_b: t0.units,
        units_a: t1.units,
    };
    let eligible = |x: &Light| x.units_b.max(x.units_a) >= min_units;
    let mut taken = vec![false; table.leaves.len()];
    let mut found: Vec<Found> = Vec::new();
    // The cost of each layer, fixed by the first search (the full population).
    let mut costs: Vec<f64> = Vec::new();
    let mut searched = 0usize;

    while found.len() < MAX_CELLS {
        let layers: Vec<Layer> = sets
            .iter()
            .map(|dims| layer(&ids, &lights, dims, &taken))
            .collect();
        if costs.is_empty() {
            costs = layers
                .iter()
                .map(|l| {
                    let m = l.cells.iter().filter(|(_, x)| eligible(x)).count().max(1);
                    2.0 * ln_choose(n_dims, l.dims.len()) + 2.0 * (m as f64).ln()
                })
                .collect();
            searched = layers
                .iter()
                .filter(|l| l.dims.len() > 1)
                .flat_map(|l| l.cells.iter())
                .filter(|(_, x)| eligible(x))
                .count();
        }
        // The best cell by its deviation beyond its description cost.
        let mut best: Option<(usize, usize, f64)> = None;
        for (li, l) in layers.iter().enumerate() {
            for (ci, (_, x)) in l.cells.iter().enumerate() {
                if !eligible(x) {
                    continue;
                }
                let (c, z) = whole.score(x);
                if c.abs() < MIN_SHARE * delta.abs() {
                    continue;
                }
                let excess = z * z - costs[li];
                if best.is_none_or(|b| excess > b.2) {
                    best = Some((li, ci, excess));
                }
            }
        }
        let Some(mut cur) = best else { break };
        if cur.2 < MIN_EXCESS {
            break;
        }
        // Widen while the rest of a parent moved the same way: its contribution is not
        // significantly short of what the chosen cell's shift, per unit of share, would give it.
        loop {
            let (li, ci) = (cur.0, cur.1);
            if layers[li].dims.len() < 2 {
                break;
            }
            let (rep, x) = layers[li].cells[ci];
            let (c, _) = whole.score(&x);
            let per_share = c / whole.share(&x).max(1e-12);
            let mut wider: Option<(usize, usize, f64)> = None;
            for drop in 0..layers[li].dims.len() {
                let pdims: Vec<usize> = layers[li]
                    .dims
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != drop)
                    .map(|(_, &d)| d)
                    .collect();
                let Some(pl) = layers.iter().position(|l| l.dims == pdims) else {
                    continue;
                };
                let Some(&pc) = layers[pl].index.get(&key_of(&ids[rep], &pdims)) else {
                    continue;
                };
                let parent = layers[pl].cells[pc].1;
                if !eligible(&parent) {
                    continue;
                }
                let rest = parent.minus(&x);
                let (rc, _) = whole.score(&rest);
                let expected = per_share * whole.share(&rest);
                let se = whole.se(&rest);
                let gap = (expected - rc) * c.signum();
                let short = if se > 0.0 {
                    gap / se
                } else if gap > 0.0 {
                    f64::INFINITY
                } else {
                    0.0
                };
                if short < REST_Z {
                    let (_, pz) = whole.score(&parent);
                    let excess = pz * pz - costs[pl];
                    if wider.is_none_or(|w| excess > w.2) {
                        wider = Some((pl, pc, excess));
                    }
                }
            }
            match wider {
                Some(w) => cur = w,
                None => break,
            }
        }
        let (li, ci) = (cur.0, cur.1);
        let dims = layers[li].dims.clone();
        let (rep, x) = layers[li].cells[ci];
        let (c, _) = whole.score(&x);
        let keys: Vec<String> = dims
            .iter()
            .map(|&d| table.leaves[rep].keys[d].clone())
            .collect();
        // The cell net of the cells found before it: what it adds to the explanation.
        let mut net_b = Counts::zero(table.series);
        let mut net_a = Counts::zero(table.series);
        for (i, leaf) in table.leaves.iter().enumerate() {
            if !taken[i] && dims.iter().all(|&d| ids[i][d] == ids[rep][d]) {
                taken[i] = true;
                net_b.add(&leaf.before);
                net_a.add(&leaf.after);
            }
        }
        let share = |x: f64, t: f64| if t > 0.0 { x / t } else { 0.0 };
        let surprise = js(share(x.num_b, t0.num[s]), share(x.num_a, t1.num[s]))
            + js(share(x.den_b, t0.den), share(x.den_a, t1.den));
        found.push(Found {
            dims,
            keys,
            explanatory_power: c / delta,
            surprise,
            searched,
            before: net_b,
            after: net_a,
        });
    }
    found
}

/// Dimension name -> value of a found cell.
#[cfg(test)]
pub fn cells_of(table: &CellTable, f: &Found) -> HashMap<String, String> {
    f.dims
        .iter()
        .zip(&f.keys)
        .map(|(&d, k)| (table.dimensions[d].clone(), k.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::cells::{Model, Side};

    #[test]
    fn subsets_up_to_depth() {
        assert_eq!(subsets(3, 2).len(), 3 + 3);
        assert_eq!(subsets(4, 3).len(), 4 + 6 + 4);
    }

    /// team x channel, `n` conversations per cell per period, rate 10 % everywhere, except the
    /// cells `moved`, which go to 50 % after.
    fn table(n: f64, moved: &[(&str, &str)]) -> CellTable {
        let mut t = CellTable::new(vec!["team".into(), "channel".into()], 1, Model::Binomial);
        for team in ["Billing", "Technical", "General"] {
            for ch in ["chat", "email", "phone"] {
                let after = if moved.contains(&(team, ch)) {
                    0.5 * n
                } else {
                    0.1 * n
                };
                let k = vec![team.to_string(), ch.to_string()];
                t.add(k.clone(), Side::Before, &Counts::binomial(n, vec![0.1 * n]));
                t.add(k, Side::After, &Counts::binomial(n, vec![after]));
            }
        }
        t
    }

    #[test]
    fn finds_the_pair_not_its_parents() {
        // Only Billing & chat moved: the rest of team Billing and of channel chat is flat, so
        // the pair is named, not a parent.
        let t = table(100.0, &[("Billing", "chat")]);
        let f = localise(&t, 0, 30.0);
        assert_eq!(f.len(), 1, "{f:?}");
        let cells = cells_of(&t, &f[0]);
        assert_eq!(cells.len(), 2);
        assert_eq!(cells["team"], "Billing");
        assert_eq!(cells["channel"], "chat");
        assert!((f[0].explanatory_power - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_segment_that_moved_uniformly_is_named_whole() {
        // All of team Billing moved: team=Billing, not one of its channels.
        let moved = [
            ("Billing", "chat"),
            ("Billing", "email"),
            ("Billing", "phone"),
        ];
        let t = table(100.0, &moved);
        let f = localise(&t, 0, 30.0);
        assert_eq!(f.len(), 1, "{f:?}");
        let cells = cells_of(&t, &f[0]);
        assert_eq!(cells.len(), 1, "{cells:?}");
        assert_eq!(cells["team"], "Billing");
    }

    #[test]
    fn two_causes_in_one_dimension() {
        // Two teams moved (each in every channel): both are named, one after the other.
        let moved = [
            ("Billing", "chat"),
            ("Billing", "email"),
            ("Billing", "phone"),
            ("Technical", "chat"),
            ("Technical", "email"),
            ("Technical", "phone"),
        ];
        let t = table(200.0, &moved);
        let f = localise(&t, 0, 30.0);
        let mut teams: Vec<String> = f
            .iter()
            .map(|x| {
                let c = cells_of(&t, x);
                assert_eq!(c.len(), 1, "{c:?}");
                c["team"].clone()
            })
            .collect();
        teams.sort();
        assert_eq!(teams, ["Billing", "Technical"], "{f:?}");
    }

    #[test]
    fn scaling_one_period_changes_nothing() {
        let t = table(100.0, &[("Billing", "chat")]);
        let mut big = CellTable::new(t.dimensions.clone(), 1, Model::Binomial);
        for l in &t.leaves {
            let mut b = l.before.clone();
            b.den *= 4.0;
            b.units *= 4.0;
            b.num[0] *= 4.0;
            big.add(l.keys.clone(), Side::Before, &b);
            big.add(l.keys.clone(), Side::After, &l.after);
        }
        let (a, b) = (localise(&t, 0, 30.0), localise(&big, 0, 30.0));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.dims, &x.keys), (&y.dims, &y.keys));
            assert!((x.explanatory_power - y.explanatory_power).abs() < 1e-12);
        }
    }

    #[test]
    fn nothing_to_localise_without_change() {
        let mut t = CellTable::new(vec!["team".into()], 1, Model::Binomial);
        t.add(
            vec!["A".into()],
            Side::Before,
            &Counts::binomial(100.0, vec![10.0]),
        );
        t.add(
            vec!["A".into()],
            Side::After,
            &Counts::binomial(100.0, vec![10.0]),
        );
        assert!(localise(&t, 0, 30.0).is_empty());
    }
}
