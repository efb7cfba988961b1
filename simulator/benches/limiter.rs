//! The cost of one call-limit decision (`Limiter::check`), alone and with two threads contending.
//!
//! Every decision here includes everything the HTTP layer pays per `/v1` call: the map lookup by
//! token under the read lock, the connection's mutex, the window update and the grading tally.
//!
//! - `1-thread/*`: one thread, one decision per iteration. `admitting` advances virtual time by
//!   600 ms per call, so at 100 calls per 60 s every call is admitted and evicts the oldest
//!   (the busiest path); `throttling` keeps time still, so every call after the 100th is a 429;
//!   `10k-connections` cycles through 10,000 tokens (map lookups that miss the cache).
//! - `2-threads/*`: two threads each make `iters` decisions at the same time, starting together
//!   at a barrier. The time reported per iteration is the wall time from the first thread's start
//!   to the last thread's end divided by `2 * iters`: the cost of one decision when two threads
//!   decide at once (their throughput, inverted). Each thread sees a latency per call of twice
//!   that; when the two serialize on one lock, the two are the same work done one after the other.
//!   `same-connection` contends on one connection's lock; `different-connections` on nothing
//!   (the two tokens fall in different shards of the connection map);
//!   `different-connections-same-shard` on one shard's read lock.

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use simulator::SimTime;
use simulator::rate_limit::{Limiter, RateLimitSetting};

const TOKEN_A: &str = "sim-token-8c1d3f0e2b7a4c9d5e6f7a8b";
/// In another shard of the connection map than `TOKEN_A` (shard 18 against 13, today's hash).
const TOKEN_B: &str = "sim-token-0b1c2d3e4f5a6b7c8d9e0f1a";
/// In the same shard as `TOKEN_A` (a 1-in-32 chance for any two tokens): the worst case of two
/// connections, contending on one shard's read lock.
const TOKEN_A_NEIGHBOUR: &str = "sim-token-5a4b3c2d1e0f9a8b7c6d5e4f";

fn one_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("limiter/1-thread");

    let limiter = Limiter::new(RateLimitSetting::default());
    let mut now_ms = SimTime::DEFAULT_EPOCH.as_millis();
    group.bench_function("admitting", |b| {
        b.iter(|| {
            now_ms += 600;
            limiter.check(black_box(TOKEN_A), SimTime(now_ms))
        })
    });

    let limiter = Limiter::new(RateLimitSetting::default());
    group.bench_function("throttling", |b| {
        b.iter(|| limiter.check(black_box(TOKEN_A), SimTime::DEFAULT_EPOCH))
    });

    let limiter = Limiter::new(RateLimitSetting::default());
    let tokens: Vec<String> = (0..10_000).map(|i| format!("sim-token-{i:024}")).collect();
    let mut i = 0usize;
    let mut now_ms = SimTime::DEFAULT_EPOCH.as_millis();
    group.bench_function("10k-connections", |b| {
        b.iter(|| {
            i = (i + 1) % tokens.len();
            now_ms += 1;
            limiter.check(black_box(&tokens[i]), SimTime(now_ms))
        })
    });
    group.finish();
}

/// Two threads making `iters` decisions each, on `tokens[0]` and `tokens[1]`, with time
/// advancing 600 ms per call on each thread (so on one shared connection about half the calls
/// are throttled). A fresh limiter per measurement keeps that mix the same in every sample.
fn two_threads(iters: u64, tokens: [&str; 2]) -> Duration {
    let limiter = Limiter::new(RateLimitSetting::default());
    let barrier = Barrier::new(2);
    let spans: Vec<(Instant, Instant)> = thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|&token| {
                let (limiter, barrier) = (&limiter, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let mut now_ms = SimTime::DEFAULT_EPOCH.as_millis();
                    for _ in 0..iters {
                        now_ms += 600;
                        black_box(limiter.check(black_box(token), SimTime(now_ms)));
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a benchmark thread panicked"))
            .collect()
    });
    let start = spans.iter().map(|s| s.0).min().expect("two threads ran");
    let end = spans.iter().map(|s| s.1).max().expect("two threads ran");
    // Criterion divides by `iters`; two threads made `iters` decisions each.
    (end - start) / 2
}

fn contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("limiter/2-threads");
    group.bench_function("same-connection", |b| {
        b.iter_custom(|iters| two_threads(iters, [TOKEN_A, TOKEN_A]))
    });
    group.bench_function("different-connections", |b| {
        b.iter_custom(|iters| two_threads(iters, [TOKEN_A, TOKEN_B]))
    });
    group.bench_function("different-connections-same-shard", |b| {
        b.iter_custom(|iters| two_threads(iters, [TOKEN_A, TOKEN_A_NEIGHBOUR]))
    });
    group.finish();
}

criterion_group!(benches, one_thread, contended);
criterion_main!(benches);
