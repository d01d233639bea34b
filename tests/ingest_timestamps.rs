//! `at` in every shape a real export has: naive and time-zone-aware Parquet datetimes, integer
//! and text Unix epochs in any unit, RFC 3339 text. Good rows get the right UTC instant, bad rows
//! are quarantined with their reason and never fail the run.

use baton::config::SourceFormat;
use baton::ingest::{read_canonical, Ingested};
use polars::prelude::*;
use std::collections::BTreeMap;

/// 2026-11-10T09:00:00Z, 09:01 and 09:02, in microseconds.
const T0_US: i64 = 1_794_301_200_000_000;
const MINUTE_US: i64 = 60_000_000;

fn instants() -> [i64; 3] {
    [T0_US, T0_US + MINUTE_US, T0_US + 2 * MINUTE_US]
}

/// Three rows of one conversation, the last with an unknown event.
fn frame(at: Column) -> DataFrame {
    let mut df = df!(
        "conversation_id" => ["c1", "c1", "c1"],
        "event" => ["created", "resolved", "teleported"],
        "team" => [Some("Billing"), None, None],
    )
    .unwrap();
    df.with_column(at.with_name("at".into())).unwrap();
    df
}

fn parquet(mut df: DataFrame) -> Vec<u8> {
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
    bytes
}

fn read(bytes: &[u8], format: SourceFormat, ts: Option<&str>) -> Ingested {
    read_canonical(bytes, format, &BTreeMap::new(), ts).unwrap()
}

fn at_us(ing: &Ingested) -> Vec<i64> {
    let at = ing.events.column("at").unwrap();
    assert_eq!(
        at.dtype(),
        &DataType::Datetime(TimeUnit::Microseconds, None)
    );
    at.to_physical_repr()
        .i64()
        .unwrap()
        .iter()
        .flatten()
        .collect()
}

fn assert_two_good_one_bad(ing: &Ingested, what: &str) {
    assert_eq!(at_us(ing), instants()[..2].to_vec(), "{what}");
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("unknown event".to_string(), 1)]),
        "{what}"
    );
    let row = ing.quarantine.rows.column("row").unwrap();
    assert_eq!(row.i64().unwrap().get(0), Some(2), "{what}");
    // The quarantined `at` is kept as text for the operator.
    let at = ing.quarantine.rows.column("at").unwrap();
    assert_eq!(at.dtype(), &DataType::String, "{what}");
    assert!(at.str().unwrap().get(0).is_some(), "{what}");
}

fn datetime(unit: TimeUnit, tz: Option<&str>) -> Column {
    let per_us = |v: i64| match unit {
        TimeUnit::Nanoseconds => v * 1000,
        TimeUnit::Microseconds => v,
        TimeUnit::Milliseconds => v / 1000,
    };
    let tz = TimeZone::opt_try_new(tz).unwrap();
    Int64Chunked::from_vec("at".into(), instants().map(per_us).to_vec())
        .into_datetime(unit, tz)
        .into_column()
}

#[test]
fn parquet_datetimes_naive_and_time_zone_aware_with_a_bad_row() {
    let cases = [
        (TimeUnit::Microseconds, Some("UTC")),
        (TimeUnit::Microseconds, None),
        (TimeUnit::Milliseconds, Some("+05:30")),
        (TimeUnit::Nanoseconds, Some("America/New_York")),
    ];
    for (unit, tz) in cases {
        let col = datetime(unit, tz);
        let bytes = parquet(frame(col));
        // The file really holds a zoned timestamp.
        let back = ParquetReader::new(std::io::Cursor::new(&bytes))
            .finish()
            .unwrap();
        assert!(
            matches!(back.column("at").unwrap().dtype(), DataType::Datetime(_, z) if z.as_ref().map(|z| z.as_str()) == tz),
            "{tz:?}: {:?}",
            back.column("at").unwrap().dtype()
        );
        let ing = read(&bytes, SourceFormat::Parquet, None);
        assert_two_good_one_bad(&ing, &format!("{unit:?} {tz:?}"));
        // Zoned and naive values are shown as the UTC instant.
        let at = ing.quarantine.rows.column("at").unwrap();
        assert_eq!(
            at.str().unwrap().get(0),
            Some("2026-11-10T09:02:00.000000Z"),
            "{tz:?}"
        );
    }
}

