//! The `$filter` parser: recursive descent with one function per precedence level
//! (`or` < `and` < `not` < comparison), over the tokens of [`lexer`](super::lexer).

use super::lexer::{KEYWORDS, Tok, Token, at, invalid, lex};
use super::{CmpOp, Expr, Literal, QueryError, code};

/// The longest `$filter` accepted, in bytes (after percent-decoding).
pub const FILTER_LEN_MAX: usize = 8 * 1024;
/// The deepest nesting of parentheses and `not`s accepted (a `not` directly before `(` counts
/// once, with its parenthesis). It bounds the parser's recursion, so no input can overflow the
/// stack.
pub const FILTER_DEPTH_MAX: usize = 64;

/// Parses a `$filter` text (already percent-decoded) into an [`Expr`].
///
/// See the [module docs](super) for the grammar. Every error is a [`QueryError`] with target
/// `$filter` whose message names the offending token and its 1-based character position.
pub fn parse_filter(text: &str) -> Result<Expr, QueryError> {
    if text.len() > FILTER_LEN_MAX {
        return Err(QueryError::new(
            code::FILTER_TOO_COMPLEX,
            "$filter",
            format!(
                "$filter is {} bytes long, more than the {FILTER_LEN_MAX} allowed; split the query",
                text.len()
            ),
        ));
    }
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Err(QueryError::new(
            code::INVALID_FILTER,
            "$filter",
            "$filter is empty; write a condition such as CustomerId eq 'id', or leave $filter out",
        ));
    }
    let mut parser = Parser {
        src: text,
        tokens,
        next: 0,
        depth: 0,
    };
    let expr = parser.or()?;
    match parser.peek() {
        None => Ok(expr),
        Some(token) => Err(parser.unexpected_after_condition(token, "the end of $filter")),
    }
}

/// The arithmetic operators of OData, which the subset does not have.
const ARITHMETIC: [&str; 6] = ["add", "sub", "mul", "div", "divby", "mod"];

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    next: usize,
    depth: usize,
}

/// One side of a comparison.
enum Operand {
    Field(String),
    Literal(Literal),
}

fn cmp_op(word: &str) -> Option<CmpOp> {
    Some(match word {
        "eq" => CmpOp::Eq,
        "ne" => CmpOp::Ne,
        "gt" => CmpOp::Gt,
        "ge" => CmpOp::Ge,
        "lt" => CmpOp::Lt,
        "le" => CmpOp::Le,
        _ => return None,
    })
}

fn unsupported(message: impl Into<String>) -> QueryError {
    QueryError::new(code::UNSUPPORTED_FILTER, "$filter", message)
}

