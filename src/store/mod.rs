//! The store: everything relais keeps, in sled. Owns sled; nothing outside this module
//! sees a tree, a key or a byte encoding. Records carry a schema version; numeric keys
//! are big-endian so that byte order is numeric order.
//!
//! # Layout
//! Items get an internal number (`Db::generate_id`, u64) so that index keys stay compact
//! and an item keeps its place in the indexes whatever its publisher id looks like.
//! `P(s)` below is a source id prefixed by its length (see `keys`), `T(t)` a timestamp
//! whose byte order is time order (dates before 1970 included), `N` an item number.
//!
//! | tree              | key                 | value                                    |
//! |-------------------|---------------------|------------------------------------------|
//! | `items`           | `N`                 | item record (first seen + `Item`)        |
//! | `items_by_time`   | `T(published) N`    | empty: iterated backwards, newest first  |
//! | `items_by_source` | `P(s) T(published) N` | empty: one source's items, by time     |
//! | `item_ids`        | `P(s) publisher id` | `N`                                      |
//! | `sources`         | source id           | `SourceState` record                     |
//! | `tombstones`      | `P(s) publisher id` | tombstone record (pruned at, published)  |
//! | `counts`          | source id           | u64: that source's item count            |
//! | `meta`            | `schema_version`    | u32: refused when newer than we know     |
//! | `digest_ledger`   | `P(d) period`       | a digest's sending state per period      |
//! | `digest_archive`  | `P(d) period`       | the issues that went out                 |
//! | `alert_ledger`    | incident / summary  | operator alerts sent (see `alerts`)      |
//! | `curation`        | story id            | operators' decisions (see `curation`)    |
//! | `curation_log`    | sequence            | the audit log of curation actions        |
//!
//! Values are one version byte then JSON (see `records`): readable by anyone, forward
//! tolerant (unknown fields ignored). The store's [`SCHEMA_VERSION`] is written in `meta`
//! when a store is created; a store written by a newer relais is refused at open.
//!
//! # Durability and atomicity
//! One poll's batch — item inserts and updates, every index entry, the per-source count
//! and the source state — is one sled transaction over all those trees, flushed before
//! [`Store::apply_poll`] returns: an acknowledged poll survives a crash, and a poll is
//! never half written. Prune and restore use transactions too and flush before returning.
//!
//! # sled 0.34 caveats (pinned at 0.34.7; the on-disk format changes between sled
//! versions, which is one more reason `backup`/`restore` exist)
//! - Memory: the page cache defaults to 1 GiB; we set [`StoreOptions::cache_capacity`]
//!   (64 MiB by default). sled may still use somewhat more than that.
//! - Space amplification: files hold several times the live data until segments are
//!   rewritten; [`Store::size_on_disk`] shows what the files really take.
//! - Flush: sled writes to disk in the background every 500 ms; anything not flushed is
//!   lost on a crash, so we call `flush` before acknowledging and on shutdown.
//! - Transactions take a global lock and can only read by key (no scans inside), so
//!   scans happen before a transaction and every decision is re-checked inside it.
//! - One process at a time: sled takes an exclusive `flock` on the store; a second open,
//!   even in the same process, fails — mapped to [`StoreError::Locked`].
//! - `generate_id` is monotonic but not contiguous (gaps after a crash or a retried
//!   transaction); item numbers are only identities, never counts.

mod alerts;
mod backup;
mod curation;
mod digests;
mod keys;
mod records;
mod stories;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::model::{Item, SourceState};

pub use alerts::{Incident, IncidentKind, Notice, NoticeState, Summary};
pub use backup::{BackupStats, RestoreStats};
pub use curation::AuditEntry;
pub use digests::{ArchivedIssue, LedgerEntry, LedgerState, LedgerStep};
use keys::{id_key, num_bytes, num_from_tail, source_prefix, source_time_key, time_key};
use records::{decode_item, ItemRecord, TombstoneRecord};
pub use stories::{Merged, Preview, Split, StoryDetail, StoryFootprint, StoryMember, StoryVisit};

/// Version of the store's layout (trees, keys, record shapes). Bumped with a migration
/// when any of them changes incompatibly; a store with a newer version is refused.
///
/// 2: stories (`stories`, `item_story`, `story_index`, `story_overrides`). A store of
/// version 1 is migrated at open: every item is matched, oldest first.
pub const SCHEMA_VERSION: u32 = 2;

