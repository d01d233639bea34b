//! The measures explain splits agree with the metrics report: for every metric of
//! [`Metric::ALL`], the explanation of one week against the week before has the metrics'
//! values overall, per branch of the metric tree, per segment of every dimension, and per
//! branch within each segment, in both weeks, with the same denominators (to 1e-12).
//!
//! Both stages sum the same per-conversation terms (`metrics::measures::Count::term`), but the
//! metrics compose some rates from other columns (the handoff rate from `handoffs >= 1`, where
//! explain adds up the first causes; the avoidable share from `avoidable_handoffs`, where explain
//! adds up the avoidable causes' handoffs), so this is what keeps the two definitions one.
//!
//! Data: the demo generator (a few seeds, sizes and injections), random conversation walks,
//! and a small hand-built pair of weeks.

mod common;

use baton::config::Config;
use baton::demo::{generate_frame, GenerateOptions, Injection};
use baton::domain::{Cause, Period};
use baton::explain::{explain, Driver, Effect, ExplainError, Explanation, Metric};
use baton::ingest::{normalise, rows_to_frame, Author, EventKind, EventRow};
use baton::metrics::{report, FactTables, Measures, MetricsReport, MetricsRequest, Segment};
use chrono::NaiveDate;
use common::*;
use polars::prelude::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const TOL: f64 = 1e-12;

fn config() -> Config {
    let mut cfg = Config::embedded().unwrap();
    // Every segment as a driver, so each one can be compared.
    cfg.explain.max_drivers = usize::MAX;
    cfg
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

/// What the metrics say of `metric` in one population: the rate, its denominator and the rate
/// of each branch (in the order of `metric.branches`).
struct Expected {
    rate: Option<f64>,
    den: f64,
    branches: Vec<Option<f64>>,
}

fn expected(metric: Metric, m: &Measures, cfg: &Config) -> Expected {
    let n = m.conversations as f64;
    let h = m.handoffs as f64;
    let branches = metric.branches(cfg);
    // A segment absent from a week has the default measures, without causes.
    let cause = |c: &Cause| m.by_cause.get(c).copied().unwrap_or_default();
    match metric {
        Metric::HandoffRate => Expected {
            rate: m.handoff_rate,
            den: n,
            branches: branches.iter().map(|c| cause(c).rate).collect(),
        },
        Metric::AvoidableShare => Expected {
            rate: m.avoidable_share,
            den: h,
            branches: branches
                .iter()
                .map(|c| ratio(cause(c).handoffs as f64, h))
                .collect(),
        },
        Metric::FcrRate => Expected {
            rate: m.fcr_rate,
            den: n,
            branches: vec![],
        },
        Metric::TimeLostShare => Expected {
            rate: m.time_lost_share,
            // Hours from creation to resolution: the metrics keep them as a mean.
            den: m.resolution_hours.mean.map_or(0.0, |x| x * n),
            branches: vec![],
        },
    }
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL * a.abs().max(b.abs()).max(1.0)
}

fn same(what: &str, explain: Option<f64>, metrics: Option<f64>) {
    match (explain, metrics) {
        (Some(a), Some(b)) if near(a, b) => {}
        (None, None) => {}
        _ => panic!("{what}: explain {explain:?}, metrics {metrics:?}"),
    }
}

fn same_den(what: &str, explain: f64, metrics: f64) {
    assert!(
        near(explain, metrics),
        "{what}: denominator explain {explain}, metrics {metrics}"
    );
}

/// One rate driver per segment of `dim` (the mix driver carries the same rates).
fn rate_drivers<'a>(drivers: &'a [Driver], dim: &str) -> BTreeMap<&'a str, &'a Driver> {
    drivers
        .iter()
        .filter(|d| d.key.is_segment_of(dim) && d.effect == Effect::Rate)
        .filter_map(|d| Some((d.key.value_of(dim)?, d)))
        .collect()
}

