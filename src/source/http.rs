//! One HTTP client per source: credentials, timeouts, retries and rate limits (SOURCES.md,
//! "Rules for every source"). Every URL and message that leaves this module is redacted.

use super::progress::Progress;
use super::SourceError;
use crate::config::{AuthKind, HttpOptions};
use crate::secret::Secret;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How hard to try before giving up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after 5xx, timeouts, dropped connections and unreadable bodies.
    pub max_retries: u32,
    /// 429 answers tolerated for one request.
    pub max_rate_limit_waits: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Longest single rate-limit wait accepted.
    pub max_wait: Duration,
}

impl RetryPolicy {
    pub fn from_config(src: &HttpOptions) -> RetryPolicy {
        RetryPolicy {
            max_retries: src.max_retries,
            max_rate_limit_waits: src.max_rate_limit_waits,
            backoff_base: Duration::from_millis(src.backoff_base_ms),
            backoff_max: Duration::from_secs(src.backoff_max_secs),
            max_wait: Duration::from_secs(src.max_wait_secs),
        }
    }

    /// Exponential backoff with "equal jitter": half the step fixed, half random, so retries
    /// of concurrent requests spread out but never collapse to zero.
    pub fn backoff(&self, attempt: u32) -> Duration {
        use rand::Rng;
        let step = self
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.min(20)))
            .min(self.backoff_max);
        let half = step / 2;
        half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
    }
}

/// Counters of one pull, shared by every request of it.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limit_waits: AtomicU64,
    pub not_modified: AtomicU64,
}

/// Scrubs secrets out of any text that may reach a log or an error: the one shared
/// [`crate::secret::Redactor`] (every secret the source holds, in every encoding it is sent
/// in), plus how URLs are shown.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    inner: crate::secret::Redactor,
}

/// Query parameters whose value is a credential (`?token=`, `?api_key=`, `?sig=`, ...).
fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "key",
        "secret",
        "pass",
        "pwd",
        "auth",
        "sig",
        "credential",
        "session",
    ]
    .iter()
    .any(|w| n.contains(w))
}

impl Redactor {
    /// Also knows `secret` (sent with `user`, for the Basic and user-info forms).
    pub fn with_secret(mut self, user: Option<&str>, secret: &Secret) -> Redactor {
        self.inner.add(user, secret);
        self
    }

    /// Also knows the secrets `url` carries: the password of its user-info and the values of
    /// credential-like query parameters.
    pub fn with_url(mut self, url: &Url) -> Redactor {
        for (user, secret) in url_secrets(url) {
            self.inner.add(user.as_deref(), &secret);
        }
        self
    }

    pub fn scrub(&self, text: &str) -> String {
        self.inner.redact(text)
    }

    /// A URL without user-info or query string (query strings carry API keys and cursors).
    pub fn url(&self, url: &Url) -> String {
        let mut u = url.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.set_query(None);
        u.set_fragment(None);
        self.scrub(u.as_str())
    }
}

/// The secrets a URL carries (user-info password, credential-like query values), each with the
/// user it goes with. Short values (under 4 characters) are left out: redacting them would
/// wreck any text without protecting anything.
fn url_secrets(url: &Url) -> Vec<(Option<String>, Secret)> {
    let mut out = Vec::new();
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    if let Some(pw) = url.password() {
        let user = decode(url.username());
        out.push((Some(user), Secret::new(decode(pw))));
    }
    for (k, v) in url.query_pairs() {
        if is_secret_param(&k) && v.chars().count() >= 4 {
            out.push((None, Secret::new(v.into_owned())));
        }
    }
    out
}

/// Whether a URL carries a secret (then each request of it gets a redactor that knows it).
fn has_url_secrets(url: &Url) -> bool {
    url.password().is_some() || url.query_pairs().any(|(k, _)| is_secret_param(&k))
}

/// A URL given on the command line as it may be shown: no user-info, no query string, no
/// fragment. Text that does not parse as a URL (a local path) is shown as it is, unless it looks
/// like one (`scheme://...`), when user-info and query are cut by hand.
pub fn redact_url(input: &str) -> String {
    match Url::parse(input) {
        Ok(url) if url.has_host() || url.scheme() == "file" => Redactor::default().url(&url),
        _ => match input.split_once("://") {
            Some((scheme, rest)) => {
                let rest = rest.split(['?', '#']).next().unwrap_or(rest);
                let rest = match rest.split_once('/') {
                    Some((authority, path)) => format!(
                        "{}/{path}",
                        authority.rsplit_once('@').map_or(authority, |(_, h)| h)
                    ),
                    None => rest.rsplit_once('@').map_or(rest, |(_, h)| h).to_string(),
                };
                format!("{scheme}://{rest}")
            }
            None => input.to_string(),
        },
    }
}

