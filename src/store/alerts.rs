//! The alerts' durable memory, the same idea as the digest ledger: one record per
//! incident (a source failing, silent or retired since a given time) saying whether its
//! alert and its "recovered" note went out, and one per weekly summary. Each change is
//! flushed before the next step, so that after a restart the same alert is never sent
//! twice (see `alerts` for the steps).
//!
//! | tree           | key                                  | value               |
//! |----------------|--------------------------------------|---------------------|
//! | `alert_ledger` | `i P(source) kind T(since)`          | [`Incident`] record |
//! | `alert_ledger` | `s occurrence` (RFC 3339, UTC)       | [`Summary`] record  |

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{source_prefix, time_bytes};
use super::{records, Store, StoreError};

/// What is wrong with a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Failing for longer than `[alerts] failing_after`.
    Failing,
    /// No new item for `[health] silent_after`.
    Silent,
    /// The server answered 410 Gone.
    Retired,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Failing => "failing",
            IncidentKind::Silent => "silent",
            IncidentKind::Retired => "retired",
        }
    }

    fn tag(self) -> u8 {
        match self {
            IncidentKind::Failing => b'f',
            IncidentKind::Silent => b's',
            IncidentKind::Retired => b'r',
        }
    }
}

/// Where one message (an alert, a recovered note, a summary) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    /// To be sent (again, after a temporary failure).
    Pending,
    /// A delivery attempt is under way; see [`Notice::handed_over`].
    Sending,
    Sent,
    /// Refused for good (5xx, bad address), or uncertain: the body was handed over and
    /// no verdict was recorded. Never sent again automatically.
    Failed,
    /// No longer worth sending: the incident ended before its alert went out, or
    /// ended in a way that needs no note (paused, removed, turned into another incident).
    Dropped,
}

/// One message's delivery record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub state: NoticeState,
    /// With its angle brackets; the same on every attempt.
    pub message_id: String,
    #[serde(default)]
    pub attempts: u32,
    /// Set once the server said "go ahead" and the body is about to go.
    #[serde(default)]
    pub handed_over: bool,
    #[serde(default)]
    pub error: Option<String>,
    /// Not before this time for the next attempt (after a temporary failure).
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Notice {
    pub fn pending(message_id: String, at: DateTime<Utc>) -> Notice {
        Notice {
            state: NoticeState::Pending,
            message_id,
            attempts: 0,
            handed_over: false,
            error: None,
            retry_at: None,
            sent_at: None,
            updated_at: at,
        }
    }
}

/// One incident of one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub source: String,
    pub kind: IncidentKind,
    /// When the trouble began (failing since, last new item, retired at): with the
    /// source and kind, the incident's identity.
    pub since: DateTime<Utc>,
    /// When relais decided it was an incident.
    pub opened_at: DateTime<Utc>,
    /// The error when opened (failing, retired).
    #[serde(default)]
    pub error: Option<String>,
    pub alert: Notice,
    /// Set when the condition ended.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The "recovered" note, when one is owed.
    #[serde(default)]
    pub recovery: Option<Notice>,
}

/// A weekly summary, by its scheduled occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub occurrence: DateTime<Utc>,
    pub notice: Notice,
}

fn incident_key(
    source: &str,
    kind: IncidentKind,
    since: DateTime<Utc>,
) -> Result<Vec<u8>, StoreError> {
    let prefix = source_prefix(source)
        .ok_or_else(|| StoreError::Other(format!("source id too long: {source:.40}")))?;
    let mut k = Vec::with_capacity(1 + prefix.len() + 1 + 12);
    k.push(b'i');
    k.extend_from_slice(&prefix);
    k.push(kind.tag());
    k.extend_from_slice(&time_bytes(since));
    Ok(k)
}

fn summary_key(occurrence: DateTime<Utc>) -> Vec<u8> {
    let mut k = vec![b's'];
    k.extend_from_slice(&time_bytes(occurrence));
    k
}

impl Store {
    /// Every incident ever recorded, by source.
    pub fn alert_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t.alerts.scan_prefix(b"i") {
            let (_, v) = entry.map_err(|e| self.storage(e))?;
            out.push(records::decode(&v).map_err(|m| self.corrupt("alert incident", &m))?);
        }
        Ok(out)
    }

    /// Writes an incident and flushes it before returning: the step is durable.
    pub fn save_alert_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let k = incident_key(&incident.source, incident.kind, incident.since)?;
        let bytes = records::encode(incident).map_err(StoreError::Other)?;
        self.t
            .alerts
            .insert(k, bytes)
            .map_err(|e| self.storage(e))?;
        self.flush()
    }

    /// The summary of the occurrence `at`, if any was recorded.
    pub fn alert_summary(&self, at: DateTime<Utc>) -> Result<Option<Summary>, StoreError> {
        match self
            .t
            .alerts
            .get(summary_key(at))
            .map_err(|e| self.storage(e))?
        {
            None => Ok(None),
            Some(v) => records::decode(&v)
                .map(Some)
                .map_err(|m| self.corrupt("alert summary", &m)),
        }
    }

    /// Writes a summary record, flushed before returning.
    pub fn save_alert_summary(&self, summary: &Summary) -> Result<(), StoreError> {
        let bytes = records::encode(summary).map_err(StoreError::Other)?;
        self.t
            .alerts
            .insert(summary_key(summary.occurrence), bytes)
            .map_err(|e| self.storage(e))?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn incidents_and_summaries_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let since = at("2026-11-24T07:30:00Z");
        let mut incident = Incident {
            source: "cuf".into(),
            kind: IncidentKind::Failing,
            since,
            opened_at: at("2026-11-25T08:00:00Z"),
            error: Some("500".into()),
            alert: Notice::pending("<a@x>".into(), at("2026-11-25T08:00:00Z")),
            resolved_at: None,
            recovery: None,
        };
        {
            let store = Store::open(&path).unwrap();
            store.save_alert_incident(&incident).unwrap();
            incident.alert.state = NoticeState::Sent;
            // Same identity: the record is replaced, not duplicated.
            store.save_alert_incident(&incident).unwrap();
            let mut other = incident.clone();
            other.source = "cu".into();
            store.save_alert_incident(&other).unwrap();
            store
                .save_alert_summary(&Summary {
                    occurrence: at("2026-11-23T07:00:00Z"),
                    notice: Notice::pending("<s@x>".into(), at("2026-11-23T07:00:00Z")),
                })
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let all = store.alert_incidents().unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.contains(&incident));
        let summary = store.alert_summary(at("2026-11-23T07:00:00Z")).unwrap();
        assert_eq!(
            summary.map(|s| s.notice.message_id),
            Some("<s@x>".to_string())
        );
        assert!(store
            .alert_summary(at("2026-11-30T07:00:00Z"))
            .unwrap()
            .is_none());
    }
}
