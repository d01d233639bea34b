//! Paged endpoints, pulled page by page through the cache's journal: every page is saved before
//! its rows are used, so an interrupted pull resumes after the last saved page, and a rerun
//! replays saved pages instead of asking again.

use super::cache::{Cache, SavedPage};
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

/// How a stream whose saved pages ended (no next cursor) while its window was still open is
/// taken up again on a later run: what was added since is not in the saved pages.
pub enum Reopen<'a> {
    /// Ask for the last saved page again (with the cursor that fetched it) and replace it,
    /// then follow any new next cursor: for streams that grow at their tail (oldest first).
    LastPage,
    /// Continue with the cursor this makes from the saved pages, the new pages appended (an
    /// Intercom listing is newest first, so what changed is asked for by a search on
    /// `updated_at` since the latest saved).
    From(ResumeCursor<'a>),
}

/// Makes the cursor a finished stream is taken up again with, from its saved pages.
pub type ResumeCursor<'a> = Box<dyn Fn(&[SavedPage]) -> Value + Send + Sync + 'a>;

/// One paged endpoint.
pub struct Stream<'a> {
    /// Cache namespace and what the stream is called in progress lines.
    pub ns: &'a str,
    /// What identifies the stream (base URL, endpoint, start): pages of another key are not
    /// reused.
    pub key: String,
    pub reopen: Reopen<'a>,
}

impl Stream<'_> {
    /// Pulls the stream. `request_for(None)` is the first page, `request_for(Some(cursor))` the
    /// page after a cursor; `parse` reads a page (given the cursor that fetched it; none for
    /// saved pages, whose items are only counted); `on_page` gets every page (saved ones
    /// first) in order. Returns how many pages came from the cache.
    ///
    /// A saved stream is complete (no request) only when its last page said so (the window
    /// had closed); one that ended while the window was open is taken up again ([`Reopen`]).
    pub async fn pull(
        &self,
        fetcher: &Fetcher,
        cache: &Cache,
        request_for: impl Fn(Option<&Value>) -> Result<Request, SourceError>,
        parse: impl Fn(&Value, Option<&Value>) -> Result<PageInfo, String>,
        mut on_page: impl FnMut(&Value),
    ) -> Result<u64, SourceError> {
        let mut journal = cache.journal(self.ns, &self.key);
        let mut cached = 0u64;
        for p in &journal.pages {
            let items = parse(&p.body, None).map(|i| i.items).unwrap_or(0);
            on_page(&p.body);
            fetcher.progress.page(self.ns, items as u64, true);
            cached += 1;
        }
        let mut cursor: Option<Value> = None;
        let mut replace_last = false;
        if let Some(last) = journal.pages.last() {
            if last.complete {
                return Ok(cached);
            }
            if !last.next.is_null() {
                cursor = Some(last.next.clone());
            } else {
                match &self.reopen {
                    Reopen::LastPage => {
                        let n = journal.pages.len();
                        cursor = (n >= 2)
                            .then(|| journal.pages[n - 2].next.clone())
                            .filter(|c| !c.is_null());
                        replace_last = true;
                    }
                    Reopen::From(make) => cursor = Some(make(&journal.pages)),
                }
            }
        }
        loop {
            let req = request_for(cursor.as_ref())?;
            let body = fetcher.json(&req).await?;
            let info = parse(&body, cursor.as_ref()).map_err(|reason| SourceError::Shape {
                name: fetcher.name().to_string(),
                request: format!("{} {}", req.method, fetcher.redactor.url(&req.url)),
                reason,
            })?;
            // Nothing new at an open stream's tail: not worth a page in the journal.
            let idle_tail = info.items == 0 && !journal.pages.is_empty() && !info.complete;
            if replace_last {
                replace_last = false;
                journal.replace_last(
                    info.next.clone().unwrap_or(Value::Null),
                    info.last,
                    info.complete,
                    body.clone(),
                )?;
            } else if !idle_tail {
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
