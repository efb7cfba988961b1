//! Rendering a scenario back to TOML, laid out as people write them: the top-level keys, then
//! `[tenant]`, `[[subscriptions]]`, `[[steps]]` (one inline table per action) and `[expect]`.
//! Used to write shrunk property-test failures as files that replay.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Expect, Scenario, Step};

/// Renders `scenario` as a scenario file; [`parse`](super::parse) reads it back unchanged.
///
/// A value TOML cannot hold (a JSON `null` or an integer above `i64::MAX` in item fields or
/// inputs) is left out with a `# cannot write ...` comment in its place, so reading the file
/// back reports it instead of silently changing the case.
pub fn write(scenario: &Scenario) -> String {
    let mut out = String::new();
    let s = scenario;
    line(&mut out, "format", &s.format);
    line(&mut out, "id", &s.id);
    if !s.description.is_empty() {
        line(&mut out, "description", &s.description);
    }
    line(&mut out, "requirement", &s.requirement);
    if let Some(seed) = s.seed {
        line(&mut out, "seed", &seed);
    }
    if let Some(start) = s.start {
        line(&mut out, "start", &start);
    }
    if let Some(run_for) = s.run_for {
        line(&mut out, "run_for", &run_for);
    }
    if !s.tenant.is_empty() {
        #[derive(Serialize)]
        struct Tenant<'a> {
            tenant: &'a toml::Table,
        }
        out.push('\n');
        match toml::to_string(&Tenant { tenant: &s.tenant }) {
            Ok(text) => out.push_str(&text),
            Err(e) => comment(&mut out, "tenant", &e),
        }
    }
    for sub in &s.subscriptions {
        out.push_str("\n[[subscriptions]]\n");
        line(&mut out, "trigger", &sub.trigger);
        if !sub.inputs.is_empty() {
            line(&mut out, "inputs", &sub.inputs);
        }
    }
    if !s.steps.is_empty() {
        out.push('\n');
    }
    for step in &s.steps {
        write_step(&mut out, step);
    }
    if s.expect != Expect::default() {
        write_expect(&mut out, &s.expect);
    }
    out
}

fn write_step(out: &mut String, step: &Step) {
    out.push_str("[[steps]]\n");
    line(out, "at", &step.at);
    // Every action, in case a caller built a step with several (the file then says so when
    // it is read back).
    optional(out, "refresh", step.refresh.as_ref());
    optional(out, "refresh_datasource", step.refresh_datasource.as_ref());
    optional(out, "evaluate_segment", step.evaluate_segment.as_ref());
    optional(out, "evaluate_measure", step.evaluate_measure.as_ref());
    optional(out, "faults", step.faults.as_ref());
    optional(out, "create_item", step.create_item.as_ref());
    optional(out, "update_item", step.update_item.as_ref());
    optional(out, "redeliver", step.redeliver.as_ref());
    optional(out, "submit_job", step.submit_job.as_ref());
}

fn write_expect(out: &mut String, e: &Expect) {
    out.push_str("\n[expect]\n");
    list(out, "deliveries", &e.deliveries);
    list(out, "sinks", &e.sinks);
    optional(out, "api", e.api.as_ref());
    optional(out, "rate_limit_grade", e.rate_limit_grade.as_ref());
    optional(out, "effects", e.effects.as_ref());
    if e.echo {
        line(out, "echo", &true);
    }
    optional(out, "rows_downstream", e.rows_downstream.as_ref());
    if e.snapshot {
        line(out, "snapshot", &true);
    }
}

/// `key = [` and one inline table per line.
fn list<T: Serialize>(out: &mut String, key: &str, items: &[T]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for item in items {
        match inline(item) {
            Ok(text) => {
                let _ = writeln!(out, "    {text},");
            }
            Err(e) => comment(out, key, &e),
        }
    }
    out.push_str("]\n");
}

fn optional<T: Serialize>(out: &mut String, key: &str, value: Option<&T>) {
    if let Some(value) = value {
        line(out, key, value);
    }
}

/// `key = value`, the value on one line.
fn line<T: Serialize + ?Sized>(out: &mut String, key: &str, value: &T) {
    match inline(value) {
        Ok(text) => {
            let _ = writeln!(out, "{key} = {text}");
        }
        Err(e) => comment(out, key, &e),
    }
}

fn comment(out: &mut String, key: &str, error: &toml::ser::Error) {
    let error = error.to_string().replace('\n', " ");
    let _ = writeln!(out, "# cannot write {key}: {error}");
}

/// A value as TOML writes it inline, struct fields in declaration order.
fn inline<T: Serialize + ?Sized>(value: &T) -> Result<String, toml::ser::Error> {
    let mut text = String::new();
    value.serialize(toml::ser::ValueSerializer::new(&mut text))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use insta::assert_snapshot;
    use proptest::prelude::*;

    use super::*;
    use crate::scenario::{arb, parse};

    /// `write(parse(text))`.
    fn check(text: &str) -> String {
        write(&parse(text, Path::new("x.toml")).unwrap())
    }

    #[test]
    fn the_sample_is_written_in_reading_order() {
        assert_snapshot!(check(crate::scenario::parse::tests::SAMPLE), @r#"
        format = 1
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
        deliveries = [
            { trigger = "segment-threshold-crossed", count = 1 },
        ]
        sinks = [
            { sink = "email", count = 1, body_contains = "HighValueCustomers", json = { "/subject" = "Threshold crossed" } },
        ]
        api = { pages_complete = "HighValueCustomers", no_early_retries = true }
        rate_limit_grade = "ok"
        snapshot = true
        "#);
    }

    proptest! {
        /// Law: writing a scenario and reading it back gives the same scenario.
        #[test]
        fn written_scenarios_read_back_unchanged(s in arb::scenario()) {
            let text = write(&s);
            let back = parse(&text, Path::new("x.toml"));
            prop_assert!(back.is_ok(), "{}\n{}", back.unwrap_err(), text);
            prop_assert_eq!(back.unwrap(), s, "{}", text);
        }
    }
}
