//! Reading canonical exports and checking every row against METRICS.md section 1.

use super::csv_scan;
use super::labels::{self, label_dtype, LABEL_COLUMNS};
use super::timestamps::{self, TimestampFormat, PLAUSIBLE_US};
use crate::config::SourceFormat;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::io::Cursor;

/// The canonical columns, in order. `at` is a UTC datetime (microseconds), `sentiment` a float,
/// `conversation_id` text and every other column a label (see [`label_dtype`]).
pub const CANONICAL_COLUMNS: [&str; 12] = [
    "conversation_id",
    "at",
    "event",
    "agent",
    "team",
    "owner_kind",
    "author",
    "channel",
    "actor",
    "reason",
    "topic",
    "sentiment",
];

const REQUIRED: [&str; 3] = ["conversation_id", "at", "event"];

/// The quarantine reason of a row identical to an earlier one.
const DUPLICATE_ROW: &str = "duplicate row";

/// The text columns: the id and the labels.
fn text_columns() -> impl Iterator<Item = &'static str> {
    std::iter::once("conversation_id").chain(LABEL_COLUMNS.iter().copied())
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the export has no `{column}` column (columns found: {found}); map yours with [sources.NAME.columns]")]
    MissingColumn { column: String, found: String },
    #[error("cannot read the export as {format}: {reason}")]
    Unreadable { format: String, reason: String },
    #[error("{bad} of {total} rows ({share:.1} %) are malformed, over the {limit:.1} % limit; nothing was sent. Most common: {top}")]
    TooManyBad {
        bad: usize,
        total: usize,
        share: f64,
        limit: f64,
        top: String,
    },
    #[error("column `{column}` is of type {dtype}, expected {expected}; export it as such or map another column with [sources.NAME.columns]")]
    WrongType {
        column: String,
        dtype: String,
        expected: &'static str,
    },
    #[error("timestamp_format = \"{format}\" is {reason}")]
    TimestampFormat { format: String, reason: String },
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// Rows set aside, with the reason for each.
#[derive(Debug, Clone)]
pub struct Quarantine {
    /// The offending rows as text, with `row` (0-based position in the export) and `problem`.
    pub rows: DataFrame,
    /// Reason -> rows.
    pub counts: BTreeMap<String, usize>,
}

impl Quarantine {
    pub fn len(&self) -> usize {
        self.rows.height()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.height() == 0
    }
}

/// The result of ingesting one export.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// Valid events: the canonical columns plus `row` (source order), sorted by
    /// (`conversation_id`, `at`, `row`).
    pub events: DataFrame,
    pub quarantine: Quarantine,
    /// Valid events left out because they fall outside the window a report reads
    /// ([`Ingested::retain_window`]); still counted in [`Ingested::total_rows`], so the
    /// malformed share is over everything the export held.
    pub outside_window: usize,
    /// First and last instant (µs) of every valid event read, the cut ones included: what
    /// the data covers, for "pick a period inside it".
    pub read_span: Option<(i64, i64)>,
}

impl Ingested {
    /// Every row the export held: valid, malformed, and valid but outside the window.
    pub fn total_rows(&self) -> usize {
        self.events.height() + self.quarantine.len() + self.outside_window
    }

    /// Keeps the events with `start <= at < end`: the one window rule every source follows
    /// (see `PullWindow` in `source`), so a canonical file and a vendor API give a report the
    /// same events. Row order is kept.
    pub fn retain_window(
        &mut self,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), IngestError> {
        let before = self.events.height();
        self.read_span = self.span_micros()?;
        let at = col("at").cast(DataType::Int64);
        let (s, e) = (start.timestamp_micros(), end.timestamp_micros());
        self.events = std::mem::take(&mut self.events)
            .lazy()
            .filter(at.clone().gt_eq(lit(s)).and(at.lt(lit(e))))
            .collect()?;
        self.outside_window += before - self.events.height();
        Ok(())
    }

    /// Fails when the malformed share passes `limit` (a fraction), naming the commonest reasons.
    /// Duplicate rows are left out of both sides: a copy loses nothing, and an export repeated
    /// whole must give the original's numbers, not a failed run.
    pub fn check_threshold(&self, limit: f64) -> Result<(), IngestError> {
        let copies = self
            .quarantine
            .counts
            .get(DUPLICATE_ROW)
            .copied()
            .unwrap_or(0);
        let total = self.total_rows() - copies;
        let bad = self.quarantine.len() - copies;
        if total == 0 || (bad as f64) / (total as f64) <= limit {
            return Ok(());
        }
        let mut counts: Vec<_> = (self.quarantine.counts.iter())
            .filter(|(r, _)| r.as_str() != DUPLICATE_ROW)
            .collect();
        counts.sort_by(|a, b| b.1.cmp(a.1));
        let top = counts
            .iter()
            .take(3)
            .map(|(r, n)| format!("{r} ({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(IngestError::TooManyBad {
            bad,
            total,
            share: 100.0 * bad as f64 / total as f64,
            limit: 100.0 * limit,
            top,
        })
    }

