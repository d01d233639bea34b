//! Previews, test sends and forced re-sends never consume the owners' real delivery: each is
//! run on a generated export, then a real SMTP run to the loopback server shows every owner
//! still gets exactly one copy.

mod deliver_support;

use baton::config::Config;
use baton::deliver::DeliveryKey;
use baton::domain::{Period, ReportKind};
use baton::run::{run_report, Recipients, RunRequest, Trigger};
use baton::store::{DeliveryState, Store};
use deliver_support::*;
use mail_parser::{MessageParser, MimeHeaders};
use std::path::{Path, PathBuf};

const TESTER: &str = "tester@example.org";

fn request(period: &Period, recipients: Recipients, outbox: Option<PathBuf>) -> RunRequest {
    let dry_run = recipients.preview.is_some();
    RunRequest {
        report: ReportKind::Owners,
        period: period.clone(),
        trigger: Trigger::Manual,
        outbox,
        recipients,
        dry_run,
        pull: Default::default(),
        http: Default::default(),
    }
}

/// No ledger row for any owner of the period.
fn ledger_empty(store: &Store, period: &Period) {
    for o in OWNERS {
        let key = DeliveryKey::new("owners", period.label(), o);
        assert_eq!(
            store.delivery_state(&key).unwrap(),
            None,
            "{o} is in the ledger"
        );
    }
}

fn emls(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    v.sort();
    v
}

