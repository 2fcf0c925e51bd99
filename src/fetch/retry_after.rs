//! Retry-After (RFC 9110 §10.2.3): how long a 429 or 503 asks us to stay away. Pure, so
//! the caller passes the clock. Values outside 1 minute – 24 hours are clamped: shorter
//! would let a server make us hammer it, longer would let one typo silence a partner for
//! weeks. Dates in the past and unparsable values are ignored, as the RFC allows.

use std::time::{Duration, SystemTime};

/// Shortest wait honoured.
pub const MIN_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Longest wait honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Parse a Retry-After value (delay in seconds, or an HTTP date) relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits but too large for u64 is still "a very long time", not garbage.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let when = httpdate::parse_http_date(value).ok()?;
        when.duration_since(now).ok().filter(|d| !d.is_zero())?
    };
    Some(wait.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER))
}
