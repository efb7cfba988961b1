//! Small text helpers for error messages: name lists, "did you mean" suggestions, and quoting
//! user input without flooding the message.

/// `A, B, C`, or `none` for an empty list.
pub(super) fn join<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidate closest to `name` (ASCII case ignored) when it is an obvious fix: at most two
/// edits away, and at most one edit per three characters, so that short names do not turn into
/// unrelated ones (`Nope` is not `Name`).
pub(super) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted: Vec<char> = name.to_ascii_lowercase().chars().collect();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let lower: Vec<char> = candidate.to_ascii_lowercase().chars().collect();
        let distance = edit_distance(&wanted, &lower);
        let allowed = (lower.len() / 3).clamp(1, 2);
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `; did you mean "X"?`, or nothing.
pub(super) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(name, candidates)
        .map(|c| format!("; did you mean \"{c}\"?"))
        .unwrap_or_default()
}

/// Edit distance where an insertion, a deletion, a substitution or a swap of two neighbours
/// each count one (optimal string alignment); names are short, so the table is fine.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i * width + j] = if i == 0 || j == 0 {
                i + j
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (d[(i - 1) * width + j] + 1)
                    .min(d[i * width + j - 1] + 1)
                    .min(d[(i - 1) * width + j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(d[(i - 2) * width + j - 2] + 1);
                }
                best
            };
        }
    }
    d[a.len() * width + b.len()]
}

/// User text for a message: whole when short, else its first 40 characters and an ellipsis.
pub(super) fn shorten(text: &str) -> String {
    const CHARS_MAX: usize = 40;
    match text.char_indices().nth(CHARS_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, candidates: &[&str], expected: Option<&str>) {
        assert_eq!(
            closest(name, candidates.iter().copied()),
            expected,
            "{name}"
        );
    }

    #[test]
    fn suggests_only_obvious_fixes() {
        let names = ["CustomerId", "EMail", "FullName", "City"];
        check("Emial", &names, Some("EMail"));
        check("email", &names, Some("EMail"));
        check("customerid", &names, Some("CustomerId"));
        check("CustomrId", &names, Some("CustomerId"));
        check("Cty", &names, Some("City"));
        check("Zip", &names, None);
        check("Phone", &names, None);
        check("x", &["Id"], None);
        check("Nope", &["Name"], None);
        check("fitler", &["filter", "top"], Some("filter"));
        check(
            "UnifiedActivty",
            &["UnifiedActivity", "Customer_Measure"],
            Some("UnifiedActivity"),
        );
    }

    #[test]
    fn measures_edit_distance_in_characters_counting_swaps_once() {
        let d = |a: &str, b: &str| {
            let chars = |s: &str| s.chars().collect::<Vec<_>>();
            edit_distance(&chars(a), &chars(b))
        };
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("größe", "grösse"), 2);
        assert_eq!(d("emial", "email"), 1);
        assert_eq!(d("ab", "ba"), 1);
    }

    #[test]
    fn shortens_long_text_on_a_char_boundary() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(50);
        assert_eq!(shorten(&long), format!("{}…", "é".repeat(40)));
    }

    #[test]
    fn joins_names_or_says_none() {
        assert_eq!(join(&["A", "B"]), "A, B");
        assert_eq!(join::<&str>(&[]), "none");
    }
}
