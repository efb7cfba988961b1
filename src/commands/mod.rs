//! One module per subcommand.

pub mod flow;
pub mod load;
pub mod openapi;
pub mod run;
pub mod serve;
