//! One report as a MIME message:
//! `multipart/mixed [ multipart/related? [ multipart/alternative [text/plain, text/html],
//! inline PNGs ], CSV attachments ]`, with a Message-ID that depends only on the delivery key.

use super::DeliverError;
use crate::domain::{Owner, OwnerId};
use crate::report::{Attachment, InlineImage, Rendered};
use crate::store::DeliveryKey;
use lettre::message::{header::ContentType, Attachment as Part, Mailbox, MultiPart};
use lettre::Message;
use sha2::{Digest, Sha256};

/// A message ready for a transport, with what the ledger and the outbox need to know.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub key: DeliveryKey,
    /// Recipient id, for the outbox file name.
    pub owner: OwnerId,
    /// `<...@domain>`, as in the message's header.
    pub message_id: String,
    pub message: Message,
    /// The HTML part, written next to the `.eml` as a preview by the outbox.
    pub html: String,
    /// The images the HTML part shows by `cid:` (the charts), written beside the preview.
    pub images: Vec<InlineImage>,
}

/// Headers of a report beyond From and To.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// Where a reply goes (`[delivery] reply_to`): a person, not the sending mailbox.
    pub reply_to: Option<Mailbox>,
}

/// `Auto-Submitted: auto-generated` (RFC 3834): out-of-office responders and mailing lists
/// do not answer or loop on a machine-generated report.
#[derive(Debug, Clone, PartialEq)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

impl Outgoing {
    /// Builds the message for `to` (see [`build_message`]).
    pub fn new(
        from: &Mailbox,
        to: &Owner,
        rendered: &Rendered,
        key: DeliveryKey,
        extra: &[Attachment],
    ) -> Result<Outgoing, DeliverError> {
        Outgoing::with_headers(from, to, rendered, key, extra, &Headers::default())
    }

    /// [`Outgoing::new`] with `headers` (Reply-To).
    pub fn with_headers(
        from: &Mailbox,
        to: &Owner,
        rendered: &Rendered,
        key: DeliveryKey,
        extra: &[Attachment],
        headers: &Headers,
    ) -> Result<Outgoing, DeliverError> {
        let message = build_message_with(from, to, rendered, &key, extra, headers)?;
        Ok(Outgoing {
            message_id: message_id(&key, from),
            owner: to.id.clone(),
            key,
            message,
            html: rendered.html.clone(),
            images: rendered.inline_images.clone(),
        })
    }
}

/// The Message-ID of a delivery key: readable (`<owners.2026-W46.support-ops.1a2b3c4d5e6f@
/// example.com>`), and the same on every rerun, so a client threads or de-duplicates a
/// resent report. The hash keeps ids of different recipients apart after the readable part
/// is cut to safe characters.
pub fn message_id(key: &DeliveryKey, from: &Mailbox) -> String {
    let digest =
        Sha256::digest(format!("{}\0{}\0{}", key.report, key.period, key.recipient).as_bytes());
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let local = key.recipient.split('@').next().unwrap_or("");
    let atom = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(40)
            .collect()
    };
    format!(
        "<{}.{}.{}.{hash}@{}>",
        atom(&key.report),
        atom(&key.period),
        atom(local),
        from.email.domain()
    )
}

/// The MIME message of one owner's report: text and HTML alternatives (text first, so
/// clients that prefer the last part they understand show the HTML), inline images in a
/// `multipart/related` when there are any, then `rendered.attachments` and `extra`.
pub fn build_message(
    from: &Mailbox,
    to: &Owner,
    rendered: &Rendered,
    key: &DeliveryKey,
    extra: &[Attachment],
) -> Result<Message, DeliverError> {
    build_message_with(from, to, rendered, key, extra, &Headers::default())
}

/// [`build_message`] with `headers`. Every report says `Auto-Submitted: auto-generated`.
pub fn build_message_with(
    from: &Mailbox,
    to: &Owner,
    rendered: &Rendered,
    key: &DeliveryKey,
    extra: &[Attachment],
    headers: &Headers,
) -> Result<Message, DeliverError> {
    // Header-safe whatever the name holds (config refuses control characters; this is the
    // last line of defence): one line, no bidi controls.
    let to_box = Mailbox::new(
        Some(crate::text::one_line(&to.name)).filter(|n| !n.is_empty()),
        to.email.parse().map_err(|e| DeliverError::Address {
            address: to.email.clone(),
            reason: format!("{e}"),
        })?,
    );
    let alternative =
        MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html.clone());
    // Charts go here: HTML and its `cid:` images must share one multipart/related, or
    // Outlook lists the images as attachments (EMAIL.md).
    let body = if rendered.inline_images.is_empty() {
        alternative
    } else {
        let mut related = MultiPart::related().multipart(alternative);
        for img in &rendered.inline_images {
            related = related.singlepart(Part::new_inline(img.content_id.clone()).body(
                img.png.clone(),
                ContentType::parse("image/png").expect("valid"),
            ));
        }
        related
    };
    let mut mixed = MultiPart::mixed().multipart(body);
    for a in rendered.attachments.iter().chain(extra) {
        let ct = ContentType::parse(&a.content_type).map_err(|_| DeliverError::Attachment {
            filename: a.filename.clone(),
            reason: format!("`{}` is not a MIME type", a.content_type),
        })?;
        mixed = mixed.singlepart(Part::new(a.filename.clone()).body(a.bytes.clone(), ct));
    }
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to_box)
        .header(AutoSubmitted);
    if let Some(r) = &headers.reply_to {
        builder = builder.reply_to(r.clone());
    }
    builder
        .subject(crate::text::one_line(&rendered.subject))
        .message_id(Some(message_id(key, from)))
        .user_agent(format!("baton/{}", env!("CARGO_PKG_VERSION")))
        .multipart(mixed)
        .map_err(|e| DeliverError::Build {
            recipient: to.email.clone(),
            reason: e.to_string(),
        })
}
