//! `baton serve`'s HTTP endpoint in-process: the bearer token (none, wrong, right), 202 and
//! the run id, `GET /runs/{id}`, 409 with the running id while the report runs (and the
//! endpoint answering meanwhile), `/healthz`, and `/metrics` parsed as Prometheus text.

mod deliver_support;
mod serve_support;

use baton::schedule::Daemon;
use baton::store::Store;
use deliver_support::{AfterDot, Script, Server};
use serve_support::*;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-7Hq";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trigger_needs_the_token_refuses_overlap_and_metrics_parse() {
    // Each message answered after 700 ms: a run lasts a few seconds.
    let server = Server::start(Script {
        after_dot: VecDeque::from(vec![AfterDot::Slow(Duration::from_millis(700)); 4]),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let url = export(dir.path());
    std::env::set_var("BATON_TEST_HTTP_TOKEN", TOKEN);
    // A schedule that does not fire during the test (1 January, 00:00).
    let cfg = config(
        dir.path(),
        &url,
        server.addr.port(),
        "0 0 1 1 *",
        "[serve]\ntoken_env = \"BATON_TEST_HTTP_TOKEN\"\n",
    );
    let store = Store::open(&cfg.store.path).unwrap();
    let daemon = Daemon::new(cfg, store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(daemon.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let post = |token: Option<&str>| {
        let mut r = http
            .post(format!("{base}/runs"))
            .json(&serde_json::json!({ "report": "owners", "period": "last-week" }));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };

    // No token, a wrong one: 401, and nothing runs.
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(post(Some("wrong")).await.unwrap().status(), 401);
    let unauth = http.get(format!("{base}/runs/1")).send().await.unwrap();
    assert_eq!(unauth.status(), 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let check = Store::open(&dir.path().join("baton.db")).unwrap();
    assert!(check.recent_runs(10).unwrap().is_empty());

    // The right one: 202 and the run id.
    let r = post(Some(TOKEN)).await.unwrap();
    assert_eq!(r.status(), 202);
    let body: serde_json::Value = r.json().await.unwrap();
    let id = body["run_id"].as_i64().unwrap();
    assert!(check.run(baton::store::RunId(id)).unwrap().is_some());

    // While it runs: 409 with the running id, and the endpoint answers at once.
    let r = post(Some(TOKEN)).await.unwrap();
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["running_run_id"].as_i64(), Some(id), "{body}");
    let t = Instant::now();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(health.status(), 200);
    let h: serde_json::Value = health.json().await.unwrap();
    assert_eq!(h["store"], "ok");
    assert_eq!(h["scheduler"], "alive");
    assert!(h["next_fire"]["tick"]
        .as_str()
        .unwrap()
        .contains("-01-01T00:00:00"));

    // It finishes; GET /runs/{id} says how.
    let run_url = format!("{base}/runs/{id}");
    let mut state = String::new();
    for _ in 0..300 {
        let v: serde_json::Value = http
            .get(&run_url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state = v["state"].as_str().unwrap().to_string();
        if state != "running" {
            assert_eq!(v["trigger"], "http");
            assert_eq!(v["messages_sent"], 4);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "succeeded");
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    let missing = http
        .get(format!("{base}/runs/999"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // /metrics: Prometheus text.
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no {name} {label:?} in\n{text}"));
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is not a number"),
        }
    };
    assert_eq!(value("baton_runs", Some(("state", "succeeded"))), 1.0);
    assert_eq!(value("baton_messages_sent_total", None), 4.0);
    assert_eq!(value("baton_messages_failed_total", None), 0.0);
    assert_eq!(value("baton_scheduler_up", None), 1.0);
    assert!(value("baton_run_duration_seconds", Some(("run", "http"))) > 0.0);
    assert!(
        value(
            "baton_schedule_next_fire_timestamp_seconds",
            Some(("schedule", "tick"))
        ) > 0.0
    );
    assert!(scrape.docs.contains_key("baton_runs"));

    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_token_every_trigger_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "file:///nonexistent.csv",
        1,
        "0 0 1 1 *",
        "[serve]\ntoken_env = \"BATON_TEST_UNSET_TOKEN_VAR\"\n",
    );
    let store = Store::open(&cfg.store.path).unwrap();
    let daemon = Daemon::new(cfg, store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(daemon.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    for token in ["", "anything"] {
        let r = http
            .post(format!("{base}/runs"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let check = Store::open(&dir.path().join("baton.db")).unwrap();
    assert!(check.recent_runs(10).unwrap().is_empty());
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}
