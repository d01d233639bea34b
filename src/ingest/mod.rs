//! Ingest: turn what a source pulled into the canonical event table of METRICS.md section 1.
//!
//! Every path goes through [`normalise`]: canonical files (CSV, JSON Lines, Parquet) are read
//! into a frame, vendor adapters and the demo generator build [`EventRow`]s, and both are checked
//! the same way. Malformed rows are set aside in a [`Quarantine`] with their reason, never
//! silently dropped and never fatal unless they pass the configured share. [`read_table`]
//! decodes any other table (explain's generic input) with its types inferred.

mod canonical;
mod csv_scan;
mod labels;
mod rows;
mod table;
mod timestamps;

pub use canonical::{
    normalise, read_canonical, read_parquet, read_parquet_in_slices, write_canonical, IngestError,
    Ingested, Quarantine, CANONICAL_COLUMNS,
};
pub use labels::{is_one_of, label_dtype, LABEL_COLUMNS};
pub use rows::{rows_to_frame, Actor, Author, EventKind, EventRow, OwnerKind};
pub use table::read_table;

// Vendor adapters (sources issue): vendor JSON -> canonical rows.
pub mod intercom;
pub mod vendor;
pub mod zendesk;
