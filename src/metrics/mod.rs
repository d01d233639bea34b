//! Metrics: canonical events -> per-conversation facts -> every measure of METRICS.md, for the
//! current period, the previous one and a trailing series, overall and per segment.
//!
//! Public face: [`compute`] (and [`MetricsReport`]); [`facts`] and [`measures`] are exposed for
//! `explain`, which re-aggregates the same facts.

mod examples;
pub mod facts;
mod fill;
pub mod measures;
mod rules;
mod table;

pub use examples::{example_conversations, team_agent_counts, team_trend_counts};
pub use facts::{fact, Facts, NONE_VALUE};
pub use measures::{AiMeasures, Band, CauseMeasures, Distribution, MeanMedian, Measures};
pub use rules::HandoffRules;
pub use table::render_table;

use crate::config::Config;
use crate::domain::{Period, PeriodJson};
use measures::AggRow;
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("computing metrics failed: {0}")]
    Polars(#[from] PolarsError),
    #[error("unknown dimension `{0}` (expected team, channel, topic or agent)")]
    UnknownDimension(String),
    /// A bug, not bad input: the aggregations and the reader of their columns disagree.
    #[error("the aggregated metrics have no column `{column}` (columns: {found}); this is a bug in baton, please report it")]
    MissingAggregate { column: String, found: String },
    #[error("aggregated metrics column `{column}` is {found}, expected {expected}; this is a bug in baton, please report it")]
    AggregateType {
        column: String,
        found: String,
        expected: String,
    },
}

/// The overall measures of the current period, plus backlog and quarantine (section 8).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Overall {
    #[serde(flatten)]
    pub measures: Measures,
    /// Conversations open at the end of the period.
    pub backlog: i64,
    pub quarantined_rows: usize,
}

/// One segment value with its measures in the current and the previous period.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Segment {
    pub value: String,
    #[serde(flatten)]
    pub measures: Measures,
    pub previous: Measures,
}

/// One point of the trend series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub period: String,
    pub conversations: i64,
    pub handoff_rate: Option<f64>,
    pub fcr_rate: Option<f64>,
    pub by_cause: BTreeMap<crate::domain::Cause, Option<f64>>,
}

/// The version of [`MetricsReport`]'s JSON form.
pub const METRICS_SCHEMA_VERSION: u32 = 1;

/// Everything `baton metrics` prints and a report needs.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsReport {
    /// [`METRICS_SCHEMA_VERSION`]: the JSON of `baton metrics` is a contract
    /// (docs/json.md); fields are only added, a rename or removal bumps it.
    pub schema_version: u32,
    pub period: PeriodJson,
    pub previous_period: PeriodJson,
    pub overall: Overall,
    pub previous: Measures,
    /// Dimension -> segments, largest first.
    pub segments: BTreeMap<String, Vec<Segment>>,
    pub trend: Vec<TrendPoint>,
    /// Quarantine reason -> rows.
    pub quarantine: BTreeMap<String, usize>,
}

/// What to compute.
pub struct MetricsRequest<'a> {
    pub period: &'a Period,
    pub dimensions: &'a [crate::domain::Dimension],
    pub trend_weeks: usize,
}

/// Index of the period an instant (µs) falls in, among contiguous `periods`; null outside.
fn period_index(x: Expr, periods: &[Period]) -> Expr {
    let first = periods[0].start_utc().timestamp_micros();
    let last = periods[periods.len() - 1].end_utc().timestamp_micros();
    let mut idx = lit(-1i64);
    for p in periods {
        idx = idx
            + x.clone()
                .gt_eq(lit(p.start_utc().timestamp_micros()))
                .cast(DataType::Int64);
    }
    when(x.clone().gt_eq(lit(first)).and(x.lt(lit(last))))
        .then(idx)
        .otherwise(lit(NULL).cast(DataType::Int64))
}

/// The facts of every conversation and handoff, computed once and shared by the metrics and
/// the explain stage.
#[derive(Debug, Clone)]
pub struct FactTables {
    /// One row per conversation (columns in [`fact`] plus the segment dimensions).
    pub conversations: DataFrame,
    /// One row per handoff: `conversation_id`, `cause`, `wait_us`, `ai_handover`, `t`.
    pub handoffs: DataFrame,
}

/// Events per batch of the facts query. Conversations are independent of each other, so the
/// facts are built a batch of whole conversations at a time: a batch's dozens of intermediate
/// columns stay small enough for the CPU caches and are freed before the next batch. At a
/// million conversations (8 million events) in one piece the same query ran 40 % slower per
/// event and needed 3.5 GiB.
pub const FACTS_BATCH_EVENTS: usize = 1 << 20;

impl FactTables {
    /// Builds both tables from canonical events (sorted by conversation, as `ingest` gives
    /// them), batch by batch; within a batch one polars query, so the event annotation runs
    /// once for both tables.
    pub fn build(events: &DataFrame, cfg: &Config) -> Result<FactTables, MetricsError> {
        Self::build_in_batches(events, cfg, FACTS_BATCH_EVENTS)
    }

