//! Property-based checks: generated timelines run against the flow, each held to a law.
//!
//! A law is stated in prose (it is printed in reports) and checked on what the flow visibly did.
//! proptest generates the timelines from a seed and, when a law fails, shrinks the timeline to a
//! small one; the harness writes that minimal case out as a scenario file, so that it can be
//! replayed with `insightsim run <file>` and kept as a regression case.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::json;
use simulator::SimDuration;

use crate::outcome::Failure;
use crate::replay::{CaseRun, Runner};
use crate::scenario::{
    DataSourceStep, Expect, ExpectedSubscription, Outcome, RedeliverStep, Scenario, SegmentStep,
    Step,
};

/// A law about what a flow visibly does.
#[derive(Clone, Copy)]
pub struct Law {
    /// `property/<name>`: the id reports use.
    pub id: &'static str,
    /// The trigger the law is about (a flow that does not handle it is not held to the law).
    pub trigger: &'static str,
    /// The law in one sentence.
    pub statement: &'static str,
    strategy: fn() -> BoxedStrategy<Scenario>,
    holds: fn(&Scenario, &CaseRun) -> Result<(), String>,
    /// The law as the expectations of one timeline (written into a shrunk failure, so that the
    /// file fails when replayed against the same flow).
    expect: fn(&Scenario) -> Expect,
}

impl std::fmt::Debug for Law {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Law").field("id", &self.id).finish()
    }
}

/// The laws, one or more per trigger the reference flows handle.
pub fn laws() -> Vec<Law> {
    vec![
        Law {
            id: "property/one-effect-per-upward-crossing",
            trigger: "segment-threshold-crossed",
            statement: "For any sequence of segment evaluations, the flow acts exactly once per upward crossing of its threshold and never otherwise.",
            strategy: segment_timelines,
            holds: one_effect_per_crossing,
            expect: crossing_expectation,
        },
        Law {
            id: "property/one-effect-per-permanent-failure",
            trigger: "datasource-refresh-failed",
            statement: "For any sequence of data source refresh outcomes, the flow acts exactly once per permanent failure (failed or timed out) and never for a success or a transient failure.",
            strategy: failure_timelines,
            holds: one_effect_per_permanent_failure,
            expect: failure_expectation,
        },
        Law {
            id: "property/redelivery-has-no-second-effect",
            trigger: "datasource-refresh-failed",
            statement: "However many times an event is redelivered, the flow acts on it once.",
            strategy: redelivery_timelines,
            holds: one_effect_per_permanent_failure,
            expect: failure_expectation,
        },
        Law {
            id: "property/every-page-fetched-once",
            trigger: "full-refresh-completed",
            statement: "For any number of customers and any call limit, a flow exporting after a full refresh fetches every row exactly once and makes no call before a Retry-After has passed.",
            strategy: export_timelines,
            holds: pages_once_and_no_early_retry,
            expect: export_expectation,
        },
    ]
}

/// What checking one law found.
#[derive(Debug, Clone)]
pub struct LawResult {
    pub law: Law,
    pub cases: u32,
    /// `None` when the law held for every generated timeline.
    pub failure: Option<LawFailure>,
}

#[derive(Debug, Clone)]
pub struct LawFailure {
    /// Whether the law itself failed (`false`: it held on every timeline, but some runs could
    /// not be carried out as asked: the flow did not subscribe, crashed, ...).
    pub law_broken: bool,
    /// For a law that held: the check of the first run error (`subscriptions`, `flow`, ...).
    pub error_check: Option<String>,
    pub message: String,
    /// The minimal failing timeline.
    pub scenario: Scenario,
    /// Where it was written, when it was.
    pub written_to: Option<PathBuf>,
}

impl LawFailure {
    pub fn as_failure(&self) -> Failure {
        Failure {
            check: if self.law_broken {
                "property".to_owned()
            } else {
                self.error_check
                    .clone()
                    .unwrap_or_else(|| "property".to_owned())
            },
            expected: if self.law_broken {
                "the law to hold for every generated timeline".to_owned()
            } else {
                "every generated timeline to run as asked".to_owned()
            },
            actual: match &self.written_to {
                Some(p) => format!(
                    "{} (minimal case written to {}; replay it with insightsim run {})",
                    self.message,
                    p.display(),
                    p.display()
                ),
                None => self.message.clone(),
            },
        }
    }
}