#[derive(Clone)]
enum Credentials {
    Basic { user: String, secret: Secret },
    Bearer(Secret),
}

/// A request to send (and, on retry, to send again).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub json: Option<serde_json::Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body is line-oriented text (a CSV or JSON Lines export): a body with no length
    /// framing that stops mid-line was cut short and is retried (see [`Fetcher::send`]).
    pub whole_lines: bool,
}

impl Request {
    pub fn get(url: Url) -> Request {
        Request {
            method: Method::GET,
            url,
            json: None,
            headers: Vec::new(),
            whole_lines: false,
        }
    }
    pub fn post_json(url: Url, body: serde_json::Value) -> Request {
        Request {
            method: Method::POST,
            url,
            json: Some(body),
            headers: Vec::new(),
            whole_lines: false,
        }
    }
    /// Marks the body as line-oriented text (see [`Request::whole_lines`]).
    pub fn whole_lines(mut self) -> Request {
        self.whole_lines = true;
        self
    }
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Request {
        self.headers.push((name, value));
        self
    }
}

/// What a successful request gave.
#[derive(Debug)]
pub struct Response<T> {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: T,
}

/// The HTTP side of one source.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    name: String,
    credentials: Option<Credentials>,
    default_headers: Vec<(HeaderName, HeaderValue)>,
    pub policy: RetryPolicy,
    pub redactor: Redactor,
    pub counters: Arc<Counters>,
    pub progress: Progress,
    /// At most `concurrency` requests of this source in flight, however many tasks send them.
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl Fetcher {
    /// Builds the client and resolves the secret (from `auth.secret_env` / `auth.secret_file`).
    pub fn new(name: &str, src: &HttpOptions, progress: Progress) -> Result<Fetcher, SourceError> {
        let credentials = resolve_credentials(name, src)?;
        let redactor = match &credentials {
            Some(Credentials::Basic { user, secret }) => {
                Redactor::default().with_secret(Some(user), secret)
            }
            Some(Credentials::Bearer(token)) => Redactor::default().with_secret(None, token),
            None => Redactor::default(),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(src.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(src.timeout_secs.clamp(1, 30)))
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::Http {
                name: name.to_string(),
                message: format!("cannot build the HTTP client: {}", e.without_url()),
            })?;
        Ok(Fetcher {
            client,
            name: name.to_string(),
            credentials,
            default_headers: Vec::new(),
            policy: RetryPolicy::from_config(src),
            redactor,
            counters: Arc::new(Counters::default()),
            progress,
            in_flight: Arc::new(tokio::sync::Semaphore::new(src.concurrency.max(1))),
        })
    }

    /// A header sent with every request (e.g. `Intercom-Version`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Fetcher {
        self.default_headers.push((name, value));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// GETs or POSTs JSON: the body must parse (a truncated body is retried).
    pub async fn json(&self, req: &Request) -> Result<serde_json::Value, SourceError> {
        let resp = self
            .send(req, |b| {
                serde_json::from_slice::<serde_json::Value>(b).map_err(|e| format!("not JSON: {e}"))
            })
            .await?;
        Ok(resp.body)
    }

    /// Sends `req` until it succeeds, honouring rate limits and retrying transient failures.
    /// `decode` turns the body into a value; a body it rejects (truncated JSON, say) is retried
    /// like a dropped connection. A 304 is a success (for conditional GETs).
    pub async fn send<T>(
        &self,
        req: &Request,
        decode: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Response<T>, SourceError> {
        // The source's secrets, and those of this request's URL (user-info, `?token=`).
        let with_url;
        let redactor = if has_url_secrets(&req.url) {
            with_url = self.redactor.clone().with_url(&req.url);
            &with_url
        } else {
            &self.redactor
        };
        let shown = redactor.url(&req.url);
        let what = format!("{} {}", req.method, shown);
        let mut retries = 0u32;
        let mut waits = 0u32;
        loop {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self.attempt(req).await;
            let failure = match outcome {
                Ok(Exchange {
                    status,
                    headers,
                    bytes,
                    ..
                }) if status == StatusCode::TOO_MANY_REQUESTS => {
                    waits += 1;
                    if waits > self.policy.max_rate_limit_waits {
                        return Err(SourceError::GaveUp {
                            name: self.name.clone(),
                            request: what,
                            attempts: retries + waits,
                            last: format!(
                                "still rate limited (429) after {} waits",
                                self.policy.max_rate_limit_waits
                            ),
                        });
                    }
                    let (wait, basis) = match rate_limit_wait(&headers, SystemTime::now()) {
                        Some(w) => w,
                        None => (self.policy.backoff(waits - 1), "backoff"),
                    };
                    if wait > self.policy.max_wait {
                        return Err(SourceError::Status {
                            name: self.name.clone(),
                            request: what,
                            status: status.as_u16(),
                            reason: format!(
                                "rate limited for {} s ({basis}), longer than max_wait_secs = {}",
                                wait.as_secs(),
                                self.policy.max_wait.as_secs()
                            ),
                        });
                    }
                    let _ = bytes;
                    self.counters
                        .rate_limit_waits
                        .fetch_add(1, Ordering::Relaxed);
                    self.progress.rate_limited(&what, wait, basis);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Ok(Exchange {
                    status,
                    headers,
                    bytes,
                    framed,
                }) if status.is_success() || status == StatusCode::NOT_MODIFIED => {
                    if let Some(cut) = cut_short(req, status, &headers, &bytes, framed) {
                        cut
                    } else {
                        if status == StatusCode::NOT_MODIFIED {
                            self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                        }
                        let decoded = if status == StatusCode::NOT_MODIFIED {
                            decode(&[])
                        } else {
                            decode(&bytes)
                        };
                        match decoded {
                            Ok(body) => {
                                return Ok(Response {
                                    status,
                                    headers,
                                    body,
                                })
                            }
                            Err(e) => format!("unreadable body: {e}"),
                        }
                    }
                }
                Ok(Exchange { status, bytes, .. }) if status.is_server_error() => {
                    format!("{} {}", status.as_u16(), snippet(redactor, &bytes))
                }
                Ok(Exchange { status, bytes, .. }) => {
                    // Any other status is the caller's mistake (auth, path, query): retrying
                    // cannot help, so fail at once and say why.
                    return Err(SourceError::Status {
                        name: self.name.clone(),
                        request: what,
                        status: status.as_u16(),
                        reason: format!(
                            "{}{}",
                            status.canonical_reason().unwrap_or(""),
                            match snippet(redactor, &bytes) {
                                s if s.is_empty() => String::new(),
                                s => format!(": {s}"),
                            }
                        ),
                    });
                }
                Err(e) => e,
            };
            let failure = redactor.scrub(&failure);
            if retries >= self.policy.max_retries {
                return Err(SourceError::GaveUp {
                    name: self.name.clone(),
                    request: what,
                    attempts: retries + 1 + waits,
                    last: failure,
                });
            }
            let wait = self.policy.backoff(retries);
            retries += 1;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            self.progress.retrying(&what, &failure, wait, retries);
            tokio::time::sleep(wait).await;
        }
    }

    /// One try: the status, headers and whole body, or why the exchange failed (transient).
    async fn attempt(&self, req: &Request) -> Result<Exchange, String> {
        // Held for the exchange only, not during waits between retries.
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| "the pull was cancelled".to_string())?;
        let mut b = self.client.request(req.method.clone(), req.url.clone());
        for (k, v) in self.default_headers.iter().chain(req.headers.iter()) {
            b = b.header(k.clone(), v.clone());
        }
        b = match &self.credentials {
            Some(Credentials::Basic { user, secret }) => b.basic_auth(user, Some(secret.expose())),
            Some(Credentials::Bearer(token)) => b.bearer_auth(token.expose()),
            None => b,
        };
        if let Some(json) = &req.json {
            b = b.json(json);
        }
        let resp = b.send().await.map_err(describe)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        // HTTP/2 and later frame every body; HTTP/1.x only with a length or chunks. An
        // unframed body ends when the server closes, whether or not it had finished.
        let framed = resp.version() >= reqwest::Version::HTTP_2
            || headers.contains_key(reqwest::header::CONTENT_LENGTH)
            || headers
                .get_all(reqwest::header::TRANSFER_ENCODING)
                .iter()
                .any(|v| {
                    v.to_str()
                        .is_ok_and(|t| t.to_ascii_lowercase().contains("chunked"))
                });
        let bytes = resp.bytes().await.map_err(describe)?;
        Ok(Exchange {
            status,
            headers,
            bytes: bytes.to_vec(),
            framed,
        })
    }
}

/// What one exchange gave.
struct Exchange {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
    /// The body had a length (Content-Length, chunks, HTTP/2 frames): its end was announced.
    framed: bool,
}

/// Why a successful answer's body is not whole, if it is not: shorter than its
/// Content-Length, or (for line-oriented exports) unframed and stopping mid-line, which is what
/// a server that closes early (HTTP/1.0, no Content-Length) leaves. Both are retried.
fn cut_short(
    req: &Request,
    status: StatusCode,
    headers: &HeaderMap,
    bytes: &[u8],
    framed: bool,
) -> Option<String> {
    if status == StatusCode::NOT_MODIFIED || req.method == Method::HEAD {
        return None;
    }
    let announced = headers
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = announced {
        if (bytes.len() as u64) < n {
            return Some(format!(
                "body cut short: {} of the {n} bytes its Content-Length announced",
                bytes.len()
            ));
        }
    }
    // Parquet carries its own framing (a footer), checked by its reader.
    let text = !bytes.starts_with(b"PAR1");
    if req.whole_lines && !framed && text && !bytes.is_empty() && !bytes.ends_with(b"\n") {
        return Some(format!(
            "body cut short: it ends mid-line after {} bytes and the server sent no \
             Content-Length (nor chunked framing), so the connection may have closed early; \
             an export that really ends without a newline must be served with a Content-Length",
            bytes.len()
        ));
    }
    None
}

/// A reqwest error in words, without its URL (which may carry a query secret).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "connection dropped while reading the body"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut msg = format!("{kind}: {e}");
    // The causes (hyper, io) say what actually happened; none of them carries the URL.
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        msg.push_str(&format!(": {c}"));
        cause = c.source();
    }
    crate::text::cut_bytes(&msg, 300).to_string()
}

