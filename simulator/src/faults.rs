//! Seeded faults injected into `/v1` calls: added latency, an error status (with a probability
//! or for the first N calls), or a dropped connection. Set with `PUT /_sim/faults` or from a
//! scenario; delivery faults (duplicates, reordering, late replay) live in the engine.
//!
//! A fault is decided after authentication and the call limit, so a faulted call still counts as
//! a connector call (the gateway counted it before the backend failed).

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::ids::hash_parts;
use crate::time::SimDuration;

/// One rule: which calls it applies to and what happens to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteFaultRule {
    /// Prefix of the path below the instance (`data/Customer`, `manage/segments`, `triggers`);
    /// empty or `*` for every `/v1` call.
    pub route: String,
    /// Only calls with this method (any when absent).
    pub method: Option<String>,
    /// Added latency before the answer.
    pub latency: Option<SimDuration>,
    /// Answer with this status instead (e.g. 500, 503, 408).
    pub status: Option<u16>,
    /// Close the connection without an answer.
    pub drop: bool,
    /// Probability that a matching call gets the fault (1 when absent).
    pub probability: Option<f64>,
    /// Only the first N matching calls get the fault.
    pub first: Option<u64>,
}

/// The route fault configuration (`routes` of `PUT /_sim/faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RouteFaultConfig {
    pub routes: Vec<RouteFaultRule>,
}

/// Why a route fault configuration was refused (each names the rule by its index).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteFaultError {
    #[error("routes[{index}].status = {status} is not an HTTP status (100 to 599)")]
    NotAStatus { index: usize, status: u16 },
    #[error("routes[{index}].probability = {probability} must be between 0 and 1")]
    NotAProbability { index: usize, probability: f64 },
    #[error("routes[{index}] does nothing; give it a latency, a status or drop = true")]
    NoEffect { index: usize },
}

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Injected {
    pub latency: Option<SimDuration>,
    pub status: Option<u16>,
    pub drop: bool,
}

#[derive(Debug)]
struct State {
    rules: Vec<RouteFaultRule>,
    /// Matching calls seen per rule.
    seen: Vec<u64>,
    rng: Pcg64Mcg,
}

#[derive(Debug)]
pub struct RouteFaults {
    seed: u64,
    /// Whether any rule is set: the per-request check skips everything else when not.
    active: AtomicBool,
    state: Mutex<State>,
}

impl RouteFaults {
    pub fn new(seed: u64) -> RouteFaults {
        RouteFaults {
            seed,
            active: AtomicBool::new(false),
            state: Mutex::new(State {
                rules: Vec::new(),
                seen: Vec::new(),
                rng: Pcg64Mcg::seed_from_u64(hash_parts(seed, &["route-faults"])),
            }),
        }
    }

    /// Replaces the rules (and restarts their counters and random draws); a refused
    /// configuration changes nothing.
    pub fn set(&self, config: RouteFaultConfig) -> Result<(), RouteFaultError> {
        for (index, r) in config.routes.iter().enumerate() {
            if let Some(status) = r.status
                && !(100..=599).contains(&status)
            {
                return Err(RouteFaultError::NotAStatus { index, status });
            }
            if let Some(probability) = r.probability
                && !(0.0..=1.0).contains(&probability)
            {
                return Err(RouteFaultError::NotAProbability { index, probability });
            }
            if r.latency.is_none() && r.status.is_none() && !r.drop {
                return Err(RouteFaultError::NoEffect { index });
            }
        }
        let mut state = self.state.lock();
        self.active
            .store(!config.routes.is_empty(), Ordering::Relaxed);
        state.seen = vec![0; config.routes.len()];
        state.rules = config.routes;
        state.rng = Pcg64Mcg::seed_from_u64(hash_parts(self.seed, &["route-faults"]));
        Ok(())
    }

    pub fn clear(&self) {
        let _ = self.set(RouteFaultConfig::default());
    }

    pub fn config(&self) -> RouteFaultConfig {
        RouteFaultConfig {
            routes: self.state.lock().rules.clone(),
        }
    }

    /// Whether any rule is set.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Decides what happens to a call to `route` (the path below the instance).
    pub fn decide(&self, method: &str, route: &str) -> Option<Injected> {
        let mut state = self.state.lock();
        if state.rules.is_empty() {
            return None;
        }
        let State { rules, seen, rng } = &mut *state;
        for (i, rule) in rules.iter().enumerate() {
            let route_matches = rule.route.is_empty()
                || rule.route == "*"
                || route.starts_with(rule.route.as_str());
            let method_matches = rule
                .method
                .as_ref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            if !(route_matches && method_matches) {
                continue;
            }
            seen[i] += 1;
            if rule.first.is_some_and(|n| seen[i] > n) {
                continue;
            }
            if let Some(p) = rule.probability
                && !rng.random_bool(p)
            {
                continue;
            }
            return Some(Injected {
                latency: rule.latency,
                status: rule.status,
                drop: rule.drop,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(route: &str) -> RouteFaultRule {
        RouteFaultRule {
            route: route.to_owned(),
            status: Some(503),
            ..RouteFaultRule::default()
        }
    }

    #[test]
    fn the_first_n_matching_calls_fail() {
        let faults = RouteFaults::new(1);
        faults
            .set(RouteFaultConfig {
                routes: vec![RouteFaultRule {
                    first: Some(2),
                    ..rule("data/Customer")
                }],
            })
            .unwrap();
        assert_eq!(faults.decide("GET", "manage/entities"), None);
        assert!(faults.decide("GET", "data/Customer").is_some());
        assert!(faults.decide("GET", "data/Customer").is_some());
        assert_eq!(faults.decide("GET", "data/Customer"), None);
    }

    #[test]
    fn probabilities_are_seeded() {
        let draws = |seed| {
            let f = RouteFaults::new(seed);
            f.set(RouteFaultConfig {
                routes: vec![RouteFaultRule {
                    probability: Some(0.5),
                    ..rule("")
                }],
            })
            .unwrap();
            (0..64)
                .map(|_| f.decide("GET", "x").is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
    }

    #[test]
    fn rules_that_do_nothing_or_have_bad_values_are_refused() {
        let f = RouteFaults::new(1);
        let bad = |r: RouteFaultRule| f.set(RouteFaultConfig { routes: vec![r] }).unwrap_err();
        let check = |r: RouteFaultRule, expected: RouteFaultError, message: &str| {
            let err = bad(r);
            assert_eq!(err, expected);
            assert_eq!(err.to_string(), message);
        };
        check(
            RouteFaultRule::default(),
            RouteFaultError::NoEffect { index: 0 },
            "routes[0] does nothing; give it a latency, a status or drop = true",
        );
        check(
            RouteFaultRule {
                status: Some(42),
                ..rule("")
            },
            RouteFaultError::NotAStatus {
                index: 0,
                status: 42,
            },
            "routes[0].status = 42 is not an HTTP status (100 to 599)",
        );
        check(
            RouteFaultRule {
                probability: Some(2.0),
                ..rule("")
            },
            RouteFaultError::NotAProbability {
                index: 0,
                probability: 2.0,
            },
            "routes[0].probability = 2 must be between 0 and 1",
        );
        assert!(!f.is_active(), "a refused configuration changes nothing");
    }
}
