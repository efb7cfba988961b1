//! Scenario replay throughput: `cargo bench --bench suite_replay`.
//!
//! Replays every case of `scenarios/` against each correct reference flow, in-process on virtual
//! time, a few rounds, and prints cases per second (skipped cases are not counted).

use std::path::PathBuf;
use std::time::Instant;

use harness::case::{CaseSettings, run_case};
use harness::flows::reference_flows;
use harness::outcome::Outcome;
use harness::replay::{FlowUnderTest, RunOptions, Runner};
use harness::scenario::load_suite;

fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let suite = load_suite(&root, std::slice::from_ref(&root)).unwrap_or_else(|e| panic!("{e:?}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut total_cases, mut total_secs) = (0usize, 0f64);
    for flow in reference_flows().into_iter().filter(|f| f.broken.is_none()) {
        let runner = runtime
            .block_on(Runner::new(
                FlowUnderTest::InProcess(flow),
                RunOptions::default(),
            ))
            .unwrap();
        let started = Instant::now();
        let mut ran = 0;
        for _ in 0..rounds {
            for case in &suite.cases {
                let r = runtime.block_on(run_case(
                    &runner,
                    &case.id,
                    &case.path,
                    &case.scenario,
                    CaseSettings::default(),
                ));
                assert_ne!(
                    r.outcome,
                    Outcome::Fail,
                    "{} failed: {:?}",
                    case.id,
                    r.failures
                );
                if r.outcome != Outcome::Skipped {
                    ran += 1;
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{:<28} {ran:>4} cases in {secs:.2} s: {:.0} cases/s",
            flow.name,
            ran as f64 / secs
        );
        total_cases += ran;
        total_secs += secs;
    }
    println!(
        "all reference flows: {total_cases} cases in {total_secs:.2} s: {:.0} cases/s",
        total_cases as f64 / total_secs
    );
}
