//! Planted changes: an [`Injection`] shifts one base rate of the generator for part of the
//! conversations from a date on, so the demo has a story for `explain` and `verify` to find.
//!
//! Grammar (`baton generate --inject SPEC`, repeatable):
//!
//! ```text
//! SPEC  = KIND ":" SCOPE ":" DELTA ":from=" DATE
//! KIND  = "routing" | "skill" | "escalation" | "channel"
//! SCOPE = "all" | "topic=" TOPIC | "team=" TEAM | "channel=" CHANNEL
//! DELTA = ["+" | "-"] NUMBER "pp"            percentage points, e.g. +10pp, -2.5pp
//! DATE  = YYYY-MM-DD                         local date in the generator's time zone
//! ```
//!
//! e.g. `routing:topic=billing:+10pp:from=2026-11-09`. What each kind moves, for conversations
//! created on or after `DATE` whose topic, home team (the team that owns the topic) or first
//! channel matches the scope:
//!
//! - `routing`: the chance that the first routing decision sends the conversation to a wrong
//!   team (it then moves to its home team without a reply from the wrong one);
//! - `skill`: the chance, each time an agent has worked it, that the agent passes it on to a
//!   colleague at the same or a lower tier;
//! - `escalation`: the chance, each time an agent has worked it, of escalating to a higher tier;
//! - `channel`: the chance, each time an agent has worked it, of moving it from chat or email
//!   to phone (a callback).
//!
//! Names are matched loosely (`team=account_security`, `topic=Password-Reset`).
//!
//! **What the delta is, exactly** (what `explain` then sees as the change of the branch rate in
//! the scope, i.e. the share of the scope's resolved conversations whose *first* handoff has this
//! cause):
//!
//! - `routing`: the misroute chance is the first draw of a conversation and a misroute is always
//!   its first handoff, so the scope's routing-branch rate rises by `delta` for conversations
//!   created from `DATE` on; in the first week the rise is `delta x s`, `s` the share of that
//!   week's resolved conversations created on or after `DATE` (about 0.75 for a week starting on
//!   `DATE`: some resolved that week were created the week before). `+10pp` on billing plants
//!   about +7.5 points in billing's routing rate that week (`tests/generate.rs` checks it).
//! - `skill`, `escalation`, `channel`: the delta is added to a per-stint chance after each
//!   reply of a person, so it only reaches conversations that get to a person, and it only moves
//!   the branch when that move is the conversation's *first* handoff. Conversations that Fin
//!   (the AI agent) resolves never get there; those Fin hands over, or that were misrouted,
//!   already have an earlier first handoff (escalation or routing); phone calls cannot move to
//!   the phone; the top tier cannot escalate. The realised change of the branch rate in the
//!   scope is therefore about `delta x s x e`, with `e` the share of the scope's conversations
//!   whose first owner is a person and whose first stint ends without another handoff: for
//!   `channel:channel=chat` about a fifth (three chats in four go to Fin first), so `+5pp`
//!   moves chat's channel-branch rate by about 1 point; on skill, `s x e` is about 0.8 for team
//!   Billing (`+10pp`: 10.5 % -> 18.5 % in a week at 4,000 a week, seed 2) and about 0.35 for
//!   topic refund, which Fin often takes first (`+10pp`: 6.8 % -> 10.3 %). Plan sizes accordingly (the quality benchmark,
//!   `benches/explain_quality.rs`, reports each plant's realised own z).

use super::model::{Channel, Team, Topic};
use crate::domain::Cause;
use chrono::{Duration, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use polars::prelude::*;
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// Which conversations an injection touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Topic(Topic),
    /// The home team of the conversation's topic.
    Team(Team),
    /// The channel the conversation starts on.
    Channel(Channel),
}

impl Scope {
    pub fn matches(self, topic: Topic, channel: Channel) -> bool {
        match self {
            Scope::All => true,
            Scope::Topic(t) => t == topic,
            Scope::Team(t) => t == topic.home(),
            Scope::Channel(c) => c == channel,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("all"),
            Scope::Topic(t) => write!(f, "topic={t}"),
            Scope::Team(t) => write!(f, "team={t}"),
            Scope::Channel(c) => write!(f, "channel={c}"),
        }
    }
}

