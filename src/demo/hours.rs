//! Business hours (Mon-Fri 08:00-18:00 local) as a table of open windows in Unix seconds, so
//! the generator adds "business minutes" with a binary search instead of a time-zone
//! conversion per event. The windows are cut in local time, so they follow daylight saving.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;

/// Local opening and closing hour of the staffed teams.
pub const OPEN_HOUR: u32 = 8;
pub const CLOSE_HOUR: u32 = 18;

/// The open windows `[open, close)` of every working day in a date range.
pub(crate) struct Calendar {
    windows: Vec<(i64, i64)>,
}

/// Unix seconds of a local date and time; the earliest instant when the local time is
/// ambiguous, the first valid one after a gap.
pub(crate) fn local_secs(tz: Tz, d: NaiveDate, t: NaiveTime) -> i64 {
    let mut dt = d.and_time(t);
    for _ in 0..4 {
        if let Some(x) = tz.from_local_datetime(&dt).earliest() {
            return x.timestamp();
        }
        dt += Duration::minutes(30);
    }
    d.and_time(t).and_utc().timestamp()
}

impl Calendar {
    /// Working days from `from` to `to` (inclusive) in `tz`.
    pub fn new(tz: Tz, from: NaiveDate, to: NaiveDate) -> Calendar {
        let open = NaiveTime::from_hms_opt(OPEN_HOUR, 0, 0).expect("valid hour");
        let close = NaiveTime::from_hms_opt(CLOSE_HOUR, 0, 0).expect("valid hour");
        let windows = from
            .iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .map(|d| (local_secs(tz, d, open), local_secs(tz, d, close)))
            .collect();
        Calendar { windows }
    }

    /// Index of the first window that closes after `t`.
    fn window_after(&self, t: i64) -> usize {
        self.windows.partition_point(|&(_, close)| close <= t)
    }

    /// Whether `t` falls in business hours.
    pub fn is_open(&self, t: i64) -> bool {
        self.windows
            .get(self.window_after(t))
            .is_some_and(|&(open, _)| open <= t)
    }

    /// `t` plus `secs` of business time: the clock only runs while the helpdesk is open, so
    /// work handed over late on Friday is done on Monday. A result that would land exactly on
    /// closing time moves to the next opening. Past the end of the table, time runs freely
    /// (the generator cuts everything after its end date anyway).
    pub fn add(&self, t: i64, secs: i64) -> i64 {
        let mut i = self.window_after(t);
        let mut t = t;
        let mut left = secs.max(0);
        while let Some(&(open, close)) = self.windows.get(i) {
            t = t.max(open);
            if left < close - t {
                return t + left;
            }
            left -= close - t;
            i += 1;
        }
        t + left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn london(s: &str) -> i64 {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Europe::London
            .from_local_datetime(&naive)
            .unwrap()
            .timestamp()
    }

    fn show(t: i64) -> String {
        DateTime::<Utc>::from_timestamp(t, 0)
            .unwrap()
            .with_timezone(&chrono_tz::Europe::London)
            .format("%a %Y-%m-%d %H:%M")
            .to_string()
    }

    fn cal() -> Calendar {
        let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        Calendar::new(chrono_tz::Europe::London, d(10, 19), d(11, 30))
    }

    #[test]
    fn friday_evening_work_waits_for_monday() {
        // 2026-11-13 is a Friday: 17:55 + 10 business minutes = 5 left on Friday, 5 on Monday.
        let t = cal().add(london("2026-11-13 17:55"), 600);
        assert_eq!(show(t), "Mon 2026-11-16 08:05");
        // Landing exactly on closing time moves to the next opening.
        let t = cal().add(london("2026-11-13 17:55"), 300);
        assert_eq!(show(t), "Mon 2026-11-16 08:00");
    }

    #[test]
    fn weekend_and_night_start_at_next_opening() {
        assert_eq!(
            show(cal().add(london("2026-11-14 11:00"), 60)),
            "Mon 2026-11-16 08:01"
        );
        assert_eq!(
            show(cal().add(london("2026-11-10 22:30"), 0)),
            "Wed 2026-11-11 08:00"
        );
        // A whole working day (10 h) from Tuesday 09:00 ends Wednesday 09:00.
        assert_eq!(
            show(cal().add(london("2026-11-10 09:00"), 36_000)),
            "Wed 2026-11-11 09:00"
        );
    }

    #[test]
    fn windows_follow_daylight_saving() {
        // London leaves BST on 2026-10-25: 08:00 local is 07:00 UTC before, 08:00 UTC after.
        let c = cal();
        let before = c.add(london("2026-10-23 07:00"), 0);
        let after = c.add(london("2026-10-26 07:00"), 0);
        assert_eq!(
            DateTime::<Utc>::from_timestamp(before, 0)
                .unwrap()
                .format("%H:%M")
                .to_string(),
            "07:00"
        );
        assert_eq!(
            DateTime::<Utc>::from_timestamp(after, 0)
                .unwrap()
                .format("%H:%M")
                .to_string(),
            "08:00"
        );
        assert!(c.is_open(london("2026-10-26 08:00")));
        assert!(!c.is_open(london("2026-10-26 18:00")));
        assert!(!c.is_open(london("2026-10-25 12:00")));
    }
}
