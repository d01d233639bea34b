//! The embedded SQLite store (rusqlite, bundled): the log of runs and the delivery ledger.
//!
//! The file is created and migrated on first use ([`Store::open`]); migrations are numbered
//! and recorded in `schema_migrations`, so a later issue (fixes) appends a migration and never
//! edits an applied one. Times are stored as RFC 3339 UTC text, so the file is readable with
//! the `sqlite3` shell.

mod deliveries;
mod runs;

pub use deliveries::{DeliveryKey, DeliveryRecord, DeliveryState};
pub use runs::{NewRun, RunId, RunKind, RunOutcome, RunRecord, RunState};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the store's folder {dir}: {source}")]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot migrate the store {path} to schema version {version}: {source}")]
    Migrate {
        path: PathBuf,
        version: u32,
        source: rusqlite::Error,
    },
    #[error("the store {path} has schema version {found}, newer than this baton knows ({known}); upgrade baton")]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("store query failed ({what}): {source}")]
    Query {
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("the store holds an unreadable value in {what}: `{value}`")]
    Corrupt { what: &'static str, value: String },
    #[error("no run with id {0}")]
    NoSuchRun(i64),
}

/// Numbered schema migrations, applied in order, each once. Append; never edit an applied one.
const MIGRATIONS: &[&str] = &[
    // 1: runs and the delivery ledger.
    r#"
    CREATE TABLE runs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        kind             TEXT NOT NULL,
        report           TEXT NOT NULL,
        period           TEXT,
        schedule         TEXT,
        scheduled_for    TEXT,
        started_at       TEXT NOT NULL,
        finished_at      TEXT,
        state            TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
        messages_sent    INTEGER NOT NULL DEFAULT 0,
        messages_failed  INTEGER NOT NULL DEFAULT 0,
        quarantined_rows INTEGER NOT NULL DEFAULT 0,
        error            TEXT
    );
    CREATE INDEX runs_by_report ON runs (report, started_at);
    CREATE TABLE deliveries (
        report      TEXT NOT NULL,
        period      TEXT NOT NULL,
        recipient   TEXT NOT NULL,
        message_id  TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed_permanent')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        updated_at  TEXT NOT NULL,
        sent_at     TEXT,
        PRIMARY KEY (report, period, recipient)
    );
    "#,
];

/// Where the store lives, for error messages.
fn label(path: Option<&Path>) -> PathBuf {
    path.map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(":memory:"))
}

/// The store. One connection behind a mutex: every call is a short statement, and the mutex
/// makes the store `Sync`, so async delivery can hold `&Store` across awaits.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // A missing parent folder is created rather than failing with SQLite's terse
            // "unable to open database file".
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Store::init(conn, Some(path))
    }

    /// A private in-memory store (tests, `--dry-run`).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: label(None),
            source,
        })?;
        Store::init(conn, None)
    }

    fn init(mut conn: Connection, path: Option<&Path>) -> Result<Store, StoreError> {
        let path = label(path);
        // Two processes (scheduler and a manual `baton run`) may share the file: wait for a
        // lock instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        migrate(&mut conn, &path)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The file this store lives in (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        current_version(&self.conn()).map_err(|source| StoreError::Query {
            what: "schema version",
            source,
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are
        // atomic), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let fail = |version: u32| {
        move |source| StoreError::Migrate {
            path: path.to_path_buf(),
            version,
            source,
        }
    };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL
        );",
    )
    .map_err(fail(0))?;
    let found = current_version(conn).map_err(fail(0))?;
    let known = MIGRATIONS.len() as u32;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as u32 + 1;
        let tx = conn.transaction().map_err(fail(version))?;
        tx.execute_batch(sql).map_err(fail(version))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, now_text()],
        )
        .map_err(fail(version))?;
        tx.commit().map_err(fail(version))?;
    }
    Ok(())
}

pub(crate) fn now_text() -> String {
    time_text(chrono::Utc::now())
}

pub(crate) fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn parse_time(
    what: &'static str,
    s: Option<String>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    s.map(|s| {
        chrono::DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| StoreError::Corrupt { what, value: s })
    })
    .transpose()
}

#[cfg(test)]
mod tests;
