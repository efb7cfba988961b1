//! Integration tests of the harness.

mod replay;
