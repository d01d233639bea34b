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
pub use message::{build_message, build_message_with, message_id, Headers, Outgoing};
pub use outbox::Outbox;
pub use smtp::{PlainTextRefused, SmtpSender};

use crate::config::DeliveryConfig;
use crate::store::{Claim, LeaseTerms, NewRun, RunId, RunKind, RunOutcome, Store, StoreError};
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
    /// 4xx, timeout, dropped or refused connection before the data: retry with backoff.
    #[error("{0}")]
    Transient(String),
    /// 5xx: the server refused this message for good; the others are still sent.
    #[error("{0}")]
    Permanent(String),
    /// Nothing can be sent until the operator fixes something (TLS mode, credentials,
    /// outbox folder): stop delivering this run.
    #[error("{0}")]
    Setup(String),
    /// The message data went out and no answer came (timeout, dropped connection): the server
    /// may have kept it. Not retried in this run; retried once by a later run, after
    /// `delivery.in_doubt_retry_after_secs`, with the same Message-ID.
    #[error("{0}")]
    InDoubt(String),
}

/// Told by a transport just before the message data goes out: after that a failure with no
/// answer leaves the outcome unknown. An error (the ledger cannot record it) means: do not
/// write the data.
pub trait DataGate: Sync {
    fn data_starting(&self) -> Result<(), String>;
}

/// A gate that records nothing (a transport used outside the ledger).
pub struct NoGate;

impl DataGate for NoGate {
    fn data_starting(&self) -> Result<(), String> {
        Ok(())
    }
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
    /// Sends `msg`, calling `gate.data_starting()` just before the point after which the
    /// receiver may have the message without our knowing (SMTP: before the data).
    fn send(
        &self,
        msg: &Outgoing,
        gate: &dyn DataGate,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Retries, rate and leases of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// Attempts per message within one run (at least 1).
    pub max_attempts: u32,
    /// Sends per rolling minute at most (0: no cap).
    pub max_per_minute: u32,
    /// Wait before the second attempt; doubles each time, with ±50 % jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// How long a claim holds, and when an in-doubt message gets its one retry.
    pub lease: LeaseTerms,
    /// A run not heard from for this long is abandoned (its process died).
    pub abandoned_after: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy::from_config(&DeliveryConfig::default())
    }
}

impl DeliveryPolicy {
    pub fn from_config(cfg: &DeliveryConfig) -> DeliveryPolicy {
        DeliveryPolicy {
            max_attempts: cfg.max_attempts.max(1),
            max_per_minute: cfg.max_per_minute,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            lease: LeaseTerms {
                lease: Duration::from_secs(cfg.lease_secs.max(1)),
                doubt_retry_after: Duration::from_secs(cfg.in_doubt_retry_after_secs),
            },
            abandoned_after: Duration::from_secs(cfg.abandoned_after_secs.max(1)),
        }
    }

