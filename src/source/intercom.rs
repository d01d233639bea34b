//! Intercom over HTTP: conversations listed (or searched by `updated_at`), then each one with
//! its parts, plus admins and teams for names (SOURCES.md). The JSON becomes canonical rows in
//! `crate::ingest::intercom`.

use super::cache::Cache;
use super::cache::SavedPage;
use super::http::{Fetcher, Request};
use super::stream::{PageInfo, Reopen, Stream};
use super::zendesk::array;
use super::{PullWindow, SourceError};
use crate::config::IntercomSource;
use crate::ingest::intercom::{to_events, IntercomExport};
use crate::ingest::vendor::{id, time, Mapping, VendorEvents};
use chrono::{DateTime, Duration, Utc};
use reqwest::header::{HeaderName, HeaderValue, ACCEPT};
use reqwest::Url;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio::task::JoinSet;

/// The API version asked for when the config names none.
pub const DEFAULT_VERSION: &str = "2.14";
const PER_PAGE: u32 = 150;
const LAG_MINUTES: i64 = 5;

pub async fn pull(
    src: &IntercomSource,
    window: &PullWindow,
    fetcher: &Fetcher,
    cache: &Cache,
) -> Result<(VendorEvents, u64), SourceError> {
    let fetcher = &with_version_headers(fetcher, src)?;
    let base = super::base_url(fetcher.name(), &src.base_url)?;
    let closed = Utc::now() - Duration::minutes(LAG_MINUTES) >= window.end;
    let bounded = window.start > DateTime::<Utc>::UNIX_EPOCH;
    let start = window.start.timestamp().max(0);

    // 1. Which conversations: every one (list), or those updated since the window opened
    //    (search). Conversations created after the window are of no use.
    let list_url = base.join("conversations").unwrap();
    let search_url = base.join("conversations/search").unwrap();
    let listing = Stream {
        ns: "intercom conversations",
        key: if bounded {
            format!("{base}|search|{start}")
        } else {
            format!("{base}|list")
        },
        // The listing is newest first, so what was added or updated since a finished listing
        // is not after its last page: it is asked for by a search on `updated_at` from the
        // latest update saved (the same second again: merging keeps the newest copy).
        reopen: Reopen::From(Box::new(move |pages: &[SavedPage]| {
            let latest = pages
                .iter()
                .flat_map(|p| {
                    p.body
                        .get("conversations")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                .filter_map(|c| time(c.get("updated_at")))
                .map(|t| t.timestamp())
                .max()
                .unwrap_or(start);
            json!({ "since": latest.max(start) })
        })),
    };
    let mut summaries: BTreeMap<String, Value> = BTreeMap::new();
    let mut cached = listing
        .pull(
            fetcher,
            cache,
            |cursor| {
                // A search since a time (the listing taken up again), else the window's own
                // listing or search.
                let (since, after) = match cursor {
                    Some(Value::Object(o)) => (
                        Some(o.get("since").and_then(Value::as_i64).unwrap_or(start)),
                        o.get("after").and_then(Value::as_str),
                    ),
                    other => (bounded.then_some(start), other.and_then(Value::as_str)),
                };
                if let Some(since) = since {
                    let mut pagination = json!({ "per_page": PER_PAGE });
                    if let Some(a) = after {
                        pagination["starting_after"] = json!(a);
                    }
                    Ok(Request::post_json(
                        search_url.clone(),
                        json!({
                            "query": { "field": "updated_at", "operator": ">", "value": since - 1 },
                            "pagination": pagination,
                        }),
                    ))
                } else {
                    let mut u = list_url.clone();
                    u.query_pairs_mut()
                        .append_pair("per_page", &PER_PAGE.to_string());
                    if let Some(a) = after {
                        u.query_pairs_mut().append_pair("starting_after", a);
                    }
                    Ok(Request::get(u))
                }
            },
            |body, cursor| {
                let rows = array(body, "conversations")?;
                let after = body
                    .get("pages")
                    .and_then(|p| p.get("next"))
                    .and_then(|n| n.get("starting_after"))
                    .and_then(Value::as_str);
                // Inside a search since a time, the next cursor keeps that time.
                let next = match (after, cursor) {
                    (Some(a), Some(Value::Object(o))) => {
                        Some(json!({ "since": o.get("since"), "after": a }))
                    }
                    (Some(a), _) => Some(Value::String(a.to_string())),
                    (None, _) => None,
                };
                Ok(PageInfo {
                    items: rows.len(),
                    last: next.is_none(),
                    complete: next.is_none() && closed,
                    next,
                })
            },
            |body| {
                for c in body
                    .get("conversations")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    // Listed twice (it moved while we paged): the latest update wins.
                    if let Some(k) = id(c.get("id")) {
                        let newer = summaries.get(&k).is_none_or(|old| {
                            time(c.get("updated_at")) >= time(old.get("updated_at"))
                        });
                        if newer {
                            summaries.insert(k, c.clone());
                        }
                    }
                }
            },
        )
        .await?;
    summaries.retain(|_, c| time(c.get("created_at")).is_none_or(|t| t < window.end));

    // 2. Each conversation with its parts, cached per (id, updated_at): an unchanged
    //    conversation is never fetched twice. Requests in flight are bounded by the fetcher.
    let mut conversations = Vec::new();
    let mut gone = 0usize;
    let mut tasks = JoinSet::new();
    for (cid, summary) in &summaries {
        let updated = summary
            .get("updated_at")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let key = format!("{base}|conversation|{cid}|{updated}");
        if let Some(c) = cache
            .get("intercom conversation", &key)
            .and_then(|(b, _)| serde_json::from_slice::<Value>(&b).ok())
        {
            fetcher.progress.page("intercom conversation", 1, true);
            conversations.push(c);
            cached += 1;
            continue;
        }
        let mut url = base.join("conversations/").unwrap();
        url.path_segments_mut()
            .map_err(|_| SourceError::Config {
                name: fetcher.name().to_string(),
                message: "base_url cannot take a path".into(),
            })?
            .pop_if_empty()
            .push(cid);
        let f = fetcher.clone();
        tasks.spawn(async move { (key, f.json(&Request::get(url)).await) });
    }
    while let Some(done) = tasks.join_next().await {
        let (key, result) = done.map_err(|e| SourceError::Http {
            name: fetcher.name().to_string(),
            message: format!("a conversation request panicked: {e}"),
        })?;
        match result {
            Ok(c) => {
                cache.put(
                    "intercom conversation",
                    &key,
                    &serde_json::to_vec(&c).unwrap_or_default(),
                    json!({}),
                )?;
                fetcher.progress.page("intercom conversation", 1, false);
                conversations.push(c);
            }
            // Deleted between the listing and now: nothing to read, not a failed pull.
            Err(SourceError::Status { status: 404, .. }) => gone += 1,
            Err(e) => return Err(e),
        }
    }
    // Same order every run, whatever order the requests finished in.
    conversations.sort_by_key(|c| id(c.get("id")));

    // 3. Names of admins and teams, as of now.
    let admins = names(fetcher, &base, "admins").await?;
    let teams = names(fetcher, &base, "teams").await?;
    let mut out = to_events(
        &IntercomExport {
            conversations,
            admins,
            teams,
        },
        &Mapping::intercom(src),
    );
    for _ in 0..gone {
        out.ignored("intercom conversation deleted during the pull (404)");
    }
    Ok((out, cached))
}

/// The fetcher sending `Intercom-Version` and `Accept: application/json` with every request
/// (a clone: counters, progress and the concurrency limit stay shared).
fn with_version_headers(fetcher: &Fetcher, src: &IntercomSource) -> Result<Fetcher, SourceError> {
    let version = src.api_version.as_deref().unwrap_or(DEFAULT_VERSION);
    let value = HeaderValue::from_str(version).map_err(|_| SourceError::Config {
        name: fetcher.name().to_string(),
        message: format!("api_version `{version}` cannot be sent as a header"),
    })?;
    Ok(fetcher
        .clone()
        .with_header(HeaderName::from_static("intercom-version"), value)
        .with_header(ACCEPT, HeaderValue::from_static("application/json")))
}

/// `GET /admins` or `GET /teams` (one page each), asked for on every pull (never from the
/// cache), so new hires and renamed teams are named as they are now.
async fn names(fetcher: &Fetcher, base: &Url, what: &str) -> Result<Vec<Value>, SourceError> {
    let stream = Stream {
        ns: if what == "admins" {
            "intercom admins"
        } else {
            "intercom teams"
        },
        key: format!("{base}|{what}"),
        reopen: Reopen::LastPage,
    };
    let url = base.join(what).unwrap();
    let mut rows = Vec::new();
    stream
        .pull(
            fetcher,
            &Cache::new(None, fetcher.name()),
            |_| Ok(Request::get(url.clone())),
            |body, _| {
                let items = array(body, what)?.len();
                Ok(PageInfo {
                    items,
                    next: None,
                    last: true,
                    complete: true,
                })
            },
            |body| {
                rows.extend(
                    body.get(what)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .cloned(),
                )
            },
        )
        .await?;
    Ok(rows)
}
