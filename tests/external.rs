//! `insightsim run` against flows written outside this project: the Python example of
//! `examples/python/` as a command and behind a URL, its timing variants (every one a correct
//! flow that the suite must pass), the determinism of repeated runs under CPU load, and the
//! error messages a user meets first.
//!
//! These run the real binary against real processes over loopback, so they take wall time
//! (about two minutes for the whole suite against the example, most of it the case that waits
//! out the documented call limit of 100 calls per 60 s in real time; that case runs once here).
//! They need `python3` (3.11 or later, standard library only).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The triggers the example flows handle.
const TRIGGERS: &str = "datasource-refresh-failed,segment-threshold-crossed,full-refresh-completed";
/// The case that waits out the documented limit (100 calls per 60 s) in real time.
const REAL_MINUTE: &str = "paging/export-survives-the-call-limit";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_insightsim")
}

fn python_flow(extra: &str) -> String {
    format!("python3 examples/python/flow.py {extra}")
        .trim_end()
        .to_owned()
}

/// `insightsim run ARGS` from the repository root, off CI (so that a first run records its
/// snapshots), with output captured.
fn run(args: &[&str]) -> Output {
    run_with(args, None)
}

/// `insightsim run ARGS` with `CI` set to `ci` (or unset).
fn run_with(args: &[&str], ci: Option<&str>) -> Output {
    let mut command = Command::new(bin());
    command
        .current_dir(root())
        .arg("run")
        .args(args)
        .env_remove("CI")
        .env_remove("INSTA_UPDATE")
        .env("NO_COLOR", "1");
    if let Some(ci) = ci {
        command.env("CI", ci);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin()))
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The closing line of a run: `N passed, N failed, N skipped[, N non-strict]`.
fn summary(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or_default()
        .to_owned()
}

/// Runs and asserts that every case passed (no failure, no non-strict).
fn assert_passes(args: &[&str]) -> Output {
    assert_passes_with(args, None)
}

fn assert_passes_with(args: &[&str], ci: Option<&str>) -> Output {
    let output = run_with(args, ci);
    let line = summary(&output);
    assert!(
        output.status.success() && line.contains(" 0 failed") && !line.contains("non-strict"),
        "{}",
        text(&output)
    );
    output
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// The example flow started behind a URL, killed when dropped.
struct UrlFlow {
    child: Child,
    hook: String,
    api: SocketAddr,
    sinks: SocketAddr,
}

impl UrlFlow {
    fn start(extra: &[&str]) -> UrlFlow {
        let (listen, api, sinks) = (free_addr(), free_addr(), free_addr());
        let mut child = Command::new("python3")
            .current_dir(root())
            .arg("examples/python/flow.py")
            .args(["--listen", &listen.to_string()])
            .args(["--api-url", &format!("http://{api}")])
            .args(["--sinks-url", &format!("http://{sinks}")])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3: {e}"));
        // Ready when it accepts connections (start-up plumbing, not a test of timing).
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(listen).is_err() {
            assert!(child.try_wait().ok().flatten().is_none(), "the flow exited");
            assert!(
                Instant::now() < deadline,
                "the flow did not listen on {listen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        UrlFlow {
            child,
            hook: format!("http://{listen}/hook"),
            api,
            sinks,
        }
    }

    /// The flags that point `run` at this flow.
    fn args(&self) -> Vec<String> {
        vec![
            "--flow-url".into(),
            self.hook.clone(),
            "--sim-addr".into(),
            self.api.to_string(),
            "--sinks-addr".into(),
            self.sinks.to_string(),
        ]
    }
}

impl Drop for UrlFlow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two busy threads for as long as it lives: the machine is loaded, as CI's often is.
struct Busy(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl Busy {
    fn start(threads: usize) -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005) + 1);
                    }
                })
            })
            .collect();
        Busy(stop, handles)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for h in self.1.drain(..) {
            let _ = h.join();
        }
    }
}