const SCHEMA_KEY: &[u8] = b"schema_version";
/// The version of the matching that built the story index (see `check_story_index`).
const INDEX_VERSION_KEY: &[u8] = b"story_index_version";
/// Present while a restore is writing: a store found with it at open was left half
/// restored by a crash and is refused rather than silently used.
const RESTORING_KEY: &[u8] = b"restore_in_progress";
/// Items pruned per transaction: keeps each transaction's in-memory write set small.
const PRUNE_CHUNK: usize = 256;
/// Value of index entries: everything is in the key.
const EMPTY: &[u8] = &[];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store {path} is in use by another relais process (is the daemon running?)")]
    Locked { path: String },
    #[error(
        "store {path} has schema version {found}, newer than this relais knows ({supported}); \
         upgrade relais, or restore a backup into a new store"
    )]
    NewerSchema {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error(
        "store {path} holds an unfinished restore; delete the folder and run `relais restore` again"
    )]
    IncompleteRestore { path: String },
    #[error("store {path}: {message}")]
    Storage { path: String, message: String },
    #[error("store {path}: corrupt {what}: {message}")]
    Corrupt {
        path: String,
        what: String,
        message: String,
    },
    #[error("store: source id {id:?} cannot be stored: {reason}")]
    InvalidSource { id: String, reason: String },
    #[error("restore refused: store {path} is not empty (restore only into a new store)")]
    NotEmpty { path: String },
    #[error("restore: line {line}: {message}")]
    Restore { line: usize, message: String },
    #[error("backup: {0}")]
    Backup(String),
    #[error("no stored item has the id {feed}/{id} (ids look like source/item-id; see `relais items --json`)")]
    UnknownItem { feed: String, id: String },
    #[error("{0}")]
    Override(String),
    #[error("no stored story has the id `{reference}` (a story id, or SOURCE/ITEM-ID; see `relais items --json`)")]
    UnknownStory { reference: String },
    #[error(transparent)]
    Curation(#[from] crate::curate::ActionError),
    #[error("store: {0}")]
    Other(String),
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Bytes of sled page cache. sled's own default (1 GiB) is far too much for a small
    /// daemon; values under 1 MiB are raised to 1 MiB.
    pub cache_capacity: u64,
    /// How far apart two items may be published and still be compared for a story
    /// (`[stories] window`).
    pub story_window: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity: 64 * 1024 * 1024,
            story_window: crate::stories::DEFAULT_WINDOW,
        }
    }
}

/// What one poll's batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollWrite {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Entries skipped because their item was pruned before (tombstoned).
    pub tombstoned: usize,
    /// New items that joined another item's story (counted in `new` too).
    pub merged: usize,
}

/// Which items to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    pub source: Option<String>,
    pub limit: Option<usize>,
}

/// An item with what only the store knows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    pub item: Item,
    /// When relais first stored the item; kept when the publisher edits it.
    pub first_seen: DateTime<Utc>,
}

/// What [`Store::verify`] counted in a consistent store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub items: u64,
    pub stories: u64,
    pub sources: u64,
    pub tombstones: u64,
    /// Digest ledger entries (each checked against the archive).
    pub digest_entries: u64,
    /// Stories with operators' decisions.
    pub curated: u64,
}

/// The sled trees, opened once.
#[derive(Clone)]
struct Trees {
    items: sled::Tree,
    by_time: sled::Tree,
    by_source: sled::Tree,
    ids: sled::Tree,
    sources: sled::Tree,
    tombstones: sled::Tree,
    counts: sled::Tree,
    meta: sled::Tree,
    /// Digest ledger and archive (see `digests`).
    ledger: sled::Tree,
    archive: sled::Tree,
    stories: sled::Tree,
    item_story: sled::Tree,
    story_index: sled::Tree,
    overrides: sled::Tree,
    /// Operator alerts' ledger (see `alerts`).
    alerts: sled::Tree,
    /// Operators' decisions and their audit log (see `curation`).
    curation: sled::Tree,
    curation_log: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> sled::Result<Trees> {
        Ok(Trees {
            items: db.open_tree("items")?,
            by_time: db.open_tree("items_by_time")?,
            by_source: db.open_tree("items_by_source")?,
            ids: db.open_tree("item_ids")?,
            sources: db.open_tree("sources")?,
            tombstones: db.open_tree("tombstones")?,
            counts: db.open_tree("counts")?,
            meta: db.open_tree("meta")?,
            ledger: db.open_tree("digest_ledger")?,
            archive: db.open_tree("digest_archive")?,
            stories: db.open_tree("stories")?,
            item_story: db.open_tree("item_story")?,
            story_index: db.open_tree("story_index")?,
            overrides: db.open_tree("story_overrides")?,
            alerts: db.open_tree("alert_ledger")?,
            curation: db.open_tree("curation")?,
            curation_log: db.open_tree("curation_log")?,
        })
    }

    /// True when no data tree holds anything (`meta` aside).
    fn is_empty(&self) -> bool {
        [
            &self.items,
            &self.by_time,
            &self.by_source,
            &self.ids,
            &self.sources,
            &self.tombstones,
            &self.counts,
            &self.ledger,
            &self.archive,
            &self.stories,
            &self.item_story,
            &self.story_index,
            &self.overrides,
            &self.curation,
            &self.curation_log,
        ]
        .iter()
        .all(|t| t.is_empty())
    }
}

/// The store. Cheap to clone (sled handles are reference counted); all clones share
/// one open database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    t: Trees,
    /// Bumped whenever stored items change (new, updated, pruned, restored), so readers
    /// such as the publishing cache can tell cheaply that what they rendered is stale.
    /// In memory only (a restart starts from zero, and caches start empty too); shared by
    /// clones of the handle.
    changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Bumped whenever a source's state is written (every poll): health shown on pages.
    state_changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Candidate window of story matching.
    window: std::time::Duration,
    /// Held from a batch's story decisions to its commit (and by prune, restore and the
    /// operators' overrides), so that what the decisions read cannot move before they
    /// are written: two sources posting the same story at once are still matched.
    ingest: std::sync::Arc<std::sync::Mutex<()>>,
    /// Features of recent items, for matching (see `stories::FeatureCache`).
    features: std::sync::Arc<std::sync::Mutex<stories::FeatureCache>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Error type used inside transaction closures.
