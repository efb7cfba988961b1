//! The engine's options: choices where the real service's behaviour is unknown.

use serde::{Deserialize, Serialize};

/// Choices where the real service's behaviour is unknown and users may want the other one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct EngineOptions {
    /// What a schedule tick does while another job is queued or running.
    pub schedule_overlap: ScheduleOverlap,
    /// Whether `unification-completed` fires (with `taskStatus = skipped`) when the whole
    /// map → match → merge chain was skipped because an ingestion task failed.
    pub unification_fires_when_skipped: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            schedule_overlap: ScheduleOverlap::Queue,
            unification_fires_when_skipped: true,
        }
    }
}

/// See [`EngineOptions::schedule_overlap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScheduleOverlap {
    /// The scheduled job is created at once and waits (`queued`) for the jobs ahead of it.
    Queue,
    /// The tick is skipped (counted in [`ScheduleView::skipped`](crate::engine::ScheduleView::skipped));
    /// no job is created.
    Skip,
}
