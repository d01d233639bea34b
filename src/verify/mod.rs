//! Verify: "did the fix work?" (METHODS.md part B).
//!
//! A fix (config `[[fixes]]` or `baton fix add`) names a branch, a scope and the date it went
//! live. Verification compares the branch rate in the scope over the weeks before go-live with
//! the weeks since (to the end of the last full week), subtracts the same change outside the
//! scope (difference-in-differences), checks the scope's intake did not shift, and gives a
//! verdict on an always-valid confidence sequence, so owners can look every week without
//! inflating false verdicts.
//!
//! Public face: [`verify`] / [`verify_with`] (facts + fixes -> [`Verdict`]s, serde-serialisable),
//! [`registry`] / [`open_fixes`] (config and store merged, config winning), [`pull_start`]
//! (how far back a run must pull to cover every open fix's baseline), [`render_table`].
//! Inside: `counts` (the only polars code), `assess` (the statistics on counts, also what the
//! A/A simulations call), `sequential` (the confidence sequence).
//!
//! Stage order: after `explain` (whose Wilson and Newcombe intervals it uses), before
//! `report`.

mod assess;
mod counts;
mod sequential;
mod table;

pub use assess::{
    assess, chi_square, Arm, Assessment, Cell, Counts, Difference, Effect, Intake, IntakeTest,
    MixCounts, Needed, Rate, Sequential, Similar, VerdictKind, VerifyPolicy,
};
pub use sequential::{half_width, multiplier, rho_squared};
pub use table::render_table;

use crate::config::{Config, Expect, Fix, FixState};
use crate::metrics::FactTables;
use crate::store::{FixRecord, Store, StoreError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use counts::Windows;
use serde::Serialize;

/// The version of [`VerifyReport`]'s JSON form (fields are only added; a rename or removal
/// bumps it).
pub const VERIFY_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("verifying fixes failed: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
}

/// A window of local days, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
}

/// The verdict on one fix at one look, with every number behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub fix: Fix,
    /// The look: the after window ends with the last full ISO week before this date.
    pub as_of: NaiveDate,
    pub before: Window,
    pub after: Window,
    /// The verdict in one sentence, for reports.
    pub summary: String,
    /// `review_by` has passed.
    pub review_due: bool,
    /// Scope values seen in no data, windows the data does not cover.
    pub warnings: Vec<String>,
    #[serde(flatten)]
    pub assessment: Assessment,
}

impl Verdict {
    pub fn kind(&self) -> VerdictKind {
        self.assessment.verdict
    }
}

/// What `baton verify --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub schema_version: u32,
    pub as_of: NaiveDate,
    pub policy: VerifyPolicy,
    pub fixes: Vec<Verdict>,
}

impl VerifyReport {
    pub fn new(as_of: NaiveDate, policy: &VerifyPolicy, fixes: Vec<Verdict>) -> VerifyReport {
        VerifyReport {
            schema_version: VERIFY_SCHEMA_VERSION,
            as_of,
            policy: policy.clone(),
            fixes,
        }
    }
}

/// The end of the after window for a look on `as_of`: the Monday that starts `as_of`'s ISO
/// week (so a look on a Monday includes the week just ended).
pub fn last_full_week_end(as_of: NaiveDate) -> NaiveDate {
    as_of - Duration::days(i64::from(as_of.weekday().num_days_from_monday()))
}

fn windows(fix: &Fix, policy: &VerifyPolicy, as_of: NaiveDate) -> Windows {
    let end = last_full_week_end(as_of).max(fix.live);
    Windows {
        before: (
            fix.live - Duration::days(7 * i64::from(policy.before_weeks)),
            fix.live,
        ),
        after: (fix.live, end),
    }
}

/// The earliest instant a run must pull for the before windows of `fixes` that are open: the
/// lead widens a run's pull window to it (none without open fixes).
pub fn pull_start(fixes: &[Fix], cfg: &Config, policy: &VerifyPolicy) -> Option<DateTime<Utc>> {
    fixes
        .iter()
        .filter(|f| f.state == FixState::Open)
        .map(|f| counts::midnight(windows(f, policy, f.live).before.0, cfg.tz()))
        .min()
}

