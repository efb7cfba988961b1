//! The scenario file format (`format = 1`), as data.
//!
//! A scenario is one conformance case: the tenant it runs on, the subscriptions the flow under
//! test must hold, a timeline of steps on simulated time, and what the flow must visibly do.
//! Every struct denies unknown keys, so a typo is an error that names the key.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use simulator::SimDuration;

/// One conformance case, read from `scenarios/<feature>/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The format version; only `1` exists.
    pub format: u32,
    /// The case id: the file's path below the suite directory, without `.toml`
    /// (`segment/fires-once-per-upward-crossing`).
    pub id: String,
    /// What the case does, for people.
    #[serde(default)]
    pub description: String,
    /// The requirement the case checks, as one sentence with `MUST` or `SHOULD` (a failed
    /// `SHOULD` case is graded `non-strict` unless the run is `--strict`).
    pub requirement: String,
    /// Seed of the simulated tenant (42 when absent; `run --seed` overrides every case).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Where simulated time starts (2026-01-01T00:00:00Z when absent).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub start: Option<simulator::SimTime>,
    /// Keys of a tenant file laid over the demo tenant (sizes, limits, schedule, failure rates,
    /// segments, ...). The harness turns the schedule off unless this table turns it on.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub tenant: toml::Table,
    /// The subscriptions the flow is expected to hold while the case runs.
    #[serde(default)]
    pub subscriptions: Vec<ExpectedSubscription>,
    /// What happens, in order of `at`.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// How long to keep simulated time running after the last step (default `1h`), so that
    /// refreshes finish, deliveries retry and the flow acts.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub run_for: Option<SimDuration>,
    /// What the flow must visibly do.
    #[serde(default)]
    pub expect: Expect,
}

/// A subscription the flow under test must hold: a trigger and its inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSubscription {
    /// One of the six trigger ids (`segment-threshold-crossed`, ...).
    pub trigger: String,
    /// Trigger inputs (`segmentName`, `measureName`, `threshold`, `dataSourceName`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub inputs: serde_json::Map<String, serde_json::Value>,
}

/// One step of the timeline: at a simulated time offset, exactly one action (or none, to let
/// time pass until `at`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Offset from the scenario start (`0s`, `90m`, `1d2h`); steps must not go back in time.
    #[schemars(with = "String")]
    pub at: SimDuration,
    /// A full refresh now (`POST /_sim/refresh`), with forced outcomes and values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<RefreshStep>,
    /// Refresh one data source with a forced outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_datasource: Option<DataSourceStep>,
    /// A successful segment evaluation to this member count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_segment: Option<SegmentStep>,
    /// A successful measure evaluation to this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_measure: Option<MeasureStep>,
    /// Replace the injected faults (API routes and deliveries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultsStep>,
    /// Create an item through the API (as the harness, not as the flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_item: Option<CreateItemStep>,
    /// Update an item through the API (as the harness, not as the flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_item: Option<UpdateItemStep>,
    /// Re-send the last delivered event of a trigger (`POST /_sim/deliveries/{id}/redeliver`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeliver: Option<RedeliverStep>,
    /// Submit an on-demand job through the jobs API (`POST .../workflows/main/jobs`), as an
    /// admin or another system would (not as the flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit_job: Option<SubmitJobStep>,
}

/// `refresh = { kind = "scheduled", data_sources = { PoS = "fail" }, segments = { HighValueCustomers = 1200 } }`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshStep {
    /// `scheduled` (the default: fires `full-refresh-completed`) or `on_demand`.
    #[serde(default)]
    pub kind: Option<RefreshKind>,
    /// Forced ingestion outcome per data source: `success`, `fail`, `transient`, `timeout`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data_sources: BTreeMap<String, Outcome>,
    /// Forced outcome per stage (`map`, `match`, `merge`, `export`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stages: BTreeMap<String, Outcome>,
    /// Forced outcome of the evaluation of a segment or measure, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub evaluations: BTreeMap<String, Outcome>,
    /// The member count each named segment evaluates to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub segments: BTreeMap<String, u64>,
    /// The value each named measure evaluates to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measures: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefreshKind {
    Scheduled,
    OnDemand,
}

/// A forced task outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Succeeds.
    Success,
    /// Fails for good (after no retry).
    Fail,
    /// Fails once, then succeeds on retry.
    Transient,
    /// Runs past the task timeout (`timedOut`).
    Timeout,
}

/// `refresh_datasource = { name = "PoS", outcome = "fail" }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSourceStep {
    pub name: String,
    #[serde(default = "success")]
    pub outcome: Outcome,
}

fn success() -> Outcome {
    Outcome::Success
}

/// `evaluate_segment = { name = "HighValueCustomers", entity_count = 1100 }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentStep {
    pub name: String,
    pub entity_count: u64,
}

/// `evaluate_measure = { name = "TotalRevenue", value = 1.2e6 }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureStep {
    pub name: String,
    pub value: f64,
}

/// `faults = { routes = [...], deliveries = { rules = [...] } }` — the bodies of
/// `PUT /_sim/faults` (see the README for their keys).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultsStep {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub routes: Vec<simulator::faults::RouteFaultRule>,
    #[serde(default)]
    #[schemars(with = "serde_json::Value")]
    pub deliveries: simulator::engine::DeliveryFaults,
}

