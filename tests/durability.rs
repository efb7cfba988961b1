//! Crash recovery of `insightsim serve --state-dir`: the real binary under write load from a
//! few clients, killed with SIGKILL at seeded random points and restarted on the same dir,
//! several times. After every restart, everything a client was told was done must be there
//! (subscriptions, created and updated items, jobs), no id was handed out twice, and no event
//! id reached the webhook receiver with two different bodies.
//!
//! Bounded: a few rounds of at most a few hundred writes, loopback only, every wait with a
//! deadline. Replay a failure with the `seed=` it prints (`INSIGHTSIM_CRASH_SEED=...`).

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::Serve;

const ROUNDS: usize = 5;
const CLIENTS: usize = 3;
/// Every round kills the server after this many acknowledged writes, or more (seeded).
const ACKS_MIN: usize = 25;
const ACKS_SPREAD: u64 = 80;
const DEADLINE: Duration = Duration::from_secs(120);

/// A small deterministic generator (xorshift64*), so the test needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What clients were told was done.
#[derive(Debug, Default)]
struct Acked {
    subscriptions: BTreeSet<String>,
    jobs: BTreeSet<String>,
    /// Created item key → the FirstName values it may have now: the last acknowledged one,
    /// and one sent after it whose answer never came (the kill may have landed either side of
    /// its commit).
    items: BTreeMap<String, (String, Option<String>)>,
    /// Every id ever acknowledged, to check none is handed out twice.
    ids: Vec<String>,
}

/// A `serve` with a state dir, and its instance.
struct Server {
    serve: Serve,
    addr: SocketAddr,
    instance: String,
}

fn start(dir: &Path, tenant: &Path) -> Server {
    start_with(&[
        "--tenant".as_ref(),
        tenant.as_os_str(),
        "--state-dir".as_ref(),
        dir.as_os_str(),
        "--speed".as_ref(),
        "60".as_ref(),
    ])
}

/// Starts `serve` on port 0 with these arguments besides.
fn start_with(args: &[&OsStr]) -> Server {
    let serve = Serve::start(args);
    let addr = serve.addr;
    let health = http(addr, "GET", "/_sim/health", None).expect("health answers");
    let instance = health.1["instanceId"].as_str().unwrap().to_owned();
    Server {
        serve,
        addr,
        instance,
    }
}

/// One HTTP/1.1 exchange on a fresh connection: (status, JSON body or null).
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
    support::http(addr, "crash", method, path, body)
}

/// Every (event id, body) a webhook receiver got.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver: records every event id with the body it came with.
fn receiver() -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let record = record.clone();
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut raw = Vec::new();
                let mut buf = [0; 8192];
                loop {
                    let Ok(n) = stream.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if raw.len() < split + 4 + length {
                        continue;
                    }
                    let body = String::from_utf8_lossy(&raw[split + 4..split + 4 + length]);
                    let event = head
                        .lines()
                        .find_map(|l| l.strip_prefix("x-insightsim-event-id:"))
                        .unwrap_or("")
                        .trim()
                        .to_owned();
                    record.lock().unwrap().push((event, body.into_owned()));
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    return;
                }
            });
        }
    });
    (addr, seen)
}

