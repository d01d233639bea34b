use super::*;
use crate::domain::{Owner, OwnerId};
use crate::report::{Attachment, InlineImage, Rendered};
use lettre::message::Mailbox;

fn rendered() -> Rendered {
    Rendered {
        subject: "Handoffs 2026-W46: routing +3.1 pp (your branch)".into(),
        html: "<p>12.0%</p>".into(),
        text: "12.0%\n".into(),
        attachments: vec![Attachment {
            filename: "segments.csv".into(),
            content_type: "text/csv; charset=utf-8".into(),
            bytes: b"a,b\n1,2\n".to_vec(),
        }],
        inline_images: vec![],
    }
}

fn owner() -> Owner {
    Owner {
        id: OwnerId::from_name("Support Operations"),
        name: "Support Operations".into(),
        email: "support-ops@example.com".into(),
    }
}

fn from() -> Mailbox {
    "baton <reports@example.com>".parse().unwrap()
}

fn key() -> DeliveryKey {
    DeliveryKey::new("owners", "2026-W46", "support-ops@example.com")
}

#[test]
fn mime_tree_is_mixed_alternative_then_attachments() {
    let m = build_message(&from(), &owner(), &rendered(), &key(), &[]).unwrap();
    let raw = String::from_utf8(m.formatted()).unwrap();
    let (mixed, alt, plain, html, csv) = (
        raw.find("multipart/mixed").unwrap(),
        raw.find("multipart/alternative").unwrap(),
        raw.find("text/plain").unwrap(),
        raw.find("text/html").unwrap(),
        raw.find("filename=\"segments.csv\"").unwrap(),
    );
    assert!(mixed < alt && alt < plain && plain < html && html < csv);
    assert!(
        !raw.contains("multipart/related"),
        "no images, no related part"
    );
    assert!(raw.contains(&format!("Message-ID: {}", message_id(&key(), &from()))));
}

#[test]
fn inline_images_share_a_related_part_with_the_html() {
    let mut r = rendered();
    r.html = r#"<img src="cid:trend@baton" width="300" height="150">"#.into();
    r.inline_images = vec![InlineImage {
        content_id: "trend@baton".into(),
        png: vec![0x89, b'P', b'N', b'G'],
    }];
    let extra = Attachment {
        filename: "drivers.csv".into(),
        content_type: "text/csv".into(),
        bytes: b"x\n".to_vec(),
    };
    let m = build_message(&from(), &owner(), &r, &key(), &[extra]).unwrap();
    let raw = String::from_utf8(m.formatted()).unwrap();
    let related = raw.find("multipart/related").unwrap();
    let alt = raw.find("multipart/alternative").unwrap();
    let cid = raw.find("Content-ID: <trend@baton>").unwrap();
    assert!(related < alt && alt < cid);
    assert!(raw.contains("Content-Disposition: inline"));
    assert!(raw.find("filename=\"drivers.csv\"").unwrap() > cid);
}

