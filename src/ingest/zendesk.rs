//! Zendesk Support -> canonical events (SOURCES.md "Zendesk Support"; mapping in
//! docs/sources.md). Input is the JSON the API returns; `crate::source` does the HTTP.
//!
//! Ticket events are replayed in time order per ticket, keeping each ticket's assignee, group,
//! status and channel, because one audit can change several fields and a `Change` only names
//! the field it changed: an `assigned` row always carries the whole owner (agent and team).

use super::vendor::{channel, id, strings, text, time, Mapping, VendorEvents};
use super::{Actor, Author, EventKind, EventRow, OwnerKind};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What a Zendesk pull gathered: the rows of each endpoint, as the API gave them.
#[derive(Debug, Default, Clone)]
pub struct ZendeskExport {
    /// `ticket_events` rows, already de-duplicated on `id`.
    pub ticket_events: Vec<Value>,
    /// `tickets` rows (incremental cursor export).
    pub tickets: Vec<Value>,
    /// `users` rows (`id`, `name`, `role`).
    pub users: Vec<Value>,
    /// `groups` rows (`id`, `name`).
    pub groups: Vec<Value>,
}

/// Child event kinds that exist but are not canonical events (not counted as unknown).
const IGNORED_KINDS: [&str; 22] = [
    "Notification",
    "Cc",
    "Error",
    "External",
    "FacebookEvent",
    "LogMeInTranscript",
    "Push",
    "SatisfactionRating",
    "Tweet",
    "SMS",
    "TicketSharingEvent",
    "OrganizationActivity",
    "AgentMacroReference",
    "CommentPrivacyChange",
    "CommentRedactionEvent",
    "AttachmentRedactionEvent",
    "ChatStartedEvent",
    "ChatEndedEvent",
    "Translatable",
    "FollowerChange",
    "EmailCcChange",
    "FollowerNotification",
];

/// Fields whose changes baton uses.
const OWNER_FIELDS: [&str; 4] = ["assignee_id", "group_id", "status", "tags"];

/// The user ids a pull must name (assignees, comment authors, updaters, requesters).
pub fn user_ids(ticket_events: &[Value], tickets: &[Value]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in ticket_events {
        out.extend(id(e.get("updater_id")));
        for c in children(e) {
            out.extend(id(c.get("author_id")));
            out.extend(id(c.get("assignee_id")));
        }
    }
    for t in tickets {
        out.extend(id(t.get("requester_id")));
        out.extend(id(t.get("assignee_id")));
    }
    // Zendesk uses -1 for "the system".
    out.retain(|u| u != "-1" && u != "0");
    out
}

struct User {
    name: Option<String>,
    role: Option<String>,
}

struct Ticket {
    channel: Option<String>,
    requester: Option<String>,
    topic: Option<String>,
}

#[derive(Default)]
struct State {
    assignee: Option<String>,
    group: Option<String>,
    status: Option<String>,
    channel: Option<String>,
    /// The AI agent owns the ticket (see `ai_takes_over`).
    ai_owner: bool,
    has_owner: bool,
}