/// One client's writes until the server dies or `stop` is set. Every acknowledged write is
/// recorded before the next is sent.
fn client(
    server: (SocketAddr, String),
    hook: SocketAddr,
    tag: String,
    mut rng: Rng,
    acked: Arc<Mutex<Acked>>,
    acks: mpsc::Sender<()>,
    stop: Arc<AtomicBool>,
) {
    let (addr, instance) = server;
    let base = format!("/v1/instances/{instance}");
    let mut mine: Vec<String> = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        // Weighted: few subscriptions (each one multiplies the events of every crossing).
        let op = match rng.below(20) {
            0..=1 => 0,
            2..=6 => 1,
            7..=11 => 2,
            12..=15 => 3,
            _ => 4,
        };
        match op {
            0 => {
                let body = json!({ "NotificationUrl": format!("http://{hook}/hook") });
                let path = format!("{base}/triggers/segment-threshold-crossed/subscriptions");
                let body = json!({
                    "NotificationUrl": body["NotificationUrl"],
                    "segmentName": "HighValueCustomers",
                    "threshold": 100,
                });
                match http(addr, "POST", &path, Some(&body)) {
                    Some((201, v)) => {
                        let id = v["id"].as_str().unwrap().to_owned();
                        let mut a = acked.lock().unwrap();
                        a.subscriptions.insert(id.clone());
                        a.ids.push(id);
                    }
                    Some((status, v)) => panic!("subscribe answered {status}: {v}"),
                    None => return,
                }
            }
            1 => {
                let key = format!("crash-{tag}-{n}");
                let body = json!({ "CustomerId": key, "FirstName": "v0" });
                match http(addr, "POST", &format!("{base}/data/Customer"), Some(&body)) {
                    Some((201, _)) => {
                        acked
                            .lock()
                            .unwrap()
                            .items
                            .insert(key.clone(), ("v0".into(), None));
                        mine.push(key);
                    }
                    Some((status, v)) => panic!("create answered {status}: {v}"),
                    None => return,
                }
            }
            2 if !mine.is_empty() => {
                let key = mine[rng.below(mine.len() as u64) as usize].clone();
                let value = format!("v{n}");
                acked.lock().unwrap().items.get_mut(&key).unwrap().1 = Some(value.clone());
                let body = json!({ "FirstName": value });
                match http(
                    addr,
                    "PATCH",
                    &format!("{base}/data/Customer/{key}"),
                    Some(&body),
                ) {
                    Some((204, _)) => {
                        acked.lock().unwrap().items.insert(key, (value, None));
                    }
                    Some((status, v)) => panic!("update answered {status}: {v}"),
                    None => return,
                }
            }
            3 => {
                let path = format!("{base}/workflows/main/jobs?operationType=segmentation");
                match http(addr, "POST", &path, None) {
                    Some((200, v)) => {
                        let id = v["jobId"].as_str().unwrap().to_owned();
                        let mut a = acked.lock().unwrap();
                        a.jobs.insert(id.clone());
                        a.ids.push(id);
                    }
                    Some((status, v)) => panic!("job submit answered {status}: {v}"),
                    None => return,
                }
            }
            _ => {
                let count = 90 + rng.below(20);
                let path = "/_sim/segments/HighValueCustomers/evaluate";
                match http(addr, "POST", path, Some(&json!({ "entityCount": count }))) {
                    Some((200, _)) => {}
                    Some((status, v)) => panic!("evaluate answered {status}: {v}"),
                    None => return,
                }
            }
        }
        let _ = acks.send(());
    }
}

