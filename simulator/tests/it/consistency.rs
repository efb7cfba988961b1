//! Determinism and cross-API consistency.

use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};

use crate::support::*;

#[test]
fn the_same_seed_serves_identical_bytes() {
    let (a, b) = (sim(500), sim(500));
    for q in [
        "data/Customer?$top=100&$skip=200",
        "data/UnifiedActivity?$top=100&$skip=1000",
        "data/Customer_Measure?$top=50",
        "data/HighValueCustomers?$top=100",
        "data/PoS_Purchases?$top=20",
        "data/RevenueByCountry",
        "manage/entities",
    ] {
        assert_eq!(get(&a, q).body, get(&b, q).body, "{q}");
    }
    assert_eq!(a.instance_id, b.instance_id);
}

#[test]
fn a_different_seed_serves_different_data() {
    let a = sim(100);
    let b = sim_with(100, |s| s.seed = 7);
    assert_ne!(
        get(&a, "data/Customer?$top=5").body,
        get(&b, "data/Customer?$top=5").body
    );
}

#[test]
fn segment_counts_agree_across_the_api() {
    let sim = sim(1500);
    let names: Vec<String> = sim.spec.segments.iter().map(|s| s.name.clone()).collect();
    for (i, name) in names.iter().enumerate() {
        let count = sim.store().live().segments[i].count;
        let entity = json(&get(&sim, &format!("data/{name}?$count=true&$top=0")));
        let filter = enc(&format!("IsMemberOfSegment('{name}')"));
        let member = json(&get(
            &sim,
            &format!("data/Customer?$filter={filter}&$count=true&$top=0"),
        ));
        assert_eq!(entity["@odata.count"], count, "{name}");
        assert_eq!(member["@odata.count"], count, "{name}");
    }
    sim.try_with_engine(|engine, now| engine.evaluate_segment(now, &names[0], 321))
        .unwrap();
    let entity = json(&get(&sim, &format!("data/{}?$count=true&$top=0", names[0])));
    let filter = enc(&format!("IsMemberOfSegment('{}')", names[0]));
    let member = json(&get(
        &sim,
        &format!("data/Customer?$filter={filter}&$count=true&$top=0"),
    ));
    assert_eq!(entity["@odata.count"], 321);
    assert_eq!(member["@odata.count"], 321);
}

#[test]
fn high_value_customers_are_the_top_spenders() {
    let sim = sim(400);
    let members = json(&get(&sim, "data/HighValueCustomers?$top=100&$count=true"));
    let n = members["@odata.count"].as_u64().unwrap();
    let measures = json(&get(
        &sim,
        "data/Customer_Measure?$orderby=TotalSpend%20desc&$top=100&$select=CustomerId",
    ));
    let top: std::collections::BTreeSet<&str> = measures["value"].as_array().unwrap()[..n as usize]
        .iter()
        .map(|r| r["CustomerId"].as_str().unwrap())
        .collect();
    let got: std::collections::BTreeSet<&str> = members["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["CustomerId"].as_str().unwrap())
        .collect();
    assert_eq!(got, top);
}

#[test]
fn activities_point_at_existing_customers() {
    let sim = sim(80);
    let acts = json(&get(&sim, "data/UnifiedActivity?$top=100&$skip=50"));
    for a in acts["value"].as_array().unwrap() {
        let id = a["CustomerId"].as_str().unwrap();
        let c = json(&get(
            &sim,
            &format!(
                "data/Customer?$filter={}",
                enc(&format!("CustomerId eq '{id}'"))
            ),
        ));
        assert_eq!(c["value"].as_array().unwrap().len(), 1, "{id}");
    }
}

#[test]
fn an_evaluated_measure_is_what_its_table_and_the_manage_api_answer() {
    let sim = sim(100);
    let r = request(
        &sim,
        "POST",
        "/_sim/measures/TotalRevenue/evaluate",
        r#"{"value":1234567.5}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes()));
    let table = json(&get(&sim, "data/TotalRevenue"));
    assert_eq!(table["value"][0]["TotalRevenue"], 1234567.5);
    let measure = json(&get(&sim, "manage/measures/TotalRevenue"));
    assert!(
        measure["output"]["values"]
            .to_string()
            .contains("1234567.5"),
        "{measure}"
    );
    let by_country = request(
        &sim,
        "POST",
        "/_sim/measures/RevenueByCountry/evaluate",
        r#"{"values":{"Germany":42.0}}"#,
    );
    assert_eq!(
        by_country.status,
        200,
        "{}",
        String::from_utf8_lossy(&by_country.bytes())
    );
    let rows = json(&get(&sim, "data/RevenueByCountry"));
    let germany = rows["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Country"] == "Germany")
        .unwrap();
    assert_eq!(germany["RevenueByCountry"], 42.0);
}

/// The harness fixes an id epoch and an instance salt per case (so that a flow that remembers
/// event ids never sees one twice): they rename the instance, jobs and tasks and nothing else, and in particular
/// never changes a task's duration or outcome, which are keyed by the unsalted names.
#[test]
fn an_id_salt_renames_without_changing_a_duration() {
    use simulator::engine::RefreshRequest;
    let build = |salt: Option<&str>| {
        let mut spec = TenantSpec::demo();
        spec.customers = 200;
        let mut config = SimConfig::new(spec, Clock::frozen_at(SimTime::DEFAULT_EPOCH));
        config.id_epoch = salt.map_or(simulator::IdEpoch::Seed, |s| {
            simulator::IdEpoch::Fixed(s.to_owned())
        });
        config.instance_salt = salt.map(str::to_owned);
        let sim = Simulator::new(config);
        sim.with_engine(|e, now| {
            (
                e.refresh(now, RefreshRequest::default()).map(|_| ()),
                Vec::new(),
            )
        })
        .unwrap();
        sim.clock.advance(simulator::SimDuration::from_hours(2));
        sim.tick();
        sim
    };
    let (plain, salted, other) = (build(None), build(Some("a")), build(Some("b")));
    let shape = |sim: &Simulator| {
        let jobs = sim.with_engine(|e, _| (e.jobs(), Vec::new()));
        jobs.iter()
            .map(|j| {
                let j = serde_json::to_value(j).unwrap();
                let tasks: Vec<_> = j["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| (t["taskStatus"].clone(), t["endTimestamp"].clone()))
                    .collect();
                (j["jobStatus"].clone(), j["endTimestamp"].clone(), tasks)
            })
            .collect::<Vec<_>>()
    };
    assert!(!shape(&plain).is_empty());
    assert_eq!(shape(&plain), shape(&salted));
    assert_eq!(shape(&plain), shape(&other));
    assert_ne!(plain.instance_id, salted.instance_id);
    assert_ne!(salted.instance_id, other.instance_id);
    let job_id = |sim: &Simulator| sim.with_engine(|e, _| (e.jobs()[0].job_id.clone(), Vec::new()));
    assert_ne!(job_id(&plain), job_id(&salted));
}
