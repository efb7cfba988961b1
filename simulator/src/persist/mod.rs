//! The state dir of `serve --state-dir`: what survives a restart and a crash.
//!
//! The simulator saves its state whole, as a handful of *parts* (the engine, the created and
//! changed items, the status reports, the route faults, and a `meta` part with the tenant's
//! identity, the id epoch and the clock), each encoded with serde, in one embedded database
//! file, `DIR/state.redb` (redb: ACID transactions, fsync before a commit returns, crash-safe
//! by checksummed commit slots). Why this design and this database: ARCHITECTURE.md, "Durable
//! state".
//!
//! - [`StateDir`] opens the file (one process at a time), checks that it belongs to the tenant
//!   ([`Identity`]), and saves the parts that changed in one transaction;
//! - [`encode`] and [`decode`] are the one encoding of every part (MessagePack, structs as
//!   maps, so a new optional field reads back from an older file);
//! - [`Meta`] is the `meta` part; [`PersistError`] says what went wrong and what to do.
//!
//! The simulator decides when to save (`Simulator::commit`: before an answer, and before a
//! delivery is sent) and what the parts are; this module knows nothing of the simulator.

mod codec;
mod dir;
mod error;
mod meta;

pub use codec::{decode, encode};
pub use dir::{META, Saved, StateDir};
pub use error::{PersistError, chain};
pub use meta::{FORMAT, Identity, Meta};
