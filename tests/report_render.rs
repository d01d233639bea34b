//! Rendering owner reports from a hand-built `MetricsReport`: the numbers put in are
//! worked out by hand in the comments and checked in the output.

use baton::config::{Config, EMBEDDED_DEFAULT};
use baton::domain::{Cause, Period};
use baton::metrics::{Band, CauseMeasures, Measures, MetricsReport, Overall, Segment, TrendPoint};
use baton::report::{
    check_templates, owner_views_at, DriverLine, OwnerView, RenderError, Renderer, Tone,
    HTML_LIMIT_BYTES,
};
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

/// Measures of `n` resolved conversations whose first handoff cause counts are `firsts`
/// (routing, skill, escalation, channel).
fn measures(n: i64, firsts: [i64; 4]) -> Measures {
    let by_cause: BTreeMap<Cause, CauseMeasures> = Cause::ALL
        .into_iter()
        .zip(firsts)
        .map(|(c, k)| {
            let r = (n > 0).then(|| k as f64 / n as f64);
            (
                c,
                CauseMeasures {
                    handoffs: k,
                    rate: r,
                    per_conversation: r,
                    conversations: k,
                },
            )
        })
        .collect();
    let with: i64 = firsts.iter().sum();
    let rate = (n > 0).then(|| with as f64 / n as f64);
    Measures {
        conversations: n,
        ticket_volume: n,
        handoff_rate: rate,
        handoffs: with,
        handoffs_per_conversation: rate,
        band: rate.map(Band::of),
        by_cause,
        ..Measures::default()
    }
}

fn segment(value: &str, now: (i64, i64), before: (i64, i64)) -> Segment {
    Segment {
        value: value.into(),
        measures: measures(now.0, [now.1, 0, 0, 0]),
        previous: measures(before.0, [before.1, 0, 0, 0]),
    }
}

/// The week 2026-W46 against W45.
///
/// Overall now: 200 resolved; first causes routing 24, skill 10, escalation 8, channel 6
/// (48 with a handoff). Before: 180; routing 16, skill 12, escalation 9, channel 3 (40).
/// By hand: routing 12.0% vs 8.89% -> +3.1 pp; skill 5.0% vs 6.67% -> -1.7 pp;
/// escalation 4.0% vs 5.0% -> -1.0 pp; channel 3.0% vs 1.67% -> +1.3 pp;
/// handoff rate 24.0% vs 22.2% -> +1.8 pp; FCR 70.0% vs 75.0% -> -5.0 pp;
/// time lost 120.5 h vs 100.0 h -> +20.5 h; tickets created 210 vs 190 -> +20.
///
/// Routing per segment: channel chat 3/20 = 15.0% vs 6/20 = 30.0% -> -15.0 pp (small:
/// 20 < 30); team Billing 10/50 = 20.0% vs 4/40 = 10.0% -> +10.0 pp; team General Support
/// 14/150 = 9.33% vs 12/140 = 8.57% -> +0.8 pp.
fn week() -> (Config, MetricsReport) {
    let cfg = Config::embedded().unwrap();
    let p = Period::iso_week(2026, 46, cfg.tz()).unwrap();
    let mut now = measures(200, [24, 10, 8, 6]);
    now.fcr_rate = Some(0.70);
    now.time_lost_hours = 120.5;
    now.ticket_volume = 210;
    let mut before = measures(180, [16, 12, 9, 3]);
    before.fcr_rate = Some(0.75);
    before.time_lost_hours = 100.0;
    before.ticket_volume = 190;
    let trend = p
        .trailing(3)
        .iter()
        .zip([0.05, 0.0889, 0.12])
        .map(|(w, routing)| TrendPoint {
            period: w.label(),
            conversations: 190,
            handoff_rate: Some(0.2),
            fcr_rate: Some(0.7),
            by_cause: Cause::ALL
                .into_iter()
                .map(|c| (c, Some(if c == Cause::Routing { routing } else { 0.03 })))
                .collect(),
        })
        .collect();
    let m = MetricsReport {
        schema_version: baton::metrics::METRICS_SCHEMA_VERSION,
        period: p.to_json(),
        previous_period: p.previous().to_json(),
        overall: Overall {
            measures: now,
            backlog: 7,
            quarantined_rows: 3,
        },
        previous: before,
        segments: BTreeMap::from([
            (
                "team".to_string(),
                vec![
                    segment("General Support", (150, 14), (140, 12)),
                    segment("Billing", (50, 10), (40, 4)),
                ],
            ),
            (
                "channel".to_string(),
                vec![segment("chat", (20, 3), (20, 6))],
            ),
        ]),
        trend,
        quarantine: BTreeMap::from([
            ("unknown event `merged`".to_string(), 2),
            ("unparsable timestamp".to_string(), 1),
        ]),
    };
    (cfg, m)
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap()
}

