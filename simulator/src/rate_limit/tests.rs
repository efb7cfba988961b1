//! The limiter against a naive reference model, under concurrency, and grading scripted clients.

use std::sync::Barrier;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::thread;

use proptest::prelude::*;

use super::*;
use crate::time::{SimDuration, SimTime};

/// The reference model: it keeps every counted call and decides each call by counting them.
struct Reference {
    limit: Option<RateLimit>,
    counted_ms: Vec<i64>,
    first_ms: Option<i64>,
}

impl Reference {
    fn new(setting: RateLimitSetting) -> Reference {
        Reference {
            limit: setting.limit(),
            counted_ms: Vec::new(),
            first_ms: None,
        }
    }

    /// Whether a call at `t_ms` would be admitted, given the calls counted so far.
    fn admits_at(&self, limit: &RateLimit, t_ms: i64) -> bool {
        let window_ms = limit.window.as_millis();
        let in_window = match limit.algorithm {
            Algorithm::Sliding => self
                .counted_ms
                .iter()
                .filter(|&&c| t_ms - window_ms < c && c <= t_ms)
                .count(),
            Algorithm::Fixed => {
                let first_ms = self.first_ms.unwrap_or(t_ms);
                let index = (t_ms - first_ms).div_euclid(window_ms);
                self.counted_ms
                    .iter()
                    .filter(|&&c| (c - first_ms).div_euclid(window_ms) == index)
                    .count()
            }
        };
        (in_window as u64) < u64::from(limit.calls_max)
    }

    /// The decision on a call at `t_ms`; `Retry-After` by trying every whole second from 1 up.
    fn check(&mut self, t_ms: i64) -> Decision {
        let Some(limit) = self.limit else {
            return Decision::Admit;
        };
        self.first_ms.get_or_insert(t_ms);
        let admit = self.admits_at(&limit, t_ms);
        if admit || limit.throttled_consume {
            self.counted_ms.push(t_ms);
        }
        if admit {
            return Decision::Admit;
        }
        let bound_s = limit.window.as_millis() / 1000 + 2;
        let retry_after_s = (1..=bound_s)
            .find(|&s| self.admits_at(&limit, t_ms + s * 1000))
            .expect("a call one window later is always admitted");
        Decision::Throttle {
            retry_after_s: retry_after_s as u64,
        }
    }
}

fn limits() -> impl Strategy<Value = RateLimit> {
    let window_ms = prop_oneof![(1i64..=5).prop_map(|s| s * 1000), 1i64..=5000];
    (1u32..=10, window_ms, any::<bool>(), any::<bool>()).prop_map(
        |(calls_max, window_ms, fixed, throttled_consume)| RateLimit {
            calls_max,
            window: SimDuration(window_ms),
            algorithm: if fixed {
                Algorithm::Fixed
            } else {
                Algorithm::Sliding
            },
            throttled_consume,
        },
    )
}

fn settings() -> impl Strategy<Value = RateLimitSetting> {
    prop_oneof![
        1 => Just(RateLimitSetting::Off),
        9 => limits().prop_map(RateLimitSetting::On),
    ]
}

/// Non-decreasing call times, with many simultaneous calls and gaps of whole seconds so that
/// window edges and `Retry-After` deadlines are hit exactly.
fn call_times() -> impl Strategy<Value = Vec<i64>> {
    let gap_ms = prop_oneof![
        3 => Just(0i64),
        2 => (1i64..=5).prop_map(|s| s * 1000),
        1 => Just(1i64),
        1 => Just(999i64),
        3 => 0i64..3000,
    ];
    prop::collection::vec(gap_ms, 1..150).prop_map(|gaps| {
        gaps.iter()
            .scan(SimTime::DEFAULT_EPOCH.as_millis(), |t, gap| {
                *t += gap;
                Some(*t)
            })
            .collect()
    })
}

fn run(setting: RateLimitSetting, times_ms: &[i64]) -> (Limiter, Vec<Decision>) {
    let limiter = Limiter::new(setting);
    let decisions = times_ms
        .iter()
        .map(|&t| limiter.check("conn", SimTime(t)))
        .collect();
    (limiter, decisions)
}

/// The most admitted calls in any half-open interval `[a, a + window_ms)`, by brute force.
fn max_admitted_in_any_window(admitted_ms: &[i64], window_ms: i64) -> u64 {
    admitted_ms
        .iter()
        .map(|&a| {
            admitted_ms
                .iter()
                .filter(|&&t| a <= t && t < a + window_ms)
                .count() as u64
        })
        .max()
        .unwrap_or(0)
}

