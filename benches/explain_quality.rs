//! How good `explain` is (issue 14), not how fast: `cargo bench --bench explain_quality`
//! (`-- quick` for fewer seeds).
//!
//! 1. Planted handoff changes from the demo generator (`baton generate --inject`): each kind,
//!    topic / team / channel scopes, two sizes, at 2,000, 4,000 and 8,000 conversations a week
//!    over 20 seeds. A plant is **found** when, in its branch, the planted segment is the first
//!    driver of its dimension and named in the branch owner's sentence (as a driver or as a
//!    lead); **detected** when it is also significant and named as a driver. `|z| >= 3`
//!    restricts to plants whose own cell (the segment's rate effect in the branch) is clear of
//!    noise.
//! 2. A/A: the same generator without a plant; the share of weeks with any significant driver
//!    (and the share whose sentences name a lead).
//! 3. Generic rate cubes: 4-6 dimensions of 5-30 values, 1-3 root causes of 1-3 dimensions each
//!    (the cause's rate moves by 30 to 80 % of itself, up or down), binomial noise, unequal
//!    before/after volumes (the after period has 0.25 to 4 times the volume). Localised cells are
//!    scored with exact-match precision / recall / F1 (a cell counts only when it names exactly
//!    the labelled dimensions and values), summed over cubes.
//!
//! The time target (a 1M-conversation week under 3 s) is `benches/explain.rs`.

use baton::config::Config;
use baton::domain::{Cause, Period};
use baton::explain::{
    explain, explain_cells, CellTable, Counts, Explanation, Metric, Model, PeriodRef, Policy, Side,
    Subject,
};
use chrono::NaiveDate;
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PLANTS: [(&str, &str, &str); 8] = [
    ("routing:topic=billing:+10pp", "topic", "billing"),
    ("routing:topic=billing:+5pp", "topic", "billing"),
    ("skill:topic=refund:+10pp", "topic", "refund"),
    ("skill:team=Billing:+10pp", "team", "Billing"),
    ("skill:team=Billing:+5pp", "team", "Billing"),
    ("escalation:team=Technical:+10pp", "team", "Technical"),
    ("channel:channel=email:+10pp", "channel", "email"),
    ("channel:channel=chat:+5pp", "channel", "chat"),
];

fn any_significant(e: &Explanation) -> bool {
    e.drivers
        .iter()
        .chain(e.branch_list().iter().flat_map(|b| b.drivers.iter()))
        .any(|d| d.significant)
        || e.localised.iter().any(|l| l.significant)
        || !e.pushes().is_empty()
}

/// The words every lead's sentence carries ("a lead to check ...", "two leads to check ...").
const LEAD_WORDS: &str = "to check rather than";

fn any_lead(e: &Explanation) -> bool {
    e.summary().values().any(|s| s.contains(LEAD_WORDS))
}

/// Three weeks (a warm-up, W47, W48 of 2026) of the demo helpdesk, explained W48 vs W47.
fn generated(per_week: u32, seed: u64, inject: Option<&str>) -> Explanation {
    let cfg = Config::embedded().unwrap();
    let tz = cfg.tz();
    let end = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let mut o = baton::demo::GenerateOptions::ending(end, tz);
    o.weeks = 3;
    o.per_week = per_week;
    o.seed = seed;
    if let Some(spec) = inject {
        o.injections = vec![format!("{spec}:from=2026-11-23").parse().unwrap()];
    }
    let frame = baton::demo::generate_frame(&o).unwrap();
    let events = baton::ingest::normalise(frame, &Default::default(), None)
        .unwrap()
        .events;
    let rules = baton::metrics::HandoffRules::from_config(&cfg);
    let facts = baton::metrics::facts::build(events.lazy(), &rules).unwrap();
    let facts = facts.conversations.collect().unwrap().lazy();
    let w48 = Period::iso_week(2026, 48, tz).unwrap();
    explain(facts, &cfg, &w48, &w48.previous(), Metric::HandoffRate).unwrap()
}

/// How a plant fared: its own cell's z; **found** when the planted segment is the first of its
/// dimension in its branch and named in the branch owner's sentence (as a driver or as a
/// lead); **detected** when, in addition, it is significant and named as a driver, not a lead.
struct PlantScore {
    z: f64,
    found: bool,
    detected: bool,
}

