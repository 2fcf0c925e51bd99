//! Byte encoding of the store's values. Every record is one version byte followed by
//! serde_json: JSON so that an operator (and `relais backup`) can always read the data
//! without this code, the version byte so that a future change of layout can be told apart
//! from today's without guessing.
//!
//! Evolution rules: adding a field (with a serde default) needs no new version — unknown
//! fields are ignored on read, so an older relais reads a newer record's known part.
//! Renaming, removing or changing the meaning of a field bumps [`RECORD_VERSION`] and
//! the store's schema version (see `SCHEMA_VERSION` in the parent module), with a
//! migration run at open.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::{Item, SourceState};
use crate::stories::Rule;

/// Version byte written in front of every record.
pub(crate) const RECORD_VERSION: u8 = 1;

/// An item as stored: the normalised item plus what only the store knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ItemRecord {
    /// When relais first stored this item; kept across updates.
    pub first_seen: DateTime<Utc>,
    pub item: Item,
}

/// What is remembered of a pruned item, so that it does not come back with the next poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TombstoneRecord {
    pub pruned_at: DateTime<Utc>,
    /// The pruned item's published time, for operators reading a backup.
    pub published: DateTime<Utc>,
}

/// A story as stored: its members and the primary among them. Members carry their
/// published time so that the primary (the earliest) is found without reading items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoryRecord {
    /// Item number of the primary member.
    pub primary: u64,
    pub members: Vec<MemberRecord>,
}

/// One item of a story and why it is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MemberRecord {
    pub item: u64,
    /// The item's `published`, as Unix seconds.
    pub at: i64,
    pub rule: Rule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The member it matched (or, for an operator merge, the item named with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<u64>,
}

impl StoryRecord {
    /// The earliest member (ties: the first stored) becomes the primary, and keeps the
    /// rule `primary`; a former primary that is no longer first keeps `primary` as its
    /// reason too (it founded the story).
    pub fn elect_primary(&mut self) {
        if let Some(first) = self.members.iter().min_by_key(|m| (m.at, m.item)) {
            self.primary = first.item;
        }
    }
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let mut out = vec![RECORD_VERSION];
    serde_json::to_writer(&mut out, value).map_err(|e| format!("cannot encode record: {e}"))?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match bytes.split_first() {
        None => Err("empty record".to_string()),
        Some((&RECORD_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|e| format!("undecodable record: {e}"))
        }
        Some((v, _)) => Err(format!(
            "record version {v} is not known to this relais (it knows {RECORD_VERSION})"
        )),
    }
}

pub(crate) fn encode_item(r: &ItemRecord) -> Result<Vec<u8>, String> {
    encode(r)
}

pub(crate) fn decode_item(b: &[u8]) -> Result<ItemRecord, String> {
    decode(b)
}

pub(crate) fn encode_state(s: &SourceState) -> Result<Vec<u8>, String> {
    encode(s)
}

pub(crate) fn decode_state(b: &[u8]) -> Result<SourceState, String> {
    decode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_ignore_unknown_fields_and_refuse_unknown_versions() {
        let state = SourceState {
            id: "ciedel".into(),
            failures: 2,
            ..SourceState::default()
        };
        let mut bytes = encode_state(&state).unwrap();
        assert_eq!(bytes.first(), Some(&RECORD_VERSION));
        assert_eq!(decode_state(&bytes).unwrap(), state);

        // A newer relais added a field: still readable.
        let mut json: serde_json::Value = serde_json::from_slice(&bytes[1..]).unwrap();
        json["added_later"] = serde_json::json!({"x": 1});
        let mut newer = vec![RECORD_VERSION];
        newer.extend(serde_json::to_vec(&json).unwrap());
        assert_eq!(decode_state(&newer).unwrap(), state);

        bytes[0] = RECORD_VERSION + 1;
        let err = decode_state(&bytes).unwrap_err();
        assert!(err.contains("record version 2"), "{err}");
        assert!(decode_state(&[]).unwrap_err().contains("empty"));
        assert!(decode_state(&[RECORD_VERSION, b'{'])
            .unwrap_err()
            .contains("undecodable"));
    }
}
