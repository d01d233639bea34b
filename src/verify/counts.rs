//! The only polars code of verification: the conversation facts -> the [`Counts`] of one fix
//! (conversations resolved in each window, in and outside the scope, with the branch as the
//! cause of their first handoff; the scope's intake mix; the other segments of its dimension).

use super::assess::{Cell, Counts, MixCounts};
use crate::config::Fix;
use crate::domain::{Dimension, Period};
use crate::metrics::{fact, NONE_VALUE};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use polars::prelude::*;

/// Local midnight of `d` in `tz`, as an instant.
pub(super) fn midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    Period::range(d, d + Duration::days(1), tz)
        .expect("one day is not empty")
        .start_utc()
}

/// The local days `[start, end)` of the before and after windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Windows {
    pub before: (NaiveDate, NaiveDate),
    pub after: (NaiveDate, NaiveDate),
}

impl Windows {
    fn micros(range: (NaiveDate, NaiveDate), tz: Tz) -> (i64, i64) {
        (
            midnight(range.0, tz).timestamp_micros(),
            midnight(range.1, tz).timestamp_micros(),
        )
    }
}

/// A dimension's column as text, `(none)` where the export gave no value.
fn label(d: Dimension) -> Expr {
    col(d.as_str())
        .cast(DataType::String)
        .fill_null(lit(NONE_VALUE))
}

fn matches(d: Dimension, value: &str) -> Expr {
    label(d).str().to_lowercase().eq(lit(value.to_lowercase()))
}

/// The intake dimensions whose mix within the scope is checked.
const MIX_DIMENSIONS: [Dimension; 2] = [Dimension::Channel, Dimension::Topic];

