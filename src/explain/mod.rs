//! Explain: "why did my metric change?" (METHODS.md part A).
//!
//! The change of a rate between two periods is split exactly across the branches of the metric
//! tree (causes), then each branch across the segments of every dimension into mix and rate
//! effects; every cell is tested (Wilson / Newcombe or the delta method, z, Benjamini-Hochberg
//! q-values, a minimum segment size, empirical-Bayes ranking), multi-dimension cells are
//! localised, and significant drivers are routed to their owners as [`Push`]es with one
//! sentence per owner.
//!
//! Public face: [`explain`] (handoff facts), [`explain_table`] / [`explain_tables`] (any table
//! with a numerator and a denominator), [`explain_cells`] (plain cells), [`render_table`].
//! Inside: `aggregate` (the only polars code: facts -> cells), `attribution`, `stats`,
//! `localise`, `route`, `summary`, `segment` (the typed key of a segment or combination),
//! `engine` (cells -> explanation).

mod aggregate;
mod attribution;
mod cells;
mod engine;
mod explanation;
mod localise;
mod measure;
mod route;
mod segment;
mod stats;
mod summary;
mod table;

pub use cells::{CellTable, Counts, Leaf, Model, Side};
pub use engine::{Policy, Subject};
pub use explanation::{
    Branch, Driver, Effect, EffectTest, Explanation, Localised, PeriodRef, Push, Role,
    EXPLANATION_SCHEMA_VERSION,
};
pub use measure::{Metric, UnknownMetric};
pub use route::Routing;
pub use segment::{EmptySegmentKey, SegmentKey};
pub use stats::{bh_qvalues, newcombe, two_proportion_z, wilson, BetaPrior};
pub use table::{render_table, render_table_with};

use crate::config::Config;
use crate::domain::{Cause, Period};
use crate::metrics::fact;
use chrono::{DateTime, Datelike, Utc, Weekday};
use chrono_tz::Tz;
use polars::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("explaining the change failed: {0}")]
    Polars(#[from] PolarsError),
    #[error("no {what} in {period}: there is nothing to compare (pick periods the data covers with --period and --vs)")]
    Empty { what: String, period: String },
    #[error(
        "periods {period} and {vs} overlap; compare two periods that do not, e.g. --vs {suggest}"
    )]
    Overlap {
        period: String,
        vs: String,
        suggest: String,
    },
    #[error("unknown dimension `{0}` (expected one of team, channel, topic, agent)")]
    UnknownDimension(String),
    #[error("the table has no column `{column}` (columns found: {found})")]
    MissingColumn { column: String, found: String },
    #[error("column `{column}`: {problem}")]
    BadColumn { column: String, problem: String },
    #[error("period column `{column}`: {problem}")]
    Periods { column: String, problem: String },
}

/// Explains the change of `metric` between `vs` (before) and `period` (after), over the
/// conversation facts of [`crate::metrics::facts::build`]: conversations resolved (`resolved_at`)
/// in each period, split along `cfg.report.dimensions`.
pub fn explain(
    facts_conversations: LazyFrame,
    cfg: &Config,
    period: &Period,
    vs: &Period,
    metric: Metric,
) -> Result<Explanation, ExplainError> {
    let (p1, p0) = (window(period), window(vs));
    if p1.0 < p0.1 && p0.0 < p1.1 {
        return Err(ExplainError::Overlap {
            period: period.label(),
            vs: vs.label(),
            suggest: period.previous().label(),
        });
    }
    let def = metric.definition(cfg);
    let t = col(fact::RESOLVED_AT);
    let within = |(a, b): (i64, i64)| t.clone().gt_eq(lit(a)).and(t.clone().lt(lit(b)));
    let side = when(within(p1))
        .then(lit(1i64))
        .when(within(p0))
        .then(lit(0i64))
        .otherwise(lit(NULL).cast(DataType::Int64));
    let table = aggregate::cells(
        facts_conversations,
        aggregate::Request {
            side,
            dims: &crate::domain::Dimension::names(&cfg.report.dimensions),
            den: def.den,
            nums: def.nums,
            filter: def.filter,
            model: def.model,
            units: None,
        },
    )?;
    let branch_labels = def
        .branches
        .iter()
        .map(|c| match metric {
            Metric::AvoidableShare => format!("{} handoffs as a share of all handoffs", c.as_str()),
            _ => format!("{} handoffs", c.as_str()),
        })
        .collect();
    let subject = Subject {
        metric: metric.name().to_string(),
        label: metric.label().to_string(),
        short: metric.label().trim_start_matches("the ").to_string(),
        branches: def.branches,
        branch_labels,
        percent: true,
        den_label: metric.denominator_label().to_string(),
        period: period.into(),
        vs: vs.into(),
    };
    engine::run(&table, &subject, &Policy::from_config(cfg))
}

fn window(p: &Period) -> (i64, i64) {
    (
        p.start_utc().timestamp_micros(),
        p.end_utc().timestamp_micros(),
    )
}

