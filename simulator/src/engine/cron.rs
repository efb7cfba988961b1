//! Cron expressions of refresh schedules (`WorkflowRefreshSchedule.cronSchedules`), in UTC.
//!
//! The API model says only "the schedule in CRON format". insightsim reads the two common forms:
//! five fields (`minute hour day-of-month month day-of-week`) and six with seconds first
//! (`second minute hour …`, the NCRONTAB form of Azure). Each field is `*` (or `?`), a number,
//! a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those; day-of-week counts from 0
//! (Sunday) to 6, with 7 also Sunday. When both day fields are restricted, a day matches either
//! (the classic cron rule).

use crate::time::{SimTime, civil_from_days};

const MS_PER_DAY: i64 = 86_400_000;

/// A parsed cron expression: the allowed values of each field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cron {
    seconds: Vec<u32>,
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days: Vec<u32>,
    months: Vec<u32>,
    weekdays: Vec<u32>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl Cron {
    /// Parses a cron expression; the error says which field is wrong and what to write.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "cron schedule \"{text}\" has {n} fields; write 5 (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\" for 02:00 UTC every day) or 6 with seconds first"
                ));
            }
        };
        let field = |value: &str, name: &str, min: u32, max: u32| {
            values(value, min, max).map_err(|why| {
                format!(
                    "cron schedule \"{text}\": {name} \"{value}\" {why}; use *, a number from {min} to {max}, a range a-b, a step */n or a list"
                )
            })
        };
        let mut weekdays = field(rest[4], "day-of-week", 0, 7)?;
        if weekdays.contains(&7) {
            weekdays.retain(|&d| d != 7);
            if !weekdays.contains(&0) {
                weekdays.insert(0, 0);
            }
        }
        Ok(Cron {
            seconds: field(seconds, "second", 0, 59)?,
            minutes: field(rest[0], "minute", 0, 59)?,
            hours: field(rest[1], "hour", 0, 23)?,
            days: field(rest[2], "day-of-month", 1, 31)?,
            months: field(rest[3], "month", 1, 12)?,
            weekdays,
            days_restricted: !matches!(rest[2], "*" | "?"),
            weekdays_restricted: !matches!(rest[4], "*" | "?"),
        })
    }

    /// The first instant strictly after `after` that matches, looking at most about five years
    /// ahead (enough for a 29 February); `None` if there is none.
    pub fn next_after(&self, after: SimTime) -> Option<SimTime> {
        let first_day = after.as_millis().div_euclid(MS_PER_DAY);
        for day in first_day..first_day + 5 * 366 + 1 {
            if !self.day_matches(day) {
                continue;
            }
            for &h in &self.hours {
                for &m in &self.minutes {
                    for &s in &self.seconds {
                        let at = day * MS_PER_DAY + i64::from((h * 60 + m) * 60 + s) * 1000;
                        if at > after.as_millis() {
                            return Some(SimTime::from_millis(at));
                        }
                    }
                }
            }
        }
        None
    }

    fn day_matches(&self, day: i64) -> bool {
        let (_, month, dom) = civil_from_days(day);
        if !self.months.contains(&(month as u32)) {
            return false;
        }
        // 1970-01-01 (day 0) was a Thursday.
        let weekday = (day + 4).rem_euclid(7) as u32;
        let by_day = self.days.contains(&(dom as u32));
        let by_weekday = self.weekdays.contains(&weekday);
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => by_day || by_weekday,
            (true, false) => by_day,
            (false, true) => by_weekday,
            (false, false) => true,
        }
    }
}

/// The sorted values a field allows.
fn values(field: &str, min: u32, max: u32) -> Result<Vec<u32>, &'static str> {
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| "has a step that is not a number")?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err("has a step of 0");
        }
        let number = |t: &str| t.parse::<u32>().map_err(|_| "is not a number");
        let (lo, hi) = match range {
            "*" | "?" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if part.contains('/') => (number(r)?, max),
                None => {
                    let n = number(r)?;
                    (n, n)
                }
            },
        };
        if lo < min || hi > max || lo > hi {
            return Err("is out of range");
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::days_from_civil;

    fn at(y: i64, mo: i64, d: i64, h: i64, mi: i64) -> SimTime {
        SimTime::from_millis(days_from_civil(y, mo, d) * MS_PER_DAY + (h * 60 + mi) * 60_000)
    }

    fn check(cron: &str, after: SimTime, expected: SimTime) {
        let c = Cron::parse(cron).unwrap();
        assert_eq!(c.next_after(after), Some(expected), "{cron} after {after}");
    }

    #[test]
    fn finds_the_next_matching_instant() {
        let t = at(2026, 1, 1, 0, 0);
        check("0 2 * * *", t, at(2026, 1, 1, 2, 0));
        check("0 2 * * *", at(2026, 1, 1, 2, 0), at(2026, 1, 2, 2, 0));
        check("*/15 * * * *", at(2026, 1, 1, 0, 7), at(2026, 1, 1, 0, 15));
        check("30 8,20 * * 1-5", t, at(2026, 1, 1, 8, 30));
        // 2026-01-03 is a Saturday: the weekday schedule skips to Monday the 5th.
        check("0 9 * * 1-5", at(2026, 1, 2, 10, 0), at(2026, 1, 5, 9, 0));
        check("0 0 29 2 *", t, at(2028, 2, 29, 0, 0));
        check("0 0 6 * * 0", t, at(2026, 1, 4, 6, 0));
        check("0 6 * * 7", t, at(2026, 1, 4, 6, 0));
        // Both day fields restricted: either matches.
        check("0 0 15 * 1", t, at(2026, 1, 5, 0, 0));
    }

    #[test]
    fn rejects_malformed_expressions_naming_the_field() {
        for (cron, fragment) in [
            ("0 2 * *", "has 4 fields"),
            ("0 25 * * *", "hour \"25\" is out of range"),
            ("x 2 * * *", "minute \"x\" is not a number"),
            ("*/0 * * * *", "minute \"*/0\" has a step of 0"),
            ("0 0 0 * *", "day-of-month \"0\" is out of range"),
        ] {
            let err = Cron::parse(cron).unwrap_err();
            assert!(err.contains(fragment), "{cron}: {err}");
        }
    }
}
