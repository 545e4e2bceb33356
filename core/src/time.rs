//! UTC instants with millisecond precision, supplied by the host.
//!
//! The core never reads a clock. A [`Timestamp`] is parsed from RFC 3339
//! text that carries an offset (`Z` or `±HH:MM`); naive times are refused,
//! because a commission paid on the wrong day is a wrong commission.
//! Fractions finer than a millisecond are truncated toward the past.
//! Timestamps print back as RFC 3339 in UTC (`2026-02-01T12:00:00Z`, or with
//! `.mmm` when the milliseconds are not zero).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind, Result};

const MS_PER_DAY: i64 = 86_400_000;

/// A UTC instant, in milliseconds since 1970-01-01T00:00:00Z.
///
/// Years 0001 to 9999 are representable.
///
/// ```
/// use upline::Timestamp;
///
/// let t = Timestamp::parse("2026-02-01T13:30:00+01:30", "at")?;
/// assert_eq!(t.to_string(), "2026-02-01T12:00:00Z");
/// assert!(Timestamp::parse("2026-02-01T12:00:00", "at").is_err()); // naive
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable instant, 0001-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(MIN_MS);
    /// The latest representable instant, 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp = Timestamp(MAX_MS);

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// The instant `millis` milliseconds after the Unix epoch, if it lies in
    /// years 0001–9999.
    pub fn from_millis(millis: i64) -> Option<Self> {
        (MIN_MS..=MAX_MS)
            .contains(&millis)
            .then_some(Timestamp(millis))
    }

    /// The instant `millis` milliseconds after the Unix epoch, for callers
    /// that took `millis` from valid instants (years 0001–9999) and so
    /// need no check in release builds.
    pub(crate) fn from_valid_millis(millis: i64) -> Self {
        debug_assert!((MIN_MS..=MAX_MS).contains(&millis));
        Timestamp(millis)
    }

    /// This instant plus `days` whole days, saturating at year 9999.
    pub fn plus_days(self, days: u32) -> Self {
        Timestamp((self.0 + i64::from(days) * MS_PER_DAY).min(MAX_MS))
    }

    /// The UTC calendar year of this instant.
    pub fn year(self) -> i32 {
        civil_from_days(self.0.div_euclid(MS_PER_DAY)).0 as i32
    }

    /// The first instant of UTC calendar year `year` (1–9999).
    pub fn start_of_year(year: i32) -> Option<Self> {
        if !(1..=9999).contains(&year) {
            return None;
        }
        Some(Timestamp(
            days_from_civil(i64::from(year), 1, 1) * MS_PER_DAY,
        ))
    }

    /// Parses RFC 3339 text with an offset; `field` names the input in errors.
    pub fn parse(text: &str, field: &str) -> Result<Self> {
        parse_rfc3339(text).ok_or_else(|| {
            let shown: String = text.chars().take(64).collect();
            Error::new(
                ErrorKind::InvalidTime,
                field,
                format!(
                    "{field} {shown:?} is not an RFC 3339 time with an offset \
                     (like 2026-02-01T12:00:00Z)"
                ),
            )
        })
    }
}

const MIN_MS: i64 = -62_135_596_800_000; // 0001-01-01T00:00:00Z
const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')),
    )
}

