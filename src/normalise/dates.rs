//! Dates as partner feeds write them. Pure: no clock, no locale; the ISO path does not
//! allocate.
//!
//! feed-rs calls [`parse_date`] for every timestamp it meets, so this module has to read
//! whatever publishers actually write, not just what the specs say: RFC 822/2822 with or
//! without a (possibly wrong) weekday, seconds, 2- or 4-digit years and named zones;
//! RFC 3339 / ISO 8601 / W3C-DTF down to a bare year; asctime and `date(1)` output; RFC
//! 850; and the French forms partner CMSs emit (« lundi 3 juillet 2019 à 14h00 »,
//! « 03/07/2019 »). Two grammars do the work: a strict one for ISO-like strings (the most
//! common and the only one where field order is fixed) and a token-based one that picks
//! month names, times, zones and numbers out of everything else. Anything that does not
//! make a real calendar date (hour 25, 30 February, month 13) is `None`: a wrong date is
//! worse than a missing one, which normalise turns into the first-seen time.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Longest input considered: real dates are under 50 characters, and the bound keeps a
/// hostile 1 MB "date" from costing anything.
const MAX_LEN: usize = 128;

/// Parse a date in any common feed form (RFC 822 with named zones, RFC 3339, …).
/// `None` when it cannot be read; no zone means UTC.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.len() > MAX_LEN {
        return None;
    }
    let b = s.as_bytes();
    if b.get(..4).is_some_and(|p| p.iter().all(u8::is_ascii_digit)) {
        if let Some(d) = parse_iso(b) {
            return Some(d);
        }
    }
    parse_loose(s)
}

/// Fields of a date before validation.
#[derive(Debug, Default, Clone, Copy)]
struct Parts {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nano: u32,
    /// East of UTC, in seconds.
    offset: i32,
}

impl Parts {
    /// The UTC instant, or `None` when a field is out of range.
    fn to_utc(self) -> Option<DateTime<Utc>> {
        if !(1..=9999).contains(&self.year) {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(self.year, self.month, self.day)?;
        // A leap second (:60) is read as :59 rather than refused: publishers copy it from
        // clocks that print it, and chrono's leap-second encoding is not worth it here.
        let time =
            NaiveTime::from_hms_nano_opt(self.hour, self.minute, self.second.min(59), self.nano)?;
        let local = NaiveDateTime::new(date, time);
        let utc = local.checked_sub_signed(Duration::seconds(i64::from(self.offset)))?;
        Some(Utc.from_utc_datetime(&utc))
    }
}

// ---------------------------------------------------------------------------------------
// ISO 8601 / RFC 3339 / W3C-DTF

/// A cursor over ASCII bytes for the strict grammar.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let end = self.i.checked_add(n)?;
        let slice = self.b.get(self.i..end)?;
        let mut v = 0u32;
        for &c in slice {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.i = end;
        Some(v)
    }

    fn at_digit(&self) -> bool {
        self.peek().is_some_and(|c| c.is_ascii_digit())
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.i..).unwrap_or_default()
    }

    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
}

