//! The conformance harness (grows with issue 5).
