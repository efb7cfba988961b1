//! What survives a restart, a reset and a shutdown: the state dir (`Simulator::open`), the id
//! epoch, and the driver's bounded drain. The crash test of the real binary under SIGKILL is
//! `tests/durability.rs` at the workspace root (it needs the `insightsim` binary).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use simulator::driver::Driver;
use simulator::persist::PersistError;
use simulator::tenant::TenantSpec;
use simulator::{Clock, IdEpoch, SimConfig, SimDuration, SimTime, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::*;

fn spec(seed: u64) -> TenantSpec {
    let mut spec = TenantSpec::demo();
    spec.seed = seed;
    spec.customers = 200;
    spec.refresh.schedule_enabled = false;
    spec.limits.rate_limit = "off".to_owned();
    spec
}

fn config(seed: u64, epoch: IdEpoch) -> SimConfig {
    let mut config = SimConfig::new(spec(seed), Clock::frozen_at(SimTime::DEFAULT_EPOCH));
    config.id_epoch = epoch;
    config
}

fn open(dir: &Path, seed: u64) -> Simulator {
    Simulator::open(config(seed, IdEpoch::Random), dir).unwrap()
}

fn call(sim: &Simulator, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let path = path.replace("{id}", &sim.instance_id);
    let r = request(sim, method, &path, &body);
    let value = serde_json::from_slice(&r.bytes()).unwrap_or(Value::Null);
    (r.status, value)
}

/// Subscribes to crossings of `HighValueCustomers` above `threshold`, then moves the segment to
/// the threshold and one above it: one event per call.
fn cross(sim: &Simulator, threshold: u64) {
    let sub = json!({
        "NotificationUrl": "http://127.0.0.1:9/hook",
        "segmentName": "HighValueCustomers",
        "threshold": threshold,
    });
    let path = "/v1/instances/{id}/triggers/segment-threshold-crossed/subscriptions";
    assert_eq!(call(sim, "POST", path, &sub).0, 201);
    for count in [threshold, threshold + 1] {
        let path = "/_sim/segments/HighValueCustomers/evaluate";
        assert_eq!(
            call(sim, "POST", path, &json!({ "entityCount": count })).0,
            200
        );
    }
}

/// Every id of the objects the simulator created as it ran.
fn created_ids(sim: &Simulator) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    ids.extend(sim.subscriptions().into_iter().map(|s| s.id));
    ids.extend(sim.events().into_iter().map(|e| e.event_id));
    ids.extend(sim.deliveries().into_iter().map(|d| d.delivery_id));
    let world_jobs = call(
        sim,
        "GET",
        "/v1/instances/{id}/workflows/main/jobs",
        &Value::Null,
    )
    .1;
    for job in world_jobs.as_array().unwrap() {
        ids.insert(job["jobId"].as_str().unwrap().to_owned());
        for task in job["tasks"].as_array().into_iter().flatten() {
            ids.insert(task["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    ids.remove("");
    ids
}

/// A few of everything: subscriptions, events, deliveries, jobs and tasks.
fn activity(sim: &Simulator) {
    cross(sim, 10);
    let (status, _) = call(
        sim,
        "POST",
        "/v1/instances/{id}/workflows/main/jobs?operationType=segmentation",
        &Value::Null,
    );
    assert_eq!(status, 200);
}

#[test]
fn ids_never_repeat_after_a_reset() {
    for epoch in [
        IdEpoch::Seed,
        IdEpoch::Random,
        IdEpoch::Fixed("case".into()),
    ] {
        let sim = Simulator::new(config(42, epoch.clone()));
        activity(&sim);
        let before = created_ids(&sim);
        assert!(before.len() >= 6, "{before:?}");
        assert_eq!(call(&sim, "POST", "/_sim/reset", &Value::Null).0, 200);
        activity(&sim);
        let after = created_ids(&sim);
        assert_eq!(after.len(), before.len(), "{epoch:?}");
        let repeated: Vec<_> = before.intersection(&after).collect();
        assert!(repeated.is_empty(), "{epoch:?}: {repeated:?}");
    }
}

#[test]
fn ids_never_repeat_across_restarts_without_a_state_dir_but_the_data_keeps_the_seeds_ids() {
    let first = Simulator::new(config(42, IdEpoch::Random));
    let second = Simulator::new(config(42, IdEpoch::Random));
    activity(&first);
    activity(&second);
    let (a, b) = (created_ids(&first), created_ids(&second));
    assert!(
        a.is_disjoint(&b),
        "{:?}",
        a.intersection(&b).collect::<Vec<_>>()
    );
    assert_eq!(first.instance_id, second.instance_id);
    let customers = |sim: &Simulator| {
        call(
            sim,
            "GET",
            "/v1/instances/{id}/data/Customer?$top=3",
            &Value::Null,
        )
        .1
    };
    assert_eq!(customers(&first), customers(&second));
}

#[test]
fn a_fixed_epoch_gives_the_same_ids_in_every_run() {
    let run = || {
        let sim = Simulator::new(config(42, IdEpoch::Fixed("case/7".into())));
        activity(&sim);
        created_ids(&sim)
    };
    assert_eq!(run(), run());
    let seed_ids = {
        let sim = Simulator::new(config(42, IdEpoch::Seed));
        activity(&sim);
        created_ids(&sim)
    };
    assert!(run().is_disjoint(&seed_ids));
}

/// Everything a client can read back that a restart must not change.
fn observable(sim: &Simulator) -> Value {
    let get = |path: &str| call(sim, "GET", path, &Value::Null).1;
    json!({
        "subscriptions": serde_json::to_value(sim.subscriptions()).unwrap(),
        "events": serde_json::to_value(sim.events()).unwrap(),
        "deliveries": serde_json::to_value(sim.deliveries()).unwrap(),
        "jobs": get("/v1/instances/{id}/workflows/main/jobs"),
        "segments": get("/v1/instances/{id}/manage/segments"),
        "measures": get("/v1/instances/{id}/manage/measures"),
        "datasources": get("/v1/instances/{id}/manage/datasources"),
        "members": get("/v1/instances/{id}/data/HighValueCustomers?$count=true&$top=0"),
        "created": get("/v1/instances/{id}/data/Customer?$filter=CustomerId%20eq%20'durable-1'"),
        "first": get("/v1/instances/{id}/data/Customer?$top=1"),
        "reports": get("/_sim/reports"),
        "faults": get("/_sim/faults"),
        "epoch": serde_json::to_value(sim.epoch()).unwrap(),
    })
}

/// Writes of every kind a client can have acknowledged.
fn acknowledged_writes(sim: &Simulator) {
    activity(sim);
    let customer = call(
        sim,
        "GET",
        "/v1/instances/{id}/data/Customer?$top=1",
        &Value::Null,
    )
    .1;
    let key = customer["value"][0]["CustomerId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = call(
        sim,
        "POST",
        "/v1/instances/{id}/data/Customer",
        &json!({ "CustomerId": "durable-1", "FirstName": "Ada" }),
    );
    assert_eq!(status, 201);
    let (status, _) = call(
        sim,
        "PATCH",
        &format!("/v1/instances/{{id}}/data/Customer/{key}"),
        &json!({ "FirstName": "Grace" }),
    );
    assert_eq!(status, 204);
    let (status, _) = call(
        sim,
        "POST",
        "/v1/instances/{id}/statusreport",
        &json!({ "reportType": "ExportFinished", "rows": 12 }),
    );
    assert_eq!(status, 202);
    let (status, _) = call(
        sim,
        "POST",
        "/_sim/measures/TotalRevenue/evaluate",
        &json!({ "value": 1234.5 }),
    );
    assert_eq!(status, 200, "measure");
    let (status, _) = call(
        sim,
        "PUT",
        "/_sim/faults",
        &json!({ "deliveries": { "rules": [ { "duplicate": 1.0 } ] } }),
    );
    assert_eq!(status, 200);
    let (status, _) = call(sim, "POST", "/_sim/clock/advance", &json!({ "by": "90s" }));
    assert_eq!(status, 200);
}

#[test]
fn everything_acknowledged_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (before, now, ids) = {
        let sim = open(dir.path(), 42);
        acknowledged_writes(&sim);
        // A dead letter: the attempt sent so far is answered with a final status.
        for attempt in sim.take_deliveries() {
            sim.delivery_result(
                attempt.attempt_id,
                simulator::engine::AttemptResult::Status(400),
            );
        }
        // And deliveries in flight: a new crossing (sent twice by the duplicate fault).
        cross(&sim, 30);
        (observable(&sim), sim.now(), created_ids(&sim))
    };
    let statuses: Vec<&str> = before["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["status"].as_str())
        .collect();
    assert!(statuses.contains(&"dead"), "{statuses:?}");
    assert!(statuses.contains(&"inFlight"), "{statuses:?}");
    // What is compared is there to compare.
    assert_eq!(
        before["created"]["value"][0]["FirstName"], "Ada",
        "{before}"
    );
    assert_eq!(
        before["first"]["value"][0]["FirstName"], "Grace",
        "{before}"
    );
    assert_eq!(before["reports"]["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(before["faults"]["deliveries"]["rules"][0]["duplicate"], 1.0);
    let sim = open(dir.path(), 42);
    assert_eq!(observable(&sim), before);
    assert!(
        sim.now() >= now,
        "the clock went back: {} < {now}",
        sim.now()
    );
    // The deliveries sent and never answered are in flight, for the driver to send again.
    assert!(!sim.in_flight_attempts().is_empty());
    // New objects get new ids.
    cross(&sim, 150);
    let after = created_ids(&sim);
    assert_eq!(after.intersection(&ids).count(), ids.len());
    assert!(after.len() > ids.len());
}

#[test]
fn a_restored_simulator_goes_on_exactly_as_one_that_never_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = IdEpoch::Fixed("restart".into());
    let steps = |sim: &Simulator| {
        acknowledged_writes(sim);
        let refresh = json!({ "segments": { "ChurnRisk": 150 } });
        assert_eq!(call(sim, "POST", "/_sim/refresh", &refresh).0, 202);
        assert_eq!(
            call(sim, "POST", "/_sim/clock/advance", &json!({ "by": "20m" })).0,
            200
        );
    };
    let more = |sim: &Simulator| {
        cross(sim, 170);
        for attempt in sim.take_deliveries() {
            sim.delivery_result(
                attempt.attempt_id,
                simulator::engine::AttemptResult::Status(500),
            );
        }
        assert_eq!(
            call(sim, "POST", "/_sim/clock/advance", &json!({ "by": "3h" })).0,
            200
        );
        observable(sim)
    };
    let never_stopped = Simulator::new(config(42, epoch.clone()));
    steps(&never_stopped);
    {
        let sim = Simulator::open(config(42, epoch.clone()), dir.path()).unwrap();
        steps(&sim);
    }
    let restarted = Simulator::open(config(42, epoch), dir.path()).unwrap();
    assert_eq!(restarted.now(), never_stopped.now());
    // The in-memory outbox did not survive; its attempts are in flight in both.
    never_stopped.take_deliveries();
    assert_eq!(more(&restarted), more(&never_stopped));
}

#[test]
fn the_state_dir_keeps_the_epoch_and_a_reset_moves_it_on() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let sim = open(dir.path(), 42);
        sim.epoch()
    };
    let sim = open(dir.path(), 42);
    assert_eq!(sim.epoch(), first);
    assert_eq!(call(&sim, "POST", "/_sim/reset", &Value::Null).0, 200);
    drop(sim);
    let sim = open(dir.path(), 42);
    assert_eq!(sim.epoch(), first.next());
}

#[test]
fn another_tenant_or_seed_on_a_state_dir_is_refused_naming_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), 42));
    let err = Simulator::open(config(7, IdEpoch::Random), dir.path()).unwrap_err();
    assert!(matches!(err, PersistError::OtherTenant { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("seed 42") && text.contains("seed 7"),
        "{text}"
    );
    assert!(text.contains("differ in seed"), "{text}");
    let mut other = config(42, IdEpoch::Random);
    other.spec.customers = 300;
    let text = Simulator::open(other, dir.path()).unwrap_err().to_string();
    assert!(text.contains("differ in customers"), "{text}");
    // The refused runs changed nothing.
    drop(open(dir.path(), 42));
}

#[test]
fn a_state_dir_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path(), 42);
    let err = Simulator::open(config(42, IdEpoch::Random), dir.path()).unwrap_err();
    assert!(matches!(err, PersistError::InUse { .. }), "{err:?}");
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn an_unreadable_state_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.redb"), b"not a database at all").unwrap();
    let err = Simulator::open(config(42, IdEpoch::Random), dir.path()).unwrap_err();
    assert!(err.to_string().contains("state.redb"), "{err}");
}

