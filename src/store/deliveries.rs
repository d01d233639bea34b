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
    /// Attempted, not delivered yet (transient failures): retried next run.
    Pending,
    /// Claimed by a run (`lease_run`, until `lease_until`) that is sending it now. Another run
    /// leaves it alone until the lease expires or the holder is found abandoned.
    Sending,
    /// Accepted by the server (or written to the outbox): never sent again.
    Sent,
    /// The message data went out but the server's answer never came (timeout, dropped
    /// connection, crash): the server may have kept it. Retried once, after a delay, with the
    /// same Message-ID; never blindly.
    InDoubt,
    /// The server refused it permanently (5xx). Not retried within the run; a later run for
    /// the same key tries once more, since the operator may have fixed the mailbox.
    FailedPermanent,
}

impl DeliveryState {
    const ALL: [DeliveryState; 5] = [
        DeliveryState::Pending,
        DeliveryState::Sending,
        DeliveryState::Sent,
        DeliveryState::InDoubt,
        DeliveryState::FailedPermanent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::InDoubt => "in_doubt",
            DeliveryState::FailedPermanent => "failed_permanent",
        }
    }
}

impl FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeliveryState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| s.to_string())
    }
}

/// What [`Store::claim`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This run holds the lease: send. `attempt` counts over all runs; `doubt_retry` marks the
    /// one retry of an in-doubt message.
    Granted { attempt: u32, doubt_retry: bool },
    /// Delivered already: do not send.
    AlreadySent,
    /// Another live run holds the lease and is sending it: do not send.
    Held { run: i64 },
    /// In doubt, and not to be retried now: too soon after the doubt arose, or retried once
    /// already. `retried` says which.
    InDoubt { retried: bool },
}

