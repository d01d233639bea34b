//! `baton serve` as real processes on one store: two at once never run a fire twice or the
//! report twice at once, SIGTERM exits 0, and a kill -9 in the middle of a fire followed by a
//! restart sends each owner exactly one message.

mod deliver_support;
mod serve_support;

use baton::store::{FireState, RunKind, RunState, Store};
use chrono::{Timelike, Utc};
use deliver_support::{AfterDot, Script, Server};
use serve_support::*;
use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn serve(dir: &std::path::Path, stderr: &str) -> Child {
    let log = std::fs::File::create(dir.join(stderr)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--config", "baton.toml", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env("BATON_LOG", "baton=info,warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// SIGTERM, then the exit code (within 15 s).
fn terminate(mut child: Child) -> i32 {
    signal(&child, "-TERM");
    for _ in 0..300 {
        if let Some(s) = child.try_wait().unwrap() {
            use std::os::unix::process::ExitStatusExt;
            return s.code().unwrap_or(-1000 - s.signal().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("baton serve did not stop on SIGTERM");
}

#[test]
fn two_serve_processes_on_one_store_run_each_fire_once_and_exit_0_on_sigterm() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let url = export(dir.path());
    let text = config_text(
        dir.path(),
        &url,
        server.addr.port(),
        "*/2 * * * * *",
        "[serve]\nlease_secs = 3\n",
    );
    std::fs::write(dir.path().join("baton.toml"), text).unwrap();
    let a = serve(dir.path(), "a.log");
    let b = serve(dir.path(), "b.log");
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let dealt = wait_until(Duration::from_secs(15), || {
        store
            .fires("tick", 100)
            .map(|f| f.iter().filter(|f| f.state == FireState::Done).count() >= 3)
            .unwrap_or(false)
    });
    let (ca, cb) = (terminate(a), terminate(b));
    let logs = std::fs::read_to_string(dir.path().join("a.log")).unwrap()
        + &std::fs::read_to_string(dir.path().join("b.log")).unwrap();
    assert_eq!((ca, cb), (0, 0), "{logs}");
    assert!(dealt, "{logs}");

    let fires = store.fires("tick", 100).unwrap();
    let runs = store.recent_runs(100).unwrap();
    for f in &fires {
        let n = runs
            .iter()
            .filter(|r| r.scheduled_for == Some(f.scheduled_for))
            .count();
        assert!(n <= 1, "fire {} ran {n} times\n{logs}", f.scheduled_for);
    }
    let mut spans: Vec<_> = runs
        .iter()
        .filter(|r| r.state != RunState::Running)
        .map(|r| (r.started_at, r.finished_at.unwrap()))
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "two runs at once: {w:?}\n{logs}");
    }
    // Both processes saw every fire; for each, the other one found it taken.
    assert!(
        logs.contains("already") || logs.contains("busy"),
        "no fire was refused by either process\n{logs}"
    );
    assert_eq!(server.per_owner(), [1, 1, 1, 1], "{logs}");
}

#[test]
fn a_kill_9_in_the_middle_of_a_fire_and_a_restart_send_each_owner_one_message() {
    // The second message is kept by the server and its answer held back: the process is
    // killed while it waits.
    let server = Server::start(Script {
        after_dot: VecDeque::from([AfterDot::Accept, AfterDot::Slow(Duration::from_secs(10))]),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let url = export(dir.path());
    let at = (Utc::now() + chrono::Duration::seconds(3))
        .with_nanosecond(0)
        .unwrap();
    let cron = format!("{} {} {} * * *", at.second(), at.minute(), at.hour());
    let text = config_text(
        dir.path(),
        &url,
        server.addr.port(),
        &cron,
        "[serve]\nlease_secs = 2\n",
    );
    std::fs::write(dir.path().join("baton.toml"), text).unwrap();
    let mut first = serve(dir.path(), "first.log");
    assert!(
        wait_until(Duration::from_secs(15), || server.kept() == 2),
        "{}",
        std::fs::read_to_string(dir.path().join("first.log")).unwrap()
    );
    signal(&first, "-KILL");
    first.wait().unwrap();

    let second = serve(dir.path(), "second.log");
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let done = wait_until(Duration::from_secs(15), || {
        store
            .fires("tick", 10)
            .map(|f| f.iter().any(|f| f.state == FireState::Done))
            .unwrap_or(false)
    });
    assert_eq!(terminate(second), 0);
    let logs = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(done, "{logs}");
    // Every owner has exactly one copy: the one whose answer never came was kept by the
    // server, is in doubt in the ledger, and was not sent again.
    assert_eq!(server.per_owner(), [1, 1, 1, 1], "{logs}");
    let runs = store.recent_runs(10).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (rerun, killed) = (&runs[0], &runs[1]);
    assert_eq!(killed.state, RunState::Abandoned, "{killed:?}");
    assert_eq!(rerun.kind, RunKind::CatchUp);
    assert_eq!(rerun.scheduled_for, Some(at));
    assert_eq!(
        (rerun.messages_sent, rerun.messages_already),
        (2, 1),
        "{rerun:?}"
    );
    let fires = store.fires("tick", 10).unwrap();
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].run_id, Some(rerun.id));
}
