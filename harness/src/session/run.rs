//! [`Session`]: the case loop and the property checks of one run against one flow.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::runtime::Handle;

use super::naming::{URL_SINKS_ADDR, reference_flow_of};
use crate::case::{CaseSettings, run_case};
use crate::flow::FlowFactory;
use crate::flows::manifest_for;
use crate::outcome::{CaseResult, Outcome, TriggerUse};
use crate::properties::{Law, LawResult, check_law, laws};
use crate::replay::{Applicability, FlowUnderTest, RunOptions, Runner, RunnerError, applicability};
use crate::report::XfailList;
use crate::scenario::{Case, Level, write};
use crate::snapshot::{SnapshotStore, name_for};

/// The seed of the generated timelines when the run does not replace seeds (`--seed`).
pub const DEFAULT_LAW_SEED: u64 = 42;

/// What a run is doing, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// Case `index` (0-based) of `total` is about to run.
    Case {
        index: usize,
        total: usize,
        case: &'a Case,
    },
    /// A law is about to be checked over `timelines` generated timelines.
    Law { law: &'a Law, timelines: u32 },
    /// A case or a law was graded.
    Result(&'a CaseResult),
}

/// One run against one flow: the runner, where snapshots are compared, the flow's expected
/// failures, and the results so far.
///
/// Its methods block on the given runtime, so they are called from outside it (a `main`, a test
/// trial), as the CLI and `tests/suite.rs` do. See the crate docs for an example.
#[derive(Debug)]
pub struct Session {
    runtime: Handle,
    runner: Runner,
    snapshots: Option<SnapshotStore>,
    /// Scenario paths are written into snapshot headers relative to this directory.
    input_root: Option<PathBuf>,
    xfail: Option<XfailList>,
    results: Vec<CaseResult>,
    skips: SkipCount,
}

/// How many of the cases run so far were for the flow, and how many of those were skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCount {
    /// Cases for the flow (not counting those about what its manifest does not declare).
    pub considered: usize,
    /// Of those, skipped.
    pub skipped: usize,
}

impl Session {
    /// Starts the runner for `flow` on `runtime` (for a command flow, this discovers its
    /// triggers). A flow behind a URL gets its sinks on [`URL_SINKS_ADDR`] unless `options` say
    /// where.
    pub fn start(
        runtime: &Handle,
        flow: FlowUnderTest,
        mut options: RunOptions,
    ) -> Result<Session, RunnerError> {
        if options.sinks_addr.is_none() && matches!(flow, FlowUnderTest::Url { .. }) {
            options.sinks_addr = Some(URL_SINKS_ADDR);
        }
        // A reference flow or mutant (in-process, or as `insightsim flow NAME`) is held to the
        // manifest it carries in code, unless another is given.
        if options.manifest.is_none() {
            options.manifest = match &flow {
                FlowUnderTest::InProcess(f) => manifest_for(f.name),
                FlowUnderTest::Command { command, .. } => {
                    reference_flow_of(command).and_then(|name| manifest_for(&name))
                }
                FlowUnderTest::Url { .. } => None,
            };
        }
        let runner = runtime.block_on(Runner::new(flow, options))?;
        Ok(Session {
            runtime: runtime.clone(),
            runner,
            snapshots: None,
            input_root: None,
            xfail: None,
            results: Vec::new(),
            skips: SkipCount::default(),
        })
    }

    /// Compares transcripts with the snapshots of `store` (for cases that ask for one).
    #[must_use]
    pub fn with_snapshots(mut self, store: SnapshotStore) -> Session {
        self.snapshots = Some(store);
        self
    }

    /// Writes scenario paths into snapshot headers relative to `root` (the workspace), rather
    /// than as the suite was given.
    #[must_use]
    pub fn with_input_root(mut self, root: impl Into<PathBuf>) -> Session {
        self.input_root = Some(root.into());
        self
    }

