//! The handoff rules of METRICS.md sections 2-4 on hand-built conversations. Each expected
//! number is worked out by hand in the comment above its assertion.

use baton::domain::Cause;
mod common;

use baton::ingest::{normalise, rows_to_frame, Actor, Author, EventKind, EventRow};
use baton::metrics::{facts, HandoffRules};
use common::*;
use polars::prelude::*;
use std::collections::BTreeMap;

fn rules() -> HandoffRules {
    let mut r = HandoffRules {
        intake_teams: vec!["Triage".into()],
        ..Default::default()
    };
    r.team_tiers = BTreeMap::from([
        ("AI Agent".into(), 0),
        ("General Support".into(), 1),
        ("Technical".into(), 2),
        ("Account Security".into(), 3),
    ]);
    r.reasons = BTreeMap::from([
        ("wrong_queue".into(), Cause::Routing),
        ("callback".into(), Cause::Channel),
    ]);
    r
}

/// Per conversation: (handoffs, causes in order, waits in minutes, automation moves).
struct Out {
    conv: DataFrame,
    handoffs: DataFrame,
}

fn run_with(rows: Vec<B>, rules: &HandoffRules) -> Out {
    let rows: Vec<EventRow> = rows.into_iter().map(|b| b.0).collect();
    let ing = normalise(rows_to_frame(&rows).unwrap(), &Default::default(), None).unwrap();
    assert!(ing.quarantine.is_empty(), "{:?}", ing.quarantine.counts);
    let f = facts::build(ing.events.lazy(), rules).unwrap();
    let conv = f
        .conversations
        .sort(["conversation_id"], Default::default())
        .collect()
        .unwrap();
    let handoffs = f
        .handoffs
        .sort(["conversation_id", "t"], Default::default())
        .collect()
        .unwrap();
    Out { conv, handoffs }
}

fn run(rows: Vec<B>) -> Out {
    run_with(rows, &rules())
}

impl Out {
    fn row(&self, c: &str) -> usize {
        let ids = self
            .conv
            .column("conversation_id")
            .unwrap()
            .str()
            .unwrap()
            .clone();
        let pos = ids.iter().position(|x| x == Some(c));
        pos.unwrap_or_else(|| panic!("no conversation {c}"))
    }
    fn int(&self, c: &str, col: &str) -> i64 {
        self.conv
            .column(col)
            .unwrap()
            .get(self.row(c))
            .unwrap()
            .extract::<i64>()
            .unwrap_or(-1)
    }
    fn text(&self, c: &str, col: &str) -> Option<String> {
        match self.conv.column(col).unwrap().get(self.row(c)).unwrap() {
            AnyValue::Null => None,
            v => Some(v.str_value().to_string()),
        }
    }
    fn flag(&self, c: &str, col: &str) -> bool {
        matches!(
            self.conv.column(col).unwrap().get(self.row(c)).unwrap(),
            AnyValue::Boolean(true)
        )
    }
    fn causes(&self, c: &str) -> Vec<String> {
        let h = self
            .handoffs
            .clone()
            .lazy()
            .filter(col("conversation_id").eq(lit(c)))
            .collect()
            .unwrap();
        h.column("cause")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|x| x.unwrap().to_string())
            .collect()
    }
    fn waits_min(&self, c: &str) -> Vec<i64> {
        let h = self
            .handoffs
            .clone()
            .lazy()
            .filter(col("conversation_id").eq(lit(c)))
            .collect()
            .unwrap();
        h.column("wait_us")
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .map(|x| x.unwrap() / 60_000_000)
            .collect()
    }
}

#[test]
fn intake_then_owner_then_escalation() {
    let c = "c1";
    let o = run(vec![
        created(c, 0),
        assign(c, 1).team("Triage"), // intake: not an owner
        assign(c, 5).team("General Support").agent("ann"), // first owner: not a handoff
        reply(c, 10),
        assign(c, 20).team("Technical").agent("bob"), // tier 1 -> 2: escalation (ann worked it)
        msg(c, 30, Author::Customer),
        reply(c, 50), // the wait runs 20 -> 50 (the customer message does not stop it)
        resolved(c, 60),
    ]);
    assert_eq!(o.int(c, "handoffs"), 1);
    assert_eq!(o.causes(c), ["escalation"]);
    assert_eq!(o.waits_min(c), [30]);
    assert_eq!(o.text(c, "team").as_deref(), Some("General Support"));
    assert_eq!(o.text(c, "agent").as_deref(), Some("ann"));
    assert_eq!(o.int(c, "handoffs_escalation"), 1);
    // created 0 -> resolved 60 minutes.
    assert_eq!(o.int(c, "duration_us"), 60 * 60_000_000);
    // first agent message at minute 10.
    assert_eq!(
        o.int(c, "first_response_at") - o.int(c, "created_at"),
        10 * 60_000_000
    );
    assert!(!o.flag(c, "fcr"));
}

