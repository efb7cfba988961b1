//! `insightsim run`: replay the conformance suite against a flow and grade it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use harness::flows::find_flow;
use harness::manifest::Manifest;
use harness::outcome::CaseResult;
use harness::replay::{FlowUnderTest, RunOptions};
use harness::report::{self, Console, RunMeta, color_for_stdout, progress_message};
use harness::scenario::{SinkKind, Suite};
use harness::session::{Progress, Selection, SelectionError, Session, command_flow, url_flow};
use harness::snapshot::{Mode, SnapshotStore};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::manifest_args::{ManifestArgs, loud};
use crate::exit;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories (default: the suite directory, `scenarios`).
    paths: Vec<PathBuf>,
    /// The suite's root directory: case ids are paths below it.
    #[arg(long, env = "INSIGHTSIM_SUITE", default_value = "scenarios")]
    suite: PathBuf,
    /// A reference flow, run in-process (see `insightsim flow --list`).
    #[arg(long, env = "INSIGHTSIM_FLOW", conflicts_with_all = ["flow_cmd", "flow_url", "flow_definition"])]
    flow: Option<String>,
    /// A command started per case with the INSIGHTSIM_* environment (see the README).
    #[arg(long, env = "INSIGHTSIM_FLOW_CMD", conflicts_with_all = ["flow_url", "flow_definition"])]
    flow_cmd: Option<String>,
    /// An exported Power Automate or Logic Apps definition, run in-process (repeatable; every
    /// flow in it is graded in turn; the format is detected by content). Its manifest is read
    /// from it unless --manifest or --handles gives one.
    #[arg(long, env = "INSIGHTSIM_FLOW_DEFINITION", conflicts_with = "flow_url")]
    flow_definition: Vec<PathBuf>,
    /// With --flow-definition: more connector operations (TOML, see docs/flow-definitions.md).
    #[arg(long, env = "INSIGHTSIM_OPERATION_MAP", requires = "flow_definition")]
    operation_map: Option<PathBuf>,
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
    // No environment twin, on purpose: set once in a CI job's environment, it would turn every
    // later `run` of the job into a listing that grades nothing and exits 0.
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
    #[command(flatten)]
    manifest: ManifestArgs,
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let selection = Selection {
        suite: args.suite.clone(),
        paths: args.paths.clone(),
        filter: args.filter.clone(),
        partition: args.partition.clone(),
    };
    let suite = match selection.load() {
        Ok(suite) => suite,
        Err(SelectionError::Scenarios(errors)) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "{} scenario file(s) have errors; nothing was run",
                errors.len()
            );
            return Ok(exit::USAGE);
        }
        Err(e) => return Err(e.into()),
    };
    if args.list {
        print_list(&suite);
        return Ok(exit::SUCCESS);
    }
    let manifest = args.manifest.load()?;
    let targets = targets(&args, manifest)?;
    let subscribe_timeout =
        simulator::SimDuration::parse(&args.subscribe_timeout).context("--subscribe-timeout")?;
    let mode = Mode::from_env(args.accept)?;
    let xfail = match &args.expected_failures {
        Some(path) => Some(report::load_xfail(path)?),
        None => None,
    };
    if let (Some(x), Some(path)) = (&xfail, &args.expected_failures) {
        let ids: Vec<&str> = suite.cases.iter().map(|c| c.id.as_str()).collect();
        for unknown in x.unknown_ids(&ids) {
            eprintln!(
                "warning: {} lists {unknown}, which is not a case of this run",
                path.display()
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
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    );
    let mut results: Vec<CaseResult> = Vec::new();
    let mut skip_warnings = Vec::new();
    // One flow after the other (several with --flow-definition), each a session of its own.
    for target in targets {
        let (flow_results, warning) = grade(
            &args,
            &suite,
            target,
            &runtime,
            mode,
            subscribe_timeout,
            xfail.clone(),
        )?;
        results.extend(flow_results);
        skip_warnings.extend(warning);
    }
    let results = &results;
    let _ = Console::new(std::io::stdout())
        .color(color_for_stdout())
        .summary(results, args.strict);
    let _ = std::io::stdout().flush();
    write_reports(&args, results, started)?;
    for warning in &skip_warnings {
        eprintln!("\n{}", loud(warning));
    }
    if !skip_warnings.is_empty() && !args.manifest.allow_skips {
        return Ok(exit::FAILURES);
    }
    Ok(match report::exit_code(results, args.strict) {
        0 => exit::SUCCESS,
        _ => exit::FAILURES,
    })
}

/// Grades one flow in a session of its own; returns its results and the warning of a run that
/// skipped most of its cases.
fn grade(
    args: &RunArgs,
    suite: &Suite,
    target: Target,
    runtime: &tokio::runtime::Runtime,
    mode: Mode,
    subscribe_timeout: simulator::SimDuration,
    xfail: Option<report::XfailList>,
) -> anyhow::Result<(Vec<CaseResult>, Option<String>)> {
    let options = RunOptions {
        seed: args.seed,
        sinks_addr: args.sinks_addr,
        subscribe_timeout: Duration::from_millis(
            u64::try_from(subscribe_timeout.as_millis().max(1)).unwrap_or(u64::MAX),
        ),
        manifest: target.manifest,
        ..RunOptions::default()
    };
    let store = SnapshotStore::new(&args.snapshots, mode).with_source("insightsim run");
    let mut session = Session::start(runtime.handle(), target.flow, options)
        .context("cannot start the flow under test")?
        .with_snapshots(store);
    if let Some(x) = xfail {
        session = session.with_expected_failures(x);
    }
    if let Some(mismatch) = session.trigger_mismatch() {
        eprintln!("warning: {mismatch}");
    }
    if args.flow_url.is_some() {
        let runner = session.runner();
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
        .reproduce_with(target.reproduce);
    let bar = progress(suite.cases.len());
    session.run_cases(&suite.cases, |event| match event {
        Progress::Case { index, total, case } => {
            bar.set_message(progress_message(index, total, &case.id));
        }
        Progress::Result(result) => {
            bar.suspend(|| {
                let _ = console.case(result);
            });
            bar.inc(1);
        }
        Progress::Law { .. } => {}
    });
    bar.finish_and_clear();
    if args.properties > 0 {
        session.check_laws(
            args.properties,
            Some(&args.property_failures),
            |event| match event {
                Progress::Law { law, timelines } => {
                    eprintln!("checking {} over {timelines} generated timelines", law.id);
                }
                Progress::Result(result) => {
                    let _ = console.case(result);
                }
                Progress::Case { .. } => {}
            },
        );
    }
    let warning = session.skip_warning();
    drop(target.held);
    Ok((session.into_results(), warning))
}

/// One flow to grade: how to run it, the manifest it is held to, the command that reproduces a
/// case, and what must live while it runs (a registered definition).
struct Target {
    flow: FlowUnderTest,
    manifest: Option<Manifest>,
    reproduce: String,
    held: Option<super::definition::DefinitionFlow>,
}

/// The flows to grade: one, or every flow of the --flow-definition files.
fn targets(args: &RunArgs, manifest: Option<Manifest>) -> anyhow::Result<Vec<Target>> {
    if args.flow_definition.is_empty() {
        let flow = flow_under_test(args, manifest.as_ref())?;
        return Ok(vec![Target {
            flow,
            manifest,
            reproduce: reproduce_prefix(args),
            held: None,
        }]);
    }
    let flows = super::definition::load_flows(
        &args.flow_definition,
        args.operation_map.as_deref(),
        args.flow_name.as_deref(),
        manifest.as_ref(),
    )?;
    Ok(flows
        .into_iter()
        .map(|d| Target {
            flow: FlowUnderTest::InProcess(d.registered.factory),
            manifest: Some(d.manifest.clone()),
            reproduce: match &args.flow_name {
                Some(name) => format!(
                    "insightsim run --flow-definition {} --flow-name {name} --filter",
                    d.path.display()
                ),
                None => format!(
                    "insightsim run --flow-definition {} --filter",
                    d.path.display()
                ),
            },
            held: Some(d),
        })
        .collect())
}

fn flow_under_test(args: &RunArgs, manifest: Option<&Manifest>) -> anyhow::Result<FlowUnderTest> {
    Ok(match (&args.flow, &args.flow_cmd, &args.flow_url) {
        (Some(name), None, None) => FlowUnderTest::InProcess(find_flow(name)?),
        (None, Some(command), None) => command_flow(command, args.flow_name.clone()),
        (None, None, Some(url)) => {
            // A URL flow handles what its manifest declares, unless --triggers says otherwise.
            let triggers = match manifest {
                Some(m) if args.triggers.is_empty() => {
                    m.triggers().into_iter().map(str::to_owned).collect()
                }
                _ => args.triggers.clone(),
            };
            url_flow(url, args.flow_name.clone(), &triggers, args.sim_addr)?
        }
        _ => bail!(
            "say which flow to test: --flow NAME (a reference flow), --flow-cmd \"COMMAND\", --flow-url URL or --flow-definition PATH"
        ),
    })
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
