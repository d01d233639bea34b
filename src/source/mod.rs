//! Source: pull helpdesk exports over HTTP (or `file://`) and hand them to ingest.
//!
//! [`pull`] is the one public face: it reads a configured source (a canonical export, the
//! Zendesk or the Intercom API) for a window of time and returns canonical events. For the
//! command line, [`input_source`] makes a `--input` path or URL a canonical source, and
//! [`pull_table`] reads any table (not canonical events) through the same HTTP client and
//! reader; [`redact_url`] is how a URL is shown in logs and errors. Underneath:
//! `http` (credentials, retries, rate limits, redaction), `cache` (pages saved on disk so reruns
//! and crash-resumes do not pull again), `progress` (spinner or log lines), and one module per
//! kind of source. Vendor JSON is turned into canonical rows by `crate::ingest::{zendesk,
//! intercom}`; this stage only moves bytes.

mod cache;
mod canonical;
mod http;
mod input;
mod intercom;
mod progress;
mod stream;
mod zendesk;

use crate::config::{ReportConfig, SourceConfig};
use crate::domain::Period;
use crate::ingest::vendor::VendorEvents;
use crate::ingest::{IngestError, Ingested};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

pub use canonical::format_from_path;
pub use http::{rate_limit_wait, redact_url};
pub use input::{input_source, pull_table};

/// The instants a run needs events for: `start <= at < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl PullWindow {
    pub fn everything() -> PullWindow {
        PullWindow {
            start: DateTime::<Utc>::MIN_UTC,
            end: DateTime::<Utc>::MAX_UTC,
        }
    }

    /// Whether the window cuts nothing.
    pub fn is_everything(&self) -> bool {
        *self == PullWindow::everything()
    }

    /// The window a report on `period` reads, whatever the source (docs/sources.md, "The
    /// window a report reads"): from the first trend week less `history_days`, to the
    /// period's end.
    pub fn for_report(period: &Period, report: &ReportConfig) -> PullWindow {
        PullWindow {
            start: period.report_span(report.trend_weeks)[0].start_utc()
                - chrono::Duration::days(report.history_days.into()),
            end: period.end_utc(),
        }
    }

    /// The window an explanation of `period` against `vs` reads: both periods, with the
    /// same history before the earlier one and nothing after the later one.
    pub fn for_comparison(period: &Period, vs: &Period, report: &ReportConfig) -> PullWindow {
        let history = chrono::Duration::days(report.history_days.into());
        PullWindow {
            start: period.start_utc().min(vs.start_utc()) - history,
            end: period.end_utc().max(vs.end_utc()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Where pulled pages are cached; none = no cache.
    pub cache_dir: Option<PathBuf>,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// Why a pull failed. Every URL in here is redacted (no user-info, no query string) and no
/// message carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source `{name}`: {message}")]
    Http { name: String, message: String },
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A 4xx other than 429 (or a rate-limit wait too long to accept): retrying cannot help.
    #[error("source `{name}`: {request} failed with HTTP {status}: {reason}")]
    Status {
        name: String,
        request: String,
        status: u16,
        reason: String,
    },
    /// 5xx, timeouts, dropped connections or unreadable bodies, past `max_retries`.
    #[error("source `{name}`: {request} gave up after {attempts} attempts; last: {last}")]
    GaveUp {
        name: String,
        request: String,
        attempts: u32,
        last: String,
    },
    /// The source's configuration cannot work (missing url, unset secret variable, ...).
    #[error("source `{name}`: {message}")]
    Config { name: String, message: String },
    #[error("source `{name}`: cannot read {path}: {reason}")]
    Io {
        name: String,
        path: String,
        reason: String,
    },
    #[error("source `{name}`: cannot write the cache at {path}: {reason}")]
    Cache {
        name: String,
        path: String,
        reason: String,
    },
    /// A table ([`pull_table`]) that does not decode as its format.
    #[error("source `{name}`: cannot read the table {input}: {source}")]
    Table {
        name: String,
        /// Redacted.
        input: String,
        source: IngestError,
    },
    /// The vendor answered 200 with JSON that is not the documented shape.
    #[error("source `{name}`: {request} returned an unexpected shape: {reason}")]
    Shape {
        name: String,
        request: String,
        reason: String,
    },
}

/// What a pull did, besides the events: for the CLI summary and the run record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullStats {
    /// HTTP requests sent, retries and rate-limit waits included.
    pub requests: u64,
    pub retries: u64,
    pub rate_limit_waits: u64,
    /// Pages taken from the cache instead of the network (conditional GETs answered 304
    /// included).
    pub cached_pages: u64,
    /// Vendor records that are not canonical events (unknown kinds, internal notes, ...), by
    /// reason. They are also added to the quarantine counts (without a row).
    pub skipped: BTreeMap<String, usize>,
}

/// Events plus the pull's statistics.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub ingested: Ingested,
    pub stats: PullStats,
}

