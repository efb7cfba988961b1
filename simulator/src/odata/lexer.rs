//! Splits a `$filter` text into tokens, each with its 1-based character position so that errors
//! can point at it.
//!
//! Keywords (`and`, `eq`, ...) come out as [`Tok::Ident`]; the parser gives them meaning by
//! position, which is what lets a field be called `Add` or `Title`. `true`, `false` and `null`
//! are literals wherever they appear.

use crate::time::{SimTime, days_from_civil};

use super::words::shorten;
use super::{QueryError, code};

/// The words the parser gives a meaning to: they cannot name a field.
pub(super) const KEYWORDS: [&str; 10] =
    ["and", "or", "not", "in", "eq", "ne", "gt", "ge", "lt", "le"];

/// One token of a `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A name: a field, a function or a keyword.
    Ident(String),
    Str(String),
    Int(i64),
    Decimal(f64),
    DateTime(SimTime),
    Bool(bool),
    Null,
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    /// 1-based character position of the first character.
    pub pos: usize,
    /// Byte range in the source, for quoting the token as written.
    pub span: (usize, usize),
}

impl Token {
    /// The token as written in `src`, shortened for messages.
    pub fn text(&self, src: &str) -> String {
        shorten(src.get(self.span.0..self.span.1).unwrap_or_default())
    }

    pub fn is_ident(&self, keyword: &str) -> bool {
        matches!(&self.tok, Tok::Ident(name) if name == keyword)
    }
}

/// A syntax error; `message` names the token and its position (see [`at`]).
pub(super) fn invalid(message: impl Into<String>) -> QueryError {
    QueryError::new(code::INVALID_FILTER, "$filter", message)
}

/// `at position 12 in $filter`: where a token is, for messages.
pub(super) fn at(pos: usize) -> String {
    format!("at position {pos} in $filter")
}

/// The earliest instant a literal may denote: 0000-01-01T00:00:00Z. Together with jiff's upper
/// bound (9999-12-31) this keeps every date-time printable as four-digit-year RFC 3339, which
/// the lexer reads back.
fn date_time_min() -> SimTime {
    SimTime(days_from_civil(0, 1, 1) * 86_400_000)
}

/// Why a text is not a date-time literal.
pub(super) enum DateTimeError {
    Malformed,
    BeforeYearZero,
}

