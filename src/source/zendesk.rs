//! Zendesk Support over HTTP: the incremental ticket-event and ticket exports, groups and
//! users (SOURCES.md). The JSON becomes canonical rows in `crate::ingest::zendesk`.

use super::cache::Cache;
use super::http::{Fetcher, Request};
use super::stream::{PageInfo, Reopen, Stream};
use super::{PullWindow, SourceError};
use crate::config::ZendeskSource;
use crate::ingest::vendor::{id, Mapping, VendorEvents};
use crate::ingest::zendesk::{to_events, user_ids, ZendeskExport};
use chrono::{Duration, Utc};
use reqwest::Url;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use tokio::task::JoinSet;

/// Users named per `show_many` request (the API's limit).
const USERS_PER_REQUEST: usize = 100;
/// How far behind real time the incremental exports may lag: a window ending less than this
/// ago is pulled again from its last cursor on the next run.
const EXPORT_LAG_MINUTES: i64 = 5;

pub async fn pull(
    src: &ZendeskSource,
    window: &PullWindow,
    fetcher: &Fetcher,
    cache: &Cache,
) -> Result<(VendorEvents, u64), SourceError> {
    let base = super::base_url(fetcher.name(), &src.base_url)?;
    let start = window.start.timestamp().max(0);
    let end = window.end.timestamp();
    let closed = Utc::now() - Duration::minutes(EXPORT_LAG_MINUTES) >= window.end;

    let mut events_url = base.join("api/v2/incremental/ticket_events.json").unwrap();
    events_url
        .query_pairs_mut()
        .append_pair("start_time", &start.to_string())
        .append_pair("include", "comment_events")
        // Without this, AI-agent activity is left out (SOURCES.md).
        .append_pair("support_type_scope", "all");
    let events = Stream {
        ns: "zendesk ticket events",
        key: format!("{base}|ticket_events|{start}"),
        // Oldest first: what is new comes after the last page.
        reopen: Reopen::LastPage,
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut ticket_events: Vec<Value> = Vec::new();
    let mut unkeyed = 0usize;
    let events_fut = events.pull(
        fetcher,
        cache,
        |cursor| next_url(fetcher, &base, &events_url, cursor),
        |body, _| {
            let rows = array(body, "ticket_events")?;
            let end_of_stream = body.get("end_of_stream").and_then(Value::as_bool) == Some(true);
            let end_time = body.get("end_time").and_then(Value::as_i64);
            let past_window = end_time.is_some_and(|t| t >= end);
            Ok(PageInfo {
                items: rows.len(),
                next: body
                    .get("next_page")
                    .and_then(Value::as_str)
                    .map(|s| Value::String(s.to_string())),
                last: end_of_stream || past_window,
                complete: past_window || (end_of_stream && closed),
            })
        },
        |body| {
            // Pages repeat rows at their edges: the event id decides.
            for row in body
                .get("ticket_events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match id(row.get("id")) {
                    Some(k) => {
                        if seen.insert(k) {
                            ticket_events.push(row.clone());
                        }
                    }
                    None => {
                        unkeyed += 1;
                        ticket_events.push(row.clone())
                    }
                }
            }
        },
    );

    let mut tickets_url = base.join("api/v2/incremental/tickets/cursor.json").unwrap();
    tickets_url
        .query_pairs_mut()
        .append_pair("start_time", &start.to_string())
        .append_pair("support_type_scope", "all");
    let tickets_stream = Stream {
        ns: "zendesk tickets",
        key: format!("{base}|tickets|{start}"),
        reopen: Reopen::LastPage,
    };
    let mut tickets_by_id: BTreeMap<String, Value> = BTreeMap::new();
    let tickets_fut = tickets_stream.pull(
        fetcher,
        cache,
        |cursor| match cursor {
            None => Ok(Request::get(tickets_url.clone())),
            Some(c) => {
                let mut u = base.join("api/v2/incremental/tickets/cursor.json").unwrap();
                u.query_pairs_mut()
                    .append_pair("cursor", c.as_str().unwrap_or_default())
                    .append_pair("support_type_scope", "all");
                Ok(Request::get(u))
            }
        },
        |body, _| {
            let rows = array(body, "tickets")?;
            let end_of_stream = body.get("end_of_stream").and_then(Value::as_bool) == Some(true);
            Ok(PageInfo {
                items: rows.len(),
                next: body
                    .get("after_cursor")
                    .and_then(Value::as_str)
                    .map(|s| Value::String(s.to_string())),
                last: end_of_stream,
                complete: end_of_stream && closed,
            })
        },
        |body| {
            // A ticket updated twice appears twice: the later version wins.
            for t in body
                .get("tickets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(k) = id(t.get("id")) {
                    tickets_by_id.insert(k, t.clone());
                }
            }
        },
    );

    let groups_stream = Stream {
        ns: "zendesk groups",
        key: format!("{base}|groups"),
        reopen: Reopen::LastPage,
    };
    // Names are asked for on every pull (never from the cache): new and renamed groups.
    let no_cache = Cache::new(None, fetcher.name());
    let groups_url = base.join("api/v2/groups.json").unwrap();
    let mut groups: Vec<Value> = Vec::new();
    let groups_fut = groups_stream.pull(
        fetcher,
        &no_cache,
        |cursor| next_url(fetcher, &base, &groups_url, cursor),
        |body, _| {
            let rows = array(body, "groups")?;
            let next = body
                .get("next_page")
                .and_then(Value::as_str)
                .map(|s| Value::String(s.to_string()));
            Ok(PageInfo {
                items: rows.len(),
                last: next.is_none(),
                complete: next.is_none(),
                next,
            })
        },
        |body| {
            groups.extend(
                body.get("groups")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .cloned(),
            )
        },
    );

    let (c1, c2, c3) = tokio::try_join!(events_fut, tickets_fut, groups_fut)?;
    if unkeyed > 0 {
        tracing::warn!(
            source = fetcher.name(),
            "{unkeyed} ticket events had no id and could not be de-duplicated"
        );
    }
    let tickets: Vec<Value> = tickets_by_id.into_values().collect();
    let users = pull_users(fetcher, &base, user_ids(&ticket_events, &tickets)).await?;
    let export = ZendeskExport {
        ticket_events,
        tickets,
        users,
        groups,
    };
    let out = to_events(&export, &Mapping::zendesk(src));
    Ok((out, c1 + c2 + c3))
}

