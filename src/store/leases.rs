//! `baton serve`'s share of the store: a lease per report (one run of a report at a time, also
//! across processes on one store; it expires when its holder stops renewing it, so a killed
//! `serve` frees the report), and the fire log of each schedule (one row per fire: started,
//! done, failed, or skipped with the reason), which makes a fire run once however many
//! `serve` processes see it and tells a restarted one what it missed.

use super::{now_text, parse_time, time_text, RunId, RunKind, RunState, Store, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The lease name of a report's runs.
pub fn report_lease(report: &str) -> String {
    format!("report:{report}")
}

/// A lease row.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseInfo {
    pub name: String,
    pub holder: String,
    /// The run working under it, once started.
    pub run_id: Option<RunId>,
    /// What the holder is doing (`schedule weekly-owners 2026-11-16T09:00:00Z`, `http`).
    pub what: Option<String>,
    pub until: DateTime<Utc>,
}

/// What [`Store::acquire_lease`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Acquired {
    /// The caller holds it; `took_over` is the run of an expired holder, now abandoned.
    Granted { took_over: Option<RunId> },
    /// Someone else holds it, live.
    Held(LeaseInfo),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireState {
    /// A process is running it (or died running it: see its lease).
    Started,
    /// Its run ended succeeded or partial.
    Done,
    /// Its run failed (the run log says why); not retried by the scheduler.
    Failed,
    /// Not run: missed during downtime, older than the grace period, or the report was busy
    /// past the grace period. `note` says which.
    Skipped,
}

impl FireState {
    pub fn as_str(self) -> &'static str {
        match self {
            FireState::Started => "started",
            FireState::Done => "done",
            FireState::Failed => "failed",
            FireState::Skipped => "skipped",
        }
    }
}

impl FromStr for FireState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            FireState::Started,
            FireState::Done,
            FireState::Failed,
            FireState::Skipped,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| s.to_string())
    }
}

/// One row of the fire log.
#[derive(Debug, Clone, PartialEq)]
pub struct FireRecord {
    pub schedule: String,
    pub scheduled_for: DateTime<Utc>,
    pub report: String,
    pub kind: RunKind,
    pub state: FireState,
    pub run_id: Option<RunId>,
    pub holder: Option<String>,
    pub note: Option<String>,
}

/// What [`Store::begin_fire`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum FireStart {
    /// The caller holds the report's lease and the fire is `started` in its name.
    Begun { took_over: Option<RunId> },
    /// The fire has been dealt with (done, failed, skipped): nothing to do.
    Handled(FireRecord),
    /// The report is busy with a run (this fire's, by another process, or another one) held
    /// by someone else whose lease is live: look again later (a dead holder's lease
    /// expires; a live one's fire ends done or failed).
    Busy(LeaseInfo),
}

/// Totals of the run log and the fire log, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStats {
    pub runs_by_state: Vec<(String, u64)>,
    pub messages_sent: u64,
    pub messages_failed: u64,
    pub messages_already: u64,
    /// Schedule -> end of its last succeeded run.
    pub last_success: Vec<(String, DateTime<Utc>)>,
    pub fires_by_state: Vec<(String, u64)>,
}

fn q(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

fn until(ttl: Duration) -> String {
    time_text(Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX))
}

type RawLease = (String, String, Option<i64>, Option<String>, String);

