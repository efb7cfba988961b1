//! The limiter: one decision per call, per connection, on the injected clock's `now`.
//!
//! Sliding window (the default): a call at `t` counts against later calls while `now - window < t`,
//! that is for exactly `window`; at `t + window` its slot is free again. A call is admitted iff
//! fewer than `calls_max` counted calls lie in `(now - window, now]`. Only the newest `calls_max`
//! counted calls can ever decide an admission (the older ones leave the window first), so that is
//! all a connection keeps. When a call is throttled, the `calls_max`-th newest counted call at `o`
//! leaves the window at `o + window`, the first instant a call would be admitted (if no other call
//! comes), so `Retry-After` is `ceil((o + window - now) / 1000)` seconds, at least 1: a call
//! after exactly that many whole seconds is admitted, one a second sooner is not.
//!
//! Fixed window: windows `[start + k * window, start + (k + 1) * window)` from the connection's
//! first call, `calls_max` admitted in each; `Retry-After` is the whole seconds until the next
//! window starts, at least 1.

use std::fmt;
use std::hash::{Hash, Hasher};

use parking_lot::{Mutex, RwLock};
use rustc_hash::{FxHashMap, FxHasher};

use super::config::{Algorithm, RateLimit, RateLimitSetting};
use super::decision::Decision;
use super::grading::{ConnectionReport, Tally};
use super::runs::Runs;
use crate::time::{SimDuration, SimTime};

/// The window a report measures "most admitted calls in any window" with when the limit is off:
/// the connector's 60 s.
const GRADING_WINDOW_OFF: SimDuration = SimDuration::from_secs(60);

/// How many independently locked parts the connection map is split into. With one map, two
/// threads deciding calls of different connections still bounce the read lock's counter between
/// their cores on every call (measured on the benchmark machine: about 190 ns per call as each
/// thread sees it, against 95 ns with shards; see `docs/rate-limit.md`); with 32 parts two
/// connections share one with a chance of 1 in 32.
const SHARDS: usize = 32;
const _: () = assert!(SHARDS.is_power_of_two());

/// The connector's call limiter: decides every `/v1` call of every connection and grades how each
/// connection behaved. Thread-safe and exact under concurrency: each connection's state sits behind
/// its own lock, so simultaneous calls on one connection are decided one after the other.
pub struct Limiter {
    setting: RateLimitSetting,
    /// The window reports measure with: the limit's, or 60 s when off.
    grading_window: SimDuration,
    /// Connections keyed by bearer token, split by the token's hash. The hot path takes one
    /// shard's read lock and the connection's mutex; a shard's write lock is taken only for a
    /// connection's first call and for `reset`.
    shards: Box<[Shard]>,
}

/// One part of the connection map, on its own cache lines so that shards never share one.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    connections: RwLock<FxHashMap<Box<str>, Mutex<Connection>>>,
}

/// One connection's state: the limiter's memory and the grader's.
#[derive(Debug, Default)]
struct Connection {
    window: WindowState,
    tally: Tally,
}

#[derive(Debug, Default)]
struct WindowState {
    /// Sliding: the newest counted calls inside the window, at most `calls_max` of them.
    counted: Runs,
    /// Fixed: the start of the current window (`None` before the first call) and the calls
    /// counted in it.
    fixed_start_ms: Option<i64>,
    fixed_counted: u64,
}

