//! Delivery against a real SMTP server on loopback (mailin-embedded), parsed back with
//! mail-parser; and the outbox. Every message goes through a real ledger (SQLite).

use baton::config::{Config, SmtpConfig, SmtpTls};
use baton::deliver::{
    deliver, message_id, DeliveryKey, DeliveryPolicy, Outbox, Outcome, Outgoing, SmtpSender,
};
use baton::domain::{Cause, Period};
use baton::metrics::{CauseMeasures, Measures, MetricsReport, Overall, Segment, TrendPoint};
use baton::report::{owner_views_at, Renderer};
use baton::store::{DeliveryState, Store};
use chrono::{TimeZone, Utc};
use lettre::message::Mailbox;
use mail_parser::{MessageParser, MimeHeaders};
use mailin_embedded::{Handler, Response, Server, SslConfig};
use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// A real SMTP server on 127.0.0.1:<free port>.

#[derive(Default)]
struct ServerState {
    /// (envelope recipients, raw message) of every accepted message.
    received: Vec<(Vec<String>, Vec<u8>)>,
    /// Recipient -> permanent refusal at RCPT.
    refuse: HashMap<String, u16>,
    /// How many RCPT commands to answer `451` before accepting (greylisting does this; a
    /// 451 at the end of DATA would leave mailin waiting for more data).
    transient_left: usize,
    /// RCPT commands seen: one per attempt.
    rcpts_seen: usize,
}

#[derive(Clone)]
struct TestHandler {
    state: Arc<Mutex<ServerState>>,
    rcpts: Vec<String>,
    buf: Vec<u8>,
}

fn bare(addr: &str) -> String {
    addr.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_ascii_lowercase()
}

impl Handler for TestHandler {
    fn rcpt(&mut self, to: &str) -> Response {
        let to = bare(to);
        let mut s = self.state.lock().unwrap();
        s.rcpts_seen += 1;
        if let Some(code) = s.refuse.get(&to) {
            return Response::custom(*code, "5.1.1 Mailbox unavailable".into());
        }
        if s.transient_left > 0 {
            s.transient_left -= 1;
            return Response::custom(451, "4.3.0 Try again later".into());
        }
        self.rcpts.push(to);
        mailin_embedded::response::OK
    }
    fn data_start(&mut self, _: &str, _: &str, _: bool, _: &[String]) -> Response {
        self.buf.clear();
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let mut s = self.state.lock().unwrap();
        s.received.push((
            std::mem::take(&mut self.rcpts),
            std::mem::take(&mut self.buf),
        ));
        mailin_embedded::response::OK
    }
}

fn start_server(state: ServerState) -> (SocketAddr, Arc<Mutex<ServerState>>) {
    let state = Arc::new(Mutex::new(state));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server = Server::new(TestHandler {
        state: state.clone(),
        rcpts: vec![],
        buf: vec![],
    });
    server
        .with_name("smtp.test")
        .with_ssl(SslConfig::None)
        .unwrap()
        .with_tcp_listener(listener);
    // The server runs until the test process ends (mailin has no shutdown).
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (addr, state)
}

fn smtp(addr: SocketAddr) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: addr.port(),
        tls: SmtpTls::None,
        user: None,
        password_env: None,
        password_file: None,
        from: "baton <reports@example.com>".parse().unwrap(),
        timeout_secs: 5,
        data_timeout_secs: 10,
    }
}

fn fast_policy(max_attempts: u32) -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts,
        max_per_minute: 30,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        ..DeliveryPolicy::default()
    }
}

// ---------------------------------------------------------------------------------------
// A hand-built week. Now: 200 resolved, first-handoff causes routing 24, skill 10,
// escalation 8, channel 6. Before: 180 resolved, routing 16, skill 12, escalation 9,
// channel 3. By hand: routing 24/200 = 12.0% vs 16/180 = 8.89% -> +3.1 pp;
// skill 5.0% vs 6.67% -> -1.7 pp; escalation 4.0% vs 5.0% -> -1.0 pp;
// channel 3.0% vs 1.67% -> +1.3 pp.

