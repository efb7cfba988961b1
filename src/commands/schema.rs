//! `insightsim schema [scenario|manifest]`: the JSON Schema of a file format, for editors.

use clap::{Args, ValueEnum};

/// Which format.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum Format {
    /// A scenario file (`scenarios/<feature>/<name>.toml`).
    #[default]
    Scenario,
    /// A flow's manifest (`insightsim-flow.toml`, given with `run --manifest`).
    Manifest,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The format: scenario (the default) or manifest.
    #[arg(value_enum, default_value_t = Format::Scenario)]
    format: Format,
}

pub fn run(args: &SchemaArgs) -> String {
    match args.format {
        Format::Scenario => harness::scenario::schema(),
        Format::Manifest => harness::manifest::Manifest::schema(),
    }
}