fn views() -> Vec<OwnerView> {
    let (cfg, m) = week();
    owner_views_at(&cfg, &m, at())
}

fn has_html_tag(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(1)).any(|i| {
        b[i] == b'<' && (b[i + 1].is_ascii_alphabetic() || b[i + 1] == b'/' || b[i + 1] == b'!')
    })
}

#[test]
fn one_view_per_owner_with_their_branch_first() {
    let v = views();
    let owners: Vec<&str> = v.iter().map(|v| v.owner.email.as_str()).collect();
    assert_eq!(
        owners,
        [
            "support-ops@example.com",
            "enablement@example.com",
            "team-leads@example.com",
            "channel-ops@example.com"
        ]
    );
    let routing = &v[0].branches[0];
    assert_eq!(routing.cause, Cause::Routing);
    assert_eq!(
        (routing.rate_text.as_str(), routing.before_text.as_str()),
        ("12.0%", "8.9%")
    );
    assert_eq!(
        (routing.change_text.as_str(), routing.arrow.as_str()),
        ("+3.1 pp", "↑")
    );
    // Newcombe 95 % interval of 24/200 - 16/180, worked out apart (Wilson score intervals
    // 0.0820..0.1723 and 0.0556..0.1394 combined): -3.22 to +9.32 pp. It includes zero, so
    // the change is not coloured and raises no alert although it passes the 2.0 pp line.
    let [lo, hi] = routing.ci_pp.unwrap();
    assert!(
        (lo - -3.22).abs() < 0.01 && (hi - 9.32).abs() < 0.01,
        "{lo} {hi}"
    );
    assert_eq!(routing.significant, Some(false));
    assert_eq!(routing.tone, Tone::Neutral);
    assert!(!routing.alert, "within noise: no alert");
    assert_eq!(
        routing.verdict,
        "within normal week-to-week variation: anything from -3.2 pp to +9.3 pp is plausible, including no change at all"
    );
    assert_eq!((routing.handoffs, routing.handoffs_before), (24, 16));
    let skill = &v[1].branches[0];
    assert_eq!(
        (skill.change_text.as_str(), skill.arrow.as_str()),
        ("-1.7 pp", "↓")
    );
    // 10/200 - 12/180: -6.81 to +3.19 pp, within noise too.
    let [lo, hi] = skill.ci_pp.unwrap();
    assert!(
        (lo - -6.81).abs() < 0.01 && (hi - 3.19).abs() < 0.01,
        "{lo} {hi}"
    );
    assert_eq!(skill.tone, Tone::Neutral);
    assert!(!skill.alert);
    // Channel's alert line is 1.0 pp: +1.3 pp passes it, but 6/200 - 3/180 (-2.18 to
    // +4.90 pp) is noise, so no alert.
    assert!(!v[3].branches[0].alert);

    let subjects: Vec<&str> = v.iter().map(|v| v.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Handoffs 2026-W46: no significant change (routing 12.0%, +3.1 pp within normal variation)",
            "Handoffs 2026-W46: no significant change (skill 5.0%, -1.7 pp within normal variation)",
            "Handoffs 2026-W46: no significant change (escalation 4.0%, -1.0 pp within normal variation)",
            "Handoffs 2026-W46: no significant change (channel 3.0%, +1.3 pp within normal variation)",
        ]
    );
}

#[test]
fn headline_measures_read_as_worked_out() {
    let v = &views()[0];
    let get = |k: &str| v.headline.iter().find(|m| m.key == k).unwrap();
    let hr = get("handoff_rate");
    assert_eq!(
        (
            hr.now_text.as_str(),
            hr.before_text.as_str(),
            hr.change_text.as_str()
        ),
        ("24.0%", "22.2%", "+1.8 pp")
    );
    let fcr = get("fcr_rate");
    assert_eq!(
        (fcr.change_text.as_str(), fcr.arrow.as_str()),
        ("-5.0 pp", "↓")
    );
    assert_eq!(
        fcr.tone,
        Tone::Worse,
        "less first-contact resolution is worse"
    );
    let lost = get("time_lost_hours");
    assert_eq!(
        (lost.now_text.as_str(), lost.change_text.as_str()),
        ("120.5 h", "+20.5 h")
    );
    assert_eq!(get("ticket_volume").change_text, "+20");
    assert_eq!(get("ticket_volume").tone, Tone::Neutral);
    assert_eq!(get("band").now_text, "balanced");
    assert_eq!(get("backlog").now_text, "7");
    assert_eq!(get("handoffs_per_conversation").now_text, "0.24");
}