/// A webhook endpoint on port 0 that reads each request, tells `seen`, then answers it with
/// `answer` (or holds the connection open and never answers, for `None`).
async fn endpoint(answer: Option<&'static [u8]>) -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = vec![0; 65536];
            let _ = stream.read(&mut buf).await;
            match answer {
                Some(bytes) => {
                    let _ = stream.write_all(bytes).await;
                    let _ = seen.send(());
                }
                None => {
                    let _ = seen.send(());
                    held.push(stream);
                }
            }
        }
    });
    (addr, rx)
}

async fn seen(rx: &mut mpsc::UnboundedReceiver<()>) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a delivery within 10 s")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_a_bounded_time_and_reports_what_it_leaves_undelivered() {
    let mut spec = spec(42);
    // Real time: an attempt waits up to its 30 s timeout, and a retry minutes.
    spec.delivery.retry_interval = SimDuration::from_mins(5);
    spec.delivery.retry_interval_min = SimDuration::from_mins(5);
    spec.delivery.retry_interval_max = SimDuration::from_mins(5);
    let sim = Arc::new(Simulator::new(SimConfig::new(
        spec,
        Clock::running_from(SimTime::DEFAULT_EPOCH, 1.0),
    )));
    let driver = Driver::spawn(sim.clone());
    let (silent, mut silent_seen) = endpoint(None).await;
    let (failing, mut failing_seen) = endpoint(Some(
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ))
    .await;
    for (url, threshold) in [(silent, 10), (failing, 20)] {
        let sub = json!({
            "NotificationUrl": format!("http://{url}/hook"),
            "segmentName": "HighValueCustomers",
            "threshold": threshold,
        });
        let path = "/v1/instances/{id}/triggers/segment-threshold-crossed/subscriptions";
        assert_eq!(call(&sim, "POST", path, &sub).0, 201);
    }
    let evaluate = "/_sim/segments/HighValueCustomers/evaluate";
    assert_eq!(
        call(&sim, "POST", evaluate, &json!({ "entityCount": 5 })).0,
        200
    );
    assert_eq!(
        call(&sim, "POST", evaluate, &json!({ "entityCount": 50 })).0,
        200
    );
    // One attempt hangs; the other was answered 500 and will wait out its back-off.
    seen(&mut silent_seen).await;
    seen(&mut failing_seen).await;
    // The 500 reaches the driver and is reported (the attempt then waits out its back-off),
    // however loaded the machine is: wait for that state, not for a time.
    tokio::time::timeout(Duration::from_secs(30), async {
        while sim.undelivered().retrying == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the 500 is reported within 30 s");
    // The drain abandons the attempt that would hang for its whole 30 s timeout.
    let report = tokio::time::timeout(
        Duration::from_secs(10),
        driver.shutdown_within(Duration::from_secs(2)),
    )
    .await
    .expect("the drain is bounded (the attempt in flight would take 30 s)");
    assert_eq!(report.abandoned, 1, "{report:?}");
    assert_eq!(report.undelivered.in_flight, 1, "{report:?}");
    assert_eq!(report.undelivered.retrying, 1, "{report:?}");
    assert_eq!(
        report.undelivered.to_string(),
        "1 in flight, 1 waiting to retry, 0 queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_driver_sends_again_what_was_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    {
        // No driver: the delivery is sent (in flight) and never answered, as if the process
        // died right after sending it.
        let sim = open(dir.path(), 42);
        let sub = json!({
            "NotificationUrl": format!("http://{addr}/hook"),
            "segmentName": "HighValueCustomers",
            "threshold": 10,
        });
        let path = "/v1/instances/{id}/triggers/segment-threshold-crossed/subscriptions";
        assert_eq!(call(&sim, "POST", path, &sub).0, 201);
        let evaluate = "/_sim/segments/HighValueCustomers/evaluate";
        assert_eq!(
            call(&sim, "POST", evaluate, &json!({ "entityCount": 5 })).0,
            200
        );
        assert_eq!(
            call(&sim, "POST", evaluate, &json!({ "entityCount": 50 })).0,
            200
        );
        assert_eq!(sim.take_deliveries().len(), 1);
    }
    let sim = Arc::new(open(dir.path(), 42));
    let event_id = sim.events()[0].event_id.clone();
    let driver = Driver::spawn(sim.clone());
    let (mut stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the delivery is sent again")
        .unwrap();
    let mut request = Vec::new();
    let mut buf = vec![0; 65536];
    while !String::from_utf8_lossy(&request).contains(&event_id) {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&request));
        request.extend_from_slice(&buf[..n]);
    }
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    // The drain waits for the answered attempt to be reported.
    let report = driver.shutdown_within(Duration::from_secs(10)).await;
    assert_eq!(report.finished, 1, "{report:?}");
    assert_eq!(report.undelivered.total(), 0, "{report:?}");
}