/// How claims behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTerms {
    /// How long a claim holds without its run being heard of (covers one whole send).
    pub lease: std::time::Duration,
    /// How long an in-doubt message waits before its one retry.
    pub doubt_retry_after: std::time::Duration,
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

    /// Claims `key` for `run` in one immediate transaction (so two processes cannot both
    /// claim it): see [`Claim`]. A lease of a run that is no longer `running` (finished, or
    /// found abandoned) or past `lease_until` is released: if the data of that send had gone
    /// out the message becomes in doubt, otherwise it is simply claimed again.
    pub fn claim(
        &self,
        key: &DeliveryKey,
        message_id: &str,
        run: i64,
        terms: LeaseTerms,
    ) -> Result<Claim, StoreError> {
        let now = Utc::now();
        let lease_until = super::time_text(
            now + chrono::Duration::from_std(terms.lease).unwrap_or(chrono::Duration::MAX),
        );
        let k = params![key.report, key.period, key.recipient];
        self.write("claim delivery", |tx| {
            type Row = (String, Option<i64>, Option<String>, bool, Option<String>, u32, Option<String>);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT d.state, d.lease_run, d.lease_until, d.data_started, d.doubt_since,
                            d.doubt_retries, r.state
                     FROM deliveries d LEFT JOIN runs r ON r.id = d.lease_run
                     WHERE d.report = ?1 AND d.period = ?2 AND d.recipient = ?3",
                    k,
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
                )
                .optional()?;
            let grant = |doubt_retry: bool| -> rusqlite::Result<Claim> {
                let attempt: u32 = tx.query_row(
                    "INSERT INTO deliveries (report, period, recipient, message_id, state, attempts,
                         updated_at, lease_run, lease_until, data_started)
                     VALUES (?1, ?2, ?3, ?4, 'sending', 1, ?5, ?6, ?7, 0)
                     ON CONFLICT (report, period, recipient) DO UPDATE SET
                         attempts = attempts + 1, state = 'sending', message_id = excluded.message_id,
                         updated_at = excluded.updated_at, lease_run = excluded.lease_run,
                         lease_until = excluded.lease_until, data_started = 0,
                         doubt_retries = doubt_retries + ?8
                     RETURNING attempts",
                    params![
                        key.report,
                        key.period,
                        key.recipient,
                        message_id,
                        now_text(),
                        run,
                        lease_until,
                        doubt_retry as u32
                    ],
                    |r| r.get(0),
                )?;
                Ok(Claim::Granted { attempt, doubt_retry })
            };
            let Some((state, holder, until, data_started, doubt_since, retries, holder_state)) = row
            else {
                return grant(false);
            };
            let doubt = |since: Option<String>, retries: u32| -> rusqlite::Result<Claim> {
                let since = since
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(now);
                if retries >= 1 {
                    Ok(Claim::InDoubt { retried: true })
                } else if (now - since).to_std().unwrap_or_default() < terms.doubt_retry_after {
                    Ok(Claim::InDoubt { retried: false })
                } else {
                    grant(true)
                }
            };
            match state.as_str() {
                "sent" => Ok(Claim::AlreadySent),
                "in_doubt" => doubt(doubt_since, retries),
                "sending" => {
                    let live = holder_state.as_deref() == Some("running")
                        && until.as_deref().is_some_and(|u| u > super::time_text(now).as_str());
                    if live && holder != Some(run) {
                        return Ok(Claim::Held { run: holder.unwrap_or(0) });
                    }
                    if data_started {
                        // The holder died (or gave up) after the data went out: in doubt from
                        // now on.
                        let since = doubt_since.unwrap_or_else(now_text);
                        tx.execute(
                            "UPDATE deliveries SET state = 'in_doubt', doubt_since = ?4,
                                 lease_run = NULL, lease_until = NULL,
                                 last_error = 'the run sending it ended before the server answered'
                             WHERE report = ?1 AND period = ?2 AND recipient = ?3",
                            params![key.report, key.period, key.recipient, since],
                        )?;
                        doubt(Some(since), retries)
                    } else {
                        grant(false)
                    }
                }
                _ => grant(false),
            }
        })
    }

    /// Records, before the message data is written, that from now on the outcome of this
    /// send may be unknown (a crash after this point leaves it in doubt, not pending).
    pub fn mark_data_started(&self, key: &DeliveryKey, run: i64) -> Result<(), StoreError> {
        self.write("mark data started", |tx| {
            tx.execute(
                "UPDATE deliveries SET data_started = 1, updated_at = ?5
                 WHERE report = ?1 AND period = ?2 AND recipient = ?3 AND lease_run = ?4
                   AND state = 'sending'",
                params![key.report, key.period, key.recipient, run, now_text()],
            )
        })?;
        Ok(())
    }

    /// Marks `key` delivered (now). Retries on a locked store for the whole write patience:
    /// the server has the message, and forgetting that would send it again.
    pub fn mark_sent(&self, key: &DeliveryKey) -> Result<(), StoreError> {
        self.write("mark sent", |tx| {
            tx.execute(
                "UPDATE deliveries SET state = 'sent', sent_at = ?4, updated_at = ?4,
                     last_error = NULL, lease_run = NULL, lease_until = NULL
                 WHERE report = ?1 AND period = ?2 AND recipient = ?3",
                params![key.report, key.period, key.recipient, now_text()],
            )
        })?;
        Ok(())
    }

    /// Records that the data of `key` went out and no answer came: in doubt since now (kept
    /// from the first doubt when it was a retry). `error` must not hold a secret.
    pub fn mark_in_doubt(&self, key: &DeliveryKey, error: &str) -> Result<(), StoreError> {
        self.write("mark in doubt", |tx| {
            tx.execute(
                "UPDATE deliveries SET state = 'in_doubt', last_error = ?4, updated_at = ?5,
                     doubt_since = COALESCE(doubt_since, ?5), lease_run = NULL, lease_until = NULL
                 WHERE report = ?1 AND period = ?2 AND recipient = ?3 AND state != 'sent'",
                params![key.report, key.period, key.recipient, error, now_text()],
            )
        })?;
        Ok(())
    }

    /// Records a failed attempt. `permanent` moves the row to `failed_permanent`; otherwise it
    /// goes back to `pending` (retried later). Releases the lease. `error` must not hold a
    /// secret.
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
        self.write("mark failed", |tx| {
            // A failed retry of an in-doubt message stays in doubt: the first copy may still
            // be out there, and it has had its one retry.
            tx.execute(
                "UPDATE deliveries SET
                     state = CASE WHEN doubt_retries > 0 THEN 'in_doubt' ELSE ?4 END,
                     last_error = ?5, updated_at = ?6, lease_run = NULL, lease_until = NULL,
                     data_started = 0
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
        })?;
        Ok(())
    }

    /// Releases the leases `run` still holds (a run that ends without finishing a send:
    /// stopped or failed). Sends whose data went out become in doubt.
    pub fn release_leases(&self, run: i64) -> Result<usize, StoreError> {
        self.write("release leases", |tx| {
            let now = now_text();
            let doubted = tx.execute(
                "UPDATE deliveries SET state = 'in_doubt', doubt_since = COALESCE(doubt_since, ?2),
                     lease_run = NULL, lease_until = NULL,
                     last_error = 'the run sending it ended before the server answered'
                 WHERE lease_run = ?1 AND state = 'sending' AND data_started = 1",
                params![run, now],
            )?;
            let freed = tx.execute(
                "UPDATE deliveries SET state = 'pending', lease_run = NULL, lease_until = NULL
                 WHERE lease_run = ?1 AND state = 'sending'",
                params![run],
            )?;
            Ok(doubted + freed)
        })
    }
}
