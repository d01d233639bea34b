//! SMTP with lettre: implicit TLS (465), STARTTLS required (587, never silently downgraded),
//! or plain text to a loopback host only. The password is read from the environment or a
//! file at send time, held as a [`Secret`], and every text the server sends back passes the
//! [`Redactor`] before it reaches a log, an error or the ledger.
//!
//! The exchange is driven step by step on lettre's `AsyncSmtpConnection` (not its
//! `AsyncSmtpTransport`) for two reasons: each command gets `smtp.timeout_secs` but the reply
//! to the final dot gets `smtp.data_timeout_secs` (RFC 5321 4.5.3.2.6: 10 minutes), and the
//! ledger is told just before the data goes out, so a failure after that point is recorded
//! as in doubt rather than retried blindly.

use super::{DataGate, SendError, Transport};
use crate::config::{is_loopback, SmtpConfig, SmtpTls};
use crate::deliver::Outgoing;
use crate::secret::{Redactor, Secret};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Quit, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use std::future::Future;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SmtpSender {
    cfg: SmtpConfig,
}

#[derive(Debug, thiserror::Error)]
#[error("smtp.tls = \"none\" sends in plain text and is only allowed to a loopback host, not `{0}`; use \"starttls\" (port 587) or \"implicit\" (port 465)")]
pub struct PlainTextRefused(pub String);

/// The credentials of one send, with the redactor that knows them.
struct Login {
    user: String,
    password: Secret,
}

/// Where in the exchange a failure happened: it decides what the failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connect,
    Tls,
    Auth,
    Envelope,
    /// After the ledger was told the data is going out: no answer means in doubt.
    Data,
}

impl SmtpSender {
    /// Checks what can be checked before sending (plain text only to loopback); credentials
    /// are read at send time.
    pub fn from_config(cfg: &SmtpConfig) -> Result<SmtpSender, PlainTextRefused> {
        if cfg.tls == SmtpTls::None && !is_loopback(&cfg.host) {
            return Err(PlainTextRefused(cfg.host.clone()));
        }
        Ok(SmtpSender { cfg: cfg.clone() })
    }

