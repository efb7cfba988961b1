//! Observations: what the harness, the control API and the shells read of a simulator, each a
//! copy taken under the lock, so that no caller holds it.

use super::Simulator;
use super::undelivered::Undelivered;
use crate::engine::{DeliveryAttempt, DeliveryStatus};

impl Simulator {
    /// The attempts the engine holds as sent and not yet reported (the `serve` driver sends
    /// them again when it starts on a restored state).
    pub fn in_flight_attempts(&self) -> Vec<DeliveryAttempt> {
        self.world.read().engine.in_flight_attempts()
    }

    /// The deliveries not delivered yet, by where they wait.
    pub fn undelivered(&self) -> Undelivered {
        let mut out = Undelivered::default();
        for d in self.world.read().engine.deliveries() {
            match d.status {
                DeliveryStatus::InFlight => out.in_flight += 1,
                DeliveryStatus::Pending if d.attempts.is_empty() => out.queued += 1,
                DeliveryStatus::Pending => out.retrying += 1,
                DeliveryStatus::Delivered | DeliveryStatus::Dead | DeliveryStatus::Cancelled => {}
            }
        }
        out
    }

    /// The subscriptions, live and deleted, in creation order (an observation for the harness and
    /// the control API; it copies, so no lock is held by the caller).
    pub fn subscriptions(&self) -> Vec<crate::engine::Subscription> {
        self.world.read().engine.subscriptions()
    }

    /// Every trigger event so far, in order.
    pub fn events(&self) -> Vec<crate::engine::EventView> {
        self.world.read().engine.events()
    }

    /// Every delivery (with its attempts) so far, in order.
    pub fn deliveries(&self) -> Vec<crate::engine::DeliveryView> {
        self.world.read().engine.deliveries()
    }

    /// The segments as the API describes them.
    pub fn segments(&self) -> Vec<crate::engine::SegmentView> {
        self.world.read().engine.segments()
    }

    /// Generated rows per entity name (created items not counted).
    pub fn entity_rows(&self) -> std::collections::BTreeMap<String, u64> {
        let world = self.world.read();
        world
            .store
            .entities
            .iter()
            .map(|e| (e.schema.name.clone(), world.store.base_len(e)))
            .collect()
    }

    /// The key attribute of an entity (`CustomerId`) and the keys of its generated rows in their
    /// natural order (the order `$skip` pages through), as text; `None` for an unknown entity or
    /// one without a key.
    pub fn entity_keys(&self, entity: &str) -> Option<(String, Vec<String>)> {
        let world = self.world.read();
        let store = &world.store;
        let e = store.entity(store.entity_index(entity)?);
        let attr = e.schema.key?;
        let name = e.schema.attributes.get(attr)?.name.clone();
        let now = self.clock.now();
        let keys = (0..store.base_len(e))
            .map(|row| match store.value(e, row, attr, now) {
                crate::schema::Value::Str(s) => s.into_owned(),
                crate::schema::Value::Int(n) => n.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        Some((name, keys))
    }

    /// Heap bytes of the generated data (an estimate of the tenant's resident size).
    pub fn data_bytes(&self) -> usize {
        self.pop.heap_bytes()
    }
}