/// Pulls one configured source for `window` and normalises it to canonical events.
///
/// Vendor APIs are asked for the window only; canonical exports are read whole. Either way
/// only events with `window.start <= at < window.end` are kept, by one cut after ingest, so
/// every kind of source gives a report the same events.
pub async fn pull(
    name: &str,
    src: &SourceConfig,
    window: &PullWindow,
    opts: &PullOptions,
) -> Result<Ingested, SourceError> {
    Ok(pull_with_stats(name, src, window, opts).await?.ingested)
}

/// [`pull`], also returning what it took (requests, retries, waits, cache hits, skipped records).
pub async fn pull_with_stats(
    name: &str,
    src: &SourceConfig,
    window: &PullWindow,
    opts: &PullOptions,
) -> Result<Pulled, SourceError> {
    let progress = progress::Progress::new(name, opts.progress);
    let fetcher = http::Fetcher::new(name, src.http(), progress.clone())?;
    let cache = cache::Cache::new(opts.cache_dir.as_deref(), name);
    let (ingested, skipped, cached_pages) = match src {
        SourceConfig::Canonical(c) => (
            canonical::pull(name, c, &fetcher, &cache).await?,
            BTreeMap::new(),
            0,
        ),
        SourceConfig::Zendesk(z) => {
            vendor_events(name, zendesk::pull(z, window, &fetcher, &cache).await?).await?
        }
        SourceConfig::Intercom(i) => {
            vendor_events(name, intercom::pull(i, window, &fetcher, &cache).await?).await?
        }
    };
    progress.finish();
    let mut ingested = ingested;
    if !window.is_everything() {
        ingested.retain_window(window.start, window.end)?;
    }
    let c = &fetcher.counters;
    Ok(Pulled {
        ingested,
        stats: PullStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limit_waits: c.rate_limit_waits.load(Ordering::Relaxed),
            cached_pages: cached_pages + c.not_modified.load(Ordering::Relaxed),
            skipped,
        },
    })
}

/// A vendor adapter's rows as canonical events (validated off the runtime), with what it
/// skipped by reason and the pages it took from the cache.
async fn vendor_events(
    name: &str,
    (events, cached): (VendorEvents, u64),
) -> Result<(Ingested, BTreeMap<String, usize>, u64), SourceError> {
    let mut skipped = events.ignored.clone();
    for (k, v) in &events.unknown {
        *skipped.entry(k.clone()).or_default() += v;
    }
    let ingested = off_runtime(name, move || events.into_ingested()).await??;
    Ok((ingested, skipped, cached))
}

/// `base_url` of a vendor source, ending in `/` so endpoint paths join under it.
fn base_url(name: &str, raw: &str) -> Result<reqwest::Url, SourceError> {
    let with_slash = if raw.ends_with('/') {
        raw.to_string()
    } else {
        format!("{raw}/")
    };
    let url = reqwest::Url::parse(&with_slash).map_err(|e| SourceError::Config {
        name: name.to_string(),
        message: format!("base_url is not a URL ({e})"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SourceError::Config {
            name: name.to_string(),
            message: "base_url must be http(s)".into(),
        });
    }
    Ok(url)
}

/// Decodes off the async runtime (see `crate::offload`), a failure named after the source.
async fn off_runtime<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SourceError> {
    crate::offload::cpu("decoding an export", work)
        .await
        .map_err(|e| SourceError::Http {
            name: name.to_string(),
            message: e.to_string(),
        })
}
