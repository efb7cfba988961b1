//! The five broken variants of `reference_flows()` (the mistakes planted first), described as
//! mutants: their class and where they must be caught, so that the catch matrix covers every
//! broken variant.

use super::catalog::reference_flows;
use super::mutants::{Catch, MistakeClass, Mutant};

/// (name, the flow it breaks, class, catches).
const PLANTED: &[(&str, &str, MistakeClass, &[Catch])] = &[
    (
        "export-ignores-retry-after",
        "export-on-full-refresh",
        MistakeClass::CallLimit,
        &[
            Catch {
                case: "call-limit/no-call-before-retry-after",
                check: "expect.api.no_early_retries",
                sees: "early retries: a throttled page is asked for again at once",
            },
            Catch {
                case: "property/every-page-fetched-once",
                check: "property",
                sees: "a generated export under a call limit calls before a Retry-After has passed",
            },
        ],
    ),
    (
        "export-first-page-only",
        "export-on-full-refresh",
        MistakeClass::LosesRows,
        &[
            Catch {
                case: "paging/export-visits-every-customer-once",
                check: "expect.api.pages_complete",
                sees: "rows 100..2345 were never fetched",
            },
            Catch {
                case: "paging/export-visits-every-customer-once",
                check: "export.rows-downstream-once",
                sees: "rows 100..2,344 were never fetched, so never exported",
            },
        ],
    ),
    (
        "email-polls-segment-counts",
        "email-on-segment-threshold",
        MistakeClass::Threshold,
        &[
            Catch {
                case: "segment/staying-above-does-not-fire-again",
                check: "expect.effects",
                sees: "an e-mail on every poll above the threshold instead of one per crossing",
            },
            Catch {
                case: "segment/does-not-fire-on-downward-crossing",
                check: "expect.effects",
                sees: "e-mails while the count is above the threshold, where no crossing happens",
            },
            Catch {
                case: "property/one-effect-per-upward-crossing",
                check: "property",
                sees: "a timeline that stays above the threshold gets an effect per poll",
            },
        ],
    ),
    (
        "email-off-by-one-threshold",
        "email-on-segment-threshold",
        MistakeClass::Threshold,
        &[
            Catch {
                case: "segment/equal-to-threshold-is-not-above",
                check: "expect.effects",
                sees: "0 e-mails instead of 1: it subscribed with threshold 1001 and misses the crossing to 1001",
            },
            Catch {
                case: "property/one-effect-per-upward-crossing",
                check: "property",
                sees: "a timeline crossing to exactly 1001 gets no effect",
            },
        ],
    ),
    (
        "teams-not-idempotent",
        "teams-on-refresh-failure",
        MistakeClass::Idempotency,
        &[
            Catch {
                case: "delivery/redelivered-event-has-no-second-effect",
                check: "expect.effects",
                sees: "2 Teams messages instead of 1: the redelivered event is posted again",
            },
            Catch {
                case: "delivery/lost-answer-is-retried-without-a-second-effect",
                check: "expect.effects",
                sees: "2 Teams messages instead of 1: the retry after the lost answer is posted again",
            },
            Catch {
                case: "property/redelivery-has-no-second-effect",
                check: "property",
                sees: "a timeline with redeliveries gets more effects than failures",
            },
        ],
    ),
];

/// The broken variants of [`reference_flows`], as mutants (their class and catches): with
/// [`super::mutants()`], every broken variant the catch matrix holds.
pub fn planted() -> Vec<Mutant> {
    let flows = reference_flows();
    PLANTED
        .iter()
        .filter_map(|&(name, of, class, caught_by)| {
            Some(Mutant {
                flow: *flows.iter().find(|f| f.name == name)?,
                of,
                class,
                caught_by,
            })
        })
        .collect()
}