/// Explains plain cells (built by hand or by another aggregation): series 0 of `table` is the
/// measure, series 1.. the branches named in `subject`.
pub fn explain_cells(
    table: &CellTable,
    subject: &Subject,
    policy: &Policy,
) -> Result<Explanation, ExplainError> {
    engine::run(table, subject, policy)
}

/// Which columns of a generic table hold what.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub numerator: String,
    pub denominator: String,
    pub dimensions: Vec<String>,
}

impl TableSpec {
    fn name(&self) -> String {
        format!("{}/{}", self.numerator, self.denominator)
    }
}

/// Explains `numerator / denominator` of any table between two values of `period_column`:
/// `period` (after) and `vs` (before); by default the last two values in text order (ISO weeks
/// and dates sort correctly as text).
pub fn explain_table(
    table: LazyFrame,
    spec: &TableSpec,
    period_column: &str,
    period: Option<&str>,
    vs: Option<&str>,
    cfg: &Config,
) -> Result<Explanation, ExplainError> {
    let names = column_names(&table)?;
    require(&names, period_column)?;
    let values = table
        .clone()
        .select([col(period_column).cast(DataType::String).alias("p")])
        .filter(col("p").is_not_null())
        .unique(None, UniqueKeepStrategy::Any)
        .sort(["p"], Default::default())
        .collect()?;
    let values: Vec<String> = values
        .column("p")?
        .str()?
        .iter()
        .flatten()
        .map(|s| s.to_string())
        .collect();
    let bad = |problem: String| ExplainError::Periods {
        column: period_column.to_string(),
        problem,
    };
    let listing = || {
        let mut v = values
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if values.len() > 10 {
            v.push_str(", ...");
        }
        v
    };
    let after = match period {
        Some(p) => p.to_string(),
        None => values
            .last()
            .cloned()
            .ok_or_else(|| bad("has no values".into()))?,
    };
    if !values.contains(&after) {
        return Err(bad(format!(
            "has no value `{after}` (values: {})",
            listing()
        )));
    }
    let before = match vs {
        Some(v) => v.to_string(),
        None => {
            let i = values.iter().position(|v| *v == after).unwrap_or(0);
            if i == 0 {
                return Err(bad(format!(
                    "needs a value before `{after}` to compare with (values: {}); pass --vs",
                    listing()
                )));
            }
            values[i - 1].clone()
        }
    };
    if !values.contains(&before) {
        return Err(bad(format!(
            "has no value `{before}` (values: {})",
            listing()
        )));
    }
    if before == after {
        return Err(bad(format!("--period and --vs are both `{after}`")));
    }
    let p = col(period_column).cast(DataType::String);
    let side = when(p.clone().eq(lit(after.as_str())))
        .then(lit(1i64))
        .when(p.eq(lit(before.as_str())))
        .then(lit(0i64))
        .otherwise(lit(NULL).cast(DataType::Int64));
    table_core(table, &names, side, spec, (&before, &after), cfg)
}

/// Explains `numerator / denominator` of one table (`after`) against another (`before`), with
/// the labels given for the two periods.
pub fn explain_tables(
    before: LazyFrame,
    after: LazyFrame,
    spec: &TableSpec,
    labels: (&str, &str),
    cfg: &Config,
) -> Result<Explanation, ExplainError> {
    let mut cols: Vec<String> = spec.dimensions.clone();
    cols.push(spec.numerator.clone());
    cols.push(spec.denominator.clone());
    let prepare = |lf: LazyFrame, side: i64| -> Result<LazyFrame, ExplainError> {
        let names = column_names(&lf)?;
        for c in &cols {
            require(&names, c)?;
        }
        let mut sel: Vec<Expr> = spec
            .dimensions
            .iter()
            .map(|d| col(d.as_str()).cast(DataType::String))
            .collect();
        for c in [&spec.numerator, &spec.denominator] {
            sel.push(col(c.as_str()).cast(DataType::Float64));
        }
        sel.push(lit(side).alias(SIDE_COLUMN));
        Ok(lf.select(sel))
    };
    let both = concat(
        [prepare(before, 0)?, prepare(after, 1)?],
        UnionArgs::default(),
    )?;
    let names = column_names(&both)?;
    table_core(both, &names, col(SIDE_COLUMN), spec, labels, cfg)
}

const SIDE_COLUMN: &str = "__period_side";

fn column_names(lf: &LazyFrame) -> Result<Vec<String>, ExplainError> {
    Ok(lf
        .clone()
        .collect_schema()?
        .iter_names()
        .map(|s| s.to_string())
        .collect())
}

fn require(names: &[String], column: &str) -> Result<(), ExplainError> {
    if names.iter().any(|n| n == column) {
        Ok(())
    } else {
        Err(ExplainError::MissingColumn {
            column: column.to_string(),
            found: names.join(", "),
        })
    }
}

