//! The statistics of a verdict, from counts alone (no polars): the before / after rates of the
//! fix's branch in and outside its scope, the raw and the controlled
//! (difference-in-differences) effect, the always-valid interval the verdict rests on, the
//! intake check and the sample still needed. `docs/metrics.md` ("Verifying a fix") has every
//! formula; [`assess`] is what the A/A simulations call at each weekly look.

use super::sequential;
use crate::config::Expect;
use crate::domain::Dimension;
use crate::explain::{newcombe, wilson};
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Conversations of one window and side of the scope, and how many had the branch as the cause
/// of their first handoff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub conversations: u64,
    pub branch_conversations: u64,
}

impl Cell {
    pub fn new(conversations: u64, branch_conversations: u64) -> Cell {
        Cell {
            conversations,
            branch_conversations,
        }
    }
    pub fn add(&mut self, other: Cell) {
        self.conversations += other.conversations;
        self.branch_conversations += other.branch_conversations;
    }
    fn n(self) -> f64 {
        self.conversations as f64
    }
    fn x(self) -> f64 {
        self.branch_conversations as f64
    }
    pub fn rate(self) -> Option<f64> {
        (self.conversations > 0).then(|| self.x() / self.n())
    }
    /// Variance of the rate, with the rate taken as `(x + ½) / (n + 1)` so a window with no
    /// (or only) branch handoffs still has a positive variance.
    fn variance(self) -> Option<f64> {
        (self.conversations > 0).then(|| {
            let p = (self.x() + 0.5) / (self.n() + 1.0);
            p * (1.0 - p) / self.n()
        })
    }
}

/// Each value of an intake dimension with its conversations before and after go-live.
pub type MixCounts = Vec<(String, u64, u64)>;

/// What the verification of one fix is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub scope_before: Cell,
    pub scope_after: Cell,
    /// The same branch outside the scope (the control); zero for a scope of `all`.
    pub rest_before: Cell,
    pub rest_after: Cell,
    /// Within the scope, per intake dimension the scope does not fix (channel, topic): each
    /// value's conversations before and after go-live.
    pub mixes: Vec<(Dimension, MixCounts)>,
    /// For a scope of one dimension: every other value of that dimension, before and after.
    pub segments: Vec<(String, Cell, Cell)>,
    /// The dimension of `segments`.
    pub segments_dimension: Option<Dimension>,
    /// Whole days from go-live to the end of the after window (0 or less: not live yet).
    pub days_after: i64,
}

/// The knobs of verification. Defaults follow METHODS.md part B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyPolicy {
    /// Weeks before go-live in the before window.
    pub before_weeks: u32,
    /// Under this many days after go-live, a fix is `too_early`.
    pub min_days: i64,
    /// Under this many conversations in scope after go-live, a fix is `too_early`.
    pub min_conversations: u64,
    /// Error rate of the always-valid interval (two-sided, over every look).
    pub alpha: f64,
    /// Weeks after go-live the confidence sequence is tuned for (the expected sample size is
    /// the before window's conversations scaled to before + this many weeks).
    pub horizon_weeks: u32,
    /// Minimum detectable effect (a rate difference, 0.02 = 2 pp) for "conversations needed"
    /// when the effect seen is not on the expected side.
    pub mde: f64,
    /// Power for "conversations needed".
    pub power: f64,
    /// p-value under which an intake chi-square flags the verdict.
    pub intake_p: f64,
    /// Segments most like the scope used as the second control.
    pub similar_segments: usize,
    /// Conversations a segment needs before go-live to be a similar-segment control.
    pub min_segment_size: u64,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            before_weeks: 4,
            min_days: 7,
            min_conversations: 100,
            alpha: 0.05,
            horizon_weeks: 8,
            mde: 0.02,
            power: 0.8,
            intake_p: 0.001,
            similar_segments: 3,
            min_segment_size: 30,
        }
    }
}

/// The verdict on a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// The always-valid interval of the controlled effect is entirely on the expected side.
    Verified,
    /// Entirely on the other side: the fix made things worse.
    Regressed,
    /// The interval still straddles zero.
    Inconclusive,
    /// Under the minimum days or conversations after go-live.
    TooEarly,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Verified => "verified",
            VerdictKind::Regressed => "regressed",
            VerdictKind::Inconclusive => "inconclusive",
            VerdictKind::TooEarly => "too_early",
        }
    }
    /// In words: `too early`.
    pub fn label(self) -> &'static str {
        match self {
            VerdictKind::TooEarly => "too early",
            other => other.as_str(),
        }
    }
}

