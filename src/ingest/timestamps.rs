//! `at` in any shape an export gives it, to microseconds since the Unix epoch (UTC).
//!
//! Datetimes are taken as the instant they hold (a zoned Parquet timestamp stores UTC), dates as
//! midnight UTC, numbers and digit strings as Unix epochs whose unit (s, ms, us, ns) is read from
//! their magnitude unless `timestamp_format` names it, other text as RFC 3339 or the configured
//! chrono format (read as UTC). Values outside [`PLAUSIBLE_US`] are quarantined by the caller.

use super::IngestError;
use chrono::format::{Item, StrftimeItems};
use polars::prelude::*;

/// 1990-01-01T00:00:00Z and 2100-01-01T00:00:00Z: helpdesk events outside are a misread unit or
/// a placeholder date, not history.
pub const PLAUSIBLE_US: (i64, i64) = (631_152_000_000_000, 4_102_444_800_000_000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl EpochUnit {
    /// The unit that puts `median` (absolute) nearest the plausible range: the boundaries are
    /// the geometric gaps between the ranges each unit makes plausible (1990-2100 is 6.3e8 to
    /// 4.1e9 seconds, 6.3e11 to 4.1e12 milliseconds, ...).
    fn from_magnitude(median: f64) -> EpochUnit {
        match median.abs() {
            m if m < 1e11 => EpochUnit::Seconds,
            m if m < 1e14 => EpochUnit::Milliseconds,
            m if m < 1e17 => EpochUnit::Microseconds,
            _ => EpochUnit::Nanoseconds,
        }
    }

    fn micros_i64(self, v: i64) -> i64 {
        // Saturating: an absurd value stays absurd (and implausible) instead of wrapping into range.
        match self {
            EpochUnit::Seconds => v.saturating_mul(1_000_000),
            EpochUnit::Milliseconds => v.saturating_mul(1_000),
            EpochUnit::Microseconds => v,
            EpochUnit::Nanoseconds => v.div_euclid(1_000),
        }
    }

    fn micros_f64(self, v: f64) -> Option<i64> {
        let per = match self {
            EpochUnit::Seconds => 1e6,
            EpochUnit::Milliseconds => 1e3,
            EpochUnit::Microseconds => 1.0,
            EpochUnit::Nanoseconds => 1e-3,
        };
        // `as` saturates, which keeps a huge value implausible.
        v.is_finite().then(|| (v * per).round() as i64)
    }
}

/// What `timestamp_format` asks for: a fixed epoch unit, or a chrono format for text.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimestampFormat<'a> {
    epoch: Option<EpochUnit>,
    strftime: Option<&'a str>,
}

impl<'a> TimestampFormat<'a> {
    pub fn parse(format: Option<&'a str>) -> Result<TimestampFormat<'a>, IngestError> {
        let Some(f) = format else {
            return Ok(TimestampFormat::default());
        };
        let bad = |why: &str| IngestError::TimestampFormat {
            format: f.to_string(),
            reason: why.to_string(),
        };
        let epoch = match f {
            "epoch_s" => Some(EpochUnit::Seconds),
            "epoch_ms" => Some(EpochUnit::Milliseconds),
            "epoch_us" => Some(EpochUnit::Microseconds),
            "epoch_ns" => Some(EpochUnit::Nanoseconds),
            f if f.starts_with("epoch") => {
                return Err(bad(
                    "not an epoch unit; use epoch_s, epoch_ms, epoch_us or epoch_ns",
                ))
            }
            _ => None,
        };
        if epoch.is_some() {
            return Ok(TimestampFormat {
                epoch,
                strftime: None,
            });
        }
        if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
            return Err(bad(
                "not a chrono strftime format (e.g. \"%d/%m/%Y %H:%M\")",
            ));
        }
        Ok(TimestampFormat {
            epoch: None,
            strftime: Some(f),
        })
    }
}