/// The segments of one dimension against explain's drivers of one series (`branch`: None for
/// the measure, else the index of the branch).
fn check_segments(
    what: &str,
    segments: &[Segment],
    drivers: &[Driver],
    dim: &str,
    metric: Metric,
    branch: Option<usize>,
    cfg: &Config,
) {
    let pick = |e: &Expected| match branch {
        None => e.rate,
        Some(b) => e.branches[b],
    };
    let drivers = rate_drivers(drivers, dim);
    for s in segments {
        let what = format!("{what}, {dim} = {}", s.value);
        let (before, after) = (
            expected(metric, &s.previous, cfg),
            expected(metric, &s.measures, cfg),
        );
        match drivers.get(s.value.as_str()) {
            Some(d) => {
                same(&format!("{what}, before"), d.rate_before, pick(&before));
                same(&format!("{what}, after"), d.rate_after, pick(&after));
                same_den(&format!("{what}, before"), d.n_before, before.den);
                same_den(&format!("{what}, after"), d.n_after, after.den);
            }
            // Explain leaves out a segment with no denominator in either week.
            None => {
                assert!(
                    before.den == 0.0 && after.den == 0.0,
                    "{what}: no driver, but denominators {} and {}",
                    before.den,
                    after.den
                );
            }
        }
    }
    for seg in drivers.keys() {
        assert!(
            segments.iter().any(|s| s.value == *seg),
            "{what}: explain has segment {dim} = {seg}, the metrics do not"
        );
    }
}

/// Compares one metric's explanation with the report (the same facts, weeks and config).
fn agree(metric: Metric, e: &Explanation, r: &MetricsReport, cfg: &Config) {
    let name = metric.name();
    let (before, after) = (
        expected(metric, &r.previous, cfg),
        expected(metric, &r.overall.measures, cfg),
    );
    same(&format!("{name} before"), Some(e.before), before.rate);
    same(&format!("{name} after"), Some(e.after), after.rate);
    same_den(&format!("{name} before"), e.n_before, before.den);
    same_den(&format!("{name} after"), e.n_after, after.den);

    let causes: Vec<Cause> = metric.branches(cfg);
    let branches = e.branch_list();
    assert_eq!(
        branches.iter().map(|b| b.cause).collect::<Vec<_>>(),
        causes,
        "{name}: branches"
    );
    for (i, b) in branches.iter().enumerate() {
        let what = format!("{name}, branch {}", b.cause.as_str());
        same(
            &format!("{what} before"),
            Some(b.before),
            before.branches[i],
        );
        same(&format!("{what} after"), Some(b.after), after.branches[i]);
    }

    for dim in &cfg.report.dimensions {
        let dim = dim.as_str();
        let segments = &r.segments[dim];
        check_segments(name, segments, &e.drivers, dim, metric, None, cfg);
        for (i, b) in branches.iter().enumerate() {
            let what = format!("{name}, branch {}", b.cause.as_str());
            check_segments(&what, segments, &b.drivers, dim, metric, Some(i), cfg);
        }
    }
}

/// Runs the report and every metric's explanation of `week` against the week before, and
/// compares them. A metric explain finds empty must have no value in the report either.
/// Returns how many metrics were compared.
fn check(events: &DataFrame, week: &Period) -> usize {
    let cfg = config();
    let facts = FactTables::build(events, &cfg).unwrap();
    let r = report(
        &facts,
        &cfg,
        &MetricsRequest {
            period: week,
            dimensions: &cfg.report.dimensions,
            trend_weeks: 2,
        },
        &BTreeMap::new(),
    )
    .unwrap();
    let mut compared = 0;
    for metric in Metric::ALL {
        let vs = week.previous();
        match explain(facts.conversations.clone().lazy(), &cfg, week, &vs, metric) {
            Ok(e) => {
                agree(metric, &e, &r, &cfg);
                compared += 1;
            }
            Err(ExplainError::Empty { .. }) => {
                let (b, a) = (
                    expected(metric, &r.previous, &cfg),
                    expected(metric, &r.overall.measures, &cfg),
                );
                assert!(
                    b.rate.is_none() || a.rate.is_none(),
                    "{metric}: explain found a week empty, the metrics have {:?} and {:?}",
                    b.rate,
                    a.rate
                );
            }
            Err(err) => panic!("{metric}: {err}"),
        }
    }
    compared
}

fn ingest(rows: &[EventRow]) -> DataFrame {
    normalise(rows_to_frame(rows).unwrap(), &Default::default(), None)
        .unwrap()
        .events
}

fn week(w: u32) -> Period {
    Period::iso_week(2026, w, Config::embedded().unwrap().tz()).unwrap()
}

const WEEK: i64 = 7 * 24 * 60;

