use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;
use std::fmt;

/// A reporting period: whole local days `[start, end)` in the report's IANA time zone.
///
/// A period is cut in local days, so an ISO week across a daylight-saving change is still
/// Monday 00:00 to Monday 00:00 local (167 or 169 hours). `start_utc` / `end_utc` are the
/// instants the engine filters on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    start: NaiveDate,
    end: NaiveDate,
    tz: Tz,
    iso_week: Option<(i32, u32)>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PeriodError {
    #[error("period `{0}` is not an ISO week (2026-W46), a date range (2026-11-09..2026-11-16) or `last-week`")]
    Syntax(String),
    #[error("period `{0}` is empty: its end must come after its start")]
    Empty(String),
}

impl Period {
    /// The ISO week `year`-W`week` in `tz`.
    pub fn iso_week(year: i32, week: u32, tz: Tz) -> Option<Period> {
        let start = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?;
        Some(Period {
            start,
            end: start + Duration::days(7),
            tz,
            iso_week: Some((year, week)),
        })
    }

    /// The ISO week that contains local date `d`.
    pub fn week_of(d: NaiveDate, tz: Tz) -> Period {
        let w = d.iso_week();
        Period::iso_week(w.year(), w.week(), tz).expect("a date's own ISO week exists")
    }

    /// Local days `[start, end)`.
    pub fn range(start: NaiveDate, end: NaiveDate, tz: Tz) -> Result<Period, PeriodError> {
        if end <= start {
            return Err(PeriodError::Empty(format!("{start}..{end}")));
        }
        Ok(Period {
            start,
            end,
            tz,
            iso_week: None,
        })
    }

    /// Parses `2026-W46`, `2026-11-09..2026-11-16`, `last-week` or `this-week` (relative to `now`).
    pub fn parse(spec: &str, tz: Tz, now: DateTime<Utc>) -> Result<Period, PeriodError> {
        let s = spec.trim();
        let today = now.with_timezone(&tz).date_naive();
        match s {
            "last-week" => return Ok(Period::week_of(today, tz).previous()),
            "this-week" => return Ok(Period::week_of(today, tz)),
            _ => {}
        }
        if let Some((a, b)) = s.split_once("..") {
            let parse = |x: &str| {
                NaiveDate::parse_from_str(x.trim(), "%Y-%m-%d")
                    .map_err(|_| PeriodError::Syntax(spec.to_string()))
            };
            return Period::range(parse(a)?, parse(b)?, tz);
        }
        if let Some((y, w)) = s.split_once("-W").or_else(|| s.split_once("-w")) {
            let year: i32 = y
                .parse()
                .map_err(|_| PeriodError::Syntax(spec.to_string()))?;
            let week: u32 = w
                .parse()
                .map_err(|_| PeriodError::Syntax(spec.to_string()))?;
            return Period::iso_week(year, week, tz)
                .ok_or_else(|| PeriodError::Syntax(spec.to_string()));
        }
        Err(PeriodError::Syntax(spec.to_string()))
    }

    /// The period of the same length just before this one (the previous ISO week for a week).
    pub fn previous(&self) -> Period {
        self.shifted_days(-(self.days()))
    }

    /// This period moved by whole local days.
    pub fn shifted_days(&self, days: i64) -> Period {
        let start = self.start + Duration::days(days);
        let end = self.end + Duration::days(days);
        match self.iso_week {
            Some(_) => Period::week_of(start, self.tz),
            None => Period {
                start,
                end,
                tz: self.tz,
                iso_week: None,
            },
        }
    }

    /// The `n` periods ending with this one, oldest first (the trend series).
    pub fn trailing(&self, n: usize) -> Vec<Period> {
        let mut out: Vec<Period> = Vec::with_capacity(n);
        let mut p = self.clone();
        for _ in 0..n {
            out.push(p.clone());
            p = p.previous();
        }
        out.reverse();
        out
    }

