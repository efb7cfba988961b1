//! Reading the system query options out of a raw URL query string.

use std::borrow::Cow;
use std::collections::HashSet;

use percent_encoding::percent_decode_str;

use super::words::{closest, join, shorten};
use super::{Direction, QueryError, RawOptions, code, parse_filter};

/// The system query options the data endpoint understands, in the order error messages list
/// them.
pub const SUPPORTED_OPTIONS: [&str; 9] = [
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$search",
    "$expand",
    "$count",
    "$skiptoken",
];

/// Parses the system query options of a request.
///
/// `query` is the raw query string, after the `?` and still percent-encoded. It is split on `&`
/// (empty pieces are skipped), each piece at its first `=`, and names and values are
/// percent-decoded with `+` read as a space, as ASP.NET does: write `%2B` for a literal plus
/// (a `+01:00` offset in a date-time, say).
///
/// - Only names starting with `$` are options, matched case-sensitively (`$Filter` is unknown,
///   as in OData 4.0). Other parameters (`forceSearch`, `proxy`, `api-version`, `caller`, ...)
///   are ignored here: they belong to the HTTP layer or have no effect in the simulator. This
///   includes a `$` missing by mistake: the documented example `select=*` selects nothing.
/// - An unknown `$`-option, a repeated one, or a malformed value is an error whose target is
///   the option; `$filter` is parsed with [`parse_filter`].
pub fn parse_options(query: &str) -> Result<RawOptions, QueryError> {
    let mut options = RawOptions::default();
    let mut seen = HashSet::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        // A name that is not UTF-8 cannot be a supported option; decoding it lossily lets it
        // be reported (or ignored) like any other unknown name.
        let name = String::from_utf8_lossy(&decode_bytes(raw_name)).into_owned();
        if !name.starts_with('$') {
            continue;
        }
        let Some(&name) = SUPPORTED_OPTIONS.iter().find(|&&o| o == name) else {
            return Err(unknown_option(&name));
        };
        if !seen.insert(name) {
            return Err(QueryError::new(
                code::DUPLICATE_OPTION,
                name,
                format!("{name} is given more than once; give each query option at most once"),
            ));
        }
        let value = decode(raw_value).map_err(|_| {
            QueryError::new(
                code::INVALID_ENCODING,
                name,
                format!("the value of {name} is not valid UTF-8 after percent-decoding; percent-encode text as UTF-8"),
            )
        })?;
        match name {
            "$filter" => options.filter = Some(parse_filter(&value)?),
            "$select" => options.select = Some(list(name, &value, "CustomerId,FullName")?),
            "$orderby" => options.orderby = orderby(&value)?,
            "$top" => options.top = Some(count_of_rows(name, &value)?),
            "$skip" => options.skip = Some(count_of_rows(name, &value)?),
            "$search" => options.search = Some(search(&value)?),
            "$expand" => options.expand = list(name, &value, "UnifiedActivity,Customer_Measure")?,
            "$count" => options.count = boolean(&value)?,
            // The last of SUPPORTED_OPTIONS.
            _ => options.skiptoken = Some(value.into_owned()),
        }
    }
    Ok(options)
}

fn decode_bytes(raw: &str) -> Vec<u8> {
    percent_decode_str(&raw.replace('+', " ")).collect()
}

fn decode(raw: &str) -> Result<Cow<'_, str>, std::string::FromUtf8Error> {
    if !raw.contains(['+', '%']) {
        return Ok(Cow::Borrowed(raw));
    }
    String::from_utf8(decode_bytes(raw)).map(Cow::Owned)
}

fn unknown_option(name: &str) -> QueryError {
    let mut message = format!(
        "unknown query option {}; supported options are {}",
        shorten(name),
        join(&SUPPORTED_OPTIONS)
    );
    // Compare without the `$`, which every candidate shares and which would make `$foo` look
    // close to `$top`.
    let bare = SUPPORTED_OPTIONS.map(|o| o.trim_start_matches('$'));
    if let Some(fix) = closest(name.trim_start_matches('$'), bare) {
        message.push_str(&format!("; did you mean \"${fix}\"?"));
        if name[1..].eq_ignore_ascii_case(fix) {
            message.push_str(" (option names are case-sensitive)");
        }
    }
    QueryError::new(code::UNKNOWN_OPTION, name, message)
}

