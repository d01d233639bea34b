//! The fault table of issue 13, each row against a real SMTP server on loopback that
//! misbehaves on purpose (tests/deliver_support), four owners per run, then a rerun. "Two
//! processes" are two stores on one SQLite file in two threads with runtimes of their own;
//! "kill -9" is the delivery future dropped mid-send (nothing after that point runs: no
//! answer read, no ledger write, no heartbeat), which leaves the store exactly as a killed
//! process does. After every scenario each owner has exactly one message, or the run says
//! which are in doubt (and the one retry of those carries the same Message-ID).

mod deliver_support;

use baton::config::{SmtpConfig, SmtpTls};
use baton::deliver::{deliver, DeliveryReport, Outcome, SmtpSender};
use baton::store::{DeliveryState, RunState, Store};
use deliver_support::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    (dir, path)
}

/// One run: a fresh store on `db` (a new process), all four owners.
async fn run(db: &Path, cfg: &SmtpConfig) -> DeliveryReport {
    let store = Store::open(db).unwrap();
    let sender = SmtpSender::from_config(cfg).unwrap();
    deliver(&store, &sender, &messages(), &policy())
        .await
        .unwrap()
}

fn last_run(db: &Path) -> baton::store::RunRecord {
    Store::open(db).unwrap().recent_runs(1).unwrap().remove(0)
}

fn in_doubt(r: &DeliveryReport, who: &str) -> bool {
    matches!(r.outcome(who), Some(Outcome::InDoubt { .. }))
}

/// The copies of `who` are at most two, and all carry one Message-ID.
fn same_message_id(server: &Server, who: &str) -> usize {
    let copies = server.copies(who);
    let ids: std::collections::BTreeSet<String> = copies.iter().map(|c| message_id_of(c)).collect();
    assert_eq!(ids.len(), 1, "one Message-ID for every copy: {ids:?}");
    assert!(copies.len() <= 2, "at most one extra copy");
    copies.len()
}