    /// How often a run says it is alive: well within `abandoned_after`.
    pub fn heartbeat_every(&self) -> Duration {
        (self.abandoned_after / 4).max(Duration::from_millis(100))
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
    /// Another run holds the claim and is sending it now: not sent by this one.
    ClaimedElsewhere { run: i64 },
    /// Refused for good (5xx): recorded as `failed_permanent`.
    FailedPermanent { error: String },
    /// Still failing after the run's attempts: left `pending` for the next run.
    Deferred { error: String },
    /// The data went out and the answer never came: the owner may or may not have it.
    /// `retried`: it has had its one retry already, and will not be sent again.
    InDoubt { error: String, retried: bool },
    /// Not tried: delivery stopped on a setup error first.
    NotAttempted,
    /// The report could not be rendered for this owner (too big even shortened): nothing sent.
    NotRendered { error: String },
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
    /// Left to the run that is sending them.
    pub fn claimed_elsewhere(&self) -> usize {
        self.count(|o| matches!(o, Outcome::ClaimedElsewhere { .. }))
    }
    pub fn in_doubt(&self) -> usize {
        self.count(|o| matches!(o, Outcome::InDoubt { .. }))
    }
    /// Not delivered by this run or an earlier one, nor being sent by another (failed,
    /// deferred, in doubt or not attempted).
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.sent() - self.already_delivered() - self.claimed_elsewhere()
    }
    pub fn outcome(&self, recipient: &str) -> Option<&Outcome> {
        let r = recipient.to_ascii_lowercase();
        self.outcomes
            .iter()
            .find(|(k, _)| k.recipient == r)
            .map(|(_, o)| o)
    }
    /// One line per message not delivered: `enablement@example.com: in doubt (...)`.
    pub fn problems(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .filter_map(|(k, o)| {
                let why = match o {
                    Outcome::Sent { .. }
                    | Outcome::AlreadyDelivered
                    | Outcome::ClaimedElsewhere { .. } => return None,
                    Outcome::FailedPermanent { error } => format!("refused: {error}"),
                    Outcome::Deferred { error } => format!("deferred to the next run: {error}"),
                    Outcome::InDoubt {
                        error,
                        retried: false,
                    } => {
                        format!("in doubt (retried once by a later run, same Message-ID): {error}")
                    }
                    Outcome::InDoubt {
                        error,
                        retried: true,
                    } => format!("in doubt, retried once already, not sent again: {error}"),
                    Outcome::NotAttempted => "not attempted (delivery stopped)".to_string(),
                    Outcome::NotRendered { error } => format!("not sent: {error}"),
                };
                Some(format!("{}: {why}", k.recipient))
            })
            .collect()
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
        if self.in_doubt() > 0 {
            write!(f, " ({} in doubt)", self.in_doubt())?;
        }
        if self.claimed_elsewhere() > 0 {
            write!(
                f,
                ", {} being sent by another run",
                self.claimed_elsewhere()
            )?;
        }
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

/// Runs `fut`, recording a heartbeat for `run` every `every` meanwhile, so other processes
/// see the run alive and leave its claims alone.
pub async fn with_heartbeat<F: Future>(
    store: &Store,
    run: RunId,
    every: Duration,
    fut: F,
) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = &mut fut => return out,
            _ = tick.tick() => {
                if let Err(e) = store.heartbeat(run) {
                    tracing::warn!("cannot record the run's heartbeat: {e}");
                }
            }
        }
    }
}

/// Delivers `messages` through the ledger. Each message is claimed first (a lease in the
/// store's run, see [`Store::claim`]): one already sent is skipped (the outbox rewrites
/// it), one another live run is sending is left to it, one in doubt waits for its one retry.
/// Transient failures are retried with backoff up to `policy.max_attempts`, a permanent one
/// is recorded and the others still go, a setup error stops the rest. Messages go one at a
/// time, which also caps concurrency at one connection.
///
/// The run is the store's current run ([`Store::set_current_run`]); without one, this
/// delivery is logged as a run of its own.
pub async fn deliver<T: Transport>(
    store: &Store,
    transport: &T,
    messages: &[Outgoing],
    policy: &DeliveryPolicy,
) -> Result<DeliveryReport, DeliverError> {
    if let Some(run) = store.current_run() {
        let work = deliver_all(store, transport, messages, policy, run);
        return with_heartbeat(store, run, policy.heartbeat_every(), work).await;
    }
    store.mark_abandoned(policy.abandoned_after)?;
    let run = store.start_run(&NewRun {
        kind: RunKind::Manual,
        report: messages
            .first()
            .map(|m| m.key.report.clone())
            .unwrap_or_default(),
        period: messages.first().map(|m| m.key.period.clone()),
        schedule: None,
        scheduled_for: None,
    })?;
    let work = deliver_all(store, transport, messages, policy, run);
    let result = with_heartbeat(store, run, policy.heartbeat_every(), work).await;
    let outcome = match &result {
        Ok(r) => r.run_outcome(0, None),
        Err(e) => RunOutcome::Failed {
            messages_sent: 0,
            messages_failed: messages.len() as u32,
            quarantined_rows: 0,
            error: e.to_string(),
        },
    };
    store.release_leases(run.0)?;
    store.finish_run(run, &outcome)?;
    result
}