/// `YYYY[-MM[-DD]]` or `YYYYMMDD`, then optionally `T`/space, `hh:mm[:ss[.frac]]` (or
/// `hhmmss`), then optionally a zone (`Z`, `±hh[:mm]`, `±hhmm`, a zone name).
fn parse_iso(b: &[u8]) -> Option<DateTime<Utc>> {
    let mut c = Cur { b, i: 0 };
    let mut p = Parts {
        month: 1,
        day: 1,
        ..Parts::default()
    };
    p.year = i32::try_from(c.digits(4)?).ok()?;
    if c.eat(b'-') {
        p.month = c.digits(2)?;
        if c.eat(b'-') {
            p.day = c.digits(2)?;
        }
    } else if c.at_digit() {
        p.month = c.digits(2)?;
        p.day = c.digits(2)?;
    }
    if c.done() {
        return p.to_utc();
    }
    // Date/time separator: `T`, or one or more spaces (the SQL-ish form).
    if !(c.eat(b'T') || c.eat(b't')) {
        let before = c.i;
        c.skip_spaces();
        if c.i == before {
            return None;
        }
    }
    p.hour = c.digits(2)?;
    let extended = c.eat(b':');
    p.minute = c.digits(2)?;
    if (extended && c.eat(b':')) || (!extended && c.at_digit()) {
        p.second = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            p.nano = fraction(&mut c)?;
        }
    }
    c.skip_spaces();
    if c.done() {
        return p.to_utc();
    }
    match c.peek() {
        Some(b'Z' | b'z') if c.rest().len() == 1 => {}
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let h = c.digits(2)?;
            let m = if c.eat(b':') || c.at_digit() {
                c.digits(2)?
            } else {
                0
            };
            c.skip_spaces();
            if !c.done() {
                return None;
            }
            p.offset = offset_seconds(sign == b'-', h, m)?;
        }
        _ => {
            // A zone name after an ISO time ("2019-07-03 14:00:00 CEST").
            let word = std::str::from_utf8(c.rest()).ok()?;
            p.offset = zone_offset(&word.to_ascii_lowercase())?;
        }
    }
    p.to_utc()
}

/// Fractional seconds: any number of digits, the first nine kept.
fn fraction(c: &mut Cur<'_>) -> Option<u32> {
    let start = c.i;
    let mut nano = 0u32;
    let mut n = 0;
    while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
        if n < 9 {
            nano = nano * 10 + u32::from(d - b'0');
            n += 1;
        }
        c.i += 1;
    }
    if c.i == start {
        return None;
    }
    while n < 9 {
        nano *= 10;
        n += 1;
    }
    Some(nano)
}

fn offset_seconds(negative: bool, hours: u32, minutes: u32) -> Option<i32> {
    if hours > 23 || minutes > 59 {
        return None;
    }
    let secs = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some(if negative { -secs } else { secs })
}

// ---------------------------------------------------------------------------------------
// Everything else: RFC 822/2822/850, asctime, French

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    /// ASCII digits, as written (leading zeros and length matter).
    Num(&'a str),
    Word(&'a str),
    Sym(char),
}

/// At most this many tokens: a real date has fewer than 15.
const MAX_TOKENS: usize = 24;

fn tokenize(s: &str) -> Option<Vec<Tok<'_>>> {
    let mut out = Vec::with_capacity(12);
    let mut it = s.char_indices().peekable();
    while let Some((i, ch)) = it.next() {
        let tok = if ch.is_ascii_digit() {
            let mut end = i + 1;
            while let Some(&(j, c)) = it.peek() {
                if !c.is_ascii_digit() {
                    break;
                }
                end = j + c.len_utf8();
                it.next();
            }
            Tok::Num(s.get(i..end)?)
        } else if ch.is_alphabetic() {
            let mut end = i + ch.len_utf8();
            while let Some(&(j, c)) = it.peek() {
                if !c.is_alphabetic() {
                    break;
                }
                end = j + c.len_utf8();
                it.next();
            }
            Tok::Word(s.get(i..end)?)
        } else if ch.is_whitespace() {
            continue;
        } else if ch == '(' {
            // RFC 822 comment, as in "+0100 (CET)": skipped whole.
            for (_, c) in it.by_ref() {
                if c == ')' {
                    break;
                }
            }
            continue;
        } else {
            Tok::Sym(ch)
        };
        out.push(tok);
        if out.len() > MAX_TOKENS {
            return None;
        }
    }
    Some(out)
}

fn num_value(s: &str) -> Option<u32> {
    if s.len() > 9 {
        return None;
    }
    s.parse().ok()
}

