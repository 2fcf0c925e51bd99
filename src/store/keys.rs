//! Byte layouts of the store's keys. Everything is built so that sled's lexicographic
//! byte order is the order we want to iterate in: numbers are big-endian, signed
//! timestamps have their sign bit flipped (so 1969 sorts before 1970), and a source id is
//! length-prefixed so that one source's prefix can never be the prefix of another's
//! (`ab` vs `abc`), whatever characters ids contain.

use chrono::{DateTime, Utc};

/// Length of an encoded timestamp: 8 bytes of seconds, 4 of nanoseconds.
pub(crate) const TIME_LEN: usize = 12;
/// Length of an internal item number.
pub(crate) const NUM_LEN: usize = 8;

/// A timestamp as 12 bytes whose byte order is time order: seconds since the epoch
/// (signed, sign bit flipped, big-endian) then the sub-second nanoseconds. Exact to the
/// nanosecond so two items a few microseconds apart never swap places.
pub(crate) fn time_bytes(t: DateTime<Utc>) -> [u8; TIME_LEN] {
    let secs = (t.timestamp() as u64) ^ (1 << 63);
    let nanos = t.timestamp_subsec_nanos();
    let mut out = [0u8; TIME_LEN];
    out[..8].copy_from_slice(&secs.to_be_bytes());
    out[8..].copy_from_slice(&nanos.to_be_bytes());
    out
}

/// The inverse of [`time_bytes`]; `None` on a slice of the wrong length or a time out of
/// chrono's range.
#[cfg(test)]
pub(crate) fn time_from_bytes(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() != TIME_LEN {
        return None;
    }
    let secs: [u8; 8] = b.get(..8)?.try_into().ok()?;
    let nanos: [u8; 4] = b.get(8..)?.try_into().ok()?;
    let secs = (u64::from_be_bytes(secs) ^ (1 << 63)) as i64;
    DateTime::from_timestamp(secs, u32::from_be_bytes(nanos))
}

pub(crate) fn num_bytes(n: u64) -> [u8; NUM_LEN] {
    n.to_be_bytes()
}

