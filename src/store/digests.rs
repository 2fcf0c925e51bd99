//! The digests' durable memory: a ledger entry per (digest, period) saying how far its
//! sending got, and the archive of the issues that went out. Each step is written and
//! flushed before the next starts, so that after a crash the ledger says exactly what
//! is known; the last step (sent) writes the entry and its archived issue in one
//! transaction.
//!
//! | tree             | key                  | value                  |
//! |------------------|----------------------|------------------------|
//! | `digest_ledger`  | `P(digest) period`   | [`LedgerEntry`] record |
//! | `digest_archive` | `P(digest) period`   | [`ArchivedIssue`] record |
//!
//! Periods are written `2026-W48`, whose byte order is time order, so one digest's
//! entries come out oldest first from a prefix scan.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::keys::source_prefix;
use super::{records, Store, StoreError};

/// Where the sending of one period stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerState {
    /// The message is composed and frozen in the entry; not yet handed to SMTP.
    Planned,
    /// A delivery attempt is under way (see [`LedgerEntry::handed_over`]).
    Sending,
    /// The SMTP server accepted the message.
    Sent,
    /// The period had no story and the digest sends nothing then.
    Empty,
    /// Missed while relais was down, superseded by a later period: never sent.
    Skipped,
    /// Gave up: a permanent SMTP error, or a delivery whose outcome is unknown.
    Failed,
}

impl LedgerState {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerState::Planned => "planned",
            LedgerState::Sending => "sending",
            LedgerState::Sent => "sent",
            LedgerState::Empty => "empty",
            LedgerState::Skipped => "skipped",
            LedgerState::Failed => "failed",
        }
    }

    /// No automatic step follows: only an operator can move it on.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            LedgerState::Sent | LedgerState::Empty | LedgerState::Skipped | LedgerState::Failed
        )
    }
}

/// One step in an entry's history, for operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerStep {
    pub at: DateTime<Utc>,
    pub state: LedgerState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The ledger entry of one (digest, period).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub digest: String,
    /// The ISO week, `2026-W48`.
    pub period: String,
    pub state: LedgerState,
    /// The scheduled time that made it due; `None` when sent by hand.
    #[serde(default)]
    pub due: Option<DateTime<Utc>>,
    /// When the content was chosen: stories first seen after this go to the next digest.
    #[serde(default)]
    pub composed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    /// The whole message (RFC 5322, ASCII), frozen when planned so every attempt sends
    /// the same bytes with the same Message-ID.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub stories: usize,
    /// Set during `sending` once the server said "go ahead" to DATA and the body is
    /// about to be sent: from then on the message may have been accepted even if relais
    /// never saw the reply.
    #[serde(default)]
    pub handed_over: bool,
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time for the next automatic attempt (after a transient error).
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub history: Vec<LedgerStep>,
}

impl LedgerEntry {
    /// A new entry in `state` at `at`.
    pub fn new(digest: &str, period: &str, state: LedgerState, at: DateTime<Utc>) -> LedgerEntry {
        LedgerEntry {
            digest: digest.to_string(),
            period: period.to_string(),
            state,
            due: None,
            composed_at: None,
            message_id: None,
            subject: None,
            message: None,
            html: None,
            text: None,
            stories: 0,
            handed_over: false,
            attempts: 0,
            retry_at: None,
            error: None,
            sent_at: None,
            updated_at: at,
            history: vec![LedgerStep {
                at,
                state,
                note: None,
            }],
        }
    }

    /// Moves to `state` at `at`, noting why in the history.
    pub fn step(&mut self, state: LedgerState, at: DateTime<Utc>, note: Option<String>) {
        self.state = state;
        self.updated_at = at;
        self.history.push(LedgerStep { at, state, note });
    }
}

/// A digest issue as it went out, kept for the archive pages and feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedIssue {
    pub digest: String,
    pub period: String,
    pub subject: String,
    pub sent_at: DateTime<Utc>,
    pub message_id: String,
    pub stories: usize,
    /// The HTML part, a whole document.
    pub html: String,
    /// The text/plain part.
    pub text: String,
}

