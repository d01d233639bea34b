//! One definition of every measure (METRICS.md sections 3, 5 and 6), as aggregation expressions
//! over the facts frame; the same expressions serve overall, per segment and per period.
//!
//! Every aggregation is a variant of [`Count`] or [`Real`]: the variant gives both the
//! expression (and the column it is stored under) and the typed read of that column, so the
//! frame is never read by a name that no aggregation produces, and a column missing from it is
//! an error ([`MetricsError::MissingAggregate`]), never a silent 0.

use super::facts::fact;
use super::MetricsError;
use crate::domain::Cause;
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

const US_PER_MIN: f64 = 60e6;
const US_PER_HOUR: f64 = 3600e6;

/// `value` where `cond` holds, null elsewhere: the aggregations below skip nulls, so this is a
/// filter, computed once over all rows (a `filter` inside an aggregation runs group by group).
fn only(cond: Expr, value: Expr) -> Expr {
    when(cond.fill_null(lit(false)))
        .then(value)
        .otherwise(lit(NULL))
}

/// The rows an aggregation runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// Conversations resolved in the period (the set C).
    Resolved,
    /// Handoffs of those conversations.
    Handoffs,
    /// Conversations created in the period.
    Created,
}

/// An integer aggregation (a count or a sum of integers). Null in a cell reads as 0: the outer
/// joins of resolved, handoff and created cells leave nulls where a side has no rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    Conversations,
    WithHandoff,
    Handoffs,
    /// Conversations with exactly 0, 1, 2 and 3 or more handoffs.
    NoHandoff,
    OneHandoff,
    TwoHandoffs,
    ThreeOrMoreHandoffs,
    Fcr,
    Reopened,
    WaitUs,
    DurationUs,
    Avoidable,
    AutomationMoves,
    Escalated,
    AiInvolved,
    AiHanded,
    AiResolved,
    SentimentBeforeN,
    PostHandoverClean,
    BreachResolved,
    BreachHanded,
    /// Conversations whose first handoff has this cause.
    FirstCause(Cause),
    /// Handoffs of this cause.
    CauseHandoffs(Cause),
    /// Conversations created in the period (the ticket volume).
    Created,
}

/// A real aggregation. Null reads as None: a mean or median over no rows has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Real {
    FirstResponseMean,
    FirstResponseMedian,
    ResolutionMean,
    ResolutionMedian,
    AiToHandoverMedian,
    HumanAfterHandoverMedian,
    SentimentBeforeSum,
    AiResolvedLastSentiment,
    /// Median wait after a handoff, in minutes.
    WaitMedian,
}

fn minutes_between(a: &str, b: &str) -> Expr {
    (col(b) - col(a)).cast(DataType::Float64) / lit(US_PER_MIN)
}

fn ai_handed() -> Expr {
    col(fact::AI_INVOLVED).and(col(fact::AI_HANDED_OVER))
}

impl Count {
    /// Every count, in the order of the aggregated columns.
    pub fn all() -> Vec<Count> {
        use Count::*;
        let mut v = vec![
            Conversations,
            WithHandoff,
            Handoffs,
            NoHandoff,
            OneHandoff,
            TwoHandoffs,
            ThreeOrMoreHandoffs,
            Fcr,
            Reopened,
            WaitUs,
            DurationUs,
            Avoidable,
            AutomationMoves,
            Escalated,
            AiInvolved,
            AiHanded,
            AiResolved,
            SentimentBeforeN,
            PostHandoverClean,
            BreachResolved,
            BreachHanded,
        ];
        for c in Cause::ALL {
            v.push(FirstCause(c));
            v.push(CauseHandoffs(c));
        }
        v.push(Created);
        v
    }