/// Turns a Zendesk export into canonical rows.
pub fn to_events(export: &ZendeskExport, mapping: &Mapping) -> VendorEvents {
    let mut out = VendorEvents::default();
    let users: BTreeMap<String, User> = export
        .users
        .iter()
        .filter_map(|u| {
            Some((
                id(u.get("id"))?,
                User {
                    name: text(u.get("name")).map(str::to_string),
                    role: text(u.get("role")).map(str::to_ascii_lowercase),
                },
            ))
        })
        .collect();
    let groups: BTreeMap<String, String> = export
        .groups
        .iter()
        .filter_map(|g| Some((id(g.get("id"))?, text(g.get("name"))?.to_string())))
        .collect();
    let tickets: BTreeMap<String, Ticket> = export
        .tickets
        .iter()
        .filter_map(|t| {
            let tags = strings(t.get("tags"));
            Some((
                id(t.get("id"))?,
                Ticket {
                    channel: t
                        .get("via")
                        .and_then(|v| text(v.get("channel")))
                        .and_then(created_channel),
                    requester: id(t.get("requester_id")),
                    topic: mapping.topic(tags.iter().map(String::as_str)),
                },
            ))
        })
        .collect();

    // Time order, then event id: the order Zendesk applied the audits in.
    let mut audits: Vec<(&Value, String, DateTime<Utc>)> = Vec::new();
    for e in &export.ticket_events {
        let Some(ticket) = id(e.get("ticket_id")) else {
            out.unknown("zendesk event without ticket_id");
            continue;
        };
        let Some(at) = time(e.get("timestamp")).or_else(|| time(e.get("created_at"))) else {
            out.unknown("zendesk event without a time");
            continue;
        };
        audits.push((e, ticket, at));
    }
    audits.sort_by(|a, b| {
        (a.2, num_id(a.0))
            .partial_cmp(&(b.2, num_id(b.0)))
            .unwrap_or(std::cmp::Ordering::Equal)
    });

    let names = Names {
        users: &users,
        groups: &groups,
    };
    let mut states: BTreeMap<String, State> = BTreeMap::new();
    for (e, ticket_id, at) in audits {
        let ticket = tickets.get(&ticket_id);
        let st = states.entry(ticket_id.clone()).or_default();
        let mut audit = Audit::new(&ticket_id, at, ticket);
        audit.read(e, st, &mut out);
        audit.emit(e, st, mapping, &names, &mut out);
    }
    out
}

struct Names<'a> {
    users: &'a BTreeMap<String, User>,
    groups: &'a BTreeMap<String, String>,
}

impl Names<'_> {
    fn user(&self, uid: &str) -> String {
        self.users
            .get(uid)
            .and_then(|u| u.name.clone())
            .unwrap_or_else(|| format!("user {uid}"))
    }
    fn group(&self, gid: &str) -> String {
        self.groups
            .get(gid)
            .cloned()
            .unwrap_or_else(|| format!("group {gid}"))
    }
}

/// What one audit (a `ticket_events` row) did, gathered from its child events.
struct Audit<'a> {
    ticket_id: &'a str,
    at: DateTime<Utc>,
    ticket: Option<&'a Ticket>,
    topic: Option<String>,
    created: bool,
    created_channel: Option<String>,
    assignee: Option<Option<String>>,
    group: Option<Option<String>>,
    prev_status: Option<String>,
    status: Option<String>,
    added_tags: Vec<String>,
    /// (author id, channel of the comment, via of the comment)
    comments: Vec<(Option<String>, Option<String>, Option<String>)>,
    via: Option<String>,
}

