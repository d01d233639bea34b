//! `baton explain` as a user runs it: the real binary, files on disk, and a table served over
//! HTTP by a real server on loopback. Expected numbers are the worked example of
//! tests/explain_worked.rs (22 % -> 27 %; General Support mix +0.02175, Billing rate
//! 0.475 * (225/550 - 0.40)), recomputed here from the formulas, not from program output.

mod explain_support;

use baton::config::SourceFormat;
use baton::domain::Cause;
use explain_support::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const EPS: f64 = 1e-9;

fn baton(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(dir)
        .args(args)
        .env("BATON_LOG", "warn")
        .output()
        .expect("run baton")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "baton failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The worked example's population in weeks `w0` (before) and `w1` (after).
fn population(w0: u32, w1: u32) -> Vec<Conv> {
    let mut v = Vec::new();
    add_queue(&mut v, (w0, "General Support", "a1"), 600, 60, Cause::Skill);
    add_queue(&mut v, (w0, "Billing", "a1"), 400, 160, Cause::Routing);
    add_queue(&mut v, (w1, "General Support", "a1"), 450, 45, Cause::Skill);
    add_queue(&mut v, (w1, "Billing", "a1"), 550, 225, Cause::Routing);
    v
}

fn write_events(path: &Path, convs: &[Conv]) {
    let mut f = std::fs::File::create(path).unwrap();
    baton::ingest::write_canonical(&frame(convs), SourceFormat::Csv, &mut f).unwrap();
}

fn driver<'a>(drivers: &'a Value, dim: &str, seg: &str, effect: &str) -> &'a Value {
    drivers
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dimension"] == dim && d["segment"] == seg && d["effect"] == effect)
        .unwrap_or_else(|| panic!("no {dim}={seg} {effect} in {drivers}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn handoff_events_from_a_file_with_a_default_period() {
    let dir = tempfile::tempdir().unwrap();
    // March 2026 (W10 before, W11 after): data that ends long before "last week". One extra
    // conversation on Sunday 2026-03-15 ends the data on W11's last day, so W11 is the last
    // full week of the data and is the default, compared with W10.
    let mut convs = population(10, 11);
    let sunday = in_week(11, 0) + chrono::Duration::days(4);
    convs.push(Conv::new(
        "General Support",
        "chat",
        "general",
        "a1",
        None,
        sunday,
    ));
    let path = dir.path().join("events.csv");
    write_events(&path, &convs);
    let out = baton(
        dir.path(),
        &[
            "explain",
            "--input",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let j = json(&out);
    assert_eq!(j["period"]["label"], "2026-W11");
    assert_eq!(j["vs"]["label"], "2026-W10");
    assert_eq!(j["metric"], "handoff_rate");
    // 220/1000 before; 270/1001 after (the Sunday conversation has no handoff).
    assert!((f(&j["before"]) - 0.22).abs() < EPS);
    assert!((f(&j["after"]) - 270.0 / 1001.0).abs() < EPS);
    // Four branches that add up to the change.
    let branches = j["branches"].as_array().unwrap();
    assert_eq!(branches.len(), 4);
    let sum: f64 = branches.iter().map(|b| f(&b["change"])).sum();
    assert!((sum - f(&j["change"])).abs() < 1e-12);
    assert!(j["summary"]["support-operations"]
        .as_str()
        .unwrap()
        .starts_with("Routing handoffs rose"));
}

#[test]
fn handoff_events_table_and_explicit_periods() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    write_events(&path, &population(45, 46));
    let args = [
        "explain",
        "--input",
        path.to_str().unwrap(),
        "--period",
        "2026-W46",
        "--vs",
        "2026-W45",
    ];
    let out = baton(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Why did handoff_rate change? 2026-W46 vs 2026-W45"),
        "{text}"
    );
    // The same formatter as the reports: `22.0%`, counts with separators.
    assert!(text.contains("22.0% -> 27.0%: +5.0"), "{text}");
    assert!(text.contains("n 1,000 -> 1,000"), "{text}");
    assert!(text.contains("everything else"), "{text}");
    // Rows that are not significant are summed into one line unless --all; what is shown
    // still adds up, and --all lists them.
    let mut a: Vec<&str> = args.to_vec();
    a.push("--all");
    let all = String::from_utf8(baton(dir.path(), &a).stdout).unwrap();
    let rows = |t: &str| {
        t.lines()
            .filter(|l| l.contains(" rate ") || l.contains(" mix "))
            .count()
    };
    assert!(rows(&all) > rows(&text), "--all shows more rows:\n{all}");
    assert!(!all.contains("--all shows them"), "{all}");
    if rows(&all) > rows(&text) {
        assert!(text.contains("not significant"), "{text}");
    }
    assert!(text.contains("For each owner"), "{text}");

    // FCR = 1 - handoff rate here (nobody reopens): 78 % -> 73 %.
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--metric", "fcr", "--format", "json"]);
    let j = json(&baton(dir.path(), &a));
    assert_eq!(j["metric"], "fcr_rate");
    assert!((f(&j["before"]) - 0.78).abs() < EPS && (f(&j["after"]) - 0.73).abs() < EPS);
    assert!(j.get("branches").is_none(), "FCR has no tree");

    // Unknown metric: a usage error (exit 2) that lists the choices.
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--metric", "bounce"]);
    let out = baton(dir.path(), &a);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected handoff_rate, avoidable_share"));

    // Overlapping periods are refused with a suggestion.
    let out = baton(
        dir.path(),
        &[
            "explain",
            "--input",
            path.to_str().unwrap(),
            "--period",
            "2026-W46",
            "--vs",
            "2026-11-12..2026-11-20",
        ],
    );
    // A usage error (exit 2), as every mistake in the command line is.
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("overlap"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The worked example as an exported aggregate: one row per week and queue.
const TABLE: &str = "week,queue,channel,handed_off,conversations
2026-W45,General Support,chat,60,600
2026-W45,Billing,chat,160,400
2026-W46,General Support,chat,45,450
2026-W46,Billing,chat,225,550
";

fn check_generic(j: &Value) {
    assert_eq!(j["metric"], "handed_off/conversations");
    assert_eq!(j["model"], "binomial");
    assert!(j.get("branches").is_none());
    assert!((f(&j["before"]) - 0.22).abs() < EPS && (f(&j["after"]) - 0.27).abs() < EPS);
    let d = &j["drivers"];
    assert!(
        (f(&driver(d, "queue", "General Support", "mix")["contribution"]) - 0.02175).abs() < EPS
    );
    let billing_rate = 0.475 * (225.0 / 550.0 - 0.40);
    assert!((f(&driver(d, "queue", "Billing", "rate")["contribution"]) - billing_rate).abs() < EPS);
    // One channel: all of the change is the chat segment's rate (its weight is 1 both weeks).
    assert!((f(&driver(d, "channel", "chat", "rate")["contribution"]) - 0.05).abs() < EPS);
    assert!(f(&driver(d, "channel", "chat", "mix")["contribution"]).abs() < EPS);
    // Segments of a dimension plus "everything else" add up to the change.
    for dim in ["queue", "channel"] {
        let shown: f64 = d
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["dimension"] == dim)
            .map(|x| f(&x["contribution"]))
            .sum();
        assert!((shown + f(&j["other"][dim]) - f(&j["change"])).abs() < 1e-12);
    }
}

#[test]
fn generic_table_with_a_period_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rates.csv");
    std::fs::write(&path, TABLE).unwrap();
    let base = [
        "explain",
        "--input",
        path.to_str().unwrap(),
        "--numerator",
        "handed_off",
        "--denominator",
        "conversations",
        "--dims",
        "queue,channel",
        "--period-column",
        "week",
        "--format",
        "json",
    ];
    // Default: the last two values of the period column.
    let j = json(&baton(dir.path(), &base));
    assert_eq!(j["period"]["label"], "2026-W46");
    assert_eq!(j["vs"]["label"], "2026-W45");
    check_generic(&j);

    // A period the column does not have: the error lists those it has.
    let mut a = base.to_vec();
    a.extend(["--period", "2026-W47"]);
    let out = baton(dir.path(), &a);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no value `2026-W47` (values: 2026-W45, 2026-W46)"),
        "{err}"
    );

    // A missing column names the columns found.
    let mut a = base.to_vec();
    a[4] = "handed";
    let err = String::from_utf8_lossy(&baton(dir.path(), &a).stderr).to_string();
    assert!(
        err.contains("no column `handed`") && err.contains("week, queue, channel"),
        "{err}"
    );

    // Text where a number belongs: the column and the count of bad rows, nothing dropped.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, TABLE.replace("225,550", "lots,550")).unwrap();
    let mut a = base.to_vec();
    a[2] = bad.to_str().unwrap();
    let out = baton(dir.path(), &a);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("column `handed_off`: 1 rows of the two periods are empty or not numbers"),
        "{err}"
    );
}

