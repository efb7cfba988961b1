//! Exit codes are part of the interface (listed in the README).

/// Everything passed (or the command succeeded).
pub const SUCCESS: u8 = 0;
/// A conformance run had failures.
pub const FAILURES: u8 = 1;
/// Bad usage or configuration: a flag, a tenant file, a scenario file.
pub const USAGE: u8 = 2;
/// The simulator could not start (e.g. the address is in use).
pub const START: u8 = 3;