/// `at` as microseconds since the epoch, named `at_us`; unparsable values are null.
pub fn to_micros(s: &Series, format: TimestampFormat) -> PolarsResult<Series> {
    let out: Int64Chunked = match s.dtype() {
        DataType::Datetime(unit, _) => {
            // The physical value is the UTC instant whatever the zone.
            let phys = s.to_physical_repr().into_owned();
            let phys = phys.i64()?;
            match unit {
                TimeUnit::Microseconds => phys.clone(),
                TimeUnit::Milliseconds => phys.apply_values(|x| x.saturating_mul(1000)),
                TimeUnit::Nanoseconds => phys.apply_values(|x| x.div_euclid(1000)),
            }
        }
        DataType::Date => s
            .to_physical_repr()
            .cast(&DataType::Int64)?
            .i64()?
            .apply_values(|d| d.saturating_mul(86_400_000_000)),
        dt if dt.is_integer() => {
            let v = s.cast(&DataType::Int64)?;
            let v = v.i64()?;
            let unit = format
                .epoch
                .unwrap_or_else(|| EpochUnit::from_magnitude(v.median().unwrap_or(0.0)));
            v.apply_values(|x| unit.micros_i64(x))
        }
        dt if dt.is_float() => {
            let v = s.cast(&DataType::Float64)?;
            let v = v.f64()?;
            let unit = format
                .epoch
                .unwrap_or_else(|| EpochUnit::from_magnitude(v.median().unwrap_or(0.0)));
            v.iter()
                .map(|x| x.and_then(|x| unit.micros_f64(x)))
                .collect()
        }
        _ => {
            let text = s.cast(&DataType::String)?;
            let text = text.str()?;
            let unit = format.epoch.unwrap_or_else(|| text_epoch_unit(text));
            text.iter()
                .map(|v| v.and_then(|t| parse_text(t.trim(), format.strftime, unit)))
                .collect()
        }
    };
    Ok(out.with_name("at_us".into()).into_series())
}

/// Whether `t` is a plain number (an epoch): digits with an optional sign and one decimal point.
fn looks_numeric(t: &str) -> bool {
    let b = t.strip_prefix(['-', '+']).unwrap_or(t).as_bytes();
    !b.is_empty()
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().all(|c| c.is_ascii_digit() || *c == b'.')
        && b.iter().filter(|c| **c == b'.').count() <= 1
}

/// The unit of the numeric values in a text column, from their median; seconds when there are
/// none (RFC 3339 text).
fn text_epoch_unit(text: &StringChunked) -> EpochUnit {
    let mut numbers: Vec<f64> = text
        .iter()
        .flatten()
        .map(str::trim)
        .filter(|t| looks_numeric(t))
        .filter_map(|t| t.parse::<f64>().ok())
        .collect();
    if numbers.is_empty() {
        return EpochUnit::Seconds;
    }
    let mid = numbers.len() / 2;
    let (_, median, _) = numbers.select_nth_unstable_by(mid, f64::total_cmp);
    EpochUnit::from_magnitude(*median)
}

fn parse_text(t: &str, format: Option<&str>, unit: EpochUnit) -> Option<i64> {
    if t.is_empty() {
        return None;
    }
    let epoch = || match t.parse::<i64>() {
        Ok(v) => Some(unit.micros_i64(v)),
        Err(_) => t.parse::<f64>().ok().and_then(|v| unit.micros_f64(v)),
    };
    // A configured format may itself be all digits ("%Y%m%d%H%M"): it is tried first.
    if format.is_none() && looks_numeric(t) {
        return epoch();
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp_micros());
    }
    if let Some(f) = format {
        if let Ok(d) = chrono::DateTime::parse_from_str(t, f) {
            return Some(d.timestamp_micros());
        }
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Some(d.and_utc().timestamp_micros());
        }
    }
    looks_numeric(t).then(epoch).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_from_magnitude() {
        // 2026-11-10T09:00:00Z in each unit.
        let s = 1_794_301_200i64;
        assert_eq!(EpochUnit::from_magnitude(s as f64), EpochUnit::Seconds);
        assert_eq!(
            EpochUnit::from_magnitude((s * 1000) as f64),
            EpochUnit::Milliseconds
        );
        assert_eq!(
            EpochUnit::from_magnitude((s * 1_000_000) as f64),
            EpochUnit::Microseconds
        );
        assert_eq!(
            EpochUnit::from_magnitude((s * 1_000_000_000) as f64),
            EpochUnit::Nanoseconds
        );
        // 1990 and 2100 in seconds and in milliseconds fall on the right side.
        for (secs, _) in [(631_152_000i64, ()), (4_102_444_800, ())] {
            assert_eq!(EpochUnit::from_magnitude(secs as f64), EpochUnit::Seconds);
            assert_eq!(
                EpochUnit::from_magnitude((secs * 1000) as f64),
                EpochUnit::Milliseconds
            );
        }
    }

    #[test]
    fn numeric_text() {
        assert!(looks_numeric("1794301200"));
        assert!(looks_numeric("1794301200.25"));
        assert!(looks_numeric("-5"));
        assert!(!looks_numeric("2026-11-10"));
        assert!(!looks_numeric("."));
        assert!(!looks_numeric("1.2.3"));
        assert!(!looks_numeric(""));
    }

    #[test]
    fn formats() {
        assert!(
            TimestampFormat::parse(Some("epoch_ms")).unwrap().epoch
                == Some(EpochUnit::Milliseconds)
        );
        assert!(TimestampFormat::parse(Some("epoch_minutes")).is_err());
        assert!(TimestampFormat::parse(Some("%d/%m/%Y %H:%M")).is_ok());
        assert!(TimestampFormat::parse(Some("%Q")).is_err());
    }
}