/// Every scenario file except `except` (a case id), as paths for `run`.
fn cases_except(except: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("scenarios")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml")
                && !path.ends_with(format!("{except}.toml"))
            {
                files.push(path.display().to_string());
            }
        }
    }
    files.sort();
    files
}

fn tmp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("insightsim-{name}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The whole suite, as CI runs it: every snapshot must match the example's committed ones
/// (`examples/python/snapshots`), and nothing is written.
#[test]
fn the_python_example_passes_the_whole_suite_as_a_command() {
    let flow = python_flow("");
    let output = assert_passes_with(
        &[
            "--flow-cmd",
            &flow,
            "--flow-name",
            "python-example",
            "--snapshots",
            "examples/python/snapshots",
        ],
        Some("true"),
    );
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.contains(&format!("PASS  {REAL_MINUTE}  [python-example]")),
        "{}",
        text(&output)
    );
    assert!(
        !out.contains("snapshot: new") && !out.contains("snapshot: differs"),
        "{}",
        text(&output)
    );
    // Off a terminal, the real-time wait is reported every few seconds.
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.matches(&format!(
            "{REAL_MINUTE}: waiting out the flow's Retry-After in real time"
        ))
        .count()
            >= 5,
        "{}",
        text(&output)
    );
}

/// A first run of a new flow records its snapshots (reported `new`, not failed); the next
/// compares with them; `--strict` fails a missing one.
#[test]
fn a_first_run_records_snapshots_and_the_next_compares() {
    let snaps = tmp("py-first");
    let s = snaps.path().display().to_string();
    let flow = python_flow("");
    let mut args = vec!["--flow-cmd", flow.as_str(), "--snapshots", s.as_str()];
    args.extend([
        "--filter",
        "datasource/refresh-failed-fires-on-permanent-failure",
    ]);
    args.extend(["--filter", "segment/fires-once"]);
    let first = assert_passes(&args);
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("snapshot: new, written to"),
        "{}",
        text(&first)
    );
    let second = assert_passes_with(&args, Some("true"));
    assert!(
        !String::from_utf8_lossy(&second.stdout).contains("snapshot: "),
        "{}",
        text(&second)
    );
    let empty = tmp("py-strict");
    let e = empty.path().display().to_string();
    let strict = run(&[
        "--flow-cmd",
        &flow,
        "--snapshots",
        &e,
        "--strict",
        "--filter",
        "segment/fires-once",
    ]);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict));
}

#[test]
fn the_python_example_passes_the_suite_behind_a_url() {
    let flow = UrlFlow::start(&[]);
    let snaps = tmp("py-url");
    let s = snaps.path().display().to_string();
    let mut args = flow.args();
    args.extend([
        "--triggers".into(),
        TRIGGERS.into(),
        "--snapshots".into(),
        s,
    ]);
    args.extend(cases_except(REAL_MINUTE));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_passes(&args);
    // Again against the same flow, which remembers every event id it saw: fresh ids per case
    // and per run, and the snapshots of the first run match.
    let second = assert_passes(&args);
    assert!(
        !String::from_utf8_lossy(&second.stdout).contains("snapshot: new"),
        "{}",
        text(&second)
    );
}

/// The cases that make a flow wait out real `Retry-After`s, or act on a delivery.
const TIMING_CASES: &[&str] = &[
    "call-limit/no-call-before-retry-after",
    "paging/export-survives-a-tight-limit",
    "datasource/refresh-failed-fires-on-permanent-failure",
    "segment/fires-once-per-upward-crossing",
];

fn assert_variant_passes(flow_args: &str, cases: &[&str]) -> Output {
    let snaps = tmp("variant");
    let flow = python_flow(flow_args);
    let s = snaps.path().display().to_string();
    let mut args = vec!["--flow-cmd", flow.as_str(), "--snapshots", s.as_str()];
    for c in cases {
        args.extend(["--filter", c]);
    }
    assert_passes(&args)
}