/// A planted change: `kind`'s base rate moves by `delta_pp` percentage points for conversations
/// in `scope` created on or after local date `from`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Injection {
    pub kind: Cause,
    pub scope: Scope,
    /// Percentage points, in [-100, 100].
    pub delta_pp: f64,
    pub from: NaiveDate,
}

impl Injection {
    /// The change as a probability (10 pp = 0.10).
    pub fn delta(&self) -> f64 {
        self.delta_pp / 100.0
    }

    /// A gradual drift instead of a step: `total_pp` reached in `weeks` equal weekly steps, the
    /// first on `from` (e.g. a company-wide drift down of routing handoffs: `Scope::All`).
    /// The generator adds up the injections that apply, so the steps accumulate.
    pub fn drift(
        kind: Cause,
        scope: Scope,
        total_pp: f64,
        from: NaiveDate,
        weeks: u32,
    ) -> Vec<Injection> {
        let weeks = weeks.max(1);
        (0..weeks)
            .map(|w| Injection {
                kind,
                scope,
                delta_pp: total_pp / f64::from(weeks),
                from: from + Duration::days(7 * i64::from(w)),
            })
            .collect()
    }
}

/// A planted intake shift: from local date `from` on, only a share `keep` of the conversations
/// created in `scope` remain (the rest are dropped, chosen by a hash of their id, so the same
/// shift on the same data drops the same conversations). It changes who arrives, not how they
/// are handled: the population of a segment moves while every rate stays, which is what
/// verify's intake check must flag.
///
/// Applied to a generated event frame ([`crate::demo::generate_frame`]) after generation, as
/// the generator's draws stay those of the conversations kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntakeShift {
    pub scope: Scope,
    /// Share of the conversations in scope kept, in [0, 1].
    pub keep: f64,
    pub from: NaiveDate,
}

/// 64-bit FNV-1a: a stable hash of a conversation id (std's hasher is seeded per process).
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl IntakeShift {
    /// The frame without the events of the conversations the shift drops. `tz` is the zone of
    /// `from` (the generator's).
    pub fn apply(&self, events: &DataFrame, tz: Tz) -> PolarsResult<DataFrame> {
        let from = tz
            .from_local_datetime(&self.from.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.timestamp_micros())
            .unwrap_or(i64::MIN);
        let text = |name: &str| -> PolarsResult<StringChunked> {
            Ok(events.column(name)?.cast(&DataType::String)?.str()?.clone())
        };
        let (ids, kinds, topics, channels) = (
            text("conversation_id")?,
            text("event")?,
            text("topic")?,
            text("channel")?,
        );
        let at = events.column("at")?.cast(&DataType::Int64)?;
        let at = at.i64()?;
        let mut dropped: HashSet<&str> = HashSet::new();
        for i in 0..events.height() {
            if kinds.get(i) != Some("created") || at.get(i).is_none_or(|t| t < from) {
                continue;
            }
            let (Some(id), Some(topic), Some(channel)) = (
                ids.get(i),
                topics.get(i).and_then(Topic::parse),
                channels.get(i).and_then(Channel::parse),
            ) else {
                continue;
            };
            let u = (fnv1a(id) >> 11) as f64 / (1u64 << 53) as f64;
            if self.scope.matches(topic, channel) && u >= self.keep {
                dropped.insert(id);
            }
        }
        let keep: BooleanChunked = ids
            .iter()
            .map(|id| Some(!id.is_some_and(|id| dropped.contains(id))))
            .collect();
        events.filter(&keep)
    }
}

/// Why an injection spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectionError {
    #[error("injection `{0}` does not have four parts; expected KIND:SCOPE:DELTA:from=YYYY-MM-DD, e.g. routing:topic=billing:+10pp:from=2026-11-09")]
    Shape(String),
    #[error("injection `{spec}`: unknown kind `{kind}` (expected routing, skill, escalation or channel)")]
    Kind { spec: String, kind: String },
    #[error("injection `{spec}`: unknown scope `{scope}` (expected all, topic=NAME, team=NAME or channel=NAME)")]
    Scope { spec: String, scope: String },
    #[error("injection `{spec}`: unknown {what} `{value}` (known: {known})")]
    Name {
        spec: String,
        what: &'static str,
        value: String,
        known: String,
    },
    #[error("injection `{spec}`: `{delta}` is not a change in percentage points between -100pp and +100pp (e.g. +10pp)")]
    Delta { spec: String, delta: String },
    #[error("injection `{spec}`: `{from}` is not `from=YYYY-MM-DD`")]
    From { spec: String, from: String },
}

