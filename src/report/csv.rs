//! The CSV attachment of segment movements: every row, whole names, rates as fractions (as in
//! JSON), written with polars' CSV writer.

use super::view::SegmentMove;
use polars::prelude::*;

/// A value a spreadsheet would run as a formula (`=HYPERLINK(...)` as a team name) gets a
/// leading apostrophe: helpdesk names are user input (OWASP "CSV injection").
fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// CSV bytes of `rows`, with a header: the period compared, each segment's rates, the change
/// with its Newcombe 95 % interval (points), whether the interval leaves out zero, and
/// whether the segment is below `explain.min_segment_size`.
pub fn movements_csv(rows: &[SegmentMove], period: &str, previous: &str) -> PolarsResult<Vec<u8>> {
    let b = |name: &str, v: Vec<bool>| Column::new(name.into(), v);
    let s = |name: &str, v: Vec<String>| Column::new(name.into(), v);
    let f = |name: &str, v: Vec<Option<f64>>| Column::new(name.into(), v);
    let i = |name: &str, v: Vec<i64>| Column::new(name.into(), v);
    let mut df = DataFrame::new(
        rows.len(),
        vec![
            s(
                "dimension",
                rows.iter().map(|r| defuse(&r.dimension)).collect(),
            ),
            s("segment", rows.iter().map(|r| defuse(&r.value)).collect()),
            s(
                "cause",
                rows.iter().map(|r| r.cause.as_str().to_string()).collect(),
            ),
            f("rate", rows.iter().map(|r| r.rate).collect()),
            f("rate_before", rows.iter().map(|r| r.rate_before).collect()),
            f("change_pp", rows.iter().map(|r| r.change_pp).collect()),
            f(
                "change_ci_low_pp",
                rows.iter().map(|r| r.ci_pp.map(|c| c[0])).collect(),
            ),
            f(
                "change_ci_high_pp",
                rows.iter().map(|r| r.ci_pp.map(|c| c[1])).collect(),
            ),
            b("significant", rows.iter().map(|r| r.significant).collect()),
            b("small", rows.iter().map(|r| r.small).collect()),
            i(
                "conversations",
                rows.iter().map(|r| r.conversations).collect(),
            ),
            i(
                "conversations_before",
                rows.iter().map(|r| r.conversations_before).collect(),
            ),
            s("period", vec![period.to_string(); rows.len()]),
            s("previous_period", vec![previous.to_string(); rows.len()]),
        ],
    )?;
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(true)
        .finish(&mut df)?;
    Ok(out)
}
