//! ISO 8601 durations as definitions write them (`PT1H`, `PT7.5S`, `P1D`, `P1W`).

/// Milliseconds of an ISO 8601 duration. Months and years are refused: their length depends on
/// the date, and no limit or interval of a flow needs them.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || {
        format!("'{text}' is not an ISO 8601 duration; write for example PT30S, PT5M, PT1H or P1D")
    };
    let t = text.trim();
    let rest = t
        .strip_prefix('P')
        .or_else(|| t.strip_prefix('p'))
        .ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' if !in_time && number.is_empty() => in_time = true,
            d if d.is_ascii_digit() || d == '.' || d == ',' => {
                number.push(if d == ',' { '.' } else { d })
            }
            unit => {
                let n: f64 = number.parse().map_err(|_| bad())?;
                number.clear();
                any = true;
                let ms = match (in_time, unit) {
                    (false, 'W') => 7.0 * 86_400_000.0,
                    (false, 'D') => 86_400_000.0,
                    (true, 'H') => 3_600_000.0,
                    (true, 'M') => 60_000.0,
                    (true, 'S') => 1_000.0,
                    (false, 'M' | 'Y') => {
                        return Err(format!(
                            "'{text}' uses months or years, whose length varies; write days (P30D)"
                        ));
                    }
                    _ => return Err(bad()),
                };
                total += n * ms;
            }
        }
    }
    if !number.is_empty() || !any || !total.is_finite() || total > 1e15 {
        return Err(bad());
    }
    Ok(total.round() as i64)
}

/// An ISO 8601 duration for messages (`PT1H`, `PT7.5S`, `P2DT3H`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "PT0S".to_owned();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let (d, rem) = (ms / 86_400_000, ms % 86_400_000);
    let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let mut out = String::from(if neg { "-P" } else { "P" });
    if d > 0 {
        out += &format!("{d}D");
    }
    if h > 0 || m > 0 || rem > 0 {
        out.push('T');
        if h > 0 {
            out += &format!("{h}H");
        }
        if m > 0 {
            out += &format!("{m}M");
        }
        if rem > 0 {
            if rem % 1000 == 0 {
                out += &format!("{}S", rem / 1000);
            } else {
                out += &format!("{}S", rem as f64 / 1000.0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_durations_flows_use() {
        assert_eq!(parse_duration("PT1H"), Ok(3_600_000));
        assert_eq!(parse_duration("PT7.5S"), Ok(7_500));
        assert_eq!(parse_duration("P1DT2H30M"), Ok(95_400_000));
        assert_eq!(parse_duration("P1W"), Ok(604_800_000));
        assert!(parse_duration("1H").unwrap_err().contains("PT30S"));
        assert!(parse_duration("P1M").unwrap_err().contains("months"));
        assert!(parse_duration("PT").is_err());
        assert!(parse_duration("PT5").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for ms in [1_000, 7_500, 3_600_000, 95_400_000, 60_000 * 61] {
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms));
        }
    }
}
