//! Fire times of a schedule, in its own time zone.
//!
//! Why not let tokio-cron-scheduler compute them: its `Job::new_async_tz` turns the zone into
//! the fixed UTC offset it has when the job is created, so a 09:00 Europe/London job created in
//! winter fires at 10:00 local all summer; its cron parser also needs a seconds field and ANDs
//! day-of-month with day-of-week, unlike standard cron. So the next fire is computed here with
//! croner (standard cron semantics: day-of-month OR day-of-week, seconds optional) on a
//! `DateTime<chrono_tz::Tz>`, which knows every daylight-saving change, and the scheduler arms
//! it as a one-shot job and arms the following one after each fire (`super::Scheduler`).
//!
//! Daylight saving, as croner resolves it and the tests in `tests/schedule_dst.rs` pin down:
//! a fixed-time job whose local time does not exist (02:30 on a spring-forward night in New
//! York) fires once at the first instant after the gap (03:00 local); one whose local time
//! happens twice (01:30 on an autumn night) fires once, at the first of the two.

use crate::config::{CronExpr, ScheduleConfig};
use chrono::{DateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The first fire strictly after `after`, or none when the expression never fires again.
pub fn next_fire(cron: &CronExpr, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // croner steps whole seconds from the start and keeps its fraction: start from the whole
    // second, so every fire is a whole second (the fire log's key).
    let after = after.with_nanosecond(0)?;
    let local = tz.from_utc_datetime(&after.naive_utc());
    let mut next = cron
        .cron()
        .find_next_occurrence(&local, false)
        .ok()?
        .with_timezone(&Utc);
    if next <= after {
        // `after` is in the second pass of a repeated autumn hour: croner resolves the
        // ambiguous local time it finds to the first instant, already past. A fixed-time job
        // does not fire again in the second pass: resume at the first local time after the
        // repeated hour (found minute by minute, at most a few hours on).
        let mut naive = local
            .naive_local()
            .with_second(0)
            .and_then(|n| n.with_nanosecond(0))?;
        let mut probe = None;
        for _ in 0..(4 * 60) {
            naive += chrono::Duration::minutes(1);
            if let chrono::LocalResult::Single(t) = tz.from_local_datetime(&naive) {
                probe = Some(t);
                break;
            }
        }
        next = cron
            .cron()
            .find_next_occurrence(&probe?, true)
            .ok()?
            .with_timezone(&Utc);
    }
    // A fixed-time job in the repeated autumn hour fires at the first of the two instants
    // only: skip the second (same local wall time, one offset later).
    let prev_local = local.naive_local();
    while next.with_timezone(&tz).naive_local() == prev_local && next > after {
        next = cron
            .cron()
            .find_next_occurrence(&next.with_timezone(&tz), false)
            .ok()?
            .with_timezone(&Utc);
    }
    Some(next)
}

/// The next `n` fires after `after`.
pub fn upcoming(cron: &CronExpr, tz: Tz, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut out = Vec::with_capacity(n);
    let mut t = after;
    while out.len() < n {
        match next_fire(cron, tz, t) {
            Some(next) => {
                out.push(next);
                t = next;
            }
            None => break,
        }
    }
    out
}

/// Fires in `(after, upto]`, oldest first, at most `cap` of them (the newest `cap` when there
/// are more), and whether some were left out.
pub fn fires_between(
    cron: &CronExpr,
    tz: Tz,
    after: DateTime<Utc>,
    upto: DateTime<Utc>,
    cap: usize,
) -> (Vec<DateTime<Utc>>, bool) {
    let mut out = std::collections::VecDeque::new();
    let mut dropped = false;
    let mut t = after;
    while let Some(next) = next_fire(cron, tz, t) {
        if next > upto {
            break;
        }
        out.push_back(next);
        if out.len() > cap {
            out.pop_front();
            dropped = true;
        }
        t = next;
    }
    (out.into(), dropped)
}

/// The schedule's next fire after `after`.
pub fn schedule_next(s: &ScheduleConfig, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    next_fire(&s.cron, s.time_zone, after)
}

/// `2026-03-30 09:00:00 BST (+01:00)`.
pub fn local_text(t: DateTime<Utc>, tz: Tz) -> String {
    let l = t.with_timezone(&tz);
    format!("{} ({})", l.format("%Y-%m-%d %H:%M:%S %Z"), l.format("%:z"))
}
