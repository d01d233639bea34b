//! Canonical exports pulled over real HTTP (axum on loopback) and from `file://`.

mod source_support;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use baton::config::{AuthConfig, AuthKind, CanonicalSource, SourceConfig};
use baton::source::{pull, pull_with_stats, PullOptions, PullWindow, SourceError};
use source_support::{handoff_summary, lines, serve};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Two conversations and one malformed row. Worked by hand:
/// c1: first owner ann/General Support (reaching the first owner is not a handoff), ann
///     replies, then bob/Billing: the team differs, so 1 handoff; no reason, same channel,
///     Billing and General Support are both tier 1 (not escalation), ann had replied (not
///     routing) => cause `skill`.
/// c2: one owner, no handoff.
/// c3: `at` is not a time => quarantined as "unparsable timestamp".
const CSV: &str = "\
conversation_id,at,event,agent,team,channel,author
c1,2026-03-02T09:00:00Z,created,,,chat,
c1,2026-03-02T09:01:00Z,assigned,ann,General Support,chat,
c1,2026-03-02T09:05:00Z,message,ann,,,agent
c1,2026-03-02T09:10:00Z,assigned,bob,Billing,,
c1,2026-03-02T09:30:00Z,message,bob,,,agent
c1,2026-03-02T10:00:00Z,resolved,,,,
c2,2026-03-02T11:00:00Z,created,,,email,
c2,2026-03-02T11:02:00Z,assigned,cy,General Support,,
c2,2026-03-02T11:20:00Z,message,cy,,,agent
c2,2026-03-02T12:00:00Z,resolved,,,,
c3,yesterday,created,,,,
";

fn expected_lines() -> Vec<&'static str> {
    vec![
        "c1|2026-03-02T09:00:00Z|created||||||chat||",
        "c1|2026-03-02T09:01:00Z|assigned|ann|General Support|human||chat||",
        "c1|2026-03-02T09:05:00Z|message|ann||human|agent|||",
        "c1|2026-03-02T09:10:00Z|assigned|bob|Billing|human||||",
        "c1|2026-03-02T09:30:00Z|message|bob||human|agent|||",
        "c1|2026-03-02T10:00:00Z|resolved|||human||||",
        "c2|2026-03-02T11:00:00Z|created|||human||email||",
        "c2|2026-03-02T11:02:00Z|assigned|cy|General Support|human||||",
        "c2|2026-03-02T11:20:00Z|message|cy||human|agent|||",
        "c2|2026-03-02T12:00:00Z|resolved|||human||||",
    ]
}

fn fast(mut src: SourceConfig) -> SourceConfig {
    let http = src.http_mut();
    http.backoff_base_ms = 10;
    http.backoff_max_secs = 1;
    http.timeout_secs = 1;
    src
}

fn canonical(url: &str) -> CanonicalSource {
    match SourceConfig::canonical(url) {
        SourceConfig::Canonical(c) => c,
        other => unreachable!("{other:?}"),
    }
}