pub(super) fn key(digest: &str, period: &str) -> Result<Vec<u8>, StoreError> {
    let mut k = source_prefix(digest)
        .ok_or_else(|| StoreError::Other(format!("digest id too long: {digest:.40}")))?;
    k.extend_from_slice(period.as_bytes());
    Ok(k)
}

impl Store {
    /// The ledger entry of (digest, period), if any.
    pub fn digest_entry(
        &self,
        digest: &str,
        period: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let k = key(digest, period)?;
        match self.t.ledger.get(k).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(v) => records::decode(&v)
                .map(Some)
                .map_err(|m| self.corrupt(&format!("digest entry {digest} {period}"), &m)),
        }
    }

    /// Every ledger entry of a digest, oldest period first.
    pub fn digest_entries(&self, digest: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        let prefix = key(digest, "")?;
        let mut out = Vec::new();
        for entry in self.t.ledger.scan_prefix(prefix) {
            let (_, v) = entry.map_err(|e| self.storage(e))?;
            out.push(
                records::decode(&v)
                    .map_err(|m| self.corrupt(&format!("digest entry of {digest}"), &m))?,
            );
        }
        Ok(out)
    }

    /// Writes a ledger entry and flushes it before returning: the step is durable.
    pub fn save_digest_entry(&self, entry: &LedgerEntry) -> Result<(), StoreError> {
        let k = key(&entry.digest, &entry.period)?;
        let bytes = records::encode(entry).map_err(StoreError::Other)?;
        self.t
            .ledger
            .insert(k, bytes)
            .map_err(|e| self.storage(e))?;
        self.flush()
    }

    /// Records a sent issue: the entry (state `sent`) and the archived issue in one
    /// transaction, flushed before returning.
    pub fn record_digest_sent(
        &self,
        entry: &LedgerEntry,
        issue: &ArchivedIssue,
    ) -> Result<(), StoreError> {
        let k = key(&entry.digest, &entry.period)?;
        let e = records::encode(entry).map_err(StoreError::Other)?;
        let i = records::encode(issue).map_err(StoreError::Other)?;
        (&self.t.ledger, &self.t.archive)
            .transaction(|(ledger, archive)| {
                ledger.insert(k.as_slice(), e.as_slice())?;
                archive.insert(k.as_slice(), i.as_slice())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<StoreError>>(())
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()?;
        // Archive pages and feeds are rendered from the store: let caches know.
        self.note_change();
        Ok(())
    }

    /// The archived issues of a digest, newest first.
    pub fn digest_issues(&self, digest: &str) -> Result<Vec<ArchivedIssue>, StoreError> {
        let prefix = key(digest, "")?;
        let mut out = Vec::new();
        for entry in self.t.archive.scan_prefix(prefix).rev() {
            let (_, v) = entry.map_err(|e| self.storage(e))?;
            out.push(
                records::decode(&v)
                    .map_err(|m| self.corrupt(&format!("archived issue of {digest}"), &m))?,
            );
        }
        Ok(out)
    }

    /// One archived issue.
    pub fn digest_issue(
        &self,
        digest: &str,
        period: &str,
    ) -> Result<Option<ArchivedIssue>, StoreError> {
        let k = key(digest, period)?;
        match self.t.archive.get(k).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(v) => records::decode(&v)
                .map(Some)
                .map_err(|m| self.corrupt(&format!("archived issue {digest} {period}"), &m)),
        }
    }

    /// Remembers when the digest scheduler last woke up (not flushed: sled writes it
    /// within half a second, and a lost tick time is harmless).
    pub fn set_digest_tick(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.t
            .meta
            .insert(DIGEST_TICK_KEY, &at.timestamp().to_be_bytes()[..])
            .map_err(|e| self.storage(e))?;
        Ok(())
    }

    /// When the digest scheduler last woke up, as remembered by [`Store::set_digest_tick`].
    pub fn digest_tick(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(v) = self
            .t
            .meta
            .get(DIGEST_TICK_KEY)
            .map_err(|e| self.storage(e))?
        else {
            return Ok(None);
        };
        let secs = <[u8; 8]>::try_from(v.as_ref())
            .map(i64::from_be_bytes)
            .map_err(|_| self.corrupt("digest tick", "not an 8-byte number"))?;
        Ok(DateTime::from_timestamp(secs, 0))
    }
}

