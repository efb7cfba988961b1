//! The statuses the engine reports: of jobs and tasks, of deliveries, of data sources. A leaf:
//! it names states and imports nothing from the rest of the engine.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A job or task status (the API model's `jobStatus` / `taskStatus`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    Queued,
    Running,
    Successful,
    Failed,
    TimedOut,
    Skipped,
    Aborted,
}

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    /// Failed for good: `failed` or `timedOut`.
    pub fn is_failure(self) -> bool {
        matches!(self, RunStatus::Failed | RunStatus::TimedOut)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Successful => "successful",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timedOut",
            RunStatus::Skipped => "skipped",
            RunStatus::Aborted => "aborted",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A delivery's status in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Not sent yet, or waiting out a back-off.
    Pending,
    InFlight,
    Delivered,
    /// Retries exhausted or a final status: kept as a dead letter, can be re-sent.
    Dead,
    /// The subscription was deleted before it was delivered.
    Cancelled,
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::InFlight => "inFlight",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Cancelled => "cancelled",
        })
    }
}

/// A data source's `refreshState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RefreshState {
    NotUpdated,
    Updated,
    Updating,
    UpdateFailed,
    UpdateCancelled,
}
