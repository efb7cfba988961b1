//! The conformance suite as tests: `cargo test --test suite`.
//!
//! - `reference::<flow>::<case>`: every case of `scenarios/` against every correct reference
//!   flow (in-process, on virtual time) passes, snapshots included (under `CI=true` a missing or
//!   different snapshot fails and nothing is written).
//! - `broken::<flow>`: every deliberately broken variant of `reference_flows()` fails at least one
//!   case by a behavioural check (not only by a missing subscription or a snapshot); which check
//!   fires where, for them and for the mutants, is `tests/mutants.rs`' business.
//! - `property::<law>::<flow>`: the laws hold for the reference flows over generated timelines;
//!   `broken-property::<law>::<flow>` checks that the broken variant the law targets breaks the
//!   law itself (not a precondition of its runs).
//! - `tidy::no-orphaned-snapshots`: every file in `snapshots/` is produced by a reference trial;
//!   `tidy::every-case-is-exercised`: every case of `scenarios/` runs against at least one
//!   correct reference flow.
//! - `transcript::…`: what some cases claim about their timeline, read from the transcript (the
//!   reorder fault really inverts the delivery order; genuine repeats carry equal payloads).
//! - `process::<flow>`: the suite run by the real binary against the flow as a process
//!   (`insightsim run --flow-cmd "insightsim flow <name>"`), with a JUnit report.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use harness::check::is_behavioural;
use harness::flow::FlowFactory;
use harness::flows::{manifest_for, reference_flows};
use harness::outcome::{CaseResult, Outcome};
use harness::properties::laws;
use harness::replay::{Applicability, FlowUnderTest, RunOptions, Runner, applicability};
use harness::report::Console;
use harness::scenario::{Case, Suite};
use harness::session::{Selection, Session, snapshot_names};
use harness::snapshot::{Mode, SnapshotStore};
use libtest_mimic::{Arguments, Failed, Trial};
use tokio::runtime::Runtime;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn render(result: &CaseResult) -> String {
    let mut console =
        Console::new(Vec::new()).reproduce_with(format!("insightsim run --flow {}", result.flow));
    let _ = console.case(result);
    String::from_utf8_lossy(&console.into_inner()).into_owned()
}

/// A session against the in-process `flow`, as `insightsim run --flow NAME` starts one.
fn session(rt: &Runtime, flow: FlowFactory) -> Result<Session, Failed> {
    Session::start(
        rt.handle(),
        FlowUnderTest::InProcess(flow),
        RunOptions::default(),
    )
    .map_err(|e| Failed::from(format!("cannot start the runner: {e}")))
}

fn reference_trial(rt: Arc<Runtime>, flow: FlowFactory, case: Case, snapshots: PathBuf) -> Trial {
    Trial::test(
        format!("reference::{}::{}", flow.name, case.id),
        move || {
            let mode = Mode::from_env(false).map_err(|e| Failed::from(e.to_string()))?;
            let store = SnapshotStore::new(&snapshots, mode).with_source("insightsim run");
            let mut session = session(&rt, flow)?
                .with_snapshots(store)
                .with_input_root(root());
            let result = session.run_case(&case);
            match result.outcome {
                Outcome::Pass | Outcome::Skipped => Ok(()),
                _ => Err(render(result).into()),
            }
        },
    )
}

fn broken_trial(rt: Arc<Runtime>, flow: FlowFactory, cases: Vec<Case>) -> Trial {
    Trial::test(format!("broken::{}", flow.name), move || {
        let mut session = session(&rt, flow)?;
        session.run_cases(&cases, |_| {});
        let caught = session.results().iter().any(|r| {
            r.outcome == Outcome::Fail && r.failures.iter().any(|f| is_behavioural(&f.check))
        });
        if !caught {
            return Err(format!(
                "no behavioural check caught the broken variant {} ({}): the suite does not catch its mistake",
                flow.name,
                flow.broken.unwrap_or_default()
            )
            .into());
        }
        Ok(())
    })
}

