//! Reading one scenario file: TOML, then the model's shape, then [`validate`](super::validate).

use std::path::Path;

use super::error::{ErrorKind, ScenarioError, serde_message};
use super::key::{KeyPath, line_of};
use super::model::Scenario;
use super::validate;

/// Reads a scenario from TOML text and checks it. `origin` names the file in errors.
///
/// Errors carry the line and the dotted key (`steps[2].evaluate_segment`). The id is checked
/// for its characters only; [`load_suite`](super::load_suite) also checks that it matches the
/// file's path.
///
/// ```
/// use std::path::Path;
///
/// let text = r#"
/// format = 1
/// id = "segment/fires-once"
/// requirement = "A flow MUST e-mail once per upward crossing."
///
/// [[steps]]
/// at = "1d"
/// evaluate_segment = { name = "HighValueCustomers", entity_count = 1100 }
/// "#;
/// let scenario = harness::scenario::parse(text, Path::new("segment/fires-once.toml")).unwrap();
/// assert_eq!(scenario.steps.len(), 1);
///
/// let err = harness::scenario::parse(&text.replace("entity_count", "entity_cont"), Path::new("x.toml"))
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "x.toml:8: steps[0].evaluate_segment.entity_cont: unknown field \"entity_cont\", expected \"name\" or \"entity_count\""
/// );
/// ```
pub fn parse(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
    let error = |line: Option<usize>, key: &KeyPath, kind: ErrorKind| ScenarioError {
        path: origin.to_owned(),
        line,
        key: (!key.is_root()).then(|| key.to_string()),
        kind,
    };
    // The format first: a file of another format may have other keys, and saying so is more
    // useful than naming the first key this version does not know.
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| line_of(text, s.start));
        error(
            line,
            &KeyPath::root(),
            ErrorKind::Syntax(e.message().to_owned()),
        )
    })?;
    if let Some(format) = table.get("format").and_then(toml::Value::as_integer)
        && format != 1
    {
        let key = KeyPath::root().key("format");
        return Err(error(key.line_in(text), &key, ErrorKind::Format(format)));
    }
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        error(
            line,
            &KeyPath::root(),
            ErrorKind::Syntax(e.message().to_owned()),
        )
    })?;
    let scenario: Scenario = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = KeyPath::from_serde(e.path());
        let inner = e.inner();
        let line = match inner.span() {
            // A key missing from the top level is "at" the whole document: no line says more.
            Some(span) if key.is_root() && span.start == 0 => None,
            Some(span) => Some(line_of(text, span.start)),
            None => key.line_in(text),
        };
        // TOML has date-time values, but times here are strings (a bare date-time arrives as a
        // table, which serde would call "invalid type: map").
        let message = match key.value_in(&table) {
            Some(toml::Value::Datetime(dt)) => {
                format!("write the date-time as a string: \"{dt}\"")
            }
            _ => serde_message(inner.message()),
        };
        error(line, &key, ErrorKind::Shape(message))
    })?;
    validate::check(&scenario).map_err(|(key, kind)| error(key.line_in(text), &key, kind))?;
    Ok(scenario)
}

#[cfg(test)]
pub(crate) mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::scenario::model::{GradeExpect, SinkKind};

    /// The SPEC 4.3 example, with one of each kind of step and expectation.
    pub(crate) const SAMPLE: &str = r#"format = 1
id = "segment/fires-once-per-upward-crossing"
description = "Three evaluations of HighValueCustomers: below, above, below the threshold."
requirement = "A segment threshold trigger MUST fire once per upward crossing and never on a downward one."
seed = 7
run_for = "2h"

[tenant]
customers = 2000

[[subscriptions]]
trigger = "segment-threshold-crossed"
inputs = { segmentName = "HighValueCustomers", threshold = 1000 }

[[steps]]
at = "0s"
evaluate_segment = { name = "HighValueCustomers", entity_count = 900 }
[[steps]]
at = "1d"
evaluate_segment = { name = "HighValueCustomers", entity_count = 1100 }
[[steps]]
at = "1d2h"
refresh = { kind = "on_demand", data_sources = { PoS = "fail" }, segments = { ChurnRisk = 10 } }
[[steps]]
at = "2d"
evaluate_segment = { name = "HighValueCustomers", entity_count = 950 }

