//! Intercom conversations -> canonical events (SOURCES.md "Intercom"; mapping in
//! docs/sources.md). Input is the JSON of `GET /conversations/{id}` (with its parts), `GET
//! /admins` and `GET /teams`; `crate::source` does the HTTP.
//!
//! Parts are replayed in order per conversation, keeping the assigned admin and team, so each
//! `assigned` row carries the whole owner. `part_type` is a free string: any type containing
//! "assign" is an ownership change, and types baton does not know are skipped and counted.

use super::vendor::{channel, id, strings, text, time, Mapping, VendorEvents};
use super::{Actor, Author, EventKind, EventRow, OwnerKind};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// What an Intercom pull gathered.
#[derive(Debug, Default, Clone)]
pub struct IntercomExport {
    /// Conversation objects, with `conversation_parts` when they were fetched one by one.
    pub conversations: Vec<Value>,
    /// `admins` rows (`id`, `name`).
    pub admins: Vec<Value>,
    /// `teams` rows (`id`, `name`).
    pub teams: Vec<Value>,
}

/// Part types that exist and are not canonical events (not counted as unknown).
const IGNORED_PARTS: [&str; 27] = [
    "snoozed",
    "unsnoozed",
    "timer_unsnooze",
    "participant_added",
    "participant_removed",
    "conversation_attribute_updated_by_admin",
    "conversation_attribute_updated_by_workflow",
    "conversation_attribute_updated_by_user",
    "custom_action_started",
    "custom_action_finished",
    "operator_workflow_event",
    "language_detection_details",
    "conversation_sla_target_missed",
    "sla_applied_by_rule",
    "sla_applied_by_workflow",
    "ticket_state_updated_by_admin",
    "ticket_state_updated_by_workflow",
    "title_changed",
    "conversation_rating_changed_by_user",
    "conversation_rating_remark_added",
    "quick_reply",
    "attribute_collected",
    "fin_guidance_applied",
    "conversation_tags_updated",
    "channel_and_reply_time_expectation",
    "distributed_to_channel",
    "email_forwarding",
];

/// `ai_agent.resolution_state` values that mean the AI handed the conversation to people
/// (API 2.14: `routed_to_team`; 2.15 and later: `escalated`, `procedure_handoff`).
const AI_HANDOVER: [&str; 5] = [
    "routed_to_team",
    "escalated",
    "procedure_handoff",
    "handed_over",
    "escalated_to_human",
];
/// ... and those that mean the AI resolved it itself.
const AI_RESOLVED: [&str; 3] = ["assumed_resolution", "confirmed_resolution", "resolved"];
/// ... and those that mean neither (no row of their own).
const AI_OTHER: [&str; 3] = ["abandoned", "negative_feedback", "pending"];

struct Names {
    admins: BTreeMap<String, String>,
    teams: BTreeMap<String, String>,
}

impl Names {
    fn admin(&self, a: &str) -> String {
        self.admins
            .get(a)
            .cloned()
            .unwrap_or_else(|| format!("admin {a}"))
    }
    fn team(&self, t: &str) -> String {
        self.teams
            .get(t)
            .cloned()
            .unwrap_or_else(|| format!("team {t}"))
    }
}

/// Turns an Intercom export into canonical rows.
pub fn to_events(export: &IntercomExport, mapping: &Mapping) -> VendorEvents {
    let mut out = VendorEvents::default();
    let table = |rows: &[Value]| -> BTreeMap<String, String> {
        rows.iter()
            .filter_map(|r| Some((id(r.get("id"))?, text(r.get("name"))?.to_string())))
            .collect()
    };
    let names = Names {
        admins: table(&export.admins),
        teams: table(&export.teams),
    };
    for conv in &export.conversations {
        conversation(conv, mapping, &names, &mut out);
    }
    out
}

#[derive(Default)]
struct State {
    admin: Option<String>,
    team: Option<String>,
    has_owner: bool,
    ai_owner: bool,
    closed: bool,
    saw_close: bool,
    /// When the AI agent last spoke, and the first human admin part after that (with its
    /// index in the output, where a handover the parts do not show is put).
    last_ai_at: Option<DateTime<Utc>>,
    first_human_after_ai: Option<(DateTime<Utc>, usize)>,
    /// The AI agent's name as its own parts give it (for assignments to its admin id, which
    /// `GET /admins` does not list).
    ai_name: Option<String>,
}

