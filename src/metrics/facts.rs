//! Events -> one row of facts per conversation, and one row per handoff (METRICS.md sections 2-6).
//!
//! Everything is a polars lazy expression over the event table sorted by
//! (`conversation_id`, `at`, source order); per-conversation state (the current owner, the
//! messages since the owner took over) is carried with fills that stop at conversation
//! boundaries (the one hand-written kernel, see `fill`) and shifts masked at the boundaries.
//! "Did X happen earlier (later) in this conversation" is a fill of the row numbers where X
//! holds. No window (`over`), which hashes the key and scatters results back at several times
//! the cost, and no running sums or gathers, which cost more than the fills.

use super::fill::{group_fill, Direction};
use super::rules::HandoffRules;
use crate::domain::Cause;
use crate::ingest::{is_one_of, label_dtype};
use polars::prelude::*;

/// Column names of the facts frame, one row per conversation.
pub mod fact {
    pub const CONVERSATION: &str = "conversation_id";
    /// Microseconds since the epoch (UTC).
    pub const CREATED_AT: &str = "created_at";
    /// Microseconds since the epoch, null while the conversation is open (the backlog).
    pub const RESOLVED_AT: &str = "resolved_at";
    pub const HANDOFFS: &str = "handoffs";
    /// Cause of the first handoff, null without handoffs.
    pub const FIRST_CAUSE: &str = "first_cause";
    pub const REOPENED: &str = "reopened";
    pub const FCR: &str = "fcr";
    pub const WAIT_US: &str = "wait_us";
    pub const DURATION_US: &str = "duration_us";
    pub const AVOIDABLE: &str = "avoidable_handoffs";
    pub const AUTOMATION_MOVES: &str = "automation_moves";
    pub const FIRST_RESPONSE_AT: &str = "first_response_at";
    pub const AI_INVOLVED: &str = "ai_involved";
    pub const AI_HANDED_OVER: &str = "ai_handed_over";
    pub const AI_RESOLVED: &str = "ai_resolved";
    pub const AI_TO_HANDOVER_US: &str = "ai_to_handover_us";
    /// First AI handover -> the first message of a person after it (null without either).
    pub const HUMAN_AFTER_HANDOVER_US: &str = "human_after_handover_us";
    pub const SENTIMENT_BEFORE_SUM: &str = "sentiment_before_sum";
    pub const SENTIMENT_BEFORE_N: &str = "sentiment_before_n";
    pub const POST_HANDOVER_CLEAN: &str = "post_handover_clean";
    pub const LAST_SENTIMENT: &str = "last_customer_sentiment";
    pub const BREACH_RESOLVED: &str = "breach_must_escalate_resolved";
    pub const BREACH_HANDED: &str = "breach_must_not_escalate_handed";
    /// Handoffs of a cause: `handoffs_routing`, ...
    pub fn handoffs_of(c: crate::domain::Cause) -> String {
        format!("handoffs_{}", c.as_str())
    }
}

const CONV: &str = "conversation_id";
/// Segment value used where the export gives none.
pub const NONE_VALUE: &str = "(none)";

/// Dense integer key of a conversation (the group-by key and the boundary marker): cheaper to
/// hash and compare than the id string.
const KEY: &str = "conv_key";

// Shifts and fills within a conversation. The events are sorted by conversation, so each is
// a global operation that stops at conversation boundaries (`conv_start`, `conv_end`). polars'
// `over` runs length-preserving functions group by group: 0.3 s for one shift at 100k
// conversations, against milliseconds for these.

/// The previous row's value within the conversation (null on its first row).
fn g_shift(x: Expr) -> Expr {
    when(col("conv_start"))
        .then(lit(NULL))
        .otherwise(x.shift(lit(1)))
}

/// The next row's value within the conversation (null on its last row).
fn g_shift_back(x: Expr) -> Expr {
    when(col("conv_end"))
        .then(lit(NULL))
        .otherwise(x.shift(lit(-1)))
}

/// Forward or backward fill that does not cross into the next or previous conversation.
fn g_fill(x: Expr, direction: Direction) -> Expr {
    let boundary = match direction {
        Direction::Forward => col("conv_start"),
        Direction::Backward => col("conv_end"),
    };
    group_fill(x, boundary, direction)
}

