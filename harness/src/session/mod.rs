//! One conformance run, as the CLI (`insightsim run`) and the test suite (`tests/suite.rs`)
//! both carry it out: select the cases ([`Selection`]), name the flow under test
//! ([`command_flow`], [`url_flow`]), then run the cases and the property laws against it and
//! collect the results ([`Session`]).

mod naming;
mod run;
mod select;

pub use naming::{
    URL_SINKS_ADDR, UnknownTrigger, command_flow, command_name, reference_flow_of, url_flow,
    url_name,
};
pub use run::{DEFAULT_LAW_SEED, Progress, Session, SkipCount, never_acted, snapshot_names};
pub use select::{Selection, SelectionError, nearest_ids};
