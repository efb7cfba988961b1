//! Date and time for the expression functions: parsing the timestamps flows pass around, .NET
//! format strings (`formatDateTime(ts, 'yyyy-MM-dd')`), and adding intervals. Everything is UTC;
//! time comes from the host's clock, never from the machine's.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

/// Parses an ISO 8601 timestamp: with an offset or `Z` (`2026-01-01T10:00:00+02:00`), without
/// one (taken as UTC, as the engine does), or a date alone (midnight UTC).
pub fn parse(text: &str) -> Result<Timestamp, String> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = t.parse::<DateTime>() {
        return dt
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "'{text}' is not a timestamp; use ISO 8601, for example 2026-01-15T08:30:00Z"
    ))
}

/// A timestamp from milliseconds since the Unix epoch (the host's clock).
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Adds `count` `unit`s (`Second`, `Minute`, `Hour`, `Day`, `Week`, `Month`, `Year`, singular or
/// plural, any case).
pub fn add(ts: Timestamp, count: i64, unit: &str) -> Result<Timestamp, String> {
    let unit_l = unit.trim().to_ascii_lowercase();
    let unit_l = unit_l.strip_suffix('s').unwrap_or(&unit_l);
    let span = match unit_l {
        "second" => Span::new().try_seconds(count),
        "minute" => Span::new().try_minutes(count),
        "hour" => Span::new().try_hours(count),
        "day" => Span::new().try_days(count),
        "week" => Span::new().try_weeks(count),
        "month" => Span::new().try_months(count),
        "year" => Span::new().try_years(count),
        _ => {
            return Err(format!(
                "unknown time unit '{unit}'; use Second, Minute, Hour, Day, Week, Month or Year"
            ));
        }
    }
    .map_err(|_| format!("adding {count} {unit} leaves the range of dates"))?;
    let z = ts.to_zoned(TimeZone::UTC);
    z.checked_add(span)
        .map(|z| z.timestamp())
        .map_err(|_| format!("adding {count} {unit} leaves the range of dates"))
}

/// Whole milliseconds of a timestamp.
pub fn millis(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

/// .NET ticks (100 ns since 0001-01-01).
pub fn ticks(ts: Timestamp) -> i64 {
    const EPOCH_S: i128 = 62_135_596_800;
    let ns = ts.as_nanosecond();
    ((ns / 100) + EPOCH_S * 10_000_000) as i64
}

/// The start of the day, hour or month of `ts`.
pub fn truncate(ts: Timestamp, unit: &str) -> Timestamp {
    let z = ts.to_zoned(TimeZone::UTC);
    let dt = z.datetime();
    let civil = match unit {
        "month" => dt
            .date()
            .first_of_month()
            .to_datetime(jiff::civil::Time::midnight()),
        "day" => dt.date().to_datetime(jiff::civil::Time::midnight()),
        _ => dt.date().to_datetime(jiff::civil::time(dt.hour(), 0, 0, 0)),
    };
    civil
        .to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(ts)
}

/// `dateDifference`: the time between two timestamps as a .NET `TimeSpan` string
/// (`d.hh:mm:ss[.fffffff]`, negative with a leading `-`).
pub fn difference(start: Timestamp, end: Timestamp) -> String {
    let d: SignedDuration = end.duration_since(start);
    let negative = d.is_negative();
    let total_ns = d.as_nanos().unsigned_abs();
    let secs = total_ns / 1_000_000_000;
    let frac = (total_ns % 1_000_000_000) / 100;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if days > 0 {
        out += &format!("{days}.");
    }
    out += &format!("{h:02}:{m:02}:{s:02}");
    if frac > 0 {
        out += &format!(".{frac:07}");
    }
    out
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats `ts` (UTC) with a .NET standard (`o`, `s`, `u`, `r`, `d`, `D`, `g`, `G`, `t`, `T`,
/// `f`, `F`, `M`, `Y`) or custom format string (`yyyy-MM-ddTHH:mm:ss.fffZ`), invariant culture.
pub fn format(ts: Timestamp, fmt: &str) -> Result<String, String> {
    let custom = match fmt {
        "" | "o" | "O" => "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
        "s" => "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
        "u" => "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
        "r" | "R" => "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
        "d" => "MM/dd/yyyy",
        "D" => "dddd, dd MMMM yyyy",
        "t" => "HH:mm",
        "T" => "HH:mm:ss",
        "g" => "MM/dd/yyyy HH:mm",
        "G" => "MM/dd/yyyy HH:mm:ss",
        "f" => "dddd, dd MMMM yyyy HH:mm",
        "F" => "dddd, dd MMMM yyyy HH:mm:ss",
        "M" | "m" => "MMMM dd",
        "Y" | "y" => "yyyy MMMM",
        other if other.chars().count() == 1 && other.chars().all(|c| c.is_ascii_alphabetic()) => {
            return Err(format!(
                "'{other}' is not a standard date format; use o, s, u, r, d, D, g, G, t, T, f, F, M, Y or a custom format such as yyyy-MM-dd"
            ));
        }
        other => other,
    };
    Ok(custom_format(ts, custom))
}

fn custom_format(ts: Timestamp, fmt: &str) -> String {
    let dt = ts.to_zoned(TimeZone::UTC).datetime();
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        match c {
            'y' => {
                let y = i64::from(dt.year());
                if n <= 2 {
                    let yy = y % 100;
                    out += &if n == 1 {
                        yy.to_string()
                    } else {
                        format!("{yy:02}")
                    };
                } else {
                    out += &format!("{y:0n$}");
                }
            }
            'M' => {
                let m = dt.month() as usize;
                out += &match n {
                    1 => m.to_string(),
                    2 => format!("{m:02}"),
                    3 => MONTHS[m - 1][..3].to_owned(),
                    _ => MONTHS[m - 1].to_owned(),
                };
            }
            'd' => {
                let d = dt.day();
                let wd = dt.weekday().to_sunday_zero_offset() as usize;
                out += &match n {
                    1 => d.to_string(),
                    2 => format!("{d:02}"),
                    3 => DAYS[wd][..3].to_owned(),
                    _ => DAYS[wd].to_owned(),
                };
            }
            'H' => out += &two(i64::from(dt.hour()), n),
            'h' => {
                let h = (i64::from(dt.hour()) + 11) % 12 + 1;
                out += &two(h, n);
            }
            'm' => out += &two(i64::from(dt.minute()), n),
            's' => out += &two(i64::from(dt.second()), n),
            'f' | 'F' => {
                let digits = format!("{:09}", dt.subsec_nanosecond());
                let take = n.min(7);
                let mut part: String = digits.chars().take(take).collect();
                if c == 'F' {
                    part = part.trim_end_matches('0').to_owned();
                    if part.is_empty() && out.ends_with('.') {
                        out.pop();
                    }
                }
                out += &part;
            }
            't' => {
                let pm = dt.hour() >= 12;
                out += if n == 1 {
                    if pm { "P" } else { "A" }
                } else if pm {
                    "PM"
                } else {
                    "AM"
                };
            }
            'K' => out.push('Z'),
            'z' => {
                out += match n {
                    1 => "+0",
                    2 => "+00",
                    _ => "+00:00",
                }
            }
            '\'' | '"' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != c {
                    out.push(chars[j]);
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            '\\' => {
                if let Some(&next) = chars.get(i + 1) {
                    out.push(next);
                }
                i += 2;
                continue;
            }
            _ => {
                for _ in 0..n {
                    out.push(c);
                }
            }
        }
        i += n;
    }
    out
}

fn two(v: i64, n: usize) -> String {
    if n == 1 {
        v.to_string()
    } else {
        format!("{v:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        parse(text).unwrap()
    }

    fn check(text: &str, fmt: &str, expected: &str) {
        assert_eq!(format(ts(text), fmt).unwrap(), expected, "{fmt}");
    }

    #[test]
    fn formats_standard_and_custom_patterns() {
        let t = "2026-03-07T09:05:03.25Z";
        check(t, "o", "2026-03-07T09:05:03.2500000Z");
        check(t, "s", "2026-03-07T09:05:03");
        check(t, "u", "2026-03-07 09:05:03Z");
        check(t, "r", "Sat, 07 Mar 2026 09:05:03 GMT");
        check(t, "yyyy-MM-dd", "2026-03-07");
        check(t, "dddd d MMMM yy, h:mm tt", "Saturday 7 March 26, 9:05 AM");
        check(t, "HH:mm:ss.fff", "09:05:03.250");
        check(t, "HH:mm:ss.FFF", "09:05:03.25");
        check(t, "'at' HH\\h", "at 09h");
    }

    #[test]
    fn parses_offsets_local_times_and_dates_as_utc() {
        assert_eq!(ts("2026-01-01T10:00:00+02:00"), ts("2026-01-01T08:00:00Z"));
        assert_eq!(ts("2026-01-01T08:00:00"), ts("2026-01-01T08:00:00Z"));
        assert_eq!(ts("2026-01-01"), ts("2026-01-01T00:00:00Z"));
        assert!(parse("yesterday").unwrap_err().contains("ISO 8601"));
    }

    #[test]
    fn adds_calendar_units_and_truncates() {
        let t = ts("2026-01-31T10:20:30Z");
        assert_eq!(add(t, 1, "Month").unwrap(), ts("2026-02-28T10:20:30Z"));
        assert_eq!(add(t, -2, "days").unwrap(), ts("2026-01-29T10:20:30Z"));
        assert!(
            add(t, 1, "fortnight")
                .unwrap_err()
                .contains("unknown time unit")
        );
        assert_eq!(truncate(t, "day"), ts("2026-01-31T00:00:00Z"));
        assert_eq!(truncate(t, "hour"), ts("2026-01-31T10:00:00Z"));
        assert_eq!(truncate(t, "month"), ts("2026-01-01T00:00:00Z"));
        assert_eq!(difference(ts("2026-01-01"), t), "30.10:20:30");
        assert_eq!(ticks(ts("0001-01-01T00:00:00Z")), 0);
    }
}
