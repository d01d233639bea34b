//! A loopback HTTP server (axum on 127.0.0.1, a free port) serving fixed files, so `baton demo`
//! and the tests pull a helpdesk export over real HTTP with nothing installed.
//!
//! It can play a flaky helpdesk: the first `fail_first` requests answer 503.

use axum::body::Bytes;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One file the server answers with.
#[derive(Debug, Clone)]
pub struct ServedFile {
    pub bytes: Bytes,
    pub content_type: String,
}

impl ServedFile {
    pub fn new(bytes: impl Into<Bytes>, content_type: impl Into<String>) -> ServedFile {
        ServedFile {
            bytes: bytes.into(),
            content_type: content_type.into(),
        }
    }

    /// A file whose content type follows the extension of `path` (CSV, JSON Lines, Parquet,
    /// JSON, HTML; else `application/octet-stream`).
    pub fn guess(path: &str, bytes: impl Into<Bytes>) -> ServedFile {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let ct = match ext.as_deref() {
            Some("csv") => "text/csv; charset=utf-8",
            Some("jsonl") | Some("ndjson") => "application/x-ndjson",
            Some("json") => "application/json",
            Some("parquet") | Some("pq") => "application/vnd.apache.parquet",
            Some("html") | Some("htm") => "text/html; charset=utf-8",
            Some("txt") => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        ServedFile::new(bytes, ct)
    }
}

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Answer this many first requests (any path) with 503 Service Unavailable.
    pub fail_first: usize,
}

struct Shared {
    files: HashMap<String, ServedFile>,
    fail_first: usize,
    requests: AtomicUsize,
}

/// A running server; it stops when dropped or on [`LoopbackServer::shutdown`].
pub struct LoopbackServer {
    base_url: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Binds 127.0.0.1 on a free port and serves `files` (URL path -> file; a missing leading
    /// `/` is added). Needs a Tokio runtime.
    pub async fn start(
        files: impl IntoIterator<Item = (String, ServedFile)>,
        opts: ServeOptions,
    ) -> std::io::Result<LoopbackServer> {
        let files = files
            .into_iter()
            .map(|(p, f)| {
                let p = if p.starts_with('/') {
                    p
                } else {
                    format!("/{p}")
                };
                (p, f)
            })
            .collect();
        let shared = Arc::new(Shared {
            files,
            fail_first: opts.fail_first,
            requests: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = shared.clone();
        let app = Router::new().fallback(move |uri: Uri| answer(state.clone(), uri));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                // A send or a dropped sender both stop the server.
                let _ = stopped.await;
            });
            if let Err(e) = serving.await {
                tracing::warn!("loopback server stopped with an error: {e}");
            }
        });
        Ok(LoopbackServer {
            base_url: format!("http://{addr}"),
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of a served path.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// Requests answered so far, failed ones included.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Stops accepting, lets requests in flight finish (up to five seconds) and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn answer(shared: Arc<Shared>, uri: Uri) -> Response {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst);
    if n < shared.fail_first {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the helpdesk is busy, try again",
        )
            .into_response();
    }
    match shared.files.get(uri.path()) {
        Some(f) => (
            [(header::CONTENT_TYPE, f.content_type.clone())],
            f.bytes.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("no file at {}", uri.path())).into_response(),
    }
}
