//! Why an engine call was refused.

use super::status::{DeliveryStatus, RunStatus};

/// A refused engine call. Each variant says what to do instead; the API layer gives each its
/// HTTP status and code (`api::ApiError`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("unknown job \"{id}\"; list the jobs with GET .../workflows/main/jobs")]
    UnknownJob { id: String },
    #[error(
        "job {id} has already finished ({status}); only queued or running jobs can be cancelled"
    )]
    JobFinished { id: String, status: RunStatus },
    #[error(
        "unknown operationType \"{operation}\"; use one of the API model's values: all, ingestion, map, match, merge, measures, entityMeasures, attributeMeasures, segmentation, segmentMembership, export, none, derivedEntity, hierarchy, dataPreparation, realtimeM3Search, profileStore, search, activity, contact, enrichment, preEnrichment, transform, intelligence, aiBuilder, insights, modelManagement, relationship, roleAssignment, analysis, semanticEntity"
    )]
    UnsupportedOperation { operation: String },
    #[error("unknown {kind} {}; the {kind}s are {}", quoted(.unknown), list(.valid))]
    UnknownIdentifiers {
        /// `data source`, `segment`, `measure`, `stage`, `segment or measure`.
        kind: &'static str,
        unknown: Vec<String>,
        valid: Vec<String>,
    },
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    #[error("unknown delivery \"{id}\"; list the deliveries with GET /_sim/deliveries")]
    UnknownDelivery { id: String },
    #[error(
        "delivery {id} is still {status}; only delivered, dead or cancelled deliveries can be re-sent"
    )]
    DeliveryNotFinished { id: String, status: DeliveryStatus },
    #[error("subscription {id} was deleted; its events can no longer be delivered")]
    SubscriptionDeleted { id: String },
    /// A subscription got as many deliveries as `limits.deliveries_per_subscription_max`
    /// allows in one window (a delivery loop, or a flood).
    #[error(
        "insightsim server limit: subscription {subscription} got {max} deliveries within {window} \
         (limits.deliveries_per_subscription_max = {max}, limits.deliveries_window = {window}); \
         this cuts delivery loops and floods: wait for the window to pass, or raise the limits in the tenant file"
    )]
    DeliveryVolume {
        subscription: String,
        max: u64,
        window: crate::time::SimDuration,
    },
}

impl EngineError {
    pub(super) fn unknown(kind: &'static str, unknown: Vec<String>, valid: Vec<String>) -> Self {
        EngineError::UnknownIdentifiers {
            kind,
            unknown,
            valid,
        }
    }

    pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}
