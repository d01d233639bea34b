//! How numbers read in human output: percentages, signed percentage-point changes with an
//! arrow (never colour alone), counts and hours with thousands separators. One place, below
//! every stage, so the terminal tables, the subject, the HTML and the text part agree; the
//! same functions are the templates' filters.

/// Shown where a number does not exist (no conversations, no previous period).
pub const MISSING: &str = "–";

/// Rounds to one decimal; `-0.0` becomes `0.0` so a tiny fall never prints as "-0.0".
fn round1(x: f64) -> f64 {
    let r = (x * 10.0).round() / 10.0;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// A fraction as a percentage: `0.2314` -> `23.1%`.
pub fn pct(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{:.1}%", round1(v * 100.0)),
        _ => MISSING.into(),
    }
}

/// A change already in percentage points, signed: `+3.1 pp`, `-0.4 pp`, `0.0 pp`.
pub fn pp(x: Option<f64>) -> String {
    signed(x, 1, " pp")
}

/// A signed change with `digits` decimals and a unit suffix (`+12`, `-3.5 h`).
pub fn signed(x: Option<f64>, digits: usize, unit: &str) -> String {
    match x {
        Some(v) if v.is_finite() => {
            let scale = 10f64.powi(digits as i32);
            let r = (v * scale).round() / scale;
            if r == 0.0 {
                format!("{:.*}{unit}", digits, 0.0)
            } else if r > 0.0 {
                format!("+{}{unit}", group(&format!("{r:.digits$}")))
            } else {
                format!("{}{unit}", group(&format!("{r:.digits$}")))
            }
        }
        _ => MISSING.into(),
    }
}

/// Which way a change went, as shown (after rounding): the subject and the arrows agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    /// Rounds to zero.
    Flat,
}

impl Direction {
    /// The direction of `x` after rounding to `digits`; none for a missing number.
    pub fn at(x: Option<f64>, digits: usize) -> Option<Direction> {
        let v = x.filter(|v| v.is_finite())?;
        let scale = 10f64.powi(digits as i32);
        let r = (v * scale).round() / scale;
        Some(if r > 0.0 {
            Direction::Up
        } else if r < 0.0 {
            Direction::Down
        } else {
            Direction::Flat
        })
    }

    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Up => "↑",
            Direction::Down => "↓",
            Direction::Flat => "→",
        }
    }
}

/// Direction of a change as shown (after rounding to `digits`): `↑`, `↓` or `→`.
pub fn arrow_at(x: Option<f64>, digits: usize) -> &'static str {
    Direction::at(x, digits).map_or("", Direction::arrow)
}

/// Arrow of a percentage-point change (one decimal).
pub fn arrow(x: Option<f64>) -> &'static str {
    arrow_at(x, 1)
}

/// A number with `digits` decimals and thousands separators: `9,519.3`.
pub fn num(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(v) if v.is_finite() => group(&format!("{v:.digits$}")),
        _ => MISSING.into(),
    }
}

/// A count with thousands separators: `250,991`.
pub fn count(n: i64) -> String {
    group(&n.to_string())
}

/// Inserts `,` every three digits of the integer part of a formatted number.
fn group(formatted: &str) -> String {
    let (sign, rest) = match formatted.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", formatted),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(formatted.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// Change between two fractions in percentage points.
pub fn change_pp(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    Some((now? - before?) * 100.0)
}

/// Whether a change reads as better, worse or flat for the reader; drives colour only (the
/// sign and the arrow carry the meaning, so colour-blind readers and dark modes lose nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    Better,
    Worse,
    Flat,
    /// Neither good nor bad (volumes).
    Neutral,
}

impl Tone {
    /// `higher_is_worse`: `Some(true)` for handoff measures, `Some(false)` for FCR, `None` for
    /// volumes.
    pub fn of(change: Option<f64>, digits: usize, higher_is_worse: Option<bool>) -> Tone {
        match (arrow_at(change, digits), higher_is_worse) {
            ("", _) | ("→", _) => Tone::Flat,
            (_, None) => Tone::Neutral,
            ("↑", Some(true)) | ("↓", Some(false)) => Tone::Worse,
            _ => Tone::Better,
        }
    }
}

/// Shortens a helpdesk-supplied name for inline tables (the CSV keeps it whole).
pub fn shorten(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_points() {
        assert_eq!(pct(Some(0.2314)), "23.1%");
        assert_eq!(pct(Some(0.0)), "0.0%");
        assert_eq!(pct(None), "–");
        assert_eq!(pp(Some(3.12)), "+3.1 pp");
        assert_eq!(pp(Some(-0.44)), "-0.4 pp");
        // Rounds to zero: no sign, flat arrow (not "-0.0").
        assert_eq!(pp(Some(-0.04)), "0.0 pp");
        assert_eq!(arrow(Some(-0.04)), "→");
        assert_eq!(arrow(Some(0.05)), "↑");
        assert_eq!(arrow(Some(-2.0)), "↓");
        assert_eq!(arrow(None), "");
        assert_eq!(signed(Some(12.0), 0, ""), "+12");
        assert_eq!(signed(Some(-3.46), 1, " h"), "-3.5 h");
        assert_eq!(pct(Some(f64::NAN)), "–");
        assert_eq!(num(Some(9519.34), 1), "9,519.3");
        assert_eq!(num(Some(-1234567.0), 0), "-1,234,567");
        assert_eq!(num(Some(999.0), 2), "999.00");
        assert_eq!(count(250991), "250,991");
        assert_eq!(count(-5), "-5");
        assert_eq!(count(0), "0");
    }

    #[test]
    fn tone_follows_direction_and_meaning() {
        assert_eq!(Tone::of(Some(3.0), 1, Some(true)), Tone::Worse);
        assert_eq!(Tone::of(Some(3.0), 1, Some(false)), Tone::Better);
        assert_eq!(Tone::of(Some(-3.0), 1, Some(true)), Tone::Better);
        assert_eq!(Tone::of(Some(0.01), 1, Some(true)), Tone::Flat);
        assert_eq!(Tone::of(Some(5.0), 0, None), Tone::Neutral);
        assert_eq!(Tone::of(None, 1, Some(true)), Tone::Flat);
    }

    #[test]
    fn shortens_on_char_boundaries() {
        assert_eq!(shorten("Billing", 10), "Billing");
        assert_eq!(shorten("ééééééé", 4), "ééé…");
    }
}
