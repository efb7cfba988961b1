//! The conformance suite as tests: `cargo test --test suite`.
//!
//! - `reference::<flow>::<case>`: every case of `scenarios/` against every correct reference
//!   flow (in-process, on virtual time) passes, snapshots included (under `CI=true` a missing or
//!   different snapshot fails and nothing is written).
//! - `broken::<flow>`: every deliberately broken variant fails at least one case — the suite can
//!   fail, and catches each planted mistake.
//! - `property::<law>::<flow>`: the laws hold for the reference flows over generated timelines;
//!   `broken-property::<law>::<flow>` checks that the broken variant the law targets breaks it.
//! - `process::<flow>`: the suite run by the real binary against the flow as a process
//!   (`insightsim run --flow-cmd "insightsim flow <name>"`), with a JUnit report.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use harness::case::{CaseSettings, run_case};
use harness::flow::FlowFactory;
use harness::flows::reference_flows;
use harness::outcome::{CaseResult, Outcome};
use harness::properties::{check_law, laws};
use harness::replay::{FlowUnderTest, RunOptions, Runner};
use harness::report::Console;
use harness::scenario::{Case, load_suite};
use harness::snapshot::{Mode, SnapshotStore};
use libtest_mimic::{Arguments, Failed, Trial};
use tokio::runtime::Runtime;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn render(result: &CaseResult) -> String {
    let mut console = Console::new(Vec::new())
        .reproduce_with(format!("insightsim run --flow {} --filter", result.flow));
    let _ = console.case(result);
    String::from_utf8_lossy(&console.into_inner()).into_owned()
}

async fn runner(flow: FlowFactory) -> Result<Runner, Failed> {
    Runner::new(FlowUnderTest::InProcess(flow), RunOptions::default())
        .await
        .map_err(|e| Failed::from(format!("cannot start the runner: {e:#}")))
}

fn reference_trial(rt: Arc<Runtime>, flow: FlowFactory, case: Case, snapshots: PathBuf) -> Trial {
    Trial::test(
        format!("reference::{}::{}", flow.name, case.id),
        move || {
            let mode = Mode::from_env(false).map_err(|e| Failed::from(e.to_string()))?;
            let store = SnapshotStore::new(&snapshots, mode).with_source("insightsim run");
            let result = rt.block_on(async {
                let runner = runner(flow).await?;
                let relative = case
                    .path
                    .strip_prefix(root())
                    .unwrap_or(&case.path)
                    .to_path_buf();
                Ok::<_, Failed>(
                    run_case(
                        &runner,
                        &case.id,
                        &relative,
                        &case.scenario,
                        CaseSettings {
                            snapshots: Some(&store),
                            xfail: None,
                        },
                    )
                    .await,
                )
            })?;
            match result.outcome {
                Outcome::Pass | Outcome::Skipped => Ok(()),
                _ => Err(render(&result).into()),
            }
        },
    )
}

fn broken_trial(rt: Arc<Runtime>, flow: FlowFactory, cases: Vec<Case>) -> Trial {
    Trial::test(format!("broken::{}", flow.name), move || {
        let results = rt.block_on(async {
            let runner = runner(flow).await?;
            let mut results = Vec::new();
            for case in &cases {
                results.push(
                    run_case(
                        &runner,
                        &case.id,
                        &case.path,
                        &case.scenario,
                        CaseSettings::default(),
                    )
                    .await,
                );
            }
            Ok::<_, Failed>(results)
        })?;
        let failed: Vec<&CaseResult> = results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .collect();
        if failed.is_empty() {
            return Err(format!(
                "the broken variant {} ({}) passed every case: the suite does not catch its mistake",
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
            let handles = (flow.make)().triggers().contains(&law.trigger);
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
                let runner = rt.block_on(runner(flow))?;
                let result = check_law(rt.handle(), &runner, law, cases, 42, Some(&dir));
                match (&result.failure, flow.broken) {
                    (None, None) | (Some(_), Some(_)) => Ok(()),
                    (Some(f), None) => Err(format!("{}\n{}", law.statement, f.as_failure().actual).into()),
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

fn main() {
    let args = Arguments::from_args();
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the runtime: {e}")),
    );
    let scenarios = root().join("scenarios");
    let suite = match load_suite(&scenarios, std::slice::from_ref(&scenarios)) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            std::process::exit(2);
        }
    };
    let snapshots = root().join("snapshots");
    let flows = reference_flows();
    let mut trials = Vec::new();
    for flow in flows.iter().copied() {
        let triggers = (flow.make)().triggers();
        let applicable: Vec<Case> = suite
            .cases
            .iter()
            .filter(|c| c.triggers().iter().all(|t| triggers.contains(t)))
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
    trials.push(process_trial("teams-on-refresh-failure", true));
    trials.push(process_trial("teams-not-idempotent", false));
    libtest_mimic::run(&args, trials).exit();
}
