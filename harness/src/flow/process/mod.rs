//! A flow as a standalone process (`insightsim flow NAME`), as the harness runs any
//! `--flow-cmd` (SPEC 4.1).
//!
//! The process reads the harness's environment contract ([`ProcessEnv`]), listens for the
//! connector's deliveries on `INSIGHTSIM_FLOW_ADDR`, and gives the flow a [`FlowIo`] backed by
//! real HTTP and the wall clock ([`HttpIo`]). It turns the flow on once it is listening (the
//! flow registers its subscriptions, pointing at `http://<FLOW_ADDR>/hook`), and on SIGTERM or
//! Ctrl-C turns it off: it stops the flow, deletes the subscriptions it registered (as Power
//! Automate does when a flow is turned off) and returns. It logs one line to stderr per
//! delivery and per API or sink call; the harness puts stderr into its reports.
//!
//! A delivery is handled on its own task, not on the connection: when the connector gives up
//! waiting (its attempt timeout, 30 s by default, is shorter than a `Retry-After`) and closes the
//! connection, the flow's work goes on, and the redelivery finds the event already handled.
//!
//! - `env`: the contract ([`ProcessEnv`], [`EnvError`], [`default_subscriptions`]);
//! - `listener`: the delivery endpoint;
//! - `http_io`: [`HttpIo`];
//! - `lifecycle`: [`run_process`], turning the flow on and off.
//!
//! [`FlowIo`]: super::FlowIo

mod env;
mod http_io;
mod lifecycle;
mod listener;

pub use env::{
    API_URL, EnvError, FLOW_ADDR, INSTANCE_ID, ProcessEnv, SINK_EMAIL_URL, SINK_HTTP_URL,
    SINK_TEAMS_URL, SUBSCRIPTIONS, TOKEN, default_subscriptions,
};
pub use http_io::HttpIo;
pub use lifecycle::{ProcessError, run_process, run_process_until};
pub use listener::HOOK_PATH;