pub(super) fn counts(
    conversations: &DataFrame,
    fix: &Fix,
    w: &Windows,
    tz: Tz,
) -> PolarsResult<Counts> {
    let (b0, b1) = Windows::micros(w.before, tz);
    let (a0, a1) = Windows::micros(w.after, tz);
    let t = col(fact::RESOLVED_AT).cast(DataType::Int64);
    let within = |a: i64, b: i64| t.clone().gt_eq(lit(a)).and(t.clone().lt(lit(b)));
    let side = when(within(b0, b1))
        .then(lit(0i32))
        .when(within(a0, a1))
        .then(lit(1i32))
        .otherwise(lit(NULL).cast(DataType::Int32));
    let in_scope = fix
        .scope
        .pairs()
        .iter()
        .fold(lit(true), |acc, (d, v)| acc.and(matches(*d, v)));
    let y = col(fact::FIRST_CAUSE)
        .cast(DataType::String)
        .eq(lit(fix.branch.as_str()))
        .fill_null(lit(false));
    // For a scope of one dimension, its other values are the similar-segment candidates.
    let segment_dim = match fix.scope.pairs() {
        [(d, _)] => Some(*d),
        _ => None,
    };
    let mut keys: Vec<Dimension> = MIX_DIMENSIONS.to_vec();
    if let Some(d) = segment_dim.filter(|d| !keys.contains(d)) {
        keys.push(d);
    }
    let mut by = vec![col("side"), col("in_scope")];
    by.extend(keys.iter().map(|d| col(d.as_str())));
    let grouped = conversations
        .clone()
        .lazy()
        .select(
            [side.alias("side"), in_scope.alias("in_scope"), y.alias("y")]
                .into_iter()
                .chain(keys.iter().map(|d| label(*d).alias(d.as_str())))
                .collect::<Vec<_>>(),
        )
        .filter(col("side").is_not_null())
        .group_by(by)
        .agg([
            len().cast(DataType::UInt64).alias("n"),
            col("y").cast(DataType::UInt64).sum().alias("x"),
        ])
        .collect()?;

    let sides = grouped.column("side")?.i32()?.clone();
    let scoped = grouped.column("in_scope")?.bool()?.clone();
    let n = grouped.column("n")?.u64()?.clone();
    let x = grouped.column("x")?.u64()?.clone();
    let values: Vec<StringChunked> = keys
        .iter()
        .map(|d| grouped.column(d.as_str()).and_then(|c| c.str().cloned()))
        .collect::<PolarsResult<_>>()?;

    let mut out = Counts {
        days_after: (w.after.1 - w.after.0).num_days(),
        segments_dimension: segment_dim,
        ..Counts::default()
    };
    let mut mixes: Vec<(Dimension, MixCounts)> = MIX_DIMENSIONS
        .iter()
        .filter(|d| fix.scope.value_of(**d).is_none())
        .map(|d| (*d, Vec::new()))
        .collect();
    for r in 0..grouped.height() {
        let (Some(side), Some(inside)) = (sides.get(r), scoped.get(r)) else {
            continue;
        };
        let cell = Cell::new(n.get(r).unwrap_or(0), x.get(r).unwrap_or(0));
        let after = side == 1;
        match (inside, after) {
            (true, false) => out.scope_before.add(cell),
            (true, true) => out.scope_after.add(cell),
            (false, false) => out.rest_before.add(cell),
            (false, true) => out.rest_after.add(cell),
        }
        let value_of = |d: Dimension| {
            let k = keys.iter().position(|x| *x == d).expect("a grouped key");
            values[k].get(r).unwrap_or(NONE_VALUE).to_string()
        };
        if inside {
            for (d, rows) in &mut mixes {
                let v = value_of(*d);
                let row = match rows.iter_mut().position(|(x, _, _)| *x == v) {
                    Some(i) => &mut rows[i],
                    None => {
                        rows.push((v, 0, 0));
                        rows.last_mut().expect("just pushed")
                    }
                };
                if after {
                    row.2 += cell.conversations;
                } else {
                    row.1 += cell.conversations;
                }
            }
        } else if let Some(d) = segment_dim {
            let v = value_of(d);
            let i = match out.segments.iter().position(|(x, _, _)| *x == v) {
                Some(i) => i,
                None => {
                    out.segments.push((v, Cell::default(), Cell::default()));
                    out.segments.len() - 1
                }
            };
            if after {
                out.segments[i].2.add(cell);
            } else {
                out.segments[i].1.add(cell);
            }
        }
    }
    for (_, rows) in &mut mixes {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
    }
    out.segments.sort_by(|a, b| a.0.cmp(&b.0));
    out.mixes = mixes;
    Ok(out)
}

/// The scope values (`dimension=value`) no conversation of the facts has.
pub(super) fn unseen_values(conversations: &DataFrame, fix: &Fix) -> PolarsResult<Vec<String>> {
    let pairs = fix.scope.pairs();
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let found = conversations
        .clone()
        .lazy()
        .select(
            pairs
                .iter()
                .enumerate()
                .map(|(i, (d, v))| matches(*d, v).any(true).alias(format!("p{i}")))
                .collect::<Vec<_>>(),
        )
        .collect()?;
    let mut out = Vec::new();
    for (i, (d, v)) in pairs.iter().enumerate() {
        let seen = found
            .column(&format!("p{i}"))?
            .bool()?
            .get(0)
            .unwrap_or(false);
        if !seen {
            out.push(format!("{d}={v}"));
        }
    }
    Ok(out)
}

/// First and last `resolved_at` of the facts.
pub(super) fn resolved_span(
    conversations: &DataFrame,
) -> PolarsResult<Option<(DateTime<Utc>, DateTime<Utc>)>> {
    let t = conversations
        .column(fact::RESOLVED_AT)?
        .cast(&DataType::Int64)?;
    let t = t.i64()?;
    Ok(match (t.min(), t.max()) {
        (Some(a), Some(b)) => {
            DateTime::from_timestamp_micros(a).zip(DateTime::from_timestamp_micros(b))
        }
        _ => None,
    })
}
