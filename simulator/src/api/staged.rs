//! A request in two stages: what the API answers at once, and heavy work that makes the answer
//! later, on another thread.
//!
//! [`super::stage`] authenticates, counts the call, routes and, for a light request, answers. A
//! heavy read (a scan, a sort, a search, a partition) comes back as [`Staged::Query`]: the
//! server runs it off its I/O threads, a few at once, within the query budget; the control
//! calls that move the lifecycle or rebuild the data come back as [`Staged::Blocking`], run
//! off the I/O threads with no budget. [`super::handle`] runs both kinds inline (the harness and
//! the tests call it on their own thread).

use crate::clock::Deadline;
use crate::sim::Simulator;

use super::error::ApiError;
use super::response::ApiResponse;

/// Heavy work that makes an answer; it looks at the deadline as it goes.
pub(crate) type Work =
    Box<dyn FnOnce(&Simulator, &Deadline) -> Result<ApiResponse, ApiError> + Send>;

/// What a route gives: an answer now, or work that makes it.
pub(crate) enum Routed {
    Now(ApiResponse),
    Later(Work),
}

/// Work that makes the answer of a request, journal included.
pub struct Heavy {
    work: Answering,
}

type Answering = Box<dyn FnOnce(&Simulator, &Deadline) -> ApiResponse + Send>;

impl std::fmt::Debug for Heavy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Heavy")
    }
}

impl Heavy {
    pub(crate) fn new(
        work: impl FnOnce(&Simulator, &Deadline) -> ApiResponse + Send + 'static,
    ) -> Heavy {
        Heavy {
            work: Box::new(work),
        }
    }

    /// Runs the work; it stops early (and answers `503`) once `deadline` passes.
    pub fn run(self, sim: &Simulator, deadline: &Deadline) -> ApiResponse {
        (self.work)(sim, deadline)
    }
}

/// A request after its first stage.
#[derive(Debug)]
pub enum Staged {
    /// The answer.
    Ready(ApiResponse),
    /// A heavy query: run it within `limits.server_query_time_max`, at most
    /// `limits.server_queries_max` at once.
    Query(Heavy),
    /// Work that may take a while but is bounded by itself (a clock move, a reset): run it off
    /// the I/O threads.
    Blocking(Heavy),
}

impl Staged {
    /// The answer, running any work on this thread (a query within the tenant's budget).
    pub fn run_inline(self, sim: &Simulator) -> ApiResponse {
        match self {
            Staged::Ready(response) => response,
            Staged::Query(work) => {
                let budget = sim.spec.limits.server_query_time_max.as_millis().max(0) as u64;
                work.run(
                    sim,
                    &Deadline::after(std::time::Duration::from_millis(budget)),
                )
            }
            Staged::Blocking(work) => work.run(sim, &Deadline::unbounded()),
        }
    }
}
