//! Writing JSON by hand on the hot path.
//!
//! Pages of rows are written straight into a byte buffer from pre-escaped pieces instead of
//! building `serde_json::Value`s: re-serialising 100 rows per request through serde costs most of
//! a request's time (see the README's benchmarks). Everything here produces standard JSON that
//! `serde_json` parses back (tests check it).

/// Appends `text` as a JSON string literal, quotes included.
pub fn push_json_str(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    push_json_str_inner(text, out);
    out.push(b'"');
}

/// Appends the escaped content of a JSON string (no quotes).
pub fn push_json_str_inner(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

pub fn push_i64(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

pub fn push_u64(v: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends an amount held in hundredths (`12345` → `123.45`).
pub fn push_cents(cents: i64, out: &mut Vec<u8>) {
    if cents < 0 {
        out.push(b'-');
    }
    let abs = cents.unsigned_abs();
    push_u64(abs / 100, out);
    let frac = abs % 100;
    out.push(b'.');
    out.push(b'0' + (frac / 10) as u8);
    out.push(b'0' + (frac % 10) as u8);
}

/// Appends a float the way JSON wants it (`null` for NaN and infinities).
pub fn push_f64(v: f64, out: &mut Vec<u8>) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Law: any string written by `push_json_str` parses back to itself.
        #[test]
        fn strings_round_trip_through_serde(text in any::<String>()) {
            let mut out = Vec::new();
            push_json_str(&text, &mut out);
            let back: String = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(back, text);
        }

        /// Law: amounts in hundredths print as the decimal they stand for.
        #[test]
        fn cents_print_as_decimals(cents in -10_000_000i64..10_000_000) {
            let mut out = Vec::new();
            push_cents(cents, &mut out);
            let back: f64 = serde_json::from_slice(&out).unwrap();
            prop_assert!((back * 100.0 - cents as f64).abs() < 0.5);
        }
    }
}
