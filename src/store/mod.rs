//! The embedded SQLite store (rusqlite, bundled): the log of runs, the delivery ledger and the
//! fix registry.
//!
//! The file is created and migrated on first use ([`Store::open`]); migrations are numbered
//! and recorded in `schema_migrations`, so a later issue (fixes) appends a migration and never
//! edits an applied one. Times are stored as RFC 3339 UTC text, so the file is readable with
//! the `sqlite3` shell.

mod deliveries;
mod fixes;
mod leases;
mod runs;

pub use deliveries::{Claim, DeliveryKey, DeliveryRecord, DeliveryState, LeaseTerms};
pub use fixes::{FixAction, FixLogEntry, FixRecord};
pub use leases::{
    report_lease as report_lease_name, Acquired, FireRecord, FireStart, FireState, LeaseInfo,
    RunStats,
};
pub use runs::{NewRun, RunId, RunKind, RunOutcome, RunRecord, RunState};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    #[error("no fix with id `{0}` in the store (`baton fix list` shows them)")]
    NoSuchFix(String),
    #[error("a fix with id `{0}` is already registered; pick another --id")]
    FixExists(String),
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
    // 2: leases (claims) in the ledger, in-doubt sends, partial and abandoned runs, run
    // heartbeats. SQLite cannot alter a CHECK constraint: both tables are rebuilt.
    r#"
    CREATE TABLE runs_v2 (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        kind             TEXT NOT NULL,
        report           TEXT NOT NULL,
        period           TEXT,
        schedule         TEXT,
        scheduled_for    TEXT,
        started_at       TEXT NOT NULL,
        finished_at      TEXT,
        state            TEXT NOT NULL
                         CHECK (state IN ('running', 'succeeded', 'partial', 'failed', 'abandoned')),
        messages_sent    INTEGER NOT NULL DEFAULT 0,
        messages_failed  INTEGER NOT NULL DEFAULT 0,
        quarantined_rows INTEGER NOT NULL DEFAULT 0,
        error            TEXT,
        heartbeat_at     TEXT
    );
    INSERT INTO runs_v2 (id, kind, report, period, schedule, scheduled_for, started_at,
        finished_at, state, messages_sent, messages_failed, quarantined_rows, error, heartbeat_at)
    SELECT id, kind, report, period, schedule, scheduled_for, started_at, finished_at, state,
        messages_sent, messages_failed, quarantined_rows, error, started_at FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_v2 RENAME TO runs;
    CREATE INDEX runs_by_report ON runs (report, started_at);
    CREATE TABLE deliveries_v2 (
        report        TEXT NOT NULL,
        period        TEXT NOT NULL,
        recipient     TEXT NOT NULL,
        message_id    TEXT NOT NULL,
        state         TEXT NOT NULL
                      CHECK (state IN ('pending', 'sending', 'sent', 'in_doubt', 'failed_permanent')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        updated_at    TEXT NOT NULL,
        sent_at       TEXT,
        lease_run     INTEGER,
        lease_until   TEXT,
        data_started  INTEGER NOT NULL DEFAULT 0,
        doubt_since   TEXT,
        doubt_retries INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (report, period, recipient)
    );
    INSERT INTO deliveries_v2 (report, period, recipient, message_id, state, attempts,
        last_error, updated_at, sent_at)
    SELECT report, period, recipient, message_id, state, attempts, last_error, updated_at,
        sent_at FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_v2 RENAME TO deliveries;
    "#,
    // 3: the fix registry (`baton fix`), its history, and the verdict each fix got at each
    // look (a flip to verified or regressed is news).
    r#"
    CREATE TABLE fixes (
        id          TEXT PRIMARY KEY,
        title       TEXT NOT NULL,
        branch      TEXT NOT NULL,
        scope       TEXT NOT NULL,
        live        TEXT NOT NULL,
        expect      TEXT NOT NULL CHECK (expect IN ('down', 'up')),
        owner       TEXT NOT NULL,
        review_by   TEXT,
        state       TEXT NOT NULL CHECK (state IN ('open', 'closed')),
        created_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_by  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE fix_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        fix_id  TEXT NOT NULL,
        at      TEXT NOT NULL,
        who     TEXT NOT NULL,
        action  TEXT NOT NULL,
        note    TEXT
    );
    CREATE INDEX fix_log_by_fix ON fix_log (fix_id, id);
    CREATE TABLE fix_verdicts (
        fix_id      TEXT NOT NULL,
        as_of       TEXT NOT NULL,
        verdict     TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (fix_id, as_of)
    );
    "#,
    // 4: `baton serve`: run leases per report (one run of a report at a time, across
    // processes), the fire log of each schedule (exactly once per fire, catch-up, skipped
    // fires), and per-run counts and the operator alert.
    r#"
    ALTER TABLE runs ADD COLUMN messages_already INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN alerted_at TEXT;
    CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        run_id      INTEGER,
        what        TEXT,
        acquired_at TEXT NOT NULL,
        until       TEXT NOT NULL
    );
    CREATE TABLE schedule_fires (
        schedule      TEXT NOT NULL,
        scheduled_for TEXT NOT NULL,
        report        TEXT NOT NULL,
        kind          TEXT NOT NULL,
        state         TEXT NOT NULL
                      CHECK (state IN ('started', 'done', 'failed', 'skipped')),
        run_id        INTEGER,
        holder        TEXT,
        note          TEXT,
        updated_at    TEXT NOT NULL,
        PRIMARY KEY (schedule, scheduled_for)
    );
    "#,
];