const EXPECTED_OP: &str = "a comparison operator (eq, ne, gt, ge, lt, le) or in";
const EXPECTED_VALUE: &str = "a value (a quoted string, number, date-time, true, false or null)";

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn peek_is(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| t.tok == *tok)
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += usize::from(token.is_some());
        token
    }

    fn eat(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|t| t.is_ident(keyword));
        self.next += usize::from(found);
        found
    }

    /// `"eq" at position 3 in $filter`: a token as written and where it is.
    fn quote(&self, token: &Token) -> String {
        format!("\"{}\" {}", token.text(self.src), at(token.pos))
    }

    /// The token as written, without its position.
    fn text(&self, token: &Token) -> String {
        format!("\"{}\"", token.text(self.src))
    }

    fn enter(&mut self, token: &Token) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > FILTER_DEPTH_MAX {
            return Err(QueryError::new(
                code::FILTER_TOO_COMPLEX,
                "$filter",
                format!(
                    "$filter nests deeper than {FILTER_DEPTH_MAX} levels of parentheses and not ({} {}); simplify it",
                    self.text(token),
                    at(token.pos)
                ),
            ));
        }
        Ok(())
    }

    /// `or_expr = and_expr { "or" and_expr }`
    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat("or") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `and_expr = unary { "and" unary }`
    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        while self.eat("and") {
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `unary = "not" unary | primary`
    fn unary(&mut self) -> Result<Expr, QueryError> {
        let token = match self.peek() {
            Some(token) if token.is_ident("not") => token.clone(),
            _ => return self.primary(),
        };
        self.next += 1;
        let paren = self.peek_is(&Tok::LParen);
        if !paren {
            self.enter(&token)?;
        }
        let inner = self.unary()?;
        if !paren {
            self.depth -= 1;
        }
        Ok(Expr::Not(Box::new(inner)))
    }

    /// The error for a missing condition, where `found` (just consumed, or the end) stands:
    /// names the token the condition should have followed (`and`, `or`, `not`, `(`).
    fn expected_condition(&self, found: Option<&Token>) -> QueryError {
        let found_text = match found {
            Some(token) => self.quote(token),
            None => "the end of $filter".to_owned(),
        };
        let before = self.next - usize::from(found.is_some());
        match before.checked_sub(1).and_then(|i| self.tokens.get(i)) {
            Some(prev) => invalid(format!(
                "expected a condition after {}, found {found_text}",
                self.quote(prev)
            )),
            None => invalid(format!("expected a condition, found {found_text}")),
        }
    }

    /// `primary = "(" or_expr ")" | function | comparison`
    fn primary(&mut self) -> Result<Expr, QueryError> {
        let Some(token) = self.bump() else {
            return Err(self.expected_condition(None));
        };
        match &token.tok {
            Tok::LParen => {
                self.enter(&token)?;
                let inner = self.or()?;
                match self.bump() {
                    Some(t) if t.tok == Tok::RParen => {}
                    Some(t) => return Err(self.unexpected_after_condition(&t, "\")\"")),
                    None => {
                        return Err(invalid(format!(
                            "\"(\" {} is never closed; add \")\"",
                            at(token.pos)
                        )));
                    }
                }
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Ident(name)
                if name != "not"
                    && name.eq_ignore_ascii_case("not")
                    && self.peek().is_some_and(|t| match &t.tok {
                        Tok::LParen => true,
                        Tok::Ident(next) => cmp_op(next).is_none() && next != "in",
                        _ => false,
                    }) =>
            {
                Err(invalid(format!(
                    "unknown keyword {}; keywords are lowercase: not",
                    self.quote(&token)
                )))
            }
            Tok::Ident(name) if self.peek_is(&Tok::LParen) => self.function(name, &token),
            Tok::Ident(name) if KEYWORDS.contains(&name.as_str()) => {
                Err(self.expected_condition(Some(&token)))
            }
            Tok::Ident(name) => self.comparison(Operand::Field(name.clone()), &token),
            Tok::RParen | Tok::Comma => Err(self.expected_condition(Some(&token))),
            _ => match literal(&token) {
                Some(lit) => self.comparison(Operand::Literal(lit), &token),
                None => Err(self.expected_condition(Some(&token))),
            },
        }
    }

    /// `function = "IsMemberOfSegment" "(" string ")"`, the name in any case.
    fn function(&mut self, name: &str, token: &Token) -> Result<Expr, QueryError> {
        if !name.eq_ignore_ascii_case("IsMemberOfSegment") {
            return Err(unsupported(format!(
                "function {name} at position {} is not supported in $filter; supported functions: IsMemberOfSegment",
                token.pos
            )));
        }
        let usage = "; write IsMemberOfSegment('SegmentName')";
        let never_closed = || invalid(format!("{name}( {} is never closed{usage}", at(token.pos)));
        self.next += 1; // the "(" that made this a function call
        let segment = match self.bump() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => s,
            Some(t) => {
                return Err(invalid(format!(
                    "IsMemberOfSegment takes one quoted segment name, found {}{usage}",
                    self.quote(&t)
                )));
            }
            None => return Err(never_closed()),
        };
        match self.bump() {
            Some(t) if t.tok == Tok::RParen => Ok(Expr::IsMemberOfSegment(segment)),
            Some(t) => Err(invalid(format!(
                "IsMemberOfSegment takes one segment name, found {} after it{usage}",
                self.quote(&t)
            ))),
            None => Err(never_closed()),
        }
    }

    /// `comparison = operand cmp_op operand | field "in" "(" literal { "," literal } ")"`,
    /// with exactly one side a field.
    fn comparison(&mut self, left: Operand, left_token: &Token) -> Result<Expr, QueryError> {
        let what = match &left {
            Operand::Field(_) => "field",
            Operand::Literal(_) => "literal",
        };
        let Some(op_token) = self.bump() else {
            return Err(invalid(format!(
                "{what} {} must be followed by {EXPECTED_OP}, found the end of $filter",
                self.quote(left_token)
            )));
        };
        if op_token.is_ident("in") {
            let Operand::Field(field) = left else {
                return Err(invalid(format!(
                    "the left side of in must be a field, found literal {}",
                    self.quote(left_token)
                )));
            };
            let values = self.in_list(&op_token)?;
            return Ok(Expr::In { field, values });
        }
        let op = match &op_token.tok {
            Tok::Ident(word) => cmp_op(word),
            _ => None,
        };
        let Some(op) = op else {
            return Err(self.not_an_operator(
                &op_token,
                &format!(
                    "{what} {} must be followed by {EXPECTED_OP}",
                    self.quote(left_token)
                ),
            ));
        };
        let Some(right_token) = self.bump() else {
            return Err(invalid(format!(
                "{} must be followed by {EXPECTED_VALUE}, found the end of $filter",
                self.quote(&op_token)
            )));
        };
        let right = match &right_token.tok {
            Tok::Ident(name) if self.peek_is(&Tok::LParen) => {
                return Err(unsupported(format!(
                    "comparing with the result of function {name} {} is not supported",
                    at(right_token.pos)
                )));
            }
            Tok::Ident(name) if !KEYWORDS.contains(&name.as_str()) => Operand::Field(name.clone()),
            _ => match literal(&right_token) {
                Some(lit) => Operand::Literal(lit),
                None => {
                    return Err(invalid(format!(
                        "{} must be followed by {EXPECTED_VALUE}, found {}",
                        self.quote(&op_token),
                        self.quote(&right_token)
                    )));
                }
            },
        };
        match (left, right) {
            (Operand::Field(field), Operand::Literal(value)) => {
                Ok(Expr::Compare { field, op, value })
            }
            (Operand::Literal(value), Operand::Field(field)) => Ok(Expr::Compare {
                field,
                op: op.flipped(),
                value,
            }),
            (Operand::Field(left), Operand::Field(right)) => {
                let lowercase = right.to_ascii_lowercase();
                let hint = if ["true", "false", "null"].contains(&lowercase.as_str()) {
                    format!("; literals are lowercase: {lowercase}")
                } else {
                    "; compare a field with a literal, e.g. a quoted string".to_owned()
                };
                Err(unsupported(format!(
                    "comparing field {left} with field {right} {} is not supported{hint}",
                    at(right_token.pos)
                )))
            }
            (Operand::Literal(_), Operand::Literal(_)) => Err(invalid(format!(
                "comparison of two literals {} and {}; one side of {} must be a field",
                self.quote(left_token),
                self.text(&right_token),
                op.keyword()
            ))),
        }
    }

    /// `"(" literal { "," literal } ")"` after `in`.
    fn in_list(&mut self, in_token: &Token) -> Result<Vec<Literal>, QueryError> {
        let usage = "; write Field in ('a','b')";
        let open = match self.bump() {
            Some(t) if t.tok == Tok::LParen => t,
            Some(t) => {
                return Err(invalid(format!(
                    "in must be followed by a parenthesised list of literals, found {}{usage}",
                    self.quote(&t)
                )));
            }
            None => {
                return Err(invalid(format!(
                    "in {} must be followed by a parenthesised list of literals{usage}",
                    at(in_token.pos)
                )));
            }
        };
        let never_closed = || {
            invalid(format!(
                "the list after in {} is never closed{usage}",
                at(open.pos)
            ))
        };
        if self.peek_is(&Tok::RParen) {
            return Err(invalid(format!(
                "the list after in {} is empty{usage}",
                at(open.pos)
            )));
        }
        let mut values = Vec::new();
        loop {
            let Some(token) = self.bump() else {
                return Err(never_closed());
            };
            match literal(&token) {
                Some(lit) => values.push(lit),
                None => {
                    return Err(invalid(format!(
                        "the list after in may hold only literals, found {}{usage}",
                        self.quote(&token)
                    )));
                }
            }
            match self.bump() {
                Some(t) if t.tok == Tok::Comma => {}
                Some(t) if t.tok == Tok::RParen => return Ok(values),
                Some(t) => {
                    return Err(invalid(format!(
                        "expected \",\" or \")\" in the list after in, found {}",
                        self.quote(&t)
                    )));
                }
                None => return Err(never_closed()),
            }
        }
    }

    /// The error for a token where an operator was expected: arithmetic and `has` are
    /// unsupported, a mis-cased keyword gets its lowercase form, anything else is unexpected.
    fn not_an_operator(&self, token: &Token, expected: &str) -> QueryError {
        if let Tok::Ident(word) = &token.tok {
            if ARITHMETIC.contains(&word.as_str()) {
                return unsupported(format!(
                    "arithmetic operator {word} at position {} is not supported in $filter",
                    token.pos
                ));
            }
            if word == "has" {
                return unsupported(format!(
                    "operator has at position {} is not supported in $filter",
                    token.pos
                ));
            }
            let lowercase = word.to_ascii_lowercase();
            if *word != lowercase
                && (cmp_op(&lowercase).is_some()
                    || ["and", "or", "not", "in"].contains(&lowercase.as_str()))
            {
                return invalid(format!(
                    "unknown operator {}; operators are lowercase: {lowercase}",
                    self.quote(token)
                ));
            }
        }
        invalid(format!("{expected}, found {}", self.quote(token)))
    }

    fn unexpected_after_condition(&self, token: &Token, alternative: &str) -> QueryError {
        let mut err = self.not_an_operator(
            token,
            &format!("expected and, or or {alternative} after a condition"),
        );
        if matches!(&token.tok, Tok::Ident(word) if cmp_op(word).is_some() || word == "in") {
            err.message
                .push_str("; a condition cannot be compared again, combine conditions with and");
        }
        err
    }
}

