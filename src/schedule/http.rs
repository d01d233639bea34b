//! The HTTP endpoint of `baton serve` (axum; `[serve] listen`, loopback by default):
//!
//! - `POST /runs` `{"report": "owners", "period": "2026-W46", "to": ["ops@example.com"]}`
//!   (all optional: the owners report, last week, every owner) with `Authorization: Bearer
//!   TOKEN`: `202 {"run_id": N}`; `401` for a missing or wrong token (nothing runs); `409
//!   {"running_run_id": N}` while the same report runs; `400` for a bad body.
//! - `GET /runs/{id}` (same token): the run as `baton runs --format json` shows it.
//! - `GET /healthz`: store reachable, scheduler alive, next fire per schedule (`503` if not).
//! - `GET /metrics`: Prometheus text format (see docs/operations.md for each metric).
//!
//! Handlers only read and write short rows of the store; the run itself works in a task of
//! its own and its CPU work leaves the runtime (`offload::cpu`), so the endpoint answers
//! while a report computes.

use super::{Daemon, TriggerError};
use crate::domain::{Period, ReportKind};
use crate::run::Recipients;
use crate::store::RunId;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::sync::Arc;

/// The bearer token, kept only as its SHA-256 (nothing can print it; comparing digests of
/// equal length does not leak the token's length or prefix through timing).
#[derive(Clone)]
pub struct Token(Option<[u8; 32]>);

impl Token {
    /// `[serve] token_file`, else the variable `[serve] token_env` names; none disables
    /// `POST /runs` and `GET /runs/{id}` (every call answers 401).
    pub fn from_config(cfg: &crate::config::ServeConfig) -> anyhow::Result<Token> {
        let raw = if let Some(path) = &cfg.token_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("serve.token_file {}: cannot read: {e}", path.display())
            })?;
            Some(text.trim().to_string())
        } else {
            cfg.token_env
                .as_ref()
                .and_then(|v| std::env::var(v).ok())
                .map(|t| t.trim().to_string())
        };
        Ok(Token::new(raw.filter(|t| !t.is_empty()).as_deref()))
    }

    pub fn new(token: Option<&str>) -> Token {
        Token(token.map(|t| Sha256::digest(t.as_bytes()).into()))
    }

    pub fn configured(&self) -> bool {
        self.0.is_some()
    }

    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(want) = &self.0 else {
            return false;
        };
        let Some(got) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let got: [u8; 32] = Sha256::digest(got.trim().as_bytes()).into();
        got.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[derive(Clone)]
struct App {
    daemon: Arc<Daemon>,
    token: Token,
}

/// The router, with the token read from the config.
pub fn router(daemon: Arc<Daemon>) -> Router {
    let token = match Token::from_config(&daemon.cfg.serve) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("{e}: POST /runs is disabled");
            Token::new(None)
        }
    };
    if !token.configured() {
        tracing::warn!(
            "no bearer token (serve.token_env / serve.token_file): POST /runs answers 401"
        );
    }
    router_with(daemon, token)
}

pub fn router_with(daemon: Arc<Daemon>, token: Token) -> Router {
    Router::new()
        .route("/runs", post(trigger))
        .route("/runs/{id}", get(show_run))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(App { daemon, token })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn unauthorized() -> Response {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "a valid bearer token is required (Authorization: Bearer ...)",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        "Bearer".parse().expect("a header"),
    );
    r
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    report: Option<String>,
    period: Option<String>,
    /// Only these owners' addresses (a test send to one owner).
    to: Option<Vec<String>>,
}

