//! The transcript of a case: what the flow visibly did, one line per observation, on simulated
//! time. It is what snapshots hold, so it is built to be stable and readable:
//!
//! ```text
//! +0s          call      POST triggers/segment-threshold-crossed/subscriptions -> 201
//! +1d          step      evaluate_segment HighValueCustomers entity_count=1100
//! +1d          event     ev1 segment-threshold-crossed sub1 segmentName=HighValueCustomers threshold=1000 previousCount=900 entityCount=1100
//! +1d          deliver   ev1 attempt 1 -> status 202
//! +1d          call      GET data/Customer?$filter=IsMemberOfSegment('HighValueCustomers')&$top=10&$select=CustomerId,FullName,EMail&$count=true -> 200
//! +1d          sink      email {"subject":"Segment HighValueCustomers crossed 1000: 1100 members",...}
//! ```
//!
//! Columns: the time since the case started (the shortest exact form: `1d2h`, `90s`,
//! `1500ms`); the kind of observation; the details. Kinds:
//! - `step`: a step of the scenario, as written;
//! - `event`: a trigger event; `evN` and `subN` number events and subscriptions in order of
//!   appearance (the seeded UUIDs are stable too, but unreadable), followed by the payload fields
//!   that matter for the trigger;
//! - `deliver`: one delivery attempt of an event and its result (a fault-injected copy says so);
//! - `call`: a call of the flow to the API — path below the instance, percent-decoded — and its
//!   status (`429 retry-after=Ns` when throttled); calls of the harness itself are not shown;
//! - `sink`: a call of the flow to a downstream connector, with its JSON body (keys sorted,
//!   cut at 200 characters);
//! - `run` and `action`: the run history of a flow that keeps one (a flow definition): a line
//!   per run (`run1 <trigger> ev1 -> Succeeded in 2s`) and a line per action execution with its
//!   iteration, type, status, HTTP status, duration, inputs and outputs (cut at 100 characters),
//!   error and note ([`crate::history`]); ids in them are named as everywhere else.
//!
//! Lines are ordered by time; at the same instant, by kind in the order above, except that the
//! flow's calls before the first step (turning itself on: subscribing) come first, and those it
//! makes when the harness turns it off at the end (unsubscribing) come last.
//!
//! # Nothing from the wall clock, no run-specific id
//!
//! A transcript must be the same in every run of the same flow, so:
//!
//! - **Ids are normalised everywhere they appear**, also where the flow echoes them back in a
//!   sink body or an API path: event ids become `evN`, subscription ids `subN`, job ids `jobN`
//!   (numbered in order of first appearance) and the case's instance id `instance`. Against a
//!   flow outside the harness every case has its own ids (so that a flow that remembers ids
//!   never mistakes one case's event for another's); normalised, they read the same.
//! - **Times are virtual.** Against a flow outside the harness, simulated time follows the wall
//!   clock while the flow may be working (`replay/realtime.rs`), so the instants inside such a
//!   stretch of real time depend on how fast the machine was. Every line observed inside a
//!   stretch is stamped with the instant the stretch began, and lines at one instant are in the
//!   order of the kinds above (a flow's calls in the order the API saw them). Lines before the
//!   case's start (a command flow subscribing as it starts) are stamped with the start. So a
//!   flow that answers a delivery and acts on it has its calls and sink posts at the delivery's
//!   instant, as an in-process flow on virtual time has: the process and in-process runs of one
//!   flow share snapshots. A delivery's retry or late replay counts from the instant its
//!   delivery is stamped with, plus the whole seconds the flow took to answer
//!   (`replay/timeline.rs`), so it too is at the same offset in every run. Cases in which a flow
//!   waits out a real `Retry-After` take no snapshot (their `Retry-After` values depend on
//!   timing; `case.rs`).

use std::fmt::Write;

use serde_json::Value;
use simulator::SimTime;

use crate::history::{FlowRun, Ids};
use crate::replay::CaseRun;
use crate::text::cut;

