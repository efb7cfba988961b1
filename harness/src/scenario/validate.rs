//! What a scenario must satisfy beyond its shape: the format version, a well-formed id, a
//! requirement sentence, one action per step in time order, known triggers and names, and
//! consistent expectations. The first failure is reported, with the key it concerns.

use simulator::SimDuration;
use simulator::engine::{EngineError, OperationType, Trigger};
use simulator::faults::{RouteFaultConfig, RouteFaults};

use super::error::{Check, ErrorKind, Failure};
use super::key::KeyPath;
use super::model::{Count, Expect, RefreshStep, Scenario, Step};
use super::names::Catalog;

/// Checks everything a scenario file alone can be checked for. The id is checked for its
/// characters only: whether it matches the file's path is the loader's business.
pub(crate) fn check(s: &Scenario) -> Check {
    let root = KeyPath::root();
    if s.format != 1 {
        return Err((root.key("format"), ErrorKind::Format(i64::from(s.format))));
    }
    if !is_valid_id(&s.id) {
        return Err((root.key("id"), ErrorKind::IdSyntax(s.id.clone())));
    }
    if s.level().is_none() {
        return Err((root.key("requirement"), ErrorKind::Requirement));
    }
    let catalog = Catalog::of(&s.tenant)?;
    for (i, sub) in s.subscriptions.iter().enumerate() {
        let at = root.key("subscriptions").index(i);
        let trigger = trigger(&sub.trigger, &at.key("trigger"))?;
        catalog.inputs(trigger, &sub.inputs, &at.key("inputs"))?;
    }
    let mut previous = SimDuration::ZERO;
    for (i, step) in s.steps.iter().enumerate() {
        let at = root.key("steps").index(i);
        if step.at < previous {
            return Err((
                at.key("at"),
                ErrorKind::TimeGoesBack {
                    at: step.at,
                    previous,
                },
            ));
        }
        previous = step.at;
        check_step(step, &catalog, &at)?;
    }
    check_expect(&s.expect, &catalog, &root.key("expect"))
}

/// Ids are paths of lower-case names: `segment/fires-once-per-upward-crossing`.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

fn trigger(id: &str, at: &KeyPath) -> Result<Trigger, Failure> {
    Trigger::parse(id).ok_or_else(|| (at.clone(), ErrorKind::UnknownTrigger(id.to_owned())))
}

/// The actions a step has, by key.
pub(crate) fn actions(step: &Step) -> Vec<&'static str> {
    let present = [
        ("refresh", step.refresh.is_some()),
        ("refresh_datasource", step.refresh_datasource.is_some()),
        ("evaluate_segment", step.evaluate_segment.is_some()),
        ("evaluate_measure", step.evaluate_measure.is_some()),
        ("faults", step.faults.is_some()),
        ("create_item", step.create_item.is_some()),
        ("update_item", step.update_item.is_some()),
        ("redeliver", step.redeliver.is_some()),
        ("submit_job", step.submit_job.is_some()),
    ];
    present
        .iter()
        .filter(|(_, p)| *p)
        .map(|(k, _)| *k)
        .collect()
}

fn check_step(step: &Step, catalog: &Catalog, at: &KeyPath) -> Check {
    let actions = actions(step);
    if let [_, second, ..] = actions.as_slice() {
        let found = super::error::list(&actions).replace('"', "");
        return Err((at.key(second), ErrorKind::SeveralActions(found)));
    }
    if let Some(r) = &step.refresh {
        check_refresh(r, catalog, &at.key("refresh"))?;
    }
    if let Some(d) = &step.refresh_datasource {
        catalog.data_source(&d.name, &at.key("refresh_datasource").key("name"))?;
    }
    if let Some(seg) = &step.evaluate_segment {
        catalog.segment(&seg.name, &at.key("evaluate_segment").key("name"))?;
    }
    if let Some(m) = &step.evaluate_measure {
        let at = at.key("evaluate_measure");
        catalog.scalar_measure(&m.name, &at.key("name"))?;
        finite(m.value, &at.key("value"))?;
    }
    if let Some(f) = &step.faults {
        let at = at.key("faults");
        let routes = RouteFaultConfig {
            routes: f.routes.clone(),
        };
        // The simulator's own check, on a throwaway instance (the seed does not matter).
        // Their messages name the rule (`routes[0].status = 700 ...`), so the key stops at
        // `faults`.
        RouteFaults::new(0)
            .set(routes)
            .map_err(|e| (at.clone(), ErrorKind::Faults(e.to_string())))?;
        f.deliveries.validate().map_err(|e| {
            let message = match e {
                EngineError::Invalid { field, message } => format!("deliveries.{field}: {message}"),
                other => other.to_string(),
            };
            (at.clone(), ErrorKind::Faults(message))
        })?;
    }
    if let Some(c) = &step.create_item {
        catalog.writable_entity(&c.entity, &at.key("create_item").key("entity"))?;
    }
    if let Some(u) = &step.update_item {
        catalog.writable_entity(&u.entity, &at.key("update_item").key("entity"))?;
    }
    if let Some(r) = &step.redeliver {
        trigger(&r.trigger, &at.key("redeliver").key("trigger"))?;
        if r.event == Some(0) {
            return Err((at.key("redeliver").key("event"), ErrorKind::EventIndex));
        }
    }
    if let Some(j) = &step.submit_job {
        OperationType::parse(&j.operation_type).map_err(|e| {
            (
                at.key("submit_job").key("operation_type"),
                ErrorKind::Job(e.to_string()),
            )
        })?;
    }
    Ok(())
}

