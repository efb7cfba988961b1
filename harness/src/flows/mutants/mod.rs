//! Broken variants ("mutants") of the reference flows: each makes one realistic mistake that flow
//! makers really make, and says what must catch it — the case, and the check that must fire
//! there. They measure the suite: a mutant that passes every case is a mistake the suite would
//! ship with a green badge.
//!
//! They are kept apart from [`crate::flows::reference_flows`] (whose broken variants the suite
//! test requires to fail), because many are not caught yet: `README.md` beside this file records,
//! for each, whether the suite catches it today, by which case and check, and which new check
//! (issue 9, part 2) must catch the rest. They run like any reference flow:
//! `insightsim run --flow NAME`, `insightsim flow NAME`.
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
