//! What a flow is for: its manifest.
//!
//! Trigger discovery sees what a flow subscribes to, not what it was meant to do: a flow wired to
//! the wrong trigger subscribes to that one, and every case of the trigger it should handle is
//! skipped. A manifest states the intent, so the suite can hold the flow to it:
//!
//! ```toml
//! # insightsim-flow.toml, beside the flow: `insightsim run --manifest insightsim-flow.toml ...`
//! description = "Tells the data team on Teams when a data source fails to refresh"
//!
//! [[handles]]
//! trigger = "datasource-refresh-failed"
//! inputs = ["dataSourceName"]                 # what it reads from its configuration
//! effect = "teams"                            # where its effect goes: teams, email or http
//! echo = ["dataSourceName", "friendlyName"]   # what each effect must carry from the event
//! ```
//!
//! - A case for a declared trigger always runs: if the flow does not subscribe to that trigger
//!   it fails (`manifest.declared-trigger`: "declared X, subscribed Y"), instead of being
//!   skipped. A case for a trigger it does not declare is not for this flow.
//! - `effect` is where the flow's effects are counted (`expect.effects`); an effect anywhere
//!   else fails the case (`effect.destination`).
//! - `echo` lists payload fields (names and numbers) that every effect must carry from the event
//!   it answers (`expect.echo`): found in the body's strings and numbers, whatever its shape.
//! - `exports` names the entity an export sends downstream; cases about exporting an entity
//!   (`pages_complete`, `rows_downstream`) are only for flows that declare it.
//!
//! The reference flows and their broken variants carry theirs in code
//! (`harness::flows::manifest_for`); flags build one too (`--handles TRIGGER --effect teams`).
//!
//! ```
//! use harness::manifest::Manifest;
//! use harness::scenario::SinkKind;
//!
//! let m = Manifest::parse(r#"
//!     [[handles]]
//!     trigger = "segment-threshold-crossed"
//!     effect = "email"
//!     echo = ["segmentName", "entityCount"]
//! "#).unwrap();
//! assert!(m.declares("segment-threshold-crossed"));
//! assert_eq!(m.destination(&["segment-threshold-crossed"]), Some(SinkKind::Email));
//! assert!(Manifest::parse("[[handles]]\ntrigger = \"segment-crossed\"\neffect = \"email\"").is_err());
//! ```

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use simulator::engine::Trigger;

use crate::scenario::SinkKind;

/// The file name a flow's manifest usually has, beside the flow.
pub const FILE_NAME: &str = "insightsim-flow.toml";

/// What a flow is for: the triggers it handles and, for each, where its effect goes and what the
/// effect must carry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// What the flow does, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The triggers the flow handles (at least one, each once).
    pub handles: Vec<Handles>,
}

/// One trigger a flow handles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Handles {
    /// One of the six trigger ids (`datasource-refresh-failed`, ...).
    pub trigger: String,
    /// The trigger inputs the flow reads from its configuration (`INSIGHTSIM_SUBSCRIPTIONS`). A
    /// case that configures another input is skipped, saying so. Absent: every input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// Where the flow's effect goes: `teams`, `email` or `http`.
    pub effect: Destination,
    /// Payload fields every effect must carry from the event it answers (names and numbers:
    /// `dataSourceName`, `entityCount`, `value`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub echo: Vec<String>,
    /// For an export: the entity whose every row the flow sends downstream (`Customer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exports: Option<String>,
}

/// Where a flow's effect goes: one of the mocked downstream connectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// A Teams channel message (`INSIGHTSIM_SINK_TEAMS_URL`).
    Teams,
    /// An e-mail (`INSIGHTSIM_SINK_EMAIL_URL`).
    Email,
    /// Any other HTTP call (`INSIGHTSIM_SINK_HTTP_URL`).
    Http,
}

impl Destination {
    pub fn sink(self) -> SinkKind {
        match self {
            Destination::Teams => SinkKind::Teams,
            Destination::Email => SinkKind::Email,
            Destination::Http => SinkKind::Http,
        }
    }

