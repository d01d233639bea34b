//! What the vendor adapters (Zendesk, Intercom) share: tolerant readers for vendor JSON (ids as
//! numbers or strings, nulls anywhere), the mapping options from `[sources.NAME]`, and the
//! result type that becomes canonical events.

use super::{normalise, rows_to_frame, EventRow, IngestError, Ingested};
use crate::config::{IntercomSource, SourceConfig, ZendeskSource};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// The canonical rows an adapter built, and the vendor records it did not turn into rows.
#[derive(Debug, Default, Clone)]
pub struct VendorEvents {
    pub rows: Vec<EventRow>,
    /// Records of a kind the adapter does not know, by reason. They also go into the
    /// quarantine counts (without a row): SOURCES.md "unknown event kinds are skipped and counted".
    pub unknown: BTreeMap<String, usize>,
    /// Known records that are not canonical events (internal notes, bot chatter, fields baton
    /// does not use), by reason: reported, not quarantined.
    pub ignored: BTreeMap<String, usize>,
}

impl VendorEvents {
    pub fn unknown(&mut self, reason: impl Into<String>) {
        *self.unknown.entry(reason.into()).or_default() += 1;
    }
    pub fn ignored(&mut self, reason: impl Into<String>) {
        *self.ignored.entry(reason.into()).or_default() += 1;
    }

    /// Validates the rows like any export and adds the unknown-kind counts to the quarantine.
    pub fn into_ingested(self) -> Result<Ingested, IngestError> {
        let frame = rows_to_frame(&self.rows)?;
        let mut ingested = normalise(frame, &BTreeMap::new(), None)?;
        for (reason, n) in self.unknown {
            *ingested.quarantine.counts.entry(reason).or_default() += n;
        }
        Ok(ingested)
    }
}

/// How vendor data maps onto canonical values: the parts of `[sources.NAME]` adapters use.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// Vendor ids (users, admins, bots) that are AI agents.
    pub ai_agent_ids: Vec<String>,
    /// Team of the AI agent when it owns a conversation.
    pub ai_team: Option<String>,
    /// Tag -> reason.
    pub tag_reasons: BTreeMap<String, String>,
    /// Tag -> topic.
    pub tag_topics: BTreeMap<String, String>,
}

impl Mapping {
    /// The mapping options of a source; a canonical export has none (its rows are canonical).
    pub fn from_source(src: &SourceConfig) -> Mapping {
        match src {
            SourceConfig::Canonical(_) => Mapping::default(),
            SourceConfig::Zendesk(z) => Mapping::zendesk(z),
            SourceConfig::Intercom(i) => Mapping::intercom(i),
        }
    }
    pub fn zendesk(src: &ZendeskSource) -> Mapping {
        Mapping {
            ai_agent_ids: src.ai_agent_ids.clone(),
            ai_team: src.ai_team.clone(),
            tag_reasons: src.tag_reasons.clone(),
            tag_topics: src.tag_topics.clone(),
        }
    }
    pub fn intercom(src: &IntercomSource) -> Mapping {
        Mapping {
            ai_agent_ids: src.ai_agent_ids.clone(),
            ai_team: src.ai_team.clone(),
            // Intercom sources take no `tag_reasons` (see `IntercomSource`).
            tag_reasons: BTreeMap::new(),
            tag_topics: src.tag_topics.clone(),
        }
    }
    pub fn is_ai(&self, id: Option<&str>) -> bool {
        id.is_some_and(|id| self.ai_agent_ids.iter().any(|a| a == id))
    }
    /// The topic of the first tag that names one.
    pub fn topic<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Option<String> {
        tags.into_iter()
            .find_map(|t| self.tag_topics.get(t).cloned())
    }
    /// The reason of the first tag that names one.
    pub fn reason<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Option<String> {
        tags.into_iter()
            .find_map(|t| self.tag_reasons.get(t).cloned())
    }
}

/// An id given as a number or a string; null, empty and other shapes are none.
pub fn id(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-empty string field.
pub fn text(v: Option<&Value>) -> Option<&str> {
    v?.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A time given as Unix seconds (number or numeric string) or RFC 3339 text.
pub fn time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::Number(n) => {
            let secs = n.as_f64()?;
            DateTime::from_timestamp_micros((secs * 1e6).round() as i64)
        }
        Value::String(s) => {
            let s = s.trim();
            if let Ok(d) = DateTime::parse_from_rfc3339(s) {
                return Some(d.with_timezone(&Utc));
            }
            s.parse::<f64>()
                .ok()
                .and_then(|secs| DateTime::from_timestamp_micros((secs * 1e6).round() as i64))
        }
        _ => None,
    }
}

/// A list of strings (tags); anything else is empty.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("name").and_then(|n| n.as_str()).map(str::to_string),
                _ => None,
            })
            .collect(),
        // Zendesk audits sometimes give tags as one space-separated string.
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// The canonical channel for a vendor's channel name: the real-time and messaging channels
/// keep their identity, voice is "phone", messenger chats are "chat". `None` for names that
/// say how an update was made rather than where the customer is (web form, API, rules).
pub fn channel(vendor: &str) -> Option<String> {
    let v = vendor.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    let c = match v.as_str() {
        "mail" | "email" | "e_mail" => "email",
        "chat" | "chat_transcript" | "native_messaging" | "messaging" | "conversation"
        | "messenger" | "web_messenger" => "chat",
        "voice"
        | "phone"
        | "phone_call"
        | "call"
        | "talk"
        | "phone_call_inbound"
        | "phone_call_outbound" => "phone",
        "sms" | "text" => "sms",
        "whatsapp" | "facebook" | "twitter" | "instagram" | "line" | "wechat" | "telegram"
        | "any_channel" | "x" => return Some(v),
        _ if v.contains("voice") || v.contains("phone") => "phone",
        _ => return None,
    };
    Some(c.to_string())
}
