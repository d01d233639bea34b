//! Paged endpoints, pulled page by page through the cache's journal: every page is saved before
//! its rows are used, so an interrupted pull resumes after the last saved page, and a rerun
//! replays saved pages instead of asking again.

use super::cache::Cache;
use super::http::{Fetcher, Request};
use super::SourceError;
use serde_json::Value;

/// What a vendor module reads off one page.
#[derive(Debug)]
pub struct PageInfo {
    /// Records on the page (for progress).
    pub items: usize,
    /// The vendor's cursor for the next page, if it gave one.
    pub next: Option<Value>,
    /// Stop after this page in this run (end of stream, or past the window).
    pub last: bool,
    /// The window needs nothing after this page, now or later: reruns send no request.
    pub complete: bool,
}

/// One paged endpoint.
pub struct Stream<'a> {
    /// Cache namespace and what the stream is called in progress lines.
    pub ns: &'a str,
    /// What identifies the stream (base URL, endpoint, start): pages of another key are not
    /// reused.
    pub key: String,
}

impl Stream<'_> {
    /// Pulls the stream. `request_for(None)` is the first page, `request_for(Some(cursor))` the
    /// page after a cursor; `parse` reads a page; `on_page` gets every page (saved ones first)
    /// in order. Returns how many pages came from the cache.
    pub async fn pull(
        &self,
        fetcher: &Fetcher,
        cache: &Cache,
        request_for: impl Fn(Option<&Value>) -> Result<Request, SourceError>,
        parse: impl Fn(&Value) -> Result<PageInfo, String>,
        mut on_page: impl FnMut(&Value),
    ) -> Result<u64, SourceError> {
        let mut journal = cache.journal(self.ns, &self.key);
        let mut cached = 0u64;
        for p in &journal.pages {
            let items = parse(&p.body).map(|i| i.items).unwrap_or(0);
            on_page(&p.body);
            fetcher.progress.page(self.ns, items as u64, true);
            cached += 1;
        }
        let mut cursor: Option<Value> = None;
        if let Some(last) = journal.pages.last() {
            if last.complete || last.next.is_null() {
                return Ok(cached);
            }
            cursor = Some(last.next.clone());
        }
        loop {
            let req = request_for(cursor.as_ref())?;
            let body = fetcher.json(&req).await?;
            let info = parse(&body).map_err(|reason| SourceError::Shape {
                name: fetcher.name().to_string(),
                request: format!("{} {}", req.method, fetcher.redactor.url(&req.url)),
                reason,
            })?;
            // Nothing new at an open stream's tail: not worth a page in the journal.
            let idle_tail = info.items == 0 && !journal.pages.is_empty() && !info.complete;
            if !idle_tail {
                journal.append(
                    info.next.clone().unwrap_or(Value::Null),
                    info.last,
                    info.complete,
                    body.clone(),
                )?;
            }
            on_page(&body);
            fetcher.progress.page(self.ns, info.items as u64, false);
            if info.last || info.next.is_none() {
                return Ok(cached);
            }
            if info.next == cursor {
                return Err(SourceError::Shape {
                    name: fetcher.name().to_string(),
                    request: format!("{} {}", req.method, fetcher.redactor.url(&req.url)),
                    reason: "the next page is this page again (pagination does not advance)".into(),
                });
            }
            cursor = info.next;
        }
    }
}
