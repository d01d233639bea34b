//! Two real `baton run` processes at once on one store, against a real SMTP server on
//! loopback: every owner gets exactly one message, and a rerun sends nothing.

mod deliver_support;

use deliver_support::{AfterDot, Script, Server};
use std::process::Command;
use std::time::Duration;

#[test]
fn two_baton_run_processes_at_once_send_each_owner_one_message() {
    // Slow answers after the dot so the two runs overlap while messages are in flight.
    let server = Server::start(Script {
        after_dot: (0..8)
            .map(|_| AfterDot::Slow(Duration::from_millis(400)))
            .collect(),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.csv");
    std::fs::write(
        &export,
        "conversation_id,at,event,agent,team,channel,reason\n\
         c1,2026-11-10T09:00:00Z,created,,,chat,\n\
         c1,2026-11-10T09:01:00Z,assigned,ann,Billing,chat,\n\
         c1,2026-11-10T09:30:00Z,assigned,bob,Technical,chat,wrong_queue\n\
         c1,2026-11-10T10:00:00Z,resolved,,,chat,\n\
         c2,2026-11-11T09:00:00Z,created,,,email,\n\
         c2,2026-11-11T09:05:00Z,assigned,ann,Billing,email,\n\
         c2,2026-11-11T11:00:00Z,resolved,,,email,\n",
    )
    .unwrap();
    let cfg_text = include_str!("../config/baton.toml")
        .replace(
            "mode = \"outbox\"",
            "mode = \"smtp\"",
        )
        .replace("path = \"baton.db\"", "path = \"shared.db\"")
        + &format!(
            "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"baton <reports@example.com>\"\ntimeout_secs = 2\ndata_timeout_secs = 5\n\n[sources.f]\nkind = \"canonical\"\nurl = \"file://{}\"\n",
            server.addr.port(),
            export.display()
        );
    let cfg = dir.path().join("baton.toml");
    std::fs::write(&cfg, cfg_text).unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["run", "--period", "2026-W46", "--config"])
            .arg(&cfg)
            .current_dir(dir.path())
            .spawn()
            .unwrap()
    };
    let (a, b) = (run(), run());
    let outs: Vec<_> = [a, b]
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        assert!(o.status.code().is_some(), "a run was killed");
    }
    assert_eq!(
        server.per_owner(),
        [1, 1, 1, 1],
        "exactly one message per owner"
    );

    // A rerun finds every message delivered and sends nothing.
    let again = run().wait_with_output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}
