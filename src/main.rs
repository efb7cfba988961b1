//! The `insightsim` command line: parse, dispatch, exit codes. No business logic lives here.

// First: its `print!`, `println!` and `eprintln!` shadow std's in every module after it, so
// that no output panics when its reader is gone (`insightsim schema | head`).
#[macro_use]
mod output;

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
    /// Print the JSON Schema of a file you write: scenario (the default), tenant,
    /// expected-failures, manifest.
    Schema(commands::schema::SchemaArgs),
    /// Print the demo tenant file (a starting point for --tenant).
    Tenant,
    /// Print the OpenAPI 3.1 document of the simulated API (served at /openapi.json too).
    Openapi(commands::openapi::OpenApiArgs),
    /// The Power Platform custom connector of the simulated API (export).
    Connector(commands::connector::ConnectorArgs),
    /// Exported Power Automate and Logic Apps definitions: `definition check PATH` lists every
    /// construct insightsim cannot run.
    Definition(commands::definition::DefinitionArgs),
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
        Command::Definition(args) => commands::definition::run(args),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::{ArgAction, CommandFactory};
    use harness::flow::process;

    use super::Cli;

    /// What an environment variable means to one argument: its name, whether it takes a value,
    /// and the type of the value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Meaning {
        id: String,
        takes_value: bool,
        /// The value parser's output type, as clap names it (`u64`, `std::path::PathBuf`).
        value_type: String,
    }

    /// Every argument of every subcommand with an environment twin: `(env, subcommand, meaning)`.
    fn env_twins() -> Vec<(String, String, Meaning)> {
        let cli = Cli::command();
        let mut twins = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(env) = arg.get_env() else { continue };
                let meaning = Meaning {
                    id: arg.get_id().to_string(),
                    takes_value: !matches!(
                        arg.get_action(),
                        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
                    ),
                    value_type: format!("{:?}", arg.get_value_parser().type_id()),
                };
                twins.push((
                    env.to_string_lossy().into_owned(),
                    sub.get_name().to_owned(),
                    meaning,
                ));
            }
        }
        twins
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// An environment twin set for one command is read by every command that has it, so two
    /// arguments may share a variable only if they mean the same thing (same name, same type).
    #[test]
    fn no_environment_variable_means_two_things() {
        let mut seen: BTreeMap<String, (String, Meaning)> = BTreeMap::new();
        let mut clashes = Vec::new();
        for (env, sub, meaning) in env_twins() {
            match seen.get(&env) {
                Some((other, first)) if *first != meaning => {
                    clashes.push(format!(
                        "{env}: `{other} --{}` and `{sub} --{}`",
                        first.id, meaning.id
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(env, (sub, meaning));
                }
            }
        }
        assert_eq!(clashes, Vec::<String>::new());
        assert!(seen.contains_key("INSIGHTSIM_SEED") && seen.contains_key("INSIGHTSIM_JSON"));
    }

    /// The variables the harness sets for a flow process are not flags' twins: a flow started
    /// as `insightsim flow NAME` inherits them.
    #[test]
    fn no_flag_reads_the_flow_process_contract() {
        let contract = [
            process::API_URL,
            process::INSTANCE_ID,
            process::TOKEN,
            process::FLOW_ADDR,
            process::SINK_TEAMS_URL,
            process::SINK_EMAIL_URL,
            process::SINK_HTTP_URL,
            process::SUBSCRIPTIONS,
        ];
        let read: Vec<String> = env_twins()
            .into_iter()
            .filter(|(env, ..)| contract.contains(&env.as_str()))
            .map(|(env, sub, meaning)| format!("{sub} --{}: {env}", meaning.id))
            .collect();
        assert_eq!(read, Vec::<String>::new());
    }

    /// Every flag has an `INSIGHTSIM_<FLAG>` twin except those listed with the reason (README).
    #[test]
    fn every_flag_has_its_environment_twin() {
        // `run --list`, `flow --list`: see their definitions; `--help`, `--version`: clap's own;
        // positional arguments have no twin.
        let without = ["run --list", "flow --list", "--help", "--version"];
        let cli = Cli::command();
        let mut missing = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let name = format!("{} --{long}", sub.get_name());
                if without.contains(&name.as_str())
                    || without.contains(&format!("--{long}").as_str())
                {
                    continue;
                }
                let expected = format!("INSIGHTSIM_{}", long.to_uppercase().replace('-', "_"));
                let prefixed = format!(
                    "INSIGHTSIM_{}_{}",
                    sub.get_name().to_uppercase(),
                    long.to_uppercase().replace('-', "_")
                );
                match arg.get_env().and_then(|e| e.to_str()) {
                    Some(env) if env == expected || env == prefixed => {}
                    other => missing.push(format!("{name}: {other:?}, expected {expected}")),
                }
            }
        }
        assert_eq!(missing, Vec::<String>::new());
    }
}
