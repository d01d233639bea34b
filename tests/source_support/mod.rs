//! Shared by the `source_*` tests: a real HTTP server on loopback and a second look at the
//! pulled events through the metrics engine.
#![allow(dead_code)]

use baton::config::Config;
use baton::metrics::facts;
use baton::metrics::HandoffRules;
use polars::prelude::*;
use std::net::SocketAddr;

/// Serves `app` on 127.0.0.1 on a free port until the test ends.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// (conversations, handoffs, handoffs per cause "routing,skill,escalation,channel") as the
/// metrics engine sees the events: a check that the pulled rows mean what we expect.
pub fn handoff_summary(events: &DataFrame) -> (usize, i64, Vec<(String, i64)>) {
    let cfg = Config::embedded().unwrap();
    let f = facts::build(events.clone().lazy(), &HandoffRules::from_config(&cfg)).unwrap();
    let conv = f.conversations.collect().unwrap();
    let h = f.handoffs.collect().unwrap();
    let mut by: Vec<(String, i64)> = Vec::new();
    for c in h.column("cause").unwrap().str().unwrap().iter() {
        let c = c.unwrap_or("?").to_string();
        match by.iter_mut().find(|(k, _)| *k == c) {
            Some((_, n)) => *n += 1,
            None => by.push((c, 1)),
        }
    }
    by.sort();
    (conv.height(), h.height() as i64, by)
}

