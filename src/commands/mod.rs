//! One module per subcommand.

pub mod flow;
pub mod load;
pub mod manifest_args;
pub mod run;
pub mod schema;
pub mod serve;
pub mod tenant_args;