#[test]
fn segments_are_ordered_by_movement_and_small_ones_marked() {
    let v = &views()[0];
    let rows: Vec<(&str, &str, bool)> = v
        .movements
        .iter()
        .map(|m| (m.value.as_str(), m.change_text.as_str(), m.small))
        .collect();
    assert_eq!(
        rows,
        [
            ("chat", "-15.0 pp", true),
            ("Billing", "+10.0 pp", false),
            ("General Support", "+0.8 pp", false)
        ]
    );
    let r = Renderer::new().render(v).unwrap();
    let (a, b, c) = (
        r.text.find("chat").unwrap(),
        r.text.find("team: Billing").unwrap(),
        r.text.find("team: General Support").unwrap(),
    );
    assert!(a < b && b < c, "text keeps the order");
    assert!(r
        .text
        .contains("15.0% (was 30.0%)  ↓ -15.0 pp  20 conversations (was 20)"));
    // Billing 10/50 - 4/40: Newcombe -5.72 to +24.37 pp; not significant either, so every
    // row is marked as possibly chance (and greyed in the HTML).
    assert!(v.movements.iter().all(|m| m.noisy));
    let billing = &v.movements[1];
    let [lo, hi] = billing.ci_pp.unwrap();
    assert!(
        (lo - -5.72).abs() < 0.01 && (hi - 24.37).abs() < 0.01,
        "{lo} {hi}"
    );
    assert!(r.text.contains("team: Billing (could be chance)"));
    assert!(r.html.contains("color: #98a2b3") || r.html.contains("color:#98a2b3"));
    assert!(!r.text.contains("not yet tested for significance"));
}

