//! Concurrency inside a run, made deterministic.
//!
//! Parallel branches and the iterations of a `Foreach` run as a [`Group`] of futures inside the
//! run's one task. The group lets one branch run at a time and switches at *action boundaries*
//! (a branch yields after each action) and when a branch sleeps (a retry interval, a `Wait`), in
//! round-robin order. So twenty concurrent iterations interleave action by action, the same way
//! on every run: an iteration that sets a shared variable and then reads it after an API call
//! sees another iteration's value, as on the real platform, and the transcript is the same
//! every time.
//!
//! Time moves only when every branch of a group sleeps: then the group sleeps once, on its
//! parent's lane (the host's clock at the top), until the earliest deadline. The host therefore
//! never sees two sleeps of one run at once, which keeps the harness's idle detection exact.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;

use crate::host::{BoxFuture, Host};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Runnable,
    Running,
    Yielded,
    Sleeping(i64),
    Free,
}

#[derive(Debug)]
pub(crate) struct Shared {
    states: Mutex<Vec<State>>,
}

/// Where a branch runs: on the host directly, or as a slot of a group.
#[derive(Clone)]
pub(crate) enum Lane {
    Top,
    Branch { shared: Arc<Shared>, slot: usize },
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lane::Top => f.write_str("Top"),
            Lane::Branch { slot, .. } => write!(f, "Branch({slot})"),
        }
    }
}

impl Lane {
    /// Sleeps `ms` on this lane.
    pub(crate) fn sleep<'a>(&'a self, host: &'a dyn Host, ms: i64) -> BoxFuture<'a, ()> {
        match self {
            Lane::Top => host.sleep(ms.max(0)),
            Lane::Branch { shared, slot } => Box::pin(Park {
                shared: shared.clone(),
                slot: *slot,
                park: State::Sleeping(host.now_ms() + ms.max(0)),
                parked: false,
            }),
        }
    }

    /// Lets the other branches of the group run an action (nothing at the top).
    pub(crate) fn yield_now(&self) -> BoxFuture<'static, ()> {
        match self {
            Lane::Top => Box::pin(std::future::ready(())),
            Lane::Branch { shared, slot } => Box::pin(Park {
                shared: shared.clone(),
                slot: *slot,
                park: State::Yielded,
                parked: false,
            }),
        }
    }
}

/// A branch parking itself (yielding or sleeping) until its group runs it again.
struct Park {
    shared: Arc<Shared>,
    slot: usize,
    park: State,
    parked: bool,
}

impl Future for Park {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let mut states = self.shared.states.lock();
        if !self.parked {
            states[self.slot] = self.park;
            drop(states);
            self.parked = true;
            // No waker: the group sees the state when this returns, and polls the branch
            // again itself when it is its turn.
            return Poll::Pending;
        }
        if states[self.slot] == State::Running {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Runs `total` branches, at most `concurrency` at once, deterministically interleaved; gives
/// their outputs in branch order.
pub(crate) struct Group<'a, T> {
    shared: Arc<Shared>,
    make: Box<dyn FnMut(usize, Lane) -> BoxFuture<'a, T> + Send + 'a>,
    total: usize,
    started: usize,
    concurrency: usize,
    /// Per slot: the branch index and its future.
    slots: Vec<Option<(usize, BoxFuture<'a, T>)>>,
    outputs: Vec<Option<T>>,
    current: Option<usize>,
    last: usize,
    sleeping: Option<BoxFuture<'a, ()>>,
    parent: Arc<Lane>,
    host: &'a dyn Host,
}

impl<'a, T: Send + 'a> Group<'a, T> {
    pub(crate) fn new(
        host: &'a dyn Host,
        parent: &Lane,
        total: usize,
        concurrency: usize,
        make: impl FnMut(usize, Lane) -> BoxFuture<'a, T> + Send + 'a,
    ) -> Group<'a, T> {
        Group {
            shared: Arc::new(Shared {
                states: Mutex::new(Vec::new()),
            }),
            make: Box::new(make),
            total,
            started: 0,
            concurrency: concurrency.max(1),
            slots: Vec::new(),
            outputs: (0..total).map(|_| None).collect(),
            current: None,
            last: usize::MAX,
            sleeping: None,
            parent: Arc::new(parent.clone()),
            host,
        }
    }

    fn fill(&mut self) {
        while self.started < self.total {
            let active = self.slots.iter().filter(|s| s.is_some()).count();
            if active >= self.concurrency {
                break;
            }
            let slot = match self.slots.iter().position(Option::is_none) {
                Some(s) => s,
                None => {
                    self.slots.push(None);
                    self.shared.states.lock().push(State::Free);
                    self.slots.len() - 1
                }
            };
            let lane = Lane::Branch {
                shared: self.shared.clone(),
                slot,
            };
            let fut = (self.make)(self.started, lane);
            self.slots[slot] = Some((self.started, fut));
            self.shared.states.lock()[slot] = State::Runnable;
            self.started += 1;
        }
    }

    fn next_runnable(&self) -> Option<usize> {
        let states = self.shared.states.lock();
        let n = states.len();
        let start = if self.last == usize::MAX {
            0
        } else {
            self.last + 1
        };
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| states[i] == State::Runnable)
    }
}

