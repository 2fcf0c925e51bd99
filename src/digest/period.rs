//! Periods: the ISO weeks a digest covers, written `2026-W48`. A period is a calendar
//! notion, so its bounds depend on the digest's time zone: week 48 of 2026 in
//! Europe/Paris runs from Monday 23 November 00:00 (+01:00) to the next Monday 00:00.
//! Pure: no clock, no I/O.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// An ISO 8601 week. Its text form (`2026-W48`) sorts as time does, which the ledger's
/// keys rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    week: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid period `{0}`: expected an ISO week such as 2026-W48")]
pub struct PeriodError(String);

impl Period {
    /// The week `week` of ISO year `year`, if it exists (weeks 1 to 52, or 53 in long
    /// years).
    pub fn new(year: i32, week: u32) -> Option<Period> {
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?;
        (1000..=9999)
            .contains(&year)
            .then_some(Period { year, week })
    }

    /// The week a local date falls in.
    pub fn of_date(date: NaiveDate) -> Period {
        let iso = date.iso_week();
        Period {
            year: iso.year(),
            week: iso.week(),
        }
    }

    /// The week an instant falls in, seen from `tz`.
    pub fn containing(at: DateTime<Utc>, tz: Tz) -> Period {
        Period::of_date(at.with_timezone(&tz).date_naive())
    }

    /// The default period of a digest sent at `at`: the last full ISO week before it
    /// (the one before the week `at` falls in).
    pub fn before(at: DateTime<Utc>, tz: Tz) -> Period {
        Period::containing(at, tz).previous()
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn week(self) -> u32 {
        self.week
    }

    /// The Monday the week starts on.
    pub fn monday(self) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).unwrap_or_default()
    }

    /// The Sunday the week ends on.
    pub fn sunday(self) -> NaiveDate {
        self.monday() + Duration::days(6)
    }

    pub fn previous(self) -> Period {
        Period::of_date(self.monday() - Duration::days(7))
    }

    pub fn next(self) -> Period {
        Period::of_date(self.monday() + Duration::days(7))
    }

    /// The instant the week starts, Monday 00:00 in `tz`.
    pub fn start(self, tz: Tz) -> DateTime<Utc> {
        local_midnight(self.monday(), tz)
    }

    /// The instant the week ends (exclusive): the next Monday 00:00 in `tz`.
    pub fn end(self, tz: Tz) -> DateTime<Utc> {
        local_midnight(self.monday() + Duration::days(7), tz)
    }

    /// Whether `at` falls in the week, seen from `tz`.
    pub fn contains(self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.start(tz) <= at && at < self.end(tz)
    }
}

/// Midnight of `date` in `tz`. Where midnight does not exist (a zone that springs
/// forward at 00:00), the first instant of the day.
fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = date.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // Skip forward minute by minute through the gap (at most a few hours).
            (1..=24 * 60)
                .find_map(|m| {
                    tz.from_local_datetime(&(naive + Duration::minutes(m)))
                        .earliest()
                })
                .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    /// `2026-W48`, also `2026-w48` and `2026W48`.
    fn from_str(s: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError(s.to_string());
        let t = s.trim().to_ascii_uppercase();
        let (year, week) = t.split_once('W').ok_or_else(bad)?;
        let year = year.strip_suffix('-').unwrap_or(year);
        if year.len() != 4 || week.is_empty() || week.len() > 2 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let week: u32 = week.parse().map_err(|_| bad())?;
        Period::new(year, week).ok_or_else(bad)
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_parse_and_print() {
        let cases = [
            ("2026-W48", Some("2026-W48")),
            ("2026-w48", Some("2026-W48")),
            ("2026W01", Some("2026-W01")),
            (" 2026-W1 ", Some("2026-W01")),
            ("2026-W53", Some("2026-W53")), // 2026 has 53 ISO weeks
            ("2025-W53", None),
            ("2026-W00", None),
            ("2026-48", None),
            ("26-W48", None),
            ("2026-W480", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = text.parse::<Period>().ok().map(|p| p.to_string());
            assert_eq!(got.as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn bounds_follow_the_time_zone_across_dst() {
        let paris = chrono_tz::Europe::Paris;
        let w48: Period = "2026-W48".parse().unwrap();
        assert_eq!(w48.monday().to_string(), "2026-11-23");
        assert_eq!(w48.sunday().to_string(), "2026-11-29");
        assert_eq!(w48.start(paris), at("2026-11-22T23:00:00Z"));
        assert_eq!(w48.end(paris), at("2026-11-29T23:00:00Z"));
        // The week of the October change is 169 hours long, the March one 167.
        let w43: Period = "2026-W43".parse().unwrap();
        assert_eq!(w43.start(paris), at("2026-10-18T22:00:00Z"));
        assert_eq!(w43.end(paris), at("2026-10-25T23:00:00Z"));
        let w13: Period = "2026-W13".parse().unwrap();
        assert_eq!(w13.start(paris), at("2026-03-22T23:00:00Z"));
        assert_eq!(w13.end(paris), at("2026-03-29T22:00:00Z"));
        assert!(w48.contains(at("2026-11-29T22:59:59Z"), paris));
        assert!(!w48.contains(at("2026-11-29T23:00:00Z"), paris));
    }

    #[test]
    fn the_default_period_is_the_week_before_the_send_time() {
        let paris = chrono_tz::Europe::Paris;
        // Monday 30 November 2026, 08:00 in Paris.
        let p = Period::before(at("2026-11-30T07:00:00Z"), paris);
        assert_eq!(p.to_string(), "2026-W48");
        // Sunday 29 November 23:30 in Paris is still W48, so the period is W47.
        let p = Period::before(at("2026-11-29T22:30:00Z"), paris);
        assert_eq!(p.to_string(), "2026-W47");
        // Year boundaries: 2027-W01 starts on Monday 4 January 2027.
        let w1: Period = "2027-W01".parse().unwrap();
        assert_eq!(w1.previous().to_string(), "2026-W53");
        assert_eq!(w1.previous().next(), w1);
        assert!(w1.previous() < w1);
    }
}
