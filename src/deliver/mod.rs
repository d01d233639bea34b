//! Deliver: MIME messages (lettre), sent over SMTP or written to an outbox folder, always
//! through the ledger in the store, so a message already sent for (report, period,
//! recipient) is never sent again.
//!
//! Public face: [`Outgoing`] / [`build_message`], the transports [`SmtpSender`] and
//! [`Outbox`], and [`deliver`] -> [`DeliveryReport`].

mod message;
mod outbox;
mod smtp;

pub use crate::store::DeliveryKey;
pub use message::{build_message, message_id, Outgoing};
pub use outbox::Outbox;
pub use smtp::{PlainTextRefused, SmtpSender};

use crate::config::DeliveryConfig;
use crate::store::{DeliveryState, Store, StoreError};
use rand::Rng;
use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;
// tokio's clock, so a paused test runtime can step through a minute of rate cap.
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("recipient address `{address}` is not valid: {reason}")]
    Address { address: String, reason: String },
    #[error("attachment {filename}: {reason}")]
    Attachment { filename: String, reason: String },
    #[error("cannot build the message to {recipient}: {reason}")]
    Build { recipient: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why one send did not go through. Messages never hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 4xx, timeout, dropped or refused connection: retry with backoff.
    #[error("{0}")]
    Transient(String),
    /// 5xx: the server refused this message for good; the others are still sent.
    #[error("{0}")]
    Permanent(String),
    /// Nothing can be sent until the operator fixes something (TLS mode, credentials,
    /// outbox folder): stop delivering this run.
    #[error("{0}")]
    Setup(String),
}

/// Something that delivers one message.
pub trait Transport: Sync {
    /// For logs and errors (`SMTP smtp.example.com:587 (STARTTLS)`).
    fn describe(&self) -> String;
    /// Delivering an already-delivered key again is harmless and wanted (the outbox
    /// rewrites its files on a rerun); false for SMTP, where it would be a duplicate mail.
    fn rewrites_delivered(&self) -> bool {
        false
    }
    /// Whether `max_per_minute` applies.
    fn rate_limited(&self) -> bool {
        true
    }
    fn send(&self, msg: &Outgoing) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Retries and rate of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// Attempts per message within one run (at least 1).
    pub max_attempts: u32,
    /// Sends per rolling minute at most (0: no cap).
    pub max_per_minute: u32,
    /// Wait before the second attempt; doubles each time, with ±50 % jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl DeliveryPolicy {
    pub fn from_config(cfg: &DeliveryConfig) -> DeliveryPolicy {
        DeliveryPolicy {
            max_attempts: cfg.max_attempts.max(1),
            max_per_minute: cfg.max_per_minute,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        }
    }

    /// Wait before attempt `attempt + 1`, with jitter so many senders do not retry in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
        let jitter: f64 = rand::rng().random_range(0.5..1.5);
        exp.mul_f64(jitter).min(self.max_delay)
    }
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered in this run, after `attempts` attempts (counted over all runs).
    Sent { attempts: u32 },
    /// The ledger says it was delivered by an earlier run: not sent again (the outbox
    /// rewrote its files).
    AlreadyDelivered,
    /// Refused for good (5xx): recorded as `failed_permanent`.
    FailedPermanent { error: String },
    /// Still failing after the run's attempts: left `pending` for the next run.
    Deferred { error: String },
    /// Not tried: delivery stopped on a setup error first.
    NotAttempted,
}

/// The result of [`deliver`], one outcome per message in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliveryReport {
    pub outcomes: Vec<(DeliveryKey, Outcome)>,
    /// The setup error that stopped delivery (TLS mode, credentials, outbox folder).
    pub stopped: Option<String>,
}

impl DeliveryReport {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, o)| f(o)).count()
    }
    /// Delivered in this run.
    pub fn sent(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Sent { .. }))
    }
    pub fn already_delivered(&self) -> usize {
        self.count(|o| matches!(o, Outcome::AlreadyDelivered))
    }
    /// Not delivered (failed, deferred or not attempted).
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.sent() - self.already_delivered()
    }
    pub fn outcome(&self, recipient: &str) -> Option<&Outcome> {
        let r = recipient.to_ascii_lowercase();
        self.outcomes
            .iter()
            .find(|(k, _)| k.recipient == r)
            .map(|(_, o)| o)
    }
}

