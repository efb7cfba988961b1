//! The schedules owner: refresh schedules created through the API (`workflows/{name}/schedules`,
//! the model's `WorkflowRefreshSchedule`), each submitting a scheduled job of its operation at
//! every time its cron expressions name, in UTC.
//!
//! The tenant file's own schedule (`refresh.schedule_*`, a fixed interval) is the jobs owner's;
//! these come on top of it. The owner validates and keeps the schedules and says when each is
//! next due; the orchestrator queues the ticks and submits the jobs.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::cron::Cron;
use super::error::EngineError;
use super::queue::Due;
use super::request::{JobRequest, OperationType, SubmissionKind};
use crate::time::SimTime;

/// The time zones schedules may use: the simulator evaluates cron expressions in UTC only.
pub const TIMEZONES: [(&str, &str); 1] = [("UTC", "(UTC) Coordinated Universal Time")];

/// A schedule as a client sends it (the model's `WorkflowRefreshSchedule`; `scheduleId` and
/// `instanceId` are the service's and ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleRequest {
    /// What to refresh (default `all`).
    pub operation_type: Option<String>,
    /// `noSubType` (the only one simulated).
    pub sub_type: Option<String>,
    pub identifiers: Vec<String>,
    /// `full` (default); `incremental` jobs are not simulated.
    pub job_type: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
    /// `UTC` (default; the only one supported).
    pub timezone_id: Option<String>,
    pub cron_schedules: Vec<String>,
    pub schedule_id: Option<String>,
    pub instance_id: Option<String>,
}

/// A schedule as the API shows it (the model's `WorkflowRefreshSchedule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshSchedule {
    pub operation_type: OperationType,
    pub sub_type: Cow<'static, str>,
    pub identifiers: Vec<String>,
    pub job_type: Cow<'static, str>,
    pub is_active: bool,
    pub timezone_id: Cow<'static, str>,
    pub cron_schedules: Vec<String>,
    pub schedule_id: String,
    pub instance_id: String,
}

/// A request checked: its operation and parsed cron expressions.
#[derive(Debug, Clone)]
pub(super) struct Checked {
    pub(super) operation: OperationType,
    pub(super) identifiers: Vec<String>,
    active: bool,
    texts: Vec<String>,
    crons: Vec<Cron>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Schedule {
    view: RefreshSchedule,
    crons: Vec<Cron>,
}

/// The schedules created so far, in creation order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Schedules {
    list: Vec<Schedule>,
}

impl Schedules {
    /// Checks what the owner can check alone (the operation's identifiers are the catalog's
    /// business): the operation, the sub-type, the job type, the time zone and the cron
    /// expressions, each refused with the field at fault.
    pub(super) fn check(req: ScheduleRequest) -> Result<Checked, EngineError> {
        let operation = match &req.operation_type {
            Some(op) => OperationType::parse(op)?,
            None => OperationType::All,
        };
        if let Some(sub) = req.sub_type.as_deref()
            && !sub.eq_ignore_ascii_case("noSubType")
        {
            return Err(EngineError::invalid(
                "subType",
                format!("subType \"{sub}\" is not simulated; leave it out or write noSubType"),
            ));
        }
        if let Some(kind) = req.job_type.as_deref()
            && !kind.eq_ignore_ascii_case("full")
        {
            return Err(EngineError::invalid(
                "jobType",
                format!(
                    "jobType \"{kind}\" is not simulated (incremental jobs are not); leave it out or write full"
                ),
            ));
        }
        if let Some(zone) = req.timezone_id.as_deref()
            && !TIMEZONES
                .iter()
                .any(|(id, _)| id.eq_ignore_ascii_case(zone))
        {
            return Err(EngineError::invalid(
                "timezoneId",
                format!(
                    "time zone \"{zone}\" is not supported; the simulator evaluates schedules in UTC (GET .../schedules/supportedTimezones)"
                ),
            ));
        }
        if req.cron_schedules.is_empty() {
            return Err(EngineError::invalid(
                "cronSchedules",
                "give at least one cron expression, e.g. [\"0 2 * * *\"] for 02:00 UTC every day",
            ));
        }
        let crons = req
            .cron_schedules
            .iter()
            .map(|c| Cron::parse(c).map_err(|m| EngineError::invalid("cronSchedules", m)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Checked {
            operation,
            identifiers: req.identifiers,
            active: req.is_active.unwrap_or(true),
            texts: req.cron_schedules,
            crons,
        })
    }

    /// Adds a checked schedule with id `id`: its view, and when it is first due (after `now`)
    /// if it is active.
    pub(super) fn add(
        &mut self,
        now: SimTime,
        checked: Checked,
        id: String,
        instance_id: &str,
    ) -> (RefreshSchedule, Option<(SimTime, Due)>) {
        let view = RefreshSchedule {
            operation_type: checked.operation,
            sub_type: "noSubType".into(),
            identifiers: checked.identifiers,
            job_type: "full".into(),
            is_active: checked.active,
            timezone_id: TIMEZONES[0].0.into(),
            cron_schedules: checked.texts,
            schedule_id: id,
            instance_id: instance_id.to_owned(),
        };
        self.list.push(Schedule {
            view: view.clone(),
            crons: checked.crons,
        });
        let s = self.list.len() - 1;
        let due = self.next(s, now);
        (view, due)
    }

    /// How many schedules exist (numbers the next one's id).
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// Schedule `s` is due at `at`: when it is next due, and the scheduled job to submit now.
    pub(super) fn tick(
        &self,
        at: SimTime,
        s: usize,
    ) -> (Option<(SimTime, Due)>, Option<JobRequest>) {
        let Some(schedule) = self.list.get(s) else {
            return (None, None);
        };
        let mut job = JobRequest::new(schedule.view.operation_type);
        job.identifiers.clone_from(&schedule.view.identifiers);
        job.submission_kind = SubmissionKind::Scheduled;
        (self.next(s, at), Some(job))
    }

    /// Every schedule, in creation order.
    pub(super) fn views(&self) -> Vec<RefreshSchedule> {
        self.list.iter().map(|s| s.view.clone()).collect()
    }

    fn next(&self, s: usize, after: SimTime) -> Option<(SimTime, Due)> {
        let schedule = &self.list[s];
        if !schedule.view.is_active {
            return None;
        }
        schedule
            .crons
            .iter()
            .filter_map(|c| c.next_after(after))
            .min()
            .map(|at| (at, Due::CronTick { schedule: s }))
    }
}