/// Which broken variant each law is meant to catch.
const LAW_TARGETS: &[(&str, &str)] = &[
    (
        "property/one-effect-per-upward-crossing",
        "email-off-by-one-threshold",
    ),
    (
        "property/one-effect-per-upward-crossing",
        "email-polls-segment-counts",
    ),
    (
        "property/redelivery-has-no-second-effect",
        "teams-not-idempotent",
    ),
    ("property/every-page-fetched-once", "export-first-page-only"),
    (
        "property/every-page-fetched-once",
        "export-ignores-retry-after",
    ),
];

fn property_trials(rt: &Arc<Runtime>, flows: &[FlowFactory]) -> Vec<Trial> {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let failures_dir = std::env::temp_dir().join("insightsim-property-failures");
    let mut trials = Vec::new();
    for law in laws() {
        for flow in flows.iter().copied() {
            let handles = manifest_for(flow.name).is_some_and(|m| m.declares(law.trigger));
            let targeted = LAW_TARGETS
                .iter()
                .any(|(l, f)| *l == law.id && *f == flow.name);
            if !handles || (flow.broken.is_some() && !targeted) {
                continue;
            }
            let prefix = if flow.broken.is_some() {
                "broken-property"
            } else {
                "property"
            };
            let (rt, dir) = (rt.clone(), failures_dir.clone());
            trials.push(Trial::test(format!("{prefix}::{}::{}", law.id.trim_start_matches("property/"), flow.name), move || {
                let mut session = session(&rt, flow)?;
                let result = session.check_law(law, cases, Some(&dir));
                match (result.failures.first(), flow.broken) {
                    (None, None) => Ok(()),
                    (Some(f), Some(_)) if f.check == "property" => Ok(()),
                    (Some(f), Some(mistake)) => Err(format!(
                        "{} was not broken by the broken variant {} ({mistake}): only a precondition failed: {}: {}",
                        law.id, flow.name, f.check, f.actual
                    )
                    .into()),
                    (Some(f), None) => Err(format!("{}\n{}", law.statement, f.actual).into()),
                    (None, Some(mistake)) => Err(format!(
                        "{} held for the broken variant {} ({mistake}) over {cases} generated timelines",
                        law.id, flow.name
                    )
                    .into()),
                }
            }));
        }
    }
    trials
}

fn process_trial(flow: &'static str, expect_pass: bool) -> Trial {
    Trial::test(format!("process::{flow}"), move || {
        let bin = env!("CARGO_BIN_EXE_insightsim");
        let junit =
            std::env::temp_dir().join(format!("insightsim-{flow}-{}.xml", std::process::id()));
        let output = Command::new(bin)
            .current_dir(root())
            .args([
                "run",
                "--flow-cmd",
                &format!("{bin} flow {flow}"),
                "--junit",
            ])
            .arg(&junit)
            .env("CI", "true")
            .output()
            .map_err(|e| Failed::from(format!("cannot run {bin}: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let code = output.status.code();
        let xml = std::fs::read_to_string(&junit)
            .map_err(|e| Failed::from(format!("no JUnit report: {e}\n{stdout}")))?;
        let _ = std::fs::remove_file(&junit);
        check_junit(&xml)?;
        match (expect_pass, code) {
            (true, Some(0)) => Ok(()),
            (false, Some(1)) if stdout.contains("requirement:") => Ok(()),
            _ => Err(format!(
                "exit code {code:?} (expected {}):\n{stdout}",
                if expect_pass { 0 } else { 1 }
            )
            .into()),
        }
    })
}

/// The JUnit report is well-formed XML with at least one test case.
fn check_junit(xml: &str) -> Result<(), Failed> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.name().as_ref() == b"testcase" =>
            {
                cases += 1
            }
            Ok(_) => {}
            Err(e) => return Err(format!("the JUnit report is not well-formed XML: {e}").into()),
        }
    }
    if cases == 0 {
        return Err("the JUnit report has no test case".into());
    }
    Ok(())
}