type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl Store {
    /// Opens (or creates) the store at `path` with default options.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, &StoreOptions::default())
    }

    pub fn open_with(path: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let db = open_db(path, options).map_err(|e| open_error(&shown, e))?;
        let t = Trees::open(&db).map_err(|e| open_error(&shown, e))?;
        let store = Store {
            db,
            path: path.to_path_buf(),
            t,
            changes: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
            state_changes: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
            window: options.story_window,
            ingest: std::sync::Arc::new(std::sync::Mutex::new(())),
            features: std::sync::Arc::new(std::sync::Mutex::new(stories::FeatureCache::default())),
        };
        store.check_schema()?;
        store.check_story_index()?;
        Ok(store)
    }

    /// The ingest lock (see the field). A poisoned lock is still a lock: the data it
    /// guards is in sled, whose transactions were either committed or not.
    pub(crate) fn lock_ingest(&self) -> std::sync::MutexGuard<'_, ()> {
        self.ingest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The story index is made of what this relais reads in a text (words, hashes,
    /// bands): when a store was indexed by a relais that read differently, the index is
    /// rebuilt from the items (stories and overrides stay as they are).
    fn check_story_index(&self) -> Result<(), StoreError> {
        let want = crate::stories::INDEX_VERSION.to_be_bytes();
        let found = self
            .t
            .meta
            .get(INDEX_VERSION_KEY)
            .map_err(|e| self.storage(e))?;
        if found.as_deref() == Some(&want[..]) {
            return Ok(());
        }
        if found.is_some() || !self.t.items.is_empty() {
            let matched = self.rebuild_stories(false)?;
            tracing::info!(path = %self.shown(), matched, "story index rebuilt");
        }
        self.t
            .meta
            .insert(INDEX_VERSION_KEY, &want[..])
            .map_err(|e| self.storage(e))?;
        self.flush()
    }

    /// Refuses a newer or half-restored store; stamps a new one with our version.
    fn check_schema(&self) -> Result<(), StoreError> {
        if self
            .t
            .meta
            .contains_key(RESTORING_KEY)
            .map_err(|e| self.storage(e))?
        {
            return Err(StoreError::IncompleteRestore { path: self.shown() });
        }
        match self.t.meta.get(SCHEMA_KEY).map_err(|e| self.storage(e))? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| self.corrupt("schema version", "not a 4-byte number"))?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path: self.shown(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                if found < 2 {
                    // Before stories: match every item, oldest first, then say so. A
                    // crash in between leaves version 1, and the next open starts over.
                    let matched = self.rebuild_stories(true)?;
                    tracing::info!(
                        path = %self.shown(),
                        items = matched,
                        "store migrated to schema 2: stories built"
                    );
                    self.t
                        .meta
                        .insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes()[..])
                        .map_err(|e| self.storage(e))?;
                    self.t
                        .meta
                        .insert(
                            INDEX_VERSION_KEY,
                            &crate::stories::INDEX_VERSION.to_be_bytes()[..],
                        )
                        .map_err(|e| self.storage(e))?;
                    self.flush()?;
                }
            }
            None if self.t.is_empty() => {
                self.t
                    .meta
                    .insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes()[..])
                    .map_err(|e| self.storage(e))?;
                self.flush()?;
            }
            None => {
                return Err(self.corrupt("schema version", "missing although the store holds data"))
            }
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes everything pending to disk; call on clean shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(|e| self.storage(e))
    }

    /// Bytes the store's files take on disk (sled's space amplification included).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| self.storage(e))
    }

    pub fn source_state(&self, id: &str) -> Result<Option<SourceState>, StoreError> {
        match self.t.sources.get(id).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(v) => records::decode_state(&v)
                .map(Some)
                .map_err(|m| self.corrupt(&format!("source state {id:?}"), &m)),
        }
    }

    /// Every stored source state, by source id.
    pub fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t.sources.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let state = records::decode_state(&v).map_err(|m| {
                self.corrupt(
                    &format!("source state {:?}", String::from_utf8_lossy(&k)),
                    &m,
                )
            })?;
            out.push(state);
        }
        Ok(out)
    }

    /// Saves a source state on its own (a failed poll, a 304), flushed before returning.
    pub fn save_source_state(&self, state: &SourceState) -> Result<(), StoreError> {
        self.write_source_state(state)?;
        self.flush()
    }

    /// Saves a source state without waiting for the disk, for a poll that changed nothing
    /// else (a 304, an unchanged body): lost in a crash, it costs one more poll of that
    /// source. sled writes it within its flush interval (500 ms), [`Store::flush`] and a
    /// clean shutdown at once. A flush per 304 made a re-poll of 1,000 unchanged feeds
    /// spend three quarters of its CPU in sled's flush (BENCHMARKS.md).
    pub fn save_source_state_unflushed(&self, state: &SourceState) -> Result<(), StoreError> {
        self.write_source_state(state)
    }

    fn write_source_state(&self, state: &SourceState) -> Result<(), StoreError> {
        check_source_id(&state.id)?;
        let bytes = records::encode_state(state).map_err(StoreError::Other)?;
        self.t
            .sources
            .insert(state.id.as_bytes(), bytes)
            .map_err(|e| self.storage(e))?;
        self.state_changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// Writes one poll of source `state.id`: its items and its new state, in one
    /// transaction, flushed before returning.
    ///
    /// Per incoming item (its `source` is set to `state.id`, whatever it was):
    /// - unknown (source, id), not tombstoned → new, first seen `now`;
    /// - known, same `content_hash` → unchanged, nothing written;
    /// - known, other `content_hash` → updated in place: same internal number and first
    ///   seen; the stored `published` is kept when the incoming one is only guessed;
    ///   `updated` is the publisher's if given, else `now`; index entries move with
    ///   `published`;
    /// - tombstoned (pruned before) → skipped and counted.
    ///
    /// A later entry repeating an id already seen in the batch is ignored (the first
    /// wins) and not counted. The state is stored as given, except that `last_new_item`
    /// is set to `now` when the batch brought a new item.
    pub fn apply_poll(
        &self,
        state: &SourceState,
        items: Vec<Item>,
        now: DateTime<Utc>,
    ) -> Result<PollWrite, StoreError> {
        let prefix = check_source_id(&state.id)?;
        let path = self.shown();
        let ctx = PollCtx {
            prefix: &prefix,
            source: &state.id,
            path: &path,
            now,
        };
        let _guard = self.lock_ingest();
        // Story decisions for the new items, from reads made now (see `stories`).
        let mut planner = stories::Planner::new(self);
        let mut plan_of: HashMap<usize, usize> = HashMap::new();
        let mut first: HashSet<&str> = HashSet::new();
        for (i, incoming) in items.iter().enumerate() {
            if !first.insert(incoming.id.as_str()) {
                continue;
            }
            let idk = id_key(&prefix, &incoming.id);
            let known = self.t.ids.contains_key(&idk).map_err(|e| self.storage(e))?
                || self
                    .t
                    .tombstones
                    .contains_key(&idk)
                    .map_err(|e| self.storage(e))?;
            if known {
                continue;
            }
            let mut item = incoming.clone();
            item.source = Some(state.id.clone());
            planner.plan(None, &item)?;
            plan_of.insert(i, planner.planned.len() - 1);
        }
        let decisions = std::mem::take(&mut planner.planned);
        drop(planner);
        let planned = &decisions;
        let t = &self.t;
        let result = (
            &t.items,
            &t.by_time,
            &t.by_source,
            &t.ids,
            &t.sources,
            &t.tombstones,
            &t.counts,
            &t.stories,
            &t.item_story,
            &t.story_index,
            &t.meta,
        )
            .transaction(
                |(
                    items_t,
                    by_time,
                    by_source,
                    ids,
                    sources,
                    tombs,
                    counts,
                    stories_t,
                    item_story,
                    story_index,
                    meta,
                )| {
                    let story_tx = stories::StoryTx {
                        stories: stories_t,
                        item_story,
                        index: story_index,
                        meta,
                        path: &path,
                    };
                    let tx = PollTx {
                        items: items_t,
                        by_time,
                        by_source,
                        ids,
                        tombstones: tombs,
                        stories: &story_tx,
                        store: self,
                    };
                    let mut w = PollWrite::default();
                    let mut seen: HashSet<&str> = HashSet::new();
                    let mut nums: Vec<Option<u64>> = vec![None; planned.len()];
                    let mut unplanned: Vec<(u64, &Item)> = Vec::new();
                    for (i, incoming) in items.iter().enumerate() {
                        if seen.insert(incoming.id.as_str()) {
                            if let Some(num) = tx.stage(&ctx, incoming, &mut w)? {
                                match plan_of.get(&i).and_then(|&p| nums.get_mut(p)) {
                                    Some(slot) => *slot = Some(num),
                                    None => unplanned.push((num, incoming)),
                                }
                            }
                        } else {
                            let id = incoming.id.as_str();
                            tracing::debug!(source = ctx.source, id, "duplicate id in a poll");
                        }
                    }
                    story_tx.apply(planned, &nums)?;
                    for (num, incoming) in unplanned {
                        // Not new when planned, new now: cannot happen under the ingest
                        // lock; if it does, the item still gets a story (its own).
                        let mut item = incoming.clone();
                        item.source = Some(ctx.source.to_string());
                        story_tx.found(num, &crate::stories::Features::of(&item))?;
                    }
                    let mut state = state.clone();
                    if w.new > 0 {
                        add_count(counts, ctx.source, w.new as i64, &path)?;
                        state.last_new_item = Some(now);
                    }
                    let bytes =
                        records::encode_state(&state).map_err(|m| abort(StoreError::Other(m)))?;
                    sources.insert(ctx.source.as_bytes(), bytes)?;
                    Ok((w, nums))
                },
            );
        let (mut w, nums) = result.map_err(|e| self.tx_error(e))?;
        w.merged = nums
            .iter()
            .zip(&decisions)
            .filter(|(num, p)| num.is_some() && !matches!(p.target, stories::Target::Own))
            .count();
        // The new items' features, for the items to come.
        for (num, p) in nums.iter().zip(decisions) {
            if let Some(num) = num {
                self.remember_features(*num, std::sync::Arc::new(p.features));
            }
        }
        self.flush()?;
        if w.new + w.updated > 0 {
            self.note_change();
        }
        self.state_changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(w)
    }

    /// A counter that moves whenever stored items change; equal values mean nothing
    /// changed in between.
    pub fn changes(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Like [`Store::changes`], for source states.
    pub fn state_changes(&self) -> u64 {
        self.state_changes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn note_change(&self) {
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Items newest first (published descending; items published at the same instant,
    /// the most recently first-seen first), optionally of one source.
    pub fn items(&self, query: &ItemQuery) -> Result<Vec<Item>, StoreError> {
        Ok(self
            .stored_items(query.source.as_deref(), None, query.limit)?
            .into_iter()
            .map(|s| s.item)
            .collect())
    }

    /// Items published at or after `since`, newest first, optionally of one source.
    pub fn items_since(
        &self,
        source: Option<&str>,
        since: DateTime<Utc>,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        Ok(self
            .stored_items(source, Some(since), limit)?
            .into_iter()
            .map(|s| s.item)
            .collect())
    }

    /// Like [`Store::items`] and [`Store::items_since`], with first-seen times.
    pub fn stored_items(
        &self,
        source: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: Option<usize>,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.walk_newest(source, since, &mut |stored| {
            out.push(stored);
            out.len() < limit
        })?;
        Ok(out)
    }

    /// Visit items newest first (optionally of one source, published at or after
    /// `since`) until `visit` returns false. Lets a reader stop as soon as it has what it
    /// needs, whatever the size of the store.
    pub fn walk_newest(
        &self,
        source: Option<&str>,
        since: Option<DateTime<Utc>>,
        visit: &mut dyn FnMut(StoredItem) -> bool,
    ) -> Result<(), StoreError> {
        self.walk_numbered(source, since, &mut |_, stored| visit(stored))
    }

    /// [`Store::walk_newest`] with each item's internal number.
    pub(crate) fn walk_numbered(
        &self,
        source: Option<&str>,
        since: Option<DateTime<Utc>>,
        visit: &mut dyn FnMut(u64, StoredItem) -> bool,
    ) -> Result<(), StoreError> {
        let lowest_time = keys::time_bytes(since.unwrap_or(DateTime::<Utc>::MIN_UTC));
        let iter = match source {
            None => self.t.by_time.range(lowest_time.to_vec()..),
            Some(s) => {
                let Some(prefix) = source_prefix(s) else {
                    return Ok(());
                };
                let mut lo = prefix.clone();
                lo.extend_from_slice(&lowest_time);
                let mut hi = prefix;
                hi.extend_from_slice(&[0xFF; keys::TIME_LEN + keys::NUM_LEN]);
                self.t.by_source.range(lo..=hi)
            }
        };
        for entry in iter.rev() {
            let (k, _) = entry.map_err(|e| self.storage(e))?;
            let num = num_from_tail(&k)
                .ok_or_else(|| self.corrupt("index key", "shorter than an item number"))?;
            // An index entry whose item vanished was pruned between the two reads.
            if let Some(stored) = self.get_by_num(num)? {
                if !visit(num, stored) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// One item by its source and publisher id.
    pub fn get_item(&self, source: &str, id: &str) -> Result<Option<StoredItem>, StoreError> {
        let Some(prefix) = source_prefix(source) else {
            return Ok(None);
        };
        match self
            .t
            .ids
            .get(id_key(&prefix, id))
            .map_err(|e| self.storage(e))?
        {
            None => Ok(None),
            Some(v) => {
                let num = num_from_tail(&v)
                    .ok_or_else(|| self.corrupt(&format!("id index entry {id:?}"), "bad number"))?;
                self.get_by_num(num)
            }
        }
    }

    /// True when (source, id) was pruned and will be skipped by polls.
    pub fn is_tombstoned(&self, source: &str, id: &str) -> Result<bool, StoreError> {
        let Some(prefix) = source_prefix(source) else {
            return Ok(false);
        };
        self.t
            .tombstones
            .contains_key(id_key(&prefix, id))
            .map_err(|e| self.storage(e))
    }

    fn get_by_num(&self, num: u64) -> Result<Option<StoredItem>, StoreError> {
        match self
            .t
            .items
            .get(num_bytes(num))
            .map_err(|e| self.storage(e))?
        {
            None => Ok(None),
            Some(raw) => {
                let r = decode_item(&raw).map_err(|m| self.corrupt(&format!("item #{num}"), &m))?;
                Ok(Some(StoredItem {
                    item: r.item,
                    first_seen: r.first_seen,
                }))
            }
        }
    }

    /// Items stored for one source, or in all; read from a per-source counter kept in
    /// the same transactions as the items, so no scan.
    pub fn count_items(&self, source: Option<&str>) -> Result<u64, StoreError> {
        match source {
            Some(s) => read_count(
                self.t
                    .counts
                    .get(s)
                    .map_err(|e| self.storage(e))?
                    .as_deref(),
            )
            .map_err(|m| self.corrupt(&format!("count of {s:?}"), &m)),
            None => {
                let mut total = 0u64;
                for entry in self.t.counts.iter() {
                    let (k, v) = entry.map_err(|e| self.storage(e))?;
                    let n = read_count(Some(&v)).map_err(|m| {
                        self.corrupt(&format!("count of {:?}", String::from_utf8_lossy(&k)), &m)
                    })?;
                    total = total.saturating_add(n);
                }
                Ok(total)
            }
        }
    }

    /// Retention: removes every item published before `older_than` from all indexes and
    /// leaves a tombstone for each, so the next poll does not bring it back; the items of
    /// a story pinned somewhere (pin not expired) are kept. Returns how many were pruned. Runs in transactions of a few hundred items, flushed at the end;
    /// a crash in between leaves whole chunks pruned or not, never half an item.
    pub fn prune(&self, older_than: DateTime<Utc>) -> Result<usize, StoreError> {
        self.prune_at(older_than, Utc::now())
    }

    /// [`Store::prune`] as of `now`: tombstones say they were written then, and pins
    /// are judged then.
    pub fn prune_at(
        &self,
        older_than: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let _guard = self.lock_ingest();
        let exempt = self.pinned_items(now)?;
        let upper = keys::time_bytes(older_than);
        let mut candidates = Vec::new();
        for entry in self.t.by_time.range(..upper.to_vec()) {
            let (k, _) = entry.map_err(|e| self.storage(e))?;
            if let Some(num) = num_from_tail(&k) {
                candidates.push(num);
            }
        }
        let t = &self.t;
        let path = self.shown();
        let mut pruned = 0;
        for chunk in candidates.chunks(PRUNE_CHUNK) {
            // Overrides naming these items go with them (scans cannot run inside).
            let mut links: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
            for &num in chunk {
                links.insert(num, self.override_keys_of(num)?);
            }
            let n = (
                &t.items,
                &t.by_time,
                &t.by_source,
                &t.ids,
                &t.tombstones,
                &t.counts,
                &t.stories,
                &t.item_story,
                &t.story_index,
                &t.meta,
                &t.overrides,
            )
                .transaction(
                    |(
                        items_t,
                        by_time,
                        by_source,
                        ids,
                        tombs,
                        counts,
                        stories_t,
                        item_story,
                        story_index,
                        meta,
                        overrides,
                    )| {
                        let story_tx = stories::StoryTx {
                            stories: stories_t,
                            item_story,
                            index: story_index,
                            meta,
                            path: &path,
                        };
                        let mut removed: HashMap<String, i64> = HashMap::new();
                        let mut n = 0;
                        for &num in chunk {
                            let Some(raw) = items_t.get(num_bytes(num))? else {
                                continue; // gone since the scan
                            };
                            let record = decode_item(&raw).map_err(|m| {
                                abort(corrupt(&path, "item", &format!("#{num}"), &m))
                            })?;
                            // Re-checked: an update may have moved it since the scan.
                            if record.item.published >= older_than || exempt.contains(&num) {
                                continue;
                            }
                            let what = format!("#{num}");
                            let source = record
                                .item
                                .source
                                .clone()
                                .filter(|s| !s.is_empty())
                                .ok_or_else(|| {
                                    abort(corrupt(&path, "item", &what, "has no source"))
                                })?;
                            let prefix = source_prefix(&source).ok_or_else(|| {
                                abort(corrupt(&path, "item", &what, "source id too long"))
                            })?;
                            let published = record.item.published;
                            items_t.remove(&num_bytes(num)[..])?;
                            by_time.remove(time_key(published, num))?;
                            by_source.remove(source_time_key(&prefix, published, num))?;
                            let idk = id_key(&prefix, &record.item.id);
                            ids.remove(idk.clone())?;
                            let tomb = TombstoneRecord {
                                pruned_at: now,
                                published,
                            };
                            tombs.insert(idk, encode(&tomb, &path, &record.item.id)?)?;
                            story_tx.unindex(&crate::stories::Features::of(&record.item), num)?;
                            self.forget_features(num);
                            story_tx.remove(num)?;
                            for k in links.get(&num).into_iter().flatten() {
                                overrides.remove(&k[..])?;
                            }
                            *removed.entry(source).or_default() -= 1;
                            n += 1;
                        }
                        for (source, delta) in &removed {
                            add_count(counts, source, *delta, &path)?;
                        }
                        Ok(n)
                    },
                )
                .map_err(|e| self.tx_error(e))?;
            pruned += n;
        }
        self.flush()?;
        if pruned > 0 {
            self.note_change();
        }
        Ok(pruned)
    }

    /// Forgets tombstones written before `older_than`. A tombstone only has to outlive
    /// the publisher's feed window (feeds show their last few dozen entries), so with a
    /// cutoff well past retention this is safe; and should a very old entry still be in
    /// a feed, it comes back with its old published date and the next prune removes it
    /// again. Returns how many were forgotten.
    pub fn prune_tombstones(&self, older_than: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for entry in self.t.tombstones.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let tomb: TombstoneRecord =
                records::decode(&v).map_err(|m| self.corrupt("tombstone", &m))?;
            if tomb.pruned_at < older_than {
                batch.remove(k);
                n += 1;
            }
        }
        self.t
            .tombstones
            .apply_batch(batch)
            .map_err(|e| self.storage(e))?;
        self.flush()?;
        Ok(n)
    }

    /// Checks that every index agrees with the item records and the counters with the
    /// indexes, the story trees with the items, and the digest ledger with its archive.
    /// Reads everything: for tests and operators, not for the hot path.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        let mut per_source: HashMap<String, u64> = HashMap::new();
        let mut all: HashMap<u64, Item> = HashMap::new();
        for entry in self.t.items.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let num = num_from_tail(&k).ok_or_else(|| self.corrupt("item key", "not a number"))?;
            let what = format!("item #{num}");
            let r = decode_item(&v).map_err(|m| self.corrupt(&what, &m))?;
            let source = r
                .item
                .source
                .clone()
                .ok_or_else(|| self.corrupt(&what, "has no source"))?;
            let prefix =
                source_prefix(&source).ok_or_else(|| self.corrupt(&what, "source id too long"))?;
            let published = r.item.published;
            let checks = [
                (&self.t.by_time, time_key(published, num), "time index"),
                (
                    &self.t.by_source,
                    source_time_key(&prefix, published, num),
                    "source index",
                ),
            ];
            for (tree, key, name) in checks {
                if !tree.contains_key(key).map_err(|e| self.storage(e))? {
                    return Err(self.corrupt(&what, &format!("missing from the {name}")));
                }
            }
            let id_num = self
                .t
                .ids
                .get(id_key(&prefix, &r.item.id))
                .map_err(|e| self.storage(e))?;
            if id_num.as_deref() != Some(&num_bytes(num)[..]) {
                return Err(self.corrupt(&what, "id index does not point to it"));
            }
            *per_source.entry(source).or_default() += 1;
            report.items += 1;
            all.insert(num, r.item);
        }
        report.stories = self.verify_stories(&all)?;
        for (name, tree) in [
            ("time index", &self.t.by_time),
            ("source index", &self.t.by_source),
            ("id index", &self.t.ids),
        ] {
            if tree.len() as u64 != report.items {
                return Err(self.corrupt(
                    name,
                    &format!("{} entries for {} items", tree.len(), report.items),
                ));
            }
        }
        let mut counted = 0;
        for entry in self.t.counts.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let source = String::from_utf8_lossy(&k).into_owned();
            let n = read_count(Some(&v)).map_err(|m| self.corrupt("count", &m))?;
            let actual = per_source.get(&source).copied().unwrap_or(0);
            if n != actual {
                return Err(self.corrupt(
                    &format!("count of {source:?}"),
                    &format!("says {n}, {actual} stored"),
                ));
            }
            if n > 0 {
                counted += 1;
            }
        }
        if counted != per_source.len() {
            return Err(self.corrupt("counts", "a source with items has no count"));
        }
        report.sources = self.source_states()?.len() as u64;
        report.curated = self.verify_curation()?;
        for entry in self.t.tombstones.iter() {
            let (_, v) = entry.map_err(|e| self.storage(e))?;
            records::decode::<TombstoneRecord>(&v).map_err(|m| self.corrupt("tombstone", &m))?;
            report.tombstones += 1;
        }
        report.digest_entries = self.verify_digests()?;
        Ok(report)
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn storage(&self, e: sled::Error) -> StoreError {
        StoreError::Storage {
            path: self.shown(),
            message: e.to_string(),
        }
    }

    fn corrupt(&self, what: &str, message: &str) -> StoreError {
        StoreError::Corrupt {
            path: self.shown(),
            what: what.to_string(),
            message: message.to_string(),
        }
    }

    fn tx_error(&self, e: TransactionError<StoreError>) -> StoreError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.storage(e),
        }
    }
}

/// What one poll's transaction needs to know besides the trees.
struct PollCtx<'a> {
    prefix: &'a [u8],
    source: &'a str,
    path: &'a str,
    now: DateTime<Utc>,
}

/// The item trees of a poll's transaction.
struct PollTx<'a> {
    items: &'a TransactionalTree,
    by_time: &'a TransactionalTree,
    by_source: &'a TransactionalTree,
    ids: &'a TransactionalTree,
    tombstones: &'a TransactionalTree,
    stories: &'a stories::StoryTx<'a>,
    /// For its cache of features, which an edit makes stale.
    store: &'a Store,
}

