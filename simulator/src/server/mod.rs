//! The HTTP shell: hyper on tokio, translating HTTP to [`crate::api::stage`] and back.
//!
//! It holds no business logic. What it does own is the protection of the simulator process
//! itself, separate from the simulated connector's call limit and named "insightsim server
//! limit" in every refusal: caps on connections (in all and per peer), timeouts on request
//! heads, idle connections and bodies, byte caps on heads, targets and bodies, and heavy queries
//! run off the I/O threads, a few at once, each within a time budget. The limits are the
//! tenant file's `[limits]` ([`ServerLimits`]).
//!
//! - `listen.rs`: the accept loop, the connection caps, shutdown ([`start`], [`ServerHandle`]);
//! - `gate.rs`: reads each request head before hyper does, so that a head too large, malformed
//!   or too slow gets an answer with a body instead of hyper's bare status;
//! - `exchange.rs`: one request: body limits, absolute URLs, running heavy work;
//! - `limits.rs`: the limits and the refusals; `pieces.rs`: the response body.

mod exchange;
mod gate;
mod limits;
mod listen;
mod pieces;

pub use exchange::DroppedConnection;
pub use limits::ServerLimits;
pub use listen::{ServerHandle, start, start_on};
pub use pieces::Pieces;
