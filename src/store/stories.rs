//! The store's side of stories: the story trees, how a new item's candidates are found
//! in them, how decisions are written, and the operators' overrides. The judging itself
//! is [`crate::stories`] (pure); this file reads what it needs and writes what it
//! decided.
//!
//! # Trees
//! | tree              | key                             | value                        |
//! |-------------------|---------------------------------|------------------------------|
//! | `stories`         | story id (u64)                  | story record (members, primary) |
//! | `item_story`      | `N`                             | story id                     |
//! | `story_index`     | tag, bucket (u32), day, `N`     | empty                        |
//! | `story_overrides` | `N` `M`                         | 1 = keep apart, 2 = together |
//!
//! `story_index` holds, for every item, one entry per LSH band (tag = band 0–15, bucket
//! = the band's MinHash value), one for its canonical URL's key (tag `0x40`, bucket =
//! 32 bits of its hash) and one for its normalised title (tag `0x41`), each followed by
//! the item's published day: the candidates of a new item are 16 + 2 range scans over
//! the days of its window, whatever the size of the store. Story ids come from a
//! counter in `meta` (`story_seq`), so a restore can keep them.
//!
//! # Writing
//! Decisions are made before the poll's transaction, from point reads and range scans
//! (sled transactions cannot scan), with ingests serialised by a mutex so that nothing
//! moves in between; the transaction then writes the items, their index entries and
//! their stories together. Two items of one batch can join each other's story: the
//! planner keeps the batch's earlier items as candidates.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sled::transaction::TransactionalTree;
use sled::Transactional;

use super::keys::{
    day_of, id_key, num_bytes, num_from_tail, pair_key, source_prefix, split_pair_key, story_key,
    story_key_day, story_range, STORY_KEY_LEN, TAG_TITLE, TAG_URL,
};
use super::records::{self, MemberRecord, StoryRecord};
use super::{abort, corrupt, Store, StoreError, StoredItem, TxResult, EMPTY};
use crate::model::{Appearance, Item, Story};
use crate::stories::{self, minhash, Features, Group, Rule};

/// Key in `meta` of the next story id.
pub(crate) const STORY_SEQ_KEY: &[u8] = b"story_seq";
/// Override value: an operator split these two items apart.
pub(crate) const APART: u8 = 1;
/// Override value: an operator merged these two items' stories.
pub(crate) const TOGETHER: u8 = 2;
/// Members read per story when judging a new item: stories are a handful of partners;
/// the bound only guards against a pathological one.
const MAX_MEMBERS_READ: usize = 200;
/// Entries of one LSH bucket read per new item (see [`Store::candidates`]).
const BUCKET_CAP: usize = 32;
/// Half-widths in days of the rings a full bucket is read in, nearest first (the window
/// is the last).
const RINGS: [i32; 2] = [3, 14];
/// Stored items sharing LSH bands that are verified word by word per new item.
pub(crate) const MAX_VERIFIED: usize = 32;
/// Items per transaction when stories are rebuilt.
const REBUILD_CHUNK: usize = 256;

/// Features of recently stored or read items. A new item's candidates are mostly
/// recent items, each a candidate for many later ones: kept here, they are compared
/// without being read and tokenised again. Bounded; an entry is dropped when its item
/// is edited or pruned, and everything when stories are rebuilt.
pub(crate) struct FeatureCache {
    map: HashMap<u64, Arc<Features>>,
    order: VecDeque<u64>,
    cap: usize,
}

/// Items whose features are kept: a few months of a large network's news.
const FEATURE_CACHE: usize = 16_384;

impl Default for FeatureCache {
    fn default() -> Self {
        FeatureCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: FEATURE_CACHE,
        }
    }
}

impl FeatureCache {
    fn get(&self, num: u64) -> Option<Arc<Features>> {
        self.map.get(&num).cloned()
    }

    pub(crate) fn put(&mut self, num: u64, f: Arc<Features>) {
        if self.map.insert(num, f).is_none() {
            self.order.push_back(num);
        }
        while self.map.len() > self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        // Forgotten entries leave stale numbers behind: compact now and then.
        if self.order.len() > 4 * self.cap.max(1) {
            let map = &self.map;
            self.order.retain(|n| map.contains_key(n));
        }
    }

    pub(crate) fn forget(&mut self, num: u64) {
        self.map.remove(&num);
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}

/// 32 bits of a string's hash: the bucket of a URL or title key.
fn hash32(s: &str) -> u32 {
    (minhash::fnv1a(s.as_bytes()) >> 32) as u32
}

/// Every story index key of an item.
pub(crate) fn index_keys(f: &Features, num: u64) -> Vec<[u8; STORY_KEY_LEN]> {
    let day = day_of(f.published);
    let mut out = Vec::with_capacity(minhash::BANDS + 2);
    if let Some(sig) = f.signature() {
        for (band, bucket) in minhash::buckets(&sig).iter().enumerate() {
            out.push(story_key(band as u8, *bucket, day, num));
        }
    }
    if let Some(u) = &f.url_key {
        out.push(story_key(TAG_URL, hash32(u), day, num));
    }
    if let Some(t) = &f.title_key {
        out.push(story_key(TAG_TITLE, hash32(t), day, num));
    }
    out
}

/// Where a planned item goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A stored story.
    Story(u64),
    /// The story founded by an earlier item of the same batch (its index).
    Batch(usize),
    /// A story of its own.
    Own,
}

/// An item a decision refers to: stored, or an earlier item of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ref {
    Num(u64),
    Batch(usize),
}

/// One item's decision, made before the transaction.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// Known for stored items (rebuild); new items get theirs in the transaction.
    pub num: Option<u64>,
    pub features: Features,
    buckets: Option<[u32; minhash::BANDS]>,
    pub target: Target,
    pub rule: Rule,
    pub score: Option<f64>,
    pub with: Option<Ref>,
    /// Already in a story (a restored one): only its index entries are written.
    pub preassigned: bool,
}

