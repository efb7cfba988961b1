//! One module per subcommand.

pub mod connector;
pub mod definition;
pub mod flow;
pub mod load;
pub mod manifest_args;
pub mod openapi;
pub mod run;
pub mod schema;
pub mod serve;
pub mod tenant_args;
