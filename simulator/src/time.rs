//! Simulated time: instants, durations, and their text forms.
//!
//! Everything in the simulator measures time in whole milliseconds since the Unix epoch (UTC), as
//! a plain `i64` wrapped in [`SimTime`]. Millisecond resolution is enough for every rule the
//! connector has (the call-limit window, `Retry-After` in whole seconds, task durations in minutes)
//! and keeps arithmetic exact and deterministic.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant on the simulation clock: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub i64);

/// A span of simulated time in milliseconds (never negative when built from text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub i64);

impl SimTime {
    /// 2026-01-01T00:00:00Z: the default start of virtual time and the anchor of generated data.
    pub const DEFAULT_EPOCH: SimTime = SimTime(1_767_225_600_000);

    pub fn from_millis(ms: i64) -> Self {
        SimTime(ms)
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 date-time (`2026-01-01T00:00:00Z`, offsets allowed) or a bare date
    /// (`2026-01-01`, taken as midnight UTC).
    pub fn parse_rfc3339(text: &str) -> Option<SimTime> {
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Some(SimTime(ts.as_millisecond()));
        }
        // Only a bare `YYYY-MM-DD` is a date; a date-time without an offset is ambiguous and
        // rejected rather than silently truncated to midnight.
        if text.len() != 10 {
            return None;
        }
        let date = text.parse::<jiff::civil::Date>().ok()?;
        let ts = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
        Some(SimTime(ts.as_millisecond()))
    }

    /// Whole days since the Unix epoch (floor) and the millisecond within that day.
    fn split_days(self) -> (i64, i64) {
        (self.0.div_euclid(86_400_000), self.0.rem_euclid(86_400_000))
    }

    /// Appends the RFC 3339 form (`2026-01-01T08:30:00Z`, with `.mmm` only when the milliseconds
    /// are not zero) to `out`. Hand-written because it runs once per date field per row served.
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        let (days, ms_of_day) = self.split_days();
        write_date(days, out);
        let secs = ms_of_day / 1000;
        let ms = ms_of_day % 1000;
        out.push(b'T');
        push_2(out, secs / 3600);
        out.push(b':');
        push_2(out, (secs / 60) % 60);
        out.push(b':');
        push_2(out, secs % 60);
        if ms != 0 {
            out.push(b'.');
            push_2(out, ms / 10);
            out.push(b'0' + (ms % 10) as u8);
        }
        out.push(b'Z');
    }

    pub fn to_rfc3339(self) -> String {
        let mut out = Vec::with_capacity(24);
        self.write_rfc3339(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Appends `YYYY-MM-DD` for a day count since the Unix epoch.
pub fn write_date(days: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        push_2(out, y / 100);
        push_2(out, y % 100);
    } else {
        out.extend_from_slice(format!("{y:04}").as_bytes());
    }
    out.push(b'-');
    push_2(out, m);
    out.push(b'-');
    push_2(out, d);
}

fn push_2(out: &mut Vec<u8>, v: i64) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}

impl Sub<SimDuration> for SimTime {
    type Output = SimTime;
    fn sub(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(rhs.0))
    }
}

/// Why a duration text was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration \"{text}\": {reason}; write a number and a unit, e.g. 500ms, 30s, 5m, 2h, 1d or 1h30m"
)]
pub struct DurationError {
    pub text: String,
    pub reason: &'static str,
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_millis(ms: i64) -> Self {
        SimDuration(ms)
    }

    pub const fn from_secs(s: i64) -> Self {
        SimDuration(s * 1000)
    }

    pub const fn from_mins(m: i64) -> Self {
        SimDuration(m * 60_000)
    }

    pub const fn from_hours(h: i64) -> Self {
        SimDuration(h * 3_600_000)
    }

