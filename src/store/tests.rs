use super::*;
use chrono::{TimeZone, Utc};

fn key(r: &str) -> DeliveryKey {
    DeliveryKey::new("owners", "2026-W46", r)
}

#[test]
fn creates_and_migrates_a_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/baton.db");
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as u32);
    let id = s
        .start_run(&NewRun {
            kind: RunKind::Manual,
            report: "owners".into(),
            period: None,
            schedule: None,
            scheduled_for: None,
        })
        .unwrap();
    drop(s);
    // Reopening does not re-run migration 1 (it would fail: CREATE TABLE runs exists) and
    // keeps the data.
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as u32);
    assert_eq!(s.run(id).unwrap().unwrap().state, RunState::Running);
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'x')",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("upgrade baton"));
}

#[test]
fn runs_are_logged_start_to_end() {
    let s = Store::open_in_memory().unwrap();
    let fire = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
    let a = s
        .start_run(&NewRun {
            kind: RunKind::Scheduled,
            report: "owners".into(),
            period: Some("2026-W46".into()),
            schedule: Some("weekly-owners".into()),
            scheduled_for: Some(fire),
        })
        .unwrap();
    let b = s
        .start_run(&NewRun {
            kind: RunKind::Manual,
            report: "owners".into(),
            period: None,
            schedule: None,
            scheduled_for: None,
        })
        .unwrap();
    assert_eq!(s.running_runs("owners").unwrap().len(), 2);
    s.finish_run(
        a,
        &RunOutcome::Succeeded {
            messages_sent: 4,
            messages_failed: 1,
            quarantined_rows: 3,
        },
    )
    .unwrap();
    s.set_run_period(b, "2026-W45").unwrap();
    s.finish_run(
        b,
        &RunOutcome::Failed {
            messages_sent: 0,
            messages_failed: 0,
            quarantined_rows: 0,
            error: "too many malformed rows".into(),
        },
    )
    .unwrap();
    let ra = s.run(a).unwrap().unwrap();
    assert_eq!(ra.state, RunState::Succeeded);
    assert_eq!(ra.kind, RunKind::Scheduled);
    assert_eq!(ra.scheduled_for, Some(fire));
    assert_eq!(
        (ra.messages_sent, ra.messages_failed, ra.quarantined_rows),
        (4, 1, 3)
    );
    assert!(ra.finished_at.unwrap() >= ra.started_at);
    let recent = s.recent_runs(10).unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].id, b, "newest first");
    assert_eq!(recent[0].error.as_deref(), Some("too many malformed rows"));
    assert_eq!(recent[0].period.as_deref(), Some("2026-W45"));
    assert_eq!(s.recent_runs(1).unwrap().len(), 1);
    assert!(s.running_runs("owners").unwrap().is_empty());
    assert!(matches!(
        s.finish_run(
            RunId(999),
            &RunOutcome::Succeeded {
                messages_sent: 0,
                messages_failed: 0,
                quarantined_rows: 0
            }
        ),
        Err(StoreError::NoSuchRun(999))
    ));
}

#[test]
fn stale_runs_are_failed() {
    let s = Store::open_in_memory().unwrap();
    let id = s
        .start_run(&NewRun {
            kind: RunKind::Trigger,
            report: "owners".into(),
            period: None,
            schedule: None,
            scheduled_for: None,
        })
        .unwrap();
    // A cutoff in the past leaves the fresh run alone; one in the future catches it.
    assert_eq!(
        s.fail_stale_runs(Utc::now() - chrono::Duration::hours(1), "stuck")
            .unwrap(),
        0
    );
    assert_eq!(
        s.fail_stale_runs(Utc::now() + chrono::Duration::seconds(1), "stuck past 2 h")
            .unwrap(),
        1
    );
    let r = s.run(id).unwrap().unwrap();
    assert_eq!(r.state, RunState::Failed);
    assert_eq!(r.error.as_deref(), Some("stuck past 2 h"));
}

fn terms() -> LeaseTerms {
    LeaseTerms {
        lease: std::time::Duration::from_secs(60),
        doubt_retry_after: std::time::Duration::from_secs(3600),
    }
}

fn new_run(s: &Store) -> i64 {
    s.start_run(&NewRun {
        kind: RunKind::Manual,
        report: "owners".into(),
        period: None,
        schedule: None,
        scheduled_for: None,
    })
    .unwrap()
    .0
}