/// Every `.snap` in `snapshots/` is produced by some (reference flow, case): a snapshot left
/// behind by a renamed case or flow fails here instead of lingering unreviewed.
fn orphaned_snapshots_trial(suite: &Suite, flows: &[FlowFactory], snapshots: PathBuf) -> Trial {
    let mut produced = snapshot_names(flows, &suite.cases);
    // The shipped flow definitions' snapshots (harness/tests/it/definitions.rs writes them).
    let definitions = harness::flow::definition::shipped_snapshot_names(&root(), &suite.cases);
    Trial::test("tidy::no-orphaned-snapshots", move || {
        produced.extend(definitions.map_err(Failed::from)?);
        let entries = std::fs::read_dir(&snapshots)
            .map_err(|e| Failed::from(format!("cannot read {}: {e}", snapshots.display())))?;
        let mut orphaned = BTreeSet::new();
        for entry in entries {
            let path = entry
                .map_err(|e| Failed::from(format!("cannot read {}: {e}", snapshots.display())))?
                .path();
            let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".snap"))
            else {
                continue;
            };
            if !produced.contains(stem) {
                orphaned.insert(path.display().to_string());
            }
        }
        if orphaned.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "no (reference flow, case) produces these snapshots; delete them, or restore the case or flow that wrote them:\n{}",
                orphaned.into_iter().collect::<Vec<_>>().join("\n")
            )
            .into())
        }
    })
}

/// Whether `case` runs against `flow` (by the flow's manifest).
fn is_for(flow: FlowFactory, case: &Case) -> bool {
    let handles: Vec<String> = (flow.make)()
        .triggers()
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
    applicability(manifest_for(flow.name).as_ref(), &handles, &case.scenario) == Applicability::Runs
}

/// Every case runs against at least one correct reference flow (whose trial then requires it
/// to pass): a case no flow exercises proves nothing.
fn every_case_exercised_trial(suite: &Suite, flows: &[FlowFactory]) -> Trial {
    let unexercised: Vec<String> = suite
        .cases
        .iter()
        .filter(|c| !flows.iter().any(|f| f.broken.is_none() && is_for(*f, c)))
        .map(|c| c.id.clone())
        .collect();
    Trial::test("tidy::every-case-is-exercised", move || {
        if unexercised.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "no correct reference flow runs these cases, so nothing shows they can pass; add a reference flow that declares their trigger (harness/src/flows/manifests.rs) or change the case:\n{}",
                unexercised.join("\n")
            )
            .into())
        }
    })
}

/// The case `id` of the suite.
fn case(suite: &Suite, id: &str) -> Result<Case, Failed> {
    suite
        .cases
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| Failed::from(format!("no case {id} in scenarios/")))
}

/// The alias (`ev2`) of a transcript line of `kind` (`event`, `deliver`).
fn alias_of<'a>(kind: &str, line: &'a str) -> Option<&'a str> {
    let mut words = line.split_whitespace().skip(1);
    (words.next() == Some(kind)).then(|| words.next()).flatten()
}

/// `delivery/reordered-events-are-all-handled` holds every event back until the next one
/// overtakes it: its transcript shows a later event (`ev2`) delivered before an earlier one
/// (`ev1`), by `occurredAt`.
fn reorder_inverts_trial(rt: Arc<Runtime>, suite: &Suite) -> Trial {
    let case = case(suite, "delivery/reordered-events-are-all-handled");
    Trial::test("transcript::reorder-inverts-delivery-order", move || {
        let case = case?;
        let flow = harness::flows::find_flow("teams-on-refresh-failure")
            .map_err(|e| Failed::from(e.to_string()))?;
        let mut session = session(&rt, flow)?;
        let transcript = session.run_case(&case).transcript.clone();
        // Events are numbered in the order they occurred; first attempts appear in the order
        // they were sent.
        let occurred: Vec<&str> = transcript
            .lines()
            .filter_map(|l| alias_of("event", l))
            .collect();
        let delivered: Vec<&str> = transcript
            .lines()
            .filter(|l| l.contains(" attempt 1 "))
            .filter_map(|l| alias_of("deliver", l))
            .collect();
        if occurred != ["ev1", "ev2", "ev3"] {
            return Err(format!("three events expected, in order:\n{transcript}").into());
        }
        let position = |ev: &str| delivered.iter().position(|d| *d == ev);
        match (position("ev1"), position("ev2")) {
            (Some(first), Some(second)) if second < first => Ok(()),
            _ => Err(format!(
                "ev2 must be delivered before ev1 (the reorder fault inverts their order); delivered {delivered:?}:\n{transcript}"
            )
            .into()),
        }
    })
}

