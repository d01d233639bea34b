//! The run log: one row per report run (scheduled, manual, catch-up, triggered).

use super::{now_text, parse_time, time_text, Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use std::fmt;
use std::str::FromStr;

/// Row id of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `baton run` / `baton demo` from the command line.
    Manual,
    /// A schedule fired on time.
    Scheduled,
    /// The latest missed fire, run once after downtime.
    CatchUp,
    /// The HTTP trigger endpoint.
    Trigger,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Manual => "manual",
            RunKind::Scheduled => "scheduled",
            RunKind::CatchUp => "catch_up",
            RunKind::Trigger => "trigger",
        }
    }
}

impl FromStr for RunKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            RunKind::Manual,
            RunKind::Scheduled,
            RunKind::CatchUp,
            RunKind::Trigger,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| s.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// Every message delivered (or delivered before).
    Succeeded,
    /// Some messages delivered, some not (refused, deferred, in doubt); `error` says which.
    Partial,
    Failed,
    /// Found `running` with no heartbeat: the process died (kill -9, panic, power loss).
    Abandoned,
}

impl RunState {
    const ALL: [RunState; 5] = [
        RunState::Running,
        RunState::Succeeded,
        RunState::Partial,
        RunState::Failed,
        RunState::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Partial => "partial",
            RunState::Failed => "failed",
            RunState::Abandoned => "abandoned",
        }
    }
}

impl FromStr for RunState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| s.to_string())
    }
}

/// What is known when a run starts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub kind: RunKind,
    /// Report name (`owners`).
    pub report: String,
    /// Period label (`2026-W46`), when already known.
    pub period: Option<String>,
    /// Schedule name, for scheduled and catch-up runs.
    pub schedule: Option<String>,
    /// The fire time the run stands for.
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// How a run ended. A run cannot be finished as `Running`: the type has no such state.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Succeeded {
        messages_sent: u32,
        messages_failed: u32,
        quarantined_rows: u64,
    },
    /// Some messages went out and some did not.
    Partial {
        messages_sent: u32,
        messages_failed: u32,
        quarantined_rows: u64,
        /// Which messages did not go out and why. Never a secret.
        error: String,
    },
    Failed {
        messages_sent: u32,
        messages_failed: u32,
        quarantined_rows: u64,
        /// What went wrong, for the operator. Never a secret.
        error: String,
    },
}

impl RunOutcome {
    pub fn state(&self) -> RunState {
        match self {
            RunOutcome::Succeeded { .. } => RunState::Succeeded,
            RunOutcome::Partial { .. } => RunState::Partial,
            RunOutcome::Failed { .. } => RunState::Failed,
        }
    }
}

/// One row of the run log.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: RunId,
    pub kind: RunKind,
    pub report: String,
    pub period: Option<String>,
    pub schedule: Option<String>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub state: RunState,
    pub messages_sent: u32,
    pub messages_failed: u32,
    pub quarantined_rows: u64,
    pub error: Option<String>,
    /// Messages this run found delivered already (by an earlier run): not sent again.
    pub messages_already: u32,
    /// When the operator was told this run failed (`[alerts] operator`), once.
    pub alerted_at: Option<DateTime<Utc>>,
}

impl RunKind {
    /// What started the run, as `baton runs` and the HTTP API name it: `cli`, `schedule`,
    /// `catch-up`, `http`.
    pub fn trigger(self) -> &'static str {
        match self {
            RunKind::Manual => "cli",
            RunKind::Scheduled => "schedule",
            RunKind::CatchUp => "catch-up",
            RunKind::Trigger => "http",
        }
    }
}

const RUN_COLUMNS: &str = "id, kind, report, period, schedule, scheduled_for, started_at, \
     finished_at, state, messages_sent, messages_failed, quarantined_rows, error, \
     messages_already, alerted_at";

type RawRun = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    u32,
    u32,
    u64,
    Option<String>,
    (u32, Option<String>),
);

fn raw_run(r: &Row) -> rusqlite::Result<RawRun> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        (r.get(13)?, r.get(14)?),
    ))
}