/// Parses a bare date (`2017-01-01`, midnight UTC) or an RFC 3339 date-time with a `Z` or an
/// offset. Stricter than [`SimTime::parse_rfc3339`], which reads `2017-01-01T12:00:00` (no
/// zone) as midnight, dropping the time.
pub(super) fn parse_date_time(text: &str) -> Result<SimTime, DateTimeError> {
    let t = if text.len() == 10 {
        SimTime::parse_rfc3339(text)
    } else {
        text.parse::<jiff::Timestamp>()
            .ok()
            .map(|ts| SimTime(ts.as_millisecond()))
    };
    match t {
        Some(t) if t >= date_time_min() => Ok(t),
        Some(_) => Err(DateTimeError::BeforeYearZero),
        None => Err(DateTimeError::Malformed),
    }
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let byte_at = |i: usize| chars.get(i).map_or(src.len(), |&(b, _)| b);
    let char_at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = char_at(i) {
        let start = i;
        let tok = match c {
            ' ' | '\t' | '\r' | '\n' => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '\'' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match char_at(i) {
                        None => {
                            return Err(invalid(format!(
                                "unterminated string {}; close it with ' (write '' for a quote inside a string)",
                                at(start + 1)
                            )));
                        }
                        Some('\'') if char_at(i + 1) == Some('\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                Tok::Str(text)
            }
            c if c.is_ascii_digit() && is_date_at(&chars, i) => {
                i = date_time_end(&chars, i);
                date_time(src, byte_at(start), byte_at(i), start + 1, &chars[i..])?
            }
            c if c.is_ascii_digit()
                || (c == '-' && char_at(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                i = number_end(&chars, i).map_err(|end| {
                    invalid(format!(
                        "malformed number \"{}\" {}; write numbers as 42, -3, 1.5 or 2e3",
                        shorten(&src[byte_at(start)..byte_at(end)]),
                        at(start + 1)
                    ))
                })?;
                number(&src[byte_at(start)..byte_at(i)], start + 1)?
            }
            c if c.is_alphabetic() || c == '_' => {
                while char_at(i).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    i += 1;
                }
                let name = &src[byte_at(start)..byte_at(i)];
                // `datetime'2017-01-01'` and `guid'...'` are OData v3 typed literals; a keyword
                // before a quote (`eq'x'`) is only a missing space, and reads fine.
                if char_at(i) == Some('\'') && !KEYWORDS.contains(&name) {
                    return Err(QueryError::new(
                        code::UNSUPPORTED_FILTER,
                        "$filter",
                        format!(
                            "typed literal {name}'...' {} is not supported; write strings in quotes ('text') and date-times unquoted (2017-01-01T00:00:00Z)",
                            at(start + 1)
                        ),
                    ));
                }
                match name {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "null" => Tok::Null,
                    _ => Tok::Ident(name.to_owned()),
                }
            }
            other => return Err(invalid(unexpected_char(other, start + 1))),
        };
        tokens.push(Token {
            tok,
            pos: start + 1,
            span: (byte_at(start), byte_at(i)),
        });
    }
    Ok(tokens)
}

fn unexpected_char(c: char, pos: usize) -> String {
    let hint = match c {
        '"' => "; strings use single quotes: 'text'",
        '=' => "; compare with eq, not =",
        '!' => "; compare with ne, not !=",
        '<' | '>' => "; compare with lt, le, gt or ge",
        '&' | '|' => "; combine conditions with and, or",
        '/' => "; paths and lambda operators (any, all) are not supported",
        '+' | '*' | '%' => "; arithmetic is not supported",
        '-' => "; a minus sign must be followed by digits (-5); arithmetic is not supported",
        _ => "",
    };
    format!(
        "unexpected character \"{}\" {}{hint}",
        c.escape_debug(),
        at(pos)
    )
}

/// Whether `YYYY-MM-DD` starts at `i`.
fn is_date_at(chars: &[(usize, char)], i: usize) -> bool {
    let pattern = b"dddd-dd-dd";
    pattern.iter().enumerate().all(|(k, &p)| {
        chars.get(i + k).is_some_and(|&(_, c)| match p {
            b'd' => c.is_ascii_digit(),
            _ => c == '-',
        })
    })
}

/// The end of a date-time starting at `i`: the date, then optionally `T`, the time characters,
/// and a `Z` or a `+hh:mm`/`-hh:mm` offset.
fn date_time_end(chars: &[(usize, char)], mut i: usize) -> usize {
    let char_at = |i: usize| chars.get(i).map(|&(_, c)| c);
    i += 10;
    if matches!(char_at(i), Some('T' | 't')) {
        i += 1;
        while char_at(i).is_some_and(|c| c.is_ascii_digit() || matches!(c, ':' | '.' | ',')) {
            i += 1;
        }
        match char_at(i) {
            Some('Z' | 'z') => i += 1,
            Some('+' | '-') if char_at(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                i += 1;
                while char_at(i).is_some_and(|c| c.is_ascii_digit() || c == ':') {
                    i += 1;
                }
            }
            _ => {}
        }
    }
    i
}

fn date_time(
    src: &str,
    start: usize,
    end: usize,
    pos: usize,
    rest: &[(usize, char)],
) -> Result<Tok, QueryError> {
    let text = &src[start..end];
    if rest
        .first()
        .is_some_and(|&(_, c)| c.is_alphanumeric() || c == '_')
    {
        let word_end = rest
            .iter()
            .find(|&&(_, c)| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '.'))
            .map_or(src.len(), |&(b, _)| b);
        return Err(invalid(format!(
            "malformed date-time \"{}\" {}; write it as 2017-01-01T00:00:00Z or 2017-01-01",
            shorten(&src[start..word_end]),
            at(pos)
        )));
    }
    match parse_date_time(text) {
        Ok(t) => Ok(Tok::DateTime(t)),
        Err(DateTimeError::BeforeYearZero) => Err(invalid(format!(
            "date-time {text} {} is before the year 0000",
            at(pos)
        ))),
        Err(DateTimeError::Malformed) => {
            // A `+01:00` offset typed straight into a URL arrives as ` 01:00`, because `+`
            // decodes to a space; say so, as that is by far the likeliest cause.
            let follows: String = rest.iter().take(6).map(|&(_, c)| c).collect();
            let plus_lost = follows.len() == 6
                && follows.starts_with(' ')
                && follows[1..]
                    .chars()
                    .enumerate()
                    .all(|(k, c)| if k == 2 { c == ':' } else { c.is_ascii_digit() });
            let hint = if plus_lost {
                "; a '+' in a URL query decodes to a space, so write the offset as %2B01:00 or use Z"
            } else {
                "; write it as 2017-01-01T00:00:00Z (RFC 3339 with Z or an offset) or 2017-01-01"
            };
            Err(invalid(format!(
                "invalid date-time \"{}\" {}{hint}",
                shorten(text),
                at(pos)
            )))
        }
    }
}

