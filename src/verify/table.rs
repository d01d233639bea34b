//! The terminal table of `baton verify --format table`.

use super::Verdict;
use crate::format::{count, pct};

fn pp(x: Option<f64>) -> String {
    crate::format::pp(x.map(|v| v * 100.0))
}

fn interval(i: Option<[f64; 2]>) -> String {
    match i {
        Some([l, u]) => format!(
            "{} to {}",
            crate::format::signed(Some(l * 100.0), 1, ""),
            crate::format::signed(Some(u * 100.0), 1, " pp")
        ),
        None => "-".into(),
    }
}

/// One block per fix: the verdict sentence, then the numbers behind it.
pub fn render_table(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    if verdicts.is_empty() {
        out.push_str(
            "no fixes to verify (add one with `baton fix add` or [[fixes]] in the config)\n",
        );
        return out;
    }
    for v in verdicts {
        let a = &v.assessment;
        let f = &v.fix;
        out.push_str(&format!(
            "{}  [{}]  {}\n",
            f.id,
            a.verdict.label().to_uppercase(),
            f.title
        ));
        out.push_str(&format!(
            "  branch {}  scope {}  live {}  expect {}  owner {}{}\n",
            f.branch,
            f.scope,
            f.live,
            f.expect,
            f.owner,
            f.review_by
                .map(|r| format!(
                    "  review by {r}{}",
                    if v.review_due { " (due)" } else { "" }
                ))
                .unwrap_or_default()
        ));
        out.push_str(&format!(
            "  before {}..{}   after {}..{} ({} days)   as of {}\n",
            v.before.start,
            v.before.end,
            v.after.start,
            v.after.end,
            (v.after.end - v.after.start).num_days(),
            v.as_of
        ));
        out.push_str(&format!(
            "  {:<10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>22}\n",
            "", "conv", "before", "conv", "after", "change", "95 % (Newcombe)"
        ));
        let mut row = |name: &str, arm: &super::Arm| {
            out.push_str(&format!(
                "  {:<10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>22}\n",
                name,
                count(arm.before.conversations as i64),
                pct(arm.before.rate),
                count(arm.after.conversations as i64),
                pct(arm.after.rate),
                pp(arm.change.difference),
                interval(arm.change.interval)
            ));
        };
        row("scope", &a.scope);
        if let Some(o) = &a.outside {
            row("elsewhere", o);
        }
        if let Some(e) = &a.effect {
            out.push_str(&format!(
                "  {} {}   fixed 95 %: {}   always-valid 95 %: {}\n",
                if e.controlled {
                    "controlled effect (diff-in-diff)"
                } else {
                    "raw effect (no control)"
                },
                pp(Some(e.estimate)),
                interval(Some(e.fixed_interval)),
                interval(Some(e.always_valid_interval))
            ));
        }
        if let Some(s) = &a.similar {
            out.push_str(&format!(
                "  vs similar {}s ({}): {} (fixed 95 %: {})\n",
                s.dimension,
                s.segments.join(", "),
                pp(Some(s.estimate)),
                interval(Some(s.fixed_interval))
            ));
        }
        for t in &a.intake.tests {
            out.push_str(&format!(
                "  intake {:<14} chi2 {:>8.2} df {:>2}  p {:.4}{}\n",
                t.what,
                t.chi_square,
                t.df,
                t.p_value,
                if t.flagged { "  FLAGGED" } else { "" }
            ));
        }
        for w in &v.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        out.push_str(&format!("  {}\n\n", v.summary));
    }
    out
}