fn granted(attempt: u32) -> Claim {
    Claim::Granted {
        attempt,
        doubt_retry: false,
    }
}

#[test]
fn ledger_moves_pending_failed_sent_and_never_back() {
    let s = Store::open_in_memory().unwrap();
    let run = new_run(&s);
    let k = key("Support-Ops@Example.com");
    assert_eq!(k.recipient, "support-ops@example.com");
    assert!(s.delivery_state(&k).unwrap().is_none());

    assert_eq!(s.claim(&k, "<m1@baton>", run, terms()).unwrap(), granted(1));
    assert_eq!(
        s.delivery_state(&k).unwrap().unwrap().state,
        DeliveryState::Sending
    );
    s.mark_failed(&k, "451 4.3.0 try later", false).unwrap();
    let r = s.delivery_state(&k).unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (DeliveryState::Pending, 1));
    assert_eq!(r.last_error.as_deref(), Some("451 4.3.0 try later"));

    assert_eq!(s.claim(&k, "<m1@baton>", run, terms()).unwrap(), granted(2));
    s.mark_failed(&k, "550 mailbox unavailable", true).unwrap();
    assert_eq!(
        s.delivery_state(&k).unwrap().unwrap().state,
        DeliveryState::FailedPermanent
    );

    // A later run tries a permanently failed key again, then it goes through.
    assert_eq!(s.claim(&k, "<m1@baton>", run, terms()).unwrap(), granted(3));
    s.mark_sent(&k).unwrap();
    let r = s.delivery_state(&k).unwrap().unwrap();
    assert_eq!(r.state, DeliveryState::Sent);
    assert_eq!(r.attempts, 3);
    assert!(r.last_error.is_none());
    assert!(r.sent_at.is_some());

    // Once sent: no go-ahead for another attempt, and a stray failure does not undo it.
    assert_eq!(
        s.claim(&k, "<m1@baton>", run, terms()).unwrap(),
        Claim::AlreadySent
    );
    s.mark_failed(&k, "late error", true).unwrap();
    let r = s.delivery_state(&k).unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (DeliveryState::Sent, 3));

    // Keys are per recipient and per period.
    let other = key("team-leads@example.com");
    assert_eq!(
        s.claim(&other, "<m2@baton>", run, terms()).unwrap(),
        granted(1)
    );
    let next_week = DeliveryKey::new("owners", "2026-W47", "support-ops@example.com");
    assert_eq!(
        s.claim(&next_week, "<m3@baton>", run, terms()).unwrap(),
        granted(1)
    );
    let listed = s.deliveries("owners", "2026-W46").unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|r| r.key.recipient.as_str())
            .collect::<Vec<_>>(),
        ["support-ops@example.com", "team-leads@example.com"]
    );
}

#[test]
fn a_live_claim_is_held_and_a_dead_one_is_taken_over() {
    let s = Store::open_in_memory().unwrap();
    let (a, b) = (new_run(&s), new_run(&s));
    let k = key("support-ops@example.com");
    assert_eq!(s.claim(&k, "<m@b>", a, terms()).unwrap(), granted(1));
    // Run a is alive and its lease holds: b leaves the message to it.
    assert_eq!(
        s.claim(&k, "<m@b>", b, terms()).unwrap(),
        Claim::Held { run: a }
    );
    // Run a dies before the data went out: found abandoned, its claim is free again.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let marked = s.mark_abandoned(std::time::Duration::ZERO).unwrap();
    assert!(marked.contains(&RunId(a)), "{marked:?}");
    assert_eq!(s.run(RunId(a)).unwrap().unwrap().state, RunState::Abandoned);
    let c = new_run(&s);
    assert_eq!(s.claim(&k, "<m@b>", c, terms()).unwrap(), granted(2));
}

