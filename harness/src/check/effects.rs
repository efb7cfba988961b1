//! What the flow's manifest declares, held against what it did: the triggers it subscribed to,
//! and its effects counted at the destination it declares (none anywhere else).

use std::collections::BTreeMap;

use simulator::engine::DeliveryStatus;

use super::words::{destination, effects};
use crate::manifest::Manifest;
use crate::outcome::Failure;
use crate::replay::CaseRun;
use crate::scenario::{Count, Scenario, SinkKind};

/// A case's trigger that the manifest declares and the flow did not subscribe to: the flow is
/// wired to another trigger (or to none).
pub(super) fn declared_triggers(
    scenario: &Scenario,
    run: &CaseRun,
    manifest: &Manifest,
) -> Vec<Failure> {
    let mut subscribed: Vec<&str> = run.subscriptions.iter().map(|s| s.trigger.id()).collect();
    subscribed.sort_unstable();
    subscribed.dedup();
    scenario
        .triggers()
        .into_iter()
        .filter(|t| manifest.declares(t) && !subscribed.contains(t))
        .map(|t| {
            let actual = if subscribed.is_empty() {
                format!("declared {t}, subscribed to nothing: the flow never turned its trigger on")
            } else {
                format!(
                    "declared {t}, subscribed {}: the flow is wired to the wrong trigger",
                    subscribed.join(", ")
                )
            };
            Failure::new(
                "manifest.declared-trigger",
                format!("a subscription to {t}, the trigger the flow's manifest declares"),
                actual,
            )
        })
        .collect()
}

/// The flow's effects: the calls to its declared destination are counted against `bounds`;
/// calls anywhere else, when the case expects an effect, are an effect at the wrong
/// destination. Without a declared destination every sink call is an effect.
pub(super) fn check(
    bounds: &Count,
    scenario: &Scenario,
    run: &CaseRun,
    manifest: Option<&Manifest>,
) -> Vec<Failure> {
    let declared = manifest.and_then(|m| m.destination(&scenario.triggers()));
    let dest = declared.unwrap_or(SinkKind::Any);
    let at_dest = run
        .sink_calls
        .iter()
        .filter(|c| dest == SinkKind::Any || c.sink == dest)
        .count();
    let elsewhere: BTreeMap<SinkKind, usize> = run
        .sink_calls
        .iter()
        .filter(|c| dest != SinkKind::Any && c.sink != dest)
        .fold(BTreeMap::new(), |mut m, c| {
            *m.entry(c.sink).or_default() += 1;
            m
        });
    let n_elsewhere: usize = elsewhere.values().sum();
    let expects_some = bounds.max.is_none_or(|m| m > 0) && bounds.count.is_none_or(|c| c > 0);
    let mut failures = Vec::new();
    if n_elsewhere > 0 && expects_some {
        let posted: Vec<String> = elsewhere.iter().map(|(k, n)| effects(*k, *n)).collect();
        failures.push(Failure::new(
            "effect.destination",
            format!(
                "{} effect(s), all posted to {} (the flow's manifest), none elsewhere",
                bounds.describe(),
                destination(dest)
            ),
            format!(
                "{} and {}: the flow posts to the wrong destination ({}, expected {})",
                posted.join(" and "),
                effects(dest, at_dest),
                elsewhere
                    .keys()
                    .map(|k| destination(*k))
                    .collect::<Vec<_>>()
                    .join(" and "),
                destination(dest)
            ),
        ));
    }
    // With no effect expected, an effect anywhere is one too many.
    let counted = if expects_some {
        at_dest
    } else {
        at_dest + n_elsewhere
    };
    let explained =
        n_elsewhere > 0 && expects_some && bounds.admits((at_dest + n_elsewhere) as u64);
    if !bounds.admits(counted as u64) && !explained {
        let shown = if expects_some { dest } else { SinkKind::Any };
        let delivered = Delivered::of(run);
        failures.push(Failure::new(
            "expect.effects",
            match shown {
                SinkKind::Any => format!("{} effect(s) (calls to any sink)", bounds.describe()),
                kind => format!(
                    "{} effect(s), each {} (where the flow's manifest says its effect goes)",
                    bounds.describe(),
                    a_destination(kind)
                ),
            },
            format!(
                "{}; {}{}",
                effects(shown, counted),
                delivered.describe(),
                delivered.hint(bounds, counted)
            ),
        ));
    }
    failures
}

fn a_destination(kind: SinkKind) -> &'static str {
    match kind {
        SinkKind::Teams => "a Teams message",
        SinkKind::Email => "an e-mail",
        SinkKind::Http => "an HTTP call",
        SinkKind::Any => "a sink call",
    }
}

/// What was delivered: per event (by its index in the case), how many deliveries.
struct Delivered {
    per_event: Vec<(usize, usize)>,
    total: usize,
}

impl Delivered {
    fn of(run: &CaseRun) -> Delivered {
        let mut per_event: Vec<(usize, usize)> = Vec::new();
        let mut total = 0;
        for d in run
            .deliveries
            .iter()
            .filter(|d| d.status == DeliveryStatus::Delivered)
        {
            total += 1;
            let index = run
                .events
                .iter()
                .position(|e| e.event_id == d.event_id)
                .unwrap_or(usize::MAX);
            match per_event.iter_mut().find(|(i, _)| *i == index) {
                Some((_, n)) => *n += 1,
                None => per_event.push((index, 1)),
            }
        }
        per_event.sort_unstable();
        Delivered { per_event, total }
    }

    /// `2 event(s) delivered (3 deliveries: ev1 ×2, ev2)`.
    fn describe(&self) -> String {
        if self.per_event.is_empty() {
            return "no event was delivered".to_owned();
        }
        let each: Vec<String> = self
            .per_event
            .iter()
            .map(|(i, n)| {
                let name = format!("ev{}", i.saturating_add(1));
                if *n == 1 {
                    name
                } else {
                    format!("{name} ×{n}")
                }
            })
            .collect();
        format!(
            "{} event(s) delivered ({} deliveries: {})",
            self.per_event.len(),
            self.total,
            each.join(", ")
        )
    }

    /// The mistake the counts point to, when they point to one.
    fn hint(&self, bounds: &Count, counted: usize) -> &'static str {
        let distinct = self.per_event.len();
        let too_many = bounds.count.is_some_and(|c| counted as u64 > c)
            || bounds.max.is_some_and(|m| counted as u64 > m);
        if too_many && counted > distinct && counted <= self.total && self.total > distinct {
            ": an event delivered again (same eventId) was acted on again; act once per eventId"
        } else {
            ""
        }
    }
}
