//! The engine's seeded-draw toolbox: task durations and outcomes, back-off jitter, fault draws,
//! and the random walks that move segment counts and measure values between refreshes. Every
//! owner that decides something at random draws here; nothing here knows the engine.
//!
//! Randomness is *keyed*, not sequential: every random choice gets its own generator, seeded from
//! the tenant seed and the names of what is being decided (`["attempt", job id, task, attempt]`,
//! `["backoff", delivery id, retry]`, ...). A draw therefore never depends on how many draws came
//! before it, so the order in which the HTTP shell reports delivery results (which depends on the
//! network) cannot change a task duration or a segment count.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::ids;
use crate::tenant::spec::{DurationRange, FailureRates};
use crate::time::SimDuration;

/// The generator for one decision, named by `parts`.
pub(super) fn rng(seed: u64, parts: &[&str]) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(ids::hash_parts(seed, parts))
}

/// A uniform draw in `[0, 1)`.
pub(super) fn unit(seed: u64, parts: &[&str]) -> f64 {
    rng(seed, parts).random::<f64>()
}

/// A duration drawn uniformly (whole milliseconds) from a range.
pub(super) fn duration_in(seed: u64, parts: &[&str], range: DurationRange) -> SimDuration {
    let (lo, hi) = (
        range.min.as_millis(),
        range.max.as_millis().max(range.min.as_millis()),
    );
    if lo >= hi {
        return SimDuration(lo);
    }
    SimDuration(rng(seed, parts).random_range(lo..=hi))
}

/// A milliseconds value drawn uniformly from `[lo, hi]`.
pub(super) fn millis_in(seed: u64, parts: &[&str], lo: i64, hi: i64) -> i64 {
    if lo >= hi {
        return hi;
    }
    rng(seed, parts).random_range(lo..=hi)
}

/// A standard normal draw (Box–Muller; `rand_distr` is not a dependency and this is all we need).
pub(super) fn normal(seed: u64, parts: &[&str]) -> f64 {
    let mut r = rng(seed, parts);
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - r.random::<f64>();
    let u2: f64 = r.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// How one task attempt ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) enum AttemptOutcome {
    Success,
    /// Fails and may be retried.
    Transient,
    /// Fails for good.
    Permanent,
    /// Runs until the task timeout.
    Timeout,
}

/// Draws an attempt's outcome from the per-attempt failure rates.
pub(super) fn attempt_outcome(seed: u64, parts: &[&str], rates: FailureRates) -> AttemptOutcome {
    let u = unit(seed, parts);
    if u < rates.transient {
        AttemptOutcome::Transient
    } else if u < rates.transient + rates.permanent {
        AttemptOutcome::Permanent
    } else if u < rates.transient + rates.permanent + rates.timeout {
        AttemptOutcome::Timeout
    } else {
        AttemptOutcome::Success
    }
}

/// Share of the distance back to the anchor (the initial value) that one step recovers.
pub(super) const REVERSION: f64 = 0.1;

/// One step of the mean-reverting multiplicative walk:
/// `next = current + REVERSION·(anchor − current) + volatility·z·current`, with `z ~ N(0, 1)`.
///
/// The pull toward the anchor keeps a walk near realistic values over months of refreshes
/// (a pure multiplicative walk drifts to 0 or explodes), while the noise still crosses any
/// threshold near the anchor again and again.
pub(super) fn step(current: f64, anchor: f64, volatility: f64, z: f64) -> f64 {
    current + REVERSION * (anchor - current) + volatility * z * current
}

/// The next member count of a segment: the walk, rounded, within `[0, customers]`.
pub(super) fn next_count(
    current: u64,
    anchor: u64,
    volatility: f64,
    z: f64,
    customers: u64,
) -> u64 {
    let next = step(current as f64, anchor as f64, volatility, z).round();
    if next.is_nan() || next <= 0.0 {
        0
    } else {
        (next as u64).min(customers)
    }
}

/// The next value of a measure: the walk, never negative, rounded to whole units for counts and
/// to cents otherwise.
pub(super) fn next_value(current: f64, anchor: f64, volatility: f64, z: f64, whole: bool) -> f64 {
    let next = step(current, anchor, volatility, z).max(0.0);
    round_value(next, whole)
}

pub(super) fn round_value(v: f64, whole: bool) -> f64 {
    if whole {
        v.round()
    } else {
        (v * 100.0).round() / 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(current: u64, anchor: u64, z: f64, expected: u64) {
        assert_eq!(next_count(current, anchor, 0.05, z, 10_000), expected);
    }

    #[test]
    fn a_count_at_its_anchor_moves_only_by_noise() {
        check(1000, 1000, 0.0, 1000);
        check(1000, 1000, 1.0, 1050);
        check(1000, 1000, -1.0, 950);
    }

    #[test]
    fn a_count_is_pulled_back_toward_its_anchor() {
        check(2000, 1000, 0.0, 1900);
        check(0, 1000, 0.0, 100);
    }

    #[test]
    fn counts_stay_within_the_customer_base() {
        check(9_990, 9_990, 5.0, 10_000);
        check(10, 10, -30.0, 0);
    }

    #[test]
    fn keyed_draws_are_reproducible_and_independent_of_order() {
        let a = unit(42, &["x", "1"]);
        let _ = unit(42, &["y"]);
        assert_eq!(a, unit(42, &["x", "1"]));
        assert_ne!(a, unit(42, &["x", "2"]));
    }

    #[test]
    fn failure_rates_of_zero_always_succeed_and_of_one_always_fail() {
        let none = FailureRates {
            transient: 0.0,
            permanent: 0.0,
            timeout: 0.0,
        };
        let all = FailureRates {
            transient: 0.0,
            permanent: 1.0,
            timeout: 0.0,
        };
        for i in 0..50 {
            let key = i.to_string();
            assert_eq!(attempt_outcome(1, &[&key], none), AttemptOutcome::Success);
            assert_eq!(attempt_outcome(1, &[&key], all), AttemptOutcome::Permanent);
        }
    }

    proptest! {
        /// Law: a drawn duration lies within its range, inclusive.
        #[test]
        fn durations_lie_within_their_range(lo in 0i64..100_000, span in 0i64..100_000, key in any::<u32>()) {
            let range = DurationRange { min: SimDuration(lo), max: SimDuration(lo + span) };
            let d = duration_in(7, &[&key.to_string()], range);
            prop_assert!(d.as_millis() >= lo && d.as_millis() <= lo + span);
        }

        /// Law: normal draws are finite.
        #[test]
        fn normal_draws_are_finite(key in any::<u64>()) {
            prop_assert!(normal(3, &[&key.to_string()]).is_finite());
        }
    }
}
