//! Who a driver goes to (METHODS.md part A, "Routing"): a branch's rate cells to the branch
//! owner, mix cells to the owner of routing and volume (`explain.mix_owner`), and any cell of a
//! team also to that team's lead (`teams.X.lead`).

use super::explanation::{Effect, Role};
use super::segment::SegmentKey;
use crate::config::Config;
use crate::domain::{Cause, Owner, OwnerId};
use std::collections::BTreeMap;

/// The routing table of a config.
#[derive(Debug, Clone)]
pub struct Routing {
    branch_owners: BTreeMap<Cause, Owner>,
    mix_owner: Owner,
    team_leads: BTreeMap<String, Owner>,
}

/// The dimension whose cells also go to a team lead.
pub const TEAM_DIMENSION: &str = "team";

impl Routing {
    pub fn from_config(cfg: &Config) -> Routing {
        let branch_owners: BTreeMap<Cause, Owner> = Cause::ALL
            .into_iter()
            .map(|c| (c, cfg.branch_owner(c)))
            .collect();
        let mix_owner = branch_owners[&cfg.explain.mix_owner].clone();
        let team_leads = cfg
            .teams
            .iter()
            .filter_map(|(team, t)| {
                let email = t.lead.as_ref()?;
                let name = format!("{team} lead");
                Some((
                    team.clone(),
                    Owner {
                        id: OwnerId::from_name(&name),
                        name,
                        email: email.to_string(),
                    },
                ))
            })
            .collect();
        Routing {
            branch_owners,
            mix_owner,
            team_leads,
        }
    }

    pub fn branch_owner(&self, cause: Cause) -> &Owner {
        &self.branch_owners[&cause]
    }

    pub fn mix_owner(&self) -> &Owner {
        &self.mix_owner
    }

    /// The main recipient of a cell: the branch owner for a rate effect in a branch, the mix
    /// owner for a mix effect and for rate effects of measures without branches; None for a
    /// rate cell of a tree measure as a whole (its branches carry it).
    pub fn primary(&self, branch: Option<Cause>, effect: Effect, tree: bool) -> Option<&Owner> {
        match (effect, branch) {
            (Effect::Mix, _) => Some(&self.mix_owner),
            (Effect::Rate, Some(c)) => Some(self.branch_owner(c)),
            (Effect::Rate, None) if !tree => Some(&self.mix_owner),
            (Effect::Rate, None) => None,
        }
    }

    /// Every recipient of a cell with its role, without repeating a person.
    pub fn recipients(
        &self,
        branch: Option<Cause>,
        effect: Effect,
        tree: bool,
        key: &SegmentKey,
    ) -> Vec<(Owner, Role)> {
        let mut out: Vec<(Owner, Role)> = Vec::new();
        if let Some(o) = self.primary(branch, effect, tree) {
            let role = match effect {
                Effect::Mix => Role::MixOwner,
                Effect::Rate if branch.is_some() => Role::BranchOwner,
                Effect::Rate => Role::MixOwner,
            };
            out.push((o.clone(), role));
        }
        if let Some(lead) = key
            .value_of(TEAM_DIMENSION)
            .and_then(|team| self.team_leads.get(team))
        {
            if !out.iter().any(|(o, _)| o.email == lead.email) {
                out.push((lead.clone(), Role::TeamLead));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_effect_branch_and_team() {
        let cfg = Config::embedded().unwrap();
        let r = Routing::from_config(&cfg);
        let billing = SegmentKey::single("team", "Billing");
        // Rate in the skill branch: Enablement, plus the Billing lead.
        let to = r.recipients(Some(Cause::Skill), Effect::Rate, true, &billing);
        assert_eq!(to.len(), 2);
        assert_eq!(to[0].0.email, "enablement@example.com");
        assert_eq!(to[0].1, Role::BranchOwner);
        assert_eq!(to[1].0.email, "billing-lead@example.com");
        assert_eq!(to[1].1, Role::TeamLead);
        // Mix in the skill branch: the mix owner (routing's owner by default).
        let topic = SegmentKey::single("topic", "billing");
        let to = r.recipients(Some(Cause::Skill), Effect::Mix, true, &topic);
        assert_eq!(to.len(), 1);
        assert_eq!(to[0].0.email, "support-ops@example.com");
        assert_eq!(to[0].1, Role::MixOwner);
        // A rate cell of the whole tree measure has no owner of its own.
        assert!(r.recipients(None, Effect::Rate, true, &topic).is_empty());
        // Teams without a lead route nowhere extra.
        let ai = SegmentKey::single("team", "AI Agent");
        assert_eq!(
            r.recipients(Some(Cause::Routing), Effect::Rate, true, &ai)
                .len(),
            1
        );
    }
}