    fn mode(&self) -> &'static str {
        match self.cfg.tls {
            SmtpTls::Implicit => "implicit TLS",
            SmtpTls::Starttls => "STARTTLS",
            SmtpTls::None => "plain text",
        }
    }

    fn endpoint(&self) -> String {
        format!("{}:{} ({})", self.cfg.host, self.cfg.port, self.mode())
    }

    /// The password, from `password_env` or `password_file`. Errors name where it was looked
    /// for, never what was found.
    fn login(&self) -> Result<Option<Login>, SendError> {
        let Some(user) = &self.cfg.user else {
            return Ok(None);
        };
        let password = if let Some(var) = &self.cfg.password_env {
            std::env::var(var).map_err(|_| {
                SendError::Setup(format!(
                    "smtp.password_env names `{var}`, but that environment variable is not set (or not UTF-8)"
                ))
            })?
        } else if let Some(path) = &self.cfg.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                SendError::Setup(format!(
                    "cannot read smtp.password_file {}: {}",
                    path.display(),
                    e.kind()
                ))
            })?;
            // Editors add a final newline; it is never part of a password.
            text.trim_end_matches(['\r', '\n']).to_string()
        } else {
            return Err(SendError::Setup(
                "smtp.user is set but neither smtp.password_env nor smtp.password_file is".into(),
            ));
        };
        let password = Secret::new(password);
        if password.is_empty() {
            return Err(SendError::Setup(
                "the SMTP password is empty (check smtp.password_env / smtp.password_file)".into(),
            ));
        }
        Ok(Some(Login {
            user: user.clone(),
            password,
        }))
    }

    fn command_timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.timeout_secs.max(1))
    }

    fn data_timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.data_timeout_secs.max(1))
    }

    /// One step of the exchange within `limit`, its failure sorted by `stage`.
    async fn step<T>(
        &self,
        stage: Stage,
        limit: Duration,
        redactor: &Redactor,
        fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, SendError> {
        match tokio::time::timeout(limit, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.classify(stage, &e, redactor)),
            Err(_) => {
                let what = format!(
                    "SMTP {}: no answer within {} s",
                    self.endpoint(),
                    limit.as_secs_f64()
                );
                Err(match stage {
                    Stage::Data => SendError::InDoubt(format!(
                        "{what} after the message data (smtp.data_timeout_secs); the server may have kept it"
                    )),
                    _ => SendError::Transient(format!("{what} (smtp.timeout_secs)")),
                })
            }
        }
    }

    async fn exchange(
        &self,
        msg: &Outgoing,
        gate: &dyn DataGate,
        login: Option<&Login>,
        redactor: &Redactor,
    ) -> Result<(), SendError> {
        let host = &self.cfg.host;
        let cmd = self.command_timeout();
        let tls_params = || {
            TlsParameters::new(host.clone()).map_err(|e| {
                SendError::Setup(format!(
                    "SMTP {}: TLS setup failed: {} (check smtp.host and smtp.tls)",
                    self.endpoint(),
                    redactor.redact(&e.to_string())
                ))
            })
        };
        let implicit = match self.cfg.tls {
            SmtpTls::Implicit => Some(tls_params()?),
            _ => None,
        };
        let hello = ClientId::default();
        let stage = if implicit.is_some() {
            Stage::Tls
        } else {
            Stage::Connect
        };
        let mut conn = self
            .step(
                stage,
                cmd * 2,
                redactor,
                AsyncSmtpConnection::connect_tokio1(
                    (host.as_str(), self.cfg.port),
                    Some(cmd),
                    &hello,
                    implicit,
                    None,
                ),
            )
            .await?;
        if self.cfg.tls == SmtpTls::Starttls {
            if !conn.can_starttls() {
                return Err(SendError::Setup(format!(
                    "SMTP {}: the server does not offer STARTTLS, and tls = \"starttls\" never falls back to plain text (for port 465 use tls = \"implicit\")",
                    self.endpoint()
                )));
            }
            let params = tls_params()?;
            self.step(Stage::Tls, cmd * 2, redactor, conn.starttls(params, &hello))
                .await?;
        }
        if let Some(l) = login {
            let creds = Credentials::new(l.user.clone(), l.password.expose().to_string());
            self.step(
                Stage::Auth,
                cmd,
                redactor,
                conn.auth(DEFAULT_MECHANISMS, &creds),
            )
            .await?;
        }
        let envelope = msg.message.envelope();
        let body = msg.message.formatted();
        let mut options = vec![];
        let non_ascii = envelope
            .to()
            .iter()
            .chain(envelope.from())
            .any(|a: &lettre::Address| !a.to_string().is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(SendError::Permanent(format!(
                    "SMTP {}: the address is not ASCII and the server does not support SMTPUTF8",
                    self.endpoint()
                )));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        if !body.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let from = envelope.from().cloned();
        self.step(
            Stage::Envelope,
            cmd,
            redactor,
            conn.command(Mail::new(from, options)),
        )
        .await?;
        for to in envelope.to() {
            self.step(
                Stage::Envelope,
                cmd,
                redactor,
                conn.command(Rcpt::new(to.clone(), vec![])),
            )
            .await?;
        }
        self.step(Stage::Envelope, cmd, redactor, conn.command(Data))
            .await?;
        // The point of no return: once the data is written the server may keep the message
        // whatever we hear next. The ledger must know that first.
        gate.data_starting().map_err(|e| {
            SendError::Transient(format!(
                "not sending: the ledger cannot record the send ({e})"
            ))
        })?;
        self.step(
            Stage::Data,
            self.data_timeout(),
            redactor,
            conn.message(&body),
        )
        .await?;
        // The message is accepted; a failed QUIT changes nothing.
        let _ = tokio::time::timeout(cmd, conn.command(Quit)).await;
        Ok(())
    }

    /// Sorts a lettre error into retry / give up on this recipient / stop / in doubt, with a
    /// message that says which connection mode or setting failed. Every server text is
    /// redacted.
    fn classify(
        &self,
        stage: Stage,
        e: &lettre::transport::smtp::Error,
        redactor: &Redactor,
    ) -> SendError {
        let what = format!("SMTP {}", self.endpoint());
        let text = redactor.redact(&e.to_string());
        let code = e.status().map(u16::from);
        if stage == Stage::Auth || matches!(code, Some(530 | 534 | 535 | 538)) {
            // An account locks after a few bad logins: never try again per recipient.
            if e.is_transient() || e.is_timeout() {
                return SendError::Transient(format!("{what}: authentication: {text}"));
            }
            return SendError::Setup(format!(
                "{what}: authentication failed: {text} (check smtp.user and the password that smtp.password_env / smtp.password_file names)"
            ));
        }
        if code.is_some() {
            // The server answered: whatever the stage, nothing is in doubt.
            return if e.is_permanent() {
                SendError::Permanent(format!("{what}: {text}"))
            } else {
                SendError::Transient(format!("{what}: {text}"))
            };
        }
        if stage == Stage::Data {
            return SendError::InDoubt(format!(
                "{what}: the connection failed after the message data, before the server's answer: {text}; the server may have kept it"
            ));
        }
        if e.is_tls() || (stage == Stage::Tls && handshake_failed(e)) {
            let hint = match self.cfg.tls {
                SmtpTls::Implicit => " (implicit TLS expects a server that speaks TLS at once, normally port 465; for port 587 use tls = \"starttls\")",
                SmtpTls::Starttls => " (the STARTTLS upgrade failed; check smtp.host matches the certificate; for port 465 use tls = \"implicit\")",
                SmtpTls::None => "",
            };
            SendError::Setup(format!("{what}: TLS failed: {text}{hint}"))
        } else if e.is_client() {
            // Our side refused: no usable AUTH mechanism, and the like.
            SendError::Setup(format!("{what}: {text}"))
        } else {
            // Connection refused or dropped, unreadable reply: may pass.
            SendError::Transient(format!("{what}: {text}"))
        }
    }
}

/// A TLS handshake that failed on what the server sent (a plain-text server on the implicit
/// TLS port): lettre reports it as a connection error whose cause is an `InvalidData` I/O
/// error from rustls.
fn handshake_failed(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::InvalidData;
        }
        source = s.source();
    }
    false
}

impl Transport for SmtpSender {
    fn describe(&self) -> String {
        format!("SMTP {}", self.endpoint())
    }

    async fn send(&self, msg: &Outgoing, gate: &dyn DataGate) -> Result<(), SendError> {
        let login = self.login()?;
        let redactor = match &login {
            Some(l) => Redactor::default().with(Some(&l.user), &l.password),
            None => Redactor::default(),
        };
        self.exchange(msg, gate, login.as_ref(), &redactor).await
    }
}