impl DeliveryReport {
    /// How a run that delivered this ended: succeeded when nothing is left undelivered,
    /// failed when delivery stopped or nothing went out, partial otherwise; the error names
    /// every message not delivered. `error` is a failure of the run itself (it wins).
    pub fn run_outcome(&self, quarantined_rows: u64, error: Option<String>) -> RunOutcome {
        let messages_sent = self.sent() as u32;
        let messages_failed = self.failed() as u32;
        let error_given = error.is_some();
        let mut lines: Vec<String> = error.into_iter().collect();
        if let Some(stop) = &self.stopped {
            lines.push(format!("delivery stopped: {stop}"));
        }
        lines.extend(self.problems());
        let text = lines.join("; ");
        let nothing_delivered = messages_sent == 0 && self.already_delivered() == 0;
        if error_given || self.stopped.is_some() || (nothing_delivered && messages_failed > 0) {
            RunOutcome::Failed {
                messages_sent,
                messages_failed,
                quarantined_rows,
                error: text,
            }
        } else if messages_failed > 0 {
            RunOutcome::Partial {
                messages_sent,
                messages_failed,
                quarantined_rows,
                error: text,
            }
        } else {
            RunOutcome::Succeeded {
                messages_sent,
                messages_failed,
                quarantined_rows,
            }
        }
    }
}

async fn deliver_all<T: Transport>(
    store: &Store,
    transport: &T,
    messages: &[Outgoing],
    policy: &DeliveryPolicy,
    run: RunId,
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
        match deliver_one(store, transport, msg, policy, &mut cap, run).await? {
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

/// Records in the ledger that the data of one claimed send is going out.
struct LedgerGate<'a> {
    store: &'a Store,
    key: &'a DeliveryKey,
    run: RunId,
}

impl DataGate for LedgerGate<'_> {
    fn data_starting(&self) -> Result<(), String> {
        self.store
            .mark_data_started(self.key, self.run.0)
            .map_err(|e| e.to_string())
    }
}

async fn deliver_one<T: Transport>(
    store: &Store,
    transport: &T,
    msg: &Outgoing,
    policy: &DeliveryPolicy,
    cap: &mut RateCap,
    run: RunId,
) -> Result<Step, DeliverError> {
    let gate = LedgerGate {
        store,
        key: &msg.key,
        run,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (total, doubt_retry) =
            match store.claim(&msg.key, &msg.message_id, run.0, policy.lease)? {
                Claim::Granted {
                    attempt,
                    doubt_retry,
                } => (attempt, doubt_retry),
                Claim::AlreadySent => {
                    if transport.rewrites_delivered() {
                        if let Err(e) = transport.send(msg, &NoGate).await {
                            return Ok(Step::Stop(e.to_string()));
                        }
                    }
                    tracing::info!(key = %msg.key, "already delivered");
                    return Ok(Step::Done(Outcome::AlreadyDelivered));
                }
                Claim::Held { run: other } => {
                    tracing::info!(key = %msg.key, other_run = other, "being sent by another run");
                    return Ok(Step::Done(Outcome::ClaimedElsewhere { run: other }));
                }
                Claim::InDoubt { retried } => {
                    let error = store
                        .delivery_state(&msg.key)?
                        .and_then(|r| r.last_error)
                        .unwrap_or_else(|| "no answer after the message data".into());
                    tracing::warn!(key = %msg.key, retried, "in doubt: {error}");
                    return Ok(Step::Done(Outcome::InDoubt { error, retried }));
                }
            };
        cap.wait().await;
        match transport.send(msg, &gate).await {
            Ok(()) => {
                store.mark_sent(&msg.key)?;
                tracing::info!(key = %msg.key, attempts = total, "delivered");
                return Ok(Step::Done(Outcome::Sent { attempts: total }));
            }
            Err(SendError::InDoubt(e)) => {
                store.mark_in_doubt(&msg.key, &e)?;
                tracing::warn!(key = %msg.key, "in doubt: {e}");
                return Ok(Step::Done(Outcome::InDoubt {
                    error: e,
                    retried: doubt_retry,
                }));
            }
            Err(SendError::Permanent(e)) => {
                store.mark_failed(&msg.key, &e, true)?;
                tracing::warn!(key = %msg.key, "refused for good: {e}");
                if doubt_retry {
                    return Ok(Step::Done(Outcome::InDoubt {
                        error: e,
                        retried: true,
                    }));
                }
                return Ok(Step::Done(Outcome::FailedPermanent { error: e }));
            }
            Err(SendError::Setup(e)) => {
                store.mark_failed(&msg.key, &e, false)?;
                return Ok(Step::Stop(e));
            }
            Err(SendError::Transient(e)) => {
                store.mark_failed(&msg.key, &e, false)?;
                if doubt_retry {
                    // Its one retry is spent: the first copy may be out there.
                    return Ok(Step::Done(Outcome::InDoubt {
                        error: e,
                        retried: true,
                    }));
                }
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