/// [`verify_with`] with the default policy (METHODS.md part B: 4 weeks before, at least
/// 7 days and 100 conversations after, 95 %, 80 % power, 2 pp minimum detectable effect).
pub fn verify(
    facts: &FactTables,
    fixes: &[Fix],
    cfg: &Config,
    as_of: NaiveDate,
) -> Result<Vec<Verdict>, VerifyError> {
    verify_with(facts, fixes, cfg, &VerifyPolicy::default(), as_of)
}

/// The verdict on each of `fixes` (in their order; closed ones too, if given) at the look
/// `as_of` (a local date in the report's zone), from the conversation facts.
pub fn verify_with(
    facts: &FactTables,
    fixes: &[Fix],
    cfg: &Config,
    policy: &VerifyPolicy,
    as_of: NaiveDate,
) -> Result<Vec<Verdict>, VerifyError> {
    let conv = &facts.conversations;
    let tz = cfg.tz();
    let span = counts::resolved_span(conv)?;
    let mut out = Vec::with_capacity(fixes.len());
    for fix in fixes {
        let w = windows(fix, policy, as_of);
        let c = counts::counts(conv, fix, &w, tz)?;
        let assessment = assess(&c, policy, fix.expect);
        let mut warnings: Vec<String> = counts::unseen_values(conv, fix)?
            .into_iter()
            .map(|v| format!("no conversation in the data has {v}: check the scope's spelling"))
            .collect();
        match span {
            None => warnings.push("the data has no resolved conversations".into()),
            Some((first, last)) => {
                let date = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
                if date(first) > w.before.0 {
                    warnings.push(format!(
                        "the data starts on {}, after the before window's start ({}): the baseline is shorter than {} weeks",
                        date(first),
                        w.before.0,
                        policy.before_weeks
                    ));
                }
                if w.after.1 > w.after.0 && date(last) < w.after.1 - Duration::days(1) {
                    warnings.push(format!(
                        "the data ends on {}, before the after window's end ({})",
                        date(last),
                        w.after.1 - Duration::days(1)
                    ));
                }
            }
        }
        let review_due = fix.review_by.is_some_and(|r| r < as_of);
        let summary = summary(fix, &assessment, review_due, policy);
        out.push(Verdict {
            fix: fix.clone(),
            as_of,
            before: Window {
                start: w.before.0,
                end: w.before.1,
            },
            after: Window {
                start: w.after.0,
                end: w.after.1,
            },
            summary,
            review_due,
            warnings,
            assessment,
        });
    }
    Ok(out)
}

