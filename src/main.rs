//! The `insightsim` command line: parse, dispatch, exit codes. No business logic lives here.

mod commands;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A local, deterministic stand-in for the Dynamics 365 Customer Insights connector, and a
/// conformance harness for the flows that use it.
#[derive(Debug, Parser)]
#[command(name = "insightsim", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a simulated Customer Insights instance (the demo tenant by default).
    Serve(commands::serve::ServeArgs),
    /// Replay the conformance suite against a flow and grade it.
    Run(Box<commands::run::RunArgs>),
    /// Drive many connections at a simulator and grade how each handled the call limit.
    Load(commands::load::LoadArgs),
    /// Run a reference flow as a process (started by `run --flow-cmd`); --list shows them.
    Flow(commands::flow::FlowArgs),
    /// Print the JSON Schema of a file you write: scenario (the default), tenant, expected-failures.
    Schema(commands::schema::SchemaArgs),
    /// Print the demo tenant file (a starting point for --tenant).
    Tenant,
    /// Print the OpenAPI 3.1 document of the simulated API (served at /openapi.json too).
    Openapi(commands::openapi::OpenApiArgs),
    /// The Power Platform custom connector of the simulated API (export).
    Connector(commands::connector::ConnectorArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Run(args) => commands::run::run(*args),
        Command::Load(args) => commands::load::run(args),
        Command::Schema(args) => commands::schema::run(args),
        Command::Flow(args) => commands::flow::run(args),
        Command::Openapi(args) => commands::openapi::run(args),
        Command::Connector(args) => commands::connector::run(args),
        Command::Tenant => {
            print!("{}", simulator::tenant::spec::DEMO_TENANT_TOML);
            Ok(exit::SUCCESS)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}
