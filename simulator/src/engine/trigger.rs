//! The six triggers (SPEC 3.4): their ids, the inputs a subscription to each takes, and the
//! threshold rule. A leaf of the engine.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A trigger kind (SPEC 3.4); [`Trigger::id`] is the id used in paths, payloads and scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    DataSourceRefreshFailed,
    DataSourceRefreshSucceeded,
    SegmentThresholdCrossed,
    MeasureThresholdCrossed,
    FullRefreshCompleted,
    UnificationCompleted,
}

impl Trigger {
    pub const ALL: [Trigger; 6] = [
        Trigger::DataSourceRefreshFailed,
        Trigger::DataSourceRefreshSucceeded,
        Trigger::SegmentThresholdCrossed,
        Trigger::MeasureThresholdCrossed,
        Trigger::FullRefreshCompleted,
        Trigger::UnificationCompleted,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Trigger::DataSourceRefreshFailed => "datasource-refresh-failed",
            Trigger::DataSourceRefreshSucceeded => "datasource-refresh-succeeded",
            Trigger::SegmentThresholdCrossed => "segment-threshold-crossed",
            Trigger::MeasureThresholdCrossed => "measure-threshold-crossed",
            Trigger::FullRefreshCompleted => "full-refresh-completed",
            Trigger::UnificationCompleted => "unification-completed",
        }
    }

    /// The trigger with this id (exact, as ids are lower-case path segments).
    pub fn parse(id: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The six ids, comma-separated, for error messages.
    pub fn ids() -> String {
        Trigger::ALL.map(Trigger::id).join(", ")
    }

    /// The inputs a subscription to this trigger takes (besides `NotificationUrl`).
    pub fn inputs(self) -> &'static [&'static str] {
        match self {
            Trigger::DataSourceRefreshFailed | Trigger::DataSourceRefreshSucceeded => {
                &["dataSourceName"]
            }
            Trigger::SegmentThresholdCrossed => &["segmentName", "threshold"],
            Trigger::MeasureThresholdCrossed => &["measureName", "threshold"],
            Trigger::FullRefreshCompleted | Trigger::UnificationCompleted => &[],
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        Trigger::parse(&id).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown trigger \"{id}\"; the triggers are {}",
                Trigger::ids()
            ))
        })
    }
}

/// The threshold rule of both threshold triggers: an upward crossing, from at or below the
/// threshold to strictly above it.
pub fn crosses(previous: f64, next: f64, threshold: f64) -> bool {
    previous <= threshold && next > threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_is_strictly_above_from_at_or_below() {
        assert!(crosses(10.0, 11.0, 10.0));
        assert!(crosses(5.0, 11.0, 10.0));
        assert!(!crosses(10.0, 10.0, 10.0));
        assert!(!crosses(11.0, 12.0, 10.0));
        assert!(!crosses(12.0, 5.0, 10.0));
    }
}
