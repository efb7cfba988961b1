//! Integration tests of the harness.

mod definitions;
mod replay;
