//! What the engine asks of the shell: its only way to act on the outside world.

use serde::Serialize;

use super::faults::AttemptFault;
use crate::time::SimDuration;

/// Something the shell must do: the engine's only way to act on the outside world.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "effect")]
pub enum Effect {
    /// A segment's member count changed. The data layer must apply it before sending any
    /// delivery returned in the same batch, so that events and the API agree.
    SegmentCountChanged { segment: usize, count: u64 },
    /// POST this attempt to its URL, then report the result with
    /// [`Engine::delivery_result`](crate::engine::Engine::delivery_result).
    Deliver(DeliveryAttempt),
}

/// One HTTP POST for the shell to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    /// Report the result under this id.
    pub attempt_id: u64,
    pub delivery_id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub url: String,
    /// The JSON payload.
    pub body: String,
    /// 1-based.
    pub attempt: u32,
    /// `Content-Type`, `X-Insightsim-Event-Id`, `X-Insightsim-Subscription-Id`,
    /// `X-Insightsim-Delivery-Attempt`, `X-Insightsim-Delivery-Id`, `X-Insightsim-Trigger`.
    pub headers: Vec<(String, String)>,
    /// Give up on the request after this long and report [`AttemptResult::Timeout`](crate::engine::AttemptResult::Timeout).
    pub timeout: SimDuration,
    /// A fault to inject into this attempt: the shell performs the attempt through
    /// [`crate::delivery::perform`], which honours it.
    pub fault: Option<AttemptFault>,
}
