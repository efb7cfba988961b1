//! [`ClockGate`]: who may start and stop a case's clock when the flow is outside the harness.
//!
//! Two parties move the clock of a case against a command or URL flow: the throttle hook (the
//! simulator calls it at the very instant it decides a `429`, before the answer is written) and
//! the timeline loop (which runs the clock while the flow may be working and freezes it when the
//! flow is quiet). They must never undo each other: a freeze decided just before a `429` would
//! stop simulated time while the flow waits out its `Retry-After` on the wall clock, and its
//! next call would look early. So both go through this gate: the loop freezes only if no `429`
//! came since it last looked ([`ClockGate::freeze_unless_throttled_since`]), and every stretch of
//! real time is recorded, for the transcript ([`ClockGate::stretches`]).

use parking_lot::Mutex;
use simulator::{Clock, SimTime};

#[derive(Debug, Default)]
struct State {
    /// `429`s decided so far (the hook counts them).
    throttles: u64,
    /// When the current stretch of real time began (simulated time), while the clock runs.
    running_since: Option<SimTime>,
    /// Finished stretches of real time, `(began, ended)`.
    stretches: Vec<(SimTime, SimTime)>,
}

/// Starts and freezes one case's clock for a flow the harness cannot see inside.
#[derive(Debug)]
pub(super) struct ClockGate {
    clock: Clock,
    state: Mutex<State>,
}

impl ClockGate {
    pub(super) fn new(clock: Clock) -> ClockGate {
        ClockGate {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// The throttle hook's part: count the `429` and make sure time runs from this instant.
    pub(super) fn throttled(&self) {
        let mut state = self.state.lock();
        state.throttles += 1;
        self.start(&mut state);
    }

    /// The loop's part: let simulated time follow the wall clock (if it does not already).
    pub(super) fn run(&self) {
        let mut state = self.state.lock();
        self.start(&mut state);
    }

    fn start(&self, state: &mut State) {
        if !self.clock.is_running() {
            state.running_since = Some(self.clock.now());
            self.clock.run(1.0);
        }
    }

    #[cfg(test)]
    fn is_running(&self) -> bool {
        self.clock.is_running()
    }

    /// How many `429`s the flow got so far.
    pub(super) fn throttles(&self) -> u64 {
        self.state.lock().throttles
    }

    /// Freezes the clock, unless a `429` came after the caller counted `seen` of them (the flow
    /// is then waiting out a `Retry-After`, and the caller must look again). Returns whether the
    /// clock is frozen.
    pub(super) fn freeze_unless_throttled_since(&self, seen: u64) -> bool {
        let mut state = self.state.lock();
        if state.throttles != seen {
            return false;
        }
        if self.clock.is_running() {
            let ended = self.clock.freeze();
            let began = state.running_since.take().unwrap_or(ended);
            state.stretches.push((began, ended));
        }
        true
    }

    /// Freezes the clock whatever happened (the case is over).
    pub(super) fn freeze(&self) {
        let seen = self.throttles();
        while !self.freeze_unless_throttled_since(seen) {}
    }

    /// The instant a transcript shows `t` at, for `t` now or in the stretch running now: the
    /// beginning of that stretch, else `t` itself.
    pub(super) fn stamp(&self, t: SimTime) -> SimTime {
        match self.state.lock().running_since {
            Some(began) if self.clock.is_running() && began <= t => began,
            _ => t,
        }
    }

    /// The stretches of real time so far, `(began, ended)` in simulated time.
    pub(super) fn stretches(&self) -> Vec<(SimTime, SimTime)> {
        self.state.lock().stretches.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_after_the_count_keeps_the_clock_running() {
        let gate = ClockGate::new(Clock::frozen_at(SimTime(1_000)));
        gate.run();
        let seen = gate.throttles();
        gate.throttled();
        assert!(!gate.freeze_unless_throttled_since(seen));
        assert!(gate.is_running());
        assert!(gate.freeze_unless_throttled_since(gate.throttles()));
        assert!(!gate.is_running());
        let stretches = gate.stretches();
        assert_eq!(stretches.len(), 1);
        assert_eq!(stretches[0].0, SimTime(1_000));
        assert!(stretches[0].1 >= SimTime(1_000));
    }

    #[test]
    fn an_instant_inside_a_running_stretch_is_stamped_with_its_beginning() {
        let clock = Clock::frozen_at(SimTime(2_000));
        let gate = ClockGate::new(clock.clone());
        assert_eq!(gate.stamp(SimTime(2_000)), SimTime(2_000));
        gate.run();
        assert_eq!(gate.stamp(SimTime(2_003)), SimTime(2_000));
        gate.freeze();
        assert_eq!(gate.stamp(SimTime(2_003)), SimTime(2_003));
    }

    #[test]
    fn the_hook_starts_a_frozen_clock_at_the_instant_of_the_429() {
        let clock = Clock::frozen_at(SimTime(5_000));
        let gate = ClockGate::new(clock.clone());
        gate.throttled();
        assert!(clock.is_running());
        gate.freeze();
        assert_eq!(gate.stretches()[0].0, SimTime(5_000));
    }
}
