//! `insightsim run`: replay the conformance suite against a flow and grade it.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use harness::flows::find_flow;
use harness::manifest::Manifest;
use harness::outcome::CaseResult;
use harness::replay::pace::human;
use harness::replay::{FlowUnderTest, RunOptions, Waits};
use harness::report::{self, Console, RunMeta, color_for_stdout, progress_message, shell_word};
use harness::scenario::{SinkKind, Suite, matches_filter};
use harness::session::{
    Progress, Selection, SelectionError, Session, command_flow, command_name, nearest_ids,
    never_acted, url_flow,
};
use harness::snapshot::{Mode, SnapshotStore};

use super::manifest_args::{ManifestArgs, loud};
use crate::exit;
use crate::output::Out;

mod progress;

use progress::{progress, wait_reporter};

#[derive(Debug, Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "command-line switches, each its own flag"
)]
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
    /// A name for the flow in reports and snapshot files (default: the reference flow's name,
    /// the script's file name (with its folder's for a generic one like flow.py), or the URL's
    /// host and path).
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
    /// Replace every case's seed (the seed of its tenant, as `serve --seed` is).
    #[arg(long, env = "INSIGHTSIM_SEED")]
    seed: Option<u64>,
    /// Treat SHOULD requirements as MUST.
    #[arg(long, env = "INSIGHTSIM_STRICT")]
    strict: bool,
    /// Accept new and changed snapshots.
    #[arg(long, env = "INSIGHTSIM_ACCEPT")]
    accept: bool,
    /// Where snapshots live (default: `snapshots` in the current folder; run from an insightsim
    /// checkout with a flow that is not a reference flow, `local-snapshots`).
    #[arg(long, env = "INSIGHTSIM_SNAPSHOTS")]
    snapshots: Option<PathBuf>,
    /// With --flow-cmd or --flow-url: how long the flow may stay silent after a delivery or its
    /// own last call before it counts as done; it grows with the flow's slowest reaction (to at
    /// most 10s).
    #[arg(long, env = "INSIGHTSIM_SETTLE", default_value = "400ms")]
    settle: String,
    /// With --flow-cmd or --flow-url: how far past its end a case may go on in real time while
    /// the flow is still working.
    #[arg(long, env = "INSIGHTSIM_OVERRUN_MAX", default_value = "3m")]
    overrun_max: String,
    /// Where the full transcripts of failed cases are written (default: insightsim-transcripts
    /// in the system's temporary folder).
    #[arg(long, env = "INSIGHTSIM_TRANSCRIPTS")]
    transcripts: Option<PathBuf>,
    /// List every skipped case (by default, one line per reason).
    #[arg(long, env = "INSIGHTSIM_VERBOSE")]
    verbose: bool,
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
    let laws_selected = args.properties > 0
        && harness::properties::laws()
            .iter()
            .any(|l| matches_filter(l.id, &args.filter));
    if suite.cases.is_empty() && !args.filter.is_empty() && !laws_selected {
        eprintln!("{}", empty_filter_message(&args, &selection));
        return Ok(exit::USAGE);
    }
    let manifest = args.manifest.load()?;
    let targets = targets(&args, manifest)?;
    let waits = Waits {
        settle: duration_flag("--settle", &args.settle)?,
        overrun_max: duration_flag("--overrun-max", &args.overrun_max)?,
    };
    let subscribe_timeout = duration_flag("--subscribe-timeout", &args.subscribe_timeout)?;
    let mode = Mode::for_run(args.accept, args.strict)?;
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
    let settings = GradeSettings {
        waits,
        subscribe_timeout: subscribe_timeout.max(Duration::from_millis(1)),
        mode,
    };
    let mut results: Vec<CaseResult> = Vec::new();
    let mut skip_warnings = Vec::new();
    // One flow after the other (several with --flow-definition), each a session of its own.
    for target in targets {
        let Some((flow_results, warning)) =
            grade(&args, &suite, target, &runtime, &settings, xfail.clone())?
        else {
            return Ok(exit::USAGE);
        };
        results.extend(flow_results);
        skip_warnings.extend(warning);
    }
    let results = &results;
    let _ = Console::new(Out)
        .color(color_for_stdout())
        .summary(results, args.strict);
    let _ = Out.flush();
    for hint in never_acted(results, args.flow_url.is_some()) {
        eprintln!("hint: {hint}");
    }
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

