//! Integration tests of the harness.

mod architecture;
mod definitions;
mod process;
mod replay;
