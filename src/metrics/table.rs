//! The terminal table of `baton metrics --format table`.

use super::{Measures, MetricsReport};
use crate::domain::Cause;

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1} %", 100.0 * v))
        .unwrap_or_else(|| "-".into())
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

fn delta_pp(now: Option<f64>, before: Option<f64>) -> String {
    match (now, before) {
        (Some(a), Some(b)) => format!("{:+.1} pp", 100.0 * (a - b)),
        _ => "-".into(),
    }
}

/// A readable summary: headline measures now and before, causes, then the top segments.
pub fn render_table(r: &MetricsReport) -> String {
    let m: &Measures = &r.overall.measures;
    let p = &r.previous;
    let mut out = String::new();
    out.push_str(&format!(
        "Handoffs {} (vs {}), {}\n\n",
        r.period.label, r.previous_period.label, r.period.tz
    ));
    out.push_str(&format!(
        "{:<28} {:>12} {:>12} {:>10}\n",
        "measure", r.period.label, r.previous_period.label, "change"
    ));
    let rows: Vec<(&str, Option<f64>, Option<f64>, bool)> = vec![
        (
            "conversations resolved",
            Some(m.conversations as f64),
            Some(p.conversations as f64),
            false,
        ),
        (
            "ticket volume (created)",
            Some(m.ticket_volume as f64),
            Some(p.ticket_volume as f64),
            false,
        ),
        ("handoff rate", m.handoff_rate, p.handoff_rate, true),
        (
            "handoffs per conversation",
            m.handoffs_per_conversation,
            p.handoffs_per_conversation,
            false,
        ),
        (
            "bouncing share (3+)",
            m.bouncing_share,
            p.bouncing_share,
            true,
        ),
        ("first contact resolution", m.fcr_rate, p.fcr_rate, true),
        (
            "time lost (hours)",
            Some(m.time_lost_hours),
            Some(p.time_lost_hours),
            false,
        ),
        (
            "time lost share",
            m.time_lost_share,
            p.time_lost_share,
            true,
        ),
        (
            "avoidable share",
            m.avoidable_share,
            p.avoidable_share,
            true,
        ),
        (
            "escalation rate",
            m.escalation_rate,
            p.escalation_rate,
            true,
        ),
    ];
    for (name, a, b, is_rate) in rows {
        if is_rate {
            out.push_str(&format!(
                "{:<28} {:>12} {:>12} {:>10}\n",
                name,
                pct(a),
                pct(b),
                delta_pp(a, b)
            ));
        } else {
            let d = match (a, b) {
                (Some(x), Some(y)) => format!("{:+.2}", x - y),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "{:<28} {:>12} {:>12} {:>10}\n",
                name,
                num(a, 2),
                num(b, 2),
                d
            ));
        }
    }
    out.push_str(&format!(
        "band: {}   backlog: {}   quarantined rows: {}\n\n",
        m.band.map(|b| b.label()).unwrap_or("-"),
        r.overall.backlog,
        r.overall.quarantined_rows
    ));
    out.push_str(&format!(
        "{:<12} {:>9} {:>10} {:>10} {:>10}\n",
        "cause", "handoffs", "rate", "before", "change"
    ));
    for c in Cause::ALL {
        let a = m.by_cause.get(&c).and_then(|x| x.rate);
        let b = p.by_cause.get(&c).and_then(|x| x.rate);
        let h = m.by_cause.get(&c).map(|x| x.handoffs).unwrap_or(0);
        out.push_str(&format!(
            "{:<12} {:>9} {:>10} {:>10} {:>10}\n",
            c.as_str(),
            h,
            pct(a),
            pct(b),
            delta_pp(a, b)
        ));
    }
    for (dim, segs) in &r.segments {
        out.push_str(&format!(
            "\n{:<24} {:>8} {:>10} {:>10} {:>10}\n",
            dim, "conv", "handoff", "before", "change"
        ));
        for s in segs.iter().take(10) {
            let name: String = s.value.chars().take(24).collect();
            out.push_str(&format!(
                "{:<24} {:>8} {:>10} {:>10} {:>10}\n",
                name,
                s.measures.conversations,
                pct(s.measures.handoff_rate),
                pct(s.previous.handoff_rate),
                delta_pp(s.measures.handoff_rate, s.previous.handoff_rate)
            ));
        }
        if segs.len() > 10 {
            out.push_str(&format!("... {} more\n", segs.len() - 10));
        }
    }
    out
}
