//! The exact two-factor split of a change in a rate across the segments of one dimension
//! (METHODS.md part A): `rate_i = w̄_i (r1_i - r0_i)`, centred `mix_i = (w1_i - w0_i)(r̄_i - R̄)`,
//! and the test of each effect.

use super::cells::{Counts, Model};
use super::stats::{self, BetaPrior, Z95};

/// Whether a segment exists in both periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Both,
    /// No denominator in the period before: its rate before is taken as its rate after.
    New,
    /// No denominator in the period after: its rate after is taken as its rate before.
    Vanished,
}

/// The split of one segment (or any cell against the rest) for one numerator series.
#[derive(Debug, Clone)]
pub struct Split {
    pub presence: Presence,
    pub w0: f64,
    pub w1: f64,
    /// Observed rates (None where the segment has no denominator).
    pub r0: Option<f64>,
    pub r1: Option<f64>,
    pub mix: f64,
    pub rate: f64,
}

/// Overall rates of series `s` in each period.
pub fn overall(t0: &Counts, t1: &Counts, s: usize) -> (f64, f64) {
    (t0.num[s] / t0.den, t1.num[s] / t1.den)
}

/// Splits one cell (`b` before, `a` after) of a partition whose totals are `t0`, `t1`.
/// None when the cell has no denominator in either period (it contributes nothing).
pub fn split(b: &Counts, a: &Counts, t0: &Counts, t1: &Counts, s: usize) -> Option<Split> {
    let (big_r0, big_r1) = overall(t0, t1, s);
    let r_bar_all = (big_r0 + big_r1) / 2.0;
    let (w0, w1) = (b.den / t0.den, a.den / t1.den);
    let (r0, r1) = (b.rate(s), a.rate(s));
    let (presence, r0i, r1i) = match (r0, r1) {
        (Some(x), Some(y)) => (Presence::Both, x, y),
        (None, Some(y)) => (Presence::New, y, y),
        (Some(x), None) => (Presence::Vanished, x, x),
        (None, None) => return None,
    };
    let w_bar = (w0 + w1) / 2.0;
    let r_bar = (r0i + r1i) / 2.0;
    Some(Split {
        presence,
        w0,
        w1,
        r0,
        r1,
        mix: (w1 - w0) * (r_bar - r_bar_all),
        rate: w_bar * (r1i - r0i),
    })
}

/// The test of one effect of one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    pub contribution: f64,
    pub ci: Option<(f64, f64)>,
    pub z: Option<f64>,
    /// Two-sided p-value; None when the effect is not tested (zero by construction).
    pub p: Option<f64>,
    /// Large enough to be called significant (the minimum segment size).
    pub eligible: bool,
}

/// Sampling variance of a cell's rate in one period.
fn rate_variance(model: Model, c: &Counts, s: usize) -> Option<f64> {
    let r = c.rate(s)?;
    match model {
        Model::Binomial => Some(r * (1.0 - r) / c.den),
        Model::Ratio => stats::ratio_variance(c.units, c.den, c.num[s], c.xx, c.xy[s], c.yy[s]),
    }
}

/// Sampling variance of a cell's share of the denominator in one period.
fn share_variance(model: Model, c: &Counts, t: &Counts) -> Option<f64> {
    if t.den <= 0.0 {
        return None;
    }
    let w = c.den / t.den;
    match model {
        Model::Binomial => Some(w * (1.0 - w) / t.den),
        // The share is itself a ratio of sums (Σx over the cell / Σx): linearised over units.
        Model::Ratio => {
            if t.units < 2.0 {
                return None;
            }
            let ss = (1.0 - w).powi(2) * c.xx + w * w * (t.xx - c.xx).max(0.0);
            Some(t.units / (t.units - 1.0) * ss / (t.den * t.den))
        }
    }
}