/// The events as `conversation_id|at|event|agent|team|owner_kind|author|channel|actor|reason`
/// lines, in table order, for exact comparison with hand-written expectations.
pub fn lines(events: &DataFrame) -> Vec<String> {
    // The canonical columns up to `reason` (topic and sentiment are compared separately).
    let cols = &baton::ingest::CANONICAL_COLUMNS[..10];
    let df = events
        .clone()
        .lazy()
        .with_column(col("at").dt().strftime("%Y-%m-%dT%H:%M:%SZ"))
        .select(
            cols.iter()
                .map(|c| col(*c).cast(DataType::String))
                .collect::<Vec<_>>(),
        )
        .collect()
        .unwrap();
    (0..df.height())
        .map(|i| {
            cols.iter()
                .map(|c| {
                    let v = df.column(c).unwrap().str().unwrap().get(i);
                    v.unwrap_or("").to_string()
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A fake vendor API on loopback: canned pages by request, plus faults to inject per request.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do instead of (or before) answering a request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and a short text body.
    Status(u16),
    /// 429 with `retry-after: N` (lower-case, plain-text body, as Zendesk does).
    RetryAfter(u64),
    /// 429 with only `X-RateLimit-Reset` = now + N seconds (epoch), as Intercom does.
    ResetIn(u64),
    /// 200 with the page cut in half: not valid JSON.
    Truncated,
    /// Answer normally after sleeping this many milliseconds.
    Slow(u64),
}

#[derive(Default)]
pub struct FakeState {
    pub pages: HashMap<String, Value>,
    pub faults: HashMap<String, VecDeque<Fault>>,
    pub hits: HashMap<String, usize>,
    /// The JSON body of every POST (searches), in order.
    pub searches: Vec<Value>,
    /// Zendesk users by id, for `users/show_many.json?ids=`.
    pub users: HashMap<String, Value>,
    /// Headers every request must carry (name, value), else 401 / 400.
    pub require_auth: Option<String>,
    pub require_header: Option<(String, String)>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    /// Delay of every answer, to make concurrency observable.
    pub delay_ms: u64,
}

#[derive(Clone)]
pub struct FakeApi {
    pub state: Arc<Mutex<FakeState>>,
    pub addr: SocketAddr,
}

impl FakeApi {
    pub async fn start() -> FakeApi {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let addr = serve(app).await;
        FakeApi { state, addr }
    }
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `key` is `GET /path?query` (query as sent) or `POST /path#cursor` for searches.
    pub fn page(&self, key: &str, body: Value) {
        self.state.lock().unwrap().pages.insert(key.into(), body);
    }
    pub fn fault(&self, key: &str, f: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(key.into())
            .or_default()
            .push_back(f);
    }
    pub fn hits(&self, key: &str) -> usize {
        *self.state.lock().unwrap().hits.get(key).unwrap_or(&0)
    }
    pub fn total_hits(&self) -> usize {
        self.state.lock().unwrap().hits.values().sum()
    }
    pub fn reset_hits(&self) {
        self.state.lock().unwrap().hits.clear();
    }
}

struct InFlight(Arc<Mutex<FakeState>>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = if method == Method::POST {
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        state.lock().unwrap().searches.push(v.clone());
        let after = v["pagination"]["starting_after"].as_str().unwrap_or("");
        format!("POST {}#{after}", uri.path())
    } else {
        match uri.query() {
            Some(q) => format!("GET {}?{q}", uri.path()),
            None => format!("GET {}", uri.path()),
        }
    };
    let (fault, delay, page) = {
        let mut s = state.lock().unwrap();
        *s.hits.entry(key.clone()).or_default() += 1;
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        if let Some(want) = &s.require_auth {
            let got = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if got != want {
                s.in_flight -= 1;
                // Echo what was sent, as careless servers do: baton must still not leak it.
                return (
                    StatusCode::UNAUTHORIZED,
                    format!("{{\"error\":\"Couldn't authenticate you\",\"sent\":\"{got}\"}}"),
                )
                    .into_response();
            }
        }
        if let Some((h, v)) = s.require_header.clone() {
            if headers.get(h.as_str()).and_then(|x| x.to_str().ok()) != Some(v.as_str()) {
                s.in_flight -= 1;
                return (StatusCode::BAD_REQUEST, format!("missing header {h}: {v}"))
                    .into_response();
            }
        }
        if method == Method::POST {
            // Searches must filter on updated_at.
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if v["query"]["field"] != "updated_at" || v["query"]["operator"] != ">" {
                s.in_flight -= 1;
                return (StatusCode::BAD_REQUEST, "bad search query").into_response();
            }
        }
        let fault = s.faults.get_mut(&key).and_then(|q| q.pop_front());
        let page = if uri.path().ends_with("/users/show_many.json") {
            let ids = uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("ids="))
                .unwrap_or("")
                .replace("%2C", ",");
            let users: Vec<Value> = ids
                .split(',')
                .filter_map(|i| s.users.get(i).cloned())
                .collect();
            Some(serde_json::json!({ "users": users, "next_page": null, "count": users.len() }))
        } else {
            s.pages.get(&key).cloned()
        };
        (fault, s.delay_ms, page)
    };
    let _guard = InFlight(state.clone());
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    match fault {
        Some(Fault::Status(code)) => {
            return (StatusCode::from_u16(code).unwrap(), "injected failure").into_response()
        }
        Some(Fault::RetryAfter(secs)) => {
            let mut h = HeaderMap::new();
            h.insert("retry-after", secs.to_string().parse().unwrap());
            return (StatusCode::TOO_MANY_REQUESTS, h, "Too Many Requests").into_response();
        }
        Some(Fault::ResetIn(secs)) => {
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + secs;
            let mut h = HeaderMap::new();
            h.insert("X-RateLimit-Reset", reset.to_string().parse().unwrap());
            h.insert("X-RateLimit-Remaining", "0".parse().unwrap());
            return (
                StatusCode::TOO_MANY_REQUESTS,
                h,
                r#"{"type":"error.list","errors":[{"code":"rate_limit_exceeded"}]}"#,
            )
                .into_response();
        }
        Some(Fault::Slow(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Fault::Truncated) | None => {}
    }
    let Some(page) = page else {
        return (StatusCode::NOT_FOUND, format!("no page for {key}")).into_response();
    };
    let text = page.to_string();
    let text = if matches!(fault, Some(Fault::Truncated)) {
        text[..text.len() / 2].to_string()
    } else {
        text
    };
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}
