//! The short alert a branch owner gets right after a run when their branch moved beyond
//! week-to-week noise and past its `alert_threshold_pp` (either direction). Sent through the
//! delivery ledger under its own key (`alert-<branch>`, period, address), so once per branch
//! and period however often the report runs.

use super::view::{BranchLine, OwnerView};
use crate::domain::{Cause, Owner};
use serde::Serialize;

/// One alert: the owner, the branch line of their report, and their sentence.
#[derive(Debug, Clone, Serialize)]
pub struct BranchAlert {
    pub owner: Owner,
    pub cause: Cause,
    pub period: String,
    pub subject: String,
    pub branch: BranchLine,
    pub summary: Option<String>,
}

impl BranchAlert {
    /// The ledger's report name of this alert: `alert-routing`.
    pub fn report_name(&self) -> String {
        format!("alert-{}", self.cause.as_str())
    }
}

/// The alerts of a run: every branch of a branch owner's view (team leads' views are the
/// team's cells, not the branch) that is significant and reaches its threshold.
pub fn branch_alerts(views: &[OwnerView]) -> Vec<BranchAlert> {
    views
        .iter()
        .filter(|v| v.team.is_none())
        .flat_map(|v| {
            v.branches
                .iter()
                .filter(|b| b.alert && b.significant == Some(true))
                .map(|b| BranchAlert {
                    owner: v.owner.clone(),
                    cause: b.cause,
                    period: v.period.label.clone(),
                    subject: alert_subject(&v.period.label, b),
                    branch: b.clone(),
                    summary: v.summary.clone(),
                })
        })
        .collect()
}

/// `Alert 2026-W48: routing +4.8 pp, past your 2.0 pp line, driven by topic billing`.
fn alert_subject(period: &str, b: &BranchLine) -> String {
    let mut s = format!(
        "Alert {period}: {} {}, past your {} pp line",
        b.cause.as_str(),
        b.change_text,
        b.alert_threshold_pp
    );
    if let Some(d) = &b.driver {
        s.push_str(&format!(", driven by {d}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_view;

    #[test]
    fn only_significant_moves_past_the_line_of_branch_owners_alert() {
        let mut v = sample_view();
        let n = v.branches.len();
        assert!(n >= 1);
        for b in &mut v.branches {
            b.alert = false;
        }
        assert!(branch_alerts(std::slice::from_ref(&v)).is_empty());
        v.branches[0].alert = true;
        v.branches[0].significant = Some(false);
        assert!(branch_alerts(std::slice::from_ref(&v)).is_empty(), "noise");
        v.branches[0].significant = Some(true);
        v.branches[0].driver = Some("topic billing".into());
        let a = branch_alerts(std::slice::from_ref(&v));
        assert_eq!(a.len(), 1);
        let b = &v.branches[0];
        assert_eq!(
            a[0].subject,
            format!(
                "Alert {}: {} {}, past your {} pp line, driven by topic billing",
                v.period.label,
                b.cause.as_str(),
                b.change_text,
                b.alert_threshold_pp
            )
        );
        assert_eq!(a[0].report_name(), format!("alert-{}", b.cause.as_str()));
        // A team lead's view never alerts: its lines are the team's cells.
        v.team = Some("Billing".into());
        assert!(branch_alerts(std::slice::from_ref(&v)).is_empty());
    }
}
