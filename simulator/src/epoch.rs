//! The id epoch: why the ids of what a tenant creates as it runs never repeat.
//!
//! A tenant has two kinds of ids. Its *data's* ids (the instance id, `CustomerId`s, data source
//! ids) come from the seed alone: the same seed gives the same data, in every run. The ids of the
//! objects it creates as it runs (subscriptions, jobs, tasks, events and deliveries) are numbered
//! in order, and the numbers are hashed with an *id seed*. If that id seed were the seed, a
//! restart or a `POST /_sim/reset` would hand out the same event ids again, and a flow that
//! de-duplicates by event id would drop real new events. So the id seed comes from an
//! [`Epoch`]: the seed, a text, and a generation that every reset moves on.
//!
//! What the text is, [`IdEpoch`] says, and this is the one mechanism for every user:
//!
//! - `serve` draws a random text at start ([`IdEpoch::Random`]), or, with `--state-dir`, keeps
//!   the epoch it saved, so a restart never repeats an id;
//! - the harness fixes the text per case and run ([`IdEpoch::Fixed`]), so its transcripts stay
//!   a pure function of the scenario while a flow that lives through several cases never sees an
//!   event id twice;
//! - tests and examples keep the seed's own ids ([`IdEpoch::Seed`], the library default).
//!
//! Whatever the text, every reset starts a new generation, so ids never repeat across resets
//! either; and the same text and generation always give the same ids.

use serde::{Deserialize, Serialize};

use crate::ids;

/// Where the id epoch's text comes from (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IdEpoch {
    /// No text: the first generation has the ids of the seed alone (the library default, so
    /// that tests and examples can name ids from the seed).
    #[default]
    Seed,
    /// A fixed text: ids that are the same in every run and differ from those of any other
    /// text (the harness fixes one per case and run).
    Fixed(String),
    /// A new random text at every start (`serve`'s default without a state dir).
    Random,
}

/// The epoch in force: its text and how many resets it has been through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    pub text: Option<String>,
    pub generation: u64,
}

impl Epoch {
    /// The first epoch of a simulator built with `config` (a random one draws its text now).
    pub fn start(config: &IdEpoch) -> Epoch {
        let text = match config {
            IdEpoch::Seed => None,
            IdEpoch::Fixed(text) => Some(text.clone()),
            IdEpoch::Random => Some(format!("{:016x}", rand::random::<u64>())),
        };
        Epoch {
            text,
            generation: 0,
        }
    }

    /// The epoch after a reset: the same text, the next generation.
    #[must_use]
    pub fn next(&self) -> Epoch {
        Epoch {
            text: self.text.clone(),
            generation: self.generation + 1,
        }
    }

    /// The id seed of this epoch for a tenant `seed`. The first generation of a text keeps the
    /// derivation the harness's salts always had, so accepted transcripts keep their ids.
    pub fn id_seed(&self, seed: u64) -> u64 {
        match (&self.text, self.generation) {
            (None, 0) => seed,
            (Some(text), 0) => ids::hash_parts(seed, &["ids", text]),
            (text, generation) => ids::hash_parts(
                seed,
                &[
                    "ids-generation",
                    text.as_deref().unwrap_or(""),
                    &generation.to_string(),
                ],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &Epoch, b: &Epoch, same: bool) {
        assert_eq!(a.id_seed(42) == b.id_seed(42), same, "{a:?} vs {b:?}");
    }

    #[test]
    fn the_seed_epoch_keeps_the_seeds_ids_until_a_reset() {
        let first = Epoch::start(&IdEpoch::Seed);
        assert_eq!(first.id_seed(42), 42);
        assert_ne!(first.next().id_seed(42), 42);
    }

    #[test]
    fn a_fixed_text_gives_the_same_ids_in_every_run_and_new_ones_after_each_reset() {
        let a = Epoch::start(&IdEpoch::Fixed("case/1".into()));
        let b = Epoch::start(&IdEpoch::Fixed("case/1".into()));
        check(&a, &b, true);
        check(&a, &a.next(), false);
        check(&a.next(), &b.next(), true);
        check(&a.next(), &a.next().next(), false);
        check(&a, &Epoch::start(&IdEpoch::Fixed("case/2".into())), false);
        check(&a.next(), &Epoch::start(&IdEpoch::Seed).next(), false);
    }

    #[test]
    fn random_epochs_differ_from_one_start_to_the_next() {
        let a = Epoch::start(&IdEpoch::Random);
        let b = Epoch::start(&IdEpoch::Random);
        check(&a, &b, false);
        check(&a, &Epoch::start(&IdEpoch::Seed), false);
    }
}
