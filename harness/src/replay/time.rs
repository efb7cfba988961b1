//! Virtual time for in-process flows: sleeping, and knowing when everyone is idle.
//!
//! An in-process flow runs as tokio tasks, but it waits on the *simulated* clock: its sleeps are
//! registered here and woken by the replay loop when it moves the clock past them. The loop
//! advances the clock only when every flow task is idle (finished or asleep), which is what makes
//! a replay both fast (no real waiting) and exact (a flow that waits out a `Retry-After` calls
//! again exactly when it said it would).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use parking_lot::Mutex;
use simulator::{Clock, SimDuration, SimTime};
use tokio::sync::{Notify, oneshot};

#[derive(Debug, Default)]
struct Inner {
    /// Flow tasks currently running (not finished, not asleep).
    active: usize,
    sleepers: BinaryHeap<Reverse<(SimTime, u64)>>,
    wakers: Vec<(u64, oneshot::Sender<()>)>,
    seq: u64,
}

/// Shared between the replay loop and the flow's tasks.
#[derive(Debug, Clone)]
pub struct TimeCtl {
    pub clock: Clock,
    inner: Arc<Mutex<Inner>>,
    idle: Arc<Notify>,
}

/// Counts a flow task as active while it lives (dropped when the task ends or is cancelled).
#[derive(Debug)]
pub struct ActiveGuard {
    ctl: TimeCtl,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.ctl.leave();
    }
}

impl TimeCtl {
    pub fn new(clock: Clock) -> TimeCtl {
        TimeCtl {
            clock,
            inner: Arc::new(Mutex::new(Inner::default())),
            idle: Arc::new(Notify::new()),
        }
    }

    /// Marks a new flow task as running; it counts until the guard is dropped.
    pub fn enter(&self) -> ActiveGuard {
        self.inner.lock().active += 1;
        ActiveGuard { ctl: self.clone() }
    }

    fn leave(&self) {
        let mut inner = self.inner.lock();
        inner.active = inner.active.saturating_sub(1);
        if inner.active == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Sleeps `duration` of simulated time (the calling task must hold an [`ActiveGuard`]; it
    /// stops counting as active while asleep).
    pub async fn sleep(&self, duration: SimDuration) {
        let due = self.clock.now() + SimDuration(duration.as_millis().max(0));
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner.lock();
            inner.seq += 1;
            let seq = inner.seq;
            inner.sleepers.push(Reverse((due, seq)));
            inner.wakers.push((seq, tx));
            inner.active = inner.active.saturating_sub(1);
            if inner.active == 0 {
                self.idle.notify_waiters();
            }
        }
        // The replay loop counts us active again before it wakes us. If the loop is gone (the
        // case ended), the sender is dropped and we return; the task is then cancelled anyway.
        let _ = rx.await;
    }

    /// When the earliest sleeper is due.
    pub fn next_wake(&self) -> Option<SimTime> {
        self.inner.lock().sleepers.peek().map(|Reverse((t, _))| *t)
    }

    /// Wakes every sleeper due at or before `now`; returns how many woke.
    pub fn wake_due(&self, now: SimTime) -> usize {
        let mut inner = self.inner.lock();
        let mut woken = 0;
        while let Some(Reverse((t, seq))) = inner.sleepers.peek().copied() {
            if t > now {
                break;
            }
            inner.sleepers.pop();
            if let Some(i) = inner.wakers.iter().position(|(s, _)| *s == seq) {
                let (_, tx) = inner.wakers.swap_remove(i);
                inner.active += 1;
                if tx.send(()).is_err() {
                    // The sleeper was cancelled: it will never leave again.
                    inner.active -= 1;
                } else {
                    woken += 1;
                }
            }
        }
        woken
    }

    pub fn active(&self) -> usize {
        self.inner.lock().active
    }

    /// Waits until no flow task is running.
    pub async fn until_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Register before checking, so that a task ending in between is not missed.
            notified.as_mut().enable();
            if self.active() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Drops every sleeper (the case is over): their tasks see their sleep end.
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.sleepers.clear();
        inner.wakers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleeper_wakes_when_the_clock_passes_its_time() {
        let ctl = TimeCtl::new(Clock::frozen_at(SimTime(0)));
        let task = {
            let ctl = ctl.clone();
            let guard = ctl.enter();
            tokio::spawn(async move {
                let _guard = guard;
                ctl.sleep(SimDuration::from_secs(30)).await;
                ctl.clock.now()
            })
        };
        ctl.until_idle().await;
        assert_eq!(ctl.next_wake(), Some(SimTime(30_000)));
        ctl.clock.advance_to(SimTime(30_000));
        assert_eq!(ctl.wake_due(ctl.clock.now()), 1);
        assert_eq!(task.await.unwrap(), SimTime(30_000));
        ctl.until_idle().await;
        assert_eq!(ctl.active(), 0);
    }

    #[tokio::test]
    async fn sleepers_that_are_not_due_stay_asleep() {
        let ctl = TimeCtl::new(Clock::frozen_at(SimTime(0)));
        let guard = ctl.enter();
        let c = ctl.clone();
        let _task = tokio::spawn(async move {
            let _guard = guard;
            c.sleep(SimDuration::from_secs(60)).await;
        });
        ctl.until_idle().await;
        assert_eq!(ctl.wake_due(SimTime(59_999)), 0);
        assert_eq!(ctl.next_wake(), Some(SimTime(60_000)));
    }
}