pub(crate) fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > 40 {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if let Some((b'.', frac)) = rest.split_first() {
        let len = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 || len > 9 {
            return None;
        }
        let mut ms_digits = [b'0'; 3];
        for (slot, digit) in ms_digits.iter_mut().zip(&frac[..len]) {
            *slot = *digit;
        }
        millis = digits(&ms_digits)?;
        rest = &frac[len..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2])?;
            let om = digits(&[*m1, *m2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let total = oh * 60 + om;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let ms = days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis
        - offset_minutes * 60_000;
    Timestamp::from_millis(ms)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a proleptic
// Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Timestamp {
    /// Writes the RFC 3339 UTC form into `buf` and returns it. Written by
    /// hand (no `fmt` machinery): records and audit blocks format several
    /// timestamps per sale.
    pub(crate) fn write_rfc3339(self, buf: &mut [u8; 24]) -> &str {
        // A sale's records repeat two instants (the sale's and the end of
        // its hold) in every line and entry: the last two texts written on
        // this thread are kept and copied instead of recomputed.
        thread_local! {
            static RECENT: std::cell::Cell<[(i64, [u8; 24], u8); 2]> =
                const { std::cell::Cell::new([(i64::MIN, [0; 24], 0); 2]) };
        }
        let mut recent = RECENT.get();
        // An empty slot (length 0) matches nothing.
        let len = match recent.iter().position(|r| r.2 != 0 && r.0 == self.0) {
            Some(i) => {
                *buf = recent[i].1;
                recent[i].2 as usize
            }
            None => {
                let len = self.format_rfc3339(buf);
                recent = [(self.0, *buf, len as u8), recent[0]];
                RECENT.set(recent);
                len
            }
        };
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&buf[..len]).unwrap_or("")
    }

    /// Writes the RFC 3339 UTC form into `buf`; returns its length.
    fn format_rfc3339(self, buf: &mut [u8; 24]) -> usize {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = ms_of_day / 1000;
        let millis = ms_of_day % 1000;
        let put = |buf: &mut [u8; 24], at: usize, value: i64, width: usize| {
            let mut value = value;
            for i in (0..width).rev() {
                buf[at + i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(buf, 0, year, 4);
        buf[4] = b'-';
        put(buf, 5, month, 2);
        buf[7] = b'-';
        put(buf, 8, day, 2);
        buf[10] = b'T';
        put(buf, 11, secs / 3600, 2);
        buf[13] = b':';
        put(buf, 14, secs / 60 % 60, 2);
        buf[16] = b':';
        put(buf, 17, secs % 60, 2);
        let end = if millis != 0 {
            buf[19] = b'.';
            put(buf, 20, millis, 3);
            23
        } else {
            19
        };
        buf[end] = b'Z';
        end + 1
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write_rfc3339(&mut [0; 24]))
    }
}

impl FromStr for Timestamp {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Timestamp::parse(text, "time")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(self.write_rfc3339(&mut [0; 24]))
        } else {
            // The audit encoder (not human-readable) takes the milliseconds
            // directly; see `crate::audit`.
            serializer.serialize_newtype_struct(crate::audit::TIME_MAGIC, &self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text, "time").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_cache_gives_the_text_of_the_instant_asked() {
        let a = Timestamp::parse("2026-02-01T12:00:00Z", "at").unwrap();
        let b = Timestamp::parse("2026-03-03T12:00:00.250Z", "at").unwrap();
        let c = Timestamp::parse("1999-12-31T23:59:59Z", "at").unwrap();
        for t in [
            a,
            b,
            a,
            c,
            b,
            a,
            Timestamp::MIN,
            Timestamp::MAX,
            c,
            Timestamp::MIN,
        ] {
            let mut plain = [0u8; 24];
            let len = t.format_rfc3339(&mut plain);
            let expected = std::str::from_utf8(&plain[..len]).unwrap().to_string();
            assert_eq!(t.to_string(), expected);
            assert_eq!(Timestamp::parse(&expected, "at").unwrap(), t);
        }
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(b.to_string(), "2026-03-03T12:00:00.250Z");
    }

    #[test]
    fn parses_offsets_and_prints_utc() {
        let t = Timestamp::parse("2026-05-31T23:59:59.999Z", "at").unwrap();
        assert_eq!(t.to_string(), "2026-05-31T23:59:59.999Z");
        let t = Timestamp::parse("2026-01-01T00:00:00-05:00", "at").unwrap();
        assert_eq!(t.to_string(), "2026-01-01T05:00:00Z");
        assert_eq!(t.year(), 2026);
    }

    #[test]
    fn refuses_naive_and_impossible_times() {
        for bad in [
            "2026-02-01T12:00:00",
            "2026-02-30T12:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-01T24:00:00Z",
            "2026-02-01",
            "0000-01-01T00:00:00Z",
            "2026-02-01T12:00:00.Z",
            "2026-02-01T12:00:00+1:00",
            "２026-02-01T12:00:00Z",
        ] {
            assert_eq!(
                Timestamp::parse(bad, "at").unwrap_err().kind(),
                ErrorKind::InvalidTime,
                "{bad}"
            );
        }
    }

    #[test]
    fn truncates_below_a_millisecond() {
        let t = Timestamp::parse("2026-02-01T12:00:00.123999Z", "at").unwrap();
        assert_eq!(t.to_string(), "2026-02-01T12:00:00.123Z");
    }

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-719_162..2_932_896).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