impl Limiter {
    /// A limiter with no connection yet. A `calls_max` of 0 is taken as 1 and a window under 1 ms
    /// as 1 ms (neither comes out of [`RateLimit::parse`]).
    pub fn new(setting: RateLimitSetting) -> Limiter {
        let setting = match setting {
            RateLimitSetting::Off => RateLimitSetting::Off,
            RateLimitSetting::On(limit) => RateLimitSetting::On(RateLimit {
                calls_max: limit.calls_max.max(1),
                window: SimDuration(limit.window.as_millis().max(1)),
                ..limit
            }),
        };
        let grading_window = setting
            .limit()
            .map_or(GRADING_WINDOW_OFF, |limit| limit.window);
        Limiter {
            setting,
            grading_window,
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    pub fn setting(&self) -> RateLimitSetting {
        self.setting
    }

    /// Decides a call on `connection` at `now` and records it for grading. A `now` earlier than
    /// the connection's previous call is taken as that call's time (the clock never goes back, but
    /// two requests can read it and then reach the lock in the other order).
    pub fn check(&self, connection: &str, now: SimTime) -> Decision {
        let shard = self.shard(connection);
        {
            let connections = shard.connections.read();
            if let Some(state) = connections.get(connection) {
                return self.decide_and_record(&mut state.lock(), now);
            }
        }
        let mut connections = shard.connections.write();
        let state = connections.entry(Box::from(connection)).or_default();
        self.decide_and_record(state.get_mut(), now)
    }

    fn shard(&self, connection: &str) -> &Shard {
        let mut hasher = FxHasher::default();
        connection.hash(&mut hasher);
        // The top bits of a multiplicative mix, so that tokens differing only in their last
        // characters still spread.
        let mixed = hasher.finish().wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.shards[(mixed >> (64 - SHARDS.trailing_zeros())) as usize % SHARDS]
    }

    fn decide_and_record(&self, state: &mut Connection, now: SimTime) -> Decision {
        let now_ms = state.tally.clamp(now.as_millis());
        let decision = match self.setting {
            RateLimitSetting::Off => Decision::Admit,
            RateLimitSetting::On(limit) => decide(&limit, &mut state.window, now_ms),
        };
        state
            .tally
            .record(now_ms, decision, self.grading_window.as_millis());
        decision
    }

    /// The grading of every connection that made a call since the start or the last reset, sorted
    /// by token. `now` only decides whether a connection's early-retry deadline is still pending.
    pub fn report(&self, now: SimTime) -> Vec<ConnectionReport> {
        let ideal_per_window = self.setting.limit().map(|limit| limit.calls_max);
        let mut reports: Vec<ConnectionReport> = Vec::new();
        for shard in &*self.shards {
            let connections = shard.connections.read();
            reports.extend(connections.iter().map(|(token, state)| {
                state
                    .lock()
                    .tally
                    .report(token, now, self.grading_window, ideal_per_window)
            }));
        }
        reports.sort_by(|a, b| a.connection.cmp(&b.connection));
        reports
    }

    /// Forgets every connection: their windows and their grading.
    pub fn reset(&self) {
        for shard in &*self.shards {
            shard.connections.write().clear();
        }
    }
}

impl Default for Limiter {
    fn default() -> Limiter {
        Limiter::new(RateLimitSetting::default())
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("setting", &self.setting.to_string())
            .field(
                "connections",
                &self
                    .shards
                    .iter()
                    .map(|shard| shard.connections.read().len())
                    .sum::<usize>(),
            )
            .finish()
    }
}

/// The limiter's decision on one call at `now_ms` (never earlier than the previous call), updating
/// the window state.
fn decide(limit: &RateLimit, window: &mut WindowState, now_ms: i64) -> Decision {
    let window_ms = limit.window.as_millis();
    let calls_max = u64::from(limit.calls_max);
    match limit.algorithm {
        Algorithm::Sliding => {
            let counted = &mut window.counted;
            // Calls at or before `now - window` have left the window `(now - window, now]`.
            counted.expire_through(now_ms.saturating_sub(window_ms));
            if counted.total() < calls_max {
                counted.push(now_ms);
                return Decision::Admit;
            }
            if limit.throttled_consume {
                counted.push(now_ms);
                counted.keep_newest(calls_max);
            }
            // `counted` holds `calls_max` calls, all inside the window; the oldest leaves first.
            let oldest_ms = counted.oldest_ms().unwrap_or(now_ms);
            Decision::throttle_for_ms(oldest_ms.saturating_add(window_ms).saturating_sub(now_ms))
        }
        Algorithm::Fixed => {
            let start_ms = match window.fixed_start_ms {
                Some(start_ms) if now_ms.saturating_sub(start_ms) < window_ms => start_ms,
                Some(start_ms) => {
                    let elapsed_windows = now_ms.saturating_sub(start_ms) / window_ms;
                    window.fixed_counted = 0;
                    start_ms.saturating_add(elapsed_windows.saturating_mul(window_ms))
                }
                None => now_ms,
            };
            window.fixed_start_ms = Some(start_ms);
            if window.fixed_counted < calls_max {
                window.fixed_counted += 1;
                return Decision::Admit;
            }
            // A throttled call that consumes quota changes nothing here: the window is full either
            // way until it ends.
            Decision::throttle_for_ms(start_ms.saturating_add(window_ms).saturating_sub(now_ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs calls at `times_ms` (after the default epoch) on one connection and compares the
    /// decisions, written `A` (admit) and `T<s>` (throttle with `Retry-After: s`), runs of the same
    /// decision as `A×100`.
    fn check(setting: &str, times_ms: &[i64], expected: &str) {
        let setting = RateLimitSetting::parse(setting).unwrap();
        let limiter = Limiter::new(setting);
        let decisions: Vec<Decision> = times_ms
            .iter()
            .map(|&t| limiter.check("conn", SimTime::DEFAULT_EPOCH + SimDuration(t)))
            .collect();
        assert_eq!(render(&decisions), expected, "{setting} at {times_ms:?}");
    }

    fn render(decisions: &[Decision]) -> String {
        let word = |d: &Decision| match d {
            Decision::Admit => "A".to_owned(),
            Decision::Throttle { retry_after_s } => format!("T{retry_after_s}"),
        };
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < decisions.len() {
            let run = decisions[i..]
                .iter()
                .take_while(|d| **d == decisions[i])
                .count();
            let w = word(&decisions[i]);
            parts.push(if run == 1 { w } else { format!("{w}×{run}") });
            i += run;
        }
        parts.join(" ")
    }

    fn every_ms(step_ms: i64, count: i64) -> Vec<i64> {
        (0..count).map(|i| i * step_ms).collect()
    }

    #[test]
    fn throttles_the_101st_call_within_the_window_with_the_exact_wait() {
        // 100 calls 100 ms apart, the 101st at 10 s: the first leaves the window at 60 s.
        check("100/60s", &every_ms(100, 101), "A×100 T50");
        // At 10.001 s the wait is 49.999 s, which rounds up to 50.
        let mut times = every_ms(100, 100);
        times.push(10_001);
        check("100/60s", &times, "A×100 T50");
    }

    #[test]
    fn a_call_counts_for_exactly_one_window() {
        // Slots free at 1000 (two calls at 0); the third at 999 waits 1 ms, rounded up to 1 s.
        check("2/1s", &[0, 0, 999, 1000, 1000, 1000], "A×2 T1 A×2 T1");
        check("2/1s", &[0, 500, 999, 1000, 1499, 1500], "A×2 T1 A T1 A");
    }

    #[test]
    fn retry_after_is_at_least_one_second_and_rounds_up() {
        check("1/500ms", &[0, 1, 499, 500], "A T1×2 A");
        check("1/2500ms", &[0, 0, 1000, 1499, 1500], "A T3 T2×2 T1");
    }

    #[test]
    fn a_retry_after_the_given_wait_is_admitted() {
        let limiter = Limiter::new(RateLimitSetting::parse("3/10s").unwrap());
        let mut now = SimTime::DEFAULT_EPOCH;
        for step_ms in [0, 1234, 4321] {
            now += SimDuration(step_ms);
            assert_eq!(limiter.check("c", now), Decision::Admit);
        }
        let Decision::Throttle { retry_after_s } = limiter.check("c", now) else {
            panic!("the fourth call within 10 s must be throttled");
        };
        assert_eq!(retry_after_s, 5);
        let almost = now + SimDuration::from_secs(retry_after_s as i64 - 1);
        assert!(!limiter.check("c", almost).is_admit());
        let then = now + SimDuration::from_secs(retry_after_s as i64);
        assert!(limiter.check("c", then).is_admit());
    }

    #[test]
    fn fixed_windows_start_at_the_first_call_and_allow_a_burst_across_a_boundary() {
        check(
            "2/1s,fixed",
            &[100, 200, 300, 1099, 1100, 1100, 1100],
            "A×2 T1×2 A×2 T1",
        );
        // Two at the end of one window and two at the start of the next: 4 within 2 ms.
        check("2/1s,fixed", &[0, 998, 999, 1000, 1001], "A×2 T1 A×2");
        // Windows skipped while idle keep their grid: 5.5 s is in [5 s, 6 s).
        check("1/1s,fixed", &[0, 5500, 5999, 6000], "A×2 T1 A");
        check("1/10s,fixed", &[0, 1, 8_999, 9_001], "A T10 T2 T1");
    }

    #[test]
    fn throttled_calls_do_not_consume_quota_unless_asked() {
        check("1/2s", &[0, 1000, 2000], "A T1 A");
        // Each throttled call takes the slot again, so hammering every second never gets through.
        check(
            "1/2s,throttled-consume",
            &[0, 1000, 2000, 3000, 5000],
            "A T2×3 A",
        );
        // The 429 at 1500 counts until 3500: at 3499 the window (1499, 3499] holds 1500 and 2000.
        check(
            "2/2s,throttled-consume",
            &[0, 0, 1500, 2000, 3499],
            "A×2 T1 A T1",
        );
        check("1/2s,fixed,throttled-consume", &[0, 1000, 2000], "A T1 A");
    }

    #[test]
    fn off_admits_every_call_and_still_records_it() {
        check("off", &[0; 1000], "A×1000");
        let limiter = Limiter::new(RateLimitSetting::Off);
        for _ in 0..250 {
            limiter.check("c", SimTime::DEFAULT_EPOCH);
        }
        let report = &limiter.report(SimTime::DEFAULT_EPOCH)[0];
        assert_eq!(
            (report.calls, report.admitted, report.throttled),
            (250, 250, 0)
        );
        assert_eq!(report.max_admitted_in_window, 250);
        assert_eq!(report.window, SimDuration::from_secs(60));
        assert_eq!((report.ideal_per_window, report.efficiency), (None, None));
    }

    #[test]
    fn time_going_back_counts_as_the_previous_call_s_instant() {
        check("1/1s", &[10_000, 5_000, 10_999, 11_000, 0], "A T1×2 A T1");
        let limiter = Limiter::new(RateLimitSetting::default());
        limiter.check("c", SimTime(10_000));
        limiter.check("c", SimTime(5_000));
        let report = &limiter.report(SimTime(10_000))[0];
        assert_eq!(report.last_call, SimTime(10_000));
        assert_eq!(report.span, SimDuration::ZERO);
    }

    #[test]
    fn extreme_times_and_windows_do_not_panic() {
        let huge = SimDuration(i64::MAX);
        for algorithm in [Algorithm::Sliding, Algorithm::Fixed] {
            for window in [SimDuration(1), SimDuration::from_secs(60), huge] {
                let limit = RateLimit {
                    calls_max: 1,
                    window,
                    algorithm,
                    throttled_consume: true,
                };
                let limiter = Limiter::new(RateLimitSetting::On(limit));
                for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX, 0] {
                    limiter.check("c", SimTime(t));
                }
                let report = &limiter.report(SimTime(i64::MAX))[0];
                assert_eq!(report.calls, 7);
                assert!(report.throughput_per_window.is_finite());
            }
        }
    }

    #[test]
    fn the_limiter_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Limiter>();
    }

    #[test]
    fn connections_are_limited_separately() {
        let limiter = Limiter::new(RateLimitSetting::parse("1/60s").unwrap());
        let now = SimTime::DEFAULT_EPOCH;
        assert!(limiter.check("a", now).is_admit());
        assert!(!limiter.check("a", now).is_admit());
        assert!(limiter.check("b", now).is_admit());
        let reports = limiter.report(now);
        let names: Vec<&str> = reports.iter().map(|r| r.connection.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        limiter.reset();
        assert!(limiter.report(now).is_empty());
        assert!(limiter.check("a", now).is_admit());
    }

    #[test]
    fn memory_stays_bounded_under_a_million_calls_with_the_limit_off() {
        let limiter = Limiter::new(RateLimitSetting::Off);
        for i in 0..1_000_000i64 {
            // The first half million calls 1,000 per ms, the rest one per ms.
            let t = if i < 500_000 { i / 1000 } else { i };
            limiter.check("c", SimTime(t));
        }
        let connections = limiter.shard("c").connections.read();
        let state = connections.get("c").unwrap().lock();
        assert!(state.tally.recent_admitted_entries() <= 60_000);
    }
}
