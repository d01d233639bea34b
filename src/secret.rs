//! Secrets and the one redactor every server text passes through.
//!
//! A [`Secret`] never prints (`Debug` and `Display` show `[redacted]`) and is zeroed on drop
//! (`secrecy`). A [`Redactor`] knows every secret a component holds, in every encoding baton
//! sends it in, and removes them from any text that came back from a server (SMTP replies,
//! HTTP bodies and headers) before that text reaches a log, an error or the store: servers
//! echo what they were sent, and a `535` or a `404` page is where they do it.
//!
//! Use: build one `Redactor` next to the credentials (`Redactor::default().with(user, &secret)`),
//! and call `redact` on every string made from what the server said.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// A password or token. Never printed; read it with [`Secret::expose`] at the one place that
/// sends it.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(SecretString::from(s.into()))
    }
    /// The secret itself, for the code that sends it (and only that).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The characters a URL's user-info or query keeps as they are; everything else is
/// percent-encoded (the `url` crate's user-info set, close enough to cover what clients send).
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|')
    .add(b'%')
    .add(b'&')
    .add(b'+');

/// Removes every known secret, in every encoding, from server texts.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every form of every secret, longest first (so a longer encoding is removed whole before
    /// a shorter one that it contains).
    needles: Vec<SecretString>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} forms)", self.needles.len())
    }
}

impl Redactor {
    /// Adds `secret`, sent with `user` (when there is one), in every form baton sends it:
    /// raw (and so inside a URL's user-info), percent-encoded (URL user-info, query strings,
    /// form bodies), base64 of `user:secret` (HTTP Basic), of `\0user\0secret` (SMTP AUTH
    /// PLAIN) and of the secret alone (SMTP AUTH LOGIN), padded and URL-safe alike.
    pub fn with(mut self, user: Option<&str>, secret: &Secret) -> Redactor {
        self.add(user, secret);
        self
    }

    pub fn add(&mut self, user: Option<&str>, secret: &Secret) {
        let s = secret.expose();
        if s.is_empty() {
            return;
        }
        let user = user.unwrap_or("");
        let mut forms = vec![
            s.to_string(),
            utf8_percent_encode(s, NON_ALPHANUMERIC).to_string(),
            utf8_percent_encode(s, USERINFO).to_string(),
            // application/x-www-form-urlencoded: spaces as `+`.
            percent_encoding::percent_encode(s.as_bytes(), USERINFO)
                .to_string()
                .replace("%20", "+"),
        ];
        for plain in [
            format!("{user}:{s}"),
            format!("\0{user}\0{s}"),
            format!("{user}\0{user}\0{s}"),
            s.to_string(),
        ] {
            for engine in [&STANDARD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                forms.push(engine.encode(plain.as_bytes()));
            }
        }
        // Lower-case hex in percent escapes (`%2f`), which some servers echo.
        let lower: Vec<String> = forms
            .iter()
            .filter(|f| f.contains('%'))
            .map(|f| lower_escapes(f))
            .collect();
        forms.extend(lower);
        for f in forms {
            if !self.needles.iter().any(|n| n.expose_secret() == f) {
                self.needles.push(SecretString::from(f));
            }
        }
        self.needles
            .sort_by_key(|n| std::cmp::Reverse(n.expose_secret().len()));
    }

    /// Whether the redactor knows no secret.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every known secret replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for n in &self.needles {
            let n = n.expose_secret();
            if out.contains(n) {
                out = out.replace(n, REDACTED);
            }
        }
        out
    }
}

/// `%2F` -> `%2f`, leaving everything else alone.
fn lower_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex_left = 0;
    for c in s.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn every_encoding_is_redacted() {
        let pw = "p@ss w/rd:ü";
        let r = Redactor::default().with(Some("bob"), &Secret::new(pw));
        let b64 = |s: &str| STANDARD.encode(s);
        for echoed in [
            pw.to_string(),
            format!("https://bob:{}@host/x", utf8_percent_encode(pw, USERINFO)),
            format!("?token={}", utf8_percent_encode(pw, NON_ALPHANUMERIC)),
            format!(
                "?token={}",
                lower_escapes(&utf8_percent_encode(pw, NON_ALPHANUMERIC).to_string())
            ),
            format!("Authorization: Basic {}", b64(&format!("bob:{pw}"))),
            format!(
                "535 5.7.8 AUTH PLAIN {} refused",
                b64(&format!("\0bob\0{pw}"))
            ),
            format!("535 5.7.8 LOGIN {} refused", b64(pw)),
        ] {
            let out = r.redact(&echoed);
            assert!(out.contains(REDACTED), "{echoed} -> {out}");
            assert!(!out.contains(pw), "{out}");
            assert!(!out.contains(&b64(pw)), "{out}");
        }
        assert_eq!(r.redact("nothing here"), "nothing here");
        assert!(!format!("{r:?}").contains("p@ss"));
    }
}
