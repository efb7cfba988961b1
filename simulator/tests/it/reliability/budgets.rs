//! Every memory has a byte budget, and a clock move does not materialise every tick:
//! reproduction 5.

use simulator::SimDuration;

use super::*;
use crate::support::{error_of, json, request as call, request_as};

/// Reproduction 5: 30,000 token-less requests with 15 KB URLs added 451 MB (the journal kept
/// 100,000 entries whatever their size).
#[test]
fn the_journal_stays_within_its_bytes_and_counts_what_it_dropped() {
    let sim = tenant(20, |s| s.limits.journal_bytes_max = 256 * 1024);
    let long = format!("/v1/instances?filter={}", "x".repeat(15 * 1024));
    for _ in 0..300 {
        assert_eq!(request_as(&sim, "GET", &long, "", None).status, 401);
    }
    assert!(sim.journal.bytes() <= 256 * 1024, "{}", sim.journal.bytes());
    assert!(sim.journal.dropped() > 250, "{}", sim.journal.dropped());
    let state = json(&call(&sim, "GET", "/_sim/state", ""));
    assert_eq!(state["journal"]["dropped"], sim.journal.dropped());
    assert_eq!(state["journal"]["bytesMax"], 256 * 1024);
}

/// Reproduction 5: a 1 MB field value was accepted on Create item.
#[test]
fn a_field_over_its_limit_is_refused_on_create_and_update() {
    let sim = tenant(20, |s| s.limits.server_body_bytes_max = 4 << 20);
    let data = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    let huge = "y".repeat(1 << 20);
    let body = format!(r#"{{"CustomerId":"c-1","FullName":"{huge}"}}"#);
    let r = call(&sim, "POST", &data, &body);
    assert_eq!(r.status, 413);
    let (code, message) = error_of(&r);
    assert_eq!(code, "ServerLimit");
    assert!(message.contains("limits.item_field_bytes_max"), "{message}");
    assert_eq!(json(&r)["error"]["target"], "FullName");
    let key = sim
        .store()
        .population()
        .customer_text(0, simulator::store::CustomerField::CustomerId);
    let patch = call(
        &sim,
        "PATCH",
        &format!("{data}/{}", key.unwrap_or_default()),
        &format!(r#"{{"City":"{huge}"}}"#),
    );
    assert_eq!(patch.status, 413);
}

/// Reproduction 5: 500 items of 1 MB each were accepted (+486 MB): the items created and
/// changed since start are held to `limits.items_bytes_max`, and a refused one changes nothing.
#[test]
fn items_past_their_budget_are_refused_with_507_and_change_nothing() {
    let sim = tenant(20, |s| s.limits.items_bytes_max = 2_000);
    let data = format!("/v1/instances/{}/data/Customer", sim.instance_id);
    let filler = "z".repeat(300);
    let mut created = 0;
    let refused = loop {
        let body = format!(r#"{{"CustomerId":"b-{created}","FullName":"{filler}"}}"#);
        let r = call(&sim, "POST", &data, &body);
        if r.status != 201 {
            break r;
        }
        created += 1;
        assert!(
            created < 10,
            "2,000 bytes of items hold fewer than 10 of these"
        );
    };
    assert_eq!(refused.status, 507);
    let (code, message) = error_of(&refused);
    assert_eq!(code, "ServerLimit");
    assert!(
        message.contains("limits.items_bytes_max = 2000"),
        "{message}"
    );
    assert!(message.contains("POST /_sim/reset"), "{message}");
    // The refused item is not there, and the budget is as it was.
    let find = |key: &str| {
        let r = call(
            &sim,
            "GET",
            &format!("{data}?$filter=CustomerId%20eq%20'{key}'"),
            "",
        );
        assert_eq!(r.status, 200);
        json(&r)["value"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(find("b-0"), 1);
    assert_eq!(find(&format!("b-{created}")), 0);
    let state = json(&call(&sim, "GET", "/_sim/state", ""));
    let used = state["items"]["bytes"].as_u64().unwrap();
    assert!(
        created >= 1 && used <= 2_000,
        "{created} items, {used} bytes"
    );
    // A reset frees the budget.
    assert_eq!(call(&sim, "POST", "/_sim/reset", "").status, 200);
    let body = format!(r#"{{"CustomerId":"b-{created}","FullName":"{filler}"}}"#);
    assert_eq!(call(&sim, "POST", &data, &body).status, 201);
}

/// Reproduction 5: refresh history grew for as long as the process ran (`manage/measures`
/// reached 50 MB).
#[test]
fn evaluation_histories_and_the_job_list_keep_within_their_bytes() {
    let sim = tenant(50, |s| {
        s.limits.history_bytes_max = 2048;
        s.limits.jobs_history_bytes_max = 16 * 1024;
    });
    for _ in 0..60 {
        assert_eq!(call(&sim, "POST", "/_sim/refresh", "{}").status, 202);
        assert_eq!(
            call(&sim, "POST", "/_sim/clock/advance", r#"{"by":"30m"}"#).status,
            200
        );
    }
    let measures = call(
        &sim,
        "GET",
        &format!("/v1/instances/{}/manage/measures", sim.instance_id),
        "",
    );
    // Each history holds at most about its budget of JSON, whatever the number of refreshes.
    let per_measure = measures.bytes().len() / json(&measures).as_array().unwrap().len();
    assert!(
        per_measure < 3 * 2048 + 4096,
        "{per_measure} bytes per measure"
    );
    let state = json(&call(&sim, "GET", "/_sim/state", ""));
    let dropped = &state["historiesDropped"];
    assert!(
        dropped["segmentEvaluations"].as_u64().unwrap() > 0,
        "{dropped}"
    );
    assert!(
        dropped["measureEvaluations"].as_u64().unwrap() > 0,
        "{dropped}"
    );
    assert!(dropped["jobs"].as_u64().unwrap() > 0, "{dropped}");
    let jobs = json(&call(
        &sim,
        "GET",
        &format!("/v1/instances/{}/workflows/main/jobs", sim.instance_id),
        "",
    ));
    assert!(
        jobs.as_array().unwrap().len() < 60,
        "{}",
        jobs.as_array().unwrap().len()
    );
}

/// Reproduction 5: `clock/advance {"by":"26w"}` stalled everyone 1.45 s and added 363 MB (it
/// ran all 52,416 scheduled refreshes), and durations of ≈ 30,000 years were accepted.
#[test]
fn a_long_clock_move_runs_only_the_last_scheduled_refreshes() {
    let sim = tenant(50, |s| {
        s.refresh.schedule_enabled = true;
        s.limits.clock_catch_up_refreshes_max = 10;
    });
    let r = call(&sim, "POST", "/_sim/clock/advance", r#"{"by":"26w"}"#);
    assert_eq!(r.status, 200);
    let state = json(&call(&sim, "GET", "/_sim/state", ""));
    let schedule = &state["schedule"];
    let ticks = schedule["ticks"].as_u64().unwrap();
    let skipped = schedule["skippedInCatchUp"].as_u64().unwrap();
    assert!(ticks <= 10, "{schedule}");
    // 26 weeks of 5-minute ticks after the first one: all but the last ten skipped in bulk.
    assert_eq!(ticks + skipped, 52_416, "{schedule}");
    assert!(
        schedule["nextAt"].as_str().unwrap() > state["clock"]["now"].as_str().unwrap(),
        "{schedule}"
    );

    let too_far = call(&sim, "POST", "/_sim/clock/advance", r#"{"by":"30000w"}"#);
    assert_eq!(too_far.status, 400);
    let (code, message) = error_of(&too_far);
    assert_eq!(code, "ServerLimit");
    assert!(message.contains("limits.clock_advance_max"), "{message}");
    let far = (sim.now() + SimDuration::from_days(1000)).to_rfc3339();
    let too_far = call(
        &sim,
        "POST",
        "/_sim/clock/advance",
        &format!(r#"{{"to":"{far}"}}"#),
    );
    assert_eq!(too_far.status, 400);
}