fn conversation(conv: &Value, mapping: &Mapping, names: &Names, out: &mut VendorEvents) {
    let Some(cid) = id(conv.get("id")) else {
        out.unknown("intercom conversation without id");
        return;
    };
    let Some(created_at) = time(conv.get("created_at")) else {
        out.unknown("intercom conversation without created_at");
        return;
    };
    let tags = conv
        .get("tags")
        .map(|t| strings(t.get("tags")))
        .unwrap_or_default();
    let topic = mapping.topic(tags.iter().map(String::as_str));
    let row = |at: DateTime<Utc>, kind: EventKind| {
        let mut r = EventRow::new(cid.clone(), at, kind);
        r.topic = topic.clone();
        r
    };
    let source = conv.get("source");
    let source_type = source.and_then(|s| text(s.get("type")));
    let mut created = row(created_at, EventKind::Created);
    created.channel = source_type.map(|t| channel(t).unwrap_or_else(|| t.to_ascii_lowercase()));
    out.rows.push(created);

    let mut st = State {
        ai_name: ai_author_name(conv, mapping),
        ..State::default()
    };
    // The opening message (the conversation's `source`) is its first message.
    if let Some(author) = source
        .and_then(|s| s.get("author"))
        .filter(|a| a.is_object())
    {
        message(
            &mut st,
            row(created_at, EventKind::Message),
            author,
            mapping,
            names,
            out,
        );
    }

    let mut parts: Vec<&Value> = match conv
        .get("conversation_parts")
        .and_then(|p| p.get("conversation_parts"))
    {
        Some(Value::Array(a)) => a.iter().filter(|p| p.is_object()).collect(),
        _ => Vec::new(),
    };
    // Stable: parts with the same second keep the API's order.
    parts.sort_by_key(|p| time(p.get("created_at")));

    for p in parts {
        let Some(pt) = text(p.get("part_type")).map(str::to_ascii_lowercase) else {
            out.unknown("intercom part without part_type");
            continue;
        };
        let Some(at) = time(p.get("created_at")) else {
            out.unknown("intercom part without a time");
            continue;
        };
        let author = p.get("author").filter(|a| a.is_object());
        let actor = actor_of(&pt, author, mapping);
        let is_assign = pt.contains("assign");
        let is_reopen = pt == "open" || pt.contains("reopen");
        let is_close = pt == "close" || pt.ends_with("_close") || pt.contains("and_close");
        let is_comment = pt == "comment" || pt.starts_with("comment_");
        if !(is_assign || is_reopen || is_close || is_comment) {
            if pt == "note" || pt.starts_with("note_") {
                out.ignored("intercom internal note");
            } else if IGNORED_PARTS.contains(&pt.as_str()) {
                out.ignored(format!("intercom {pt} part"));
            } else {
                tracing::debug!("unknown intercom part type `{pt}`");
                out.unknown("unknown intercom part type");
            }
            continue;
        }
        if is_reopen {
            if st.closed {
                let mut r = row(at, EventKind::Reopened);
                r.actor = Some(actor);
                out.rows.push(r);
                st.closed = false;
            } else if !is_assign {
                out.ignored("intercom open of an open conversation");
            }
        }
        if is_assign {
            assignment(
                &mut st,
                row(at, EventKind::Assigned),
                p,
                actor,
                mapping,
                names,
                out,
            );
        }
        if is_comment {
            if let Some(a) = author {
                message(&mut st, row(at, EventKind::Message), a, mapping, names, out);
            } else {
                out.unknown("intercom comment without author");
            }
        }
        if is_close {
            if !st.closed {
                let mut r = row(at, EventKind::Resolved);
                r.actor = Some(actor);
                out.rows.push(r);
            }
            st.closed = true;
            st.saw_close = true;
        }
    }

    // What the conversation object says that the parts may not (parts are capped at 500 and
    // the AI agent's handover or resolution is not always a part of its own).
    let rs = conv
        .get("ai_agent")
        .and_then(|a| text(a.get("resolution_state")))
        .map(str::to_ascii_lowercase);
    if let Some(rs) = &rs {
        if AI_HANDOVER.contains(&rs.as_str()) && st.ai_owner {
            let admin = id(conv.get("admin_assignee_id")).filter(|a| a != "0");
            let team = id(conv.get("team_assignee_id")).filter(|t| t != "0");
            // Just before the first human reply after the AI, else after the AI's last word.
            let at = st
                .first_human_after_ai
                .or(st.last_ai_at.map(|t| (t, out.rows.len())));
            match (at, admin.is_some() || team.is_some()) {
                (Some((at, index)), true) => {
                    let mut r = row(at, EventKind::Assigned);
                    r.agent = admin.as_deref().map(|a| names.admin(a));
                    r.team = team.as_deref().map(|t| names.team(t));
                    r.owner_kind = Some(OwnerKind::Human);
                    r.actor = Some(Actor::Ai);
                    st.ai_owner = false;
                    out.rows.insert(index, r);
                }
                _ => out.ignored("intercom AI handover without an assignee"),
            }
        } else if !AI_HANDOVER.contains(&rs.as_str())
            && !AI_RESOLVED.contains(&rs.as_str())
            && !AI_OTHER.contains(&rs.as_str())
        {
            out.ignored(format!("intercom ai_agent.resolution_state `{rs}`"));
        }
    }
    let state_closed = text(conv.get("state")).is_some_and(|s| s.eq_ignore_ascii_case("closed"))
        || conv.get("open").and_then(Value::as_bool) == Some(false)
            && text(conv.get("state")).is_none();
    if state_closed && !st.saw_close {
        let at = conv
            .get("statistics")
            .and_then(|s| time(s.get("last_close_at")))
            .or_else(|| time(conv.get("updated_at")));
        if let Some(at) = at {
            let mut r = row(at, EventKind::Resolved);
            let ai_resolved = rs.as_deref().is_some_and(|r| AI_RESOLVED.contains(&r));
            r.actor = Some(if ai_resolved && st.ai_owner {
                Actor::Ai
            } else {
                Actor::Human
            });
            out.rows.push(r);
        }
    }
}