/// Builds the transcript of a run.
pub fn render(run: &CaseRun) -> String {
    let mut lines: Vec<(SimTime, u8, usize, String)> = Vec::new();
    let mut aliases = ids(run);
    for (i, (t, text)) in run.steps.iter().enumerate() {
        lines.push((*t, 1, i, format!("step      {text}")));
    }
    for (i, e) in run.events.iter().enumerate() {
        let payload = serde_json::to_value(&e.payload).unwrap_or(Value::Null);
        let fields = key_fields(e.trigger.id(), &payload);
        lines.push((
            e.occurred_at,
            2,
            i,
            format!(
                "event     {} {} {}{}",
                aliases.named(&e.event_id, "ev"),
                e.trigger.id(),
                aliases.named(&e.subscription_id, "sub"),
                fields
            ),
        ));
    }
    let mut attempts: Vec<(SimTime, usize, String)> = Vec::new();
    for d in &run.deliveries {
        let fault = match d.fault {
            Some(kind) => format!(
                " ({})",
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
            None if d.redelivery_of.is_some() => " (redelivery)".to_owned(),
            None => String::new(),
        };
        for a in &d.attempts {
            let result = a.result.clone().unwrap_or_else(|| "no answer".to_owned());
            attempts.push((
                a.at,
                a.attempt_id as usize,
                format!(
                    "deliver   {} attempt {}{fault} -> {result}",
                    aliases.named(&d.event_id, "ev"),
                    a.attempt
                ),
            ));
        }
    }
    for (t, id, text) in attempts {
        lines.push((t, 3, id, text));
    }
    let prefix = format!("/v1/instances/{}/", run.instance_id);
    // Calls made while the flow is turned off (unsubscribing) name their ids as the run history
    // does (`subscriptions/sub1`).
    let turn_off_ids = run.turn_off_seq.map(|_| ids(run));
    for e in run.journal.iter().filter(|e| CaseRun::is_flow_call(e)) {
        let target = percent_encoding::percent_decode_str(&e.target)
            .decode_utf8_lossy()
            .into_owned();
        let target = aliases.normalise(target.strip_prefix(&prefix).unwrap_or(&target));
        let status = match e.retry_after_s {
            Some(s) => format!("{} retry-after={s}s", e.status),
            None => e.status.to_string(),
        };
        let before_steps = run.first_step_seq.is_none_or(|s| e.seq <= s);
        let turning_off = run.turn_off_seq.is_some_and(|s| e.seq > s);
        let rank = match (before_steps, turning_off) {
            (_, true) => 7,
            (true, false) => 0,
            (false, false) => 4,
        };
        let target = match &turn_off_ids {
            Some(ids) if turning_off => ids.normalise(&target),
            _ => target,
        };
        lines.push((
            e.at,
            rank,
            e.seq as usize,
            format!("call      {} {target} -> {status}", e.method),
        ));
    }
    for (i, c) in run.sink_calls.iter().enumerate() {
        let body = match &c.json {
            Some(v) => compact(v),
            None => c.body.clone(),
        };
        let body = cut(&aliases.normalise(&body), 200);
        let name = serde_json::to_value(c.sink)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        lines.push((c.at, 5, i, format!("sink      {name} {body}")));
    }
    for (i, (t, text)) in runs(run)
        .iter()
        .flat_map(FlowRun::transcript_lines)
        .enumerate()
    {
        lines.push((SimTime::from_millis(t), 6, i, text));
    }
    for line in &mut lines {
        line.0 = stamp(run, line.0);
    }
    lines.sort_by_key(|l| (l.0, l.1, l.2));
    let mut out = String::new();
    for (t, _, _, text) in lines {
        let offset = t - run.start;
        let _ = writeln!(out, "{:<12} {text}", format!("+{offset}"));
    }
    out
}

/// The instant a line at `t` is shown at: the case's start for what came before it, the
/// beginning of the stretch of real time `t` falls in, else `t` (see the module docs).
fn stamp(run: &CaseRun, t: SimTime) -> SimTime {
    if t < run.start {
        return run.start;
    }
    run.stretches
        .iter()
        .find(|(began, ended)| *began < t && t <= *ended)
        .map_or(t, |(began, _)| (*began).max(run.start))
}

/// The flow's run history as transcripts and reports show it ([`FlowRun::normalised`]).
pub fn runs(run: &CaseRun) -> Vec<FlowRun> {
    if run.flow_runs.is_empty() {
        return Vec::new();
    }
    let ids = ids(run);
    run.flow_runs.iter().map(|r| r.normalised(&ids)).collect()
}

/// The seeded ids of a case and their names: subscriptions `subN`, events `evN` (as the
/// transcript numbers them), the events' jobs `jobN`, and the case's instance `instance`.
fn ids(run: &CaseRun) -> Ids {
    let mut ids = Ids::default();
    for s in &run.subscriptions {
        ids.named(&s.id, "sub");
    }
    for e in &run.events {
        ids.named(&e.event_id, "ev");
    }
    for e in &run.events {
        let payload = serde_json::to_value(&e.payload).unwrap_or(Value::Null);
        if let Some(job) = payload.get("jobId").and_then(Value::as_str) {
            ids.named(job, "job");
        }
    }
    ids.name(&run.instance_id, "instance");
    ids
}

/// The payload fields that matter for a trigger, as ` key=value` pairs.
fn key_fields(trigger: &str, payload: &Value) -> String {
    let keys: &[&str] = match trigger {
        "segment-threshold-crossed" => {
            &["segmentName", "threshold", "previousCount", "entityCount"]
        }
        "measure-threshold-crossed" => &["measureName", "threshold", "previousValue", "value"],
        "datasource-refresh-failed" | "datasource-refresh-succeeded" => {
            &["dataSourceName", "taskStatus", "refreshState"]
        }
        "full-refresh-completed" => &["jobSubmissionKind", "jobStatus"],
        "unification-completed" => &["taskStatus", "unifiedCustomerCount"],
        _ => &[],
    };
    let mut out = String::new();
    for k in keys {
        if let Some(v) = payload.get(*k) {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(out, " {k}={text}");
        }
    }
    out
}

/// JSON with object keys sorted (serde_json's map is ordered), on one line.
fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use simulator::journal::JournalEntry;
    use simulator::{SimDuration, SimTime};

    use super::*;
    use crate::replay::sinks::SinkCall;
    use crate::scenario::SinkKind;

    const T0: SimTime = SimTime(1_000_000);

    fn at(ms: i64) -> SimTime {
        T0 + SimDuration(ms)
    }

    fn call(seq: u64, t: SimTime, target: &str, status: u16) -> JournalEntry {
        JournalEntry {
            seq,
            at: t,
            connection: Some("flow".into()),
            method: "GET".into(),
            target: target.into(),
            status,
            retry_after_s: None,
            error: None,
        }
    }

    fn sink(t: SimTime, body: &str) -> SinkCall {
        SinkCall {
            sink: SinkKind::Teams,
            at: t,
            method: "POST".into(),
            path: "/teams/message".into(),
            body: body.into(),
            json: serde_json::from_str(body).ok(),
        }
    }

    /// Lines observed inside a stretch of real time are stamped with its start, whatever the
    /// wall clock made of them; lines before the case's start are stamped with the start; the
    /// instance id is normalised wherever the flow echoes it.
    #[test]
    fn real_time_is_stamped_with_the_stretch_start_and_ids_are_normalised() {
        let instance = "5b0c2a8e-0000-4000-8000-000000000001";
        let render_with = |jitter_ms: i64| {
            let run = CaseRun {
                instance_id: instance.into(),
                start: T0,
                stretches: vec![(at(-400), T0), (at(9_381), at(9_381 + 500 + jitter_ms))],
                journal: vec![
                    call(1, at(-390), "/v1/instances", 200),
                    call(
                        2,
                        at(9_390 + jitter_ms),
                        &format!("/v1/instances/{instance}/data/Customer?$top=10"),
                        200,
                    ),
                ],
                sink_calls: vec![sink(
                    at(9_420 + jitter_ms),
                    &format!(r#"{{"instance":"{instance}"}}"#),
                )],
                ..CaseRun::default()
            };
            render(&run)
        };
        let fast = render_with(0);
        assert_eq!(fast, render_with(173));
        assert_eq!(
            fast,
            "+0s          call      GET /v1/instances -> 200\n\
             +9.381s      call      GET data/Customer?$top=10 -> 200\n\
             +9.381s      sink      teams {\"instance\":\"instance\"}\n"
        );
    }
}
