//! Broken variants ("mutants") of the reference flows: each makes one realistic mistake that flow
//! makers really make, and commits to where it is caught — the case, and the check that fires
//! there. They measure the suite: a mutant that passes every case is a mistake the suite would
//! ship with a green badge.
//!
//! They are kept apart from [`crate::flows::reference_flows`]; `tests/mutants.rs` runs them (and
//! the broken reference flows, [`crate::flows::planted`]) against the whole suite, asserts that
//! each is caught by behaviour and by the catches it commits to, and renders the catch matrix
//! into `docs/suite.md`. `README.md` beside this file says how they are built and how to add one.
//! They run like any reference flow: `insightsim run --flow NAME`, `insightsim flow NAME`.
//!
//! ```
//! use harness::flows::mutants;
//!
//! let all = mutants::all();
//! assert!(all.len() >= 30);
//! assert!(all.iter().all(|m| m.flow.broken.is_some() && !m.caught_by.is_empty()));
//! ```

mod adapt;
mod export;
mod measure;
mod model;
mod refresh_failed;
mod refresh_succeeded;
mod segment;
mod unification;

pub use model::{Catch, MistakeClass, Mutant};

/// Every mutant, family by family (the trigger of the reference flow they break).
pub fn all() -> Vec<Mutant> {
    [
        refresh_failed::mutants(),
        segment::mutants(),
        export::mutants(),
        measure::mutants(),
        unification::mutants(),
        refresh_succeeded::mutants(),
    ]
    .concat()
}

#[cfg(test)]
mod tests;
