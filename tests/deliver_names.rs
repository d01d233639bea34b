//! Names from outside (helpdesk data, config) in a report: cut on character boundaries
//! before rendering, bidi controls isolated in the HTML and stripped from the subject, and
//! control characters in config names refused by the config check, naming the key.

mod deliver_support;

use baton::config::Config;
use baton::deliver::{DeliveryKey, Outgoing};
use baton::report::{owner_views_at, Renderer};
use chrono::{TimeZone, Utc};
use deliver_support::*;

#[test]
fn a_20000_character_helpdesk_name_cannot_fail_a_report() {
    // Multi-byte, so a byte cut would panic.
    let long = "Ünïcödé-Team ".repeat(1600);
    let (cfg, m) = week_with(&long);
    let at = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
    for v in owner_views_at(&cfg, &m, at) {
        let r = Renderer::new().render(&v).expect("renders");
        assert!(r.html.len() < baton::report::HTML_LIMIT_BYTES);
        assert!(!r.html.contains(&long[..200]), "shortened in the HTML");
        assert!(r.html.contains('…'));
        // Whole in the CSV.
        let csv = String::from_utf8(r.attachments[0].bytes.clone()).unwrap();
        assert!(csv.contains(long.trim_end()));
    }
}

#[test]
fn bidi_controls_are_isolated_in_html_and_stripped_from_subjects() {
    let evil = "Billing\u{202E}gnitekram";
    let mut cfg_text = baton::config::EMBEDDED_DEFAULT.to_string();
    cfg_text = cfg_text.replace(
        "name = \"Support Operations\"",
        "name = \"Support \u{202E}Operations\"",
    );
    let cfg = Config::parse(&cfg_text, "test.toml").unwrap();
    let (_, m) = week_with(evil);
    let at = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
    let views = owner_views_at(&cfg, &m, at);
    let mut v = views[0].clone();
    v.subject = "Handoffs 2026-W46: \u{202E}routing\u{2066} +3.1 pp".to_string();
    let r = Renderer::new().render(&v).unwrap();
    assert!(
        r.html.contains("<bdi>Billing\u{202E}gnitekram</bdi>"),
        "segment isolated"
    );
    assert!(
        r.html.contains("<bdi>Support \u{202E}Operations</bdi>"),
        "owner isolated"
    );
    assert_eq!(r.subject, "Handoffs 2026-W46: routing +3.1 pp");
    // The message header too, whatever the subject or the display name hold.
    let key = DeliveryKey::new("owners", "2026-W46", &v.owner.email);
    let out = Outgoing::new(&from(), &v.owner, &r, key, &[]).unwrap();
    let raw = String::from_utf8_lossy(&out.message.formatted()).to_string();
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    assert_eq!(parsed.subject(), Some("Handoffs 2026-W46: routing +3.1 pp"));
    let to = parsed
        .to()
        .unwrap()
        .first()
        .unwrap()
        .name()
        .unwrap()
        .to_string();
    assert!(!to.contains('\u{202E}'), "{to:?}");
}

#[test]
fn control_characters_in_config_names_are_refused_naming_the_key() {
    for (bad, what) in [
        ("Support\\r\\nBcc: x@evil.example", "CR/LF"),
        ("Support\\u0000Ops", "NUL"),
    ] {
        let text = baton::config::EMBEDDED_DEFAULT.replace(
            "name = \"Support Operations\"",
            &format!("name = \"{bad}\""),
        );
        let err = Config::parse(&text, "test.toml").unwrap_err();
        assert_eq!(err.key(), Some("tree.routing.owner.name"), "{what}: {err}");
        assert!(err.to_string().contains("control character"), "{err}");
    }
    let text = baton::config::EMBEDDED_DEFAULT
        .replace("\"Billing\" = { tier = 1", "\"Bill\\ning\" = { tier = 1");
    let err = Config::parse(&text, "test.toml").unwrap_err();
    assert!(err.key().unwrap().starts_with("teams."), "{err}");
}
