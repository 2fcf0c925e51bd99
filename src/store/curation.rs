//! The store's side of curation: the operators' decisions per story and the audit log
//! of every action, durable across re-polls, restarts, backups and restores. What a
//! decision means for a channel is [`crate::curate`] (pure); this file keeps them.
//!
//! # Trees
//! | tree           | key                   | value                                    |
//! |----------------|-----------------------|------------------------------------------|
//! | `curation`     | story id (u64)        | `StoryDecisions` record (pins, hides, adds, edit) |
//! | `curation_log` | sequence (u64)        | `AuditEntry` record                      |
//!
//! Decisions are keyed by story id: an item that joins the story later is curated with
//! it, and polls never touch these trees. When an operator splits an item out of a story,
//! the decisions stay with the story (which keeps its id); when two stories are merged,
//! the surviving story takes the absorbed one's decisions where it has none of its own
//! (see `Store::carry_curation`, part of the merge's transaction). A story that no longer exists (all its items pruned)
//! leaves its record behind, harmlessly: story ids are never reused.
//!
//! An action is one transaction over both trees (the record and its log entry), flushed
//! before it returns, and it moves the change counter that the publishing cache
//! watches, so feeds and pages show it at once.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::keys::{num_bytes, num_from_tail};
use super::records;
use super::{abort, corrupt, Store, StoreError};
use crate::curate::{Action, Decisions, StoryDecisions};

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// The admin token's label, or `cli`.
    pub actor: String,
    pub story: u64,
    /// What was asked (`action` tag, channel — absent for everywhere —, until, title,
    /// summary).
    #[serde(flatten)]
    pub action: Action,
    /// False when the story already was as asked.
    pub changed: bool,
    /// Old and new values (`title: « a » → « b »`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The publisher's title of the story's primary item at the time, so the log reads
    /// without the store. (`title` is an edit's.)
    #[serde(default)]
    pub story_title: String,
}

impl AuditEntry {
    /// The JSON shape of `relais curate log --json` and the admin API: the record, with
    /// the story id as a string (as `items --json` prints it) and `channel` always
    /// present (null = everywhere, or an edit).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            map.insert("story".into(), serde_json::json!(self.story.to_string()));
            map.insert("channel".into(), serde_json::json!(self.action.channel()));
        }
        v
    }
}

