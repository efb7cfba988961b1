//! Integration tests of the harness.

mod architecture;
mod process;
mod replay;