    /// `teams`, `email` or `http`, as flags and files write it.
    pub fn parse(text: &str) -> Option<Destination> {
        match text.trim().to_ascii_lowercase().as_str() {
            "teams" => Some(Destination::Teams),
            "email" | "e-mail" => Some(Destination::Email),
            "http" => Some(Destination::Http),
            _ => None,
        }
    }
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read the manifest {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
    /// Flags or text that do not make a valid manifest.
    #[error("{0}")]
    Problem(String),
}

/// The manifest as flags give it: every handled trigger with the same effect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestFlags {
    /// `--handles TRIGGER` (repeatable).
    pub handles: Vec<String>,
    /// `--effect teams|email|http`.
    pub effect: Option<String>,
    /// `--echo FIELD` (repeatable).
    pub echo: Vec<String>,
    /// `--exports ENTITY`.
    pub exports: Option<String>,
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        Manifest::parse(&text).map_err(|e| ManifestError::Invalid {
            path: path.to_owned(),
            problem: e.to_string(),
        })
    }

    /// Parses and checks a manifest's text.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| ManifestError::Problem(e.to_string().trim_end().replace('`', "\"")))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The manifest the flags describe (`None` when they give no `--handles`).
    pub fn from_flags(flags: &ManifestFlags) -> Result<Option<Manifest>, ManifestError> {
        if flags.handles.is_empty() {
            if flags.effect.is_some() || !flags.echo.is_empty() || flags.exports.is_some() {
                return Err(ManifestError::Problem(
                    "--effect, --echo and --exports describe the triggers of --handles; say which triggers the flow handles with --handles TRIGGER".to_owned(),
                ));
            }
            return Ok(None);
        }
        let text = flags.effect.as_deref().ok_or_else(|| {
            ManifestError::Problem(
                "--handles needs --effect: where the flow's effect goes (teams, email or http)"
                    .to_owned(),
            )
        })?;
        let effect = Destination::parse(text).ok_or_else(|| {
            ManifestError::Problem(format!(
                "--effect {text}: unknown destination; use teams, email or http"
            ))
        })?;
        let manifest = Manifest {
            description: String::new(),
            handles: flags
                .handles
                .iter()
                .map(|trigger| Handles {
                    trigger: trigger.clone(),
                    inputs: None,
                    effect,
                    echo: flags.echo.clone(),
                    exports: flags.exports.clone(),
                })
                .collect(),
        };
        manifest.validate()?;
        Ok(Some(manifest))
    }

    /// Checks triggers, inputs and echoed fields against the triggers' contracts.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let problem = |text: String| Err(ManifestError::Problem(text));
        if self.handles.is_empty() {
            return problem(
                "the manifest declares no trigger; add [[handles]] with the trigger the flow handles"
                    .to_owned(),
            );
        }
        for (i, h) in self.handles.iter().enumerate() {
            let Some(trigger) = Trigger::parse(&h.trigger) else {
                return problem(format!(
                    "handles[{i}].trigger: unknown trigger \"{}\"; use one of {}",
                    h.trigger,
                    Trigger::ids()
                ));
            };
            if self.handles[..i].iter().any(|o| o.trigger == h.trigger) {
                return problem(format!(
                    "handles[{i}]: {} is declared twice; declare each trigger once",
                    h.trigger
                ));
            }
            let inputs = inputs_of(trigger);
            for input in h.inputs.iter().flatten() {
                if !inputs.contains(&input.as_str()) {
                    return problem(format!(
                        "handles[{i}].inputs: {} takes no input \"{input}\"; its inputs are {}",
                        h.trigger,
                        list_or_none(inputs)
                    ));
                }
            }
            let fields = echo_fields(trigger);
            for field in &h.echo {
                if !fields.contains(&field.as_str()) {
                    return problem(format!(
                        "handles[{i}].echo: \"{field}\" is not a name or number of the {} payload; use {}",
                        h.trigger,
                        list_or_none(fields)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether the flow declares `trigger`.
    pub fn declares(&self, trigger: &str) -> bool {
        self.handle(trigger).is_some()
    }

    /// What the flow declares for `trigger`.
    pub fn handle(&self, trigger: &str) -> Option<&Handles> {
        self.handles.iter().find(|h| h.trigger == trigger)
    }

    /// The declared triggers, in the manifest's order.
    pub fn triggers(&self) -> Vec<&str> {
        self.handles.iter().map(|h| h.trigger.as_str()).collect()
    }

    /// Where the effects of a case on `triggers` go: the declared destination, when every one of
    /// them is declared with the same.
    pub fn destination(&self, triggers: &[&str]) -> Option<SinkKind> {
        let mut found = None;
        for t in triggers {
            let sink = self.handle(t)?.effect.sink();
            if found.is_some_and(|f| f != sink) {
                return None;
            }
            found = Some(sink);
        }
        found
    }

    /// The JSON Schema of the manifest (`insightsim schema manifest`).
    pub fn schema() -> String {
        let schema = schemars::schema_for!(Manifest);
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    }
}

/// The inputs a trigger's subscription takes.
pub fn inputs_of(trigger: Trigger) -> &'static [&'static str] {
    match trigger {
        Trigger::DataSourceRefreshFailed | Trigger::DataSourceRefreshSucceeded => {
            &["dataSourceName"]
        }
        Trigger::SegmentThresholdCrossed => &["segmentName", "threshold"],
        Trigger::MeasureThresholdCrossed => &["measureName", "threshold"],
        Trigger::FullRefreshCompleted | Trigger::UnificationCompleted => &[],
    }
}

/// The names and numbers of a trigger's payload an effect can echo (its scalar fields but the
/// delivery's own: `eventType`, `subscriptionId`, `instanceId`).
pub fn echo_fields(trigger: Trigger) -> &'static [&'static str] {
    match trigger {
        Trigger::DataSourceRefreshFailed | Trigger::DataSourceRefreshSucceeded => &[
            "eventId",
            "occurredAt",
            "dataSourceId",
            "dataSourceName",
            "friendlyName",
            "jobId",
            "taskStatus",
            "refreshState",
            "lastRefresh",
        ],
        Trigger::SegmentThresholdCrossed => &[
            "eventId",
            "occurredAt",
            "segmentName",
            "friendlyName",
            "threshold",
            "previousCount",
            "entityCount",
            "evaluationDate",
            "jobId",
        ],
        Trigger::MeasureThresholdCrossed => &[
            "eventId",
            "occurredAt",
            "measureName",
            "displayName",
            "threshold",
            "previousValue",
            "value",
            "evaluationTime",
            "jobId",
        ],
        Trigger::FullRefreshCompleted => &[
            "eventId",
            "occurredAt",
            "jobId",
            "jobType",
            "jobSubmissionKind",
            "jobStatus",
            "submittedTimestamp",
            "endTimestamp",
        ],
        Trigger::UnificationCompleted => &[
            "eventId",
            "occurredAt",
            "jobId",
            "taskStatus",
            "unifiedCustomerCount",
            "endTimestamp",
        ],
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(), &str>) {
        match (Manifest::parse(text), expected) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e}"),
            (got, want) => panic!("{got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn a_manifest_names_known_triggers_inputs_and_payload_fields() {
        check(
            "[[handles]]\ntrigger = \"measure-threshold-crossed\"\ninputs = [\"measureName\", \"threshold\"]\neffect = \"teams\"\necho = [\"measureName\", \"value\"]",
            Ok(()),
        );
        check(
            "[[handles]]\ntrigger = \"measure-crossed\"\neffect = \"teams\"",
            Err("unknown trigger \"measure-crossed\"; use one of"),
        );
        check(
            "[[handles]]\ntrigger = \"full-refresh-completed\"\ninputs = [\"segmentName\"]\neffect = \"http\"",
            Err("full-refresh-completed takes no input \"segmentName\"; its inputs are none"),
        );
        check(
            "[[handles]]\ntrigger = \"segment-threshold-crossed\"\neffect = \"email\"\necho = [\"count\"]",
            Err("\"count\" is not a name or number of the segment-threshold-crossed payload"),
        );
        check(
            "[[handles]]\ntrigger = \"segment-threshold-crossed\"\neffect = \"fax\"",
            Err("unknown variant \"fax\""),
        );
        check(
            "description = \"x\"\nhandles = []",
            Err("declares no trigger"),
        );
        check(
            "[[handles]]\ntrigger = \"full-refresh-completed\"\neffect = \"http\"\n[[handles]]\ntrigger = \"full-refresh-completed\"\neffect = \"teams\"",
            Err("declared twice"),
        );
        check(
            "[[handles]]\ntrigger = \"full-refresh-completed\"\neffect = \"http\"\nexport = \"Customer\"",
            Err("unknown field \"export\""),
        );
    }

    #[test]
    fn flags_make_a_manifest_only_with_handles_and_an_effect() {
        let flags = |handles: &[&str], effect: Option<&str>| ManifestFlags {
            handles: handles.iter().map(|s| (*s).to_owned()).collect(),
            effect: effect.map(str::to_owned),
            ..ManifestFlags::default()
        };
        assert_eq!(Manifest::from_flags(&flags(&[], None)).unwrap(), None);
        let m = Manifest::from_flags(&flags(&["unification-completed"], Some("http")))
            .unwrap()
            .unwrap();
        assert_eq!(
            m.destination(&["unification-completed"]),
            Some(SinkKind::Http)
        );
        let err = Manifest::from_flags(&flags(&["unification-completed"], None)).unwrap_err();
        assert!(
            err.to_string().starts_with("--handles needs --effect"),
            "{err}"
        );
        let err = Manifest::from_flags(&flags(&[], Some("teams"))).unwrap_err();
        assert!(err.to_string().contains("--handles TRIGGER"), "{err}");
        let err =
            Manifest::from_flags(&flags(&["unification-completed"], Some("sms"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--effect sms: unknown destination; use teams, email or http"
        );
    }

    #[test]
    fn a_case_on_triggers_with_different_destinations_has_no_single_destination() {
        let m = Manifest::parse(
            "[[handles]]\ntrigger = \"full-refresh-completed\"\neffect = \"http\"\n[[handles]]\ntrigger = \"datasource-refresh-failed\"\neffect = \"teams\"",
        )
        .unwrap();
        assert_eq!(
            m.destination(&["datasource-refresh-failed"]),
            Some(SinkKind::Teams)
        );
        assert_eq!(
            m.destination(&["datasource-refresh-failed", "full-refresh-completed"]),
            None
        );
        assert_eq!(m.destination(&["unification-completed"]), None);
        assert_eq!(m.destination(&[]), None);
    }

    /// The echo fields are the scalar fields of the payloads the engine really sends (but the
    /// delivery's own `eventType`, `subscriptionId`, `instanceId`): a payload that gains or
    /// loses a field fails here.
    #[test]
    fn echo_fields_are_the_scalar_fields_of_each_triggers_payload() {
        use std::collections::BTreeSet;

        use serde_json::json;
        use simulator::engine::{AttemptResult, Effect, Engine, Initial, Outcome, RefreshRequest};
        use simulator::tenant::TenantSpec;
        use simulator::time::{SimDuration, SimTime};

        let mut spec = TenantSpec::demo();
        spec.refresh.schedule_enabled = false;
        let t0 = SimTime::DEFAULT_EPOCH;
        let mut engine = Engine::new(&spec, spec.seed, t0, Initial::default());
        let hook = "http://127.0.0.1:9000/hook";
        for (trigger, inputs) in [
            ("datasource-refresh-failed", json!({})),
            ("datasource-refresh-succeeded", json!({})),
            (
                "segment-threshold-crossed",
                json!({"segmentName": "ChurnRisk", "threshold": 0}),
            ),
            (
                "measure-threshold-crossed",
                json!({"measureName": "TotalRevenue", "threshold": 1}),
            ),
            ("full-refresh-completed", json!({})),
            ("unification-completed", json!({})),
        ] {
            let mut body = inputs;
            body["NotificationUrl"] = json!(hook);
            engine.subscribe(t0, trigger, &body).unwrap();
        }
        engine.evaluate_segment(t0, "ChurnRisk", 0).unwrap();
        engine.evaluate_segment(t0, "ChurnRisk", 5).unwrap();
        engine.evaluate_measure(t0, "TotalRevenue", 0.0).unwrap();
        engine.evaluate_measure(t0, "TotalRevenue", 10.0).unwrap();
        let mut request = RefreshRequest::default();
        request.data_sources.insert("PoS".into(), Outcome::Fail);
        engine.refresh(t0, request).unwrap();
        let mut pending = engine.run_until(t0);
        loop {
            for effect in std::mem::take(&mut pending) {
                if let Effect::Deliver(a) = effect {
                    let now = engine.now();
                    pending.extend(engine.delivery_result(
                        now,
                        a.attempt_id,
                        AttemptResult::Status(200),
                    ));
                }
            }
            match engine
                .next_due()
                .filter(|t| *t < t0 + SimDuration::from_hours(2))
            {
                Some(t) => pending.extend(engine.run_until(t)),
                None => break,
            }
        }
        let mut seen = BTreeSet::new();
        for event in engine.events() {
            let payload = serde_json::to_value(&event.payload).unwrap();
            let scalars: BTreeSet<&str> = payload
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| {
                    !v.is_array()
                        && !v.is_object()
                        && !matches!(k.as_str(), "eventType" | "subscriptionId" | "instanceId")
                })
                .map(|(k, _)| k.as_str())
                .collect();
            let listed: BTreeSet<&str> = echo_fields(event.trigger).iter().copied().collect();
            assert_eq!(scalars, listed, "{}", event.trigger.id());
            seen.insert(event.trigger.id());
        }
        assert_eq!(seen.len(), 6, "every trigger fired: {seen:?}");
    }

    #[test]
    fn the_schema_names_the_manifest_and_its_keys() {
        let schema = Manifest::schema();
        for key in ["handles", "trigger", "effect", "echo", "exports", "inputs"] {
            assert!(schema.contains(&format!("\"{key}\"")), "{key}");
        }
    }
}
