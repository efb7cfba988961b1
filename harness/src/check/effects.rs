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

#[cfg(test)]
mod tests {
    use simulator::SimTime;

    use super::*;
    use crate::replay::sinks::SinkCall;

    fn scenario(trigger: &str) -> Scenario {
        let mut s: Scenario = toml::from_str(&format!(
            "format = 1\nid = \"x\"\nrequirement = \"MUST\"\n[[subscriptions]]\ntrigger = \"{trigger}\"\n"
        ))
        .unwrap();
        s.expect.effects = Some(Count::default());
        s
    }

    fn manifest(effect: &str) -> Manifest {
        Manifest::parse(&format!(
            "[[handles]]\ntrigger = \"datasource-refresh-failed\"\neffect = \"{effect}\""
        ))
        .unwrap()
    }

    fn run(sinks: &[SinkKind]) -> CaseRun {
        CaseRun {
            sink_calls: sinks
                .iter()
                .map(|&sink| SinkCall {
                    sink,
                    at: SimTime(0),
                    method: "POST".into(),
                    path: "/".into(),
                    body: "{}".into(),
                    json: None,
                })
                .collect(),
            ..CaseRun::default()
        }
    }

    /// The checks that fail, with their `actual`.
    fn check_effects(
        count: Count,
        sinks: &[SinkKind],
        effect: Option<&str>,
    ) -> Vec<(String, String)> {
        let s = scenario("datasource-refresh-failed");
        let m = effect.map(manifest);
        check(&count, &s, &run(sinks), m.as_ref())
            .into_iter()
            .map(|f| (f.check, f.actual))
            .collect()
    }

    fn exactly(n: u64) -> Count {
        Count {
            count: Some(n),
            ..Count::default()
        }
    }

    #[test]
    fn an_effect_at_another_destination_is_named_as_the_wrong_destination_only() {
        let failures = check_effects(exactly(1), &[SinkKind::Email], Some("teams"));
        assert_eq!(
            failures,
            [(
                "effect.destination".to_owned(),
                "1 e-mail and 0 Teams messages: the flow posts to the wrong destination (e-mail, expected Teams)".to_owned()
            )]
        );
    }

    #[test]
    fn effects_are_counted_at_the_declared_destination() {
        assert_eq!(
            check_effects(exactly(1), &[SinkKind::Teams], Some("teams")),
            []
        );
        let failures = check_effects(
            exactly(1),
            &[SinkKind::Teams, SinkKind::Teams],
            Some("teams"),
        );
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, "expect.effects");
        assert!(
            failures[0]
                .1
                .starts_with("2 Teams messages; no event was delivered"),
            "{failures:?}"
        );
        // Too few at the destination and one elsewhere: both are wrong.
        let failures = check_effects(exactly(2), &[SinkKind::Http], Some("teams"));
        let checks: Vec<&str> = failures.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(checks, ["effect.destination", "expect.effects"]);
    }

    #[test]
    fn with_no_effect_expected_an_effect_anywhere_is_one_too_many() {
        let failures = check_effects(exactly(0), &[SinkKind::Email], Some("teams"));
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].0, "expect.effects");
        assert!(failures[0].1.starts_with("1 sink call"), "{failures:?}");
    }

    #[test]
    fn without_a_manifest_every_sink_call_is_an_effect() {
        assert_eq!(
            check_effects(exactly(2), &[SinkKind::Email, SinkKind::Http], None),
            []
        );
    }

    #[test]
    fn a_declared_trigger_the_flow_did_not_subscribe_to_names_the_wrong_trigger() {
        let s = scenario("datasource-refresh-failed");
        let mut r = run(&[]);
        let none = declared_triggers(&s, &r, &manifest("teams"));
        assert_eq!(
            none[0].actual,
            "declared datasource-refresh-failed, subscribed to nothing: the flow never turned its trigger on"
        );
        r.subscriptions.push(simulator::engine::Subscription {
            id: "s1".into(),
            trigger: simulator::engine::Trigger::DataSourceRefreshSucceeded,
            notification_url: String::new(),
            inputs: Default::default(),
            created_at: SimTime(0),
            deleted_at: None,
        });
        let wrong = declared_triggers(&s, &r, &manifest("teams"));
        assert_eq!(
            wrong[0].actual,
            "declared datasource-refresh-failed, subscribed datasource-refresh-succeeded: the flow is wired to the wrong trigger"
        );
    }
}
