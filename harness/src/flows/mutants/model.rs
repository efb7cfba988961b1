//! What a mutant is: its mistake, its class, and where it must be caught.

use crate::flow::FlowFactory;

/// A deliberately broken flow: one mistake, and what must catch it.
#[derive(Debug, Clone, Copy)]
pub struct Mutant {
    /// Its name, what it does, its mistake in one sentence (`broken`) and how to build it.
    pub flow: FlowFactory,
    /// The reference flow it is a broken copy of.
    pub of: &'static str,
    pub class: MistakeClass,
    /// Where it must fail, and why: each entry is one assertion of the catch matrix.
    pub caught_by: &'static [Catch],
}

/// The kinds of mistake the suite must catch (issue 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MistakeClass {
    /// Idempotency keyed on something other than the event id, or remembering only the last
    /// id, or none at all.
    Idempotency,
    /// An assumption about delivery order: drops an event older than the newest seen, or acts
    /// on the state it reads now instead of the event it got.
    DeliveryOrder,
    /// The effect goes to the wrong connector (e-mail instead of Teams, ...).
    WrongDestination,
    /// The effect carries the wrong numbers or names.
    WrongContent,
    /// The flow is wired to the wrong trigger.
    WrongTrigger,
    /// An export fetches every page but loses rows before they reach the target.
    LosesRows,
    /// Threshold logic: a cool-down that swallows a genuine crossing, an alert on a downward
    /// crossing, an off-by-one threshold.
    Threshold,
    /// Call-limit handling: early retries, parallel calls beyond the limit, giving up at a 429.
    CallLimit,
    /// Acting on the wrong outcome: on a failed unification, a transient failure, or a data
    /// source the subscription should filter out.
    WrongOutcome,
}

impl MistakeClass {
    /// The id the README and reports use.
    pub fn id(self) -> &'static str {
        match self {
            MistakeClass::Idempotency => "idempotency",
            MistakeClass::DeliveryOrder => "delivery-order",
            MistakeClass::WrongDestination => "wrong-destination",
            MistakeClass::WrongContent => "wrong-content",
            MistakeClass::WrongTrigger => "wrong-trigger",
            MistakeClass::LosesRows => "loses-rows",
            MistakeClass::Threshold => "threshold",
            MistakeClass::CallLimit => "call-limit",
            MistakeClass::WrongOutcome => "wrong-outcome",
        }
    }
}

/// One place a mutant must fail, as the run reports it: the case (or law) and the check that
/// fires there, and what it sees. `tests/mutants.rs` asserts each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catch {
    /// A case id (`segment/fires-again-after-falling-below`) or a law id
    /// (`property/one-effect-per-upward-crossing`).
    pub case: &'static str,
    /// The check that fires, as reported (`expect.effects`, `effect.echo`, `expect.sinks[1]`,
    /// `export.rows-downstream-once`; `property` for a law).
    pub check: &'static str,
    /// What the check sees, in the flow maker's words: "2 Teams messages instead of 3".
    pub sees: &'static str,
}