fn check_fixture(ing: &baton::ingest::Ingested) {
    let mut want: Vec<String> = expected_lines().iter().map(|s| s.to_string()).collect();
    // owner_kind defaults to "human" on every valid row.
    want[0] = "c1|2026-03-02T09:00:00Z|created|||human||chat||".into();
    assert_eq!(lines(&ing.events), want);
    assert_eq!(ing.quarantine.len(), 1);
    assert_eq!(ing.quarantine.counts.get("unparsable timestamp"), Some(&1));
    let (convs, handoffs, by) = handoff_summary(&ing.events);
    assert_eq!((convs, handoffs), (2, 1));
    assert_eq!(by, vec![("skill".to_string(), 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_then_success_is_retried_once_and_counts_nothing_twice() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/exports/events.csv",
        get(move || {
            let h = h.clone();
            async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
                } else {
                    CSV.into_response()
                }
            }
        }),
    );
    let addr = serve(app).await;
    let src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/exports/events.csv"
    )));
    let got = pull_with_stats(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    check_fixture(&got.ingested);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!((got.stats.requests, got.stats.retries), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_waits_that_long() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/events.csv",
        get(move || {
            let h = h.clone();
            async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Zendesk style: lower-case header name, plain-text body.
                    let mut hm = HeaderMap::new();
                    hm.insert("retry-after", "1".parse().unwrap());
                    (StatusCode::TOO_MANY_REQUESTS, hm, "Too Many Requests").into_response()
                } else {
                    CSV.into_response()
                }
            }
        }),
    );
    let addr = serve(app).await;
    let mut src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/events.csv"
    )));
    // A backoff of 5 s would make the test slow: the wait must come from Retry-After (1 s).
    src.http_mut().backoff_base_ms = 5000;
    src.http_mut().backoff_max_secs = 5;
    let t0 = Instant::now();
    let got = pull_with_stats(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(950), "waited only {took:?}");
    assert!(took < Duration::from_millis(3000), "waited {took:?}");
    check_fixture(&got.ingested);
    assert_eq!(got.stats.rate_limit_waits, 1);
    assert_eq!(got.stats.retries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_fails_at_once_with_the_url_but_no_secret() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    // The server echoes the Authorization header back, as some proxies do: the error must
    // still not show the token.
    let app = Router::new().route(
        "/private/events.csv",
        get(move |headers: HeaderMap| {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                (
                    StatusCode::UNAUTHORIZED,
                    format!("Couldn't authenticate you ({auth})"),
                )
            }
        }),
    );
    let addr = serve(app).await;
    std::env::set_var("BATON_TEST_CANONICAL_TOKEN", "tok-Zq81-very-secret");
    let mut src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/private/events.csv?api_key=query-secret-77"
    )));
    src.http_mut().auth = Some(AuthConfig {
        kind: AuthKind::Bearer,
        user: None,
        secret_env: Some("BATON_TEST_CANONICAL_TOKEN".into()),
        secret_file: None,
    });
    let err = pull(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, SourceError::Status { status: 401, .. }),
        "{err:?}"
    );
    assert!(
        msg.contains(&format!("http://{addr}/private/events.csv")),
        "{msg}"
    );
    assert!(
        msg.contains("401") && msg.contains("Couldn't authenticate you"),
        "{msg}"
    );
    assert!(!msg.contains("tok-Zq81-very-secret"), "{msg}");
    assert!(!msg.contains("query-secret-77"), "{msg}");
    assert!(!format!("{err:?}").contains("tok-Zq81-very-secret"));
    // 4xx is not retried.
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_5xx_gives_up_after_max_retries() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/events.csv",
        get(move || {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                (StatusCode::BAD_GATEWAY, "upstream down")
            }
        }),
    );
    let addr = serve(app).await;
    let mut src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/events.csv"
    )));
    src.http_mut().max_retries = 2;
    let err = pull(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    // 1 try + 2 retries.
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    match err {
        SourceError::GaveUp { attempts, last, .. } => {
            assert_eq!(attempts, 3);
            assert!(last.contains("502"), "{last}");
        }
        other => panic!("expected GaveUp, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_retried() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/events.csv",
        get(move || {
            let h = h.clone();
            async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_millis(2500)).await;
                }
                CSV
            }
        }),
    );
    let addr = serve(app).await;
    let src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/events.csv"
    )));
    let got = pull_with_stats(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    check_fixture(&got.ingested);
    assert_eq!(got.stats.retries, 1);
}

/// Runs the test's own polars work on a thread outside the runtime (polars needs that under
/// a current-thread runtime; the library does the same for its own work).
fn off<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

