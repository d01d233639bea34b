use super::*;

const FILE: &str = "test.toml";

fn with(extra: &str) -> String {
    format!("{EMBEDDED_DEFAULT}\n{extra}")
}

#[test]
fn embedded_default_is_valid() {
    let cfg = Config::embedded().unwrap();
    assert_eq!(cfg.tz(), chrono_tz::Europe::London);
    assert_eq!(cfg.handoffs.intake_teams, vec!["Triage".to_string()]);
    assert_eq!(cfg.tier("Technical"), 2);
    assert_eq!(cfg.tier("Unknown team"), 1);
    assert_eq!(cfg.causes.reasons["wrong_queue"], Cause::Routing);
    assert_eq!(cfg.owners().len(), 4);
}

#[test]
fn unknown_key_is_named() {
    let err = Config::parse(&with("[delivery2]\nmode = \"smtp\""), FILE).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("test.toml: "), "{msg}");
    assert!(msg.contains("delivery2"), "{msg}");

    let text = EMBEDDED_DEFAULT.replace("trend_weeks = 8", "trend_weeks = 8\ntrend_wekes = 3");
    let err = Config::parse(&text, FILE).unwrap_err();
    assert!(err.to_string().contains("trend_wekes"), "{err}");
}

#[test]
fn missing_owner_address_is_named() {
    let text = EMBEDDED_DEFAULT.replace(
        r#"owner = { name = "Enablement", email = "enablement@example.com" }"#,
        r#"owner = { name = "Enablement" }"#,
    );
    let err = Config::parse(&text, FILE).unwrap_err();
    assert_eq!(err.key(), Some("tree.skill.owner.email"), "{err}");
    assert!(err.to_string().contains("test.toml"));
}

#[test]
fn bad_values_are_named() {
    let cases = [
        (
            "time_zone = \"Europe/London\"          #",
            "time_zone = \"Mars/Olympus\" #",
            "report.time_zone",
        ),
        (
            "wrong_queue = \"routing\"",
            "wrong_queue = \"teleport\"",
            "causes.reasons.wrong_queue",
        ),
        (
            "cron = \"0 9 * * Mon\"",
            "cron = \"every monday\"",
            "schedules[0].cron",
        ),
        ("mode = \"outbox\"", "mode = \"smtp\"", "smtp"),
    ];
    for (from, to, key) in cases {
        let text = EMBEDDED_DEFAULT.replacen(from, to, 1);
        assert_ne!(text, EMBEDDED_DEFAULT, "{from} not found");
        let err = Config::parse(&text, FILE).unwrap_err();
        assert_eq!(err.key(), Some(key), "{err}");
    }
}

#[test]
fn smtp_tls_mismatch_and_plain_remote_are_refused() {
    let smtp = |host: &str, port: u16, tls: &str| {
        with(&format!("[smtp]\nhost = \"{host}\"\nport = {port}\ntls = \"{tls}\"\nfrom = \"baton <r@example.com>\"\n"))
    };
    assert!(Config::parse(&smtp("127.0.0.1", 2525, "none"), FILE).is_ok());
    assert_eq!(
        Config::parse(&smtp("smtp.example.com", 25, "none"), FILE)
            .unwrap_err()
            .key(),
        Some("smtp.tls")
    );
    assert_eq!(
        Config::parse(&smtp("smtp.example.com", 587, "implicit"), FILE)
            .unwrap_err()
            .key(),
        Some("smtp.port")
    );
    assert_eq!(
        Config::parse(&smtp("smtp.example.com", 465, "starttls"), FILE)
            .unwrap_err()
            .key(),
        Some("smtp.port")
    );
}

#[test]
fn out_of_range_numbers_are_named() {
    let cases = [
        ("fdr = 0.05", "fdr = 1.5", "explain.fdr"),
        ("fdr = 0.05", "fdr = -0.1", "explain.fdr"),
        ("max_drivers = 5", "max_drivers = 0", "explain.max_drivers"),
        (
            "unsafe_escalation_below = 0.10",
            "unsafe_escalation_below = 2.0",
            "ai.unsafe_escalation_below",
        ),
        (
            "unsafe_sentiment_below = -0.2",
            "unsafe_sentiment_below = -3",
            "ai.unsafe_sentiment_below",
        ),
        (
            "alert_threshold_pp = 2.0",
            "alert_threshold_pp = -1.0",
            "tree.routing.alert_threshold_pp",
        ),
    ];
    for (from, to, key) in cases {
        let text = EMBEDDED_DEFAULT.replacen(from, to, 1);
        assert_ne!(text, EMBEDDED_DEFAULT, "{from} not found");
        let err = Config::parse(&text, FILE).unwrap_err();
        assert_eq!(err.key(), Some(key), "{to}: {err}");
        assert!(err.to_string().contains("out of range"), "{err}");
    }
}

#[test]
fn typed_values_are_parsed_at_load_and_bad_ones_named() {
    let cfg = Config::embedded().unwrap();
    assert_eq!(cfg.schedules[0].cron.as_str(), "0 9 * * Mon");
    assert_eq!(cfg.schedules[0].report, crate::domain::ReportKind::Owners);
    assert!(cfg
        .report
        .dimensions
        .contains(&crate::domain::Dimension::Topic));
    let cases = [
        (
            "dimensions = [\"team\"",
            "dimensions = [\"region\"",
            "report.dimensions[0]",
        ),
        (
            "report = \"owners\"",
            "report = \"weekly\"",
            "schedules[0].report",
        ),
        (
            "email = \"support-ops@example.com\"",
            "email = \"support-ops at example\"",
            "tree.routing.owner.email",
        ),
    ];
    for (from, to, key) in cases {
        let text = EMBEDDED_DEFAULT.replacen(from, to, 1);
        assert_ne!(text, EMBEDDED_DEFAULT, "{from} not found");
        let err = Config::parse(&text, FILE).unwrap_err();
        assert_eq!(err.key(), Some(key), "{to}: {err}");
    }
}

#[test]
fn a_syntax_error_gives_line_and_column() {
    let err =
        Config::parse("[report]\ntime_zone = \"UTC\"\ntrend_weeks = = 3\n", FILE).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 3, column 15"), "{msg}");
}

#[test]
fn an_unreadable_file_says_so_once() {
    let err = Config::load(std::path::Path::new("/nonexistent/baton.toml")).unwrap_err();
    let chain = format!("{:#}", anyhow::Error::from(err));
    assert_eq!(chain.matches("No such file").count(), 1, "{chain}");
}