    /// [`FactTables::build`] with a chosen batch size (in events; a batch is extended to the
    /// end of its last conversation).
    pub fn build_in_batches(
        events: &DataFrame,
        cfg: &Config,
        batch_events: usize,
    ) -> Result<FactTables, MetricsError> {
        let rules = HandoffRules::from_config(cfg);
        let batches = conversation_batches(events, batch_events)?;
        if batches.is_empty() {
            // No events: the query on the empty frame gives the empty tables with their columns.
            let f = facts::build(events.clone().lazy(), &rules)?;
            return Ok(FactTables {
                conversations: f.conversations.collect()?,
                handoffs: f.handoffs.collect()?,
            });
        }
        let one_batch = |(offset, len): (usize, usize)| -> PolarsResult<[DataFrame; 2]> {
            let f = facts::build(events.slice(offset as i64, len).lazy(), &rules)?;
            let opt = f.conversations.get_current_optimizations();
            let out = LazyFrame::collect_all_with_engine(
                vec![f.conversations.logical_plan, f.handoffs.logical_plan],
                Engine::Auto,
                opt,
            )?;
            <[DataFrame; 2]>::try_from(out).map_err(|_| polars_err!(ComputeError: "two results"))
        };
        // Batches run side by side, one per core (rayon keeps their order): most steps of the
        // query are single column passes that polars runs on one thread, so one batch at a
        // time leaves cores idle.
        let results: Vec<[DataFrame; 2]> = batches
            .par_iter()
            .map(|b| one_batch(*b))
            .collect::<PolarsResult<_>>()?;
        let (conversations, handoffs): (Vec<_>, Vec<_>) =
            results.into_iter().map(|[c, h]| (c, h)).unzip();
        let stack = |frames: Vec<DataFrame>| -> PolarsResult<DataFrame> {
            let mut frames = frames.into_iter();
            let mut all = frames.next().expect("at least one batch");
            for f in frames {
                all.vstack_mut_owned(f)?;
            }
            all.rechunk_mut_par();
            Ok(all)
        };
        Ok(FactTables {
            conversations: stack(conversations)?,
            handoffs: stack(handoffs)?,
        })
    }
}

/// `(offset, length)` of consecutive slices of about `batch_events` rows that never split a
/// conversation (the events are sorted by conversation).
fn conversation_batches(
    events: &DataFrame,
    batch_events: usize,
) -> PolarsResult<Vec<(usize, usize)>> {
    let n = events.height();
    let ids = events.column(fact::CONVERSATION)?.str()?;
    let mut cuts = vec![0usize];
    let mut next = batch_events.max(1);
    while next < n {
        // Move the cut forward to the first row of the next conversation: a few rows at most.
        let mut cut = next;
        while cut < n && ids.get(cut) == ids.get(cut - 1) {
            cut += 1;
        }
        if cut < n {
            cuts.push(cut);
        }
        next = cut + batch_events.max(1);
    }
    cuts.push(n);
    Ok(cuts
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| (w[0], w[1] - w[0]))
        .collect())
}

/// Computes the report for `req.period` from canonical events.
pub fn compute(
    events: &DataFrame,
    cfg: &Config,
    req: &MetricsRequest,
    quarantine: &BTreeMap<String, usize>,
) -> Result<MetricsReport, MetricsError> {
    report(&FactTables::build(events, cfg)?, cfg, req, quarantine)
}