    /// The column the aggregation is stored under.
    pub fn name(self) -> String {
        use Count::*;
        match self {
            Conversations => "conversations".into(),
            WithHandoff => "with_handoff".into(),
            Handoffs => "handoffs".into(),
            NoHandoff => "h0".into(),
            OneHandoff => "h1".into(),
            TwoHandoffs => "h2".into(),
            ThreeOrMoreHandoffs => "h3".into(),
            Fcr => "fcr".into(),
            Reopened => "reopened".into(),
            WaitUs => "wait_us".into(),
            DurationUs => "duration_us".into(),
            Avoidable => "avoidable".into(),
            AutomationMoves => "automation_moves".into(),
            Escalated => "escalated".into(),
            AiInvolved => "ai_involved".into(),
            AiHanded => "ai_handed".into(),
            AiResolved => "ai_resolved".into(),
            SentimentBeforeN => "sent_before_n".into(),
            PostHandoverClean => "post_handover_clean".into(),
            BreachResolved => "breach_resolved".into(),
            BreachHanded => "breach_handed".into(),
            FirstCause(c) => format!("first_{}", c.as_str()),
            CauseHandoffs(c) => fact::handoffs_of(c),
            Created => "volume".into(),
        }
    }

    pub fn over(self) -> Over {
        match self {
            Count::Created => Over::Created,
            _ => Over::Resolved,
        }
    }

    /// What one conversation adds to the count: the count is the sum of this over the rows
    /// (`explain` splits the same terms across segments, see `explain::measure`).
    pub fn term(self) -> Expr {
        use Count::*;
        let h = || col(fact::HANDOFFS);
        match self {
            Conversations | Created => lit(1i64),
            WithHandoff => h().gt_eq(lit(1)),
            Handoffs => h(),
            NoHandoff => h().eq(lit(0)),
            OneHandoff => h().eq(lit(1)),
            TwoHandoffs => h().eq(lit(2)),
            ThreeOrMoreHandoffs => h().gt_eq(lit(3)),
            Fcr => col(fact::FCR),
            Reopened => col(fact::REOPENED),
            WaitUs => col(fact::WAIT_US),
            DurationUs => col(fact::DURATION_US),
            Avoidable => col(fact::AVOIDABLE),
            AutomationMoves => col(fact::AUTOMATION_MOVES),
            Escalated => col(fact::handoffs_of(Cause::Escalation)).gt(lit(0)),
            AiInvolved => col(fact::AI_INVOLVED),
            AiHanded => ai_handed(),
            AiResolved => col(fact::AI_RESOLVED),
            SentimentBeforeN => only(ai_handed(), col(fact::SENTIMENT_BEFORE_N)),
            PostHandoverClean => col(fact::POST_HANDOVER_CLEAN).and(col(fact::AI_INVOLVED)),
            BreachResolved => col(fact::BREACH_RESOLVED),
            BreachHanded => col(fact::BREACH_HANDED),
            FirstCause(c) => col(fact::FIRST_CAUSE)
                .eq(lit(c.as_str()))
                .fill_null(lit(false)),
            CauseHandoffs(c) => col(fact::handoffs_of(c)),
        }
    }

    /// The aggregation, as an Int64 column named [`Count::name`].
    pub fn agg(self) -> Expr {
        let e = match self {
            // Rows of the group (a literal summed in a group-by is not broadcast to its rows).
            Count::Conversations | Count::Created => len(),
            c => c.term().cast(DataType::Int64).sum(),
        };
        e.cast(DataType::Int64).alias(self.name())
    }
}

impl Real {
    /// Every real aggregation, in the order of the aggregated columns.
    pub const ALL: [Real; 9] = [
        Real::FirstResponseMean,
        Real::FirstResponseMedian,
        Real::ResolutionMean,
        Real::ResolutionMedian,
        Real::AiToHandoverMedian,
        Real::HumanAfterHandoverMedian,
        Real::SentimentBeforeSum,
        Real::AiResolvedLastSentiment,
        Real::WaitMedian,
    ];

