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

/// CSV bytes of `rows`, with a header.
pub fn movements_csv(rows: &[SegmentMove]) -> PolarsResult<Vec<u8>> {
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
            i(
                "conversations",
                rows.iter().map(|r| r.conversations).collect(),
            ),
            i(
                "conversations_before",
                rows.iter().map(|r| r.conversations_before).collect(),
            ),
        ],
    )?;
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(true)
        .finish(&mut df)?;
    Ok(out)
}