const DIGEST_TICK_KEY: &[u8] = b"digest_last_tick";

impl Store {
    /// Checks the ledger against the archive (part of [`Store::verify`]): every record
    /// under the key of its own digest and period; an entry `sent` has its archived
    /// issue, and an archived issue has an entry that reached `sent` (its state may have
    /// moved on since: a `--force` resend). No period is both unsent and marked sent.
    /// Returns the number of ledger entries.
    pub(crate) fn verify_digests(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for entry in self.t.ledger.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let e: LedgerEntry =
                records::decode(&v).map_err(|m| self.corrupt("digest entry", &m))?;
            let what = format!("digest entry {} {}", e.digest, e.period);
            if key(&e.digest, &e.period)? != k.as_ref() {
                return Err(self.corrupt(&what, "stored under another key"));
            }
            let archived = self
                .t
                .archive
                .contains_key(&k)
                .map_err(|e| self.storage(e))?;
            if e.state == LedgerState::Sent && !archived {
                return Err(self.corrupt(&what, "is sent but has no archived issue"));
            }
            let was_sent = e.history.iter().any(|s| s.state == LedgerState::Sent);
            if archived && !was_sent {
                return Err(self.corrupt(&what, "has an archived issue but was never sent"));
            }
            n += 1;
        }
        for entry in self.t.archive.iter() {
            let (k, v) = entry.map_err(|e| self.storage(e))?;
            let i: ArchivedIssue =
                records::decode(&v).map_err(|m| self.corrupt("archived issue", &m))?;
            let what = format!("archived issue {} {}", i.digest, i.period);
            if key(&i.digest, &i.period)? != k.as_ref() {
                return Err(self.corrupt(&what, "stored under another key"));
            }
            if !self
                .t
                .ledger
                .contains_key(&k)
                .map_err(|e| self.storage(e))?
            {
                return Err(self.corrupt(&what, "has no ledger entry"));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ledger_entries_and_issues_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = Store::open(&path).unwrap();
            let mut e = LedgerEntry::new(
                "hebdo",
                "2026-W48",
                LedgerState::Planned,
                at("2026-11-30T07:00:00Z"),
            );
            e.message = Some("Subject: x\r\n\r\nbody".into());
            store.save_digest_entry(&e).unwrap();
            let mut older = LedgerEntry::new(
                "hebdo",
                "2026-W47",
                LedgerState::Empty,
                at("2026-11-23T07:00:00Z"),
            );
            older.composed_at = Some(at("2026-11-23T07:00:00Z"));
            store.save_digest_entry(&older).unwrap();
            // Another digest whose id starts like this one's is not mixed in.
            store
                .save_digest_entry(&LedgerEntry::new(
                    "hebdo-en",
                    "2026-W48",
                    LedgerState::Sent,
                    at("2026-11-30T07:00:00Z"),
                ))
                .unwrap();
            e.step(LedgerState::Sent, at("2026-11-30T07:00:05Z"), None);
            let issue = ArchivedIssue {
                digest: "hebdo".into(),
                period: "2026-W48".into(),
                subject: "La lettre".into(),
                sent_at: at("2026-11-30T07:00:05Z"),
                message_id: "<2026-W48.hebdo@x>".into(),
                stories: 3,
                html: "<p>x</p>".into(),
                text: "x".into(),
            };
            let before = store.changes();
            store.record_digest_sent(&e, &issue).unwrap();
            assert!(store.changes() > before);
            store.set_digest_tick(at("2026-11-30T07:01:00Z")).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let entries = store.digest_entries("hebdo").unwrap();
        let periods: Vec<_> = entries
            .iter()
            .map(|e| (e.period.as_str(), e.state))
            .collect();
        assert_eq!(
            periods,
            [
                ("2026-W47", LedgerState::Empty),
                ("2026-W48", LedgerState::Sent)
            ]
        );
        let e = store.digest_entry("hebdo", "2026-W48").unwrap().unwrap();
        assert_eq!(e.history.len(), 2);
        assert_eq!(store.digest_issues("hebdo").unwrap().len(), 1);
        assert_eq!(
            store
                .digest_issue("hebdo", "2026-W48")
                .unwrap()
                .unwrap()
                .stories,
            3
        );
        assert!(store.digest_issue("hebdo", "2026-W47").unwrap().is_none());
        assert_eq!(
            store.digest_tick().unwrap(),
            Some(at("2026-11-30T07:01:00Z"))
        );
    }

    #[test]
    fn verify_finds_a_period_marked_sent_without_its_issue() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let t = at("2026-11-30T07:00:00Z");
        let mut e = LedgerEntry::new("hebdo", "2026-W48", LedgerState::Planned, t);
        store.save_digest_entry(&e).unwrap();
        assert_eq!(store.verify().unwrap().digest_entries, 1);
        // What record_digest_sent's transaction rules out: `sent` without the issue.
        e.step(LedgerState::Sent, t, None);
        store.save_digest_entry(&e).unwrap();
        let err = store.verify().unwrap_err().to_string();
        assert!(
            err.ends_with("corrupt digest entry hebdo 2026-W48: is sent but has no archived issue"),
            "{err}"
        );
        // And the converse: an issue whose entry never reached `sent`.
        let issue = ArchivedIssue {
            digest: "hebdo".into(),
            period: "2026-W47".into(),
            subject: "La lettre".into(),
            sent_at: t,
            message_id: "<x@y>".into(),
            stories: 1,
            html: String::new(),
            text: String::new(),
        };
        let mut planned = LedgerEntry::new("hebdo", "2026-W47", LedgerState::Planned, t);
        store.record_digest_sent(&planned, &issue).unwrap();
        store
            .t
            .ledger
            .remove(key("hebdo", "2026-W48").unwrap())
            .unwrap();
        let err = store.verify().unwrap_err().to_string();
        assert!(
            err.ends_with("has an archived issue but was never sent"),
            "{err}"
        );
        planned.step(LedgerState::Sent, t, None);
        store.record_digest_sent(&planned, &issue).unwrap();
        assert_eq!(store.verify().unwrap().digest_entries, 1);
    }

