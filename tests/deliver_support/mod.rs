//! Shared by the delivery fault tests: a hand-built week rendered for the four owners of the
//! embedded tree, and a small SMTP server (tokio, on loopback, in a thread of its own) that
//! misbehaves on purpose: slow or missing answers after the final dot, dropped connections,
//! 421 greetings, 550 recipients, and a 535 that echoes the credentials it was sent.
#![allow(dead_code)]

use base64::Engine;
use baton::config::{Config, SmtpConfig, SmtpTls};
use baton::deliver::{DeliveryKey, DeliveryPolicy, Outgoing};
use baton::domain::{Cause, Period};
use baton::metrics::{CauseMeasures, Measures, MetricsReport, Overall, Segment, TrendPoint};
use baton::report::{owner_views_at, Renderer};
use baton::store::LeaseTerms;
use chrono::{TimeZone, Utc};
use lettre::message::Mailbox;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub const OWNERS: [&str; 4] = [
    "support-ops@example.com",
    "enablement@example.com",
    "team-leads@example.com",
    "channel-ops@example.com",
];

/// What the server does once it has read the final dot of a message.
#[derive(Debug, Clone)]
pub enum AfterDot {
    /// Keep the message, answer 250.
    Accept,
    /// Keep it, answer 250 after this long.
    Slow(Duration),
    /// Keep it, hang up without answering.
    Drop,
    /// Keep it, never answer (until the test ends).
    Hang,
}

/// A hook run by the server as it keeps a message.
pub type OnKept = Box<dyn Fn(&str) + Send>;

#[derive(Default)]
pub struct Script {
    /// Per message, in order; `Accept` once empty.
    pub after_dot: VecDeque<AfterDot>,
    /// Connections to greet with `421` and close.
    pub greet_421: usize,
    /// Messages to hang up on in the middle of their data (not kept).
    pub drop_mid_data: usize,
    /// Recipients refused with `550` at RCPT.
    pub refuse: HashSet<String>,
    /// Offer AUTH PLAIN and answer every login `535`, echoing what was sent, raw and decoded.
    pub auth_535_echo: bool,
    /// Greetings held back this long, per connection, in order (a slow or stuck server
    /// between two messages).
    pub greet_delay: VecDeque<Duration>,
    /// Called with the recipient after a message is kept and before the answer.
    pub on_kept: Option<OnKept>,
}

#[derive(Default)]
pub struct Seen {
    /// (recipient, raw message) of every message kept.
    pub kept: Vec<(String, Vec<u8>)>,
    pub connections: usize,
    pub auth_attempts: usize,
}

pub struct Server {
    pub addr: SocketAddr,
    pub script: Arc<Mutex<Script>>,
    pub seen: Arc<Mutex<Seen>>,
}

impl Server {
    pub fn start(script: Script) -> Server {
        let script = Arc::new(Mutex::new(script));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (sc, se) = (script.clone(), seen.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        continue;
                    };
                    let (sc, se) = (sc.clone(), se.clone());
                    tokio::spawn(async move {
                        let _ = session(sock, sc, se).await;
                    });
                }
            });
        });
        Server { addr, script, seen }
    }

    /// Messages kept for `rcpt`.
    pub fn copies(&self, rcpt: &str) -> Vec<Vec<u8>> {
        self.seen
            .lock()
            .unwrap()
            .kept
            .iter()
            .filter(|(r, _)| r == rcpt)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// How many copies each owner has, in [`OWNERS`] order.
    pub fn per_owner(&self) -> [usize; 4] {
        OWNERS.map(|o| self.copies(o).len())
    }

    pub fn kept(&self) -> usize {
        self.seen.lock().unwrap().kept.len()
    }
}

/// The Message-ID header of a raw message.
pub fn message_id_of(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap_or("")
        .trim()
        .to_string()
}

