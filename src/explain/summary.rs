//! One plain-language sentence per owner, e.g. "Routing handoffs rose 3.1 points (95 % CI 2.2
//! to 4.0): 80 % of it is topic billing landing on General Support first."

use super::explanation::{Effect, Push};
use crate::domain::Cause;

/// A change and its interval, with the words that name it.
pub(crate) struct Headline {
    /// "routing handoffs", "the handoff rate".
    pub label: String,
    pub change: f64,
    pub ci: Option<[f64; 2]>,
    pub significant: bool,
    pub percent: bool,
}

/// `3.1 points` for shares, a plain number otherwise.
pub(crate) fn amount(x: f64, percent: bool) -> String {
    if percent {
        let v = 100.0 * x.abs();
        format!(
            "{v:.1} point{}",
            if (v - 1.0).abs() < 0.05 { "" } else { "s" }
        )
    } else {
        format!("{:.3}", x.abs())
    }
}

/// A signed value in the unit of the measure: `+3.1` points or `+0.004`.
/// Rounding can leave "-0.0"; a value that shows as zero is shown without a sign.
fn unsigned_zero(s: String) -> String {
    if s.trim_start_matches(['+', '-'])
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches(['+', '-']).to_string()
    } else {
        s
    }
}

pub(crate) fn signed(x: f64, percent: bool) -> String {
    unsigned_zero(if percent {
        format!("{:+.1}", 100.0 * x)
    } else {
        format!("{x:+.3}")
    })
}

