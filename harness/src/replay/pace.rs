//! How long the harness waits for a flow it cannot see inside (a command or a URL), and what it
//! learns of the flow's pace over a run ([`Pace`]).
//!
//! The rules (README, "Testing your flow", and `timeline_external.rs`):
//!
//! - The **settle window** is how long a flow may stay silent after a stimulus (a delivery it
//!   answered, its own last call) before the harness takes it to be done:
//!   `max(--settle, REACTION_FACTOR x the slowest reaction seen)`, at most [`SETTLE_MAX`]. A
//!   reaction is the wall time from a delivery's answer to the flow's next call.
//! - The **retry grace** is how long after a `Retry-After` deadline the harness keeps waiting for
//!   the flow's next call: `RETRY_GRACE_FACTOR x the largest margin seen past a deadline`,
//!   between [`RETRY_GRACE_MIN`] and [`RETRY_GRACE_MAX`]. A flow that has not called by then has
//!   given up.
//! - The **tail** watched after each case for late activity is one settle window; until the
//!   flow has been seen reacting to a delivery at all in this run, a case whose last answered
//!   delivery got no reaction is watched for [`FIRST_REACTION_WAIT`] instead, so that a slow
//!   flow's first late action is seen (and the case re-run with a wider window).
//! - The **overrun** is how far past its end a case may run in real time while the flow is still
//!   busy ([`OVERRUN_MAX_DEFAULT`], `--overrun-max`).

use std::time::Duration;

/// `--settle`: long enough for a Node-RED flow on a busy 2-core machine (its reaction to a
/// delivery took up to 60 ms there, unloaded, and several hundred under load).
pub const SETTLE_DEFAULT: Duration = Duration::from_millis(400);
/// The most the settle window grows to, however slow the flow has been.
pub const SETTLE_MAX: Duration = Duration::from_secs(10);
/// How long the tail waits for a reaction the run has not seen the like of yet (see above).
pub const FIRST_REACTION_WAIT: Duration = Duration::from_secs(5);
/// The settle window is this many times the slowest reaction seen.
pub const REACTION_FACTOR: u32 = 2;
/// The retry grace is this many times the largest margin seen past a `Retry-After`...
pub const RETRY_GRACE_FACTOR: u32 = 3;
/// ... and at least this ...
pub const RETRY_GRACE_MIN: Duration = Duration::from_secs(2);
/// ... and at most this.
pub const RETRY_GRACE_MAX: Duration = Duration::from_secs(30);
/// `--overrun-max`: how long a case may go on past its end while the flow is still working.
pub const OVERRUN_MAX_DEFAULT: Duration = Duration::from_secs(180);

/// The waiting rules of a run (from the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// The shortest settle window (`--settle`).
    pub settle: Duration,
    /// How far past its end a case may run while the flow is busy (`--overrun-max`).
    pub overrun_max: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            settle: SETTLE_DEFAULT,
            overrun_max: OVERRUN_MAX_DEFAULT,
        }
    }
}

/// What the harness has seen of one flow's pace in this run: its slowest reaction to a
/// delivery, and the most it waited past a `Retry-After`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pace {
    pub reaction_max: Duration,
    pub margin_max: Duration,
    /// Reactions to a delivery seen so far.
    pub reactions: u64,
}

impl Pace {
    /// Records a reaction (the wall time from an answer to the flow's next call).
    pub fn reacted(&mut self, latency: Duration) {
        self.reaction_max = self.reaction_max.max(latency.min(SETTLE_MAX));
        self.reactions += 1;
    }

    /// How long the tail after a case watches for late activity; `awaiting` says whether the
    /// last delivery the flow answered with a `2xx` got no reaction yet.
    pub fn tail(&self, waits: &Waits, awaiting: bool) -> Duration {
        let window = self.settle_window(waits);
        if awaiting && self.reactions == 0 {
            window.max(FIRST_REACTION_WAIT)
        } else {
            window
        }
    }

    /// Records a margin (how long past a `Retry-After` deadline the flow called again).
    pub fn waited_past(&mut self, margin: Duration) {
        self.margin_max = self.margin_max.max(margin.min(RETRY_GRACE_MAX));
    }

    /// How long the flow may stay silent after a stimulus before it counts as quiet.
    pub fn settle_window(&self, waits: &Waits) -> Duration {
        let cap = SETTLE_MAX.max(waits.settle);
        waits
            .settle
            .max(self.reaction_max * REACTION_FACTOR)
            .min(cap)
    }

    /// How long after a `Retry-After` deadline the flow's next call is still waited for.
    pub fn retry_grace(&self) -> Duration {
        (self.margin_max * RETRY_GRACE_FACTOR).clamp(RETRY_GRACE_MIN, RETRY_GRACE_MAX)
    }
}

/// A duration as the reports write it: `400 ms`, `2.5 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        let s = d.as_secs_f64();
        if (s - s.round()).abs() < 0.05 {
            format!("{:.0} s", s.round())
        } else {
            format!("{s:.1} s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_settle_window_follows_the_slowest_reaction_within_its_bounds() {
        let waits = Waits::default();
        let mut pace = Pace::default();
        assert_eq!(pace.settle_window(&waits), SETTLE_DEFAULT);
        pace.reacted(MS(150));
        assert_eq!(pace.settle_window(&waits), SETTLE_DEFAULT);
        pace.reacted(MS(2_000));
        assert_eq!(pace.settle_window(&waits), MS(4_000));
        pace.reacted(MS(60_000));
        assert_eq!(pace.settle_window(&waits), SETTLE_MAX);
        let long = Waits {
            settle: Duration::from_secs(20),
            ..Waits::default()
        };
        assert_eq!(pace.settle_window(&long), Duration::from_secs(20));
    }

    #[test]
    fn the_tail_waits_longer_only_until_the_flow_is_seen_reacting() {
        let waits = Waits::default();
        let mut pace = Pace::default();
        assert_eq!(pace.tail(&waits, false), SETTLE_DEFAULT);
        assert_eq!(pace.tail(&waits, true), FIRST_REACTION_WAIT);
        pace.reacted(MS(20));
        assert_eq!(pace.tail(&waits, true), SETTLE_DEFAULT);
    }

    #[test]
    fn the_retry_grace_follows_the_largest_margin_within_its_bounds() {
        let mut pace = Pace::default();
        assert_eq!(pace.retry_grace(), RETRY_GRACE_MIN);
        pace.waited_past(MS(300));
        assert_eq!(pace.retry_grace(), RETRY_GRACE_MIN);
        pace.waited_past(MS(2_000));
        assert_eq!(pace.retry_grace(), MS(6_000));
        pace.waited_past(Duration::from_secs(100));
        assert_eq!(pace.retry_grace(), RETRY_GRACE_MAX);
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(MS(400)), "400 ms");
        assert_eq!(human(MS(2_000)), "2 s");
        assert_eq!(human(MS(2_500)), "2.5 s");
    }
}