impl std::fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rate with its Wilson 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub conversations: u64,
    pub branch_conversations: u64,
    pub rate: Option<f64>,
    pub interval: Option<[f64; 2]>,
}

impl Rate {
    fn of(c: Cell) -> Rate {
        Rate {
            conversations: c.conversations,
            branch_conversations: c.branch_conversations,
            rate: c.rate(),
            interval: wilson(c.x(), c.n()).map(|(l, u)| [l, u]),
        }
    }
}

/// After minus before, with Newcombe's 95 % interval and the change relative to before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    pub difference: Option<f64>,
    pub interval: Option<[f64; 2]>,
    pub relative: Option<f64>,
}

/// One side of the scope: before, after, and the difference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Arm {
    pub before: Rate,
    pub after: Rate,
    pub change: Difference,
}

impl Arm {
    fn of(before: Cell, after: Cell) -> Arm {
        let (b, a) = (Rate::of(before), Rate::of(after));
        let difference = a.rate.zip(b.rate).map(|(a, b)| a - b);
        Arm {
            before: b,
            after: a,
            change: Difference {
                difference,
                interval: newcombe(after.x(), after.n(), before.x(), before.n())
                    .map(|(l, u)| [l, u]),
                relative: difference
                    .zip(b.rate)
                    .filter(|(_, b)| *b > 0.0)
                    .map(|(d, b)| d / b),
            },
        }
    }
}

/// The effect the verdict rests on: the difference-in-differences against the rest of the
/// company (or the raw change when there is no outside), with a fixed-sample and the
/// always-valid 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Effect {
    /// Whether a control was subtracted (false: no conversations outside the scope).
    pub controlled: bool,
    pub estimate: f64,
    pub standard_error: f64,
    /// estimate ± 1.96 se: right for one look only, shown for reference.
    pub fixed_interval: [f64; 2],
    /// The confidence sequence at this look: valid however often one looks.
    pub always_valid_interval: [f64; 2],
}

/// The tuning of the confidence sequence at this look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sequential {
    pub alpha: f64,
    /// Conversations (all four windows) the sequence is tuned for.
    pub expected_conversations: f64,
    pub rho: f64,
    /// Conversations at this look.
    pub conversations: u64,
    /// Half-width in standard errors (1.96 for a fixed-sample interval).
    pub multiplier: f64,
}

/// The segments most like the scope before go-live, as a second control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Similar {
    pub dimension: Dimension,
    pub segments: Vec<String>,
    pub change: Difference,
    /// Scope change minus their change, with a fixed-sample 95 % interval.
    pub estimate: f64,
    pub fixed_interval: [f64; 2],
}

/// One chi-square test of the intake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntakeTest {
    /// `volume_share`, or the mix of a dimension within the scope (`channel`, `topic`).
    pub what: String,
    pub chi_square: f64,
    pub df: u32,
    pub p_value: f64,
    pub flagged: bool,
}

/// Whether the scope's population changed at go-live.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intake {
    /// Any test below `intake_p`: the verdict may reflect a different population, not only a
    /// different process.
    pub flagged: bool,
    pub share_before: Option<f64>,
    pub share_after: Option<f64>,
    pub tests: Vec<IntakeTest>,
}

/// What an inconclusive verdict still needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Needed {
    /// The effect powered for (a rate difference, signed as expected).
    pub effect: f64,
    /// `effect_seen` or `minimum_detectable_effect`.
    pub basis: &'static str,
    /// More conversations in scope after go-live for the given power; none when even 100
    /// times the data would not do (the effect is too small for the before window's noise).
    pub more_conversations: Option<u64>,
    /// At the scope's weekly volume since go-live.
    pub more_weeks: Option<f64>,
}

/// Everything computed for one fix at one look.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub verdict: VerdictKind,
    /// Why a fix is too early (none otherwise).
    pub too_early: Option<String>,
    pub scope: Arm,
    /// The same branch outside the scope.
    pub outside: Option<Arm>,
    pub effect: Option<Effect>,
    pub sequential: Sequential,
    pub similar: Option<Similar>,
    pub intake: Intake,
    pub needed: Option<Needed>,
}

