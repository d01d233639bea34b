//! A/A: the same process in both weeks, many seeds. Nothing should be reported significant more
//! often than the 5 % false-discovery rate allows.
//!
//! With nothing changed, a cell can only be reported behind an open gate, and the gates (one
//! Benjamini-Hochberg family over the branches) open in a given week with probability at most
//! 5 % when every null is true (docs/explain.md, "Significance"). So at most about 5 % of A/A
//! runs may flag anything. With 600 seeds, if the true rate were exactly 5 % the count of runs
//! with any significant cell would be Binomial(600, 0.05): mean 30, sd 5.3, and
//! P(count > 47) < 0.1 %. The test asserts count <= 47: a calibration problem (say, a rate above
//! ~8 %) fails it, while a correct procedure passes except with odds below 1 in 1000 (and the
//! seeds are fixed).
//!
//! Conversations are drawn one by one and counted into cells exactly as the polars aggregation
//! counts facts (the worked example and CLI tests check that aggregation); doing it in plain Rust
//! keeps 300 runs of 3000 conversations fast.

mod explain_support;

use baton::explain::{explain_cells, CellTable, Counts, Explanation, Model, Side};
use explain_support::plain::*;
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

/// One week of the fixed process: segment mix and handoff rates differ by segment (so mix
/// effects have a non-zero rate gap), causes split 40/30/20/10.
fn week(rng: &mut ChaCha8Rng, t: &mut CellTable, side: Side, n: usize) {
    const TEAMS: [&str; 3] = ["General Support", "Billing", "Technical"];
    const CHANNELS: [&str; 2] = ["chat", "email"];
    const TOPICS: [&str; 3] = ["billing", "login", "other"];
    for _ in 0..n {
        let team = pick(rng.random(), &[0.5, 0.3, 0.2]);
        let ch = pick(rng.random(), &[0.6, 0.4]);
        let topic = pick(rng.random(), &[0.3, 0.3, 0.4]);
        let p = [0.12, 0.20, 0.30][team] + [0.0, 0.05][ch];
        let mut num = vec![0.0; 5];
        if rng.random::<f64>() < p {
            let cause = pick(rng.random(), &[0.4, 0.3, 0.2, 0.1]);
            num[0] = 1.0;
            num[1 + cause] = 1.0;
        }
        let keys = vec![
            TEAMS[team].to_string(),
            CHANNELS[ch].to_string(),
            TOPICS[topic].to_string(),
        ];
        t.add(keys, side, &Counts::binomial(1.0, num));
    }
}

fn any_significant(e: &Explanation) -> bool {
    let drivers = e
        .drivers
        .iter()
        .chain(e.branch_list().iter().flat_map(|b| b.drivers.iter()));
    drivers.clone().any(|d| d.significant)
        || e.localised
            .iter()
            .any(|l| l.significant || l.mix.significant || l.rate.significant)
        || !e.pushes().is_empty()
}

#[test]
fn a_a_runs_rarely_report_anything() {
    let seeds = 600u64;
    let mut flagged = 0;
    let mut cells = 0usize;
    let mut flagged_cells = 0usize;
    for seed in 0..seeds {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut t = CellTable::new(
            vec!["team".into(), "channel".into(), "topic".into()],
            5,
            Model::Binomial,
        );
        week(&mut rng, &mut t, Side::Before, 1500);
        week(&mut rng, &mut t, Side::After, 1500);
        let e = explain_cells(&t, &handoff_subject(), &policy(1000)).unwrap();
        if any_significant(&e) {
            flagged += 1;
        }
        for d in e
            .drivers
            .iter()
            .chain(e.branch_list().iter().flat_map(|b| b.drivers.iter()))
        {
            if d.q.is_some() {
                cells += 1;
                flagged_cells += d.significant as usize;
            }
        }
    }
    eprintln!(
        "A/A: {flagged} of {seeds} runs flagged something; {flagged_cells} of {cells} tested cells"
    );
    assert!(
        flagged <= 47,
        "{flagged} of {seeds} A/A runs reported a significant cell"
    );
    assert!(cells > seeds as usize * 50, "the runs must test many cells");
}

/// The same check for a ratio of sums (the delta-method path), e.g. avoidable handoffs /
/// handoffs: each conversation has 1 to 4 handoffs, each avoidable with a segment's own
/// probability. 150 seeds: Binomial(150, 0.05) has mean 7.5, sd 2.7 and P(count > 16) < 0.1 %.
#[test]
fn a_a_ratio_measure_rarely_reports_anything() {
    let seeds = 150u64;
    let mut flagged = 0;
    for seed in 0..seeds {
        let mut rng = ChaCha8Rng::seed_from_u64(10_000 + seed);
        let mut t = CellTable::new(vec!["team".into(), "topic".into()], 1, Model::Ratio);
        for side in [Side::Before, Side::After] {
            for _ in 0..800 {
                let team = pick(rng.random(), &[0.5, 0.3, 0.2]);
                let topic = pick(rng.random(), &[0.5, 0.5]);
                let x = 1 + pick(rng.random(), &[0.4, 0.3, 0.2, 0.1]);
                let p = [0.3, 0.5, 0.6][team];
                let y = (0..x).filter(|_| rng.random::<f64>() < p).count() as f64;
                let x = x as f64;
                let c = Counts {
                    units: 1.0,
                    den: x,
                    num: vec![y],
                    xx: x * x,
                    yy: vec![y * y],
                    xy: vec![x * y],
                };
                t.add(
                    vec![format!("team{team}"), format!("topic{topic}")],
                    side,
                    &c,
                );
            }
        }
        let e = explain_cells(&t, &plain_subject(), &policy(1000)).unwrap();
        if any_significant(&e) {
            flagged += 1;
        }
    }
    eprintln!("A/A ratio: {flagged} of {seeds} runs flagged something");
    assert!(
        flagged <= 16,
        "{flagged} of {seeds} A/A runs reported a significant cell"
    );
}