fn measures(n: i64, firsts: [i64; 4]) -> Measures {
    let by_cause: BTreeMap<Cause, CauseMeasures> = Cause::ALL
        .into_iter()
        .zip(firsts)
        .map(|(c, k)| {
            (
                c,
                CauseMeasures {
                    handoffs: k,
                    rate: Some(k as f64 / n as f64),
                    per_conversation: Some(k as f64 / n as f64),
                    conversations: k,
                },
            )
        })
        .collect();
    let with: i64 = firsts.iter().sum();
    Measures {
        conversations: n,
        ticket_volume: n,
        handoff_rate: Some(with as f64 / n as f64),
        handoffs: with,
        handoffs_per_conversation: Some(with as f64 / n as f64),
        by_cause,
        ..Measures::default()
    }
}

fn week() -> (Config, MetricsReport) {
    let cfg = Config::embedded().unwrap();
    let p = Period::iso_week(2026, 46, cfg.tz()).unwrap();
    let now = measures(200, [24, 10, 8, 6]);
    let before = measures(180, [16, 12, 9, 3]);
    let m = MetricsReport {
        schema_version: baton::metrics::METRICS_SCHEMA_VERSION,
        period: p.to_json(),
        previous_period: p.previous().to_json(),
        overall: Overall {
            measures: now.clone(),
            backlog: 5,
            quarantined_rows: 0,
        },
        previous: before.clone(),
        segments: BTreeMap::from([(
            "team".to_string(),
            vec![Segment {
                value: "Billing".into(),
                measures: now.clone(),
                previous: before,
            }],
        )]),
        trend: vec![TrendPoint {
            period: p.label(),
            conversations: 200,
            handoff_rate: now.handoff_rate,
            fcr_rate: None,
            by_cause: Cause::ALL
                .into_iter()
                .map(|c| (c, now.by_cause[&c].rate))
                .collect(),
        }],
        quarantine: BTreeMap::new(),
    };
    (cfg, m)
}

fn from() -> Mailbox {
    "baton <reports@example.com>".parse().unwrap()
}

/// One message per owner of the embedded tree, in tree order.
fn messages() -> Vec<Outgoing> {
    let (cfg, m) = week();
    let at = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
    let renderer = Renderer::new();
    owner_views_at(&cfg, &m, at)
        .iter()
        .map(|v| {
            let r = renderer.render(v).unwrap();
            let key = DeliveryKey::new(
                baton::domain::ReportKind::Owners.as_str(),
                &m.period.label,
                &v.owner.email,
            );
            Outgoing::new(&from(), &v.owner, &r, key, &[]).unwrap()
        })
        .collect()
}