/// Checks `law` against the runner's flow with `cases` generated timelines from `seed`; a
/// minimal failing timeline is written to `failures_dir` (when given).
pub fn check_law(
    runtime: &tokio::runtime::Handle,
    runner: &Runner,
    law: Law,
    cases: u32,
    seed: u64,
    failures_dir: Option<&Path>,
) -> LawResult {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut test_runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    // The law is evaluated on every run, even one that had errors (the flow did not hold the
    // subscription asked for, ...): a law "failed" only by a precondition says nothing about
    // the law. The first run error is kept, and reported if the law held throughout.
    let first_error: std::cell::RefCell<Option<(Scenario, Failure)>> = Default::default();
    let result = test_runner.run(&(law.strategy)(), |scenario| {
        let mut run = runtime.block_on(runner.run(&scenario));
        // A flow outside the harness that acted after it was judged quiet gets the timeline
        // again, with the wider settle window the runner learnt (as a case does, `case.rs`).
        if run.late.is_some() {
            run = runtime.block_on(runner.run(&scenario));
            if let Some(late) = run.late {
                return Err(TestCaseError::fail(format!(
                    "the flow acted late ({} after it was last waited for; --settle raises the window)",
                    crate::replay::pace::human(late)
                )));
            }
        }
        let verdict = (law.holds)(&scenario, &run);
        if let Some(e) = run.errors.first() {
            first_error
                .borrow_mut()
                .get_or_insert_with(|| (scenario.clone(), e.clone()));
        }
        verdict.map_err(|law| {
            let errors: Vec<String> = run
                .errors
                .iter()
                .map(|e| format!("{}: expected {}, got {}", e.check, e.expected, e.actual))
                .collect();
            TestCaseError::fail(if errors.is_empty() {
                law
            } else {
                format!("{law} (the run also had errors: {})", errors.join("; "))
            })
        })
    });
    let name = |mut scenario: Scenario| {
        scenario.id = format!(
            "{}-{}",
            law.id.trim_start_matches("property/"),
            slug(&runner.flow_name())
        );
        scenario.description = format!(
            "Minimal failing case found by {} against {} (seed {seed}).",
            law.id,
            runner.flow_name()
        );
        scenario.requirement = format!("The flow MUST obey {}: {}", law.id, law.statement);
        scenario.expect = (law.expect)(&scenario);
        scenario
    };
    let write = |scenario: &Scenario| {
        failures_dir.and_then(|dir| {
            std::fs::create_dir_all(dir).ok()?;
            let path = dir.join(format!("{}.toml", scenario.id));
            std::fs::write(&path, crate::scenario::write(scenario)).ok()?;
            Some(path)
        })
    };
    let failure = match result {
        Ok(()) => first_error.into_inner().map(|(scenario, error)| {
            let scenario = name(scenario);
            LawFailure {
                law_broken: false,
                error_check: Some(error.check.clone()),
                message: format!(
                    "the law held over {cases} generated timelines, but a run had errors: {}: expected {}, got {}",
                    error.check, error.expected, error.actual
                ),
                written_to: write(&scenario),
                scenario,
            }
        }),
        Err(TestError::Fail(reason, minimal)) => {
            let scenario = name(minimal);
            Some(LawFailure {
                law_broken: true,
                error_check: None,
                message: reason.to_string(),
                written_to: write(&scenario),
                scenario,
            })
        }
        Err(TestError::Abort(reason)) => Some(LawFailure {
            law_broken: false,
            error_check: Some("property".to_owned()),
            message: format!("aborted: {reason}"),
            scenario: base("aborted", Vec::new(), Vec::new()),
            written_to: None,
        }),
    };
    LawResult {
        law,
        cases,
        failure,
    }
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn base(
    requirement_trigger: &str,
    subscriptions: Vec<ExpectedSubscription>,
    steps: Vec<Step>,
) -> Scenario {
    let mut tenant = toml::Table::new();
    tenant.insert("customers".into(), toml::Value::Integer(2000));
    Scenario {
        format: 1,
        id: format!("generated/{requirement_trigger}"),
        description: String::new(),
        requirement: "A flow MUST obey the law this case was generated for.".into(),
        seed: None,
        start: None,
        tenant,
        subscriptions,
        steps,
        run_for: None,
        expect: Expect::default(),
    }
}

const THRESHOLD: u64 = 1000;
/// The segment the crossing law evaluates.
const SEGMENT: &str = "HighValueCustomers";

fn segment_timelines() -> BoxedStrategy<Scenario> {
    // Around the threshold, with its boundary (1000 is not above, 1001 is) drawn often: that is
    // where off-by-one mistakes live.
    let count = prop_oneof![
        3 => 850u64..1150,
        1 => Just(THRESHOLD),
        1 => Just(THRESHOLD + 1),
    ];
    prop::collection::vec(count, 1..8)
        .prop_map(|counts| {
            let steps = counts
                .iter()
                .enumerate()
                .map(|(i, &c)| Step {
                    at: SimDuration::from_hours(i as i64 * 6),
                    evaluate_segment: Some(SegmentStep {
                        name: SEGMENT.into(),
                        entity_count: c,
                    }),
                    ..Step::default()
                })
                .collect();
            let sub = ExpectedSubscription {
                trigger: "segment-threshold-crossed".into(),
                inputs: json!({"segmentName": SEGMENT, "threshold": THRESHOLD})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            };
            base("segment", vec![sub], steps)
        })
        .boxed()
}

/// The reference model: crossings of a fold over successful evaluations, from the initial count.
fn expected_crossings(initial: u64, counts: impl Iterator<Item = u64>) -> u64 {
    let mut previous = initial;
    let mut crossings = 0;
    for c in counts {
        if previous <= THRESHOLD && c > THRESHOLD {
            crossings += 1;
        }
        previous = c;
    }
    crossings
}

/// The segment's member count before the timeline's first evaluation: the case tenant's
/// initial evaluation, from the simulator's own formula.
fn initial_count(scenario: &Scenario) -> Result<u64, String> {
    let spec = crate::replay::tenant::case_tenant(scenario).map_err(|e| e.to_string())?;
    let index = spec
        .segments
        .iter()
        .position(|s| s.name == SEGMENT)
        .ok_or_else(|| format!("the case tenant has no segment {SEGMENT}"))?;
    Ok(simulator::tenant::spec::initial_segment_count(&spec, index))
}

fn one_effect_per_crossing(scenario: &Scenario, run: &CaseRun) -> Result<(), String> {
    let initial = initial_count(scenario)?;
    let counts = scenario
        .steps
        .iter()
        .filter_map(|s| s.evaluate_segment.as_ref().map(|e| e.entity_count));
    let counts: Vec<u64> = counts.collect();
    let expected = expected_crossings(initial, counts.iter().copied());
    let effects = run.sink_calls.len() as u64;
    if effects == expected {
        Ok(())
    } else {
        Err(format!(
            "counts {counts:?} around {THRESHOLD} cross upward {expected} time(s); the flow acted {effects} time(s)"
        ))
    }
}

fn sink_count(count: u64) -> crate::scenario::SinkExpect {
    crate::scenario::SinkExpect {
        sink: crate::scenario::SinkKind::Any,
        count: Some(count),
        min: None,
        max: None,
        body_contains: None,
        json: Default::default(),
    }
}

fn crossing_expectation(scenario: &Scenario) -> Expect {
    let counts = scenario
        .steps
        .iter()
        .filter_map(|s| s.evaluate_segment.as_ref().map(|e| e.entity_count));
    // A tenant the case cannot build fails the run itself, with its own message.
    let initial = initial_count(scenario).unwrap_or(0);
    Expect {
        sinks: vec![sink_count(expected_crossings(initial, counts))],
        ..Expect::default()
    }
}

fn permanent_failures(scenario: &Scenario) -> u64 {
    scenario
        .steps
        .iter()
        .filter_map(|s| s.refresh_datasource.as_ref())
        .filter(|d| matches!(d.outcome, Outcome::Fail | Outcome::Timeout))
        .count() as u64
}

fn failure_expectation(scenario: &Scenario) -> Expect {
    Expect {
        sinks: vec![sink_count(permanent_failures(scenario))],
        ..Expect::default()
    }
}

fn export_expectation(_: &Scenario) -> Expect {
    Expect {
        api: Some(crate::scenario::ApiExpect {
            pages_complete: Some("Customer".into()),
            no_early_retries: true,
            ..Default::default()
        }),
        ..Expect::default()
    }
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Fail),
        Just(Outcome::Transient),
        Just(Outcome::Timeout)
    ]
}