/// The 97.5 % quantile of the standard normal (fixed-sample 95 % intervals).
const Z95: f64 = 1.959_963_984_540_054;

fn z_of(p: f64) -> f64 {
    Normal::new(0.0, 1.0).expect("unit normal").inverse_cdf(p)
}

/// The verdict and its numbers for `counts`.
pub fn assess(counts: &Counts, policy: &VerifyPolicy, expect: Expect) -> Assessment {
    let scope = Arm::of(counts.scope_before, counts.scope_after);
    let has_outside = counts.rest_before.conversations > 0 && counts.rest_after.conversations > 0;
    let outside = has_outside.then(|| Arm::of(counts.rest_before, counts.rest_after));

    // Units of the confidence sequence: every conversation in the windows compared.
    let before_units = counts.scope_before.conversations
        + if has_outside {
            counts.rest_before.conversations
        } else {
            0
        };
    let after_units = counts.scope_after.conversations
        + if has_outside {
            counts.rest_after.conversations
        } else {
            0
        };
    let weeks = f64::from(policy.before_weeks.max(1));
    let expected =
        (before_units as f64 * (weeks + f64::from(policy.horizon_weeks)) / weeks).max(1.0);
    let rho2 = sequential::rho_squared(policy.alpha, expected);
    let units = before_units + after_units;
    let multiplier = sequential::multiplier(units as f64, rho2, policy.alpha);
    let seq = Sequential {
        alpha: policy.alpha,
        expected_conversations: expected,
        rho: rho2.sqrt(),
        conversations: units,
        multiplier,
    };

    // Variances: before (fixed once the fix is live) and after (shrinks as it grows).
    let v = |c: Cell| c.variance();
    let v_before = v(counts.scope_before).map(|a| {
        a + if has_outside {
            v(counts.rest_before).unwrap_or(0.0)
        } else {
            0.0
        }
    });
    let v_after = v(counts.scope_after).map(|a| {
        a + if has_outside {
            v(counts.rest_after).unwrap_or(0.0)
        } else {
            0.0
        }
    });
    let effect = match (scope.change.difference, v_before, v_after) {
        (Some(raw), Some(vb), Some(va)) => {
            let control = outside
                .and_then(|o| o.change.difference)
                .filter(|_| has_outside);
            let estimate = raw - control.unwrap_or(0.0);
            let se = (vb + va).sqrt();
            let fixed = Z95 * se;
            let hw = se * multiplier;
            Some(Effect {
                controlled: control.is_some(),
                estimate,
                standard_error: se,
                fixed_interval: [estimate - fixed, estimate + fixed],
                always_valid_interval: [estimate - hw, estimate + hw],
            })
        }
        _ => None,
    };

    let too_early = if counts.days_after <= 0 {
        Some("no full week since go-live yet".to_string())
    } else if counts.days_after < policy.min_days {
        Some(format!(
            "{} day{} after go-live, under {}",
            counts.days_after,
            if counts.days_after == 1 { "" } else { "s" },
            policy.min_days
        ))
    } else if counts.scope_after.conversations < policy.min_conversations {
        Some(format!(
            "{} conversation{} in scope after go-live, under {}",
            counts.scope_after.conversations,
            if counts.scope_after.conversations == 1 {
                ""
            } else {
                "s"
            },
            policy.min_conversations
        ))
    } else if counts.scope_before.conversations == 0 {
        Some("no conversations in scope before go-live to compare with".to_string())
    } else {
        None
    };

    let sign = expect.sign();
    let verdict = match (&too_early, &effect) {
        (Some(_), _) | (None, None) => VerdictKind::TooEarly,
        (None, Some(e)) => {
            let [lo, hi] = e.always_valid_interval;
            if sign * lo > 0.0 && sign * hi > 0.0 {
                VerdictKind::Verified
            } else if sign * lo < 0.0 && sign * hi < 0.0 {
                VerdictKind::Regressed
            } else {
                VerdictKind::Inconclusive
            }
        }
    };

    let needed = match (verdict, effect, v_before, v_after) {
        (VerdictKind::Inconclusive, Some(e), Some(vb), Some(va)) => Some(needed(
            e.estimate,
            sign,
            vb,
            va,
            before_units,
            after_units,
            counts,
            policy,
            rho2,
        )),
        _ => None,
    };

    Assessment {
        verdict,
        too_early,
        scope,
        outside,
        effect,
        sequential: seq,
        similar: similar(counts, policy, &scope),
        intake: intake(counts, policy, has_outside),
        needed,
    }
}

