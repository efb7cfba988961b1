//! `insightsim schema [scenario|tenant|expected-failures|manifest]`: the JSON Schema of a file a user
//! writes, for editor completion and checks (Taplo, VS Code).

use clap::{Args, ValueEnum};

use crate::exit;

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file format (default: scenario).
    #[arg(value_enum, default_value_t = SchemaKind::Scenario)]
    kind: SchemaKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SchemaKind {
    /// A scenario file (`scenarios/<feature>/<name>.toml`).
    Scenario,
    /// A tenant file (`--tenant FILE`).
    Tenant,
    /// An expected-failure list (`--expected-failures FILE`).
    ExpectedFailures,
    /// A flow's manifest (`insightsim-flow.toml`, given with `run --manifest`).
    Manifest,
}

pub fn run(args: SchemaArgs) -> anyhow::Result<u8> {
    let schema = match args.kind {
        SchemaKind::Scenario => harness::scenario::schema(),
        SchemaKind::Tenant => simulator::tenant::schema::tenant_schema(),
        SchemaKind::ExpectedFailures => harness::report::xfail_schema(),
        SchemaKind::Manifest => harness::manifest::Manifest::schema(),
    };
    println!("{schema}");
    Ok(exit::SUCCESS)
}