/// Checks that the restarted server has everything acknowledged so far.
fn check(server: &Server, acked: &Acked, seed: u64, round: usize) {
    let base = format!("/v1/instances/{}", server.instance);
    let context = format!("seed={seed} round={round}");
    let path = format!("{base}/triggers/segment-threshold-crossed/subscriptions");
    let (_, subs) = http(server.addr, "GET", &path, None).expect("subscriptions answer");
    let listed: BTreeSet<String> = subs["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let lost: Vec<_> = acked.subscriptions.difference(&listed).collect();
    assert!(lost.is_empty(), "{context}: subscriptions lost: {lost:?}");
    let (_, jobs) = http(
        server.addr,
        "GET",
        // The list shows 10 jobs unless `top` says more (the API model's default).
        &format!("{base}/workflows/main/jobs?top=100000"),
        None,
    )
    .expect("jobs answer");
    let listed: BTreeSet<String> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobId"].as_str().unwrap().to_owned())
        .collect();
    let lost: Vec<_> = acked.jobs.difference(&listed).collect();
    assert!(lost.is_empty(), "{context}: jobs lost: {lost:?}");
    for (key, (value, maybe)) in &acked.items {
        let filter = format!("CustomerId%20eq%20%27{key}%27");
        let (status, v) = http(
            server.addr,
            "GET",
            &format!("{base}/data/Customer?$filter={filter}"),
            None,
        )
        .expect("the item query answers");
        assert_eq!(status, 200, "{context}: {v}");
        let got = v["value"][0]["FirstName"].as_str();
        assert!(
            got == Some(value.as_str()) || (maybe.is_some() && got == maybe.as_deref()),
            "{context}: item {key} has FirstName {got:?}, acknowledged {value:?} (or {maybe:?})"
        );
    }
}

#[test]
fn nothing_acknowledged_is_lost_when_serve_is_killed_at_random_points() {
    let seed: u64 = std::env::var("INSIGHTSIM_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_D00D);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let tenant = dir.path().join("tenant.toml");
    std::fs::write(
        &tenant,
        "customers = 300\n[refresh]\nschedule_enabled = false\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let (hook, seen) = receiver();
    let mut rng = Rng(seed | 1);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut instance = None;
    for round in 0..ROUNDS {
        assert!(
            started.elapsed() < DEADLINE,
            "seed={seed}: out of time at round {round}"
        );
        let mut server = start(&state, &tenant);
        check(&server, &acked.lock().unwrap(), seed, round);
        assert_eq!(
            *instance.get_or_insert(server.instance.clone()),
            server.instance
        );
        let kill_after = ACKS_MIN + rng.below(ACKS_SPREAD) as usize;
        let (acks, acked_now) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (addr, instance) = (server.addr, server.instance.clone());
                let (tag, rng) = (format!("{round}-{c}"), Rng(rng.next() | 1));
                let (acked, acks, stop) = (acked.clone(), acks.clone(), stop.clone());
                thread::spawn(move || client((addr, instance), hook, tag, rng, acked, acks, stop))
            })
            .collect();
        drop(acks);
        for _ in 0..kill_after {
            let left = DEADLINE.saturating_sub(started.elapsed());
            acked_now
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("seed={seed}: the load stopped in round {round}: {e}"));
        }
        server.serve.child.kill().expect("SIGKILL");
        let _ = server.serve.child.wait();
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.join()
                .unwrap_or_else(|_| panic!("seed={seed}: a client failed in round {round}"));
        }
    }
    let server = start(&state, &tenant);
    let acked = acked.lock().unwrap();
    check(&server, &acked, seed, ROUNDS);
    drop(server);
    let distinct: BTreeSet<&String> = acked.ids.iter().collect();
    assert_eq!(
        distinct.len(),
        acked.ids.len(),
        "seed={seed}: an id was handed out twice"
    );
    assert!(
        acked.ids.len() >= ROUNDS * 5,
        "seed={seed}: too little load: {acked:?}"
    );
    let mut bodies: BTreeMap<String, String> = BTreeMap::new();
    for (event, body) in seen.lock().unwrap().iter() {
        let first = bodies.entry(event.clone()).or_insert_with(|| body.clone());
        assert_eq!(
            first, body,
            "seed={seed}: event id {event} came with two different bodies"
        );
    }
}

/// Reproduction 9 of issue 10: Ctrl-C waited ≈ 30 s while a delivery was in flight, and pending
/// deliveries were dropped silently.
#[test]
fn ctrl_c_with_a_delivery_in_flight_stops_within_the_drain_and_counts_what_it_drops() {
    // A webhook endpoint that takes the request and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = listener.local_addr().unwrap();
    let (accepted, on_accept) = mpsc::channel();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let _ = accepted.send(());
            held.push(stream);
        }
    });
    let args = ["--customers", "300", "--drain", "200ms"].map(OsStr::new);
    let mut server = start_with(&args);
    let base = format!("/v1/instances/{}", server.instance);
    let sub = json!({
        "NotificationUrl": format!("http://{hook}/hook"),
        "segmentName": "HighValueCustomers",
        "threshold": 10,
    });
    let path = format!("{base}/triggers/segment-threshold-crossed/subscriptions");
    assert_eq!(http(server.addr, "POST", &path, Some(&sub)).unwrap().0, 201);
    for count in [5, 50] {
        let body = json!({ "entityCount": count });
        let evaluate = "/_sim/segments/HighValueCustomers/evaluate";
        assert_eq!(
            http(server.addr, "POST", evaluate, Some(&body)).unwrap().0,
            200
        );
    }
    on_accept
        .recv_timeout(Duration::from_secs(10))
        .expect("the delivery is sent");
    let pid = server.serve.child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    // The attempt in flight would wait its 30 s timeout; the drain is 200 ms.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(15);
    let mut lines = Vec::new();
    while let Ok(line) = server
        .serve
        .stdout
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        lines.push(line);
    }
    let stopped_in = started.elapsed();
    assert!(
        stopped_in < Duration::from_secs(15),
        "stopping took {stopped_in:?}"
    );
    let status = server.serve.child.wait().unwrap();
    assert!(status.success(), "{status:?}: {lines:#?}");
    let text = lines.join("\n");
    assert!(
        text.contains("dropped 1 deliveries not delivered yet (1 in flight, 0 waiting to retry, 0 queued); 1 still in flight after the 200 ms drain"),
        "{text}"
    );
}

