use baton::config::Config;
use baton::demo::*;
use baton::domain::Period;
use baton::ingest::{normalise, rows_to_frame};
use baton::metrics::{compute, MetricsRequest};
use chrono::NaiveDate;

#[test]
fn explore() {
    let tz = chrono_tz::Europe::London;
    let end = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
    let mut o = GenerateOptions::ending(end, tz);
    o.weeks = 4;
    o.per_week = 500;
    let t = std::time::Instant::now();
    let rows = generate(&o);
    eprintln!("rows {} in {:?}", rows.len(), t.elapsed());
    let ing = normalise(rows_to_frame(&rows).unwrap(), &Default::default(), None).unwrap();
    eprintln!("quarantine {:?}", ing.quarantine.counts);
    let cfg = Config::embedded().unwrap();
    let p = Period::week_of(end - chrono::Duration::days(7), tz);
    let dims = vec![
        "topic".to_string(),
        "team".to_string(),
        "channel".to_string(),
    ];
    let t = std::time::Instant::now();
    let r = compute(
        &ing.events,
        &cfg,
        &MetricsRequest {
            period: &p,
            dimensions: &dims,
            trend_weeks: 4,
        },
        &Default::default(),
    )
    .unwrap();
    eprintln!("compute {:?}", t.elapsed());
    eprintln!("{}", serde_json::to_string_pretty(&r.overall).unwrap());
    for s in &r.segments["topic"] {
        eprintln!(
            "{} n={} hr={:?} routing={:?}",
            s.value,
            s.measures.conversations,
            s.measures.handoff_rate,
            s.measures.by_cause[&baton::domain::Cause::Routing].rate
        );
    }
    for s in &r.segments["team"] {
        eprintln!(
            "{} n={} hr={:?}",
            s.value, s.measures.conversations, s.measures.handoff_rate
        );
    }
    for s in &r.trend {
        eprintln!("{} n={} hr={:?}", s.period, s.conversations, s.handoff_rate);
    }
}
