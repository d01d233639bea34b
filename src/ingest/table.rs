//! Generic tables: any columns (dimensions and a numerator and a denominator, say), not
//! canonical events, so nothing is renamed or checked. Column types are inferred from every
//! value, not a prefix, so a column that turns fractional late is still read as a float.

use super::IngestError;
use crate::config::SourceFormat;
use polars::prelude::*;
use std::io::Cursor;

/// Decodes a CSV (with a header), Parquet or JSON Lines table.
pub fn read_table(bytes: &[u8], format: SourceFormat) -> Result<DataFrame, IngestError> {
    let read = match format {
        SourceFormat::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(None)
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish(),
        SourceFormat::Parquet => ParquetReader::new(Cursor::new(bytes)).finish(),
        SourceFormat::Jsonl => JsonReader::new(Cursor::new(bytes))
            .with_json_format(JsonFormat::JsonLines)
            .infer_schema_len(None)
            .finish(),
    };
    read.map_err(|e| IngestError::Unreadable {
        format: format_name(format).into(),
        reason: e.to_string(),
    })
}

fn format_name(format: SourceFormat) -> &'static str {
    match format {
        SourceFormat::Csv => "CSV",
        SourceFormat::Parquet => "Parquet",
        SourceFormat::Jsonl => "JSON Lines",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_every_value_in_each_format() {
        // `rate` is an integer for 200 rows, then a float: inferred from all rows, a float.
        let mut csv = String::from("team,rate\n");
        for _ in 0..200 {
            csv.push_str("a,1\n");
        }
        csv.push_str("b,0.5\n");
        let df = read_table(csv.as_bytes(), SourceFormat::Csv).unwrap();
        assert_eq!(df.height(), 201);
        assert_eq!(df.column("rate").unwrap().dtype(), &DataType::Float64);

        let mut jsonl = String::new();
        for _ in 0..200 {
            jsonl.push_str("{\"team\":\"a\",\"n\":1}\n");
        }
        jsonl.push_str("{\"team\":\"b\",\"n\":1.5}\n");
        let df = read_table(jsonl.as_bytes(), SourceFormat::Jsonl).unwrap();
        assert_eq!(df.column("n").unwrap().dtype(), &DataType::Float64);

        let mut pq = Vec::new();
        let mut frame = df.clone();
        ParquetWriter::new(&mut pq).finish(&mut frame).unwrap();
        let back = read_table(&pq, SourceFormat::Parquet).unwrap();
        assert!(back.equals(&df));
    }

    #[test]
    fn an_unreadable_table_names_its_format() {
        let err = read_table(b"not parquet", SourceFormat::Parquet).unwrap_err();
        assert!(err.to_string().contains("as Parquet"), "{err}");
        let err = read_table(b"{\"a\": [", SourceFormat::Jsonl).unwrap_err();
        assert!(err.to_string().contains("as JSON Lines"), "{err}");
    }
}
