//! Where exactly: combinations of dimension values (team=Billing & channel=chat) where a change
//! concentrates when no single segment explains it (METHODS.md part A).
//!
//! In the spirit of Adtributor (explanatory power, surprise) and Squeeze / RiskLoc
//! (deviation-based search over combinations), for ratio measures:
//!
//! - The deviation of a cell is the ratio form of explanatory power: how far the overall rate
//!   would move from the period before if only this cell had moved (its numerator and its
//!   denominator both take their values after), as a fraction of the actual change. It counts
//!   a rate change inside the cell and a shift of volume into or out of it alike.
//! - Search: start from the one-dimension segment with the highest power, then drill down one
//!   dimension at a time while a narrower cell keeps at least [`RETAIN`] of the power (so
//!   `team=Billing` becomes `team=Billing & channel=chat` only when chat carries the change).
//! - Greedy cover: mark the chosen cell as moved and search again for what is still
//!   unexplained, until [`ENOUGH`] of the change is explained, a cell adds less than
//!   [`MIN_GAIN`], or [`MAX_CELLS`] cells are found.
//!
//! The caller re-expresses each cell in mix and rate terms (the cell against the rest).

use super::cells::{CellTable, Counts};
use std::collections::HashMap;

/// A narrower cell replaces its parent when it keeps this share of the parent's power.
pub const RETAIN: f64 = 0.9;
/// Stop once the cells found explain this share of the change.
pub const ENOUGH: f64 = 0.9;
/// A cell must explain at least this share of the change.
pub const MIN_GAIN: f64 = 0.1;
pub const MAX_CELLS: usize = 3;

/// A cell found, with its sums in each period net of the cells found before it (so a second
/// cell overlapping the first is tested on what it adds).
#[derive(Debug, Clone)]
pub struct Found {
    /// Dimension indices and the value of each.
    pub dims: Vec<usize>,
    pub keys: Vec<String>,
    pub explanatory_power: f64,
    pub surprise: f64,
    /// Multi-dimension cells the search could have picked: a cell of two or more dimensions is
    /// the best of this many, so its test is corrected for the choice (Bonferroni).
    pub searched: usize,
    pub before: Counts,
    pub after: Counts,
}

/// One series' sums of a candidate cell in both periods (no moments: the search only needs
/// rates, and these sums are cheap to build for tens of thousands of cells).
#[derive(Debug, Clone, Copy, Default)]
struct Light {
    units_b: f64,
    den_b: f64,
    num_b: f64,
    units_a: f64,
    den_a: f64,
    num_a: f64,
}

