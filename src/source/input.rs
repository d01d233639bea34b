//! Inputs named on the command line (`--input PATH|URL`): a local path (relative or absolute),
//! a `file://` URL or an `http(s)://` URL. Canonical events are pulled as a canonical source
//! ([`input_source`], then `source::pull`: same cache, quarantine and batching as a configured
//! one); any other table with [`pull_table`]. Both go through the fetcher every source uses
//! (retries, backoff, 429 waits, redaction) and ingest's readers.

use super::cache::Cache;
use super::http::{redact_url, Fetcher};
use super::progress::Progress;
use super::{canonical, off_runtime, PullOptions, SourceError};
use crate::config::{HttpOptions, SourceConfig};
use crate::ingest::read_table;
use polars::prelude::DataFrame;
use reqwest::Url;
use std::path::Path;

/// How an input is named in errors and progress lines (`source `input`: ...`).
const NAME: &str = "input";

/// The canonical source for `--input`: a URL as given, a local path as a `file://` URL
/// (a relative path is taken from the current directory).
pub fn input_source(input: &str) -> Result<SourceConfig, SourceError> {
    Ok(SourceConfig::canonical(input_url(input)?.as_str()))
}

/// Reads any table (dimension columns and measures, not canonical events) from a local path,
/// a `file://` or an `http(s)://` URL. The format comes from the extension, else the
/// Content-Type, else CSV; column types are inferred from every value (`ingest::read_table`).
pub async fn pull_table(input: &str, opts: &PullOptions) -> Result<DataFrame, SourceError> {
    let url = input_url(input)?;
    let shown = redact_url(url.as_str());
    let progress = Progress::new(NAME, opts.progress);
    let http = HttpOptions {
        // A table is one document, possibly large: allow what `baton explain` always allowed.
        timeout_secs: 120,
        ..HttpOptions::default()
    };
    let fetcher = Fetcher::new(NAME, &http, progress.clone())?;
    let cache = Cache::new(opts.cache_dir.as_deref(), NAME);
    let (bytes, content_type) = canonical::read(NAME, &url, &fetcher, &cache).await?;
    let format = canonical::guess_format(&url, content_type.as_deref());
    let table = off_runtime(NAME, move || read_table(&bytes, format))
        .await?
        .map_err(|source| SourceError::Table {
            name: NAME.into(),
            input: shown.clone(),
            source,
        })?;
    progress.page(&shown, table.height() as u64, false);
    progress.finish();
    Ok(table)
}

/// `input` as a URL: `scheme://...` parsed as it is, anything else a local path.
fn input_url(input: &str) -> Result<Url, SourceError> {
    let config = |message: String| SourceError::Config {
        name: NAME.into(),
        message,
    };
    if input.contains("://") {
        return Url::parse(input)
            .map_err(|e| config(format!("`{}` is not a URL ({e})", redact_url(input))));
    }
    let path = Path::new(input);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| config(format!("cannot resolve the relative path `{input}`: {e}")))?
            .join(path)
    };
    Url::from_file_path(&absolute).map_err(|_| {
        config(format!(
            "`{}` is not a usable file path",
            absolute.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_file_urls_and_urls_stay() {
        let here = std::env::current_dir().unwrap();
        let url = input_url("data/my events.csv").unwrap();
        assert_eq!(url.scheme(), "file");
        assert_eq!(url.to_file_path().unwrap(), here.join("data/my events.csv"));
        assert_eq!(
            input_url("/tmp/x.parquet").unwrap().as_str(),
            "file:///tmp/x.parquet"
        );
        assert_eq!(
            input_url("https://h.example/t.csv?token=1")
                .unwrap()
                .as_str(),
            "https://h.example/t.csv?token=1"
        );
        let SourceConfig::Canonical(c) = input_source("x.jsonl").unwrap() else {
            panic!()
        };
        assert!(c.url.starts_with("file:///") && c.url.ends_with("/x.jsonl"));
        let err = input_url("https://me:pw@h.example:99999/t.csv?token=s3cret").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("s3cret") && !msg.contains("pw@"), "{msg}");
    }
}
