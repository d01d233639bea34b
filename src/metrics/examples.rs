//! Example conversations of a driver: the ids an owner can open in the helpdesk to see what
//! a segment's handoffs look like.

use super::fact;
use crate::domain::{Cause, Period};
use polars::prelude::*;

/// Up to `n` conversations resolved in `period` whose first handoff had `cause` and that sit
/// in the segment `pairs` (dimension, value), most recently resolved first (ties by id, so
/// the same data gives the same examples).
pub fn example_conversations(
    conversations: LazyFrame,
    period: &Period,
    cause: Cause,
    pairs: &[(String, String)],
    n: u32,
) -> PolarsResult<Vec<String>> {
    let resolved = col(fact::RESOLVED_AT);
    let mut keep = resolved
        .clone()
        .gt_eq(lit(period.start_utc().timestamp_micros()))
        .and(resolved.lt(lit(period.end_utc().timestamp_micros())))
        .and(
            col(fact::FIRST_CAUSE)
                .cast(DataType::String)
                .eq(lit(cause.as_str())),
        );
    for (dim, value) in pairs {
        keep = keep.and(
            col(dim.as_str())
                .cast(DataType::String)
                .eq(lit(value.as_str())),
        );
    }
    let ids = conversations
        .filter(keep)
        .sort_by_exprs(
            [col(fact::RESOLVED_AT), col(fact::CONVERSATION)],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .limit(n)
        .select([col(fact::CONVERSATION).cast(DataType::String)])
        .collect()?;
    Ok(ids
        .column(fact::CONVERSATION)?
        .str()?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect())
}

/// Per agent, among the conversations resolved in `period` whose `team_dim` is `team`:
/// (agent, conversations, conversations handed off at least once), most conversations first.
/// Conversations without an agent (null or `(none)`) are left out. Empty when the facts have no such columns.
pub fn team_agent_counts(
    conversations: LazyFrame,
    period: &Period,
    (team_dim, team): (&str, &str),
    agent_dim: &str,
) -> PolarsResult<Vec<(String, u64, u64)>> {
    let resolved = col(fact::RESOLVED_AT);
    let keep = resolved
        .clone()
        .gt_eq(lit(period.start_utc().timestamp_micros()))
        .and(resolved.lt(lit(period.end_utc().timestamp_micros())))
        .and(col(team_dim).cast(DataType::String).eq(lit(team)))
        .and(col(agent_dim).is_not_null())
        .and(
            col(agent_dim)
                .cast(DataType::String)
                .neq(lit(super::NONE_VALUE)),
        );
    let agent = "__agent";
    let out = conversations
        .filter(keep)
        .group_by([col(agent_dim).cast(DataType::String).alias(agent)])
        .agg([
            len().cast(DataType::UInt64).alias("n"),
            col(fact::HANDOFFS)
                .gt(lit(0))
                .cast(DataType::UInt64)
                .sum()
                .alias("x"),
        ])
        .sort_by_exprs(
            [col("n"), col(agent)],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let names = out.column(agent)?.str()?.clone();
    let n = out.column("n")?.u64()?.clone();
    let x = out.column("x")?.u64()?.clone();
    Ok(names
        .iter()
        .zip(n.iter())
        .zip(x.iter())
        .filter_map(|((a, n), x)| Some((a?.to_string(), n?, x.unwrap_or(0))))
        .collect())
}

/// Per period, among the conversations resolved in it whose `team_dim` is `team`:
/// (conversations, conversations handed off at least once), in the order of `periods`. The
/// handoff rate of a team lead's trend; one pass over the facts for every period.
pub fn team_trend_counts(
    conversations: LazyFrame,
    periods: &[Period],
    (team_dim, team): (&str, &str),
) -> PolarsResult<Vec<(u64, u64)>> {
    let resolved = col(fact::RESOLVED_AT);
    let mut sums = Vec::with_capacity(2 * periods.len());
    for (i, p) in periods.iter().enumerate() {
        let inside = resolved
            .clone()
            .gt_eq(lit(p.start_utc().timestamp_micros()))
            .and(resolved.clone().lt(lit(p.end_utc().timestamp_micros())));
        sums.push(
            inside
                .clone()
                .cast(DataType::UInt64)
                .sum()
                .alias(format!("n{i}")),
        );
        sums.push(
            inside
                .and(col(fact::HANDOFFS).gt(lit(0)))
                .cast(DataType::UInt64)
                .sum()
                .alias(format!("x{i}")),
        );
    }
    let out = conversations
        .filter(col(team_dim).cast(DataType::String).eq(lit(team)))
        .select(sums)
        .collect()?;
    let get =
        |name: String| -> PolarsResult<u64> { Ok(out.column(&name)?.u64()?.get(0).unwrap_or(0)) };
    (0..periods.len())
        .map(|i| Ok((get(format!("n{i}"))?, get(format!("x{i}"))?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_the_segments_latest_conversations_of_the_branch_in_the_period() {
        let tz = chrono_tz::Europe::London;
        let w46 = Period::iso_week(2026, 46, tz).unwrap();
        let at = |d: u32, h: u32| {
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, d, h, 0, 0)
                .unwrap()
                .timestamp_micros()
        };
        // W46 is 9-15 Nov (London = UTC in November).
        let facts = df!(
            fact::CONVERSATION => ["a", "b", "c", "d", "e", "f", "g"],
            fact::RESOLVED_AT => [
                Some(at(10, 9)),  // a: billing, routing, in W46
                Some(at(14, 9)),  // b: billing, routing, latest
                Some(at(12, 9)),  // c: billing, skill: another branch
                Some(at(12, 9)),  // d: refund, routing: another segment
                Some(at(3, 9)),   // e: billing, routing, W45
                None,             // f: billing, routing, still open
                Some(at(12, 9)),  // g: billing, routing
            ],
            fact::FIRST_CAUSE => ["routing", "routing", "skill", "routing", "routing", "routing", "routing"],
            "topic" => ["billing", "billing", "billing", "refund", "billing", "billing", "billing"],
        )
        .unwrap();
        let pairs = [("topic".to_string(), "billing".to_string())];
        let ids =
            example_conversations(facts.clone().lazy(), &w46, Cause::Routing, &pairs, 5).unwrap();
        assert_eq!(ids, ["b", "g", "a"]);
        let two =
            example_conversations(facts.clone().lazy(), &w46, Cause::Routing, &pairs, 2).unwrap();
        assert_eq!(two, ["b", "g"]);
    }

    #[test]
    fn team_agents_count_the_periods_conversations_of_the_team() {
        let tz = chrono_tz::Europe::London;
        let w46 = Period::iso_week(2026, 46, tz).unwrap();
        let at = |d: u32| {
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, d, 9, 0, 0)
                .unwrap()
                .timestamp_micros()
        };
        let facts = df!(
            fact::CONVERSATION => ["a", "b", "c", "d", "e", "f"],
            fact::RESOLVED_AT => [at(10), at(11), at(12), at(12), at(3), at(12)],
            fact::HANDOFFS => [1u32, 0, 2, 0, 1, 1],
            "team" => ["Billing", "Billing", "Billing", "Technical", "Billing", "Billing"],
            "agent" => [Some("ann"), Some("ann"), Some("bob"), Some("ann"), Some("bob"), Some("(none)")],
        )
        .unwrap();
        // a, b: ann (1 of 2 handed off); c: bob (1 of 1); d another team; e W45; f no agent.
        let got =
            team_agent_counts(facts.clone().lazy(), &w46, ("team", "Billing"), "agent").unwrap();
        assert_eq!(got, [("ann".to_string(), 2, 1), ("bob".to_string(), 1, 1)]);

        // The team's trend: W45 has e (handed off); W46 has a, b, c, f (3 handed off, b not),
        // d is another team's; W47 nothing.
        let periods = [w46.previous(), w46.clone(), w46.shifted_days(7)];
        let trend = team_trend_counts(facts.lazy(), &periods, ("team", "Billing")).unwrap();
        assert_eq!(trend, [(1, 1), (4, 3), (0, 0)]);
    }
}
