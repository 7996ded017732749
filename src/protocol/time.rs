//! Timestamps: float Unix seconds in events, RFC 3339 in envelope headers.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time, serialized as float Unix seconds (`1764075600.125`), which the protocol accepts wherever it takes
/// a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub SystemTime);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp(SystemTime::now())
    }

    /// Seconds since the Unix epoch, with fractions; negative before 1970.
    pub fn as_secs_f64(&self) -> f64 {
        match self.0.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        }
    }

    /// Builds a timestamp from float Unix seconds; `None` for values that are not finite.
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() {
            return None;
        }
        let d = Duration::try_from_secs_f64(secs.abs()).ok()?;
        if secs >= 0.0 {
            UNIX_EPOCH.checked_add(d).map(Timestamp)
        } else {
            UNIX_EPOCH.checked_sub(d).map(Timestamp)
        }
    }

    /// Formats as RFC 3339 in UTC with microseconds, e.g. `2026-11-25T13:40:00.123456Z`.
    pub fn to_rfc3339(&self) -> String {
        Rfc3339(self.0).to_string()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp(t)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Microsecond precision is what the server keeps; rounding avoids float noise such as `.12499999`.
        let secs = (self.as_secs_f64() * 1e6).round() / 1e6;
        s.serialize_f64(secs)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(d)?;
        Timestamp::from_secs_f64(secs)
            .ok_or_else(|| serde::de::Error::custom("timestamp out of range"))
    }
}

/// `Display` adapter writing a `SystemTime` as RFC 3339 UTC with microseconds.
pub(crate) struct Rfc3339(pub(crate) SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Times before 1970 do not occur in practice for `sent_at`; clamp them to the epoch.
        let d = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs();
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            d.subsec_micros()
        )
    }
}

/// Parses RFC 3339 text such as `2026-11-25T13:40:00.123456Z` or `2026-11-25T15:40:00+02:00` (fractions to the
/// nanosecond, `t` and `z` in either case); `None` for anything else or a time before 1970.
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if b[at] == b'.' {
        at += 1;
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() {
            if at - start < 9 {
                nanos = nanos * 10 + u32::from(b[at] - b'0');
            }
            at += 1;
        }
        let len = at - start;
        if len == 0 {
            return None;
        }
        nanos *= 10u32.pow(9u32.saturating_sub(len as u32));
    }
    let offset = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(at + 1..at + 3)?, digits(at + 4..at + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let minutes = hours * 60 + minutes;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date; the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Howard Hinnant's `civil_from_days` algorithm (<https://howardhinnant.github.io/date_algorithms.html>), which is
/// exact for every day in the range of an `i64` that matters here and needs no calendar tables.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, micros * 1000)
    }

    #[test]
    fn rfc3339_known_dates() {
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 0, "2000-02-29T00:00:00.000000Z"),
            (1_764_077_696, 123_456, "2025-11-25T13:34:56.123456Z"),
            (4_107_542_399, 999_999, "2100-02-28T23:59:59.999999Z"),
            (4_107_542_400, 0, "2100-03-01T00:00:00.000000Z"),
        ];
        for (secs, micros, want) in cases {
            assert_eq!(Timestamp(at(secs, micros)).to_rfc3339(), want, "{secs}");
        }
    }

    #[test]
    fn rfc3339_parses_what_it_writes_and_offsets() {
        for secs in [0, 951_782_400, 1_764_077_696, 4_107_542_399, 4_107_542_400] {
            let time = at(secs, 123_456);
            assert_eq!(
                parse_rfc3339(&Rfc3339(time).to_string()),
                Some(time),
                "{secs}"
            );
        }
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z").map(|_| ()),
            Some(()),
            "a leap day"
        );
        assert_eq!(
            parse_rfc3339("2025-11-25T13:34:56Z"),
            Some(at(1_764_077_696, 0))
        );
        assert_eq!(
            parse_rfc3339("2025-11-25T15:34:56.5+02:00"),
            Some(at(1_764_077_696, 500_000))
        );
        assert_eq!(
            parse_rfc3339("2025-11-25t12:04:56.123456789-01:30"),
            Some(UNIX_EPOCH + Duration::new(1_764_077_696, 123_456_789))
        );
        for bad in [
            "",
            "2025-11-25",
            "2025-11-25T13:34:56",
            "2025-13-25T13:34:56Z",
            "2025-11-25T13:34:56.Z",
            "2025-11-25T13:34:56+0200",
            "2025-02-29T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-11-25T13:34:56+24:00",
            "2025-11-25T13:34:56+02:60",
            "1969-12-31T23:59:59Z",
            "2025-11-25T13:34:5xZ",
            "1764077696",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn float_seconds_round_trip() {
        let ts = Timestamp(at(1_764_077_696, 125_000));
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "1764077696.125");
        let back: Timestamp = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ts);
        assert!(Timestamp::from_secs_f64(f64::NAN).is_none());
    }
}