fn table_core(
    lf: LazyFrame,
    names: &[String],
    side: Expr,
    spec: &TableSpec,
    (before, after): (&str, &str),
    cfg: &Config,
) -> Result<Explanation, ExplainError> {
    for c in spec
        .dimensions
        .iter()
        .chain([&spec.numerator, &spec.denominator])
    {
        require(names, c)?;
    }
    // Check every row of the two periods: numbers, not negative; decide the model.
    let y = || col(spec.numerator.as_str()).cast(DataType::Float64);
    let x = || col(spec.denominator.as_str()).cast(DataType::Float64);
    let count = |e: Expr| e.cast(DataType::Int64).sum();
    let checks = lf
        .clone()
        .filter(side.clone().is_not_null())
        .select([
            count(y().is_null()).alias("y_null"),
            count(x().is_null()).alias("x_null"),
            count(y().lt(lit(0.0))).alias("y_neg"),
            count(x().lt(lit(0.0))).alias("x_neg"),
            count(
                y().neq(y().floor())
                    .or(x().neq(x().floor()))
                    .or(y().gt(x())),
            )
            .alias("not_counts"),
            len().alias("rows"),
        ])
        .collect()?;
    let get = |c: &str| -> i64 {
        checks
            .column(c)
            .ok()
            .and_then(|s| s.get(0).ok())
            .and_then(|v| v.extract::<i64>())
            .unwrap_or(0)
    };
    for (column, nulls, negs) in [
        (&spec.numerator, get("y_null"), get("y_neg")),
        (&spec.denominator, get("x_null"), get("x_neg")),
    ] {
        if nulls > 0 {
            return Err(ExplainError::BadColumn {
                column: column.clone(),
                problem: format!("{nulls} rows of the two periods are empty or not numbers"),
            });
        }
        if negs > 0 {
            return Err(ExplainError::BadColumn {
                column: column.clone(),
                problem: format!("{negs} rows are negative; a rate needs counts or amounts >= 0"),
            });
        }
    }
    // Whole numbers with numerator <= denominator are successes out of trials.
    let model = if get("not_counts") == 0 {
        Model::Binomial
    } else {
        Model::Ratio
    };
    let table = aggregate::cells(
        lf,
        aggregate::Request {
            side,
            dims: &spec.dimensions,
            den: x(),
            nums: vec![y()],
            filter: None,
            model,
            units: (model == Model::Binomial).then(x),
        },
    )?;
    let name = spec.name();
    let subject = Subject {
        metric: name.clone(),
        label: format!("the rate {name}"),
        short: "rate".into(),
        branches: vec![],
        branch_labels: vec![],
        percent: model == Model::Binomial,
        den_label: format!("rows with `{}` above 0", spec.denominator),
        period: PeriodRef::label(after),
        vs: PeriodRef::label(before),
    };
    engine::run(&table, &subject, &Policy::from_config(cfg))
}

/// The period `--period` defaults to: last week in `tz` relative to `now` when the data covers
/// it (its events start before that week and run to its end); otherwise, for an export from
/// the past (or one that does not reach the end of last week), the last full ISO week of the
/// data: the week of the last event if that event falls on the week's Sunday (local time), else
/// the week before it. `span` is the first and last event.
pub fn default_period(
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Period {
    let last_week = Period::week_of(now.with_timezone(&tz).date_naive(), tz).previous();
    match span {
        Some((first, last)) if !(first < last_week.start_utc() && last >= last_week.end_utc()) => {
            let day = last.with_timezone(&tz).date_naive();
            let week = Period::week_of(day, tz);
            if day.weekday() == Weekday::Sun {
                week
            } else {
                week.previous()
            }
        }
        _ => last_week,
    }
}

/// The branches a metric splits into under `cfg` (empty for measures without a tree).
pub fn branches_of(metric: Metric, cfg: &Config) -> Vec<Cause> {
    metric.branches(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn default_period_follows_the_data_when_it_ends_early() {
        let tz = chrono_tz::UTC;
        // Now: Saturday 2026-11-21 (week 47), so last week is W46.
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        let at = |m: u32, d: u32| Utc.with_ymd_and_hms(2026, m, d, 9, 0, 0).unwrap();
        assert_eq!(default_period(None, tz, now).label(), "2026-W46");
        // Data from October running into this week covers last week: last week.
        let current = (at(10, 1), at(11, 20));
        assert_eq!(default_period(Some(current), tz, now).label(), "2026-W46");
        // Data ending on Wednesday 2026-03-11 (W11): W11 is partial, so W10.
        let old = (at(2, 1), at(3, 11));
        assert_eq!(default_period(Some(old), tz, now).label(), "2026-W10");
        // Data ending on Sunday 2026-03-15 (the last day of W11): W11.
        let sunday = (at(2, 1), at(3, 15));
        assert_eq!(default_period(Some(sunday), tz, now).label(), "2026-W11");
    }
}
