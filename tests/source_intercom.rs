//! Intercom pulls against a fake Intercom on loopback serving the documented shapes
//! (SOURCES.md): listed or searched conversation pages, conversations with parts, admins, teams;
//! the version header; 429 with only `X-RateLimit-Reset`.

mod source_support;

use baton::config::{AuthConfig, AuthKind, HttpOptions, IntercomSource, SourceConfig};
use baton::source::{pull_with_stats, PullOptions, PullWindow};
use chrono::DateTime;
use serde_json::{json, Value};
use source_support::{handoff_summary, lines, FakeApi, Fault};
use std::collections::BTreeMap;

/// 2026-03-02T09:00:00Z.
const T0: i64 = 1_772_442_000;
fn t(min: i64) -> i64 {
    T0 + 60 * min
}
fn iso(min: i64) -> String {
    DateTime::from_timestamp(t(min), 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn part(id: &str, kind: Value, min: i64, author: Value, assigned_to: Value) -> Value {
    json!({
        "type": "conversation_part", "id": id, "part_type": kind, "body": null,
        "created_at": t(min), "updated_at": t(min), "notified_at": t(min),
        "assigned_to": assigned_to, "author": author, "attachments": [], "redacted": false,
    })
}
fn fin() -> Value {
    json!({"type": "bot", "id": "b1", "name": "Fin", "email": null, "from_ai_agent": true, "is_ai_answer": true})
}
fn admin(id: Value, name: &str) -> Value {
    json!({"type": "admin", "id": id, "name": name, "email": format!("{name}@example.com"), "from_ai_agent": false})
}
fn user(id: Value) -> Value {
    json!({"type": "user", "id": id, "name": null, "email": null})
}

/// The fixture, worked by hand:
/// c1 (messenger chat; API 2.14 `routed_to_team`): Fin answers (AI owner), Fin assigns it to
///    team Billing (AI -> human, tier 0 -> 1: escalation), the assignment rules give it to Bob
///    in Billing (a pickup, actor automation), Bob replies, a snooze (ignored), an unknown part
///    type (counted), Bob closes.                                          => 1 handoff
/// c2 (email; API 2.15 `escalated`, still open): Fin answers, the customer writes, Cy replies,
///    a note (ignored). No assignment part: the handover is only on the conversation object
///    (admin 203 / team 303), so baton puts it just before Cy's reply.     => 1 handoff
/// c3 (numeric id, nulls; `assumed_resolution`, closed without a close part): Fin answers,
///    the customer writes, a part with a null part_type (counted); resolved at
///    statistics.last_close_at by the AI.                                  => 0 handoffs
fn conversations() -> Vec<Value> {
    let c1 = json!({
        "type": "conversation", "id": "c1", "created_at": t(0), "updated_at": t(8),
        "source": {"type": "conversation", "id": "s1", "delivered_as": "customer_initiated",
                   "author": user(json!("u1")), "body": "<p>refund?</p>"},
        "state": "closed", "open": false, "admin_assignee_id": 202, "team_assignee_id": "302",
        "ai_agent_participated": true, "ai_agent": {"resolution_state": "routed_to_team", "rating": null},
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": "9", "name": "billing_q"}]},
        "statistics": {"count_assignments": 2, "count_reopens": 0, "last_close_at": t(8)},
        "conversation_parts": {"type": "conversation_part.list", "total_count": 7, "conversation_parts": [
            part("p1", json!("comment"), 1, fin(), json!(null)),
            part("p2", json!("assignment"), 3, fin(), json!({"type": "team", "id": 302})),
            part("p3", json!("default_assignment"), 4,
                 json!({"type": "bot", "id": "b2", "name": "Operator", "from_ai_agent": false}),
                 json!({"type": "admin", "id": "202"})),
            part("p4", json!("comment"), 5, admin(json!(202), "Bob"), json!(null)),
            part("p5", json!("snoozed"), 6, admin(json!(202), "Bob"), json!(null)),
            part("p6", json!("sparkle_emoji_added"), 7, admin(json!(202), "Bob"), json!(null)),
            part("p7", json!("close"), 8, admin(json!(202), "Bob"), json!(null)),
        ]},
    });
    let c2 = json!({
        "type": "conversation", "id": "c2", "created_at": t(10), "updated_at": t(17),
        "source": {"type": "email", "author": {"type": "lead", "id": 9}},
        "state": "open", "open": true, "admin_assignee_id": "203", "team_assignee_id": 303,
        "ai_agent_participated": true, "ai_agent": {"resolution_state": "escalated"},
        "tags": null, "statistics": null,
        "conversation_parts": {"conversation_parts": [
            part("q1", json!("comment"), 11, fin(), json!(null)),
            part("q2", json!("comment"), 14, user(json!(9)), json!(null)),
            part("q3", json!("comment"), 16, admin(json!("203"), "Cy"), json!(null)),
            part("q4", json!("note"), 17, admin(json!("203"), "Cy"), json!(null)),
        ]},
    });
    let c3 = json!({
        "type": "conversation", "id": 3, "created_at": t(20), "updated_at": t(25),
        "source": {"type": "conversation", "author": user(json!(7))},
        "state": "closed", "admin_assignee_id": null, "team_assignee_id": null,
        "ai_agent_participated": true, "ai_agent": {"resolution_state": "assumed_resolution"},
        "tags": {"tags": [{"name": "password_reset"}]},
        "statistics": {"last_close_at": t(25)},
        "conversation_parts": {"conversation_parts": [
            part("r1", json!("comment"), 21, fin(), json!(null)),
            part("r2", json!("comment"), 22, user(json!(7)), json!(null)),
            part("r3", json!(null), 23, json!(null), json!(null)),
        ]},
    });
    vec![c1, c2, c3]
}

fn expected() -> Vec<String> {
    let at = iso;
    vec![
        format!("3|{}|created|||human||chat||", at(20)),
        format!("3|{}|message|||human|customer|||", at(20)),
        format!("3|{}|assigned|Fin|AI Agent|ai|||ai|", at(21)),
        format!("3|{}|message|Fin||ai|ai|||", at(21)),
        format!("3|{}|message|||human|customer|||", at(22)),
        format!("3|{}|resolved|||human|||ai|", at(25)),
        format!("c1|{}|created|||human||chat||", at(0)),
        format!("c1|{}|message|||human|customer|||", at(0)),
        format!("c1|{}|assigned|Fin|AI Agent|ai|||ai|", at(1)),
        format!("c1|{}|message|Fin||ai|ai|||", at(1)),
        format!("c1|{}|assigned||Billing|human|||ai|", at(3)),
        format!("c1|{}|assigned|Bob|Billing|human|||automation|", at(4)),
        format!("c1|{}|message|Bob||human|agent|||", at(5)),
        format!("c1|{}|resolved|||human|||human|", at(8)),
        format!("c2|{}|created|||human||email||", at(10)),
        format!("c2|{}|message|||human|customer|||", at(10)),
        format!("c2|{}|assigned|Fin|AI Agent|ai|||ai|", at(11)),
        format!("c2|{}|message|Fin||ai|ai|||", at(11)),
        format!("c2|{}|message|||human|customer|||", at(14)),
        format!("c2|{}|assigned|Cy|Technical|human|||ai|", at(16)),
        format!("c2|{}|message|Cy||human|agent|||", at(16)),
    ]
}

fn summary(c: &Value) -> Value {
    json!({"type": "conversation", "id": c["id"], "created_at": c["created_at"], "updated_at": c["updated_at"]})
}

/// Serves the fixture: listed in two pages (c2 listed on both: it moved while paging), or
/// searched in two pages; each conversation; admins; teams. Requires the version header.
fn serve_intercom(api: &FakeApi) {
    let convs = conversations();
    let (c1, c2, c3) = (summary(&convs[0]), summary(&convs[1]), summary(&convs[2]));
    let page1 = json!({
        "type": "conversation.list", "conversations": [c1, c2.clone()], "total_count": 3,
        "pages": {"type": "pages", "page": 1, "per_page": 2, "total_pages": 2,
                  "next": {"page": 2, "starting_after": "WzE3NzI0NDMwMDAsMl0="}},
    });
    let page2 = json!({
        "type": "conversation.list", "conversations": [c2, c3], "total_count": 3,
        "pages": {"type": "pages", "page": 2, "per_page": 2, "total_pages": 2, "next": null},
    });
    api.page("GET /conversations?per_page=150", page1.clone());
    api.page(
        "GET /conversations?per_page=150&starting_after=WzE3NzI0NDMwMDAsMl0%3D",
        page2.clone(),
    );
    api.page("POST /conversations/search#", page1);
    api.page("POST /conversations/search#WzE3NzI0NDMwMDAsMl0=", page2);
    for c in &convs {
        let id = match &c["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        api.page(&format!("GET /conversations/{id}"), c.clone());
    }
    api.page(
        "GET /admins",
        json!({"type": "admin.list", "admins": [
            {"type": "admin", "id": "201", "name": "Ann"},
            {"type": "admin", "id": 202, "name": "Bob"},
            {"type": "admin", "id": "203", "name": "Cy"},
        ]}),
    );
    api.page(
        "GET /teams",
        json!({"type": "team.list", "teams": [
            {"type": "team", "id": "301", "name": "General Support", "admin_ids": [201]},
            {"type": "team", "id": 302, "name": "Billing", "admin_ids": [202]},
            {"type": "team", "id": "303", "name": "Technical", "admin_ids": [203]},
        ]}),
    );
    let mut s = api.state.lock().unwrap();
    s.require_auth = Some("Bearer ic-secret-token".into());
    s.require_header = Some(("intercom-version".into(), "2.15".into()));
    s.delay_ms = 30;
}

fn intercom_source(api: &FakeApi) -> SourceConfig {
    std::env::set_var("BATON_TEST_IC_TOKEN", "ic-secret-token");
    SourceConfig::Intercom(IntercomSource {
        base_url: api.base(),
        api_version: Some("2.15".into()),
        ai_agent_ids: Vec::new(),
        ai_team: Some("AI Agent".into()),
        tag_topics: BTreeMap::from([
            ("billing_q".into(), "billing".into()),
            ("password_reset".into(), "password_reset".into()),
        ]),
        http: HttpOptions {
            auth: Some(AuthConfig {
                kind: AuthKind::Bearer,
                user: None,
                secret_env: Some("BATON_TEST_IC_TOKEN".into()),
                secret_file: None,
            }),
            concurrency: 2,
            backoff_base_ms: 10,
            backoff_max_secs: 1,
            timeout_secs: 2,
            ..HttpOptions::default()
        },
    })
}

fn check(ing: &baton::ingest::Ingested) {
    assert_eq!(lines(&ing.events), expected());
    assert!(ing.quarantine.is_empty());
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([
            ("intercom part without part_type".to_string(), 1),
            ("unknown intercom part type".to_string(), 1),
        ])
    );
    // c1 and c2 each hand over from the AI (tier 0) to people: escalation; c3 none.
    let (convs, handoffs, by) = handoff_summary(&ing.events);
    assert_eq!((convs, handoffs), (3, 2));
    assert_eq!(by, vec![("escalation".to_string(), 2)]);
    let topic = ing
        .events
        .column("topic")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    let topic: Vec<Option<&str>> = topic.str().unwrap().iter().collect();
    assert_eq!(topic[0], Some("password_reset"));
    assert_eq!(topic[6], Some("billing"));
    assert_eq!(topic[14], None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_are_listed_fetched_with_bounded_concurrency_and_mapped() {
    let api = FakeApi::start().await;
    serve_intercom(&api);
    // Intercom's 429: no Retry-After, only the reset time (epoch seconds).
    api.fault("GET /conversations/c2", Fault::ResetIn(2));
    let src = intercom_source(&api);
    let t0 = std::time::Instant::now();
    let got = pull_with_stats(
        "intercom",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    // The reset is 2 s ahead in whole epoch seconds, so the wait is over 1 s; a backoff (10 ms
    // base) would have been done in a few milliseconds.
    assert_eq!(got.stats.rate_limit_waits, 1);
    let took = t0.elapsed();
    assert!(took > std::time::Duration::from_millis(1000), "{took:?}");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    check(&got.ingested);
    assert_eq!(got.stats.skipped.get("intercom internal note"), Some(&1));
    assert_eq!(got.stats.skipped.get("intercom snoozed part"), Some(&1));
    // 2 list pages + 3 conversations (+1 for the 429) + admins + teams.
    assert_eq!(api.total_hits(), 8);
    assert_eq!(api.hits("GET /conversations/c2"), 2);
    let max = api.state.lock().unwrap().max_in_flight;
    assert!((1..=2).contains(&max), "{max} requests in flight, limit 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_searches_by_updated_at_and_a_rerun_fetches_nothing_twice() {
    let api = FakeApi::start().await;
    serve_intercom(&api);
    let src = intercom_source(&api);
    // Closed, in the past: the listing is complete after one pull.
    let window = PullWindow {
        start: DateTime::from_timestamp(t(-60), 0).unwrap(),
        end: DateTime::from_timestamp(t(24 * 60), 0).unwrap(),
    };
    let dir = tempfile::tempdir().unwrap();
    let opts = PullOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        progress: false,
    };
    let first = pull_with_stats("intercom", &src, &window, &opts)
        .await
        .unwrap();
    check(&first.ingested);
    assert_eq!(api.hits("POST /conversations/search#"), 1);
    assert_eq!(api.hits("GET /conversations?per_page=150"), 0);
    api.reset_hits();
    let second = pull_with_stats("intercom", &src, &window, &opts)
        .await
        .unwrap();
    // Only the names are asked for again (they are refreshed on every pull).
    assert_eq!(api.hits("GET /admins"), 1);
    assert_eq!(api.hits("GET /teams"), 1);
    assert_eq!(api.total_hits(), 2, "the rerun asked the server again");
    assert_eq!(
        lines(&second.ingested.events),
        lines(&first.ingested.events)
    );
    assert!(second.stats.cached_pages >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_listing_is_taken_up_again_and_new_admins_are_named() {
    let api = FakeApi::start().await;
    serve_intercom(&api);
    let src = intercom_source(&api);
    // No period: the window is open, so the listing can never be complete.
    let window = PullWindow::everything();
    let dir = tempfile::tempdir().unwrap();
    let opts = PullOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        progress: false,
    };
    let first = pull_with_stats("intercom", &src, &window, &opts)
        .await
        .unwrap();
    check(&first.ingested);

    // Since then: c4 was opened and given to Dot, hired after the first pull; c2 was closed.
    let c4 = json!({
        "type": "conversation", "id": "c4", "created_at": t(30), "updated_at": t(32),
        "source": {"type": "email", "author": user(json!("u4"))},
        "state": "open", "admin_assignee_id": "204", "team_assignee_id": null,
        "conversation_parts": {"conversation_parts": [
            part("s1", json!("assignment"), 31, admin(json!("201"), "Ann"), json!({"type": "admin", "id": "204"})),
            part("s2", json!("comment"), 32, admin(json!("204"), "Dot"), json!(null)),
        ]},
    });
    let mut c2 = conversations()[1].clone();
    c2["updated_at"] = json!(t(40));
    c2["state"] = json!("closed");
    c2["conversation_parts"]["conversation_parts"]
        .as_array_mut()
        .unwrap()
        .push(part(
            "q5",
            json!("close"),
            40,
            admin(json!("203"), "Cy"),
            json!(null),
        ));
    api.page("GET /conversations/c4", c4.clone());
    api.page("GET /conversations/c2", c2.clone());
    api.page(
        "POST /conversations/search#",
        json!({"type": "conversation.list", "conversations": [summary(&c4), summary(&c2)],
               "total_count": 2, "pages": {"type": "pages", "next": null}}),
    );
    api.page(
        "GET /admins",
        json!({"type": "admin.list", "admins": [
            {"type": "admin", "id": "201", "name": "Ann"},
            {"type": "admin", "id": 202, "name": "Bob"},
            {"type": "admin", "id": "203", "name": "Cy"},
            {"type": "admin", "id": "204", "name": "Dot"},
        ]}),
    );
    api.reset_hits();
    api.state.lock().unwrap().searches.clear();
    let second = pull_with_stats("intercom", &src, &window, &opts)
        .await
        .unwrap();
    // What changed is searched for from the latest update saved (c3, t(25)), and only the
    // new and the updated conversations are fetched.
    assert_eq!(api.hits("POST /conversations/search#"), 1);
    let searches = api.state.lock().unwrap().searches.clone();
    assert_eq!(searches[0]["query"]["value"], json!(t(25) - 1));
    assert_eq!(api.hits("GET /conversations/c4"), 1);
    assert_eq!(api.hits("GET /conversations/c2"), 1);
    assert_eq!(api.hits("GET /conversations/c1"), 0);
    assert_eq!(api.hits("GET /conversations?per_page=150"), 0);
    let got = lines(&second.ingested.events);
    assert!(
        got.contains(&format!("c4|{}|assigned|Dot||human|||human|", iso(31))),
        "{got:#?}"
    );
    assert!(
        got.contains(&format!("c2|{}|resolved|||human|||human|", iso(40))),
        "{got:#?}"
    );
    assert!(!got.iter().any(|l| l.contains("admin 204")), "{got:#?}");

    // A third run asks again from the newest update now saved (c2, t(40)); nothing new.
    api.reset_hits();
    api.state.lock().unwrap().searches.clear();
    let third = pull_with_stats("intercom", &src, &window, &opts)
        .await
        .unwrap();
    let searches = api.state.lock().unwrap().searches.clone();
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0]["query"]["value"], json!(t(40) - 1));
    assert_eq!(api.hits("GET /conversations/c2"), 0);
    assert_eq!(lines(&third.ingested.events), got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_version_header_the_server_refuses_and_the_error_says_why() {
    let api = FakeApi::start().await;
    serve_intercom(&api);
    let mut src = intercom_source(&api);
    if let SourceConfig::Intercom(ic) = &mut src {
        ic.api_version = Some("2.14".into());
    }
    let err = pull_with_stats(
        "intercom",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("400") && msg.contains("intercom-version"),
        "{msg}"
    );
    assert!(!msg.contains("ic-secret-token"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_agent_assigned_in_an_intake_team_is_an_owner() {
    let api = FakeApi::start().await;
    // c5: a workflow puts it in Triage (an intake queue in the embedded config), then gives
    // it to Fin (admin 9900001, an AI agent id) while it sits there; Fin answers, then hands
    // it to Billing; Bob picks it up, replies, closes. Fin owned it: one AI handover.
    let fin_admin = json!({"type": "bot", "id": "9900001", "name": "Fin", "from_ai_agent": true});
    let workflow = json!({"type": "bot", "id": "b2", "name": "Operator", "from_ai_agent": false});
    let c5 = json!({
        "type": "conversation", "id": "c5", "created_at": t(0), "updated_at": t(9),
        "source": {"type": "conversation", "author": user(json!("u5"))},
        "state": "closed", "admin_assignee_id": 202, "team_assignee_id": 302,
        "ai_agent_participated": true, "ai_agent": {"resolution_state": "routed_to_team"},
        "conversation_parts": {"conversation_parts": [
            part("w1", json!("default_assignment"), 1, workflow.clone(), json!({"type": "team", "id": 305})),
            part("w2", json!("default_assignment"), 2, workflow, json!({"type": "admin", "id": 9900001})),
            part("w3", json!("comment"), 3, fin_admin.clone(), json!(null)),
            part("w4", json!("assignment"), 5, fin_admin, json!({"type": "team", "id": 302})),
            part("w5", json!("assignment"), 6, admin(json!(202), "Bob"), json!({"type": "admin", "id": 202})),
            part("w6", json!("comment"), 7, admin(json!(202), "Bob"), json!(null)),
            part("w7", json!("close"), 9, admin(json!(202), "Bob"), json!(null)),
        ]},
    });
    api.page(
        "GET /conversations?per_page=150",
        json!({"type": "conversation.list", "conversations": [summary(&c5)], "pages": {"next": null}}),
    );
    api.page("GET /conversations/c5", c5);
    api.page(
        "GET /admins",
        json!({"admins": [{"type": "admin", "id": 202, "name": "Bob"}]}),
    );
    api.page(
        "GET /teams",
        json!({"teams": [{"id": 302, "name": "Billing"}, {"id": "305", "name": "Triage"}]}),
    );
    let mut src = intercom_source(&api);
    if let SourceConfig::Intercom(ic) = &mut src {
        ic.ai_agent_ids = vec!["9900001".into()];
    }
    let got = pull_with_stats(
        "intercom",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    let rows = lines(&got.ingested.events);
    assert!(
        rows.contains(&format!(
            "c5|{}|assigned|Fin|AI Agent|ai|||automation|",
            iso(2)
        )),
        "{rows:#?}"
    );
    assert!(
        !rows.iter().any(|l| l.contains("admin 9900001")),
        "{rows:#?}"
    );
    let (convs, handoffs, by) = handoff_summary(&got.ingested.events);
    assert_eq!((convs, handoffs), (1, 1), "{rows:#?}");
    assert_eq!(by, vec![("escalation".to_string(), 1)]);
}
