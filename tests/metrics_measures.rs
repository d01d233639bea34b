//! The measures of METRICS.md sections 3, 5, 6 and 8 on a small hand-built week, every expected
//! value worked out by hand in the comments; and a property test that the per-cause rates add
//! up to the handoff rate on random conversations.

mod common;

use baton::config::Config;
use baton::domain::{Cause, Period};
use baton::ingest::{normalise, rows_to_frame, Author, EventKind, EventRow};
use baton::metrics::{compute, Band, MetricsReport, MetricsRequest};
use common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn report(rows: Vec<B>, quarantine: &BTreeMap<String, usize>) -> MetricsReport {
    let rows: Vec<EventRow> = rows.into_iter().map(|b| b.0).collect();
    let ing = normalise(rows_to_frame(&rows).unwrap(), &Default::default(), None).unwrap();
    let cfg = Config::embedded().unwrap();
    // at(0) is Tuesday 2026-11-10 09:00 UTC, in ISO week 46 (London is on UTC in November).
    let period = Period::parse("2026-W46", cfg.tz(), chrono::Utc::now()).unwrap();
    let dims = [
        baton::domain::Dimension::Team,
        baton::domain::Dimension::Topic,
    ];
    compute(
        &ing.events,
        &cfg,
        &MetricsRequest {
            period: &period,
            dimensions: &dims,
            trend_weeks: 4,
        },
        quarantine,
    )
    .unwrap()
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

fn week46() -> Vec<B> {
    vec![
        // c1: one owner, replied, resolved after 60 min: FCR.
        created("c1", 0).topic("general"),
        assign("c1", 1).team("General Support").agent("ann"),
        reply("c1", 5),
        resolved("c1", 60),
        // c2: lands on Billing, nobody replies, moves to GS (routing); wait 10 -> 20 = 10 min.
        created("c2", 0).topic("login"),
        assign("c2", 1).team("Billing").agent("bo"),
        assign("c2", 10).team("General Support").agent("ann"),
        reply("c2", 20),
        resolved("c2", 60),
        // c3: three handoffs (bouncing): ann -> cat (skill), cat -> bob@Technical (escalation),
        // bob -> dan (skill); each waits 5 min. Resolved after 120 min.
        created("c3", 0).topic("bug"),
        assign("c3", 1).team("General Support").agent("ann"),
        reply("c3", 2),
        assign("c3", 10).team("General Support").agent("cat"),
        reply("c3", 15),
        assign("c3", 20).team("Technical").agent("bob"),
        reply("c3", 25),
        assign("c3", 30).team("Technical").agent("dan"),
        reply("c3", 35),
        resolved("c3", 120),
        // c4: resolved, reopened, resolved at 180: no handoff but not FCR.
        created("c4", 0).topic("general"),
        assign("c4", 1).team("General Support").agent("ann"),
        reply("c4", 2),
        resolved("c4", 30),
        ev("c4", 40, EventKind::Reopened),
        reply("c4", 50),
        resolved("c4", 180),
        // c5: still open: backlog, outside the rates, but created this week.
        created("c5", 0).topic("general"),
        assign("c5", 1).team("General Support").agent("ann"),
        // c6: the AI resolves it alone after 30 min.
        created("c6", 0).topic("password_reset"),
        assign("c6", 0).team("AI Agent").agent("Fin").ai(),
        msg("c6", 1, Author::Ai),
        msg("c6", 2, Author::Customer).sentiment(-0.5),
        resolved("c6", 30),
        // p1: resolved in week 45 with one routing handoff (a week before at(0)).
        created("p1", -7 * 24 * 60).topic("login"),
        assign("p1", -7 * 24 * 60 + 1).team("Billing").agent("bo"),
        assign("p1", -7 * 24 * 60 + 2)
            .team("General Support")
            .agent("ann"),
        reply("p1", -7 * 24 * 60 + 3),
        resolved("p1", -7 * 24 * 60 + 4),
    ]
}

#[test]
fn headline_measures_match_hand_computation() {
    let q = BTreeMap::from([("unparsable timestamp".to_string(), 3usize)]);
    let r = report(week46(), &q);
    let m = &r.overall.measures;
    // C = {c1, c2, c3, c4, c6}: 5 conversations resolved in W46; c5 is open.
    assert_eq!(m.conversations, 5);
    // Created in W46: c1..c6.
    assert_eq!(m.ticket_volume, 6);
    assert_eq!(r.overall.backlog, 1);
    assert_eq!(r.overall.quarantined_rows, 3);
    // c2 and c3 have handoffs: 2 / 5.
    close(m.handoff_rate, 0.4);
    // 1 + 3 handoffs over 5 conversations.
    assert_eq!(m.handoffs, 4);
    close(m.handoffs_per_conversation, 0.8);
    // Distribution: c1, c4, c6 none; c2 one; c3 three.
    assert_eq!(
        (
            m.handoff_distribution.zero,
            m.handoff_distribution.one,
            m.handoff_distribution.two,
            m.handoff_distribution.three_plus
        ),
        (3, 1, 0, 1)
    );
    close(m.bouncing_share, 0.2);
    // FCR: c1 and c6 (c4 was reopened).
    close(m.fcr_rate, 0.4);
    // Waits: 10 + 5 + 5 + 5 = 25 min; durations 60 + 60 + 120 + 180 + 30 = 450 min.
    close(Some(m.time_lost_hours), 25.0 / 60.0);
    close(m.time_lost_share, 25.0 / 450.0);
    close(m.wait_per_handoff_minutes.mean, 25.0 / 4.0);
    close(m.wait_per_handoff_minutes.median, 5.0);
    // Avoidable (routing + skill): 1 routing + 2 skill of 4 handoffs.
    close(m.avoidable_share, 0.75);
    // Escalation: only c3 has an escalation handoff.
    close(m.escalation_rate, 0.2);
    assert_eq!(m.band, Some(Band::TransferHeavy));
    // First handoff causes: c2 routing, c3 skill.
    close(m.by_cause[&Cause::Routing].rate, 0.2);
    close(m.by_cause[&Cause::Skill].rate, 0.2);
    close(m.by_cause[&Cause::Escalation].rate, 0.0);
    close(m.by_cause[&Cause::Channel].rate, 0.0);
    close(m.by_cause[&Cause::Skill].per_conversation, 0.4);
    close(m.by_cause[&Cause::Escalation].per_conversation, 0.2);
    // First response: c1 5, c2 20, c3 2, c4 2, c6 1 (the AI's message) -> mean 6, median 2.
    close(m.first_response_minutes.mean, 6.0);
    close(m.first_response_minutes.median, 2.0);
    // Resolution hours: 1, 1, 2, 3, 0.5 -> mean 1.5, median 1.
    close(m.resolution_hours.mean, 1.5);
    close(m.resolution_hours.median, 1.0);
    // AI: only c6 had an AI owner; it resolved alone.
    assert_eq!(m.ai.conversations, 1);
    close(m.ai.ai_resolution_rate, 1.0);
    close(m.ai.ai_escalation_rate, 0.0);
    // password_reset is must_not_escalate: resolving it is no breach.
    assert_eq!(m.ai.ai_policy_breaches.count, 0);
    // Escalation rate 0 < 0.10 and the last customer sentiment -0.5 < -0.2: unsafe deflection.
    assert!(m.ai.unsafe_deflection);
    // Week 45: p1 alone, one routing handoff.
    close(r.previous.handoff_rate, 1.0);
    close(r.previous.by_cause[&Cause::Routing].rate, 1.0);
    assert_eq!(r.trend.len(), 4);
    assert_eq!(r.trend[3].period, "2026-W46");
    close(r.trend[2].handoff_rate, 1.0);
}

#[test]
fn segments_use_the_same_definitions() {
    let r = report(week46(), &BTreeMap::new());
    let team = &r.segments["team"];
    let gs = team.iter().find(|s| s.value == "General Support").unwrap();
    // First-owner team GS: c1, c3, c4 resolved (c5 open); c3 has handoffs -> 1/3.
    assert_eq!(gs.measures.conversations, 3);
    close(gs.measures.handoff_rate, 1.0 / 3.0);
    // Volume by team counts c5 too (created in the week).
    assert_eq!(gs.measures.ticket_volume, 4);
    let billing = team.iter().find(|s| s.value == "Billing").unwrap();
    // Billing first: c2 this week (routed away), p1 last week.
    close(billing.measures.handoff_rate, 1.0);
    assert_eq!(billing.previous.conversations, 1);
    // Segment conversations add up to the total.
    assert_eq!(
        team.iter().map(|s| s.measures.conversations).sum::<i64>(),
        5
    );
    let topics = &r.segments["topic"];
    assert_eq!(topics.iter().map(|s| s.measures.handoffs).sum::<i64>(), 4);
}

/// A random conversation: a walk over owners, messages and resolutions.
fn random_conversation(id: usize, steps: &[(u8, u8, u8)]) -> Vec<B> {
    let teams = [
        "Triage",
        "General Support",
        "Billing",
        "Technical",
        "AI Agent",
    ];
    let agents = [None, Some("ann"), Some("bob"), Some("cat")];
    let channels = [None, Some("chat"), Some("phone")];
    let c = format!("r{id}");
    let mut out = vec![created(&c, 0).ch("chat")];
    let mut t = 1;
    for (kind, a, b) in steps {
        let row = match kind % 6 {
            0 | 1 => {
                let mut r = assign(&c, t).team(teams[*a as usize % teams.len()]);
                if let Some(ag) = agents[*b as usize % agents.len()] {
                    r = r.agent(ag);
                }
                if teams[*a as usize % teams.len()] == "AI Agent" {
                    r = r.ai();
                }
                if let Some(ch) = channels[*b as usize % channels.len()] {
                    r = r.ch(ch);
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
    #[test]
    fn cause_rates_add_up_to_the_handoff_rate(convs in prop::collection::vec(prop::collection::vec((0u8..6, 0u8..20, 0u8..20), 0..14), 1..25)) {
        let rows: Vec<B> = convs.iter().enumerate().flat_map(|(i, s)| random_conversation(i, s)).collect();
        let r = report(rows, &BTreeMap::new());
        let check = |m: &baton::metrics::Measures| -> Result<(), TestCaseError> {
            if m.conversations == 0 { return Ok(()); }
            let rate: f64 = m.by_cause.values().map(|c| c.rate.unwrap()).sum();
            prop_assert!((rate - m.handoff_rate.unwrap()).abs() < 1e-12);
            let per: f64 = m.by_cause.values().map(|c| c.per_conversation.unwrap()).sum();
            prop_assert!((per - m.handoffs_per_conversation.unwrap()).abs() < 1e-12);
            let hs: i64 = m.by_cause.values().map(|c| c.handoffs).sum();
            prop_assert_eq!(hs, m.handoffs);
            Ok(())
        };
        check(&r.overall.measures)?;
        for segs in r.segments.values() {
            for s in segs { check(&s.measures)?; }
        }
    }
}