/// Computes the report for `req.period` from facts already built.
pub fn report(
    facts: &FactTables,
    cfg: &Config,
    req: &MetricsRequest,
    quarantine: &BTreeMap<String, usize>,
) -> Result<MetricsReport, MetricsError> {
    let periods = req.period.report_span(req.trend_weeks);
    let cur = (periods.len() - 1) as i64;
    let prev = cur - 1;

    let conv = facts
        .conversations
        .clone()
        .lazy()
        .with_columns([
            period_index(col(fact::RESOLVED_AT), &periods).alias("pidx"),
            period_index(col(fact::CREATED_AT), &periods).alias("cidx"),
        ])
        .collect()?;
    let mut keys = vec![col(fact::CONVERSATION), col("pidx")];
    keys.extend(req.dimensions.iter().map(|d| col(d.as_str())));
    let handoffs = facts
        .handoffs
        .clone()
        .lazy()
        .join(
            conv.clone()
                .lazy()
                .filter(col("pidx").is_not_null())
                .select(keys),
            [col(fact::CONVERSATION)],
            [col(fact::CONVERSATION)],
            JoinArgs::new(JoinType::Inner),
        )
        .collect()?;

    // One aggregation for every (period, segment) cell.
    let aggregate = |conv: &DataFrame, handoffs: &DataFrame, by: &[&str]| {
        let resolved_by: Vec<Expr> = std::iter::once(col("pidx"))
            .chain(by.iter().map(|d| col(*d)))
            .collect();
        let created_by: Vec<Expr> = std::iter::once(col("cidx").alias("pidx"))
            .chain(by.iter().map(|d| col(*d)))
            .collect();
        let join_on: Vec<Expr> = std::iter::once(col("pidx"))
            .chain(by.iter().map(|d| col(*d)))
            .collect();
        let resolved = conv
            .clone()
            .lazy()
            .filter(col("pidx").is_not_null())
            .group_by(resolved_by.clone())
            .agg(measures::resolved_aggs());
        let waits = handoffs
            .clone()
            .lazy()
            .group_by(resolved_by)
            .agg(measures::handoff_aggs());
        let volume = conv
            .clone()
            .lazy()
            .filter(col("cidx").is_not_null())
            .group_by(created_by)
            .agg(measures::created_aggs());
        resolved
            .join(
                waits,
                join_on.clone(),
                join_on.clone(),
                JoinArgs::new(JoinType::Left),
            )
            .join(
                volume,
                join_on.clone(),
                join_on,
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            )
            .sort(["pidx"], Default::default())
            .collect()
    };
    // Segments are reported for the current and previous periods only: their cells are
    // aggregated over the rows whose period columns (`pidx`, and `cidx` for conversations) fall
    // in those two periods, not the whole trend.
    let two_periods = |df: &DataFrame, period_columns: &[&str]| {
        let in_two = period_columns.iter().fold(lit(false), |acc, c| {
            acc.or(col(*c).eq(lit(cur))).or(col(*c).eq(lit(prev)))
        });
        df.clone().lazy().filter(in_two).collect()
    };

    let overall_df = aggregate(&conv, &handoffs, &[])?;
    let mut by_period: BTreeMap<i64, Measures> = BTreeMap::new();
    for i in 0..overall_df.height() {
        let r = AggRow::new(&overall_df, i);
        if let Some(p) = r.int("pidx")? {
            by_period.insert(p, Measures::from_row(&r, &cfg.ai)?);
        }
    }
    let measures_of = |p: i64| by_period.get(&p).cloned().unwrap_or_default();

    let mut current = measures_of(cur);
    let end = req.period.end_utc().timestamp_micros();
    let backlog = conv
        .clone()
        .lazy()
        .filter(
            col(fact::CREATED_AT).lt(lit(end)).and(
                col(fact::RESOLVED_AT)
                    .is_null()
                    .or(col(fact::RESOLVED_AT).gt_eq(lit(end))),
            ),
        )
        .select([len()])
        .collect()?
        .column("len")?
        .get(0)?
        .extract::<i64>()
        .unwrap_or(0);
    let examples = conv
        .clone()
        .lazy()
        .filter(
            col("pidx")
                .eq(lit(cur))
                .and(col(fact::BREACH_RESOLVED).or(col(fact::BREACH_HANDED))),
        )
        .select([col(fact::CONVERSATION)])
        .limit(10)
        .collect()?;
    current.ai.ai_policy_breaches.examples = examples
        .column(fact::CONVERSATION)?
        .str()?
        .iter()
        .flatten()
        .map(|s| s.to_string())
        .collect();

    let mut segments = BTreeMap::new();
    let conv_two = two_periods(&conv, &["pidx", "cidx"])?;
    let handoffs_two = two_periods(&handoffs, &["pidx"])?;
    for d in req.dimensions {
        let df = aggregate(&conv_two, &handoffs_two, &[d.as_str()])?;
        let mut cells: BTreeMap<String, (Measures, Measures)> = BTreeMap::new();
        for i in 0..df.height() {
            let r = AggRow::new(&df, i);
            let Some(p) = r.int("pidx")? else {
                continue;
            };
            if p != cur && p != prev {
                continue;
            }
            let value = r
                .text(d.as_str())?
                .unwrap_or_else(|| NONE_VALUE.to_string());
            let m = Measures::from_row(&r, &cfg.ai)?;
            let slot = cells.entry(value).or_default();
            if p == cur {
                slot.0 = m;
            } else {
                slot.1 = m;
            }
        }
        let mut list: Vec<Segment> = cells
            .into_iter()
            .map(|(value, (measures, previous))| Segment {
                value,
                measures,
                previous,
            })
            .collect();
        list.sort_by(|a, b| {
            b.measures
                .conversations
                .cmp(&a.measures.conversations)
                .then(a.value.cmp(&b.value))
        });
        segments.insert(d.as_str().to_string(), list);
    }

    let trend = periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let m = measures_of(i as i64);
            TrendPoint {
                period: p.label(),
                conversations: m.conversations,
                handoff_rate: m.handoff_rate,
                fcr_rate: m.fcr_rate,
                by_cause: m.by_cause.iter().map(|(c, x)| (*c, x.rate)).collect(),
            }
        })
        .collect();

    Ok(MetricsReport {
        schema_version: METRICS_SCHEMA_VERSION,
        period: req.period.to_json(),
        previous_period: req.period.previous().to_json(),
        overall: Overall {
            measures: current,
            backlog,
            quarantined_rows: quarantine.values().sum(),
        },
        previous: measures_of(prev),
        segments,
        trend,
        quarantine: quarantine.clone(),
    })
}