/// Month number from an English or French name or abbreviation (already lower-case).
fn month_number(w: &str) -> Option<u32> {
    Some(match w {
        "jan" | "january" | "janv" | "janvier" => 1,
        "feb" | "february" | "fév" | "fev" | "févr" | "fevr" | "février" | "fevrier" => 2,
        "mar" | "march" | "mars" => 3,
        "apr" | "april" | "avr" | "avril" => 4,
        "may" | "mai" => 5,
        "jun" | "june" | "juin" => 6,
        "jul" | "july" | "juil" | "juillet" => 7,
        "aug" | "august" | "aoû" | "aou" | "août" | "aout" => 8,
        "sep" | "sept" | "september" | "septembre" => 9,
        "oct" | "october" | "octobre" => 10,
        "nov" | "november" | "novembre" => 11,
        "dec" | "december" | "déc" | "décembre" | "decembre" => 12,
        _ => return None,
    })
}

/// English and French day names. French "mar" (mardi) is left to [`month_number`] and
/// sorted out when a second month name shows up.
fn is_weekday(w: &str) -> bool {
    matches!(
        w,
        "mon"
            | "monday"
            | "tue"
            | "tues"
            | "tuesday"
            | "wed"
            | "wednesday"
            | "thu"
            | "thur"
            | "thurs"
            | "thursday"
            | "fri"
            | "friday"
            | "sat"
            | "saturday"
            | "sun"
            | "sunday"
            | "lun"
            | "lundi"
            | "mardi"
            | "mer"
            | "mercredi"
            | "jeu"
            | "jeudi"
            | "ven"
            | "vendredi"
            | "sam"
            | "samedi"
            | "dim"
            | "dimanche"
    )
}

/// Little words between the parts of a date in English or French prose.
fn is_filler(w: &str) -> bool {
    matches!(
        w,
        "à" | "a"
            | "at"
            | "le"
            | "the"
            | "on"
            | "of"
            | "de"
            | "du"
            | "er"
            | "st"
            | "nd"
            | "rd"
            | "th"
    )
}

/// Offset of a named zone (lower-case), in seconds east of UTC. Military single letters
/// are read as UTC: RFC 2822 itself says their sign was botched in RFC 822 and that they
/// should be taken as `-0000`.
fn zone_offset(w: &str) -> Option<i32> {
    const H: i32 = 3600;
    Some(match w {
        "ut" | "utc" | "gmt" | "z" | "zulu" | "wet" => 0,
        "est" => -5 * H,
        "edt" => -4 * H,
        "cst" => -6 * H,
        "cdt" => -5 * H,
        "mst" => -7 * H,
        "mdt" => -6 * H,
        "pst" => -8 * H,
        "pdt" => -7 * H,
        "akst" => -9 * H,
        "akdt" => -8 * H,
        "hst" => -10 * H,
        "ast" => -4 * H,
        "adt" => -3 * H,
        "cet" | "met" | "bst" | "west" | "wat" => H,
        "cest" | "mest" | "eet" | "cat" | "sast" => 2 * H,
        "eest" | "msk" | "eat" => 3 * H,
        "jst" | "kst" => 9 * H,
        "aest" => 10 * H,
        "aedt" => 11 * H,
        "nzst" => 12 * H,
        "nzdt" => 13 * H,
        _ if w.len() == 1 && w.as_bytes().first().is_some_and(u8::is_ascii_lowercase) => 0,
        _ => return None,
    })
}