    /// The periods a report covers, oldest first: `weeks` of trend, and never fewer than the
    /// previous period and this one (what metrics compute and sources must pull).
    pub fn report_span(&self, weeks: usize) -> Vec<Period> {
        self.trailing(weeks.max(2))
    }

    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }
    pub fn start_date(&self) -> NaiveDate {
        self.start
    }
    /// Exclusive end date.
    pub fn end_date(&self) -> NaiveDate {
        self.end
    }
    pub fn tz(&self) -> Tz {
        self.tz
    }
    pub fn start_utc(&self) -> DateTime<Utc> {
        local_midnight(self.start, self.tz)
    }
    pub fn end_utc(&self) -> DateTime<Utc> {
        local_midnight(self.end, self.tz)
    }
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start_utc() && t < self.end_utc()
    }

    /// Short label: `2026-W46` for a week, `2026-11-09..2026-11-16` otherwise.
    pub fn label(&self) -> String {
        match self.iso_week {
            Some((y, w)) => format!("{y}-W{w:02}"),
            None => format!("{}..{}", self.start, self.end),
        }
    }

    /// The JSON shape of METRICS.md section 8: instants with the zone's offset, and the zone.
    pub fn to_json(&self) -> PeriodJson {
        PeriodJson {
            label: self.label(),
            start: self.start_utc().with_timezone(&self.tz).to_rfc3339(),
            end: self.end_utc().with_timezone(&self.tz).to_rfc3339(),
            tz: self.tz.name().to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodJson {
    pub label: String,
    pub start: String,
    pub end: String,
    pub tz: String,
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Local midnight of `d` as an instant. Where midnight does not exist (a zone that springs
/// forward at 00:00) the first valid local time after it is used.
fn local_midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = d.and_time(NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    #[test]
    fn iso_week_spans_monday_to_monday() {
        let p = Period::parse("2026-W46", chrono_tz::UTC, now()).unwrap();
        assert_eq!(
            p.start_date(),
            NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
        );
        assert_eq!(p.end_date(), NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!(p.previous().label(), "2026-W45");
    }

    #[test]
    fn last_week_is_relative_to_now_in_zone() {
        // 2026-11-21 is a Saturday in week 47, so last week is W46.
        let p = Period::parse("last-week", chrono_tz::Europe::London, now()).unwrap();
        assert_eq!(p.label(), "2026-W46");
    }

    #[test]
    fn week_across_dst_end_is_169_hours() {
        // Europe/London leaves BST on Sunday 2026-10-25: week 43 has one extra hour.
        let p = Period::parse("2026-W43", chrono_tz::Europe::London, now()).unwrap();
        assert_eq!((p.end_utc() - p.start_utc()).num_hours(), 169);
        assert_eq!(p.start_utc().to_rfc3339(), "2026-10-18T23:00:00+00:00");
    }

    #[test]
    fn ranges_and_errors() {
        let p = Period::parse("2026-11-01..2026-11-15", chrono_tz::UTC, now()).unwrap();
        assert_eq!(p.days(), 14);
        assert_eq!(
            p.previous().start_date(),
            NaiveDate::from_ymd_opt(2026, 10, 18).unwrap()
        );
        assert!(matches!(
            Period::parse("2026-11-15..2026-11-01", chrono_tz::UTC, now()),
            Err(PeriodError::Empty(_))
        ));
        assert!(matches!(
            Period::parse("soon", chrono_tz::UTC, now()),
            Err(PeriodError::Syntax(_))
        ));
    }

    #[test]
    fn trailing_weeks_are_contiguous() {
        let p = Period::parse("2026-W02", chrono_tz::UTC, now()).unwrap();
        let t = p.trailing(4);
        assert_eq!(
            t.iter().map(|p| p.label()).collect::<Vec<_>>(),
            ["2025-W51", "2025-W52", "2026-W01", "2026-W02"]
        );
        for w in t.windows(2) {
            assert_eq!(w[0].end_utc(), w[1].start_utc());
        }
    }
}
