//! The workflow routes: job submission for every `operationType` of the API model, the
//! workflow's status and history, and the error body of the family (`ApiErrorResult`).

use serde_json::Value;
use simulator::{SimDuration, Simulator};

use crate::support::*;

fn submit(sim: &Simulator, query: &str) -> simulator::api::ApiResponse {
    request(
        sim,
        "POST",
        &format!(
            "/v1/instances/{}/workflows/main/jobs?{query}",
            sim.instance_id
        ),
        "",
    )
}

/// Lets simulated time pass (the engine runs what falls due).
fn wait(sim: &Simulator, by: SimDuration) {
    sim.clock.advance(by);
    sim.tick();
}

fn quiet(customers: usize) -> Simulator {
    sim_with(customers, |s| {
        s.refresh.schedule_enabled = false;
        s.refresh.failures = Default::default();
        for ds in &mut s.data_sources {
            ds.failures = None;
        }
    })
}

#[test]
fn a_unification_only_job_runs_merge_and_answers_200() {
    let sim = quiet(50);
    let r = submit(&sim, "operationType=merge&forceRunRequested=true");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes()));
    let job = json(&r);
    assert_eq!(job["operationType"], "merge");
    assert_eq!(job["jobSubmissionKind"], "onDemand");
    let ops: Vec<&str> = job["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["operationType"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["merge"]);
    wait(&sim, SimDuration::from_mins(10));
    let id = job["jobId"].as_str().unwrap();
    let done = json(&get(&sim, &format!("workflows/main/jobs/{id}")));
    assert_eq!(done["jobStatus"], "successful");
}

#[test]
fn every_operation_type_of_the_model_is_accepted_and_others_are_refused() {
    let sim = quiet(50);
    for op in [
        "all",
        "Ingestion",
        "map",
        "match",
        "merge",
        "measures",
        "entityMeasures",
        "segmentation",
        "segmentMembership",
        "export",
        "enrichment",
        "none",
        "aiBuilder",
    ] {
        let r = submit(&sim, &format!("operationType={op}"));
        assert_eq!(
            r.status,
            200,
            "{op}: {}",
            String::from_utf8_lossy(&r.bytes())
        );
    }
    let r = submit(&sim, "operationType=unify");
    assert_eq!(r.status, 400);
    let body = json(&r);
    assert_eq!(body["errorCode"], "UnsupportedOperation");
    assert_eq!(body["httpStatusCode"], "BadRequest");
    assert_eq!(body["params"]["target"], "operationType");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("use one of the API model's values: all, ingestion, map, match, merge"),
        "{body}"
    );
    let r = submit(&sim, "operationType=merge&identifiers=PoS");
    assert_eq!(json(&r)["params"]["target"], "identifiers");
}

