//! `insightsim definition check`: every construct of an exported Power Automate or Logic Apps
//! definition that insightsim cannot run, all at once, each with its JSON path; and the loading
//! `insightsim run --flow-definition` shares with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use flowdef::{LoadedFlow, OperationMap};
use harness::flow::definition::{Registered, register_as};
use harness::manifest::Manifest;

use crate::exit;

#[derive(Debug, Args)]
pub struct DefinitionArgs {
    #[command(subcommand)]
    command: DefinitionCommand,
}

#[derive(Debug, Subcommand)]
enum DefinitionCommand {
    /// List every construct of the definition(s) that insightsim cannot run, each with its JSON
    /// path. Exit code: 0 every flow can run, 1 some construct is unsupported, 2 a file could not
    /// be read as a definition.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Exported definitions: a Power Automate package or solution `.zip`, a flow JSON, a Logic
    /// Apps Standard `workflow.json`, an ARM template or a bare definition (detected by content).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// More connector operations (TOML, the format of flowdef/src/operations.toml); they replace
    /// the shipped ones with the same connector and id.
    #[arg(long, env = "INSIGHTSIM_OPERATION_MAP")]
    operation_map: Option<PathBuf>,
}

pub fn run(args: DefinitionArgs) -> anyhow::Result<u8> {
    match args.command {
        DefinitionCommand::Check(args) => check(&args),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<u8> {
    let map = operation_map(args.operation_map.as_deref())?;
    let mut unreadable = false;
    let mut unsupported = false;
    for path in &args.paths {
        let report = flowdef::check_with(path, &map);
        print!("{report}");
        unreadable |= report.error.is_some();
        unsupported |= report.problem_count() > 0;
    }
    Ok(if unreadable {
        exit::USAGE
    } else if unsupported {
        exit::FAILURES
    } else {
        exit::SUCCESS
    })
}

/// The built-in operation map, extended by `path` when given.
pub fn operation_map(path: Option<&Path>) -> anyhow::Result<OperationMap> {
    match path {
        Some(p) => Ok(OperationMap::extended_by(p)?),
        None => Ok(OperationMap::built_in()),
    }
}

/// One flow of a definition file, registered to run in-process, and the manifest it is held to.
pub struct DefinitionFlow {
    pub registered: Registered,
    pub manifest: Manifest,
    /// The file it was read from, for the command that reproduces a failure.
    pub path: PathBuf,
}

/// Every flow in every file of `paths`, registered: named `name` when given (one flow only),
/// else as its definition names it; held to `manifest` when given, else to the manifest read
/// from its definition. An error says which file or flow and what to do.
pub fn load_flows(
    paths: &[PathBuf],
    map_path: Option<&Path>,
    name: Option<&str>,
    manifest: Option<&Manifest>,
) -> anyhow::Result<Vec<DefinitionFlow>> {
    let map = Arc::new(operation_map(map_path)?);
    let mut loaded: Vec<(PathBuf, LoadedFlow)> = Vec::new();
    for path in paths {
        let flows = flowdef::load_with(path, &map)?;
        loaded.extend(flows.into_iter().map(|f| (path.clone(), f)));
    }
    if name.is_some() && loaded.len() > 1 {
        bail!(
            "--flow-name names one flow, but the definitions hold {} flows; leave --flow-name out (each flow is named as its definition names it)",
            loaded.len()
        );
    }
    let mut out = Vec::new();
    for (path, flow) in loaded {
        let flow_name = name.map_or_else(|| flow.name.clone(), str::to_owned);
        let registered = register_as(flow, &flow_name, map.clone(), None)?;
        let manifest = match manifest {
            Some(m) => m.clone(),
            None => registered
                .manifest
                .clone()
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}: what the flow is for", path.display()))?,
        };
        out.push(DefinitionFlow {
            registered,
            manifest,
            path,
        });
    }
    Ok(out)
}
