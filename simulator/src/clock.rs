//! The one clock that drives everything: schedules, task durations, the call-limit window,
//! delivery retries and timestamps.
//!
//! A [`Clock`] is either *running* (simulated time follows the wall clock, optionally faster) or
//! *frozen* (simulated time moves only when someone calls [`Clock::advance`] or
//! [`Clock::advance_to`]). `serve` runs it; the harness freezes it and jumps to the next due event,
//! and lets it run at real speed only while a connection waits out a `Retry-After`.
//!
//! The simulator core never reads the wall clock itself: it asks this clock for `now`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;

use crate::time::{SimDuration, SimTime};

/// A shared handle to the simulation clock. Cloning is cheap and all clones see the same time.
#[derive(Clone, Debug)]
pub struct Clock {
    state: Arc<RwLock<State>>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// Simulated time at `anchor`.
    anchor_sim: SimTime,
    /// Wall instant at which `anchor_sim` was true (meaningful only while running).
    anchor: Instant,
    /// `None` when frozen; otherwise simulated milliseconds per wall millisecond.
    speed: Option<f64>,
}

impl State {
    fn now(&self) -> SimTime {
        match self.speed {
            None => self.anchor_sim,
            Some(speed) => {
                let wall_ms = self.anchor.elapsed().as_secs_f64() * 1000.0;
                SimTime(self.anchor_sim.0 + (wall_ms * speed) as i64)
            }
        }
    }
}

impl Clock {
    /// A clock that follows the wall clock from the current UTC time, `speed` times faster.
    pub fn wall(speed: f64) -> Clock {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Clock::running_from(SimTime(now_ms), speed)
    }

    /// A running clock that starts at `start`.
    pub fn running_from(start: SimTime, speed: f64) -> Clock {
        Clock::with_state(State {
            anchor_sim: start,
            anchor: Instant::now(),
            speed: Some(sanitize_speed(speed)),
        })
    }

    /// A frozen clock at `start`: virtual time, moved only by [`Clock::advance`].
    pub fn frozen_at(start: SimTime) -> Clock {
        Clock::with_state(State {
            anchor_sim: start,
            anchor: Instant::now(),
            speed: None,
        })
    }

    fn with_state(state: State) -> Clock {
        Clock {
            state: Arc::new(RwLock::new(state)),
        }
    }

    pub fn now(&self) -> SimTime {
        self.state.read().now()
    }

    /// Whether simulated time follows the wall clock right now.
    pub fn is_running(&self) -> bool {
        self.state.read().speed.is_some()
    }

    pub fn speed(&self) -> Option<f64> {
        self.state.read().speed
    }

    /// Moves simulated time forward by `by` (running or frozen); returns the new time.
    pub fn advance(&self, by: SimDuration) -> SimTime {
        let mut state = self.state.write();
        let now = state.now();
        state.anchor_sim = now + SimDuration(by.0.max(0));
        state.anchor = Instant::now();
        state.anchor_sim
    }

    /// Moves simulated time forward to `to`; never moves it backwards. Returns the new time.
    pub fn advance_to(&self, to: SimTime) -> SimTime {
        let mut state = self.state.write();
        let now = state.now();
        state.anchor_sim = now.max(to);
        state.anchor = Instant::now();
        state.anchor_sim
    }

    /// Stops time at its current value.
    pub fn freeze(&self) -> SimTime {
        let mut state = self.state.write();
        state.anchor_sim = state.now();
        state.anchor = Instant::now();
        state.speed = None;
        state.anchor_sim
    }

    /// Lets time follow the wall clock from its current value, `speed` times faster.
    pub fn run(&self, speed: f64) {
        let mut state = self.state.write();
        state.anchor_sim = state.now();
        state.anchor = Instant::now();
        state.speed = Some(sanitize_speed(speed));
    }

    /// How long to wait on the wall clock until simulated time reaches `at`; `None` when frozen
    /// (a frozen clock reaches `at` only when advanced).
    pub fn wall_until(&self, at: SimTime) -> Option<Duration> {
        let state = self.state.read();
        let speed = state.speed?;
        let ahead_ms = (at.0 - state.now().0).max(0) as f64 / speed;
        Some(Duration::from_secs_f64(ahead_ms / 1000.0))
    }
}

/// A wall-clock budget for work the server bounds (a heavy query), which the work checks inside
/// its loops. It can also be cancelled (the client went away). It lives here because this is
/// the one module that reads the wall clock; the simulated clock has nothing to do with it.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Option<Instant>,
    cancelled: Arc<AtomicBool>,
}

impl Deadline {
    /// A budget of `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(budget),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// No budget: never expires unless cancelled.
    pub fn unbounded() -> Deadline {
        Deadline {
            at: None,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the budget ran out or the work was cancelled.
    pub fn expired(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// Time left (zero once expired; `None` when unbounded).
    pub fn remaining(&self) -> Option<Duration> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Some(Duration::ZERO);
        }
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Stops the work at its next check (every clone sees it).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

fn sanitize_speed(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::frozen_at(SimTime::DEFAULT_EPOCH);
        assert_eq!(clock.now(), SimTime::DEFAULT_EPOCH);
        assert_eq!(
            clock.wall_until(SimTime::DEFAULT_EPOCH + SimDuration(5)),
            None
        );
        clock.advance(SimDuration::from_secs(30));
        assert_eq!(
            clock.now(),
            SimTime::DEFAULT_EPOCH + SimDuration::from_secs(30)
        );
    }

    #[test]
    fn advance_to_never_goes_backwards() {
        let clock = Clock::frozen_at(SimTime(10_000));
        assert_eq!(clock.advance_to(SimTime(5_000)), SimTime(10_000));
        assert_eq!(clock.advance_to(SimTime(20_000)), SimTime(20_000));
    }

    #[test]
    fn a_running_clock_is_monotonic_and_can_be_frozen() {
        let clock = Clock::running_from(SimTime(0), 1000.0);
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
        let frozen = clock.freeze();
        assert_eq!(clock.now(), frozen);
        assert!(!clock.is_running());
    }

    #[test]
    fn a_deadline_expires_when_cancelled_or_out_of_time() {
        let d = Deadline::after(Duration::from_secs(3600));
        assert!(!d.expired());
        let clone = d.clone();
        clone.cancel();
        assert!(d.expired());
        assert_eq!(d.remaining(), Some(Duration::ZERO));
        assert!(Deadline::after(Duration::ZERO).expired());
        assert_eq!(Deadline::unbounded().remaining(), None);
    }

    #[test]
    fn wall_until_scales_by_speed() {
        let clock = Clock::running_from(SimTime(0), 10.0);
        let wait = clock.wall_until(SimTime(10_000)).unwrap();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
    }
}
