//! Exports whose shape is wrong: ragged CSV rows, a body cut off mid-line, bytes that are not
//! UTF-8, a column of the wrong type. Each is quarantined row by row with its reason and row
//! number, or (a wrong column type) fails naming the column and its type; none is read as if it
//! were fine.

use baton::config::SourceFormat;
use baton::ingest::{read_canonical, IngestError, Ingested};
use polars::prelude::*;
use std::collections::BTreeMap;

fn read(bytes: &[u8], format: SourceFormat) -> Ingested {
    read_canonical(bytes, format, &BTreeMap::new(), None).unwrap()
}

fn ids(ing: &Ingested) -> Vec<String> {
    ing.events
        .column("conversation_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(String::from)
        .collect()
}

fn rows_of(ing: &Ingested, problem: &str) -> Vec<i64> {
    let q = &ing.quarantine.rows;
    let problems = q.column("problem").unwrap().str().unwrap();
    let rows = q.column("row").unwrap().i64().unwrap();
    let mut v: Vec<i64> = problems
        .iter()
        .zip(rows.iter())
        .filter(|(p, _)| *p == Some(problem))
        .filter_map(|(_, r)| r)
        .collect();
    v.sort();
    v
}

fn event_rows(ing: &Ingested) -> Vec<i64> {
    ing.events
        .column("row")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .flatten()
        .collect()
}

#[test]
fn ragged_csv_rows_are_quarantined_with_their_field_count() {
    let csv = "conversation_id,at,event,team\n\
               c1,2026-11-10T09:00:00Z,created,Billing\n\
               c2,2026-11-10T09:00:00Z,created,Billing,extra\n\
               c3,2026-11-10T09:00:00Z,created\n\
               c4,2026-11-10T09:00:00Z,created,\"Billing, second line\n\
               of the team\"\n\
               c5,2026-11-10T09:00:00Z,created,\"a, b\",\"c\"\n\
               c6,2026-11-10T09:00:00Z,created,Billing\n";
    let ing = read(csv.as_bytes(), SourceFormat::Csv);
    assert_eq!(ids(&ing), ["c1", "c4", "c6"]);
    // Positions in the export are kept for the rows after the bad ones.
    assert_eq!(event_rows(&ing), [0, 3, 5]);
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([
            ("wrong number of fields (5, expected 4)".to_string(), 2),
            ("wrong number of fields (3, expected 4)".to_string(), 1),
        ])
    );
    assert_eq!(
        rows_of(&ing, "wrong number of fields (5, expected 4)"),
        [1, 4]
    );
    assert_eq!(rows_of(&ing, "wrong number of fields (3, expected 4)"), [2]);
    // The quarantined row keeps what it had, under the header's names.
    let q = &ing.quarantine.rows;
    let c2 = q
        .column("conversation_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .any(|v| v == "c2");
    assert!(c2, "{q}");
}

#[test]
fn a_body_cut_mid_line_is_a_partial_last_line() {
    let whole = "conversation_id,at,event,team\n\
                 c1,2026-11-10T09:00:00Z,created,Billing\n\
                 c1,2026-11-10T09:05:00Z,resolved,Billing\n\
                 c2,2026-11-10T09:00:00Z,created,Billing\n";
    // Cut inside the last row: fewer fields and no newline.
    let cut = &whole[..whole.len() - 20];
    let ing = read(cut.as_bytes(), SourceFormat::Csv);
    assert_eq!(ids(&ing), ["c1", "c1"]);
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("partial last line".to_string(), 1)])
    );
    assert_eq!(rows_of(&ing, "partial last line"), [2]);
    // Cut inside a quoted field.
    let quoted = format!("{}c3,2026-11-10T09:00:00Z,created,\"Bill", whole);
    let ing = read(quoted.as_bytes(), SourceFormat::Csv);
    assert_eq!(ids(&ing), ["c1", "c1", "c2"]);
    assert_eq!(rows_of(&ing, "partial last line"), [3]);
    // A last line without a newline but whole is fine.
    let ing = read(whole.trim_end().as_bytes(), SourceFormat::Csv);
    assert_eq!(ids(&ing), ["c1", "c1", "c2"]);
    assert!(ing.quarantine.is_empty(), "{:?}", ing.quarantine.counts);
}

