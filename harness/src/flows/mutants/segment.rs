//! Broken variants of `email-on-segment-threshold` (`segment-threshold-crossed`).

use std::sync::Arc;

use serde_json::{Map, Value, json};
use simulator::SimDuration;

use super::adapt::{Gate, Gated, Misused, Resubscribed, Rewrite, Rewritten};
use super::refresh_failed::Redirect;
use super::{Catch, MistakeClass, Mutant};
use crate::flow::{BoxFuture, FlowContext, FlowFactory};
use crate::flows::EmailOnSegmentThreshold;
use crate::flows::api::encode;
use crate::scenario::SinkKind;

const OF: &str = "email-on-segment-threshold";
const TRIGGER: &str = "segment-threshold-crossed";

pub(super) fn mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            flow: FlowFactory {
                name: "email-cool-down-swallows-second-crossing",
                description: "email-on-segment-threshold, with a 7-day cool-down per segment against e-mail floods",
                broken: Some(
                    "does not e-mail about a segment again within 7 days of the last e-mail: a genuine second crossing two days later is swallowed",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::CoolDown {
                            key: "segmentName",
                            time: "occurredAt",
                            period: SimDuration::from_mins(7 * 24 * 60),
                        },
                        EmailOnSegmentThreshold::default(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Threshold,
            caught_by: &[
                Catch {
                    case: "segment/fires-again-after-falling-below",
                    check: "expect.effects",
                    sees: "1 e-mail instead of 2: the crossing of day 3 comes two days after the first",
                },
                Catch {
                    case: "property/one-effect-per-upward-crossing",
                    check: "property",
                    sees: "a timeline with two crossings within 7 days gets one effect",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-dedupes-on-segment-name",
                description: "email-on-segment-threshold, remembering the segments it e-mailed about instead of the events",
                broken: Some(
                    "keys its idempotency on segmentName: a segment that crosses its threshold again is never e-mailed about again",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::OncePer(&["segmentName"]),
                        EmailOnSegmentThreshold::default(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[
                Catch {
                    case: "segment/fires-again-after-falling-below",
                    check: "expect.effects",
                    sees: "1 e-mail instead of 2: the second crossing is taken for a redelivery",
                },
                Catch {
                    case: "property/one-effect-per-upward-crossing",
                    check: "property",
                    sees: "a timeline with two crossings gets one effect",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-drops-older-crossings",
                description: "email-on-segment-threshold, skipping crossings evaluated before the newest one handled",
                broken: Some(
                    "drops a crossing whose evaluationDate is older than the newest it handled, taking it for stale: a crossing delivered out of order is never e-mailed",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::NewestOnly("evaluationDate"),
                        EmailOnSegmentThreshold::default(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::DeliveryOrder,
            caught_by: &[Catch {
                case: "segment/out-of-order-crossings-are-all-handled",
                check: "expect.effects",
                sees: "1 e-mail instead of 2: the crossing to 1100, delivered after the one to 1200, is dropped",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-reports-the-current-count",
                description: "email-on-segment-threshold, reading the member count from 'Get segment' instead of the event",
                broken: Some(
                    "reads the segment's current member count through the API instead of the event's entityCount, assuming the event arrives at once: a late or reordered event is reported with a later count",
                ),
                make: || {
                    Arc::new(Rewritten::new(
                        Rewrite::LookUp(current_count),
                        EmailOnSegmentThreshold::default(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::DeliveryOrder,
            caught_by: &[
                Catch {
                    case: "segment/out-of-order-crossings-are-all-handled",
                    check: "effect.echo",
                    sees: "the e-mail for the crossing to 1100 lacks entityCount 1100 (it says 1200, the count when the held event arrives)",
                },
                Catch {
                    case: "segment/out-of-order-crossings-are-all-handled",
                    check: "expect.sinks[0]",
                    sees: "no e-mail contains \"1100\"",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-sends-the-previous-count",
                description: "email-on-segment-threshold, with previousCount where entityCount should be",
                broken: Some(
                    "puts the event's previousCount in the e-mail instead of its entityCount: it reports the count before the crossing",
                ),
                make: || {
                    Arc::new(Rewritten::new(
                        Rewrite::Edit(|e| e["entityCount"] = e["previousCount"].clone()),
                        EmailOnSegmentThreshold::default(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongContent,
            caught_by: &[
                Catch {
                    case: "segment/scheduled-refresh-crossing-reaches-the-flow",
                    check: "effect.echo",
                    sees: "the e-mail lacks entityCount 1042 (it says 950)",
                },
                Catch {
                    case: "segment/equal-to-threshold-is-not-above",
                    check: "expect.sinks[0]",
                    sees: "no e-mail contains \"1001\" (it says 1000)",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-on-segment-threshold",
                description: "email-on-segment-threshold, with the Teams action where the e-mail one should be",
                broken: Some(
                    "posts the crossing to Teams instead of e-mailing the data owners: it reaches the wrong people",
                ),
                make: || {
                    Arc::new(Misused::new(
                        Redirect(SinkKind::Email, SinkKind::Teams),
                        EmailOnSegmentThreshold::default(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongDestination,
            caught_by: &[Catch {
                case: "segment/fires-once-per-upward-crossing",
                check: "effect.destination",
                sees: "1 Teams message and 0 e-mails: the effect goes to Teams, the manifest says e-mail",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-subscribes-at-threshold-minus-one",
                description: "email-on-segment-threshold, subscribed with threshold - 1",
                broken: Some(
                    "subscribes with threshold - 1 to include the threshold itself (\"at least 1000\"): it e-mails when the count reaches the threshold, which is not a crossing",
                ),
                make: || {
                    Arc::new(Resubscribed::new(
                        TRIGGER,
                        minus_one,
                        EmailOnSegmentThreshold::default(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Threshold,
            caught_by: &[
                Catch {
                    case: "segment/equal-to-threshold-is-not-above",
                    check: "expect.sinks[0]",
                    sees: "no e-mail contains \"1001\": it e-mails at 1000, which is not a crossing, and not at 1001",
                },
                Catch {
                    case: "property/one-effect-per-upward-crossing",
                    check: "property",
                    sees: "a timeline that reaches the threshold exactly gets an effect",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-remembers-only-the-last-event",
                description: "email-on-segment-threshold, keeping only the last eventId in a variable",
                broken: Some(
                    "remembers only the last eventId: an older crossing replayed after a newer one is e-mailed again",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::LastEventOnly,
                        EmailOnSegmentThreshold::not_idempotent(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[Catch {
                case: "segment/late-replay-after-a-newer-crossing-has-no-second-effect",
                check: "expect.effects",
                sees: "4 e-mails instead of 2: each late replay comes after the other crossing",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-dedupes-on-segment-and-count",
                description: "email-on-segment-threshold, remembering the (segment, count) pairs it e-mailed about instead of the events",
                broken: Some(
                    "keys its idempotency on the segment and its count: a genuine second crossing to the same count is taken for a redelivery",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::OncePer(&["segmentName", "entityCount"]),
                        EmailOnSegmentThreshold::default(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[Catch {
                case: "segment/the-same-crossing-twice-is-handled-twice",
                check: "expect.effects",
                sees: "1 e-mail instead of 2: the second crossing to 1100 carries the same values as the first",
            }],
        },
    ]
}

/// The threshold input lowered by one.
fn minus_one(inputs: &mut Map<String, Value>) {
    if let Some(threshold) = inputs.get_mut("threshold") {
        if let Some(n) = threshold.as_u64() {
            *threshold = json!(n.saturating_sub(1));
        } else if let Some(x) = threshold.as_f64() {
            *threshold = json!(x - 1.0);
        }
    }
}

/// `GET manage/segments/{name}`, and its current count in place of the event's.
fn current_count<'a>(ctx: &'a FlowContext, mut event: Value) -> BoxFuture<'a, Value> {
    Box::pin(async move {
        let name = event["segmentName"].as_str().unwrap_or_default();
        let path = format!("manage/segments/{}", encode(name));
        let reply = ctx.io.api("GET", &path, None).await;
        if let Some(count) = reply.body["evaluationStatus"]["entityCount"].as_u64() {
            event["entityCount"] = json!(count);
        }
        event
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::testing::{FakeIo, reply};

    #[test]
    fn lowers_a_whole_or_fractional_threshold_by_one() {
        for (before, after) in [
            (json!(1000), json!(999)),
            (json!(0), json!(0)),
            (json!(10.5), json!(9.5)),
        ] {
            let mut inputs = Map::new();
            inputs.insert("threshold".into(), before);
            minus_one(&mut inputs);
            assert_eq!(inputs["threshold"], after);
        }
    }

    #[tokio::test]
    async fn the_current_count_look_up_replaces_the_events_count() {
        let io = FakeIo::new([reply(
            200,
            json!({"evaluationStatus": {"entityCount": 1200}}),
        )]);
        let ctx = io.context(Vec::new());
        let event = current_count(
            &ctx,
            json!({"segmentName": "High Value", "entityCount": 1100}),
        )
        .await;
        assert_eq!(event["entityCount"], 1200);
        assert_eq!(io.api_calls(), ["GET manage/segments/High%20Value"]);
    }
}
