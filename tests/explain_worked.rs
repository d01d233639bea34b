//! The worked example of METHODS.md part A, end to end (events -> facts -> explanation), with
//! every expected number worked out by hand below.
//!
//! Two queues (teams): General Support hands off 10 % of its conversations (all for skill),
//! Billing 40 % (all routing). In 2026-W45 (before) General Support has 600 of 1000
//! conversations and Billing 400; in W46 (after) 450 and 550, and Billing's rate edges up to
//! 225/550.
//!
//!   R0 = (60 + 160) / 1000 = 22 %,  R1 = (45 + 225) / 1000 = 27 %,  change 5 points.
//!   w0 = (0.60, 0.40), w1 = (0.45, 0.55), w̄ = (0.525, 0.475), R̄ = 0.245.
//!   r0 = (0.10, 0.40), r1 = (0.10, 0.409090...), r̄ = (0.10, 0.404545...).
//!   General Support: rate = 0.525 * 0 = 0;  mix = -0.15 * (0.10 - 0.245) = 0.02175
//!   Billing: rate = 0.475 * (225/550 - 0.40) = 0.475 * 0.0090909 = 0.0043182
//!            mix  = 0.15 * (0.4045455 - 0.245) = 0.0239318
//!   Sum: 0.02175 + 0.0239318 + 0.0043182 = 0.05. Mix is 0.0456818 of it (91 %).
//!
//! Branches. Skill (General Support's handoffs): 60/1000 -> 45/1000, change -1.5 points,
//! R̄_skill = 0.0525: GS mix = -0.15 * (0.10 - 0.0525) = -0.007125, Billing mix =
//! 0.15 * (0 - 0.0525) = -0.007875, rates 0. Routing (Billing's): 160/1000 -> 225/1000, change
//! +6.5 points, R̄_routing = 0.1925: GS mix = -0.15 * (0 - 0.1925) = 0.028875, Billing mix =
//! 0.15 * (0.4045455 - 0.1925) = 0.0318068, Billing rate = 0.0043182 (as above).
//! Cells add up to the measure's cells: GS mix -0.007125 + 0.028875 = 0.02175.

mod explain_support;

use baton::domain::Cause;
use baton::explain::{explain, Effect, Explanation, Metric, SegmentKey};
use explain_support::*;

fn population() -> Vec<Conv> {
    let mut v = Vec::new();
    let gs = "General Support-agent";
    add_queue(&mut v, (45, "General Support", gs), 600, 60, Cause::Skill);
    add_queue(
        &mut v,
        (45, "Billing", "Billing-agent"),
        400,
        160,
        Cause::Routing,
    );
    add_queue(&mut v, (46, "General Support", gs), 450, 45, Cause::Skill);
    add_queue(
        &mut v,
        (46, "Billing", "Billing-agent"),
        550,
        225,
        Cause::Routing,
    );
    v
}

fn cell(e: &[baton::explain::Driver], segment: &str, effect: Effect) -> f64 {
    e.iter()
        .find(|d| d.key == SegmentKey::single("team", segment) && d.effect == effect)
        .unwrap_or_else(|| panic!("no {segment} {effect:?} row"))
        .contribution
}

fn branch(e: &Explanation, c: Cause) -> &baton::explain::Branch {
    e.branch_list().iter().find(|b| b.cause == c).unwrap()
}

const EPS: f64 = 1e-12;