async fn session(
    sock: tokio::net::TcpStream,
    script: Arc<Mutex<Script>>,
    seen: Arc<Mutex<Seen>>,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let (greet_421, delay, auth) = {
        let mut s = script.lock().unwrap();
        seen.lock().unwrap().connections += 1;
        let g = s.greet_421 > 0;
        if g {
            s.greet_421 -= 1;
        }
        (g, s.greet_delay.pop_front(), s.auth_535_echo)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    if greet_421 {
        w.write_all(b"421 4.3.2 Too many connections, try later\r\n")
            .await?;
        return Ok(());
    }
    w.write_all(b"220 smtp.test ESMTP\r\n").await?;
    let mut rcpt = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut reply = String::from("250-smtp.test\r\n250-8BITMIME\r\n");
            if auth {
                reply.push_str("250-AUTH PLAIN\r\n");
            }
            reply.push_str("250 SIZE 10000000\r\n");
            w.write_all(reply.as_bytes()).await?;
        } else if upper.starts_with("AUTH") {
            seen.lock().unwrap().auth_attempts += 1;
            let arg = cmd.split_whitespace().nth(2).unwrap_or("").to_string();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&arg)
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            let reply =
                format!("535 5.7.8 Authentication credentials invalid (got {arg} = {decoded})\r\n");
            w.write_all(reply.as_bytes()).await?;
        } else if upper.starts_with("MAIL") {
            w.write_all(b"250 2.1.0 OK\r\n").await?;
        } else if upper.starts_with("RCPT") {
            let to = cmd
                .split_once(':')
                .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_ascii_lowercase())
                .unwrap_or_default();
            if script.lock().unwrap().refuse.contains(&to) {
                w.write_all(b"550 5.1.1 Mailbox unavailable\r\n").await?;
            } else {
                rcpt = to;
                w.write_all(b"250 2.1.5 OK\r\n").await?;
            }
        } else if upper == "DATA" {
            w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let drop_mid = {
                let mut s = script.lock().unwrap();
                let d = s.drop_mid_data > 0;
                if d {
                    s.drop_mid_data -= 1;
                }
                d
            };
            let mut body = Vec::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if drop_mid && body.len() > 200 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                body.extend_from_slice(line.as_bytes());
            }
            let next = {
                seen.lock().unwrap().kept.push((rcpt.clone(), body));
                let mut s = script.lock().unwrap();
                if let Some(f) = &s.on_kept {
                    f(&rcpt);
                }
                s.after_dot.pop_front().unwrap_or(AfterDot::Accept)
            };
            match next {
                AfterDot::Accept => w.write_all(b"250 2.0.0 Queued\r\n").await?,
                AfterDot::Slow(d) => {
                    tokio::time::sleep(d).await;
                    w.write_all(b"250 2.0.0 Queued\r\n").await?;
                }
                AfterDot::Drop => return Ok(()),
                AfterDot::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return Ok(());
                }
            }
        } else if upper == "QUIT" {
            w.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            w.write_all(b"250 OK\r\n").await?;
        }
    }
}

/// A port nothing listens on.
pub fn refused_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// `[smtp]` for the server: 1 s per command, 3 s for the answer to the final dot.
pub fn smtp(addr: SocketAddr) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: addr.port(),
        tls: SmtpTls::None,
        user: None,
        password_env: None,
        password_file: None,
        from: "baton <reports@example.com>".parse().unwrap(),
        timeout_secs: 1,
        data_timeout_secs: 3,
    }
}

/// Fast retries; a run silent for 1 s is abandoned; an in-doubt message waits 300 ms.
pub fn policy() -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts: 3,
        max_per_minute: 0,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        lease: LeaseTerms {
            lease: Duration::from_secs(30),
            doubt_retry_after: Duration::from_millis(300),
        },
        abandoned_after: Duration::from_secs(1),
    }
}

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

/// A week of metrics with one segment named `segment`.
pub fn week_with(segment: &str) -> (Config, MetricsReport) {
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
                value: segment.into(),
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

pub fn from() -> Mailbox {
    "baton <reports@example.com>".parse().unwrap()
}

/// One message per owner of the embedded tree, in tree order.
pub fn messages() -> Vec<Outgoing> {
    let (cfg, m) = week_with("Billing");
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

/// The embedded config with a generated export of `per_week` conversations a week (three
/// weeks ending with 2026-W46) in a file under `dir` as its only source, delivering over SMTP
/// to `server`: a whole report run for `run_report`.
#[allow(dead_code)] // not every test file that includes this module runs whole reports
pub fn export_config(dir: &std::path::Path, server: &Server, per_week: u32) -> (Config, Period) {
    export_config_with(dir, server, per_week, &[])
}

/// [`export_config`] with planted changes (`baton generate --inject` specs without `from`:
/// they start with the reported week).
#[allow(dead_code)]
pub fn export_config_with(
    dir: &std::path::Path,
    server: &Server,
    per_week: u32,
    inject: &[&str],
) -> (Config, Period) {
    use baton::config::{DeliveryMode, SourceConfig, SourceFormat};
    let mut cfg = Config::embedded().unwrap();
    // These tests count the owners' messages ([`OWNERS`]); team leads' reports are tested in
    // demo_e2e.
    for t in cfg.teams.values_mut() {
        t.lead = None;
    }
    // Nor do they expect branch alerts unless a test sets a line (deliver_run does).
    for b in cfg.tree.values_mut() {
        b.alert_threshold_pp = 100.0;
    }
    let period = Period::parse("2026-W46", cfg.tz(), chrono::Utc::now()).unwrap();
    let mut opts = baton::demo::GenerateOptions::ending(period.end_date(), cfg.tz());
    opts.weeks = 3;
    opts.per_week = per_week;
    opts.injections = inject
        .iter()
        .map(|i| format!("{i}:from={}", period.start_date()).parse().unwrap())
        .collect();
    let events = baton::ingest::normalise(
        baton::demo::generate_frame(&opts).unwrap(),
        &Default::default(),
        None,
    )
    .unwrap()
    .events;
    let mut csv = Vec::new();
    baton::ingest::write_canonical(&events, SourceFormat::Csv, &mut csv).unwrap();
    let path = dir.join("events.csv");
    std::fs::write(&path, csv).unwrap();
    let url = reqwest::Url::from_file_path(&path).unwrap();
    cfg.sources
        .insert("export".into(), SourceConfig::canonical(url.as_str()));
    cfg.delivery.mode = DeliveryMode::Smtp;
    cfg.delivery.abandoned_after_secs = 1;
    cfg.smtp = Some(smtp(server.addr));
    (cfg, period)
}
