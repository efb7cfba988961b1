//! Turning an occurrence of a trigger into events: one per subscription it reaches, each with its
//! payload and its planned faults, each handed to delivery. A helper of the orchestrator: it
//! takes the owners it needs as arguments.

use super::delivery::{Deliveries, Event, Sends};
use super::faults::FaultState;
use super::payload::{Common, Payload};
use super::subscriptions::{Filter, Subscriptions};
use super::trigger::Trigger;
use crate::ids;
use crate::time::SimTime;

/// One occurrence of a trigger, at `now`.
pub(super) struct Occurrence<'a> {
    pub(super) now: SimTime,
    pub(super) trigger: Trigger,
    /// Keys the fault draws.
    pub(super) seed: u64,
    /// Seeds event and delivery ids.
    pub(super) id_seed: u64,
    pub(super) instance_id: &'a str,
}

impl Occurrence<'_> {
    /// Creates one event per active subscription of the trigger that `reach` accepts (giving
    /// what the payload needs of the subscription, such as the threshold crossed), with the
    /// payload `build` makes and the faults planned for it, and hands each to delivery. Returns
    /// what delivery asks of the engine, in order.
    pub(super) fn emit<T>(
        self,
        subscriptions: &Subscriptions,
        deliveries: &mut Deliveries,
        faults: &mut FaultState,
        reach: impl Fn(&Filter) -> Option<T>,
        build: impl Fn(Common, T) -> Payload,
    ) -> Sends {
        let Occurrence {
            now,
            trigger,
            seed,
            id_seed,
            instance_id,
        } = self;
        let mut all = Sends::default();
        for (s, reached) in subscriptions.targets(trigger, reach) {
            let n = deliveries.next_event_number();
            let subscription = subscriptions.get(s);
            let common = Common {
                event_id: ids::uuid_n(id_seed, "event", n),
                event_type: trigger.id().into(),
                subscription_id: subscription.id.clone(),
                instance_id: instance_id.to_owned(),
                occurred_at: now,
            };
            let id = common.event_id.clone();
            let payload = build(common, reached);
            let body = serde_json::to_string(&payload).unwrap_or_default();
            // Keyed by the unsalted event id: salting names never changes a fault draw.
            let faults = faults.plan(seed, trigger, &ids::uuid_n(seed, "event", n));
            let event = Event {
                id,
                trigger,
                subscription: s,
                subscription_id: subscription.id.clone(),
                url: subscription.notification_url.clone(),
                occurred_at: now,
                payload,
                body,
                faults,
                cut: None,
            };
            let sends = deliveries.deliver(now, event, id_seed);
            all.dues.extend(sends.dues);
            all.attempts.extend(sends.attempts);
        }
        all
    }
}