proptest! {
    /// Law: on every call the limiter decides what the reference decides by counting, and every
    /// `Retry-After` is the smallest whole number of seconds after which a call is admitted.
    #[test]
    fn the_limiter_agrees_with_the_reference_model_on_every_decision(
        setting in settings(),
        times_ms in call_times(),
    ) {
        let limiter = Limiter::new(setting);
        let mut reference = Reference::new(setting);
        for (i, &t) in times_ms.iter().enumerate() {
            let expected = reference.check(t);
            let got = limiter.check("conn", SimTime(t));
            prop_assert_eq!(got, expected, "call {} at {} under {}", i, t, setting);
        }
    }

    /// Law: under the sliding algorithm no half-open interval of length `window` ever holds more
    /// than `calls_max` admitted calls, and the efficiency is never above 1.
    #[test]
    fn no_window_ever_holds_more_than_the_limit(
        limit in limits(),
        times_ms in call_times(),
    ) {
        let limit = RateLimit { algorithm: Algorithm::Sliding, ..limit };
        let (limiter, decisions) = run(RateLimitSetting::On(limit), &times_ms);
        let admitted_ms: Vec<i64> = times_ms
            .iter()
            .zip(&decisions)
            .filter(|(_, d)| d.is_admit())
            .map(|(&t, _)| t)
            .collect();
        let most = max_admitted_in_any_window(&admitted_ms, limit.window.as_millis());
        prop_assert!(most <= u64::from(limit.calls_max), "{} admitted within {}", most, limit);
        let report = &limiter.report(SimTime(times_ms[times_ms.len() - 1]))[0];
        prop_assert!(report.efficiency.unwrap_or(0.0) <= 1.0 + 1e-9, "{:?}", report);
    }

    /// Law: the grading adds up (admitted + throttled = calls), its most-admitted-in-a-window is
    /// the brute-force maximum, and its early retries are the calls made before the deadline of
    /// the most recent 429.
    #[test]
    fn the_grading_matches_a_brute_force_count(
        setting in settings(),
        times_ms in call_times(),
    ) {
        let (limiter, decisions) = run(setting, &times_ms);
        let last_ms = times_ms[times_ms.len() - 1];
        let reports = limiter.report(SimTime(last_ms));
        prop_assert_eq!(reports.len(), 1);
        let report = &reports[0];

        let admitted_ms: Vec<i64> = times_ms
            .iter()
            .zip(&decisions)
            .filter(|(_, d)| d.is_admit())
            .map(|(&t, _)| t)
            .collect();
        let window_ms = setting.limit().map_or(60_000, |limit| limit.window.as_millis());
        let mut deadline_ms: Option<i64> = None;
        let mut early_retries = 0u64;
        let mut first_429_ms: Option<i64> = None;
        let mut admitted_after_first_429 = 0u64;
        for (&t, d) in times_ms.iter().zip(&decisions) {
            match deadline_ms {
                Some(deadline) if t < deadline => early_retries += 1,
                _ => deadline_ms = None,
            }
            match d {
                Decision::Admit if first_429_ms.is_some() => admitted_after_first_429 += 1,
                Decision::Admit => {}
                Decision::Throttle { retry_after_s } => {
                    first_429_ms.get_or_insert(t);
                    deadline_ms = Some(t + *retry_after_s as i64 * 1000);
                }
            }
        }

        prop_assert_eq!(report.calls, times_ms.len() as u64);
        prop_assert_eq!(report.admitted + report.throttled, report.calls);
        prop_assert_eq!(report.admitted, admitted_ms.len() as u64);
        prop_assert_eq!(
            report.max_admitted_in_window,
            max_admitted_in_any_window(&admitted_ms, window_ms)
        );
        prop_assert_eq!(report.early_retries, early_retries);
        prop_assert_eq!(report.admitted_after_first_429, admitted_after_first_429);
        prop_assert_eq!(report.first_throttled, first_429_ms.map(SimTime));
        prop_assert_eq!(report.span, SimDuration(last_ms - times_ms[0]));
    }
}