async fn real_run_sends_one_each(cfg: &Config, store: &Store, period: &Period, server: &Server) {
    let s = run_report(cfg, store, &request(period, Recipients::default(), None))
        .await
        .unwrap();
    assert_eq!(s.delivery.sent(), 4, "{}", s.delivery);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    for o in OWNERS {
        let key = DeliveryKey::new("owners", period.label(), o);
        let rec = store.delivery_state(&key).unwrap().unwrap();
        assert_eq!(rec.state, DeliveryState::Sent);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_send_to_an_outbox_does_not_consume_the_real_send() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let (cfg, period) = export_config(dir.path(), &server, 200);
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let outbox = dir.path().join("outbox");
    let test = Recipients {
        test_to: Some(TESTER.into()),
        ..Default::default()
    };
    let s = run_report(&cfg, &store, &request(&period, test, Some(outbox.clone())))
        .await
        .unwrap();
    assert_eq!(s.delivery.sent(), 4);
    // Every key of the test is a test key, to the tester.
    for (k, _) in &s.delivery.outcomes {
        assert!(k.report.starts_with("test:owners:"), "{k}");
        assert_eq!(k.recipient, TESTER);
    }
    let files = emls(&outbox);
    assert_eq!(files.len(), 4, "{files:?}");
    let mut ids = std::collections::BTreeSet::new();
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            msg.to().unwrap().first().unwrap().address().unwrap(),
            TESTER
        );
        let subject = msg.subject().unwrap();
        assert!(subject.starts_with("[test] Handoffs 2026-W46"), "{subject}");
        ids.insert(msg.message_id().unwrap().to_string());
    }
    assert_eq!(ids.len(), 4, "each owner's copy has its own Message-ID");
    ledger_empty(&store, &period);
    assert_eq!(server.kept(), 0);
    real_run_sends_one_each(&cfg, &store, &period, &server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_sends_over_smtp_go_to_the_tester_every_time_and_never_to_owners() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let (cfg, period) = export_config(dir.path(), &server, 200);
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    // One selected owner, by id.
    let test = || Recipients {
        only: vec!["enablement".into()],
        test_to: Some(TESTER.into()),
        ..Default::default()
    };
    let s = run_report(&cfg, &store, &request(&period, test(), None))
        .await
        .unwrap();
    assert_eq!(s.delivery.sent(), 1);
    assert_eq!(server.copies(TESTER).len(), 1);
    assert_eq!(server.per_owner(), [0, 0, 0, 0]);
    ledger_empty(&store, &period);
    real_run_sends_one_each(&cfg, &store, &period, &server).await;
    // A test after the real send still goes out (the ledger does not block it) and the
    // owners get nothing more.
    run_report(&cfg, &store, &request(&period, test(), None))
        .await
        .unwrap();
    assert_eq!(server.copies(TESTER).len(), 2);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    let subject = |raw: &[u8]| {
        MessageParser::default()
            .parse(raw)
            .unwrap()
            .subject()
            .unwrap()
            .to_string()
    };
    let copies = server.copies(TESTER);
    assert!(subject(&copies[1]).starts_with("[test] "));
    // The owner's own copy has no prefix.
    assert!(subject(&server.copies(OWNERS[1])[0]).starts_with("Handoffs "));
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The message shows each chart by `cid:` from a PNG part of one `multipart/related` with the
/// HTML, and the preview's HTML points at the same PNG written beside it.
fn charts_are_inline_and_beside_the_preview(eml: &Path) {
    let raw = std::fs::read(eml).unwrap();
    let msg = MessageParser::default().parse(&raw).unwrap();
    let html = msg.body_html(0).unwrap().into_owned();
    let cids: Vec<String> = html
        .split("src=\"cid:")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect();
    assert!(
        cids.iter().any(|c| c == "trend@baton"),
        "{}: no trend chart in {cids:?}",
        eml.display()
    );
    assert!(String::from_utf8_lossy(&raw).contains("multipart/related"));
    for cid in &cids {
        let part = msg
            .parts
            .iter()
            .find(|p| p.content_id() == Some(cid.as_str()))
            .unwrap_or_else(|| panic!("no part with Content-ID <{cid}>"));
        let ct = part.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("image", Some("png")));
        assert!(part.contents().starts_with(PNG_MAGIC), "{cid}");
    }
    let preview = std::fs::read_to_string(eml.with_extension("html")).unwrap();
    assert!(
        !preview.contains("cid:"),
        "the preview still points at cid:"
    );
    let dir = eml.parent().unwrap();
    let files: Vec<&str> = preview
        .split("<img src=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert_eq!(files.len(), cids.len());
    for f in files {
        let png = std::fs::read(dir.join(f)).unwrap();
        assert!(png.starts_with(PNG_MAGIC), "{f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_writes_files_sends_nothing_and_leaves_the_ledger_alone() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let (cfg, period) = export_config(dir.path(), &server, 200);
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let preview = dir.path().join("preview");
    let r = Recipients {
        preview: Some(preview.clone()),
        ..Default::default()
    };
    run_report(&cfg, &store, &request(&period, r, None))
        .await
        .unwrap();
    let files = emls(&preview);
    assert_eq!(files.len(), 4, "{files:?}");
    for f in &files {
        charts_are_inline_and_beside_the_preview(f);
    }
    assert_eq!(server.seen.lock().unwrap().connections, 0);
    ledger_empty(&store, &period);
    real_run_sends_one_each(&cfg, &store, &period, &server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_sends_a_delivered_period_again_with_the_same_message_id() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let (cfg, period) = export_config(dir.path(), &server, 200);
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    real_run_sends_one_each(&cfg, &store, &period, &server).await;
    let again = run_report(&cfg, &store, &request(&period, Recipients::default(), None))
        .await
        .unwrap();
    assert_eq!(again.delivery.already_delivered(), 4);
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    let forced = Recipients {
        only: vec!["SUPPORT-OPS@example.com".into()],
        force: true,
        ..Default::default()
    };
    let s = run_report(&cfg, &store, &request(&period, forced, None))
        .await
        .unwrap();
    assert_eq!(s.delivery.sent(), 1, "{}", s.delivery);
    assert_eq!(server.per_owner(), [2, 1, 1, 1]);
    let copies = server.copies(OWNERS[0]);
    assert_eq!(message_id_of(&copies[0]), message_id_of(&copies[1]));
}

fn baton(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("run")
        .args(args)
        .current_dir(dir)
        .env_remove("BATON_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn an_owner_that_matches_nothing_or_a_bad_test_address_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = baton(
        dir.path(),
        &["--period", "2026-W46", "--owner", "nobody@example.com"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("matches no owner"), "{err}");
    assert!(
        err.contains("support-ops@example.com"),
        "lists the owners: {err}"
    );
    let out = baton(
        dir.path(),
        &["--period", "2026-W46", "--to", "not an address"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not an email address"), "{err}");
    // Nothing was opened or written before the check.
    assert!(!dir.path().join("baton.db").exists());
}
