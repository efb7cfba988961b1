//! Integration tests of the harness.

mod process;
mod replay;