/// What each owner must read: (address, subject, own rate now, change).
// Subjects as tests/report_render.rs works them out: every change of this week is within
// noise (Newcombe intervals include zero), so no subject claims a move.
const EXPECTED: [(&str, &str, &str, &str); 4] = [
    (
        "support-ops@example.com",
        "Handoffs 2026-W46: no significant change (routing 12.0%, +3.1 pp within normal variation)",
        "12.0%",
        "+3.1 pp",
    ),
    (
        "enablement@example.com",
        "Handoffs 2026-W46: no significant change (skill 5.0%, -1.7 pp within normal variation)",
        "5.0%",
        "-1.7 pp",
    ),
    (
        "team-leads@example.com",
        "Handoffs 2026-W46: no significant change (escalation 4.0%, -1.0 pp within normal variation)",
        "4.0%",
        "-1.0 pp",
    ),
    (
        "channel-ops@example.com",
        "Handoffs 2026-W46: no significant change (channel 3.0%, +1.3 pp within normal variation)",
        "3.0%",
        "+1.3 pp",
    ),
];

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn one_message_per_owner_arrives_whole() {
    let (addr, state) = start_server(ServerState::default());
    let store = Store::open_in_memory().unwrap();
    let sender = SmtpSender::from_config(&smtp(addr)).unwrap();
    let msgs = messages();
    let report = deliver(&store, &sender, &msgs, &fast_policy(3))
        .await
        .unwrap();
    assert_eq!(report.sent(), 4, "{report}");
    assert!(report.stopped.is_none());

    let received = state.lock().unwrap().received.clone();
    assert_eq!(received.len(), 4);
    for (addr, subject, rate, change) in EXPECTED {
        let (_, raw) = received
            .iter()
            .find(|(rcpt, _)| rcpt == &vec![addr.to_string()])
            .unwrap_or_else(|| panic!("nothing received for {addr}"));
        let mail = MessageParser::default().parse(raw).unwrap();
        assert_eq!(mail.subject(), Some(subject));
        assert_eq!(
            mail.to().unwrap().first().unwrap().address(),
            Some(addr),
            "header To matches the envelope"
        );

        // Message-ID: from the key alone, so the same on every build and every rerun.
        let key = DeliveryKey::new(baton::domain::ReportKind::Owners.as_str(), "2026-W46", addr);
        let expected_id = message_id(&key, &from());
        assert_eq!(format!("<{}>", mail.message_id().unwrap()), expected_id);
        assert!(expected_id.starts_with("<owners.2026-W46."));
        assert!(expected_id.ends_with("@example.com>"));
        assert_eq!(expected_id, message_id(&key, &from()));

        // Both alternatives are real parts (mail-parser would otherwise convert one from
        // the other), and the CSV is attached.
        assert_eq!(mail.text_body.len(), 1);
        assert_eq!(mail.html_body.len(), 1);
        let text_part = mail.part(mail.text_body[0]).unwrap();
        let html_part = mail.part(mail.html_body[0]).unwrap();
        assert_eq!(text_part.content_type().unwrap().subtype(), Some("plain"));
        assert_eq!(html_part.content_type().unwrap().subtype(), Some("html"));
        let text = mail.body_text(0).unwrap();
        let html = mail.body_html(0).unwrap();
        for body in [&text, &html] {
            assert!(body.contains(rate), "{addr}: {rate} missing");
            assert!(body.contains(change), "{addr}: {change} missing");
        }
        let attachments: Vec<_> = mail.attachments().collect();
        assert_eq!(attachments.len(), 1);
        let owner = &msgs.iter().find(|m| m.key.recipient == addr).unwrap().owner;
        assert_eq!(
            attachments[0].attachment_name(),
            Some(format!("segments-2026-W46-{owner}.csv").as_str())
        );
        let csv = String::from_utf8(attachments[0].contents().to_vec()).unwrap();
        assert!(csv.starts_with("dimension,segment,cause,rate,rate_before,change_pp"));
        assert!(csv.contains("team,Billing,"), "{csv}");

        let r = store.delivery_state(&key).unwrap().unwrap();
        assert_eq!((r.state, r.attempts), (DeliveryState::Sent, 1));
        assert_eq!(r.message_id, expected_id);
    }
}

#[tokio::test]
async fn a_451_is_retried_and_delivered_exactly_once() {
    let (addr, state) = start_server(ServerState {
        transient_left: 1,
        ..Default::default()
    });
    let store = Store::open_in_memory().unwrap();
    let sender = SmtpSender::from_config(&smtp(addr)).unwrap();
    let msgs = messages();
    let one = &msgs[..1];
    let report = deliver(&store, &sender, one, &fast_policy(3))
        .await
        .unwrap();
    assert_eq!(
        report.outcome("support-ops@example.com"),
        Some(&Outcome::Sent { attempts: 2 })
    );
    let s = state.lock().unwrap();
    assert_eq!(s.rcpts_seen, 2, "one refused, one accepted");
    assert_eq!(s.received.len(), 1, "delivered exactly once");
    let r = store.delivery_state(&one[0].key).unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (DeliveryState::Sent, 2));
}

