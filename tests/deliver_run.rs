//! Whole report runs (`run_report`) on a generated export in a file, delivered over SMTP to
//! the misbehaving server: the run log holds the true outcome, and a report too big for one
//! owner fails for that owner only.

mod deliver_support;

use baton::deliver::Outcome;
use baton::domain::{Period, ReportKind};
use baton::run::{run_report, RunError, RunRequest, Trigger};
use baton::store::{RunState, Store};
use deliver_support::*;

fn request(period: &Period) -> RunRequest {
    RunRequest {
        report: ReportKind::Owners,
        period: period.clone(),
        trigger: Trigger::Manual,
        outbox: None,
        recipients: Default::default(),
        dry_run: false,
        pull: Default::default(),
        http: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_too_big_for_one_owner_fails_only_for_that_owner() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let (mut cfg, period) = export_config(dir.path(), &server, 300);
    // An operator's 120 KB lever: Enablement's HTML cannot fit whatever is cut.
    cfg.tree
        .get_mut(&baton::domain::Cause::Skill)
        .unwrap()
        .levers = vec!["x".repeat(120_000)];
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let summary = run_report(&cfg, &store, &request(&period)).await.unwrap();
    assert_eq!(server.per_owner(), [1, 0, 1, 1]);
    assert!(matches!(
        summary.delivery.outcome(OWNERS[1]),
        Some(Outcome::NotRendered { error }) if error.contains("bytes")
    ));
    let rec = store.run(summary.run_id).unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.messages_sent, rec.messages_failed),
        (RunState::Partial, 3, 1)
    );
    assert!(rec
        .error
        .unwrap()
        .contains("enablement@example.com: not sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setup_error_fails_the_run_with_what_went_out_counted() {
    let server = Server::start(Script {
        auth_535_echo: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (mut cfg, period) = export_config(dir.path(), &server, 300);
    let secret = "run-level-secret-Qx9";
    std::env::set_var("BATON_TEST_RUN_PW", secret);
    let smtp = cfg.smtp.as_mut().unwrap();
    smtp.user = Some("reports@example.com".into());
    smtp.password_env = Some("BATON_TEST_RUN_PW".into());
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let err = run_report(&cfg, &store, &request(&period))
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::DeliveryStopped { .. }), "{err}");
    assert!(!err.to_string().contains(secret));
    let rec = store.recent_runs(1).unwrap().remove(0);
    assert_eq!(
        (rec.state, rec.messages_sent, rec.messages_failed),
        (RunState::Failed, 0, 4)
    );
    let error = rec.error.unwrap();
    assert!(
        error.contains("smtp.password_env") && !error.contains(secret),
        "{error}"
    );
    assert_eq!(server.seen.lock().unwrap().auth_attempts, 1);
}
