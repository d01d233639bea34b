//! Window-length invariance (issue 14): the period compared against is read on shares and rates,
//! so multiplying its counts by any factor changes no driver, no localised cell, no push and no
//! sentence; a baseline of four weeks gives the same answer as its weekly average.

mod explain_support;

use baton::domain::{Cause, Period};
use baton::explain::{explain, explain_cells, CellTable, Counts, Explanation, Metric, Side};
use explain_support::plain::*;
use explain_support::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn pick(r: f64, weights: &[f64]) -> usize {
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if r < acc {
            return i;
        }
    }
    weights.len() - 1
}

/// Two weeks of 3,000 conversations over team x channel x topic; in the second, topic billing's
/// routing handoffs rise by 12 points.
fn table(scale_before: f64) -> CellTable {
    const TEAMS: [&str; 3] = ["General Support", "Billing", "Technical"];
    const CHANNELS: [&str; 2] = ["chat", "email"];
    const TOPICS: [&str; 3] = ["billing", "login", "other"];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut t = CellTable::new(
        vec!["team".into(), "channel".into(), "topic".into()],
        5,
        baton::explain::Model::Binomial,
    );
    for side in [Side::Before, Side::After] {
        for _ in 0..3000 {
            let team = pick(rng.random(), &[0.5, 0.3, 0.2]);
            let ch = pick(rng.random(), &[0.6, 0.4]);
            let topic = pick(rng.random(), &[0.3, 0.3, 0.4]);
            let mut num = vec![0.0; 5];
            let extra = if side == Side::After && topic == 0 {
                0.12
            } else {
                0.0
            };
            if rng.random::<f64>() < 0.15 {
                let cause = pick(rng.random(), &[0.4, 0.3, 0.2, 0.1]);
                num[0] = 1.0;
                num[1 + cause] = 1.0;
            } else if rng.random::<f64>() < extra {
                num[0] = 1.0;
                num[1] = 1.0;
            }
            let k = if side == Side::Before {
                scale_before
            } else {
                1.0
            };
            let keys = vec![
                TEAMS[team].to_string(),
                CHANNELS[ch].to_string(),
                TOPICS[topic].to_string(),
            ];
            let c = Counts::binomial(1.0, num);
            t.add(keys, side, &c.scaled(k));
        }
    }
    t
}

/// Everything an owner sees, without the counts of the period before.
fn answer(e: &Explanation) -> String {
    let mut out = String::new();
    let all = e
        .drivers
        .iter()
        .chain(e.branch_list().iter().flat_map(|b| b.drivers.iter()));
    for d in all {
        out.push_str(&format!(
            "{} {:?} {:.12} {:?} {} {:.9} {:?} {:?}\n",
            d.key,
            d.effect,
            d.contribution,
            d.q.map(|q| format!("{q:.9}")),
            d.significant,
            d.share_before,
            d.rate_before.map(|r| format!("{r:.12}")),
            d.ci.map(|[l, u]| format!("{l:.9} {u:.9}")),
        ));
    }
    for l in &e.localised {
        out.push_str(&format!(
            "{:?} {:?} {:.12} {}\n",
            l.cause, l.cells, l.explanatory_power, l.significant
        ));
    }
    for p in e.pushes() {
        out.push_str(&format!(
            "{} {} {:?} {:.12}\n",
            p.owner.id, p.key, p.effect, p.change
        ));
    }
    for (k, v) in e.summary() {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

#[test]
fn scaling_the_before_table_by_four_changes_nothing() {
    let (one, four) = (table(1.0), table(4.0));
    let subject = handoff_subject();
    let a = explain_cells(&one, &subject, &policy(1000)).unwrap();
    let b = explain_cells(&four, &subject, &policy(1000)).unwrap();
    assert_eq!(answer(&a), answer(&b));
    // Something was found, so the comparison is not vacuous.
    assert!(
        !a.pushes().is_empty() && !a.localised.is_empty(),
        "{}",
        answer(&a)
    );
    assert!(a.localised.iter().any(|l| l.cause == Some(Cause::Routing)
        && l.cells.get("topic").map(String::as_str) == Some("billing")));
    // The counts shown are the real ones.
    assert_eq!(b.n_before, 4.0 * a.n_before);
    let d = |e: &Explanation| e.branch_list()[0].drivers[0].n_before;
    assert!((d(&b) - 4.0 * d(&a)).abs() < 1e-9);
}

#[test]
fn a_four_week_baseline_gives_the_answer_of_its_weekly_average() {
    // Weeks 44-47 are the same week four times over; week 48 moves topic billing's routing.
    let mut convs = Vec::new();
    let add = |w: u32, moved: bool, convs: &mut Vec<Conv>| {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for i in 0..1200 {
            let team = ["General Support", "Billing"][pick(rng.random(), &[0.6, 0.4])];
            let topic = ["billing", "login"][pick(rng.random(), &[0.4, 0.6])];
            let ch = ["chat", "email"][pick(rng.random(), &[0.5, 0.5])];
            let base = rng.random::<f64>();
            let handoff = if base < 0.12 {
                Some(Cause::Skill)
            } else if moved && topic == "billing" && base < 0.32 {
                Some(Cause::Routing)
            } else {
                None
            };
            convs.push(Conv::new(
                team,
                ch,
                topic,
                &format!("{team}-1"),
                handoff,
                in_week(w, 3 * i as i64),
            ));
        }
    };
    for w in 44..=47 {
        add(w, false, &mut convs);
    }
    add(48, true, &mut convs);
    let cfg = config(&["team", "channel", "topic"]);
    let facts = facts(&convs, &cfg);
    let tz = chrono_tz::Europe::London;
    let four = Period::range(week(44).start_date(), week(48).start_date(), tz).unwrap();
    let a = explain(
        facts.clone(),
        &cfg,
        &week(48),
        &week(47),
        Metric::HandoffRate,
    )
    .unwrap();
    let b = explain(facts, &cfg, &week(48), &four, Metric::HandoffRate).unwrap();
    assert_eq!(b.n_before, 4.0 * a.n_before);
    assert_eq!(answer(&a), answer(&b));
    let s = &a.summary()["support-operations"];
    assert!(s.contains("topic billing"), "{s}");
}