#[test]
fn a_thousand_simultaneous_calls_admit_exactly_the_limit() {
    let limiter = Limiter::default();
    let now = SimTime::DEFAULT_EPOCH;
    let threads = 8;
    let barrier = Barrier::new(threads);
    let admitted = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                barrier.wait();
                for _ in 0..1000 / threads {
                    if limiter.check("hot", now).is_admit() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(admitted.load(Ordering::Relaxed), 100);
    assert!(limiter.check("other", now).is_admit());
    let reports = limiter.report(now);
    let hot = &reports[0];
    assert_eq!(hot.connection, "hot");
    assert_eq!((hot.calls, hot.admitted, hot.throttled), (1000, 100, 900));
    assert_eq!(hot.max_admitted_in_window, 100);
    assert_eq!((reports[1].calls, reports[1].admitted), (1, 1));
}

#[test]
fn racing_reads_of_a_running_clock_never_overfill_a_window() {
    // Each call reads a shared clock that ticks 1 ms per read, so threads reach the lock with
    // times out of order; the limiter takes a late, older time as the newest call's instant.
    let limiter = Limiter::new(RateLimitSetting::parse("50/1s").unwrap());
    let clock_ms = AtomicI64::new(0);
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..5000 {
                    let now = SimTime(clock_ms.fetch_add(1, Ordering::Relaxed));
                    limiter.check("hot", now);
                }
            });
        }
    });
    let report = &limiter.report(SimTime(clock_ms.load(Ordering::Relaxed)))[0];
    assert_eq!(report.calls, 20_000);
    assert_eq!(report.max_admitted_in_window, 50);
    // 20 s of calls at 50 per second, give or take the first and last window.
    assert!((950..=1050).contains(&report.admitted), "{report:?}");
}

/// A scripted client on virtual time: it calls until `goal` calls are admitted (or 100,000 calls
/// are made), waits `pace_ms` after an admitted call, and after a 429 waits what
/// `wait_after_429_ms(retry_after_s, consecutive_429s)` says.
fn drive(
    limiter: &Limiter,
    connection: &str,
    goal: u64,
    pace_ms: i64,
    mut wait_after_429_ms: impl FnMut(u64, u32) -> i64,
) -> ConnectionReport {
    let mut now = SimTime::DEFAULT_EPOCH;
    let mut admitted = 0;
    let mut streak = 0;
    for _ in 0..100_000 {
        if admitted == goal {
            break;
        }
        match limiter.check(connection, now) {
            Decision::Admit => {
                admitted += 1;
                streak = 0;
                now += SimDuration(pace_ms);
            }
            Decision::Throttle { retry_after_s } => {
                streak += 1;
                now += SimDuration(wait_after_429_ms(retry_after_s, streak));
            }
        }
    }
    limiter
        .report(now)
        .into_iter()
        .find(|r| r.connection == connection)
        .expect("the client made calls")
}

fn check(report: &ConnectionReport, expected: Grade) {
    assert_eq!(report.grade, expected, "{report:#?}");
}

#[test]
fn a_client_that_waits_out_every_retry_after_is_ok_and_efficient() {
    let limiter = Limiter::default();
    let report = drive(&limiter, "polite", 1000, 50, |retry_after_s, _| {
        retry_after_s as i64 * 1000
    });
    check(&report, Grade::Ok);
    assert_eq!(report.admitted, 1000);
    assert_eq!(report.throttled, 9);
    assert_eq!(report.max_admitted_in_window, 100);
    let efficiency = report.efficiency.unwrap();
    assert!((0.95..=1.0).contains(&efficiency), "{efficiency}");
}

#[test]
fn a_client_that_retries_at_once_fails() {
    let limiter = Limiter::default();
    let report = drive(&limiter, "hammer", 300, 50, |_, _| 10);
    check(&report, Grade::Fail);
    assert!(report.early_retries > 10 * report.admitted_after_first_429);
    assert_eq!(report.max_admitted_in_window, 100);
}

#[test]
fn a_client_that_retries_at_once_fails_even_if_hammering_never_gets_through() {
    let limiter = Limiter::new(RateLimitSetting::parse("100/60s,throttled-consume").unwrap());
    let report = drive(&limiter, "hammer", 300, 50, |_, _| 10);
    check(&report, Grade::Fail);
    assert_eq!((report.admitted, report.admitted_after_first_429), (100, 0));
}

#[test]
fn a_client_with_one_early_retry_then_proper_waits_is_non_strict() {
    let limiter = Limiter::default();
    let mut first = true;
    let report = drive(&limiter, "sloppy", 1000, 50, |retry_after_s, _| {
        if std::mem::take(&mut first) {
            1000
        } else {
            retry_after_s as i64 * 1000
        }
    });
    check(&report, Grade::NonStrict);
    assert_eq!(report.early_retries, 1);
}

