//! The store: everything relais keeps, in sled. Owns sled; nothing outside this module
//! sees a tree, a key or a byte encoding. Records carry a schema version; numeric keys
//! are big-endian so that byte order is numeric order.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::model::{Item, SourceState};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Other(String),
}

/// What one poll's batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollWrite {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Entries skipped because their item was pruned before (tombstoned).
    pub tombstoned: usize,
}

/// Which items to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    pub source: Option<String>,
    pub limit: Option<usize>,
}

pub struct Store {
    _db: sled::Db,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = sled::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Store { _db: db })
    }

    pub fn source_state(&self, id: &str) -> Result<Option<SourceState>, StoreError> {
        let _ = id;
        Ok(None)
    }

    pub fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        Ok(Vec::new())
    }

    pub fn save_source_state(&self, state: &SourceState) -> Result<(), StoreError> {
        let _ = state;
        Ok(())
    }

    pub fn apply_poll(
        &self,
        state: &SourceState,
        items: Vec<Item>,
        now: DateTime<Utc>,
    ) -> Result<PollWrite, StoreError> {
        let _ = (state, items, now);
        Ok(PollWrite::default())
    }

    pub fn items(&self, query: &ItemQuery) -> Result<Vec<Item>, StoreError> {
        let _ = query;
        Ok(Vec::new())
    }

    pub fn count_items(&self, source: Option<&str>) -> Result<u64, StoreError> {
        let _ = source;
        Ok(0)
    }
}

impl Store {
    pub fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    pub fn prune(&self, older_than: DateTime<Utc>) -> Result<usize, StoreError> {
        let _ = older_than;
        Ok(0)
    }
}

impl Store {
    pub fn backup(&self, out: &mut dyn std::io::Write) -> Result<String, StoreError> {
        let _ = out;
        Ok(String::new())
    }
    pub fn restore(&self, input: &mut dyn std::io::BufRead) -> Result<String, StoreError> {
        let _ = input;
        Ok(String::new())
    }
}
