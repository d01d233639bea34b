//! A pass over CSV bytes before polars reads them, to find the records polars would silently
//! truncate, pad or refuse: a wrong number of fields, a body cut off mid-record (no final
//! newline, or inside quotes), bytes that are not UTF-8 (polars fails the whole file with no
//! position). Those records are set aside with their data-row number; the rest is read as usual.
//!
//! Written here rather than with the `csv` crate, which is not a dependency: the scan only needs
//! record boundaries and field counts, the quote rule of polars' own line splitter (every `"`
//! toggles quoting), and runs in one linear pass with no allocation for good records.

use super::IngestError;
use std::borrow::Cow;

/// A record set aside.
#[derive(Debug, Clone)]
pub struct BadRecord {
    /// 0-based data row (the header is not a row, a blank line after it is), as polars numbers
    /// them.
    pub row: i64,
    pub problem: String,
    /// Its fields (quotes removed, invalid UTF-8 replaced), for the quarantine.
    pub fields: Vec<String>,
}

#[derive(Debug)]
pub struct Scanned<'a> {
    /// The header's column names.
    pub header: Vec<String>,
    /// What polars should read: the input itself when every record is good, else the header and
    /// the good records.
    pub body: Cow<'a, [u8]>,
    /// The data-row number of each record in `body`, when some were taken out.
    pub rows: Option<Vec<i64>>,
    pub bad: Vec<BadRecord>,
}

struct Record {
    start: usize,
    /// Exclusive, before the newline.
    end: usize,
    /// After the newline (or the input's end).
    next: usize,
    fields: usize,
    /// The input ended inside a quoted field.
    open_quote: bool,
}

impl Record {
    fn has_newline(&self) -> bool {
        self.next > self.end
    }
    fn is_blank(&self, bytes: &[u8]) -> bool {
        matches!(&bytes[self.start..self.end], [] | [b'\r'])
    }
}

fn next_record(bytes: &[u8], start: usize) -> Record {
    let mut fields = 1;
    let mut quoted = false;
    for (i, b) in bytes[start..].iter().enumerate() {
        match *b {
            b'"' => quoted = !quoted,
            b',' if !quoted => fields += 1,
            b'\n' if !quoted => {
                return Record {
                    start,
                    end: start + i,
                    next: start + i + 1,
                    fields,
                    open_quote: false,
                }
            }
            _ => {}
        }
    }
    Record {
        start,
        end: bytes.len(),
        next: bytes.len(),
        fields,
        open_quote: quoted,
    }
}