/// A time at `toks[i..]`: `hh:mm[:ss[.frac]]` or the French `14h`, `14h30`, `14 h 30`.
/// Returns (hour, minute, second, nano, tokens used).
fn read_time(toks: &[Tok<'_>], i: usize) -> Option<(u32, u32, u32, u32, usize)> {
    let tok = |k: usize| toks.get(i + k).copied();
    let Some(Tok::Num(h)) = tok(0) else {
        return None;
    };
    if h.len() > 2 {
        return None;
    }
    let hour = num_value(h)?;
    match tok(1) {
        Some(Tok::Sym(':')) => {
            let Some(Tok::Num(m)) = tok(2) else {
                return None;
            };
            if m.len() > 2 {
                return None;
            }
            let minute = num_value(m)?;
            let (mut second, mut nano, mut used) = (0, 0, 3);
            if let (Some(Tok::Sym(':')), Some(Tok::Num(sec))) = (tok(3), tok(4)) {
                if sec.len() > 2 {
                    return None;
                }
                second = num_value(sec)?;
                used = 5;
                if let (Some(Tok::Sym('.' | ',')), Some(Tok::Num(frac))) = (tok(5), tok(6)) {
                    let mut c = Cur {
                        b: frac.as_bytes(),
                        i: 0,
                    };
                    nano = fraction(&mut c)?;
                    used = 7;
                }
            }
            Some((hour, minute, second, nano, used))
        }
        Some(Tok::Word(w)) if w.eq_ignore_ascii_case("h") => match tok(2) {
            Some(Tok::Num(m)) if m.len() == 2 => Some((hour, num_value(m)?, 0, 0, 3)),
            _ => Some((hour, 0, 0, 0, 2)),
        },
        _ => None,
    }
}

/// A numeric offset at `toks[i..]` just after a sign: `hhmm`, `hh`, `h`, or `hh:mm`.
/// Returns (hours, minutes, tokens used).
fn read_offset(toks: &[Tok<'_>], i: usize) -> Option<(u32, u32, usize)> {
    let tok = |k: usize| toks.get(i + k).copied();
    let Some(Tok::Num(n)) = tok(0) else {
        return None;
    };
    match n.len() {
        4 => {
            let v = num_value(n)?;
            Some((v / 100, v % 100, 1))
        }
        1 | 2 => {
            let h = num_value(n)?;
            if let (Some(Tok::Sym(':')), Some(Tok::Num(m))) = (tok(1), tok(2)) {
                if m.len() == 2 {
                    return Some((h, num_value(m)?, 3));
                }
            }
            Some((h, 0, 1))
        }
        _ => None,
    }
}

/// A word that can only be a zone name nobody told us about: 3 to 5 upper-case ASCII
/// letters, as RFC 2822 §4.3 describes them (`XYZ`, `MESZ`, `BRST`); anything else
/// after a time ("Zjunk", "environ") still makes the string no date.
fn is_unknown_zone(w: &str) -> bool {
    (3..=5).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_uppercase())
}

/// The token grammar: picks a month name, a time, a zone and up to two bare numbers
/// (day, year) out of the tokens, in any order; or a numeric `d/m/y` (`y/m/d` when the
/// first part has four digits — partner feeds are French, so day first).
fn parse_loose(s: &str) -> Option<DateTime<Utc>> {
    let toks = tokenize(s)?;
    let mut month: Option<u32> = None;
    let mut month_was_mar = false;
    let mut day: Option<u32> = None;
    let mut year: Option<(u32, usize)> = None;
    let mut time: Option<(u32, u32, u32, u32)> = None;
    // A numeric offset wins over a zone name next to it: "GMT+0200", "UTC -5",
    // "+0000 UTC" (Go), "+0100 CET".
    let mut offset_named: Option<i32> = None;
    let mut offset_numeric: Option<i32> = None;
    let mut pm: Option<bool> = None;
    let mut numbers: [(u32, usize); 2] = [(0, 0); 2];
    let mut n_numbers = 0;
    let mut lower = String::new();

    let mut i = 0;
    while let Some(t) = toks.get(i) {
        match *t {
            Tok::Word(w) => {
                let original = w;
                lower.clear();
                lower.extend(w.chars().flat_map(char::to_lowercase));
                let w = lower.as_str();
                let prev_num = i > 0 && matches!(toks.get(i - 1).copied(), Some(Tok::Num(_)));
                let next_num = matches!(toks.get(i + 1).copied(), Some(Tok::Num(_)));
                if let Some(m) = month_number(w) {
                    match month {
                        None => {
                            month = Some(m);
                            month_was_mar = w == "mar";
                        }
                        // "mar. 3 juillet 2019": the first "mar" was mardi.
                        Some(_) if month_was_mar => {
                            month = Some(m);
                            month_was_mar = false;
                        }
                        Some(_) => return None,
                    }
                } else if is_weekday(w) || is_filler(w) {
                } else if w == "t" && prev_num && next_num {
                    // The ISO separator in an otherwise loose string.
                } else if w == "am" || w == "pm" {
                    pm = Some(w == "pm");
                } else if let Some(off) = zone_offset(w) {
                    if offset_named.replace(off).is_some() {
                        return None;
                    }
                } else if time.is_some() && offset_named.is_none() && is_unknown_zone(original) {
                    // RFC 2822 §4.3: an alphabetic zone whose meaning is not known is
                    // read as -0000. Hours off at worst, where refusing the date would
                    // make the item "new" today.
                    offset_named = Some(0);
                } else {
                    return None;
                }
                i += 1;
            }
            Tok::Num(n) => {
                if let Some((h, m, sec, nano, used)) = read_time(&toks, i) {
                    if time.is_some() {
                        return None;
                    }
                    time = Some((h, m, sec, nano));
                    i += used;
                    continue;
                }
                if let Some((d, m, y, used)) = read_numeric_date(&toks, i) {
                    if day.is_some() || month.is_some() || year.is_some() {
                        return None;
                    }
                    day = Some(d);
                    month = Some(m);
                    year = Some(y);
                    i += used;
                    continue;
                }
                let slot = numbers.get_mut(n_numbers)?;
                *slot = (num_value(n)?, n.len());
                n_numbers += 1;
                i += 1;
            }
            Tok::Sym(sign @ ('+' | '-')) => {
                // Offsets follow the time in every form; before it, a dash is a
                // separator ("3 juillet 2019 - 14:00", "06-Nov-94").
                let is_offset = time.is_some();
                match read_offset(&toks, i + 1) {
                    Some((h, m, used)) if is_offset => {
                        let off = offset_seconds(sign == '-', h, m)?;
                        if offset_numeric.replace(off).is_some() {
                            return None;
                        }
                        i += 1 + used;
                    }
                    _ => i += 1,
                }
            }
            Tok::Sym(_) => i += 1,
        }
    }

    // Bare numbers: a long one or one above 31 is the year, otherwise day then year.
    for &(v, len) in numbers.iter().take(n_numbers) {
        if len >= 3 || v > 31 {
            if year.is_some() {
                return None;
            }
            year = Some((v, len));
        } else if day.is_none() {
            day = Some(v);
        } else if year.is_none() {
            year = Some((v, len));
        } else {
            return None;
        }
    }

    let (y, ylen) = year?;
    let (mut hour, minute, second, nano) = time.unwrap_or_default();
    if let Some(pm) = pm {
        if hour == 0 || hour > 12 {
            return None;
        }
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
    }
    Parts {
        year: full_year(y, ylen)?,
        month: month?,
        day: day.unwrap_or(1),
        hour,
        minute,
        second,
        nano,
        offset: offset_numeric.or(offset_named).unwrap_or(0),
    }
    .to_utc()
}

/// RFC 2822 §4.3: a 2-digit year below 50 is 20xx, otherwise 19xx; a 3-digit year gets
/// 1900 added.
fn full_year(y: u32, len: usize) -> Option<i32> {
    let y = i32::try_from(y).ok()?;
    Some(match len {
        1 | 2 if y < 50 => 2000 + y,
        1 | 2 => 1900 + y,
        3 => 1900 + y,
        _ => y,
    })
}

/// `d/m/y`, `d.m.y`, `d-m-y` (or `y/m/d` when the first part has four digits), the same
/// separator twice. Returns (day, month, (year, digits), tokens used).
fn read_numeric_date(toks: &[Tok<'_>], i: usize) -> Option<(u32, u32, (u32, usize), usize)> {
    let tok = |k: usize| toks.get(i + k).copied();
    let (
        Some(Tok::Num(a)),
        Some(Tok::Sym(s1)),
        Some(Tok::Num(b)),
        Some(Tok::Sym(s2)),
        Some(Tok::Num(c)),
    ) = (tok(0), tok(1), tok(2), tok(3), tok(4))
    else {
        return None;
    };
    if s1 != s2 || !matches!(s1, '/' | '.' | '-') || b.len() > 2 {
        return None;
    }
    let (a_v, b_v, c_v) = (num_value(a)?, num_value(b)?, num_value(c)?);
    if a.len() == 4 && c.len() <= 2 {
        Some((c_v, b_v, (a_v, a.len()), 5))
    } else if a.len() <= 2 && matches!(c.len(), 2 | 4) {
        Some((a_v, b_v, (c_v, c.len()), 5))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        match DateTime::parse_from_rfc3339(s) {
            Ok(d) => d.with_timezone(&Utc),
            Err(e) => panic!("bad expectation {s}: {e}"),
        }
    }

    #[test]
    fn table() {
        let cases: &[(&str, Option<&str>)] = &[
            // RFC 822 / 2822
            (
                "Mon, 08 Mar 2021 10:15:00 +0100",
                Some("2021-03-08T09:15:00Z"),
            ),
            (
                "Tue, 16 Jun 2020 09:00:00 +0200",
                Some("2020-06-16T07:00:00Z"),
            ),
            ("08 Mar 2021 10:15:00 +0100", Some("2021-03-08T09:15:00Z")),
            (
                "Mon,08 Mar 2021 10:15:00 +0100",
                Some("2021-03-08T09:15:00Z"),
            ),
            // wrong weekday: 8 March 2021 was a Monday
            (
                "Fri, 08 Mar 2021 10:15:00 +0100",
                Some("2021-03-08T09:15:00Z"),
            ),
            ("Mon, 08 Mar 2021 10:15 +0100", Some("2021-03-08T09:15:00Z")),
            ("Mon, 8 Mar 2021 9:05:07 GMT", Some("2021-03-08T09:05:07Z")),
            (
                "Mon, 08 March 2021 10:15:00 UT",
                Some("2021-03-08T10:15:00Z"),
            ),
            (
                "Mon, 08 Mar 21 10:15:00 +0100",
                Some("2021-03-08T09:15:00Z"),
            ),
            (
                "Thu, 09 Mar 99 10:15:00 +0100",
                Some("1999-03-09T09:15:00Z"),
            ),
            ("Sun, 09 Mar 49 10:15:00 Z", Some("2049-03-09T10:15:00Z")),
            ("Wed, 09 Mar 50 10:15:00 Z", Some("1950-03-09T10:15:00Z")),
            (
                "Mon, 08 Mar 2021 10:15:00 -0500",
                Some("2021-03-08T15:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 EST",
                Some("2021-03-08T15:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 EDT",
                Some("2021-03-08T14:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 CST",
                Some("2021-03-08T16:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 CDT",
                Some("2021-03-08T15:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 MST",
                Some("2021-03-08T17:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 MDT",
                Some("2021-03-08T16:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 PST",
                Some("2021-03-08T18:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 PDT",
                Some("2021-03-08T17:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 CET",
                Some("2021-03-08T09:15:00Z"),
            ),
            (
                "Mon, 08 Jun 2021 10:15:00 CEST",
                Some("2021-06-08T08:15:00Z"),
            ),
            (
                "Mon, 08 Jun 2021 10:15:00 BST",
                Some("2021-06-08T09:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 MET",
                Some("2021-03-08T09:15:00Z"),
            ),
            (
                "Mon, 08 Jun 2021 10:15:00 MEST",
                Some("2021-06-08T08:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 UTC",
                Some("2021-03-08T10:15:00Z"),
            ),
            ("Mon, 08 Mar 2021 10:15:00 A", Some("2021-03-08T10:15:00Z")),
            (
                "Mon, 08 Mar 2021 10:15:00 +0100 (CET)",
                Some("2021-03-08T09:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:00 GMT+0100",
                Some("2021-03-08T09:15:00Z"),
            ),
            ("Mon, 08 Mar 2021 10:15:00", Some("2021-03-08T10:15:00Z")),
            ("08 Mar 2021", Some("2021-03-08T00:00:00Z")),
            (
                "Mon, 8 Mar 2021 10:15:00 +01:00",
                Some("2021-03-08T09:15:00Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15:60 +0000",
                Some("2021-03-08T10:15:59Z"),
            ),
            (
                "Mon, 08 Mar 2021 10:15 PM +0000",
                Some("2021-03-08T22:15:00Z"),
            ),
            // RFC 850 and asctime, date(1)
            (
                "Sunday, 06-Nov-94 08:49:37 GMT",
                Some("1994-11-06T08:49:37Z"),
            ),
            ("Sun Nov  6 08:49:37 1994", Some("1994-11-06T08:49:37Z")),
            (
                "Wed Jul  3 14:00:00 CEST 2019",
                Some("2019-07-03T12:00:00Z"),
            ),
            // RFC 3339 / ISO 8601 / W3C-DTF
            ("2021-02-15T09:00:00+01:00", Some("2021-02-15T08:00:00Z")),
            ("2021-09-20T07:00:00Z", Some("2021-09-20T07:00:00Z")),
            ("2021-09-20t07:00:00z", Some("2021-09-20T07:00:00Z")),
            ("2021-09-20 07:00:00", Some("2021-09-20T07:00:00Z")),
            ("2021-09-20T07:00", Some("2021-09-20T07:00:00Z")),
            ("2021-09-20T07:00+02:00", Some("2021-09-20T05:00:00Z")),
            (
                "2021-09-20T07:00:00.25+01:00",
                Some("2021-09-20T06:00:00.25Z"),
            ),
            (
                "2021-09-20T07:00:00.123456789123Z",
                Some("2021-09-20T07:00:00.123456789Z"),
            ),
            ("2021-09-20T07:00:00,5Z", Some("2021-09-20T07:00:00.5Z")),
            ("2021-09-20T07:00:00+0200", Some("2021-09-20T05:00:00Z")),
            ("2021-09-20T07:00:00-05", Some("2021-09-20T12:00:00Z")),
            ("2021-09-20T07:00:00 +02:00", Some("2021-09-20T05:00:00Z")),
            ("2021-09-20 07:00:00 CEST", Some("2021-09-20T05:00:00Z")),
            ("2021-09-20", Some("2021-09-20T00:00:00Z")),
            ("2021-09", Some("2021-09-01T00:00:00Z")),
            ("2021", Some("2021-01-01T00:00:00Z")),
            ("20210920", Some("2021-09-20T00:00:00Z")),
            ("20210920T070000Z", Some("2021-09-20T07:00:00Z")),
            ("  2021-09-20T07:00:00Z \n", Some("2021-09-20T07:00:00Z")),
            ("9999-12-31T23:59:59Z", Some("9999-12-31T23:59:59Z")),
            ("2019/07/03", Some("2019-07-03T00:00:00Z")),
            ("2019-07-03 à 14h00", Some("2019-07-03T14:00:00Z")),
            // French
            ("3 juillet 2019", Some("2019-07-03T00:00:00Z")),
            ("lundi 3 juillet 2019 14:00", Some("2019-07-03T14:00:00Z")),
            ("Lundi 3 juillet 2019 - 14:00", Some("2019-07-03T14:00:00Z")),
            ("3 juillet 2019, 14:00 +0200", Some("2019-07-03T12:00:00Z")),
            (
                "Mercredi 3 Juillet 2019 à 14h30",
                Some("2019-07-03T14:30:00Z"),
            ),
            ("mer. 3 juil. 2019 14h", Some("2019-07-03T14:00:00Z")),
            ("mar. 2 juil. 2019", Some("2019-07-02T00:00:00Z")),
            ("1er février 2020", Some("2020-02-01T00:00:00Z")),
            ("15 août 2020 10:00 CEST", Some("2020-08-15T08:00:00Z")),
            ("5 décembre 2018", Some("2018-12-05T00:00:00Z")),
            ("03/07/2019", Some("2019-07-03T00:00:00Z")),
            ("03/07/2019 14:00", Some("2019-07-03T14:00:00Z")),
            ("03.07.2019", Some("2019-07-03T00:00:00Z")),
            ("03-07-2019", Some("2019-07-03T00:00:00Z")),
            ("3/7/19", Some("2019-07-03T00:00:00Z")),
            ("juillet 2019", Some("2019-07-01T00:00:00Z")),
            // invalid
            ("", None),
            ("   ", None),
            ("not a date", None),
            ("Mon, 08 Mar 2021 25:15:00 +0100", None),
            ("Mon, 08 Mar 2021 24:00:00 +0100", None),
            ("Mon, 08 Mar 2021 10:61:00 +0100", None),
            ("30 Feb 2021", None),
            ("Tue, 30 Feb 2021 10:00:00 GMT", None),
            ("2021-02-30", None),
            ("2021-13-01", None),
            ("2021-00-10", None),
            ("2021-09-20T25:00:00Z", None),
            ("2021-09-20T07:00:00+25:00", None),
            ("2021-09-20T07:00:00Zjunk", None),
            ("13/13/2019", None),
            ("31/04/2019", None),
            ("Mon, 08 Foo 2021 10:15:00 +0100", None),
            ("Mon, 08 Mar 10:15:00 +0100", None),
            ("1 2 3 4", None),
            ("0000-01-01", None),
            ("12:00", None),
            ("Mon, 08 Mar 2021 10:15:00 +0100 +0200", None),
            ("Mon, 08 Mar 2021 10:15:00 CET CEST", None),
            ("Mon, 08 Mar 2021 10:15:123 GMT", None),
            ("Mon, 08 Mar 2021 13:15 PM +0000", None),
            // An unknown zone after the time is -0000 (RFC 2822 §4.3); before it, or
            // a second one, or a long word, is not a date.
            (
                "Mon, 08 Mar 2021 10:15:00 XYZ",
                Some("2021-03-08T10:15:00Z"),
            ),
            ("Mon, 08 Mar 2021 10:15 BRST", Some("2021-03-08T10:15:00Z")),
            ("Mon, 08 Mar 2021 10:15:00 CET XYZ", None),
            ("Mon, 08 Mar 2021 XYZ 10:15:00", None),
            ("Mon, 08 Mar 2021 10:15:00 environ", None),
        ];
        let mut failures = Vec::new();
        for &(input, want) in cases {
            let got = parse_date(input);
            let want = want.map(utc);
            if got != want {
                failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let long = "9".repeat(10_000);
        let many = "1 ".repeat(100);
        let inputs = [
            long.as_str(),
            many.as_str(),
            "99999999999999999999",
            "2021-",
            "2021-0",
            "2021-09-",
            "2021-09-20T",
            "2021-09-20T07",
            "2021-09-20T07:",
            "2021-09-20T07:00:00.",
            "2021-09-20T07:00:00+",
            "2021-09-20T07:00:00+0",
            "((((",
            "Mon, 08 Mar 2021 10:15:00 +",
            "-0000",
            "+99:99",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "é",
            "\u{0}\u{1}",
            "4294967296 Mar 2021",
            "08 Mar 4294967296",
        ];
        for s in inputs {
            let _ = parse_date(s);
        }
        // Year 9999 minus an offset overflows into year 10000: still a valid instant.
        assert!(parse_date("9999-12-31T23:59:59-23:59").is_some());
    }
}