    /// First and last event instant (µs) of what was read, the window's cut included.
    pub fn span_micros(&self) -> Result<Option<(i64, i64)>, IngestError> {
        let at = self.events.column("at")?.cast(&DataType::Int64)?;
        let at = at.i64()?;
        let here = at.min().zip(at.max());
        Ok(span_union(here, self.read_span))
    }

    /// Appends another export's events (several sources feed one run).
    pub fn extend(&mut self, other: Ingested) -> Result<(), IngestError> {
        self.events = concat_sorted(&self.events, &other.events)?;
        self.quarantine.rows.vstack_mut(&other.quarantine.rows)?;
        for (k, v) in other.quarantine.counts {
            *self.quarantine.counts.entry(k).or_default() += v;
        }
        self.outside_window += other.outside_window;
        self.read_span = span_union(self.read_span, other.read_span);
        Ok(())
    }
}

/// The smallest span holding both (either may be empty).
fn span_union(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        (x, y) => x.or(y),
    }
}

fn concat_sorted(a: &DataFrame, b: &DataFrame) -> PolarsResult<DataFrame> {
    let mut out = a.vstack(b)?;
    out = out.sort(
        ["conversation_id", "at", "row"],
        SortMultipleOptions::default().with_maintain_order(true),
    )?;
    Ok(out)
}

/// Reads an export of the given format and normalises it.
pub fn read_canonical(
    bytes: &[u8],
    format: SourceFormat,
    columns: &BTreeMap<String, String>,
    timestamp_format: Option<&str>,
) -> Result<Ingested, IngestError> {
    let unreadable = |format: &str, e: PolarsError| IngestError::Unreadable {
        format: format.into(),
        reason: e.to_string(),
    };
    let (raw, bad_rows) = match format {
        SourceFormat::Csv => {
            // Records polars would truncate, pad or refuse are set aside first (see csv_scan).
            let scanned = csv_scan::scan(bytes)?;
            let mut df = CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0)) // every column as text: we validate ourselves
                .map_parse_options(|o| {
                    o.with_missing_is_null(true)
                        .with_truncate_ragged_lines(true)
                })
                .into_reader_with_file_handle(Cursor::new(scanned.body.as_ref()))
                .finish()
                .map_err(|e| unreadable("CSV", e))?;
            if let Some(rows) = scanned.rows {
                df.with_column(Column::new("row".into(), rows))?;
            }
            let bad = scanned
                .bad
                .into_iter()
                .map(|b| BadRow::with_fields(b.row, b.problem, &scanned.header, b.fields, columns))
                .collect();
            (df, bad)
        }
        SourceFormat::Parquet => {
            let df = read_parquet(bytes).map_err(|e| unreadable("Parquet", e))?;
            (df, Vec::new())
        }
        SourceFormat::Jsonl => read_jsonl(bytes, columns)?,
    };
    let mut ingested = normalise(raw, columns, timestamp_format)?;
    if !bad_rows.is_empty() {
        for b in &bad_rows {
            *ingested
                .quarantine
                .counts
                .entry(b.problem.clone())
                .or_default() += 1;
        }
        let rows = quarantine_frame(bad_rows)?;
        ingested.quarantine.rows.vstack_mut(&rows)?;
    }
    Ok(ingested)
}

/// Reads a Parquet export about a million rows (whole row groups) at a time, encoding each
/// slice's labels before the next is read, so the export never exists whole as text: 1.7 GiB at
/// 8 million events, against 0.7 GiB with labels.
pub fn read_parquet(bytes: &[u8]) -> PolarsResult<DataFrame> {
    read_parquet_in_slices(bytes, 1 << 20)
}