/// The genuine-repeat cases have two events whose payloads are equal but for their ids
/// (`eventId`, `jobId`: two evaluations are two jobs) and times: a flow that tells events apart by
/// their values rather than by `eventId` takes the second for a repeat of the first.
fn genuine_repeats_trial(rt: Arc<Runtime>, suite: &Suite) -> Trial {
    let cases: Vec<(Result<Case, Failed>, &str)> = [
        (
            "segment/the-same-crossing-twice-is-handled-twice",
            "email-on-segment-threshold",
        ),
        (
            "measure/the-same-crossing-twice-is-handled-twice",
            "teams-on-measure-threshold",
        ),
    ]
    .iter()
    .map(|(id, flow)| (case(suite, id), *flow))
    .collect();
    Trial::test(
        "transcript::genuine-repeats-differ-only-in-id-and-times",
        move || {
            for (case, flow) in cases {
                let case = case?;
                let flow =
                    harness::flows::find_flow(flow).map_err(|e| Failed::from(e.to_string()))?;
                let runner = rt
                    .block_on(Runner::new(
                        FlowUnderTest::InProcess(flow),
                        RunOptions::default(),
                    ))
                    .map_err(|e| Failed::from(e.to_string()))?;
                let run = rt.block_on(runner.run(&case.scenario));
                let payloads: Vec<serde_json::Value> = run
                    .events
                    .iter()
                    .map(|e| {
                        let mut v = serde_json::to_value(&e.payload).unwrap_or_default();
                        if let Some(o) = v.as_object_mut() {
                            for k in [
                                "eventId",
                                "jobId",
                                "occurredAt",
                                "evaluationDate",
                                "evaluationTime",
                            ] {
                                o.remove(k);
                            }
                        }
                        v
                    })
                    .collect();
                match payloads.as_slice() {
                    [a, b] if a == b => {}
                    _ => {
                        return Err(format!(
                        "{}: two events equal but for their ids and times expected, got {payloads:#?}",
                        case.id
                    )
                    .into());
                    }
                }
            }
            Ok(())
        },
    )
}

fn main() {
    let args = Arguments::from_args();
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the runtime: {e}")),
    );
    let selection = Selection {
        suite: root().join("scenarios"),
        ..Selection::default()
    };
    let suite = match selection.load() {
        Ok(s) => s,
        Err(e) => {
            if let harness::session::SelectionError::Scenarios(errors) = &e {
                for e in errors {
                    eprintln!("{e}");
                }
            }
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let snapshots = root().join("snapshots");
    let flows = reference_flows();
    let mut trials = Vec::new();
    for flow in flows.iter().copied() {
        let applicable: Vec<Case> = suite
            .cases
            .iter()
            .filter(|c| is_for(flow, c))
            .cloned()
            .collect();
        match flow.broken {
            None => trials.extend(
                applicable
                    .into_iter()
                    .map(|c| reference_trial(rt.clone(), flow, c, snapshots.clone())),
            ),
            Some(_) => trials.push(broken_trial(rt.clone(), flow, applicable)),
        }
    }
    trials.extend(property_trials(&rt, &flows));
    trials.push(orphaned_snapshots_trial(&suite, &flows, snapshots));
    trials.push(every_case_exercised_trial(&suite, &flows));
    trials.push(reorder_inverts_trial(rt.clone(), &suite));
    trials.push(genuine_repeats_trial(rt.clone(), &suite));
    trials.push(process_trial("teams-on-refresh-failure", true));
    trials.push(process_trial("teams-not-idempotent", false));
    libtest_mimic::run(&args, trials).exit();
}