#[test]
fn parquet_integer_epochs_in_any_unit_and_text() {
    let secs = instants().map(|us| us / 1_000_000);
    let cases: Vec<(&str, Column)> = vec![
        ("seconds", Column::new("at".into(), secs)),
        (
            "milliseconds",
            Column::new("at".into(), secs.map(|s| s * 1000)),
        ),
        ("microseconds", Column::new("at".into(), instants())),
        (
            "nanoseconds",
            Column::new("at".into(), instants().map(|u| u * 1000)),
        ),
        (
            "RFC 3339 text with offsets",
            Column::new(
                "at".into(),
                [
                    "2026-11-10T14:30:00+05:30",
                    "2026-11-10T04:01:00-05:00",
                    "2026-11-10T09:02:00Z",
                ],
            ),
        ),
    ];
    for (what, col) in cases {
        let ing = read(&parquet(frame(col)), SourceFormat::Parquet, None);
        assert_two_good_one_bad(&ing, what);
    }
}

#[test]
fn csv_epoch_milliseconds_are_detected() {
    let ms = instants().map(|us| us / 1000);
    let csv = format!(
        "conversation_id,at,event\nc1,{},created\nc1,{},resolved\nc1,{},teleported\n",
        ms[0], ms[1], ms[2]
    );
    let ing = read(csv.as_bytes(), SourceFormat::Csv, None);
    assert_two_good_one_bad(&ing, "CSV milliseconds");
    // The same with the unit configured.
    let ing = read(csv.as_bytes(), SourceFormat::Csv, Some("epoch_ms"));
    assert_two_good_one_bad(&ing, "CSV epoch_ms");
}

#[test]
fn a_configured_epoch_unit_wins_and_implausible_instants_are_quarantined() {
    let secs = instants().map(|us| us / 1_000_000);
    let csv = format!(
        "conversation_id,at,event\nc1,{},created\nc1,{},resolved\nc1,{},message\n",
        secs[0], secs[1], secs[2]
    );
    // Seconds read as milliseconds land in 1970: every row is implausible, none is an event.
    let ing = read(csv.as_bytes(), SourceFormat::Csv, Some("epoch_ms"));
    assert_eq!(ing.events.height(), 0);
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("implausible timestamp".to_string(), 3)])
    );
    let ing = read(csv.as_bytes(), SourceFormat::Csv, Some("epoch_s"));
    assert_eq!(at_us(&ing), instants().to_vec());
    // An unknown epoch unit is a configuration mistake, said as such.
    let err = read_canonical(
        csv.as_bytes(),
        SourceFormat::Csv,
        &BTreeMap::new(),
        Some("epoch_minutes"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("epoch_minutes"), "{err}");
}

#[test]
fn outliers_among_good_epochs_are_quarantined_not_read_as_the_year_57000() {
    // Milliseconds, with one value in seconds (1970 as milliseconds), one far future and one
    // RFC 3339 value from 1850.
    let ms = instants().map(|us| us / 1000);
    let csv = format!(
        "conversation_id,at,event\n\
         c1,{},created\n\
         c1,{},message\n\
         c1,{},resolved\n\
         c2,1794301200,created\n\
         c3,99999999999999,created\n\
         c4,1850-01-01T00:00:00Z,created\n\
         c5,2026-11-10T09:00:00.5Z,created\n",
        ms[0], ms[1], ms[2]
    );
    let ing = read(csv.as_bytes(), SourceFormat::Csv, None);
    assert_eq!(
        at_us(&ing),
        vec![
            T0_US,
            T0_US + MINUTE_US,
            T0_US + 2 * MINUTE_US,
            T0_US + 500_000
        ]
    );
    assert_eq!(
        ing.quarantine.counts,
        BTreeMap::from([("implausible timestamp".to_string(), 3)])
    );
}

#[test]
fn a_strftime_format_still_reads_as_utc() {
    let csv =
        "conversation_id,at,event\nc1,10/11/2026 09:00,created\nc1,10/11/2026 09:01,resolved\n";
    let ing = read(csv.as_bytes(), SourceFormat::Csv, Some("%d/%m/%Y %H:%M"));
    assert_eq!(at_us(&ing), instants()[..2].to_vec());
    assert!(ing.quarantine.is_empty());
}
