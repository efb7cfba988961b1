//! What `serve --state-dir` costs per acknowledged write: the same API call with and without a
//! state dir, on a young tenant and on one with a long history (the engine is saved whole, so
//! its size is what a save encodes). The sizes of the saved parts are printed first. Run with
//! `cargo bench -p simulator --bench persist`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use simulator::api::{self, ApiRequest};
use simulator::tenant::TenantSpec;
use simulator::{Clock, SimConfig, SimTime, Simulator};

fn call(sim: &Simulator, method: &str, path: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    api::handle(
        sim,
        &ApiRequest {
            method,
            path,
            query,
            authorization: Some("Bearer bench"),
            subscription_key: None,
            admin_token: None,
            body: body.as_bytes(),
            base_url: "http://bench",
            peer_loopback: true,
        },
    )
    .status
}

/// A tenant with `events` events in its history (10 subscriptions, one crossing each per
/// evaluation), on a state dir or in memory.
fn tenant(dir: Option<&std::path::Path>, events: usize) -> Simulator {
    let mut spec = TenantSpec::demo();
    spec.customers = 1_000;
    spec.refresh.schedule_enabled = false;
    spec.limits.rate_limit = "off".into();
    let config = SimConfig::new(spec, Clock::frozen_at(SimTime::DEFAULT_EPOCH));
    let sim = match dir {
        Some(dir) => Simulator::open(config, dir).expect("a state dir"),
        None => Simulator::new(config),
    };
    let subs = format!(
        "/v1/instances/{}/triggers/segment-threshold-crossed/subscriptions",
        sim.instance_id
    );
    for _ in 0..10 {
        let body = json!({"NotificationUrl": "http://127.0.0.1:9/hook", "segmentName": "HighValueCustomers", "threshold": 50});
        assert_eq!(call(&sim, "POST", &subs, &body), 201);
    }
    let evaluate = "/_sim/segments/HighValueCustomers/evaluate";
    for _ in 0..events / 10 {
        assert_eq!(
            call(&sim, "POST", evaluate, &json!({"entityCount": 40})),
            200
        );
        assert_eq!(
            call(&sim, "POST", evaluate, &json!({"entityCount": 60})),
            200
        );
        // Delivered, as a flow would answer, so the history is of finished deliveries.
        for attempt in sim.take_deliveries() {
            sim.delivery_result(
                attempt.attempt_id,
                simulator::engine::AttemptResult::Status(200),
            );
        }
    }
    sim
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("acknowledged_write");
    group
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3));
    for events in [0, 2_000] {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let durable = tenant(Some(dir.path()), events);
        let memory = tenant(None, events);
        println!(
            "state dir parts after {events} events: {:?}",
            durable.saved_part_sizes()
        );
        let key = {
            let path = format!("/v1/instances/{}/data/Customer", durable.instance_id);
            assert_eq!(
                call(
                    &durable,
                    "POST",
                    &path,
                    &json!({"CustomerId": "bench-1", "FirstName": "A"})
                ),
                201
            );
            assert_eq!(
                call(
                    &memory,
                    "POST",
                    &path,
                    &json!({"CustomerId": "bench-1", "FirstName": "A"})
                ),
                201
            );
            format!("{path}/bench-1")
        };
        // Update item: a change to the items only (the engine part is encoded, not written).
        let mut n = 0u64;
        for (name, sim) in [("state_dir", &durable), ("memory", &memory)] {
            group.bench_function(format!("update_item/{events}_events/{name}"), |b| {
                b.iter(|| {
                    n += 1;
                    let body = json!({ "FirstName": format!("v{n}") });
                    black_box(call(sim, "PATCH", &key, &body))
                });
            });
        }
        // A job submit: the engine changes and is written whole (each one adds a job, so the
        // engine grows a little during the measurement; its size after is printed).
        let jobs = format!(
            "/v1/instances/{}/workflows/main/jobs?operationType=segmentation",
            durable.instance_id
        );
        for (name, sim) in [("state_dir", &durable), ("memory", &memory)] {
            group.bench_function(format!("submit_job/{events}_events/{name}"), |b| {
                b.iter(|| black_box(call(sim, "POST", &jobs, &Value::Null)));
            });
        }
        println!(
            "state dir parts after the runs: {:?}",
            durable.saved_part_sizes()
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