    /// The column the aggregation is stored under.
    pub fn name(self) -> &'static str {
        match self {
            Real::FirstResponseMean => "frt_mean",
            Real::FirstResponseMedian => "frt_median",
            Real::ResolutionMean => "res_mean",
            Real::ResolutionMedian => "res_median",
            Real::AiToHandoverMedian => "ai_to_handover_median",
            Real::HumanAfterHandoverMedian => "human_after_handover_median",
            Real::SentimentBeforeSum => "sent_before_sum",
            Real::AiResolvedLastSentiment => "ai_resolved_last_sentiment",
            Real::WaitMedian => "wait_median",
        }
    }

    pub fn over(self) -> Over {
        match self {
            Real::WaitMedian => Over::Handoffs,
            _ => Over::Resolved,
        }
    }

    /// The aggregation, as a Float64 column named [`Real::name`].
    pub fn agg(self) -> Expr {
        let frt = || minutes_between(fact::CREATED_AT, fact::FIRST_RESPONSE_AT);
        let hours = || col(fact::DURATION_US).cast(DataType::Float64) / lit(US_PER_HOUR);
        let e = match self {
            Real::FirstResponseMean => frt().mean(),
            Real::FirstResponseMedian => frt().median(),
            Real::ResolutionMean => hours().mean(),
            Real::ResolutionMedian => hours().median(),
            Real::AiToHandoverMedian => only(
                ai_handed(),
                col(fact::AI_TO_HANDOVER_US).cast(DataType::Float64) / lit(US_PER_MIN),
            )
            .median(),
            Real::HumanAfterHandoverMedian => only(
                ai_handed(),
                col(fact::HUMAN_AFTER_HANDOVER_US).cast(DataType::Float64) / lit(US_PER_MIN),
            )
            .median(),
            Real::SentimentBeforeSum => only(ai_handed(), col(fact::SENTIMENT_BEFORE_SUM)).sum(),
            Real::AiResolvedLastSentiment => {
                only(col(fact::AI_RESOLVED), col(fact::LAST_SENTIMENT)).mean()
            }
            // Over the handoff rows, whose `wait_us` is the wait after that handoff.
            Real::WaitMedian => (col("wait_us").cast(DataType::Float64) / lit(US_PER_MIN)).median(),
        };
        e.cast(DataType::Float64).alias(self.name())
    }
}

/// The aggregations over `over`'s rows, one column per [`Count`] and [`Real`] of it.
pub fn aggs(over: Over) -> Vec<Expr> {
    let counts = Count::all().into_iter().filter(|c| c.over() == over);
    let reals = Real::ALL.into_iter().filter(|r| r.over() == over);
    counts.map(Count::agg).chain(reals.map(Real::agg)).collect()
}

/// Aggregations over conversations resolved in a period (the set C). The counts are kept so
/// rates can be recomputed and explained; [`Measures::from_row`] turns them into measures.
pub fn resolved_aggs() -> Vec<Expr> {
    aggs(Over::Resolved)
}

/// Aggregations over handoff rows (joined to their conversation's period and segment).
pub fn handoff_aggs() -> Vec<Expr> {
    aggs(Over::Handoffs)
}

