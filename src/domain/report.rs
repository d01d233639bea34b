use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A kind of report a run produces. The ledger keys deliveries by it, so a name never changes
/// once it has been used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// One message per owner of the metric tree: their branch, its drivers, the tree.
    Owners,
}

impl ReportKind {
    pub const ALL: [ReportKind; 1] = [ReportKind::Owners];

    /// Stable name: config (`report = "owners"`), the ledger, `--report`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Owners => "owners",
        }
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown report `{0}` (expected owners)")]
pub struct UnknownReport(pub String);

impl FromStr for ReportKind {
    type Err = UnknownReport;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReportKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| UnknownReport(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for k in ReportKind::ALL {
            assert_eq!(k.as_str().parse::<ReportKind>().unwrap(), k);
        }
        assert!("weekly".parse::<ReportKind>().is_err());
    }
}
