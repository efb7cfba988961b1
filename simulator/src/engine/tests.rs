//! The engine's behaviour through its public calls, one module per subject. (Owners' pure
//! parts, such as the retry policy, the queue and the draws, are tested next to their code.)

mod catalog;
mod control;
mod delivery;
mod faults;
mod jobs;
mod state;
mod subscriptions;
mod triggers;
