//! Key paths (`steps[2].evaluate_segment.name`) and where they are in a file.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The dotted path to a key of a scenario file, as errors print it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    /// The path of the whole file.
    pub(crate) fn root() -> KeyPath {
        KeyPath::default()
    }

    /// This path followed by a table key.
    pub(crate) fn key(&self, key: &str) -> KeyPath {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_owned()));
        next
    }

    /// This path followed by an array index.
    pub(crate) fn index(&self, index: usize) -> KeyPath {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// This path followed by `rest`.
    pub(crate) fn join(&self, rest: &KeyPath) -> KeyPath {
        let mut next = self.clone();
        next.0.extend(rest.0.iter().cloned());
        next
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path `serde_path_to_error` recorded while deserializing.
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> KeyPath {
        use serde_path_to_error::Segment as S;
        let mut out = KeyPath::root();
        for segment in path.iter() {
            out = match segment {
                S::Seq { index } => out.index(*index),
                S::Map { key } => out.key(key),
                S::Enum { variant } => out.key(variant),
                // Not a position a reader can find in the file; the line still points at it.
                S::Unknown => out,
            };
        }
        out
    }

    /// The value at this path in a parsed document, if it is there.
    pub(crate) fn value_in<'a>(&self, table: &'a toml::Table) -> Option<&'a toml::Value> {
        let mut segments = self.0.iter();
        let Some(Segment::Key(first)) = segments.next() else {
            return None;
        };
        let mut value = table.get(first)?;
        for segment in segments {
            value = match segment {
                Segment::Key(key) => value.as_table()?.get(key)?,
                Segment::Index(i) => value.as_array()?.get(*i)?,
            };
        }
        Some(value)
    }

    /// The 1-based line of this key in `text`: the line of the key itself, or of the nearest
    /// enclosing key that the file writes out (an absent key is reported where it belongs).
    pub(crate) fn line_in(&self, text: &str) -> Option<usize> {
        let root = DeTable::parse(text).ok()?;
        let mut span: Option<Range<usize>> = None;
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut value: Option<&Spanned<DeValue<'_>>> = None;
        for segment in &self.0 {
            match segment {
                Segment::Key(key) => {
                    let Some((k, v)) =
                        table.and_then(|t| t.iter().find(|(k, _)| k.get_ref() == key))
                    else {
                        break;
                    };
                    span = Some(k.span());
                    value = Some(v);
                }
                Segment::Index(i) => {
                    let Some(item) = value
                        .and_then(|v| v.get_ref().as_array())
                        .and_then(|a| a.get(*i))
                    else {
                        break;
                    };
                    span = Some(item.span());
                    value = Some(item);
                }
            }
            table = value.and_then(|v| v.get_ref().as_table());
        }
        span.map(|s| line_of(text, s.start))
    }
}

/// The 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare(key) {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether TOML can write this key without quotes.
fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &KeyPath, text: &str, expected: &str) {
        let line = path.line_in(text).map_or("-".to_owned(), |l| l.to_string());
        assert_eq!(format!("{path} @ {line}"), expected);
    }

    const TEXT: &str = r#"format = 1
id = "a"

[[steps]]
at = "0s"

[[steps]]
at = "1d"
evaluate_segment = { name = "X",
  entity_count = 3 }

[expect]
sinks = [{ sink = "email", json = { "/subject" = "x" } }]
"#;

    #[test]
    fn finds_keys_in_arrays_of_tables_and_inline_tables() {
        let steps = KeyPath::root().key("steps");
        check(&steps.index(1).key("at"), TEXT, "steps[1].at @ 8");
        check(
            &steps.index(1).key("evaluate_segment").key("entity_count"),
            TEXT,
            "steps[1].evaluate_segment.entity_count @ 10",
        );
        let json = KeyPath::root()
            .key("expect")
            .key("sinks")
            .index(0)
            .key("json");
        check(
            &json.key("/subject"),
            TEXT,
            "expect.sinks[0].json.\"/subject\" @ 13",
        );
    }

    #[test]
    fn an_absent_key_is_placed_at_its_nearest_written_parent() {
        check(
            &KeyPath::root().key("steps").index(0).key("refresh"),
            TEXT,
            "steps[0].refresh @ 4",
        );
        check(&KeyPath::root().key("tenant"), TEXT, "tenant @ -");
        check(&KeyPath::root(), TEXT, " @ -");
    }
}