/// [`read_parquet`] with a chosen slice size (in rows; a slice ends at a row group's end).
pub fn read_parquet_in_slices(bytes: &[u8], slice_rows: usize) -> PolarsResult<DataFrame> {
    let mut reader = ParquetReader::new(Cursor::new(bytes));
    let metadata = reader.get_metadata()?.clone();
    let mut slices = Vec::new();
    let (mut start, mut end) = (0usize, 0usize);
    for group in &metadata.row_groups {
        end += group.num_rows();
        if end - start >= slice_rows {
            slices.push((start, end - start));
            start = end;
        }
    }
    if end > start {
        slices.push((start, end - start));
    }
    if slices.len() <= 1 {
        let mut df = reader.finish()?;
        labels::encode_text_columns(&mut df)?;
        return Ok(df);
    }
    let mut all: Option<DataFrame> = None;
    for slice in slices {
        let mut reader = ParquetReader::new(Cursor::new(bytes)).with_slice(Some(slice));
        reader.set_metadata(metadata.clone());
        let mut df = reader.finish()?;
        labels::encode_text_columns(&mut df)?;
        match &mut all {
            Some(all) => {
                all.vstack_mut_owned(df)?;
            }
            None => all = Some(df),
        }
    }
    Ok(all.expect("at least two slices"))
}

/// A row rejected before it reached a frame (a line that is not JSON or not UTF-8, a CSV record
/// of the wrong shape), with what could be read of it.
struct BadRow {
    row: i64,
    problem: String,
    /// Canonical column -> its text in the row.
    values: BTreeMap<&'static str, String>,
}

impl BadRow {
    fn new(row: i64, problem: impl Into<String>) -> BadRow {
        BadRow {
            row,
            problem: problem.into(),
            values: BTreeMap::new(),
        }
    }

    /// A CSV record's fields under the canonical names the header (and the column map) gives.
    fn with_fields(
        row: i64,
        problem: String,
        header: &[String],
        fields: Vec<String>,
        columns: &BTreeMap<String, String>,
    ) -> BadRow {
        let mut b = BadRow::new(row, problem);
        for (name, value) in header.iter().zip(fields) {
            let ours = columns.get(name).unwrap_or(name);
            if let Some(c) = CANONICAL_COLUMNS.iter().find(|c| **c == ours.as_str()) {
                b.values.entry(c).or_insert(value);
            }
        }
        b
    }
}

/// JSON Lines are parsed line by line so one truncated line (or one that is not UTF-8) is
/// quarantined instead of failing the whole export (polars' reader stops at the first bad line).
fn read_jsonl(
    bytes: &[u8],
    columns: &BTreeMap<String, String>,
) -> Result<(DataFrame, Vec<BadRow>), IngestError> {
    // Our column name -> the name in the file.
    let mut source_name: BTreeMap<&str, &str> =
        CANONICAL_COLUMNS.iter().map(|c| (*c, *c)).collect();
    for (theirs, ours) in columns {
        if let Some(slot) = source_name.get_mut(ours.as_str()) {
            *slot = theirs.as_str();
        }
    }
    let mut cols: Vec<Vec<Option<String>>> = vec![Vec::new(); CANONICAL_COLUMNS.len()];
    let mut positions: Vec<i64> = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            bad.push(BadRow::new(i as i64, "invalid UTF-8"));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
            Ok(obj) => {
                positions.push(i as i64);
                for (k, c) in CANONICAL_COLUMNS.iter().enumerate() {
                    let v = obj.get(source_name[c]).and_then(|v| match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    });
                    cols[k].push(v);
                }
            }
            Err(_) => bad.push(BadRow::new(i as i64, "not valid JSON")),
        }
    }
    let mut series: Vec<Column> = CANONICAL_COLUMNS
        .iter()
        .zip(cols)
        .map(|(c, v)| Series::new((*c).into(), v).into())
        .collect();
    let h = positions.len();
    series.push(Series::new("row".into(), positions).into());
    Ok((DataFrame::new(h, series)?, bad))
}

fn quarantine_frame(bad: Vec<BadRow>) -> PolarsResult<DataFrame> {
    let n = bad.len();
    let mut cols: Vec<Column> = CANONICAL_COLUMNS
        .iter()
        .map(|c| {
            let v: Vec<Option<&str>> = bad
                .iter()
                .map(|b| b.values.get(c).map(String::as_str))
                .collect();
            Series::new((*c).into(), v).into()
        })
        .collect();
    cols.push(Series::new("row".into(), bad.iter().map(|b| b.row).collect::<Vec<_>>()).into());
    cols.push(
        Series::new(
            "problem".into(),
            bad.iter().map(|b| b.problem.as_str()).collect::<Vec<_>>(),
        )
        .into(),
    );
    DataFrame::new(n, cols)?.select(quarantine_columns())
}