#[test]
fn the_status_lists_each_node_with_its_latest_task_in_graph_order() {
    let sim = quiet(50);
    assert_eq!(
        json(&get(&sim, "workflows/main/status")),
        Value::Array(vec![])
    );
    let first = json(&submit(&sim, "operationType=all"));
    wait(&sim, SimDuration::from_hours(1));
    let second = json(&submit(&sim, "operationType=merge"));
    wait(&sim, SimDuration::from_hours(1));
    let nodes = json(&get(&sim, "workflows/main/status"));
    let nodes = nodes.as_array().unwrap();
    let order: Vec<String> = nodes
        .iter()
        .map(|n| {
            format!(
                "{}:{}",
                n["operationType"].as_str().unwrap(),
                n["identifier"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(order.first().map(String::as_str), Some("ingestion:PoS"));
    assert_eq!(order.last().map(String::as_str), Some("export:Exports"));
    assert_eq!(order.len(), 4 + 3 + 4 + 4 + 1, "{order:?}");
    let merge = nodes
        .iter()
        .find(|n| n["operationType"] == "merge")
        .unwrap();
    assert_eq!(merge["jobIds"][0], second["jobId"]);
    assert_eq!(merge["lastSuccessJobIds"][0], second["jobId"]);
    assert_eq!(merge["taskStatus"], "successful");
    let map = nodes.iter().find(|n| n["operationType"] == "map").unwrap();
    assert_eq!(map["jobIds"][0], first["jobId"]);
}

#[test]
fn the_history_lists_the_newest_tasks_first_ten_by_default() {
    let sim = quiet(50);
    submit(&sim, "operationType=all");
    wait(&sim, SimDuration::from_hours(1));
    let all = json(&get(&sim, "workflows/main/history"));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 10);
    let ends: Vec<&str> = all
        .iter()
        .map(|t| t["endTimestamp"].as_str().unwrap())
        .collect();
    let mut sorted = ends.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ends, sorted, "newest first");
    assert_eq!(all[0]["operationType"], "export");
    let three = json(&get(&sim, "workflows/main/history?top=3"));
    assert_eq!(three.as_array().unwrap()[..], all[..3]);
    let bad = get(&sim, "workflows/main/history?top=many");
    assert_eq!(
        (bad.status, error_of(&bad).0.as_str()),
        (400, "InvalidRequest")
    );
}

#[test]
fn the_jobs_list_shows_ten_by_default() {
    let sim = quiet(50);
    for _ in 0..12 {
        submit(&sim, "operationType=none");
    }
    let jobs = json(&get(&sim, "workflows/main/jobs"));
    assert_eq!(jobs.as_array().unwrap().len(), 10);
    let jobs = json(&get(&sim, "workflows/main/jobs?top=20"));
    assert_eq!(jobs.as_array().unwrap().len(), 12);
}

fn schedules(sim: &Simulator, path: &str, body: &str) -> simulator::api::ApiResponse {
    request(
        sim,
        "POST",
        &format!("/v1/instances/{}/workflows/main/{path}", sim.instance_id),
        body,
    )
}

#[test]
fn a_created_schedule_submits_its_job_at_each_cron_time() {
    let sim = quiet(50);
    let r = schedules(
        &sim,
        "schedules",
        r#"{"operationType":"merge","cronSchedules":["0 2 * * *"],"timezoneId":"UTC"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes()));
    let created = json(&r);
    assert_eq!(created["operationType"], "merge");
    assert_eq!(created["isActive"], true);
    assert_eq!(created["jobType"], "full");
    assert_eq!(created["instanceId"], sim.instance_id.as_str());
    let listed = json(&get(&sim, "workflows/main/schedules"));
    assert_eq!(listed, Value::Array(vec![created.clone()]));
    // The clock starts at midnight UTC: two days later, two scheduled merge jobs have run.
    wait(&sim, SimDuration::from_days(2));
    let jobs = json(&get(&sim, "workflows/main/jobs"));
    let merges: Vec<&Value> = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["operationType"] == "merge")
        .collect();
    assert_eq!(merges.len(), 2, "{jobs}");
    for j in &merges {
        assert_eq!(j["jobSubmissionKind"], "scheduled");
        assert!(
            j["submittedTimestamp"]
                .as_str()
                .unwrap()
                .ends_with("T02:00:00Z")
        );
    }
}

#[test]
fn schedules_are_checked_field_by_field_and_a_batch_is_all_or_nothing() {
    let sim = quiet(50);
    for (body, target) in [
        (r#"{"cronSchedules":["0 25 * * *"]}"#, "cronSchedules"),
        (r#"{"cronSchedules":[]}"#, "cronSchedules"),
        (
            r#"{"cronSchedules":["0 2 * * *"],"timezoneId":"Pacific Standard Time"}"#,
            "timezoneId",
        ),
        (
            r#"{"cronSchedules":["0 2 * * *"],"jobType":"incremental"}"#,
            "jobType",
        ),
        (
            r#"{"cronSchedules":["0 2 * * *"],"operationType":"unify"}"#,
            "operationType",
        ),
        (
            r#"{"cronSchedules":["0 2 * * *"],"operationType":"segmentation","identifiers":["Nope"]}"#,
            "identifiers",
        ),
    ] {
        let r = schedules(&sim, "schedules", body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(json(&r)["params"]["target"], target, "{body}");
    }
    let r = schedules(
        &sim,
        "schedules/batch",
        r#"[{"cronSchedules":["0 2 * * *"]},{"cronSchedules":["0 2 * *"]}]"#,
    );
    assert_eq!(r.status, 400);
    assert!(
        error_of(&r).1.contains("has 4 fields"),
        "{}",
        error_of(&r).1
    );
    assert_eq!(
        json(&get(&sim, "workflows/main/schedules")),
        Value::Array(vec![])
    );
    let r = schedules(
        &sim,
        "schedules/batch",
        r#"[{"cronSchedules":["0 2 * * *"]},{"cronSchedules":["30 6 * * 1-5"],"isActive":false}]"#,
    );
    assert_eq!(json(&r).as_array().unwrap().len(), 2);
    let zones = json(&get(&sim, "workflows/main/schedules/supportedTimezones"));
    assert_eq!(
        zones,
        serde_json::json!([{"id": "UTC", "name": "(UTC) Coordinated Universal Time"}])
    );
}