fn read_lease(tx: &Transaction, name: &str) -> rusqlite::Result<Option<RawLease>> {
    tx.query_row(
        "SELECT name, holder, run_id, what, until FROM leases WHERE name = ?1",
        params![name],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
    .optional()
}

fn to_lease(raw: RawLease) -> Result<LeaseInfo, StoreError> {
    let (name, holder, run_id, what, until) = raw;
    Ok(LeaseInfo {
        name,
        holder,
        run_id: run_id.map(RunId),
        what,
        until: parse_time("leases.until", Some(until))?.expect("Some in, Some out"),
    })
}

/// Whether a raw lease is live (its holder renewed it in time). Times are the store's fixed
/// RFC 3339 form, so text order is time order.
fn live(raw: &RawLease) -> bool {
    raw.4 > now_text()
}

/// Takes `name` for `holder` inside `tx` unless another live holder has it. Returns the run
/// of an expired holder taken over, or the live lease.
fn take(
    tx: &Transaction,
    name: &str,
    holder: &str,
    what: &str,
    ttl: Duration,
) -> rusqlite::Result<Result<Option<i64>, RawLease>> {
    let took_over = match read_lease(tx, name)? {
        Some(l) if live(&l) && l.1 != holder => return Ok(Err(l)),
        Some(l) if l.1 != holder => l.2,
        _ => None,
    };
    tx.execute(
        "INSERT INTO leases (name, holder, run_id, what, acquired_at, until)
         VALUES (?1, ?2, NULL, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET holder = ?2, run_id = NULL, what = ?3,
             acquired_at = ?4, until = ?5",
        params![name, holder, what, now_text(), until(ttl)],
    )?;
    Ok(Ok(took_over))
}

type RawFire = (
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
);

const FIRE_COLUMNS: &str = "schedule, scheduled_for, report, kind, state, run_id, holder, note";

fn raw_fire(r: &rusqlite::Row) -> rusqlite::Result<RawFire> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn to_fire(raw: RawFire) -> Result<FireRecord, StoreError> {
    let (schedule, at, report, kind, state, run_id, holder, note) = raw;
    Ok(FireRecord {
        schedule,
        scheduled_for: parse_time("schedule_fires.scheduled_for", Some(at))?
            .expect("Some in, Some out"),
        report,
        kind: kind.parse().map_err(|value| StoreError::Corrupt {
            what: "schedule_fires.kind",
            value,
        })?,
        state: state.parse().map_err(|value| StoreError::Corrupt {
            what: "schedule_fires.state",
            value,
        })?,
        run_id: run_id.map(RunId),
        holder,
        note,
    })
}

impl Store {
    /// Takes the lease `name` for `holder` for `ttl`, unless another holder has it and
    /// renewed it in time. An expired holder's run still `running` is marked abandoned (its
    /// process stopped renewing: killed or hung) and its claims released.
    pub fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        what: &str,
        ttl: Duration,
    ) -> Result<Acquired, StoreError> {
        let got = self.write("acquire lease", |tx| take(tx, name, holder, what, ttl))?;
        match got {
            Err(raw) => Ok(Acquired::Held(to_lease(raw)?)),
            Ok(took_over) => Ok(Acquired::Granted {
                took_over: self.abandon_expired(took_over)?,
            }),
        }
    }

    fn abandon_expired(&self, run: Option<i64>) -> Result<Option<RunId>, StoreError> {
        let Some(run) = run.map(RunId) else {
            return Ok(None);
        };
        let stopped = self.stop_run(
            run,
            RunState::Abandoned,
            "its baton serve stopped renewing the report's lease (killed or hung); \
             unconfirmed sends are in doubt, the rest were retried by the next run",
        )?;
        if stopped {
            tracing::warn!(run = run.0, "took over the lease of a dead run: abandoned");
        }
        Ok(Some(run))
    }

    /// Extends `holder`'s lease by `ttl` from now. False when it is no longer theirs.
    pub fn renew_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let n = self.write("renew lease", |tx| {
            tx.execute(
                "UPDATE leases SET until = ?3 WHERE name = ?1 AND holder = ?2",
                params![name, holder, until(ttl)],
            )
        })?;
        Ok(n > 0)
    }

    /// Gives up `holder`'s lease (nothing when it is not theirs).
    pub fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.write("release lease", |tx| {
            tx.execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )
        })?;
        Ok(())
    }

    /// The lease `name`, live or expired.
    pub fn lease(&self, name: &str) -> Result<Option<LeaseInfo>, StoreError> {
        let raw = self.write("read lease", |tx| read_lease(tx, name))?;
        raw.map(to_lease).transpose()
    }

    /// Starts the fire `(schedule, at)` for `holder`: in one transaction, the fire log says
    /// whether it was dealt with (or is being run by another live process), and the report's
    /// lease whether the report is free; if both allow, the lease is taken and the fire
    /// marked `started`. A fire `started` by a holder whose lease expired is taken over.
    #[allow(clippy::too_many_arguments)]
    pub fn begin_fire(
        &self,
        schedule: &str,
        at: DateTime<Utc>,
        report: &str,
        kind: RunKind,
        holder: &str,
        ttl: Duration,
    ) -> Result<FireStart, StoreError> {
        let at_text = time_text(at);
        let lease_name = report_lease(report);
        let what = format!("schedule {schedule} {at_text}");
        enum Got {
            Handled(RawFire),
            Busy(RawLease),
            Begun(Option<i64>),
        }
        let got = self.write("begin fire", |tx| {
            let fire = tx
                .query_row(
                    &format!(
                        "SELECT {FIRE_COLUMNS} FROM schedule_fires
                         WHERE schedule = ?1 AND scheduled_for = ?2"
                    ),
                    params![schedule, at_text],
                    raw_fire,
                )
                .optional()?;
            if let Some(f) = &fire {
                if f.4 != FireState::Started.as_str() {
                    return Ok(Got::Handled(f.clone()));
                }
            }
            let took = match take(tx, &lease_name, holder, &what, ttl)? {
                Ok(t) => t,
                Err(lease) => {
                    // Busy also when the holder is running this very fire: it may be dead
                    // (its lease not yet expired), so the caller waits and looks again.
                    return Ok(Got::Busy(lease));
                }
            };
            tx.execute(
                "INSERT INTO schedule_fires (schedule, scheduled_for, report, kind, state,
                     run_id, holder, note, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'started', NULL, ?5, NULL, ?6)
                 ON CONFLICT (schedule, scheduled_for) DO UPDATE SET kind = ?4,
                     state = 'started', run_id = NULL, holder = ?5, note = NULL, updated_at = ?6",
                params![schedule, at_text, report, kind.as_str(), holder, now_text()],
            )?;
            Ok(Got::Begun(took))
        })?;
        match got {
            Got::Handled(f) => Ok(FireStart::Handled(to_fire(f)?)),
            Got::Busy(l) => Ok(FireStart::Busy(to_lease(l)?)),
            Got::Begun(took) => Ok(FireStart::Begun {
                took_over: self.abandon_expired(took)?,
            }),
        }
    }

    /// Records how the fire ended.
    pub fn finish_fire(
        &self,
        schedule: &str,
        at: DateTime<Utc>,
        state: FireState,
        run: Option<RunId>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write("finish fire", |tx| {
            tx.execute(
                "UPDATE schedule_fires SET state = ?3, run_id = ?4, note = ?5, updated_at = ?6
                 WHERE schedule = ?1 AND scheduled_for = ?2",
                params![
                    schedule,
                    time_text(at),
                    state.as_str(),
                    run.map(|r| r.0),
                    note,
                    now_text()
                ],
            )
        })?;
        Ok(())
    }

    /// Logs a fire as skipped with `note`, unless the fire log has it already. True when
    /// logged.
    pub fn skip_fire(
        &self,
        schedule: &str,
        at: DateTime<Utc>,
        report: &str,
        kind: RunKind,
        note: &str,
    ) -> Result<bool, StoreError> {
        let n = self.write("skip fire", |tx| {
            tx.execute(
                "INSERT INTO schedule_fires (schedule, scheduled_for, report, kind, state,
                     run_id, holder, note, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'skipped', NULL, NULL, ?5, ?6)
                 ON CONFLICT (schedule, scheduled_for) DO NOTHING",
                params![
                    schedule,
                    time_text(at),
                    report,
                    kind.as_str(),
                    note,
                    now_text()
                ],
            )
        })?;
        Ok(n > 0)
    }

    /// Logs each `(fire, note)` as skipped in one transaction, except fires already in the
    /// log. Returns how many were logged.
    pub fn skip_fires(
        &self,
        schedule: &str,
        report: &str,
        kind: RunKind,
        fires: &[(DateTime<Utc>, String)],
    ) -> Result<usize, StoreError> {
        if fires.is_empty() {
            return Ok(0);
        }
        self.write("skip fires", |tx| {
            let mut n = 0;
            let now = now_text();
            for (at, note) in fires {
                n += tx.execute(
                    "INSERT INTO schedule_fires (schedule, scheduled_for, report, kind, state,
                         run_id, holder, note, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'skipped', NULL, NULL, ?5, ?6)
                     ON CONFLICT (schedule, scheduled_for) DO NOTHING",
                    params![schedule, time_text(*at), report, kind.as_str(), note, now],
                )?;
            }
            Ok(n)
        })
    }

    /// The fire log of `schedule`, newest first.
    pub fn fires(&self, schedule: &str, limit: usize) -> Result<Vec<FireRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {FIRE_COLUMNS} FROM schedule_fires WHERE schedule = ?1
                 ORDER BY scheduled_for DESC LIMIT ?2"
            ))
            .map_err(q("list fires"))?;
        let raws = stmt
            .query_map(params![schedule, limit as i64], raw_fire)
            .map_err(q("list fires"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(q("list fires"))?;
        raws.into_iter().map(to_fire).collect()
    }

    /// Whether the store answers (for `/healthz`).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn()
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .map_err(q("ping"))?;
        Ok(())
    }

    /// Totals for `/metrics`.
    pub fn run_stats(&self) -> Result<RunStats, StoreError> {
        let conn = self.conn();
        let pairs = |sql: &str, what: &'static str| -> Result<Vec<(String, u64)>, StoreError> {
            let mut stmt = conn.prepare(sql).map_err(q(what))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
                })
                .map_err(q(what))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(q(what));
            rows
        };
        let runs_by_state = pairs(
            "SELECT state, COUNT(*) FROM runs GROUP BY state ORDER BY state",
            "count runs",
        )?;
        let fires_by_state = pairs(
            "SELECT state, COUNT(*) FROM schedule_fires GROUP BY state ORDER BY state",
            "count fires",
        )?;
        let (sent, failed, already): (i64, i64, i64) = conn
            .query_row(
                "SELECT COALESCE(SUM(messages_sent), 0), COALESCE(SUM(messages_failed), 0),
                     COALESCE(SUM(messages_already), 0) FROM runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(q("sum messages"))?;
        let mut stmt = conn
            .prepare(
                "SELECT schedule, MAX(finished_at) FROM runs
                 WHERE state = 'succeeded' AND schedule IS NOT NULL AND finished_at IS NOT NULL
                 GROUP BY schedule ORDER BY schedule",
            )
            .map_err(q("last successes"))?;
        let raw = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(q("last successes"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(q("last successes"))?;
        let mut last_success = Vec::new();
        for (s, t) in raw {
            if let Some(t) = parse_time("runs.finished_at", Some(t))? {
                last_success.push((s, t));
            }
        }
        Ok(RunStats {
            runs_by_state,
            messages_sent: sent as u64,
            messages_failed: failed as u64,
            messages_already: already as u64,
            last_success,
            fires_by_state,
        })
    }
}