fn to_record(raw: RawRun) -> Result<RunRecord, StoreError> {
    let (
        id,
        kind,
        report,
        period,
        schedule,
        sched,
        started,
        finished,
        state,
        sent,
        failed,
        q,
        error,
        (already, alerted),
    ) = raw;
    Ok(RunRecord {
        id: RunId(id),
        kind: kind.parse().map_err(|value| StoreError::Corrupt {
            what: "runs.kind",
            value,
        })?,
        report,
        period,
        schedule,
        scheduled_for: parse_time("runs.scheduled_for", sched)?,
        started_at: parse_time("runs.started_at", Some(started))?.expect("Some in, Some out"),
        finished_at: parse_time("runs.finished_at", finished)?,
        state: state.parse().map_err(|value| StoreError::Corrupt {
            what: "runs.state",
            value,
        })?,
        messages_sent: sent,
        messages_failed: failed,
        quarantined_rows: q,
        error,
        messages_already: already,
        alerted_at: parse_time("runs.alerted_at", alerted)?,
    })
}

fn query(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

impl Store {
    /// Records the start of a run (state `running`, started now).
    pub fn start_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (kind, report, period, schedule, scheduled_for, started_at, state,
                 heartbeat_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?6)",
            params![
                run.kind.as_str(),
                run.report,
                run.period,
                run.schedule,
                run.scheduled_for.map(time_text),
                now_text()
            ],
        )
        .map_err(query("start run"))?;
        let id = conn.last_insert_rowid();
        // A run started under a report lease (`baton serve`) is named in it, so another
        // process asking for the lease learns which run holds the report.
        if let Some(holder) = self.lease_holder() {
            conn.execute(
                "UPDATE leases SET run_id = ?1 WHERE name = ?2 AND holder = ?3",
                params![id, super::leases::report_lease(&run.report), holder],
            )
            .map_err(query("name the run in its lease"))?;
        }
        Ok(RunId(id))
    }

    /// Records the end of a run (finished now).
    pub fn finish_run(&self, id: RunId, outcome: &RunOutcome) -> Result<(), StoreError> {
        let (state, sent, failed, q, error) = match outcome {
            RunOutcome::Succeeded {
                messages_sent,
                messages_failed,
                quarantined_rows,
            } => (
                RunState::Succeeded,
                *messages_sent,
                *messages_failed,
                *quarantined_rows,
                None,
            ),
            RunOutcome::Partial {
                messages_sent,
                messages_failed,
                quarantined_rows,
                error,
            }
            | RunOutcome::Failed {
                messages_sent,
                messages_failed,
                quarantined_rows,
                error,
            } => (
                outcome.state(),
                *messages_sent,
                *messages_failed,
                *quarantined_rows,
                Some(error.as_str()),
            ),
        };
        let n = self
            .conn()
            .execute(
                "UPDATE runs SET finished_at = ?2, state = ?3, messages_sent = ?4,
                 messages_failed = ?5, quarantined_rows = ?6, error = ?7 WHERE id = ?1",
                params![id.0, now_text(), state.as_str(), sent, failed, q, error],
            )
            .map_err(query("finish run"))?;
        if n == 0 {
            return Err(StoreError::NoSuchRun(id.0));
        }
        Ok(())
    }

    /// Sets the period of a run once it is known (it may be resolved after the start).
    pub fn set_run_period(&self, id: RunId, period: &str) -> Result<(), StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE runs SET period = ?2 WHERE id = ?1",
                params![id.0, period],
            )
            .map_err(query("set run period"))?;
        if n == 0 {
            return Err(StoreError::NoSuchRun(id.0));
        }
        Ok(())
    }

    pub fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError> {
        let raw = self
            .conn()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                params![id.0],
                raw_run,
            )
            .optional()
            .map_err(query("read run"))?;
        raw.map(to_record).transpose()
    }

    /// The latest `limit` runs, newest first (for `baton runs`).
    pub fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, id DESC LIMIT ?1"
            ))
            .map_err(query("list runs"))?;
        let raws = stmt
            .query_map(params![limit as i64], raw_run)
            .map_err(query("list runs"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(query("list runs"))?;
        raws.into_iter().map(to_record).collect()
    }

    /// Runs of `report` still marked `running`.
    pub fn running_runs(&self, report: &str) -> Result<Vec<RunRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE report = ?1 AND state = 'running' ORDER BY id"
            ))
            .map_err(query("list running runs"))?;
        let raws = stmt
            .query_map(params![report], raw_run)
            .map_err(query("list running runs"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(query("list running runs"))?;
        raws.into_iter().map(to_record).collect()
    }

    /// Says `run` is alive (its leases hold while it is). Called every few seconds while a
    /// run works.
    pub fn heartbeat(&self, id: RunId) -> Result<(), StoreError> {
        self.write("run heartbeat", |tx| {
            tx.execute(
                "UPDATE runs SET heartbeat_at = ?2 WHERE id = ?1 AND state = 'running'",
                params![id.0, now_text()],
            )
        })?;
        Ok(())
    }

    /// Marks `abandoned` every run still `running` whose last heartbeat is older than
    /// `silent_for` (its process died), and releases its leases: a send whose data had gone
    /// out becomes in doubt, any other is free for the next run. Returns the runs marked.
    pub fn mark_abandoned(
        &self,
        silent_for: std::time::Duration,
    ) -> Result<Vec<RunId>, StoreError> {
        let cutoff = time_text(
            Utc::now() - chrono::Duration::from_std(silent_for).unwrap_or(chrono::Duration::MAX),
        );
        let ids: Vec<i64> = self.write("mark abandoned runs", |tx| {
            let ids: Vec<i64> = tx
                .prepare(
                    "SELECT id FROM runs WHERE state = 'running'
                     AND COALESCE(heartbeat_at, started_at) < ?1",
                )?
                .query_map(params![cutoff], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in &ids {
                tx.execute(
                    "UPDATE runs SET state = 'abandoned', finished_at = ?2,
                         error = 'the run stopped without finishing (killed or crashed); its \
                                  unconfirmed sends are in doubt, the rest are retried'
                     WHERE id = ?1",
                    params![id, now_text()],
                )?;
            }
            Ok(ids)
        })?;
        for id in &ids {
            self.release_leases(*id)?;
            tracing::warn!(run = id, "run found abandoned (killed or crashed)");
        }
        Ok(ids.into_iter().map(RunId).collect())
    }

    /// Marks runs still `running` that started before `cutoff` as failed with `reason` (a run
    /// stuck past the working timeout, or cut short by a crash). Returns how many.
    pub fn fail_stale_runs(
        &self,
        cutoff: DateTime<Utc>,
        reason: &str,
    ) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "UPDATE runs SET state = 'failed', finished_at = ?2, error = ?3
                 WHERE state = 'running' AND started_at < ?1",
                params![time_text(cutoff), now_text(), reason],
            )
            .map_err(query("fail stale runs"))
    }

    /// Records how many messages the run found delivered already.
    pub fn set_run_already(&self, id: RunId, n: u32) -> Result<(), StoreError> {
        self.write("set run already-delivered count", |tx| {
            tx.execute(
                "UPDATE runs SET messages_already = ?2 WHERE id = ?1",
                params![id.0, n],
            )
        })?;
        Ok(())
    }

    /// Ends a run still `running` as `state` with `reason` (a run stopped past its working
    /// timeout, or abandoned at shutdown) and releases its claims in the ledger. False when
    /// the run had ended already.
    pub fn stop_run(&self, id: RunId, state: RunState, reason: &str) -> Result<bool, StoreError> {
        let n = self.write("stop run", |tx| {
            tx.execute(
                "UPDATE runs SET state = ?2, finished_at = ?3, error = ?4
                 WHERE id = ?1 AND state = 'running'",
                params![id.0, state.as_str(), now_text(), reason],
            )
        })?;
        self.release_leases(id.0)?;
        Ok(n > 0)
    }

    /// Takes the right to tell the operator that `id` failed: true once per run, whichever
    /// process asks.
    pub fn claim_alert(&self, id: RunId) -> Result<bool, StoreError> {
        let n = self.write("claim the failure notice", |tx| {
            tx.execute(
                "UPDATE runs SET alerted_at = ?2 WHERE id = ?1 AND alerted_at IS NULL",
                params![id.0, now_text()],
            )
        })?;
        Ok(n > 0)
    }
}