/// Two hand-built weeks. at(0) is Tuesday 2026-11-10 09:00 UTC, in ISO week 46.
fn hand_built() -> Vec<EventRow> {
    let w45 = -WEEK;
    let rows = vec![
        // a1: one owner, replied, resolved: FCR.
        created("a1", 0).topic("general"),
        assign("a1", 1).team("General Support").agent("ann"),
        reply("a1", 5),
        resolved("a1", 60),
        // a2: lands on Billing, moved to GS (routing), waits 10 min.
        created("a2", 0).topic("login"),
        assign("a2", 1).team("Billing").agent("bo"),
        assign("a2", 10)
            .team("General Support")
            .agent("ann")
            .reason("wrong_queue"),
        reply("a2", 20),
        resolved("a2", 90),
        // a3: three handoffs: skill, escalation (tier up), channel (callback by phone).
        created("a3", 0).topic("bug").ch("email"),
        assign("a3", 1).team("General Support").agent("ann"),
        reply("a3", 2),
        assign("a3", 10).team("General Support").agent("cat"),
        reply("a3", 15),
        assign("a3", 20).team("Technical").agent("bob"),
        reply("a3", 25),
        assign("a3", 30)
            .team("Technical")
            .agent("dan")
            .ch("phone")
            .reason("callback"),
        reply("a3", 45),
        resolved("a3", 240),
        // a4: no topic (the "(none)" segment), reopened: no handoff but not FCR.
        created("a4", 0).ch("email"),
        assign("a4", 1).team("Billing").agent("bo"),
        reply("a4", 3),
        resolved("a4", 30),
        ev("a4", 40, EventKind::Reopened),
        reply("a4", 50),
        resolved("a4", 200),
        // a5: still open: in no rate.
        created("a5", 0).topic("general"),
        assign("a5", 1).team("General Support").agent("ann"),
        // a6: the AI resolves it alone.
        created("a6", 0).topic("password_reset"),
        assign("a6", 0).team("AI Agent").agent("Fin").ai(),
        msg("a6", 1, Author::Ai),
        msg("a6", 2, Author::Customer).sentiment(-0.5),
        resolved("a6", 30),
        // a7: the AI hands over to a person.
        created("a7", 0).topic("account_closure"),
        assign("a7", 0).team("AI Agent").agent("Fin").ai(),
        msg("a7", 1, Author::Ai),
        msg("a7", 2, Author::Customer).sentiment(-0.25),
        assign("a7", 5).team("Account Security").agent("eve"),
        reply("a7", 30),
        resolved("a7", 100),
        // a8: created in week 45, resolved in week 46 after an escalation.
        created("a8", w45 + 2000).topic("bug"),
        assign("a8", w45 + 2001)
            .team("General Support")
            .agent("cat"),
        reply("a8", w45 + 2005),
        assign("a8", w45 + 2100)
            .team("Technical")
            .agent("bob")
            .reason("escalate"),
        reply("a8", 10),
        resolved("a8", 20),
        // b1: week 45, routing (misrouted).
        created("b1", w45).topic("login"),
        assign("b1", w45 + 1).team("Billing").agent("bo"),
        assign("b1", w45 + 4)
            .team("General Support")
            .agent("ann")
            .reason("misrouted"),
        reply("b1", w45 + 6),
        resolved("b1", w45 + 50),
        // b2: week 45, FCR.
        created("b2", w45).topic("general").ch("email"),
        assign("b2", w45 + 1).team("Billing").agent("bo"),
        reply("b2", w45 + 9),
        resolved("b2", w45 + 70),
        // b3: week 45, skill then routing.
        created("b3", w45).topic("billing"),
        assign("b3", w45 + 1).team("General Support").agent("ann"),
        reply("b3", w45 + 2),
        assign("b3", w45 + 8)
            .team("General Support")
            .agent("cat")
            .reason("needs_specialist"),
        reply("b3", w45 + 12),
        assign("b3", w45 + 20)
            .team("Billing")
            .agent("bo")
            .reason("wrong_queue"),
        reply("b3", w45 + 40),
        resolved("b3", w45 + 300),
        // b4: week 45, reopened, no handoff.
        created("b4", w45).topic("login"),
        assign("b4", w45 + 1).team("Technical").agent("dan"),
        reply("b4", w45 + 2),
        resolved("b4", w45 + 10),
        ev("b4", w45 + 20, EventKind::Reopened),
        resolved("b4", w45 + 25),
        // z1: resolved in week 47: in neither week.
        created("z1", WEEK).topic("general"),
        assign("z1", WEEK + 1).team("Billing").agent("bo"),
        assign("z1", WEEK + 2)
            .team("General Support")
            .agent("ann")
            .reason("wrong_queue"),
        resolved("z1", WEEK + 30),
    ];
    rows.into_iter().map(|b| b.0).collect()
}

