//! `baton demo` end to end in a temporary folder: generated helpdesk served over loopback HTTP,
//! pulled, computed, rendered, and written as one parseable MIME message per owner.

use baton::cli::demo::{demo, Args};
use baton::domain::Cause;
use mail_parser::MessageParser;

fn args(out: &std::path::Path) -> Args {
    Args {
        out: out.to_path_buf(),
        seed: 3,
        weeks: 3,
        per_week: 400,
        inject: vec![],
        period: "2026-W46".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_writes_one_message_per_owner_with_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo(&args(dir.path())).await.unwrap();
    // Four branch owners and four team leads in the embedded config, each with a distinct
    // address.
    assert_eq!(summary.owners.len(), 8);
    assert_eq!(summary.delivery.sent(), 8);
    let mut emls: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    emls.sort();
    assert_eq!(emls.len(), 8, "{emls:?}");
    let m = &summary.metrics.overall.measures;
    assert!(
        m.conversations > 300,
        "a week of 400 conversations resolves most of them"
    );

    let cfg = baton::config::Config::embedded().unwrap();
    for (owner, causes) in cfg.owners() {
        let path = dir.path().join(format!("2026-W46-{}.eml", owner.id));
        let raw = std::fs::read(&path).unwrap_or_else(|_| panic!("no {}", path.display()));
        let msg = MessageParser::default()
            .parse(&raw)
            .expect("a parseable MIME message");
        assert_eq!(
            msg.to().unwrap().first().unwrap().address().unwrap(),
            owner.email
        );
        let text = msg.body_text(0).expect("a text/plain part").to_string();
        let html = msg.body_html(0).expect("a text/html part").to_string();
        assert!(!text.contains("<td"), "the text part is not HTML");
        assert!(html.contains("<table"), "the HTML part is HTML");
        let subject = msg.subject().unwrap();
        assert!(subject.starts_with("Handoffs 2026-W46"), "{subject}");
        // The owner's branch rate, as the metrics computed it, appears in both parts
        // (formatted as a percentage with one decimal).
        for c in causes {
            let rate = m.by_cause[&c].rate.unwrap();
            let shown = format!("{:.1}%", rate * 100.0);
            assert!(text.contains(&shown), "{} text lacks {shown}", owner.name);
            assert!(html.contains(&shown), "{} html lacks {shown}", owner.name);
            assert!(
                subject.contains(c.as_str()),
                "{subject} names the branch {c}"
            );
        }
        // The owner's one-sentence explanation is in both parts.
        let sentence = &summary.explanation.as_ref().unwrap().summary()[owner.id.as_str()];
        assert!(
            text.contains(sentence.as_str()),
            "{} text lacks {sentence}",
            owner.name
        );
        // The HTML preview next to the .eml is the same HTML part, its charts pointing at the
        // PNGs written beside it instead of at `cid:` parts.
        let preview = std::fs::read_to_string(path.with_extension("html")).unwrap();
        let mut expected = html.clone();
        for cid in html.split("src=\"cid:").skip(1) {
            let cid = cid.split('"').next().unwrap();
            let local = cid.trim_end_matches("@baton");
            let file = format!("2026-W46-{}.{local}.png", owner.id);
            assert!(dir.path().join(&file).exists(), "no {file}");
            expected = expected.replace(&format!("cid:{cid}"), &file);
        }
        assert_eq!(
            preview.replace("\r\n", "\n").trim(),
            expected.replace("\r\n", "\n").trim()
        );
    }
    // Each team lead gets their team's report: the team's own rate in every branch, from
    // the team's segment of the metrics.
    let mut leads = 0;
    for (team, t) in &cfg.teams {
        let Some(lead) = t.lead.as_ref().map(|l| l.to_string()) else {
            continue;
        };
        leads += 1;
        let id = baton::domain::OwnerId::from_name(&format!("{team} lead"));
        let path = dir.path().join(format!("2026-W46-{id}.eml"));
        let raw = std::fs::read(&path).unwrap_or_else(|_| panic!("no {}", path.display()));
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(msg.to().unwrap().first().unwrap().address().unwrap(), lead);
        let subject = msg.subject().unwrap();
        assert!(
            subject.starts_with(&format!("Handoffs 2026-W46, team {team}")),
            "{subject}"
        );
        let text = msg.body_text(0).unwrap().to_string();
        let seg = summary.metrics.segments["team"]
            .iter()
            .find(|s| &s.value == team)
            .unwrap();
        for c in Cause::ALL {
            let shown = format!("{:.1}%", seg.measures.by_cause[&c].rate.unwrap() * 100.0);
            assert!(
                text.contains(&shown),
                "{team} lead's text lacks {c} {shown}"
            );
        }
        // Their trend is the team's own handoff rate (the metrics' team segment, computed by
        // another path), with the helpdesk's in brackets, this week and the one before.
        let trend = text
            .split("TREND (team ")
            .nth(1)
            .unwrap_or_else(|| panic!("{team} lead: no team trend in\n{text}"));
        let overall =
            |m: &baton::metrics::Measures| format!("{:.1}%", m.handoff_rate.unwrap() * 100.0);
        for (week, team_m, all_m) in [
            ("2026-W46", &seg.measures, m),
            ("2026-W45", &seg.previous, &summary.metrics.previous),
        ] {
            let line = trend
                .lines()
                .find(|l| l.trim_start().starts_with(week))
                .unwrap_or_else(|| panic!("{team}: no {week} in\n{trend}"));
            let want = format!("{} ({})", overall(team_m), overall(all_m));
            assert!(
                line.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .contains(&want),
                "{team} {week}: {line} lacks {want}"
            );
        }
        // Their agents, ranked on shrunk rates: every agent line names a conversation count.
        let agents = text
            .split("YOUR TEAM'S AGENTS")
            .nth(1)
            .unwrap_or_else(|| panic!("{team} lead: no agents in\n{text}"));
        assert!(agents.contains("ranked on "), "{team}");
        assert!(
            raw.windows(11).any(|w| w == b"trend@baton"),
            "{team}: no trend chart"
        );
    }
    assert_eq!(leads, 4);

    // The planted change: billing misrouting +10 points from the start of the week raises the
    // routing rate of topic billing.
    let billing = summary.metrics.segments["topic"]
        .iter()
        .find(|s| s.value == "billing")
        .unwrap();
    let now = billing.measures.by_cause[&Cause::Routing].rate.unwrap();
    let before = billing.previous.by_cause[&Cause::Routing].rate.unwrap();
    assert!(
        now - before > 0.03,
        "billing routing {before:.3} -> {now:.3}"
    );

    // A rerun of the same period rewrites the outbox but delivers nothing twice.
    let again = demo(&args(dir.path())).await.unwrap();
    assert_eq!(again.delivery.sent(), 0);
    assert_eq!(again.delivery.already_delivered(), 8);
}

/// A period the data does not cover sends nothing (no page of dashes), fails the run with
/// exit 1, and says which span the data covers.
#[test]
fn a_period_without_conversations_sends_nothing_and_says_what_the_data_covers() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.csv");
    std::fs::write(
        &export,
        "conversation_id,at,event,agent,team,channel\n\
         c1,2026-11-10T09:00:00Z,created,,,chat\n\
         c1,2026-11-10T09:01:00Z,assigned,ann,Billing,chat\n\
         c1,2026-11-10T10:00:00Z,resolved,,,chat\n",
    )
    .unwrap();
    let url = format!("file://{}", export.display());
    let cfg = dir.path().join("baton.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}\n[sources.f]\nkind = \"canonical\"\nurl = \"{url}\"\n",
            include_str!("../config/baton.toml")
        ),
    )
    .unwrap();
    let outbox = dir.path().join("outbox");
    let run = |period: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["run", "--period", period, "--config"])
            .arg(&cfg)
            .arg("--outbox")
            .arg(&outbox)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run("2027-W10");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no conversations were resolved in 2027-W10"),
        "{err}"
    );
    assert!(
        err.contains("The data covers 2026-11-10 09:00 UTC to 2026-11-10 10:00 UTC (3 events)"),
        "{err}"
    );
    let emls = std::fs::read_dir(&outbox)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "eml")
            })
            .count()
        })
        .unwrap_or(0);
    assert_eq!(emls, 0, "nothing is written for an empty period");

    // The same export on the week it covers goes out: the guard is about the period only.
    let ok = run("2026-W46");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// The demo registers one fix for Support Operations; eight weeks give it a baseline and an
