//! Whole report runs (`run_report`) on a generated export in a file, delivered over SMTP to
//! the misbehaving server: the run log holds the true outcome, and a report too big for one
//! owner fails for that owner only.

mod deliver_support;

use baton::deliver::{DeliveryKey, Outcome};
use baton::domain::{Period, ReportKind};
use baton::run::{run_report, RunError, RunRequest, Trigger};
use baton::store::{DeliveryState, RunState, Store};
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

/// A branch that moves beyond noise and past its `alert_threshold_pp` gets its owner a short
/// alert after the report, once per branch and period: a second run sends neither again. A
/// branch that moved less than its line alerts nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_significant_move_past_the_line_alerts_its_owner_once() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    // Billing conversations misrouted 40 points more often: routing (Support Operations)
    // rises by several points, far beyond noise at 1,500 conversations a week.
    let (mut cfg, period) =
        export_config_with(dir.path(), &server, 1500, &["routing:topic=billing:+40pp"]);
    for (cause, branch) in cfg.tree.iter_mut() {
        branch.alert_threshold_pp = if *cause == baton::domain::Cause::Routing {
            1.0
        } else {
            50.0
        };
    }
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let first = run_report(&cfg, &store, &request(&period)).await.unwrap();
    assert_eq!(
        first.owners.len(),
        4,
        "the reports are counted without the alert"
    );
    assert_eq!(first.delivery.sent(), 5, "{}", first.delivery);
    let copies = server.copies(OWNERS[0]);
    assert_eq!(
        copies.len(),
        2,
        "Support Operations: the report and the alert"
    );
    let subjects: Vec<String> = copies
        .iter()
        .map(|raw| {
            mail_parser::MessageParser::default()
                .parse(raw)
                .unwrap()
                .subject()
                .unwrap()
                .to_string()
        })
        .collect();
    let alert = subjects
        .iter()
        .find(|s| s.starts_with("Alert 2026-W46: routing +"))
        .unwrap_or_else(|| panic!("no alert among {subjects:?}"));
    assert!(alert.contains("past your 1 pp line"), "{alert}");
    // The report lists example conversations of its billing driver.
    let report = copies
        .iter()
        .map(|raw| mail_parser::MessageParser::default().parse(raw).unwrap())
        .find(|m| m.subject().unwrap().starts_with("Handoffs"))
        .unwrap();
    let text = report.body_text(0).unwrap();
    let examples = text
        .lines()
        .skip_while(|l| !l.contains("topic: billing (routing)"))
        .find_map(|l| l.trim().strip_prefix("Examples: "))
        .unwrap_or_else(|| panic!("no examples for topic billing in\n{text}"));
    assert_eq!(examples.split(", ").count(), 5, "{examples}");
    assert_eq!(server.per_owner(), [2, 1, 1, 1]);
    let key = DeliveryKey::new("alert-routing", period.label(), OWNERS[0]);
    assert_eq!(
        store.delivery_state(&key).unwrap().unwrap().state,
        DeliveryState::Sent
    );

    let again = run_report(&cfg, &store, &request(&period)).await.unwrap();
    assert_eq!(again.delivery.sent(), 0, "{}", again.delivery);
    assert_eq!(server.per_owner(), [2, 1, 1, 1]);
}