#[test]
fn pickups_queue_returns_and_same_owner_are_not_handoffs() {
    let c = "c2";
    let o = run(vec![
        created(c, 0),
        assign(c, 1).team("General Support"), // first owner: the team queue
        assign(c, 2).team("General Support").agent("ann"), // pickup: not a handoff
        reply(c, 3),
        assign(c, 4).team("General Support"), // back to the queue: ann stays the comparison
        assign(c, 5).team("General Support").agent("ann"), // same owner again: not a handoff
        assign(c, 6).team("General Support").agent("ann"), // re-assignment to the same owner
        ev(c, 7, EventKind::Assigned),        // un-assignment: ignored
        assign(c, 8).team("General Support").agent("cat"), // ann -> cat: a handoff; ann replied at 3 -> skill
        reply(c, 9),
        resolved(c, 10),
    ]);
    assert_eq!(o.int(c, "handoffs"), 1);
    assert_eq!(o.causes(c), ["skill"]);
    assert_eq!(o.waits_min(c), [1]);
    // The first owner's agent is the one who picked it up in the first stint.
    assert_eq!(o.text(c, "agent").as_deref(), Some("ann"));
}

#[test]
fn an_owner_who_never_replied_was_a_misroute() {
    let o = run(vec![
        created("r1", 0),
        assign("r1", 1).team("Billing").agent("bo"), // first owner, never replies
        msg("r1", 2, Author::Customer),
        assign("r1", 3).team("General Support").agent("ann"), // routing: no agent message while bo held it
        reply("r1", 4),
        resolved("r1", 5),
        // Same path, but the owner replied first: skill (same tier).
        created("r2", 0),
        assign("r2", 1).team("Billing").agent("bo"),
        reply("r2", 2),
        assign("r2", 3).team("General Support").agent("ann"),
        resolved("r2", 5),
        // A reason mapped in config wins over every other rule, even a tier escalation.
        created("r3", 0),
        assign("r3", 1).team("General Support").agent("ann"),
        reply("r3", 2),
        assign("r3", 3)
            .team("Technical")
            .agent("bob")
            .reason("wrong_queue"),
        resolved("r3", 5),
    ]);
    assert_eq!(o.causes("r1"), ["routing"]);
    assert_eq!(o.causes("r2"), ["skill"]);
    // r2's wait runs from 3 to the resolution at 5: nobody replied after the handoff.
    assert_eq!(o.waits_min("r2"), [2]);
    assert_eq!(o.causes("r3"), ["routing"]);
}

#[test]
fn ai_handover_then_tier_escalation() {
    let c = "ai1";
    let o = run(vec![
        created(c, 0).topic("login"),
        assign(c, 0).team("AI Agent").agent("Fin").ai(),
        msg(c, 1, Author::Customer).sentiment(-0.4),
        msg(c, 2, Author::Ai),
        msg(c, 3, Author::Customer).sentiment(-0.8),
        assign(c, 4).team("General Support").agent("ann"), // AI -> human: escalation + ai handover
        reply(c, 6),
        assign(c, 8).team("Technical").agent("bob"), // tier 1 -> 2: escalation
        reply(c, 9),
        msg(c, 10, Author::Customer).sentiment(0.5),
        resolved(c, 12),
    ]);
    assert_eq!(o.int(c, "handoffs"), 2);
    assert_eq!(o.causes(c), ["escalation", "escalation"]);
    assert_eq!(o.waits_min(c), [2, 1]);
    assert!(o.flag(c, "ai_involved"));
    assert!(o.flag(c, "ai_handed_over"));
    assert!(!o.flag(c, "ai_resolved"));
    // AI owner from minute 0, handover at 4.
    assert_eq!(o.int(c, "ai_to_handover_us"), 4 * 60_000_000);
    // Handover at 4, ann's first reply at 6.
    assert_eq!(o.int(c, "human_after_handover_us"), 2 * 60_000_000);
    // Customer sentiment before the handover: -0.4 and -0.8.
    let sum = o
        .conv
        .column("sentiment_before_sum")
        .unwrap()
        .get(o.row(c))
        .unwrap()
        .extract::<f64>()
        .unwrap();
    assert!((sum - (-1.2)).abs() < 1e-12);
    assert_eq!(o.int(c, "sentiment_before_n"), 2);
    // A further handoff after the AI handover: not a clean post-handover resolution.
    assert!(!o.flag(c, "post_handover_clean"));
    assert_eq!(o.text(c, "team").as_deref(), Some("AI Agent"));
}

