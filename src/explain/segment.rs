//! Which cell of the population a driver or push is about: one segment (`team=Billing`) or a
//! combination of segments (`team=Billing & channel=chat`), as a typed key.
//!
//! The key travels from the cells through drivers and pushes to the report view, which matches
//! pushes to drivers by it. Its JSON form is the contract of `baton explain --format json`:
//! `dimension` and `segment`, each the parts joined with `" & "` (`team & channel`,
//! `Billing & chat`), and for pushes also `cells` (dimension -> value).

use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// A dimension's name. Plain text for now; the one place to swap in a checked dimension type.
pub type Dimension = String;

/// What joins the parts of a combination in its JSON and table form.
const JOIN: &str = " & ";

/// A non-empty list of (dimension, value) pairs, in the order of the table's dimensions.
///
/// Ordered (and compared) pair by pair: dimension first, then value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentKey(Vec<(Dimension, String)>);

/// A segment key was built from no pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a segment key needs at least one (dimension, value) pair")]
pub struct EmptySegmentKey;

impl SegmentKey {
    /// The key of one segment of one dimension.
    pub fn single(dimension: impl Into<Dimension>, value: impl Into<String>) -> SegmentKey {
        SegmentKey(vec![(dimension.into(), value.into())])
    }

    /// The key of a combination, its pairs in table order.
    pub fn new(pairs: Vec<(Dimension, String)>) -> Result<SegmentKey, EmptySegmentKey> {
        if pairs.is_empty() {
            Err(EmptySegmentKey)
        } else {
            Ok(SegmentKey(pairs))
        }
    }

    /// The (dimension, value) pairs, never empty.
    pub fn pairs(&self) -> &[(Dimension, String)] {
        &self.0
    }

    /// More than one dimension.
    pub fn is_combination(&self) -> bool {
        self.0.len() > 1
    }

    /// Whether this is a single segment of `dimension`.
    pub fn is_segment_of(&self, dimension: &str) -> bool {
        matches!(self.0.as_slice(), [(d, _)] if d == dimension)
    }

    /// The value of `dimension`, if the key has one.
    pub fn value_of(&self, dimension: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(d, _)| d == dimension)
            .map(|(_, v)| v.as_str())
    }

    /// Dimension -> value, as the JSON's `cells` shows it.
    pub fn to_map(&self) -> BTreeMap<Dimension, String> {
        self.0.iter().cloned().collect()
    }

    /// The dimensions joined: `team & channel` (the JSON's `dimension`).
    pub fn dimensions(&self) -> impl fmt::Display + '_ {
        Joined(self.0.iter().map(|(d, _)| d.as_str()))
    }

    /// The values joined: `Billing & chat` (the JSON's `segment`).
    pub fn values(&self) -> impl fmt::Display + '_ {
        Joined(self.0.iter().map(|(_, v)| v.as_str()))
    }

    /// Orders two keys as their joined values (the JSON's `segment`) compare as text.
    pub fn cmp_values(&self, other: &SegmentKey) -> std::cmp::Ordering {
        self.values().to_string().cmp(&other.values().to_string())
    }

    /// Serialises `key` with its `cells` map, for `#[serde(flatten, serialize_with = ..)]`:
    /// `dimension`, `segment`, `cells`.
    pub fn serialize_with_cells<S: Serializer>(key: &SegmentKey, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("SegmentKey", 3)?;
        st.serialize_field("dimension", &key.dimensions().to_string())?;
        st.serialize_field("segment", &key.values().to_string())?;
        st.serialize_field("cells", &key.to_map())?;
        st.end()
    }
}

/// `team=Billing & channel=chat`.
impl fmt::Display for SegmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (d, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(JOIN)?;
            }
            write!(f, "{d}={v}")?;
        }
        Ok(())
    }
}

/// `dimension` and `segment` (use with `#[serde(flatten)]` to keep them fields of the parent).
impl Serialize for SegmentKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("SegmentKey", 2)?;
        st.serialize_field("dimension", &self.dimensions().to_string())?;
        st.serialize_field("segment", &self.values().to_string())?;
        st.end()
    }
}

/// Parts written with [`JOIN`] between them.
struct Joined<I>(I);

impl<'a, I: Iterator<Item = &'a str> + Clone> fmt::Display for Joined<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.clone().enumerate() {
            if i > 0 {
                f.write_str(JOIN)?;
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combination() -> SegmentKey {
        SegmentKey::new(vec![
            ("team".into(), "Billing".into()),
            ("channel".into(), "chat".into()),
        ])
        .unwrap()
    }

    #[test]
    fn joins_parts_as_the_json_did() {
        let k = combination();
        assert_eq!(k.dimensions().to_string(), "team & channel");
        assert_eq!(k.values().to_string(), "Billing & chat");
        assert_eq!(k.to_string(), "team=Billing & channel=chat");
        let one = SegmentKey::single("topic", "billing");
        assert_eq!(one.dimensions().to_string(), "topic");
        assert_eq!(one.values().to_string(), "billing");
        assert!(one.is_segment_of("topic") && !k.is_segment_of("team"));
        assert!(k.is_combination() && !one.is_combination());
        assert_eq!(k.value_of("channel"), Some("chat"));
        assert_eq!(k.value_of("topic"), None);
        assert_eq!(SegmentKey::new(vec![]), Err(EmptySegmentKey));
    }

    #[test]
    fn serialises_as_dimension_and_segment_strings() {
        #[derive(serde::Serialize)]
        struct Row {
            before: u8,
            #[serde(flatten)]
            key: SegmentKey,
            after: u8,
        }
        #[derive(serde::Serialize)]
        struct WithCells {
            #[serde(flatten, serialize_with = "SegmentKey::serialize_with_cells")]
            key: SegmentKey,
            after: u8,
        }
        let row = Row {
            before: 1,
            key: combination(),
            after: 2,
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"before":1,"dimension":"team & channel","segment":"Billing & chat","after":2}"#
        );
        let with = WithCells {
            key: combination(),
            after: 2,
        };
        assert_eq!(
            serde_json::to_string(&with).unwrap(),
            r#"{"dimension":"team & channel","segment":"Billing & chat","cells":{"channel":"chat","team":"Billing"},"after":2}"#
        );
    }
}
