//! When a digest is due: its cron expression evaluated in its own time zone. The only
//! module that speaks `croner`. Pure: every function takes the instant to reason about.
//!
//! Why not let the ticker decide: tokio-cron-scheduler 0.15 keeps the UTC offset a job
//! was created with (its issue #107: an 08:00 Europe/Paris job fires at 09:00 after the
//! March change) and a repeated job may stop once it falls behind (#113). So the ticker
//! only wakes relais up; what is due is computed here from the wall clock of the zone,
//! and the durable ledger says what was already done.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// The schedule of a digest when the configuration gives none: Monday 08:00.
pub const DEFAULT_SCHEDULE: &str = "0 0 8 * * Mon";

/// A parsed cron expression (5 fields, or 6 with seconds first), with its text.
#[derive(Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.text == other.text
    }
}

impl Schedule {
    /// Parses `text`; the error is a sentence for the configuration's error line.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let parser = CronParser::builder().seconds(Seconds::Optional).build();
        let cron = parser
            .parse(text.trim())
            .map_err(|e| format!("invalid cron expression `{text}`: {e}"))?;
        Ok(Schedule {
            text: text.trim().to_string(),
            cron,
        })
    }

    /// The latest occurrence at or before `now`, in `tz`'s wall clock.
    pub fn latest(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&now.with_timezone(&tz), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The occurrence before `at` (exclusive).
    pub fn before(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The first occurrence after `at` (exclusive).
    pub fn next(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&at.with_timezone(&tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The Monday 08:00 Europe/Paris digest is due at 08:00 local on both sides of each
    /// change: 06:00Z in summer time, 07:00Z in winter time.
    #[test]
    fn monday_eight_in_paris_across_daylight_saving_changes() {
        let s = Schedule::parse(DEFAULT_SCHEDULE).unwrap();
        let paris = chrono_tz::Europe::Paris;
        let cases = [
            // (now, latest due at or before now, next after now)
            // The week of the March change (Sunday 29 March 2026, 02:00 → 03:00).
            (
                "2026-03-28T12:00:00Z",
                "2026-03-23T07:00:00Z",
                "2026-03-30T06:00:00Z",
            ),
            (
                "2026-03-30T05:59:59Z",
                "2026-03-23T07:00:00Z",
                "2026-03-30T06:00:00Z",
            ),
            (
                "2026-03-30T06:00:00Z",
                "2026-03-30T06:00:00Z",
                "2026-04-06T06:00:00Z",
            ),
            // The week of the October change (Sunday 25 October 2026, 03:00 → 02:00).
            (
                "2026-10-24T12:00:00Z",
                "2026-10-19T06:00:00Z",
                "2026-10-26T07:00:00Z",
            ),
            (
                "2026-10-26T06:30:00Z",
                "2026-10-19T06:00:00Z",
                "2026-10-26T07:00:00Z",
            ),
            (
                "2026-10-26T07:00:00Z",
                "2026-10-26T07:00:00Z",
                "2026-11-02T07:00:00Z",
            ),
        ];
        for (now, latest, next) in cases {
            let now = at(now);
            assert_eq!(s.latest(now, paris), Some(at(latest)), "latest at {now}");
            assert_eq!(s.next(now, paris), Some(at(next)), "next after {now}");
        }
        assert_eq!(
            s.before(at("2026-03-30T06:00:00Z"), paris),
            Some(at("2026-03-23T07:00:00Z"))
        );
    }

    #[test]
    fn five_and_six_fields_and_errors() {
        let paris = chrono_tz::Europe::Paris;
        let five = Schedule::parse("30 7 * * 5").unwrap(); // Fridays 07:30
        assert_eq!(
            five.next(at("2026-11-25T00:00:00Z"), paris),
            Some(at("2026-11-27T06:30:00Z"))
        );
        let err = Schedule::parse("every monday").unwrap_err();
        assert!(
            err.starts_with("invalid cron expression `every monday`"),
            "{err}"
        );
        assert!(Schedule::parse("").is_err());
        assert!(Schedule::parse("0 0 25 * * Mon").is_err());
    }
}