#[test]
fn a_flow_that_waits_retry_after_plus_300_ms_is_never_cut_off() {
    assert_variant_passes("--retry-margin 0.3", &TIMING_CASES[..2]);
}

#[test]
fn a_flow_that_waits_retry_after_plus_2_s_is_never_cut_off() {
    assert_variant_passes("--retry-margin 2", &TIMING_CASES[..2]);
}

#[test]
fn a_flow_that_acts_200_ms_after_answering_passes() {
    assert_variant_passes("--act-delay 0.2", TIMING_CASES);
}

#[test]
fn a_flow_that_acts_2_s_after_answering_passes_and_is_told_it_acted_late() {
    let output = assert_variant_passes("--act-delay 2", &TIMING_CASES[2..]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("note: the flow acted late"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_flow_that_holds_the_delivery_open_through_a_retry_after_passes() {
    assert_variant_passes("--answer-after-work", TIMING_CASES);
}

/// The cases of the determinism test: a delivery acted on, a crossing with an API call, an
/// export, and a redelivery an hour later.
const DETERMINISM_CASES: &[&str] = &[
    "datasource/refresh-failed-fires-on-permanent-failure",
    "segment/fires-once-per-upward-crossing",
    "full-refresh/completed-fires-for-scheduled-refresh",
    "delivery/redelivered-event-has-no-second-effect",
    // A retry and a late replay count from the flow's answer, which comes in real time.
    "delivery/lost-answer-is-retried-without-a-second-effect",
    "delivery/late-replay-after-a-newer-event-has-no-second-effect",
];

/// The verdict and transcript of every case in a JSON report.
fn verdicts(report: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(report).unwrap_or_else(|e| panic!("{e}"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("no cases in {text}"))
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["verdict"].as_str().unwrap_or_default().to_owned(),
                c["transcript"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn repeated_runs_under_cpu_load_give_identical_verdicts_and_transcripts() {
    let _busy = Busy::start(2);
    let dir = tmp("determinism");
    let flow = python_flow("");
    let mut seen: Option<Vec<(String, String, String)>> = None;
    for i in 0..3 {
        let report = dir.path().join(format!("run-{i}.json"));
        let snaps = dir.path().join(format!("snaps-{i}"));
        let (r, s) = (report.display().to_string(), snaps.display().to_string());
        let mut args = vec!["--flow-cmd", &flow, "--json", &r, "--snapshots", &s];
        for c in DETERMINISM_CASES {
            args.extend(["--filter", c]);
        }
        assert_passes(&args);
        let now = verdicts(&report);
        assert_eq!(now.len(), DETERMINISM_CASES.len());
        if let Some(first) = &seen {
            assert_eq!(first, &now, "run {i} differs from run 0");
        }
        seen = Some(now);
    }
}

#[test]
fn a_refused_subscription_is_reported_at_once_with_the_api_answer_and_the_flow_stderr() {
    let started = Instant::now();
    let output = Command::new(bin())
        .current_dir(root())
        .args([
            "run",
            "--flow-cmd",
            "python3 examples/repro/refused-subscription.py",
        ])
        .args(["--filter", "segment/fires-once-per-upward-crossing"])
        .env("REFUSE", "all")
        .env_remove("CI")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(started.elapsed() < Duration::from_secs(8), "{all}");
    assert!(
        all.contains("the API refused the flow's subscription"),
        "{all}"
    );
    assert!(all.contains("-> 400: "), "{all}");
    assert!(all.contains("its stderr ends:"), "{all}");
    assert!(
        !all.contains("did not subscribe to any trigger within"),
        "{all}"
    );
}

#[test]
fn one_refused_subscription_fails_the_run_instead_of_skipping_its_cases() {
    let output = run(&[
        "--flow-cmd",
        "python3 examples/repro/refused-subscription.py",
        "--filter",
        "segment/fires-once-per-upward-crossing",
    ]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("segment-threshold-crossed/subscriptions -> 400"),
        "{all}"
    );
}

#[test]
fn a_taken_api_address_is_one_error_before_any_case() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = taken.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let output = run(&[
        "--flow-url",
        "http://127.0.0.1:9/hook",
        "--sim-addr",
        &addr.to_string(),
        "--sinks-addr",
        &free_addr().to_string(),
        "--filter",
        "segment/",
    ]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(2), "{all}");
    assert!(
        all.contains(&format!("cannot serve the API on {addr}")) && all.contains("--sim-addr"),
        "{all}"
    );
    assert!(!all.contains("PASS") && !all.contains("FAIL"), "{all}");
    assert_eq!(all.matches("error:").count(), 1, "{all}");
}

#[test]
fn a_filter_that_matches_nothing_names_the_nearest_cases() {
    let output = run(&[
        "--flow",
        "email-on-segment-threshold",
        "--filter",
        "segmnet/",
    ]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(2), "{all}");
    assert!(all.contains("--filter segmnet/ matches no case"), "{all}");
    assert!(all.contains("nearest: segment/"), "{all}");
}

#[test]
fn a_trigger_the_flow_never_acts_on_gets_one_hint_naming_triggers() {
    let flow = UrlFlow::start(&[]);
    let mut args = flow.args();
    args.extend([
        "--filter".into(),
        "measure/fires-once-per-upward-crossing".into(),
        "--filter".into(),
        "measure/fires-again-after-falling-below".into(),
        "--snapshots".into(),
        tmp("hint").path().display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run(&args);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    let hints: Vec<&str> = all.lines().filter(|l| l.starts_with("hint: ")).collect();
    assert_eq!(hints.len(), 1, "{all}");
    assert!(
        hints[0].contains("never acted on measure-threshold-crossed")
            && hints[0].contains("--triggers"),
        "{all}"
    );
}

#[test]
fn a_property_failure_prints_a_reproduce_line_that_reproduces_it() {
    let dir = tmp("property");
    let d = dir.path().display().to_string();
    let output = run(&[
        "--flow",
        "teams-not-idempotent",
        "--properties",
        "8",
        "--filter",
        "property/redelivery-has-no-second-effect",
        "--property-failures",
        &d,
    ]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    let line = all
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduce: insightsim run "))
        .unwrap_or_else(|| panic!("no reproduce line:\n{all}"));
    let words = shlex::split(line).unwrap_or_else(|| panic!("{line}"));
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let again = run(&words);
    let replay = text(&again);
    assert_eq!(again.status.code(), Some(1), "{replay}");
    assert!(
        summary(&again).starts_with("0 passed, 1 failed"),
        "{replay}"
    );
}

#[test]
fn a_missed_should_is_not_counted_as_passed() {
    // The suite's cases are all MUSTs: a case of this test's own states a SHOULD.
    let dir = tmp("should");
    std::fs::create_dir_all(dir.path().join("local")).unwrap();
    let case = dir
        .path()
        .join("local/fixed-window-should-be-respected.toml");
    std::fs::write(
        &case,
        r#"format = 1
id = "local/fixed-window-should-be-respected"
description = "An export under a fixed window of 10 calls per 3 s."
requirement = "A flow SHOULD wait out every Retry-After under a fixed-window limit."

[tenant]
customers = 1500

[tenant.limits]
rate_limit = "10/3s,fixed"

[[subscriptions]]
trigger = "full-refresh-completed"

[[steps]]
at = "0s"
refresh = {}

[expect]
api = { no_early_retries = true, pages_complete = "Customer" }
"#,
    )
    .unwrap();
    let snapshots = dir.path().join("snapshots");
    let output = run(&[
        "--flow",
        "export-ignores-retry-after",
        "--snapshots",
        snapshots.to_str().unwrap(),
        case.to_str().unwrap(),
    ]);
    let all = text(&output);
    assert_eq!(
        summary(&output),
        "0 passed, 0 failed, 0 skipped, 1 non-strict",
        "{all}"
    );
    assert!(
        output.status.success(),
        "a missed SHOULD does not fail the run: {all}"
    );
}