fn score_plant(e: &Explanation, n: u32, spec: &str, dim: &str, seg: &str) -> PlantScore {
    let cause: Cause = spec.split(':').next().unwrap().parse().unwrap();
    let b = e.branch_list().iter().find(|b| b.cause == cause).unwrap();
    let of_dim: Vec<_> = b
        .drivers
        .iter()
        .filter(|d| d.key.is_segment_of(dim))
        .collect();
    let z = of_dim
        .iter()
        .find(|d| d.key.value_of(dim) == Some(seg) && d.effect == baton::explain::Effect::Rate)
        .and_then(|d| d.z)
        .unwrap_or(0.0);
    let first = of_dim.first().filter(|d| d.key.value_of(dim) == Some(seg));
    let sentence = &e.summary()[b.owner.id.as_str()];
    let named = sentence.contains(&format!("{dim} {seg}"))
        || (dim == "team" && sentence.contains(&format!("landing on {seg} first")));
    let found = first.is_some() && named;
    let detected = found && first.is_some_and(|d| d.significant) && !sentence.contains(LEAD_WORDS);
    // `BATON_QUALITY_MISSES=1`: why a clear plant was missed, to read rather than guess.
    if z.abs() >= 3.0 && !found && std::env::var_os("BATON_QUALITY_MISSES").is_some() {
        let drivers: Vec<String> = of_dim
            .iter()
            .take(3)
            .map(|d| {
                format!(
                    "{} {:?} z={:.1?} sig={}",
                    d.key, d.effect, d.z, d.significant
                )
            })
            .collect();
        eprintln!(
            "miss {spec} at {n}/week (own z {z:.1}): {sentence}\n  first of {dim}: {drivers:?}"
        );
    }
    PlantScore { z, found, detected }
}

// ---- Generic cubes -------------------------------------------------------------------------

type Cell = BTreeMap<String, String>;

fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> f64 {
    (0..n).filter(|_| rng.random::<f64>() < p).count() as f64
}

/// A random cube and its labelled root causes.
fn cube(seed: u64) -> (CellTable, Vec<Cell>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1_000_000 + seed);
    let n_dims = rng.random_range(4..=6usize);
    let sizes: Vec<usize> = (0..n_dims).map(|_| rng.random_range(5..=30)).collect();
    let dims: Vec<String> = (0..n_dims).map(|d| format!("d{d}")).collect();
    // Leaves: a sample of the full cube (at most 4,000 distinct combinations).
    let mut leaves: BTreeMap<Vec<usize>, (f64, f64)> = BTreeMap::new();
    let total: f64 = sizes.iter().map(|&s| s as f64).product();
    let want = total.min(4000.0) as usize;
    while leaves.len() < want {
        let k: Vec<usize> = sizes.iter().map(|&s| rng.random_range(0..s)).collect();
        let n0 = (20.0 * (rng.random::<f64>() * 2.5).exp()).round();
        let logit = -1.6 + 0.6 * (rng.random::<f64>() - 0.5) * 2.0;
        let r = 1.0 / (1.0 + (-logit).exp());
        leaves.entry(k).or_insert((n0, r));
    }
    let volume = 0.25 * 16f64.powf(rng.random::<f64>());
    let total_n: f64 = leaves.values().map(|v| v.0).sum();
    // Root causes: disjoint cells of 1-3 dimensions with 2 % to 30 % of the volume.
    let n_causes = rng.random_range(1..=3usize);
    let keys: Vec<Vec<usize>> = leaves.keys().cloned().collect();
    let mut causes: Vec<(Vec<(usize, usize)>, f64)> = Vec::new();
    let inside = |c: &[(usize, usize)], k: &[usize]| c.iter().all(|&(d, v)| k[d] == v);
    let mut tries = 0;
    while causes.len() < n_causes && tries < 10_000 {
        tries += 1;
        let k = &keys[rng.random_range(0..keys.len())];
        let depth = rng.random_range(1..=3usize).min(n_dims);
        let mut ds: Vec<usize> = (0..n_dims).collect();
        for i in 0..depth {
            let j = rng.random_range(i..n_dims);
            ds.swap(i, j);
        }
        let mut c: Vec<(usize, usize)> = ds[..depth].iter().map(|&d| (d, k[d])).collect();
        c.sort();
        let share: f64 = leaves
            .iter()
            .filter(|(k, _)| inside(&c, k))
            .map(|(_, v)| v.0)
            .sum::<f64>()
            / total_n;
        if !(0.02..=0.3).contains(&share) {
            continue;
        }
        let overlaps = causes
            .iter()
            .any(|(o, _)| keys.iter().any(|k| inside(o, k) && inside(&c, k)));
        if overlaps {
            continue;
        }
        let up = rng.random::<bool>();
        let size = 0.3 + 0.5 * rng.random::<f64>();
        causes.push((c, if up { 1.0 + size } else { 1.0 - size }));
    }
    let mut t = CellTable::new(dims.clone(), 1, Model::Binomial);
    for (k, (n0, r)) in &leaves {
        let n1 = (n0 * volume * (0.8 + 0.4 * rng.random::<f64>())).round();
        let factor = causes
            .iter()
            .find(|(c, _)| inside(c, k))
            .map(|c| c.1)
            .unwrap_or(1.0);
        let r1 = (r * factor).min(0.95);
        let h0 = binomial(&mut rng, *n0 as u64, *r);
        let h1 = binomial(&mut rng, n1 as u64, r1);
        let names: Vec<String> = k
            .iter()
            .enumerate()
            .map(|(d, v)| format!("v{d}_{v}"))
            .collect();
        t.add(
            names.clone(),
            Side::Before,
            &Counts::binomial(*n0, vec![h0]),
        );
        t.add(names, Side::After, &Counts::binomial(n1, vec![h1]));
    }
    let labels = causes
        .iter()
        .map(|(c, _)| {
            c.iter()
                .map(|&(d, v)| (dims[d].clone(), format!("v{d}_{v}")))
                .collect()
        })
        .collect();
    (t, labels)
}

