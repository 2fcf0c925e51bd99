//! `relais backup` / `relais restore`: the whole store as JSON lines, so an operator can
//! always get the data out of sled (whose on-disk format changes between versions) and
//! back, or read it with any tool.
//!
//! Format, one JSON object per line:
//! ```text
//! {"relais_backup":1,"schema":1,"created":"2026-05-01T08:00:00Z"}
//! {"type":"item","first_seen":"…","item":{…the Item JSON shape…}}
//! {"type":"source_state","state":{…SourceState…}}
//! {"type":"tombstone","source":"ciedel","id":"…","pruned_at":"…","published":"…"}
//! {"type":"story","id":7,"members":[{"source":"ciedel","id":"…","rule":"primary"},
//!   {"source":"cuf","id":"…","rule":"text","score":0.52,"with":{"source":"ciedel","id":"…"}}]}
//! {"type":"story_link","kind":"apart","a":{"source":"…","id":"…"},"b":{…}}
//! {"type":"digest_entry","entry":{…LedgerEntry: a digest's period and its state…}}
//! {"type":"digest_issue","issue":{…ArchivedIssue: an issue as it was sent…}}
//! {"type":"curation","story":7,"decisions":{"pinned":{"channel":{"at":"…","until":"…"}},…}}
//! {"type":"curation_log","entry":{"at":"…","actor":"cli","story":7,"action":"pin",…}}
//! ```
//!
//! Curation is keyed by story id, which restore keeps; the audit log comes oldest first
//! and keeps its order.
//!
//! Stories and the operators' overrides (`story_link`: `apart` after a split,
//! `together` after a merge) name items by source and id, so they survive the new
//! internal numbers; story ids are kept. The story index is rebuilt from the items, and
//! an item no story line names (a backup of schema 1, or an item stored while the backup
//! ran) is matched as a new one would be, oldest first, honouring the overrides.
//! Items come in the store's internal order (order of first sight) and get new internal
//! numbers in that same order on restore, so the listing order — ties included — survives
//! the round trip; every index and counter is rebuilt from the records. Unknown fields are
//! ignored; a newer backup format or schema is refused.
//!
//! Restore only fills an empty store (no merge: merging two histories needs decisions —
//! which state wins, what of an item pruned on one side — that belong to an operator, not
//! to a silent default). It streams the file in transactions of a few hundred lines, so
//! memory stays bounded; on the first bad line it reports `line N: …` and empties the store
//! again. A crash mid-restore leaves a marker that makes the next open refuse the store.
//!
//! A backup taken while polls run is not a point-in-time snapshot (sled has none): each
//! record is whole, but an item pruned meanwhile may appear both as item and tombstone.
//! Restore accepts that.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::digests::{self, ArchivedIssue, LedgerEntry};
use super::keys::{
    id_key, num_bytes, num_from_tail, pair_key, source_prefix, source_time_key, split_id_key,
    split_pair_key, time_key,
};
use super::records::{self, decode_item, ItemRecord, MemberRecord, StoryRecord, TombstoneRecord};
use super::stories::{APART, STORY_SEQ_KEY, TOGETHER};
use super::{add_count, AuditEntry, Store, StoreError, EMPTY, RESTORING_KEY, SCHEMA_VERSION};
use crate::curate::StoryDecisions;
use crate::model::{Item, SourceState};
use crate::stories::Rule;

/// Version of the backup file format (the header's `relais_backup`).
pub const BACKUP_FORMAT: u32 = 1;

/// Lines restored per transaction.
const RESTORE_CHUNK: usize = 256;

/// What a backup wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupStats {
    pub items: u64,
    pub source_states: u64,
    pub tombstones: u64,
    pub stories: u64,
    pub story_links: u64,
    /// Digest ledger entries and archived issues.
    pub digest_records: u64,
    /// Curation records (stories with decisions) and audit log entries.
    pub curation_records: u64,
}

/// What a restore read back.
pub type RestoreStats = BackupStats;