/// What every flow of a run is graded with.
struct GradeSettings {
    waits: Waits,
    subscribe_timeout: Duration,
    mode: Mode,
}

/// Grades one flow in a session of its own; returns its results and the warning of a run that
/// skipped most of its cases, or `None` when the session could not start (the API's or the
/// sinks' address is taken: reported here, before any case).
fn grade(
    args: &RunArgs,
    suite: &Suite,
    target: Target,
    runtime: &tokio::runtime::Runtime,
    settings: &GradeSettings,
    xfail: Option<report::XfailList>,
) -> anyhow::Result<Option<(Vec<CaseResult>, Option<String>)>> {
    let terminal = std::io::stderr().is_terminal();
    let bar = progress(suite.cases.len(), terminal);
    let options = RunOptions {
        seed: args.seed,
        sinks_addr: args.sinks_addr,
        subscribe_timeout: settings.subscribe_timeout,
        waits: settings.waits,
        on_wait: Some(wait_reporter(bar.clone(), terminal)),
        manifest: target.manifest,
        ..RunOptions::default()
    };
    let snapshots = snapshot_dir(args);
    let store = SnapshotStore::new(&snapshots, settings.mode).with_source("insightsim run");
    let url_flow = matches!(target.flow, FlowUnderTest::Url { .. });
    let mut session = match Session::start(runtime.handle(), target.flow, options) {
        Ok(session) => session.with_snapshots(store),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(None);
        }
    };
    if let Some(x) = xfail {
        session = session.with_expected_failures(x);
    }
    if let Some(mismatch) = session.trigger_mismatch() {
        eprintln!("warning: {mismatch}");
    }
    if let Some(reason) = session.broken() {
        eprintln!("error: the flow cannot be tested: {reason}");
        eprintln!("(every case fails with this reason)");
    }
    if url_flow {
        let runner = session.runner();
        eprintln!(
            "serving the API at http://{} and the sinks at {} (Teams), {} (e-mail), {} (HTTP); each case has its own instance id, given in every delivery (instanceId)",
            args.sim_addr,
            runner.sink_url(SinkKind::Teams),
            runner.sink_url(SinkKind::Email),
            runner.sink_url(SinkKind::Http)
        );
    }
    if !snapshots.ends_with("snapshots") && args.snapshots.is_none() {
        eprintln!(
            "snapshots: {} (the snapshots/ folder here holds the reference flows'; give --snapshots to choose)",
            snapshots.display()
        );
    }
    let mut console = Console::new(Out)
        .color(color_for_stdout())
        .strict(args.strict)
        .verbose(args.verbose)
        .transcripts_to(
            args.transcripts
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join("insightsim-transcripts")),
        )
        .reproduce_with(target.reproduce);
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
            &args.filter,
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
    if args.flow_cmd.is_some() || url_flow {
        let pace = session.runner().pace();
        eprintln!(
            "timing: the flow's slowest reaction to a delivery took {}, it waited at most {} past a Retry-After; settle window {} (--settle {})",
            human(pace.reaction_max),
            human(pace.margin_max),
            human(session.runner().settle_window()),
            args.settle
        );
    }
    let warning = session.skip_warning();
    drop(target.held);
    Ok(Some((session.into_results(), warning)))
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
                    "insightsim run --flow-definition {} --flow-name {name}",
                    d.path.display()
                ),
                None => format!("insightsim run --flow-definition {}", d.path.display()),
            },
            held: Some(d),
        })
        .collect())
}

fn duration_flag(flag: &str, text: &str) -> anyhow::Result<Duration> {
    let d = simulator::SimDuration::parse(text).with_context(|| flag.to_owned())?;
    Ok(Duration::from_millis(
        u64::try_from(d.as_millis().max(0)).unwrap_or(u64::MAX),
    ))
}

