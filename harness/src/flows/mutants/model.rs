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

/// One place a mutant must fail: a case, the check that must fire there, and what it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catch {
    pub case: CaseRef,
    pub check: Check,
    /// What the check sees, precisely enough to assert: "2 matching calls instead of 3".
    pub sees: &'static str,
}

/// A case of `scenarios/`, or one that must be written (its proposed id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseRef {
    /// `scenarios/<id>.toml` exists.
    Existing(&'static str),
    /// To be written (issue 9, part 2); the README says what it does.
    New(&'static str),
}

impl CaseRef {
    pub fn id(self) -> &'static str {
        match self {
            CaseRef::Existing(id) | CaseRef::New(id) => id,
        }
    }
}

/// The check that must fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// An expectation of the case, by the id the harness reports (`expect.sinks[0]`,
    /// `expect.api.pages_complete`, ...).
    Expect(&'static str),
    /// A property law (`property/one-effect-per-permanent-failure`).
    Law(&'static str),
    /// A check issue 9 adds (part 2).
    New(NewCheck),
}

/// The behavioural checks of issue 9 that do not exist yet, as the mutants need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewCheck {
    /// The flow's manifest declares the triggers it handles; a case for a declared trigger it
    /// does not subscribe to fails, naming both ("declared X, subscribed Y").
    DeclaredTrigger,
    /// Effects are counted per destination the manifest declares (Teams, e-mail, HTTP); an
    /// effect elsewhere, or none there, fails.
    EffectDestination,
    /// The effect must echo the event's numbers and names (the measure's value and threshold,
    /// the segment's count, the data source's name, the unified customer count), exactly.
    EffectEcho,
    /// Every row of the exported entity appears downstream exactly once (its keys found in the
    /// sink bodies, whatever their shape).
    RowsDownstreamOnce,
}

impl NewCheck {
    pub fn id(self) -> &'static str {
        match self {
            NewCheck::DeclaredTrigger => "manifest.declared-trigger",
            NewCheck::EffectDestination => "effect.destination",
            NewCheck::EffectEcho => "effect.echo",
            NewCheck::RowsDownstreamOnce => "export.rows-downstream-once",
        }
    }
}

impl Check {
    pub fn id(self) -> &'static str {
        match self {
            Check::Expect(id) | Check::Law(id) => id,
            Check::New(check) => check.id(),
        }
    }
}