fn check_refresh(r: &RefreshStep, catalog: &Catalog, at: &KeyPath) -> Check {
    for name in r.data_sources.keys() {
        catalog.data_source(name, &at.key("data_sources").key(name))?;
    }
    for name in r.stages.keys() {
        if !matches!(name.as_str(), "map" | "match" | "merge" | "export") {
            return Err((
                at.key("stages").key(name),
                ErrorKind::UnknownStage(name.clone()),
            ));
        }
    }
    for name in r.evaluations.keys() {
        catalog.segment_or_measure(name, &at.key("evaluations").key(name))?;
    }
    for name in r.segments.keys() {
        catalog.segment(name, &at.key("segments").key(name))?;
    }
    for (name, value) in &r.measures {
        let at = at.key("measures").key(name);
        catalog.scalar_measure(name, &at)?;
        finite(*value, &at)?;
    }
    Ok(())
}

fn finite(value: f64, at: &KeyPath) -> Check {
    if value.is_finite() {
        Ok(())
    } else {
        Err((at.clone(), ErrorKind::NotFinite(value)))
    }
}

fn check_expect(e: &Expect, catalog: &Catalog, at: &KeyPath) -> Check {
    for (i, d) in e.deliveries.iter().enumerate() {
        let at = at.key("deliveries").index(i);
        trigger(&d.trigger, &at.key("trigger"))?;
        check_count(&d.bounds(), &at)?;
    }
    for (i, s) in e.sinks.iter().enumerate() {
        let at = at.key("sinks").index(i);
        check_count(&s.bounds(), &at)?;
        for pointer in s.json.keys() {
            if !pointer.starts_with('/') {
                return Err((
                    at.key("json").key(pointer),
                    ErrorKind::JsonPointer(pointer.clone()),
                ));
            }
        }
    }
    if let Some(api) = &e.api {
        let at = at.key("api");
        if let Some(entity) = &api.pages_complete {
            catalog.entity(entity, &at.key("pages_complete"))?;
        }
        if let Some(calls) = &api.calls {
            check_count(calls, &at.key("calls"))?;
        }
    }
    if let Some(effects) = &e.effects {
        check_count(effects, &at.key("effects"))?;
    }
    if let Some(entity) = &e.rows_downstream {
        catalog.entity(entity, &at.key("rows_downstream"))?;
    }
    Ok(())
}

