//! [`StateDir`]: one redb file holding the saved parts, keyed by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::codec::decode;
use super::error::PersistError;
use super::meta::{FORMAT, Identity, Meta};

/// Part name → encoded part.
const PARTS: TableDefinition<&str, &[u8]> = TableDefinition::new("parts");

/// The name of the `meta` part.
pub const META: &str = "meta";

/// The file inside the state dir.
const FILE: &str = "state.redb";

/// What a state dir held when it was opened: the `meta` part decoded, and every other part.
#[derive(Debug)]
pub struct Saved {
    pub meta: Meta,
    pub parts: BTreeMap<String, Vec<u8>>,
}

impl Saved {
    /// The part named `name`, decoded; a missing or unreadable part names the file.
    pub fn part<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        path: &Path,
    ) -> Result<T, PersistError> {
        decode_part(&self.parts, name, path)
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(
    parts: &BTreeMap<String, Vec<u8>>,
    name: &str,
    path: &Path,
) -> Result<T, PersistError> {
    let bytes = parts.get(name).ok_or_else(|| PersistError::Unreadable {
        path: path.to_owned(),
        what: format!("the part \"{name}\" is missing"),
    })?;
    decode(bytes).map_err(|what| PersistError::Unreadable {
        path: path.to_owned(),
        what: format!("the part \"{name}\": {what}"),
    })
}

/// An open state dir. Only one process can hold it (redb locks the file).
pub struct StateDir {
    path: PathBuf,
    db: Database,
    /// What was last saved: a change counter's value and every part's bytes. Saves run one at
    /// a time under this lock, so a save never overwrites a newer one.
    last: Mutex<Last>,
    /// `last.version` plus one (0 before the first save), read without the lock: a caller
    /// with nothing new to save returns at once, even while another save is writing.
    saved: AtomicU64,
}

#[derive(Default)]
struct Last {
    version: Option<u64>,
    parts: BTreeMap<&'static str, Vec<u8>>,
}

impl std::fmt::Debug for StateDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDir")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StateDir {
    /// Opens (or creates) the state dir `dir` for the tenant `identity`, and returns what it
    /// holds (`None` for a new one). A state of another tenant or format is refused.
    pub fn open(
        dir: &Path,
        identity: &Identity,
    ) -> Result<(StateDir, Option<Saved>), PersistError> {
        std::fs::create_dir_all(dir).map_err(|source| PersistError::CreateDir {
            dir: dir.to_owned(),
            source,
        })?;
        let path = dir.join(FILE);
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => PersistError::InUse {
                dir: dir.to_owned(),
            },
            other => PersistError::Open {
                path: path.clone(),
                source: other.into(),
            },
        })?;
        let state = StateDir {
            path,
            db,
            last: Mutex::new(Last::default()),
            saved: AtomicU64::new(0),
        };
        let saved = state.read_all()?;
        let Some(parts) = saved else {
            return Ok((state, None));
        };
        let meta: Meta = decode_part(&parts, META, &state.path)?;
        if meta.format != FORMAT {
            return Err(PersistError::Unreadable {
                path: state.path.clone(),
                what: format!(
                    "it has state format {}, and this insightsim reads format {FORMAT}",
                    meta.format
                ),
            });
        }
        if meta.identity.fingerprint != identity.fingerprint {
            let differences = meta.identity.differences(identity);
            return Err(PersistError::OtherTenant {
                dir: dir.to_owned(),
                saved_name: meta.identity.name.clone(),
                saved_seed: meta.identity.seed,
                name: identity.name.clone(),
                seed: identity.seed,
                differences: if differences.is_empty() {
                    "their fingerprint".to_owned()
                } else {
                    differences.join(", ")
                },
            });
        }
        Ok((state, Some(Saved { meta, parts })))
    }

    /// The file that holds the state.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size of every part as last saved, by name (what a save that changes them all
    /// writes; for the benchmark and `/_sim/state`).
    pub fn part_sizes(&self) -> Vec<(&'static str, usize)> {
        let last = self.last.lock();
        last.parts
            .iter()
            .map(|(name, b)| (*name, b.len()))
            .collect()
    }

    /// The change counter's value at the last save (`None` before the first).
    pub fn saved_version(&self) -> Option<u64> {
        self.last.lock().version
    }

    /// Saves a state, given as its change counter's value and a function that encodes its
    /// parts. Saves run one at a time; one for a value already saved does nothing (a save
    /// covers every change counted before it), so concurrent callers share one write. Only
    /// parts whose bytes changed are written, all in one transaction, durable (fsync) when this
    /// returns.
    pub fn save(
        &self,
        version: impl Fn() -> u64,
        encode: impl FnOnce(Option<u64>) -> Result<(u64, Vec<(&'static str, Vec<u8>)>), String>,
    ) -> Result<(), PersistError> {
        // Saved versions only grow, and a version is stored here once it is on disk.
        if self
            .saved
            .load(Ordering::Acquire)
            .checked_sub(1)
            .is_some_and(|saved| saved >= version())
        {
            return Ok(());
        }
        let mut last = self.last.lock();
        if last.version.is_some_and(|saved| saved >= version()) {
            return Ok(());
        }
        let (version, parts) =
            encode(last.version).map_err(|what| PersistError::Encode { what })?;
        let changed: Vec<(&'static str, Vec<u8>)> = parts
            .into_iter()
            .filter(|(name, bytes)| last.parts.get(name) != Some(bytes))
            .collect();
        if !changed.is_empty() {
            self.write(&changed).map_err(|source| PersistError::Save {
                path: self.path.clone(),
                source,
            })?;
        }
        last.version = Some(version);
        self.saved
            .store(version.saturating_add(1), Ordering::Release);
        last.parts.extend(changed);
        Ok(())
    }

    fn write(&self, parts: &[(&'static str, Vec<u8>)]) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(PARTS)?;
            for (name, bytes) in parts {
                table.insert(*name, bytes.as_slice())?;
            }
        }
        // The default durability, `Immediate`: the commit is on disk when this returns.
        txn.commit()?;
        Ok(())
    }

    /// Every part, or `None` when nothing was ever saved.
    fn read_all(&self) -> Result<Option<BTreeMap<String, Vec<u8>>>, PersistError> {
        let unreadable = |e: redb::Error| PersistError::Open {
            path: self.path.clone(),
            source: e,
        };
        let txn = self.db.begin_read().map_err(|e| unreadable(e.into()))?;
        let table = match txn.open_table(PARTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(unreadable(e.into())),
        };
        let mut parts = BTreeMap::new();
        for entry in table.iter().map_err(|e| unreadable(e.into()))? {
            let (name, bytes) = entry.map_err(|e| unreadable(e.into()))?;
            parts.insert(name.value().to_owned(), bytes.value().to_vec());
        }
        Ok((!parts.is_empty()).then_some(parts))
    }
}