// The default (current-thread) runtime: pulling must work under it too.
#[tokio::test]
async fn file_urls_and_extensions_pick_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    // The same events as JSON Lines (with the customer's own column name for the id, mapped in
    // config) and as Parquet.
    let (jsonl, pq) = off(|| {
        let csv_ing = baton::ingest::read_canonical(
            CSV.as_bytes(),
            baton::config::SourceFormat::Csv,
            &Default::default(),
            None,
        )
        .unwrap();
        let mut jsonl = Vec::new();
        baton::ingest::write_canonical(
            &csv_ing.events,
            baton::config::SourceFormat::Jsonl,
            &mut jsonl,
        )
        .unwrap();
        let mut pq = Vec::new();
        baton::ingest::write_canonical(
            &csv_ing.events,
            baton::config::SourceFormat::Parquet,
            &mut pq,
        )
        .unwrap();
        (jsonl, pq)
    });
    let jsonl = String::from_utf8(jsonl)
        .unwrap()
        .replace("\"conversation_id\"", "\"ticket\"");
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, jsonl).unwrap();
    let src = SourceConfig::Canonical(CanonicalSource {
        columns: [("ticket".into(), "conversation_id".into())].into(),
        ..canonical(&format!("file://{}", path.display()))
    });
    let ing = pull(
        "local",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    let mut want: Vec<String> = expected_lines().iter().map(|s| s.to_string()).collect();
    want[0] = "c1|2026-03-02T09:00:00Z|created|||human||chat||".into();
    assert_eq!(off(|| lines(&ing.events)), want);
    assert!(ing.quarantine.is_empty());

    // Parquet over HTTP, the format taken from the URL's extension.
    let app = Router::new().route("/x/events.parquet", get(move || async move { pq.clone() }));
    let addr = serve(app).await;
    let src = SourceConfig::canonical(&format!("http://{addr}/x/events.parquet"));
    let ing = pull(
        "pq",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(off(|| lines(&ing.events)), want);

    // A missing file names the path.
    let src = SourceConfig::canonical("file:///nonexistent/baton/events.csv");
    let err = pull(
        "local",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/baton/events.csv"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_export_is_not_downloaded_again_when_unchanged() {
    let full = Arc::new(AtomicUsize::new(0));
    let f = full.clone();
    let app = Router::new().route(
        "/events.csv",
        get(move |headers: HeaderMap| {
            let f = f.clone();
            async move {
                if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("\"v1\"") {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                f.fetch_add(1, Ordering::SeqCst);
                let mut hm = HeaderMap::new();
                hm.insert("etag", "\"v1\"".parse().unwrap());
                (hm, CSV).into_response()
            }
        }),
    );
    let addr = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = PullOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        progress: false,
    };
    let src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/events.csv"
    )));
    let first = pull_with_stats("helpdesk", &src, &PullWindow::everything(), &opts)
        .await
        .unwrap();
    let second = pull_with_stats("helpdesk", &src, &PullWindow::everything(), &opts)
        .await
        .unwrap();
    assert_eq!(full.load(Ordering::SeqCst), 1, "the body was sent twice");
    assert_eq!(second.stats.cached_pages, 1);
    check_fixture(&first.ingested);
    check_fixture(&second.ingested);
}

