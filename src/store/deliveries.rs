//! The delivery ledger: one row per (report, period, recipient), so a message already sent
//! is never sent again, whatever reruns, restarts or catch-ups happen.

use super::{now_text, parse_time, Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// What one message is for: the idempotency key of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DeliveryKey {
    /// Report name (`owners`).
    pub report: String,
    /// Period label (`2026-W46`).
    pub period: String,
    /// Recipient address (`support-ops@example.com`).
    pub recipient: String,
}

impl DeliveryKey {
    pub fn new(
        report: impl Into<String>,
        period: impl Into<String>,
        recipient: impl Into<String>,
    ) -> DeliveryKey {
        DeliveryKey {
            report: report.into(),
            period: period.into(),
            // Addresses differ only in case in practice: one key for both spellings.
            recipient: recipient.into().trim().to_ascii_lowercase(),
        }
    }
}

impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.report, self.period, self.recipient)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Attempted, not delivered yet (transient failures, or interrupted): retried next run.
    Pending,
    /// Accepted by the server (or written to the outbox): never sent again.
    Sent,
    /// The server refused it permanently (5xx). Not retried within the run; a later run for
    /// the same key tries once more, since the operator may have fixed the mailbox.
    FailedPermanent,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::FailedPermanent => "failed_permanent",
        }
    }
}

impl FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            DeliveryState::Pending,
            DeliveryState::Sent,
            DeliveryState::FailedPermanent,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| s.to_string())
    }
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub key: DeliveryKey,
    pub message_id: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// The last failure, as the server or the transport put it (never a secret).
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

const LEDGER_COLUMNS: &str =
    "report, period, recipient, message_id, state, attempts, last_error, sent_at";

type RawDelivery = (
    String,
    String,
    String,
    String,
    String,
    u32,
    Option<String>,
    Option<String>,
);

fn raw_delivery(r: &rusqlite::Row) -> rusqlite::Result<RawDelivery> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn to_record(raw: RawDelivery) -> Result<DeliveryRecord, StoreError> {
    let (report, period, recipient, message_id, state, attempts, last_error, sent_at) = raw;
    Ok(DeliveryRecord {
        key: DeliveryKey {
            report,
            period,
            recipient,
        },
        message_id,
        state: state.parse().map_err(|value| StoreError::Corrupt {
            what: "deliveries.state",
            value,
        })?,
        attempts,
        last_error,
        sent_at: parse_time("deliveries.sent_at", sent_at)?,
    })
}

fn query(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

impl Store {
    /// The ledger row of `key`, if it was ever attempted.
    pub fn delivery_state(&self, key: &DeliveryKey) -> Result<Option<DeliveryRecord>, StoreError> {
        let raw = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {LEDGER_COLUMNS} FROM deliveries
                     WHERE report = ?1 AND period = ?2 AND recipient = ?3"
                ),
                params![key.report, key.period, key.recipient],
                raw_delivery,
            )
            .optional()
            .map_err(query("read delivery"))?;
        raw.map(to_record).transpose()
    }

    /// Every ledger row of one report and period, by recipient.
    pub fn deliveries(
        &self,
        report: &str,
        period: &str,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {LEDGER_COLUMNS} FROM deliveries WHERE report = ?1 AND period = ?2
                 ORDER BY recipient"
            ))
            .map_err(query("list deliveries"))?;
        let raws = stmt
            .query_map(params![report, period], raw_delivery)
            .map_err(query("list deliveries"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(query("list deliveries"))?;
        raws.into_iter().map(to_record).collect()
    }

    /// Records that an attempt is about to be made: creates the row as `pending` (or moves a
    /// failed row back to `pending`) and counts the attempt. Returns the attempt number.
    /// A row already `sent` is left alone and `None` is returned: the caller must not send.
    pub fn record_attempt(
        &self,
        key: &DeliveryKey,
        message_id: &str,
    ) -> Result<Option<u32>, StoreError> {
        let conn = self.conn();
        // One statement, so two processes racing on the same key cannot both get a go-ahead
        // for a row that is already sent.
        let attempts: Option<u32> = conn
            .query_row(
                "INSERT INTO deliveries (report, period, recipient, message_id, state, attempts, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', 1, ?5)
                 ON CONFLICT (report, period, recipient) DO UPDATE SET
                     attempts = attempts + 1, state = 'pending', message_id = excluded.message_id,
                     updated_at = excluded.updated_at
                 WHERE deliveries.state != 'sent'
                 RETURNING attempts",
                params![key.report, key.period, key.recipient, message_id, now_text()],
                |r| r.get(0),
            )
            .optional()
            .map_err(query("record attempt"))?;
        Ok(attempts)
    }

    /// Marks `key` delivered (now).
    pub fn mark_sent(&self, key: &DeliveryKey) -> Result<(), StoreError> {
        let now = now_text();
        self.conn()
            .execute(
                "UPDATE deliveries SET state = 'sent', sent_at = ?4, updated_at = ?4, last_error = NULL
                 WHERE report = ?1 AND period = ?2 AND recipient = ?3",
                params![key.report, key.period, key.recipient, now],
            )
            .map_err(query("mark sent"))?;
        Ok(())
    }

    /// Records a failed attempt. `permanent` moves the row to `failed_permanent`; otherwise it
    /// stays `pending` (retried later). `error` must not hold a secret.
    pub fn mark_failed(
        &self,
        key: &DeliveryKey,
        error: &str,
        permanent: bool,
    ) -> Result<(), StoreError> {
        let state = if permanent {
            DeliveryState::FailedPermanent
        } else {
            DeliveryState::Pending
        };
        self.conn()
            .execute(
                "UPDATE deliveries SET state = ?4, last_error = ?5, updated_at = ?6
                 WHERE report = ?1 AND period = ?2 AND recipient = ?3 AND state != 'sent'",
                params![
                    key.report,
                    key.period,
                    key.recipient,
                    state.as_str(),
                    error,
                    now_text()
                ],
            )
            .map_err(query("mark failed"))?;
        Ok(())
    }
}