fn ff(e: Expr) -> Expr {
    g_fill(e, Direction::Forward)
}

/// The row's number where `cond` holds, null elsewhere. Filled forward, it is not null from the
/// first row where `cond` held; filled backward, until the last.
fn row_if(cond: Expr) -> Expr {
    when(cond)
        .then(col("i0"))
        .otherwise(lit(NULL).cast(IDX_DTYPE))
}

/// Whether `cond` held on an earlier row of the conversation.
fn held_before(cond: Expr) -> Expr {
    g_shift(ff(row_if(cond))).is_not_null()
}

/// Whether `cond` holds on a later row of the conversation.
fn holds_after(cond: Expr) -> Expr {
    g_shift_back(g_fill(row_if(cond), Direction::Backward)).is_not_null()
}

/// Row-level frame: the events with owner state, handoff flags, causes and waits.
fn annotate(events: LazyFrame, rules: &HandoffRules) -> LazyFrame {
    let is = |c: &str, v: &str| col(c).eq(lit(v)).fill_null(lit(false));
    // Owner state is carried on the label columns themselves: fills and shifts move codes.
    let null_str = || lit(NULL).cast(label_dtype());

    // A. Row basics. The events arrive sorted by conversation (ingest sorts them), so a
    // conversation starts where the id changes, and its key is the running count of starts.
    let conv_start = col(CONV).neq_missing(col(CONV).shift(lit(1)));
    let lf = events
        .with_row_index("i0", None)
        .with_column(conv_start.alias("conv_start"))
        .with_columns([
            col("conv_start")
                .shift(lit(-1))
                .fill_null(lit(true))
                .alias("conv_end"),
            col("conv_start")
                .cast(DataType::Int64)
                .cum_sum(false)
                .alias(KEY),
        ])
        .with_columns([
            col("at").cast(DataType::Int64).alias("t"),
            is("event", "assigned").alias("is_assign"),
            is("event", "resolved").alias("is_res"),
            is("event", "reopened").alias("is_reopen"),
            is("event", "message")
                .and(
                    is("author", "agent")
                        .or(is("author", "ai"))
                        .or(col("author").is_null().and(col("agent").is_not_null())),
                )
                .alias("is_work_msg"),
            is("event", "message")
                .and(is("author", "customer"))
                .alias("is_cust_msg"),
        ]);

    // B. Resolution: the final `resolved` closes the conversation unless a `reopened` follows;
    // changes after it are ignored.
    let resolved_or_reopened = col("is_res").or(col("is_reopen"));
    let lf = lf
        .with_column(
            col("is_res")
                .and(holds_after(resolved_or_reopened.clone()).not())
                .alias("closes"),
        )
        .with_columns([
            held_before(col("closes")).not().alias("active"),
            // Resolved twice, or reopened after the first resolution.
            resolved_or_reopened
                .and(held_before(col("is_res")))
                .alias("reopens"),
        ]);

    // Tier of a team (1 when not configured).
    let tier = |team: Expr| {
        let mut e = lit(1i64);
        for (t, teams) in rules.tiers() {
            e = when(is_one_of(team.clone(), &teams))
                .then(lit(t as i64))
                .otherwise(e);
        }
        e
    };

    // C. Real owner assignments: not an un-assignment, not an intake queue.
    let lf = lf.with_column(
        col("is_assign")
            .and(col("active"))
            .and(col("agent").is_not_null().or(col("team").is_not_null()))
            .and(is_one_of(col("team"), &rules.intake_teams).not())
            .alias("is_real"),
    );
    // The state before each row is the filled state of the row above it.
    let lf = lf
        .with_columns([
            ff(when(col("is_real").and(col("team").is_not_null()))
                .then(col("team"))
                .otherwise(null_str()))
            .alias("team_state"),
            ff(when(col("is_real"))
                .then(col("owner_kind"))
                .otherwise(null_str()))
            .alias("kind_state"),
            ff(col("channel")).alias("ch_state"),
            held_before(col("is_real")).alias("had_owner"),
        ])
        .with_columns([
            g_shift(col("team_state")).alias("prev_team"),
            tier(col("team_state")).alias("tier_state"),
            g_shift(col("kind_state")).alias("prev_kind"),
            g_shift(col("ch_state")).alias("prev_ch"),
        ])
        .with_column(
            when(col("is_real"))
                .then(coalesce(&[col("team"), col("prev_team")]))
                .otherwise(null_str())
                .alias("team_eff"),
        )
        .with_column(
            col("is_real")
                .and(col("had_owner"))
                .and(col("team_eff").neq_missing(col("prev_team")))
                .alias("team_changed"),
        )
        // Agents are compared within a run of the same team: a pickup after a move to the team's
        // queue is not a handoff, and moving back to the queue keeps the last agent. A run
        // starts with the conversation or a change of team.
        .with_column(
            col("conv_start")
                .or(col("team_changed"))
                .alias("team_run_start"),
        )
        .with_column(
            group_fill(
                when(col("is_real"))
                    .then(col("agent"))
                    .otherwise(null_str()),
                col("team_run_start"),
                Direction::Forward,
            )
            .alias("agent_state"),
        )
        .with_column(
            when(col("team_run_start"))
                .then(null_str())
                .otherwise(col("agent_state").shift(lit(1)))
                .alias("prev_agent"),
        )
        .with_columns([
            col("is_real")
                .and(col("had_owner"))
                .and(col("agent").is_not_null())
                .and(col("prev_agent").is_not_null())
                .and(col("agent").neq(col("prev_agent")))
                .fill_null(lit(false))
                .alias("agent_changed"),
            col("is_real")
                .and(col("had_owner"))
                .and(col("owner_kind").neq_missing(col("prev_kind")))
                .alias("kind_changed"),
            col("active")
                .and(col("had_owner"))
                .and(col("channel").is_not_null())
                .and(col("prev_ch").is_not_null())
                .and(col("channel").neq(col("prev_ch")))
                .fill_null(lit(false))
                .alias("ch_changed"),
        ])
        .with_column(
            col("team_changed")
                .or(col("agent_changed"))
                .or(col("kind_changed"))
                .or(col("ch_changed"))
                .alias("owner_changed"),
        )
        .with_column(is("actor", "automation").alias("by_automation"))
        .with_columns([
            col("owner_changed")
                .and(lit(rules.count_automation).or(col("by_automation").not()))
                .alias("is_handoff"),
            col("owner_changed")
                .and(col("by_automation"))
                .and(lit(!rules.count_automation))
                .alias("automation_move"),
            col("is_real")
                .and(col("had_owner"))
                .and(is("prev_kind", "ai"))
                .and(is("owner_kind", "human"))
                .alias("ai_handover"),
        ]);

    // D. Cause of each handoff, first rule that applies (METRICS.md section 4).
    let mut reason_cause = lit(NULL).cast(DataType::Int32);
    for cause in Cause::ALL.iter().rev() {
        let keys = rules.reasons_for(*cause);
        reason_cause = when(is_one_of(col("reason"), &keys))
            .then(lit(cause_code(*cause)))
            .otherwise(reason_cause);
    }
    let lf = lf
        .with_column(
            // An owner's stint starts where they take over (the first owner included).
            col("owner_changed")
                .or(col("is_real").and(col("had_owner").not()))
                .alias("stint_start"),
        )
        .with_columns([
            // Rows of the last agent/AI message and of the last stint start before this row:
            // the owner worked the conversation if such a message came at or after the start
            // of their stint.
            g_shift(ff(row_if(col("is_work_msg").and(col("active"))))).alias("last_work_row"),
            g_shift(ff(row_if(col("stint_start")))).alias("stint_row"),
        ])
        .with_columns([
            col("last_work_row")
                .gt_eq(col("stint_row"))
                .fill_null(lit(false))
                .alias("worked"),
            // On an owner row the team state is the new owner's team.
            col("is_real")
                .and(col("had_owner"))
                .and(col("tier_state").gt(g_shift(col("tier_state"))))
                .fill_null(lit(false))
                .alias("tier_up"),
            reason_cause.alias("reason_cause"),
        ])
        // Causes are small integer codes until the rows are few: text choices over every event
        // cost a string copy each.
        .with_column(
            when(col("is_handoff").not())
                .then(lit(NULL).cast(DataType::Int32))
                .when(col("reason_cause").is_not_null())
                .then(col("reason_cause"))
                .when(col("ch_changed"))
                .then(lit(cause_code(Cause::Channel)))
                .when(col("tier_up").or(col("ai_handover")))
                .then(lit(cause_code(Cause::Escalation)))
                .when(col("worked").not())
                .then(lit(cause_code(Cause::Routing)))
                .otherwise(lit(cause_code(Cause::Skill)))
                .alias("cause_code"),
        );

    // E. Wait after each handoff: until the next agent/AI message, handoff or resolution.
    let lf = lf
        .with_column(
            when(col("active").and(col("is_work_msg").or(col("is_handoff")).or(col("is_res"))))
                .then(col("t"))
                .otherwise(lit(NULL).cast(DataType::Int64))
                .alias("stop_t"),
        )
        .with_column(g_fill(g_shift_back(col("stop_t")), Direction::Backward).alias("next_stop"))
        .with_column(
            when(col("is_handoff").not())
                .then(lit(NULL).cast(DataType::Int64))
                .when(col("is_work_msg"))
                .then(lit(0i64))
                .otherwise(col("next_stop") - col("t"))
                .alias("wait_us"),
        );
    // What the per-conversation facts read: whether the owner changed yet (pickups before
    // the first change belong to the first owner), and whether the AI handed over before.
    lf.with_columns([
        ff(row_if(col("owner_changed")))
            .is_not_null()
            .alias("changed_yet"),
        held_before(col("ai_handover")).alias("handed_over_before"),
    ])
}

