//! The operator's failure notice: a short plain message to `[alerts] operator` when a run of
//! `baton serve` fails, sent once per failed run (the run log's `alerted_at` is claimed in a
//! transaction first, so two processes, or a retry, never send it twice), through the
//! configured delivery (SMTP, or the outbox folder).

use crate::config::{Config, DeliveryMode};
use crate::deliver::{DeliveryKey, NoGate, Outbox, Outgoing, SendError, SmtpSender, Transport};
use crate::domain::{Owner, OwnerId};
use crate::report::Rendered;
use crate::store::{RunRecord, Store};

/// Sends the notice for `run` unless it was sent already. `None` when there is no operator
/// or the notice was sent before; `Some(sent)` otherwise.
pub async fn notify_failure(cfg: &Config, store: &Store, run: &RunRecord) -> Option<bool> {
    let operator = cfg.alerts.operator.as_ref()?;
    match store.claim_alert(run.id) {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => {
            tracing::error!(run = run.id.0, "cannot record the failure notice: {e}");
            return Some(false);
        }
    }
    let msg = match build(cfg, run, operator.as_ref()) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(run = run.id.0, "cannot build the failure notice: {e}");
            return Some(false);
        }
    };
    let sent = match cfg.delivery.mode {
        DeliveryMode::Outbox => send(&Outbox::new(cfg.delivery.outbox_dir.clone()), &msg).await,
        DeliveryMode::Smtp => match cfg.smtp.as_ref().map(SmtpSender::from_config) {
            Some(Ok(t)) => send(&t, &msg).await,
            Some(Err(e)) => Err(SendError::Setup(e.to_string())),
            None => Err(SendError::Setup("no [smtp]".into())),
        },
    };
    match sent {
        Ok(()) => {
            tracing::info!(run = run.id.0, "failure notice sent to {operator}");
            Some(true)
        }
        Err(e) => {
            tracing::error!(
                run = run.id.0,
                "the failure notice to {operator} was not sent: {e}"
            );
            Some(false)
        }
    }
}

/// Three tries for a transient failure; never for one in doubt (the operator may have it).
async fn send<T: Transport>(t: &T, msg: &Outgoing) -> Result<(), SendError> {
    let mut last = None;
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        match t.send(msg, &NoGate).await {
            Ok(()) => return Ok(()),
            Err(SendError::Transient(e)) => last = Some(SendError::Transient(e)),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("three attempts"))
}

fn build(cfg: &Config, run: &RunRecord, operator: &str) -> Result<Outgoing, String> {
    let from = cfg
        .smtp
        .as_ref()
        .map(|s| s.from.clone())
        .unwrap_or_else(|| {
            "baton <baton@localhost>"
                .parse()
                .expect("a valid placeholder")
        });
    let what = match &run.schedule {
        Some(s) => format!("schedule {s}"),
        None => run.kind.trigger().to_string(),
    };
    let period = run.period.clone().unwrap_or_else(|| "-".into());
    let error = run
        .error
        .clone()
        .unwrap_or_else(|| "(no error recorded)".into());
    let subject = format!(
        "baton: run {} failed ({what}, {} {period})",
        run.id, run.report
    );
    let text = format!(
        "Run {} of report {} for {period} failed.\n\n\
         Started by: {what}{}\n\
         Started:    {}\n\
         Ended:      {}\n\
         Sent {}, failed {}, delivered before {}.\n\n\
         Error: {error}\n\n\
         `baton runs` shows the run log; a rerun (`baton run --period {period}`) sends only \
         what was not delivered.\n",
        run.id,
        run.report,
        run.scheduled_for
            .map(|t| format!(" (fire of {})", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default(),
        run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        run.finished_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "-".into()),
        run.messages_sent,
        run.messages_failed,
        run.messages_already,
    );
    let html = format!(
        "<pre style=\"font-family: monospace\">{}</pre>",
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    let rendered = Rendered {
        subject,
        html,
        text,
        attachments: vec![],
        inline_images: vec![],
    };
    let owner = Owner {
        id: OwnerId::from_name("baton-operator"),
        name: "baton operator".into(),
        email: operator.to_string(),
    };
    let key = DeliveryKey::new("alert", format!("run-{}", run.id), operator);
    Outgoing::new(&from, &owner, &rendered, key, &[]).map_err(|e| e.to_string())
}