impl std::fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} already delivered, {} not delivered",
            self.sent(),
            self.already_delivered(),
            self.failed()
        )?;
        if let Some(e) = &self.stopped {
            write!(f, " (stopped: {e})")?;
        }
        Ok(())
    }
}

/// At most `max` sends in any rolling minute. Hand-written: a queue of send times is all it
/// takes, and the rate-limit crates are not dependencies.
struct RateCap {
    max: usize,
    sent: VecDeque<Instant>,
}

impl RateCap {
    async fn wait(&mut self) {
        if self.max == 0 {
            return;
        }
        let minute = Duration::from_secs(60);
        while let Some(&t) = self.sent.front() {
            if t.elapsed() >= minute {
                self.sent.pop_front();
            } else {
                break;
            }
        }
        if self.sent.len() >= self.max {
            let oldest = self.sent.pop_front().expect("non-empty");
            tokio::time::sleep(minute.saturating_sub(oldest.elapsed())).await;
        }
        self.sent.push_back(Instant::now());
    }
}

/// Delivers `messages` through the ledger: sent keys are skipped (the outbox rewrites them),
/// transient failures are retried with backoff up to `policy.max_attempts`, a permanent one
/// is recorded and the others still go, a setup error stops the rest. Messages go one at a
/// time, which also caps concurrency at one connection.
pub async fn deliver<T: Transport>(
    store: &Store,
    transport: &T,
    messages: &[Outgoing],
    policy: &DeliveryPolicy,
) -> Result<DeliveryReport, DeliverError> {
    let mut report = DeliveryReport::default();
    let mut cap = RateCap {
        max: if transport.rate_limited() {
            policy.max_per_minute as usize
        } else {
            0
        },
        sent: VecDeque::new(),
    };
    for msg in messages {
        if report.stopped.is_some() {
            report
                .outcomes
                .push((msg.key.clone(), Outcome::NotAttempted));
            continue;
        }
        match deliver_one(store, transport, msg, policy, &mut cap).await? {
            Step::Done(outcome) => report.outcomes.push((msg.key.clone(), outcome)),
            Step::Stop(error) => {
                tracing::error!(key = %msg.key, transport = %transport.describe(), "delivery stopped: {error}");
                report.stopped = Some(error.clone());
                report
                    .outcomes
                    .push((msg.key.clone(), Outcome::Deferred { error }));
            }
        }
    }
    Ok(report)
}

enum Step {
    Done(Outcome),
    /// A setup error: stop delivering.
    Stop(String),
}

async fn deliver_one<T: Transport>(
    store: &Store,
    transport: &T,
    msg: &Outgoing,
    policy: &DeliveryPolicy,
    cap: &mut RateCap,
) -> Result<Step, DeliverError> {
    if let Some(r) = store.delivery_state(&msg.key)? {
        if r.state == DeliveryState::Sent {
            if transport.rewrites_delivered() {
                if let Err(e) = transport.send(msg).await {
                    return Ok(Step::Stop(e.to_string()));
                }
            }
            tracing::info!(key = %msg.key, "already delivered");
            return Ok(Step::Done(Outcome::AlreadyDelivered));
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        cap.wait().await;
        let Some(total) = store.record_attempt(&msg.key, &msg.message_id)? else {
            // Sent by another process since we looked.
            return Ok(Step::Done(Outcome::AlreadyDelivered));
        };
        match transport.send(msg).await {
            Ok(()) => {
                store.mark_sent(&msg.key)?;
                tracing::info!(key = %msg.key, attempts = total, "delivered");
                return Ok(Step::Done(Outcome::Sent { attempts: total }));
            }
            Err(SendError::Permanent(e)) => {
                store.mark_failed(&msg.key, &e, true)?;
                tracing::warn!(key = %msg.key, "refused for good: {e}");
                return Ok(Step::Done(Outcome::FailedPermanent { error: e }));
            }
            Err(SendError::Setup(e)) => {
                store.mark_failed(&msg.key, &e, false)?;
                return Ok(Step::Stop(e));
            }
            Err(SendError::Transient(e)) => {
                store.mark_failed(&msg.key, &e, false)?;
                if attempt >= policy.max_attempts.max(1) {
                    tracing::warn!(key = %msg.key, attempt, "giving up for this run: {e}");
                    return Ok(Step::Done(Outcome::Deferred { error: e }));
                }
                let wait = policy.backoff(attempt);
                tracing::info!(key = %msg.key, attempt, ?wait, "transient failure, retrying: {e}");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
