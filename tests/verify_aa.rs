//! A/A: a fix that does nothing, looked at every week for 12 weeks after go-live, over many
//! seeds. The always-valid interval must keep false `verified` verdicts (at any of the 12
//! looks) at or under 5 %; a fixed-sample interval looked at weekly would not.
//!
//! 300 seeded runs (fixed seeds, so the test is deterministic): the measured rate itself must
//! be at most 5 % (15 runs). The sequence meets it with room: its half-width is at least 3
//! standard errors at every look (a per-look one-sided error under 0.15 %), so even a union
//! bound over the 12 looks gives under 2 %; `benches/verify.rs` measures it over many more
//! runs and prints the power.

mod verify_support;

use baton::verify::{VerdictKind, VerifyPolicy};
use verify_support::{rate, World};

const RUNS: u64 = 300;

#[test]
fn weekly_looks_at_a_null_fix_are_falsely_verified_at_most_5_percent_of_the_time() {
    let policy = VerifyPolicy::default();
    let w = World::default();
    let (any, _) = rate(RUNS, 1, &w, &policy, VerdictKind::Verified);
    let (regressed, _) = rate(RUNS, 1, &w, &policy, VerdictKind::Regressed);
    eprintln!(
        "A/A, 12 weekly looks, {RUNS} runs: false verified {:.1} %, false regressed {:.1} %",
        any * 100.0,
        regressed * 100.0
    );
    assert!(
        any <= 0.05,
        "false verified in {:.1} % of runs",
        any * 100.0
    );
    assert!(
        regressed <= 0.05,
        "false regressed in {:.1} % of runs",
        regressed * 100.0
    );
}

#[test]
fn a_company_wide_drift_does_not_verify_a_null_fix() {
    let policy = VerifyPolicy::default();
    let w = World {
        drift: -0.03,
        ..World::default()
    };
    let (any, _) = rate(RUNS, 1_000, &w, &policy, VerdictKind::Verified);
    eprintln!(
        "A/A under a -3 pp drift: false verified {:.1} %",
        any * 100.0
    );
    assert!(
        any <= 0.05,
        "false verified in {:.1} % of runs",
        any * 100.0
    );
}

#[test]
fn a_real_effect_is_found() {
    // -5 pp in scope (12 % -> 7 %): found by the last look in most runs.
    let policy = VerifyPolicy::default();
    let w = World {
        effect: -0.05,
        ..World::default()
    };
    let (_, last) = rate(60, 5_000, &w, &policy, VerdictKind::Verified);
    eprintln!("power at -5 pp after 12 weeks: {:.0} %", last * 100.0);
    assert!(last >= 0.8, "verified in {:.0} % of runs", last * 100.0);
}
