//! `baton pull` end to end: the binary pulls a canonical export from a loopback server and
//! writes the events it got.

mod source_support;

use axum::routing::get;
use axum::Router;
use source_support::{lines, serve};
use std::process::Command;

const CSV: &str = "\
conversation_id,at,event,agent,team
a1,2026-03-02T09:00:00Z,created,,
a1,2026-03-02T09:01:00Z,assigned,ann,Billing
a1,2026-03-02T10:00:00Z,resolved,,
a2,2026-03-02T11:00:00Z,created,,
a2,not-a-time,resolved,,
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baton_pull_writes_the_pulled_events() {
    let addr = serve(Router::new().route("/events.csv", get(|| async { CSV }))).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("baton.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}\n[sources.helpdesk]\nkind = \"canonical\"\nurl = \"http://{addr}/events.csv\"\n",
            baton::config::EMBEDDED_DEFAULT
        ),
    )
    .unwrap();
    let out = dir.path().join("events.parquet");
    let bin = env!("CARGO_BIN_EXE_baton");
    let run = {
        let (cfg, out) = (cfg.clone(), out.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(bin)
                .args(["pull", "--config"])
                .arg(&cfg)
                .args(["--source", "helpdesk", "--out"])
                .arg(&out)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // 4 valid rows; the row with a bad time is quarantined and reported.
    assert!(
        stderr.contains("helpdesk: 4 events, 1 quarantined"),
        "{stderr}"
    );
    let back = read_events(&out, baton::config::SourceFormat::Parquet);
    assert_eq!(
        lines(&back.events),
        vec![
            "a1|2026-03-02T09:00:00Z|created|||human||||",
            "a1|2026-03-02T09:01:00Z|assigned|ann|Billing|human||||",
            "a1|2026-03-02T10:00:00Z|resolved|||human||||",
            "a2|2026-03-02T11:00:00Z|created|||human||||",
        ]
    );

    // An unknown source is a usage error (exit 2) naming the configured ones.
    let bad = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .args(["pull", "--config"])
            .arg(&cfg)
            .args(["--source", "nope"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sources: helpdesk"));
}

/// The canonical events of a file baton wrote.
fn read_events(
    path: &std::path::Path,
    format: baton::config::SourceFormat,
) -> baton::ingest::Ingested {
    baton::ingest::read_canonical(
        &std::fs::read(path).unwrap(),
        format,
        &Default::default(),
        None,
    )
    .unwrap()
}

fn baton(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .unwrap()
}

/// `pull --period P` writes what a report on P reads, so `metrics` on that file equals
/// `metrics` on the source itself (docs/sources.md, "The window a report reads"); the window
/// is from the first trend week less `history_days` to P's end, whatever the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_period_writes_the_window_a_report_reads() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.csv");
    let export_s = export.to_str().unwrap().to_string();
    // 18 weeks to 2026-11-30: events well before the window of 2026-W46 and after its end.
    let gen = tokio::task::spawn_blocking(move || {
        baton(&[
            "generate",
            "--weeks",
            "18",
            "--per-week",
            "250",
            "--end",
            "2026-11-30",
            "--seed",
            "3",
            "--out",
            &export_s,
        ])
    })
    .await
    .unwrap();
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let body = std::fs::read(&export).unwrap();
    let addr = serve(Router::new().route(
        "/events.csv",
        get(move || {
            let body = body.clone();
            async move { body }
        }),
    ))
    .await;
    let url = format!("http://{addr}/events.csv");
    let cfg = dir.path().join("baton.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}\n[sources.helpdesk]\nkind = \"canonical\"\nurl = \"{url}\"\n",
            baton::config::EMBEDDED_DEFAULT
        ),
    )
    .unwrap();
    let pulled = dir.path().join("w46.csv");
    let (cfg_s, pulled_s) = (
        cfg.to_str().unwrap().to_string(),
        pulled.to_str().unwrap().to_string(),
    );
    let outs = tokio::task::spawn_blocking(move || {
        let pull = baton(&[
            "pull", "--config", &cfg_s, "--period", "2026-W46", "--out", &pulled_s, "--format",
            "json",
        ]);
        let period = ["--period", "2026-W46", "--format", "json"];
        let from = |input: &[&str]| {
            let mut a = vec!["metrics", "--config", &cfg_s];
            a.extend_from_slice(input);
            a.extend_from_slice(&period);
            baton(&a)
        };
        (
            pull,
            from(&["--source", "helpdesk"]),
            from(&["--input", &url]),
            from(&["--input", &pulled_s]),
        )
    })
    .await
    .unwrap();
    let (pull, by_source, by_url, by_file) = outs;
    for o in [&pull, &by_source, &by_url, &by_file] {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    // The file holds exactly the window, worked by hand from the defaults (Europe/London):
    // 2026-W46 ends 2026-11-16 00:00 GMT; the 8-week trend starts 2026-09-21 00:00 BST
    // (2026-09-20T23:00Z), less 28 days of history: 2026-08-23T23:00Z.
    let all = read_events(&export, baton::config::SourceFormat::Csv);
    let cut = read_events(&pulled, baton::config::SourceFormat::Csv);
    let in_window: Vec<String> = lines(&all.events)
        .into_iter()
        .filter(|l| {
            let at = l.split('|').nth(1).unwrap();
            ("2026-08-23T23:00:00Z".."2026-11-16T00:00:00Z").contains(&at)
        })
        .collect();
    assert!(
        in_window.len() < all.events.height(),
        "the export must reach outside"
    );
    assert!(lines(&all.events)
        .iter()
        .any(|l| l.split('|').nth(1).unwrap() < "2026-08-23T23:00:00Z"));
    assert_eq!(lines(&cut.events), in_window);
    // The summary says the same.
    let summary: serde_json::Value = serde_json::from_slice(&pull.stdout).unwrap();
    assert_eq!(summary["window"]["start"], "2026-08-23T23:00:00+00:00");
    assert_eq!(summary["window"]["end"], "2026-11-16T00:00:00+00:00");
    assert_eq!(
        summary["events"].as_u64().unwrap() as usize,
        in_window.len()
    );
    assert_eq!(
        summary["outside_window"].as_u64().unwrap() as usize,
        all.events.height() - in_window.len()
    );

    // The same numbers from the source, the whole export and the pulled file.
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let (a, b, c) = (json(&by_source), json(&by_url), json(&by_file));
    assert!(a["overall"]["conversations"].as_u64().unwrap() > 100);
    assert_eq!(a, b);
    assert_eq!(a, c);
}