/// The end of a number starting at `i` (`-?digits(.digits)?([eE][+-]?digits)?`), or on a
/// malformed one the end of the word it is part of.
fn number_end(chars: &[(usize, char)], mut i: usize) -> Result<usize, usize> {
    let char_at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let digits = |mut i: usize| {
        let start = i;
        while char_at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    let word_end = |mut i: usize| {
        while char_at(i).is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+'))
        {
            i += 1;
        }
        i
    };
    if char_at(i) == Some('-') {
        i += 1;
    }
    i = digits(i).ok_or_else(|| word_end(i))?;
    if char_at(i) == Some('.') {
        i = digits(i + 1).ok_or_else(|| word_end(i))?;
    }
    if matches!(char_at(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(char_at(j), Some('+' | '-')) {
            j += 1;
        }
        i = digits(j).ok_or_else(|| word_end(i))?;
    }
    if char_at(i).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
        return Err(word_end(i));
    }
    Ok(i)
}

/// An integer when the text has neither fraction nor exponent and fits `i64`; otherwise a
/// decimal (`f64`), which must be finite.
fn number(text: &str, pos: usize) -> Result<Tok, QueryError> {
    let integral = !text.contains(['.', 'e', 'E']);
    if integral && let Ok(i) = text.parse::<i64>() {
        return Ok(Tok::Int(i));
    }
    match text.parse::<f64>() {
        Ok(d) if d.is_finite() => Ok(Tok::Decimal(d)),
        _ => Err(invalid(format!(
            "number {} {} is out of range",
            shorten(text),
            at(pos)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, expected: &[Tok]) {
        let tokens = lex(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let toks: Vec<Tok> = tokens.into_iter().map(|t| t.tok).collect();
        assert_eq!(toks, expected, "{src}");
    }

    fn check_err(src: &str, code: &str, message: &str) {
        let err = lex(src).expect_err(src);
        assert_eq!((err.code, err.target.as_str()), (code, "$filter"), "{src}");
        assert!(err.message.contains(message), "{src}: {}", err.message);
    }

    fn ident(s: &str) -> Tok {
        Tok::Ident(s.to_owned())
    }

    #[test]
    fn lexes_names_keywords_and_punctuation() {
        check(
            "(A_1 eq B) and not Größe",
            &[
                Tok::LParen,
                ident("A_1"),
                ident("eq"),
                ident("B"),
                Tok::RParen,
                ident("and"),
                ident("not"),
                ident("Größe"),
            ],
        );
        check(
            "true false null True",
            &[Tok::Bool(true), Tok::Bool(false), Tok::Null, ident("True")],
        );
        check("\t a ,\r\n", &[ident("a"), Tok::Comma]);
        check("eq'x'", &[ident("eq"), Tok::Str("x".into())]);
    }

    #[test]
    fn lexes_strings_with_doubled_quotes() {
        check(
            "'it''s' ''",
            &[Tok::Str("it's".into()), Tok::Str(String::new())],
        );
        check(
            "'''' 'é ✓'",
            &[Tok::Str("'".into()), Tok::Str("é ✓".into())],
        );
    }

    #[test]
    fn lexes_integers_and_decimals() {
        check(
            "0 -3 42 9223372036854775807 -9223372036854775808",
            &[
                Tok::Int(0),
                Tok::Int(-3),
                Tok::Int(42),
                Tok::Int(i64::MAX),
                Tok::Int(i64::MIN),
            ],
        );
        check(
            "1.5 -0.25 2e3 1E-7 1.5e+2 9223372036854775808",
            &[
                Tok::Decimal(1.5),
                Tok::Decimal(-0.25),
                Tok::Decimal(2000.0),
                Tok::Decimal(1e-7),
                Tok::Decimal(150.0),
                Tok::Decimal(9_223_372_036_854_775_808.0),
            ],
        );
    }

    #[test]
    fn lexes_date_times_and_bare_dates() {
        let t = SimTime::parse_rfc3339("2017-01-01T00:00:00Z").unwrap();
        check(
            "2017-01-01T00:00:00.000Z 2017-01-01 2017-01-01T01:00:00+01:00)",
            &[
                Tok::DateTime(t),
                Tok::DateTime(t),
                Tok::DateTime(t),
                Tok::RParen,
            ],
        );
        check(
            "2017-01-01T00:00:00.5Z",
            &[Tok::DateTime(SimTime(t.0 + 500))],
        );
    }

    #[test]
    fn records_one_based_character_positions() {
        let tokens = lex("é eq 'x'").unwrap();
        let positions: Vec<usize> = tokens.iter().map(|t| t.pos).collect();
        assert_eq!(positions, [1, 3, 6]);
        assert_eq!(tokens[2].text("é eq 'x'"), "'x'");
    }

    #[test]
    fn rejects_unterminated_strings_at_their_opening_quote() {
        check_err(
            "A eq 'abc",
            code::INVALID_FILTER,
            "unterminated string at position 6 in $filter; close it with ' (write '' for a quote inside a string)",
        );
        check_err("A eq 'it''", code::INVALID_FILTER, "at position 6");
    }

    #[test]
    fn rejects_malformed_numbers() {
        check_err(
            "A eq 12abc",
            code::INVALID_FILTER,
            "malformed number \"12abc\" at position 6 in $filter; write numbers as 42",
        );
        check_err("A eq 1.", code::INVALID_FILTER, "malformed number \"1.\"");
        check_err(
            "A eq 1.5.2",
            code::INVALID_FILTER,
            "malformed number \"1.5.2\"",
        );
        check_err("A eq 2e", code::INVALID_FILTER, "malformed number \"2e\"");
        check_err(
            "A eq 1e999",
            code::INVALID_FILTER,
            "number 1e999 at position 6 in $filter is out of range",
        );
    }

    #[test]
    fn rejects_invalid_date_times_with_a_hint() {
        check_err(
            "A gt 2017-01-01T00:00:00",
            code::INVALID_FILTER,
            "invalid date-time \"2017-01-01T00:00:00\" at position 6 in $filter; write it as 2017-01-01T00:00:00Z",
        );
        check_err(
            "A gt 2017-13-01",
            code::INVALID_FILTER,
            "invalid date-time \"2017-13-01\"",
        );
        check_err(
            "A gt 2017-01-01T12:00:00",
            code::INVALID_FILTER,
            "with Z or an offset",
        );
        check_err(
            "A gt 2017-01-01T",
            code::INVALID_FILTER,
            "invalid date-time \"2017-01-01T\"",
        );
        check_err(
            "A gt 2017-01-01T00:00:00 01:00",
            code::INVALID_FILTER,
            "%2B01:00",
        );
        check_err(
            "A gt 2017-01-01x",
            code::INVALID_FILTER,
            "malformed date-time \"2017-01-01x\"",
        );
        check_err(
            "A gt 0000-01-01T00:00:00+01:00",
            code::INVALID_FILTER,
            "before the year 0000",
        );
    }

    #[test]
    fn rejects_stray_characters_with_a_hint() {
        check_err(
            "A = 1",
            code::INVALID_FILTER,
            "unexpected character \"=\" at position 3 in $filter; compare with eq, not =",
        );
        check_err(
            "A eq \"x\"",
            code::INVALID_FILTER,
            "strings use single quotes",
        );
        check_err("A/B eq 1", code::INVALID_FILTER, "lambda operators");
        check_err(
            "A eq - 1",
            code::INVALID_FILTER,
            "a minus sign must be followed by digits",
        );
        check_err(
            "A eq 1 \u{0} ",
            code::INVALID_FILTER,
            "unexpected character \"\\0\"",
        );
    }

    #[test]
    fn rejects_typed_literals_of_older_odata_versions() {
        check_err(
            "A gt datetime'2017-01-01'",
            code::UNSUPPORTED_FILTER,
            "typed literal datetime'...' at position 6 in $filter is not supported",
        );
    }
}
