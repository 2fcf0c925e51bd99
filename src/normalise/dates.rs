//! Dates as partner feeds write them. Pure.

use chrono::{DateTime, Utc};

/// Parse a date in any common feed form (RFC 822 with named zones, RFC 3339, …).
/// `None` when it cannot be read; no zone means UTC.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .or_else(|_| DateTime::parse_from_rfc2822(s.trim()))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}