/// The start of a body, as one line of text, for error messages: redacted first and cut
/// after (a cut through a secret would leave its start unrecognised), on a character boundary.
fn snippet(redactor: &Redactor, bytes: &[u8]) -> String {
    // Enough to hold a secret echoed near the start whatever its encoding.
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = redactor.scrub(&String::from_utf8_lossy(head));
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::text::cut_bytes(&line, 200).to_string()
}

/// How long a 429 asks us to wait: `Retry-After` (seconds or an HTTP date), else a reset
/// header (`X-RateLimit-Reset`, `RateLimit-Reset`: epoch seconds, or seconds from now when
/// small). `None` when the answer names no wait (then we back off).
pub fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<(Duration, &'static str)> {
    let text = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(v) = text(RETRY_AFTER.as_str()) {
        if let Ok(secs) = v.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Some((Duration::from_secs_f64(secs), "Retry-After"));
            }
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some((
                at.duration_since(now).unwrap_or(Duration::ZERO),
                "Retry-After",
            ));
        }
    }
    for h in ["x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset"] {
        if let Some(v) = text(h) {
            if let Ok(n) = v.parse::<f64>() {
                if !n.is_finite() || n < 0.0 {
                    continue;
                }
                // Epoch seconds are > 1e9; anything smaller is a delay in seconds.
                if n > 1e9 {
                    let now_s = now
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs_f64();
                    return Some((
                        Duration::from_secs_f64((n - now_s).max(0.0)),
                        "reset header",
                    ));
                }
                return Some((Duration::from_secs_f64(n), "reset header"));
            }
        }
    }
    None
}