/// A group of candidates: a stored story, or one founded inside the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Stored(u64),
    Batch(usize),
}

/// Decides, item after item, where a batch's items go (see the module doc).
pub(crate) struct Planner<'s> {
    store: &'s Store,
    window: Duration,
    cache: HashMap<u64, Arc<Features>>,
    pub planned: Vec<Planned>,
    /// Stored items compared with the planned ones (the cost that the window bounds).
    pub compared: usize,
}

impl<'s> Planner<'s> {
    pub fn new(store: &'s Store) -> Planner<'s> {
        Planner {
            store,
            window: store.window,
            cache: HashMap::new(),
            planned: Vec::new(),
            compared: 0,
        }
    }

    /// The group an earlier batch item belongs to.
    fn root(&self, i: usize) -> Key {
        match self.planned.get(i).map(|p| p.target) {
            Some(Target::Story(s)) => Key::Stored(s),
            Some(Target::Batch(k)) => Key::Batch(k),
            Some(Target::Own) | None => Key::Batch(i),
        }
    }

    /// The id `decide` sees for a group: stored stories keep theirs, batch stories
    /// count down from the top of the range (no real id gets near it).
    fn group_id(key: Key) -> u64 {
        match key {
            Key::Stored(s) => s,
            Key::Batch(k) => u64::MAX - k as u64,
        }
    }

    /// The number `decide` sees for an item of the batch.
    fn batch_num(&self, i: usize) -> u64 {
        self.planned
            .get(i)
            .and_then(|p| p.num)
            .unwrap_or(u64::MAX - i as u64)
    }

    fn load(&mut self, num: u64) -> Result<(), StoreError> {
        if self.cache.contains_key(&num) {
            return Ok(());
        }
        if let Some(f) = self.store.cached_features(num) {
            self.cache.insert(num, f);
            return Ok(());
        }
        match self.store.get_by_num(num) {
            Ok(Some(stored)) => {
                let f = Arc::new(Features::of(&stored.item));
                self.store.remember_features(num, Arc::clone(&f));
                self.cache.insert(num, f);
            }
            Ok(None) => {}
            // A damaged record elsewhere must not stop this source's polls: the
            // candidate is skipped (`verify` reports it), the new item may stay alone.
            Err(e @ StoreError::Corrupt { .. }) => {
                tracing::warn!(error = %e, "story matching skips an unreadable candidate");
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Records a stored item that already has its story (restored): it is indexed with
    /// the batch, and later items of the batch can join it.
    pub fn note_assigned(&mut self, num: u64, story: u64, item: &Item) {
        let features = Features::of(item);
        let buckets = features.signature().map(|s| minhash::buckets(&s));
        self.planned.push(Planned {
            num: Some(num),
            features,
            buckets,
            target: Target::Story(story),
            rule: Rule::Primary,
            score: None,
            with: None,
            preassigned: true,
        });
    }

    /// Decides where `item` goes (`num` when it is already stored) and appends the
    /// decision to [`Planner::planned`].
    pub fn plan(&mut self, num: Option<u64>, item: &Item) -> Result<(), StoreError> {
        let features = Features::of(item);
        let buckets = features.signature().map(|s| minhash::buckets(&s));
        let (apart, together) = match num {
            Some(n) => self.store.links_of(n)?,
            None => (HashSet::new(), Vec::new()),
        };
        // An operator's merge wins over everything, vetoes included.
        for partner in together {
            let target = if let Some(i) = self.planned.iter().position(|p| p.num == Some(partner)) {
                match self.root(i) {
                    Key::Stored(s) => Some(Target::Story(s)),
                    Key::Batch(k) => Some(Target::Batch(k)),
                }
            } else {
                self.store.story_id_of_num(partner)?.map(Target::Story)
            };
            if let Some(target) = target {
                self.planned.push(Planned {
                    num,
                    features,
                    buckets,
                    target,
                    rule: Rule::Operator,
                    score: None,
                    with: Some(Ref::Num(partner)),
                    preassigned: false,
                });
                return Ok(());
            }
        }

        // Candidates from the index, verified word by word before their stories are
        // even looked up: most are dropped here, for the price of a comparison.
        let mut keys: Vec<Key> = Vec::new();
        let batch_nums: HashSet<u64> = self.planned.iter().filter_map(|p| p.num).collect();
        for c in self.store.candidates(&features, self.window)? {
            if Some(c) == num || batch_nums.contains(&c) {
                continue;
            }
            self.load(c)?;
            let Some(f) = self.cache.get(&c) else {
                continue;
            };
            self.compared += 1;
            if stories::similar(&features, f, self.window).is_none() {
                continue;
            }
            if let Some(s) = self.store.story_id_of_num(c)? {
                if !keys.contains(&Key::Stored(s)) {
                    keys.push(Key::Stored(s));
                }
            }
        }
        let window = self.window.as_secs_f64();
        for i in 0..self.planned.len() {
            let Some(p) = self.planned.get(i) else {
                continue;
            };
            let apart_s = (p.features.published - features.published)
                .num_seconds()
                .unsigned_abs() as f64;
            if apart_s > window {
                continue;
            }
            let shared = match (&buckets, &p.buckets) {
                (Some(a), Some(b)) => a.iter().zip(b).filter(|(x, y)| x == y).count(),
                _ => 0,
            };
            let same_key = (features.url_key.is_some() && features.url_key == p.features.url_key)
                || (features.title_key.is_some() && features.title_key == p.features.title_key);
            if shared >= minhash::MIN_SHARED_BANDS || same_key {
                let k = self.root(i);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }

        // Read every stored member of every candidate story: any of them may veto.
        let mut members_of: HashMap<u64, Vec<u64>> = HashMap::new();
        for key in &keys {
            if let Key::Stored(s) = key {
                let members: Vec<u64> = match self.store.story_record(*s)? {
                    Some(r) => r
                        .members
                        .iter()
                        .map(|m| m.item)
                        .take(MAX_MEMBERS_READ)
                        .collect(),
                    None => Vec::new(),
                };
                for m in &members {
                    self.load(*m)?;
                }
                members_of.insert(*s, members);
            }
        }

        let mut groups: Vec<Group<'_>> = Vec::with_capacity(keys.len());
        for key in &keys {
            let mut members: Vec<(u64, &Features)> = Vec::new();
            let mut forbidden = false;
            if let Key::Stored(s) = key {
                for m in members_of.get(s).into_iter().flatten() {
                    if let Some(f) = self.cache.get(m) {
                        members.push((*m, f.as_ref()));
                        forbidden |= apart.contains(m);
                    }
                }
            }
            for (i, p) in self.planned.iter().enumerate() {
                if self.root(i) == *key {
                    members.push((self.batch_num(i), &p.features));
                    forbidden |= p.num.is_some_and(|n| apart.contains(&n));
                }
            }
            groups.push(Group {
                story: Self::group_id(*key),
                members,
                forbidden,
            });
        }
        let joined = stories::decide(&features, &groups, self.window);
        drop(groups);

        let planned = match joined {
            None => Planned {
                num,
                features,
                buckets,
                target: Target::Own,
                rule: Rule::Primary,
                score: None,
                with: None,
                preassigned: false,
            },
            Some(j) => {
                let key = keys
                    .iter()
                    .copied()
                    .find(|k| Self::group_id(*k) == j.story)
                    .unwrap_or(Key::Stored(j.story));
                let target = match key {
                    Key::Stored(s) => Target::Story(s),
                    Key::Batch(k) => Target::Batch(k),
                };
                let with = match (0..self.planned.len()).find(|&i| self.batch_num(i) == j.with) {
                    Some(i) => match self.planned.get(i).and_then(|p| p.num) {
                        Some(n) => Ref::Num(n),
                        None => Ref::Batch(i),
                    },
                    None => Ref::Num(j.with),
                };
                Planned {
                    num,
                    features,
                    buckets,
                    target,
                    rule: j.rule,
                    score: (j.rule == Rule::Text).then_some(j.score),
                    with: Some(with),
                    preassigned: false,
                }
            }
        };
        self.planned.push(planned);
        Ok(())
    }
}

/// The story trees inside a transaction.
pub(crate) struct StoryTx<'a> {
    pub stories: &'a TransactionalTree,
    pub item_story: &'a TransactionalTree,
    pub index: &'a TransactionalTree,
    pub meta: &'a TransactionalTree,
    pub path: &'a str,
}

impl StoryTx<'_> {
    fn new_story_id(&self) -> TxResult<u64> {
        let next = match self.meta.get(STORY_SEQ_KEY)? {
            Some(v) => super::read_count(Some(&v))
                .map_err(|m| abort(corrupt(self.path, "story counter", "", &m)))?,
            None => 1,
        }
        .max(1);
        self.meta
            .insert(STORY_SEQ_KEY, &next.saturating_add(1).to_be_bytes()[..])?;
        Ok(next)
    }

    pub fn read_story(&self, id: u64) -> TxResult<Option<StoryRecord>> {
        match self.stories.get(num_bytes(id))? {
            None => Ok(None),
            Some(v) => records::decode(&v)
                .map(Some)
                .map_err(|m| abort(corrupt(self.path, "story", &id.to_string(), &m))),
        }
    }

    pub fn write_story(&self, id: u64, record: &StoryRecord) -> TxResult<()> {
        let bytes = records::encode(record)
            .map_err(|m| abort(corrupt(self.path, "story", &id.to_string(), &m)))?;
        self.stories.insert(&num_bytes(id)[..], bytes)?;
        Ok(())
    }

    pub fn index(&self, f: &Features, num: u64) -> TxResult<()> {
        for k in index_keys(f, num) {
            self.index.insert(&k[..], EMPTY)?;
        }
        Ok(())
    }

    pub fn unindex(&self, f: &Features, num: u64) -> TxResult<()> {
        for k in index_keys(f, num) {
            self.index.remove(&k[..])?;
        }
        Ok(())
    }

    fn story_of(&self, num: u64) -> TxResult<Option<u64>> {
        Ok(self
            .item_story
            .get(num_bytes(num))?
            .and_then(|v| num_from_tail(&v)))
    }

    /// Writes the planned decisions; `nums[i]` is the number of planned item `i` (`None`
    /// when it was not written after all: its dependents then found their own story).
    pub fn apply(&self, planned: &[Planned], nums: &[Option<u64>]) -> TxResult<()> {
        let mut story_of_entry: Vec<Option<u64>> = vec![None; planned.len()];
        for (i, p) in planned.iter().enumerate() {
            let Some(num) = nums.get(i).copied().flatten() else {
                continue;
            };
            self.index(&p.features, num)?;
            if p.preassigned {
                if let (Target::Story(s), Some(slot)) = (p.target, story_of_entry.get_mut(i)) {
                    *slot = Some(s);
                }
                continue;
            }
            let at = p.features.published.timestamp();
            let with = p.with.and_then(|r| match r {
                Ref::Num(n) => Some(n),
                Ref::Batch(j) => nums.get(j).copied().flatten(),
            });
            let existing = match p.target {
                Target::Story(s) => Some(s),
                Target::Batch(k) => story_of_entry.get(k).copied().flatten(),
                Target::Own => None,
            };
            let mut placed = None;
            if let Some(s) = existing {
                if let Some(mut record) = self.read_story(s)? {
                    record.members.retain(|m| m.item != num);
                    record.members.push(MemberRecord {
                        item: num,
                        at,
                        rule: p.rule,
                        score: p.score,
                        with,
                    });
                    record.elect_primary();
                    self.write_story(s, &record)?;
                    placed = Some(s);
                }
            }
            let story = match placed {
                Some(s) => s,
                None => {
                    let id = self.new_story_id()?;
                    self.write_story(id, &StoryRecord::founded(num, at))?;
                    id
                }
            };
            self.item_story
                .insert(&num_bytes(num)[..], &num_bytes(story)[..])?;
            if let Some(slot) = story_of_entry.get_mut(i) {
                *slot = Some(story);
            }
        }
        Ok(())
    }

    /// A story of its own for item `num`, indexed.
    pub fn found(&self, num: u64, f: &Features) -> TxResult<()> {
        self.index(f, num)?;
        let id = self.new_story_id()?;
        self.write_story(id, &StoryRecord::founded(num, f.published.timestamp()))?;
        self.item_story
            .insert(&num_bytes(num)[..], &num_bytes(id)[..])?;
        Ok(())
    }

    /// An item's published time changed: its member entry follows, and the primary is
    /// elected again.
    pub fn moved(&self, num: u64, published: DateTime<Utc>) -> TxResult<()> {
        let Some(s) = self.story_of(num)? else {
            return Ok(());
        };
        if let Some(mut record) = self.read_story(s)? {
            for m in record.members.iter_mut().filter(|m| m.item == num) {
                m.at = published.timestamp();
            }
            record.elect_primary();
            self.write_story(s, &record)?;
        }
        Ok(())
    }

    /// An item leaves the store (pruned): it leaves its story, which gets a new primary
    /// or disappears with its last member.
    pub fn remove(&self, num: u64) -> TxResult<()> {
        let Some(s) = self.story_of(num)? else {
            return Ok(());
        };
        self.item_story.remove(&num_bytes(num)[..])?;
        if let Some(mut record) = self.read_story(s)? {
            record.members.retain(|m| m.item != num);
            if record.members.is_empty() {
                self.stories.remove(&num_bytes(s)[..])?;
            } else {
                record.elect_primary();
                if let Some(p) = record.members.iter_mut().find(|m| m.item == record.primary) {
                    if p.rule != Rule::Operator {
                        p.rule = Rule::Primary;
                        p.score = None;
                        p.with = None;
                    }
                }
                self.write_story(s, &record)?;
            }
        }
        Ok(())
    }
}

impl StoryRecord {
    /// A story of one item.
    pub(crate) fn founded(num: u64, at: i64) -> StoryRecord {
        StoryRecord {
            primary: num,
            members: vec![MemberRecord {
                item: num,
                at,
                rule: Rule::Primary,
                score: None,
                with: None,
            }],
        }
    }
}

/// One member of a story as `relais stories show` tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryMember {
    pub item: Item,
    pub first_seen: DateTime<Utc>,
    pub primary: bool,
    pub rule: Rule,
    pub score: Option<f64>,
    /// The member it matched, as (source, item id).
    pub with: Option<(String, String)>,
}

/// A story with every member and why it is there: primary first, then oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryDetail {
    pub id: u64,
    pub members: Vec<StoryMember>,
}

/// What `relais stories split` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The story the item left.
    pub from: u64,
    /// The item's new story.
    pub story: u64,
}

