//! `insightsim connector export DIR --host https://PUBLIC-HOST`: the Power Platform custom
//! connector of the simulated API (`apiDefinition.swagger.json`, `apiProperties.json`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use simulator::api::connector::connector;
use simulator::api::openapi::Tenant;
use simulator::{Clock, SimConfig, Simulator};

use crate::commands::tenant_args::TenantArgs;
use crate::exit;

#[derive(Debug, Args)]
pub struct ConnectorArgs {
    #[command(subcommand)]
    command: ConnectorCommand,
}

#[derive(Debug, Subcommand)]
enum ConnectorCommand {
    /// Write apiDefinition.swagger.json and apiProperties.json into DIR (import them with
    /// `paconn create` or the maker portal).
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The folder to write the two files into (created when missing).
    dir: PathBuf,
    /// The public URL the simulator is reachable at (your tunnel), e.g. `https://abc123.ngrok.app`.
    #[arg(long, env = "INSIGHTSIM_CONNECTOR_HOST")]
    host: String,
    /// Tenant file (TOML) read over the demo tenant.
    #[arg(long, env = "INSIGHTSIM_TENANT")]
    tenant: Option<PathBuf>,
}

pub fn run(args: ConnectorArgs) -> anyhow::Result<u8> {
    let ConnectorCommand::Export(args) = args.command;
    let mut spec = TenantArgs {
        seed: None,
        customers: None,
        tenant: args.tenant.clone(),
        rate_limit: None,
    }
    .spec()?;
    spec.customers = spec.customers.min(100);
    let sim = Simulator::new(SimConfig::new(
        spec,
        Clock::frozen_at(simulator::SimTime::DEFAULT_EPOCH),
    ));
    let files = connector(&Tenant::of(&sim, &args.host), &args.host)?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    for (name, value) in [
        ("apiDefinition.swagger.json", &files.api_definition),
        ("apiProperties.json", &files.api_properties),
    ] {
        let path = args.dir.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(value)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(exit::SUCCESS)
}