/// Candidate cells of one set of dimensions, over the leaves not yet moved: each with a
/// representative leaf (to read its values) and its sums.
struct Layer {
    dims: Vec<usize>,
    cells: Vec<(usize, Light)>,
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

fn layer(table: &CellTable, ids: &[Vec<u32>], dims: &[usize], s: usize, moved: &[bool]) -> Layer {
    let mut index: HashMap<u128, usize> = HashMap::new();
    let mut cells: Vec<(usize, Light)> = Vec::new();
    for (i, leaf) in table.leaves.iter().enumerate() {
        if moved[i] {
            continue;
        }
        // At most three dimensions of 32-bit ids: an exact key in 128 bits.
        let key = dims
            .iter()
            .fold(0u128, |k, &d| (k << 32) | ids[i][d] as u128);
        let c = *index.entry(key).or_insert_with(|| {
            cells.push((i, Light::default()));
            cells.len() - 1
        });
        let x = &mut cells[c].1;
        x.units_b += leaf.before.units;
        x.den_b += leaf.before.den;
        x.num_b += leaf.before.num[s];
        x.units_a += leaf.after.units;
        x.den_a += leaf.after.den;
        x.num_a += leaf.after.num[s];
    }
    Layer {
        dims: dims.to_vec(),
        cells,
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
    // Three-way cells are affordable for the usual four dimensions; wide tables stop at pairs.
    let depth = if n_dims <= 4 { n_dims.min(3) } else { 2 };
    let sets = subsets(n_dims, depth);
    let ids = intern(table);
    let mut moved = vec![false; table.leaves.len()];
    let (mut h, mut d) = (t0.num[s], t0.den);
    let mut found: Vec<Found> = Vec::new();

    while found.len() < MAX_CELLS {
        let layers: Vec<Layer> = sets
            .iter()
            .map(|dims| layer(table, &ids, dims, s, &moved))
            .collect();
        let base = h / d;
        let power = |x: &Light| -> Option<f64> {
            if x.units_b.max(x.units_a) < min_units {
                return None;
            }
            let den = d + x.den_a - x.den_b;
            (den > 0.0).then(|| ((h + x.num_a - x.num_b) / den - base) / delta)
        };
        // Start: the best single-dimension segment.
        let mut best: Option<(usize, usize, f64)> = None;
        for (li, l) in layers.iter().enumerate().filter(|(_, l)| l.dims.len() == 1) {
            for (ci, (_, x)) in l.cells.iter().enumerate() {
                if let Some(p) = power(x) {
                    if best.is_none_or(|b| p > b.2) {
                        best = Some((li, ci, p));
                    }
                }
            }
        }
        let searched = layers
            .iter()
            .filter(|l| l.dims.len() > 1)
            .flat_map(|l| l.cells.iter())
            .filter(|(_, x)| power(x).is_some())
            .count();
        let Some(mut cur) = best else { break };
        if cur.2 < MIN_GAIN {
            break;
        }
        // Drill down while a narrower cell keeps most of the power.
        loop {
            let cur_dims = &layers[cur.0].dims;
            let cur_leaf = layers[cur.0].cells[cur.1].0;
            let mut child: Option<(usize, usize, f64)> = None;
            for (li, l) in layers.iter().enumerate() {
                if l.dims.len() != cur_dims.len() + 1
                    || !cur_dims.iter().all(|x| l.dims.contains(x))
                {
                    continue;
                }
                for (ci, (leaf, x)) in l.cells.iter().enumerate() {
                    if cur_dims
                        .iter()
                        .any(|&dd| ids[*leaf][dd] != ids[cur_leaf][dd])
                    {
                        continue;
                    }
                    if let Some(p) = power(x) {
                        if child.is_none_or(|c| p > c.2) {
                            child = Some((li, ci, p));
                        }
                    }
                }
            }
            match child {
                Some(c) if c.2 >= RETAIN * cur.2 => cur = c,
                _ => break,
            }
        }
        let dims = layers[cur.0].dims.clone();
        let rep = layers[cur.0].cells[cur.1].0;
        let keys: Vec<String> = dims
            .iter()
            .map(|&x| table.leaves[rep].keys[x].clone())
            .collect();
        // The cell net of the cells found before it: what it adds to the explanation.
        let mut net_b = Counts::zero(table.series);
        let mut net_a = Counts::zero(table.series);
        for (i, leaf) in table.leaves.iter().enumerate() {
            if !moved[i] && dims.iter().all(|&x| ids[i][x] == ids[rep][x]) {
                moved[i] = true;
                net_b.add(&leaf.before);
                net_a.add(&leaf.after);
            }
        }
        h += net_a.num[s] - net_b.num[s];
        d += net_a.den - net_b.den;
        let share = |x: f64, t: f64| if t > 0.0 { x / t } else { 0.0 };
        let surprise = js(
            share(net_b.num[s], t0.num[s]),
            share(net_a.num[s], t1.num[s]),
        ) + js(share(net_b.den, t0.den), share(net_a.den, t1.den));
        found.push(Found {
            dims,
            keys,
            explanatory_power: cur.2,
            surprise,
            searched,
            before: net_b,
            after: net_a,
        });
        if (h / d - r0) / delta >= ENOUGH {
            break;
        }
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

    fn table() -> CellTable {
        // team x channel, 100 conversations per cell per period, rate 10 % everywhere, except
        // Billing & chat, which goes to 50 % after.
        let mut t = CellTable::new(vec!["team".into(), "channel".into()], 1, Model::Binomial);
        for team in ["Billing", "Technical", "General"] {
            for ch in ["chat", "email", "phone"] {
                let after = if team == "Billing" && ch == "chat" {
                    50.0
                } else {
                    10.0
                };
                let k = vec![team.to_string(), ch.to_string()];
                t.add(
                    k.clone(),
                    Side::Before,
                    &Counts::binomial(100.0, vec![10.0]),
                );
                t.add(k, Side::After, &Counts::binomial(100.0, vec![after]));
            }
        }
        t
    }

    #[test]
    fn finds_the_pair_not_its_parents() {
        // Only Billing & chat moved: power of team=Billing is 1 (everything else in Billing is
        // flat), and the pair keeps all of it, so the search drills down to the pair.
        let t = table();
        let f = localise(&t, 0, 30.0);
        assert_eq!(f.len(), 1, "{f:?}");
        let cells = cells_of(&t, &f[0]);
        assert_eq!(cells["team"], "Billing");
        assert_eq!(cells["channel"], "chat");
        assert!((f[0].explanatory_power - 1.0).abs() < 1e-12);
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