fn failure_steps(outcomes: &[(usize, Outcome)]) -> Vec<Step> {
    const SOURCES: [&str; 4] = ["PoS", "eCommerce", "Loyalty", "Newsletter"];
    outcomes
        .iter()
        .enumerate()
        .map(|(i, (source, outcome))| Step {
            at: SimDuration::from_hours(i as i64),
            refresh_datasource: Some(DataSourceStep {
                name: SOURCES[source % SOURCES.len()].into(),
                outcome: *outcome,
            }),
            ..Step::default()
        })
        .collect()
}

fn failed_subscription() -> ExpectedSubscription {
    ExpectedSubscription {
        trigger: "datasource-refresh-failed".into(),
        inputs: serde_json::Map::new(),
    }
}

fn failure_timelines() -> BoxedStrategy<Scenario> {
    prop::collection::vec((0usize..4, outcome()), 1..7)
        .prop_map(|outcomes| {
            base(
                "datasource",
                vec![failed_subscription()],
                failure_steps(&outcomes),
            )
        })
        .boxed()
}

fn redelivery_timelines() -> BoxedStrategy<Scenario> {
    (
        prop::collection::vec((0usize..4, Just(Outcome::Fail)), 1..4),
        1usize..4,
    )
        .prop_map(|(outcomes, redeliveries)| {
            let mut steps = failure_steps(&outcomes);
            let last = steps.last().map_or(SimDuration::ZERO, |s| s.at);
            for r in 0..redeliveries {
                steps.push(Step {
                    at: last + SimDuration::from_mins(10 * (r as i64 + 1)),
                    redeliver: Some(RedeliverStep {
                        trigger: "datasource-refresh-failed".into(),
                        event: None,
                    }),
                    ..Step::default()
                });
            }
            base("redelivery", vec![failed_subscription()], steps)
        })
        .boxed()
}

