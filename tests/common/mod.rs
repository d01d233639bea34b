//! Builders for hand-made canonical events, shared by the integration tests.
#![allow(dead_code)]

use baton::ingest::{Actor, Author, EventKind, EventRow, OwnerKind};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// 2026-11-10 09:00 UTC plus `min` minutes.
pub fn at(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 9, 0, 0).unwrap() + Duration::minutes(min)
}

pub struct B(pub EventRow);
impl B {
    pub fn agent(mut self, a: &str) -> B {
        self.0.agent = Some(a.into());
        self
    }
    pub fn team(mut self, t: &str) -> B {
        self.0.team = Some(t.into());
        self
    }
    pub fn ch(mut self, c: &str) -> B {
        self.0.channel = Some(c.into());
        self
    }
    pub fn ai(mut self) -> B {
        self.0.owner_kind = Some(OwnerKind::Ai);
        self
    }
    pub fn by(mut self, a: Actor) -> B {
        self.0.actor = Some(a);
        self
    }
    pub fn reason(mut self, r: &str) -> B {
        self.0.reason = Some(r.into());
        self
    }
    pub fn topic(mut self, t: &str) -> B {
        self.0.topic = Some(t.into());
        self
    }
    pub fn sentiment(mut self, s: f64) -> B {
        self.0.sentiment = Some(s);
        self
    }
}

pub fn ev(c: &str, min: i64, kind: EventKind) -> B {
    B(EventRow::new(c, at(min), kind))
}
pub fn created(c: &str, min: i64) -> B {
    ev(c, min, EventKind::Created).ch("chat")
}
pub fn assign(c: &str, min: i64) -> B {
    ev(c, min, EventKind::Assigned)
}
pub fn msg(c: &str, min: i64, who: Author) -> B {
    let mut b = ev(c, min, EventKind::Message);
    b.0.author = Some(who);
    b
}
pub fn reply(c: &str, min: i64) -> B {
    msg(c, min, Author::Agent)
}
pub fn resolved(c: &str, min: i64) -> B {
    ev(c, min, EventKind::Resolved)
}
