//! `baton metrics` through the real binary: stable JSON names (METRICS.md section 8), and counts
//! checked against a plain second computation over the same rows.

use baton::demo::{generate, GenerateOptions};
use baton::ingest::{EventKind, EventRow};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::process::Command;

fn baton(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The generated rows as the canonical CSV export `baton metrics --input` reads.
fn write_csv(rows: &[EventRow], path: &std::path::Path) {
    let raw = baton::ingest::rows_to_frame(rows).unwrap();
    let ing = baton::ingest::normalise(raw, &Default::default(), None).unwrap();
    baton::ingest::write_canonical(
        &ing.events,
        baton::config::SourceFormat::Csv,
        &mut std::fs::File::create(path).unwrap(),
    )
    .unwrap();
}

#[test]
fn json_has_the_stable_names_and_counts_match_a_second_method() {
    let tz = chrono_tz::Europe::London;
    let mut opts = GenerateOptions::ending(NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(), tz);
    opts.weeks = 3;
    opts.per_week = 300;
    let rows = generate(&opts);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    write_csv(&rows, &path);

    let (code, out, err) = baton(&[
        "metrics",
        "--input",
        path.to_str().unwrap(),
        "--period",
        "2026-W46",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["start", "end", "tz"] {
        assert!(v["period"][key].is_string(), "period.{key}");
    }
    assert_eq!(v["period"]["start"], "2026-11-09T00:00:00+00:00");
    let o = &v["overall"];
    for key in [
        "conversations",
        "ticket_volume",
        "handoff_rate",
        "handoffs_per_conversation",
        "bouncing_share",
        "fcr_rate",
        "time_lost_hours",
        "time_lost_share",
        "avoidable_share",
        "escalation_rate",
        "band",
        "backlog",
        "quarantined_rows",
    ] {
        assert!(!o[key].is_null(), "overall.{key} missing in {o}");
    }
    for c in ["routing", "skill", "escalation", "channel"] {
        for k in ["handoffs", "rate", "per_conversation"] {
            assert!(o["by_cause"][c][k].is_number(), "by_cause.{c}.{k}");
        }
    }
    assert!(o["wait_per_handoff_minutes"]["median"].is_number());
    assert!(o["first_response_minutes"]["mean"].is_number());
    assert!(o["ai"]["ai_escalation_rate"].is_number());
    assert!(v["segments"]["team"][0]["value"].is_string());
    assert!(v["segments"]["team"][0]["handoff_rate"].is_number());

    // Second method, plain Rust over the generated rows: a conversation belongs to W46 when its
    // last `resolved` is in [2026-11-09, 2026-11-16) London (= UTC in November) and no
    // `reopened` follows it; volume = `created` rows in the week.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-09T00:00:00Z")
        .unwrap()
        .to_utc();
    let end = chrono::DateTime::parse_from_rfc3339("2026-11-16T00:00:00Z")
        .unwrap()
        .to_utc();
    let mut by_conv: HashMap<&str, Vec<&EventRow>> = HashMap::new();
    for r in &rows {
        by_conv
            .entry(r.conversation_id.as_str())
            .or_default()
            .push(r);
    }
    let mut resolved_in_week = 0;
    let mut created_in_week = 0;
    for evs in by_conv.values_mut() {
        evs.sort_by_key(|r| r.at);
        let last_res = evs.iter().rposition(|r| r.event == EventKind::Resolved);
        let reopened_after =
            last_res.is_some_and(|i| evs[i + 1..].iter().any(|r| r.event == EventKind::Reopened));
        if let (Some(i), false) = (last_res, reopened_after) {
            if evs[i].at >= start && evs[i].at < end {
                resolved_in_week += 1;
            }
        }
        if evs
            .iter()
            .any(|r| r.event == EventKind::Created && r.at >= start && r.at < end)
        {
            created_in_week += 1;
        }
    }
    assert!(resolved_in_week > 200);
    assert_eq!(o["conversations"], resolved_in_week);
    assert_eq!(o["ticket_volume"], created_in_week);

    let (code, table, err) = baton(&[
        "metrics",
        "--input",
        path.to_str().unwrap(),
        "--period",
        "2026-W46",
        "--by",
        "team",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        table.contains("handoff rate") && table.contains("General Support"),
        "{table}"
    );
}

/// `1234567` -> `1,234,567`, written here independently of `baton::format`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn the_table_prints_counts_as_integers_with_separators_and_the_json_rates() {
    let tz = chrono_tz::Europe::London;
    let mut opts = GenerateOptions::ending(NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(), tz);
    opts.weeks = 2;
    opts.per_week = 2500;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    write_csv(&generate(&opts), &path);
    let args = [
        "metrics",
        "--input",
        path.to_str().unwrap(),
        "--period",
        "2026-W46",
    ];
    let (code, out, err) = baton(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(code, 0, "{err}");
    let o = serde_json::from_str::<serde_json::Value>(&out).unwrap()["overall"].clone();
    let (code, table, err) = baton(&args);
    assert_eq!(code, 0, "{err}");
    let row = |label: &str| -> Vec<String> {
        let line = table
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row: {table}"));
        line[label.len()..]
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let conversations = o["conversations"].as_u64().unwrap();
    assert!(conversations >= 1000, "{conversations}");
    assert_eq!(row("conversations resolved")[0], grouped(conversations));
    assert_eq!(
        row("ticket volume (created)")[0],
        grouped(o["ticket_volume"].as_u64().unwrap())
    );
    // Rates: the JSON's fraction at one decimal of a percent, as the reports print it.
    let rate = o["handoff_rate"].as_f64().unwrap();
    assert_eq!(row("handoff rate")[0], format!("{:.1}%", 100.0 * rate));
}
