//! The handoff rules of a config, in the shape the engine needs.

use crate::config::Config;
use crate::domain::Cause;
use std::collections::BTreeMap;

/// What decides owners, handoffs and causes (METRICS.md sections 2 and 4).
#[derive(Debug, Clone)]
pub struct HandoffRules {
    pub intake_teams: Vec<String>,
    pub count_automation: bool,
    pub avoidable: Vec<Cause>,
    /// Export reason -> cause.
    pub reasons: BTreeMap<String, Cause>,
    /// Team -> tier; unlisted teams are tier 1.
    pub team_tiers: BTreeMap<String, u32>,
    pub must_escalate: Vec<String>,
    pub must_not_escalate: Vec<String>,
}

impl HandoffRules {
    pub fn from_config(cfg: &Config) -> HandoffRules {
        HandoffRules {
            intake_teams: cfg.handoffs.intake_teams.clone(),
            count_automation: cfg.handoffs.count_automation,
            avoidable: cfg.handoffs.avoidable.clone(),
            reasons: cfg.causes.reasons.clone(),
            team_tiers: cfg.teams.iter().map(|(k, v)| (k.clone(), v.tier)).collect(),
            must_escalate: cfg.ai.must_escalate.clone(),
            must_not_escalate: cfg.ai.must_not_escalate.clone(),
        }
    }

    /// Tier -> the teams with it (tier 1 left out: it is the default).
    pub fn tiers(&self) -> Vec<(u32, Vec<String>)> {
        let mut by: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for (team, tier) in &self.team_tiers {
            if *tier != 1 {
                by.entry(*tier).or_default().push(team.clone());
            }
        }
        by.into_iter().collect()
    }

    /// The export reasons that map to `cause`.
    pub fn reasons_for(&self, cause: Cause) -> Vec<String> {
        self.reasons
            .iter()
            .filter(|(_, c)| **c == cause)
            .map(|(r, _)| r.clone())
            .collect()
    }
}

impl Default for HandoffRules {
    fn default() -> Self {
        HandoffRules {
            intake_teams: vec![],
            count_automation: true,
            avoidable: vec![Cause::Routing, Cause::Skill],
            reasons: BTreeMap::new(),
            team_tiers: BTreeMap::new(),
            must_escalate: vec![],
            must_not_escalate: vec![],
        }
    }
}