impl FromStr for Injection {
    type Err = InjectionError;

    fn from_str(spec: &str) -> Result<Injection, InjectionError> {
        let s = spec.trim();
        let parts: Vec<&str> = s.split(':').map(str::trim).collect();
        let [kind, scope, delta, from] = parts[..] else {
            return Err(InjectionError::Shape(spec.to_string()));
        };
        let kind: Cause = kind.parse().map_err(|_| InjectionError::Kind {
            spec: spec.to_string(),
            kind: kind.to_string(),
        })?;
        let scope = parse_scope(spec, scope)?;
        let delta_pp = delta
            .strip_suffix("pp")
            .and_then(|n| {
                n.trim()
                    .strip_prefix('+')
                    .unwrap_or(n.trim())
                    .parse::<f64>()
                    .ok()
            })
            .filter(|d| d.is_finite() && d.abs() <= 100.0)
            .ok_or_else(|| InjectionError::Delta {
                spec: spec.to_string(),
                delta: delta.to_string(),
            })?;
        let from = from
            .strip_prefix("from=")
            .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
            .ok_or_else(|| InjectionError::From {
                spec: spec.to_string(),
                from: from.to_string(),
            })?;
        Ok(Injection {
            kind,
            scope,
            delta_pp,
            from,
        })
    }
}

fn parse_scope(spec: &str, scope: &str) -> Result<Scope, InjectionError> {
    if scope.eq_ignore_ascii_case("all") {
        return Ok(Scope::All);
    }
    let bad_scope = || InjectionError::Scope {
        spec: spec.to_string(),
        scope: scope.to_string(),
    };
    let (key, value) = scope.split_once('=').ok_or_else(bad_scope)?;
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    let unknown = |what: &'static str, known: Vec<&str>| InjectionError::Name {
        spec: spec.to_string(),
        what,
        value: value.to_string(),
        known: known.join(", "),
    };
    match key.trim().to_ascii_lowercase().as_str() {
        "topic" => Topic::parse(value)
            .map(Scope::Topic)
            .ok_or_else(|| unknown("topic", Topic::ALL.iter().map(|t| t.name()).collect())),
        "team" => Team::parse(value)
            .filter(|t| Team::HUMAN.contains(t))
            .map(Scope::Team)
            .ok_or_else(|| unknown("home team", Team::HUMAN.iter().map(|t| t.name()).collect())),
        "channel" => Channel::parse(value)
            .map(Scope::Channel)
            .ok_or_else(|| unknown("channel", Channel::ALL.iter().map(|c| c.name()).collect())),
        _ => Err(bad_scope()),
    }
}

impl fmt::Display for Injection {
    /// The canonical spec; it parses back to the same injection.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{:+}pp:from={}",
            self.kind,
            self.scope,
            self.delta_pp,
            self.from.format("%Y-%m-%d")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn parses_the_documented_example() {
        let i: Injection = "routing:topic=billing:+10pp:from=2026-11-09"
            .parse()
            .unwrap();
        assert_eq!(
            i,
            Injection {
                kind: Cause::Routing,
                scope: Scope::Topic(Topic::Billing),
                delta_pp: 10.0,
                from: date("2026-11-09"),
            }
        );
        assert!((i.delta() - 0.10).abs() < 1e-12);
    }