/// A server that answers 404 echoing everything it was sent: the request target (with its
/// query), the Authorization header, that header decoded (`user:password`) and re-encoded as
/// a URL's user-info, percent-encoded.
async fn echoing_404() -> std::net::SocketAddr {
    use base64::Engine;
    let app = Router::new().fallback(|uri: axum::http::Uri, headers: HeaderMap| async move {
        let auth: Vec<String> = headers
            .get_all("authorization")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let mut decoded = Vec::new();
        for a in &auth {
            if let Some(b) = a.strip_prefix("Basic ") {
                let plain = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
                let plain = String::from_utf8(plain).unwrap();
                let enc: String = percent_encoding::utf8_percent_encode(
                    &plain,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                decoded.push(format!("{plain} http://{plain}@origin{uri} {enc}"));
            }
        }
        (
            StatusCode::NOT_FOUND,
            [("x-echo-authorization", auth.join(", "))],
            format!(
                "No route for {uri} (Authorization: {}; decoded: {})",
                auth.join(", "),
                decoded.join("; ")
            ),
        )
    });
    serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_echoing_userinfo_query_and_basic_auth_leaks_no_secret() {
    use base64::Engine;
    let addr = echoing_404().await;
    // 1. The secrets are in the URL: user-info (sent as Basic) and `?token=`.
    let src = fast(SourceConfig::canonical(&format!(
        "http://bob:pw-Secret-9@{addr}/missing.csv?token=qs-Secret-42&page=1"
    )));
    let err = pull(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(msg.contains("404") && msg.contains("No route for"), "{msg}");
    let b64 = base64::engine::general_purpose::STANDARD.encode("bob:pw-Secret-9");
    for leaked in ["pw-Secret-9", "qs-Secret-42", b64.as_str()] {
        assert!(!msg.contains(leaked), "{leaked} in {msg}");
    }

    // 2. The secret is the configured auth (Basic `user/token:secret`), with characters that
    //    URL-encoding changes.
    std::env::set_var("BATON_TEST_ECHO_TOKEN", "zd/Tok+en=9xQ");
    let mut src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/missing.csv"
    )));
    src.http_mut().auth = Some(AuthConfig {
        kind: AuthKind::Basic,
        user: Some("ops@example.com/token".into()),
        secret_env: Some("BATON_TEST_ECHO_TOKEN".into()),
        secret_file: None,
    });
    let err = pull(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(msg.contains("404"), "{msg}");
    let b64 =
        base64::engine::general_purpose::STANDARD.encode("ops@example.com/token:zd/Tok+en=9xQ");
    for leaked in ["zd/Tok+en=9xQ", "zd%2FTok%2Ben%3D9xQ", b64.as_str()] {
        assert!(!msg.contains(leaked), "{leaked} in {msg}");
    }
}

/// A raw HTTP server on loopback (no framework, so it can misbehave): answers request number
/// `i` with `answers[min(i, last)]`, written as is, then closes the connection.
async fn raw_server(answers: Vec<Vec<u8>>) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let i = h.fetch_add(1, Ordering::SeqCst);
            let answer = answers[i.min(answers.len() - 1)].clone();
            tokio::spawn(async move {
                // Read the request head, then answer and close.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = sock.write_all(&answer).await;
                let _ = sock.flush().await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (addr, hits)
}

/// The fixture cut at 60 %, in the middle of a line.
fn cut_csv() -> &'static str {
    let cut = CSV.len() * 6 / 10;
    let body = &CSV[..cut];
    assert!(!body.ends_with('\n'));
    body
}

fn http10(body: &str) -> Vec<u8> {
    format!("HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\n\r\n{body}").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http10_body_cut_mid_line_is_retried_and_never_used() {
    // First answer: HTTP/1.0, no Content-Length, closed after 60 % (mid-line). Then whole.
    let (addr, hits) = raw_server(vec![http10(cut_csv()), http10(CSV)]).await;
    let src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/events.csv"
    )));
    let got = pull_with_stats(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    check_fixture(&got.ingested);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(got.stats.retries, 1);

    // A server that always cuts: the pull fails, saying why, rather than using 60 %.
    let (addr, hits) = raw_server(vec![http10(cut_csv())]).await;
    let mut src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/events.csv"
    )));
    src.http_mut().max_retries = 1;
    let err = pull(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SourceError::GaveUp { .. }), "{err:?}");
    assert!(
        msg.contains("mid-line") && msg.contains("Content-Length"),
        "{msg}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_shorter_than_its_content_length_is_retried() {
    let short = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n{}",
        CSV.len(),
        &CSV[..CSV.len() / 2]
    );
    let whole = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n{CSV}",
        CSV.len()
    );
    let (addr, hits) = raw_server(vec![short.into_bytes(), whole.into_bytes()]).await;
    let src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/events.csv"
    )));
    let got = pull_with_stats(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    check_fixture(&got.ingested);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(got.stats.retries, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unframed_body_that_ends_on_a_newline_is_used() {
    // HTTP/1.0 without a length is legitimate when the body is whole.
    let (addr, hits) = raw_server(vec![http10(CSV)]).await;
    let src = fast(SourceConfig::canonical(&format!(
        "http://{addr}/events.csv"
    )));
    let got = pull_with_stats(
        "helpdesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    check_fixture(&got.ingested);
    assert_eq!((hits.load(Ordering::SeqCst), got.stats.retries), (1, 0));
}