#[test]
fn a_claim_whose_data_went_out_becomes_in_doubt_and_is_retried_once_after_the_delay() {
    let s = Store::open_in_memory().unwrap();
    let a = new_run(&s);
    let k = key("support-ops@example.com");
    assert_eq!(s.claim(&k, "<m@b>", a, terms()).unwrap(), granted(1));
    s.mark_data_started(&k, a).unwrap();
    // Killed before the answer: at the next start the claim becomes in doubt.
    std::thread::sleep(std::time::Duration::from_millis(5));
    s.mark_abandoned(std::time::Duration::ZERO).unwrap();
    let r = s.delivery_state(&k).unwrap().unwrap();
    assert_eq!(r.state, DeliveryState::InDoubt);
    let b = new_run(&s);
    // Too soon: not retried.
    assert_eq!(
        s.claim(&k, "<m@b>", b, terms()).unwrap(),
        Claim::InDoubt { retried: false }
    );
    // After the delay: retried once, then never again.
    let now = LeaseTerms {
        doubt_retry_after: std::time::Duration::ZERO,
        ..terms()
    };
    assert_eq!(
        s.claim(&k, "<m@b>", b, now).unwrap(),
        Claim::Granted {
            attempt: 2,
            doubt_retry: true
        }
    );
    s.mark_data_started(&k, b).unwrap();
    s.mark_in_doubt(&k, "no answer again").unwrap();
    assert_eq!(
        s.claim(&k, "<m@b>", b, now).unwrap(),
        Claim::InDoubt { retried: true }
    );
}

#[test]
fn two_processes_on_one_fresh_file_migrate_once_and_claim_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let k = key("support-ops@example.com");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (path, k, barrier) = (path.clone(), k.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let s = Store::open(&path).unwrap();
                let run = new_run(&s);
                s.claim(&k, "<m@b>", run, terms()).unwrap()
            })
        })
        .collect();
    let claims: Vec<Claim> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let granted = claims
        .iter()
        .filter(|c| matches!(c, Claim::Granted { .. }))
        .count();
    assert_eq!(granted, 1, "{claims:?}");
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as u32);
    let mode: String = s
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_write_waits_out_another_process_holding_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let s = Store::open(&path).unwrap();
    s.set_lock_waits(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(20),
    )
    .unwrap();
    let run = new_run(&s);
    let k = key("support-ops@example.com");
    s.claim(&k, "<m@b>", run, terms()).unwrap();
    // Another process holds the write lock for longer than one busy timeout.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(600));
        other.execute_batch("COMMIT").unwrap();
    });
    s.mark_sent(&k).unwrap();
    t.join().unwrap();
    assert_eq!(
        s.delivery_state(&k).unwrap().unwrap().state,
        DeliveryState::Sent
    );
}

#[test]
fn migration_2_keeps_the_rows_of_a_version_1_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);",
        )
        .unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "INSERT INTO schema_migrations VALUES (1, 'x');
             INSERT INTO runs (kind, report, started_at, state) VALUES ('manual', 'owners', '2026-11-16T09:00:00.000Z', 'succeeded');
             INSERT INTO deliveries (report, period, recipient, message_id, state, attempts, updated_at)
               VALUES ('owners', '2026-W46', 'support-ops@example.com', '<m@b>', 'sent', 1, 'x');",
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as u32);
    assert_eq!(s.recent_runs(5).unwrap().len(), 1);
    let r = s
        .delivery_state(&key("support-ops@example.com"))
        .unwrap()
        .unwrap();
    assert_eq!(r.state, DeliveryState::Sent);
}

#[test]
fn a_report_lease_is_refused_while_live_and_taken_over_once_expired() {
    use crate::store::{Acquired, FireStart, FireState, RunKind};
    let s = Store::open_in_memory().unwrap();
    let ttl = std::time::Duration::from_millis(300);
    assert!(matches!(
        s.acquire_lease("report:owners", "a", "http", ttl).unwrap(),
        Acquired::Granted { took_over: None }
    ));
    match s.acquire_lease("report:owners", "b", "http", ttl).unwrap() {
        Acquired::Held(l) => assert_eq!(l.holder, "a"),
        other => panic!("{other:?}"),
    }
    // A fire while the report is held: busy; once `a` stops renewing, `b` takes it.
    let at = chrono::Utc::now();
    assert!(matches!(
        s.begin_fire("tick", at, "owners", RunKind::Scheduled, "b", ttl)
            .unwrap(),
        FireStart::Busy(_)
    ));
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(matches!(
        s.begin_fire("tick", at, "owners", RunKind::Scheduled, "b", ttl)
            .unwrap(),
        FireStart::Begun { .. }
    ));
    assert!(!s.renew_lease("report:owners", "a", ttl).unwrap());
    s.finish_fire("tick", at, FireState::Done, None, None)
        .unwrap();
    s.release_lease("report:owners", "b").unwrap();
    // Dealt with: never begun again.
    assert!(matches!(
        s.begin_fire("tick", at, "owners", RunKind::CatchUp, "c", ttl).unwrap(),
        FireStart::Handled(f) if f.state == FireState::Done
    ));
}