fn literal(token: &Token) -> Option<Literal> {
    Some(match &token.tok {
        Tok::Str(s) => Literal::String(s.clone()),
        Tok::Int(i) => Literal::Int(*i),
        Tok::Decimal(d) => Literal::Decimal(*d),
        Tok::DateTime(t) => Literal::DateTime(*t),
        Tok::Bool(b) => Literal::Bool(*b),
        Tok::Null => Literal::Null,
        Tok::Ident(_) | Tok::LParen | Tok::RParen | Tok::Comma => return None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::testgen::atom;
    use super::*;
    use crate::time::SimTime;

    fn check(text: &str, expected: Expr) {
        assert_eq!(parse_filter(text), Ok(expected), "{text}");
    }

    /// Asserts the code and the whole message, so that wording changes are reviewed here.
    fn check_err(text: &str, code: &str, message: &str) {
        let err = parse_filter(text).expect_err(text);
        assert_eq!(
            (err.code, err.target.as_str()),
            (code, "$filter"),
            "{text}: {}",
            err.message
        );
        assert_eq!(err.message, message, "{text}");
    }

    fn cmp(field: &str, op: CmpOp, value: Literal) -> Expr {
        Expr::Compare {
            field: field.into(),
            op,
            value,
        }
    }

    fn s(text: &str) -> Literal {
        Literal::String(text.into())
    }

    fn and(a: Expr, b: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(b))
    }

    fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Expr) -> Expr {
        Expr::Not(Box::new(a))
    }

    #[test]
    fn parses_every_comparison_operator() {
        for (word, op) in [
            ("eq", CmpOp::Eq),
            ("ne", CmpOp::Ne),
            ("gt", CmpOp::Gt),
            ("ge", CmpOp::Ge),
            ("lt", CmpOp::Lt),
            ("le", CmpOp::Le),
        ] {
            check(&format!("Age {word} 5"), cmp("Age", op, Literal::Int(5)));
        }
    }

    #[test]
    fn parses_every_kind_of_literal() {
        check("A eq 'x'", cmp("A", CmpOp::Eq, s("x")));
        check("A eq 'O''Brien'", cmp("A", CmpOp::Eq, s("O'Brien")));
        check("A eq -3", cmp("A", CmpOp::Eq, Literal::Int(-3)));
        check("A eq 1.5", cmp("A", CmpOp::Eq, Literal::Decimal(1.5)));
        check("A eq 2e3", cmp("A", CmpOp::Eq, Literal::Decimal(2000.0)));
        check("A eq true", cmp("A", CmpOp::Eq, Literal::Bool(true)));
        check("A ne false", cmp("A", CmpOp::Ne, Literal::Bool(false)));
        check("A eq null", cmp("A", CmpOp::Eq, Literal::Null));
        let t = SimTime(1_483_228_800_000);
        check(
            "ActivityTime gt 2017-01-01T00:00:00.000Z",
            cmp("ActivityTime", CmpOp::Gt, Literal::DateTime(t)),
        );
        check(
            "ActivityTime gt 2017-01-01",
            cmp("ActivityTime", CmpOp::Gt, Literal::DateTime(t)),
        );
    }

    #[test]
    fn parses_the_documented_examples() {
        check("customerid eq '1'", cmp("customerid", CmpOp::Eq, s("1")));
        check(
            "CustomerId in ('a','b')",
            Expr::In {
                field: "CustomerId".into(),
                values: vec![s("a"), s("b")],
            },
        );
        check(
            "IsMemberOfSegment('HighValue')",
            Expr::IsMemberOfSegment("HighValue".into()),
        );
        check(
            "CustomerId eq 'c' and ActivityTime gt 2017-01-01T00:00:00.000Z and ActivityTime lt 2020-01-01T00:00:00.000Z",
            and(
                and(
                    cmp("CustomerId", CmpOp::Eq, s("c")),
                    cmp(
                        "ActivityTime",
                        CmpOp::Gt,
                        Literal::DateTime(SimTime(1_483_228_800_000)),
                    ),
                ),
                cmp(
                    "ActivityTime",
                    CmpOp::Lt,
                    Literal::DateTime(SimTime(1_577_836_800_000)),
                ),
            ),
        );
    }

    #[test]
    fn parses_function_names_in_any_case() {
        check(
            "ismemberofsegment('x')",
            Expr::IsMemberOfSegment("x".into()),
        );
        check(
            "ISMEMBEROFSEGMENT ( 'x' )",
            Expr::IsMemberOfSegment("x".into()),
        );
    }

    #[test]
    fn normalises_a_literal_on_the_left_by_flipping_the_operator() {
        check("5 lt X", cmp("X", CmpOp::Gt, Literal::Int(5)));
        check("5 ge X", cmp("X", CmpOp::Le, Literal::Int(5)));
        check("'a' eq X", cmp("X", CmpOp::Eq, s("a")));
        check("null ne X", cmp("X", CmpOp::Ne, Literal::Null));
    }

    #[test]
    fn gives_not_precedence_over_and_over_or() {
        let a = || cmp("A", CmpOp::Eq, Literal::Int(1));
        let b = || cmp("B", CmpOp::Eq, Literal::Int(2));
        let c = || cmp("C", CmpOp::Eq, Literal::Int(3));
        check("A eq 1 or B eq 2 and C eq 3", or(a(), and(b(), c())));
        check("A eq 1 and B eq 2 or C eq 3", or(and(a(), b()), c()));
        check("not A eq 1 and B eq 2", and(not(a()), b()));
        check("not (A eq 1 and B eq 2)", not(and(a(), b())));
        check("not not A eq 1", not(not(a())));
        check("A eq 1 or B eq 2 or C eq 3", or(or(a(), b()), c()));
        check("A eq 1 and (B eq 2 or C eq 3)", and(a(), or(b(), c())));
        check("((A eq 1))", a());
    }

    #[test]
    fn rejects_an_empty_filter() {
        for text in ["", "  "] {
            check_err(
                text,
                code::INVALID_FILTER,
                "$filter is empty; write a condition such as CustomerId eq 'id', or leave $filter out",
            );
        }
    }

    #[test]
    fn rejects_unsupported_functions_naming_them() {
        check_err(
            "contains(FullName,'a')",
            code::UNSUPPORTED_FILTER,
            "function contains at position 1 is not supported in $filter; supported functions: IsMemberOfSegment",
        );
        check_err(
            "A eq 1 and startswith(B,'x')",
            code::UNSUPPORTED_FILTER,
            "function startswith at position 12 is not supported in $filter; supported functions: IsMemberOfSegment",
        );
        check_err(
            "A eq tolower('X')",
            code::UNSUPPORTED_FILTER,
            "comparing with the result of function tolower at position 6 in $filter is not supported",
        );
    }

    #[test]
    fn rejects_arithmetic_and_has() {
        check_err(
            "A add 1 eq 2",
            code::UNSUPPORTED_FILTER,
            "arithmetic operator add at position 3 is not supported in $filter",
        );
        check_err(
            "A eq 1 sub 2",
            code::UNSUPPORTED_FILTER,
            "arithmetic operator sub at position 8 is not supported in $filter",
        );
        check_err(
            "A has 'x'",
            code::UNSUPPORTED_FILTER,
            "operator has at position 3 is not supported in $filter",
        );
    }

    #[test]
    fn rejects_field_to_field_comparisons() {
        check_err(
            "FirstName eq LastName",
            code::UNSUPPORTED_FILTER,
            "comparing field FirstName with field LastName at position 14 in $filter is not supported; compare a field with a literal, e.g. a quoted string",
        );
        check_err(
            "A eq True",
            code::UNSUPPORTED_FILTER,
            "comparing field A with field True at position 6 in $filter is not supported; literals are lowercase: true",
        );
    }

    #[test]
    fn rejects_uppercase_keywords_suggesting_the_lowercase_one() {
        check_err(
            "A EQ 1",
            code::INVALID_FILTER,
            "unknown operator \"EQ\" at position 3 in $filter; operators are lowercase: eq",
        );
        check_err(
            "A eq 1 AND B eq 2",
            code::INVALID_FILTER,
            "unknown operator \"AND\" at position 8 in $filter; operators are lowercase: and",
        );
        check_err(
            "NOT A eq 1",
            code::INVALID_FILTER,
            "unknown keyword \"NOT\" at position 1 in $filter; keywords are lowercase: not",
        );
        check_err(
            "A In ('x')",
            code::INVALID_FILTER,
            "unknown operator \"In\" at position 3 in $filter; operators are lowercase: in",
        );
    }

    #[test]
    fn rejects_incomplete_comparisons() {
        check_err(
            "A eq",
            code::INVALID_FILTER,
            "\"eq\" at position 3 in $filter must be followed by a value (a quoted string, number, date-time, true, false or null), found the end of $filter",
        );
        check_err(
            "A eq )",
            code::INVALID_FILTER,
            "\"eq\" at position 3 in $filter must be followed by a value (a quoted string, number, date-time, true, false or null), found \")\" at position 6 in $filter",
        );
        check_err(
            "A eq and",
            code::INVALID_FILTER,
            "\"eq\" at position 3 in $filter must be followed by a value (a quoted string, number, date-time, true, false or null), found \"and\" at position 6 in $filter",
        );
        check_err(
            "A",
            code::INVALID_FILTER,
            "field \"A\" at position 1 in $filter must be followed by a comparison operator (eq, ne, gt, ge, lt, le) or in, found the end of $filter",
        );
        check_err(
            "A 'x'",
            code::INVALID_FILTER,
            "field \"A\" at position 1 in $filter must be followed by a comparison operator (eq, ne, gt, ge, lt, le) or in, found \"'x'\" at position 3 in $filter",
        );
        check_err(
            "true",
            code::INVALID_FILTER,
            "literal \"true\" at position 1 in $filter must be followed by a comparison operator (eq, ne, gt, ge, lt, le) or in, found the end of $filter",
        );
        check_err(
            "1 eq 1",
            code::INVALID_FILTER,
            "comparison of two literals \"1\" at position 1 in $filter and \"1\"; one side of eq must be a field",
        );
        check_err(
            "'a' in ('a')",
            code::INVALID_FILTER,
            "the left side of in must be a field, found literal \"'a'\" at position 1 in $filter",
        );
    }

    #[test]
    fn rejects_dangling_logical_operators() {
        check_err(
            "A eq 1 and",
            code::INVALID_FILTER,
            "expected a condition after \"and\" at position 8 in $filter, found the end of $filter",
        );
        check_err(
            "A eq 1 or or B eq 1",
            code::INVALID_FILTER,
            "expected a condition after \"or\" at position 8 in $filter, found \"or\" at position 11 in $filter",
        );
        check_err(
            "not",
            code::INVALID_FILTER,
            "expected a condition after \"not\" at position 1 in $filter, found the end of $filter",
        );
        check_err(
            "and A eq 1",
            code::INVALID_FILTER,
            "expected a condition, found \"and\" at position 1 in $filter",
        );
        check_err(
            "()",
            code::INVALID_FILTER,
            "expected a condition after \"(\" at position 1 in $filter, found \")\" at position 2 in $filter",
        );
    }

    #[test]
    fn rejects_unbalanced_parentheses() {
        check_err(
            "(A eq 1",
            code::INVALID_FILTER,
            "\"(\" at position 1 in $filter is never closed; add \")\"",
        );
        check_err(
            "A eq 1)",
            code::INVALID_FILTER,
            "expected and, or or the end of $filter after a condition, found \")\" at position 7 in $filter",
        );
        check_err(
            "(A eq 1 B eq 2)",
            code::INVALID_FILTER,
            "expected and, or or \")\" after a condition, found \"B\" at position 9 in $filter",
        );
    }

    #[test]
    fn rejects_trailing_tokens() {
        check_err(
            "A eq 1 B",
            code::INVALID_FILTER,
            "expected and, or or the end of $filter after a condition, found \"B\" at position 8 in $filter",
        );
        check_err(
            "A eq 1 eq 2",
            code::INVALID_FILTER,
            "expected and, or or the end of $filter after a condition, found \"eq\" at position 8 in $filter; a condition cannot be compared again, combine conditions with and",
        );
        check_err(
            "IsMemberOfSegment('x') eq true",
            code::INVALID_FILTER,
            "expected and, or or the end of $filter after a condition, found \"eq\" at position 24 in $filter; a condition cannot be compared again, combine conditions with and",
        );
    }

    #[test]
    fn rejects_malformed_in_lists() {
        check_err(
            "A in ()",
            code::INVALID_FILTER,
            "the list after in at position 6 in $filter is empty; write Field in ('a','b')",
        );
        check_err(
            "A in 'x'",
            code::INVALID_FILTER,
            "in must be followed by a parenthesised list of literals, found \"'x'\" at position 6 in $filter; write Field in ('a','b')",
        );
        check_err(
            "A in",
            code::INVALID_FILTER,
            "in at position 3 in $filter must be followed by a parenthesised list of literals; write Field in ('a','b')",
        );
        check_err(
            "A in ('x',)",
            code::INVALID_FILTER,
            "the list after in may hold only literals, found \")\" at position 11 in $filter; write Field in ('a','b')",
        );
        check_err(
            "A in ('x' 'y')",
            code::INVALID_FILTER,
            "expected \",\" or \")\" in the list after in, found \"'y'\" at position 11 in $filter",
        );
        check_err(
            "A in ('x', B)",
            code::INVALID_FILTER,
            "the list after in may hold only literals, found \"B\" at position 12 in $filter; write Field in ('a','b')",
        );
        check_err(
            "A in ('x'",
            code::INVALID_FILTER,
            "the list after in at position 6 in $filter is never closed; write Field in ('a','b')",
        );
    }

    #[test]
    fn rejects_malformed_segment_membership() {
        check_err(
            "IsMemberOfSegment()",
            code::INVALID_FILTER,
            "IsMemberOfSegment takes one quoted segment name, found \")\" at position 19 in $filter; write IsMemberOfSegment('SegmentName')",
        );
        check_err(
            "IsMemberOfSegment(X)",
            code::INVALID_FILTER,
            "IsMemberOfSegment takes one quoted segment name, found \"X\" at position 19 in $filter; write IsMemberOfSegment('SegmentName')",
        );
        check_err(
            "IsMemberOfSegment('a','b')",
            code::INVALID_FILTER,
            "IsMemberOfSegment takes one segment name, found \",\" at position 22 in $filter after it; write IsMemberOfSegment('SegmentName')",
        );
        check_err(
            "IsMemberOfSegment('a'",
            code::INVALID_FILTER,
            "IsMemberOfSegment( at position 1 in $filter is never closed; write IsMemberOfSegment('SegmentName')",
        );
    }

    #[test]
    fn rejects_filters_longer_than_the_limit() {
        let long = format!("A eq '{}'", "x".repeat(FILTER_LEN_MAX));
        check_err(
            &long,
            code::FILTER_TOO_COMPLEX,
            "$filter is 8199 bytes long, more than the 8192 allowed; split the query",
        );
    }

    #[test]
    fn rejects_deep_nesting_without_overflowing_the_stack() {
        let depth = |open: &str, n: usize| {
            format!(
                "{}A eq 1{}",
                open.repeat(n),
                ")".repeat(n * usize::from(open.contains('(')))
            )
        };
        assert!(parse_filter(&depth("(", FILTER_DEPTH_MAX)).is_ok());
        assert!(parse_filter(&depth("not ", FILTER_DEPTH_MAX)).is_ok());
        assert!(parse_filter(&depth("not (", FILTER_DEPTH_MAX)).is_ok());
        check_err(
            &depth("(", FILTER_DEPTH_MAX + 1),
            code::FILTER_TOO_COMPLEX,
            "$filter nests deeper than 64 levels of parentheses and not (\"(\" at position 65 in $filter); simplify it",
        );
        for open in ["(", "not ", "not (", "(not "] {
            let err = parse_filter(&depth(open, 2000)).expect_err(open);
            assert_eq!(
                err.code,
                code::FILTER_TOO_COMPLEX,
                "{open}: {}",
                err.message
            );
        }
        let err = parse_filter(&"(".repeat(FILTER_LEN_MAX)).expect_err("deep");
        assert_eq!(err.code, code::FILTER_TOO_COMPLEX);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Precedence: `and` binds tighter than `or`, `not` tighter than `and`, and both binary
        /// operators associate to the left, for any operands (parenthesised, so that operands
        /// which are themselves `or`s stay whole).
        #[test]
        fn not_binds_tighter_than_and_which_binds_tighter_than_or(
            a in super::super::testgen::expr(),
            b in super::super::testgen::expr(),
            c in super::super::testgen::expr(),
        ) {
            let (ab, bc) = (Box::new(a.clone()), Box::new(b.clone()));
            let parse = |text: String| parse_filter(&text);
            prop_assert_eq!(parse(format!("({a}) or ({b}) and ({c})")), Ok(Expr::Or(ab.clone(), Box::new(Expr::And(bc.clone(), Box::new(c.clone()))))));
            prop_assert_eq!(parse(format!("({a}) and ({b}) or ({c})")), Ok(Expr::Or(Box::new(Expr::And(ab.clone(), bc.clone())), Box::new(c.clone()))));
            prop_assert_eq!(parse(format!("not ({a}) and ({b})")), Ok(Expr::And(Box::new(Expr::Not(ab.clone())), bc.clone())));
            prop_assert_eq!(parse(format!("not ({a}) or ({b})")), Ok(Expr::Or(Box::new(Expr::Not(ab.clone())), bc.clone())));
            prop_assert_eq!(parse(format!("({a}) or ({b}) or ({c})")), Ok(Expr::Or(Box::new(Expr::Or(ab.clone(), bc.clone())), Box::new(c.clone()))));
            prop_assert_eq!(parse(format!("({a}) and ({b}) and ({c})")), Ok(Expr::And(Box::new(Expr::And(ab, bc)), Box::new(c))));
        }

        /// The same laws without parentheses, for atoms, which is how filters are usually
        /// written: `a or b and c` is `a or (b and c)` and `not a and b` is `(not a) and b`.
        #[test]
        fn precedence_holds_for_unparenthesised_atoms(a in atom(), b in atom(), c in atom()) {
            let (ab, bc) = (Box::new(a.clone()), Box::new(b.clone()));
            prop_assert_eq!(parse_filter(&format!("{a} or {b} and {c}")), Ok(Expr::Or(ab.clone(), Box::new(Expr::And(bc.clone(), Box::new(c))))));
            prop_assert_eq!(parse_filter(&format!("not {a} and {b}")), Ok(Expr::And(Box::new(Expr::Not(ab)), bc)));
        }

        /// Totality: any text gives an expression or an error, never a panic.
        #[test]
        fn parse_filter_never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = parse_filter(&text);
        }

        /// Totality on text made of the grammar's own tokens, which reaches deeper states than
        /// random characters do; and every error points into `$filter`: its target is
        /// `$filter` and, unless the filter is empty, its message gives a position.
        #[test]
        fn parse_filter_errors_on_token_soup_name_a_position(
            tokens in prop::collection::vec(prop::sample::select(vec![
                "(", ")", ",", "not", "and", "or", "in", "eq", "lt", "A", "'x'", "'", "1", "-2.5e3",
                "2017-01-01", "2017-01-01T00:00:00Z", "null", "true", "IsMemberOfSegment", "add", "EQ", "-",
                "contains", "=", "datetime'",
            ]), 0..24)
        ) {
            for text in [tokens.join(" "), tokens.concat()] {
                if let Err(err) = parse_filter(&text) {
                    prop_assert_eq!(err.target.as_str(), "$filter");
                    let empty = text.trim().is_empty();
                    prop_assert!(empty || err.message.contains(" at position "), "{}: {}", text, err.message);
                }
            }
        }
    }
}