/// Per-conversation facts and per-handoff rows.
pub struct Facts {
    /// One row per conversation; columns in [`fact`] plus the segment dimensions
    /// (`team`, `channel`, `topic`, `agent`).
    pub conversations: LazyFrame,
    /// One row per handoff: `conversation_id`, `cause`, `wait_us`, `ai_handover`, `t`.
    pub handoffs: LazyFrame,
}

/// Builds the facts from canonical events (as produced by `ingest`).
pub fn build(events: LazyFrame, rules: &HandoffRules) -> PolarsResult<Facts> {
    let rows = annotate(events, rules).cache();
    let handoffs = rows.clone().filter(col("is_handoff")).select([
        col(CONV),
        cause_name(col("cause_code")).alias("cause"),
        col("wait_us"),
        col("ai_handover"),
        col("t"),
    ]);

    // Every per-conversation value is a plain sum, max or first/last non-null of a column
    // computed beforehand over all rows at once: an expression inside `agg` is evaluated group
    // by group (a `filter` there costs minutes at a million conversations). "The value at the
    // first row where ..." is therefore the first non-null of a column that holds the value only
    // where the condition does; and as the rows of a conversation are in time order, the
    // earliest time of a kind of row is the first non-null too (a third of the cost of `min`).
    let t_if = |cond: Expr| when(cond).then(col("t")).otherwise(null_i64());
    let flag = |cond: Expr| cond.fill_null(lit(false)).cast(DataType::Int32);
    // Customer messages before the first AI handover; kept below only for conversations that
    // have one.
    let before_handover = col("is_cust_msg").and(col("handed_over_before").not());
    let mut per_row: Vec<(Expr, &str, Agg)> = vec![
        (
            t_if(is_event("created")),
            "created_event_at",
            Agg::FirstNonNull,
        ),
        (col("t"), "first_t", Agg::FirstNonNull),
        (t_if(col("closes")), fact::RESOLVED_AT, Agg::FirstNonNull),
        (flag(col("is_handoff")), fact::HANDOFFS, Agg::Sum),
        (col("cause_code"), "first_cause_code", Agg::FirstNonNull),
        // Any row that reopens it.
        (col("reopens"), fact::REOPENED, Agg::Max),
        (col("wait_us"), fact::WAIT_US, Agg::Sum),
        (
            flag(col("automation_move")),
            fact::AUTOMATION_MOVES,
            Agg::Sum,
        ),
        (
            t_if(col("is_work_msg")),
            fact::FIRST_RESPONSE_AT,
            Agg::FirstNonNull,
        ),
        // Segments: first owner's team and agent (pickups in the first stint included),
        // channel at creation, the final topic.
        (
            when(col("is_real").and(col("had_owner").not()))
                .then(col("team_eff"))
                .otherwise(lit(NULL)),
            "team",
            Agg::FirstNonNull,
        ),
        (
            when(col("is_real").and(col("changed_yet").not()))
                .then(col("agent"))
                .otherwise(lit(NULL)),
            "agent",
            Agg::FirstNonNull,
        ),
        (col("channel"), "channel", Agg::FirstNonNull),
        (col("topic"), "topic", Agg::LastNonNull),
        // AI agent (section 6).
        // AI-involved: it had an AI owner; handed over: an AI handover happened.
        (
            t_if(col("ai_handover")),
            "first_handover_t",
            Agg::FirstNonNull,
        ),
        (
            t_if(col("is_real").and(is_str("owner_kind", "ai"))),
            "first_ai_t",
            Agg::FirstNonNull,
        ),
        (
            col("is_real").and(is_str("owner_kind", "human")),
            "had_human",
            Agg::Max,
        ),
        // The first reply of a person after the AI handed over.
        (
            t_if(
                col("is_work_msg")
                    .and(col("handed_over_before"))
                    .and(is_str("author", "ai").not()),
            ),
            "first_human_after_t",
            Agg::FirstNonNull,
        ),
        (
            when(col("is_cust_msg"))
                .then(col("sentiment"))
                .otherwise(lit(NULL)),
            fact::LAST_SENTIMENT,
            Agg::LastNonNull,
        ),
        (
            when(before_handover.clone())
                .then(col("sentiment"))
                .otherwise(lit(NULL)),
            fact::SENTIMENT_BEFORE_SUM,
            Agg::Sum,
        ),
        (
            flag(before_handover.and(col("sentiment").is_not_null())),
            fact::SENTIMENT_BEFORE_N,
            Agg::Sum,
        ),
        (
            flag(col("is_handoff").and(col("handed_over_before"))),
            "after_handover",
            Agg::Sum,
        ),
    ];
    let cause_names: Vec<String> = Cause::ALL.iter().map(|c| fact::handoffs_of(*c)).collect();
    for (c, name) in Cause::ALL.iter().zip(&cause_names) {
        per_row.push((
            flag(col("cause_code").eq(lit(cause_code(*c)))),
            name.as_str(),
            Agg::Sum,
        ));
    }
    let avoidable = rules.avoidable.iter().fold(lit(false), |acc, c| {
        acc.or(col("cause_code").eq(lit(cause_code(*c))))
    });
    per_row.push((flag(avoidable), fact::AVOIDABLE, Agg::Sum));

    let per_conv = rows
        .clone()
        .select(
            [col(KEY), col(CONV)]
                .into_iter()
                .chain(
                    per_row
                        .iter()
                        .map(|(e, name, _)| e.clone().alias(format!("in_{name}"))),
                )
                .collect::<Vec<_>>(),
        )
        .group_by_stable([col(KEY)])
        .agg(
            std::iter::once(col(CONV).first())
                .chain(per_row.iter().map(|(_, name, agg)| {
                    let c = col(format!("in_{name}"));
                    match agg {
                        Agg::Max => c.max(),
                        Agg::Sum => c.sum(),
                        Agg::FirstNonNull => c.first_non_null(),
                        Agg::LastNonNull => c.last_non_null(),
                    }
                    .alias(*name)
                }))
                .collect::<Vec<_>>(),
        )
        .with_columns([
            coalesce(&[col("created_event_at"), col("first_t")]).alias(fact::CREATED_AT),
            col("first_ai_t").is_not_null().alias(fact::AI_INVOLVED),
            col("first_handover_t")
                .is_not_null()
                .alias(fact::AI_HANDED_OVER),
            (col("first_handover_t") - col("first_ai_t")).alias(fact::AI_TO_HANDOVER_US),
            (col("first_human_after_t") - col("first_handover_t"))
                .alias(fact::HUMAN_AFTER_HANDOVER_US),
            cause_name(col("first_cause_code")).alias(fact::FIRST_CAUSE),
            // Only conversations with an AI handover have customer messages "before" it.
            when(col("first_handover_t").is_not_null())
                .then(col(fact::SENTIMENT_BEFORE_SUM))
                .otherwise(lit(0.0))
                .alias(fact::SENTIMENT_BEFORE_SUM),
            when(col("first_handover_t").is_not_null())
                .then(col(fact::SENTIMENT_BEFORE_N))
                .otherwise(lit(0))
                .alias(fact::SENTIMENT_BEFORE_N),
        ])
        .with_columns(
            [
                fact::HANDOFFS,
                fact::AUTOMATION_MOVES,
                fact::SENTIMENT_BEFORE_N,
                fact::AVOIDABLE,
            ]
            .iter()
            .map(|c| col(*c).cast(DataType::Int64))
            .chain(
                cause_names
                    .iter()
                    .map(|c| col(c.as_str()).cast(DataType::Int64)),
            )
            .collect::<Vec<_>>(),
        )
        .drop(by_name(
            [
                "created_event_at",
                "first_t",
                "first_handover_t",
                "first_human_after_t",
                "first_ai_t",
                "first_cause_code",
            ],
            true,
            false,
        ));

    let none = |c: &str| {
        col(c)
            .cast(DataType::String)
            .fill_null(lit(NONE_VALUE))
            .alias(c)
    };
    let conversations = per_conv
        .with_columns([
            none("team"),
            none("agent"),
            none("channel"),
            none("topic"),
            col(fact::WAIT_US).fill_null(lit(0i64)),
            col(fact::HANDOFFS)
                .eq(lit(0))
                .and(col(fact::REOPENED).not())
                .alias(fact::FCR),
            (col(fact::RESOLVED_AT) - col(fact::CREATED_AT)).alias(fact::DURATION_US),
            col(fact::AI_INVOLVED)
                .and(col("had_human").not())
                .and(col(fact::RESOLVED_AT).is_not_null())
                .alias(fact::AI_RESOLVED),
            col(fact::AI_HANDED_OVER)
                .and(col("after_handover").eq(lit(0)))
                .and(col(fact::REOPENED).not())
                .alias(fact::POST_HANDOVER_CLEAN),
        ])
        .with_columns([
            col(fact::AI_RESOLVED)
                .and(is_one_of(col("topic"), &rules.must_escalate))
                .alias(fact::BREACH_RESOLVED),
            col(fact::AI_HANDED_OVER)
                .and(is_one_of(col("topic"), &rules.must_not_escalate))
                .alias(fact::BREACH_HANDED),
        ])
        .drop(by_name([KEY, "had_human", "after_handover"], true, false));
    Ok(Facts {
        conversations,
        handoffs,
    })
}

/// A cause as a small integer: its place in [`Cause::ALL`].
fn cause_code(c: Cause) -> i32 {
    Cause::ALL
        .iter()
        .position(|x| *x == c)
        .expect("every cause is in ALL") as i32
}

/// The cause's name for its code (null for null).
fn cause_name(code: Expr) -> Expr {
    Cause::ALL
        .iter()
        .fold(lit(NULL).cast(DataType::String), |acc, c| {
            when(code.clone().eq(lit(cause_code(*c))))
                .then(lit(c.as_str()))
                .otherwise(acc)
        })
}

/// How a per-row column is reduced to one value per conversation.
#[derive(Clone, Copy)]
enum Agg {
    Max,
    Sum,
    FirstNonNull,
    LastNonNull,
}

fn null_i64() -> Expr {
    lit(NULL).cast(DataType::Int64)
}

fn is_event(v: &str) -> Expr {
    col("event").eq(lit(v)).fill_null(lit(false))
}

fn is_str(c: &str, v: &str) -> Expr {
    col(c).eq(lit(v)).fill_null(lit(false))
}
