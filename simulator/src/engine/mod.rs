//! The event engine: refresh jobs and their task graphs, the six triggers, subscriptions and
//! webhook delivery, all on one event queue ordered by `(due_at, seq)`.
//!
//! The engine is the pure core the HTTP shell drives: it never reads a clock (every call takes
//! `now`), does no I/O, and acts on the world only through [`Effect`]s. See `docs/triggers.md`
//! for every rule and where it comes from.
//!
//! Inside, four owners each hold one concern's state and methods: `catalog` (data sources,
//! segments, measures and their random walks), `jobs` (jobs, the running one, the waiting queue
//! and the schedule), `subscriptions`, and `delivery` (the event journal, per-subscription FIFOs,
//! attempts in flight, dead letters). They import neither each other nor the orchestrator,
//! `state.rs`, which holds the event queue and wires what one owner reports into the others.
//! The vocabulary they share lives in leaf modules (`status`, `request`, `value`, `trigger`,
//! `effect`, ...), and the pure parts stand alone: the retry policy (`retry`), the seeded draws
//! (`draw`), the queue (`queue`).
//!
//! ```
//! use serde_json::json;
//! use simulator::engine::{AttemptResult, Effect, Engine, Initial, RefreshRequest};
//! use simulator::tenant::TenantSpec;
//! use simulator::time::{SimDuration, SimTime};
//!
//! let mut spec = TenantSpec::demo();
//! spec.refresh.schedule_enabled = false;
//! let t0 = SimTime::DEFAULT_EPOCH;
//! let mut engine = Engine::new(&spec, spec.seed, t0, Initial::default());
//! engine
//!     .subscribe(t0, "full-refresh-completed", &json!({"NotificationUrl": "http://127.0.0.1:9000/hook"}))
//!     .unwrap();
//! engine.refresh(t0, RefreshRequest::default()).unwrap();
//! // A virtual clock: jump to each due time, answer each delivery at once with 200.
//! let mut delivered = 0;
//! while let Some(at) = engine.next_due().filter(|&at| at < t0 + SimDuration::from_hours(1)) {
//!     for effect in engine.run_until(at) {
//!         if let Effect::Deliver(attempt) = effect {
//!             // The shell POSTs attempt.body to attempt.url here.
//!             engine.delivery_result(at, attempt.attempt_id, AttemptResult::Status(200));
//!             delivered += 1;
//!         }
//!     }
//! }
//! assert_eq!(delivered, 1);
//! ```

mod catalog;
mod cron;
mod delivery;
mod delivery_calls;
mod draw;
mod effect;
mod emit;
mod error;
mod faults;
mod history;
mod identity;
mod jobs;
mod names;
mod options;
mod payload;
mod queue;
mod request;
mod retry;
mod schedule_calls;
mod schedules;
mod state;
mod status;
mod subscriptions;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
mod trigger;
mod value;

/// Where the initial member count of a segment comes from (the tenant defines it).
pub use crate::tenant::spec::initial_segment_count;
pub use catalog::{
    DataSourceView, EvaluationStats, EvaluationStatus, Initial, MeasureDefinition,
    MeasureDimension, MeasureEvaluation, MeasureView, OutputValues, ScalarOutput,
    SegmentEvaluation, SegmentView, StringInfo, data_source_id,
};
pub use delivery::{AttemptRecord, DeliveryView, EventView};
pub use effect::{DeliveryAttempt, Effect};
pub use error::EngineError;
pub use faults::{AttemptFault, DeliveryFaultRule, DeliveryFaults, FaultKind};
pub use history::HistoryDrops;
pub use jobs::{
    AdditionalInfo, CiError, JobView, NodeView, ScheduleView, TaskView, workflow_history,
    workflow_status,
};
pub use options::{EngineOptions, ScheduleOverlap};
pub use payload::{
    Common, DataSourcePayload, ErrorEntry, FullRefreshPayload, MeasurePayload, Payload,
    SegmentPayload, StageSummary, TaskSummary, UnificationPayload,
};
pub use request::{
    ForcedMeasure, Forcing, JobRequest, OperationType, Outcome, RefreshRequest, SubmissionKind,
};
pub use retry::{AttemptResult, RetryKind, RetryPolicy};
pub use schedules::{RefreshSchedule, ScheduleRequest, TIMEZONES};
pub use state::Engine;
pub use status::{DeliveryStatus, RefreshState, RunStatus};
pub use subscriptions::{SubscribeError, Subscription};
pub use trigger::{Trigger, crosses};
pub use value::MeasureValue;
