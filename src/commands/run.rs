//! `insightsim run`: replay the conformance suite against a flow and grade it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use harness::case::{CaseSettings, run_case};
use harness::flows::find_flow;
use harness::outcome::{CaseResult, Outcome};
use harness::properties;
use harness::replay::{FlowUnderTest, RunOptions, Runner};
use harness::report::{self, Console, RunMeta, color_for_stdout, progress_message};
use harness::scenario::{self, Suite};
use harness::snapshot::{Mode, SnapshotStore};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exit;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories (default: the suite directory, `scenarios`).
    paths: Vec<PathBuf>,
    /// The suite's root directory: case ids are paths below it.
    #[arg(long, env = "INSIGHTSIM_SUITE", default_value = "scenarios")]
    suite: PathBuf,
    /// A reference flow, run in-process (see `insightsim flow --list`).
    #[arg(long, env = "INSIGHTSIM_FLOW", conflicts_with_all = ["flow_cmd", "flow_url"])]
    flow: Option<String>,
    /// A command started per case with the INSIGHTSIM_* environment (see the README).
    #[arg(long, env = "INSIGHTSIM_FLOW_CMD", conflicts_with = "flow_url")]
    flow_cmd: Option<String>,
    /// A running webhook endpoint; the harness subscribes it and serves the API at --sim-addr.
    #[arg(long, env = "INSIGHTSIM_FLOW_URL")]
    flow_url: Option<String>,
    /// With --flow-url: the triggers the flow handles (comma-separated; default all six).
    #[arg(long, env = "INSIGHTSIM_TRIGGERS", value_delimiter = ',')]
    triggers: Vec<String>,
    /// With --flow-url: where the simulator listens for the flow's API calls.
    #[arg(long, env = "INSIGHTSIM_SIM_ADDR", default_value = "127.0.0.1:8080")]
    sim_addr: SocketAddr,
    /// Where the mocked sinks listen (`/teams/message`, `/email/send`, `/http`); with --flow-url
    /// the default is 127.0.0.1:8081, otherwise a free port.
    #[arg(long, env = "INSIGHTSIM_SINKS_ADDR")]
    sinks_addr: Option<SocketAddr>,
    /// A name for the flow in reports and snapshot files (default: the flow, command or URL).
    #[arg(long, env = "INSIGHTSIM_FLOW_NAME")]
    flow_name: Option<String>,
    /// Only cases whose id starts with this prefix (repeatable).
    #[arg(long, env = "INSIGHTSIM_FILTER", value_delimiter = ',')]
    filter: Vec<String>,
    /// Run only partition K of N (e.g. 2/4): every case is in exactly one partition.
    #[arg(long, env = "INSIGHTSIM_PARTITION")]
    partition: Option<String>,
    /// List the cases (id, level, triggers, requirement) and exit.
    #[arg(long)]
    list: bool,
    /// Replace every case's seed.
    #[arg(long, env = "INSIGHTSIM_SEED")]
    seed: Option<u64>,
    /// Treat SHOULD requirements as MUST.
    #[arg(long, env = "INSIGHTSIM_STRICT")]
    strict: bool,
    /// Accept new and changed snapshots.
    #[arg(long, env = "INSIGHTSIM_ACCEPT")]
    accept: bool,
    /// Where snapshots live.
    #[arg(long, env = "INSIGHTSIM_SNAPSHOTS", default_value = "snapshots")]
    snapshots: PathBuf,
    /// The flow's expected failures (TOML, see the README).
    #[arg(long, env = "INSIGHTSIM_EXPECTED_FAILURES")]
    expected_failures: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, env = "INSIGHTSIM_JUNIT")]
    junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long, env = "INSIGHTSIM_JSON")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report here (failing cases first, call-limit plots).
    #[arg(long, env = "INSIGHTSIM_HTML")]
    html: Option<PathBuf>,
    /// Also check the property laws with this many generated timelines each (0: off).
    #[arg(long, env = "INSIGHTSIM_PROPERTIES", default_value_t = 0)]
    properties: u32,
    /// Where minimal failing timelines of the laws are written, as scenario files.
    #[arg(
        long,
        env = "INSIGHTSIM_PROPERTY_FAILURES",
        default_value = "property-failures"
    )]
    property_failures: PathBuf,
    /// With --flow-cmd: how long the flow may take to subscribe (e.g. 10s).
    #[arg(long, env = "INSIGHTSIM_SUBSCRIBE_TIMEOUT", default_value = "10s")]
    subscribe_timeout: String,
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let paths = if args.paths.is_empty() {
        vec![args.suite.clone()]
    } else {
        args.paths.clone()
    };
    let mut suite = match scenario::load_suite(&args.suite, &paths) {
        Ok(suite) => suite,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "{} scenario file(s) have errors; nothing was run",
                errors.len()
            );
            return Ok(exit::USAGE);
        }
    };
    if !args.filter.is_empty() {
        suite = suite.filter(&args.filter);
    }
    if let Some(p) = &args.partition {
        let (k, n) =
            scenario::parse_partition(p).map_err(|e| anyhow::anyhow!("--partition {p}: {e}"))?;
        suite = suite.partition(k, n).map_err(anyhow::Error::msg)?;
    }
    if args.list {
        print_list(&suite);
        return Ok(exit::SUCCESS);
    }
    let flow = flow_under_test(&args)?;
    let subscribe_timeout =
        simulator::SimDuration::parse(&args.subscribe_timeout).context("--subscribe-timeout")?;
    let sinks_addr = match (&args.sinks_addr, &args.flow_url) {
        (Some(addr), _) => Some(*addr),
        (None, Some(_)) => Some(SocketAddr::from(([127, 0, 0, 1], 8081))),
        (None, None) => None,
    };
    let options = RunOptions {
        seed: args.seed,
        sinks_addr,
        subscribe_timeout: Duration::from_millis(subscribe_timeout.as_millis().max(1) as u64),
        ..RunOptions::default()
    };
    let mode = Mode::from_env(args.accept)?;
    let store = SnapshotStore::new(&args.snapshots, mode).with_source("insightsim run");
    let xfail = match &args.expected_failures {
        Some(path) => Some(report::load_xfail(path)?),
        None => None,
    };
    if let Some(x) = &xfail {
        let ids: Vec<&str> = suite.cases.iter().map(|c| c.id.as_str()).collect();
        for unknown in x.unknown_ids(&ids) {
            eprintln!(
                "warning: {} lists {unknown}, which is not a case of this run",
                args.expected_failures
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = simulator::time::SimTime::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    );
    let runner = runtime
        .block_on(Runner::new(flow, options))
        .context("cannot start the flow under test")?;
    let flow_name = runner.flow_name();
    if args.flow_url.is_some() {
        use harness::scenario::SinkKind;
        eprintln!(
            "serving the API at http://{} and the sinks at {} (Teams), {} (e-mail), {} (HTTP)",
            args.sim_addr,
            runner.sink_url(SinkKind::Teams),
            runner.sink_url(SinkKind::Email),
            runner.sink_url(SinkKind::Http)
        );
    }
    let mut console = Console::new(std::io::stdout())
        .color(color_for_stdout())
        .strict(args.strict)
        .reproduce_with(reproduce_prefix(&args));
    let bar = progress(suite.cases.len());
    let mut results = Vec::with_capacity(suite.cases.len());
    for (i, case) in suite.cases.iter().enumerate() {
        bar.set_message(progress_message(i, suite.cases.len(), &case.id));
        let settings = CaseSettings {
            snapshots: Some(&store),
            xfail: xfail.as_ref(),
        };
        let mut result = runtime.block_on(run_case(
            &runner,
            &case.id,
            &case.path,
            &case.scenario,
            settings,
        ));
        result.flow = flow_name.clone();
        bar.suspend(|| {
            let _ = console.case(&result);
        });
        bar.inc(1);
        results.push(result);
    }
    bar.finish_and_clear();
    if args.properties > 0 {
        for law in properties::laws() {
            if !runner.triggers().iter().any(|t| t == law.trigger) {
                continue;
            }
            eprintln!(
                "checking {} over {} generated timelines",
                law.id, args.properties
            );
            let seed = args.seed.unwrap_or(42);
            let checked = properties::check_law(
                runtime.handle(),
                &runner,
                law,
                args.properties,
                seed,
                Some(&args.property_failures),
            );
            let result = property_result(&flow_name, seed, checked);
            let _ = console.case(&result);
            results.push(result);
        }
    }
    let _ = console.summary(&results, args.strict);
    let _ = std::io::stdout().flush();
    write_reports(&args, &results, started)?;
    Ok(match report::exit_code(&results, args.strict) {
        0 => exit::SUCCESS,
        _ => exit::FAILURES,
    })
}

/// A law's result as a case of the report.
fn property_result(flow: &str, seed: u64, checked: properties::LawResult) -> CaseResult {
    let failures: Vec<_> = checked.failure.iter().map(|f| f.as_failure()).collect();
    CaseResult {
        id: checked.law.id.to_owned(),
        flow: flow.to_owned(),
        requirement: format!("The flow MUST obey this law: {}", checked.law.statement),
        level: harness::scenario::Level::Must,
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
            .map(|f| harness::scenario::write(&f.scenario))
            .unwrap_or_default(),
        snapshot: None,
        flow_stderr: None,
        expected_failure: false,
        calls: Default::default(),
    }
}

fn flow_under_test(args: &RunArgs) -> anyhow::Result<FlowUnderTest> {
    Ok(match (&args.flow, &args.flow_cmd, &args.flow_url) {
        (Some(name), None, None) => FlowUnderTest::InProcess(find_flow(name)?),
        (None, Some(cmd), None) => FlowUnderTest::Command {
            command: cmd.clone(),
            name: args.flow_name.clone().unwrap_or_else(|| command_name(cmd)),
        },
        (None, None, Some(url)) => {
            let triggers = if args.triggers.is_empty() {
                simulator::engine::Trigger::ALL
                    .iter()
                    .map(|t| t.id().to_owned())
                    .collect()
            } else {
                for t in &args.triggers {
                    if simulator::engine::Trigger::parse(t).is_none() {
                        bail!("--triggers: unknown trigger {t}");
                    }
                }
                args.triggers.clone()
            };
            FlowUnderTest::Url {
                url: url.clone(),
                name: args.flow_name.clone().unwrap_or_else(|| url_name(url)),
                triggers,
                sim_addr: args.sim_addr,
            }
        }
        _ => bail!(
            "say which flow to test: --flow NAME (a reference flow), --flow-cmd \"COMMAND\" or --flow-url URL"
        ),
    })
}

/// The name of a command flow in reports and snapshot files: the reference flow's name for
/// `insightsim flow NAME` (so that it shares the in-process flow's snapshots), else the file
/// name of the script or program it runs.
fn command_name(command: &str) -> String {
    let words = harness::replay::runner::shell_words(command);
    let stem = |w: &str| {
        std::path::Path::new(w)
            .file_stem()
            .map_or_else(|| w.to_owned(), |s| s.to_string_lossy().into_owned())
    };
    if let [program, sub, name, ..] = words.as_slice()
        && stem(program) == "insightsim"
        && sub == "flow"
    {
        return name.clone();
    }
    words
        .iter()
        .skip(1)
        .find(|w| !w.starts_with('-') && (w.contains('.') || w.contains('/')))
        .or(words.first())
        .map_or_else(|| "flow".to_owned(), |w| stem(w))
}

/// The name of a URL flow in reports and snapshot files: its host and port.
fn url_name(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).replace(':', "-")
}

