//! The `meta` part: whose state this is, the id epoch, and the clock.

use serde::{Deserialize, Serialize};

use crate::epoch::Epoch;
use crate::ids;
use crate::tenant::TenantSpec;
use crate::time::SimTime;

/// The version of the saved layout; a state dir of another version is refused.
pub const FORMAT: u32 = 1;

/// The tenant a state dir belongs to: the same tenant file and seed give back the same state,
/// and any other is refused (the data is generated from the tenant, so a saved state only makes
/// sense over the tenant that saved it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub seed: u64,
    /// A hash of the whole tenant (overrides included), as 16 hex digits.
    pub fingerprint: String,
    /// The tenant as JSON, to name what differs when another is refused.
    pub spec: String,
}

impl Identity {
    pub fn of(spec: &TenantSpec) -> Identity {
        let json = serde_json::to_string(spec).unwrap_or_default();
        Identity {
            name: spec.name.clone(),
            seed: spec.seed,
            fingerprint: format!("{:016x}", ids::hash_parts(0, &["tenant", &json])),
            spec: json,
        }
    }

    /// The top-level tenant settings that differ between two identities (`seed`, `customers`,
    /// `segments`, ...), in order.
    pub fn differences(&self, other: &Identity) -> Vec<String> {
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default();
        let (a, b) = (parse(&self.spec), parse(&other.spec));
        let empty = serde_json::Map::new();
        let (a, b) = (
            a.as_object().unwrap_or(&empty),
            b.as_object().unwrap_or(&empty),
        );
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter(|k| a.get(*k) != b.get(*k))
            .cloned()
            .collect()
    }
}

/// The `meta` part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub format: u32,
    pub identity: Identity,
    /// The id epoch in force (kept across restarts, so ids never repeat).
    pub epoch: Epoch,
    /// The simulated time when this was saved: a restored clock never goes back before it.
    pub clock: SimTime,
}