/// `count` alone, or `min` and/or `max` in order.
fn check_count(c: &Count, at: &KeyPath) -> Check {
    if c.count.is_some() && (c.min.is_some() || c.max.is_some()) {
        return Err((at.key("count"), ErrorKind::CountWithBounds));
    }
    if let (Some(min), Some(max)) = (c.min, c.max)
        && min > max
    {
        return Err((at.key("min"), ErrorKind::MinAboveMax { min, max }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use insta::assert_snapshot;

    use crate::scenario::parse;

    const BASE: &str = r#"format = 1
id = "segment/x"
requirement = "A flow MUST act."

[[subscriptions]]
trigger = "segment-threshold-crossed"
inputs = { segmentName = "HighValueCustomers", threshold = 1000 }

[[steps]]
at = "1h"
evaluate_segment = { name = "HighValueCustomers", entity_count = 900 }

[expect]
deliveries = [{ trigger = "segment-threshold-crossed", count = 1 }]
"#;

    /// The `Display` of the error that `BASE` gives with the first `replace` replaced by
    /// `with`, or `ok`.
    fn check(replace: &str, with: &str) -> String {
        assert!(BASE.contains(replace), "{replace}");
        let text = BASE.replacen(replace, with, 1);
        match parse(&text, Path::new("scenarios/segment/x.toml")) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_base_scenario_is_valid() {
        assert_eq!(check("", ""), "ok");
    }

    #[test]
    fn an_id_must_be_a_lower_case_path() {
        assert_snapshot!(check("segment/x", "Segment/X"), @r#"scenarios/segment/x.toml:2: id: id "Segment/X" is not valid; use lower-case letters, digits, '-', '_' and '/', e.g. "segment/fires-once""#);
        assert_snapshot!(check("segment/x", "segment//x"), @r#"scenarios/segment/x.toml:2: id: id "segment//x" is not valid; use lower-case letters, digits, '-', '_' and '/', e.g. "segment/fires-once""#);
    }

    #[test]
    fn the_requirement_must_say_must_or_should() {
        assert_snapshot!(check("MUST", "must"), @r#"scenarios/segment/x.toml:3: requirement: the requirement must say MUST or SHOULD, in capitals, e.g. "A flow MUST post once per failed refresh""#);
    }

    #[test]
    fn a_step_has_one_action_at_most() {
        let two = "evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }\nredeliver = { trigger = \"segment-threshold-crossed\" }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", two), @"scenarios/segment/x.toml:12: steps[0].redeliver: a step takes at most one action, found evaluate_segment and redeliver; split it into steps with the same `at`");
    }

    #[test]
    fn steps_must_not_go_back_in_time() {
        let later = "[[steps]]\nat = \"30m\"\n\n[expect]";
        assert_snapshot!(check("[expect]", later), @r#"scenarios/segment/x.toml:14: steps[1].at: at = "30m" is before the previous step's at = "1h"; steps must be in time order"#);
    }

    #[test]
    fn triggers_must_be_one_of_the_six() {
        assert_snapshot!(check("trigger = \"segment-threshold-crossed\"\n", "trigger = \"segment-crossed\"\n"), @r#"scenarios/segment/x.toml:6: subscriptions[0].trigger: unknown trigger "segment-crossed"; use one of datasource-refresh-failed, datasource-refresh-succeeded, segment-threshold-crossed, measure-threshold-crossed, full-refresh-completed, unification-completed"#);
        assert_snapshot!(check("[{ trigger = \"segment-threshold-crossed\"", "[{ trigger = \"refresh-failed\""), @r#"scenarios/segment/x.toml:14: expect.deliveries[0].trigger: unknown trigger "refresh-failed"; use one of datasource-refresh-failed, datasource-refresh-succeeded, segment-threshold-crossed, measure-threshold-crossed, full-refresh-completed, unification-completed"#);
        let redeliver =
            "[[steps]]\nat = \"2h\"\nredeliver = { trigger = \"datasource-failed\" }\n\n[expect]";
        assert_snapshot!(check("[expect]", redeliver), @r#"scenarios/segment/x.toml:15: steps[1].redeliver.trigger: unknown trigger "datasource-failed"; use one of datasource-refresh-failed, datasource-refresh-succeeded, segment-threshold-crossed, measure-threshold-crossed, full-refresh-completed, unification-completed"#);
    }

    #[test]
    fn subscription_inputs_are_checked_as_the_simulator_checks_them() {
        assert_snapshot!(check("segmentName = \"HighValueCustomers\"", "segmentName = \"HighValue\""), @r#"scenarios/segment/x.toml:7: subscriptions[0].inputs.segmentName: unknown segment "HighValue"; use one of "HighValueCustomers", "ChurnRisk", "NewsletterSubscribers" and "NewCustomers""#);
        assert_snapshot!(check(", threshold = 1000", ""), @"scenarios/segment/x.toml:7: subscriptions[0].inputs: threshold is missing; add threshold = 1000 (a number)");
        assert_snapshot!(check("threshold = 1000", "threshold = \"1000\""), @r#"scenarios/segment/x.toml:7: subscriptions[0].inputs.threshold: threshold must be a number written without quotes, not "1000""#);
        assert_snapshot!(check("threshold = 1000", "threshold = -1"), @"scenarios/segment/x.toml:7: subscriptions[0].inputs.threshold: -1 is negative; a member-count threshold is at least 0");
        assert_snapshot!(check("threshold = 1000", "threshold = 1000, dataSourceName = \"PoS\""), @r#"scenarios/segment/x.toml:7: subscriptions[0].inputs.dataSourceName: unknown input "dataSourceName"; the inputs of trigger segment-threshold-crossed are "segmentName" and "threshold""#);
        let measure = "trigger = \"measure-threshold-crossed\"\ninputs = { measureName = \"RevenueByCountry\", threshold = 1 }";
        assert_snapshot!(check("trigger = \"segment-threshold-crossed\"\ninputs = { segmentName = \"HighValueCustomers\", threshold = 1000 }", measure), @r#"scenarios/segment/x.toml:7: subscriptions[0].inputs.measureName: measure "RevenueByCountry" has a dimension, so it has no single value; use a measure without one: "TotalRevenue", "ActiveCustomers" and "AverageOrderValue""#);
        let full = "trigger = \"full-refresh-completed\"\ninputs = { segmentName = \"HighValueCustomers\", threshold = 1000 }";
        assert_snapshot!(check("trigger = \"segment-threshold-crossed\"\ninputs = { segmentName = \"HighValueCustomers\", threshold = 1000 }", full), @r#"scenarios/segment/x.toml:7: subscriptions[0].inputs.segmentName: unknown input "segmentName"; trigger full-refresh-completed takes no inputs; remove it"#);
    }

    #[test]
    fn names_in_steps_must_exist_in_the_tenant() {
        assert_snapshot!(check("name = \"HighValueCustomers\"", "name = \"VIPs\""), @r#"scenarios/segment/x.toml:11: steps[0].evaluate_segment.name: unknown segment "VIPs"; use one of "HighValueCustomers", "ChurnRisk", "NewsletterSubscribers" and "NewCustomers""#);
        let refresh = "refresh = { data_sources = { PoS = \"fail\", SAP = \"fail\" } }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", refresh), @r#"scenarios/segment/x.toml:11: steps[0].refresh.data_sources.SAP: unknown data source "SAP"; use one of "PoS", "eCommerce", "Loyalty" and "Newsletter""#);
        let stage = "refresh = { stages = { unify = \"fail\" } }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", stage), @r#"scenarios/segment/x.toml:11: steps[0].refresh.stages.unify: unknown stage "unify"; the stages that can be forced are map, match, merge and export"#);
        let measure = "evaluate_measure = { name = \"RevenueByCountry\", value = 3.5 }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", measure), @r#"scenarios/segment/x.toml:11: steps[0].evaluate_measure.name: measure "RevenueByCountry" has a dimension, so it has no single value; use a measure without one: "TotalRevenue", "ActiveCustomers" and "AverageOrderValue""#);
        let nan = "evaluate_measure = { name = \"TotalRevenue\", value = nan }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", nan), @"scenarios/segment/x.toml:11: steps[0].evaluate_measure.value: NaN is not a finite number; give a number such as 1000");
        let create =
            "create_item = { entity = \"Customer_Measure\", item = { CustomerId = \"1\" } }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", create), @r#"scenarios/segment/x.toml:11: steps[0].create_item.entity: Customer_Measure is computed by Customer Insights and cannot be written; use one of "Customer", "UnifiedActivity", "PoS_Contacts", "PoS_Purchases", "eCommerce_Contacts", "eCommerce_WebOrders", "Loyalty_Members", "Loyalty_PointsTransactions", "Newsletter_Subscribers" and "Newsletter_EmailEvents""#);
        let update =
            "update_item = { entity = \"Customers\", key = \"1\", changes = { City = \"Oslo\" } }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", update), @r#"scenarios/segment/x.toml:11: steps[0].update_item.entity: unknown entity "Customers"; use one of "Customer", "UnifiedActivity", "Customer_Measure", "HighValueCustomers", "ChurnRisk", "NewsletterSubscribers", "NewCustomers", "TotalRevenue", "ActiveCustomers", "AverageOrderValue", "RevenueByCountry", "PoS_Contacts", "PoS_Purchases", "eCommerce_Contacts", "eCommerce_WebOrders", "Loyalty_Members", "Loyalty_PointsTransactions", "Newsletter_Subscribers" and "Newsletter_EmailEvents""#);
    }

    #[test]
    fn a_tenant_override_brings_its_own_names() {
        let tenant = "[tenant]\nsegments = [{ name = \"VIPs\", friendly_name = \"VIPs\", rank_by = \"total_spend\", initial_share = 0.01 }]\n\n[[subscriptions]]";
        let text = check("[[subscriptions]]", tenant);
        assert_snapshot!(text, @r#"scenarios/segment/x.toml:10: subscriptions[0].inputs.segmentName: unknown segment "HighValueCustomers"; use one of "VIPs""#);
        let vips = tenant.replace("VIPs", "HighValueCustomers");
        assert_eq!(check("[[subscriptions]]", &vips), "ok");
    }

    #[test]
    fn the_tenant_must_be_a_valid_overlay() {
        assert_snapshot!(check("[[subscriptions]]", "[tenant]\ncustomers = 0\n\n[[subscriptions]]"), @"scenarios/segment/x.toml:5: tenant: customers = 0 is out of range; use 1 to 10000000");
        assert_snapshot!(check("[[subscriptions]]", "[tenant]\ncustomer = 10\n\n[[subscriptions]]"), @r#"scenarios/segment/x.toml:6: tenant.customer: unknown field "customer", expected one of "name", "seed", "customers", "data_epoch", "indexed_fields", "activity_filter", "limits", "auth", "refresh", "delivery", "data_sources", "segments", "measures""#);
        let rank = "[tenant]\n[[tenant.segments]]\nname = \"A\"\nfriendly_name = \"A\"\nrank_by = \"size\"\ninitial_share = 0.1\n\n[[subscriptions]]";
        assert_snapshot!(check("[[subscriptions]]", rank), @r#"scenarios/segment/x.toml:9: tenant.segments[0].rank_by: unknown variant "size", expected one of "total_spend", "purchase_count", "recency", "newest", "random""#);
    }

    #[test]
    fn faults_are_checked_as_the_simulator_checks_them() {
        let status = "faults = { routes = [{ route = \"data/Customer\", status = 700 }] }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", status), @"scenarios/segment/x.toml:11: steps[0].faults: routes[0].status = 700 is not an HTTP status (100 to 599)");
        let rule =
            "faults = { deliveries = { rules = [{ trigger = \"segment\", duplicate = 1.0 }] } }";
        assert_snapshot!(check("evaluate_segment = { name = \"HighValueCustomers\", entity_count = 900 }", rule), @r#"scenarios/segment/x.toml:11: steps[0].faults: deliveries.rules[0].trigger: unknown trigger "segment"; use "*" or one of datasource-refresh-failed, datasource-refresh-succeeded, segment-threshold-crossed, measure-threshold-crossed, full-refresh-completed, unification-completed"#);
    }

    #[test]
    fn counts_are_exact_or_ordered_bounds() {
        assert_snapshot!(check("count = 1 }", "count = 1, max = 2 }"), @"scenarios/segment/x.toml:14: expect.deliveries[0].count: count excludes min and max; give either count or min and/or max");
        assert_snapshot!(check("count = 1 }", "min = 3, max = 2 }"), @"scenarios/segment/x.toml:14: expect.deliveries[0].min: min = 3 is greater than max = 2; swap them");
        let calls = "[expect]\napi = { calls = { min = 5, max = 1 } }";
        assert_snapshot!(check("[expect]", calls), @"scenarios/segment/x.toml:14: expect.api.calls.min: min = 5 is greater than max = 1; swap them");
    }

    #[test]
    fn sink_json_keys_are_json_pointers() {
        let sinks = "[expect]\nsinks = [{ sink = \"teams\", json = { subject = \"x\" } }]";
        assert_snapshot!(check("[expect]", sinks), @r#"scenarios/segment/x.toml:14: expect.sinks[0].json.subject: "subject" is not a JSON pointer; start it with '/', e.g. "/subject" or "/items/0/id""#);
    }

    #[test]
    fn pages_complete_names_an_entity_of_the_tenant() {
        let api = "[expect]\napi = { pages_complete = \"Customers\" }";
        assert_snapshot!(check("[expect]", api), @r#"scenarios/segment/x.toml:14: expect.api.pages_complete: unknown entity "Customers"; use one of "Customer", "UnifiedActivity", "Customer_Measure", "HighValueCustomers", "ChurnRisk", "NewsletterSubscribers", "NewCustomers", "TotalRevenue", "ActiveCustomers", "AverageOrderValue", "RevenueByCountry", "PoS_Contacts", "PoS_Purchases", "eCommerce_Contacts", "eCommerce_WebOrders", "Loyalty_Members", "Loyalty_PointsTransactions", "Newsletter_Subscribers" and "Newsletter_EmailEvents""#);
        for entity in [
            "Customer",
            "UnifiedActivity",
            "Customer_Measure",
            "ChurnRisk",
            "TotalRevenue",
            "PoS_Purchases",
            "Loyalty_Members",
        ] {
            let api = format!("[expect]\napi = {{ pages_complete = \"{entity}\" }}");
            assert_eq!(check("[expect]", &api), "ok", "{entity}");
        }
    }
}
