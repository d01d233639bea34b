//! Canonical exports (CSV, JSON Lines, Parquet) at an `http(s)://` URL or a `file://` path.
//! The cache keeps the last body with its `ETag` / `Last-Modified`, and a rerun asks the server
//! whether it changed (a conditional GET): unchanged exports are not downloaded again.

use super::cache::Cache;
use super::http::{Fetcher, Request};
use super::SourceError;
use crate::config::{CanonicalSource, SourceFormat};
use crate::ingest::{read_canonical, Ingested};
use reqwest::header::{
    HeaderValue, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::{StatusCode, Url};

pub async fn pull(
    name: &str,
    src: &CanonicalSource,
    fetcher: &Fetcher,
    cache: &Cache,
) -> Result<Ingested, SourceError> {
    let url = Url::parse(&src.url).map_err(|e| SourceError::Config {
        name: name.to_string(),
        message: format!("url is not a URL ({e})"),
    })?;
    let (bytes, content_type) = read(name, &url, fetcher, cache).await?;
    let format = src
        .format
        .unwrap_or_else(|| guess_format(&url, content_type.as_deref()));
    let columns = src.columns.clone();
    let ts = src.timestamp_format.clone();
    // Parsing is CPU work; keep it off the async workers.
    let ingested = super::off_runtime(name, move || {
        read_canonical(&bytes, format, &columns, ts.as_deref())
    })
    .await??;
    fetcher.progress.page(
        &fetcher.redactor.url(&url),
        ingested.total_rows() as u64,
        false,
    );
    Ok(ingested)
}

/// The bytes at `url` (`file://` from disk, `http(s)://` through the fetcher, conditionally
/// when the cache has a copy) and the Content-Type the server named.
pub(super) async fn read(
    name: &str,
    url: &Url,
    fetcher: &Fetcher,
    cache: &Cache,
) -> Result<(Vec<u8>, Option<String>), SourceError> {
    match url.scheme() {
        "file" => Ok((read_file(name, url).await?, None)),
        "http" | "https" => fetch(fetcher, cache, url.clone()).await,
        other => Err(SourceError::Config {
            name: name.to_string(),
            message: format!(
                "cannot read a `{other}:` URL ({}): use http(s):// or file://",
                fetcher.redactor.url(url)
            ),
        }),
    }
}

/// The format of an export: the URL's extension, else the Content-Type, else CSV.
pub(super) fn guess_format(url: &Url, content_type: Option<&str>) -> SourceFormat {
    format_from_path(url.path())
        .or_else(|| content_type.and_then(format_from_content_type))
        .unwrap_or(SourceFormat::Csv)
}

async fn read_file(name: &str, url: &Url) -> Result<Vec<u8>, SourceError> {
    let path = url.to_file_path().map_err(|_| SourceError::Config {
        name: name.to_string(),
        message: format!("`{url}` is not a local file path"),
    })?;
    tokio::fs::read(&path).await.map_err(|e| SourceError::Io {
        name: name.to_string(),
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// GETs the export, conditionally when a cached copy has validators.
async fn fetch(
    fetcher: &Fetcher,
    cache: &Cache,
    url: Url,
) -> Result<(Vec<u8>, Option<String>), SourceError> {
    let key = url.as_str().to_string();
    let cached = cache.get("export", &key);
    let mut req = Request::get(url).whole_lines();
    if let Some((_, meta)) = &cached {
        for (field, header) in [
            ("etag", IF_NONE_MATCH),
            ("last_modified", IF_MODIFIED_SINCE),
        ] {
            if let Some(v) = meta.get(field).and_then(|v| v.as_str()) {
                if let Ok(v) = HeaderValue::from_str(v) {
                    req = req.header(header, v);
                }
            }
        }
    }
    let resp = fetcher.send(&req, |b| Ok(b.to_vec())).await?;
    let header = |h| {
        resp.headers
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    if resp.status == StatusCode::NOT_MODIFIED {
        if let Some((body, meta)) = cached {
            let ct = meta
                .get("content_type")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            return Ok((body, ct));
        }
    }
    let content_type = header(CONTENT_TYPE);
    let etag = header(ETAG);
    let last_modified = header(LAST_MODIFIED);
    if etag.is_some() || last_modified.is_some() {
        cache.put(
            "export",
            &key,
            &resp.body,
            serde_json::json!({
                "etag": etag, "last_modified": last_modified, "content_type": content_type
            }),
        )?;
    }
    Ok((resp.body, content_type))
}

/// The format a path's extension names, if any.
pub fn format_from_path(path: &str) -> Option<SourceFormat> {
    let lower = path.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
    match ext {
        "csv" => Some(SourceFormat::Csv),
        "jsonl" | "ndjson" | "json" => Some(SourceFormat::Jsonl),
        "parquet" | "pq" => Some(SourceFormat::Parquet),
        _ => None,
    }
}

fn format_from_content_type(ct: &str) -> Option<SourceFormat> {
    let ct = ct.to_ascii_lowercase();
    if ct.contains("csv") {
        Some(SourceFormat::Csv)
    } else if ct.contains("ndjson") || ct.contains("jsonl") || ct.contains("json-seq") {
        Some(SourceFormat::Jsonl)
    } else if ct.contains("parquet") {
        Some(SourceFormat::Parquet)
    } else {
        None
    }
}