/// Where the store lives, for error messages.
fn label(path: Option<&Path>) -> PathBuf {
    path.map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(":memory:"))
}

/// How long one statement waits for another process's lock before SQLite gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write keeps retrying on a locked store before the error is returned: long,
/// because the write that matters most (a send the server accepted) must not be lost to a
/// backup or a `sqlite3` shell holding the file for a while.
const WRITE_PATIENCE: Duration = Duration::from_secs(600);

/// The store. One connection behind a mutex: every call is a short statement, and the mutex
/// makes the store `Sync`, so async delivery can hold `&Store` across awaits.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// See [`WRITE_PATIENCE`]; shorter in tests.
    patience: Mutex<Duration>,
    /// The run this process works for: claims in the ledger name it.
    current_run: Mutex<Option<RunId>>,
    /// The report lease this store's runs work under (`baton serve`), if any.
    lease_holder: Mutex<Option<String>>,
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

    fn init(mut conn: Connection, file: Option<&Path>) -> Result<Store, StoreError> {
        let path = label(file);
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        // Two processes (scheduler and a manual `baton run`) may share the file: wait for a
        // lock instead of failing at once.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        if file.is_some() {
            // WAL: readers never block the writer, and a commit is one append, so recording a
            // send waits for a lock far less often. Persistent: set once per file.
            retry_busy(WRITE_PATIENCE, || {
                conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            })
            .map_err(open_err)?;
        }
        retry_busy(WRITE_PATIENCE, || migrate(&mut conn, &path))?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            patience: Mutex::new(WRITE_PATIENCE),
            current_run: Mutex::new(None),
            lease_holder: Mutex::new(None),
        })
    }

    /// Sets the run that deliveries through this store belong to (their claims name it), or
    /// none.
    pub fn set_current_run(&self, run: Option<RunId>) {
        *self.current_run.lock().unwrap_or_else(|p| p.into_inner()) = run;
    }

    /// Sets the holder of the report lease the next runs start under (their row id is
    /// written into the lease), or none.
    pub fn set_lease_holder(&self, holder: Option<String>) {
        *self.lease_holder.lock().unwrap_or_else(|p| p.into_inner()) = holder;
    }

    pub fn lease_holder(&self) -> Option<String> {
        self.lease_holder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn current_run(&self) -> Option<RunId> {
        *self.current_run.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long SQLite waits on another process's lock per statement, and how long a write
    /// keeps retrying after that (defaults: 10 s and 10 minutes). For tests that lock the
    /// store on purpose.
    pub fn set_lock_waits(&self, busy: Duration, patience: Duration) -> Result<(), StoreError> {
        self.conn()
            .busy_timeout(busy)
            .map_err(|source| StoreError::Query {
                what: "set busy timeout",
                source,
            })?;
        *self.patience.lock().unwrap_or_else(|p| p.into_inner()) = patience;
        Ok(())
    }

    /// Runs `f` in an immediate transaction (the write lock taken at the start, so two
    /// processes never both read a row and then both claim it), retrying while another
    /// process holds the store, for up to the write patience.
    pub(crate) fn write<T>(
        &self,
        what: &'static str,
        mut f: impl FnMut(&rusqlite::Transaction) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let patience = *self.patience.lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = self.conn();
        retry_busy(patience, || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .map_err(|source| StoreError::Query { what, source })
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

/// Whether an error is another connection holding the lock (worth waiting for).
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Something that may fail because another process holds the store.
trait MaybeBusy {
    fn busy(&self) -> bool;
}
impl MaybeBusy for rusqlite::Error {
    fn busy(&self) -> bool {
        is_busy(self)
    }
}
impl MaybeBusy for StoreError {
    fn busy(&self) -> bool {
        match self {
            StoreError::Migrate { source, .. }
            | StoreError::Query { source, .. }
            | StoreError::Open { source, .. } => is_busy(source),
            _ => false,
        }
    }
}

/// Retries `f` while the store is busy (each try already waits up to the busy timeout), for
/// up to `patience`.
fn retry_busy<T, E: MaybeBusy>(
    patience: Duration,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match f() {
            Err(e) if e.busy() && start.elapsed() < patience => {
                tracing::warn!("the store is locked by another process; retrying");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// Applies the missing migrations in one exclusive transaction, reading the version inside
/// it: two processes opening a fresh store at once cannot both create the tables (the second
/// waits for the lock, then finds the schema current).
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let fail = |version: u32| {
        move |source| StoreError::Migrate {
            path: path.to_path_buf(),
            version,
            source,
        }
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(fail(0))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL
        );",
    )
    .map_err(fail(0))?;
    let found = current_version(&tx).map_err(fail(0))?;
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
        tx.execute_batch(sql).map_err(fail(version))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, now_text()],
        )
        .map_err(fail(version))?;
    }
    tx.commit().map_err(fail(known))?;
    Ok(())
}

pub(crate) fn now_text() -> String {
    time_text(chrono::Utc::now())
}

/// The store's time format (RFC 3339 UTC, milliseconds), for JSON that matches it.
pub fn time_text_pub(t: chrono::DateTime<chrono::Utc>) -> String {
    time_text(t)
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
