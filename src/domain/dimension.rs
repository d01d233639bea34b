use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A dimension conversations are segmented by: a label column of the canonical events that
/// metrics, explain and the reports group on. Parsed once (config, `--by`), so no later stage
/// checks names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Team,
    Channel,
    Topic,
    Agent,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Dimension::Team,
        Dimension::Channel,
        Dimension::Topic,
        Dimension::Agent,
    ];

    /// The column name (in the facts and in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Team => "team",
            Dimension::Channel => "channel",
            Dimension::Topic => "topic",
            Dimension::Agent => "agent",
        }
    }

    /// Names for a list of dimensions, as the stages that take column names want them.
    pub fn names(dims: &[Dimension]) -> Vec<String> {
        dims.iter().map(|d| d.as_str().to_string()).collect()
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown dimension `{0}` (expected one of team, channel, topic, agent)")]
pub struct UnknownDimension(pub String);

impl FromStr for Dimension {
    type Err = UnknownDimension;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.as_str() == s.trim())
            .ok_or_else(|| UnknownDimension(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for d in Dimension::ALL {
            assert_eq!(d.as_str().parse::<Dimension>().unwrap(), d);
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                format!("\"{}\"", d.as_str())
            );
        }
        let err = "region".parse::<Dimension>().unwrap_err();
        assert!(err.to_string().contains("`region`"));
    }
}