fn subject() -> Subject {
    Subject {
        metric: "y/x".into(),
        label: "the rate y/x".into(),
        short: "rate".into(),
        branches: vec![],
        branch_labels: vec![],
        percent: true,
        den_label: "trials".into(),
        period: PeriodRef::label("after"),
        vs: PeriodRef::label("before"),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let only_cubes = std::env::args().any(|a| a == "cubes");
    let seeds: u64 = if quick { 6 } else { 20 };
    let aa_seeds: u64 = if quick { 10 } else { 60 };
    let cubes: u64 = if quick { 20 } else { 100 };
    let sizes = [2000u32, 4000, 8000];

    if !only_cubes {
        planted(seeds, aa_seeds, &sizes);
    }
    cubes_table(cubes);
}

fn planted(seeds: u64, aa_seeds: u64, sizes: &[u32]) {
    println!("Planted changes ({seeds} seeds each). Found = the planted segment is the first of");
    println!("its dimension in its branch and named in the owner's sentence, as a driver or as a");
    println!("lead; detected = found, significant and named as a driver. Clear = own |z| >= 3.");
    println!();
    println!(
        "| plant | per week | mean own z | found | detected | clear: found | clear: detected |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut clear_4000 = (0usize, 0usize, 0usize);
    for &(spec, dim, seg) in &PLANTS {
        for &n in sizes {
            let rows: Vec<PlantScore> = (0..seeds)
                .into_par_iter()
                .map(|seed| score_plant(&generated(n, 100 + seed, Some(spec)), n, spec, dim, seg))
                .collect();
            let z = rows.iter().map(|r| r.z).sum::<f64>() / rows.len() as f64;
            let found = rows.iter().filter(|r| r.found).count();
            let det = rows.iter().filter(|r| r.detected).count();
            let clear: Vec<_> = rows.iter().filter(|r| r.z.abs() >= 3.0).collect();
            let clear_found = clear.iter().filter(|r| r.found).count();
            let clear_det = clear.iter().filter(|r| r.detected).count();
            if n == 4000 {
                clear_4000.0 += clear_found;
                clear_4000.1 += clear_det;
                clear_4000.2 += clear.len();
            }
            println!(
                "| `{spec}` | {n} | {z:.1} | {found}/{seeds} | {det}/{seeds} | {clear_found}/{c} | {clear_det}/{c} |",
                c = clear.len()
            );
        }
    }
    println!();
    println!(
        "At 4,000 a week, plants whose own cell has |z| >= 3: found {}/{}, detected {}/{}",
        clear_4000.0, clear_4000.2, clear_4000.1, clear_4000.2
    );
    println!();
    println!("A/A (no plant, {aa_seeds} seeds per size)");
    println!();
    println!("| per week | weeks with any significant driver | weeks with a lead in a sentence |");
    println!("|---|---|---|");
    for &n in sizes {
        let rows: Vec<(bool, bool)> = (0..aa_seeds)
            .into_par_iter()
            .map(|seed| {
                let e = generated(n, 5000 + seed, None);
                (any_significant(&e), any_lead(&e))
            })
            .collect();
        let sig = rows.iter().filter(|r| r.0).count();
        let lead = rows.iter().filter(|r| r.1).count();
        println!(
            "| {n} | {sig}/{aa_seeds} ({:.1} %) | {lead}/{aa_seeds} ({:.1} %) |",
            100.0 * sig as f64 / aa_seeds as f64,
            100.0 * lead as f64 / aa_seeds as f64
        );
    }
    println!();
}

fn cubes_table(cubes: u64) {
    let policy = Policy::from_config(&Config::embedded().unwrap());
    let results: Vec<(usize, usize, usize)> = (0..cubes)
        .into_par_iter()
        .map(|seed| {
            let (t, labels) = cube(seed);
            let e = explain_cells(&t, &subject(), &policy).unwrap();
            let found: Vec<Cell> = e
                .localised
                .iter()
                .filter(|l| l.cause.is_none())
                .map(|l| l.cells.clone())
                .collect();
            let tp = found.iter().filter(|c| labels.contains(c)).count();
            (tp, found.len(), labels.len())
        })
        .collect();
    let tp: usize = results.iter().map(|r| r.0).sum();
    let pred: usize = results.iter().map(|r| r.1).sum();
    let truth: usize = results.iter().map(|r| r.2).sum();
    let p = tp as f64 / pred.max(1) as f64;
    let r = tp as f64 / truth.max(1) as f64;
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    let exact = results.iter().filter(|x| x.0 == x.1 && x.0 == x.2).count();
    println!("Generic cubes ({cubes}; {truth} labelled causes)");
    println!();
    println!("| precision | recall | F1 | cubes answered exactly |");
    println!("|---|---|---|---|");
    println!("| {p:.2} | {r:.2} | {f1:.2} | {exact}/{cubes} |");
}