/// Names the users with `show_many`, batches in parallel (the fetcher bounds requests in
/// flight to `concurrency`). Asked for on every pull, never from the cache: a renamed agent is
/// named as they are now.
async fn pull_users(
    fetcher: &Fetcher,
    base: &Url,
    ids: BTreeSet<String>,
) -> Result<Vec<Value>, SourceError> {
    let mut users = Vec::new();
    let ids: Vec<String> = ids.into_iter().collect();
    let mut tasks = JoinSet::new();
    for batch in ids.chunks(USERS_PER_REQUEST) {
        let mut url = base.join("api/v2/users/show_many.json").unwrap();
        url.query_pairs_mut().append_pair("ids", &batch.join(","));
        let f = fetcher.clone();
        tasks.spawn(async move { f.json(&Request::get(url)).await });
    }
    while let Some(done) = tasks.join_next().await {
        let body = done.map_err(|e| SourceError::Http {
            name: fetcher.name().to_string(),
            message: format!("a users request panicked: {e}"),
        })??;
        let page = array(&body, "users").map_err(|reason| SourceError::Shape {
            name: fetcher.name().to_string(),
            request: "GET users/show_many.json".into(),
            reason,
        })?;
        fetcher
            .progress
            .page("zendesk users", page.len() as u64, false);
        users.extend(page.iter().cloned());
    }
    // Same order every run, whatever order the requests finished in.
    users.sort_by_key(|u| id(u.get("id")));
    Ok(users)
}

/// The first URL, or the vendor's `next_page` URL, which must stay on the configured host
/// (credentials are never sent anywhere else).
fn next_url(
    fetcher: &Fetcher,
    base: &Url,
    first: &Url,
    cursor: Option<&Value>,
) -> Result<Request, SourceError> {
    let Some(c) = cursor else {
        return Ok(Request::get(first.clone()));
    };
    let shape = |reason: String| SourceError::Shape {
        name: fetcher.name().to_string(),
        request: format!("GET {}", fetcher.redactor.url(first)),
        reason,
    };
    let text = c
        .as_str()
        .ok_or_else(|| shape("next_page is not a URL".into()))?;
    let url = base
        .join(text)
        .map_err(|e| shape(format!("next_page is not a URL ({e})")))?;
    if url.origin() != base.origin() {
        return Err(shape(format!(
            "next_page points to another host ({}); not following it with our credentials",
            fetcher.redactor.url(&url)
        )));
    }
    Ok(Request::get(url))
}

/// The list `field` of a page; null is an empty list, a missing field is the wrong endpoint.
pub(super) fn array<'a>(body: &'a Value, field: &str) -> Result<&'a Vec<Value>, String> {
    static EMPTY: Vec<Value> = Vec::new();
    match body.get(field) {
        Some(Value::Array(a)) => Ok(a),
        Some(Value::Null) => Ok(&EMPTY),
        None => Err(format!("no `{field}` list in the answer")),
        Some(_) => Err(format!("`{field}` is not a list")),
    }
}