    #[test]
    fn every_kind_and_scope_round_trips() {
        for spec in [
            "routing:topic=billing:+10pp:from=2026-11-09",
            "skill:team=Technical:+5pp:from=2026-11-02",
            "escalation:team=Account Security:-2.5pp:from=2026-10-01",
            "channel:channel=chat:+8pp:from=2026-11-09",
            "skill:all:+1pp:from=2026-01-05",
        ] {
            let i: Injection = spec.parse().unwrap();
            assert_eq!(i.to_string(), spec);
            assert_eq!(i.to_string().parse::<Injection>().unwrap(), i);
        }
        // Loose names and a missing sign read as the canonical form.
        let i: Injection = "Skill:team=account_security:3pp:from=2026-11-09"
            .parse()
            .unwrap();
        assert_eq!(
            i.to_string(),
            "skill:team=Account Security:+3pp:from=2026-11-09"
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| s.parse::<Injection>().unwrap_err();
        assert!(matches!(
            err("routing:topic=billing:+10pp"),
            InjectionError::Shape(_)
        ));
        assert!(matches!(
            err("queue:topic=billing:+10pp:from=2026-11-09"),
            InjectionError::Kind { .. }
        ));
        assert!(matches!(
            err("routing:agent=Fin:+10pp:from=2026-11-09"),
            InjectionError::Scope { .. }
        ));
        assert!(matches!(
            err("routing:billing:+10pp:from=2026-11-09"),
            InjectionError::Scope { .. }
        ));
        let e = err("routing:topic=invoices:+10pp:from=2026-11-09");
        assert!(e.to_string().contains("unknown topic `invoices`"), "{e}");
        assert!(
            e.to_string().contains("billing"),
            "lists the known topics: {e}"
        );
        // Triage and the AI team own no topic, so they cannot be a home-team scope.
        assert!(matches!(
            err("routing:team=Triage:+1pp:from=2026-11-09"),
            InjectionError::Name { .. }
        ));
        for d in ["+10", "10%", "+abcpp", "+150pp", "NaNpp"] {
            let spec = format!("routing:all:{d}:from=2026-11-09");
            assert!(matches!(err(&spec), InjectionError::Delta { .. }), "{d}");
        }
        for f in ["2026-11-09", "from=2026-13-01", "since=2026-11-09"] {
            let spec = format!("routing:all:+1pp:{f}");
            assert!(matches!(err(&spec), InjectionError::From { .. }), "{f}");
        }
    }

    #[test]
    fn a_drift_is_weekly_steps_that_add_up() {
        let d = Injection::drift(Cause::Routing, Scope::All, -4.0, date("2026-11-02"), 4);
        assert_eq!(d.len(), 4);
        assert!((d.iter().map(|i| i.delta_pp).sum::<f64>() + 4.0).abs() < 1e-12);
        assert_eq!(d[3].from, date("2026-11-23"));
    }

    #[test]
    fn an_intake_shift_drops_part_of_the_scope_from_its_date() {
        let opts = crate::demo::GenerateOptions {
            weeks: 4,
            per_week: 1000,
            ..crate::demo::GenerateOptions::ending(date("2026-11-30"), chrono_tz::Europe::London)
        };
        let events = crate::demo::generate_frame(&opts).unwrap();
        let shift = IntakeShift {
            scope: Scope::Topic(Topic::Billing),
            keep: 0.3,
            from: date("2026-11-16"),
        };
        let after = shift.apply(&events, opts.tz).unwrap();
        let created = |f: &DataFrame, topic: &str| {
            f.clone()
                .lazy()
                .filter(
                    col("event")
                        .cast(DataType::String)
                        .eq(lit("created"))
                        .and(col("topic").cast(DataType::String).eq(lit(topic))),
                )
                .collect()
                .unwrap()
                .height()
        };
        let (b0, b1) = (created(&events, "billing"), created(&after, "billing"));
        assert!(b1 < b0 && b1 * 10 > b0 * 5, "{b0} -> {b1}");
        assert_eq!(created(&events, "login"), created(&after, "login"));
    }

    #[test]
    fn scopes_match_topic_home_team_and_channel() {
        assert!(Scope::Team(Team::Billing).matches(Topic::Refund, Channel::Email));
        assert!(!Scope::Team(Team::Billing).matches(Topic::Login, Channel::Email));
        assert!(Scope::Topic(Topic::Login).matches(Topic::Login, Channel::Phone));
        assert!(Scope::Channel(Channel::Chat).matches(Topic::Bug, Channel::Chat));
        assert!(!Scope::Channel(Channel::Chat).matches(Topic::Bug, Channel::Email));
    }
}
