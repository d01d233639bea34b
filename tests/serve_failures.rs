//! A failed run of `baton serve` is never silent: the run log says why, and the operator gets
//! one short notice per failed run. A run stuck past its working timeout is stopped and
//! marked failed.

mod deliver_support;
mod serve_support;

use baton::domain::{Period, ReportKind};
use baton::schedule::Daemon;
use baton::store::{RunState, Store};
use deliver_support::{AfterDot, Script, Server};
use serve_support::*;
use std::collections::VecDeque;
use std::time::Duration;

const OPERATOR: &str = "ops-oncall@example.com";

async fn wait_finished(store: &Store, id: baton::store::RunId) -> baton::store::RunRecord {
    for _ in 0..300 {
        let r = store.run(id).unwrap().unwrap();
        if r.state != RunState::Running {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_is_logged_and_the_operator_is_told_once() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let missing = reqwest::Url::from_file_path(dir.path().join("missing.csv")).unwrap();
    let cfg = config(
        dir.path(),
        missing.as_str(),
        server.addr.port(),
        "0 0 1 1 *",
        &format!("[alerts]\noperator = \"{OPERATOR}\"\n"),
    );
    let period = Period::parse("last-week", cfg.tz(), chrono::Utc::now()).unwrap();
    let store = Store::open(&cfg.store.path).unwrap();
    let daemon = Daemon::new(cfg.clone(), store);
    let id = daemon
        .clone()
        .trigger(ReportKind::Owners, period, Default::default())
        .await
        .unwrap();
    let check = Store::open(&cfg.store.path).unwrap();
    let rec = wait_finished(&check, id).await;
    assert_eq!(rec.state, RunState::Failed);
    assert!(
        rec.error.as_deref().unwrap().contains("missing.csv"),
        "{rec:?}"
    );
    assert!(
        wait_until_async(Duration::from_secs(10), || server.copies(OPERATOR).len()
            == 1)
        .await
    );
    let notice = String::from_utf8_lossy(&server.copies(OPERATOR)[0]).to_string();
    assert!(notice.contains(&format!("run {id} failed")), "{notice}");
    // Once per failed run: asking again sends nothing.
    let rec = check.run(id).unwrap().unwrap();
    assert!(rec.alerted_at.is_some());
    assert_eq!(
        baton::schedule::alert::notify_failure(&cfg, &check, &rec).await,
        None
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.copies(OPERATOR).len(), 1);
    assert_eq!(server.per_owner(), [0, 0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stuck_past_its_working_timeout_is_marked_failed() {
    // The first message's final dot is never answered.
    let server = Server::start(Script {
        after_dot: VecDeque::from([AfterDot::Hang]),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let url = export(dir.path());
    let cfg = config(
        dir.path(),
        &url,
        server.addr.port(),
        "0 0 1 1 *",
        &format!("[serve]\nworking_timeout_secs = 3\n\n[alerts]\noperator = \"{OPERATOR}\"\n"),
    );
    let mut cfg = cfg;
    // Longer than the working timeout: the run would wait for the answer otherwise.
    cfg.smtp.as_mut().unwrap().data_timeout_secs = 30;
    let period = Period::parse("last-week", cfg.tz(), chrono::Utc::now()).unwrap();
    let store = Store::open(&cfg.store.path).unwrap();
    let daemon = Daemon::new(cfg.clone(), store);
    let id = daemon
        .clone()
        .trigger(ReportKind::Owners, period, Default::default())
        .await
        .unwrap();
    let check = Store::open(&cfg.store.path).unwrap();
    let rec = wait_finished(&check, id).await;
    assert_eq!(rec.state, RunState::Failed, "{rec:?}");
    assert!(
        rec.error.as_deref().unwrap().contains("working timeout"),
        "{rec:?}"
    );
    // The report is free again, and the operator heard of it.
    assert!(
        wait_until_async(Duration::from_secs(10), || server.copies(OPERATOR).len()
            == 1)
        .await
    );
    assert!(check.lease("report:owners").unwrap().is_none());
}