/// `create_item = { entity = "Customer", item = { CustomerId = "...", FullName = "..." } }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateItemStep {
    pub entity: String,
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub item: serde_json::Map<String, serde_json::Value>,
}

/// `update_item = { entity = "Customer", key = "...", changes = { City = "Springfield" } }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateItemStep {
    pub entity: String,
    pub key: String,
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub changes: serde_json::Map<String, serde_json::Value>,
}

/// `submit_job = { operation_type = "merge" }` or `{ operation_type = "ingestion", identifiers = ["PoS"] }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJobStep {
    /// One of the API model's `operationType` values (`all`, `ingestion`, `map`, `match`,
    /// `merge`, `segmentation`, `measures`, `export`, ...).
    pub operation_type: String,
    /// Data source, segment or measure names the job is limited to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<String>,
}

/// `redeliver = { trigger = "datasource-refresh-failed" }` re-sends the trigger's last delivered
/// event; `event = 1` re-sends its first event instead (an older event, after newer ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverStep {
    pub trigger: String,
    /// Which of the trigger's events, 1-based in the order they occurred (default: the last
    /// one delivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<u32>,
}

/// What the flow must visibly do. Every listed expectation must hold.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Events delivered to the flow, per trigger.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<DeliveryExpect>,
    /// Calls the flow made to the mocked downstream connectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<SinkExpect>,
    /// How the flow used the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiExpect>,
    /// The worst call-limit grade the flow's connection may get: `ok` (no early retry) or
    /// `non-strict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_grade: Option<GradeExpect>,
    /// The flow's effects: its calls to the destination its manifest declares (Teams, e-mail
    /// or HTTP; to any sink when it declares none). A call to any other sink fails the case:
    /// the effect went to the wrong destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effects: Option<Count>,
    /// Each effect carries the names and numbers of the event it answers that the flow's
    /// manifest lists (`echo`), wherever they sit in its body; numbers match by value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub echo: bool,
    /// Every row of this entity reaches the sinks exactly once: its key is found in the body of
    /// exactly one sink call, whatever the payload's shape (JSON, CSV, text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_downstream: Option<String>,
    /// Compare the transcript with `snapshots/<flow>__<id>.snap`.
    #[serde(default)]
    pub snapshot: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A count: exactly `count`, or within `min..=max` (no bound given: at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Count {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

/// `{ trigger = "segment-threshold-crossed", count = 1 }` (or `min`/`max`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryExpect {
    pub trigger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

impl DeliveryExpect {
    pub fn bounds(&self) -> Count {
        Count {
            count: self.count,
            min: self.min,
            max: self.max,
        }
    }
}

/// `{ sink = "email", count = 1, body_contains = "HighValueCustomers" }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkExpect {
    /// `teams`, `email`, `http` or `any`.
    pub sink: SinkKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Only calls whose body contains this text count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// Only calls whose JSON body has these values at these JSON pointers (`/subject`) count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub json: BTreeMap<String, serde_json::Value>,
}

impl SinkExpect {
    pub fn bounds(&self) -> Count {
        Count {
            count: self.count,
            min: self.min,
            max: self.max,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    Teams,
    Email,
    Http,
    Any,
}

/// How the flow's connection used the API.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiExpect {
    /// Every row of this entity was fetched exactly once by the flow's successful `$skip`
    /// pages (no gap, no overlap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages_complete: Option<String>,
    /// Calls the flow made (all statuses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<Count>,
    /// The most calls admitted in any call-limit window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls_in_window: Option<u64>,
    /// No call made before the `Retry-After` it was last given had passed.
    #[serde(default)]
    pub no_early_retries: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GradeExpect {
    Ok,
    NonStrict,
}

/// Whether a failed case is a failure (`MUST`) or graded `non-strict` (`SHOULD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Must,
    Should,
}

impl Level {
    /// `MUST` or `SHOULD`, as the requirement sentence writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        }
    }
}

impl Count {
    /// Whether `n` satisfies the bounds.
    pub fn admits(&self, n: u64) -> bool {
        match (self.count, self.min, self.max) {
            (Some(c), _, _) => n == c,
            (None, None, None) => n >= 1,
            (None, min, max) => min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m),
        }
    }

    /// The bounds in words: `exactly 1`, `at least 2`, `between 1 and 3`.
    pub fn describe(&self) -> String {
        match (self.count, self.min, self.max) {
            (Some(c), _, _) => format!("exactly {c}"),
            (None, None, None) => "at least 1".to_owned(),
            (None, Some(a), None) => format!("at least {a}"),
            (None, None, Some(b)) => format!("at most {b}"),
            (None, Some(a), Some(b)) => format!("between {a} and {b}"),
        }
    }
}

impl Scenario {
    /// The level of the requirement sentence: `MUST` wins over `SHOULD`.
    pub fn level(&self) -> Option<Level> {
        if self.requirement.contains("MUST") {
            Some(Level::Must)
        } else if self.requirement.contains("SHOULD") {
            Some(Level::Should)
        } else {
            None
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(42)
    }

    /// The triggers the case needs the flow to handle.
    pub fn triggers(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self
            .subscriptions
            .iter()
            .map(|s| s.trigger.as_str())
            .collect();
        t.sort_unstable();
        t.dedup();
        t
    }
}
