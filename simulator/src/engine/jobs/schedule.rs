//! The refresh schedule: when it next ticks, what it did so far, and skipping ticks in bulk
//! when one catch-up of the clock would run more of them than
//! `limits.clock_catch_up_refreshes_max`.

use serde::Serialize;

use crate::engine::queue::{Due, Queue};
use crate::tenant::spec::RefreshSpec;
use crate::time::{SimDuration, SimTime};

/// The refresh schedule, for the control API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub enabled: bool,
    pub next_at: Option<SimTime>,
    pub every: SimDuration,
    /// Ticks so far (each submitted a scheduled full refresh unless skipped).
    pub ticks: u64,
    pub skipped: u64,
    /// Ticks skipped in bulk because one catch-up of the clock would have run more than
    /// `limits.clock_catch_up_refreshes_max` of them (not counted in `ticks`).
    pub skipped_in_catch_up: u64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(super) struct Schedule {
    enabled: bool,
    every: SimDuration,
    pub(super) next_at: Option<SimTime>,
    ticks: u64,
    pub(super) skipped: u64,
    skipped_in_catch_up: u64,
    catch_up_ticks_max: u64,
}

impl Schedule {
    /// The first tick, if the schedule is on, is due `schedule_first_after` after `start`.
    pub(super) fn new(refresh: &RefreshSpec, catch_up_ticks_max: u64, start: SimTime) -> Schedule {
        Schedule {
            enabled: refresh.schedule_enabled,
            every: refresh.schedule_every,
            next_at: refresh
                .schedule_enabled
                .then(|| start + refresh.schedule_first_after),
            ticks: 0,
            skipped: 0,
            skipped_in_catch_up: 0,
            catch_up_ticks_max: catch_up_ticks_max.max(1),
        }
    }

    /// A tick at `at`: the next one, if any, to queue.
    pub(super) fn tick(&mut self, at: SimTime) -> Option<SimTime> {
        self.ticks += 1;
        self.next_at = (self.every > SimDuration::ZERO).then(|| at + self.every);
        self.next_at
    }

    /// Before a catch-up to `now`: when more ticks than the maximum fall due by then, the
    /// oldest are skipped in bulk (and counted) and the queued tick moves to the first one that
    /// runs, so that the cost of a long jump of the clock does not grow with its length.
    pub(super) fn skip_before(&mut self, now: SimTime, queue: &mut Queue) {
        let (Some(next), every) = (self.next_at, self.every.as_millis()) else {
            return;
        };
        if next > now || every <= 0 {
            return;
        }
        let due = ((now.0 - next.0) / every) as u64 + 1;
        let skip = due.saturating_sub(self.catch_up_ticks_max);
        if skip == 0 {
            return;
        }
        self.skipped_in_catch_up += skip;
        let moved = SimTime(next.0 + (skip as i64) * every);
        self.next_at = Some(moved);
        queue.retain(|d| !matches!(d, Due::ScheduledRefresh));
        queue.push(moved, Due::ScheduledRefresh);
    }

    pub(super) fn view(&self) -> ScheduleView {
        ScheduleView {
            enabled: self.enabled,
            next_at: self.next_at,
            every: self.every,
            ticks: self.ticks,
            skipped: self.skipped,
            skipped_in_catch_up: self.skipped_in_catch_up,
        }
    }
}