#[tokio::test]
async fn a_550_fails_one_recipient_and_the_others_still_go() {
    let (addr, state) = start_server(ServerState {
        refuse: HashMap::from([("enablement@example.com".to_string(), 550)]),
        ..Default::default()
    });
    let store = Store::open_in_memory().unwrap();
    let sender = SmtpSender::from_config(&smtp(addr)).unwrap();
    let msgs = messages();
    let report = deliver(&store, &sender, &msgs, &fast_policy(3))
        .await
        .unwrap();
    assert_eq!((report.sent(), report.failed()), (3, 1), "{report}");
    assert!(matches!(
        report.outcome("enablement@example.com"),
        Some(Outcome::FailedPermanent { error }) if error.contains("550")
    ));
    let key = DeliveryKey::new(
        baton::domain::ReportKind::Owners.as_str(),
        "2026-W46",
        "enablement@example.com",
    );
    let r = store.delivery_state(&key).unwrap().unwrap();
    assert_eq!(r.state, DeliveryState::FailedPermanent);
    assert_eq!(
        r.attempts, 1,
        "a permanent refusal is not retried within the run"
    );
    assert!(r.last_error.unwrap().contains("550"));
    let got: Vec<String> = state
        .lock()
        .unwrap()
        .received
        .iter()
        .map(|(r, _)| r.join(","))
        .collect();
    assert_eq!(
        got,
        [
            "support-ops@example.com",
            "team-leads@example.com",
            "channel-ops@example.com"
        ]
    );
}

#[tokio::test]
async fn a_rerun_with_the_same_ledger_sends_nothing_new() {
    let (addr, state) = start_server(ServerState::default());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let sender = SmtpSender::from_config(&smtp(addr)).unwrap();
    {
        let store = Store::open(&db).unwrap();
        let first = deliver(&store, &sender, &messages(), &fast_policy(3))
            .await
            .unwrap();
        assert_eq!(first.sent(), 4);
    }
    // A restart: a new process opens the same file and builds the same messages.
    let store = Store::open(&db).unwrap();
    let again = deliver(&store, &sender, &messages(), &fast_policy(3))
        .await
        .unwrap();
    assert_eq!((again.sent(), again.already_delivered()), (0, 4), "{again}");
    assert_eq!(state.lock().unwrap().received.len(), 4);
    assert_eq!(state.lock().unwrap().rcpts_seen, 4);
}

#[tokio::test]
async fn still_failing_is_left_pending_and_sent_by_the_next_run() {
    let (addr, state) = start_server(ServerState {
        transient_left: 2,
        ..Default::default()
    });
    let store = Store::open_in_memory().unwrap();
    let sender = SmtpSender::from_config(&smtp(addr)).unwrap();
    let msgs = messages();
    let one = &msgs[..1];
    let first = deliver(&store, &sender, one, &fast_policy(2))
        .await
        .unwrap();
    assert!(
        matches!(
            first.outcome("support-ops@example.com"),
            Some(Outcome::Deferred { error }) if error.contains("451")
        ),
        "{first:?}"
    );
    let r = store.delivery_state(&one[0].key).unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (DeliveryState::Pending, 2));
    assert_eq!(state.lock().unwrap().received.len(), 0);

    let next = deliver(&store, &sender, one, &fast_policy(2))
        .await
        .unwrap();
    assert_eq!(
        next.outcome("support-ops@example.com"),
        Some(&Outcome::Sent { attempts: 3 })
    );
    assert_eq!(state.lock().unwrap().received.len(), 1);
}

#[tokio::test]
async fn dropped_connections_are_retried_then_deferred() {
    // A server that accepts and hangs up at once, counting connections.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0usize));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            *count.lock().unwrap() += 1;
            drop(conn);
        }
    });
    let store = Store::open_in_memory().unwrap();
    let sender = SmtpSender::from_config(&smtp(addr)).unwrap();
    let msgs = messages();
    let report = deliver(&store, &sender, &msgs[..1], &fast_policy(3))
        .await
        .unwrap();
    assert!(
        matches!(
            report.outcome("support-ops@example.com"),
            Some(Outcome::Deferred { .. })
        ),
        "{report:?}"
    );
    assert!(
        report.stopped.is_none(),
        "a dropped connection is not a setup error"
    );
    assert_eq!(
        *accepted.lock().unwrap(),
        3,
        "three attempts, three connections"
    );
    let r = store.delivery_state(&msgs[0].key).unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (DeliveryState::Pending, 3));
}

