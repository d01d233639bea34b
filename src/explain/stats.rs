//! Significance for attribution cells: Wilson intervals, Newcombe's hybrid score interval for a
//! difference, two-proportion z, delta-method variances for ratio-of-sums metrics,
//! Benjamini-Hochberg q-values and a beta-binomial empirical-Bayes prior (METHODS.md part A).
//!
//! These formulas are a few lines each and no crate we use provides them (statrs gives the
//! normal distribution only), so they are written out here and checked against published values.

use statrs::distribution::{ContinuousCDF, Normal};

/// The 97.5 % quantile of the standard normal: 95 % two-sided intervals.
pub const Z95: f64 = 1.959_963_984_540_054;

fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("unit normal is valid")
}

/// Two-sided p-value of a z statistic.
pub fn p_two_sided(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { 1.0 } else { 0.0 };
    }
    (2.0 * std_normal().sf(z.abs())).min(1.0)
}

/// Wilson score 95 % interval for `x` successes out of `n` (None when `n` is 0).
pub fn wilson(x: f64, n: f64) -> Option<(f64, f64)> {
    if n <= 0.0 {
        return None;
    }
    let z2 = Z95 * Z95;
    let p = x / n;
    let centre = (x + z2 / 2.0) / (n + z2);
    let half = Z95 / (n + z2) * (x * (n - x) / n + z2 / 4.0).max(0.0).sqrt();
    Some((
        (centre - half).max(0.0).min(p),
        (centre + half).min(1.0).max(p),
    ))
}

/// Newcombe's hybrid score interval (his method 10) for `x1/n1 - x0/n0`.
pub fn newcombe(x1: f64, n1: f64, x0: f64, n0: f64) -> Option<(f64, f64)> {
    let (l1, u1) = wilson(x1, n1)?;
    let (l0, u0) = wilson(x0, n0)?;
    let (p1, p0) = (x1 / n1, x0 / n0);
    let d = p1 - p0;
    Some((
        d - ((p1 - l1).powi(2) + (u0 - p0).powi(2)).sqrt(),
        d + ((u1 - p1).powi(2) + (p0 - l0).powi(2)).sqrt(),
    ))
}

/// Pooled two-proportion z for `x1/n1 - x0/n0`; 0 when both proportions are 0 or both 1.
pub fn two_proportion_z(x1: f64, n1: f64, x0: f64, n0: f64) -> Option<f64> {
    if n1 <= 0.0 || n0 <= 0.0 {
        return None;
    }
    let p = (x1 + x0) / (n1 + n0);
    let se = (p * (1.0 - p) * (1.0 / n1 + 1.0 / n0)).sqrt();
    let d = x1 / n1 - x0 / n0;
    Some(if se > 0.0 { d / se } else { 0.0 })
}

/// Delta-method (linearisation) variance of a ratio of sums `Y / X` over `n` units, from the
/// sums `YY = Σy²`, `XY = Σxy`, `XX = Σx²`: `n/(n-1) · Σ(y - r x)² / X²`.
pub fn ratio_variance(n: f64, x: f64, y: f64, xx: f64, xy: f64, yy: f64) -> Option<f64> {
    if n < 2.0 || x <= 0.0 {
        return None;
    }
    let r = y / x;
    let ss = (yy - 2.0 * r * xy + r * r * xx).max(0.0);
    Some(n / (n - 1.0) * ss / (x * x))
}

/// Benjamini-Hochberg q-values (step-up adjusted p-values), in the order given.
pub fn bh_qvalues(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let v = p[i] * m as f64 / (rank + 1) as f64;
        running = running.min(v);
        q[i] = running.min(1.0);
    }
    q
}

/// A beta prior `Beta(alpha, beta)` for segment rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaPrior {
    pub alpha: f64,
    pub beta: f64,
}

/// Prior strength used when segments vary no more than sampling noise explains (shrink fully,
/// but keep it finite so a rate is still a number).
const MAX_PRIOR_STRENGTH: f64 = 1e7;

impl BetaPrior {
    /// Fits a beta-binomial prior to `(successes, trials)` per segment by the method of moments:
    /// mean `μ = Σx/Σn`; the between-segment variance is the trial-weighted variance of the
    /// segment rates minus what binomial sampling alone explains (`k μ(1-μ)/Σn`);
    /// `α + β = μ(1-μ)/τ² - 1`. None with fewer than two segments or no variation in μ.
    pub fn fit(cells: &[(f64, f64)]) -> Option<BetaPrior> {
        let cells: Vec<(f64, f64)> = cells.iter().copied().filter(|c| c.1 > 0.0).collect();
        let k = cells.len() as f64;
        if k < 2.0 {
            return None;
        }
        let n: f64 = cells.iter().map(|c| c.1).sum();
        let mu = cells.iter().map(|c| c.0).sum::<f64>() / n;
        if mu <= 0.0 || mu >= 1.0 {
            return None;
        }
        let s2 = cells
            .iter()
            .map(|(x, m)| m * (x / m - mu).powi(2))
            .sum::<f64>()
            / n;
        let tau2 = s2 - k * mu * (1.0 - mu) / n;
        let strength = if tau2 > 0.0 {
            (mu * (1.0 - mu) / tau2 - 1.0).clamp(1e-6, MAX_PRIOR_STRENGTH)
        } else {
            MAX_PRIOR_STRENGTH
        };
        Some(BetaPrior {
            alpha: mu * strength,
            beta: (1.0 - mu) * strength,
        })
    }