#[test]
fn hand_built_weeks_agree() {
    assert_eq!(check(&ingest(&hand_built()), &week(46)), 4);
}

#[test]
fn a_week_without_handoffs_is_empty_for_both() {
    // Week 45 has only b2 and b4, neither handed off: no avoidable share in either stage, the
    // other measures still agree.
    let rows: Vec<EventRow> = hand_built()
        .into_iter()
        .filter(|r| !["b1", "b3"].contains(&r.conversation_id.as_str()))
        .collect();
    assert_eq!(check(&ingest(&rows), &week(46)), 3);
}

/// The demo helpdesk: three weeks ending Monday 2026-11-16 (weeks 44 to 46).
fn generated(seed: u64, per_week: u32, injections: &[&str]) -> DataFrame {
    let tz = Config::embedded().unwrap().tz();
    let mut opts = GenerateOptions::ending(NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(), tz);
    opts.weeks = 3;
    opts.per_week = per_week;
    opts.seed = seed;
    opts.injections = injections
        .iter()
        .map(|s| s.parse::<Injection>().unwrap())
        .collect();
    let raw = generate_frame(&opts).unwrap();
    normalise(raw, &Default::default(), None).unwrap().events
}

const INJECTIONS: [&[&str]; 4] = [
    &[],
    &["routing:topic=billing:+15pp:from=2026-11-09"],
    &[
        "escalation:all:+10pp:from=2026-11-09",
        "channel:channel=chat:+8pp:from=2026-11-09",
    ],
    &["skill:all:+12pp:from=2026-11-09"],
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, .. ProptestConfig::default() })]

    #[test]
    fn generated_helpdesks_agree(seed in 0u64..1_000_000, per_week in 150u32..800, inj in 0usize..4) {
        let events = generated(seed, per_week, INJECTIONS[inj]);
        prop_assert_eq!(check(&events, &week(46)), 4);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    /// Random walks over owners, messages, resolutions and reopenings (tests/metrics_measures.rs),
    /// each placed in week 45 or 46 (the first in 45, the second in 46, so neither is empty).
    #[test]
    fn random_conversations_agree(convs in prop::collection::vec((any::<bool>(), prop::collection::vec((0u8..6, 0u8..20, 0u8..20), 0..14)), 2..40)) {
        let rows: Vec<EventRow> = convs
            .iter()
            .enumerate()
            .flat_map(|(i, (earlier, steps))| {
                let earlier = i == 0 || (i > 1 && *earlier);
                random_conversation(i, steps, if earlier { -WEEK } else { 0 })
            })
            .map(|b| b.0)
            .collect();
        // The handoff rate and FCR at least: both weeks have conversations.
        prop_assert!(check(&ingest(&rows), &week(46)) >= 2);
    }
}

/// A random conversation starting `offset` minutes after at(0): a walk over owners, messages
/// and resolutions.
fn random_conversation(id: usize, steps: &[(u8, u8, u8)], offset: i64) -> Vec<B> {
    let teams = [
        "Triage",
        "General Support",
        "Billing",
        "Technical",
        "AI Agent",
    ];
    let agents = [None, Some("ann"), Some("bob"), Some("cat")];
    let channels = [None, Some("chat"), Some("phone")];
    let reasons = [
        None,
        Some("wrong_queue"),
        Some("needs_specialist"),
        Some("callback"),
    ];
    let topics = [None, Some("login"), Some("billing")];
    let c = format!("r{id}");
    let mut first = created(&c, offset);
    if let Some(t) = topics[id % topics.len()] {
        first = first.topic(t);
    }
    let mut out = vec![first];
    let mut t = offset + 1;
    for (kind, a, b) in steps {
        let row = match kind % 6 {
            0 | 1 => {
                let team = teams[*a as usize % teams.len()];
                let mut r = assign(&c, t).team(team);
                if let Some(ag) = agents[*b as usize % agents.len()] {
                    r = r.agent(ag);
                }
                if team == "AI Agent" {
                    r = r.ai();
                }
                if let Some(ch) = channels[*b as usize % channels.len()] {
                    r = r.ch(ch);
                }
                if let Some(why) = reasons[*a as usize % reasons.len()] {
                    r = r.reason(why);
                }
                r
            }
            2 => reply(&c, t),
            3 => msg(&c, t, Author::Customer),
            4 => resolved(&c, t),
            _ => ev(&c, t, EventKind::Reopened),
        };
        out.push(row);
        t += 1 + (*a as i64 % 7);
    }
    out.push(resolved(&c, t + 1));
    out
}