/// Aggregations over conversations created in a period.
pub fn created_aggs() -> Vec<Expr> {
    aggs(Over::Created)
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct MeanMedian {
    pub mean: Option<f64>,
    pub median: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct CauseMeasures {
    pub handoffs: i64,
    /// Conversations whose first handoff has this cause / conversations.
    pub rate: Option<f64>,
    /// Handoffs of this cause / conversations.
    pub per_conversation: Option<f64>,
    /// Conversations whose first handoff has this cause (numerator of `rate`).
    pub conversations: i64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct Distribution {
    #[serde(rename = "0")]
    pub zero: i64,
    #[serde(rename = "1")]
    pub one: i64,
    #[serde(rename = "2")]
    pub two: i64,
    #[serde(rename = "3+")]
    pub three_plus: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct AiMeasures {
    /// Conversations resolved in the period that had an AI owner.
    pub conversations: i64,
    pub ai_escalation_rate: Option<f64>,
    pub ai_resolution_rate: Option<f64>,
    pub ai_time_to_handover_minutes: Option<f64>,
    /// Median minutes from the AI handover to the first reply of a person.
    pub human_response_after_handover_minutes: Option<f64>,
    pub sentiment_before_handover: Option<f64>,
    pub post_handover_resolution_rate: Option<f64>,
    pub ai_policy_breaches: PolicyBreaches,
    pub unsafe_deflection: bool,
    /// Mean last customer sentiment of AI-resolved conversations.
    pub ai_resolved_last_sentiment: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct PolicyBreaches {
    pub count: i64,
    /// `must_escalate` topics the AI resolved itself.
    pub must_escalate_resolved: i64,
    /// `must_not_escalate` topics it handed over.
    pub must_not_escalate_handed_over: i64,
    /// Some of the conversations involved (filled for the overall view).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

/// Every measure of METRICS.md for one population (overall or one segment, one period).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Measures {
    /// |C|: conversations resolved in the period.
    pub conversations: i64,
    /// Conversations created in the period.
    pub ticket_volume: i64,
    pub handoff_rate: Option<f64>,
    pub handoffs: i64,
    pub handoffs_per_conversation: Option<f64>,
    pub handoff_distribution: Distribution,
    pub bouncing_share: Option<f64>,
    pub fcr_rate: Option<f64>,
    pub reopened: i64,
    pub time_lost_hours: f64,
    pub time_lost_share: Option<f64>,
    pub wait_per_handoff_minutes: MeanMedian,
    pub avoidable_share: Option<f64>,
    pub escalation_rate: Option<f64>,
    pub band: Option<Band>,
    pub by_cause: BTreeMap<Cause, CauseMeasures>,
    pub first_response_minutes: MeanMedian,
    pub resolution_hours: MeanMedian,
    pub automation_moves: i64,
    pub ai: AiMeasures,
}

/// Benchmark band of the handoff rate (METRICS.md section 5).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Lean,
    Balanced,
    TransferHeavy,
    Bouncing,
}

impl Band {
    pub fn of(rate: f64) -> Band {
        if rate < 0.15 {
            Band::Lean
        } else if rate < 0.30 {
            Band::Balanced
        } else if rate <= 0.50 {
            Band::TransferHeavy
        } else {
            Band::Bouncing
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Band::Lean => "lean",
            Band::Balanced => "balanced",
            Band::TransferHeavy => "transfer-heavy",
            Band::Bouncing => "bouncing",
        }
    }
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

/// One row of a frame aggregated by [`resolved_aggs`], [`handoff_aggs`] and [`created_aggs`]
/// (and joined on its keys). Reads are typed and checked: a column missing from the frame, or
/// of another type than its aggregation makes, is an error naming the column.
pub struct AggRow<'a> {
    df: &'a DataFrame,
    i: usize,
}

impl<'a> AggRow<'a> {
    pub fn new(df: &'a DataFrame, i: usize) -> AggRow<'a> {
        AggRow { df, i }
    }

    fn value(&self, name: &str, expected: &DataType) -> Result<AnyValue<'a>, MetricsError> {
        let c = self
            .df
            .column(name)
            .map_err(|_| MetricsError::MissingAggregate {
                column: name.to_string(),
                found: self
                    .df
                    .get_column_names()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if c.dtype() != expected {
            return Err(MetricsError::AggregateType {
                column: name.to_string(),
                found: c.dtype().to_string(),
                expected: expected.to_string(),
            });
        }
        Ok(c.get(self.i)?)
    }

    /// The count; 0 where the cell has no rows of its side (null after the outer joins).
    pub fn count(&self, c: Count) -> Result<i64, MetricsError> {
        Ok(self.int(&c.name())?.unwrap_or(0))
    }

    /// The real aggregation; None where it has no value (a mean over no rows).
    pub fn real(&self, r: Real) -> Result<Option<f64>, MetricsError> {
        match self.value(r.name(), &DataType::Float64)? {
            AnyValue::Null => Ok(None),
            v => Ok(v.extract::<f64>()),
        }
    }

    /// An Int64 key column (the period index); None where null.
    pub fn int(&self, name: &str) -> Result<Option<i64>, MetricsError> {
        match self.value(name, &DataType::Int64)? {
            AnyValue::Null => Ok(None),
            v => Ok(v.extract::<i64>()),
        }
    }

    /// A String key column (a segment value); None where null.
    pub fn text(&self, name: &str) -> Result<Option<String>, MetricsError> {
        match self.value(name, &DataType::String)? {
            AnyValue::Null => Ok(None),
            AnyValue::String(s) => Ok(Some(s.to_string())),
            AnyValue::StringOwned(s) => Ok(Some(s.to_string())),
            v => Ok(Some(v.to_string())),
        }
    }
}

impl Measures {
    /// Measures from one row of counts made by [`resolved_aggs`], [`handoff_aggs`] and
    /// [`created_aggs`].
    pub fn from_row(
        r: &AggRow,
        ai_cfg: &crate::config::AiConfig,
    ) -> Result<Measures, MetricsError> {
        use Count::*;
        let n = r.count(Conversations)?;
        let nf = n as f64;
        let handoffs = r.count(Handoffs)?;
        let wait_us = r.count(WaitUs)? as f64;
        let handoff_rate = ratio(r.count(WithHandoff)? as f64, nf);
        let mut by_cause = BTreeMap::new();
        for c in Cause::ALL {
            let first = r.count(FirstCause(c))?;
            let hc = r.count(CauseHandoffs(c))?;
            by_cause.insert(
                c,
                CauseMeasures {
                    handoffs: hc,
                    rate: ratio(first as f64, nf),
                    per_conversation: ratio(hc as f64, nf),
                    conversations: first,
                },
            );
        }
        let ai_n = r.count(AiInvolved)?;
        let handed = r.count(AiHanded)?;
        let ai_escalation_rate = ratio(handed as f64, ai_n as f64);
        let last_sent = r.real(Real::AiResolvedLastSentiment)?;
        let unsafe_deflection = matches!((ai_escalation_rate, last_sent), (Some(e), Some(s)) if e < ai_cfg.unsafe_escalation_below && s < ai_cfg.unsafe_sentiment_below);
        let breach_resolved = r.count(BreachResolved)?;
        let breach_handed = r.count(BreachHanded)?;
        let three_plus = r.count(ThreeOrMoreHandoffs)?;
        Ok(Measures {
            conversations: n,
            ticket_volume: r.count(Created)?,
            handoff_rate,
            handoffs,
            handoffs_per_conversation: ratio(handoffs as f64, nf),
            handoff_distribution: Distribution {
                zero: r.count(NoHandoff)?,
                one: r.count(OneHandoff)?,
                two: r.count(TwoHandoffs)?,
                three_plus,
            },
            bouncing_share: ratio(three_plus as f64, nf),
            fcr_rate: ratio(r.count(Fcr)? as f64, nf),
            reopened: r.count(Reopened)?,
            time_lost_hours: wait_us / US_PER_HOUR,
            time_lost_share: ratio(wait_us, r.count(DurationUs)? as f64),
            wait_per_handoff_minutes: MeanMedian {
                mean: ratio(wait_us / US_PER_MIN, handoffs as f64),
                median: r.real(Real::WaitMedian)?,
            },
            avoidable_share: ratio(r.count(Avoidable)? as f64, handoffs as f64),
            escalation_rate: ratio(r.count(Escalated)? as f64, nf),
            band: handoff_rate.map(Band::of),
            by_cause,
            first_response_minutes: MeanMedian {
                mean: r.real(Real::FirstResponseMean)?,
                median: r.real(Real::FirstResponseMedian)?,
            },
            resolution_hours: MeanMedian {
                mean: r.real(Real::ResolutionMean)?,
                median: r.real(Real::ResolutionMedian)?,
            },
            automation_moves: r.count(AutomationMoves)?,
            ai: AiMeasures {
                conversations: ai_n,
                ai_escalation_rate,
                ai_resolution_rate: ratio(r.count(AiResolved)? as f64, ai_n as f64),
                ai_time_to_handover_minutes: r.real(Real::AiToHandoverMedian)?,
                human_response_after_handover_minutes: r.real(Real::HumanAfterHandoverMedian)?,
                sentiment_before_handover: ratio(
                    r.real(Real::SentimentBeforeSum)?.unwrap_or(0.0),
                    r.count(SentimentBeforeN)? as f64,
                ),
                post_handover_resolution_rate: ratio(
                    r.count(PostHandoverClean)? as f64,
                    handed as f64,
                ),
                ai_policy_breaches: PolicyBreaches {
                    count: breach_resolved + breach_handed,
                    must_escalate_resolved: breach_resolved,
                    must_not_escalate_handed_over: breach_handed,
                    examples: vec![],
                },
                unsafe_deflection,
                ai_resolved_last_sentiment: last_sent,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// One row with a column for every aggregation: counts 1, reals 0.5.
    fn full_row() -> DataFrame {
        let mut cols: Vec<Column> = Count::all()
            .into_iter()
            .map(|c| Column::new(c.name().into(), [1i64]))
            .collect();
        cols.extend(
            Real::ALL
                .into_iter()
                .map(|r| Column::new(r.name().into(), [0.5f64])),
        );
        DataFrame::new(1, cols).unwrap()
    }

    fn ai() -> crate::config::AiConfig {
        Config::embedded().unwrap().ai
    }

    #[test]
    fn every_column_the_reader_reads_is_an_aggregation_and_each_missing_one_is_an_error() {
        let df = full_row();
        let m = Measures::from_row(&AggRow::new(&df, 0), &ai()).unwrap();
        assert_eq!((m.conversations, m.ticket_volume), (1, 1));
        assert_eq!(m.first_response_minutes.median, Some(0.5));
        // Every aggregation is read: without any one of them the row does not read.
        for name in df.get_column_names_owned() {
            let without = df.drop(&name).unwrap();
            match Measures::from_row(&AggRow::new(&without, 0), &ai()) {
                Err(MetricsError::MissingAggregate { column, found }) => {
                    assert_eq!(column, name.as_str());
                    assert!(!found.split(", ").any(|c| c == name.as_str()), "{found}");
                }
                other => panic!("without `{name}`: {other:?}"),
            }
        }
    }

    #[test]
    fn a_column_of_another_type_is_an_error_and_nulls_mean_no_rows() {
        let mut df = full_row();
        df.with_column(Column::new("h0".into(), [1.0f64])).unwrap();
        let err = Measures::from_row(&AggRow::new(&df, 0), &ai()).unwrap_err();
        assert!(
            matches!(&err, MetricsError::AggregateType { column, .. } if column == "h0"),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("`h0` is f64, expected i64"),
            "{err}"
        );

        let mut df = full_row();
        df.with_column(Column::new("h0".into(), [None::<i64>]))
            .unwrap();
        df.with_column(Column::new("frt_mean".into(), [None::<f64>]))
            .unwrap();
        let r = AggRow::new(&df, 0);
        assert_eq!(r.count(Count::NoHandoff).unwrap(), 0);
        assert_eq!(r.real(Real::FirstResponseMean).unwrap(), None);
    }

    /// The columns the expressions make are the ones the reader expects, with their types.
    #[test]
    fn the_aggregations_make_what_the_reader_reads() {
        use crate::ingest::{normalise, rows_to_frame, Author, EventKind, EventRow, OwnerKind};
        let t0 = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let at = |m: i64| t0 + chrono::Duration::minutes(m);
        let mut rows = vec![EventRow::new("c1", at(0), EventKind::Created)];
        for (m, team) in [(1, "Billing"), (10, "General Support")] {
            let mut a = EventRow::new("c1", at(m), EventKind::Assigned);
            a.team = Some(team.into());
            a.agent = Some(format!("{team} agent"));
            a.owner_kind = Some(OwnerKind::Human);
            rows.push(a);
        }
        let mut reply = EventRow::new("c1", at(20), EventKind::Message);
        reply.author = Some(Author::Agent);
        rows.push(reply);
        rows.push(EventRow::new("c1", at(60), EventKind::Resolved));
        let events = normalise(rows_to_frame(&rows).unwrap(), &Default::default(), None)
            .unwrap()
            .events;
        let f = super::super::FactTables::build(&events, &Config::embedded().unwrap()).unwrap();
        let select = |df: &DataFrame, aggs: Vec<Expr>| df.clone().lazy().select(aggs).collect();
        let mut df = select(&f.conversations, resolved_aggs()).unwrap();
        df.hstack_mut(select(&f.handoffs, handoff_aggs()).unwrap().columns())
            .unwrap();
        df.hstack_mut(select(&f.conversations, created_aggs()).unwrap().columns())
            .unwrap();
        assert_eq!(df.width(), full_row().width(), "{:?}", df.schema());
        let m = Measures::from_row(&AggRow::new(&df, 0), &ai()).unwrap();
        assert_eq!((m.conversations, m.handoffs, m.ticket_volume), (1, 1, 1));
        assert_eq!(m.wait_per_handoff_minutes.median, Some(10.0));
        // No AI: its median is a median over no rows.
        assert_eq!(m.ai.ai_time_to_handover_minutes, None);
    }
}