    pub const fn from_days(d: i64) -> Self {
        SimDuration(d * 86_400_000)
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded up: the `Retry-After` form of a wait.
    pub fn as_secs_ceil(self) -> i64 {
        (self.0 + 999).div_euclid(1000)
    }

    /// Parses `500ms`, `30s`, `5m`, `2h`, `1d`, `1w` and sums like `1h30m`; a bare `0` is zero.
    pub fn parse(text: &str) -> Result<SimDuration, DurationError> {
        let err = |reason| DurationError {
            text: text.to_owned(),
            reason,
        };
        let s = text.trim();
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        let bytes = s.as_bytes();
        let mut total: i64 = 0;
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if start == i {
                return Err(err("a number must come before each unit"));
            }
            let number: f64 = s[start..i]
                .parse()
                .map_err(|_| err("the number is malformed"))?;
            let unit_start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit_ms: f64 = match &s[unit_start..i] {
                "ms" => 1.0,
                "s" => 1000.0,
                "m" | "min" => 60_000.0,
                "h" => 3_600_000.0,
                "d" => 86_400_000.0,
                "w" => 604_800_000.0,
                "" => return Err(err("a unit is missing")),
                _ => return Err(err("the unit is unknown")),
            };
            let part = number * unit_ms;
            if !part.is_finite() || part > 1e15 {
                return Err(err("it is too large"));
            }
            total = total
                .checked_add(part.round() as i64)
                .filter(|t| *t <= 1e15 as i64)
                .ok_or_else(|| err("it is too large"))?;
        }
        Ok(SimDuration(total))
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact text form: `1d2h`, `1m30s`, `6h21.348s`, `500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 0 {
            f.write_str("-")?;
            ms = -ms;
        }
        if ms < 1000 {
            return write!(f, "{ms}ms");
        }
        let fraction = ms % 1000;
        let mut secs = ms / 1000;
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        match (secs, fraction) {
            (0, 0) => Ok(()),
            (s, 0) => write!(f, "{s}s"),
            (s, frac) => {
                let digits = format!("{frac:03}");
                write!(f, "{s}.{}s", digits.trim_end_matches('0'))
            }
        }
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

// Text in human-readable formats (JSON, TOML: the wire and the tenant file), the milliseconds
// in binary ones (the saved state of `serve --state-dir`), where a round trip must be exact for
// any instant, including one the text form cannot write (past the year 9999).
impl serde::Serialize for SimDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for SimDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return i64::deserialize(deserializer).map(SimDuration);
        }
        let text = String::deserialize(deserializer)?;
        SimDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for SimTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for SimTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return i64::deserialize(deserializer).map(SimTime);
        }
        let text = String::deserialize(deserializer)?;
        SimTime::parse_rfc3339(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid date-time \"{text}\"; write RFC 3339, e.g. 2026-01-01T00:00:00Z"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_duration(text: &str, expected_ms: i64) {
        assert_eq!(
            SimDuration::parse(text),
            Ok(SimDuration(expected_ms)),
            "{text}"
        );
    }

    #[test]
    fn parses_durations_with_units_and_sums() {
        check_duration("0", 0);
        check_duration("500ms", 500);
        check_duration("30s", 30_000);
        check_duration("5m", 300_000);
        check_duration("2h", 7_200_000);
        check_duration("1d", 86_400_000);
        check_duration("1h30m", 5_400_000);
        check_duration("1.5s", 1500);
    }

    #[test]
    fn rejects_durations_without_a_unit_or_number() {
        for bad in ["", "30", "s", "3x", "1h30"] {
            let err = SimDuration::parse(bad).unwrap_err();
            assert!(err.to_string().contains("e.g. 500ms"), "{err}");
        }
    }

    #[test]
    fn durations_print_in_their_shortest_exact_form() {
        assert_eq!(SimDuration::from_secs(90).to_string(), "1m30s");
        assert_eq!(SimDuration::from_days(1).to_string(), "1d");
        assert_eq!(SimDuration(1500).to_string(), "1.5s");
        assert_eq!(SimDuration(500).to_string(), "500ms");
        assert_eq!(SimDuration(21_621_348).to_string(), "6h21.348s");
        for ms in [1, 999, 1000, 1001, 61_500, 86_400_001, 21_621_348] {
            assert_eq!(
                SimDuration::parse(&SimDuration(ms).to_string()),
                Ok(SimDuration(ms))
            );
        }
    }

    #[test]
    fn formats_rfc3339_like_jiff() {
        for ms in [
            0,
            1_767_225_600_000,
            1_767_225_600_123,
            951_782_400_000,
            -86_400_000,
        ] {
            let ours = SimTime(ms).to_rfc3339();
            let theirs = jiff::Timestamp::from_millisecond(ms).unwrap();
            assert_eq!(SimTime::parse_rfc3339(&ours), Some(SimTime(ms)), "{ours}");
            assert_eq!(
                ours.trim_end_matches('Z').split('.').next(),
                theirs.to_string().trim_end_matches('Z').split('.').next()
            );
        }
    }

    #[test]
    fn civil_days_round_trip() {
        for days in -800_000..800_000i64 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn rejects_date_times_without_an_offset() {
        assert_eq!(SimTime::parse_rfc3339("2017-01-01T12:34:00"), None);
    }

    #[test]
    fn parses_bare_dates_as_midnight_utc() {
        assert_eq!(
            SimTime::parse_rfc3339("2026-01-01"),
            Some(SimTime::DEFAULT_EPOCH)
        );
    }
}
