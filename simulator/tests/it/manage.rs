//! The manage routes' model options and objects: customer measures among the measures, inactive
//! segments, and the segment list's `includeHistoricStats`, `historicStatsDays` and
//! `numberOfSegments`.

use serde_json::Value;
use simulator::SimDuration;
use simulator::tenant::spec::SegmentState;

use crate::support::*;

#[test]
fn customer_measures_are_listed_as_attribute_measures() {
    let sim = sim(30);
    let measures = json(&get(&sim, "manage/measures"));
    let names: Vec<&str> = measures
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "TotalRevenue",
            "ActiveCustomers",
            "AverageOrderValue",
            "RevenueByCountry",
            "TotalSpend",
            "PurchaseCount",
            "AveragePurchaseAmount",
            "LastPurchaseDate",
            "LoyaltyPoints",
        ]
    );
    let spend = json(&get(&sim, "manage/measures/totalspend"));
    assert_eq!(spend["definition"]["kind"], "attribute");
    assert_eq!(spend["definition"]["isProfile"], true);
    assert_eq!(spend["definition"]["isScalar"], false);
    assert_eq!(spend["output"], Value::Null);
    // Every customer measure is a column of Customer_Measure, and every column but the key is one.
    let entity = json(&get(&sim, "manage/entities/Customer_Measure"));
    let columns: Vec<&str> = entity["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .filter(|n| *n != "CustomerId")
        .collect();
    assert_eq!(columns, names[4..]);
}

#[test]
fn subscribing_to_a_customer_measure_is_a_400_naming_the_field() {
    let sim = sim(30);
    let r = request(
        &sim,
        "POST",
        &format!(
            "/v1/instances/{}/triggers/measure-threshold-crossed/subscriptions",
            sim.instance_id
        ),
        r#"{"NotificationUrl":"http://127.0.0.1:9/h","measureName":"TotalSpend","threshold":10}"#,
    );
    assert_eq!(r.status, 400);
    let body = json(&r);
    assert_eq!(body["errorCode"], "InvalidInput");
    assert_eq!(error_target(&body), "measureName");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("measure TotalSpend is a customer measure"),
        "{body}"
    );
}

#[test]
fn an_inactive_segment_says_so() {
    let sim = sim_with(30, |s| s.segments[1].state = SegmentState::Inactive);
    let segments = json(&get(&sim, "manage/segments"));
    let states: Vec<&str> = segments
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "inactive", "active", "active"]);
}

#[test]
fn the_segment_list_follows_the_models_options() {
    let sim = sim_with(30, |s| s.refresh.schedule_enabled = false);
    let plain = json(&get(&sim, "manage/segments"));
    assert_eq!(plain.as_array().unwrap().len(), 4);
    assert!(
        plain[0].get("evaluationStatusHistory").is_none(),
        "no history unless asked"
    );
    let evaluate = |count: u64| {
        request(
            &sim,
            "POST",
            "/_sim/segments/HighValueCustomers/evaluate",
            &format!("{{\"entityCount\":{count}}}"),
        )
    };
    sim.clock.advance(SimDuration::from_days(5));
    assert_eq!(evaluate(3).status, 200);
    sim.clock.advance(SimDuration::from_days(6));
    assert_eq!(evaluate(4).status, 200);
    let history = |query: &str| -> Vec<u64> {
        json(&get(&sim, &format!("manage/segments?{query}")))[0]["evaluationStatusHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["entityCount"].as_u64().unwrap())
            .collect()
    };
    // The initial evaluation (day 0), day 5 and day 11: the default is the last 10 days.
    assert_eq!(history("includeHistoricStats=true"), [3, 4]);
    assert_eq!(
        history("includeHistoricStats=true&historicStatsDays=30").len(),
        3
    );
    assert_eq!(
        history("includeHistoricStats=true&historicStatsDays=1"),
        [4]
    );
    let two = json(&get(&sim, "manage/segments?numberOfSegments=2"));
    assert_eq!(two.as_array().unwrap().len(), 2);
    let one = json(&get(
        &sim,
        "manage/segments/HighValueCustomers?includeHistoricStats=true",
    ));
    assert_eq!(one["evaluationStatusHistory"].as_array().unwrap().len(), 2);
    let bad = get(&sim, "manage/segments?numberOfSegments=-1");
    assert_eq!(bad.status, 400);
    assert_eq!(json(&bad)["params"]["target"], "numberOfSegments");
}