impl<'a> Audit<'a> {
    fn new(ticket_id: &'a str, at: DateTime<Utc>, ticket: Option<&'a Ticket>) -> Audit<'a> {
        Audit {
            ticket_id,
            at,
            ticket,
            topic: ticket.and_then(|t| t.topic.clone()),
            created: false,
            created_channel: None,
            assignee: None,
            group: None,
            prev_status: None,
            status: None,
            added_tags: Vec::new(),
            comments: Vec::new(),
            via: None,
        }
    }

    fn read(&mut self, e: &Value, st: &mut State, out: &mut VendorEvents) {
        self.via = via_name(e.get("via"));
        let kind = text(e.get("event_type")).unwrap_or("Audit");
        let kids = children(e);
        if kids.is_empty() && kind != "Audit" {
            count_kind(kind, out);
            return;
        }
        for c in kids {
            let ckind = text(c.get("event_type")).unwrap_or("");
            let cvia = via_name(c.get("via")).or_else(|| self.via.clone());
            match ckind {
                "Create" | "Change" => {
                    if ckind == "Create" {
                        if !self.created {
                            self.created_channel = cvia.as_deref().and_then(created_channel);
                        }
                        self.created = true;
                    }
                    let fields: Vec<&str> = OWNER_FIELDS
                        .iter()
                        .copied()
                        .filter(|f| c.get(*f).is_some())
                        .collect();
                    if fields.is_empty() && ckind == "Change" {
                        out.ignored("zendesk change of a field baton does not use");
                    }
                    // `previous_value` belongs to a Change's one field; a Create has none.
                    let prev = (fields.len() == 1)
                        .then(|| c.get("previous_value"))
                        .flatten();
                    for field in fields {
                        let value = c.get(field);
                        match field {
                            "assignee_id" => {
                                if st.assignee.is_none() && !st.has_owner {
                                    st.assignee = id(prev);
                                }
                                self.assignee = Some(id(value));
                            }
                            "group_id" => {
                                if st.group.is_none() && !st.has_owner {
                                    st.group = id(prev);
                                }
                                self.group = Some(id(value));
                            }
                            "status" => {
                                if st.status.is_none() {
                                    st.status = text(prev).map(str::to_ascii_lowercase);
                                }
                                self.status = text(value).map(str::to_ascii_lowercase);
                            }
                            _ => {
                                let before: BTreeSet<String> = strings(prev).into_iter().collect();
                                self.added_tags.extend(
                                    strings(value).into_iter().filter(|t| !before.contains(t)),
                                );
                            }
                        }
                    }
                }
                "Comment" | "VoiceComment" => {
                    if c.get("public").and_then(Value::as_bool) == Some(false) {
                        out.ignored("zendesk internal note (private comment)");
                        continue;
                    }
                    let ch = if ckind == "VoiceComment" {
                        Some("phone".to_string())
                    } else {
                        cvia.as_deref().and_then(channel)
                    };
                    self.comments.push((id(c.get("author_id")), ch, cvia));
                }
                other => count_kind(other, out),
            }
        }
        self.prev_status = st.status.clone();
    }

    fn row(&self, kind: EventKind) -> EventRow {
        let mut r = EventRow::new(self.ticket_id, self.at, kind);
        r.topic = self.topic.clone();
        r
    }

    fn emit(
        &mut self,
        e: &Value,
        st: &mut State,
        mapping: &Mapping,
        names: &Names,
        out: &mut VendorEvents,
    ) {
        let updater = id(e.get("updater_id"));
        let actor = actor_of(self.via.as_deref(), updater.as_deref(), mapping);
        let reason = mapping.reason(self.added_tags.iter().map(String::as_str));
        let resolved_states = ["solved", "closed"];
        let was_done = self
            .prev_status
            .as_deref()
            .is_some_and(|s| resolved_states.contains(&s));
        let now_done = self.status.as_deref().map(|s| resolved_states.contains(&s));

        if self.created {
            let mut r = self.row(EventKind::Created);
            let ch = self
                .ticket
                .and_then(|t| t.channel.clone())
                .or_else(|| self.created_channel.clone());
            r.channel = ch.clone();
            st.channel = ch;
            out.rows.push(r);
        }
        if now_done == Some(false) && was_done {
            let mut r = self.row(EventKind::Reopened);
            r.actor = Some(actor);
            out.rows.push(r);
        }
        // Ownership: one row for everything this audit changed about the owner.
        if self.assignee.is_some() || self.group.is_some() {
            let assignee = self.assignee.clone().unwrap_or_else(|| st.assignee.clone());
            let group = self.group.clone().unwrap_or_else(|| st.group.clone());
            let changed = assignee != st.assignee || group != st.group || !st.has_owner;
            st.assignee = assignee.clone();
            st.group = group.clone();
            if changed {
                let mut r = self.row(EventKind::Assigned);
                let ai = mapping.is_ai(assignee.as_deref());
                r.agent = assignee.as_deref().map(|u| names.user(u));
                r.team = group.as_deref().map(|g| names.group(g));
                if ai {
                    // The AI agent is an owner wherever it sits: its team is the configured
                    // AI team, not the group it waits in (an intake group is not an owner).
                    r.team = mapping.ai_team.clone();
                }
                r.owner_kind = Some(if ai { OwnerKind::Ai } else { OwnerKind::Human });
                r.actor = Some(actor);
                r.reason = reason.clone();
                r.channel = self.switch_channel(st, self.via.as_deref().and_then(channel));
                st.has_owner = assignee.is_some() || group.is_some();
                st.ai_owner = ai;
                out.rows.push(r);
            }
        }
        for (author, ch, cvia) in std::mem::take(&mut self.comments) {
            let requester = self.ticket.and_then(|t| t.requester.as_deref());
            let kind = author_kind(
                author.as_deref(),
                cvia.as_deref(),
                requester,
                names,
                mapping,
            );
            if kind == Author::Ai && !st.has_owner {
                // The AI agent answers a ticket nobody owns: it is the owner until it hands
                // over, so the handover can be measured (METRICS.md section 6).
                let mut r = self.row(EventKind::Assigned);
                r.agent = Some(
                    author
                        .as_deref()
                        .map(|u| names.user(u))
                        .unwrap_or_else(|| "AI agent".into()),
                );
                r.team = mapping.ai_team.clone();
                r.owner_kind = Some(OwnerKind::Ai);
                r.actor = Some(Actor::Ai);
                st.has_owner = true;
                st.ai_owner = true;
                out.rows.push(r);
            }
            let mut r = self.row(EventKind::Message);
            r.author = Some(kind);
            r.owner_kind = Some(if kind == Author::Ai {
                OwnerKind::Ai
            } else {
                OwnerKind::Human
            });
            if kind != Author::Customer {
                r.agent = author.as_deref().map(|u| names.user(u));
            }
            r.channel = self.switch_channel(st, ch);
            out.rows.push(r);
        }
        if now_done == Some(true) && !was_done {
            let mut r = self.row(EventKind::Resolved);
            r.actor = Some(actor);
            out.rows.push(r);
        }
        if let Some(s) = &self.status {
            st.status = Some(s.clone());
        }
    }

    /// The channel to write on a row: only when it moves the ticket to another channel.
    /// Web forms and email are one asynchronous channel here (a web-form ticket is answered by
    /// email), so only moves to or between real-time channels count.
    fn switch_channel(&self, st: &mut State, ch: Option<String>) -> Option<String> {
        let ch = ch?;
        let same = |a: &str, b: &str| {
            let norm = |x: &str| if x == "web" { "email" } else { x }.to_string();
            norm(a) == norm(b)
        };
        match &st.channel {
            Some(cur) if same(cur, &ch) => None,
            _ => {
                st.channel = Some(ch.clone());
                Some(ch)
            }
        }
    }
}

