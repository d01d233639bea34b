//! The fix registry: fixes added with `baton fix add`, closed and reopened, each change logged
//! with who made it and when; and the verdict each fix got at each look, so a verdict that
//! flips to verified or regressed can be told once.
//!
//! The definition of a fix ([`Fix`]) is the one `[[fixes]]` in the config uses; a fix declared
//! there wins over a stored one with the same id (the verify stage merges them).

use super::{now_text, parse_time, Store, StoreError};
use crate::config::{Fix, FixState};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension, Row};

/// A stored fix with who added it and who changed it last.
#[derive(Debug, Clone, PartialEq)]
pub struct FixRecord {
    pub fix: Fix,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// What happened to a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixAction {
    Added,
    Closed,
    Reopened,
}

impl FixAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FixAction::Added => "added",
            FixAction::Closed => "closed",
            FixAction::Reopened => "reopened",
        }
    }
    fn parse(s: &str) -> Option<FixAction> {
        [FixAction::Added, FixAction::Closed, FixAction::Reopened]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// One line of a fix's history.
#[derive(Debug, Clone, PartialEq)]
pub struct FixLogEntry {
    pub at: DateTime<Utc>,
    pub who: String,
    pub action: FixAction,
    pub note: Option<String>,
}

const FIX_COLUMNS: &str = "id, title, branch, scope, live, expect, owner, review_by, state, \
     created_by, created_at, updated_by, updated_at";

fn query(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

type RawFix = [Option<String>; 13];

fn raw_fix(r: &Row) -> rusqlite::Result<RawFix> {
    let mut out: RawFix = Default::default();
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = r.get(i)?;
    }
    Ok(out)
}

fn to_record(raw: RawFix) -> Result<FixRecord, StoreError> {
    let [id, title, branch, scope, live, expect, owner, review_by, state, cb, ca, ub, ua] = raw;
    let text = |what: &'static str, v: Option<String>| {
        v.ok_or(StoreError::Corrupt {
            what,
            value: "NULL".into(),
        })
    };
    fn parsed<T, E>(
        what: &'static str,
        v: String,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        f(&v).map_err(|_| StoreError::Corrupt { what, value: v })
    }
    let date = |what: &'static str, v: String| {
        parsed(what, v, |s| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
    };
    let fix = Fix {
        id: text("fixes.id", id)?,
        title: text("fixes.title", title)?,
        branch: parsed("fixes.branch", text("fixes.branch", branch)?, str::parse)?,
        scope: parsed("fixes.scope", text("fixes.scope", scope)?, str::parse)?,
        live: date("fixes.live", text("fixes.live", live)?)?,
        expect: parsed("fixes.expect", text("fixes.expect", expect)?, str::parse)?,
        owner: text("fixes.owner", owner)?,
        review_by: review_by.map(|v| date("fixes.review_by", v)).transpose()?,
        state: parsed("fixes.state", text("fixes.state", state)?, str::parse)?,
    };
    Ok(FixRecord {
        fix,
        created_by: text("fixes.created_by", cb)?,
        created_at: parse_time("fixes.created_at", ca)?.unwrap_or_default(),
        updated_by: text("fixes.updated_by", ub)?,
        updated_at: parse_time("fixes.updated_at", ua)?.unwrap_or_default(),
    })
}