[expect]
deliveries = [{ trigger = "segment-threshold-crossed", count = 1 }]
sinks = [{ sink = "email", count = 1, body_contains = "HighValueCustomers", json = { "/subject" = "Threshold crossed" } }]
api = { pages_complete = "HighValueCustomers", no_early_retries = true }
rate_limit_grade = "ok"
snapshot = true
"#;

    /// The `Display` of the error that `text` gives, or `ok`.
    fn check(text: &str) -> String {
        match parse(text, Path::new("scenarios/segment/x.toml")) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    /// The sample with `from` replaced by `to` (which must occur).
    fn edit(from: &str, to: &str) -> String {
        assert!(SAMPLE.contains(from), "{from}");
        SAMPLE.replacen(from, to, 1)
    }

    #[test]
    fn the_spec_example_parses() {
        let s = parse(SAMPLE, Path::new("x.toml")).unwrap();
        assert_eq!(s.id, "segment/fires-once-per-upward-crossing");
        assert_eq!(s.seed(), 7);
        assert_eq!(s.steps.len(), 4);
        assert_eq!(s.steps[3].at, simulator::SimDuration::from_days(2));
        assert_eq!(s.triggers(), ["segment-threshold-crossed"]);
        assert_eq!(s.expect.sinks[0].sink, SinkKind::Email);
        assert_eq!(s.expect.rate_limit_grade, Some(GradeExpect::Ok));
        assert_eq!(
            s.tenant.get("customers").and_then(toml::Value::as_integer),
            Some(2000)
        );
    }

    #[test]
    fn invalid_toml_names_the_line() {
        assert_snapshot!(check(&edit("seed = 7", "seed = = 7")), @r#"scenarios/segment/x.toml:5: invalid TOML: extra `=`, expected nothing"#);
    }

    #[test]
    fn an_unknown_field_names_the_table_and_the_expected_fields() {
        assert_snapshot!(check(&edit("entity_count = 1100", "entity_cont = 1100")), @r#"scenarios/segment/x.toml:20: steps[1].evaluate_segment.entity_cont: unknown field "entity_cont", expected "name" or "entity_count""#);
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        assert_snapshot!(check(&edit("entity_count = 900", "entity_count = \"900\"")), @r#"scenarios/segment/x.toml:17: steps[0].evaluate_segment.entity_count: invalid type: string "900", expected u64"#);
        assert_snapshot!(check(&edit("sink = \"email\"", "sink = \"pager\"")), @r#"scenarios/segment/x.toml:30: expect.sinks[0].sink: unknown variant "pager", expected one of "teams", "email", "http", "any""#);
    }

    #[test]
    fn a_missing_key_names_its_table() {
        assert_snapshot!(check(&edit("requirement = ", "# requirement = ")), @r#"scenarios/segment/x.toml: missing field "requirement""#);
        assert_snapshot!(check(&edit("at = \"1d\"\n", "")), @r#"scenarios/segment/x.toml:18: steps[1]: missing field "at""#);
    }

    #[test]
    fn a_bad_duration_says_how_to_write_one() {
        assert_snapshot!(check(&edit("at = \"1d\"", "at = \"1 day\"")), @r#"scenarios/segment/x.toml:19: steps[1].at: invalid duration "1 day": a unit is missing; write a number and a unit, e.g. 500ms, 30s, 5m, 2h, 1d or 1h30m"#);
    }

    #[test]
    fn another_format_is_reported_before_unknown_keys() {
        let text = edit("format = 1", "format = 2\nnew_key = true");
        assert_snapshot!(check(&text), @"scenarios/segment/x.toml:1: format: format = 2 is not supported; this version of insightsim reads format = 1");
    }

    #[test]
    fn a_start_time_is_a_quoted_rfc3339_string() {
        assert_snapshot!(check(&edit("seed = 7", "start = 2026-02-01T00:00:00Z")), @r#"scenarios/segment/x.toml:5: start: write the date-time as a string: "2026-02-01T00:00:00Z""#);
        assert_snapshot!(check(&edit("seed = 7", "start = \"2026-02-31\"")), @r#"scenarios/segment/x.toml:5: start: invalid date-time "2026-02-31"; write RFC 3339, e.g. 2026-01-01T00:00:00Z"#);
        assert_eq!(
            check(&edit("seed = 7", "start = \"2026-02-01T08:00:00+01:00\"")),
            "ok"
        );
    }
}