impl PollTx<'_> {
    /// Stages one incoming item (new, update, unchanged or tombstoned; see
    /// [`Store::apply_poll`]) and counts it in `w`. Returns the number of a new item:
    /// its story is written by the caller, with the batch's decisions.
    fn stage(
        &self,
        ctx: &PollCtx<'_>,
        incoming: &Item,
        w: &mut PollWrite,
    ) -> TxResult<Option<u64>> {
        let bad = |what: &str, m: &str| abort(corrupt(ctx.path, what, &incoming.id, m));
        let idk = id_key(ctx.prefix, &incoming.id);
        let Some(num) = self.ids.get(&idk)? else {
            if self.tombstones.get(&idk)?.is_some() {
                w.tombstoned += 1;
                return Ok(None);
            }
            let num = self.insert_new(ctx, incoming)?;
            w.new += 1;
            return Ok(Some(num));
        };
        let num = Some(num.len())
            .filter(|&l| l == keys::NUM_LEN)
            .and_then(|_| num_from_tail(&num))
            .ok_or_else(|| bad("id index entry", "bad item number"))?;
        let Some(raw) = self.items.get(num_bytes(num))? else {
            return Err(bad("id index entry", "points to a missing item"));
        };
        let stored = decode_item(&raw).map_err(|m| bad("item", &m))?;
        if stored.item.content_hash == incoming.content_hash {
            w.unchanged += 1;
            return Ok(None);
        }
        let mut item = incoming.clone();
        item.source = Some(ctx.source.to_string());
        if incoming.published_guessed {
            item.published = stored.item.published;
            item.published_guessed = stored.item.published_guessed;
        }
        item.updated = Some(incoming.updated.unwrap_or(ctx.now));
        let (old, new) = (stored.item.published, item.published);
        if new != old {
            self.by_time.remove(time_key(old, num))?;
            self.by_source
                .remove(source_time_key(ctx.prefix, old, num))?;
            self.by_time.insert(time_key(new, num), EMPTY)?;
            self.by_source
                .insert(source_time_key(ctx.prefix, new, num), EMPTY)?;
            self.stories.moved(num, new)?;
        }
        // An edit keeps the item in its story (operators' decisions included); only
        // its index entries follow its new words, for the items still to come.
        let (before, after) = (
            crate::stories::Features::of(&stored.item),
            crate::stories::Features::of(&item),
        );
        self.store.forget_features(num);
        if stories::index_keys(&before, num) != stories::index_keys(&after, num) {
            self.stories.unindex(&before, num)?;
            self.stories.index(&after, num)?;
        }
        let record = ItemRecord {
            first_seen: stored.first_seen,
            item,
        };
        let bytes = encode(&record, ctx.path, &incoming.id)?;
        self.items.insert(&num_bytes(num)[..], bytes)?;
        w.updated += 1;
        Ok(None)
    }

    fn insert_new(&self, ctx: &PollCtx<'_>, incoming: &Item) -> TxResult<u64> {
        let num = self.items.generate_id()?;
        let mut item = incoming.clone();
        item.source = Some(ctx.source.to_string());
        let published = item.published;
        let record = ItemRecord {
            first_seen: ctx.now,
            item,
        };
        let bytes = encode(&record, ctx.path, &incoming.id)?;
        self.items.insert(&num_bytes(num)[..], bytes)?;
        self.by_time.insert(time_key(published, num), EMPTY)?;
        self.by_source
            .insert(source_time_key(ctx.prefix, published, num), EMPTY)?;
        self.ids
            .insert(id_key(ctx.prefix, &incoming.id), &num_bytes(num)[..])?;
        Ok(num)
    }
}