impl<'a, T: Send + Unpin + 'a> Future for Group<'a, T> {
    type Output = Vec<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let this = self.get_mut();
        loop {
            if let Some(sleep) = this.sleeping.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleeping = None;
                let now = this.host.now_ms();
                let mut states = this.shared.states.lock();
                let earliest = states
                    .iter()
                    .filter_map(|s| match s {
                        State::Sleeping(d) => Some(*d),
                        _ => None,
                    })
                    .min();
                for s in states.iter_mut() {
                    // Wake what is due; if the clock fell short of the earliest deadline (a host
                    // whose sleep ends early), wake that one anyway rather than spin.
                    if let State::Sleeping(d) = *s
                        && (d <= now || Some(d) == earliest)
                    {
                        *s = State::Runnable;
                    }
                }
            }
            this.fill();
            if this.current.is_none() {
                this.current = this.next_runnable();
            }
            let Some(i) = this.current else {
                if this.slots.iter().all(Option::is_none) && this.started == this.total {
                    let outputs = std::mem::take(&mut this.outputs);
                    return Poll::Ready(outputs.into_iter().flatten().collect());
                }
                let earliest = this
                    .shared
                    .states
                    .lock()
                    .iter()
                    .filter_map(|s| match s {
                        State::Sleeping(d) => Some(*d),
                        _ => None,
                    })
                    .min();
                let Some(deadline) = earliest else {
                    // Nothing runnable, nothing asleep: a branch awaits something outside the
                    // group (cannot happen with the runtime's branches); wait to be woken.
                    return Poll::Pending;
                };
                let wait = deadline - this.host.now_ms();
                let parent = this.parent.clone();
                let host = this.host;
                this.sleeping = Some(Box::pin(async move { parent.sleep(host, wait).await }));
                continue;
            };
            this.shared.states.lock()[i] = State::Running;
            let Some((index, fut)) = this.slots[i].as_mut() else {
                this.current = None;
                continue;
            };
            match fut.as_mut().poll(cx) {
                Poll::Ready(v) => {
                    this.outputs[*index] = Some(v);
                    this.slots[i] = None;
                    this.shared.states.lock()[i] = State::Free;
                    this.current = None;
                    this.last = i;
                }
                Poll::Pending => {
                    let mut states = this.shared.states.lock();
                    match states[i] {
                        // Waiting on I/O: the waker will bring us back to this branch.
                        State::Running => return Poll::Pending,
                        State::Yielded => {
                            states[i] = State::Runnable;
                            this.current = None;
                            this.last = i;
                        }
                        _ => {
                            this.current = None;
                            this.last = i;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;
    use crate::host::Reply;
    use crate::operations::Sink;

    /// A host whose sleeps move its clock at once and are logged.
    #[derive(Default)]
    struct Clock {
        now: AtomicI64,
        sleeps: Mutex<Vec<i64>>,
    }

    impl Host for Clock {
        fn api<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: &'a str,
            _: Option<serde_json::Value>,
        ) -> BoxFuture<'a, Reply> {
            Box::pin(async { Reply::status(200) })
        }
        fn sink<'a>(&'a self, _: Sink, _: serde_json::Value) -> BoxFuture<'a, u16> {
            Box::pin(async { 202 })
        }
        fn sleep<'a>(&'a self, ms: i64) -> BoxFuture<'a, ()> {
            self.sleeps.lock().push(ms);
            self.now.fetch_add(ms, Ordering::SeqCst);
            Box::pin(async {})
        }
        fn now_ms(&self) -> i64 {
            self.now.load(Ordering::SeqCst)
        }
        fn notification_url(&self) -> String {
            String::new()
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn branches_interleave_action_by_action_in_round_robin() {
        let host = Clock::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let group = Group::new(&host, &Lane::Top, 3, 20, {
            let log = log.clone();
            move |i, lane| {
                let log = log.clone();
                Box::pin(async move {
                    for step in 0..2 {
                        log.lock().push(format!("{i}.{step}"));
                        lane.yield_now().await;
                    }
                    i * 10
                })
            }
        });
        assert_eq!(block_on(group), vec![0, 10, 20]);
        assert_eq!(*log.lock(), ["0.0", "1.0", "2.0", "0.1", "1.1", "2.1"]);
    }

    #[test]
    fn a_limit_of_one_runs_branches_one_after_the_other() {
        let host = Clock::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let group = Group::new(&host, &Lane::Top, 2, 1, {
            let log = log.clone();
            move |i, lane| {
                let log = log.clone();
                Box::pin(async move {
                    for step in 0..2 {
                        log.lock().push(format!("{i}.{step}"));
                        lane.yield_now().await;
                    }
                })
            }
        });
        block_on(group);
        assert_eq!(*log.lock(), ["0.0", "0.1", "1.0", "1.1"]);
    }

    #[test]
    fn the_host_sleeps_once_per_deadline_while_every_branch_sleeps() {
        let host = Clock::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let h = &host;
        let group = Group::new(h, &Lane::Top, 3, 3, {
            let log = log.clone();
            move |i, lane| {
                let log = log.clone();
                Box::pin(async move {
                    lane.sleep(h, 1000 * (3 - i as i64)).await;
                    log.lock().push((i, h.now_ms()));
                })
            }
        });
        block_on(group);
        assert_eq!(*log.lock(), [(2, 1000), (1, 2000), (0, 3000)]);
        assert_eq!(*host.sleeps.lock(), [1000, 1000, 1000]);
    }

    #[test]
    fn nested_groups_sleep_through_their_parent() {
        let host = Clock::default();
        let h = &host;
        let outer = Group::new(h, &Lane::Top, 2, 2, move |i, lane| {
            Box::pin(async move {
                let inner = Group::new(h, &lane, 2, 2, move |j, lane| {
                    Box::pin(async move {
                        lane.sleep(h, 100 * (1 + i as i64 + j as i64)).await;
                        h.now_ms()
                    })
                });
                inner.await
            })
        });
        assert_eq!(block_on(outer), vec![vec![100, 200], vec![200, 300]]);
        assert_eq!(*host.sleeps.lock(), [100, 100, 100]);
    }
}
