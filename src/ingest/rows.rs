//! The canonical event as a Rust value, for code that builds events one by one (vendor
//! adapters, the demo generator, tests).

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Created,
    Assigned,
    Message,
    Resolved,
    Reopened,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::Created,
        EventKind::Assigned,
        EventKind::Message,
        EventKind::Resolved,
        EventKind::Reopened,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Assigned => "assigned",
            EventKind::Message => "message",
            EventKind::Resolved => "resolved",
            EventKind::Reopened => "reopened",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    Human,
    Ai,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Human => "human",
            OwnerKind::Ai => "ai",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Customer,
    Agent,
    Ai,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Customer => "customer",
            Author::Agent => "agent",
            Author::Ai => "ai",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    Human,
    Automation,
    Ai,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Human => "human",
            Actor::Automation => "automation",
            Actor::Ai => "ai",
        }
    }
}

/// One row of the canonical event table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    pub conversation_id: String,
    pub at: DateTime<Utc>,
    pub event: EventKind,
    pub agent: Option<String>,
    pub team: Option<String>,
    pub owner_kind: Option<OwnerKind>,
    pub author: Option<Author>,
    pub channel: Option<String>,
    pub actor: Option<Actor>,
    pub reason: Option<String>,
    pub topic: Option<String>,
    pub sentiment: Option<f64>,
}

impl EventRow {
    /// A row with only the required fields set.
    pub fn new(
        conversation_id: impl Into<String>,
        at: DateTime<Utc>,
        event: EventKind,
    ) -> EventRow {
        EventRow {
            conversation_id: conversation_id.into(),
            at,
            event,
            agent: None,
            team: None,
            owner_kind: None,
            author: None,
            channel: None,
            actor: None,
            reason: None,
            topic: None,
            sentiment: None,
        }
    }
}

/// Builds the raw canonical frame (strings, `at` as a datetime) from rows; pass it to
/// [`super::normalise`] to validate it like any file.
pub fn rows_to_frame(rows: &[EventRow]) -> PolarsResult<DataFrame> {
    fn text<'a>(
        rows: &'a [EventRow],
        f: impl Fn(&'a EventRow) -> Option<&'a str>,
    ) -> Vec<Option<&'a str>> {
        rows.iter().map(f).collect()
    }
    let at: Vec<i64> = rows.iter().map(|r| r.at.timestamp_micros()).collect();
    let at =
        Series::new("at".into(), at).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
    DataFrame::new(
        rows.len(),
        vec![
            Series::new(
                "conversation_id".into(),
                text(rows, |r| Some(r.conversation_id.as_str())),
            )
            .into(),
            at.into(),
            Series::new("event".into(), text(rows, |r| Some(r.event.as_str()))).into(),
            Series::new("agent".into(), text(rows, |r| r.agent.as_deref())).into(),
            Series::new("team".into(), text(rows, |r| r.team.as_deref())).into(),
            Series::new(
                "owner_kind".into(),
                text(rows, |r| r.owner_kind.map(OwnerKind::as_str)),
            )
            .into(),
            Series::new(
                "author".into(),
                text(rows, |r| r.author.map(Author::as_str)),
            )
            .into(),
            Series::new("channel".into(), text(rows, |r| r.channel.as_deref())).into(),
            Series::new("actor".into(), text(rows, |r| r.actor.map(Actor::as_str))).into(),
            Series::new("reason".into(), text(rows, |r| r.reason.as_deref())).into(),
            Series::new("topic".into(), text(rows, |r| r.topic.as_deref())).into(),
            Series::new(
                "sentiment".into(),
                rows.iter().map(|r| r.sentiment).collect::<Vec<_>>(),
            )
            .into(),
        ],
    )
}