fn one_effect_per_permanent_failure(scenario: &Scenario, run: &CaseRun) -> Result<(), String> {
    let permanent = permanent_failures(scenario) as usize;
    let effects = run.sink_calls.len();
    if effects == permanent {
        Ok(())
    } else {
        let outcomes: Vec<String> = scenario
            .steps
            .iter()
            .filter_map(|s| {
                s.refresh_datasource
                    .as_ref()
                    .map(|d| format!("{} {:?}", d.name, d.outcome))
            })
            .collect();
        Err(format!(
            "{permanent} permanent failure(s) in [{}]{}; the flow acted {effects} time(s)",
            outcomes.join(", "),
            if scenario.steps.iter().any(|s| s.redeliver.is_some()) {
                " (with redeliveries)"
            } else {
                ""
            }
        ))
    }
}

fn export_timelines() -> BoxedStrategy<Scenario> {
    (101u64..1500, 2u32..12, 1i64..20)
        .prop_map(|(customers, calls, window_s)| {
            let mut s = base(
                "paging",
                vec![ExpectedSubscription {
                    trigger: "full-refresh-completed".into(),
                    inputs: serde_json::Map::new(),
                }],
                vec![Step {
                    at: SimDuration::ZERO,
                    refresh: Some(Default::default()),
                    ..Step::default()
                }],
            );
            s.tenant
                .insert("customers".into(), toml::Value::Integer(customers as i64));
            let mut limits = toml::Table::new();
            limits.insert(
                "rate_limit".into(),
                toml::Value::String(format!("{calls}/{window_s}s")),
            );
            s.tenant.insert("limits".into(), toml::Value::Table(limits));
            s.run_for = Some(SimDuration::from_hours(6));
            s
        })
        .boxed()
}

fn pages_once_and_no_early_retry(scenario: &Scenario, run: &CaseRun) -> Result<(), String> {
    let probe = Scenario {
        expect: export_expectation(scenario),
        ..scenario.clone()
    };
    let failures: Vec<Failure> = crate::check::check(&probe, run, None)
        .into_iter()
        .filter(|f| crate::check::is_behavioural(&f.check))
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        let limit = scenario
            .tenant
            .get("limits")
            .and_then(|l| l.get("rate_limit"))
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        let customers = scenario
            .tenant
            .get("customers")
            .and_then(|v| v.as_integer())
            .unwrap_or(0);
        Err(failures
            .iter()
            .map(|f| {
                format!(
                    "{customers} customers, limit {limit}: {} expected {}, got {}",
                    f.check, f.expected, f.actual
                )
            })
            .collect::<Vec<_>>()
            .join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crossing_model_counts_upward_crossings_only() {
        assert_eq!(expected_crossings(240, [900, 1100, 950].into_iter()), 1);
        assert_eq!(expected_crossings(240, [1100, 900, 1200].into_iter()), 2);
        assert_eq!(expected_crossings(1200, [900, 800].into_iter()), 0);
        assert_eq!(expected_crossings(240, [1000, 1001].into_iter()), 1);
    }

    /// The model starts from the count the case's tenant really has: 12 % of its customers.
    #[test]
    fn the_crossing_model_starts_from_the_case_tenants_initial_count() {
        let mut scenario = base("segment", Vec::new(), Vec::new());
        assert_eq!(initial_count(&scenario), Ok(240));
        scenario
            .tenant
            .insert("customers".into(), toml::Value::Integer(10_000));
        assert_eq!(initial_count(&scenario), Ok(1_200));
    }
}