/// Quarantined rows: their position, every canonical column as text, and the `problem`.
fn quarantine_columns() -> Vec<PlSmallStr> {
    let mut v: Vec<PlSmallStr> = vec!["row".into()];
    v.extend(CANONICAL_COLUMNS.iter().map(|c| PlSmallStr::from(*c)));
    v.push("problem".into());
    v
}

/// Validates a raw frame (any column types) and splits it into events and quarantine.
pub fn normalise(
    mut raw: DataFrame,
    columns: &BTreeMap<String, String>,
    timestamp_format: Option<&str>,
) -> Result<Ingested, IngestError> {
    let timestamp_format = TimestampFormat::parse(timestamp_format)?;
    for (theirs, ours) in columns {
        if raw.get_column_index(theirs).is_some() && theirs != ours {
            if raw.get_column_index(ours).is_some() {
                raw.drop_in_place(ours)?;
            }
            raw.rename(theirs, ours.into())?;
        }
    }
    for c in REQUIRED {
        if raw.get_column_index(c).is_none() {
            let found = raw
                .get_column_names()
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(IngestError::MissingColumn {
                column: c.into(),
                found,
            });
        }
    }
    check_types(&raw)?;
    // Labels that arrive as text are encoded first, each into one chunk, so the check below
    // reads each distinct value once. Columns that need cleaning leave the query below as text
    // and are encoded again after it. Then one chunk per column (a Parquet file arrives in
    // slices): later stages would otherwise merge chunks in every expression that needs them
    // contiguous. Merging after encoding copies 4-byte codes, not the strings.
    labels::encode_text_columns(&mut raw)?;
    raw.rechunk_mut_par();
    let n = raw.height();
    if raw.get_column_index("row").is_none() {
        raw.with_column(
            Series::new("row".into(), (0..n as i64).collect::<Vec<_>>()).into_column(),
        )?;
    }
    for c in text_columns().chain(["sentiment"]) {
        if raw.get_column_index(c).is_none() {
            raw.with_column(Series::full_null(c.into(), n, &DataType::String).into_column())?;
        }
    }
    let at_us =
        timestamps::to_micros(raw.column("at")?.as_materialized_series(), timestamp_format)?;
    raw.with_column(at_us.into_column())?;
    // The quarantine shows `at` as the export gave it, as text; a datetime (zoned or not) as its
    // UTC instant, since formatting a zoned one needs polars' `timezones` feature.
    let at_text = match raw.column("at")?.dtype() {
        DataType::Datetime(..) | DataType::Date => utc_text(col("at_us")),
        _ => col("at").cast(DataType::String),
    };

    let text = |c: &str| {
        col(c)
            .cast(DataType::String)
            .str()
            .strip_chars(lit(NULL))
            .pipe_empty_to_null()
    };
    // Enumerations are compared in lower case; names keep their case. Columns that are clean
    // already (every column of our own Parquet, most exports) are left as they are.
    const ENUMS: [&str; 4] = ["event", "owner_kind", "author", "actor"];
    let mut exprs: Vec<Expr> = Vec::new();
    for c in text_columns() {
        let column = raw.column(c)?;
        let lower = ENUMS.contains(&c);
        let target = if LABEL_COLUMNS.contains(&c) {
            label_dtype()
        } else {
            DataType::String
        };
        exprs.push(match (is_clean_text(column, lower)?, lower) {
            (true, _) if column.dtype() == &target => col(c),
            (true, _) => col(c).cast(DataType::String).alias(c),
            (false, false) => text(c).alias(c),
            (false, true) => text(c).str().to_lowercase().alias(c),
        });
    }
    // The original values stay in `sentiment_raw` and `at` for the quarantine; only text
    // sentiment goes through a string parse (a numeric column is cast as it is).
    let sentiment_is_text = raw.column("sentiment")?.dtype() == &DataType::String;
    exprs.push(col("sentiment").alias("sentiment_raw"));
    exprs.push(if sentiment_is_text {
        col("sentiment")
            .str()
            .strip_chars(lit(NULL))
            .cast(DataType::Float64)
            .alias("sentiment")
    } else {
        col("sentiment").cast(DataType::Float64).alias("sentiment")
    });
    let lf = raw.lazy().with_columns(exprs);

    // A value given but not one of the known ones.
    let one_of = |c: &str, allowed: &[&str]| {
        col(c)
            .is_not_null()
            .and(labels::is_one_of(col(c), allowed).not())
    };
    let checks = [
        (col("conversation_id").is_null(), "missing conversation_id"),
        (col("at_us").is_null(), "unparsable timestamp"),
        (
            col("at_us")
                .lt(lit(PLAUSIBLE_US.0))
                .or(col("at_us").gt_eq(lit(PLAUSIBLE_US.1)))
                .fill_null(lit(false)),
            "implausible timestamp",
        ),
        (col("event").is_null(), "missing event"),
        (
            one_of(
                "event",
                &["created", "assigned", "message", "resolved", "reopened"],
            ),
            "unknown event",
        ),
        (one_of("owner_kind", &["human", "ai"]), "unknown owner_kind"),
        (
            one_of("author", &["customer", "agent", "ai"]),
            "unknown author",
        ),
        (
            one_of("actor", &["human", "automation", "ai"]),
            "unknown actor",
        ),
        (
            col("sentiment_raw").is_not_null().and(
                col("sentiment")
                    .is_null()
                    .or(col("sentiment").abs().gt(lit(1.0))),
            ),
            "sentiment not a number in [-1, 1]",
        ),
    ];
    // The first problem that applies names the row. Only the (usually few) bad rows get the
    // text: a chain of string choices over millions of rows costs seconds.
    let malformed = checks
        .iter()
        .fold(lit(false), |acc, (c, _)| acc.or(c.clone()))
        .alias("malformed");
    let problem = checks
        .iter()
        .rev()
        .fold(lit(NULL).cast(DataType::String), |acc, (c, text)| {
            when(c.clone()).then(lit(*text)).otherwise(acc)
        })
        .alias("problem");
    let mut checked = lf.with_column(malformed).collect()?;
    labels::encode_text_columns(&mut checked)?;
    let n_bad = checked.column("malformed")?.bool()?.sum().unwrap_or(0) as usize;

    let events = if n_bad == 0 {
        checked.clone().lazy().select(event_columns()).collect()?
    } else {
        checked
            .clone()
            .lazy()
            .filter(col("malformed").not())
            .select(event_columns())
            .collect()?
    };
    // Exports are usually in order already (our own Parquet always is): sorting millions of
    // string keys costs seconds, checking costs one pass.
    let (events, ties) = match order(&events)? {
        (true, ties) => (events, ties),
        (false, _) => {
            let sorted = events.sort(
                ["conversation_id", "at", "row"],
                SortMultipleOptions::default().with_maintain_order(true),
            )?;
            let ties = order(&sorted)?.1;
            (sorted, ties)
        }
    };
    // Identical rows can only be among rows that share (conversation_id, at).
    let (events, duplicates) = if ties {
        split_duplicates(events)?
    } else {
        (events, None)
    };
    let as_text = |at: Expr| {
        quarantine_columns()
            .into_iter()
            .map(move |c| match c.as_str() {
                "row" => col(c),
                "at" => at.clone().alias("at"),
                _ => col(c).cast(DataType::String),
            })
            .collect::<Vec<_>>()
    };
    let mut bad = checked
        .lazy()
        .filter(col("malformed"))
        .with_columns([problem, col("sentiment_raw").alias("sentiment")])
        .select(as_text(at_text))
        .collect()?;
    if let Some(d) = duplicates {
        let d = d
            .lazy()
            .with_column(lit(DUPLICATE_ROW).alias("problem"))
            .select(as_text(utc_text(col("at"))))
            .collect()?;
        bad.vstack_mut_owned(d)?;
    }
    let counts = bad
        .clone()
        .lazy()
        .group_by([col("problem")])
        .agg([len().alias("n")])
        .collect()?;
    let mut map = BTreeMap::new();
    let reasons = counts.column("problem")?.str()?.clone();
    let ns = counts.column("n")?.cast(&DataType::UInt64)?;
    for (r, k) in reasons.iter().zip(ns.u64()?.iter()) {
        map.insert(r.unwrap_or("?").to_string(), k.unwrap_or(0) as usize);
    }
    Ok(Ingested {
        events,
        quarantine: Quarantine {
            rows: bad,
            counts: map,
        },
        outside_window: 0,
        read_span: None,
    })
}

