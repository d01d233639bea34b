//! The terminal table of `baton metrics --format table`.

use super::{Measures, MetricsReport};
use crate::domain::Cause;

use crate::format::{count, num, pct, pp};

fn delta_pp(now: Option<f64>, before: Option<f64>) -> String {
    pp(crate::format::change_pp(now, before))
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
    // (name, now, before, kind): 0 a count, 1 a rate, 2 a quantity with decimals.
    let rows: Vec<(&str, Option<f64>, Option<f64>, u8)> = vec![
        (
            "conversations resolved",
            Some(m.conversations as f64),
            Some(p.conversations as f64),
            0,
        ),
        (
            "ticket volume (created)",
            Some(m.ticket_volume as f64),
            Some(p.ticket_volume as f64),
            0,
        ),
        ("handoff rate", m.handoff_rate, p.handoff_rate, 1),
        (
            "handoffs per conversation",
            m.handoffs_per_conversation,
            p.handoffs_per_conversation,
            2,
        ),
        ("bouncing share (3+)", m.bouncing_share, p.bouncing_share, 1),
        ("first contact resolution", m.fcr_rate, p.fcr_rate, 1),
        (
            "time lost (hours)",
            Some(m.time_lost_hours),
            Some(p.time_lost_hours),
            2,
        ),
        ("time lost share", m.time_lost_share, p.time_lost_share, 1),
        ("avoidable share", m.avoidable_share, p.avoidable_share, 1),
        ("escalation rate", m.escalation_rate, p.escalation_rate, 1),
    ];
    for (name, a, b, kind) in rows {
        if kind == 1 {
            out.push_str(&format!(
                "{:<28} {:>12} {:>12} {:>10}\n",
                name,
                pct(a),
                pct(b),
                delta_pp(a, b)
            ));
        } else {
            let digits = usize::from(kind);
            let d = crate::format::signed(a.zip(b).map(|(x, y)| x - y), digits, "");
            out.push_str(&format!(
                "{:<28} {:>12} {:>12} {:>10}\n",
                name,
                num(a, digits),
                num(b, digits),
                d
            ));
        }
    }
    out.push_str(&format!(
        "band: {}   backlog: {}   quarantined rows: {}\n\n",
        m.band.map(|b| b.label()).unwrap_or("-"),
        count(r.overall.backlog),
        count(r.overall.quarantined_rows as i64)
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
            count(h),
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
                count(s.measures.conversations),
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