/// Runs `deliver` until `until` says the moment has come, then drops it: a kill -9.
async fn kill_when(db: &Path, cfg: &SmtpConfig, until: impl Fn() -> bool) {
    let store = Store::open(db).unwrap();
    let sender = SmtpSender::from_config(cfg).unwrap();
    let msgs = messages();
    let policy = policy();
    let work = deliver(&store, &sender, &msgs, &policy);
    let moment = async {
        while !until() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        r = work => panic!("the run ended before the kill: {r:?}"),
        _ = moment => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_at_once_send_each_owner_one_message() {
    let server = Server::start(Script {
        after_dot: (0..4)
            .map(|_| AfterDot::Slow(Duration::from_millis(300)))
            .collect(),
        ..Default::default()
    });
    let (_dir, path) = db();
    drop(Store::open(&path).unwrap());
    let cfg = smtp(server.addr);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let procs: Vec<_> = (0..2)
        .map(|_| {
            let (path, cfg, barrier) = (path.clone(), cfg.clone(), barrier.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                barrier.wait();
                rt.block_on(run(&path, &cfg))
            })
        })
        .collect();
    let reports: Vec<DeliveryReport> = procs.into_iter().map(|p| p.join().unwrap()).collect();
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    assert_eq!(reports[0].sent() + reports[1].sent(), 4, "{reports:?}");
    for r in &reports {
        assert_eq!(r.failed(), 0, "{r}");
    }
    // A rerun sends nothing.
    let again = run(&path, &cfg).await;
    assert_eq!(again.already_delivered(), 4);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn a_server_slower_than_the_command_timeout_after_the_dot_gets_the_data_timeout() {
    // 1.2 s after the dot: past the 1 s command timeout, within the 3 s data timeout.
    let server = Server::start(Script {
        after_dot: (0..2)
            .map(|_| AfterDot::Slow(Duration::from_millis(1200)))
            .collect(),
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    let first = run(&path, &cfg).await;
    assert_eq!(first.sent(), 4, "{first}");
    let again = run(&path, &cfg).await;
    assert_eq!(again.already_delivered(), 4);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    assert_eq!(last_run(&path).state, RunState::Succeeded);
}

#[tokio::test]
async fn a_server_silent_past_the_data_timeout_leaves_one_message_in_doubt_retried_once() {
    let server = Server::start(Script {
        after_dot: [AfterDot::Slow(Duration::from_secs(4))].into(),
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    let first = run(&path, &cfg).await;
    assert!(in_doubt(&first, OWNERS[0]), "{first:?}");
    assert_eq!(first.sent(), 3);
    let rec = last_run(&path);
    assert_eq!(rec.state, RunState::Partial);
    assert!(rec
        .error
        .unwrap()
        .contains("support-ops@example.com: in doubt"));
    // The rerun after the delay retries it once, with the same Message-ID.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let second = run(&path, &cfg).await;
    assert_eq!(second.sent(), 1, "{second}");
    assert_eq!(same_message_id(&server, OWNERS[0]), 2);
    assert_eq!(&server.per_owner()[1..], [1, 1, 1]);
    // And never again.
    let third = run(&path, &cfg).await;
    assert_eq!(third.already_delivered(), 4);
}

#[tokio::test]
async fn a_connection_dropped_after_the_dot_is_in_doubt_not_retried_blindly() {
    let server = Server::start(Script {
        after_dot: [AfterDot::Drop].into(),
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    let first = run(&path, &cfg).await;
    assert!(in_doubt(&first, OWNERS[0]), "{first:?}");
    assert_eq!(server.per_owner(), [1, 1, 1, 1], "no retry within the run");
    // A rerun before the delay does not touch it.
    let early = run(&path, &cfg).await;
    assert!(in_doubt(&early, OWNERS[0]));
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    // After the delay: the one retry, same Message-ID (the documented SMTP case).
    tokio::time::sleep(Duration::from_millis(350)).await;
    let later = run(&path, &cfg).await;
    assert_eq!(later.sent(), 1);
    assert_eq!(same_message_id(&server, OWNERS[0]), 2);
}

#[tokio::test]
async fn kill_after_the_dot_before_the_answer_then_rerun() {
    let server = Server::start(Script {
        after_dot: [AfterDot::Hang].into(),
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    kill_when(&path, &cfg, || server.kept() == 1).await;
    let killed = last_run(&path);
    assert_eq!(killed.state, RunState::Running);
    // The next start, once the killed run is silent for `abandoned_after`.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rerun = run(&path, &cfg).await;
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.run(killed.id).unwrap().unwrap().state,
        RunState::Abandoned
    );
    assert!(in_doubt(&rerun, OWNERS[0]), "{rerun:?}");
    assert_eq!(rerun.sent(), 3);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    // Its one retry, after the delay: at most one extra copy, same Message-ID.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let later = run(&path, &cfg).await;
    assert_eq!(later.sent(), 1);
    assert_eq!(same_message_id(&server, OWNERS[0]), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_locked_by_another_process_while_a_send_is_answered() {
    let (_dir, path) = db();
    drop(Store::open(&path).unwrap());
    let lock_path = path.clone();
    let locked_once = std::sync::atomic::AtomicBool::new(false);
    let server = Server::start(Script {
        // As the server keeps the first message, another process takes the write lock and
        // holds it for 2 s: the 250 arrives while the store is locked.
        on_kept: Some(Box::new(move |_| {
            if locked_once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let other = rusqlite::Connection::open(&lock_path).unwrap();
            other.execute_batch("BEGIN IMMEDIATE").unwrap();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(2));
                other.execute_batch("COMMIT").unwrap();
            });
        })),
        ..Default::default()
    });
    let cfg = smtp(server.addr);
    let store = Store::open(&path).unwrap();
    // Per statement 200 ms, then retries for 20 s: the lock outlasts many busy timeouts.
    store
        .set_lock_waits(Duration::from_millis(200), Duration::from_secs(20))
        .unwrap();
    let sender = SmtpSender::from_config(&cfg).unwrap();
    let t = Instant::now();
    let first = deliver(&store, &sender, &messages(), &policy())
        .await
        .unwrap();
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "it waited out the lock"
    );
    assert_eq!(first.sent(), 4, "{first}");
    let again = run(&path, &cfg).await;
    assert_eq!(again.already_delivered(), 4);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn a_421_greeting_is_retried() {
    let server = Server::start(Script {
        greet_421: 1,
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    let first = run(&path, &cfg).await;
    assert!(matches!(
        first.outcome(OWNERS[0]),
        Some(Outcome::Sent { attempts: 2 })
    ));
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn four_421s_defer_one_message_to_the_rerun() {
    let server = Server::start(Script {
        greet_421: 4,
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    let first = run(&path, &cfg).await;
    assert!(matches!(
        first.outcome(OWNERS[0]),
        Some(Outcome::Deferred { .. })
    ));
    assert_eq!(first.sent(), 3);
    let rec = last_run(&path);
    assert_eq!(
        (rec.state, rec.messages_sent, rec.messages_failed),
        (RunState::Partial, 3, 1)
    );
    let again = run(&path, &cfg).await;
    assert_eq!(again.sent(), 1);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn a_drop_in_the_middle_of_the_data_is_retried_once_and_delivered_once() {
    let server = Server::start(Script {
        drop_mid_data: 1,
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    let first = run(&path, &cfg).await;
    // The client cannot tell a drop before the dot from one after it: in doubt.
    assert!(in_doubt(&first, OWNERS[0]), "{first:?}");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let again = run(&path, &cfg).await;
    assert_eq!(again.sent(), 1);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn connection_refused_fails_the_run_with_true_counts_and_a_rerun_delivers() {
    let (_dir, path) = db();
    let first = run(&path, &smtp(refused_addr())).await;
    assert_eq!((first.sent(), first.failed()), (0, 4), "{first}");
    let rec = last_run(&path);
    assert_eq!(
        (rec.state, rec.messages_sent, rec.messages_failed),
        (RunState::Failed, 0, 4)
    );
    assert!(rec.error.unwrap().contains("deferred to the next run"));
    let server = Server::start(Script::default());
    let again = run(&path, &smtp(server.addr)).await;
    assert_eq!(again.sent(), 4);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn a_550_for_one_recipient_is_a_partial_run() {
    let server = Server::start(Script {
        refuse: [OWNERS[1].to_string()].into(),
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    let first = run(&path, &cfg).await;
    assert_eq!((first.sent(), first.failed()), (3, 1));
    let rec = last_run(&path);
    assert_eq!(
        (rec.state, rec.messages_sent, rec.messages_failed),
        (RunState::Partial, 3, 1)
    );
    let error = rec.error.unwrap();
    assert!(
        error.contains("enablement@example.com: refused") && error.contains("550"),
        "{error}"
    );
    assert_eq!(server.per_owner(), [1, 0, 1, 1]);
    let store = Store::open(&path).unwrap();
    let k = baton::deliver::DeliveryKey::new("owners", "2026-W46", OWNERS[1]);
    assert_eq!(
        store.delivery_state(&k).unwrap().unwrap().state,
        DeliveryState::FailedPermanent
    );
}

#[tokio::test]
async fn kill_between_two_sends_then_rerun() {
    let server = Server::start(Script {
        // The second connection's greeting is held: the run is killed while it waits.
        greet_delay: [Duration::ZERO, Duration::from_secs(30)].into(),
        ..Default::default()
    });
    let (_dir, path) = db();
    let cfg = smtp(server.addr);
    let seen = server.seen.clone();
    kill_when(&path, &cfg, || seen.lock().unwrap().connections == 2).await;
    assert_eq!(server.per_owner(), [1, 0, 0, 0]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rerun = run(&path, &cfg).await;
    assert_eq!((rerun.sent(), rerun.already_delivered()), (3, 1), "{rerun}");
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn a_535_echoing_the_password_stops_at_once_and_leaks_nothing() {
    let server = Server::start(Script {
        auth_535_echo: true,
        ..Default::default()
    });
    let secret = "pw-535-echo-Zq8!never-print";
    let var = "BATON_TEST_SMTP_PASSWORD_535";
    std::env::set_var(var, secret);
    let mut cfg = smtp(server.addr);
    cfg.user = Some("reports@example.com".into());
    cfg.password_env = Some(var.into());
    let (_dir, path) = db();
    let report = run(&path, &cfg).await;
    let stopped = report.stopped.clone().expect("a 535 stops delivery");
    assert!(
        stopped.contains("535") && stopped.contains("smtp.password_env"),
        "{stopped}"
    );
    assert_eq!(
        server.seen.lock().unwrap().auth_attempts,
        1,
        "no login per recipient"
    );
    assert_eq!(report.outcome(OWNERS[3]), Some(&Outcome::NotAttempted));
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let plain = b64(&format!("\0reports@example.com\0{secret}"));
    let rec = last_run(&path);
    assert_eq!(rec.state, RunState::Failed);
    let store = Store::open(&path).unwrap();
    let ledger = format!("{:?}", store.deliveries("owners", "2026-W46").unwrap());
    for text in [format!("{report:?}"), rec.error.unwrap(), ledger] {
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains(&plain), "{text}");
        assert!(!text.contains("never-print"), "{text}");
    }
    assert_eq!(server.kept(), 0);
}

#[tokio::test]
async fn a_tls_failure_stops_at_once_and_fails_the_run() {
    let server = Server::start(Script::default());
    let mut cfg = smtp(server.addr);
    cfg.host = "localhost".into();
    cfg.tls = SmtpTls::Implicit;
    let (_dir, path) = db();
    let report = run(&path, &cfg).await;
    let stopped = report.stopped.clone().expect("stopped");
    assert!(
        stopped.contains("TLS failed") && stopped.contains("tls = \"starttls\""),
        "{stopped}"
    );
    assert_eq!(server.seen.lock().unwrap().connections, 1);
    assert_eq!(last_run(&path).state, RunState::Failed);
}
