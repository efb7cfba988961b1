//! One module per subcommand.

pub mod flow;
pub mod load;
pub mod run;
pub mod serve;
pub mod tenant_args;