/// after window, and its verdict is in their report (and only theirs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fix_has_its_verdict_in_support_operations_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path());
    a.weeks = 8;
    a.per_week = 1500;
    demo(&a).await.unwrap();
    let html =
        |id: &str| std::fs::read_to_string(dir.path().join(format!("2026-W46-{id}.html"))).unwrap();
    let ops = html("support-operations");
    assert!(ops.contains("Your fixes"), "{ops}");
    assert!(
        ops.contains("Refund keywords route to the refund desk"),
        "{ops}"
    );
    assert!(
        ["Verified", "Regressed", "Inconclusive", "Too early"]
            .iter()
            .any(|v| ops.contains(&format!("<strong>{v}</strong>"))),
        "a verdict in words"
    );
    assert!(!html("enablement").contains("Your fixes"));
}

/// Issue 14: at the demo's mid-size 3,000 conversations a week, the planted billing misrouting
/// is named to Support Operations as a significant driver (not a lead), and the report's
/// subject says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_names_billing_for_support_operations() {
    let dir = tempfile::tempdir().unwrap();
    let a = Args {
        out: dir.path().to_path_buf(),
        seed: 7,
        weeks: 8,
        per_week: 3000,
        inject: vec![],
        period: "2026-W48".into(),
    };
    let summary = demo(&a).await.unwrap();
    let e = summary.explanation.as_ref().unwrap();
    let sentence = &e.summary()["support-operations"];
    assert!(sentence.contains("topic billing"), "{sentence}");
    assert!(!sentence.contains("to check rather than"), "{sentence}");
    let routing = e
        .branch_list()
        .iter()
        .find(|b| b.cause == Cause::Routing)
        .unwrap();
    let billing = routing
        .drivers
        .iter()
        .find(|d| d.key.value_of("topic") == Some("billing"))
        .unwrap();
    assert!(billing.significant, "{billing:?}");
    let ops = summary
        .owners
        .iter()
        .find(|o| o.owner.email == "support-ops@example.com")
        .unwrap();
    assert!(
        ops.subject.contains("driven by topic billing"),
        "{}",
        ops.subject
    );
}