impl Store {
    /// The story an operator names: a story id (a number, as `relais items --json` and
    /// `relais stories show` print it), or an item as SOURCE/ITEM-ID standing for its
    /// story.
    pub fn find_story(&self, reference: &str) -> Result<u64, StoreError> {
        let unknown = || StoreError::UnknownStory {
            reference: reference.to_string(),
        };
        let reference = reference.trim();
        let id = match reference.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => match reference.split_once('/') {
                Some((source, item)) if !source.is_empty() && !item.is_empty() => {
                    self.story_id_of(source, item)?
                }
                _ => None,
            },
        };
        match id {
            Some(id) if self.story_record(id)?.is_some() => Ok(id),
            _ => Err(unknown()),
        }
    }

    /// Applies an operator's action to story `story` and appends it to the audit log,
    /// in one transaction, flushed. Channels are checked by the caller (the store does
    /// not know the configuration).
    pub fn curate(
        &self,
        story: u64,
        action: &Action,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AuditEntry, StoreError> {
        // Serialised with merges, splits and pruning, which move or remove stories.
        let _guard = self.lock_ingest();
        let original = self
            .story(story)?
            .ok_or_else(|| StoreError::UnknownStory {
                reference: story.to_string(),
            })?
            .item;
        let original = (original.title.as_str(), original.summary.as_str());
        let path = self.shown();
        let key = num_bytes(story);
        let t = &self.t;
        let entry = (&t.curation, &t.curation_log)
            .transaction(|(curation, log)| {
                let mut decisions: StoryDecisions = match curation.get(key)? {
                    Some(v) => records::decode(&v).map_err(|m| {
                        abort(corrupt(&path, "curation of story", &story.to_string(), &m))
                    })?,
                    None => StoryDecisions::default(),
                };
                let change = decisions
                    .apply(action, original, now)
                    .map_err(|e| abort(StoreError::Curation(e)))?;
                if decisions.is_empty() {
                    curation.remove(&key[..])?;
                } else {
                    let bytes = records::encode(&decisions).map_err(|m| {
                        abort(corrupt(&path, "curation of story", &story.to_string(), &m))
                    })?;
                    curation.insert(&key[..], bytes)?;
                }
                let entry = AuditEntry {
                    at: now,
                    actor: actor.to_string(),
                    story,
                    action: action.clone(),
                    changed: change.changed,
                    details: change.details,
                    story_title: original.0.to_string(),
                };
                let bytes = records::encode(&entry)
                    .map_err(|m| abort(corrupt(&path, "audit entry", &story.to_string(), &m)))?;
                let seq = log.generate_id()?;
                log.insert(&num_bytes(seq)[..], bytes)?;
                Ok(entry)
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()?;
        self.note_change();
        Ok(entry)
    }

    /// Every decision, for rendering (a handful of records: read whole).
    pub fn curation(&self) -> Result<Decisions, StoreError> {
        let mut all = Vec::new();
        for entry in self.t.curation.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let id =
                num_from_tail(&k).ok_or_else(|| self.corrupt("curation key", "not a number"))?;
            let d: StoryDecisions = records::decode(&v)
                .map_err(|m| self.corrupt(&format!("curation of story {id}"), &m))?;
            all.push((id.to_string(), d));
        }
        let changed = match self.t.curation_log.last().map_err(|e| self.storage(e))? {
            Some((_, v)) => Some(
                records::decode::<AuditEntry>(&v)
                    .map_err(|m| self.corrupt("audit entry", &m))?
                    .at,
            ),
            None => None,
        };
        Ok(Decisions::new(all, changed))
    }

    /// The audit log, newest first, at most `limit` entries.
    pub fn curation_log(&self, limit: Option<usize>) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out = Vec::new();
        for entry in self
            .t
            .curation_log
            .iter()
            .rev()
            .take(limit.unwrap_or(usize::MAX))
        {
            let (_, v) = entry.map_err(|e| self.storage(e))?;
            out.push(records::decode(&v).map_err(|m| self.corrupt("audit entry", &m))?);
        }
        Ok(out)
    }

    /// Two stories are being merged, `from` into `to`, inside the merge's transaction
    /// (so a crash cannot leave the story merged and its decisions behind): `to` takes
    /// `from`'s decisions where it has none of the same kind (its own win), and
    /// `from`'s record goes. Returns whether anything moved.
    pub(crate) fn carry_curation(
        curation: &sled::transaction::TransactionalTree,
        from: u64,
        to: u64,
        path: &str,
    ) -> sled::transaction::ConflictableTransactionResult<bool, StoreError> {
        let (kf, kt) = (num_bytes(from), num_bytes(to));
        let read = |k: &[u8],
                    id: u64|
         -> sled::transaction::ConflictableTransactionResult<
            Option<StoryDecisions>,
            StoreError,
        > {
            match curation.get(k)? {
                Some(v) => records::decode(&v)
                    .map(Some)
                    .map_err(|m| abort(corrupt(path, "curation of story", &id.to_string(), &m))),
                None => Ok(None),
            }
        };
        let Some(gone) = read(&kf, from)? else {
            return Ok(false);
        };
        let mut kept = read(&kt, to)?.unwrap_or_default();
        for (c, p) in gone.pinned {
            kept.pinned.entry(c).or_insert(p);
        }
        for (c, at) in gone.hidden {
            kept.hidden.entry(c).or_insert(at);
        }
        for (c, at) in gone.added {
            kept.added.entry(c).or_insert(at);
        }
        kept.hidden_everywhere = kept.hidden_everywhere.or(gone.hidden_everywhere);
        kept.edit = kept.edit.take().or(gone.edit);
        let bytes = records::encode(&kept)
            .map_err(|m| abort(corrupt(path, "curation of story", &to.to_string(), &m)))?;
        curation.insert(&kt[..], bytes)?;
        curation.remove(&kf[..])?;
        Ok(true)
    }

    /// The items of every story pinned somewhere at `now`: retention keeps them.
    pub(crate) fn pinned_items(&self, now: DateTime<Utc>) -> Result<HashSet<u64>, StoreError> {
        let decisions = self.curation()?;
        let mut out = HashSet::new();
        for id in decisions.pinned_anywhere(now) {
            let Ok(id) = id.parse::<u64>() else { continue };
            if let Some(record) = self.story_record(id)? {
                out.extend(record.members.iter().map(|m| m.item));
            }
        }
        Ok(out)
    }

    /// Checks that every curation record and audit entry reads (part of `verify`);
    /// returns how many stories carry decisions.
    pub(crate) fn verify_curation(&self) -> Result<u64, StoreError> {
        let n = self.curation()?.len() as u64;
        self.curation_log(None)?;
        Ok(n)
    }
}
