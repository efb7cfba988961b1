//! Broken variants of `teams-on-measure-threshold` (`measure-threshold-crossed`).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};
use simulator::SimDuration;

use super::adapt::{Gate, Gated, Misused, Rewrite, Rewritten};
use super::refresh_failed::Redirect;
use super::{Catch, MistakeClass, Mutant};
use crate::flow::{BoxFuture, Flow, FlowContext, FlowFactory};
use crate::flows::TeamsOnMeasureThreshold;
use crate::flows::api::encode;
use crate::scenario::SinkKind;

const OF: &str = "teams-on-measure-threshold";
const TRIGGER: &str = "measure-threshold-crossed";

pub(super) fn mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-posts-the-threshold",
                description: "teams-on-measure-threshold, with the threshold where the value should be",
                broken: Some(
                    "puts the event's threshold in the message where its value belongs: every alert says the measure rose to exactly the threshold",
                ),
                make: || {
                    Arc::new(Rewritten::new(
                        Rewrite::Edit(|e| e["value"] = e["threshold"].clone()),
                        TeamsOnMeasureThreshold::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongContent,
            caught_by: &[
                Catch {
                    case: "measure/scheduled-refresh-crossing-reaches-the-flow",
                    check: "effect.echo",
                    sees: "the message for the crossing to 1,234,567.89 lacks value 1234567.89 (it says 1000000)",
                },
                Catch {
                    case: "measure/scheduled-refresh-crossing-reaches-the-flow",
                    check: "expect.sinks[0]",
                    sees: "no message contains \"1234567.89\"",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-rounds-the-value",
                description: "teams-on-measure-threshold, formatting the value as a whole number",
                broken: Some(
                    "formats the value with no decimals (formatNumber 'N0'): 1,234,567.89 is reported as 1234568, and a value just above the threshold as the threshold",
                ),
                make: || {
                    Arc::new(Rewritten::new(
                        Rewrite::Edit(|e| {
                            if let Some(x) = e["value"].as_f64() {
                                e["value"] = json!(x.round() as i64);
                            }
                        }),
                        TeamsOnMeasureThreshold::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongContent,
            caught_by: &[
                Catch {
                    case: "measure/scheduled-refresh-crossing-reaches-the-flow",
                    check: "effect.echo",
                    sees: "the message lacks value 1234567.89 (it says 1234568)",
                },
                Catch {
                    case: "measure/equal-to-threshold-is-not-above",
                    check: "effect.echo",
                    sees: "the message lacks value 1000000.5 (it says 1000001)",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-cool-down",
                description: "teams-on-measure-threshold, with a 7-day cool-down per measure",
                broken: Some(
                    "does not alert about a measure again within 7 days of the last alert: a genuine second crossing two days later is swallowed",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::CoolDown {
                            key: "measureName",
                            time: "occurredAt",
                            period: SimDuration::from_mins(7 * 24 * 60),
                        },
                        TeamsOnMeasureThreshold::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Threshold,
            caught_by: &[Catch {
                case: "measure/fires-again-after-falling-below",
                check: "expect.effects",
                sees: "1 Teams message instead of 2: the crossing two days later is swallowed",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-dedupes-on-job-id",
                description: "teams-on-measure-threshold, remembering the evaluation jobs it reported instead of the events",
                broken: Some(
                    "keys its idempotency on jobId: when one refresh moves two watched measures above their thresholds, only the first is reported",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::OncePer(&["jobId"]),
                        TeamsOnMeasureThreshold::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[Catch {
                case: "measure/two-measures-crossing-in-one-refresh-are-each-handled",
                check: "expect.effects",
                sees: "1 Teams message instead of 2: ActiveCustomers' crossing shares TotalRevenue's jobId",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-alerts-on-drops",
                description: "teams-on-measure-threshold, plus a half-hourly check that also alerts when the measure falls below the threshold",
                broken: Some(
                    "adds a recurrence that reads the measure and alerts when it falls back below the threshold: the requirement is an alert on upward crossings only",
                ),
                make: || Arc::new(AlertsOnDrops::default()),
            },
            of: OF,
            class: MistakeClass::Threshold,
            caught_by: &[
                Catch {
                    case: "measure/does-not-fire-on-downward-crossing",
                    check: "expect.effects",
                    sees: "1 Teams message instead of none: an alert about the fall",
                },
                Catch {
                    case: "measure/fires-once-per-upward-crossing",
                    check: "effect.echo",
                    sees: "the alert about the fall answers no delivered crossing",
                },
            ],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-drops-older-events",
                description: "teams-on-measure-threshold, skipping crossings evaluated before the newest one handled",
                broken: Some(
                    "drops a crossing whose evaluationTime is older than the newest it handled: a crossing delivered out of order is never reported",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::NewestOnly("evaluationTime"),
                        TeamsOnMeasureThreshold::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::DeliveryOrder,
            caught_by: &[Catch {
                case: "measure/reordered-crossings-are-all-handled",
                check: "expect.effects",
                sees: "1 Teams message instead of 2: the crossing to 1.1 M, delivered after the one to 1.2 M, is dropped",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-remembers-only-the-last-event",
                description: "teams-on-measure-threshold, keeping only the last eventId in a variable",
                broken: Some(
                    "remembers only the last eventId: an older crossing replayed after a newer one is posted again",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::LastEventOnly,
                        TeamsOnMeasureThreshold::not_idempotent(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[Catch {
                case: "measure/late-replay-after-a-newer-crossing-has-no-second-effect",
                check: "expect.effects",
                sees: "4 Teams messages instead of 2: each late replay comes after the other crossing",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "email-on-measure-threshold",
                description: "teams-on-measure-threshold, with the e-mail action where the Teams one should be",
                broken: Some(
                    "sends the alert with the e-mail connector instead of posting to Teams: it reaches the wrong channel",
                ),
                make: || {
                    Arc::new(Misused::new(
                        Redirect(SinkKind::Teams, SinkKind::Email),
                        TeamsOnMeasureThreshold::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::WrongDestination,
            caught_by: &[Catch {
                case: "measure/fires-once-per-upward-crossing",
                check: "effect.destination",
                sees: "1 e-mail and 0 Teams messages: the effect goes to e-mail, the manifest says Teams",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-dedupes-on-value",
                description: "teams-on-measure-threshold, remembering the (measure, value) pairs it posted about instead of the events",
                broken: Some(
                    "keys its idempotency on the measure and its value: a genuine second crossing to the same value is taken for a redelivery",
                ),
                make: || {
                    Arc::new(Gated::new(
                        Gate::OncePer(&["measureName", "value"]),
                        TeamsOnMeasureThreshold::new(),
                    ))
                },
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[Catch {
                case: "measure/the-same-crossing-twice-is-handled-twice",
                check: "expect.effects",
                sees: "1 Teams message instead of 2: the second crossing to 1.1 M carries the same values as the first",
            }],
        },
        Mutant {
            flow: FlowFactory {
                name: "teams-measure-not-idempotent",
                description: "teams-on-measure-threshold, without remembering handled events",
                broken: Some(
                    "keeps no memory of handled events: a crossing the platform delivers again (after a timeout, a replay) is posted again",
                ),
                make: || Arc::new(TeamsOnMeasureThreshold::not_idempotent()),
            },
            of: OF,
            class: MistakeClass::Idempotency,
            caught_by: &[
                Catch {
                    case: "measure/timeout-after-sending-is-retried-without-a-second-effect",
                    check: "expect.effects",
                    sees: "2 Teams messages instead of 1: the retry after the timeout is posted again",
                },
                Catch {
                    case: "measure/late-replay-after-a-newer-crossing-has-no-second-effect",
                    check: "expect.effects",
                    sees: "4 Teams messages instead of 2: the late replays are posted again",
                },
            ],
        },
    ]
}

/// How often [`AlertsOnDrops`] reads the measures.
const CHECK_EVERY: SimDuration = SimDuration::from_mins(30);

/// `teams-measure-alerts-on-drops`: the reference flow, plus a loop in `start` that reads each
/// watched measure (`GET manage/measures/{name}`) every half hour and posts when it is at or
/// below the threshold after being above it at the previous check.
#[derive(Default)]
struct AlertsOnDrops {
    inner: TeamsOnMeasureThreshold,
    last: Mutex<HashMap<String, f64>>,
}

impl Flow for AlertsOnDrops {
    fn triggers(&self) -> Vec<&'static str> {
        vec![TRIGGER]
    }

    fn start<'a>(&'a self, ctx: &'a FlowContext) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.inner.start(ctx).await;
            let watched: Vec<(&str, f64)> = ctx
                .requested
                .iter()
                .filter(|s| s.trigger == TRIGGER)
                .filter_map(|s| {
                    Some((
                        s.inputs.get("measureName")?.as_str()?,
                        s.inputs.get("threshold")?.as_f64()?,
                    ))
                })
                .collect();
            if watched.is_empty() {
                return;
            }
            loop {
                ctx.io.sleep(CHECK_EVERY).await;
                for &(name, threshold) in &watched {
                    let path = format!("manage/measures/{}", encode(name));
                    let reply = ctx.io.api("GET", &path, None).await;
                    let value = reply.body["output"]["values"][name]
                        .as_str()
                        .and_then(|v| v.parse::<f64>().ok());
                    let Some(value) = value else {
                        continue; // Throttled or failed: look again next time.
                    };
                    let previous = self.last.lock().insert(name.to_owned(), value);
                    if previous.is_some_and(|p| p > threshold) && value <= threshold {
                        let message = json!({
                            "title": format!("{name} fell below {threshold}"),
                            "text": format!("{name} fell to {value}, below the threshold of {threshold}."),
                            "measureName": name,
                            "value": value,
                            "threshold": threshold,
                        });
                        ctx.io.sink(SinkKind::Teams, message).await;
                    }
                }
            }
        })
    }

    fn on_event<'a>(&'a self, ctx: &'a FlowContext, event: Value) -> BoxFuture<'a, u16> {
        self.inner.on_event(ctx, event)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flows::testing::{FakeIo, reply, subscription};

    fn measure(value: &str) -> crate::flow::ApiReply {
        reply(
            200,
            json!({"name": "TotalRevenue", "output": {"values": {"TotalRevenue": value}}}),
        )
    }

    #[tokio::test]
    async fn the_drop_alerter_posts_when_a_check_finds_the_value_fallen_below_the_threshold() {
        let io = FakeIo::new([
            reply(201, json!({})),
            measure("1200000"),
            measure("1100000"),
            measure("1000000"),
            measure("800000"),
        ]);
        io.park_after_sleeps(4);
        let ctx = io.context(vec![subscription(
            TRIGGER,
            json!({"measureName": "TotalRevenue", "threshold": 1000000}),
        )]);
        let flow = AlertsOnDrops::default();
        tokio::select! {
            () = flow.start(&ctx) => panic!("the checking loop ended on its own"),
            () = io.parked() => {}
        }
        let posted = io.sink_calls(SinkKind::Teams);
        assert_eq!(
            posted.len(),
            1,
            "only 1.1 M → 1 M falls to the threshold: {posted:?}"
        );
        assert_eq!(
            posted[0]["text"],
            "TotalRevenue fell to 1000000, below the threshold of 1000000."
        );
    }
}