#[test]
fn csv_rows_with_invalid_utf8_are_quarantined_and_the_rest_read() {
    let mut csv = b"conversation_id,at,event,team\n\
                    c1,2026-11-10T09:00:00Z,created,Billing\n"
        .to_vec();
    csv.extend_from_slice(b"c2,2026-11-10T09:00:00Z,created,Bill\xffing\n");
    csv.extend_from_slice(b"c3,2026-11-10T09:00:00Z,created,Caf\xc3\xa9\n");
    let ing = read(&csv, SourceFormat::Csv);
    assert_eq!(ids(&ing), ["c1", "c3"]);
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("invalid UTF-8".to_string(), 1)])
    );
    assert_eq!(rows_of(&ing, "invalid UTF-8"), [1]);
    assert_eq!(event_rows(&ing), [0, 2]);
}

#[test]
fn jsonl_lines_with_invalid_utf8_are_quarantined_not_replaced() {
    let mut text =
        br#"{"conversation_id": "c1", "at": "2026-11-10T09:00:00Z", "event": "created"}"#.to_vec();
    text.push(b'\n');
    text.extend_from_slice(
        b"{\"conversation_id\": \"c2\", \"at\": \"2026-11-10T09:00:00Z\", \"event\": \"created\", \"team\": \"Bill\xffing\"}\n",
    );
    text.extend_from_slice(
        br#"{"conversation_id": "c3", "at": "2026-11-10T09:00:00Z", "event": "created"}"#,
    );
    let ing = read(&text, SourceFormat::Jsonl);
    assert_eq!(ids(&ing), ["c1", "c3"]);
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("invalid UTF-8".to_string(), 1)])
    );
    assert_eq!(rows_of(&ing, "invalid UTF-8"), [1]);
}

fn parquet(mut df: DataFrame) -> Vec<u8> {
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
    bytes
}

fn base() -> DataFrame {
    df!(
        "conversation_id" => ["c1", "c1"],
        "at" => ["2026-11-10T09:00:00Z", "2026-11-10T09:05:00Z"],
        "event" => ["created", "resolved"],
    )
    .unwrap()
}

#[test]
fn a_struct_team_column_is_an_error_naming_column_and_type() {
    let mut df = base();
    let name = Series::new("name".into(), ["Billing", "Billing"]);
    let team = StructChunked::from_series("team".into(), 2, [name].iter())
        .unwrap()
        .into_series();
    df.with_column(team.into_column()).unwrap();
    let err =
        read_canonical(&parquet(df), SourceFormat::Parquet, &BTreeMap::new(), None).unwrap_err();
    match &err {
        IngestError::WrongType { column, dtype, .. } => {
            assert_eq!(column, "team");
            assert!(dtype.starts_with("struct"), "{dtype}");
        }
        other => panic!("expected WrongType, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("`team`") && msg.contains("struct"), "{msg}");
}

#[test]
fn list_and_binary_columns_are_errors_too() {
    let mut df = base();
    let agent = Series::new(
        "agent".into(),
        [
            Series::new("".into(), ["ann"]),
            Series::new("".into(), ["bob"]),
        ],
    );
    df.with_column(agent.into_column()).unwrap();
    let err =
        read_canonical(&parquet(df), SourceFormat::Parquet, &BTreeMap::new(), None).unwrap_err();
    assert!(
        matches!(&err, IngestError::WrongType { column, .. } if column == "agent"),
        "{err}"
    );
    let mut df = base();
    let id = Series::new(
        "conversation_id".into(),
        [b"c1".as_slice(), b"c1".as_slice()],
    );
    df.with_column(id.into_column()).unwrap();
    let err =
        read_canonical(&parquet(df), SourceFormat::Parquet, &BTreeMap::new(), None).unwrap_err();
    assert!(
        matches!(&err, IngestError::WrongType { column, .. } if column == "conversation_id"),
        "{err}"
    );
    // A boolean `at` is not a time either.
    let mut df = base();
    df.with_column(Column::new("at".into(), [true, false]))
        .unwrap();
    let err =
        read_canonical(&parquet(df), SourceFormat::Parquet, &BTreeMap::new(), None).unwrap_err();
    assert!(
        matches!(&err, IngestError::WrongType { column, .. } if column == "at"),
        "{err}"
    );
}
