//! Speed of `explain` alone: conversation facts of two weeks -> the full explanation (split of
//! every branch along four dimensions, tests, localisation, routing, sentences).
//!
//! `cargo bench --bench explain` (conversations per week: `-- 1000000`, the default; several
//! sizes may be given). The facts frame is built directly (not from events) so the time is the
//! explain stage's own; the target is under 3 s for a week of 1M conversations in release.
//! Cardinalities are those of a large helpdesk: 8 teams, 4 channels, 30 topics, 400 agents
//! (each in one team), with the handoff rate and cause mix varying by segment, and one planted
//! change in the week explained (topic-3 in team-2 misrouted 15 points more often).

use baton::config::Config;
use baton::domain::{Cause, Period};
use baton::explain::{explain, Metric};
use baton::metrics::fact;
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

// The allocator of the `baton` binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn facts(per_week: usize, w0: &Period, w1: &Period) -> DataFrame {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 2 * per_week;
    let teams: Vec<String> = (0..8).map(|i| format!("team-{i}")).collect();
    let channels = ["chat", "email", "phone", "social"];
    let topics: Vec<String> = (0..30).map(|i| format!("topic-{i}")).collect();
    let (mut resolved, mut created) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut team, mut channel, mut topic, mut agent) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut first_cause: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut handoffs = Vec::with_capacity(n);
    let mut by_cause: Vec<Vec<i64>> = (0..4).map(|_| Vec::with_capacity(n)).collect();
    let (mut fcr, mut wait, mut duration) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for i in 0..n {
        let p = if i < per_week { w0 } else { w1 };
        let start = p.start_utc().timestamp_micros();
        let span = p.end_utc().timestamp_micros() - start;
        let res = start + rng.random_range(0..span);
        let dur = rng.random_range(60_000_000i64..86_400_000_000);
        let a = rng.random_range(0..400usize);
        let tm = a % 8;
        let tp = rng.random_range(0..30usize);
        // The week explained has a real change to find: topic-3 in team-2 is misrouted 15
        // points more often (so pushes, localisation and sentences do their full work).
        let planted = i >= per_week && tm == 2 && tp == 3;
        let rate = 0.10 + 0.02 * tm as f64 + 0.003 * tp as f64 + if planted { 0.15 } else { 0.0 };
        let h: i64 = if rng.random::<f64>() < rate {
            1 + (rng.random::<f64>() < 0.3) as i64
        } else {
            0
        };
        let cause = (h > 0).then(|| {
            if planted {
                Cause::Routing
            } else {
                Cause::ALL[(a + tp) % 4]
            }
        });
        for (k, c) in Cause::ALL.iter().enumerate() {
            by_cause[k].push(if Some(*c) == cause { h } else { 0 });
        }
        resolved.push(res);
        created.push(res - dur);
        team.push(teams[tm].clone());
        channel.push(channels[rng.random_range(0..4usize)]);
        topic.push(topics[tp].clone());
        agent.push(format!("agent-{a}"));
        first_cause.push(cause.map(|c| c.as_str()));
        handoffs.push(h);
        fcr.push(h == 0);
        wait.push(h * rng.random_range(0..3_600_000_000i64));
        duration.push(dur);
    }
    let mut cols: Vec<Column> = vec![
        Series::new(fact::RESOLVED_AT.into(), resolved).into(),
        Series::new(fact::CREATED_AT.into(), created).into(),
        Series::new("team".into(), team).into(),
        Series::new("channel".into(), channel).into(),
        Series::new("topic".into(), topic).into(),
        Series::new("agent".into(), agent).into(),
        Series::new(fact::FIRST_CAUSE.into(), first_cause).into(),
        Series::new(fact::HANDOFFS.into(), handoffs).into(),
        Series::new(fact::FCR.into(), fcr).into(),
        Series::new(fact::WAIT_US.into(), wait).into(),
        Series::new(fact::DURATION_US.into(), duration).into(),
    ];
    for (k, c) in Cause::ALL.iter().enumerate() {
        cols.push(
            Series::new(
                fact::handoffs_of(*c).into(),
                std::mem::take(&mut by_cause[k]),
            )
            .into(),
        );
    }
    DataFrame::new(n, cols).expect("facts frame")
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000]
    } else {
        sizes
    };
    let cfg = Config::embedded().expect("embedded config");
    let w1 = Period::iso_week(2026, 46, cfg.tz()).expect("week");
    let w0 = w1.previous();
    for n in sizes {
        let t = Instant::now();
        let df = facts(n, &w0, &w1);
        eprintln!(
            "built facts for 2 x {n} conversations in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        for metric in Metric::ALL {
            let t = Instant::now();
            let e = explain(df.clone().lazy(), &cfg, &w1, &w0, metric).expect("explain");
            let secs = t.elapsed().as_secs_f64();
            println!(
                "explain {metric:<16} {n:>9} conversations/week  {secs:6.2} s  ({} pushes, {} localised)",
                e.pushes.len(),
                e.localised.len()
            );
        }
    }
}