fn resolve_credentials(name: &str, src: &HttpOptions) -> Result<Option<Credentials>, SourceError> {
    let Some(auth) = &src.auth else {
        return Ok(None);
    };
    let err = |m: String| SourceError::Config {
        name: name.to_string(),
        message: m,
    };
    let secret = if let Some(var) = &auth.secret_env {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
            _ => {
                return Err(err(format!(
                    "auth.secret_env names `{var}`, which is not set in the environment"
                )))
            }
        }
    } else if let Some(path) = &auth.secret_file {
        let v = std::fs::read_to_string(path).map_err(|e| {
            err(format!(
                "cannot read auth.secret_file {}: {}",
                path.display(),
                e.kind()
            ))
        })?;
        let v = v.trim().to_string();
        if v.is_empty() {
            return Err(err(format!("auth.secret_file {} is empty", path.display())));
        }
        v
    } else {
        return Err(err("auth names no secret_env or secret_file".into()));
    };
    Ok(Some(match auth.kind {
        AuthKind::Basic => Credentials::Basic {
            user: auth.user.clone().unwrap_or_default(),
            secret: Secret::new(secret),
        },
        AuthKind::Bearer => Credentials::Bearer(Secret::new(secret)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_date_and_reset_header() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(rate_limit_wait(&h, now).unwrap().0, Duration::from_secs(7));

        let mut h = HeaderMap::new();
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert("Retry-After", HeaderValue::from_str(&date).unwrap());
        assert_eq!(rate_limit_wait(&h, now).unwrap().0, Duration::from_secs(30));

        // Intercom: X-RateLimit-Reset in epoch seconds, 12 s after `now`.
        let mut h = HeaderMap::new();
        h.insert("X-RateLimit-Reset", HeaderValue::from_static("1700000012"));
        assert_eq!(rate_limit_wait(&h, now).unwrap().0, Duration::from_secs(12));

        // A reset in the past means "go now", not a negative wait.
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1699999990"));
        assert_eq!(rate_limit_wait(&h, now).unwrap().0, Duration::ZERO);

        assert!(rate_limit_wait(&HeaderMap::new(), now).is_none());
    }

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let p = RetryPolicy {
            max_retries: 5,
            max_rate_limit_waits: 5,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            max_wait: Duration::from_secs(10),
        };
        for _ in 0..50 {
            // step = 100 ms * 2^attempt, capped at 1 s; the wait is in [step/2, step].
            let b0 = p.backoff(0);
            assert!(b0 >= Duration::from_millis(50) && b0 <= Duration::from_millis(100));
            let b2 = p.backoff(2);
            assert!(b2 >= Duration::from_millis(200) && b2 <= Duration::from_millis(400));
            let b9 = p.backoff(9);
            assert!(b9 >= Duration::from_millis(500) && b9 <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn redactor_strips_userinfo_query_and_secrets() {
        let r = Redactor::default().with_secret(None, &Secret::new("s3cr3t-token"));
        let u = Url::parse("https://me:pw@acme.zendesk.com/api/v2/x.json?token=abc#f").unwrap();
        assert_eq!(r.url(&u), "https://acme.zendesk.com/api/v2/x.json");
        assert_eq!(
            r.scrub("bad token s3cr3t-token here"),
            "bad token [redacted] here"
        );
        // A URL's own secrets: its user-info password and credential-like query values.
        let u = Url::parse("https://me:pw%2Fsecret@h.example/x?api_key=k-123456&page=2").unwrap();
        let r = Redactor::default().with_url(&u);
        let out = r.scrub("GET /x?api_key=k-123456&page=2 from me:pw/secret (pw%2Fsecret)");
        assert!(
            !out.contains("k-123456") && !out.contains("pw/secret"),
            "{out}"
        );
        assert!(
            !out.contains("pw%2Fsecret") && out.contains("page=2"),
            "{out}"
        );
    }

    #[test]
    fn snippets_redact_before_cutting_and_cut_on_characters() {
        let r = Redactor::default().with_secret(None, &Secret::new("tok-abcdef-123456"));
        // 190 bytes of `é`, then the secret across the 200-byte cut: cut first, its start
        // would no longer be recognised.
        let body = format!("{}tok-abcdef-123456 more", "é".repeat(95));
        let s = snippet(&r, body.as_bytes());
        assert!(!s.contains("tok-abc"), "{s}");
        // Multi-byte text at the cut: no panic, a whole character boundary.
        let s = snippet(&r, "日本語".repeat(100).as_bytes());
        assert!(s.len() <= 200 && s.starts_with('日'));
    }

    #[test]
    fn command_line_urls_lose_userinfo_and_query_paths_stay() {
        assert_eq!(
            redact_url("https://me:pw@host.example/t.csv?token=abc#x"),
            "https://host.example/t.csv"
        );
        assert_eq!(redact_url("file:///data/t.csv?x=1"), "file:///data/t.csv");
        assert_eq!(redact_url("data/t.csv"), "data/t.csv");
        assert_eq!(redact_url("/abs/t.parquet"), "/abs/t.parquet");
        // Not a valid URL (bad port): still no secrets.
        assert_eq!(
            redact_url("https://me:pw@host:99999/t.csv?token=abc"),
            "https://host:99999/t.csv"
        );
    }
}