    #[test]
    fn the_ledger_and_archive_survive_backup_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a")).unwrap();
        let mut e = LedgerEntry::new(
            "hebdo",
            "2026-W48",
            LedgerState::Sent,
            at("2026-11-30T07:00:00Z"),
        );
        e.message_id = Some("<2026-W48.hebdo.digest@x>".into());
        let issue = ArchivedIssue {
            digest: "hebdo".into(),
            period: "2026-W48".into(),
            subject: "La lettre — semaine du 23 novembre 2026".into(),
            sent_at: at("2026-11-30T07:00:05Z"),
            message_id: "<2026-W48.hebdo.digest@x>".into(),
            stories: 2,
            html: "<p>é</p>".into(),
            text: "é".into(),
        };
        store.record_digest_sent(&e, &issue).unwrap();
        store
            .save_digest_entry(&LedgerEntry::new(
                "hebdo",
                "2026-W47",
                LedgerState::Skipped,
                at("2026-11-30T07:00:00Z"),
            ))
            .unwrap();
        let mut out = Vec::new();
        let stats = store.backup(&mut out).unwrap();
        assert_eq!(stats.digest_records, 3);
        assert!(stats.to_string().ends_with(", 3 digest records"));
        let restored = Store::open(&dir.path().join("b")).unwrap();
        let stats = restored.restore(&mut &out[..]).unwrap();
        assert_eq!(stats.digest_records, 3);
        assert_eq!(restored.digest_entries("hebdo").unwrap().len(), 2);
        assert_eq!(restored.digest_entry("hebdo", "2026-W48").unwrap(), Some(e));
        assert_eq!(
            restored.digest_issue("hebdo", "2026-W48").unwrap(),
            Some(issue)
        );
    }
}