/// Whether a text or label column needs no cleaning: no empty value, no surrounding white
/// space and, for `lower`, no upper case. Text is scanned value by value (rewriting every value
/// allocates them all again, seconds at millions of rows); a label column by the distinct values
/// it uses. Other types (numbers) are never clean: they are cast to text.
fn is_clean_text(c: &Column, lower: bool) -> PolarsResult<bool> {
    let clean = |v: &str| {
        let b = v.as_bytes();
        match (b.first(), b.last()) {
            (Some(f), Some(l)) => {
                !f.is_ascii_whitespace()
                    && !l.is_ascii_whitespace()
                    && (v.is_ascii() || v.trim() == v)
                    && !(lower
                        && if v.is_ascii() {
                            b.iter().any(u8::is_ascii_uppercase)
                        } else {
                            v.chars().any(char::is_uppercase)
                        })
            }
            _ => false,
        }
    };
    match c.dtype() {
        DataType::String => Ok(c
            .str()?
            .downcast_iter()
            .all(|arr| arr.iter().flatten().all(clean))),
        DataType::Categorical(_, mapping) | DataType::Enum(_, mapping) => {
            // The codes in use, marked in a table as long as the dictionary: one pass with no
            // hashing (polars' `unique` took 0.1 s a column at 8 million rows).
            let codes = c.to_physical_repr().cast(&DataType::UInt32)?;
            let codes = codes.u32()?;
            let mark = |with_nulls: bool| {
                let mut used = vec![false; mapping.num_cats_upper_bound()];
                for arr in codes.downcast_iter() {
                    let mut set = |code: u32| {
                        if let Some(slot) = used.get_mut(code as usize) {
                            *slot = true;
                        }
                    };
                    if with_nulls {
                        arr.iter().flatten().for_each(|c| set(*c));
                    } else {
                        arr.values().iter().for_each(|c| set(*c));
                    }
                }
                used.iter()
                    .enumerate()
                    .filter(|(_, u)| **u)
                    .all(|(code, _)| mapping.cat_to_str(code as u32).is_some_and(clean))
            };
            // Null rows hold an arbitrary code: the plain pass over every slot may see a value
            // that no row has, so only its "clean" is final; the slower pass skips null rows.
            Ok(mark(false) || mark(true))
        }
        _ => Ok(false),
    }
}

