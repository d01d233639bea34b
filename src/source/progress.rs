//! Progress of a pull: a spinner with pages, rows and rate-limit waits on a terminal, plain
//! `tracing` lines otherwise (logs of a scheduled run).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Progress {
    name: Arc<str>,
    bar: Option<ProgressBar>,
    pages: Arc<AtomicU64>,
    rows: Arc<AtomicU64>,
    waits: Arc<AtomicU64>,
}

impl Progress {
    /// A spinner when `wanted` and stderr is a terminal; log lines otherwise.
    pub fn new(name: &str, wanted: bool) -> Progress {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            name: name.into(),
            bar,
            pages: Arc::default(),
            rows: Arc::default(),
            waits: Arc::default(),
        }
    }

    /// A page was read (from the network or the cache) with `rows` records.
    pub fn page(&self, what: &str, rows: u64, cached: bool) {
        let pages = self.pages.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        let from = if cached { " (cache)" } else { "" };
        match &self.bar {
            Some(bar) => bar.set_message(self.summary(pages, total, what)),
            None => tracing::info!(
                source = %self.name, pages, rows = total,
                "{what}: {rows} records{from}"
            ),
        }
    }

    pub fn rate_limited(&self, request: &str, wait: Duration, basis: &str) {
        let waits = self.waits.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.set_message(format!(
                "{} - rate limited, waiting {:.1} s ({basis})",
                self.summary(
                    self.pages.load(Ordering::Relaxed),
                    self.rows.load(Ordering::Relaxed),
                    ""
                ),
                wait.as_secs_f64()
            )),
            None => tracing::warn!(
                source = %self.name, waits,
                "{request}: rate limited, waiting {:.1} s ({basis})", wait.as_secs_f64()
            ),
        }
    }

    pub fn retrying(&self, request: &str, why: &str, wait: Duration, attempt: u32) {
        let log = || {
            tracing::warn!(
                source = %self.name,
                "{request}: {why}; retry {attempt} in {:.1} s", wait.as_secs_f64()
            )
        };
        match &self.bar {
            // A retry is worth a line in any case; hide the spinner while it is written.
            Some(bar) => {
                bar.suspend(log);
                bar.set_message(format!("retry {attempt} in {:.1} s", wait.as_secs_f64()));
            }
            None => log(),
        }
    }

    pub fn finish(&self) {
        let (pages, rows) = (
            self.pages.load(Ordering::Relaxed),
            self.rows.load(Ordering::Relaxed),
        );
        match &self.bar {
            Some(bar) => bar.finish_with_message(self.summary(pages, rows, "done")),
            None => tracing::info!(source = %self.name, pages, rows, "pull done"),
        }
    }

    fn summary(&self, pages: u64, rows: u64, what: &str) -> String {
        let waits = self.waits.load(Ordering::Relaxed);
        format!("{pages} pages, {rows} records, {waits} rate-limit waits {what}")
    }
}
