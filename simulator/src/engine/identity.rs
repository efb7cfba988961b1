//! The engine's identity: the instance id and the seed of the ids it hands out (an `impl
//! Engine` of its own, since `state.rs` is at the file-size wall).

use super::state::Engine;

impl Engine {
    /// Seeds the ids of jobs, tasks, subscriptions, events and deliveries (`Epoch::id_seed`).
    pub fn set_id_seed(&mut self, id_seed: u64) {
        self.id_seed = id_seed;
    }

    /// Gives the tenant another instance id (the harness gives each case against a flow outside
    /// it its own, see `ids::instance_id`); the data keeps the seed's ids.
    pub fn set_instance_id(&mut self, instance_id: String) {
        self.instance_id = instance_id;
    }

    /// The tenant's instance id (`ids::uuid(seed, ["instance"])`, unless the harness gave
    /// another).
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }
}
