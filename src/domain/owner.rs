use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable identifier of a report recipient: the key of a metric-tree branch owner or a team
/// lead, used in file names, message ids and the delivery ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OwnerId(String);

impl OwnerId {
    /// Builds an id from a display name: lower case, ASCII alphanumerics and dashes only, so it
    /// is safe in file names and Message-IDs.
    pub fn from_name(name: &str) -> OwnerId {
        let mut id = String::new();
        for ch in name.chars() {
            if ch.is_ascii_alphanumeric() {
                id.push(ch.to_ascii_lowercase());
            } else if !id.ends_with('-') && !id.is_empty() {
                id.push('-');
            }
        }
        while id.ends_with('-') {
            id.pop();
        }
        if id.is_empty() {
            id.push_str("owner");
        }
        OwnerId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Someone who receives a report: a branch owner or a team lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub id: OwnerId,
    pub name: String,
    pub email: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_file_and_header_safe() {
        assert_eq!(
            OwnerId::from_name("Support Operations").as_str(),
            "support-operations"
        );
        assert_eq!(
            OwnerId::from_name("  Team <Leads> & co ").as_str(),
            "team-leads-co"
        );
        assert_eq!(OwnerId::from_name("***").as_str(), "owner");
    }
}
