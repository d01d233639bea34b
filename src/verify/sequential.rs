//! The asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas
//! (2023, "Time-uniform central limit theory and asymptotic confidence sequences",
//! arXiv 2103.06476, the Gaussian-mixture boundary), as GrowthBook's sequential tests use it.
//!
//! For an estimator that behaves like a mean of `n` independent units with per-unit variance
//! `s²` (so its variance is `V = s²/n`), the `1 - α` asymptotic confidence sequence is
//!
//! ```text
//! estimate ± s · sqrt( 2 (n ρ² + 1) / (n² ρ²) · ln( sqrt(n ρ² + 1) / α ) )
//!          = estimate ± sqrt(V) · m(n),   m(n) = sqrt( 2 (n ρ² + 1) / (n ρ²) · ln( sqrt(n ρ² + 1) / α ) )
//! ```
//!
//! and it covers the true value at every `n` at once with probability at least `1 - α`
//! (asymptotically), however often one looks. `ρ > 0` tunes where the sequence is tightest:
//! `ρ² = (-2 ln α + ln(-2 ln α + 1)) / n*` makes it tightest near the expected sample size
//! `n*` (the paper's section on tuning; GrowthBook's default).

/// The tuning parameter ρ² for expected sample size `n_star` at level `alpha`.
pub fn rho_squared(alpha: f64, n_star: f64) -> f64 {
    let l = -2.0 * alpha.ln();
    (l + (l + 1.0).ln()) / n_star.max(1.0)
}

/// The multiplier `m(n)` of `sqrt(V)` (the half-width of the sequence in standard errors) at
/// `n` units, for `rho2` from [`rho_squared`]. Always larger than the fixed-sample `z`: about
/// 3.0 at its smallest for α = 0.05, against 1.96.
pub fn multiplier(n: f64, rho2: f64, alpha: f64) -> f64 {
    let x = n.max(1.0) * rho2;
    (2.0 * (x + 1.0) / x * ((x + 1.0).sqrt() / alpha).ln()).sqrt()
}

/// The half-width `sqrt(V) · m(n)`.
pub fn half_width(variance: f64, n: f64, rho2: f64, alpha: f64) -> f64 {
    variance.max(0.0).sqrt() * multiplier(n, rho2, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_by_hand() {
        // α = 0.05: -2 ln α = 5.991465, ln(6.991465) = 1.944690, sum 7.936155.
        let r2 = rho_squared(0.05, 1000.0);
        assert!((r2 - 0.007936155).abs() < 1e-8, "{r2}");
        // At n = n*: x = 7.936155, m² = 2 · 8.936155/7.936155 · ln(sqrt(8.936155)/0.05)
        // = 2.252011 · 4.090785 = 9.212494, m = 3.035209.
        let m = multiplier(1000.0, r2, 0.05);
        assert!((m - 3.035209).abs() < 1e-5, "{m}");
        // Wider than a fixed-sample interval everywhere, widest far below n*, and growing only
        // like sqrt(ln n) above it.
        for n in [100.0, 1e3, 1e4, 1e5, 1e6] {
            let m = multiplier(n, r2, 0.05);
            assert!(m > 2.9 && m < 7.0, "{n}: {m}");
        }
        assert!(multiplier(10.0, r2, 0.05) > 7.0);
        assert!(multiplier(1e6, r2, 0.05) > multiplier(1e4, r2, 0.05));
        assert!((half_width(4.0, 1000.0, r2, 0.05) - 2.0 * m).abs() < 1e-12);
    }
}