fn count_kind(kind: &str, out: &mut VendorEvents) {
    if IGNORED_KINDS.contains(&kind) {
        out.ignored(format!("zendesk {kind} event"));
    } else {
        tracing::debug!("unknown zendesk event kind `{kind}`");
        out.unknown("unknown zendesk event kind");
    }
}

fn children(e: &Value) -> Vec<&Value> {
    match e.get("child_events") {
        Some(Value::Array(a)) => a.iter().filter(|c| c.is_object()).collect(),
        _ => Vec::new(),
    }
}

fn num_id(e: &Value) -> f64 {
    id(e.get("id"))
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// `via` as a lower-case name: a string ("Web form", "Rule") or an object with `channel`.
fn via_name(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_ascii_lowercase()),
        Value::Object(o) => o
            .get("channel")
            .and_then(|c| c.as_str())
            .map(|s| s.trim().to_ascii_lowercase()),
        _ => None,
    }
}

/// The channel of a new ticket: any canonical channel, plus `web` and `api`.
fn created_channel(via: &str) -> Option<String> {
    channel(via).or_else(|| {
        let v = via.trim().to_ascii_lowercase();
        match v.as_str() {
            "web" | "web form" | "web_form" | "web_widget" | "help_center" => Some("web".into()),
            "api" | "web service" | "web_service" => Some("api".into()),
            _ => None,
        }
    })
}

fn is_automation(via: &str) -> bool {
    [
        "rule",
        "system",
        "automation",
        "trigger",
        "closed_ticket",
        "closed ticket",
        "merge",
        "sla",
    ]
    .iter()
    .any(|k| via.contains(k))
}

fn is_ai_via(via: &str) -> bool {
    ["answer_bot", "answer bot", "ai_agent", "ai agent", "bot"]
        .iter()
        .any(|k| via.contains(k))
}