#[test]
fn a_client_that_ignores_retry_after_but_backs_off_5_s_is_non_strict() {
    let limiter = Limiter::default();
    let report = drive(&limiter, "fixed-5s", 1000, 50, |_, _| 5000);
    check(&report, Grade::NonStrict);
    // 100 calls take 5 s; the rest of each minute is 10 early retries 5 s apart.
    assert_eq!(report.early_retries, 90);
}

#[test]
fn reports_serialize_as_camel_case_json() {
    let limiter = Limiter::new(RateLimitSetting::parse("1/2s").unwrap());
    let start = SimTime::DEFAULT_EPOCH;
    limiter.check("0123456789abcdef", start);
    limiter.check("0123456789abcdef", start + SimDuration(500));
    limiter.check("0123456789abcdef", start + SimDuration(1000));
    let report = &limiter.report(start + SimDuration(1000))[0];
    let json = serde_json::to_value(report).unwrap();
    let expected = serde_json::json!({
        "connection": "0123456789abcdef",
        "connectionDisplay": "01234567…",
        "calls": 3,
        "admitted": 1,
        "throttled": 2,
        "earlyRetries": 1,
        "admittedAfterFirst429": 0,
        "maxAdmittedInWindow": 1,
        "windowMs": 2000,
        "firstCall": "2026-01-01T00:00:00Z",
        "lastCall": "2026-01-01T00:00:01Z",
        "firstThrottled": "2026-01-01T00:00:00.500Z",
        "retryNotBefore": "2026-01-01T00:00:02Z",
        "spanMs": 1000,
        "throughputPerWindow": 2.0 / 3.0,
        "idealPerWindow": 1,
        "efficiency": 2.0 / 3.0,
        "grade": "fail",
        "reason": "kept hammering: 1 early retry > 0 admitted calls after the first 429",
    });
    assert_eq!(json, expected);
}

#[test]
fn renders_a_table_with_one_line_per_connection_and_full_names() {
    let limiter = Limiter::new(RateLimitSetting::parse("2/10s").unwrap());
    let start = SimTime::DEFAULT_EPOCH;
    for (connection, offset_ms) in [("polite-client-token", 0), ("polite-client-token", 1000)] {
        limiter.check(connection, start + SimDuration(offset_ms));
    }
    for offset_ms in [0, 0, 0, 10, 20] {
        limiter.check("hammer", start + SimDuration(offset_ms));
    }
    let table = render_table(&limiter.report(start + SimDuration(1000)));
    let expected = "\
connection             calls admitted throttled   early max/window        span per-window  ideal efficiency  grade       reason
hammer                     5        2         3       2          2      0.020s        2.0      2      0.998  fail        kept hammering: 2 early retries > 0 admitted calls after the first 429
polite-client-token        2        2         0       0          2      1.000s        1.8      2      0.909  ok          never throttled
";
    assert_eq!(table, expected);
}

/// The worked examples of `docs/rate-limit.md`: six clients of 100 calls per 60 s, each making a
/// call every 50 ms while it is admitted, differing in what they do after a 429.
#[test]
fn the_worked_examples_in_the_docs_are_what_the_grader_says() {
    let limiter = Limiter::default();
    drive(&limiter, "polite-client", 1000, 50, |retry_after_s, _| {
        retry_after_s as i64 * 1000
    });
    drive(&limiter, "hammer-every-10ms", 300, 50, |_, _| 10);
    let mut first = true;
    drive(&limiter, "one-early-retry", 1000, 50, |retry_after_s, _| {
        if std::mem::take(&mut first) {
            1000
        } else {
            retry_after_s as i64 * 1000
        }
    });
    drive(&limiter, "every-5s", 1000, 50, |_, _| 5000);
    // The platform's default exponential policy (7.5 s scale, capped between 5 and 45 s) at the
    // top of each random range; a 429's Retry-After sets a longer interval (LA-HTTP).
    let exponential = |n: u32| [7_500, 15_000, 30_000, 45_000][(n as usize - 1).min(3)];
    drive(
        &limiter,
        "pa-default-retry",
        1000,
        50,
        |retry_after_s, n| exponential(n).max(retry_after_s as i64 * 1000),
    );
    // The same back-off in a hand-written client that ignores Retry-After.
    drive(&limiter, "backoff-no-header", 1000, 50, |_, n| {
        exponential(n)
    });
    let table = render_table(&limiter.report(SimTime::DEFAULT_EPOCH));
    let docs = include_str!("../../../docs/rate-limit.md");
    assert!(
        docs.contains(&table),
        "docs/rate-limit.md should show:\n{table}"
    );
}
