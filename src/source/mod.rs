//! Source: pull helpdesk exports over HTTP (or `file://`) and hand them to ingest.
//! PLACEHOLDER until the sources issue lands: the signature below is the contract.

use crate::config::SourceConfig;
use crate::ingest::{IngestError, Ingested};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// The instants a run needs events for.
#[derive(Debug, Clone, Copy)]
pub struct PullWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl PullWindow {
    pub fn everything() -> PullWindow {
        PullWindow {
            start: DateTime::<Utc>::MIN_UTC,
            end: DateTime::<Utc>::MAX_UTC,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Where pulled pages are cached; none = no cache.
    pub cache_dir: Option<PathBuf>,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source `{name}`: {message}")]
    Http { name: String, message: String },
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// Pulls one configured source for `window` and normalises it to canonical events.
pub async fn pull(
    name: &str,
    src: &SourceConfig,
    _window: &PullWindow,
    _opts: &PullOptions,
) -> Result<Ingested, SourceError> {
    let _ = src;
    Err(SourceError::Http {
        name: name.to_string(),
        message: "not built yet".into(),
    })
}