/// `topic billing`, `team Billing and channel chat`, `all conversations`.
pub fn scope_words(fix: &Fix) -> String {
    if fix.scope.is_all() {
        return "all conversations".into();
    }
    fix.scope
        .pairs()
        .iter()
        .map(|(d, v)| format!("{d} {v}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn pp(x: f64) -> String {
    crate::format::pp(Some(x * 100.0))
}

fn pp_bare(x: f64) -> String {
    crate::format::signed(Some(x * 100.0), 1, "")
}

/// The verdict in one sentence: "Billing keywords route to Billing: verified, routing handoffs
/// in topic billing down 6.1 pp vs -0.4 pp elsewhere, an effect of -5.7 pp (always-valid 95 %
/// interval -8.9 to -2.5)".
fn summary(fix: &Fix, a: &Assessment, review_due: bool, policy: &VerifyPolicy) -> String {
    let mut s = format!("{}: {}", fix.title, a.verdict.label());
    if let Some(why) = &a.too_early {
        s.push_str(&format!(" ({why})"));
    }
    if let (Some(raw), Some(e)) = (a.scope.change.difference, a.effect) {
        let moved = if raw < 0.0 { "down" } else { "up" };
        s.push_str(&format!(
            ", {} handoffs in {} {moved} {}",
            fix.branch,
            scope_words(fix),
            crate::format::num(Some((raw * 100.0).abs()), 1) + " pp"
        ));
        if let Some(control) = a
            .outside
            .and_then(|o| o.change.difference)
            .filter(|_| e.controlled)
        {
            s.push_str(&format!(" vs {} elsewhere", pp(control)));
        }
        let conf = format!("{:.0} %", (1.0 - policy.alpha) * 100.0);
        if a.verdict != VerdictKind::TooEarly {
            s.push_str(&format!(
                ", {} {} (always-valid {conf} interval {} to {})",
                if e.controlled {
                    "an effect of"
                } else {
                    "with no control group, a change of"
                },
                pp(e.estimate),
                pp_bare(e.always_valid_interval[0]),
                pp_bare(e.always_valid_interval[1]),
            ));
        }
    }
    if let Some(n) = &a.needed {
        let basis = match n.basis {
            "effect_seen" => "at the effect seen".to_string(),
            _ => format!("at the minimum detectable effect of {}", pp(n.effect)),
        };
        match (n.more_conversations, n.more_weeks) {
            (Some(m), Some(w)) => s.push_str(&format!(
                "; about {} more conversations in scope needed (about {} at the current volume) for {:.0} % power {basis}",
                crate::format::count(m as i64),
                weeks_words(w),
                policy.power * 100.0
            )),
            (Some(m), None) => s.push_str(&format!(
                "; about {} more conversations in scope needed for {:.0} % power {basis}",
                crate::format::count(m as i64),
                policy.power * 100.0
            )),
            (None, _) => s.push_str(&format!(
                "; an effect this small cannot be told from noise against this baseline ({basis})"
            )),
        }
    }
    let flagged: Vec<String> = a
        .intake
        .tests
        .iter()
        .filter(|t| t.flagged)
        .map(|t| t.what.replace('_', " "))
        .collect();
    if !flagged.is_empty() {
        s.push_str(&format!(
            "; caution: the scope's intake changed at go-live ({}), so the population changed, not only the process",
            flagged.join(", ")
        ));
    }
    if review_due {
        if let Some(r) = fix.review_by {
            s.push_str(&format!("; review was due on {r}"));
        }
    }
    s
}

fn weeks_words(w: f64) -> String {
    let r = w.ceil().max(1.0) as i64;
    if r == 1 {
        "1 week".into()
    } else {
        format!("{r} weeks")
    }
}

/// Where a fix was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `[[fixes]]` in the config (wins over a stored fix with the same id).
    Config,
    /// `baton fix add`.
    Store,
}

/// A fix with where it comes from, and its stored record (who added it, when) if any.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredFix {
    pub fix: Fix,
    pub origin: Origin,
    pub record: Option<FixRecord>,
    /// A stored fix with the same id that the config's declaration overrides.
    pub overrides_stored: bool,
}

/// Every fix: stored ones, then those only in the config; a config declaration replaces a
/// stored fix with the same id (config wins). Without a store, the config's.
pub fn registry(cfg: &Config, store: Option<&Store>) -> Result<Vec<RegisteredFix>, StoreError> {
    let stored = match store {
        Some(s) => s.stored_fixes()?,
        None => Vec::new(),
    };
    let mut out: Vec<RegisteredFix> = stored
        .into_iter()
        .map(|r| match cfg.fix(&r.fix.id) {
            Some(declared) => RegisteredFix {
                fix: declared.clone(),
                origin: Origin::Config,
                record: Some(r),
                overrides_stored: true,
            },
            None => RegisteredFix {
                fix: r.fix.clone(),
                origin: Origin::Store,
                record: Some(r),
                overrides_stored: false,
            },
        })
        .collect();
    for f in &cfg.fixes {
        if !out.iter().any(|r| r.fix.id == f.id) {
            out.push(RegisteredFix {
                fix: f.clone(),
                origin: Origin::Config,
                record: None,
                overrides_stored: false,
            });
        }
    }
    Ok(out)
}

/// The open fixes of [`registry`], what a report run verifies.
pub fn open_fixes(cfg: &Config, store: Option<&Store>) -> Result<Vec<Fix>, StoreError> {
    Ok(registry(cfg, store)?
        .into_iter()
        .filter(|r| r.fix.state == FixState::Open)
        .map(|r| r.fix)
        .collect())
}

/// Whether a verdict is news worth pushing to the owner: it became verified or regressed
/// since the previous look (`previous` from [`Store::record_verdict`]).
pub fn is_news(now: VerdictKind, previous: Option<&str>) -> bool {
    matches!(now, VerdictKind::Verified | VerdictKind::Regressed) && previous != Some(now.as_str())
}

/// The fix's expected direction in words (`down`).
pub fn expect_words(e: Expect) -> &'static str {
    e.as_str()
}
