//! A/A and power simulations of verify's weekly looks, on counts: each week a fixed number of
//! conversations in the scope and outside it, each with the branch as its first cause with a
//! fixed chance; from go-live the scope's chance moves by `effect` (and everyone's by `drift`).
//! The looks go through `baton::verify::assess`, exactly what `verify` calls on the counts the
//! facts give. Shared by `tests/verify_aa.rs` (light) and `benches/verify.rs` (heavy).

#![allow(dead_code)]

use baton::config::Expect;
use baton::verify::{assess, Assessment, Cell, Counts, VerdictKind, VerifyPolicy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The simulated helpdesk.
#[derive(Debug, Clone, Copy)]
pub struct World {
    pub scope_per_week: u64,
    pub rest_per_week: u64,
    pub p_scope: f64,
    pub p_rest: f64,
    /// Change of the scope's chance from go-live (the fix's true effect).
    pub effect: f64,
    /// Change of everyone's chance from go-live (a company-wide drift).
    pub drift: f64,
    pub before_weeks: u32,
    pub after_weeks: u32,
}

impl Default for World {
    fn default() -> Self {
        World {
            scope_per_week: 600,
            rest_per_week: 2400,
            p_scope: 0.12,
            p_rest: 0.07,
            effect: 0.0,
            drift: 0.0,
            before_weeks: 4,
            after_weeks: 12,
        }
    }
}

/// Binomial(n, p) by geometric skips between successes: one uniform per success, not per
/// trial (exact; about 10 times fewer draws at the rates simulated).
fn draw(rng: &mut ChaCha8Rng, n: u64, p: f64) -> Cell {
    let p = p.clamp(0.0, 1.0);
    if p <= 0.0 || p >= 1.0 {
        return Cell::new(n, if p >= 1.0 { n } else { 0 });
    }
    let log_q = (1.0 - p).ln();
    let (mut x, mut pos) = (0u64, 0u64);
    loop {
        let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        let skip = (u.ln() / log_q).floor();
        if !skip.is_finite() || skip >= (n - pos) as f64 {
            break;
        }
        pos += skip as u64 + 1;
        x += 1;
        if pos >= n {
            break;
        }
    }
    Cell::new(n, x)
}

/// The verdict at each weekly look (1..=after_weeks weeks after go-live) of one seeded run.
pub fn run(seed: u64, w: &World, policy: &VerifyPolicy) -> Vec<VerdictKind> {
    looks(seed, w, policy).iter().map(|a| a.verdict).collect()
}

/// Whether any weekly look's fixed-sample 95 % interval (the naive check) was entirely below
/// zero: what the always-valid interval protects against.
pub fn naive_verified(seed: u64, w: &World, policy: &VerifyPolicy) -> bool {
    looks(seed, w, policy)
        .iter()
        .any(|a| a.too_early.is_none() && a.effect.is_some_and(|e| e.fixed_interval[1] < 0.0))
}

/// The assessment at each weekly look of one seeded run.
pub fn looks(seed: u64, w: &World, policy: &VerifyPolicy) -> Vec<Assessment> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Counts::default();
    for _ in 0..w.before_weeks {
        c.scope_before
            .add(draw(&mut rng, w.scope_per_week, w.p_scope));
        c.rest_before.add(draw(&mut rng, w.rest_per_week, w.p_rest));
    }
    let mut out = Vec::with_capacity(w.after_weeks as usize);
    for k in 1..=w.after_weeks {
        c.scope_after.add(draw(
            &mut rng,
            w.scope_per_week,
            w.p_scope + w.effect + w.drift,
        ));
        c.rest_after
            .add(draw(&mut rng, w.rest_per_week, w.p_rest + w.drift));
        c.days_after = 7 * i64::from(k);
        out.push(assess(&c, policy, Expect::Down));
    }
    out
}

/// Share of `runs` seeded runs in which any look said `kind`, and in which the last look did.
pub fn rate(
    runs: u64,
    first_seed: u64,
    w: &World,
    policy: &VerifyPolicy,
    kind: VerdictKind,
) -> (f64, f64) {
    let (mut any, mut last) = (0u64, 0u64);
    for s in 0..runs {
        let v = run(first_seed + s, w, policy);
        if v.contains(&kind) {
            any += 1;
        }
        if v.last() == Some(&kind) {
            last += 1;
        }
    }
    (any as f64 / runs as f64, last as f64 / runs as f64)
}