fn invalid(option: &str, message: String) -> QueryError {
    QueryError::new(code::INVALID_OPTION_VALUE, option, message)
}

/// `$top` and `$skip`: digits only, so `-1`, `+1`, `1.5` and ` 1` are all rejected.
fn count_of_rows(option: &str, value: &str) -> Result<u64, QueryError> {
    let fix = format!("write a whole number of rows, 0 or more, e.g. {option}=100");
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            option,
            format!("invalid {option} \"{}\"; {fix}", shorten(value)),
        ));
    }
    value.parse().map_err(|_| {
        invalid(
            option,
            format!("{option} \"{}\" is too large; {fix}", shorten(value)),
        )
    })
}

fn boolean(value: &str) -> Result<bool, QueryError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(
            "$count",
            format!(
                "invalid $count \"{}\"; write $count=true or $count=false",
                shorten(value)
            ),
        )),
    }
}

/// A comma-separated list of names (`$select`, `$expand`), each trimmed, none empty.
fn list(option: &str, value: &str, example: &str) -> Result<Vec<String>, QueryError> {
    let mut names = Vec::new();
    for (i, entry) in value.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            let star = if option == "$select" {
                format!(", or {option}=*")
            } else {
                String::new()
            };
            return Err(invalid(
                option,
                format!(
                    "invalid {option} \"{}\": entry {} is empty; list names separated by commas, e.g. {option}={example}{star}",
                    shorten(value),
                    i + 1
                ),
            ));
        }
        if entry.contains('(') {
            return Err(invalid(
                option,
                format!(
                    "nested query options in {option} (\"{}\") are not supported; list names separated by commas, e.g. {option}={example}",
                    shorten(entry)
                ),
            ));
        }
        names.push(entry.to_owned());
    }
    Ok(names)
}

/// `Name [asc|desc] { "," Name [asc|desc] }`.
fn orderby(value: &str) -> Result<Vec<(String, Direction)>, QueryError> {
    let usage = "write $orderby=Field or $orderby=Field desc, several separated by commas";
    let mut keys = Vec::new();
    for (i, entry) in value.split(',').enumerate() {
        let words: Vec<&str> = entry.split_whitespace().collect();
        let direction = match words.as_slice() {
            [_] => Direction::Asc,
            [_, "asc"] => Direction::Asc,
            [_, "desc"] => Direction::Desc,
            [] => {
                return Err(invalid(
                    "$orderby",
                    format!(
                        "invalid $orderby \"{}\": entry {} is empty; {usage}",
                        shorten(value),
                        i + 1
                    ),
                ));
            }
            [_, direction] => {
                let lowercase = direction.to_ascii_lowercase();
                let hint = if ["asc", "desc"].contains(&lowercase.as_str()) {
                    format!(" (directions are lowercase: {lowercase})")
                } else {
                    String::new()
                };
                return Err(invalid(
                    "$orderby",
                    format!(
                        "invalid $orderby \"{}\": direction \"{}\" must be asc or desc{hint}; {usage}",
                        shorten(value),
                        shorten(direction)
                    ),
                ));
            }
            _ => {
                return Err(invalid(
                    "$orderby",
                    format!(
                        "invalid $orderby \"{}\": entry \"{}\" has more than a field and a direction; {usage}",
                        shorten(value),
                        shorten(entry.trim())
                    ),
                ));
            }
        };
        keys.push((words[0].to_owned(), direction));
    }
    Ok(keys)
}

