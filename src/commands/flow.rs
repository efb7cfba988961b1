//! `insightsim flow NAME`: run a reference flow as a process (what `--flow-cmd` starts).

use anyhow::Context;
use clap::Args;
use harness::flow::process::{ProcessEnv, run_process};
use harness::flows::{find_flow, reference_flows};

use crate::exit;

#[derive(Debug, Args)]
pub struct FlowArgs {
    /// The flow to run (see --list).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// List the reference flows, marking the deliberately broken variants.
    // No environment twin, on purpose: `insightsim flow NAME` runs as a child of `insightsim run`
    // and inherits its environment, where a twin would make the flow list and exit instead.
    #[arg(long)]
    list: bool,
}

pub fn run(args: FlowArgs) -> anyhow::Result<u8> {
    if args.list {
        print_list();
        return Ok(exit::SUCCESS);
    }
    let Some(name) = args.name else {
        print_list();
        return Ok(exit::USAGE);
    };
    let factory = find_flow(&name)?;
    let env = ProcessEnv::from_env().context(
        "insightsim flow reads the harness's INSIGHTSIM_* environment (it is started by `insightsim run --flow-cmd`)",
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_process(&factory, env))?;
    Ok(exit::SUCCESS)
}

fn print_list() {
    let flows = reference_flows();
    let width = flows.iter().map(|f| f.name.len()).max().unwrap_or(0);
    for f in &flows {
        match f.broken {
            None => println!("{:width$}  {}", f.name, f.description),
            Some(mistake) => println!("{:width$}  BROKEN: {mistake}", f.name),
        }
    }
}
