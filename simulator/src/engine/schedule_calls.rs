//! The engine's calls on the refresh schedules created through the API (`workflows/{name}/
//! schedules`): part of the orchestrator, wiring the schedules owner to the catalog (which
//! checks a schedule's identifiers), the queue and job submission.

use super::error::EngineError;
use super::schedules::{RefreshSchedule, ScheduleRequest, Schedules};
use super::state::Engine;
use crate::ids;
use crate::time::SimTime;

impl Engine {
    /// The refresh schedules created through the API, in creation order.
    pub fn refresh_schedules(&self) -> Vec<RefreshSchedule> {
        self.schedules.views()
    }

    /// Creates refresh schedules (`POST .../schedules` one, `.../schedules/batch` several): all
    /// are checked first, and none is created if one is refused. Each active one submits a
    /// scheduled job of its operation at every instant its cron expressions name (UTC).
    pub fn create_refresh_schedules(
        &mut self,
        now: SimTime,
        requests: Vec<ScheduleRequest>,
    ) -> Result<Vec<RefreshSchedule>, EngineError> {
        let now = self.catch_up(now);
        let checked = requests
            .into_iter()
            .map(|r| {
                let c = Schedules::check(r)?;
                self.catalog.select(c.operation, &c.identifiers)?;
                Ok(c)
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let mut out = Vec::new();
        for c in checked {
            let id = ids::uuid_n(self.id_seed, "schedule", self.schedules.len() as u64);
            let (view, due) = self.schedules.add(now, c, id, &self.instance_id);
            if let Some((at, item)) = due {
                self.queue.push(at, item);
            }
            out.push(view);
        }
        Ok(out)
    }

    /// Schedule `s` is due: its next tick is queued and its job submitted (a schedule's job
    /// was checked against the catalog when it was created, so it plans).
    pub(super) fn cron_tick(&mut self, at: SimTime, s: usize) {
        let (next, job) = self.schedules.tick(at, s);
        if let Some((when, item)) = next {
            self.queue.push(when, item);
        }
        if let Some(job) = job {
            let _planned = self.submit(at, job);
        }
    }
}
