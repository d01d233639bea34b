//! Zendesk pulls against a fake Zendesk on loopback serving the documented shapes
//! (SOURCES.md): time-based ticket-event pages with repeated rows at their edges, cursor ticket
//! pages, paged groups, users by id; faults injected per request.

mod source_support;

use baton::config::{AuthConfig, AuthKind, Config, HttpOptions, SourceConfig, ZendeskSource};
use baton::domain::Period;
use baton::metrics::{compute, MetricsRequest};
use baton::source::{pull_with_stats, PullOptions, PullWindow, SourceError};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use source_support::{handoff_summary, lines, FakeApi, Fault};
use std::collections::BTreeMap;

/// 2026-03-02T09:00:00Z.
const T0: i64 = 1_772_442_000;
fn t(min: i64) -> i64 {
    T0 + 60 * min
}
fn iso(min: i64) -> String {
    DateTime::<Utc>::from_timestamp(t(min), 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One ticket_events row (an audit) with its child events.
fn audit(id: Value, ticket: Value, min: i64, updater: Value, via: Value, kids: Value) -> Value {
    json!({
        "id": id, "ticket_id": ticket, "timestamp": t(min), "created_at": iso(min),
        "updater_id": updater, "via": via, "event_type": "Audit", "child_events": kids,
    })
}

fn events_url(start: i64) -> String {
    format!("/api/v2/incremental/ticket_events.json?start_time={start}&include=comment_events&support_type_scope=all")
}
fn tickets_url(q: &str) -> String {
    format!("/api/v2/incremental/tickets/cursor.json?{q}&support_type_scope=all")
}

/// Serves the fixture. The ticket-event stream starts at `start`.
///
/// Ticket 101 (web form, tag billing_q): customer writes; a rule puts it in General Support;
///   Ann picks it up (a pickup), replies; she moves it to Billing adding tag needs_specialist
///   (handoff 1, reason -> cause skill); Bob picks it up (pickup), replies and solves; the
///   customer writes back by mail (reopened); Bob solves again.           => 1 handoff (skill)
/// Ticket 102 (chat): customer writes; the AI agent (user 4) answers (it becomes the owner); a
///   rule assigns Cy in Technical (tier 2 > AI tier 0: escalation); Cy calls the customer
///   (a voice comment: chat -> phone, a channel handoff); solved.   => 2 handoffs (escalation,
///   channel)
/// Ticket 103 (email, every id a string): created already assigned to Ann in General Support
///   (first owner); Ann passes it to Bob without a word (routing), with a private note; Bob
///   replies and solves. One child event of an unknown kind, one Notification, one priority
///   change.                                                               => 1 handoff (routing)
fn serve_zendesk(api: &FakeApi, start: i64) {
    let b = api.base();
    let web = json!("Web form");
    let ev = |s: i64| format!("{b}{}", events_url(s));
    // Page A: t0..t11.
    let e1 = audit(
        json!(1001),
        json!(101),
        0,
        json!(1),
        web.clone(),
        json!([
            {"id": 5001, "event_type": "Create", "status": "new", "via": "Web form"},
            {"id": 5002, "event_type": "Comment", "author_id": 1, "public": true, "body": "my invoice is wrong"},
        ]),
    );
    let e2 = audit(
        json!(1002),
        json!(101),
        2,
        json!(-1),
        json!("Rule"),
        json!([
            {"id": 5003, "event_type": "Change", "group_id": 10, "previous_value": null, "via": "Rule", "via_reference_id": 77},
        ]),
    );
    let e3 = audit(
        json!(1003),
        json!(101),
        5,
        json!(2),
        web.clone(),
        json!([
            {"id": 5004, "event_type": "Change", "assignee_id": 2, "previous_value": null},
        ]),
    );
    let e10 = audit(
        json!(1010),
        json!(102),
        10,
        json!(6),
        json!("Chat"),
        json!([
            {"id": 5010, "event_type": "Create", "status": "new"},
            {"id": 5011, "event_type": "Comment", "author_id": 6, "public": true, "body": "hi"},
        ]),
    );
    let e11 = audit(
        json!(1011),
        json!(102),
        11,
        json!(4),
        json!("Answer Bot"),
        json!([
            {"id": 5012, "event_type": "Comment", "author_id": 4, "public": true, "body": "I can help"},
        ]),
    );
    let e12 = audit(
        json!(1012),
        json!(102),
        15,
        json!(-1),
        json!({"channel": "rule", "source": {"rel": "trigger"}}),
        json!([
            {"id": 5013, "event_type": "Change", "group_id": 30, "previous_value": null},
            {"id": 5014, "event_type": "Change", "assignee_id": 5, "previous_value": null},
        ]),
    );
    // Page B: t11..t40, repeating e11 (a comment) at its edge.
    let e4 = audit(
        json!(1004),
        json!(101),
        20,
        json!(2),
        web.clone(),
        json!([
            {"id": 5005, "event_type": "Comment", "author_id": 2, "public": true, "body": "looking"},
        ]),
    );
    let e13 = audit(
        json!(1013),
        json!(102),
        25,
        json!(5),
        json!("Voice"),
        json!([
            {"id": 5015, "event_type": "VoiceComment", "author_id": 5, "public": true, "data": {"call_duration": 60}},
        ]),
    );
    let e5 = audit(
        json!(1005),
        json!(101),
        30,
        json!(2),
        web.clone(),
        json!([
            {"id": 5006, "event_type": "Change", "group_id": 20, "previous_value": 10},
            {"id": 5007, "event_type": "Change", "assignee_id": null, "previous_value": 2},
            {"id": 5008, "event_type": "Change", "tags": ["billing_q", "needs_specialist"], "previous_value": ["billing_q"]},
        ]),
    );
    let e14 = audit(
        json!(1014),
        json!(102),
        35,
        json!(5),
        web.clone(),
        json!([
            {"id": 5016, "event_type": "Change", "status": "solved", "previous_value": "new"},
        ]),
    );
    let e6 = audit(
        json!(1006),
        json!(101),
        40,
        json!(3),
        web.clone(),
        json!([
            {"id": 5009, "event_type": "Change", "assignee_id": 3, "previous_value": null},
        ]),
    );
    // Page C: t40..t120, repeating e6 at its edge; nulls and unknown kinds.
    let e7 = audit(
        json!(1007),
        json!(101),
        50,
        json!(3),
        web.clone(),
        json!([
            {"id": 5020, "event_type": "Comment", "author_id": 3, "public": true, "body": "fixed"},
            {"id": 5021, "event_type": "Change", "status": "solved", "previous_value": "open"},
        ]),
    );
    let e8 = audit(
        json!(1008),
        json!(101),
        60,
        json!(1),
        json!("Mail"),
        json!([
            {"id": 5022, "event_type": "Comment", "author_id": 1, "public": true, "body": "still wrong"},
            {"id": 5023, "event_type": "Change", "status": "open", "previous_value": "solved"},
        ]),
    );
    let e9 = audit(
        json!(1009),
        json!(101),
        70,
        json!(3),
        web.clone(),
        json!([
            {"id": 5024, "event_type": "Change", "status": "solved", "previous_value": "open"},
            {"id": 5025, "event_type": "Notification", "recipients": [1], "subject": "solved"},
        ]),
    );
    let e15 = audit(
        json!("1015"),
        json!("103"),
        100,
        json!("1"),
        json!("Mail"),
        json!([
            {"id": "5030", "event_type": "Create", "status": "new"},
            {"id": "5031", "event_type": "Create", "group_id": "10"},
            {"id": "5032", "event_type": "Create", "assignee_id": "2"},
        ]),
    );
    let e16 = audit(
        json!("1016"),
        json!("103"),
        110,
        json!("2"),
        json!(null),
        json!([
            {"id": "5033", "event_type": "Change", "assignee_id": "3", "previous_value": "2", "via": null},
            {"id": "5034", "event_type": "Comment", "author_id": "2", "public": false, "body": "yours"},
            {"id": "5035", "event_type": "Change", "priority": "high", "previous_value": null},
        ]),
    );
    let e17 = audit(
        json!("1017"),
        json!("103"),
        120,
        json!("3"),
        web.clone(),
        json!([
            {"id": "5036", "event_type": "Comment", "author_id": "3", "public": true, "body": "done"},
            {"id": "5037", "event_type": "Change", "status": "solved", "previous_value": "new"},
            {"id": "5038", "event_type": "SparkleEvent", "sparkles": null},
        ]),
    );

    api.page(
        &format!("GET {}", events_url(start)),
        json!({
            "ticket_events": [e1, e2, e3, e10, e11.clone()],
            "count": 5, "end_time": t(11), "next_page": ev(t(11)), "end_of_stream": false,
        }),
    );
    api.page(
        &format!("GET {}", events_url(t(11))),
        json!({
            "ticket_events": [e11, e12, e4, e13, e5, e14, e6.clone()],
            "count": 7, "end_time": t(40), "next_page": ev(t(40)), "end_of_stream": false,
        }),
    );
    api.page(
        &format!("GET {}", events_url(t(40))),
        json!({
            "ticket_events": [e6, e7, e8, e9, e15, e16, e17],
            "count": 7, "end_time": t(120), "next_page": ev(t(120)), "end_of_stream": true,
        }),
    );
    // Polling past the end: nothing new.
    api.page(&format!("GET {}", events_url(t(120))), json!({
        "ticket_events": [], "count": 0, "end_time": t(120), "next_page": ev(t(120)), "end_of_stream": true,
    }));

    api.page(&format!("GET {}", tickets_url(&format!("start_time={start}"))), json!({
        "tickets": [
            {"id": 101, "via": {"channel": "web", "source": {}}, "requester_id": 1, "assignee_id": 3,
             "group_id": 20, "status": "solved", "tags": ["billing_q", "needs_specialist"], "created_at": iso(0)},
            {"id": 102, "via": {"channel": "chat"}, "requester_id": 6, "assignee_id": 5, "group_id": 30,
             "status": "solved", "tags": null, "created_at": iso(10)},
        ],
        "after_cursor": "c2", "after_url": format!("{b}{}", tickets_url("cursor=c2")), "end_of_stream": false,
    }));
    api.page(
        &format!("GET {}", tickets_url("cursor=c2")),
        json!({
            "tickets": [
                {"id": "103", "via": {"channel": "email"}, "requester_id": "1", "assignee_id": "3",
                 "group_id": "10", "status": "solved", "tags": [], "created_at": iso(100)},
            ],
            "after_cursor": "c3", "after_url": null, "end_of_stream": true,
        }),
    );
    api.page(
        "GET /api/v2/groups.json",
        json!({
            "groups": [{"id": 10, "name": "General Support"}, {"id": 20, "name": "Billing"}],
            "next_page": format!("{b}/api/v2/groups.json?page=2"), "count": 3,
        }),
    );
    api.page(
        "GET /api/v2/groups.json?page=2",
        json!({
            "groups": [{"id": "30", "name": "Technical"}, {"id": 40, "name": null}],
            "next_page": null, "count": 3,
        }),
    );
    let mut s = api.state.lock().unwrap();
    for (id, name, role) in [
        (1, "Cora Customer", "end-user"),
        (2, "Ann", "agent"),
        (3, "Bob", "agent"),
        (4, "Fin", "agent"),
        (5, "Cy", "admin"),
        (6, "Dee Customer", "end-user"),
    ] {
        s.users.insert(
            id.to_string(),
            json!({"id": id, "name": name, "role": role, "email": null}),
        );
    }
}

/// The rows worked out by hand from the fixture (see `serve_zendesk`), as
/// `conversation_id|at|event|agent|team|owner_kind|author|channel|actor|reason`.
fn expected() -> Vec<String> {
    let at = |m: i64| iso(m);
    vec![
        format!("101|{}|created|||human||web||", at(0)),
        format!("101|{}|message|||human|customer|||", at(0)),
        format!(
            "101|{}|assigned||General Support|human|||automation|",
            at(2)
        ),
        format!("101|{}|assigned|Ann|General Support|human|||human|", at(5)),
        format!("101|{}|message|Ann||human|agent|||", at(20)),
        format!(
            "101|{}|assigned||Billing|human|||human|needs_specialist",
            at(30)
        ),
        format!("101|{}|assigned|Bob|Billing|human|||human|", at(40)),
        format!("101|{}|message|Bob||human|agent|||", at(50)),
        format!("101|{}|resolved|||human|||human|", at(50)),
        format!("101|{}|reopened|||human|||human|", at(60)),
        format!("101|{}|message|||human|customer|||", at(60)),
        format!("101|{}|resolved|||human|||human|", at(70)),
        format!("102|{}|created|||human||chat||", at(10)),
        format!("102|{}|message|||human|customer|||", at(10)),
        format!("102|{}|assigned|Fin|AI Agent|ai|||ai|", at(11)),
        format!("102|{}|message|Fin||ai|ai|||", at(11)),
        format!("102|{}|assigned|Cy|Technical|human|||automation|", at(15)),
        format!("102|{}|message|Cy||human|agent|phone||", at(25)),
        format!("102|{}|resolved|||human|||human|", at(35)),
        format!("103|{}|created|||human||email||", at(100)),
        format!(
            "103|{}|assigned|Ann|General Support|human|||human|",
            at(100)
        ),
        format!(
            "103|{}|assigned|Bob|General Support|human|||human|",
            at(110)
        ),
        format!("103|{}|message|Bob||human|agent|||", at(120)),
        format!("103|{}|resolved|||human|||human|", at(120)),
    ]
}

fn zendesk_source(api: &FakeApi, env: &str) -> SourceConfig {
    SourceConfig::Zendesk(ZendeskSource {
        base_url: api.base(),
        ai_agent_ids: vec!["4".into()],
        ai_team: Some("AI Agent".into()),
        tag_reasons: BTreeMap::from([("needs_specialist".into(), "needs_specialist".into())]),
        tag_topics: BTreeMap::from([("billing_q".into(), "billing".into())]),
        http: HttpOptions {
            auth: Some(AuthConfig {
                kind: AuthKind::Basic,
                user: Some("ops@example.com/token".into()),
                secret_env: Some(env.into()),
                secret_file: None,
            }),
            backoff_base_ms: 10,
            backoff_max_secs: 1,
            timeout_secs: 1,
            max_retries: 3,
            ..HttpOptions::default()
        },
    })
}

/// Sets the token and makes the server insist on it (basic auth of user/token:secret).
fn with_token(api: &FakeApi, env: &str, token: &str) {
    std::env::set_var(env, token);
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("ops@example.com/token:{token}"));
    api.state.lock().unwrap().require_auth = Some(format!("Basic {basic}"));
}

fn check(ing: &baton::ingest::Ingested) {
    assert_eq!(lines(&ing.events), expected());
    // Topic from the ticket's tags, on every row of ticket 101 only.
    let topics = ing
        .events
        .column("topic")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .clone();
    let ids = ing
        .events
        .column("conversation_id")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    for (id, topic) in ids.iter().zip(topics.iter()) {
        let want = if id == Some("101") {
            Some("billing")
        } else {
            None
        };
        assert_eq!(topic, want, "topic of {id:?}");
    }
    // The unknown child kind is counted (no row); nothing else is quarantined.
    assert!(ing.quarantine.is_empty());
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("unknown zendesk event kind".to_string(), 1)])
    );
    // Per ticket: 101 skill, 102 escalation + channel, 103 routing (see `serve_zendesk`).
    let (convs, handoffs, by) = handoff_summary(&ing.events);
    assert_eq!((convs, handoffs), (3, 4));
    assert_eq!(
        by,
        vec![
            ("channel".to_string(), 1),
            ("escalation".to_string(), 1),
            ("routing".to_string(), 1),
            ("skill".to_string(), 1)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_followed_edges_deduplicated_and_events_mapped() {
    let api = FakeApi::start().await;
    serve_zendesk(&api, 0);
    with_token(&api, "BATON_TEST_ZD_TOKEN_A", "zd-secret-token-A");
    let src = zendesk_source(&api, "BATON_TEST_ZD_TOKEN_A");
    let got = pull_with_stats(
        "zendesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    check(&got.ingested);
    // Ignored (known, not events): the private note, the Notification, the priority change.
    assert_eq!(
        got.stats
            .skipped
            .get("zendesk internal note (private comment)"),
        Some(&1)
    );
    assert_eq!(
        got.stats.skipped.get("zendesk Notification event"),
        Some(&1)
    );
    assert_eq!(
        got.stats
            .skipped
            .get("zendesk change of a field baton does not use"),
        Some(&1)
    );
    assert_eq!(
        got.stats.skipped.get("unknown zendesk event kind"),
        Some(&1)
    );
    // 3 event pages + 2 ticket pages + 2 group pages + 1 users batch, no retries.
    assert_eq!(got.stats.requests, 8);
    assert_eq!(api.total_hits(), 8);

    // The metrics engine over the pulled events, for the ISO week of 2026-03-02 (worked by
    // hand: 3 resolved conversations, 4 handoffs; first causes skill, escalation, routing).
    let cfg = Config::embedded().unwrap();
    let period = Period::parse("2026-W10", cfg.tz(), Utc::now()).unwrap();
    let report = compute(
        &got.ingested.events,
        &cfg,
        &MetricsRequest {
            period: &period,
            dimensions: &[],
            trend_weeks: 1,
        },
        &got.ingested.quarantine.counts,
    )
    .unwrap();
    let m = &report.overall.measures;
    assert_eq!(m.conversations, 3);
    assert_eq!(m.handoffs, 4);
    assert_eq!(m.handoff_rate, Some(1.0));
    assert!((m.handoffs_per_conversation.unwrap() - 4.0 / 3.0).abs() < 1e-9);
    assert_eq!(m.reopened, 1);
    assert_eq!(report.overall.quarantined_rows, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_5xx_truncated_bodies_and_timeouts_are_survived() {
    let api = FakeApi::start().await;
    serve_zendesk(&api, 0);
    with_token(&api, "BATON_TEST_ZD_TOKEN_B", "zd-secret-token-B");
    api.fault(&format!("GET {}", events_url(t(11))), Fault::RetryAfter(1));
    api.fault(&format!("GET {}", events_url(t(40))), Fault::Truncated);
    api.fault(
        &format!("GET {}", tickets_url("cursor=c2")),
        Fault::Status(503),
    );
    api.fault("GET /api/v2/groups.json", Fault::Slow(1600));
    let mut src = zendesk_source(&api, "BATON_TEST_ZD_TOKEN_B");
    // A 5 s backoff would show if the 429 wait did not come from Retry-After (1 s).
    src.http_mut().backoff_base_ms = 40;
    let t0 = std::time::Instant::now();
    let got = pull_with_stats(
        "zendesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    assert!(t0.elapsed() >= std::time::Duration::from_millis(950));
    check(&got.ingested);
    assert_eq!(got.stats.rate_limit_waits, 1);
    // The truncated page, the 503 and the timeout: one retry each.
    assert_eq!(got.stats.retries, 3);
    assert_eq!(api.hits(&format!("GET {}", events_url(t(40)))), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_names_the_url_but_never_the_token() {
    let api = FakeApi::start().await;
    serve_zendesk(&api, 0);
    with_token(&api, "BATON_TEST_ZD_TOKEN_C", "the-right-token");
    std::env::set_var("BATON_TEST_ZD_TOKEN_C", "zd-wrong-secret-C");
    let src = zendesk_source(&api, "BATON_TEST_ZD_TOKEN_C");
    let err = pull_with_stats(
        "zendesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, SourceError::Status { status: 401, .. }),
        "{err:?}"
    );
    assert!(
        msg.contains(&api.base()) && msg.contains("/api/v2/"),
        "{msg}"
    );
    assert!(msg.contains("Couldn't authenticate you"), "{msg}");
    assert!(!msg.contains("zd-wrong-secret-C"), "{msg}");
    assert!(!format!("{err:?}").contains("zd-wrong-secret-C"));
    // The query (start_time, cursors) is not shown either.
    assert!(!msg.contains("start_time"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_pull_resumes_from_the_last_saved_page_and_counts_nothing_twice() {
    // A closed window in the past: once complete, a rerun needs no request at all.
    let window = PullWindow {
        start: DateTime::from_timestamp(t(-60), 0).unwrap(),
        end: DateTime::from_timestamp(t(24 * 60), 0).unwrap(),
    };
    let start = t(-60);

    // The reference: one uninterrupted pull, no cache.
    let clean = FakeApi::start().await;
    serve_zendesk(&clean, start);
    with_token(&clean, "BATON_TEST_ZD_TOKEN_D", "zd-secret-token-D");
    let src = zendesk_source(&clean, "BATON_TEST_ZD_TOKEN_D");
    let reference = pull_with_stats("zendesk", &src, &window, &PullOptions::default())
        .await
        .unwrap();
    check(&reference.ingested);

    // The same server, failing for good after the second event page.
    let api = FakeApi::start().await;
    serve_zendesk(&api, start);
    with_token(&api, "BATON_TEST_ZD_TOKEN_D", "zd-secret-token-D");
    let page_a = format!("GET {}", events_url(start));
    let page_b = format!("GET {}", events_url(t(11)));
    let page_c = format!("GET {}", events_url(t(40)));
    for _ in 0..2 {
        api.fault(&page_c, Fault::Status(500));
    }
    let mut src = zendesk_source(&api, "BATON_TEST_ZD_TOKEN_D");
    src.http_mut().max_retries = 1;
    let dir = tempfile::tempdir().unwrap();
    let opts = PullOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        progress: false,
    };
    let err = pull_with_stats("zendesk", &src, &window, &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::GaveUp { .. }), "{err:?}");
    assert_eq!(
        (api.hits(&page_a), api.hits(&page_b), api.hits(&page_c)),
        (1, 1, 2)
    );

    // The rerun replays pages A and B from the cache and asks only for C onwards.
    let resumed = pull_with_stats("zendesk", &src, &window, &opts)
        .await
        .unwrap();
    assert_eq!(
        (api.hits(&page_a), api.hits(&page_b), api.hits(&page_c)),
        (1, 1, 3)
    );
    assert!(resumed.stats.cached_pages >= 2);
    check(&resumed.ingested);
    assert_eq!(
        lines(&resumed.ingested.events),
        lines(&reference.ingested.events)
    );

    // A third run: every page is in the cache and the window is closed: no event or ticket
    // request at all, only the names (groups, users), which are refreshed on every pull.
    api.reset_hits();
    let again = pull_with_stats("zendesk", &src, &window, &opts)
        .await
        .unwrap();
    let names = api.hits("GET /api/v2/groups.json")
        + api.hits("GET /api/v2/groups.json?page=2")
        + api
            .state
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|(k, _)| k.contains("/users/show_many.json"))
            .map(|(_, n)| n)
            .sum::<usize>();
    assert_eq!((api.total_hits(), names), (3, 3));
    assert_eq!(again.stats.requests, 3);
    assert_eq!(
        lines(&again.ingested.events),
        lines(&reference.ingested.events)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_window_is_read_again_from_its_last_page_and_names_are_fresh() {
    let api = FakeApi::start().await;
    serve_zendesk(&api, 0);
    with_token(&api, "BATON_TEST_ZD_TOKEN_F", "zd-secret-token-F");
    // The end of the stream without a next_page (as an export may end).
    let page_c = format!("GET {}", events_url(t(40)));
    let mut c = api.state.lock().unwrap().pages[&page_c].clone();
    c["next_page"] = Value::Null;
    api.page(&page_c, c.clone());
    api.page(
        &format!("GET {}", tickets_url("cursor=c3")),
        json!({"tickets": [], "after_cursor": "c3", "after_url": null, "end_of_stream": true}),
    );
    let src = zendesk_source(&api, "BATON_TEST_ZD_TOKEN_F");
    let dir = tempfile::tempdir().unwrap();
    let opts = PullOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        progress: false,
    };
    // No period: the window is open.
    let window = PullWindow::everything();
    let first = pull_with_stats("zendesk", &src, &window, &opts)
        .await
        .unwrap();
    check(&first.ingested);

    // Since then: ticket 104, in a group created since (Escalations), for Gil, hired since.
    let e18 = audit(
        json!(1018),
        json!(104),
        130,
        json!(6),
        json!("Mail"),
        json!([
            {"id": 5040, "event_type": "Create", "status": "new"},
            {"id": 5041, "event_type": "Create", "group_id": 50},
            {"id": 5042, "event_type": "Create", "assignee_id": 7},
        ]),
    );
    c["ticket_events"].as_array_mut().unwrap().push(e18);
    c["end_time"] = json!(t(130));
    api.page(&page_c, c);
    api.page(
        "GET /api/v2/groups.json?page=2",
        json!({
            "groups": [{"id": "30", "name": "Technical"}, {"id": 40, "name": null},
                       {"id": 50, "name": "Escalations"}],
            "next_page": null, "count": 4,
        }),
    );
    api.state.lock().unwrap().users.insert(
        "7".into(),
        json!({"id": 7, "name": "Gil", "role": "agent", "email": null}),
    );
    api.reset_hits();
    let second = pull_with_stats("zendesk", &src, &window, &opts)
        .await
        .unwrap();
    // Pages A and B from the cache; the last page (C) asked for again.
    assert_eq!(api.hits(&format!("GET {}", events_url(0))), 0);
    assert_eq!(api.hits(&page_c), 1);
    let got = lines(&second.ingested.events);
    assert!(
        got.iter()
            .any(|l| l.starts_with(&format!("104|{}|assigned|Gil|Escalations|human|", iso(130)))),
        "{got:#?}"
    );
    // Nothing counted twice: the old rows are as before.
    let old: Vec<String> = got.into_iter().filter(|l| !l.starts_with("104|")).collect();
    assert_eq!(old, lines(&first.ingested.events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_page_on_another_host_is_not_followed() {
    let api = FakeApi::start().await;
    serve_zendesk(&api, 0);
    with_token(&api, "BATON_TEST_ZD_TOKEN_E", "zd-secret-token-E");
    api.page(
        &format!("GET {}", events_url(0)),
        json!({
            "ticket_events": [], "count": 0, "end_time": t(1),
            "next_page": "https://evil.example.com/steal?start_time=1", "end_of_stream": false,
        }),
    );
    let src = zendesk_source(&api, "BATON_TEST_ZD_TOKEN_E");
    let err = pull_with_stats(
        "zendesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SourceError::Shape { .. }), "{err:?}");
    assert!(err.to_string().contains("another host"), "{err}");
}

/// One window rule for every source (docs/sources.md, "The window a report reads"): a
/// canonical export of the same events, cut to the same window, gives exactly the rows the
/// Zendesk pull gives. Before the rule, canonical files were read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canonical_export_of_the_same_events_gives_the_same_window_as_zendesk() {
    let api = FakeApi::start().await;
    serve_zendesk(&api, t(0));
    with_token(&api, "BATON_TEST_ZD_TOKEN_W", "zd-secret-token-W");
    let src = zendesk_source(&api, "BATON_TEST_ZD_TOKEN_W");
    // From the first event to just after ticket 101 was first solved (t50): 102 is whole,
    // 101 lacks its reopening, 103 has not begun.
    let window = PullWindow {
        start: DateTime::from_timestamp(t(0), 0).unwrap(),
        end: DateTime::from_timestamp(t(55), 0).unwrap(),
    };
    let zd = pull_with_stats("zendesk", &src, &window, &PullOptions::default())
        .await
        .unwrap()
        .ingested;
    // The hand-worked rows of the fixture, cut by hand.
    let want: Vec<String> = expected()
        .into_iter()
        .filter(|l| {
            let at = l.split('|').nth(1).unwrap();
            at < iso(55).as_str()
        })
        .collect();
    assert_eq!(want.len(), 16);
    assert_eq!(lines(&zd.events), want);

    // The whole stream (the fake's first page is keyed by its start time: 0 for no window),
    // written as a canonical CSV and served as a canonical source.
    serve_zendesk(&api, 0);
    let everything = pull_with_stats(
        "zendesk",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap()
    .ingested;
    assert_eq!(lines(&everything.events), expected());
    let mut csv = Vec::new();
    baton::ingest::write_canonical(
        &everything.events,
        baton::config::SourceFormat::Csv,
        &mut csv,
    )
    .unwrap();
    let addr = source_support::serve(axum::Router::new().route(
        "/events.csv",
        axum::routing::get(move || {
            let csv = csv.clone();
            async move { csv }
        }),
    ))
    .await;
    let canonical = baton::source::input_source(&format!("http://{addr}/events.csv")).unwrap();
    let cut = pull_with_stats("export", &canonical, &window, &PullOptions::default())
        .await
        .unwrap()
        .ingested;
    assert_eq!(lines(&cut.events), want);
    // What the cut left out is still counted as read (the malformed-share denominator).
    assert_eq!(cut.outside_window, expected().len() - want.len());
    assert_eq!(cut.total_rows(), expected().len());
}