fn is_ai_author(author: &Value, mapping: &Mapping) -> bool {
    author.get("from_ai_agent").and_then(Value::as_bool) == Some(true)
        || author.get("is_ai_answer").and_then(Value::as_bool) == Some(true)
        || text(author.get("type")).is_some_and(|t| t.eq_ignore_ascii_case("bot"))
        || mapping.is_ai(id(author.get("id")).as_deref())
}

/// Assignment rules (`default_assignment`), away mode and workflows are automation; the AI
/// agent (or another bot) is `ai`; people are `human`.
fn actor_of(pt: &str, author: Option<&Value>, mapping: &Mapping) -> Actor {
    match author {
        _ if pt.contains("default") || pt.contains("away_mode") || pt.contains("workflow") => {
            Actor::Automation
        }
        Some(a) if is_ai_author(a, mapping) => Actor::Ai,
        _ => Actor::Human,
    }
}

fn message(
    st: &mut State,
    mut r: EventRow,
    author: &Value,
    mapping: &Mapping,
    names: &Names,
    out: &mut VendorEvents,
) {
    let kind = text(author.get("type")).map(str::to_ascii_lowercase);
    let aid = id(author.get("id"));
    let who = if is_ai_author(author, mapping) {
        Author::Ai
    } else {
        match kind.as_deref() {
            Some("admin") | Some("teammate") => Author::Agent,
            _ => Author::Customer,
        }
    };
    if who == Author::Ai {
        if !st.has_owner {
            // The AI agent answers a conversation nobody owns: it is the owner until it hands
            // over, so the handover can be measured (METRICS.md section 6).
            let mut a = r.clone();
            a.event = EventKind::Assigned;
            a.agent = Some(ai_name(author));
            a.team = mapping.ai_team.clone();
            a.owner_kind = Some(OwnerKind::Ai);
            a.actor = Some(Actor::Ai);
            st.has_owner = true;
            st.ai_owner = true;
            out.rows.push(a);
        }
        st.last_ai_at = Some(r.at);
        st.first_human_after_ai = None;
        r.agent = Some(ai_name(author));
        r.owner_kind = Some(OwnerKind::Ai);
    } else if who == Author::Agent {
        r.agent = Some(
            text(author.get("name"))
                .map(str::to_string)
                .or_else(|| aid.as_deref().map(|a| names.admin(a)))
                .unwrap_or_else(|| "(unknown admin)".into()),
        );
        if st.ai_owner && st.first_human_after_ai.is_none() {
            st.first_human_after_ai = Some((r.at, out.rows.len()));
        }
    }
    r.author = Some(who);
    out.rows.push(r);
}

fn ai_name(author: &Value) -> String {
    text(author.get("name")).unwrap_or("AI agent").to_string()
}

/// The name of the first AI-authored part (or opening message) of a conversation, if any.
fn ai_author_name(conv: &Value, mapping: &Mapping) -> Option<String> {
    let opening = conv.get("source").and_then(|s| s.get("author"));
    let parts = conv
        .get("conversation_parts")
        .and_then(|p| p.get("conversation_parts"))
        .and_then(Value::as_array);
    let authors = || {
        opening
            .into_iter()
            .chain(parts.into_iter().flatten().filter_map(|p| p.get("author")))
            .filter(|a| a.is_object())
    };
    // The AI agent itself (flagged, or one of `ai_agent_ids`) before any other bot.
    let flagged = |a: &Value| {
        ["from_ai_agent", "is_ai_answer"]
            .iter()
            .any(|f| a.get(*f).and_then(Value::as_bool) == Some(true))
            || mapping.is_ai(id(a.get("id")).as_deref())
    };
    authors()
        .filter(|a| flagged(a))
        .chain(authors().filter(|a| is_ai_author(a, mapping)))
        .find_map(|a| text(a.get("name")).map(str::to_string))
}

