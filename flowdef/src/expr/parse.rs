//! The Workflow Definition Language's expressions: a JSON string value is a literal, an
//! expression (`@add(1, 2)`), or a string with interpolations (`Hi @{triggerBody()?['name']}`).
//!
//! The grammar (WDL has no infix operators):
//!
//! ```text
//! expr    := primary postfix*
//! primary := 'string' | number | true | false | null | name '(' [expr (',' expr)*] ')'
//! postfix := '[' expr ']' | '?[' expr ']' | '.' name | '?.' name
//! ```

use std::fmt;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A function call; `name` as written (functions are looked up ignoring case).
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// `target[index]`, or `target?[index]` when `safe` (null instead of an error when the
    /// target is null or lacks the property).
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
        safe: bool,
    },
    /// `target.name` or `target?.name`.
    Member {
        target: Box<Expr>,
        name: String,
        safe: bool,
    },
}

/// A JSON string value of a definition, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// No expression (including a leading `@@`, which stands for one `@`).
    Literal(String),
    /// `@expr`: the value of the expression, of any type.
    Expr(Expr),
    /// Text with `@{expr}` parts: always a string.
    Interp(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Expr(Expr),
}

/// Why an expression does not parse: what was expected, at which character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {offset} of `{text}`")]
pub struct SyntaxError {
    pub text: String,
    /// Byte offset into `text`.
    pub offset: usize,
    pub message: String,
}

impl Template {
    /// Whether this string holds any expression.
    pub fn is_literal(&self) -> bool {
        matches!(self, Template::Literal(_))
    }

    /// Every expression in it.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Template::Literal(_) => Vec::new(),
            Template::Expr(e) => vec![e],
            Template::Interp(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Expr(e) => Some(e),
                    Part::Text(_) => None,
                })
                .collect(),
        }
    }
}

/// Parses a JSON string value of a definition.
///
/// ```
/// use flowdef::expr::{Template, parse_template};
///
/// assert_eq!(parse_template("@@x").unwrap(), Template::Literal("@x".into()));
/// assert!(matches!(parse_template("@add(1, 2)").unwrap(), Template::Expr(_)));
/// assert!(matches!(parse_template("n = @{add(1, 2)}").unwrap(), Template::Interp(_)));
/// ```
pub fn parse_template(text: &str) -> Result<Template, SyntaxError> {
    if let Some(rest) = text.strip_prefix("@@") {
        return Ok(Template::Literal(format!("@{rest}")));
    }
    if text.starts_with("@{") {
        return parse_interpolation(text);
    }
    if text.starts_with('@') {
        let mut p = Parser::new(text, 1);
        let e = p.expr()?;
        p.skip_ws();
        if p.pos < text.len() {
            return Err(p.error(
                "unexpected text after the expression; wrap text with expressions in @{...}",
            ));
        }
        return Ok(Template::Expr(e));
    }
    if text.contains("@{") {
        return parse_interpolation(text);
    }
    Ok(Template::Literal(text.to_owned()))
}

fn parse_interpolation(text: &str) -> Result<Template, SyntaxError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with("@@{") {
            literal.push_str("@{");
            i += 3;
        } else if text[i..].starts_with("@{") {
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            let mut p = Parser::new(text, i + 2);
            let e = p.expr()?;
            p.skip_ws();
            if p.peek() != Some(b'}') {
                return Err(p.error("expected `}` to close `@{`"));
            }
            parts.push(Part::Expr(e));
            i = p.pos + 1;
        } else {
            let ch = text[i..].chars().next().unwrap_or('\0');
            literal.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(Template::Interp(parts))
}

/// Parses a bare expression (without the leading `@`).
pub fn parse_expr(text: &str) -> Result<Expr, SyntaxError> {
    let mut p = Parser::new(text, 0);
    let e = p.expr()?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error("unexpected text after the expression"));
    }
    Ok(e)
}