    /// Grades against the flow's expected failures.
    #[must_use]
    pub fn with_expected_failures(mut self, list: XfailList) -> Session {
        self.xfail = Some(list);
        self
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn flow_name(&self) -> String {
        self.runner.flow_name()
    }

    /// Runs one case, records its result and returns it.
    pub fn run_case(&mut self, case: &Case) -> &CaseResult {
        let input = match &self.input_root {
            Some(root) => case.path.strip_prefix(root).unwrap_or(&case.path),
            None => case.path.as_path(),
        };
        let settings = CaseSettings {
            snapshots: self.snapshots.as_ref(),
            xfail: self.xfail.as_ref(),
        };
        match self.runner.applicability(&case.scenario) {
            Applicability::Runs => self.skips.considered += 1,
            Applicability::Skipped(_) => {
                self.skips.considered += 1;
                self.skips.skipped += 1;
            }
            Applicability::NotDeclared(_) => {}
        }
        let result = self.runtime.block_on(run_case(
            &self.runner,
            &case.id,
            input,
            &case.scenario,
            settings,
        ));
        self.push(result)
    }

    /// Runs `cases` in order, telling `progress` before each and after each.
    pub fn run_cases(&mut self, cases: &[Case], mut progress: impl FnMut(Progress<'_>)) {
        for (index, case) in cases.iter().enumerate() {
            progress(Progress::Case {
                index,
                total: cases.len(),
                case,
            });
            progress(Progress::Result(self.run_case(case)));
        }
    }

    /// The laws the flow is held to: those about a trigger it declares (or, without a
    /// manifest, handles).
    pub fn laws(&self) -> Vec<Law> {
        let triggers = self.runner.declared_triggers();
        laws()
            .into_iter()
            .filter(|law| triggers.iter().any(|t| t == law.trigger))
            .collect()
    }

    /// The cases run so far that were for the flow, and how many of them were skipped.
    pub fn skip_count(&self) -> SkipCount {
        self.skips
    }

    /// When most of the cases for the flow were skipped, what to say: a flow wired to the wrong
    /// trigger passes a run in which nearly everything is skipped.
    pub fn skip_warning(&self) -> Option<String> {
        skip_warning(self.skips, self.runner.triggers())
    }

    /// Where the flow's manifest and what it subscribes to disagree ("declared X, subscribed
    /// Y"): discovery as a cross-check of the manifest.
    pub fn trigger_mismatch(&self) -> Option<String> {
        let manifest = self.runner.manifest()?;
        let mut declared: Vec<&str> = manifest.triggers();
        declared.sort_unstable();
        let mut subscribed: Vec<&str> = self.runner.triggers().iter().map(String::as_str).collect();
        subscribed.sort_unstable();
        (declared != subscribed && self.runner.broken().is_none()).then(|| {
            format!(
                "declared {}, subscribed {}: the flow's manifest and what it subscribes to disagree",
                declared.join(", "),
                if subscribed.is_empty() {
                    "nothing".to_owned()
                } else {
                    subscribed.join(", ")
                }
            )
        })
    }

    /// Why the flow cannot run at all, if it cannot (every case then fails with it).
    pub fn broken(&self) -> Option<&str> {
        self.runner.broken()
    }

    /// Checks `law` over `timelines` generated timelines (seeded by the run's seed, or
    /// [`DEFAULT_LAW_SEED`]), writes a minimal failing timeline to `failures_dir` (when given),
    /// and records the outcome as a case of the run.
    pub fn check_law(
        &mut self,
        law: Law,
        timelines: u32,
        failures_dir: Option<&Path>,
    ) -> &CaseResult {
        let seed = self.runner.options.seed.unwrap_or(DEFAULT_LAW_SEED);
        let started = std::time::Instant::now();
        let checked = check_law(
            &self.runtime,
            &self.runner,
            law,
            timelines,
            seed,
            failures_dir,
        );
        let mut result = law_result(&self.flow_name(), seed, &checked);
        result.duration = started.elapsed();
        self.push(result)
    }

    /// Checks every law the flow is held to ([`Session::laws`]), telling `progress` before and
    /// after each.
    pub fn check_laws(
        &mut self,
        timelines: u32,
        failures_dir: Option<&Path>,
        filter: &[String],
        mut progress: impl FnMut(Progress<'_>),
    ) {
        for law in self
            .laws()
            .into_iter()
            .filter(|law| crate::scenario::matches_filter(law.id, filter))
        {
            progress(Progress::Law {
                law: &law,
                timelines,
            });
            progress(Progress::Result(self.check_law(
                law,
                timelines,
                failures_dir,
            )));
        }
    }

    /// Every result so far, cases first, in the order they ran.
    pub fn results(&self) -> &[CaseResult] {
        &self.results
    }

    pub fn into_results(self) -> Vec<CaseResult> {
        self.results
    }

    fn push(&mut self, result: CaseResult) -> &CaseResult {
        self.results.push(result);
        &self.results[self.results.len() - 1]
    }
}

/// What to say when most of the cases for a flow that subscribes to `handles` were skipped.
fn skip_warning(skips: SkipCount, handles: &[String]) -> Option<String> {
    let SkipCount {
        considered,
        skipped,
    } = skips;
    if considered == 0 || skipped * 2 <= considered {
        return None;
    }
    let subscribes = if handles.is_empty() {
        "the flow subscribes to nothing".to_owned()
    } else {
        format!("the flow subscribes only to {}", handles.join(", "))
    };
    Some(format!(
        "{skipped} of {considered} cases were skipped: {subscribes}. A flow meant for another trigger is wired to the wrong one; if this is what the flow is for, declare it (--manifest FILE, or --handles TRIGGER --effect teams|email|http) so that only its cases run, or pass --allow-skips"
    ))
}

/// A law's outcome as a case of the report: a `MUST`, failed with the minimal failing timeline
/// (as a scenario file) in place of a transcript.
fn law_result(flow: &str, seed: u64, checked: &LawResult) -> CaseResult {
    let failures: Vec<_> = checked.failure.iter().map(|f| f.as_failure()).collect();
    CaseResult {
        id: checked.law.id.to_owned(),
        flow: flow.to_owned(),
        requirement: format!("The flow MUST obey this law: {}", checked.law.statement),
        level: Level::Must,
        seed,
        outcome: if failures.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        skip_reason: None,
        failures,
        duration: Duration::ZERO,
        transcript: checked
            .failure
            .as_ref()
            .map(|f| write(&f.scenario))
            .unwrap_or_default(),
        snapshot: None,
        flow_stderr: None,
        expected_failure: false,
        calls: Default::default(),
        notes: Vec::new(),
        deliveries: Vec::new(),
        replay_file: checked
            .failure
            .as_ref()
            .and_then(|f| f.written_to.as_ref())
            .map(|p| p.display().to_string()),
        runs: Vec::new(),
    }
}

/// Triggers the flow was delivered events of in this run but never acted on: it answered none
/// of them with a `2xx`, or never called the API or a sink after one. One line each, with a
/// hint (a flow behind a URL is subscribed to what `--triggers` says).
pub fn never_acted(results: &[CaseResult], url_flow: bool) -> Vec<String> {
    let mut by_trigger: Vec<TriggerUse> = Vec::new();
    for u in results.iter().flat_map(|r| &r.deliveries) {
        match by_trigger.iter_mut().find(|t| t.trigger == u.trigger) {
            Some(t) => {
                t.deliveries += u.deliveries;
                t.answered_ok += u.answered_ok;
                t.acted |= u.acted;
            }
            None => by_trigger.push(u.clone()),
        }
    }
    let hint = if url_flow {
        "; if the flow does not handle it, leave it out of --triggers (the harness subscribes the URL to every trigger --triggers lists, all six by default)"
    } else {
        "; a flow that subscribes to a trigger is expected to act on its events"
    };
    by_trigger
        .into_iter()
        .filter(|t| t.deliveries > 0 && (t.answered_ok == 0 || !t.acted))
        .map(|t| {
            let what = if t.answered_ok == 0 {
                format!("answered none of its {} deliveries with a 2xx", t.deliveries)
            } else {
                format!(
                    "answered its deliveries but never called the API or a sink after one ({} deliveries)",
                    t.deliveries
                )
            };
            format!("the flow never acted on {}: it {what}{hint}", t.trigger)
        })
        .collect()
}

/// The snapshot files (stems, see [`name_for`]) that running `cases` against the correct flows
/// among `flows` produces: one per (flow, case) where the case asks for a snapshot and is for
/// the flow ([`Runner::applicability`] with the flow's manifest).
pub fn snapshot_names(flows: &[FlowFactory], cases: &[Case]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for flow in flows.iter().filter(|f| f.broken.is_none()) {
        let manifest = manifest_for(flow.name);
        let handles: Vec<String> = (flow.make)()
            .triggers()
            .iter()
            .map(|t| (*t).to_owned())
            .collect();
        for case in cases.iter().filter(|c| c.scenario.expect.snapshot) {
            if applicability(manifest.as_ref(), &handles, &case.scenario) == Applicability::Runs {
                names.insert(name_for(flow.name, &case.id));
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_skipped_most_of_its_cases_says_so() {
        let count = |considered, skipped| SkipCount {
            considered,
            skipped,
        };
        let handles = ["datasource-refresh-succeeded".to_owned()];
        assert_eq!(skip_warning(count(0, 0), &handles), None);
        assert_eq!(skip_warning(count(10, 5), &handles), None);
        let warning = skip_warning(count(72, 64), &handles).unwrap();
        assert!(
            warning.starts_with(
                "64 of 72 cases were skipped: the flow subscribes only to datasource-refresh-succeeded."
            ),
            "{warning}"
        );
        assert!(
            skip_warning(count(3, 3), &[])
                .unwrap()
                .contains("the flow subscribes to nothing.")
        );
    }
}