#[test]
fn channel_move_inside_one_team() {
    let c = "ch1";
    let o = run(vec![
        created(c, 0),
        assign(c, 1).team("General Support").agent("ann").ch("chat"),
        reply(c, 2),
        assign(c, 3)
            .team("General Support")
            .agent("ann")
            .ch("phone"), // only the channel changes
        reply(c, 7),
        resolved(c, 9),
    ]);
    assert_eq!(o.causes(c), ["channel"]);
    assert_eq!(o.waits_min(c), [4]);
    // The segment channel is the one at creation.
    assert_eq!(o.text(c, "channel").as_deref(), Some("chat"));
}

#[test]
fn changes_after_resolution_are_ignored_and_reopens_move_the_period() {
    let o = run(vec![
        created("x1", 0),
        assign("x1", 1).team("General Support").agent("ann"),
        reply("x1", 2),
        resolved("x1", 3),
        assign("x1", 4).team("Technical").agent("bob"), // after the final resolution: ignored
        // Resolved, reopened, resolved a week later.
        created("x2", 0),
        assign("x2", 1).team("General Support").agent("ann"),
        reply("x2", 2),
        resolved("x2", 3),
        ev("x2", 60 * 24 * 7, EventKind::Reopened),
        reply("x2", 60 * 24 * 7 + 5),
        resolved("x2", 60 * 24 * 7 + 10),
        // Reopened and still open: the backlog.
        created("x3", 0),
        assign("x3", 1).team("General Support").agent("ann"),
        resolved("x3", 3),
        ev("x3", 4, EventKind::Reopened),
    ]);
    assert_eq!(o.int("x1", "handoffs"), 0);
    assert!(o.flag("x1", "fcr"));
    assert!(o.flag("x2", "reopened"));
    assert!(!o.flag("x2", "fcr"));
    assert_eq!(
        o.int("x2", "resolved_at"),
        at(60 * 24 * 7 + 10).timestamp_micros()
    );
    assert_eq!(
        o.int("x3", "resolved_at"),
        -1,
        "open conversations have no resolution time"
    );
}

#[test]
fn events_out_of_order_in_the_file_give_the_same_facts() {
    let make = || {
        vec![
            created("o1", 0),
            assign("o1", 1).team("Billing").agent("bo"),
            assign("o1", 3).team("General Support").agent("ann"),
            reply("o1", 4),
            assign("o1", 6).team("Technical").agent("bob"),
            reply("o1", 7),
            resolved("o1", 9),
        ]
    };
    let sorted = run(make());
    let mut shuffled = make();
    shuffled.reverse();
    shuffled.swap(1, 4);
    let o = run(shuffled);
    assert_eq!(o.causes("o1"), sorted.causes("o1"));
    assert_eq!(o.causes("o1"), ["routing", "escalation"]);
    assert_eq!(o.waits_min("o1"), [1, 1]);
}

#[test]
fn conversation_without_messages() {
    let o = run(vec![
        created("n1", 0),
        assign("n1", 1).team("General Support").agent("ann"),
        resolved("n1", 30),
    ]);
    assert_eq!(o.int("n1", "handoffs"), 0);
    assert!(o.flag("n1", "fcr"));
    assert_eq!(o.int("n1", "first_response_at"), -1);
}

#[test]
fn intake_after_first_owner_is_skipped_for_comparison() {
    let c = "i1";
    let o = run(vec![
        created(c, 0),
        assign(c, 1).team("General Support").agent("ann"),
        reply(c, 2),
        assign(c, 3).team("Triage"),                       // ignored
        assign(c, 5).team("General Support").agent("ann"), // same as the last real owner: no handoff
        assign(c, 6).team("Triage"),
        assign(c, 8).team("Technical").agent("bob"), // compared with ann@GS: escalation
        resolved(c, 9),
    ]);
    assert_eq!(o.causes(c), ["escalation"]);
    assert_eq!(o.waits_min(c), [1]);
}

#[test]
fn automation_moves_follow_config() {
    let rows = || {
        vec![
            created("a1", 0),
            assign("a1", 1).team("General Support").agent("ann"),
            reply("a1", 2),
            assign("a1", 3).team("Billing").by(Actor::Automation), // a rule moves it
            reply("a1", 4),
            resolved("a1", 5),
        ]
    };
    let counted = run(rows());
    assert_eq!(counted.int("a1", "handoffs"), 1);
    assert_eq!(counted.int("a1", "automation_moves"), 0);
    let mut r = rules();
    r.count_automation = false;
    let apart = run_with(rows(), &r);
    assert_eq!(apart.int("a1", "handoffs"), 0);
    assert_eq!(apart.int("a1", "automation_moves"), 1);
    assert!(apart.flag("a1", "fcr"));
}