/// Test of the rate effect `w̄ (r1 - r0)`: Newcombe's interval (binomial) or the delta method
/// (ratio) for `r1 - r0`, scaled by the fixed weight `w̄`. Not tested for a new or vanished
/// segment, whose rate effect is zero by construction.
pub fn assess_rate(
    model: Model,
    sp: &Split,
    b: &Counts,
    a: &Counts,
    s: usize,
    min_units: f64,
) -> Assessment {
    let eligible = b.units >= min_units && a.units >= min_units;
    let untested = Assessment {
        contribution: sp.rate,
        ci: None,
        z: None,
        p: None,
        eligible: false,
    };
    if sp.presence != Presence::Both {
        return untested;
    }
    let w_bar = (sp.w0 + sp.w1) / 2.0;
    let (ci, z) = match model {
        Model::Binomial => (
            stats::newcombe(a.num[s], a.den, b.num[s], b.den),
            stats::two_proportion_z(a.num[s], a.den, b.num[s], b.den),
        ),
        Model::Ratio => {
            let (Some(v0), Some(v1)) = (rate_variance(model, b, s), rate_variance(model, a, s))
            else {
                return untested;
            };
            let d = a.num[s] / a.den - b.num[s] / b.den;
            let se = (v0 + v1).sqrt();
            let z = if se > 0.0 { d / se } else { 0.0 };
            (Some((d - Z95 * se, d + Z95 * se)), Some(z))
        }
    };
    let Some(z) = z else { return untested };
    Assessment {
        contribution: sp.rate,
        ci: ci.map(|(l, u)| (w_bar * l, w_bar * u)),
        z: Some(z),
        p: Some(stats::p_two_sided(z)),
        eligible,
    }
}

/// Test of the mix effect `Δw · g` with `g = r̄_i - R̄`: the share change tested with its
/// sampling variance, and the uncertainty of the segment's mean rate carried by the delta
/// method (`Var ≈ g² Var(Δw) + Δw² Var(r̄_i)`); with `g` known exactly it is the z test on the
/// segment's share. Eligible when the segment reaches the minimum size in at least one period
/// (a new queue taking 500 conversations is a real shift in volume).
pub fn assess_mix(
    model: Model,
    sp: &Split,
    cells: (&Counts, &Counts),
    totals: (&Counts, &Counts),
    s: usize,
    min_units: f64,
) -> Assessment {
    let (b, a) = cells;
    let (t0, t1) = totals;
    let eligible = b.units.max(a.units) >= min_units;
    let dw = sp.w1 - sp.w0;
    let (big_r0, big_r1) = overall(t0, t1, s);
    let rb = |r: Option<f64>, other: Option<f64>| r.or(other).unwrap_or(0.0);
    let r_bar = (rb(sp.r0, sp.r1) + rb(sp.r1, sp.r0)) / 2.0;
    let g = r_bar - (big_r0 + big_r1) / 2.0;
    let var_dw =
        share_variance(model, b, t0).unwrap_or(0.0) + share_variance(model, a, t1).unwrap_or(0.0);
    let v0 = rate_variance(model, b, s);
    let v1 = rate_variance(model, a, s);
    let var_g = match sp.presence {
        Presence::Both => (v0.unwrap_or(0.0) + v1.unwrap_or(0.0)) / 4.0,
        Presence::New => v1.unwrap_or(0.0),
        Presence::Vanished => v0.unwrap_or(0.0),
    };
    let se = (g * g * var_dw + dw * dw * var_g).sqrt();
    // `se` may be NaN when a variance is undefined: treat it like zero.
    if se.is_nan() || se <= 0.0 {
        return Assessment {
            contribution: sp.mix,
            ci: None,
            z: None,
            p: None,
            eligible: false,
        };
    }
    let z = sp.mix / se;
    Assessment {
        contribution: sp.mix,
        ci: Some((sp.mix - Z95 * se, sp.mix + Z95 * se)),
        z: Some(z),
        p: Some(stats::p_two_sided(z)),
        eligible,
    }
}

