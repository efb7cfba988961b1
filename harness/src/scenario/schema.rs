//! The JSON Schema of the scenario format, for editors and `insightsim schema`.

use super::model::Scenario;

/// The `$id` of the schema: a name, not a location (nothing is served there).
pub const SCHEMA_ID: &str = "urn:insightsim:scenario:format-1";

/// The JSON Schema (draft 2020-12, pretty JSON) of a scenario file read as JSON, generated from
/// the model types and their doc comments. It describes the shape only: the checks of
/// [`parse`](super::parse) (names that exist, time order, one action per step, ...) go further.
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(Scenario);
    schema.insert("$id".to_owned(), SCHEMA_ID.into());
    schema.insert("title".to_owned(), "insightsim scenario, format 1".into());
    // `format` is a `u32` in the model, but this schema is of format 1 only.
    if let Some(format) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("format"))
        .and_then(serde_json::Value::as_object_mut)
    {
        format.insert("const".to_owned(), 1.into());
    }
    // Serializing a `serde_json::Value` cannot fail.
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::scenario::{arb, parse, write};

    /// The schema's verdict on a scenario file: `ok`, or the first violations.
    fn check(toml_text: &str) -> String {
        let schema: Value = serde_json::from_str(&schema()).unwrap();
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
    fn the_schema_has_an_id_a_title_and_a_draft() {
        let schema: Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(schema["$id"], SCHEMA_ID);
        assert_eq!(schema["title"], "insightsim scenario, format 1");
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["properties"]["format"]["const"], 1);
        assert!(schema["$defs"]["Step"]["properties"]["evaluate_segment"].is_object());
    }

    #[test]
    fn the_sample_scenario_validates() {
        let sample = crate::scenario::parse::tests::SAMPLE;
        assert_eq!(check(sample), "ok");
    }

    #[test]
    fn the_schema_rejects_unknown_keys_and_wrong_types() {
        let sample = crate::scenario::parse::tests::SAMPLE;
        let typo = sample.replace("entity_count = 900", "entity_cont = 900");
        assert_ne!(check(&typo), "ok");
        let wrong = sample.replace("snapshot = true", "snapshot = \"yes\"");
        assert_ne!(check(&wrong), "ok");
        let format = sample.replace("format = 1", "format = 2");
        assert_ne!(check(&format), "ok");
    }

    proptest! {
        /// Law: every scenario that `write` renders is valid against the schema.
        #[test]
        fn every_written_scenario_validates(s in arb::scenario()) {
            let text = write(&s);
            prop_assert_eq!(check(&text), "ok", "{}", text);
            prop_assert!(parse(&text, Path::new("x.toml")).is_ok());
        }
    }
}
