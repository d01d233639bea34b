//! Bad rows are quarantined with their reason and counted, never silently dropped; too many of
//! them fail the run with a clear error.

use baton::config::SourceFormat;
use baton::ingest::{read_canonical, IngestError};
use polars::prelude::DataType;
use std::collections::BTreeMap;

const CSV: &str = "\
conversation_id,at,event,agent,team,owner_kind,author,channel,actor,reason,topic,sentiment
c1,2026-11-10T09:00:00Z,created,,,,,chat,,,billing,
c1,2026-11-10T09:01:00+01:00,assigned,ann,General Support,,,,,,,
c1,1794301320,message,ann,,,agent,,,,,
,2026-11-10T09:03:00Z,message,,,,customer,,,,,
c1,yesterday,message,,,,customer,,,,,
c1,2026-11-10T09:04:00Z,transferred,,,,,,,,,
c1,2026-11-10T09:05:00Z,message,,,,customer,,,,,not-a-number
c1,2026-11-10T09:05:30Z,message,,,,customer,,,,,-1.5
c1,2026-11-10T09:06:00Z,assigned,bob,Technical,robot,,,,,,
c1,2026-11-10T09:07:00Z,Resolved,,,,,,,,,
";

#[test]
fn each_bad_row_is_set_aside_with_its_reason() {
    let ing = read_canonical(CSV.as_bytes(), SourceFormat::Csv, &BTreeMap::new(), None).unwrap();
    // 10 data rows: 4 valid (created, assigned, the Unix-seconds message, Resolved in any case),
    // 6 bad, one per reason.
    assert_eq!(ing.events.height(), 4);
    assert_eq!(ing.quarantine.len(), 6);
    let expected = BTreeMap::from([
        ("missing conversation_id".to_string(), 1),
        ("unparsable timestamp".to_string(), 1),
        ("unknown event".to_string(), 1),
        ("sentiment not a number in [-1, 1]".to_string(), 2),
        ("unknown owner_kind".to_string(), 1),
    ]);
    assert_eq!(ing.quarantine.counts, expected);
    // The quarantined rows keep their position in the export and their original text.
    let rows = ing
        .quarantine
        .rows
        .column("row")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .flatten()
        .collect::<Vec<_>>();
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(sorted, vec![3, 4, 5, 6, 7, 8]);
    let at = ing
        .quarantine
        .rows
        .column("at")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .any(|s| s == "yesterday");
    assert!(at, "the unparsable value is kept for the operator");
    // 09:01+01:00 is 08:01 UTC: it sorts before the 09:00Z creation.
    let events = ing
        .events
        .column("event")
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(String::from)
        .collect::<Vec<_>>();
    assert_eq!(events, ["assigned", "created", "message", "resolved"]);
    // owner_kind defaults to human.
    assert!(ing
        .events
        .column("owner_kind")
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .all(|k| k == Some("human")));
}

#[test]
fn too_many_bad_rows_fail_with_a_clear_error() {
    let ing = read_canonical(CSV.as_bytes(), SourceFormat::Csv, &BTreeMap::new(), None).unwrap();
    // 6 of 10 rows are bad: 60 % is over a 5 % limit and under a 70 % one.
    let err = ing.check_threshold(0.05).unwrap_err();
    assert!(
        matches!(
            err,
            IngestError::TooManyBad {
                bad: 6,
                total: 10,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("60.0 %")
            && msg.contains("nothing was sent")
            && msg.contains("sentiment not a number in [-1, 1] (2)"),
        "{msg}"
    );
    assert!(ing.check_threshold(0.7).is_ok());
}

#[test]
fn jsonl_with_a_truncated_line_and_a_column_map() {
    let text = r#"{"ticket": 7, "when": 1794301200, "kind": "created", "queue": "Billing"}
{"ticket": "7", "when": "2026-11-10T09:01:00Z", "kind": "assigned", "queue": "Billing", "agent": null}
{"ticket": 7, "when": "2026-11-10T09:02:00Z", "kind": "resol
{"ticket": 7, "when": "2026-11-10T09:03:00Z", "kind": "resolved"}
"#;
    let map = BTreeMap::from([
        ("ticket".to_string(), "conversation_id".to_string()),
        ("when".to_string(), "at".to_string()),
        ("kind".to_string(), "event".to_string()),
        ("queue".to_string(), "team".to_string()),
    ]);
    let ing = read_canonical(text.as_bytes(), SourceFormat::Jsonl, &map, None).unwrap();
    assert_eq!(ing.events.height(), 3);
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("not valid JSON".to_string(), 1)])
    );
    // Numeric and string ids are the same conversation.
    let ids = ing
        .events
        .column("conversation_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(String::from)
        .collect::<Vec<_>>();
    assert_eq!(ids, ["7", "7", "7"]);
}

#[test]
fn a_missing_required_column_is_named() {
    let err = read_canonical(
        b"id,at,event\n1,2026-11-10T09:00:00Z,created\n",
        SourceFormat::Csv,
        &BTreeMap::new(),
        None,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no `conversation_id` column") && msg.contains("id, at, event"),
        "{msg}"
    );
}
