//! The functions an observer (a test, the harness) can have the simulator call at moments it
//! cannot see from outside.

/// Called when a heavy query starts, on the thread that runs it (a test holds one there to
/// check that nothing else waits for it).
pub type QueryHook = Box<dyn Fn() + Send + Sync>;

/// Called by a commit once it has taken its snapshot of the world, on the thread that encodes
/// it, before it encodes (a test holds one there to check that the world's lock is free).
pub type CommitHook = Box<dyn Fn() + Send + Sync>;

/// Called with the connection's token whenever the call limit throttles a call.
pub type ThrottleHook = Box<dyn Fn(&str) + Send + Sync>;
