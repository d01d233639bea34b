//! From a frame of units (conversation facts, or the rows of any table) to the finest cells of
//! two periods: one lazy polars `group_by` over the period and every dimension at once.
//!
//! One pass over the finest cells (rather than one per dimension) is enough because every
//! segment, and every combination of segments the localisation searches, is an exact sum of
//! finest cells; the sums are cheap in Rust afterwards.

use super::cells::{CellTable, Counts, Model, Side};
use crate::metrics::NONE_VALUE;
use polars::prelude::*;

/// What to aggregate: `side` is 1 for the period explained, 0 for the one compared against,
/// null for rows in neither.
pub(crate) struct Request<'a> {
    pub side: Expr,
    pub dims: &'a [String],
    pub den: Expr,
    pub nums: Vec<Expr>,
    pub filter: Option<Expr>,
    pub model: Model,
    /// What counts as a unit for the minimum segment size: rows when None, else the sum of
    /// this expression (trials of a pre-aggregated table).
    pub units: Option<Expr>,
}

const SIDE: &str = "__side";
const UNITS: &str = "__units";
const X: &str = "__x";
const XX: &str = "__xx";

fn y(i: usize) -> String {
    format!("__y{i}")
}
fn yy(i: usize) -> String {
    format!("__yy{i}")
}
fn xy(i: usize) -> String {
    format!("__xy{i}")
}
fn d(i: usize) -> String {
    format!("__d{i}")
}

pub(crate) fn cells(lf: LazyFrame, req: Request) -> PolarsResult<CellTable> {
    let series = req.nums.len();
    let lf = match req.filter {
        Some(f) => lf.filter(f),
        None => lf,
    };
    let mut cols = vec![
        req.side.cast(DataType::Int64).alias(SIDE),
        req.den.cast(DataType::Float64).alias(X),
        req.units
            .map(|u| u.cast(DataType::Float64))
            .unwrap_or_else(|| lit(1.0))
            .alias(UNITS),
    ];
    for (i, e) in req.nums.into_iter().enumerate() {
        cols.push(e.cast(DataType::Float64).alias(y(i)));
    }
    for (i, name) in req.dims.iter().enumerate() {
        cols.push(
            col(name.as_str())
                .cast(DataType::String)
                .fill_null(lit(NONE_VALUE))
                .alias(d(i)),
        );
    }
    let mut aggs = vec![col(UNITS).sum().alias(UNITS), col(X).sum().alias(X)];
    for i in 0..series {
        aggs.push(col(y(i)).sum().alias(y(i)));
    }
    if req.model == Model::Ratio {
        aggs.push((col(X) * col(X)).sum().alias(XX));
        for i in 0..series {
            aggs.push((col(y(i)) * col(y(i))).sum().alias(yy(i)));
            aggs.push((col(X) * col(y(i))).sum().alias(xy(i)));
        }
    }
    let mut keys = vec![col(SIDE)];
    keys.extend((0..req.dims.len()).map(|i| col(d(i))));
    let df = lf
        .select(cols)
        .filter(col(SIDE).is_not_null())
        .group_by(keys)
        .agg(aggs)
        .collect()?;

    let f64s = |name: &str| -> PolarsResult<Vec<f64>> {
        Ok(df
            .column(name)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    };
    let side = df.column(SIDE)?.i64()?.clone();
    let dims: Vec<StringChunked> = (0..req.dims.len())
        .map(|i| Ok(df.column(&d(i))?.str()?.clone()))
        .collect::<PolarsResult<_>>()?;
    let units = f64s(UNITS)?;
    let x = f64s(X)?;
    let ys: Vec<Vec<f64>> = (0..series)
        .map(|i| f64s(&y(i)))
        .collect::<PolarsResult<_>>()?;
    let ratio = req.model == Model::Ratio;
    let (xx, yys, xys) = if ratio {
        (
            f64s(XX)?,
            (0..series)
                .map(|i| f64s(&yy(i)))
                .collect::<PolarsResult<Vec<_>>>()?,
            (0..series)
                .map(|i| f64s(&xy(i)))
                .collect::<PolarsResult<Vec<_>>>()?,
        )
    } else {
        (vec![], vec![], vec![])
    };

    let mut table = CellTable::new(req.dims.to_vec(), series, req.model);
    for r in 0..df.height() {
        let side = match side.get(r) {
            Some(1) => Side::After,
            Some(0) => Side::Before,
            _ => continue,
        };
        let keys: Vec<String> = dims
            .iter()
            .map(|c| c.get(r).unwrap_or(NONE_VALUE).to_string())
            .collect();
        let counts = Counts {
            units: units[r],
            den: x[r],
            num: ys.iter().map(|v| v[r]).collect(),
            xx: if ratio { xx[r] } else { 0.0 },
            yy: if ratio {
                yys.iter().map(|v| v[r]).collect()
            } else {
                vec![0.0; series]
            },
            xy: if ratio {
                xys.iter().map(|v| v[r]).collect()
            } else {
                vec![0.0; series]
            },
        };
        table.add(keys, side, &counts);
    }
    Ok(table)
}