/// The smallest growth of the after window at which the always-valid interval would clear
/// zero with the given power, if the true effect were the one powered for: the variance of
/// the after window shrinks as 1/k, the before window's stays.
#[allow(clippy::too_many_arguments)]
fn needed(
    seen: f64,
    sign: f64,
    v_before: f64,
    v_after: f64,
    before_units: u64,
    after_units: u64,
    counts: &Counts,
    policy: &VerifyPolicy,
    rho2: f64,
) -> Needed {
    let (effect, basis) = if sign * seen > 0.0 {
        (seen.abs(), "effect_seen")
    } else {
        (policy.mde, "minimum_detectable_effect")
    };
    let z_power = z_of(policy.power);
    let enough = |k: f64| {
        let n = before_units as f64 + k * after_units as f64;
        let se = (v_before + v_after / k).sqrt();
        se * (sequential::multiplier(n, rho2, policy.alpha) + z_power) <= effect
    };
    const MAX_GROWTH: f64 = 100.0;
    let more = if effect <= 0.0 || !enough(MAX_GROWTH) {
        None
    } else {
        let (mut lo, mut hi) = (1.0f64, MAX_GROWTH);
        if enough(1.0) {
            hi = 1.0;
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if enough(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(((hi - 1.0) * counts.scope_after.conversations as f64).ceil() as u64)
    };
    let per_week =
        counts.scope_after.conversations as f64 / (counts.days_after.max(1) as f64 / 7.0);
    Needed {
        effect: sign * effect,
        basis,
        more_conversations: more,
        more_weeks: more.filter(|_| per_week > 0.0).map(|m| m as f64 / per_week),
    }
}

/// The other segments of the scope's dimension whose branch rate before go-live was closest to
/// the scope's, pooled, as a second control.
fn similar(counts: &Counts, policy: &VerifyPolicy, scope: &Arm) -> Option<Similar> {
    let base = scope.before.rate?;
    let raw = scope.change.difference?;
    let mut candidates: Vec<&(String, Cell, Cell)> = counts
        .segments
        .iter()
        .filter(|(_, b, a)| b.conversations >= policy.min_segment_size && a.conversations > 0)
        .collect();
    if candidates.is_empty() || policy.similar_segments == 0 {
        return None;
    }
    candidates.sort_by(|x, y| {
        let dx = (x.1.rate().unwrap_or(0.0) - base).abs();
        let dy = (y.1.rate().unwrap_or(0.0) - base).abs();
        dx.total_cmp(&dy).then_with(|| x.0.cmp(&y.0))
    });
    candidates.truncate(policy.similar_segments);
    let (mut b, mut a) = (Cell::default(), Cell::default());
    for (_, cb, ca) in &candidates {
        b.add(*cb);
        a.add(*ca);
    }
    let arm = Arm::of(b, a);
    let theirs = arm.change.difference?;
    let var = [counts.scope_before, counts.scope_after, b, a]
        .iter()
        .map(|c| c.variance().unwrap_or(0.0))
        .sum::<f64>();
    let estimate = raw - theirs;
    let hw = Z95 * var.sqrt();
    Some(Similar {
        dimension: counts.segments_dimension?,
        segments: candidates.iter().map(|(v, _, _)| v.clone()).collect(),
        change: arm.change,
        estimate,
        fixed_interval: [estimate - hw, estimate + hw],
    })
}

/// Pearson's chi-square of a table of counts (rows x columns); rows and columns with no
/// count are dropped. None when fewer than two rows or columns remain.
pub fn chi_square(table: &[Vec<f64>]) -> Option<(f64, u32, f64)> {
    let rows: Vec<&Vec<f64>> = table
        .iter()
        .filter(|r| r.iter().sum::<f64>() > 0.0)
        .collect();
    let width = rows.first()?.len();
    let cols: Vec<usize> = (0..width)
        .filter(|&j| rows.iter().map(|r| r[j]).sum::<f64>() > 0.0)
        .collect();
    if rows.len() < 2 || cols.len() < 2 {
        return None;
    }
    let total: f64 = rows.iter().flat_map(|r| cols.iter().map(|&j| r[j])).sum();
    let col_sums: Vec<f64> = cols
        .iter()
        .map(|&j| rows.iter().map(|r| r[j]).sum())
        .collect();
    let mut stat = 0.0;
    for r in &rows {
        let row_sum: f64 = cols.iter().map(|&j| r[j]).sum();
        for (k, &j) in cols.iter().enumerate() {
            let e = row_sum * col_sums[k] / total;
            if e > 0.0 {
                stat += (r[j] - e).powi(2) / e;
            }
        }
    }
    let df = ((rows.len() - 1) * (cols.len() - 1)) as u32;
    let p = ChiSquared::new(f64::from(df))
        .map(|d| d.sf(stat))
        .unwrap_or(1.0);
    Some((stat, df, p))
}

fn intake(counts: &Counts, policy: &VerifyPolicy, has_outside: bool) -> Intake {
    let mut tests = Vec::new();
    let share = |s: Cell, r: Cell| {
        let n = s.conversations + r.conversations;
        (n > 0).then(|| s.conversations as f64 / n as f64)
    };
    let (share_before, share_after) = if has_outside {
        (
            share(counts.scope_before, counts.rest_before),
            share(counts.scope_after, counts.rest_after),
        )
    } else {
        (None, None)
    };
    let mut push = |what: String, table: Vec<Vec<f64>>| {
        if let Some((chi_square, df, p_value)) = chi_square(&table) {
            tests.push(IntakeTest {
                what,
                chi_square,
                df,
                p_value,
                flagged: p_value < policy.intake_p,
            });
        }
    };
    if has_outside {
        push(
            "volume_share".into(),
            vec![
                vec![
                    counts.scope_before.conversations as f64,
                    counts.scope_after.conversations as f64,
                ],
                vec![
                    counts.rest_before.conversations as f64,
                    counts.rest_after.conversations as f64,
                ],
            ],
        );
    }
    for (dim, values) in &counts.mixes {
        push(
            format!("{dim}_mix"),
            values
                .iter()
                .map(|(_, b, a)| vec![*b as f64, *a as f64])
                .collect(),
        );
    }
    Intake {
        flagged: tests.iter().any(|t| t.flagged),
        share_before,
        share_after,
        tests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(sb: (u64, u64), sa: (u64, u64), rb: (u64, u64), ra: (u64, u64)) -> Counts {
        Counts {
            scope_before: Cell::new(sb.0, sb.1),
            scope_after: Cell::new(sa.0, sa.1),
            rest_before: Cell::new(rb.0, rb.1),
            rest_after: Cell::new(ra.0, ra.1),
            days_after: 28,
            ..Counts::default()
        }
    }

    #[test]
    fn difference_in_differences_by_hand() {
        // Scope 200/1000 -> 100/1000 (-10 pp), outside 100/1000 -> 80/1000 (-2 pp): -8 pp.
        let c = counts((1000, 200), (1000, 100), (1000, 100), (1000, 80));
        let a = assess(&c, &VerifyPolicy::default(), Expect::Down);
        let e = a.effect.unwrap();
        assert!(e.controlled);
        assert!((e.estimate + 0.08).abs() < 1e-12, "{e:?}");
        assert!((a.scope.change.difference.unwrap() + 0.10).abs() < 1e-12);
        assert!((a.scope.change.relative.unwrap() + 0.5).abs() < 1e-12);
        // se² = Σ p̃(1-p̃)/n with p̃ = (x+½)/(n+1).
        let v = |x: f64, n: f64| {
            let p = (x + 0.5) / (n + 1.0);
            p * (1.0 - p) / n
        };
        let se = (v(200.0, 1000.0) + v(100.0, 1000.0) + v(100.0, 1000.0) + v(80.0, 1000.0)).sqrt();
        assert!((e.standard_error - se).abs() < 1e-12);
        let [lo, hi] = e.always_valid_interval;
        assert!(((hi - lo) / 2.0 - se * a.sequential.multiplier).abs() < 1e-12);
        assert!(a.sequential.multiplier > 2.9);
        assert_eq!(a.verdict, VerdictKind::Verified);
        // The other way round, the same data regressed.
        let up = assess(&c, &VerifyPolicy::default(), Expect::Up);
        assert_eq!(up.verdict, VerdictKind::Regressed);
    }

    #[test]
    fn a_company_wide_drift_is_not_credited() {
        // Everything fell 5 pp: the scope's raw change is clear, the controlled one is 0.
        let c = counts((4000, 600), (4000, 400), (20000, 3000), (20000, 2000));
        let a = assess(&c, &VerifyPolicy::default(), Expect::Down);
        assert!(a.scope.change.interval.unwrap()[1] < 0.0);
        assert!(a.effect.unwrap().estimate.abs() < 1e-12);
        assert_eq!(a.verdict, VerdictKind::Inconclusive);
        let n = a.needed.unwrap();
        assert_eq!(n.basis, "minimum_detectable_effect");
        assert!((n.effect + 0.02).abs() < 1e-12);
    }

    #[test]
    fn too_early_by_days_and_by_conversations() {
        let mut c = counts((1000, 200), (99, 5), (1000, 100), (1000, 100));
        let a = assess(&c, &VerifyPolicy::default(), Expect::Down);
        assert_eq!(a.verdict, VerdictKind::TooEarly);
        assert!(a.too_early.unwrap().contains("99 conversations"));
        c.scope_after = Cell::new(500, 20);
        c.days_after = 6;
        let a = assess(&c, &VerifyPolicy::default(), Expect::Down);
        assert_eq!(a.verdict, VerdictKind::TooEarly);
        assert!(a.too_early.unwrap().contains("6 days"));
    }

    #[test]
    fn needed_shrinks_with_a_larger_effect_and_none_when_out_of_reach() {
        // 10 % -> 8 % in scope, 10 % flat outside: -2 pp seen, not yet clear.
        let c = counts((8000, 800), (500, 40), (32000, 3200), (2000, 200));
        let a = assess(&c, &VerifyPolicy::default(), Expect::Down);
        assert_eq!(a.verdict, VerdictKind::Inconclusive);
        let n = a.needed.unwrap();
        assert_eq!(n.basis, "effect_seen");
        let more = n.more_conversations.unwrap();
        assert!(more > 0, "{n:?}");
        assert!(n.more_weeks.unwrap() > 0.0);
        // -4 pp needs fewer.
        let c4 = counts((8000, 800), (500, 30), (32000, 3200), (2000, 200));
        let a4 = assess(&c4, &VerifyPolicy::default(), Expect::Down);
        if a4.verdict == VerdictKind::Inconclusive {
            assert!(a4.needed.unwrap().more_conversations.unwrap() < more);
        }
        // A 0.1 pp effect cannot be seen through the before window's noise.
        let c = counts((2000, 200), (500, 50), (8000, 800), (2000, 200));
        let policy = VerifyPolicy {
            mde: 0.001,
            ..VerifyPolicy::default()
        };
        let a = assess(&c, &policy, Expect::Down);
        assert_eq!(a.needed.unwrap().more_conversations, None);
    }

    #[test]
    fn chi_square_by_hand() {
        // [[10, 20], [30, 40]]: N = 100, E = [[12, 18], [28, 42]],
        // χ² = 4/12 + 4/18 + 4/28 + 4/42 = 0.793651 (Pearson, no correction), p = 0.373.
        let (x, df, p) = chi_square(&[vec![10.0, 20.0], vec![30.0, 40.0]]).unwrap();
        assert_eq!(df, 1);
        assert!((x - 0.793_650_8).abs() < 1e-6, "{x}");
        assert!((p - 0.373).abs() < 1e-3, "{p}");
        assert!(chi_square(&[vec![10.0, 20.0], vec![0.0, 0.0]]).is_none());
    }

    #[test]
    fn intake_flags_a_share_jump() {
        let mut c = counts((1000, 100), (2000, 200), (9000, 900), (8000, 800));
        c.mixes = vec![(
            Dimension::Channel,
            vec![("chat".into(), 500, 1000), ("email".into(), 500, 1000)],
        )];
        let a = assess(&c, &VerifyPolicy::default(), Expect::Down);
        assert!(a.intake.flagged);
        let mix = a
            .intake
            .tests
            .iter()
            .find(|t| t.what == "channel_mix")
            .unwrap();
        assert!(!mix.flagged && (mix.p_value - 1.0).abs() < 1e-9);
    }
}
