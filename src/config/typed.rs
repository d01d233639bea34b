//! Values parsed once, when the file is read, into the types the stages use: a time zone is a
//! `chrono_tz::Tz`, a cron a parsed `croner::Cron`, an address a `lettre::Address`. A bad value
//! fails the load with its key (serde_path_to_error adds the path), so nothing downstream
//! validates again or `expect`s.

use chrono_tz::Tz;
use lettre::message::Mailbox;
use lettre::Address;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Reads a string and parses it with `parse`, whose error text becomes the message.
fn parsed<'de, D, T>(d: D, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// `time_zone = "Europe/London"`.
pub fn tz<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    parsed(d, |s| {
        s.trim()
            .parse::<Tz>()
            .map_err(|_| format!("`{s}` is not an IANA time zone (e.g. Europe/London)"))
    })
}

/// `from = "baton <reports@example.com>"`.
pub fn mailbox<'de, D: Deserializer<'de>>(d: D) -> Result<Mailbox, D::Error> {
    parsed(d, |s| {
        s.parse::<Mailbox>()
            .map_err(|_| format!("`{s}` is not a mailbox (e.g. \"baton <reports@example.com>\")"))
    })
}

/// `email = "lead@example.com"`, absent or empty as none (the caller says what is missing).
pub fn address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Address>, D::Error> {
    parsed(d, |s| {
        if s.trim().is_empty() {
            return Ok(None);
        }
        s.trim()
            .parse::<Address>()
            .map(Some)
            .map_err(|_| format!("`{s}` is not an email address"))
    })
}

/// A cron expression parsed at load, with its text kept for messages and the run log.
#[derive(Clone)]
pub struct CronExpr {
    text: String,
    cron: croner::Cron,
}

impl CronExpr {
    pub fn parse(text: &str) -> Result<CronExpr, String> {
        let cron = text
            .parse::<croner::Cron>()
            .map_err(|e| format!("`{text}` is not a cron expression: {e}"))?;
        Ok(CronExpr {
            text: text.to_string(),
            cron,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn cron(&self) -> &croner::Cron {
        &self.cron
    }
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronExpr({:?})", self.text)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for CronExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CronExpr, D::Error> {
        parsed(d, CronExpr::parse)
    }
}
