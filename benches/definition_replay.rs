//! The suite against the reference flows written as Power Automate definitions (`flowdef`'s
//! runtime) and against the same flows written in Rust, in-process on virtual time:
//! `cargo bench --bench definition_replay [-- --rounds N]`. Rounds alternate Rust and
//! definition; each side's best round counts (the machine is shared, so the best round is the
//! one least disturbed), with the process's CPU time over all rounds beside it. Prints both and
//! the ratio (the target: definitions within 2× of Rust).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use harness::case::{CaseSettings, run_case};
use harness::flow::FlowFactory;
use harness::flow::definition::register;
use harness::flows::find_flow;
use harness::outcome::Outcome;
use harness::replay::{FlowUnderTest, RunOptions, Runner};
use harness::scenario::{Case, load_suite};

/// This process's CPU time (user + system) in seconds, from `/proc/self/stat` (0 elsewhere).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the command.
    (ticks(11) + ticks(12)) / 100.0
}

/// One round of every case; returns (cases run, wall seconds, CPU seconds).
fn replay(runtime: &tokio::runtime::Runtime, runner: &Runner, cases: &[Case]) -> (usize, f64, f64) {
    let started = Instant::now();
    let cpu = cpu_s();
    let mut ran = 0;
    for case in cases {
        let r = runtime.block_on(run_case(
            runner,
            &case.id,
            &case.path,
            &case.scenario,
            CaseSettings::default(),
        ));
        assert_ne!(
            r.outcome,
            Outcome::Fail,
            "{} {}: {:?}",
            r.flow,
            case.id,
            r.failures
        );
        if r.outcome != Outcome::Skipped {
            ran += 1;
            if std::env::var_os("DEFINITION_REPLAY_CASES").is_some() {
                println!(
                    "  {:<60} {:>8.1} ms",
                    case.id,
                    r.duration.as_secs_f64() * 1000.0
                );
            }
        }
    }
    (ran, started.elapsed().as_secs_f64(), cpu_s() - cpu)
}

fn runner(runtime: &tokio::runtime::Runtime, flow: FlowFactory) -> Runner {
    runtime
        .block_on(Runner::new(
            FlowUnderTest::InProcess(flow),
            RunOptions::default(),
        ))
        .unwrap()
}

fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenarios = root.join("scenarios");
    let suite = load_suite(&scenarios, std::slice::from_ref(&scenarios))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pairs = [
        ("teams-on-refresh-failure", "teams-on-refresh-failure.json"),
        (
            "email-on-segment-threshold",
            "packages/email-on-segment-threshold.zip",
        ),
        ("export-on-full-refresh", "export-on-full-refresh.json"),
    ];
    let (mut rust_total, mut def_total) = ((0usize, 0f64), (0usize, 0f64));
    for (rust, file) in pairs {
        let path = root.join("flows/definitions").join(Path::new(file));
        let loaded = flowdef::load(&path).unwrap().remove(0);
        // Held to the end of the pair: dropping it frees the slot its factory makes flows from.
        let registered =
            register(loaded, Arc::new(flowdef::OperationMap::built_in()), None).unwrap();
        let rust_runner = runner(&runtime, find_flow(rust).unwrap());
        let def_runner = runner(&runtime, registered.factory);
        // A warm-up round each (the sinks' first connections, caches).
        replay(&runtime, &rust_runner, &suite.cases);
        replay(&runtime, &def_runner, &suite.cases);
        let (mut rn, mut rs, mut rc) = (0, f64::MAX, 0.0);
        let (mut dn, mut ds, mut dc) = (0, f64::MAX, 0.0);
        for _ in 0..rounds {
            let (n, s, c) = replay(&runtime, &rust_runner, &suite.cases);
            (rn, rs, rc) = (n, rs.min(s), rc + c);
            let (n, s, c) = replay(&runtime, &def_runner, &suite.cases);
            (dn, ds, dc) = (n, ds.min(s), dc + c);
        }
        println!(
            "{rust:<28} Rust {rn:>3} cases: best round {:.0} ms, CPU {:.0} ms/round   definition: best round {:.0} ms, CPU {:.0} ms/round   definition/Rust {:.2}× (CPU {:.2}×)",
            rs * 1000.0,
            rc * 1000.0 / rounds as f64,
            ds * 1000.0,
            dc * 1000.0 / rounds as f64,
            ds / rs,
            dc / rc.max(1e-9),
        );
        assert_eq!(
            dn, rn,
            "{rust}: the definition ran {dn} cases, the Rust flow {rn}"
        );
        rust_total = (rust_total.0 + rn, rust_total.1 + rs);
        def_total = (def_total.0 + rn, def_total.1 + ds);
    }
    println!(
        "all three, best rounds: Rust {} cases in {:.0} ms, definitions in {:.0} ms: {:.2}×",
        rust_total.0,
        rust_total.1 * 1000.0,
        def_total.1 * 1000.0,
        def_total.1 / rust_total.1
    );
}