#[test]
fn two_queues_mostly_mix() {
    let cfg = config(&["team"]);
    let facts = facts(&population(), &cfg);
    let e = explain(facts, &cfg, &week(46), &week(45), Metric::HandoffRate).unwrap();

    assert!((e.before - 0.22).abs() < EPS && (e.after - 0.27).abs() < EPS);
    assert!((e.change - 0.05).abs() < EPS);
    assert_eq!((e.n_before, e.n_after), (1000.0, 1000.0));

    let d = &e.drivers;
    assert!(cell(d, "General Support", Effect::Rate).abs() < EPS);
    assert!((cell(d, "General Support", Effect::Mix) - 0.02175).abs() < EPS);
    let billing_rate = 0.475 * (225.0 / 550.0 - 0.40);
    assert!((cell(d, "Billing", Effect::Rate) - billing_rate).abs() < EPS);
    let billing_mix = 0.15 * ((0.40 + 225.0 / 550.0) / 2.0 - 0.245);
    assert!((cell(d, "Billing", Effect::Mix) - billing_mix).abs() < EPS);
    assert!((billing_rate - 0.0043182).abs() < 1e-7 && (billing_mix - 0.0239318).abs() < 1e-7);
    // Two segments, both shown: nothing is left for "everything else".
    assert!(e.other["team"].abs() < EPS);
    let mix = cell(d, "General Support", Effect::Mix) + cell(d, "Billing", Effect::Mix);
    assert!(
        (mix / e.change - 0.913636).abs() < 1e-6,
        "mix share {}",
        mix / e.change
    );

    // Branches.
    let skill = branch(&e, Cause::Skill);
    assert!((skill.change + 0.015).abs() < EPS);
    assert!((cell(&skill.drivers, "General Support", Effect::Mix) + 0.007125).abs() < EPS);
    assert!((cell(&skill.drivers, "Billing", Effect::Mix) + 0.007875).abs() < EPS);
    let routing = branch(&e, Cause::Routing);
    assert!((routing.change - 0.065).abs() < EPS);
    assert!((cell(&routing.drivers, "General Support", Effect::Mix) - 0.028875).abs() < EPS);
    assert!(
        (cell(&routing.drivers, "Billing", Effect::Mix)
            - 0.15 * ((0.40 + 225.0 / 550.0) / 2.0 - 0.1925))
            .abs()
            < EPS
    );
    assert!((cell(&routing.drivers, "Billing", Effect::Rate) - billing_rate).abs() < EPS);
    for c in [Cause::Escalation, Cause::Channel] {
        assert_eq!(branch(&e, c).change, 0.0);
    }
    let sum: f64 = e.branch_list().iter().map(|b| b.change).sum();
    assert!((sum - e.change).abs() < EPS);

    // Significance. The measure: 220/1000 vs 270/1000, pooled p = 0.245,
    // z = 0.05 / sqrt(0.245 * 0.755 * 0.002) = 2.600 -> beyond noise.
    assert!((e.z.unwrap() - 0.05 / (0.245f64 * 0.755 * 0.002).sqrt()).abs() < 1e-9);
    assert!(e.significant);
    // Billing's rate edge (160/400 -> 225/550) is noise: z = 0.0091 / 0.0322 = 0.28.
    let br = routing
        .drivers
        .iter()
        .find(|x| x.key.values().to_string() == "Billing" && x.effect == Effect::Rate)
        .unwrap();
    assert!(!br.significant, "{br:?}");
    // Its Wilson intervals: 160/400 -> 0.3532 to 0.4487, 225/550 -> 0.3688 to 0.4507
    // ((x + z²/2)/(n + z²) ± z/(n + z²) sqrt(x(n-x)/n + z²/4), z = 1.96).
    let [l0, u0] = br.rate_ci_before.unwrap();
    let [l1, u1] = br.rate_ci_after.unwrap();
    assert!(
        (l0 - 0.35316).abs() < 1e-5 && (u0 - 0.44874).abs() < 1e-5,
        "{l0} {u0}"
    );
    assert!(
        (l1 - 0.36877).abs() < 1e-5 && (u1 - 0.45067).abs() < 1e-5,
        "{l1} {u1}"
    );
    // The shift of volume to Billing in the routing branch is a driver: Δw = 0.15 with
    // se(Δw) = sqrt(.4*.6/1000 + .55*.45/1000) = 0.0221, z about 6.8.
    let bm = routing
        .drivers
        .iter()
        .find(|x| x.key.values().to_string() == "Billing" && x.effect == Effect::Mix)
        .unwrap();
    assert!(bm.significant && bm.z.unwrap() > 5.0, "{bm:?}");
    assert_eq!(bm.owner.as_ref().unwrap().as_str(), "support-operations");

    // The mix owner hears about it; the Billing lead too (a team cell).
    assert!(e
        .pushes()
        .iter()
        .any(|p| p.owner.email == "support-ops@example.com"
            && p.key.values().to_string() == "Billing"
            && p.effect == Effect::Mix));
    assert!(e
        .pushes()
        .iter()
        .any(|p| p.owner.email == "billing-lead@example.com"));
    assert!(e.pushes().iter().all(|p| p.q < 0.05));
    let s = &e.summary()["support-operations"];
    assert!(
        s.starts_with("Routing handoffs rose 6.5 points (95 % CI"),
        "{s}"
    );
    // Its largest push is Billing's mix: 0.0318068 / 0.065 = 49 %.
    assert!(
        s.contains(": 49 % of it is more volume from team Billing, which runs above average."),
        "{s}"
    );

    // The JSON carries the stable names.
    let j = serde_json::to_value(&e).unwrap();
    for k in [
        "metric",
        "period",
        "vs",
        "before",
        "after",
        "change",
        "branches",
        "localised",
        "pushes",
        "summary",
    ] {
        assert!(j.get(k).is_some(), "missing {k}");
    }
    let d0 = &j["branches"][0]["drivers"][0];
    for k in [
        "dimension",
        "segment",
        "effect",
        "contribution",
        "ci",
        "z",
        "q",
        "significant",
        "owner",
    ] {
        assert!(d0.get(k).is_some(), "driver missing {k}");
    }
    assert_eq!(j["metric"], "handoff_rate");
    assert_eq!(j["period"]["label"], "2026-W46");
}