/// What `relais stories merge` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merged {
    /// The story both items are now in.
    pub story: u64,
    /// The story that was merged into it and no longer exists; `None` when the two
    /// items were already together.
    pub absorbed: Option<u64>,
}

/// The story a new item would join, without storing it: `relais`'s matching as a dry
/// run (for benchmarks, and for operators wondering what an item would do).
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The story it would join; `None` for a story of its own.
    pub story: Option<u64>,
    pub rule: Rule,
    pub score: Option<f64>,
    /// Stored items it was compared with.
    pub compared: usize,
}

/// What the story trees take: entries and bytes (keys plus values, before sled's own
/// overhead), per tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoryFootprint {
    pub stories: (u64, u64),
    pub item_story: (u64, u64),
    pub index: (u64, u64),
    pub overrides: (u64, u64),
}

impl StoryFootprint {
    pub fn bytes(&self) -> u64 {
        self.stories.1 + self.item_story.1 + self.index.1 + self.overrides.1
    }
}

/// A story as channels list it, and the last change it shows (for Last-Modified).
#[derive(Debug, Clone)]
pub struct StoryVisit {
    pub story: Story,
    pub changed: DateTime<Utc>,
}

impl Store {
    pub(crate) fn cached_features(&self, num: u64) -> Option<Arc<Features>> {
        self.features
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(num)
    }