/// Ranking scores on empirical-Bayes shrunk rates, so a 2-of-3 agent does not top the list:
/// `(rate score, mix score)` with the same formulas as the split.
pub fn shrunk_scores(sp: &Split, shrunk: (Option<f64>, Option<f64>), big_r_bar: f64) -> (f64, f64) {
    let (s0, s1) = match shrunk {
        (Some(x), Some(y)) => (x, y),
        (None, Some(y)) => (y, y),
        (Some(x), None) => (x, x),
        (None, None) => return (sp.rate, sp.mix),
    };
    let w_bar = (sp.w0 + sp.w1) / 2.0;
    (
        w_bar * (s1 - s0),
        (sp.w1 - sp.w0) * ((s0 + s1) / 2.0 - big_r_bar),
    )
}

/// Shrunk rates of each cell in each period, from a beta-binomial prior fitted per period
/// across the cells (binomial model only; None for the ratio model).
pub fn shrink_all(
    model: Model,
    cells: &[(&Counts, &Counts)],
    s: usize,
) -> Vec<(Option<f64>, Option<f64>)> {
    if model != Model::Binomial {
        return vec![(None, None); cells.len()];
    }
    let p0 = BetaPrior::fit(
        &cells
            .iter()
            .map(|c| (c.0.num[s], c.0.den))
            .collect::<Vec<_>>(),
    );
    let p1 = BetaPrior::fit(
        &cells
            .iter()
            .map(|c| (c.1.num[s], c.1.den))
            .collect::<Vec<_>>(),
    );
    let one = |p: &Option<BetaPrior>, c: &Counts| {
        (c.den > 0.0).then(|| match p {
            Some(p) => p.shrink(c.num[s], c.den),
            None => c.num[s] / c.den,
        })
    };
    cells
        .iter()
        .map(|(b, a)| (one(&p0, b), one(&p1, a)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: f64, h: f64) -> Counts {
        Counts::binomial(n, vec![h])
    }

    #[test]
    fn two_segments_reconcile_exactly() {
        // A: 600/60 -> 450/45, B: 400/160 -> 550/225; R 22 % -> 27 %.
        let t0 = c(1000.0, 220.0);
        let t1 = c(1000.0, 270.0);
        let a = split(&c(600.0, 60.0), &c(450.0, 45.0), &t0, &t1, 0).unwrap();
        let b = split(&c(400.0, 160.0), &c(550.0, 225.0), &t0, &t1, 0).unwrap();
        let total = a.mix + a.rate + b.mix + b.rate;
        assert!((total - 0.05).abs() < 1e-15, "{total}");
        // A keeps its rate: no rate effect; mix = -0.15 * (0.10 - 0.245) = 0.02175.
        assert!(a.rate.abs() < 1e-15);
        assert!((a.mix - 0.02175).abs() < 1e-15);
    }

    #[test]
    fn new_and_vanished_segments_are_all_mix() {
        // Before: A 100/10. After: A 50/5, C (new) 50/25. R 0.10 -> 0.30.
        let t0 = c(100.0, 10.0);
        let t1 = c(100.0, 30.0);
        let a = split(&c(100.0, 10.0), &c(50.0, 5.0), &t0, &t1, 0).unwrap();
        let n = split(&c(0.0, 0.0), &c(50.0, 25.0), &t0, &t1, 0).unwrap();
        assert_eq!(n.presence, Presence::New);
        assert_eq!(n.rate, 0.0);
        // C: Δw = 0.5, r̄ = 0.5 (r0 := r1), R̄ = 0.2 -> mix 0.15; A: Δw = -0.5, r̄ = 0.1 -> 0.05.
        assert!((n.mix - 0.15).abs() < 1e-15 && (a.mix - 0.05).abs() < 1e-15);
        assert!((a.mix + a.rate + n.mix + n.rate - 0.2).abs() < 1e-15);
        assert!(split(&c(0.0, 0.0), &c(0.0, 0.0), &t0, &t1, 0).is_none());
        let v = split(&c(100.0, 10.0), &c(0.0, 0.0), &t0, &t1, 0).unwrap();
        assert_eq!(v.presence, Presence::Vanished);
    }
}
