//! `insightsim openapi`: print the OpenAPI 3.1 document of the simulated API (what `serve` answers
//! at `/openapi.json`).

use std::path::PathBuf;

use clap::Args;
use simulator::{Clock, SimConfig, Simulator};

use crate::commands::tenant_args::TenantArgs;
use crate::exit;

#[derive(Debug, Args)]
pub struct OpenApiArgs {
    /// Also describe the control API (/_sim), tagged Control.
    #[arg(long, env = "INSIGHTSIM_INCLUDE_CONTROL")]
    include_control: bool,
    /// The server URL the document names (where `serve` listens).
    #[arg(
        long,
        env = "INSIGHTSIM_SERVER_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    server_url: String,
    /// Tenant file (TOML) read over the demo tenant: its names become the parameters' values.
    #[arg(long, env = "INSIGHTSIM_TENANT")]
    tenant: Option<PathBuf>,
    /// Seed (overrides the tenant file): it decides the instance id.
    #[arg(long, env = "INSIGHTSIM_SEED")]
    seed: Option<u64>,
}

pub fn run(args: OpenApiArgs) -> anyhow::Result<u8> {
    let mut spec = TenantArgs {
        seed: args.seed,
        customers: None,
        tenant: args.tenant.clone(),
        rate_limit: None,
    }
    .spec()?;
    // The names are all the document needs: a small population builds in a blink.
    spec.customers = spec.customers.min(100);
    let sim = Simulator::new(SimConfig::new(
        spec,
        Clock::frozen_at(simulator::SimTime::DEFAULT_EPOCH),
    ));
    let doc = simulator::api::openapi::for_simulator(
        &sim,
        args.server_url.trim_end_matches('/'),
        args.include_control,
    );
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(exit::SUCCESS)
}
