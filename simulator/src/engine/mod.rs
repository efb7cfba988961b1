//! The event engine: refresh jobs and their task graphs, the six triggers, subscriptions and
//! webhook delivery, all on one event queue ordered by `(due_at, seq)`.
//!
//! The engine is the pure core the HTTP shell drives: it never reads a clock (every call takes
//! `now`), does no I/O, and acts on the world only through [`Effect`]s. See `docs/triggers.md`
//! for every rule and where it comes from.
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
mod control;
mod delivery;
mod error;
mod faults;
mod jobs;
mod lifecycle;
mod payload;
mod queue;
mod state;
mod subscriptions;
#[cfg(test)]
mod testkit;
mod triggers;
mod walk;

pub use catalog::{
    DataSourceView, EvaluationStats, EvaluationStatus, MeasureDefinition, MeasureDimension,
    MeasureEvaluation, MeasureValue, MeasureView, OutputValues, RefreshState, ScalarOutput,
    SegmentEvaluation, SegmentView, StringInfo, data_source_id, initial_segment_count,
};
pub use delivery::{
    AttemptFault, AttemptRecord, AttemptResult, DeliveryAttempt, DeliveryStatus, DeliveryView,
    FaultKind, RetryKind, RetryPolicy,
};
pub use error::EngineError;
pub use faults::{DeliveryFaultRule, DeliveryFaults};
pub use jobs::{
    AdditionalInfo, CiError, ForcedMeasure, Forcing, JobRequest, JobView, OperationType, Outcome,
    RefreshRequest, RunStatus, SubmissionKind, TaskView,
};
pub use payload::{
    Common, DataSourcePayload, ErrorEntry, FullRefreshPayload, MeasurePayload, Payload,
    SegmentPayload, StageSummary, TaskSummary, UnificationPayload,
};
pub use state::{Effect, Engine, EngineOptions, Initial, ScheduleOverlap, ScheduleView};
pub use subscriptions::{SubscribeError, Subscription};
pub use triggers::{EventView, Trigger, crosses};