/// `$search="text"`: the text between double quotes, with `\"` and `\\` escapes. Whitespace
/// around the quotes is ignored.
fn search(value: &str) -> Result<String, QueryError> {
    let trimmed = value.trim();
    let quoted = trimmed.len() >= 2 && trimmed.starts_with('"') && trimmed.ends_with('"');
    if !quoted {
        let bare = trimmed.trim_matches(['"', '\'']);
        let example = if bare.is_empty() { "text" } else { bare };
        let fixed = example.replace('\\', "\\\\").replace('"', "\\\"");
        return Err(invalid(
            "$search",
            format!(
                "$search must be a double-quoted string, found \"{}\"; write $search=\"{}\"",
                shorten(value),
                shorten(&fixed)
            ),
        ));
    }
    let inner = &trimmed[1..trimmed.len() - 1];
    let escapes = "inside the quotes write \\\" for a quote and \\\\ for a backslash";
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars().enumerate();
    while let Some((i, c)) = chars.next() {
        // Positions count from the opening quote, as 1.
        let pos = i + 2;
        match c {
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => text.push(escaped),
                Some((_, other)) => {
                    return Err(invalid(
                        "$search",
                        format!(
                            "unknown escape \"\\{}\" at position {pos} in $search; {escapes}",
                            other.escape_debug()
                        ),
                    ));
                }
                None => {
                    return Err(invalid(
                        "$search",
                        format!("unfinished escape at position {pos} in $search; {escapes}"),
                    ));
                }
            },
            '"' => {
                return Err(invalid(
                    "$search",
                    format!("unescaped quote at position {pos} in $search; {escapes}"),
                ));
            }
            c => text.push(c),
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::odata::{CmpOp, Expr, Literal};

    fn check(query: &str, expected: RawOptions) {
        assert_eq!(parse_options(query), Ok(expected), "{query}");
    }

    fn check_err(query: &str, code: &str, target: &str, message: &str) {
        let err = parse_options(query).expect_err(query);
        assert_eq!(
            (err.code, err.target.as_str()),
            (code, target),
            "{query}: {}",
            err.message
        );
        assert_eq!(err.message, message, "{query}");
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_empty_query_has_no_options() {
        check("", RawOptions::default());
        check("&&", RawOptions::default());
    }

    #[test]
    fn reads_every_option() {
        check(
            "$filter=A%20eq%201&$select=CustomerId,FullName&$orderby=A,B%20desc&$top=10&$skip=20&$search=%22corey%22&$expand=UnifiedActivity&$count=true&$skiptoken=200",
            RawOptions {
                filter: Some(Expr::Compare {
                    field: "A".into(),
                    op: CmpOp::Eq,
                    value: Literal::Int(1),
                }),
                select: Some(names(&["CustomerId", "FullName"])),
                orderby: vec![("A".into(), Direction::Asc), ("B".into(), Direction::Desc)],
                top: Some(10),
                skip: Some(20),
                search: Some("corey".into()),
                expand: names(&["UnifiedActivity"]),
                count: true,
                skiptoken: Some("200".into()),
            },
        );
    }

    #[test]
    fn decodes_plus_as_space_and_percent_2b_as_plus() {
        check(
            "$filter=A+eq+'a%2Bb'",
            RawOptions {
                filter: Some(Expr::Compare {
                    field: "A".into(),
                    op: CmpOp::Eq,
                    value: Literal::String("a+b".into()),
                }),
                ..RawOptions::default()
            },
        );
        check(
            "%24top=5",
            RawOptions {
                top: Some(5),
                ..RawOptions::default()
            },
        );
    }

    #[test]
    fn ignores_parameters_without_a_dollar() {
        check(
            "forceSearch=true&proxy=false&api-version=2&select=*&$top=1&caller=x&validUntil=&flag",
            RawOptions {
                top: Some(1),
                ..RawOptions::default()
            },
        );
    }

    #[test]
    fn trims_select_and_expand_entries_and_keeps_star() {
        check(
            "$select=%20CustomerId%20,%20FullName&$expand=UnifiedActivity,+Customer_Measure",
            RawOptions {
                select: Some(names(&["CustomerId", "FullName"])),
                expand: names(&["UnifiedActivity", "Customer_Measure"]),
                ..RawOptions::default()
            },
        );
        check(
            "$select=*",
            RawOptions {
                select: Some(names(&["*"])),
                ..RawOptions::default()
            },
        );
    }

    #[test]
    fn reads_search_text_with_escapes() {
        let search = |text: &str| RawOptions {
            search: Some(text.into()),
            ..RawOptions::default()
        };
        check("$search=%22a%20\\%22b\\%22%20\\\\%22", search("a \"b\" \\"));
        check("$search=%22%22", search(""));
        check("$search=+%22corey%22+", search("corey"));
        check("$search=%22caf%C3%A9%22", search("café"));
    }

    #[test]
    fn rejects_unknown_options_listing_the_supported_ones() {
        let supported = "supported options are $filter, $select, $orderby, $top, $skip, $search, $expand, $count, $skiptoken";
        check_err(
            "$foo=1",
            code::UNKNOWN_OPTION,
            "$foo",
            &format!("unknown query option $foo; {supported}"),
        );
        check_err(
            "$format=json",
            code::UNKNOWN_OPTION,
            "$format",
            &format!("unknown query option $format; {supported}"),
        );
        check_err(
            "$apply=x",
            code::UNKNOWN_OPTION,
            "$apply",
            &format!("unknown query option $apply; {supported}"),
        );
        check_err(
            "$fitler=x",
            code::UNKNOWN_OPTION,
            "$fitler",
            &format!("unknown query option $fitler; {supported}; did you mean \"$filter\"?"),
        );
        check_err(
            "$Filter=A%20eq%201",
            code::UNKNOWN_OPTION,
            "$Filter",
            &format!(
                "unknown query option $Filter; {supported}; did you mean \"$filter\"? (option names are case-sensitive)"
            ),
        );
        check_err(
            "$top=1&$TOP=1",
            code::UNKNOWN_OPTION,
            "$TOP",
            &format!(
                "unknown query option $TOP; {supported}; did you mean \"$top\"? (option names are case-sensitive)"
            ),
        );
    }

    #[test]
    fn rejects_repeated_options() {
        check_err(
            "$top=1&$top=2",
            code::DUPLICATE_OPTION,
            "$top",
            "$top is given more than once; give each query option at most once",
        );
        check_err(
            "$filter=A%20eq%201&%24filter=A%20eq%202",
            code::DUPLICATE_OPTION,
            "$filter",
            "$filter is given more than once; give each query option at most once",
        );
    }

    #[test]
    fn rejects_top_and_skip_that_are_not_non_negative_integers() {
        for (value, shown) in [
            ("-1", "-1"),
            ("abc", "abc"),
            ("1.5", "1.5"),
            ("", ""),
            ("+1", " 1"),
            ("%2B1", "+1"),
        ] {
            check_err(
                &format!("$top={value}"),
                code::INVALID_OPTION_VALUE,
                "$top",
                &format!(
                    "invalid $top \"{shown}\"; write a whole number of rows, 0 or more, e.g. $top=100"
                ),
            );
        }
        check_err(
            "$skip=x",
            code::INVALID_OPTION_VALUE,
            "$skip",
            "invalid $skip \"x\"; write a whole number of rows, 0 or more, e.g. $skip=100",
        );
        check_err(
            "$skip=99999999999999999999",
            code::INVALID_OPTION_VALUE,
            "$skip",
            "$skip \"99999999999999999999\" is too large; write a whole number of rows, 0 or more, e.g. $skip=100",
        );
        check(
            "$top=007",
            RawOptions {
                top: Some(7),
                ..RawOptions::default()
            },
        );
    }

    #[test]
    fn rejects_count_other_than_true_or_false() {
        check_err(
            "$count=TRUE",
            code::INVALID_OPTION_VALUE,
            "$count",
            "invalid $count \"TRUE\"; write $count=true or $count=false",
        );
        check_err(
            "$count",
            code::INVALID_OPTION_VALUE,
            "$count",
            "invalid $count \"\"; write $count=true or $count=false",
        );
        check("$count=false", RawOptions::default());
    }

    #[test]
    fn rejects_empty_list_entries() {
        check_err(
            "$select=A,,B",
            code::INVALID_OPTION_VALUE,
            "$select",
            "invalid $select \"A,,B\": entry 2 is empty; list names separated by commas, e.g. $select=CustomerId,FullName, or $select=*",
        );
        check_err(
            "$select=",
            code::INVALID_OPTION_VALUE,
            "$select",
            "invalid $select \"\": entry 1 is empty; list names separated by commas, e.g. $select=CustomerId,FullName, or $select=*",
        );
        check_err(
            "$expand=UnifiedActivity,",
            code::INVALID_OPTION_VALUE,
            "$expand",
            "invalid $expand \"UnifiedActivity,\": entry 2 is empty; list names separated by commas, e.g. $expand=UnifiedActivity,Customer_Measure",
        );
        check_err(
            "$expand=UnifiedActivity($select=ActivityId)",
            code::INVALID_OPTION_VALUE,
            "$expand",
            "nested query options in $expand (\"UnifiedActivity($select=ActivityId)\") are not supported; list names separated by commas, e.g. $expand=UnifiedActivity,Customer_Measure",
        );
    }

    #[test]
    fn rejects_malformed_orderby() {
        let usage = "write $orderby=Field or $orderby=Field desc, several separated by commas";
        check_err(
            "$orderby=A%20DESC",
            code::INVALID_OPTION_VALUE,
            "$orderby",
            &format!(
                "invalid $orderby \"A DESC\": direction \"DESC\" must be asc or desc (directions are lowercase: desc); {usage}"
            ),
        );
        check_err(
            "$orderby=A%20up",
            code::INVALID_OPTION_VALUE,
            "$orderby",
            &format!("invalid $orderby \"A up\": direction \"up\" must be asc or desc; {usage}"),
        );
        check_err(
            "$orderby=A,",
            code::INVALID_OPTION_VALUE,
            "$orderby",
            &format!("invalid $orderby \"A,\": entry 2 is empty; {usage}"),
        );
        check_err(
            "$orderby=A%20asc%20B",
            code::INVALID_OPTION_VALUE,
            "$orderby",
            &format!(
                "invalid $orderby \"A asc B\": entry \"A asc B\" has more than a field and a direction; {usage}"
            ),
        );
    }

    #[test]
    fn rejects_unquoted_search_showing_the_fix() {
        check_err(
            "$search=corey",
            code::INVALID_OPTION_VALUE,
            "$search",
            "$search must be a double-quoted string, found \"corey\"; write $search=\"corey\"",
        );
        check_err(
            "$search='corey'",
            code::INVALID_OPTION_VALUE,
            "$search",
            "$search must be a double-quoted string, found \"'corey'\"; write $search=\"corey\"",
        );
        check_err(
            "$search=",
            code::INVALID_OPTION_VALUE,
            "$search",
            "$search must be a double-quoted string, found \"\"; write $search=\"text\"",
        );
        check_err(
            "$search=%22",
            code::INVALID_OPTION_VALUE,
            "$search",
            "$search must be a double-quoted string, found \"\"\"; write $search=\"text\"",
        );
    }

    #[test]
    fn rejects_bad_escapes_and_quotes_inside_search() {
        let escapes = "inside the quotes write \\\" for a quote and \\\\ for a backslash";
        check_err(
            "$search=%22a\\n%22",
            code::INVALID_OPTION_VALUE,
            "$search",
            &format!("unknown escape \"\\n\" at position 3 in $search; {escapes}"),
        );
        check_err(
            "$search=%22a%22b%22",
            code::INVALID_OPTION_VALUE,
            "$search",
            &format!("unescaped quote at position 3 in $search; {escapes}"),
        );
        check_err(
            "$search=%22a\\%22",
            code::INVALID_OPTION_VALUE,
            "$search",
            &format!("unfinished escape at position 3 in $search; {escapes}"),
        );
    }

    #[test]
    fn reports_filter_errors_with_the_filter_target() {
        check_err(
            "$filter=",
            code::INVALID_FILTER,
            "$filter",
            "$filter is empty; write a condition such as CustomerId eq 'id', or leave $filter out",
        );
        check_err(
            "$filter=A+eq+1+and",
            code::INVALID_FILTER,
            "$filter",
            "expected a condition after \"and\" at position 8 in $filter, found the end of $filter",
        );
    }

    #[test]
    fn rejects_values_that_are_not_utf8() {
        check_err(
            "$filter=%FF",
            code::INVALID_ENCODING,
            "$filter",
            "the value of $filter is not valid UTF-8 after percent-decoding; percent-encode text as UTF-8",
        );
        check("x%FF=1", RawOptions::default());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Totality: any query string gives options or an error, never a panic.
        #[test]
        fn parse_options_never_panics_on_arbitrary_text(query in any::<String>()) {
            let _ = parse_options(&query);
        }

        /// Totality on query strings assembled from option names, separators and escapes.
        #[test]
        fn parse_options_never_panics_on_option_soup(
            pieces in prop::collection::vec(prop::sample::select(vec![
                "$filter", "$top", "$search", "$select", "$orderby", "$expand", "$count", "$skiptoken",
                "$", "=", "&", "%", "%2", "%22", "%FF", "+", "\\", "\"", "'", ",", " ", "desc", "1", "-1", "A",
                "eq", "(", ")", "*",
            ]), 0..16)
        ) {
            let _ = parse_options(&pieces.concat());
        }
    }
}