fn bound(x: f64, percent: bool) -> String {
    unsigned_zero(if percent {
        format!("{:.1}", 100.0 * x)
    } else {
        format!("{x:.3}")
    })
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn ci_text(ci: Option<[f64; 2]>, percent: bool) -> String {
    match ci {
        Some([l, u]) => format!(" (95 % CI {} to {})", bound(l, percent), bound(u, percent)),
        None => String::new(),
    }
}

/// A pre-planned segment that carries most of a change without being significant once every
/// segment is counted: named as a lead, never as a driver.
pub(crate) struct Lead {
    /// The segment in words ("a higher routing handoff rate in topic billing").
    pub what: String,
    pub contribution: f64,
    pub z: f64,
}

/// "Routing handoffs rose 3.1 points (95 % CI 2.2 to 4.0): 80 % of it is ...".
/// `top` is the owner's largest significant push in the same direction as the change; without
/// one, `leads` (none, one, or two of different dimensions, the first the clearer) are named
/// as leads.
pub(crate) fn sentence_with_lead(h: &Headline, top: Option<&Push>, leads: &[Lead]) -> String {
    let s = sentence(h, top);
    let (Some(l), None) = (leads.first(), top) else {
        return s;
    };
    if h.change == 0.0 {
        return s;
    }
    let share = 100.0 * l.contribution / h.change;
    let stem = s
        .trim_end_matches(": no single segment stands out; the change is spread thinly.")
        .trim_end_matches(", within normal week-to-week variation.");
    let noise = if h.significant {
        ""
    } else {
        ", within normal week-to-week variation"
    };
    let moved = |x: f64| {
        format!(
            "{} {}",
            if x > 0.0 { "added" } else { "took off" },
            amount(x, h.percent)
        )
    };
    // More than all of the change: the rest moved the other way, say so rather than "250 %";
    // against the change: the segment moved the other way from the whole.
    let mut what = if share < 0.0 {
        format!(
            "against it, {} {} on its own (z = {:.1})",
            l.what,
            moved(l.contribution),
            l.z
        )
    } else if share > 100.5 {
        format!(
            "{} {} on its own (z = {:.1}), more than the whole change as the rest moved the \
             other way",
            l.what,
            moved(l.contribution),
            l.z
        )
    } else {
        format!("{share:.0} % of it is {} (z = {:.1})", l.what, l.z)
    };
    // Correlated segments of two dimensions (topic billing and team Billing) can carry the
    // same change: which one is the cause is for the owner to check, so both are named.
    let kind = match leads.get(1) {
        Some(second) => {
            what.push_str(&format!(", with {} (z = {:.1})", second.what, second.z));
            "two leads to check rather than findings"
        }
        None => "a lead to check rather than a finding",
    };
    format!("{stem}{noise}; {what}: {kind}, not significant once every segment is counted.")
}

/// `sentence` with a second significant segment named after it (of another dimension, or of
/// the same one when it moved the other way; the engine picks it):
/// "...; also a higher routing handoff rate in topic billing (+1.1 points, z = 3.3)." or, when
/// it moved the other way from the change, "...; against it, ...".
pub(crate) fn with_also(h: &Headline, sentence: String, also: Option<&Push>) -> String {
    let Some(p) = also else {
        return sentence;
    };
    format!(
        "{}; {} {} ({}{}, z = {:.1}).",
        sentence.trim_end_matches('.'),
        if p.change * h.change < 0.0 {
            "against it,"
        } else {
            "also"
        },
        p.what,
        signed(p.change, h.percent),
        if h.percent { " points" } else { "" },
        p.z
    )
}

/// "Routing handoffs rose 3.1 points (95 % CI 2.2 to 4.0): 80 % of it is ...".
/// `top` is the owner's largest significant push in the same direction as the change.
pub(crate) fn sentence(h: &Headline, top: Option<&Push>) -> String {
    let verb = if h.change > 0.0 {
        "rose"
    } else if h.change < 0.0 {
        "fell"
    } else {
        "did not change"
    };
    let mut s = capitalised(&h.label);
    s.push(' ');
    s.push_str(verb);
    if h.change != 0.0 {
        s.push(' ');
        s.push_str(&amount(h.change, h.percent));
    }
    s.push_str(&ci_text(h.ci, h.percent));
    if !h.significant {
        // A significant cell can hide in a total that is within noise (other segments moved
        // the other way): name it rather than tell the owner nothing happened.
        match top {
            Some(p) => s.push_str(&format!(
                ", within normal variation overall, but {} {} {}{}.",
                p.what,
                if p.change >= 0.0 { "added" } else { "took off" },
                amount(p.change, h.percent),
                ci_text(Some(p.ci), h.percent)
            )),
            None => s.push_str(", within normal week-to-week variation."),
        }
        return s;
    }
    match top {
        Some(p) if h.change != 0.0 => {
            let share = 100.0 * p.change / h.change;
            s.push_str(&format!(": {share:.0} % of it is {}.", p.what));
        }
        _ => s.push_str(": no single segment stands out; the change is spread thinly."),
    }
    s
}

/// For a team lead: "Team Billing: a higher skill handoff rate in team Billing added 0.7 points
/// to skill handoffs (95 % CI 0.2 to 1.2)."
pub(crate) fn team_sentence(team: &str, p: &Push, of_what: &str, percent: bool) -> String {
    format!(
        "Team {team}: {} {} {} {of_what}{}.",
        p.what,
        if p.change >= 0.0 { "added" } else { "took" },
        if p.change >= 0.0 {
            format!("{} to", amount(p.change, percent))
        } else {
            format!("{} off", amount(p.change, percent))
        },
        ci_text(Some(p.ci), percent)
    )
}

/// "topic billing and channel chat".
pub(crate) fn cells_text(cells: &[(String, String)]) -> String {
    cells
        .iter()
        .map(|(d, v)| format!("{d} {v}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// What a rate effect means in words, per branch: "topic billing landing on General Support
/// first" for routing with a team, "a higher skill handoff rate in team Billing" otherwise.
pub(crate) fn rate_phrase(
    cells: &[(String, String)],
    branch: Option<Cause>,
    measure: &str,
    up: bool,
) -> String {
    if branch == Some(Cause::Routing) {
        if let Some((_, team)) = cells.iter().find(|(d, _)| d == "team") {
            let rest: Vec<(String, String)> =
                cells.iter().filter(|(d, _)| d != "team").cloned().collect();
            let who = if rest.is_empty() {
                "conversations".to_string()
            } else {
                cells_text(&rest)
            };
            return if up {
                format!("{who} landing on {team} first")
            } else {
                format!("fewer of {who} landing on {team} first")
            };
        }
    }
    let what = match branch {
        Some(c) => format!("{} handoff rate", c.as_str()),
        None => measure.to_string(),
    };
    format!(
        "a {} {what} in {}",
        if up { "higher" } else { "lower" },
        cells_text(cells)
    )
}

/// What a mix effect means in words: "more volume from topic billing, which runs above average".
pub(crate) fn mix_phrase(cells: &[(String, String)], share_up: bool, above: bool) -> String {
    format!(
        "{} volume from {}, which runs {} average",
        if share_up { "more" } else { "less" },
        cells_text(cells),
        if above { "above" } else { "below" }
    )
}

/// The words for an effect of a cell.
pub(crate) fn phrase(
    effect: Effect,
    cells: &[(String, String)],
    branch: Option<Cause>,
    measure: &str,
    rate_up: bool,
    share_up: bool,
    above: bool,
) -> String {
    match effect {
        Effect::Rate => rate_phrase(cells, branch, measure, rate_up),
        Effect::Mix => mix_phrase(cells, share_up, above),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Owner, OwnerId};
    use crate::explain::explanation::Role;
    use crate::explain::segment::SegmentKey;

    fn push(change: f64, what: &str) -> Push {
        Push {
            owner: Owner {
                id: OwnerId::from_name("Support Operations"),
                name: "Support Operations".into(),
                email: "support-ops@example.com".into(),
            },
            role: Role::BranchOwner,
            metric: "handoff_rate".into(),
            branch: Some(Cause::Routing),
            key: SegmentKey::new(vec![
                ("topic".into(), "billing".into()),
                ("team".into(), "General Support".into()),
            ])
            .unwrap(),
            effect: Effect::Rate,
            change,
            ci: [0.01, 0.03],
            z: 4.0,
            q: 0.001,
            what: what.into(),
        }
    }

    #[test]
    fn the_issue_example_sentence() {
        let what = rate_phrase(
            &[
                ("topic".into(), "billing".into()),
                ("team".into(), "General Support".into()),
            ],
            Some(Cause::Routing),
            "handoff rate",
            true,
        );
        let h = Headline {
            label: "routing handoffs".into(),
            change: 0.031,
            ci: Some([0.022, 0.040]),
            significant: true,
            percent: true,
        };
        // 0.0248 / 0.031 = 80 %.
        assert_eq!(
            sentence(&h, Some(&push(0.0248, &what))),
            "Routing handoffs rose 3.1 points (95 % CI 2.2 to 4.0): 80 % of it is topic \
             billing landing on General Support first."
        );
    }

    #[test]
    fn a_lead_larger_than_the_change_says_the_rest_moved_the_other_way() {
        let h = Headline {
            label: "skill handoffs".into(),
            change: 0.007,
            ci: Some([-0.009, 0.023]),
            significant: false,
            percent: true,
        };
        let lead = Lead {
            what: "a higher skill handoff rate in team Billing".into(),
            contribution: 0.015,
            z: 3.3,
        };
        assert_eq!(
            sentence_with_lead(&h, None, std::slice::from_ref(&lead)),
            "Skill handoffs rose 0.7 points (95 % CI -0.9 to 2.3), within normal week-to-week \
             variation; a higher skill handoff rate in team Billing added 1.5 points on its own \
             (z = 3.3), more than the whole change as the rest moved the other way: a lead to \
             check rather than a finding, not significant once every segment is counted."
        );
        // Half of the change: its share.
        let half = Lead {
            contribution: 0.0035,
            ..lead
        };
        assert!(
            sentence_with_lead(&h, None, std::slice::from_ref(&half)).contains(
                "; 50 % of it is a higher skill handoff rate in team Billing (z = 3.3): a lead"
            )
        );
        // A segment that moved against the whole.
        let against = Lead {
            what: "a lower skill handoff rate in team Technical".into(),
            contribution: -0.006,
            z: -3.4,
        };
        assert!(
            sentence_with_lead(&h, None, std::slice::from_ref(&against)).contains(
                "variation; against it, a lower skill handoff rate in team Technical took off 0.6 \
             points on its own (z = -3.4): a lead to check"
            )
        );
        // Two correlated segments of different dimensions: both named, as two leads.
        let topic = Lead {
            what: "a higher skill handoff rate in topic billing".into(),
            contribution: 0.009,
            z: 3.1,
        };
        assert!(sentence_with_lead(&h, None, &[half, topic]).ends_with(
            "; 50 % of it is a higher skill handoff rate in team Billing (z = 3.3), with a \
             higher skill handoff rate in topic billing (z = 3.1): two leads to check rather \
             than findings, not significant once every segment is counted."
        ));
    }

    #[test]
    fn a_second_dimension_is_named_after_the_first() {
        let first = "Routing handoffs rose 1.4 points (95 % CI 0.1 to 2.6): 122 % of it is a \
                     higher routing handoff rate in channel chat."
            .to_string();
        let also = push(0.011, "a higher routing handoff rate in topic billing");
        let h = Headline {
            label: "routing handoffs".into(),
            change: 0.014,
            ci: Some([0.001, 0.026]),
            significant: true,
            percent: true,
        };
        let against = push(-0.008, "a lower routing handoff rate in team Billing");
        assert!(with_also(&h, first.clone(), Some(&against)).ends_with(
            "; against it, a lower routing handoff rate in team Billing (-0.8 points, z = 4.0)."
        ));
        assert_eq!(
            with_also(&h, first.clone(), Some(&also)),
            "Routing handoffs rose 1.4 points (95 % CI 0.1 to 2.6): 122 % of it is a higher \
             routing handoff rate in channel chat; also a higher routing handoff rate in topic \
             billing (+1.1 points, z = 4.0)."
        );
        assert_eq!(with_also(&h, first.clone(), None), first);
    }

    #[test]
    fn team_lead_sentence() {
        let what = rate_phrase(
            &[("team".into(), "General Support".into())],
            Some(Cause::Routing),
            "handoff rate",
            true,
        );
        let mut p = push(0.072, &what);
        p.ci = [0.056, 0.088];
        assert_eq!(
            team_sentence("General Support", &p, "routing handoffs", true),
            "Team General Support: conversations landing on General Support first added 7.2 \
             points to routing handoffs (95 % CI 5.6 to 8.8)."
        );
        p.change = -0.01;
        p.ci = [-0.02, -0.001];
        p.what = rate_phrase(
            &[("team".into(), "Billing".into())],
            Some(Cause::Skill),
            "",
            false,
        );
        assert_eq!(
            team_sentence("Billing", &p, "skill handoffs", true),
            "Team Billing: a lower skill handoff rate in team Billing took 1.0 point off skill \
             handoffs (95 % CI -2.0 to -0.1)."
        );
    }

    #[test]
    fn noise_and_no_driver() {
        let h = Headline {
            label: "the handoff rate".into(),
            change: -0.004,
            ci: Some([-0.012, 0.004]),
            significant: false,
            percent: true,
        };
        assert_eq!(
            sentence(&h, None),
            "The handoff rate fell 0.4 points (95 % CI -1.2 to 0.4), within normal week-to-week \
             variation."
        );
        // Within noise overall, but a significant cell in the same direction is named.
        let mut p = push(-0.009, "a lower routing handoff rate in topic billing");
        p.ci = [-0.015, -0.003];
        assert_eq!(
            sentence(&h, Some(&p)),
            "The handoff rate fell 0.4 points (95 % CI -1.2 to 0.4), within normal variation \
             overall, but a lower routing handoff rate in topic billing took off 0.9 points (95 % \
             CI -1.5 to -0.3)."
        );
        let h = Headline {
            significant: true,
            ..h
        };
        assert!(sentence(&h, None)
            .ends_with("no single segment stands out; the change is spread thinly."));
        assert_eq!(
            mix_phrase(&[("team".into(), "Billing".into())], true, true),
            "more volume from team Billing, which runs above average"
        );
    }
}