#[test]
fn html_and_text_carry_the_numbers_with_sign_and_arrow() {
    let v = &views()[0];
    let r = Renderer::new().render(v).unwrap();
    assert_eq!(
        r.subject,
        "Handoffs 2026-W46: no significant change (routing 12.0%, +3.1 pp within normal variation)"
    );
    for body in [&r.html, &r.text] {
        for needle in [
            "12.0%",
            "8.9%",
            "↑ +3.1 pp",
            "24.0%",
            "-5.0 pp",
            "+20.5 h",
            "2026-W45",
        ] {
            assert!(body.contains(needle), "missing {needle}");
        }
        // Footer: quarantine with reasons, period, zone, generation time (09:00 UTC is
        // 09:00 GMT in London in November).
        assert!(body.contains("3 rows set aside"));
        assert!(body.contains("unparsable timestamp: 1"));
        assert!(body.contains("9 Nov 2026 – 15 Nov 2026"));
        assert!(body.contains("2026-11-16 09:00 GMT"));
    }
    assert!(r.html.contains("Europe&#x2f;London") || r.html.contains("Europe/London"));
    assert!(!has_html_tag(&r.text), "text part has no HTML");
    // Email layout rules: one 600 px column, styles inline, no <style> block.
    assert!(r.html.contains(r#"width="600""#));
    assert!(!r.html.contains("<style"));
    assert!(!r.html.contains("class="));
    // Trend bars run from the lowest week (5%, 1 block) to the highest (12%, 20 blocks):
    // 8.89% gets 1 + round((0.0889 - 0.05) / 0.07 * 19) = 1 + round(10.56) = 12.
    assert!(r
        .text
        .contains(&format!(" {}  (this period)", "█".repeat(20))));
    assert!(r.text.contains(" █\n"));
    assert!(r.text.contains(&format!(" {}\n", "█".repeat(12))));
    assert!(r
        .text
        .contains("Bars run from 5.0% (1 block) to 12.0% (20 blocks)"));
}

#[test]
fn helpdesk_names_are_escaped_in_html_only() {
    let (cfg, mut m) = week();
    let evil = r#"<script>alert("x")</script> & <b>Team</b>"#;
    m.segments
        .get_mut("team")
        .unwrap()
        .push(segment(evil, (40, 20), (40, 2)));
    let v = &owner_views_at(&cfg, &m, at())[0];
    let r = Renderer::new().render(v).unwrap();
    assert!(!r.html.contains("<script>"));
    assert!(!r.html.contains("<b>Team"));
    assert!(r
        .html
        .contains(r#"&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;Team"#));
    // text/plain is not interpreted: the name is shown as it is.
    assert!(r.text.contains(evil));
}

#[test]
fn drivers_and_summary_render_when_the_explain_stage_fills_them() {
    let mut v = views().remove(0);
    v.summary = Some("Routing rose 3.1 pp, mostly in <Billing>.".into());
    v.drivers = vec![DriverLine {
        cause: Cause::Routing,
        dimension: "team".into(),
        segment: "Billing".into(),
        contribution_pp: 2.04,
        change_pp: Some(10.0),
        conversations: 50,
        significant: true,
        note: None,
        footnote: None,
        pairs: vec![("team".into(), "Billing".into())],
        examples: vec![
            baton::report::Example {
                id: "<b>7".into(),
                url: baton::report::conversation_link(
                    Some("https://acme.zendesk.com/agent/tickets/{id}"),
                    "<b>7",
                ),
            },
            baton::report::Example {
                id: "8".into(),
                url: None,
            },
        ],
    }];
    let r = Renderer::new().render(&v).unwrap();
    assert!(r.html.contains("Tested drivers"));
    // Examples: linked when there is a pattern, the id escaped in the HTML and encoded in
    // the link; listed in the text part too.
    assert!(
        r.html.contains(
            r#"<a href="https://acme.zendesk.com/agent/tickets/%3Cb%3E7">&lt;b&gt;7</a>"#
        ),
        "{}",
        r.html
    );
    assert!(
        r.text
            .contains("Examples: <b>7 (https://acme.zendesk.com/agent/tickets/%3Cb%3E7), 8"),
        "{}",
        r.text
    );
    assert!(r.html.contains("↑ +2.0 pp"));
    assert!(r.html.contains("mostly in &lt;Billing&gt;."));
    assert!(r
        .text
        .contains("team: Billing (routing): ↑ +2.0 pp of the change, own change +10.0 pp"));
    assert!(!r.text.contains("not yet tested for significance"));
}

#[test]
fn an_owner_of_two_branches_gets_both_and_the_bigger_move_in_the_subject() {
    let text = EMBEDDED_DEFAULT.replace(
        r#"owner = { name = "Enablement", email = "enablement@example.com" }"#,
        r#"owner = { name = "Support Operations", email = "support-ops@example.com" }"#,
    );
    let cfg = Config::parse(&text, "test.toml").unwrap();
    let (_, m) = week();
    let v = owner_views_at(&cfg, &m, at());
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].causes, [Cause::Routing, Cause::Skill]);
    // |+3.1| > |-1.7|: routing leads the subject.
    assert_eq!(
        v[0].subject,
        "Handoffs 2026-W46: no significant change (routing 12.0%, +3.1 pp within normal variation)"
    );
    let r = Renderer::new().render(&v[0]).unwrap();
    assert!(r.text.contains("YOUR BRANCHES"));
    assert!(r.text.contains("-1.7 pp"));
}

#[test]
fn no_previous_period_shows_dashes_not_zero_changes() {
    let (cfg, mut m) = week();
    m.previous = measures(0, [0, 0, 0, 0]);
    let v = &owner_views_at(&cfg, &m, at())[0];
    assert_eq!(v.subject, "Handoffs 2026-W46: routing 12.0% (your branch)");
    assert_eq!(v.branches[0].before_text, "–");
    assert_eq!(v.branches[0].change_text, "–");
    assert!(!v.branches[0].alert);
}

#[test]
fn long_tables_stay_under_the_size_limit_and_go_to_the_csv() {
    let (cfg, mut m) = week();
    // 3000 segments with 200-character names; one movement each for the routing owner.
    let many: Vec<Segment> = (0..3000)
        .map(|i| {
            segment(
                &format!("agent-{i:04}-{}", "x".repeat(190)),
                (40, i % 7),
                (40, i % 5),
            )
        })
        .collect();
    m.segments.insert("topic".into(), many);
    m.segments.get_mut("topic").unwrap()[0].value = "=HYPERLINK(\"http://evil\")".into();
    let v = &owner_views_at(&cfg, &m, at())[0];
    let total = v.movements.len();
    assert_eq!(total, 3003);

    let r = Renderer::new().with_max_rows_inline(10).render(v).unwrap();
    assert!(r.html.len() < HTML_LIMIT_BYTES);
    assert!(r.text.contains("Showing 10 of 3003 rows; every row, with its interval, is in the attached segments-2026-W46-support-operations.csv"));
    let csv = String::from_utf8(r.attachments[0].bytes.clone()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3003, "header plus every row");
    assert!(csv.contains(&"x".repeat(190)), "names whole in the CSV");
    assert!(
        csv.contains("'=HYPERLINK"),
        "formula defused: {}",
        &csv[..300]
    );
    assert!(!r.html.contains(&"x".repeat(190)), "names shortened inline");

    // Asked to show everything, the renderer still keeps the HTML under the limit.
    let r = Renderer::new()
        .with_max_rows_inline(100_000)
        .render(v)
        .unwrap();
    assert!(r.html.len() <= HTML_LIMIT_BYTES, "{} bytes", r.html.len());
    assert!(
        r.html.len() > HTML_LIMIT_BYTES / 3,
        "but not needlessly small"
    );
    assert!(r
        .html
        .contains("of 3003 rows; every row, with its interval, is in the attached"));
}

#[test]
fn check_templates_names_the_file_and_line_of_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("owner_report.html"),
        "<p>{{ owner.name }}</p>\n<p>ok</p>\n{% if owner.name %}\n<p>never closed</p>\n",
    )
    .unwrap();
    let err = check_templates(dir.path()).unwrap_err();
    let RenderError::Template(t) = &err else {
        panic!("{err}")
    };
    assert!(t.file.ends_with("owner_report.html"), "{err}");
    assert!(t.line.is_some(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("owner_report.html:"), "{msg}");
    assert!(msg.contains("syntax error"), "{msg}");

    // An error in the middle of a file points at its line.
    std::fs::write(
        dir.path().join("owner_report.html"),
        "<p>one</p>\n<p>two</p>\n<p>{{ 1 + }}</p>\n<p>four</p>\n",
    )
    .unwrap();
    let msg = check_templates(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("owner_report.html:3: syntax error"), "{msg}");

    // A broken partial is named as the partial.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("partials")).unwrap();
    std::fs::write(
        dir.path().join("partials/footer.txt"),
        "line one\n{{ footer. }}\n",
    )
    .unwrap();
    let msg = check_templates(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("partials/footer.txt:2"), "{msg}");

    // A misspelt variable compiles but fails the sample render, named with its line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("owner_report.txt"),
        "Hello\n{{ ownr.name }}\n",
    )
    .unwrap();
    let msg = check_templates(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("owner_report.txt:2"), "{msg}");
}

