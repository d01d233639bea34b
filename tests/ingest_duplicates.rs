//! Identical rows (a pagination overlap, an export concatenated twice) are dropped as duplicates
//! and counted under "duplicate row", so a repeated export gives the numbers of the original.

use baton::config::{Config, SourceFormat};
use baton::demo::{generate_frame, GenerateOptions};
use baton::domain::Period;
use baton::ingest::{normalise, read_canonical, write_canonical, Ingested};
use baton::metrics::{compute, MetricsRequest};
use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use std::collections::BTreeMap;

const TZ: chrono_tz::Tz = chrono_tz::Europe::London;

fn end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
}

fn events() -> DataFrame {
    let mut o = GenerateOptions::ending(end(), TZ);
    o.weeks = 3;
    o.per_week = 300;
    normalise(generate_frame(&o).unwrap(), &BTreeMap::new(), None)
        .unwrap()
        .events
}

fn export(events: &DataFrame, format: SourceFormat) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(events, format, &mut out).unwrap();
    out
}

fn read(bytes: &[u8], format: SourceFormat) -> Ingested {
    read_canonical(bytes, format, &BTreeMap::new(), None).unwrap()
}

fn metrics_json(events: &DataFrame) -> String {
    let cfg = Config::embedded().unwrap();
    let period = Period::week_of(end() - Duration::days(1), TZ);
    let dims = [
        baton::domain::Dimension::Team,
        baton::domain::Dimension::Topic,
    ];
    let req = MetricsRequest {
        period: &period,
        dimensions: &dims,
        trend_weeks: 2,
    };
    let report = compute(events, &cfg, &req, &BTreeMap::new()).unwrap();
    serde_json::to_string(&report).unwrap()
}

/// The CSV export with its data lines repeated from `from` on (a whole repeat for 0).
fn repeated_csv(original: &[u8], from: usize) -> Vec<u8> {
    let text = std::str::from_utf8(original).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.collect();
    let mut out = format!("{header}\n");
    for l in body.iter().chain(&body[from..]) {
        out.push_str(l);
        out.push('\n');
    }
    out.into_bytes()
}

#[test]
fn an_export_with_every_row_repeated_gives_the_original_events_and_metrics() {
    let events = events();
    let n = events.height();
    assert!(n > 1000);
    for format in [
        SourceFormat::Csv,
        SourceFormat::Parquet,
        SourceFormat::Jsonl,
    ] {
        let original_bytes = export(&events, format);
        let original = read(&original_bytes, format);
        assert!(original.quarantine.is_empty(), "{format:?}");
        let repeated_bytes = match format {
            SourceFormat::Csv => repeated_csv(&original_bytes, 0),
            SourceFormat::Jsonl => [original_bytes.clone(), original_bytes.clone()].concat(),
            SourceFormat::Parquet => {
                let twice = events.vstack(&events).unwrap();
                export(&twice, format)
            }
        };
        let repeated = read(&repeated_bytes, format);
        assert!(
            repeated.events.equals_missing(&original.events),
            "{format:?}: {} events against {}",
            repeated.events.height(),
            original.events.height()
        );
        assert_eq!(
            repeated.quarantine.counts,
            BTreeMap::from([("duplicate row".to_string(), n)]),
            "{format:?}"
        );
        assert_eq!(repeated.quarantine.len(), n, "{format:?}");
        // Copies are dropped, not malformed: half the rows repeated does not fail the run.
        assert!(repeated.check_threshold(0.05).is_ok(), "{format:?}");
        assert_eq!(
            metrics_json(&repeated.events),
            metrics_json(&original.events),
            "{format:?}"
        );
    }
}

#[test]
fn a_pagination_overlap_is_dropped_and_counted() {
    let events = events();
    let n = events.height();
    let original_bytes = export(&events, SourceFormat::Csv);
    let original = read(&original_bytes, SourceFormat::Csv);
    // The last 100 rows come again (a page fetched twice).
    let overlap = repeated_csv(&original_bytes, n - 100);
    let ing = read(&overlap, SourceFormat::Csv);
    assert!(ing.events.equals_missing(&original.events));
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("duplicate row".to_string(), 100)])
    );
    // The repeats are the later copies: rows n.. of the export.
    let rows = ing.quarantine.rows.column("row").unwrap();
    let rows = rows.i64().unwrap();
    assert!(rows.iter().flatten().all(|r| r >= n as i64));
}

#[test]
fn rows_that_differ_in_any_column_are_kept() {
    // Same conversation and instant, different events or labels: not duplicates. Rows that differ
    // only in white space or case of an enumeration are the same event once cleaned.
    let csv = "conversation_id,at,event,agent,team,sentiment\n\
               c1,2026-11-10T09:00:00Z,created,,,\n\
               c1,2026-11-10T09:00:00Z,assigned,ann,Billing,\n\
               c1,2026-11-10T09:00:00Z,assigned,bob,Billing,\n\
               c1,2026-11-10T09:00:00Z,message,ann,,0.5\n\
               c1,2026-11-10T09:00:00Z,message,ann,,-0.5\n\
               c1,2026-11-10T09:00:00Z,Assigned,ann, Billing,\n\
               c1,2026-11-10T09:00:00Z,message,ann,,0.5\n\
               c1,2026-11-10T09:00:00.000001Z,message,ann,,0.5\n";
    let ing = read(csv.as_bytes(), SourceFormat::Csv);
    let rows: Vec<i64> = ing
        .events
        .column("row")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(rows, [0, 1, 2, 3, 4, 7]);
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("duplicate row".to_string(), 2)])
    );
}
