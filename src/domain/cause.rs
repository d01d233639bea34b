use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The cause of a handoff: one branch of the metric tree (METRICS.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    Routing,
    Skill,
    Escalation,
    Channel,
}

impl Cause {
    /// Every branch, in the order reports show them.
    pub const ALL: [Cause; 4] = [
        Cause::Routing,
        Cause::Skill,
        Cause::Escalation,
        Cause::Channel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Routing => "routing",
            Cause::Skill => "skill",
            Cause::Escalation => "escalation",
            Cause::Channel => "channel",
        }
    }

    /// Human label for reports ("Routing").
    pub fn label(self) -> &'static str {
        match self {
            Cause::Routing => "Routing",
            Cause::Skill => "Skill",
            Cause::Escalation => "Escalation",
            Cause::Channel => "Channel",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown cause `{0}` (expected routing, skill, escalation or channel)")]
pub struct UnknownCause(pub String);

impl FromStr for Cause {
    type Err = UnknownCause;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cause::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| UnknownCause(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_cause() {
        for c in Cause::ALL {
            assert_eq!(c.as_str().parse::<Cause>().unwrap(), c);
        }
        assert!("queue".parse::<Cause>().is_err());
    }
}