/// Reads an item number from the last 8 bytes of a key or from an 8-byte value.
pub(crate) fn num_from_tail(b: &[u8]) -> Option<u64> {
    let start = b.len().checked_sub(NUM_LEN)?;
    let tail: [u8; NUM_LEN] = b.get(start..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// The prefix every per-source key starts with: a big-endian u16 length, then the id.
/// `None` when the id is too long to be prefixed (more than 65,535 bytes).
pub(crate) fn source_prefix(source: &str) -> Option<Vec<u8>> {
    let len = u16::try_from(source.len()).ok()?;
    let mut out = Vec::with_capacity(2 + source.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(source.as_bytes());
    Some(out)
}

/// `time ++ number`: the time index key. Newest first = reverse iteration; items published
/// at the same instant come out most recently first-seen first (higher number).
pub(crate) fn time_key(published: DateTime<Utc>, num: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(TIME_LEN + NUM_LEN);
    out.extend_from_slice(&time_bytes(published));
    out.extend_from_slice(&num_bytes(num));
    out
}

/// `source prefix ++ time ++ number`: the per-source index key.
pub(crate) fn source_time_key(prefix: &[u8], published: DateTime<Utc>, num: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + TIME_LEN + NUM_LEN);
    out.extend_from_slice(prefix);
    out.extend_from_slice(&time_bytes(published));
    out.extend_from_slice(&num_bytes(num));
    out
}

/// `source prefix ++ publisher id`: the id index and tombstone key. The id needs no
/// length because it ends the key.
pub(crate) fn id_key(prefix: &[u8], id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + id.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(id.as_bytes());
    out
}

/// Splits an id-index or tombstone key back into (source, id).
pub(crate) fn split_id_key(key: &[u8]) -> Option<(String, String)> {
    let len: [u8; 2] = key.get(..2)?.try_into().ok()?;
    let len = usize::from(u16::from_be_bytes(len));
    let source = key.get(2..2 + len)?;
    let id = key.get(2 + len..)?;
    Some((
        String::from_utf8(source.to_vec()).ok()?,
        String::from_utf8(id.to_vec()).ok()?,
    ))
}

/// Tag of the story index entries that hold a canonical URL's key (bands use 0..16).
pub(crate) const TAG_URL: u8 = 0x40;
/// Tag of the story index entries that hold a normalised title's key.
pub(crate) const TAG_TITLE: u8 = 0x41;
/// Length of a story index key: tag, bucket, day, item number.
pub(crate) const STORY_KEY_LEN: usize = 1 + 4 + 4 + NUM_LEN;

/// Days since 1970-01-01 (negative before), saturated to 32 bits.
pub(crate) fn day_of(t: DateTime<Utc>) -> i32 {
    let days = t.timestamp().div_euclid(86_400);
    days.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// A day as 4 bytes whose byte order is time order (sign bit flipped, big-endian).
fn day_bytes(day: i32) -> [u8; 4] {
    ((day as u32) ^ (1 << 31)).to_be_bytes()
}

/// `tag ++ bucket ++ day ++ number`: one entry of the story index. Candidates for a new
/// item are found by one range scan per tag and bucket over the days of its window.
pub(crate) fn story_key(tag: u8, bucket: u32, day: i32, num: u64) -> [u8; STORY_KEY_LEN] {
    let mut out = [0u8; STORY_KEY_LEN];
    out[0] = tag;
    out[1..5].copy_from_slice(&bucket.to_be_bytes());
    out[5..9].copy_from_slice(&day_bytes(day));
    out[9..].copy_from_slice(&num_bytes(num));
    out
}

/// The day of a story index key.
pub(crate) fn story_key_day(k: &[u8]) -> Option<i32> {
    let b: [u8; 4] = k.get(5..9)?.try_into().ok()?;
    Some((u32::from_be_bytes(b) ^ (1 << 31)) as i32)
}

/// The inclusive key range of one tag and bucket from day `from` to day `to`.
pub(crate) fn story_range(
    tag: u8,
    bucket: u32,
    from: i32,
    to: i32,
) -> ([u8; STORY_KEY_LEN], [u8; STORY_KEY_LEN]) {
    (
        story_key(tag, bucket, from, 0),
        story_key(tag, bucket, to, u64::MAX),
    )
}

/// `a ++ b`: an operator's override between two items (stored both ways).
pub(crate) fn pair_key(a: u64, b: u64) -> [u8; 2 * NUM_LEN] {
    let mut out = [0u8; 2 * NUM_LEN];
    out[..NUM_LEN].copy_from_slice(&num_bytes(a));
    out[NUM_LEN..].copy_from_slice(&num_bytes(b));
    out
}

/// The two item numbers of a pair key.
pub(crate) fn split_pair_key(key: &[u8]) -> Option<(u64, u64)> {
    if key.len() != 2 * NUM_LEN {
        return None;
    }
    let a: [u8; NUM_LEN] = key.get(..NUM_LEN)?.try_into().ok()?;
    let b: [u8; NUM_LEN] = key.get(NUM_LEN..)?.try_into().ok()?;
    Some((u64::from_be_bytes(a), u64::from_be_bytes(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_bytes_sort_as_time_including_before_1970() {
        let times = [
            DateTime::<Utc>::MIN_UTC,
            Utc.with_ymd_and_hms(1789, 7, 14, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap(),
            Utc.timestamp_opt(-1, 999_999_999).unwrap(),
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(0, 1).unwrap(),
            Utc.timestamp_opt(1, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap(),
            Utc.timestamp_opt(1_709_294_400, 1_000).unwrap(),
            DateTime::<Utc>::MAX_UTC,
        ];
        for pair in times.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(a < b, "table must be sorted: {a} {b}");
            assert!(time_bytes(a) < time_bytes(b), "{a} must sort before {b}");
        }
        for t in times {
            assert_eq!(
                time_from_bytes(&time_bytes(t)),
                Some(t),
                "round trip of {t}"
            );
        }
    }

    #[test]
    fn source_prefixes_never_nest() {
        let ab = source_prefix("ab").unwrap();
        let abc = source_prefix("abc").unwrap();
        assert!(!abc.starts_with(&ab));
        assert!(!id_key(&abc, "x").starts_with(&ab));
        assert_eq!(
            split_id_key(&id_key(&ab, "c/d é")),
            Some(("ab".to_string(), "c/d é".to_string()))
        );
        assert!(source_prefix(&"x".repeat(70_000)).is_none());
    }

    #[test]
    fn story_keys_sort_by_tag_bucket_then_day() {
        let d = |y, m, dd| day_of(Utc.with_ymd_and_hms(y, m, dd, 12, 0, 0).unwrap());
        assert_eq!(d(1970, 1, 1), 0);
        assert_eq!(d(1969, 12, 31), -1);
        assert!(story_key(1, 7, d(1969, 12, 31), 9) < story_key(1, 7, d(1970, 1, 1), 1));
        assert!(story_key(1, 7, d(2030, 1, 1), 9) < story_key(1, 8, d(1990, 1, 1), 1));
        let (lo, hi) = story_range(1, 7, d(2024, 1, 1), d(2024, 3, 1));
        let inside = story_key(1, 7, d(2024, 2, 1), 42);
        assert!(lo <= inside && inside <= hi);
        assert!(story_key(1, 7, d(2024, 3, 2), 0) > hi);
        assert_eq!(num_from_tail(&inside), Some(42));
        assert_eq!(split_pair_key(&pair_key(3, u64::MAX)), Some((3, u64::MAX)));
        assert_eq!(split_pair_key(&[1, 2]), None);
    }

    #[test]
    fn numbers_read_back_from_key_tails() {
        let t = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(num_from_tail(&time_key(t, 42)), Some(42));
        let p = source_prefix("ciedel").unwrap();
        assert_eq!(
            num_from_tail(&source_time_key(&p, t, u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(num_from_tail(&[1, 2, 3]), None);
    }
}
