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
    let back = baton::ingest::read_canonical(
        &std::fs::read(&out).unwrap(),
        baton::config::SourceFormat::Parquet,
        &Default::default(),
        None,
    )
    .unwrap();
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