impl Store {
    /// Registers a fix (`who` added it now). Refused when the id is taken.
    pub fn add_fix(&self, fix: &Fix, who: &str) -> Result<FixRecord, StoreError> {
        let now = now_text();
        let inserted = self.write("add fix", |tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO fixes (id, title, branch, scope, live, expect, owner,
                     review_by, state, created_by, created_at, updated_by, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10, ?11)",
                params![
                    fix.id,
                    fix.title,
                    fix.branch.as_str(),
                    fix.scope.to_string(),
                    date_text(fix.live),
                    fix.expect.as_str(),
                    fix.owner,
                    fix.review_by.map(date_text),
                    fix.state.as_str(),
                    who,
                    now
                ],
            )?;
            if n == 1 {
                log(tx, &fix.id, &now, who, FixAction::Added, None)?;
            }
            Ok(n == 1)
        })?;
        if !inserted {
            return Err(StoreError::FixExists(fix.id.clone()));
        }
        self.stored_fix(&fix.id)?
            .ok_or_else(|| StoreError::NoSuchFix(fix.id.clone()))
    }

    /// Every stored fix, oldest first.
    pub fn stored_fixes(&self) -> Result<Vec<FixRecord>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(&format!(
                "SELECT {FIX_COLUMNS} FROM fixes ORDER BY created_at, id"
            ))
            .map_err(query("list fixes"))?;
        let raws = st
            .query_map([], raw_fix)
            .map_err(query("list fixes"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(query("list fixes"))?;
        raws.into_iter().map(to_record).collect()
    }

    /// The stored fix with this id.
    pub fn stored_fix(&self, id: &str) -> Result<Option<FixRecord>, StoreError> {
        let raw = self
            .conn()
            .query_row(
                &format!("SELECT {FIX_COLUMNS} FROM fixes WHERE id = ?1"),
                params![id],
                raw_fix,
            )
            .optional()
            .map_err(query("read fix"))?;
        raw.map(to_record).transpose()
    }

    /// Closes or reopens a stored fix (`who`, now, with an optional note). Setting the state
    /// it already has changes nothing and logs nothing.
    pub fn set_fix_state(
        &self,
        id: &str,
        state: FixState,
        who: &str,
        note: Option<&str>,
    ) -> Result<FixRecord, StoreError> {
        let now = now_text();
        let found = self.write("set fix state", |tx| {
            let current: Option<String> = tx
                .query_row("SELECT state FROM fixes WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(current) = current else {
                return Ok(false);
            };
            if current != state.as_str() {
                tx.execute(
                    "UPDATE fixes SET state = ?2, updated_by = ?3, updated_at = ?4 WHERE id = ?1",
                    params![id, state.as_str(), who, now],
                )?;
                let action = match state {
                    FixState::Open => FixAction::Reopened,
                    FixState::Closed => FixAction::Closed,
                };
                log(tx, id, &now, who, action, note)?;
            }
            Ok(true)
        })?;
        if !found {
            return Err(StoreError::NoSuchFix(id.to_string()));
        }
        self.stored_fix(id)?
            .ok_or_else(|| StoreError::NoSuchFix(id.to_string()))
    }

    /// A fix's history, oldest first.
    pub fn fix_log(&self, id: &str) -> Result<Vec<FixLogEntry>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT at, who, action, note FROM fix_log WHERE fix_id = ?1 ORDER BY id")
            .map_err(query("read fix log"))?;
        let raws = st
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(query("read fix log"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(query("read fix log"))?;
        raws.into_iter()
            .map(|(at, who, action, note)| {
                Ok(FixLogEntry {
                    at: parse_time("fix_log.at", Some(at))?.unwrap_or_default(),
                    who,
                    action: FixAction::parse(&action).ok_or(StoreError::Corrupt {
                        what: "fix_log.action",
                        value: action,
                    })?,
                    note,
                })
            })
            .collect()
    }

    /// Records the verdict a fix got at the look `as_of` (once per fix and date; a second
    /// record for the same date replaces the first) and returns the verdict of the latest
    /// earlier look, if any: a caller compares them to tell a flip once.
    pub fn record_verdict(
        &self,
        fix_id: &str,
        as_of: NaiveDate,
        verdict: &str,
    ) -> Result<Option<String>, StoreError> {
        let now = now_text();
        let as_of = date_text(as_of);
        self.write("record verdict", |tx| {
            let previous: Option<String> = tx
                .query_row(
                    "SELECT verdict FROM fix_verdicts WHERE fix_id = ?1 AND as_of < ?2
                     ORDER BY as_of DESC LIMIT 1",
                    params![fix_id, as_of],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "INSERT INTO fix_verdicts (fix_id, as_of, verdict, recorded_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (fix_id, as_of) DO UPDATE SET verdict = ?3, recorded_at = ?4",
                params![fix_id, as_of, verdict, now],
            )?;
            Ok(previous)
        })
    }

    /// The verdicts a fix got, by look date, oldest first.
    pub fn verdict_history(&self, fix_id: &str) -> Result<Vec<(NaiveDate, String)>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT as_of, verdict FROM fix_verdicts WHERE fix_id = ?1 ORDER BY as_of")
            .map_err(query("read verdicts"))?;
        let raws = st
            .query_map(params![fix_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(query("read verdicts"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(query("read verdicts"))?;
        raws.into_iter()
            .map(|(d, v)| {
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map(|d| (d, v))
                    .map_err(|_| StoreError::Corrupt {
                        what: "fix_verdicts.as_of",
                        value: d,
                    })
            })
            .collect()
    }
}

fn log(
    tx: &rusqlite::Transaction,
    id: &str,
    at: &str,
    who: &str,
    action: FixAction,
    note: Option<&str>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO fix_log (fix_id, at, who, action, note) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, at, who, action.as_str(), note],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Expect, FixScope};
    use crate::domain::{Cause, Dimension};

    fn fix(id: &str) -> Fix {
        Fix {
            id: id.into(),
            title: "Billing keywords route to Billing".into(),
            branch: Cause::Routing,
            scope: FixScope::new(vec![
                (Dimension::Topic, "billing".into()),
                (Dimension::Channel, "chat".into()),
            ])
            .unwrap(),
            live: NaiveDate::from_ymd_opt(2026, 11, 9).unwrap(),
            expect: Expect::Down,
            owner: "support-ops@example.com".into(),
            review_by: NaiveDate::from_ymd_opt(2026, 12, 7),
            state: FixState::Open,
        }
    }

    #[test]
    fn add_list_close_reopen_with_history() {
        let s = Store::open_in_memory().unwrap();
        let r = s.add_fix(&fix("billing-keywords"), "ana").unwrap();
        assert_eq!(r.fix, fix("billing-keywords"));
        assert_eq!(r.created_by, "ana");
        assert_eq!(r.fix.scope.to_string(), "channel=chat & topic=billing");
        assert!(matches!(
            s.add_fix(&fix("billing-keywords"), "bo"),
            Err(StoreError::FixExists(_))
        ));
        s.add_fix(&fix("second"), "bo").unwrap();
        let all = s.stored_fixes().unwrap();
        assert_eq!(all.len(), 2);
        let closed = s
            .set_fix_state("billing-keywords", FixState::Closed, "bo", Some("done"))
            .unwrap();
        assert_eq!(closed.fix.state, FixState::Closed);
        assert_eq!(closed.updated_by, "bo");
        // Closing again changes nothing.
        s.set_fix_state("billing-keywords", FixState::Closed, "cy", None)
            .unwrap();
        s.set_fix_state("billing-keywords", FixState::Open, "cy", None)
            .unwrap();
        let log = s.fix_log("billing-keywords").unwrap();
        let actions: Vec<_> = log.iter().map(|e| (e.action, e.who.as_str())).collect();
        assert_eq!(
            actions,
            [
                (FixAction::Added, "ana"),
                (FixAction::Closed, "bo"),
                (FixAction::Reopened, "cy")
            ]
        );
        assert_eq!(log[1].note.as_deref(), Some("done"));
        assert!(matches!(
            s.set_fix_state("nope", FixState::Closed, "x", None),
            Err(StoreError::NoSuchFix(_))
        ));
    }

    #[test]
    fn verdicts_return_the_previous_look() {
        let s = Store::open_in_memory().unwrap();
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        assert_eq!(s.record_verdict("f", d(16), "too_early").unwrap(), None);
        assert_eq!(
            s.record_verdict("f", d(23), "inconclusive").unwrap(),
            Some("too_early".into())
        );
        // The same look again replaces its verdict and still reports the one before.
        assert_eq!(
            s.record_verdict("f", d(23), "verified").unwrap(),
            Some("too_early".into())
        );
        assert_eq!(
            s.verdict_history("f").unwrap(),
            [(d(16), "too_early".into()), (d(23), "verified".into())]
        );
    }
}