#[test]
fn message_ids_are_stable_safe_and_distinct() {
    let a = message_id(&key(), &from());
    assert_eq!(a, message_id(&key(), &from()));
    assert!(a.starts_with("<owners.2026-W46.support-ops.") && a.ends_with("@example.com>"));
    // A date-range period and an odd local part still give a valid dot-atom id.
    let odd = DeliveryKey::new(
        "owners",
        "2026-11-09..2026-11-16",
        "o'brien+ops@example.com",
    );
    let b = message_id(&odd, &from());
    let inner = &b[1..b.find('@').unwrap()];
    assert!(!inner.contains(".."), "{b}");
    assert!(inner
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
    // Recipients whose safe forms collide still get different ids (the hash differs).
    let c = message_id(
        &DeliveryKey::new("owners", "2026-W46", "o-brien-ops@example.com"),
        &from(),
    );
    let d = message_id(
        &DeliveryKey::new("owners", "2026-W46", "o.brien.ops@example.com"),
        &from(),
    );
    assert_ne!(c, d);
    assert_ne!(
        a,
        message_id(
            &DeliveryKey::new("owners", "2026-W47", "support-ops@example.com"),
            &from()
        )
    );
}

#[test]
fn a_bad_recipient_address_is_a_clear_error() {
    let mut o = owner();
    o.email = "not an address".into();
    let err = build_message(&from(), &o, &rendered(), &key(), &[]).unwrap_err();
    assert!(
        err.to_string().contains("`not an address` is not valid"),
        "{err}"
    );
}

#[test]
fn backoff_doubles_with_jitter_and_is_capped() {
    let p = DeliveryPolicy {
        max_attempts: 5,
        max_per_minute: 0,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(1000),
        ..DeliveryPolicy::default()
    };
    for _ in 0..50 {
        let first = p.backoff(1);
        let third = p.backoff(3);
        // Attempt 1 waits 100 ms x [0.5, 1.5); attempt 3 waits 400 ms x [0.5, 1.5).
        assert!(first >= Duration::from_millis(50) && first < Duration::from_millis(150));
        assert!(third >= Duration::from_millis(200) && third < Duration::from_millis(600));
        assert!(p.backoff(10) <= Duration::from_millis(1000));
    }
}

#[tokio::test(start_paused = true)]
async fn the_rate_cap_holds_the_next_send_for_the_rest_of_the_minute() {
    let mut cap = RateCap {
        max: 2,
        sent: VecDeque::new(),
    };
    let t0 = tokio::time::Instant::now();
    cap.wait().await;
    cap.wait().await;
    assert!(t0.elapsed() < Duration::from_secs(1));
    cap.wait().await;
    assert!(
        t0.elapsed() >= Duration::from_secs(59),
        "{:?}",
        t0.elapsed()
    );
}

/// A transport that answers from a script, counting what it was asked to send.
struct Scripted {
    answers: std::sync::Mutex<VecDeque<Result<(), SendError>>>,
    sends: std::sync::atomic::AtomicUsize,
}

impl Scripted {
    fn new(answers: Vec<Result<(), SendError>>) -> Scripted {
        Scripted {
            answers: std::sync::Mutex::new(answers.into()),
            sends: Default::default(),
        }
    }
    fn sends(&self) -> usize {
        self.sends.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Transport for Scripted {
    fn describe(&self) -> String {
        "scripted".into()
    }
    async fn send(&self, _: &Outgoing, gate: &dyn DataGate) -> Result<(), SendError> {
        self.sends.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        gate.data_starting().map_err(SendError::Transient)?;
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }
}

fn outgoing(to: &str) -> Outgoing {
    let mut o = owner();
    o.email = to.into();
    let k = DeliveryKey::new("owners", "2026-W46", to);
    Outgoing::new(&from(), &o, &rendered(), k, &[]).unwrap()
}

fn quick() -> DeliveryPolicy {
    DeliveryPolicy {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        ..DeliveryPolicy::default()
    }
}

#[tokio::test]
async fn a_setup_error_stops_at_once_and_fails_the_run() {
    let store = Store::open_in_memory().unwrap();
    let t = Scripted::new(vec![Err(SendError::Setup(
        "535 authentication failed".into(),
    ))]);
    let msgs = [outgoing("a@example.com"), outgoing("b@example.com")];
    let r = deliver(&store, &t, &msgs, &quick()).await.unwrap();
    assert_eq!(t.sends(), 1, "no try per recipient");
    assert_eq!(r.outcome("b@example.com"), Some(&Outcome::NotAttempted));
    let run = &store.recent_runs(1).unwrap()[0];
    assert_eq!(run.state, crate::store::RunState::Failed);
    assert!(run.error.as_deref().unwrap().contains("535"), "{run:?}");
}

#[tokio::test]
async fn in_doubt_is_not_retried_in_the_run_and_the_run_is_partial() {
    let store = Store::open_in_memory().unwrap();
    let t = Scripted::new(vec![Err(SendError::InDoubt("no answer".into())), Ok(())]);
    let msgs = [outgoing("a@example.com"), outgoing("b@example.com")];
    let r = deliver(&store, &t, &msgs, &quick()).await.unwrap();
    assert_eq!(t.sends(), 2);
    assert!(matches!(
        r.outcome("a@example.com"),
        Some(Outcome::InDoubt { retried: false, .. })
    ));
    assert_eq!((r.sent(), r.in_doubt(), r.failed()), (1, 1, 1));
    let run = &store.recent_runs(1).unwrap()[0];
    assert_eq!(run.state, crate::store::RunState::Partial);
    assert_eq!((run.messages_sent, run.messages_failed), (1, 1));
    assert!(run
        .error
        .as_deref()
        .unwrap()
        .contains("a@example.com: in doubt"));
}