    pub(crate) fn remember_features(&self, num: u64, f: Arc<Features>) {
        self.features
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .put(num, f);
    }

    pub(crate) fn forget_features(&self, num: u64) {
        self.features
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .forget(num);
    }

    pub(crate) fn forget_all_features(&self) {
        self.features
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The candidate window of matching.
    pub fn story_window(&self) -> Duration {
        self.window
    }

    /// The stored items worth comparing with `f`, best first: every item with the same
    /// URL key or title key, then at most [`MAX_VERIFIED`] items sharing at least two LSH
    /// bands within the window's days, the most bands first, then the nearest in time.
    ///
    /// Two bounds keep the cost per new item flat however templated the network and
    /// however full the window (issue 8: unbounded, this was 97 % of a cold ingest): a
    /// band's bucket is read at most [`BUCKET_CAP`] entries deep — whole when it holds no
    /// more, else in rings of days around `f`'s, nearest ring first (a bucket that full is
    /// a common word's, and only the items closest in time are worth its vote) — and only
    /// the best candidates are verified word by word.
    pub(crate) fn candidates(
        &self,
        f: &Features,
        window: Duration,
    ) -> Result<Vec<u64>, StoreError> {
        let days = window.as_secs().div_ceil(86_400).min(i32::MAX as u64) as i32;
        let day = day_of(f.published);
        let (from, to) = (day.saturating_sub(days), day.saturating_add(days));
        // Entries of one tag and bucket, days `lo..=hi`, read forwards (sled's backward
        // steps search the tree again from its root) until `hits` holds `limit`: each
        // item's number and its distance in days.
        let scan =
            |tag: u8, bucket: u32, lo: i32, hi: i32, limit: usize, hits: &mut Vec<(u64, u32)>| {
                if lo > hi {
                    return Ok::<(), StoreError>(());
                }
                let (lo, hi) = story_range(tag, bucket, lo, hi);
                for entry in self.t.story_index.range(lo..=hi) {
                    if hits.len() >= limit {
                        break;
                    }
                    let (k, _) = entry.map_err(|e| self.storage(e))?;
                    if let (Some(n), Some(d)) = (num_from_tail(&k), story_key_day(&k)) {
                        hits.push((n, d.abs_diff(day)));
                    }
                }
                Ok(())
            };
        let mut hits: Vec<(u64, u32)> = Vec::new();
        for (tag, key) in [(TAG_URL, &f.url_key), (TAG_TITLE, &f.title_key)] {
            if let Some(key) = key {
                scan(tag, hash32(key), from, to, usize::MAX, &mut hits)?;
            }
        }
        let mut seen: HashSet<u64> = HashSet::new();
        let mut out: Vec<u64> = hits
            .iter()
            .map(|&(n, _)| n)
            .filter(|&n| seen.insert(n))
            .collect();
        let Some(sig) = f.signature() else {
            return Ok(out);
        };
        // Per stored item: bands shared, and its distance in days.
        let mut votes: HashMap<u64, (usize, u32)> = HashMap::new();
        for (band, bucket) in minhash::buckets(&sig).iter().enumerate() {
            let read = |lo: i32, hi: i32, limit: usize, hits: &mut Vec<(u64, u32)>| {
                scan(band as u8, *bucket, lo, hi, limit, hits)
            };
            // Most buckets are small: one pass over the window reads them whole.
            hits.clear();
            read(from, to, BUCKET_CAP + 1, &mut hits)?;
            if hits.len() > BUCKET_CAP {
                // A common word's: the nearest days first, in rings.
                hits.clear();
                let mut inner: Option<i32> = None;
                for reach in RINGS.iter().copied().chain([days]) {
                    let reach = reach.min(days);
                    if inner.is_some_and(|r| r >= reach) {
                        continue;
                    }
                    let (near, far) = (day.saturating_sub(reach), day.saturating_add(reach));
                    match inner {
                        None => read(from.max(near), to.min(far), BUCKET_CAP, &mut hits)?,
                        Some(r) => {
                            let (before, after) = (day.saturating_sub(r), day.saturating_add(r));
                            read(
                                from.max(near),
                                before.saturating_sub(1),
                                BUCKET_CAP,
                                &mut hits,
                            )?;
                            read(after.saturating_add(1), to.min(far), BUCKET_CAP, &mut hits)?;
                        }
                    }
                    inner = Some(reach);
                }
            }
            for &(n, d) in &hits {
                votes.entry(n).or_insert((0, d)).0 += 1;
            }
        }
        let mut ranked: Vec<(u64, (usize, u32))> = votes
            .into_iter()
            .filter(|(n, (shared, _))| *shared >= minhash::MIN_SHARED_BANDS && !seen.contains(n))
            .collect();
        // Most bands, then nearest, then newest: a total order, so the choice is the
        // same on every run.
        ranked.sort_unstable_by(|(na, (sa, da)), (nb, (sb, db))| {
            sb.cmp(sa).then(da.cmp(db)).then(nb.cmp(na))
        });
        out.extend(ranked.into_iter().take(MAX_VERIFIED).map(|(n, _)| n));
        Ok(out)
    }

    /// The operator links of item `num`: items it must stay apart from, items it was
    /// merged with.
    pub(crate) fn links_of(&self, num: u64) -> Result<(HashSet<u64>, Vec<u64>), StoreError> {
        let mut apart = HashSet::new();
        let mut together = Vec::new();
        for entry in self.t.overrides.scan_prefix(num_bytes(num)) {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let Some((_, other)) = split_pair_key(&k) else {
                continue;
            };
            match v.first() {
                Some(&APART) => {
                    apart.insert(other);
                }
                Some(&TOGETHER) => together.push(other),
                _ => {}
            }
        }
        Ok((apart, together))
    }

    pub(crate) fn num_of(&self, source: &str, id: &str) -> Result<Option<u64>, StoreError> {
        let Some(prefix) = source_prefix(source) else {
            return Ok(None);
        };
        Ok(self
            .t
            .ids
            .get(id_key(&prefix, id))
            .map_err(|e| self.storage(e))?
            .and_then(|v| num_from_tail(&v)))
    }

    pub(crate) fn story_id_of_num(&self, num: u64) -> Result<Option<u64>, StoreError> {
        Ok(self
            .t
            .item_story
            .get(num_bytes(num))
            .map_err(|e| self.storage(e))?
            .and_then(|v| num_from_tail(&v)))
    }

    pub(crate) fn story_record(&self, id: u64) -> Result<Option<StoryRecord>, StoreError> {
        match self
            .t
            .stories
            .get(num_bytes(id))
            .map_err(|e| self.storage(e))?
        {
            None => Ok(None),
            Some(v) => records::decode(&v)
                .map(Some)
                .map_err(|m| self.corrupt(&format!("story {id}"), &m)),
        }
    }

    /// The story of an item, by its source and publisher id.
    pub fn story_id_of(&self, source: &str, id: &str) -> Result<Option<u64>, StoreError> {
        match self.num_of(source, id)? {
            Some(n) => self.story_id_of_num(n),
            None => Ok(None),
        }
    }

    /// Where `item` would go if it were stored now (nothing is written).
    pub fn preview_story(&self, item: &Item) -> Result<Preview, StoreError> {
        let _guard = self.lock_ingest();
        let mut planner = Planner::new(self);
        planner.plan(None, item)?;
        let compared = planner.compared;
        let Some(p) = planner.planned.pop() else {
            return Err(StoreError::Other("matching planned nothing".to_string()));
        };
        Ok(Preview {
            story: match p.target {
                Target::Story(s) => Some(s),
                Target::Batch(_) | Target::Own => None,
            },
            rule: p.rule,
            score: p.score,
            compared,
        })
    }

    /// The size of the story trees (a full scan: for benchmarks and operators).
    pub fn story_footprint(&self) -> Result<StoryFootprint, StoreError> {
        let measure = |tree: &sled::Tree| -> Result<(u64, u64), StoreError> {
            let mut n = 0;
            let mut bytes = 0;
            for entry in tree.iter() {
                let (k, v) = entry.map_err(|e| self.storage(e))?;
                n += 1;
                bytes += (k.len() + v.len()) as u64;
            }
            Ok((n, bytes))
        };
        Ok(StoryFootprint {
            stories: measure(&self.t.stories)?,
            item_story: measure(&self.t.item_story)?,
            index: measure(&self.t.story_index)?,
            overrides: measure(&self.t.overrides)?,
        })
    }

    /// How many stories the store holds.
    pub fn count_stories(&self) -> u64 {
        self.t.stories.len() as u64
    }

    /// A story with every member and why each is there.
    pub fn story_detail(&self, id: u64) -> Result<Option<StoryDetail>, StoreError> {
        let Some(record) = self.story_record(id)? else {
            return Ok(None);
        };
        let mut members = Vec::with_capacity(record.members.len());
        for m in &record.members {
            let Some(stored) = self.get_by_num(m.item)? else {
                continue;
            };
            let with = match m.with {
                Some(w) => self
                    .get_by_num(w)?
                    .map(|s| (s.item.source.clone().unwrap_or_default(), s.item.id.clone())),
                None => None,
            };
            members.push(StoryMember {
                item: stored.item,
                first_seen: stored.first_seen,
                primary: m.item == record.primary,
                rule: m.rule,
                score: m.score,
                with,
            });
        }
        members.sort_by_key(|m| (!m.primary, m.item.published));
        Ok(Some(StoryDetail { id, members }))
    }

    /// The story as channels show it: its primary item and the other appearances,
    /// oldest first, with the last change any member shows.
    fn story_view(
        &self,
        id: u64,
        record: &StoryRecord,
        primary: Option<StoredItem>,
    ) -> Result<Option<StoryVisit>, StoreError> {
        let primary = match primary {
            Some(p) => p,
            None => match self.get_by_num(record.primary)? {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        let mut changed = stored_changed(&primary);
        let mut others: Vec<&MemberRecord> = record
            .members
            .iter()
            .filter(|m| m.item != record.primary)
            .collect();
        others.sort_by_key(|m| (m.at, m.item));
        let mut also = Vec::with_capacity(others.len());
        for m in others {
            if let Some(s) = self.get_by_num(m.item)? {
                changed = changed.max(stored_changed(&s));
                also.push(Appearance {
                    source: s.item.source.clone().unwrap_or_default(),
                    url: s.item.url.clone(),
                    published: s.item.published,
                });
            }
        }
        Ok(Some(StoryVisit {
            story: Story {
                id: id.to_string(),
                item: primary.item,
                also,
            },
            changed,
        }))
    }

    /// A story as channels show it.
    pub fn story(&self, id: u64) -> Result<Option<Story>, StoreError> {
        match self.story_record(id)? {
            Some(r) => Ok(self.story_view(id, &r, None)?.map(|v| v.story)),
            None => Ok(None),
        }
    }

    /// The story of an item and its other appearances (every member but this item,
    /// oldest first): what `items --json` prints as `story` and `also`.
    pub fn appearances(
        &self,
        source: &str,
        id: &str,
    ) -> Result<Option<(u64, Vec<Appearance>)>, StoreError> {
        let Some(num) = self.num_of(source, id)? else {
            return Ok(None);
        };
        let Some(story) = self.story_id_of_num(num)? else {
            return Ok(None);
        };
        let Some(record) = self.story_record(story)? else {
            return Ok(None);
        };
        let mut others: Vec<&MemberRecord> =
            record.members.iter().filter(|m| m.item != num).collect();
        others.sort_by_key(|m| (m.at, m.item));
        let mut also = Vec::new();
        for m in others {
            if let Some(s) = self.get_by_num(m.item)? {
                also.push(Appearance {
                    source: s.item.source.unwrap_or_default(),
                    url: s.item.url,
                    published: s.item.published,
                });
            }
        }
        Ok(Some((story, also)))
    }

    /// Visit stories newest first until `visit` returns false. Without `source`, each
    /// story comes once, at the place of its primary item (its first appearance: a
    /// later cross-post credits the partner without bumping the story); with `source`,
    /// at the place of that source's newest appearance of it.
    pub fn walk_stories(
        &self,
        source: Option<&str>,
        visit: &mut dyn FnMut(StoryVisit) -> bool,
    ) -> Result<(), StoreError> {
        let mut seen: HashSet<u64> = HashSet::new();
        let mut failure = None;
        self.walk_numbered(source, None, &mut |num, stored| {
            let result = (|| -> Result<Option<StoryVisit>, StoreError> {
                let Some(id) = self.story_id_of_num(num)? else {
                    // Not in a story (a store being rebuilt): shown on its own.
                    let changed = stored_changed(&stored);
                    return Ok(Some(StoryVisit {
                        story: Story::single(stored.item),
                        changed,
                    }));
                };
                let Some(record) = self.story_record(id)? else {
                    return Ok(None);
                };
                let show = match source {
                    None => record.primary == num,
                    Some(_) => seen.insert(id),
                };
                if !show {
                    return Ok(None);
                }
                let primary = (record.primary == num).then_some(stored);
                self.story_view(id, &record, primary)
            })();
            match result {
                Ok(Some(v)) => visit(v),
                Ok(None) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `relais stories split`: detaches the item into a story of its own, and records
    /// that it must never join its former companions again.
    pub fn split_item(&self, source: &str, id: &str) -> Result<Split, StoreError> {
        let _guard = self.lock_ingest();
        let num = self
            .num_of(source, id)?
            .ok_or_else(|| unknown_item(source, id))?;
        let from = self
            .story_id_of_num(num)?
            .ok_or_else(|| self.corrupt(&format!("item {source}/{id}"), "has no story"))?;
        let record = self
            .story_record(from)?
            .ok_or_else(|| self.corrupt(&format!("story {from}"), "missing"))?;
        if record.members.len() < 2 {
            return Err(StoreError::Override(format!(
                "item {source}/{id} is already alone in story {from}: nothing to split"
            )));
        }
        let others: Vec<u64> = record
            .members
            .iter()
            .map(|m| m.item)
            .filter(|&m| m != num)
            .collect();
        let path = self.shown();
        let t = &self.t;
        let story = (
            &t.stories,
            &t.item_story,
            &t.story_index,
            &t.meta,
            &t.overrides,
        )
            .transaction(|(stories, item_story, index, meta, overrides)| {
                let tx = StoryTx {
                    stories,
                    item_story,
                    index,
                    meta,
                    path: &path,
                };
                let mut record = tx
                    .read_story(from)?
                    .ok_or_else(|| abort(corrupt(&path, "story", &from.to_string(), "missing")))?;
                let at = record
                    .members
                    .iter()
                    .find(|m| m.item == num)
                    .map_or(0, |m| m.at);
                record.members.retain(|m| m.item != num);
                record.elect_primary();
                tx.write_story(from, &record)?;
                let story = tx.new_story_id()?;
                tx.write_story(story, &StoryRecord::founded(num, at))?;
                item_story.insert(&num_bytes(num)[..], &num_bytes(story)[..])?;
                for &o in &others {
                    overrides.insert(&pair_key(num, o)[..], &[APART][..])?;
                    overrides.insert(&pair_key(o, num)[..], &[APART][..])?;
                }
                Ok(story)
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()?;
        self.note_change();
        Ok(Split { from, story })
    }

    /// `relais stories merge`: puts the two items' stories together, whatever the
    /// vetoes say, and records it so that it holds.
    pub fn merge_items(&self, a: (&str, &str), b: (&str, &str)) -> Result<Merged, StoreError> {
        let _guard = self.lock_ingest();
        let na = self
            .num_of(a.0, a.1)?
            .ok_or_else(|| unknown_item(a.0, a.1))?;
        let nb = self
            .num_of(b.0, b.1)?
            .ok_or_else(|| unknown_item(b.0, b.1))?;
        let story_of = |n: u64, (s, i): (&str, &str)| {
            self.story_id_of_num(n)?
                .ok_or_else(|| self.corrupt(&format!("item {s}/{i}"), "has no story"))
        };
        let (sa, sb) = (story_of(na, a)?, story_of(nb, b)?);
        if sa == sb {
            return Ok(Merged {
                story: sa,
                absorbed: None,
            });
        }
        let missing = |s: u64| self.corrupt(&format!("story {s}"), "missing");
        let ra = self.story_record(sa)?.ok_or_else(|| missing(sa))?;
        let rb = self.story_record(sb)?.ok_or_else(|| missing(sb))?;
        let first = |r: &StoryRecord| {
            r.members
                .iter()
                .find(|m| m.item == r.primary)
                .map(|m| (m.at, m.item))
        };
        // The older story absorbs the newer one and keeps its id.
        let (keep, gone, named_keep) = if first(&ra) <= first(&rb) {
            (sa, sb, na)
        } else {
            (sb, sa, nb)
        };
        let path = self.shown();
        let t = &self.t;
        (
            &t.stories,
            &t.item_story,
            &t.story_index,
            &t.meta,
            &t.overrides,
            &t.curation,
        )
            .transaction(|(stories, item_story, index, meta, overrides, curation)| {
                let tx = StoryTx {
                    stories,
                    item_story,
                    index,
                    meta,
                    path: &path,
                };
                let bad = |s: u64| abort(corrupt(&path, "story", &s.to_string(), "missing"));
                let mut kept = tx.read_story(keep)?.ok_or_else(|| bad(keep))?;
                let absorbed = tx.read_story(gone)?.ok_or_else(|| bad(gone))?;
                for x in &kept.members {
                    for y in &absorbed.members {
                        overrides.remove(&pair_key(x.item, y.item)[..])?;
                        overrides.remove(&pair_key(y.item, x.item)[..])?;
                    }
                }
                for m in &absorbed.members {
                    kept.members.push(MemberRecord {
                        item: m.item,
                        at: m.at,
                        rule: Rule::Operator,
                        score: None,
                        with: Some(named_keep),
                    });
                    item_story.insert(&num_bytes(m.item)[..], &num_bytes(keep)[..])?;
                }
                kept.elect_primary();
                tx.write_story(keep, &kept)?;
                stories.remove(&num_bytes(gone)[..])?;
                overrides.insert(&pair_key(na, nb)[..], &[TOGETHER][..])?;
                overrides.insert(&pair_key(nb, na)[..], &[TOGETHER][..])?;
                // The operators' decisions follow the story that survives (see
                // `curation`), in this transaction: a crash between two writes would
                // strand them on a story that no longer exists.
                Store::carry_curation(curation, gone, keep, &path)?;
                Ok(())
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()?;
        self.note_change();
        Ok(Merged {
            story: keep,
            absorbed: Some(gone),
        })
    }

    /// Rebuilds the story index from the items, oldest first, and puts every item that
    /// has no story through matching (with the operators' overrides). With `forget`,
    /// every story is forgotten first and all items are matched again (a store from
    /// before stories existed). Returns how many items were matched.
    pub(crate) fn rebuild_stories(&self, forget: bool) -> Result<u64, StoreError> {
        let _guard = self.lock_ingest();
        self.forget_all_features();
        self.t.story_index.clear().map_err(|e| self.storage(e))?;
        if forget {
            for tree in [&self.t.stories, &self.t.item_story] {
                tree.clear().map_err(|e| self.storage(e))?;
            }
            self.t
                .meta
                .remove(STORY_SEQ_KEY)
                .map_err(|e| self.storage(e))?;
        }
        let mut order: Vec<u64> = Vec::new();
        for entry in self.t.by_time.iter() {
            let (k, _) = entry.map_err(|e| self.storage(e))?;
            if let Some(n) = num_from_tail(&k) {
                order.push(n);
            }
        }
        let mut matched = 0;
        for chunk in order.chunks(REBUILD_CHUNK) {
            let mut planner = Planner::new(self);
            let mut nums = Vec::with_capacity(chunk.len());
            for &num in chunk {
                let Some(stored) = self.get_by_num(num)? else {
                    continue;
                };
                match self.story_id_of_num(num)? {
                    Some(story) => planner.note_assigned(num, story, &stored.item),
                    None => {
                        planner.plan(Some(num), &stored.item)?;
                        matched += 1;
                    }
                }
                nums.push(Some(num));
            }
            let path = self.shown();
            let t = &self.t;
            (&t.stories, &t.item_story, &t.story_index, &t.meta)
                .transaction(|(stories, item_story, index, meta)| {
                    StoryTx {
                        stories,
                        item_story,
                        index,
                        meta,
                        path: &path,
                    }
                    .apply(&planner.planned, &nums)
                })
                .map_err(|e| self.tx_error(e))?;
        }
        self.flush()?;
        self.note_change();
        Ok(matched)
    }

    /// Checks the story trees against the items (part of [`Store::verify`]): every item
    /// in exactly one story that lists it, every story's members present and pointing
    /// back, the primary the earliest member, the index holding exactly each item's
    /// entries, the overrides symmetric, the id counter past every story. Returns the number of stories.
    pub(crate) fn verify_stories(&self, items: &HashMap<u64, Item>) -> Result<u64, StoreError> {
        let mut expected_index = 0u64;
        for (&num, item) in items {
            let what = format!("item #{num}");
            let story = self
                .story_id_of_num(num)?
                .ok_or_else(|| self.corrupt(&what, "is in no story"))?;
            let record = self
                .story_record(story)?
                .ok_or_else(|| self.corrupt(&what, &format!("points to missing story {story}")))?;
            if !record.members.iter().any(|m| m.item == num) {
                return Err(self.corrupt(&what, &format!("is not a member of story {story}")));
            }
            for k in index_keys(&Features::of(item), num) {
                if !self
                    .t
                    .story_index
                    .contains_key(k)
                    .map_err(|e| self.storage(e))?
                {
                    return Err(self.corrupt(&what, "missing from the story index"));
                }
                expected_index += 1;
            }
        }
        if self.t.story_index.len() as u64 != expected_index {
            return Err(self.corrupt(
                "story index",
                &format!(
                    "{} entries where the items need {expected_index}",
                    self.t.story_index.len()
                ),
            ));
        }
        if self.t.item_story.len() != items.len() {
            return Err(self.corrupt(
                "item_story",
                &format!(
                    "{} entries for {} items",
                    self.t.item_story.len(),
                    items.len()
                ),
            ));
        }
        let mut stories = 0;
        let mut max_id = 0;
        for entry in self.t.stories.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let id = num_from_tail(&k).unwrap_or_default();
            let what = format!("story {id}");
            let record: StoryRecord = records::decode(&v).map_err(|m| self.corrupt(&what, &m))?;
            if record.members.is_empty() {
                return Err(self.corrupt(&what, "has no member"));
            }
            let mut elected = record.clone();
            elected.elect_primary();
            if elected.primary != record.primary {
                return Err(self.corrupt(&what, "primary is not the earliest member"));
            }
            for m in &record.members {
                let item = items
                    .get(&m.item)
                    .ok_or_else(|| self.corrupt(&what, &format!("member #{} missing", m.item)))?;
                if self.story_id_of_num(m.item)? != Some(id) {
                    return Err(
                        self.corrupt(&what, &format!("member #{} points elsewhere", m.item))
                    );
                }
                if item.published.timestamp() != m.at {
                    return Err(
                        self.corrupt(&what, &format!("member #{} has a stale date", m.item))
                    );
                }
            }
            stories += 1;
            max_id = max_id.max(id);
        }
        // The counter hands out the next story id: at or below an existing one, the
        // next new story would overwrite it.
        let next = super::read_count(
            self.t
                .meta
                .get(STORY_SEQ_KEY)
                .map_err(|e| self.storage(e))?
                .as_deref(),
        )
        .map_err(|m| self.corrupt("story counter", &m))?;
        if stories > 0 && next <= max_id {
            return Err(self.corrupt(
                "story counter",
                &format!("next id {next}, but story {max_id} exists"),
            ));
        }
        for entry in self.t.overrides.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let (a, b) = split_pair_key(&k)
                .ok_or_else(|| self.corrupt("override key", "not two item numbers"))?;
            let back = self
                .t
                .overrides
                .get(pair_key(b, a))
                .map_err(|e| self.storage(e))?;
            if back.as_deref() != Some(&v[..]) {
                return Err(
                    self.corrupt("overrides", &format!("#{a}–#{b} is not recorded both ways"))
                );
            }
            if !items.contains_key(&a) || !items.contains_key(&b) {
                return Err(self.corrupt("overrides", &format!("#{a}–#{b} names a missing item")));
            }
        }
        Ok(stories)
    }

    /// The override keys that involve `num` (both directions), for pruning.
    pub(crate) fn override_keys_of(&self, num: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t.overrides.scan_prefix(num_bytes(num)) {
            let (k, _) = entry.map_err(|e| self.storage(e))?;
            if let Some((a, b)) = split_pair_key(&k) {
                out.push(pair_key(a, b).to_vec());
                out.push(pair_key(b, a).to_vec());
            }
        }
        Ok(out)
    }
}

/// The last change a stored item shows: first seen, edited or published.
fn stored_changed(s: &StoredItem) -> DateTime<Utc> {
    s.first_seen.max(s.item.updated.unwrap_or(s.item.published))
}

fn unknown_item(source: &str, id: &str) -> StoreError {
    StoreError::UnknownItem {
        feed: source.to_string(),
        id: id.to_string(),
    }
}
