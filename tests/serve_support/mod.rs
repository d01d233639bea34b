//! Shared by the `baton serve` tests: a generated export covering last week, a config that
//! delivers to the loopback SMTP server of `deliver_support`, and helpers to poll the store.
#![allow(dead_code)]

use baton::config::{Config, SourceFormat};
use baton::demo::{generate_frame, GenerateOptions};
use baton::domain::Period;
use baton::ingest::{normalise, write_canonical};
use std::path::Path;
use std::time::{Duration, Instant};

pub const DEFAULT: &str = include_str!("../../config/baton.toml");

/// Writes a small generated export ending with last week (as the scheduler's fires see it)
/// and returns its `file://` URL.
pub fn export(dir: &Path) -> String {
    let cfg = Config::embedded().unwrap();
    let period = Period::parse("last-week", cfg.tz(), chrono::Utc::now()).unwrap();
    let mut opts = GenerateOptions::ending(period.end_date(), cfg.tz());
    opts.weeks = 2;
    opts.per_week = 200;
    let events = normalise(generate_frame(&opts).unwrap(), &Default::default(), None)
        .unwrap()
        .events;
    let mut csv = Vec::new();
    write_canonical(&events, SourceFormat::Csv, &mut csv).unwrap();
    let path = dir.join("events.csv");
    std::fs::write(&path, csv).unwrap();
    reqwest::Url::from_file_path(&path).unwrap().to_string()
}

/// `text` without the `lead = "..."` of its `[teams]` lines.
fn without_team_leads(text: &str) -> String {
    text.lines()
        .map(|l| match l.find(", lead = \"") {
            Some(i) => {
                let rest = &l[i + ", lead = \"".len()..];
                let end = rest.find('"').map_or(rest.len(), |j| j + 1);
                format!("{}{}", &l[..i], &rest[end..])
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The embedded config with the export as its source, SMTP to `smtp_port` on loopback, the
/// store in `dir`, one schedule `cron` (UTC) and `extra` TOML appended.
pub fn config_text(dir: &Path, url: &str, smtp_port: u16, cron: &str, extra: &str) -> String {
    let schedule_start = DEFAULT.find("[[schedules]]").unwrap();
    let mut text = DEFAULT[..schedule_start]
        .replace(
            "mode = \"outbox\"                      # or \"smtp\" (then [smtp] is required)",
            "mode = \"smtp\"\nabandoned_after_secs = 1",
        )
        .replace(
            "path = \"baton.db\"",
            &format!("path = {:?}", dir.join("baton.db").display().to_string()),
        );
    // These tests count the owners' reports: team leads' reports are tested in demo_e2e and
    // branch alerts in deliver_run.
    text = without_team_leads(&text)
        .lines()
        .map(|l| {
            if l.starts_with("alert_threshold_pp") {
                "alert_threshold_pp = 100.0"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    text.push_str(&format!(
        r#"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "baton <reports@example.com>"
timeout_secs = 2
data_timeout_secs = 5

[sources.export]
kind = "canonical"
url = "{url}"

[[schedules]]
name = "tick"
cron = "{cron}"
time_zone = "UTC"
report = "owners"
grace_hours = 6
working_timeout_secs = 60

{extra}
"#
    ));
    text
}

pub fn config(dir: &Path, url: &str, smtp_port: u16, cron: &str, extra: &str) -> Config {
    let text = config_text(dir, url, smtp_port, cron, extra);
    Config::parse(&text, "test.toml").unwrap()
}

/// Polls `f` every 50 ms until it is true or `within` passes; returns whether it came true.
pub fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

pub async fn wait_until_async(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}
