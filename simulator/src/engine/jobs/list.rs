//! The list of jobs, numbered from the first job ever planned, kept within a byte budget
//! (`limits.jobs_history_bytes_max`): the oldest finished jobs are dropped, and counted.
//!
//! A job is named by its number for its whole life (the queue's items and the owner's steps
//! carry it), so dropping old jobs never renumbers the others; a dropped job reads as absent.

use std::ops::{Index, IndexMut};

use super::model::Job;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct JobList {
    /// A persistent vector (`imbl`): a clone shares it (`durable.rs` snapshots the engine).
    jobs: imbl::Vector<Job>,
    /// The number of the oldest kept job (how many were dropped).
    first: usize,
    bytes_max: usize,
}

impl JobList {
    pub(crate) fn new(bytes_max: usize) -> JobList {
        JobList {
            jobs: imbl::Vector::new(),
            first: 0,
            bytes_max,
        }
    }

    /// Adds a job; its number.
    pub(crate) fn push(&mut self, job: Job) -> usize {
        self.jobs.push_back(job);
        self.len() - 1
    }

    /// Jobs ever planned (kept or dropped).
    pub(crate) fn len(&self) -> usize {
        self.first + self.jobs.len()
    }

    pub(crate) fn get(&self, j: usize) -> Option<&Job> {
        self.jobs.get(j.checked_sub(self.first)?)
    }

    pub(crate) fn get_mut(&mut self, j: usize) -> Option<&mut Job> {
        self.jobs.get_mut(j.checked_sub(self.first)?)
    }

    /// The kept jobs, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Job> {
        self.jobs.iter()
    }

    /// The number of the first kept job that `found` accepts.
    pub(crate) fn position(&self, found: impl Fn(&Job) -> bool) -> Option<usize> {
        self.jobs.iter().position(found).map(|i| i + self.first)
    }

    /// Jobs dropped to stay within the budget.
    pub(crate) fn dropped(&self) -> u64 {
        self.first as u64
    }

    /// Drops the oldest jobs while the list weighs more than its budget, as long as the oldest
    /// is finished and `busy` (running or waiting) does not hold it. Call it only where no step
    /// or queue item of an old job is pending (queue items of a dropped job read it as absent).
    pub(crate) fn prune(&mut self, busy: impl Fn(usize) -> bool) {
        let mut bytes: usize = self.jobs.iter().map(weight).sum();
        while bytes > self.bytes_max && self.jobs.len() > 1 {
            let Some(oldest) = self.jobs.front() else {
                break;
            };
            if !oldest.status.is_terminal() || busy(self.first) {
                break;
            }
            bytes -= weight(oldest);
            self.jobs.pop_front();
            self.first += 1;
        }
    }
}

/// About the size of a job's JSON in the jobs API, tasks included.
fn weight(job: &Job) -> usize {
    let tasks: usize = job
        .tasks
        .iter()
        .map(|t| {
            260 + t.identifier.len()
                + t.friendly_name.len()
                + t.errors.iter().map(|e| e.message.len() + 96).sum::<usize>()
        })
        .sum();
    320 + job.identifiers.iter().map(|i| i.len() + 3).sum::<usize>() + tasks
}

impl Index<usize> for JobList {
    type Output = Job;

    /// Job `j`, which must be kept (a running, waiting or just-planned job always is).
    fn index(&self, j: usize) -> &Job {
        &self.jobs[j - self.first]
    }
}

impl IndexMut<usize> for JobList {
    fn index_mut(&mut self, j: usize) -> &mut Job {
        &mut self.jobs[j - self.first]
    }
}
