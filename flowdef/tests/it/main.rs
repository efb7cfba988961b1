//! Integration tests of flowdef: the shipped definitions, packages, and the runtime on a
//! scripted host.

mod check;
mod definitions;
mod packages;
mod runtime;