#[test]
fn other_measures_and_empty_periods() {
    let cfg = config(&["team"]);
    let facts = facts(&population(), &cfg);
    // Avoidable share: each conversation has at most one handoff, so handoffs are 220 before
    // (60 skill + 160 routing, both avoidable) and 270 after: 100 % both weeks, no change.
    let e = explain(
        facts.clone(),
        &cfg,
        &week(46),
        &week(45),
        Metric::AvoidableShare,
    )
    .unwrap();
    assert_eq!(
        (e.before, e.after, e.n_before, e.n_after),
        (1.0, 1.0, 220.0, 270.0)
    );
    let causes: Vec<Cause> = e.branch_list().iter().map(|b| b.cause).collect();
    assert_eq!(causes, [Cause::Routing, Cause::Skill]);
    // Routing's share of handoffs: 160/220 -> 225/270.
    let r = e.branch_list()[0].change;
    assert!((r - (225.0 / 270.0 - 160.0 / 220.0)).abs() < EPS);
    // Time lost: each handed-off conversation waits 60 s (from the handoff at +120 s to the
    // reply at +180 s) out of a 600 s life: share = 0.1 * handoff rate, 2.2 % -> 2.7 %.
    let e = explain(
        facts.clone(),
        &cfg,
        &week(46),
        &week(45),
        Metric::TimeLostShare,
    )
    .unwrap();
    assert!(
        (e.before - 0.022).abs() < EPS && (e.after - 0.027).abs() < EPS,
        "{} {}",
        e.before,
        e.after
    );
    assert!(e.branches.is_none());
    // A week without data is an error that names it.
    let err = explain(facts, &cfg, &week(47), &week(46), Metric::HandoffRate).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no conversations resolved in 2026-W47: there is nothing to compare (pick periods the data covers with --period and --vs)"
    );
}

/// One queue's rate rises clearly while four others drift down by noise: the branch barely
/// moves, so no significant segment moves with it, and the clear one must still be named, as
/// moving against the change (not as a "lead", which is for cells that are not significant).
///
///   before: A 100/1000 (10 %), B..E 200/1000 each (20 %): 900/5000 = 18.00 %
///   after:  A 160/1000 (16 %), B..E 182/1000 each (18.2 %): 888/5000 = 17.76 %, change -0.24
///   volumes equal, so no mix: A rate = 0.2 * 0.06 = +1.2 points; B..E 0.2 * -0.018 = -0.36
///   each. A's own z is about 0.06 / sqrt(0.1*0.9/1000 + 0.16*0.84/1000) = 4.0; B's about
///   0.018 / sqrt(0.2*0.8/1000 + 0.182*0.818/1000) = 1.0.
#[test]
fn a_clear_segment_moving_against_a_flat_branch_is_named_against_it() {
    let mut v = Vec::new();
    add_queue(&mut v, (45, "A", "A-agent"), 1000, 100, Cause::Routing);
    add_queue(&mut v, (46, "A", "A-agent"), 1000, 160, Cause::Routing);
    for t in ["B", "C", "D", "E"] {
        let agent = format!("{t}-agent");
        add_queue(&mut v, (45, t, &agent), 1000, 200, Cause::Routing);
        add_queue(&mut v, (46, t, &agent), 1000, 182, Cause::Routing);
    }
    let cfg = config(&["team"]);
    let e = explain(
        facts(&v, &cfg),
        &cfg,
        &week(46),
        &week(45),
        Metric::HandoffRate,
    )
    .unwrap();
    let routing = branch(&e, Cause::Routing);
    assert!((routing.change + 0.0024).abs() < EPS, "{}", routing.change);
    assert!((cell(&routing.drivers, "A", Effect::Rate) - 0.012).abs() < EPS);
    assert!((cell(&routing.drivers, "B", Effect::Rate) + 0.0036).abs() < EPS);
    let a = routing
        .drivers
        .iter()
        .find(|d| d.key == SegmentKey::single("team", "A") && d.effect == Effect::Rate)
        .unwrap();
    assert!(a.significant && a.z.unwrap() > 3.5, "{a:?}");
    assert!(
        routing
            .drivers
            .iter()
            .filter(|d| d.key != SegmentKey::single("team", "A"))
            .all(|d| !d.significant),
        "only A is clear of noise"
    );
    let sentence = &e.summary()[routing.owner.id.as_str()];
    assert!(
        sentence.starts_with("Routing handoffs fell 0.2 points")
            && sentence.contains("within normal week-to-week variation")
            // A team's routing cell is worded by where conversations land first.
            && sentence.contains(
                "; against it, conversations landing on A first (+1.2 points, z = 4.0)."
            )
            && !sentence.contains("to check rather than"),
        "{sentence}"
    );
}
