//! SMTP with lettre: implicit TLS (465), STARTTLS required (587, never silently downgraded),
//! or plain text to a loopback host only. The password is read from the environment or a
//! file at send time and never appears in a log or an error.

use super::{SendError, Transport};
use crate::config::{is_loopback, SmtpConfig, SmtpTls};
use crate::deliver::Outgoing;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SmtpSender {
    cfg: SmtpConfig,
}

#[derive(Debug, thiserror::Error)]
#[error("smtp.tls = \"none\" sends in plain text and is only allowed to a loopback host, not `{0}`; use \"starttls\" (port 587) or \"implicit\" (port 465)")]
pub struct PlainTextRefused(pub String);

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
    fn credentials(&self) -> Result<Option<Credentials>, SendError> {
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
        if password.is_empty() {
            return Err(SendError::Setup(
                "the SMTP password is empty (check smtp.password_env / smtp.password_file)".into(),
            ));
        }
        Ok(Some(Credentials::new(user.clone(), password)))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let host = &self.cfg.host;
        let tls_params = || {
            TlsParameters::new(host.clone()).map_err(|e| {
                SendError::Setup(format!("SMTP {}: TLS setup failed: {e}", self.endpoint()))
            })
        };
        let tls = match self.cfg.tls {
            SmtpTls::Implicit => Tls::Wrapper(tls_params()?),
            SmtpTls::Starttls => Tls::Required(tls_params()?),
            SmtpTls::None => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(self.cfg.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(self.cfg.timeout_secs.max(1))));
        if let Some(c) = self.credentials()? {
            b = b.credentials(c);
        }
        Ok(b.build())
    }

    /// Sorts a lettre error into retry / give up on this recipient / stop, with a message
    /// that says which connection mode failed.
    fn classify(&self, e: lettre::transport::smtp::Error) -> SendError {
        let what = format!("SMTP {}", self.endpoint());
        if e.is_permanent() {
            SendError::Permanent(format!("{what}: {e}"))
        } else if e.is_transient() || e.is_timeout() {
            SendError::Transient(format!("{what}: {e}"))
        } else if e.is_tls() || (self.cfg.tls != SmtpTls::None && handshake_failed(&e)) {
            let hint = match self.cfg.tls {
                SmtpTls::Implicit => " (implicit TLS expects a server that speaks TLS at once, normally port 465; for port 587 use tls = \"starttls\")",
                SmtpTls::Starttls => " (the STARTTLS upgrade failed; for port 465 use tls = \"implicit\")",
                SmtpTls::None => "",
            };
            SendError::Setup(format!("{what}: TLS failed: {e}{hint}"))
        } else if e.is_client() {
            // Our side refused: STARTTLS required but not offered, no usable AUTH mechanism.
            SendError::Setup(format!("{what}: {e}"))
        } else {
            // Connection refused or dropped, unreadable reply: may pass.
            SendError::Transient(format!("{what}: {e}"))
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

    async fn send(&self, msg: &Outgoing) -> Result<(), SendError> {
        let transport = self.transport()?;
        // lettre's timeout covers each read and write; this bounds the whole exchange.
        let limit = Duration::from_secs(self.cfg.timeout_secs.max(1) * 3);
        match tokio::time::timeout(limit, transport.send(msg.message.clone())).await {
            Err(_) => Err(SendError::Transient(format!(
                "SMTP {}: no answer within {} s",
                self.endpoint(),
                limit.as_secs()
            ))),
            Ok(Err(e)) => Err(self.classify(e)),
            Ok(Ok(_)) => Ok(()),
        }
    }
}