async fn trigger(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    // The token first: without it nothing is parsed, nothing runs.
    if !app.token.accepts(&headers) {
        return unauthorized();
    }
    let body: TriggerBody = if body.iter().all(u8::is_ascii_whitespace) {
        TriggerBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("body: {e}")),
        }
    };
    let report: ReportKind = match body.report.as_deref().unwrap_or("owners").parse() {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("report: {e}")),
    };
    let cfg = &app.daemon.cfg;
    let period = match Period::parse(
        body.period.as_deref().unwrap_or("last-week"),
        cfg.tz(),
        chrono::Utc::now(),
    ) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("period: {e}")),
    };
    let only = body.to.unwrap_or_default();
    let owners: Vec<String> = cfg.owners().into_iter().map(|(o, _)| o.email).collect();
    if let Some(bad) = only
        .iter()
        .find(|t| !owners.iter().any(|o| o.eq_ignore_ascii_case(t)))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("to: `{bad}` is not an owner ({})", owners.join(", ")),
        );
    }
    let label = period.label();
    match app
        .daemon
        .clone()
        .trigger(
            report,
            period,
            Recipients {
                only,
                ..Default::default()
            },
        )
        .await
    {
        Ok(id) => (
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/runs/{id}"))],
            Json(
                json!({ "run_id": id.0, "report": report.as_str(), "period": label,
                         "status": format!("/runs/{id}") }),
            ),
        )
            .into_response(),
        Err(TriggerError::Busy { run, what }) => (
            StatusCode::CONFLICT,
            Json(json!({
                "error": format!("report {} is already running ({what})", report.as_str()),
                "running_run_id": run.map(|r| r.0),
            })),
        )
            .into_response(),
        Err(TriggerError::Stopping) => error(StatusCode::SERVICE_UNAVAILABLE, "stopping"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn show_run(State(app): State<App>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if !app.token.accepts(&headers) {
        return unauthorized();
    }
    match app.daemon.store.run(RunId(id)) {
        Ok(Some(r)) => Json(crate::cli::runs::run_json(&r)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no run {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn healthz(State(app): State<App>) -> Response {
    let d = &app.daemon;
    let store = d.store.ping();
    let alive = d.scheduler_alive();
    let next: serde_json::Map<String, serde_json::Value> = d
        .next_fires()
        .into_iter()
        .map(|(s, t)| (s, json!(crate::store::time_text_pub(t))))
        .collect();
    let ok = store.is_ok() && alive;
    let body = json!({
        "status": if ok { "ok" } else { "unhealthy" },
        "store": match &store { Ok(()) => "ok".to_string(), Err(e) => e.to_string() },
        "scheduler": if alive { "alive" } else { "stopped" },
        "next_fire": next,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// A label value in the text format: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition format 0.0.4, written by hand: a dozen series read from the
/// store at scrape time need no metrics registry (and no crate of its own).
pub fn metrics_text(d: &Daemon) -> Result<String, crate::store::StoreError> {
    let stats = d.store.run_stats()?;
    let observed = d.observed();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let by = |key: &str, pairs: &[(String, u64)]| -> Vec<(String, f64)> {
        pairs
            .iter()
            .map(|(k, v)| (format!("{{{key}=\"{}\"}}", label(k)), *v as f64))
            .collect()
    };
    family(
        "baton_runs",
        "gauge",
        "Runs in the run log, by state.",
        by("state", &stats.runs_by_state),
    );
    family(
        "baton_messages_sent_total",
        "counter",
        "Messages delivered by all runs in the run log.",
        vec![(String::new(), stats.messages_sent as f64)],
    );
    family(
        "baton_messages_failed_total",
        "counter",
        "Messages not delivered (refused, deferred, in doubt, not rendered) by all runs.",
        vec![(String::new(), stats.messages_failed as f64)],
    );
    family(
        "baton_messages_already_delivered_total",
        "counter",
        "Messages runs found delivered by an earlier run and did not send again.",
        vec![(String::new(), stats.messages_already as f64)],
    );
    family(
        "baton_schedule_last_success_timestamp_seconds",
        "gauge",
        "End of the last succeeded run of each schedule (Unix time).",
        stats
            .last_success
            .iter()
            .map(|(s, t)| {
                (
                    format!("{{schedule=\"{}\"}}", label(s)),
                    t.timestamp_millis() as f64 / 1000.0,
                )
            })
            .collect(),
    );
    family(
        "baton_schedule_next_fire_timestamp_seconds",
        "gauge",
        "Next armed fire of each schedule (Unix time).",
        d.next_fires()
            .iter()
            .map(|(s, t)| {
                (
                    format!("{{schedule=\"{}\"}}", label(s)),
                    t.timestamp() as f64,
                )
            })
            .collect(),
    );
    family(
        "baton_schedule_fires",
        "gauge",
        "Fires in the fire log, by state (started, done, failed, skipped).",
        by("state", &stats.fires_by_state),
    );
    family(
        "baton_run_duration_seconds",
        "gauge",
        "Duration of the last run this process made, per schedule (or http): pull, compute, render and deliver together.",
        observed
            .last_duration
            .iter()
            .map(|(s, v)| (format!("{{run=\"{}\"}}", label(s)), *v))
            .collect(),
    );
    family(
        "baton_runs_active",
        "gauge",
        "Runs this process is working on now.",
        vec![(
            String::new(),
            d.active.load(std::sync::atomic::Ordering::SeqCst) as f64,
        )],
    );
    family(
        "baton_scheduler_up",
        "gauge",
        "1 while the scheduler is alive.",
        vec![(String::new(), if d.scheduler_alive() { 1.0 } else { 0.0 })],
    );
    family(
        "baton_alerts_total",
        "counter",
        "Operator failure notices this process sent (result=sent) or could not send (result=failed).",
        vec![
            ("{result=\"sent\"}".into(), observed.alerts_sent as f64),
            ("{result=\"failed\"}".into(), observed.alerts_failed as f64),
        ],
    );
    Ok(out)
}

async fn metrics(State(app): State<App>) -> Response {
    match metrics_text(&app.daemon) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