impl std::fmt::Display for BackupStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} items, {} source states, {} tombstones, {} stories, {} story overrides",
            self.items, self.source_states, self.tombstones, self.stories, self.story_links
        )?;
        if self.digest_records > 0 {
            write!(f, ", {} digest records", self.digest_records)?;
        }
        if self.curation_records > 0 {
            write!(f, ", {} curation records", self.curation_records)?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    relais_backup: u32,
    schema: u32,
    created: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Item {
        first_seen: DateTime<Utc>,
        item: Item,
    },
    SourceState {
        state: SourceState,
    },
    Tombstone {
        source: String,
        id: String,
        pruned_at: DateTime<Utc>,
        published: DateTime<Utc>,
    },
    Story {
        id: u64,
        members: Vec<BackupMember>,
    },
    StoryLink {
        kind: LinkKind,
        a: ItemRef,
        b: ItemRef,
    },
    DigestEntry {
        entry: LedgerEntry,
    },
    DigestIssue {
        issue: ArchivedIssue,
    },
    Curation {
        story: u64,
        decisions: StoryDecisions,
    },
    CurationLog {
        entry: AuditEntry,
    },
}

/// An item named by what survives a restore: its source and publisher id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ItemRef {
    source: String,
    id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct BackupMember {
    source: String,
    id: String,
    rule: Rule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    with: Option<ItemRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LinkKind {
    Apart,
    Together,
}

impl Store {
    /// Writes the whole store to `out` as JSON lines (format in the module doc).
    pub fn backup(&self, out: &mut dyn Write) -> Result<BackupStats, StoreError> {
        let mut out = std::io::BufWriter::new(out);
        let mut stats = BackupStats::default();
        let header = Header {
            relais_backup: BACKUP_FORMAT,
            schema: SCHEMA_VERSION,
            created: Utc::now(),
        };
        write_line(&mut out, &header)?;
        for entry in self.t.items.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let r = decode_item(&v)
                .map_err(|m| self.corrupt(&format!("item {}", String::from_utf8_lossy(&k)), &m))?;
            write_line(
                &mut out,
                &Line::Item {
                    first_seen: r.first_seen,
                    item: r.item,
                },
            )?;
            stats.items += 1;
        }
        for state in self.source_states()? {
            write_line(&mut out, &Line::SourceState { state })?;
            stats.source_states += 1;
        }
        for entry in self.t.tombstones.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let (source, id) =
                split_id_key(&k).ok_or_else(|| self.corrupt("tombstone key", "undecodable"))?;
            let t: TombstoneRecord =
                records::decode(&v).map_err(|m| self.corrupt("tombstone", &m))?;
            write_line(
                &mut out,
                &Line::Tombstone {
                    source,
                    id,
                    pruned_at: t.pruned_at,
                    published: t.published,
                },
            )?;
            stats.tombstones += 1;
        }
        let name = |num: u64| -> Result<Option<ItemRef>, StoreError> {
            Ok(self.get_by_num(num)?.map(|s| ItemRef {
                source: s.item.source.unwrap_or_default(),
                id: s.item.id,
            }))
        };
        for entry in self.t.stories.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let id = num_from_tail(&k).ok_or_else(|| self.corrupt("story key", "not a number"))?;
            let r: StoryRecord = records::decode(&v).map_err(|m| self.corrupt("story", &m))?;
            let mut members = Vec::with_capacity(r.members.len());
            for m in &r.members {
                // An item pruned while the backup ran is left out with its story entry.
                let Some(item) = name(m.item)? else {
                    continue;
                };
                let with = match m.with {
                    Some(w) => name(w)?,
                    None => None,
                };
                members.push(BackupMember {
                    source: item.source,
                    id: item.id,
                    rule: m.rule,
                    score: m.score,
                    with,
                });
            }
            if !members.is_empty() {
                write_line(&mut out, &Line::Story { id, members })?;
                stats.stories += 1;
            }
        }
        for entry in self.t.overrides.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let Some((a, b)) = split_pair_key(&k) else {
                continue;
            };
            // Stored both ways; written once.
            if a > b {
                continue;
            }
            let kind = match v.first() {
                Some(&APART) => LinkKind::Apart,
                Some(&TOGETHER) => LinkKind::Together,
                _ => continue,
            };
            if let (Some(a), Some(b)) = (name(a)?, name(b)?) {
                write_line(&mut out, &Line::StoryLink { kind, a, b })?;
                stats.story_links += 1;
            }
        }
        for entry in self.t.ledger.iter() {
            let (_, v) = entry.map_err(|e| self.storage(e))?;
            let entry: LedgerEntry =
                records::decode(&v).map_err(|m| self.corrupt("digest entry", &m))?;
            write_line(&mut out, &Line::DigestEntry { entry })?;
            stats.digest_records += 1;
        }
        for entry in self.t.archive.iter() {
            let (_, v) = entry.map_err(|e| self.storage(e))?;
            let issue: ArchivedIssue =
                records::decode(&v).map_err(|m| self.corrupt("archived issue", &m))?;
            write_line(&mut out, &Line::DigestIssue { issue })?;
            stats.digest_records += 1;
        }
        for entry in self.t.curation.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let story =
                num_from_tail(&k).ok_or_else(|| self.corrupt("curation key", "not a number"))?;
            let decisions: StoryDecisions =
                records::decode(&v).map_err(|m| self.corrupt("curation", &m))?;
            write_line(&mut out, &Line::Curation { story, decisions })?;
            stats.curation_records += 1;
        }
        for entry in self.t.curation_log.iter() {
            let (_, v) = entry.map_err(|e| self.storage(e))?;
            let entry: AuditEntry =
                records::decode(&v).map_err(|m| self.corrupt("audit entry", &m))?;
            write_line(&mut out, &Line::CurationLog { entry })?;
            stats.curation_records += 1;
        }
        out.flush()
            .map_err(|e| StoreError::Backup(format!("cannot write: {e}")))?;
        Ok(stats)
    }

    /// Reads a backup into this store, which must be empty. On any error the store is
    /// left empty and the error names the line.
    pub fn restore(&self, input: &mut dyn BufRead) -> Result<RestoreStats, StoreError> {
        if !self.t.is_empty() {
            return Err(StoreError::NotEmpty { path: self.shown() });
        }
        self.t
            .meta
            .insert(RESTORING_KEY, EMPTY)
            .map_err(|e| self.storage(e))?;
        self.flush()?;
        self.forget_all_features();
        let restored = self.restore_lines(input).and_then(|stats| {
            // Index every item; match those no story line named.
            self.rebuild_stories(false)?;
            Ok(stats)
        });
        match restored {
            Ok(stats) => {
                self.t
                    .meta
                    .remove(RESTORING_KEY)
                    .map_err(|e| self.storage(e))?;
                self.flush()?;
                self.note_change();
                Ok(stats)
            }
            Err(e) => {
                if let Err(clear) = self.clear_data() {
                    // The marker stays, so the half-restored store is refused at next open.
                    tracing::error!(error = %clear, "cannot empty the store after failed restore");
                }
                Err(e)
            }
        }
    }

    fn restore_lines(&self, input: &mut dyn BufRead) -> Result<RestoreStats, StoreError> {
        let mut stats = RestoreStats::default();
        let mut pending: Vec<(usize, Line)> = Vec::new();
        let mut buf = Vec::new();
        let mut lineno = 0usize;
        let mut header_seen = false;
        loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .map_err(|e| StoreError::Restore {
                    line: lineno + 1,
                    message: format!("cannot read: {e}"),
                })?;
            if n == 0 {
                break;
            }
            lineno += 1;
            let bad = |message: String| StoreError::Restore {
                line: lineno,
                message,
            };
            let text = std::str::from_utf8(&buf).map_err(|_| bad("not UTF-8".to_string()))?;
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            if !header_seen {
                check_header(text).map_err(bad)?;
                header_seen = true;
                continue;
            }
            let line = parse_line(text).map_err(bad)?;
            validate(&line).map_err(bad)?;
            // Curation needs no other record: written as it comes (the restore marker
            // and the rollback cover it like the rest).
            if self.restore_curation(&line).map_err(bad)? {
                stats.curation_records += 1;
                continue;
            }
            pending.push((lineno, line));
            if pending.len() >= RESTORE_CHUNK {
                self.restore_chunk(&pending, &mut stats)?;
                pending.clear();
            }
        }
        if !header_seen {
            return Err(StoreError::Restore {
                line: lineno.max(1),
                message: "no relais backup header (the file is empty)".to_string(),
            });
        }
        self.restore_chunk(&pending, &mut stats)?;
        Ok(stats)
    }

    /// Writes validated lines in one transaction; duplicates are found here, against
    /// what earlier chunks and this one already wrote.
    fn restore_chunk(
        &self,
        lines: &[(usize, Line)],
        stats: &mut RestoreStats,
    ) -> Result<(), StoreError> {
        let t = &self.t;
        let path = self.shown();
        let added = (
            &t.items,
            &t.by_time,
            &t.by_source,
            &t.ids,
            &t.sources,
            &t.tombstones,
            &t.counts,
            &t.stories,
            &t.item_story,
            &t.overrides,
            &t.meta,
            &t.ledger,
            &t.archive,
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
                    stories,
                    item_story,
                    overrides,
                    meta,
                    ledger,
                    archive,
                )| {
                    let mut added = RestoreStats::default();
                    let mut per_source: HashMap<&str, i64> = HashMap::new();
                    let dup = |line: usize, what: String| {
                        ConflictableTransactionError::Abort(StoreError::Restore {
                            line,
                            message: format!("duplicate {what}"),
                        })
                    };
                    for (line, entry) in lines {
                        let line = *line;
                        match entry {
                            Line::Item { first_seen, item } => {
                                let source = item.source.as_deref().unwrap_or_default();
                                let prefix = source_prefix(source).unwrap_or_default();
                                let idk = id_key(&prefix, &item.id);
                                if ids.get(&idk)?.is_some() {
                                    return Err(dup(line, format!("item {source}/{}", item.id)));
                                }
                                let num = items_t.generate_id()?;
                                let record = ItemRecord {
                                    first_seen: *first_seen,
                                    item: item.clone(),
                                };
                                let bytes = records::encode_item(&record).map_err(|m| {
                                    ConflictableTransactionError::Abort(StoreError::Restore {
                                        line,
                                        message: m,
                                    })
                                })?;
                                items_t.insert(&num_bytes(num)[..], bytes)?;
                                by_time.insert(time_key(item.published, num), EMPTY)?;
                                by_source
                                    .insert(source_time_key(&prefix, item.published, num), EMPTY)?;
                                ids.insert(idk, &num_bytes(num)[..])?;
                                *per_source.entry(source).or_default() += 1;
                                added.items += 1;
                            }
                            Line::SourceState { state } => {
                                if sources.get(state.id.as_bytes())?.is_some() {
                                    return Err(dup(line, format!("source state {}", state.id)));
                                }
                                let bytes = records::encode_state(state).map_err(|m| {
                                    ConflictableTransactionError::Abort(StoreError::Restore {
                                        line,
                                        message: m,
                                    })
                                })?;
                                sources.insert(state.id.as_bytes(), bytes)?;
                                added.source_states += 1;
                            }
                            Line::Tombstone {
                                source,
                                id,
                                pruned_at,
                                published,
                            } => {
                                let idk = id_key(&source_prefix(source).unwrap_or_default(), id);
                                if tombs.get(&idk)?.is_some() {
                                    return Err(dup(line, format!("tombstone {source}/{id}")));
                                }
                                let record = TombstoneRecord {
                                    pruned_at: *pruned_at,
                                    published: *published,
                                };
                                let bytes = records::encode(&record).map_err(|m| {
                                    ConflictableTransactionError::Abort(StoreError::Restore {
                                        line,
                                        message: m,
                                    })
                                })?;
                                tombs.insert(idk, bytes)?;
                                added.tombstones += 1;
                            }
                            Line::Story { id, members } => {
                                let abort_line = |message: String| {
                                    ConflictableTransactionError::Abort(StoreError::Restore {
                                        line,
                                        message,
                                    })
                                };
                                if stories.get(num_bytes(*id))?.is_some() {
                                    return Err(dup(line, format!("story {id}")));
                                }
                                let num_of = |r: &ItemRef| -> Result<
                                    Option<u64>,
                                    sled::transaction::UnabortableTransactionError,
                                > {
                                    let prefix = source_prefix(&r.source).unwrap_or_default();
                                    Ok(ids
                                        .get(id_key(&prefix, &r.id))?
                                        .and_then(|v| num_from_tail(&v)))
                                };
                                let mut record = StoryRecord {
                                    primary: 0,
                                    members: Vec::new(),
                                };
                                for m in members {
                                    let r = ItemRef {
                                        source: m.source.clone(),
                                        id: m.id.clone(),
                                    };
                                    // A member the backup holds no item for (pruned
                                    // while it ran) is dropped.
                                    let Some(num) = num_of(&r)? else {
                                        continue;
                                    };
                                    if item_story.get(num_bytes(num))?.is_some() {
                                        return Err(abort_line(format!(
                                            "item {}/{} is in two stories",
                                            r.source, r.id
                                        )));
                                    }
                                    let Some(raw) = items_t.get(num_bytes(num))? else {
                                        continue;
                                    };
                                    let at = decode_item(&raw)
                                        .map_err(abort_line)?
                                        .item
                                        .published
                                        .timestamp();
                                    let with = match &m.with {
                                        Some(w) => num_of(w)?,
                                        None => None,
                                    };
                                    record.members.push(MemberRecord {
                                        item: num,
                                        at,
                                        rule: m.rule,
                                        score: m.score,
                                        with,
                                    });
                                    item_story.insert(&num_bytes(num)[..], &num_bytes(*id)[..])?;
                                }
                                if record.members.is_empty() {
                                    continue;
                                }
                                record.elect_primary();
                                let bytes = records::encode(&record).map_err(abort_line)?;
                                stories.insert(&num_bytes(*id)[..], bytes)?;
                                let next = meta
                                    .get(STORY_SEQ_KEY)?
                                    .and_then(|v| num_from_tail(&v))
                                    .unwrap_or(1);
                                if id.saturating_add(1) > next {
                                    meta.insert(
                                        STORY_SEQ_KEY,
                                        &id.saturating_add(1).to_be_bytes()[..],
                                    )?;
                                }
                                added.stories += 1;
                            }
                            Line::StoryLink { kind, a, b } => {
                                let num_of = |r: &ItemRef| -> Result<
                                    Option<u64>,
                                    sled::transaction::UnabortableTransactionError,
                                > {
                                    let prefix = source_prefix(&r.source).unwrap_or_default();
                                    Ok(ids
                                        .get(id_key(&prefix, &r.id))?
                                        .and_then(|v| num_from_tail(&v)))
                                };
                                if let (Some(na), Some(nb)) = (num_of(a)?, num_of(b)?) {
                                    let value = match kind {
                                        LinkKind::Apart => APART,
                                        LinkKind::Together => TOGETHER,
                                    };
                                    overrides.insert(&pair_key(na, nb)[..], &[value][..])?;
                                    overrides.insert(&pair_key(nb, na)[..], &[value][..])?;
                                    added.story_links += 1;
                                }
                            }
                            Line::DigestEntry { entry } => {
                                let what =
                                    format!("digest entry {} {}", entry.digest, entry.period);
                                put_digest_record(
                                    ledger,
                                    &entry.digest,
                                    &entry.period,
                                    entry,
                                    line,
                                    what,
                                )?;
                                added.digest_records += 1;
                            }
                            Line::Curation { .. } | Line::CurationLog { .. } => {}
                            Line::DigestIssue { issue } => {
                                let what =
                                    format!("digest issue {} {}", issue.digest, issue.period);
                                put_digest_record(
                                    archive,
                                    &issue.digest,
                                    &issue.period,
                                    issue,
                                    line,
                                    what,
                                )?;
                                added.digest_records += 1;
                            }
                        }
                    }
                    for (source, n) in per_source {
                        add_count(counts, source, n, &path)?;
                    }
                    Ok(added)
                },
            )
            .map_err(|e| self.tx_error(e))?;
        stats.items += added.items;
        stats.source_states += added.source_states;
        stats.tombstones += added.tombstones;
        stats.stories += added.stories;
        stats.story_links += added.story_links;
        stats.digest_records += added.digest_records;
        Ok(())
    }

    /// Writes a curation line; false for any other kind of line.
    fn restore_curation(&self, line: &Line) -> Result<bool, String> {
        match line {
            Line::Curation { story, decisions } => {
                let bytes = records::encode(decisions)?;
                let before = self
                    .t
                    .curation
                    .insert(num_bytes(*story), bytes)
                    .map_err(|e| e.to_string())?;
                if before.is_some() {
                    return Err(format!("duplicate curation of story {story}"));
                }
                Ok(true)
            }
            Line::CurationLog { entry } => {
                let bytes = records::encode(entry)?;
                let seq = self.db.generate_id().map_err(|e| e.to_string())?;
                self.t
                    .curation_log
                    .insert(num_bytes(seq), bytes)
                    .map_err(|e| e.to_string())?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Empties every data tree and drops the restore marker: the rollback of a failed
    /// restore, which only ever runs on a store that was empty before.
    fn clear_data(&self) -> Result<(), StoreError> {
        let t = &self.t;
        for tree in [
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
            &t.overrides,
            &t.ledger,
            &t.archive,
            &t.curation,
            &t.curation_log,
        ] {
            tree.clear().map_err(|e| self.storage(e))?;
        }
        t.meta.remove(STORY_SEQ_KEY).map_err(|e| self.storage(e))?;
        t.meta.remove(RESTORING_KEY).map_err(|e| self.storage(e))?;
        self.flush()
    }
}

fn write_line<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), StoreError> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| StoreError::Backup(format!("cannot write: {e}")))?;
    out.write_all(b"\n")
        .map_err(|e| StoreError::Backup(format!("cannot write: {e}")))
}