/// Nesting deeper than this is refused (a definition is data from outside: no stack overflow).
const DEPTH_MAX: usize = 128;

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, pos: usize) -> Parser<'a> {
        Parser {
            text,
            pos,
            depth: 0,
        }
    }

    fn error(&self, message: &str) -> SyntaxError {
        SyntaxError {
            text: self.text.to_owned(),
            offset: self.pos,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return Err(self.error("the expression nests too deeply"));
        }
        let mut e = self.primary()?;
        loop {
            self.skip_ws();
            let safe = self.text[self.pos..].starts_with('?');
            let at = if safe { self.pos + 1 } else { self.pos };
            match self.text.as_bytes().get(at) {
                Some(b'[') => {
                    self.pos = at + 1;
                    let index = self.expr()?;
                    if !self.eat(b']') {
                        return Err(self.error("expected `]`"));
                    }
                    e = Expr::Index {
                        target: Box::new(e),
                        index: Box::new(index),
                        safe,
                    };
                }
                Some(b'.') => {
                    self.pos = at + 1;
                    self.skip_ws();
                    let name = self.ident();
                    if name.is_empty() {
                        return Err(self.error("expected a property name after `.`"));
                    }
                    e = Expr::Member {
                        target: Box::new(e),
                        name,
                        safe,
                    };
                }
                _ if safe => return Err(self.error("expected `[` or `.` after `?`")),
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(e)
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        {
            self.pos += 1;
        }
        self.text[start..self.pos].to_owned()
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("expected an expression")),
            Some(b'\'') => self.string(),
            Some(b'-' | b'+' | b'0'..=b'9') => self.number(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let name = self.ident();
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if !self.eat(b')') {
                        loop {
                            args.push(self.expr()?);
                            if self.eat(b',') {
                                continue;
                            }
                            if self.eat(b')') {
                                break;
                            }
                            return Err(self.error("expected `,` or `)` in the arguments"));
                        }
                    }
                    return Ok(Expr::Call { name, args });
                }
                match name.to_ascii_lowercase().as_str() {
                    "true" => Ok(Expr::Bool(true)),
                    "false" => Ok(Expr::Bool(false)),
                    "null" => Ok(Expr::Null),
                    _ => Err(SyntaxError {
                        text: self.text.to_owned(),
                        offset: self.pos - name.len(),
                        message: format!(
                            "`{name}` is not a value; call a function (`{name}(...)`) or quote text ('{name}')"
                        ),
                    }),
                }
            }
            Some(_) => Err(self.error("expected a value or a function call")),
        }
    }

    fn string(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        while let Some(ch) = self.text.get(self.pos..).and_then(|r| r.chars().next()) {
            self.pos += ch.len_utf8();
            if ch == '\'' {
                if self.peek() == Some(b'\'') {
                    self.pos += 1;
                    out.push('\'');
                } else {
                    return Ok(Expr::Str(out));
                }
            } else {
                out.push(ch);
            }
        }
        Err(SyntaxError {
            text: self.text.to_owned(),
            offset: start,
            message: "unterminated string; close it with `'` (write `''` for a quote inside)"
                .to_owned(),
        })
    }

    fn number(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut float = false;
        if self.peek() == Some(b'.')
            && self
                .text
                .as_bytes()
                .get(self.pos + 1)
                .is_some_and(u8::is_ascii_digit)
        {
            float = true;
            self.pos += 1;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'-' | b'+')) {
                self.pos += 1;
            }
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                float = true;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        if self.pos == digits {
            return Err(self.error("expected digits"));
        }
        let text = &self.text[start..self.pos];
        let bad = || SyntaxError {
            text: self.text.to_owned(),
            offset: start,
            message: format!("`{text}` is not a number this engine can hold"),
        };
        if float {
            text.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Expr::Float)
                .ok_or_else(bad)
        } else {
            text.parse::<i64>().map(Expr::Int).or_else(|_| {
                text.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Expr::Float)
                    .ok_or_else(bad)
            })
        }
    }
}

impl fmt::Display for Expr {
    /// The expression in WDL syntax (re-parses to the same tree).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Null => f.write_str("null"),
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Float(x) => {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x:?}")
                }
            }
            Expr::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Expr::Call { name, args } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Index {
                target,
                index,
                safe,
            } => write!(f, "{target}{}[{index}]", if *safe { "?" } else { "" }),
            Expr::Member { target, name, safe } => {
                write!(f, "{target}{}.{name}", if *safe { "?" } else { "" })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Template) {
        assert_eq!(parse_template(text), Ok(expected), "{text}");
    }

    fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call {
            name: name.into(),
            args,
        }
    }

    #[test]
    fn literals_escapes_and_interpolation_follow_the_wdl_table() {
        check("Sophia Owen", Template::Literal("Sophia Owen".into()));
        check("array[1]", Template::Literal("array[1]".into()));
        check("@@", Template::Literal("@".into()));
        check(" @", Template::Literal(" @".into()));
        check(
            "@parameters('myAge')",
            Template::Expr(call("parameters", vec![Expr::Str("myAge".into())])),
        );
        check(
            "@{parameters('myAge')}",
            Template::Interp(vec![Part::Expr(call(
                "parameters",
                vec![Expr::Str("myAge".into())],
            ))]),
        );
        check(
            "My age is @@{parameters('myAge')}",
            Template::Interp(vec![Part::Text("My age is @{parameters('myAge')}".into())]),
        );
        check(
            "a @{'}'} b",
            Template::Interp(vec![
                Part::Text("a ".into()),
                Part::Expr(Expr::Str("}".into())),
                Part::Text(" b".into()),
            ]),
        );
    }

    #[test]
    fn parses_null_safe_access_members_and_numbers() {
        let e = parse_expr("triggerBody()?['a'][0].b?.c").unwrap();
        assert_eq!(e.to_string(), "triggerBody()?['a'][0].b?.c");
        assert_eq!(parse_expr("-12").unwrap(), Expr::Int(-12));
        assert_eq!(parse_expr("1.5e3").unwrap(), Expr::Float(1500.0));
        assert_eq!(parse_expr("'it''s'").unwrap(), Expr::Str("it's".into()));
        assert_eq!(parse_expr(" TRUE ").unwrap(), Expr::Bool(true));
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        let err = parse_template("@concat('a', ").unwrap_err();
        assert_eq!(err.offset, 13);
        assert_eq!(err.message, "expected an expression");
        let err = parse_template("@concat('a'").unwrap_err();
        assert!(err.message.contains("`,` or `)`"), "{err}");
        let err = parse_template("x @{add(1, 2)").unwrap_err();
        assert!(err.message.contains("`}`"), "{err}");
        let err = parse_template("@'abc").unwrap_err();
        assert!(err.message.starts_with("unterminated string"), "{err}");
        let err = parse_template("@foo").unwrap_err();
        assert!(err.message.contains("not a value"), "{err}");
        let err = parse_template("@add(1, 2) x").unwrap_err();
        assert!(err.message.contains("unexpected text"), "{err}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = format!("@{}1{}", "array(".repeat(10_000), ")".repeat(10_000));
        let err = parse_template(&text).unwrap_err();
        assert_eq!(err.message, "the expression nests too deeply");
    }
}
