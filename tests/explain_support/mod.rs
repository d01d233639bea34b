//! Builds canonical events for explain tests by hand: one conversation at a time, with the
//! cause of its one handoff (if any) set through the export's `reason`, which the first cause
//! rule maps (`wrong_queue` -> routing, `needs_specialist` -> skill, `escalate` -> escalation,
//! `callback` -> channel in the embedded config).
#![allow(dead_code)]

use baton::config::Config;
use baton::domain::{Cause, Period};
use baton::ingest::{normalise, rows_to_frame, Author, EventKind, EventRow, OwnerKind};
use chrono::{DateTime, Duration, TimeZone, Utc};
use polars::prelude::*;

/// One conversation to generate.
#[derive(Debug, Clone)]
pub struct Conv {
    pub team: String,
    pub channel: String,
    pub topic: String,
    pub agent: String,
    pub handoff: Option<Cause>,
    /// When it is created; resolved ten minutes later.
    pub at: DateTime<Utc>,
}

impl Conv {
    pub fn new(
        team: &str,
        channel: &str,
        topic: &str,
        agent: &str,
        handoff: Option<Cause>,
        at: DateTime<Utc>,
    ) -> Conv {
        Conv {
            team: team.into(),
            channel: channel.into(),
            topic: topic.into(),
            agent: agent.into(),
            handoff,
            at,
        }
    }
}

fn reason(c: Cause) -> &'static str {
    match c {
        Cause::Routing => "wrong_queue",
        Cause::Skill => "needs_specialist",
        Cause::Escalation => "escalate",
        Cause::Channel => "callback",
    }
}

/// The events of conversation number `i`.
pub fn events(i: usize, c: &Conv, out: &mut Vec<EventRow>) {
    let id = format!("c{i:06}");
    let s = |k: i64| c.at + Duration::seconds(k);
    let mut created = EventRow::new(&id, s(0), EventKind::Created);
    created.channel = Some(c.channel.clone());
    created.topic = Some(c.topic.clone());
    out.push(created);
    let mut first = EventRow::new(&id, s(60), EventKind::Assigned);
    first.team = Some(c.team.clone());
    first.agent = Some(c.agent.clone());
    first.owner_kind = Some(OwnerKind::Human);
    out.push(first);
    let mut worker = c.agent.clone();
    if let Some(cause) = c.handoff {
        // Another team takes over (same tier: the reason decides the cause).
        let mut next = EventRow::new(&id, s(120), EventKind::Assigned);
        next.team = Some("Second Line".into());
        next.agent = Some("second-line-agent".into());
        next.owner_kind = Some(OwnerKind::Human);
        next.reason = Some(reason(cause).into());
        out.push(next);
        worker = "second-line-agent".into();
    }
    let mut msg = EventRow::new(&id, s(180), EventKind::Message);
    msg.author = Some(Author::Agent);
    msg.agent = Some(worker);
    out.push(msg);
    out.push(EventRow::new(&id, s(600), EventKind::Resolved));
}

/// Canonical events of `convs`, through the same validation as any export.
pub fn frame(convs: &[Conv]) -> DataFrame {
    let mut rows = Vec::with_capacity(convs.len() * 5);
    for (i, c) in convs.iter().enumerate() {
        events(i, c, &mut rows);
    }
    let raw = rows_to_frame(&rows).expect("frame");
    let ingested = normalise(raw, &Default::default(), None).expect("valid events");
    assert!(
        ingested.quarantine.is_empty(),
        "test events must all be valid"
    );
    ingested.events
}

/// Conversation facts of `convs` under `cfg`'s rules.
pub fn facts(convs: &[Conv], cfg: &Config) -> LazyFrame {
    let rules = baton::metrics::HandoffRules::from_config(cfg);
    let f = baton::metrics::facts::build(frame(convs).lazy(), &rules).expect("facts");
    // Collected once so each explain call does not rebuild the facts.
    f.conversations.collect().expect("facts collect").lazy()
}

/// A queue's week: `n` conversations of `team` in ISO week `w` (on chat, topic general, worked
/// by `agent`), the first `h` of them handed off once for `cause`.
pub fn add_queue(
    out: &mut Vec<Conv>,
    (w, team, agent): (u32, &str, &str),
    n: usize,
    h: usize,
    cause: Cause,
) {
    for i in 0..n {
        let k = out.len() as i64;
        out.push(Conv::new(
            team,
            "chat",
            "general",
            agent,
            (i < h).then_some(cause),
            in_week(w, k),
        ));
    }
}

/// Wednesday noon of ISO week `w` of 2026 plus `k` seconds (UTC, which is London time in
/// November, the zone of the embedded config).
pub fn in_week(w: u32, k: i64) -> DateTime<Utc> {
    let p = week(w);
    Utc.from_utc_datetime(&p.start_date().and_hms_opt(12, 0, 0).unwrap())
        + Duration::days(2)
        + Duration::seconds(k)
}

pub fn week(w: u32) -> Period {
    Period::iso_week(2026, w, chrono_tz::Europe::London).unwrap()
}

/// The embedded config with only the dimensions given.
pub fn config(dims: &[&str]) -> Config {
    let mut cfg = Config::embedded().unwrap();
    cfg.report.dimensions = dims.iter().map(|s| s.parse().unwrap()).collect();
    cfg
}

/// Plain-cell helpers: what the polars aggregation produces, built directly.
pub mod plain {
    use baton::config::Config;
    use baton::domain::Cause;
    use baton::explain::{PeriodRef, Policy, Subject};

    /// The handoff-rate subject for plain cells with all four branches.
    pub fn handoff_subject() -> Subject {
        Subject {
            metric: "handoff_rate".into(),
            label: "the handoff rate".into(),
            short: "handoff rate".into(),
            branches: Cause::ALL.to_vec(),
            branch_labels: Cause::ALL
                .iter()
                .map(|c| format!("{} handoffs", c.as_str()))
                .collect(),
            percent: true,
            den_label: "conversations".into(),
            period: PeriodRef::label("after"),
            vs: PeriodRef::label("before"),
        }
    }

    /// A subject without branches (a generic table).
    pub fn plain_subject() -> Subject {
        Subject {
            metric: "y/x".into(),
            label: "the rate y/x".into(),
            short: "rate".into(),
            branches: vec![],
            branch_labels: vec![],
            percent: false,
            den_label: "rows".into(),
            period: PeriodRef::label("after"),
            vs: PeriodRef::label("before"),
        }
    }

    pub fn policy(max_drivers: usize) -> Policy {
        let mut cfg = Config::embedded().unwrap();
        cfg.explain.max_drivers = max_drivers;
        Policy::from_config(&cfg)
    }
}