fn check_header(text: &str) -> Result<(), String> {
    let header: Header =
        serde_json::from_str(text).map_err(|e| format!("not a relais backup header: {e}"))?;
    if header.relais_backup > BACKUP_FORMAT {
        return Err(format!(
            "backup format {} is newer than this relais reads ({BACKUP_FORMAT})",
            header.relais_backup
        ));
    }
    if header.schema > SCHEMA_VERSION {
        return Err(format!(
            "backup of store schema {} is newer than this relais knows ({SCHEMA_VERSION})",
            header.schema
        ));
    }
    Ok(())
}

/// Parses a record line. Through a `Value` first so that errors say which kind of record
/// was bad (serde's own message for a tagged enum often names no field).
fn parse_line(text: &str) -> Result<Line, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let kind = match value.get("type").and_then(serde_json::Value::as_str) {
        Some(
            k @ ("item" | "source_state" | "tombstone" | "story" | "story_link" | "digest_entry"
            | "digest_issue" | "curation" | "curation_log"),
        ) => k.to_string(),
        Some(other) => return Err(format!("unknown record type {other:?}")),
        None => return Err("record has no \"type\"".to_string()),
    };
    serde_json::from_value(value).map_err(|e| format!("bad {kind} record: {e}"))
}

/// What serde cannot check: ids usable as keys.
fn validate(line: &Line) -> Result<(), String> {
    let source_ok = |s: &str| !s.is_empty() && source_prefix(s).is_some();
    match line {
        Line::Item { item, .. } => match item.source.as_deref() {
            Some(s) if source_ok(s) => Ok(()),
            Some(s) => Err(format!(
                "item {:?} has an unusable source id {s:?}",
                item.id
            )),
            None => Err(format!("item {:?} has no source", item.id)),
        },
        Line::SourceState { state } if !source_ok(&state.id) => {
            Err(format!("source state with an unusable id {:?}", state.id))
        }
        Line::Tombstone { source, id, .. } if !source_ok(source) => Err(format!(
            "tombstone {id:?} with an unusable source id {source:?}"
        )),
        Line::DigestEntry { entry } if !source_ok(&entry.digest) || entry.period.is_empty() => Err(
            format!("digest entry with an unusable id {:?}", entry.digest),
        ),
        Line::DigestIssue { issue } if !source_ok(&issue.digest) || issue.period.is_empty() => Err(
            format!("digest issue with an unusable id {:?}", issue.digest),
        ),
        _ => Ok(()),
    }
}

/// Restores one digest record (ledger entry or archived issue) under its (digest,
/// period) key; a second record for the same key is an error on `line`.
fn put_digest_record<T: Serialize>(
    tree: &sled::transaction::TransactionalTree,
    digest: &str,
    period: &str,
    record: &T,
    line: usize,
    what: String,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let restore_error =
        |message| ConflictableTransactionError::Abort(StoreError::Restore { line, message });
    let key = digests::key(digest, period).map_err(ConflictableTransactionError::Abort)?;
    let bytes = records::encode(record).map_err(restore_error)?;
    if tree.insert(key, bytes)?.is_some() {
        return Err(restore_error(format!("duplicate {what}")));
    }
    Ok(())
}