#[test]
fn templates_can_be_overridden_from_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("owner_report.txt"),
        "Dear {{ owner.name }}: {% for b in branches %}{{ b.label }} {{ b.rate|pct }} {{ b.change_pp|pp }}{% endfor %}.\n",
    )
    .unwrap();
    check_templates(dir.path()).unwrap();
    let r = Renderer::from_dir(dir.path())
        .unwrap()
        .render(&views()[0])
        .unwrap();
    assert_eq!(r.text, "Dear Support Operations: Routing 12.0% +3.1 pp.\n");
    // The HTML part still comes from the embedded template.
    assert!(r.html.contains(r#"width="600""#));
}

/// The week at ten times the volume: routing 240/2000 vs 160/1800 (+3.1 pp), skill 100/2000
/// vs 120/1800 (-1.7 pp), escalation 80 vs 90, channel 60 vs 30.
fn big_week() -> (Config, MetricsReport) {
    let (cfg, mut m) = week();
    m.overall.measures = measures(2000, [240, 100, 80, 60]);
    m.previous = measures(1800, [160, 120, 90, 30]);
    (cfg, m)
}

fn driver(
    dimension: &str,
    segment: &str,
    effect: baton::explain::Effect,
    contribution: f64,
    significant: bool,
) -> baton::explain::Driver {
    baton::explain::Driver {
        key: baton::explain::SegmentKey::single(dimension, segment),
        effect,
        contribution,
        ci: None,
        z: None,
        q: None,
        significant,
        owner: None,
        rate_before: Some(0.10),
        rate_after: Some(0.20),
        rate_ci_before: None,
        rate_ci_after: None,
        shrunk_rate_before: None,
        shrunk_rate_after: None,
        share_before: 0.1,
        share_after: 0.1,
        n_before: 400.0,
        n_after: 420.0,
        note: None,
    }
}

/// The routing branch's change, 0.12 - 0.0888... = 0.031111, split by topic: billing rate
/// +0.025 and mix -0.003 (+2.2 pp together), login -0.004, shipping +0.002, general +0.001,
/// and by team (Billing +0.010). One significant push, topic billing's rate cell, for the
/// routing owner.
fn explanation(cfg: &Config) -> baton::explain::Explanation {
    use baton::explain::{Branch, Effect, Explanation, Model, PeriodRef, Push, Role};
    let owner = cfg.owners().remove(0).0;
    let change = 0.12 - 160.0 / 1800.0;
    let branch = Branch {
        cause: Cause::Routing,
        owner: owner.clone(),
        before: 160.0 / 1800.0,
        after: 0.12,
        change,
        ci: Some([0.0116, 0.0505]),
        z: Some(3.1),
        significant: true,
        drivers: vec![
            driver("team", "Billing", Effect::Rate, 0.010, false),
            driver("topic", "billing", Effect::Rate, 0.025, true),
            driver("topic", "billing", Effect::Mix, -0.003, false),
            driver("topic", "login", Effect::Rate, -0.004, false),
            driver("topic", "shipping", Effect::Rate, 0.002, false),
            driver("topic", "general", Effect::Rate, 0.001, false),
        ],
        other: BTreeMap::new(),
    };
    Explanation {
        schema_version: 1,
        metric: "handoff_rate".into(),
        model: Model::Binomial,
        percent: true,
        period: PeriodRef::label("2026-W46"),
        vs: PeriodRef::label("2026-W45"),
        before: 0.2,
        after: 0.24,
        change: 0.04,
        ci: None,
        z: None,
        significant: true,
        n_before: 1800.0,
        n_after: 2000.0,
        dimensions: vec!["topic".into(), "team".into()],
        drivers: vec![],
        other: BTreeMap::new(),
        branches: Some(vec![branch]),
        localised: vec![],
        pushes: vec![Push {
            owner: owner.clone(),
            role: Role::BranchOwner,
            metric: "handoff_rate".into(),
            branch: Some(Cause::Routing),
            key: baton::explain::SegmentKey::single("topic", "billing"),
            effect: Effect::Rate,
            change: 0.025,
            ci: [0.012, 0.038],
            z: 3.8,
            q: 0.0021,
            what: "topic billing landing on the wrong team first".into(),
        }],
        summary: BTreeMap::from([(
            owner.id.as_str().to_string(),
            "Routing handoffs rose 3.1 points, mostly topic billing.".to_string(),
        )]),
    }
}

#[test]
fn a_real_move_is_named_with_its_interval_from_the_counts() {
    let (cfg, m) = big_week();
    let v = &owner_views_at(&cfg, &m, at())[0];
    let b = &v.branches[0];
    // Newcombe for 240/2000 - 160/1800, worked out apart: +1.162 to +5.048 pp.
    let [lo, hi] = b.ci_pp.unwrap();
    assert!(
        (lo - 1.162).abs() < 0.001 && (hi - 5.048).abs() < 0.001,
        "{lo} {hi}"
    );
    assert_eq!(b.significant, Some(true));
    assert_eq!(b.tone, Tone::Worse);
    assert!(b.alert, "a real +3.1 pp passes the 2.0 pp line");
    assert_eq!(
        b.verdict,
        "a real rise: beyond normal week-to-week variation (95 % interval +1.2 pp to +5.0 pp)"
    );
    // No explain stage: no driver to name.
    assert_eq!(
        v.subject,
        "Handoffs 2026-W46: routing +3.1 pp (your branch)"
    );
    // Skill: 100/2000 - 120/1800 = -1.67 pp, interval -3.19 to -0.18: a real fall.
    assert_eq!(
        owner_views_at(&cfg, &m, at())[1].branches[0].significant,
        Some(true)
    );
}

#[test]
fn the_first_screen_names_the_driver_reconciles_the_change_and_keeps_jargon_in_a_footnote() {
    let (cfg, m) = big_week();
    let mut v = owner_views_at(&cfg, &m, at()).remove(0);
    v.attach_explanation(&explanation(&cfg));
    assert_eq!(
        v.subject,
        "Handoffs 2026-W46: routing +3.1 pp, driven by topic billing"
    );
    // The explanation's own interval replaces the one from the counts.
    let [lo, hi] = v.branches[0].ci_pp.unwrap();
    assert!((lo - 1.16).abs() < 1e-9 && (hi - 5.05).abs() < 1e-9);
    // Breakdown by topic (the driver's dimension): billing 2.5 - 0.3 = +2.2, login -0.4,
    // shipping +0.2 (general, +0.1, is the fourth: left in everything else);
    // everything else = 3.111 - (2.2 - 0.4 + 0.2) = +1.111.
    let bd = &v.breakdowns[0];
    assert_eq!(bd.dimension, "topic");
    let rows: Vec<(&str, &str, &str)> = bd
        .rows
        .iter()
        .map(|r| {
            (
                r.segment.as_str(),
                r.contribution_text.as_str(),
                r.role.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("billing", "+2.2 pp", "drove it"),
            ("login", "-0.4 pp", "offset it"),
            ("shipping", "+0.2 pp", "drove it"),
        ]
    );
    assert!((bd.other_pp - 1.1111).abs() < 1e-3, "{}", bd.other_pp);
    let sum: f64 = bd.rows.iter().map(|r| r.contribution_pp).sum::<f64>() + bd.other_pp;
    assert!(
        (sum - bd.change_pp).abs() < 1e-9,
        "rows add up to the change"
    );
    assert_eq!(bd.change_text, "+3.1 pp");
    assert_eq!(bd.rows[0].footnote, Some(1));
    // Levers as actions aimed at the driver.
    assert_eq!(
        v.branches[0].actions,
        [
            "Review routing rules for topic billing",
            "Review intent classification for topic billing"
        ]
    );

    let r = Renderer::new().render(&v).unwrap();
    for body in [&r.html, &r.text] {
        assert!(body.contains("Routing +3.1 pp, driven by topic billing"));
        assert!(body.contains("Routing handoffs rose 3.1 points, mostly topic billing."));
        assert!(body.contains("Review routing rules for topic billing"));
        assert!(body.contains("+1.1 pp"), "everything else");
        assert!(body.contains("offset it"));
    }
    // q-values only below the body, in the footnote.
    let notes = r.html.find("[1] topic billing").expect("the footnote");
    assert_eq!(r.html.matches("q = ").count(), 1);
    assert!(r.html.find("q = ").unwrap() > notes);
    assert!(r.text.find("q = 0.002").unwrap() > r.text.find("NOTES").unwrap());
    // The first screen comes first: verdict, breakdown and actions before the headline table.
    let at = |s: &str| r.html.find(s).unwrap_or_else(|| panic!("no {s}"));
    assert!(at("A real rise") < at("Why routing moved"));
    assert!(at("Why routing moved") < at("What you can do"));
    assert!(at("What you can do") < at("Headline measures"));
}

#[test]
fn headline_measures_come_last_and_explain_escalation_and_the_band() {
    let v = &views()[0];
    let r = Renderer::new().render(v).unwrap();
    let at = |s: &str| r.text.find(s).unwrap_or_else(|| panic!("no {s}"));
    assert!(at("WHERE YOUR BRANCH") < at("HEADLINE MEASURES"));
    assert!(at("TREND") < at("HEADLINE MEASURES"));
    assert!(r.text.contains("The escalation branch counts only"));
    assert!(r.text.contains("lean under 15 %"));
}

#[test]
fn the_html_is_inlined_from_the_stylesheet_and_600_px_wide() {
    let r = Renderer::new().render(&views()[0]).unwrap();
    assert!(!r.html.contains("<style"));
    assert!(!r.html.contains("class="));
    // Rules of templates/report.css landed in style attributes.
    assert!(
        r.html.contains("white-space: nowrap"),
        "the Conv. column does not wrap"
    );
    assert!(r.html.contains("width: 600px"));
    assert!(
        r.html.contains(r#"<h1 style="margin: 0;font-size: 20px"#),
        "{}",
        &r.html[..2000]
    );
}

#[test]
fn the_csv_carries_period_interval_and_significance() {
    let r = Renderer::new().render(&views()[0]).unwrap();
    let csv = String::from_utf8(r.attachments[0].bytes.clone()).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "dimension,segment,cause,rate,rate_before,change_pp,change_ci_low_pp,change_ci_high_pp,significant,small,conversations,conversations_before,period,previous_period"
    );
    // Billing: 10/50 - 4/40, Newcombe -5.72 to +24.37 pp (worked out apart).
    let billing = csv.lines().find(|l| l.contains(",Billing,")).unwrap();
    let f: Vec<&str> = billing.split(',').collect();
    assert_eq!((f[12], f[13]), ("2026-W46", "2026-W45"));
    let (lo, hi): (f64, f64) = (f[6].parse().unwrap(), f[7].parse().unwrap());
    assert!(
        (lo - -5.72).abs() < 0.01 && (hi - 24.37).abs() < 0.01,
        "{billing}"
    );
    assert_eq!((f[8], f[9]), ("false", "false"));
}

#[test]
fn the_ai_owner_gets_an_ai_handover_section_with_linked_examples() {
    use baton::metrics::AiMeasures;
    let text = EMBEDDED_DEFAULT
        .replace(
            "[ai]\n",
            "[ai]\nowner = { name = \"AI Lead\", email = \"ai-lead@example.com\" }\n",
        )
        .replace(
            "[report]\n",
            "[report]\nconversation_url = \"https://acme.zendesk.com/agent/tickets/{id}\"\n",
        );
    let cfg = Config::parse(&text, "test.toml").unwrap();
    let (_, mut m) = week();
    // 120 conversations with an AI owner, 30 handed over (25.0 %) against 20 of 100
    // (20.0 %) before: +5.0 pp. 24 of the 30 resolved after the handover: 80.0 %.
    m.overall.measures.ai = AiMeasures {
        conversations: 120,
        ai_escalation_rate: Some(30.0 / 120.0),
        ai_resolution_rate: Some(90.0 / 120.0),
        ai_time_to_handover_minutes: Some(4.5),
        human_response_after_handover_minutes: Some(12.0),
        sentiment_before_handover: Some(-0.12),
        post_handover_resolution_rate: Some(24.0 / 30.0),
        unsafe_deflection: false,
        ai_resolved_last_sentiment: Some(0.1),
        ..AiMeasures::default()
    };
    let breaches = &mut m.overall.measures.ai.ai_policy_breaches;
    breaches.count = 3;
    breaches.must_escalate_resolved = 2;
    breaches.must_not_escalate_handed_over = 1;
    breaches.examples = vec!["t-1".into(), "a b/ü".into()];
    m.previous.ai = AiMeasures {
        conversations: 100,
        ai_escalation_rate: Some(0.20),
        ai_time_to_handover_minutes: Some(6.0),
        human_response_after_handover_minutes: Some(9.5),
        ..AiMeasures::default()
    };
    let views = owner_views_at(&cfg, &m, at());
    assert_eq!(views.len(), 5, "the four branch owners and the AI owner");
    assert!(views[..4].iter().all(|v| v.ai.is_none()));
    let v = &views[4];
    assert_eq!(v.owner.email, "ai-lead@example.com");
    assert_eq!(
        v.subject,
        "Handoffs 2026-W46: AI handed over 25.0% (+5.0 pp), 3 policy breaches"
    );
    let ai = v.ai.as_ref().unwrap();
    let row = |k: &str| ai.rows.iter().find(|r| r.key == k).unwrap();
    assert_eq!(row("post_handover_resolution_rate").now_text, "80.0%");
    // 4.5 - 6.0 minutes.
    assert_eq!(row("ai_time_to_handover_minutes").change_text, "-1.5 min");
    // 12.0 - 9.5 minutes, and a longer wait for a person is worse.
    let human = row("human_response_after_handover_minutes");
    assert_eq!(human.change_text, "+2.5 min");
    assert_eq!(human.tone, baton::report::Tone::Worse);
    assert_eq!(
        ai.examples[1].url.as_deref(),
        Some("https://acme.zendesk.com/agent/tickets/a%20b%2F%C3%BC")
    );
    let r = Renderer::new().render(v).unwrap();
    assert!(r
        .html
        .contains(r#"href="https://acme.zendesk.com/agent/tickets/t-1""#));
    assert!(r.html.contains("3 policy breaches"));
    assert!(r.text.contains("AI HANDOVER (120 conversations"));
    assert!(r
        .text
        .contains("https://acme.zendesk.com/agent/tickets/t-1"));
}

#[test]
fn a_large_organisation_stays_under_100_kb_of_html() {
    let (cfg, mut m) = week();
    // 50 teams and 500 agents, all of them moving, with long names.
    let teams: Vec<Segment> = (0..50)
        .map(|i| {
            segment(
                &format!("Team {i:02} {}", "t".repeat(40)),
                (400, 20 + i),
                (400, 20),
            )
        })
        .collect();
    let agents: Vec<Segment> = (0..500)
        .map(|i| {
            segment(
                &format!("Agent {i:03} {}", "a".repeat(40)),
                (40, i % 9),
                (40, i % 4),
            )
        })
        .collect();
    m.segments.insert("team".into(), teams);
    m.segments.insert("agent".into(), agents);
    for v in owner_views_at(&cfg, &m, at()) {
        let r = Renderer::new().render(&v).unwrap();
        assert!(
            r.html.len() < 100 * 1024,
            "{}: {} bytes",
            v.owner.name,
            r.html.len()
        );
        // Every row is still in the CSV: the routing owner has 50 + 500 + 1 (channel chat).
        if v.owner.email == "support-ops@example.com" {
            let csv = String::from_utf8(r.attachments[0].bytes.clone()).unwrap();
            assert_eq!(csv.lines().count(), 1 + 551);
            assert!(!r.html.contains("Agent 0"), "agents are left to the CSV");
        }
    }
}

#[test]
fn messages_say_they_are_automatic_and_reply_to_a_person() {
    use baton::deliver::{DeliveryKey, Headers, Outgoing};
    let v = &views()[0];
    let r = Renderer::new().render(v).unwrap();
    let key = DeliveryKey::new("owners", "2026-W46", &v.owner.email);
    let from = "baton <reports@example.com>".parse().unwrap();
    let headers = Headers {
        reply_to: Some("Support Ops Desk <ops-desk@example.com>".parse().unwrap()),
    };
    let out = Outgoing::with_headers(&from, &v.owner, &r, key, &[], &headers).unwrap();
    let raw = String::from_utf8(out.message.formatted()).unwrap();
    assert!(
        raw.contains("Auto-Submitted: auto-generated\r\n"),
        "{}",
        &raw[..600]
    );
    assert!(
        raw.contains("Reply-To: \"Support Ops Desk\" <ops-desk@example.com>\r\n")
            || raw.contains("Reply-To: Support Ops Desk <ops-desk@example.com>\r\n"),
        "{}",
        &raw[..600]
    );
    assert!(raw.contains("From: baton <reports@example.com>"));
}

#[test]
fn a_team_lead_gets_the_team_cells_of_every_branch() {
    let (cfg, m) = week();
    let v = baton::report::team_views_at(&cfg, &m, at());
    // Leads of the embedded config whose team has a segment this week: Billing and General
    // Support (Technical and Account Security have no rows in this fixture).
    let leads: Vec<&str> = v.iter().map(|v| v.owner.email.as_str()).collect();
    assert_eq!(leads, ["billing-lead@example.com", "gs-lead@example.com"]);
    let billing = &v[0];
    assert_eq!(billing.team.as_deref(), Some("Billing"));
    assert_eq!(billing.branches.len(), 4);
    // Billing's routing: 10/50 = 20.0% vs 4/40 = 10.0%, +10.0 pp; Newcombe -5.72 to +24.37.
    let r = &billing.branches[0];
    assert_eq!(
        (r.rate_text.as_str(), r.change_text.as_str()),
        ("20.0%", "+10.0 pp")
    );
    assert_eq!(r.significant, Some(false));
    assert!(r.actions.is_empty(), "levers stay with the branch owner");
    assert_eq!(
        billing.subject,
        "Handoffs 2026-W46, team Billing: no significant change (routing 20.0%, +10.0 pp within normal variation)"
    );
    let out = Renderer::new().render(billing).unwrap();
    assert!(out
        .text
        .contains("Team Billing: the team's own rate in every branch."));
    assert!(out.html.contains("20.0%"));
}