/// Opens sled, waiting up to about a second while the store's lock is held. A handle
/// dropped a moment ago can still hold it: sled's background threads let go of the
/// file shortly after the last handle is dropped, so a process that closes and reopens
/// its store (tests, a restore, a CLI command right after the daemon stopped) would
/// otherwise see a spurious "in use". A lock really held by another process still
/// fails, a second later.
fn open_db(path: &Path, options: &StoreOptions) -> Result<sled::Db, sled::Error> {
    let mut wait = std::time::Duration::from_millis(10);
    let mut waited = std::time::Duration::ZERO;
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_capacity.max(1024 * 1024))
            .open();
        match opened {
            Err(e) if is_lock_error(&e) && waited < std::time::Duration::from_secs(1) => {
                std::thread::sleep(wait);
                waited += wait;
                wait = (wait * 2).min(std::time::Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Maps sled's lock failure to [`StoreError::Locked`]. sled 0.34 reports it only as an
/// `io::Error` whose text starts "could not acquire lock"; a test pins that behaviour.
fn open_error(path: &str, e: sled::Error) -> StoreError {
    let message = e.to_string();
    if is_lock_error(&e) {
        StoreError::Locked {
            path: path.to_string(),
        }
    } else {
        StoreError::Open {
            path: path.to_string(),
            message,
        }
    }
}

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// The process holding the lock on the store at `path`, when the system says (Linux:
/// the `flock` sled takes on the store's `db` file, listed in /proc/locks by inode).
pub fn lock_holder(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(path.join("db")).ok()?.ino();
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        locks.lines().find_map(|line| {
            // "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF"
            let fields: Vec<&str> = line.split_whitespace().collect();
            let pid = fields.get(4)?.parse::<u32>().ok()?;
            let file_inode = fields.get(5)?.rsplit(':').next()?.parse::<u64>().ok()?;
            (file_inode == inode).then_some(pid)
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn check_source_id(id: &str) -> Result<Vec<u8>, StoreError> {
    if id.is_empty() {
        return Err(StoreError::InvalidSource {
            id: id.to_string(),
            reason: "empty".to_string(),
        });
    }
    source_prefix(id).ok_or_else(|| StoreError::InvalidSource {
        id: id.chars().take(40).collect(),
        reason: "longer than 65535 bytes".to_string(),
    })
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

fn corrupt(path: &str, what: &str, id: &str, message: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_string(),
        what: format!("{what} {id:?}"),
        message: message.to_string(),
    }
}

fn encode<T: serde::Serialize>(value: &T, path: &str, id: &str) -> TxResult<Vec<u8>> {
    records::encode(value).map_err(|m| abort(corrupt(path, "record", id, &m)))
}

fn read_count(v: Option<&[u8]>) -> Result<u64, String> {
    match v {
        None => Ok(0),
        Some(b) => <[u8; 8]>::try_from(b)
            .map(u64::from_be_bytes)
            .map_err(|_| "not an 8-byte number".to_string()),
    }
}

/// Adds `delta` to a source's item count inside a transaction; a count reaching zero is
/// removed so that `counts` only lists sources with items.
fn add_count(counts: &TransactionalTree, source: &str, delta: i64, path: &str) -> TxResult<()> {
    let old = read_count(counts.get(source.as_bytes())?.as_deref())
        .map_err(|m| abort(corrupt(path, "count of", source, &m)))?;
    let new = if delta >= 0 {
        old.saturating_add(delta.unsigned_abs())
    } else {
        old.saturating_sub(delta.unsigned_abs())
    };
    if new == 0 {
        counts.remove(source.as_bytes())?;
    } else {
        counts.insert(source.as_bytes(), &new.to_be_bytes()[..])?;
    }
    Ok(())
}