#[tokio::test]
async fn the_password_never_reaches_an_error_or_the_ledger() {
    // The test server offers no AUTH on a plain connection, so lettre refuses to log in:
    // a setup error that stops delivery, and must not carry the password.
    let (addr, state) = start_server(ServerState::default());
    let secret = "pw-7d1f0c-never-print-me";
    let var = "BATON_TEST_SMTP_PASSWORD_DELIVER";
    std::env::set_var(var, secret);
    let mut cfg = smtp(addr);
    cfg.user = Some("reports@example.com".into());
    cfg.password_env = Some(var.into());
    let store = Store::open_in_memory().unwrap();
    let sender = SmtpSender::from_config(&cfg).unwrap();
    let msgs = messages();
    let report = deliver(&store, &sender, &msgs, &fast_policy(3))
        .await
        .unwrap();
    let stopped = report.stopped.clone().expect("stopped on a setup error");
    assert!(stopped.contains("127.0.0.1"), "{stopped}");
    assert!(!format!("{report:?}").contains(secret));
    assert_eq!(
        report.outcome("enablement@example.com"),
        Some(&Outcome::NotAttempted)
    );
    let r = store.delivery_state(&msgs[0].key).unwrap().unwrap();
    assert!(!r.last_error.unwrap().contains(secret));
    assert_eq!(state.lock().unwrap().received.len(), 0);

    // An unset variable is named, and that is all.
    cfg.password_env = Some("BATON_TEST_SMTP_PASSWORD_UNSET".into());
    let sender = SmtpSender::from_config(&cfg).unwrap();
    let store = Store::open_in_memory().unwrap();
    let report = deliver(&store, &sender, &msgs[..1], &fast_policy(3))
        .await
        .unwrap();
    assert!(report
        .stopped
        .unwrap()
        .contains("`BATON_TEST_SMTP_PASSWORD_UNSET`, but that environment variable is not set"));
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_says_which_mode_failed() {
    let (addr, _) = start_server(ServerState::default());
    let mut cfg = smtp(addr);
    cfg.host = "localhost".into();
    cfg.tls = SmtpTls::Implicit;
    let store = Store::open_in_memory().unwrap();
    let sender = SmtpSender::from_config(&cfg).unwrap();
    let msgs = messages();
    let report = deliver(&store, &sender, &msgs[..1], &fast_policy(2))
        .await
        .unwrap();
    // Not worth retrying: the operator has to change the config. The error says so.
    let err = report
        .stopped
        .clone()
        .expect("a TLS mismatch stops delivery");
    assert!(err.contains("TLS failed"), "{err}");
    assert!(err.contains("tls = \"starttls\""), "{err}");
    let r = store.delivery_state(&msgs[0].key).unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (DeliveryState::Pending, 1));
}

#[test]
fn plain_text_is_refused_off_loopback() {
    let mut cfg = smtp("127.0.0.1:25".parse().unwrap());
    cfg.host = "smtp.example.com".into();
    let err = SmtpSender::from_config(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("loopback") && err.contains("smtp.example.com"),
        "{err}"
    );
}

#[tokio::test]
async fn the_outbox_writes_eml_and_preview_and_rewrites_on_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path().join("outbox"));
    let store = Store::open_in_memory().unwrap();
    let msgs = messages();
    let first = deliver(&store, &outbox, &msgs, &fast_policy(3))
        .await
        .unwrap();
    assert_eq!(first.sent(), 4);
    let eml = dir.path().join("outbox/2026-W46-support-operations.eml");
    let html = dir.path().join("outbox/2026-W46-support-operations.html");
    let raw = std::fs::read(&eml).unwrap();
    let mail = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(mail.subject(), Some(EXPECTED[0].1));
    assert!(mail.body_text(0).unwrap().contains("+3.1 pp"));
    assert!(std::fs::read_to_string(&html).unwrap().contains("+3.1 pp"));
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        8
    );

    // A rerun rewrites the files (the deleted one comes back) and reports them delivered.
    std::fs::remove_file(&eml).unwrap();
    let again = deliver(&store, &outbox, &msgs, &fast_policy(3))
        .await
        .unwrap();
    assert_eq!((again.sent(), again.already_delivered()), (0, 4));
    assert!(eml.exists());
    let r = store.delivery_state(&msgs[0].key).unwrap().unwrap();
    assert_eq!((r.state, r.attempts), (DeliveryState::Sent, 1));
}