/// `--filter` matched no case (nor a law under `--properties`): name it and the nearest ids.
fn empty_filter_message(args: &RunArgs, selection: &Selection) -> String {
    let everything = Selection {
        filter: Vec::new(),
        partition: None,
        ..selection.clone()
    };
    let cases = everything.load().map(|s| s.cases).unwrap_or_default();
    let laws = harness::properties::laws();
    let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    ids.extend(laws.iter().map(|l| l.id));
    let near = nearest_ids(&args.filter, &ids, 3);
    let laws_hint =
        if args.properties == 0 && args.filter.iter().any(|f| f.starts_with("property/")) {
            "; laws (property/...) run only with --properties N"
        } else {
            ""
        };
    format!(
        "error: --filter {} matches no case{}{laws_hint}; nearest: {}",
        args.filter.join(","),
        if args.partition.is_some() {
            " (before --partition)"
        } else {
            ""
        },
        near.join(", ")
    )
}

/// The snapshot folder: `--snapshots`, else `snapshots` here, except in an insightsim checkout
/// (its `snapshots/` holds [`REFERENCE_MARKER`]) for a flow that is not a reference flow, whose
/// snapshots go to `local-snapshots` instead.
fn snapshot_dir(args: &RunArgs) -> PathBuf {
    if let Some(dir) = &args.snapshots {
        return dir.clone();
    }
    // The reference definitions shipped in this checkout (`flows/definitions/`).
    let shipped = Path::new("flows/definitions").canonicalize().ok();
    let shipped_definitions = !args.flow_definition.is_empty()
        && args.flow_definition.iter().all(|p| {
            p.canonicalize()
                .ok()
                .zip(shipped.as_ref())
                .is_some_and(|(p, dir)| p.starts_with(dir))
        });
    let reference_flow = match (&args.flow, &args.flow_cmd) {
        (Some(_), _) => true,
        _ if shipped_definitions => true,
        (_, Some(cmd)) => find_flow(&command_name(cmd)).is_ok() && args.flow_name.is_none(),
        _ => false,
    };
    if !reference_flow && Path::new("snapshots").join(REFERENCE_MARKER).exists() {
        PathBuf::from("local-snapshots")
    } else {
        PathBuf::from("snapshots")
    }
}

/// The file that marks a `snapshots/` folder as the reference flows' own (in the insightsim
/// repository): `run` never writes a user's flow's snapshots there by default.
const REFERENCE_MARKER: &str = ".insightsim-reference-snapshots";

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

/// `insightsim run` and every flag of this run that changes what a case does or where it is
/// compared, so that `reproduce:` lines reproduce.
fn reproduce_prefix(args: &RunArgs) -> String {
    let mut words = vec!["insightsim".to_owned(), "run".to_owned()];
    let mut flag = |name: &str, value: String| {
        words.push(name.to_owned());
        words.push(shell_word(&value));
    };
    if let Some(f) = &args.flow {
        flag("--flow", f.clone());
    }
    if let Some(c) = &args.flow_cmd {
        flag("--flow-cmd", c.clone());
    }
    if let Some(u) = &args.flow_url {
        flag("--flow-url", u.clone());
        if !args.triggers.is_empty() {
            flag("--triggers", args.triggers.join(","));
        }
        flag("--sim-addr", args.sim_addr.to_string());
    }
    if let Some(a) = args.sinks_addr {
        flag("--sinks-addr", a.to_string());
    }
    if let Some(n) = &args.flow_name {
        flag("--flow-name", n.clone());
    }
    if args.suite != Path::new("scenarios") {
        flag("--suite", args.suite.display().to_string());
    }
    if let Some(s) = &args.snapshots {
        flag("--snapshots", s.display().to_string());
    }
    if args.settle != "400ms" {
        flag("--settle", args.settle.clone());
    }
    if let Some(x) = &args.expected_failures {
        flag("--expected-failures", x.display().to_string());
    }
    if args.strict {
        words.push("--strict".to_owned());
    }
    for p in &args.paths {
        words.push(shell_word(&p.display().to_string()));
    }
    words.join(" ")
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
