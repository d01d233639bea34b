//! The terminal table of `baton explain --format table`.

use super::explanation::{Driver, Explanation};
use super::summary::signed;
use std::collections::BTreeMap;
use std::fmt::Write;

fn value(x: Option<f64>, percent: bool) -> String {
    match x {
        Some(v) if percent => crate::format::pct(Some(v)),
        Some(v) => format!("{v:.4}"),
        None => "-".into(),
    }
}

fn interval(ci: Option<[f64; 2]>, percent: bool) -> String {
    match ci {
        Some([l, u]) => format!("{} to {}", signed(l, percent), signed(u, percent)),
        None => "not tested".into(),
    }
}

fn q_text(q: Option<f64>) -> String {
    match q {
        Some(q) if q < 0.001 => "<0.001".into(),
        Some(q) => format!("{q:.3}"),
        None => "-".into(),
    }
}

fn drivers_block(
    out: &mut String,
    dims: &[String],
    drivers: &[Driver],
    other: &BTreeMap<String, f64>,
    percent: bool,
    all: bool,
) {
    let unit = if percent { " (points)" } else { "" };
    for dim in dims.iter().filter(|d| other.contains_key(*d)) {
        let of_dim: Vec<&Driver> = drivers
            .iter()
            .filter(|d| d.key.is_segment_of(dim))
            .collect();
        // Without --all, rows that are not significant are summed into one line, so what is
        // shown still adds up to the change.
        let (rows, hidden): (Vec<&Driver>, Vec<&Driver>) =
            of_dim.into_iter().partition(|d| all || d.significant);
        let _ = writeln!(out, "  by {dim}");
        let _ = writeln!(
            out,
            "    {:<26} {:<5} {:>14} {:>20} {:>9} {:>17}  verdict",
            "segment",
            "effect",
            format!("change{unit}"),
            "95 % CI",
            "q",
            "rate before/after",
        );
        for d in rows {
            let verdict = if d.significant {
                "driver".to_string()
            } else {
                match &d.note {
                    Some(n) => format!("not significant: {n}"),
                    None => "not significant".into(),
                }
            };
            let _ = writeln!(
                out,
                "    {:<26} {:<5} {:>14} {:>20} {:>9} {:>17}  {}",
                truncate(&d.key.values().to_string(), 26),
                match d.effect {
                    super::Effect::Mix => "mix",
                    super::Effect::Rate => "rate",
                },
                signed(d.contribution, percent),
                interval(d.ci, percent),
                q_text(d.q),
                format!(
                    "{} / {}",
                    value(d.rate_before, percent),
                    value(d.rate_after, percent)
                ),
                verdict
            );
        }
        if !hidden.is_empty() {
            let _ = writeln!(
                out,
                "    {:<26} {:<5} {:>14}  ({} rows; --all shows them)",
                "not significant",
                "",
                signed(hidden.iter().map(|d| d.contribution).sum(), percent),
                hidden.len()
            );
        }
        let _ = writeln!(
            out,
            "    {:<26} {:<5} {:>14}",
            "everything else",
            "",
            signed(other[dim], percent)
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    crate::text::cut(s, n).into_owned()
}

/// A readable explanation: the headline, each branch with its significant drivers per
/// dimension (the rest summed in one row, then "everything else"), localised cells and the
/// sentence for each owner.
pub fn render_table(e: &Explanation) -> String {
    render_table_with(e, false)
}

/// [`render_table`], with every driver row when `all` (`--all`).
pub fn render_table_with(e: &Explanation, all: bool) -> String {
    let p = e.percent;
    let mut out = String::new();
    let zone = e
        .period
        .tz
        .as_deref()
        .map(|z| format!(", {z}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Why did {} change? {} vs {}{zone}",
        e.metric, e.period.label, e.vs.label
    );
    let _ = writeln!(
        out,
        "{} -> {}: {}{} (95 % CI {}), {}; n {} -> {}",
        value(Some(e.before), p),
        value(Some(e.after), p),
        signed(e.change, p),
        if p { " points" } else { "" },
        interval(e.ci, p),
        if e.significant {
            "beyond noise"
        } else {
            "within noise"
        },
        crate::format::num(Some(e.n_before), 0),
        crate::format::num(Some(e.n_after), 0)
    );
    if let Some(branches) = &e.branches {
        let _ = writeln!(out, "\nBranches (they add up to the change)");
        let _ = writeln!(
            out,
            "  {:<12} {:<22} {:>9} {:>9} {:>9} {:>20}",
            "cause", "owner", "before", "after", "change", "95 % CI"
        );
        for b in branches {
            let _ = writeln!(
                out,
                "  {:<12} {:<22} {:>9} {:>9} {:>9} {:>20}",
                b.cause.as_str(),
                truncate(&b.owner.name, 22),
                value(Some(b.before), p),
                value(Some(b.after), p),
                signed(b.change, p),
                interval(b.ci, p)
            );
        }
        for b in branches {
            let _ = writeln!(
                out,
                "\n{} ({}): {} -> {}, {}",
                b.cause.label(),
                b.owner.name,
                value(Some(b.before), p),
                value(Some(b.after), p),
                signed(b.change, p)
            );
            if !b.significant && !b.drivers.iter().any(|d| d.significant) {
                let _ = writeln!(
                    out,
                    "  within noise, and no segment is significant (details in --format json)"
                );
                continue;
            }
            drivers_block(&mut out, &e.dimensions, &b.drivers, &b.other, p, all);
        }
    } else {
        let _ = writeln!(out);
        drivers_block(&mut out, &e.dimensions, &e.drivers, &e.other, p, all);
    }
    if !e.localised.is_empty() {
        let _ = writeln!(out, "\nWhere it concentrates");
        for l in &e.localised {
            let cells = l
                .cells
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" & ");
            let _ = writeln!(
                out,
                "  {:<12} {:<40} {:>8} (mix {}, rate {}) explains {:.0} %{}",
                l.cause.map(|c| c.as_str()).unwrap_or("all"),
                truncate(&cells, 40),
                signed(l.contribution, p),
                signed(l.mix.contribution, p),
                signed(l.rate.contribution, p),
                100.0 * l.explanatory_power,
                if l.significant {
                    ""
                } else {
                    ", not significant"
                }
            );
        }
    }
    if !e.summary.is_empty() {
        let _ = writeln!(out, "\nFor each owner");
        for (owner, s) in &e.summary {
            let _ = writeln!(out, "  {owner}: {s}");
        }
    }
    out
}
