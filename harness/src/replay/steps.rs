//! The steps of a scenario, applied to the simulator by the harness (as the platform, the
//! tenant's admin or the scheduler would act on a real instance).

use serde_json::Value;
use simulator::Simulator;
use simulator::api::{self, ApiRequest};
use simulator::engine::{
    DeliveryStatus, ForcedMeasure, Outcome as EngineOutcome, RefreshRequest, SubmissionKind,
};
use simulator::faults::RouteFaultConfig;

use super::HARNESS_TOKEN;
use crate::scenario::{Outcome, RefreshKind, Step};

/// An API call made by the harness itself (its own connection).
pub(crate) fn harness_call(
    sim: &Simulator,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> simulator::api::ApiResponse {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let full = format!("/v1/instances/{}/{path}", sim.instance_id);
    let body = body
        .map(|b| serde_json::to_vec(&b).unwrap_or_default())
        .unwrap_or_default();
    let authorization = format!("Bearer {HARNESS_TOKEN}");
    api::handle(
        sim,
        &ApiRequest {
            method,
            path: &full,
            query,
            authorization: Some(&authorization),
            subscription_key: None,
            admin_token: None,
            body: &body,
            base_url: "http://127.0.0.1",
            peer_loopback: true,
        },
    )
}

fn engine_outcome(o: Outcome) -> EngineOutcome {
    match o {
        Outcome::Success => EngineOutcome::Success,
        Outcome::Fail => EngineOutcome::Fail,
        Outcome::Transient => EngineOutcome::Transient,
        Outcome::Timeout => EngineOutcome::Timeout,
    }
}

/// Applies one step to the simulator.
pub(crate) fn apply_step(sim: &Simulator, step: &Step) -> Result<(), String> {
    if let Some(r) = &step.refresh {
        let request = RefreshRequest {
            kind: match r.kind {
                Some(RefreshKind::OnDemand) => SubmissionKind::OnDemand,
                _ => SubmissionKind::Scheduled,
            },
            data_sources: r
                .data_sources
                .iter()
                .map(|(k, v)| (k.clone(), engine_outcome(*v)))
                .collect(),
            stages: r
                .stages
                .iter()
                .map(|(k, v)| (k.clone(), engine_outcome(*v)))
                .collect(),
            evaluations: r
                .evaluations
                .iter()
                .map(|(k, v)| (k.clone(), engine_outcome(*v)))
                .collect(),
            segments: r.segments.clone(),
            measures: r
                .measures
                .iter()
                .map(|(k, v)| (k.clone(), ForcedMeasure::Value(*v)))
                .collect(),
        };
        sim.with_engine(|e, now| (e.refresh(now, request).map(|_| ()), Vec::new()))
            .map_err(|e| e.to_string())?;
    }
    if let Some(d) = &step.refresh_datasource {
        let outcome = engine_outcome(d.outcome);
        sim.with_engine(|e, now| {
            (
                e.refresh_datasource(now, &d.name, outcome).map(|_| ()),
                Vec::new(),
            )
        })
        .map_err(|e| e.to_string())?;
    }
    if let Some(s) = &step.evaluate_segment {
        sim.try_with_engine(|e, now| e.evaluate_segment(now, &s.name, s.entity_count))
            .map_err(|e| e.to_string())?;
    }
    if let Some(m) = &step.evaluate_measure {
        sim.try_with_engine(|e, now| e.evaluate_measure(now, &m.name, m.value))
            .map_err(|e| e.to_string())?;
    }
    if let Some(f) = &step.faults {
        sim.faults
            .set(RouteFaultConfig {
                routes: f.routes.clone(),
            })
            .map_err(|e| e.to_string())?;
        let deliveries = f.deliveries.clone();
        sim.with_engine(|e, _| (e.set_delivery_faults(deliveries), Vec::new()))
            .map_err(|e| e.to_string())?;
    }
    if let Some(c) = &step.create_item {
        let r = harness_call(
            sim,
            "POST",
            &format!("data/{}", c.entity),
            Some(Value::Object(c.item.clone())),
        );
        if r.status != 201 {
            return Err(format!(
                "create_item got {}: {}",
                r.status,
                String::from_utf8_lossy(&r.bytes())
            ));
        }
    }
    if let Some(u) = &step.update_item {
        let key = percent_encoding::utf8_percent_encode(&u.key, percent_encoding::NON_ALPHANUMERIC);
        let r = harness_call(
            sim,
            "PATCH",
            &format!("data/{}/{key}", u.entity),
            Some(Value::Object(u.changes.clone())),
        );
        if r.status != 204 {
            return Err(format!(
                "update_item got {}: {}",
                r.status,
                String::from_utf8_lossy(&r.bytes())
            ));
        }
    }
    if let Some(r) = &step.redeliver {
        let events = sim.events();
        let of_trigger: Vec<&str> = events
            .iter()
            .filter(|e| e.trigger.id() == r.trigger)
            .map(|e| e.event_id.as_str())
            .collect();
        let wanted =
            match r.event {
                Some(n) => Some(*of_trigger.get((n as usize).saturating_sub(1)).ok_or_else(
                    || {
                        format!(
                            "{} has had {} event(s), so there is no event {n} to re-send yet",
                            r.trigger,
                            of_trigger.len()
                        )
                    },
                )?),
                None => None,
            };
        let last = sim
            .deliveries()
            .into_iter()
            .rev()
            .find(|d| {
                d.status == DeliveryStatus::Delivered
                    && match wanted {
                        Some(id) => d.event_id == id,
                        None => of_trigger.contains(&d.event_id.as_str()),
                    }
            })
            .map(|d| d.delivery_id);
        let id = last.ok_or_else(|| match r.event {
            Some(n) => format!("event {n} of {} was not delivered yet", r.trigger),
            None => format!("no delivered event of {} to re-send yet", r.trigger),
        })?;
        sim.try_with_engine(|e, now| e.redeliver(now, &id))
            .map_err(|e| e.to_string())?;
    }
    if let Some(j) = &step.submit_job {
        let enc = |t: &str| {
            percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let mut path = format!(
            "workflows/main/jobs?operationType={}",
            enc(&j.operation_type)
        );
        if !j.identifiers.is_empty() {
            path.push_str(&format!("&identifiers={}", enc(&j.identifiers.join(","))));
        }
        let r = harness_call(sim, "POST", &path, None);
        if r.status != 200 {
            return Err(format!(
                "submit_job got {}: {}",
                r.status,
                String::from_utf8_lossy(&r.bytes())
            ));
        }
    }
    Ok(())
}

/// One line saying what a step does (for the transcript).
pub fn describe_step(step: &Step) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &step.refresh {
        let mut s = format!(
            "refresh kind={}",
            if r.kind == Some(RefreshKind::OnDemand) {
                "onDemand"
            } else {
                "scheduled"
            }
        );
        for (k, v) in &r.data_sources {
            s.push_str(&format!(" {k}={v:?}"));
        }
        for (k, v) in r.segments.iter() {
            s.push_str(&format!(" {k}={v}"));
        }
        for (k, v) in r.measures.iter() {
            s.push_str(&format!(" {k}={v}"));
        }
        parts.push(s);
    }
    if let Some(d) = &step.refresh_datasource {
        parts.push(format!(
            "refresh_datasource {} outcome={:?}",
            d.name, d.outcome
        ));
    }
    if let Some(s) = &step.evaluate_segment {
        parts.push(format!(
            "evaluate_segment {} entity_count={}",
            s.name, s.entity_count
        ));
    }
    if let Some(m) = &step.evaluate_measure {
        parts.push(format!("evaluate_measure {} value={}", m.name, m.value));
    }
    if let Some(f) = &step.faults {
        parts.push(format!(
            "faults routes={} delivery_rules={}",
            f.routes.len(),
            f.deliveries.rules.len()
        ));
    }
    if let Some(c) = &step.create_item {
        parts.push(format!("create_item {}", c.entity));
    }
    if let Some(u) = &step.update_item {
        parts.push(format!("update_item {} {}", u.entity, u.key));
    }
    if let Some(r) = &step.redeliver {
        parts.push(match r.event {
            Some(n) => format!("redeliver event {n} of {}", r.trigger),
            None => format!("redeliver last {}", r.trigger),
        });
    }
    if let Some(j) = &step.submit_job {
        let mut text = format!("submit_job {}", j.operation_type);
        if !j.identifiers.is_empty() {
            text.push(' ');
            text.push_str(&j.identifiers.join(","));
        }
        parts.push(text);
    }
    if parts.is_empty() {
        "wait".to_owned()
    } else {
        parts.join("; ")
    }
}