/// The fields of one record (for bad records and the header only): quotes removed, `""` as `"`.
fn split_fields(record: &[u8]) -> Vec<String> {
    let record = record.strip_suffix(b"\r").unwrap_or(record);
    let text = String::from_utf8_lossy(record);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

pub fn scan(bytes: &[u8]) -> Result<Scanned<'_>, IngestError> {
    // Validating the whole input at once is fast; rows are checked one by one only when it fails.
    let all_utf8 = std::str::from_utf8(bytes).is_ok();
    let mut pos = 0;
    let header = loop {
        if pos >= bytes.len() {
            return Ok(Scanned {
                header: Vec::new(),
                body: Cow::Borrowed(bytes),
                rows: None,
                bad: Vec::new(),
            });
        }
        let r = next_record(bytes, pos);
        pos = r.next;
        if !r.is_blank(bytes) {
            break r;
        }
    };
    if let Err(e) = std::str::from_utf8(&bytes[header.start..header.end]) {
        return Err(IngestError::Unreadable {
            format: "CSV".into(),
            reason: format!(
                "the header line is not UTF-8 (byte {})",
                header.start + e.valid_up_to()
            ),
        });
    }
    let expected = header.fields;
    let mut bad = Vec::new();
    // Until the first bad record nothing is copied or listed: polars reads the input as it is.
    // After it, the good records' spans and row numbers.
    let mut first_bad: Option<(usize, i64)> = None;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut rows: Vec<i64> = Vec::new();
    let mut row: i64 = 0;
    while pos < bytes.len() {
        let r = next_record(bytes, pos);
        pos = r.next;
        let this = &bytes[r.start..r.end];
        let problem = if r.is_blank(bytes) {
            // polars reads a blank line as a row of nulls (then quarantined as such).
            None
        } else if r.open_quote && this.contains(&b'\n') {
            // A stray quote swallowed the lines after it: each line is a row of its own, so the
            // count says how much was lost.
            first_bad.get_or_insert((r.start, row));
            let this = this.strip_suffix(b"\n").unwrap_or(this);
            for line in this.split(|b| *b == b'\n') {
                bad.push(BadRecord {
                    row,
                    problem: "unterminated quote".into(),
                    fields: split_fields(line),
                });
                row += 1;
            }
            continue;
        } else if r.open_quote || (r.fields != expected && !r.has_newline()) {
            Some("partial last line".to_string())
        } else if r.fields != expected {
            Some(format!(
                "wrong number of fields ({}, expected {expected})",
                r.fields
            ))
        } else if !all_utf8 && std::str::from_utf8(this).is_err() {
            Some("invalid UTF-8".to_string())
        } else {
            None
        };
        match problem {
            Some(problem) => {
                first_bad.get_or_insert((r.start, row));
                bad.push(BadRecord {
                    row,
                    problem,
                    fields: split_fields(this),
                });
            }
            None if first_bad.is_some() => {
                spans.push((r.start, r.next));
                rows.push(row);
            }
            None => {}
        }
        row += 1;
    }
    let header_names = split_fields(&bytes[header.start..header.end]);
    let Some((prefix_end, prefix_rows)) = first_bad else {
        return Ok(Scanned {
            header: header_names,
            body: Cow::Borrowed(bytes),
            rows: None,
            bad,
        });
    };
    // The header and every (good) record before the first bad one, then the good ones after.
    let mut body = Vec::with_capacity(bytes.len());
    body.extend_from_slice(&bytes[header.start..prefix_end]);
    for (start, next) in spans {
        body.extend_from_slice(&bytes[start..next]);
        if body.last() != Some(&b'\n') {
            body.push(b'\n');
        }
    }
    let mut all_rows: Vec<i64> = (0..prefix_rows).collect();
    all_rows.extend(rows);
    Ok(Scanned {
        header: header_names,
        body: Cow::Owned(body),
        rows: Some(all_rows),
        bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;
    use std::io::Cursor;

    fn read(bytes: &[u8]) -> DataFrame {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
            .unwrap()
    }

    #[test]
    fn rows_are_numbered_as_polars_reads_them() {
        // Blank lines (also CRLF ones) after the header are rows, for polars and for the scan;
        // a blank line before the header is not.
        let csv = b"\na,b\r\n1,x\r\n\r\n\n2,\"y\n, z\"\r\n3,w\n";
        let df = read(csv);
        assert_eq!(df.height(), 5);
        let s = scan(csv).unwrap();
        assert!(s.bad.is_empty() && s.rows.is_none());
        assert_eq!(s.header, ["a", "b"]);
        let with_bad = b"a,b\n1,x\n\n2,y,extra\n\n3,\"w\"\"\"\n";
        let s = scan(with_bad).unwrap();
        assert_eq!(s.bad.len(), 1);
        assert_eq!(s.bad[0].row, 2);
        assert_eq!(s.bad[0].fields, ["2", "y", "extra"]);
        assert_eq!(s.rows, Some(vec![0, 1, 3, 4]));
        let df = read(&s.body);
        assert_eq!(df.height(), 4);
        assert_eq!(df.column("b").unwrap().str().unwrap().get(3), Some("w\""));
    }

    #[test]
    fn a_stray_quote_costs_every_line_it_swallows() {
        let csv = b"a,b\n1,x\n2,\"y\n3,z\n4,w\n";
        let s = scan(csv).unwrap();
        let problems: Vec<(i64, &str)> =
            s.bad.iter().map(|b| (b.row, b.problem.as_str())).collect();
        assert_eq!(
            problems,
            [
                (1, "unterminated quote"),
                (2, "unterminated quote"),
                (3, "unterminated quote"),
            ]
        );
        assert_eq!(s.rows, Some(vec![0]));
    }
}