fn actor_of(via: Option<&str>, updater: Option<&str>, mapping: &Mapping) -> Actor {
    match via {
        Some(v) if is_automation(v) => Actor::Automation,
        Some(v) if is_ai_via(v) => Actor::Ai,
        _ if mapping.is_ai(updater) => Actor::Ai,
        // Zendesk's own user id for "the system".
        _ if updater == Some("-1") => Actor::Automation,
        _ => Actor::Human,
    }
}

fn author_kind(
    author: Option<&str>,
    via: Option<&str>,
    requester: Option<&str>,
    names: &Names,
    mapping: &Mapping,
) -> Author {
    if mapping.is_ai(author) || via.is_some_and(is_ai_via) {
        return Author::Ai;
    }
    let role = author
        .and_then(|a| names.users.get(a))
        .and_then(|u| u.role.as_deref());
    match role {
        Some("end-user") | Some("end_user") | Some("enduser") => Author::Customer,
        Some(_) => Author::Agent,
        // An unknown user: the requester is the customer, anyone else works there.
        None if author.is_some() && author == requester => Author::Customer,
        None => Author::Agent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn audit(id: i64, ticket: Value, ts: i64, via: &str, kids: Value) -> Value {
        json!({"id": id, "ticket_id": ticket, "timestamp": ts, "updater_id": 2, "via": via,
               "event_type": "Audit", "child_events": kids})
    }

    fn summary(out: &VendorEvents) -> Vec<String> {
        out.rows
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r.conversation_id,
                    r.event.as_str(),
                    r.agent.as_deref().unwrap_or("-"),
                    r.team.as_deref().unwrap_or("-")
                )
            })
            .collect()
    }

    #[test]
    fn solved_then_closed_is_one_resolution_and_ids_of_either_type_are_one_ticket() {
        let export = ZendeskExport {
            ticket_events: vec![
                audit(
                    1,
                    json!(7),
                    100,
                    "Web form",
                    json!([
                        {"event_type": "Create", "status": "new"},
                        {"event_type": "Create", "group_id": 1, "assignee_id": null},
                    ]),
                ),
                // The same ticket, its id as a string; group change only: the (unset) assignee
                // stays unset and the new group is the owner.
                audit(
                    2,
                    json!("7"),
                    200,
                    "Web form",
                    json!([
                        {"event_type": "Change", "group_id": "2", "previous_value": "1"},
                    ]),
                ),
                audit(
                    3,
                    json!(7),
                    300,
                    "Web form",
                    json!([
                        {"event_type": "Change", "status": "solved", "previous_value": "new"},
                    ]),
                ),
                // Closing a solved ticket (an automation, days later) is not a second resolution.
                audit(
                    4,
                    json!(7),
                    400,
                    "Closed ticket",
                    json!([
                        {"event_type": "Change", "status": "closed", "previous_value": "solved"},
                    ]),
                ),
                audit(5, json!(null), 500, "Web form", json!([])),
            ],
            groups: vec![
                json!({"id": 1, "name": "Triage"}),
                json!({"id": "2", "name": "Billing"}),
            ],
            ..Default::default()
        };
        let out = to_events(&export, &Mapping::default());
        assert_eq!(
            summary(&out),
            vec![
                "7 created - -",
                "7 assigned - Triage",
                "7 assigned - Billing",
                "7 resolved - -"
            ]
        );
        assert_eq!(out.unknown.get("zendesk event without ticket_id"), Some(&1));
    }

    #[test]
    fn rule_moves_are_automation_and_unknown_users_fall_back_to_ids() {
        let export = ZendeskExport {
            ticket_events: vec![audit(
                1,
                json!(8),
                100,
                "Rule",
                json!([
                    {"event_type": "Change", "assignee_id": 99, "previous_value": null},
                ]),
            )],
            ..Default::default()
        };
        let out = to_events(&export, &Mapping::default());
        assert_eq!(out.rows.len(), 1);
        assert_eq!(out.rows[0].actor, Some(Actor::Automation));
        assert_eq!(out.rows[0].agent.as_deref(), Some("user 99"));
    }
}