fn assignment(
    st: &mut State,
    mut r: EventRow,
    part: &Value,
    actor: Actor,
    mapping: &Mapping,
    names: &Names,
    out: &mut VendorEvents,
) {
    let to = part.get("assigned_to").filter(|a| a.is_object());
    let to_type = to
        .and_then(|t| text(t.get("type")))
        .map(str::to_ascii_lowercase);
    let to_id = to.and_then(|t| id(t.get("id"))).filter(|i| i != "0");
    let (admin, team) = match (to_type.as_deref(), to_id) {
        (Some("admin"), Some(a)) | (Some("bot"), Some(a)) => (Some(a), st.team.clone()),
        // Assigning to a team puts the conversation in the team's unassigned queue.
        (Some("team"), Some(t)) => (None, Some(t)),
        // `nobody_admin`, or no target: the admin is removed, the team stays.
        _ => (None, st.team.clone()),
    };
    if st.has_owner && !st.ai_owner && admin == st.admin && team == st.team {
        out.ignored("intercom assignment to the current owner");
        return;
    }
    let ai = to_type.as_deref() == Some("bot") || mapping.is_ai(admin.as_deref());
    r.agent = admin.as_deref().map(|a| names.admin(a));
    r.team = team.as_deref().map(|t| names.team(t));
    if ai {
        // The AI agent is an owner wherever it sits: while it holds the conversation, the team
        // is the configured AI team, not the queue it waits in (an intake queue is not an
        // owner, so Fin assigned in the inbox would otherwise drop out of the AI figures). Its
        // admin id is not in `GET /admins`: name it as its own parts do.
        r.team = mapping.ai_team.clone();
        if let Some(a) = admin.as_deref() {
            if !names.admins.contains_key(a) {
                r.agent = Some(st.ai_name.clone().unwrap_or_else(|| "AI agent".into()));
            }
        }
    }
    r.owner_kind = Some(if ai { OwnerKind::Ai } else { OwnerKind::Human });
    r.actor = Some(actor);
    if st.ai_owner && !ai && st.first_human_after_ai.is_none() {
        st.first_human_after_ai = Some((r.at, out.rows.len()));
    }
    st.admin = admin;
    st.team = team;
    st.has_owner = st.admin.is_some() || st.team.is_some();
    st.ai_owner = ai;
    out.rows.push(r);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(out: &VendorEvents) -> Vec<String> {
        out.rows
            .iter()
            .map(|r| {
                format!(
                    "{}:{}:{}",
                    r.event.as_str(),
                    r.agent.as_deref().unwrap_or("-"),
                    r.actor.map(|a| a.as_str()).unwrap_or("-")
                )
            })
            .collect()
    }

    #[test]
    fn assign_and_reopen_reopens_and_away_mode_is_automation() {
        let part = |kind: &str, at: i64, to: Value| {
            json!({"part_type": kind, "created_at": at, "assigned_to": to,
                   "author": {"type": "admin", "id": 1, "name": "Ann"}})
        };
        let conv = json!({
            "id": 5, "created_at": 100, "state": "open",
            "conversation_parts": {"conversation_parts": [
                part("assignment", 110, json!({"type": "admin", "id": 1})),
                part("close", 120, json!(null)),
                part("assign_and_reopen", 130, json!({"type": "admin", "id": 2})),
                part("away_mode_assignment", 140, json!({"type": "admin", "id": 1})),
            ]}
        });
        let export = IntercomExport {
            conversations: vec![conv],
            admins: vec![
                json!({"id": 1, "name": "Ann"}),
                json!({"id": "2", "name": "Bob"}),
            ],
            teams: vec![],
        };
        let out = to_events(&export, &Mapping::default());
        assert_eq!(
            kinds(&out),
            vec![
                "created:-:-",
                "assigned:Ann:human",
                "resolved:-:human",
                "reopened:-:human",
                "assigned:Bob:human",
                "assigned:Ann:automation",
            ]
        );
    }

    #[test]
    fn a_closed_conversation_without_parts_is_resolved_at_its_last_close() {
        let export = IntercomExport {
            conversations: vec![
                json!({"id": "x", "created_at": 100, "updated_at": 900, "state": "closed",
                       "statistics": {"last_close_at": 500}}),
                json!({"id": null, "created_at": 100}),
            ],
            ..Default::default()
        };
        let out = to_events(&export, &Mapping::default());
        assert_eq!(kinds(&out), vec!["created:-:-", "resolved:-:human"]);
        assert_eq!(out.rows[1].at.timestamp(), 500);
        assert_eq!(
            out.unknown.get("intercom conversation without id"),
            Some(&1)
        );
    }
}