    /// Posterior mean rate of `x` successes in `n` trials.
    pub fn shrink(&self, x: f64, n: f64) -> f64 {
        (x + self.alpha) / (n + self.alpha + self.beta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn wilson_matches_newcombe_1998_table() {
        // Newcombe (1998), "Two-sided confidence intervals for the single proportion",
        // Stat Med 17:857-872, Table II, method 3 (score, no continuity correction):
        // 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605; 0/20 -> 0 to 0.1611.
        let (l, u) = wilson(81.0, 263.0).unwrap();
        assert!(close(l, 0.2553, 5e-5) && close(u, 0.3662, 5e-5), "{l} {u}");
        let (l, u) = wilson(15.0, 148.0).unwrap();
        assert!(close(l, 0.0624, 5e-5) && close(u, 0.1605, 5e-5), "{l} {u}");
        let (l, u) = wilson(0.0, 20.0).unwrap();
        assert!(close(l, 0.0, 1e-12) && close(u, 0.1611, 5e-5), "{l} {u}");
        assert!(wilson(0.0, 0.0).is_none());
    }

    #[test]
    fn newcombe_difference_matches_published_example() {
        // Newcombe (1998), "Interval estimation for the difference between independent
        // proportions", Stat Med 17:873-890, Table II example (a), method 10:
        // 56/70 - 48/80 -> 0.0524 to 0.3339.
        let (l, u) = newcombe(56.0, 70.0, 48.0, 80.0).unwrap();
        assert!(close(l, 0.0524, 5e-5) && close(u, 0.3339, 5e-5), "{l} {u}");
        // Example (b), 9/10 - 3/10 -> 0.1705 to 0.8090.
        let (l, u) = newcombe(9.0, 10.0, 3.0, 10.0).unwrap();
        assert!(close(l, 0.1705, 5e-5) && close(u, 0.8090, 5e-5), "{l} {u}");
    }

    #[test]
    fn pooled_z_by_hand() {
        // 30/100 vs 20/100: p = 0.25, se = sqrt(0.25*0.75*(2/100)) = 0.0612372, z = 0.1/se.
        let z = two_proportion_z(30.0, 100.0, 20.0, 100.0).unwrap();
        assert!(close(z, 1.632993, 1e-6), "{z}");
        // p-value of z = 1.959964 is 0.05.
        assert!(close(p_two_sided(Z95), 0.05, 1e-9));
        assert_eq!(two_proportion_z(0.0, 10.0, 0.0, 10.0), Some(0.0));
    }

    #[test]
    fn bh_by_hand() {
        // p sorted: 0.005, 0.01, 0.03, 0.04 (m = 4): raw m p / rank = 0.02, 0.02, 0.04, 0.04,
        // then the running minimum from the top leaves them as they are.
        let q = bh_qvalues(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.02, 0.04, 0.04, 0.02];
        for (a, b) in q.iter().zip(want) {
            assert!(close(*a, b, 1e-12), "{q:?}");
        }
        // Monotone step-up: 0.5 at rank 2 of 2 caps the 0.3 at rank 1 (0.6 -> 0.5).
        let q = bh_qvalues(&[0.3, 0.5]);
        assert!(close(q[0], 0.5, 1e-12) && close(q[1], 0.5, 1e-12), "{q:?}");
    }

    #[test]
    fn ratio_variance_reduces_to_binomial_for_zero_one_units() {
        // 0/1 outcomes with x = 1: Σ(y - r)² = n r (1-r), so Var = r(1-r)/(n-1).
        let v = ratio_variance(100.0, 100.0, 30.0, 100.0, 30.0, 30.0).unwrap();
        assert!(close(v, 0.3 * 0.7 / 99.0, 1e-15), "{v}");
    }

    #[test]
    fn beta_binomial_prior_by_hand() {
        // Segments 10/100, 30/100: μ = 0.2, s² = (100*0.01 + 100*0.01)/200 = 0.01,
        // sampling part = 2*0.16/200 = 0.0016, τ² = 0.0084, α+β = 0.16/0.0084 - 1 = 18.047619.
        let p = BetaPrior::fit(&[(10.0, 100.0), (30.0, 100.0)]).unwrap();
        assert!(close(p.alpha + p.beta, 0.16 / 0.0084 - 1.0, 1e-9), "{p:?}");
        assert!(close(p.alpha / (p.alpha + p.beta), 0.2, 1e-12));
        // A 2-of-3 segment is pulled most of the way to the mean; a big one barely moves.
        let small = p.shrink(2.0, 3.0);
        assert!(small < 0.35 && small > 0.2, "{small}");
        assert!(close(p.shrink(300.0, 1000.0), 0.3, 0.005));
        // Identical segments: no between-segment variance, full shrinkage.
        let flat = BetaPrior::fit(&[(20.0, 100.0), (20.0, 100.0)]).unwrap();
        assert!(close(flat.shrink(3.0, 3.0), 0.2, 1e-5));
        assert!(BetaPrior::fit(&[(1.0, 2.0)]).is_none());
    }
}