/// A commit holds the world's lock only to take its snapshot: while it encodes (parked in the
/// commit hook here), an engine call that changes the world goes through, and a read sees it.
/// What changed meanwhile is saved by the next commit, not lost.
#[test]
fn a_commit_encodes_with_the_world_unlocked() {
    use simulator::engine::{JobRequest, OperationType};
    use std::sync::mpsc::{RecvTimeoutError, channel};

    let dir = tempfile::tempdir().unwrap();
    let sim = Arc::new(open(dir.path(), 11));
    // A history to encode: subscriptions, events, deliveries.
    for t in 0..20 {
        cross(&sim, 40 + t);
    }
    let (parked_tx, parked) = channel::<()>();
    let (resume, resume_rx) = channel::<()>();
    let resume_rx = parking_lot::Mutex::new(resume_rx);
    sim.set_commit_hook(Some(Box::new(move || {
        let _ = parked_tx.send(());
        let _ = resume_rx.lock().recv();
    })));
    // A change, committed on another thread, which parks while it encodes.
    sim.tick();
    sim.clock_moved();
    let committer = {
        let sim = sim.clone();
        std::thread::spawn(move || sim.commit())
    };
    parked.recv().unwrap();
    // Meanwhile an engine call (the world's write lock) and a read, on another thread: the
    // wait is only a bound for a failing run (the one it fails on would hang).
    let (done_tx, done) = channel();
    let writer = {
        let sim = sim.clone();
        std::thread::spawn(move || {
            let job = sim.with_engine(|engine, now| {
                let job = engine.submit_job(now, JobRequest::new(OperationType::Segmentation));
                (job, Vec::new())
            });
            let id = job.map(|j| j.job_id).unwrap_or_default();
            let seen = sim.with_engine(|engine, _| (engine.job(&id).is_some(), Vec::new()));
            let _ = done_tx.send(());
            (id, seen)
        })
    };
    let outcome = done.recv_timeout(Duration::from_secs(60));
    sim.set_commit_hook(None);
    resume.send(()).unwrap();
    assert_eq!(
        outcome,
        Ok(()),
        "an engine call waited for a commit to encode: {:?}",
        outcome.err().map(|e: RecvTimeoutError| e.to_string())
    );
    committer.join().unwrap().unwrap();
    let (job, seen) = writer.join().unwrap();
    assert!(seen && !job.is_empty(), "{job:?}");
    // The job submitted while the commit encoded is saved by the next one.
    sim.commit().unwrap();
    drop(sim);
    let sim = open(dir.path(), 11);
    let found = sim.with_engine(|engine, _| (engine.job(&job).is_some(), Vec::new()));
    assert!(found, "job {job} was lost");
}

/// README's "Limits and guarantees" is one section whose table names every key of the tenant
/// file's `[limits]` and `[delivery]` (`delivery.` before the latter), so it cannot drift from
/// the structs.
#[test]
fn the_readme_lists_every_limit_of_the_tenant_file() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let heading = "## Limits and guarantees\n";
    assert_eq!(readme.matches(heading).count(), 1, "one section");
    let section = readme.split(heading).nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    // The backquoted names in the table's Key column.
    let mut keys = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| ")) {
        let Some(column) = row.split(" | ").nth(1) else {
            continue;
        };
        keys.extend(column.split('`').skip(1).step_by(2).map(str::to_owned));
    }
    let spec = serde_json::to_value(TenantSpec::demo()).unwrap();
    let mut expected = Vec::new();
    for (table, prefix) in [("limits", ""), ("delivery", "delivery.")] {
        let object = spec[table].as_object().unwrap();
        assert!(object.len() > 5, "{table}: {object:?}");
        expected.extend(object.keys().map(|k| format!("{prefix}{k}")));
    }
    let missing: Vec<&String> = expected.iter().filter(|k| !keys.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "README's limits table misses {missing:?} (it names {keys:?})"
    );
}