/// Whether rows are in (`conversation_id`, `at`, `row`) order, and whether two neighbours share
/// (`conversation_id`, `at`) (meaningful once sorted); one pass.
fn order(events: &DataFrame) -> PolarsResult<(bool, bool)> {
    let prev = |c: &str| col(c).shift(lit(1));
    let same_key = col("conversation_id")
        .eq(prev("conversation_id"))
        .and(col("at").eq(prev("at")));
    let in_order = col("conversation_id")
        .gt(prev("conversation_id"))
        .or(col("conversation_id").eq(prev("conversation_id")).and(
            col("at")
                .gt(prev("at"))
                .or(col("at").eq(prev("at")).and(col("row").gt(prev("row")))),
        ))
        .fill_null(lit(true));
    let out = events
        .clone()
        .lazy()
        .select([
            in_order.all(true).alias("sorted"),
            same_key.fill_null(lit(false)).any(true).alias("ties"),
        ])
        .collect()?;
    let yes = |c: &str| -> PolarsResult<bool> {
        Ok(matches!(out.column(c)?.get(0)?, AnyValue::Boolean(true)))
    };
    Ok((yes("sorted")?, yes("ties")?))
}

/// Splits sorted events into the first of each set of identical rows (every canonical column
/// equal; the earliest in the export stays) and the later copies, a pagination overlap or an
/// export concatenated twice.
///
/// Copies share (`conversation_id`, `at`), so only rows in such a run are compared (a quarter of
/// a generated export: a creation and its first assignment often share a second). In a run of
/// two, a copy is the row equal to the one before it; only longer runs (none in a generated
/// export) need grouping, whose cost grows with the rows grouped.
fn split_duplicates(events: DataFrame) -> PolarsResult<(DataFrame, Option<DataFrame>)> {
    let same = |k: i64| {
        col("conversation_id")
            .eq(col("conversation_id").shift(lit(k)))
            .and(col("at").eq(col("at").shift(lit(k))))
            .fill_null(lit(false))
    };
    let equal_to_previous = CANONICAL_COLUMNS
        .iter()
        .map(|c| col(*c).eq_missing(col(*c).shift(lit(1))))
        .reduce(|a, b| a.and(b))
        .expect("columns")
        .fill_null(lit(false));
    let longer_run = same(1)
        .and(same(2))
        .or(same(-1).and(same(1)))
        .or(same(-1).and(same(-2)));
    let tied = events
        .clone()
        .lazy()
        .with_row_index("position", None)
        .filter(same(1).or(same(-1)))
        .with_columns([
            equal_to_previous.alias("copy"),
            longer_run.alias("longer_run"),
        ])
        .collect()?;
    let mut copies: Vec<IdxSize> = Vec::new();
    let flagged = |df: &DataFrame, flag: &str| -> PolarsResult<Vec<IdxSize>> {
        let positions = df
            .clone()
            .lazy()
            .filter(col(flag))
            .select([col("position")]);
        let positions = positions.collect()?;
        Ok(positions
            .column("position")?
            .idx()?
            .into_no_null_iter()
            .collect())
    };
    copies.extend(flagged(&tied, "copy")?);
    let long = tied.lazy().filter(col("longer_run")).collect()?;
    if long.height() > 0 {
        let keys: Vec<Expr> = CANONICAL_COLUMNS.iter().map(|c| col(*c)).collect();
        let later = long
            .lazy()
            .with_column(col("row").neq(col("row").min().over(keys)?).alias("later"))
            .collect()?;
        copies.extend(flagged(&later, "later")?);
    }
    if copies.is_empty() {
        return Ok((events, None));
    }
    let mut keep = vec![true; events.height()];
    for p in copies {
        keep[p as usize] = false;
    }
    let keep = BooleanChunked::from_slice("keep".into(), &keep);
    let copies = events.filter(&!&keep)?;
    Ok((events.filter(&keep)?, Some(copies)))
}