/// Creates a subscription, an event (with its delivery) and a job; returns every id the server
/// handed out so far (they accumulate until a reset).
fn created_ids(server: &Server) -> Vec<String> {
    let base = format!("/v1/instances/{}", server.instance);
    let sub = json!({
        // Nothing listens on the discard port: the delivery fails and waits to retry.
        "NotificationUrl": "http://127.0.0.1:9/hook",
        "segmentName": "HighValueCustomers",
        "threshold": 10,
    });
    let path = format!("{base}/triggers/segment-threshold-crossed/subscriptions");
    let (status, created) = http(server.addr, "POST", &path, Some(&sub)).unwrap();
    assert_eq!(status, 201, "{created}");
    for count in [5, 50] {
        let evaluate = "/_sim/segments/HighValueCustomers/evaluate";
        let body = json!({ "entityCount": count });
        assert_eq!(
            http(server.addr, "POST", evaluate, Some(&body)).unwrap().0,
            200
        );
    }
    let path = format!("{base}/workflows/main/jobs?operationType=segmentation");
    let (status, job) = http(server.addr, "POST", &path, None).unwrap();
    assert_eq!(status, 200, "{job}");
    let mut ids = vec![
        created["id"].as_str().unwrap().to_owned(),
        job["jobId"].as_str().unwrap().to_owned(),
    ];
    for (path, field) in [
        ("/_sim/events", "eventId"),
        ("/_sim/deliveries", "deliveryId"),
    ] {
        let (_, list) = http(server.addr, "GET", path, None).unwrap();
        let list = list["value"].as_array().unwrap();
        assert!(!list.is_empty(), "{path} lists nothing");
        ids.extend(list.iter().map(|v| v[field].as_str().unwrap().to_owned()));
    }
    ids
}

/// Reproduction 6 of issue 10: after a restart or a `POST /_sim/reset`, `serve` handed out the
/// same subscription, job, event and delivery ids again, so a flow that de-duplicates by event
/// id dropped real new events. Without a state dir, the data keeps the seed's ids.
#[test]
fn serve_never_hands_out_an_id_twice_across_restarts_and_resets() {
    let args = ["--customers", "300"].map(OsStr::new);
    let mut ids = Vec::new();
    let mut data = Vec::new();
    for _ in 0..2 {
        let server = start_with(&args);
        ids.extend(created_ids(&server));
        let (status, _) = http(server.addr, "POST", "/_sim/reset", None).unwrap();
        assert_eq!(status, 200);
        ids.extend(created_ids(&server));
        let first = format!("/v1/instances/{}/data/Customer?$top=1", server.instance);
        let (_, page) = http(server.addr, "GET", &first, None).unwrap();
        data.push((server.instance.clone(), page["value"].clone()));
    }
    assert!(ids.len() >= 4 * 4, "{ids:?}");
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "ids handed out twice: {ids:#?}");
    assert_eq!(
        data[0], data[1],
        "the data's ids are the seed's in every run"
    );
}