fn reproduce_prefix(args: &RunArgs) -> String {
    let flow = match (&args.flow, &args.flow_cmd, &args.flow_url) {
        (Some(f), _, _) => format!("--flow {f}"),
        (_, Some(c), _) => format!("--flow-cmd \"{c}\""),
        (_, _, Some(u)) => format!("--flow-url {u}"),
        _ => String::new(),
    };
    format!("insightsim run {flow} --filter")
}

fn progress(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

fn print_list(suite: &Suite) {
    for case in &suite.cases {
        println!("{}", case.list_line());
    }
    println!("{} case(s)", suite.cases.len());
}

fn write_reports(
    args: &RunArgs,
    results: &[CaseResult],
    started: simulator::SimTime,
) -> anyhow::Result<()> {
    if let Some(path) = &args.junit {
        let xml = report::junit(results, args.strict)?;
        std::fs::write(path, xml).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let meta = RunMeta {
        flow: results.first().map(|r| r.flow.clone()).unwrap_or_default(),
        seed: args.seed,
        strict: args.strict,
        started: started.to_rfc3339(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    if let Some(path) = &args.json {
        let value = report::json(results, args.strict, &meta);
        std::fs::write(path, serde_json::to_string_pretty(&value)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, report::html(results, args.strict, &meta))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