/// A timestamp (microseconds since the epoch, or a datetime) as RFC 3339 text in UTC.
fn utc_text(at: Expr) -> Expr {
    at.cast(DataType::Datetime(TimeUnit::Microseconds, None))
        .dt()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
}

/// A column of a type that cannot mean what its name says (a struct or list `team`, binary
/// text, a boolean `at`) fails the export, naming the column: casting would turn it into text
/// like `{"Billing"}` and wrong numbers.
fn check_types(raw: &DataFrame) -> Result<(), IngestError> {
    for c in raw.columns() {
        let dt = c.dtype();
        let number = dt.is_integer() || dt.is_float();
        let text = matches!(
            dt,
            DataType::String | DataType::Categorical(..) | DataType::Enum(..) | DataType::Null
        );
        let (ok, expected) = match c.name().as_str() {
            "at" => (
                number || text || matches!(dt, DataType::Datetime(..) | DataType::Date),
                "a timestamp, a date, Unix epoch numbers or text",
            ),
            "sentiment" => (
                number || matches!(dt, DataType::String | DataType::Null),
                "a number or text",
            ),
            name if text_columns().any(|t| t == name) => (
                number || text || dt == &DataType::Boolean,
                "text (or numbers)",
            ),
            _ => continue,
        };
        if !ok {
            return Err(IngestError::WrongType {
                column: c.name().to_string(),
                dtype: dt.to_string(),
                expected,
            });
        }
    }
    Ok(())
}

fn event_columns() -> Vec<Expr> {
    let mut v = vec![col("row")];
    for c in CANONICAL_COLUMNS {
        v.push(match c {
            "at" => col("at_us")
                .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                .alias("at"),
            "owner_kind" => col("owner_kind").fill_null(lit("human").cast(label_dtype())),
            other => col(other),
        });
    }
    v
}

/// Writes canonical events (as produced by [`normalise`]) in the given format.
pub fn write_canonical(
    events: &DataFrame,
    format: SourceFormat,
    out: &mut dyn std::io::Write,
) -> PolarsResult<()> {
    // Labels are written as text, in Parquet too: Parquet dictionary-encodes text on its own,
    // and polars reads a categorical Parquet column by inserting every row's value into its
    // dictionary, 3 times slower than reading text and encoding it with `labels::encode`.
    let as_text = |at: Expr| {
        CANONICAL_COLUMNS
            .iter()
            .map(|c| match *c {
                "at" => at.clone(),
                c if LABEL_COLUMNS.contains(&c) => col(c).cast(DataType::String),
                c => col(c),
            })
            .collect::<Vec<_>>()
    };
    let df = events.select(CANONICAL_COLUMNS)?;
    let timestamp = || col("at").dt().strftime("%Y-%m-%dT%H:%M:%S%.6fZ");
    match format {
        SourceFormat::Parquet => {
            let mut df = df.lazy().select(as_text(col("at"))).collect()?;
            ParquetWriter::new(out).finish(&mut df)?;
        }
        SourceFormat::Csv => {
            let mut df = df.lazy().select(as_text(timestamp())).collect()?;
            CsvWriter::new(out).include_header(true).finish(&mut df)?;
        }
        SourceFormat::Jsonl => {
            let mut df = df.lazy().select(as_text(timestamp())).collect()?;
            JsonWriter::new(out)
                .with_json_format(JsonFormat::JsonLines)
                .finish(&mut df)?;
        }
    }
    Ok(())
}

trait EmptyToNull {
    fn pipe_empty_to_null(self) -> Expr;
}

