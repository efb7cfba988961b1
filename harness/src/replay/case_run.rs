//! What a case run observed ([`CaseRun`]), and gathering it from the simulator and the sinks.

use std::collections::BTreeMap;

use simulator::engine::{DeliveryView, EventView, Subscription};
use simulator::journal::JournalEntry;
use simulator::rate_limit::ConnectionReport;
use simulator::{SimDuration, SimTime, Simulator};

use super::HARNESS_TOKEN;
use super::sinks::{SinkCall, Sinks};
use crate::outcome::Failure;
use crate::scenario::Scenario;

/// Everything observed while a case ran.
#[derive(Debug, Default, Clone)]
pub struct CaseRun {
    pub instance_id: String,
    pub start: SimTime,
    pub end: SimTime,
    pub steps: Vec<(SimTime, String)>,
    /// The last journal entry before the first step (calls up to it turned the flow on).
    pub first_step_seq: Option<u64>,
    /// The last journal entry before the flow was turned off at the end (calls after it turned
    /// the flow off: unsubscribing).
    pub turn_off_seq: Option<u64>,
    pub journal: Vec<JournalEntry>,
    pub events: Vec<EventView>,
    pub deliveries: Vec<DeliveryView>,
    pub subscriptions: Vec<Subscription>,
    pub sink_calls: Vec<SinkCall>,
    /// Call-limit grading of the flow's connections.
    pub grades: Vec<ConnectionReport>,
    /// Generated rows per entity (for paging checks).
    pub entity_rows: BTreeMap<String, u64>,
    /// The keys of the rows of the entities the case's `rows_downstream` names.
    pub entity_keys: BTreeMap<String, EntityKeys>,
    /// The window of the call limit, when it is on.
    pub window: Option<SimDuration>,
    /// The largest page the API serves.
    pub page_size_max: u64,
    pub flow_stderr: Option<String>,
    /// For a flow outside the harness: the stretches of real time, `(began, ended)` in
    /// simulated time (the transcript stamps what happened inside one with its start).
    pub stretches: Vec<(SimTime, SimTime)>,
    /// The flow acted after it was judged quiet, this long (wall time) after the stimulus it
    /// had been waited for after.
    pub late: Option<std::time::Duration>,
    /// The case went on this far past its end while the flow was still working.
    pub overrun: Option<SimDuration>,
    /// Calls of the flow to another instance than this case's (an earlier case's, answered
    /// `404`): left out of the journal the case is graded on.
    pub stale_calls: Vec<JournalEntry>,
    /// Sink calls that name an earlier case's ids and none of this case's (a flow behind a URL
    /// still working on an earlier case): left out of the sink calls the case is graded on.
    pub stale_sink_calls: Vec<SinkCall>,
    /// The flow's run history, when it keeps one (a flow definition), in the order runs ended.
    pub flow_runs: Vec<crate::history::FlowRun>,
    /// Problems that stop a case from being graded normally (a step failed, the flow crashed,
    /// it never subscribed).
    pub errors: Vec<Failure>,
}

/// An entity's key attribute and the keys of its generated rows, in natural order.
#[derive(Debug, Default, Clone)]
pub struct EntityKeys {
    pub key: String,
    pub keys: Vec<String>,
}

impl CaseRun {
    /// The ids of this case that a flow may echo (instance, events, jobs).
    pub fn own_ids(&self) -> Vec<String> {
        let mut ids = vec![self.instance_id.clone()];
        for e in &self.events {
            ids.push(e.event_id.clone());
            if let Ok(serde_json::Value::Object(p)) = serde_json::to_value(&e.payload)
                && let Some(serde_json::Value::String(job)) = p.get("jobId")
            {
                ids.push(job.clone());
            }
        }
        ids.retain(|i| !i.is_empty());
        ids
    }

    /// Moves the sink calls that name one of `earlier` (ids of earlier cases) and none of this
    /// case's own ids to `stale_sink_calls`.
    pub(super) fn set_aside_stale_sink_calls(&mut self, earlier: &[String]) {
        if earlier.is_empty() {
            return;
        }
        let own = self.own_ids();
        let (stale, fresh): (Vec<SinkCall>, Vec<SinkCall>) = std::mem::take(&mut self.sink_calls)
            .into_iter()
            .partition(|c| {
                earlier.iter().any(|id| c.body.contains(id.as_str()))
                    && !own.iter().any(|id| c.body.contains(id.as_str()))
            });
        self.sink_calls = fresh;
        self.stale_sink_calls = stale;
    }

    /// Whether a journal entry is a call of the flow (not of the harness).
    pub fn is_flow_call(entry: &JournalEntry) -> bool {
        entry.connection.as_deref() != Some(HARNESS_TOKEN)
    }

    /// Gathers what the simulator and the sinks observed, through the simulator's observation
    /// facade (the harness never reaches into its state).
    pub(super) fn collect(&mut self, sim: &Simulator, sinks: &Sinks) {
        let prefix = "/v1/instances/";
        let ours = format!("{prefix}{}", sim.instance_id);
        let (journal, stale): (Vec<JournalEntry>, Vec<JournalEntry>) =
            sim.journal.since(0).into_iter().partition(|e| {
                !CaseRun::is_flow_call(e)
                    || !e.target.starts_with(prefix)
                    || e.target.starts_with(&ours)
            });
        self.journal = journal;
        self.stale_calls = stale;
        self.events = sim.events();
        self.deliveries = sim.deliveries();
        self.subscriptions = sim.subscriptions();
        self.entity_rows = sim.entity_rows();
        self.grades = sim
            .limiter
            .report(sim.clock.now())
            .into_iter()
            .filter(|r| r.connection != HARNESS_TOKEN)
            .collect();
        self.window = sim.limiter.setting().limit().map(|l| l.window);
        self.page_size_max = sim.spec.limits.page_size_max as u64;
        self.sink_calls = sinks.calls();
    }

    /// Gathers the keys of the entity a `rows_downstream` expectation names.
    pub(super) fn collect_keys(&mut self, sim: &Simulator, scenario: &Scenario) {
        if let Some(entity) = &scenario.expect.rows_downstream
            && let Some((key, keys)) = sim.entity_keys(entity)
        {
            self.entity_keys
                .insert(entity.clone(), EntityKeys { key, keys });
        }
    }
}
