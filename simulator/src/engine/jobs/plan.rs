//! Planning a job: the task graph a request runs.
//!
//! A job of `operationType = all` runs the whole refresh graph:
//!
//! ```text
//! ingestion(each data source) → map → match → merge → measures(each) ─┐
//!                                                  └→ segmentation(each) → export
//! ```
//!
//! Other operation types run a slice of it, as the catalog selected it (`Selection`): the named
//! ingestion, segmentation or measures tasks with no upstream, a part of the unification chain
//! (`merge` alone; `match` → `merge`; `map` → `match` → `merge`), the export alone, or nothing.

use super::model::{EXPORT_IDENTIFIER, Job, Task, UNIFIED_ENTITY};
use crate::engine::request::{JobRequest, OperationType, ResolvedForcing, Selection, Target};
use crate::engine::status::RunStatus;
use crate::ids;
use crate::time::SimTime;

/// The ids a plan draws: the job's number, and the number of the next task (advanced by the
/// tasks the plan creates).
pub(crate) struct Numbers<'a> {
    /// The tenant seed (seeded draws are keyed by unsalted names).
    pub(crate) seed: u64,
    pub(crate) id_seed: u64,
    pub(crate) job: u64,
    pub(crate) next_task: &'a mut u64,
}

/// Builds a job (status `queued`, nothing started) over the objects `selection` names.
pub(crate) fn plan(
    now: SimTime,
    req: JobRequest,
    selection: Selection,
    resolved: ResolvedForcing,
    numbers: Numbers<'_>,
) -> Job {
    let Numbers {
        seed,
        id_seed,
        job,
        next_task,
    } = numbers;
    let job_id = ids::uuid_n(id_seed, "job", job);
    let draw_key = ids::uuid_n(seed, "job", job);
    let mut tasks: Vec<Task> = Vec::new();
    let mut add = |op: OperationType,
                   identifier: String,
                   friendly_name: String,
                   target: Target,
                   upstream: Vec<usize>|
     -> usize {
        let n = *next_task;
        *next_task += 1;
        let forced = match target {
            Target::DataSource(i) => resolved.sources.get(&i).copied(),
            Target::Segment(i) => resolved.segments.get(&i).copied(),
            Target::Measure(i) => resolved.measures.get(&i).copied(),
            Target::Stage => resolved.stages.get(&op).copied(),
        };
        tasks.push(Task {
            id: ids::uuid_n(id_seed, "task", n),
            op,
            identifier,
            friendly_name,
            target,
            upstream,
            status: RunStatus::Queued,
            ended: None,
            attempts: 0,
            forced,
            pending: None,
            errors: Vec::new(),
        });
        tasks.len() - 1
    };
    let ingestion: Vec<usize> = selection
        .sources
        .into_iter()
        .map(|p| {
            add(
                OperationType::Ingestion,
                p.name,
                p.friendly_name,
                Target::DataSource(p.index),
                vec![],
            )
        })
        .collect();
    let mut upstream = ingestion;
    let mut last_stage = None;
    for op in selection.stages {
        let friendly = match op {
            OperationType::Map => "Map",
            OperationType::Match => "Match",
            _ => "Merge",
        };
        let t = add(
            op,
            UNIFIED_ENTITY.to_owned(),
            friendly.to_owned(),
            Target::Stage,
            std::mem::take(&mut upstream),
        );
        upstream = vec![t];
        last_stage = Some(t);
    }
    let after_merge: Vec<usize> = last_stage.into_iter().collect();
    for p in selection.measures {
        add(
            OperationType::Measures,
            p.name,
            p.friendly_name,
            Target::Measure(p.index),
            after_merge.clone(),
        );
    }
    let mut segmentation = Vec::new();
    for p in selection.segments {
        segmentation.push(add(
            OperationType::Segmentation,
            p.name,
            p.friendly_name,
            Target::Segment(p.index),
            after_merge.clone(),
        ));
    }
    if selection.export {
        add(
            OperationType::Export,
            EXPORT_IDENTIFIER.to_owned(),
            "Export".to_owned(),
            Target::Stage,
            segmentation,
        );
    }
    Job {
        id: job_id,
        draw_key,
        kind: req.submission_kind,
        op: req.operation_type,
        identifiers: req.identifiers,
        status: RunStatus::Queued,
        submitted: now,
        ended: None,
        tasks,
        forced_counts: resolved.counts,
        forced_values: resolved.values,
        unification_reported: false,
    }
}