impl EmptyToNull for Expr {
    /// Empty text means "not given", as in CSV exports.
    fn pipe_empty_to_null(self) -> Expr {
        when(self.clone().eq(lit("")))
            .then(lit(NULL).cast(DataType::String))
            .otherwise(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_column(ca: &Column) -> Vec<Option<String>> {
        assert_eq!(ca.dtype(), &label_dtype());
        ca.cast(&DataType::String)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    #[test]
    fn cleans_only_what_needs_it() {
        // `team` and `event` need cleaning (spaces, upper case, an empty value); `agent` does not
        // and must come through unchanged; `topic` is numeric and becomes text.
        let csv = "conversation_id,at,event,agent,team,topic\n\
                   c1,2026-11-16T09:00:00Z,Created,ann, Billing ,7\n\
                   c1,2026-11-16T09:01:00Z,ASSIGNED,ann,,7\n\
                   c1,2026-11-16T09:02:00Z, message ,ann,Billing\u{a0},8\n";
        let ing = read_canonical(csv.as_bytes(), SourceFormat::Csv, &BTreeMap::new(), None)
            .expect("reads");
        assert!(ing.quarantine.is_empty(), "{:?}", ing.quarantine.counts);
        let e = &ing.events;
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            text_column(e.column("event").unwrap()),
            vec![s("created"), s("assigned"), s("message")]
        );
        assert_eq!(
            text_column(e.column("team").unwrap()),
            vec![s("Billing"), None, s("Billing")]
        );
        assert_eq!(text_column(e.column("agent").unwrap()), vec![s("ann"); 3]);
        assert_eq!(
            text_column(e.column("topic").unwrap()),
            vec![s("7"), s("7"), s("8")]
        );
    }

    #[test]
    fn parquet_read_in_slices_equals_one_read() {
        // 1,000 rows in row groups of 64: slices of at least 250 rows end on group ends
        // (256, 512, 768, 1000), and their labels, encoded slice by slice, must equal the whole
        // file read at once and cast by polars.
        let n = 1000;
        let teams = [
            "Billing",
            "General Support",
            "a team name longer than twelve bytes",
        ];
        let mut df = df!(
            "conversation_id" => (0..n).map(|i| format!("c{:04}", i / 3)).collect::<Vec<_>>(),
            "at" => (0..n as i64).collect::<Vec<_>>(),
            "event" => (0..n).map(|i| ["created", "assigned", "message"][i % 3]).collect::<Vec<_>>(),
            "team" => (0..n)
                .map(|i| (i % 7 != 0).then_some(teams[(i / 5) % 3]))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_row_group_size(Some(64))
            .finish(&mut df)
            .unwrap();
        let sliced = read_parquet_in_slices(&bytes, 250).unwrap();
        assert_eq!(sliced.column("team").unwrap().n_chunks(), 4, "four slices");
        let whole = ParquetReader::new(Cursor::new(&bytes)).finish().unwrap();
        assert_eq!(sliced.height(), n);
        for c in ["event", "team"] {
            let ours = sliced.column(c).unwrap();
            assert_eq!(ours.dtype(), &label_dtype());
            let theirs = whole.column(c).unwrap().cast(&label_dtype()).unwrap();
            assert!(ours.equals_missing(&theirs), "{c}");
        }
        assert!(sliced
            .column("conversation_id")
            .unwrap()
            .equals(whole.column("conversation_id").unwrap()));
    }

    #[test]
    fn clean_text_check() {
        let col = |v: &[Option<&str>]| Column::new("x".into(), v);
        let clean = |c: &Column, lower: bool| is_clean_text(c, lower).unwrap();
        assert!(clean(&col(&[Some("a b"), None]), false));
        assert!(!clean(&col(&[Some("a "), None]), false));
        assert!(!clean(&col(&[Some("")]), false));
        assert!(!clean(&col(&[Some("\u{2003}x")]), false));
        assert!(clean(&col(&[Some("Ab")]), false));
        assert!(!clean(&col(&[Some("Ab")]), true));
        assert!(!clean(&col(&[Some("é"), Some("É")]), true));
        assert!(!clean(&Column::new("x".into(), &[1i64]), false));
        // Labels are checked by the values they use.
        let label = |v: &[Option<&str>]| col(v).cast(&label_dtype()).unwrap();
        assert!(clean(&label(&[Some("Ab"), Some("Ab"), None]), false));
        assert!(!clean(&label(&[Some("Ab"), Some("ab")]), true));
        assert!(!clean(&label(&[Some("ab"), Some(" ab")]), false));
    }
}
