//! The mutant list is consistent: unique names, every trigger and class covered, and every
//! catch names a case (or law) and a check that it has. Whether each catch really fires is
//! `tests/mutants.rs`'s business.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::*;
use crate::flows::{planted, reference_flows};
use crate::properties::laws;
use crate::scenario::{Scenario, load_suite};

fn suite() -> BTreeMap<String, Scenario> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let suite = load_suite(&root, std::slice::from_ref(&root))
        .unwrap_or_else(|e| panic!("the suite does not load: {e:?}"));
    suite
        .cases
        .into_iter()
        .map(|c| (c.id, c.scenario))
        .collect()
}

/// Whether `check` (`expect.sinks[1]`, `expect.api.pages_complete`, `effect.echo`, ...) is a
/// check `scenario` makes.
fn has_check(scenario: &Scenario, check: &str) -> bool {
    let expect = &scenario.expect;
    let indexed = |prefix: &str, len: usize| {
        check
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i < len)
    };
    let api = expect.api.as_ref();
    match check {
        "expect.api.pages_complete" => api.is_some_and(|a| a.pages_complete.is_some()),
        "expect.api.no_early_retries" => api.is_some_and(|a| a.no_early_retries),
        "expect.api.max_calls_in_window" => api.is_some_and(|a| a.max_calls_in_window.is_some()),
        "expect.api.calls" => api.is_some_and(|a| a.calls.is_some()),
        "expect.rate_limit_grade" => expect.rate_limit_grade.is_some(),
        "expect.effects" | "effect.destination" => expect.effects.is_some(),
        "effect.echo" => expect.echo,
        "export.rows-downstream-once" => expect.rows_downstream.is_some(),
        "manifest.declared-trigger" => !scenario.subscriptions.is_empty(),
        _ => {
            indexed("expect.sinks[", expect.sinks.len())
                || indexed("expect.deliveries[", expect.deliveries.len())
        }
    }
}

#[test]
fn there_are_at_least_thirty_with_unique_names_apart_from_the_reference_flows() {
    let mutants = all();
    assert!(mutants.len() >= 30, "{} mutants", mutants.len());
    let mut names: BTreeSet<&str> = reference_flows().iter().map(|f| f.name).collect();
    for m in &mutants {
        assert!(names.insert(m.flow.name), "{} is named twice", m.flow.name);
    }
}

#[test]
fn each_breaks_a_correct_reference_flow_and_keeps_its_trigger_unless_miswired() {
    let correct: BTreeMap<&str, Vec<&str>> = reference_flows()
        .iter()
        .filter(|f| f.broken.is_none())
        .map(|f| (f.name, (f.make)().triggers()))
        .collect();
    for m in all() {
        let Some(reference) = correct.get(m.of) else {
            panic!("{}: {} is not a correct reference flow", m.flow.name, m.of);
        };
        let triggers = (m.flow.make)().triggers();
        assert_eq!(
            &triggers != reference,
            m.class == MistakeClass::WrongTrigger,
            "{}: handles {triggers:?}, {} handles {reference:?}",
            m.flow.name,
            m.of
        );
    }
}

#[test]
fn every_trigger_and_every_class_has_several() {
    let mut per_trigger: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_class: BTreeMap<MistakeClass, usize> = BTreeMap::new();
    let correct = reference_flows();
    for m in all() {
        let of = correct.iter().find(|f| f.name == m.of);
        for trigger in of.map(|f| (f.make)().triggers()).unwrap_or_default() {
            *per_trigger.entry(trigger).or_default() += 1;
        }
        *per_class.entry(m.class).or_default() += 1;
    }
    for trigger in simulator::engine::Trigger::ALL {
        let n = per_trigger.get(trigger.id()).copied().unwrap_or(0);
        assert!(n >= 4, "{} mutants of {}", n, trigger.id());
    }
    for (class, n) in &per_class {
        assert!(*n >= 2, "{} mutants of class {}", n, class.id());
    }
    assert_eq!(per_class.len(), 9, "every class is covered: {per_class:?}");
}

#[test]
fn every_mistake_is_one_lowercase_sentence_and_every_catch_says_what_it_sees() {
    for m in all() {
        let mistake = m.flow.broken.unwrap_or_default();
        assert!(
            mistake.starts_with(|c: char| c.is_lowercase()) && !mistake.ends_with('.'),
            "{}: {mistake:?}",
            m.flow.name
        );
        assert!(!m.caught_by.is_empty(), "{}", m.flow.name);
        assert!(m.caught_by.iter().all(|c| !c.sees.is_empty()));
    }
}

#[test]
fn every_catch_names_a_case_or_law_and_a_check_it_makes() {
    let suite = suite();
    let law_ids: BTreeSet<&str> = laws().iter().map(|l| l.id).collect();
    for m in planted().into_iter().chain(all()) {
        let name = m.flow.name;
        for catch in m.caught_by {
            if law_ids.contains(catch.case) {
                assert_eq!(catch.check, "property", "{name}: a law fires as property");
                continue;
            }
            let Some(scenario) = suite.get(catch.case) else {
                panic!(
                    "{name}: no case {} in scenarios/ and no such law",
                    catch.case
                );
            };
            assert!(
                has_check(scenario, catch.check),
                "{name}: {} makes no check {}",
                catch.case,
                catch.check
            );
        }
    }
}

#[test]
fn every_broken_reference_flow_is_planted_with_its_catches() {
    let broken: Vec<&str> = reference_flows()
        .iter()
        .filter(|f| f.broken.is_some())
        .map(|f| f.name)
        .collect();
    let planted: Vec<&str> = planted().iter().map(|m| m.flow.name).collect();
    assert_eq!(planted, broken);
}
