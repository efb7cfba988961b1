//! What can go wrong with a state dir, and what to do about it.

use std::path::PathBuf;

/// Why a state dir could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot create the state dir {dir}; choose a writable --state-dir")]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the state dir {dir} is in use by another insightsim process; stop that one, or choose another --state-dir"
    )]
    InUse { dir: PathBuf },
    #[error("cannot open the state in {path}; move the file aside or choose another --state-dir")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
    #[error(
        "the state dir {dir} holds the state of tenant \"{saved_name}\" with seed {saved_seed}, but this run is tenant \"{name}\" with seed {seed} (they differ in {differences}); start with the same tenant file, seed and overrides, or choose another --state-dir (or delete {dir} to start over)"
    )]
    OtherTenant {
        dir: PathBuf,
        saved_name: String,
        saved_seed: u64,
        name: String,
        seed: u64,
        differences: String,
    },
    #[error(
        "cannot read the state saved in {path} ({what}); it may have been written by another version of insightsim: move it aside or choose another --state-dir"
    )]
    Unreadable { path: PathBuf, what: String },
    #[error("cannot encode the state to save it ({what})")]
    Encode { what: String },
    #[error("cannot save the state to {path}; check the disk (space, permissions)")]
    Save {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
}

/// An error and its causes on one line (`a: b: c`).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
