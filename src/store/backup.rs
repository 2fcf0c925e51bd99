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
//! {"type":"digest_entry","entry":{…LedgerEntry: a digest's period and its state…}}
//! {"type":"digest_issue","issue":{…ArchivedIssue: an issue as it was sent…}}
//! ```
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
use super::keys::{id_key, num_bytes, source_prefix, source_time_key, split_id_key, time_key};
use super::records::{self, decode_item, ItemRecord, TombstoneRecord};
use super::{add_count, Store, StoreError, EMPTY, RESTORING_KEY, SCHEMA_VERSION};
use crate::model::{Item, SourceState};

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
    /// Digest ledger entries and archived issues.
    pub digest_records: u64,
}

/// What a restore read back.
pub type RestoreStats = BackupStats;

impl std::fmt::Display for BackupStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} items, {} source states, {} tombstones",
            self.items, self.source_states, self.tombstones
        )?;
        if self.digest_records > 0 {
            write!(f, ", {} digest records", self.digest_records)?;
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
    DigestEntry {
        entry: LedgerEntry,
    },
    DigestIssue {
        issue: ArchivedIssue,
    },
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
        match self.restore_lines(input) {
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
            &t.ledger,
            &t.archive,
        )
            .transaction(
                |(items_t, by_time, by_source, ids, sources, tombs, counts, ledger, archive)| {
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
                            Line::DigestEntry { entry } => {
                                let k = digests::key(&entry.digest, &entry.period)
                                    .map_err(ConflictableTransactionError::Abort)?;
                                let bytes = records::encode(entry).map_err(|m| {
                                    ConflictableTransactionError::Abort(StoreError::Restore {
                                        line,
                                        message: m,
                                    })
                                })?;
                                if ledger.insert(k, bytes)?.is_some() {
                                    return Err(dup(
                                        line,
                                        format!("digest entry {} {}", entry.digest, entry.period),
                                    ));
                                }
                                added.digest_records += 1;
                            }
                            Line::DigestIssue { issue } => {
                                let k = digests::key(&issue.digest, &issue.period)
                                    .map_err(ConflictableTransactionError::Abort)?;
                                let bytes = records::encode(issue).map_err(|m| {
                                    ConflictableTransactionError::Abort(StoreError::Restore {
                                        line,
                                        message: m,
                                    })
                                })?;
                                if archive.insert(k, bytes)?.is_some() {
                                    return Err(dup(
                                        line,
                                        format!("digest issue {} {}", issue.digest, issue.period),
                                    ));
                                }
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
        stats.digest_records += added.digest_records;
        Ok(())
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
            &t.ledger,
            &t.archive,
        ] {
            tree.clear().map_err(|e| self.storage(e))?;
        }
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
        Some(k @ ("item" | "source_state" | "tombstone" | "digest_entry" | "digest_issue")) => {
            k.to_string()
        }
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