#[test]
fn generic_tables_as_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let (mut before, mut after) = (String::new(), String::new());
    for (i, line) in TABLE.lines().enumerate() {
        if i == 0 || line.starts_with("2026-W45") {
            before.push_str(line);
            before.push('\n');
        }
        if i == 0 || line.starts_with("2026-W46") {
            after.push_str(line);
            after.push('\n');
        }
    }
    std::fs::write(dir.path().join("w45.csv"), before).unwrap();
    std::fs::write(dir.path().join("w46.csv"), after).unwrap();
    let j = json(&baton(
        dir.path(),
        &[
            "explain",
            "--input",
            "w46.csv",
            "--input-vs",
            "w45.csv",
            "--numerator",
            "handed_off",
            "--denominator",
            "conversations",
            "--dims",
            "queue,channel",
            "--format",
            "json",
        ],
    ));
    assert_eq!(j["period"]["label"], "w46.csv");
    assert_eq!(j["vs"]["label"], "w45.csv");
    check_generic(&j);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_and_events_over_http() {
    use axum::{http::StatusCode, routing::get, Router};
    let mut events = Vec::new();
    baton::ingest::write_canonical(&frame(&population(45, 46)), SourceFormat::Csv, &mut events)
        .unwrap();
    let events = String::from_utf8(events).unwrap();
    let app = Router::new()
        .route("/rates.csv", get(|| async { TABLE }))
        .route("/events.csv", get(move || async move { events }))
        .route("/gone.csv", get(|| async { (StatusCode::NOT_FOUND, "no") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let base = format!("http://{addr}");
    let (table, gone, handoffs) = tokio::task::spawn_blocking(move || {
        let generic = |u: &str| {
            baton(
                &d,
                &[
                    "explain",
                    "--input",
                    u,
                    "--numerator",
                    "handed_off",
                    "--denominator",
                    "conversations",
                    "--dims",
                    "queue,channel",
                    "--period-column",
                    "week",
                    "--format",
                    "json",
                ],
            )
        };
        (
            generic(&format!("{base}/rates.csv")),
            generic(&format!("{base}/gone.csv?token=s3cret")),
            baton(
                &d,
                &[
                    "explain",
                    "--input",
                    &format!("{base}/events.csv"),
                    "--period",
                    "2026-W46",
                    "--vs",
                    "2026-W45",
                    "--format",
                    "json",
                ],
            ),
        )
    })
    .await
    .unwrap();
    check_generic(&json(&table));
    assert_eq!(gone.status.code(), Some(1));
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(err.contains("404"), "{err}");
    assert!(
        !err.contains("s3cret"),
        "the query string (a token) must not be shown: {err}"
    );
    // Handoff events pulled over HTTP: the worked example, 22 % -> 27 %.
    let j = json(&handoffs);
    assert!((f(&j["before"]) - 0.22).abs() < EPS && (f(&j["after"]) - 0.27).abs() < EPS);
}
