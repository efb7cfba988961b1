//! The JSON Schema of the tenant file, for editors (Taplo, VS Code) and `insightsim schema
//! tenant`: generated from [`TenantSpec`] and its doc comments.
//!
//! A tenant file is read over the demo tenant, so every key is optional; unknown keys are
//! errors, as when the file is loaded. Values the schema cannot express (a data source named in
//! two places, a duration range with `min > max`) are left to [`TenantSpec::validate`].

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::spec::{DurationRange, TenantSpec};
use crate::time::{SimDuration, SimTime};

/// The `$id` of the schema: a name, not a location (nothing is served there).
pub const TENANT_SCHEMA_ID: &str = "urn:insightsim:tenant";

impl JsonSchema for SimDuration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration: whole numbers with units d, h, m, s, ms, e.g. 30s, 5m, 1d2h.",
            "pattern": "^([0-9]+(d|h|m|s|ms))+$",
        })
    }
}

impl JsonSchema for SimTime {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "DateTime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "An RFC 3339 date-time, e.g. 2026-01-01T00:00:00Z.",
        })
    }
}

impl JsonSchema for DurationRange {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "DurationRange".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A range of durations MIN..MAX, e.g. 2m..5m (a task takes a seeded time in it).",
            "pattern": "^([0-9]+(d|h|m|s|ms))+\\.\\.([0-9]+(d|h|m|s|ms))+$",
        })
    }
}

/// The JSON Schema (draft 2020-12, pretty JSON) of a tenant file read as JSON.
pub fn tenant_schema() -> String {
    let mut schema = schemars::schema_for!(TenantSpec);
    schema.insert("$id".to_owned(), TENANT_SCHEMA_ID.into());
    schema.insert("title".to_owned(), "insightsim tenant file".into());
    schema.insert(
        "description".to_owned(),
        "A tenant file is read over the demo tenant (insightsim tenant prints it): name only what you change. A list such as [[segments]] replaces the demo's list as a whole.".into(),
    );
    let mut value = schema.to_value();
    // The defaults schemars derives from `Default` are the empty spec's, not the demo's: they
    // would mislead an editor's completion, so none are shown.
    strip_defaults(&mut value);
    // Serializing a `serde_json::Value` cannot fail.
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

fn strip_defaults(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove("default");
            map.values_mut().for_each(strip_defaults);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_defaults),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::tenant::spec::DEMO_TENANT_TOML;

    /// The schema's verdict on a tenant file: `ok`, or the first violations.
    fn check(toml_text: &str) -> String {
        let schema: Value = serde_json::from_str(&tenant_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let table: toml::Table = toml_text.parse().unwrap();
        let instance = serde_json::to_value(table).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .take(3)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            "ok".to_owned()
        } else {
            errors.join("\n")
        }
    }

    #[test]
    fn the_demo_tenant_and_a_small_override_are_valid() {
        assert_eq!(check(DEMO_TENANT_TOML), "ok");
        assert_eq!(
            check("customers = 2000\n[limits]\nrate_limit = \"5/2s\"\n"),
            "ok"
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused() {
        assert!(check("custmers = 2000\n").contains("custmers"));
        assert!(check("customers = \"many\"\n").contains("customers"));
        assert!(check("[refresh]\nschedule_every = \"soon\"\n").contains("schedule_every"));
    }
}
