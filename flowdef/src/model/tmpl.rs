//! A JSON value of a definition with every string pre-parsed as a [`Template`], so that a run
//! evaluates inputs without parsing again and `check` finds every bad expression up front.

use serde_json::{Map, Number, Value};

use crate::check::Problem;
use crate::expr::{self, EvalError, Scope, Template, eval_template, parse_template};

/// A JSON value whose strings may hold expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum Tmpl {
    Null,
    Bool(bool),
    Number(Number),
    Str(Template),
    Array(Vec<Tmpl>),
    Object(Vec<(String, Tmpl)>),
}

/// Where a value sits in its file: `$.actions.Get_items.inputs.queries['$top']`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPath(pub String);

impl JsonPath {
    pub fn root() -> JsonPath {
        JsonPath("$".to_owned())
    }

    /// The path of a property.
    pub fn key(&self, k: &str) -> JsonPath {
        let plain = !k.is_empty()
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !k.starts_with(|c: char| c.is_ascii_digit());
        if plain {
            JsonPath(format!("{}.{k}", self.0))
        } else {
            JsonPath(format!("{}['{}']", self.0, k.replace('\'', "\\'")))
        }
    }

    /// The path of an array element.
    pub fn index(&self, i: usize) -> JsonPath {
        JsonPath(format!("{}[{i}]", self.0))
    }
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Tmpl {
    /// Parses every string of `v`; bad expressions (syntax, unknown functions, argument counts)
    /// are added to `problems` with their path, and kept as literal text.
    pub fn parse(v: &Value, path: &JsonPath, problems: &mut Vec<Problem>) -> Tmpl {
        match v {
            Value::Null => Tmpl::Null,
            Value::Bool(b) => Tmpl::Bool(*b),
            Value::Number(n) => Tmpl::Number(n.clone()),
            Value::String(s) => Tmpl::Str(parse_string(s, path, problems)),
            Value::Array(a) => Tmpl::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| Tmpl::parse(x, &path.index(i), problems))
                    .collect(),
            ),
            Value::Object(o) => Tmpl::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), Tmpl::parse(x, &path.key(k), problems)))
                    .collect(),
            ),
        }
    }

    /// Evaluates every expression in it.
    pub fn eval(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        Ok(match self {
            Tmpl::Null => Value::Null,
            Tmpl::Bool(b) => Value::Bool(*b),
            Tmpl::Number(n) => Value::Number(n.clone()),
            Tmpl::Str(t) => eval_template(t, scope)?,
            Tmpl::Array(a) => {
                Value::Array(a.iter().map(|x| x.eval(scope)).collect::<Result<_, _>>()?)
            }
            Tmpl::Object(o) => {
                let mut m = Map::new();
                for (k, x) in o {
                    m.insert(k.clone(), x.eval(scope)?);
                }
                Value::Object(m)
            }
        })
    }

    /// A property of an object value (exactly, then ignoring case).
    pub fn get(&self, key: &str) -> Option<&Tmpl> {
        match self {
            Tmpl::Object(o) => o
                .iter()
                .find(|(k, _)| k == key)
                .or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a literal string.
    pub fn as_literal(&self) -> Option<&str> {
        match self {
            Tmpl::Str(Template::Literal(s)) => Some(s),
            _ => None,
        }
    }

    /// `@parameters('Name')` exactly: the parameter's name.
    pub fn bound_parameter(&self) -> Option<&str> {
        match self {
            Tmpl::Str(Template::Expr(expr::Expr::Call { name, args }))
                if name.eq_ignore_ascii_case("parameters") =>
            {
                match args.as_slice() {
                    [expr::Expr::Str(p)] => Some(p),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Every call of a function named `name` (ignoring case) with a literal first argument,
    /// anywhere inside: the action names of `body('X')`, the variables of `variables('v')`.
    pub fn literal_args_of(&self, name: &str, out: &mut Vec<String>) {
        match self {
            Tmpl::Str(t) => {
                for e in t.exprs() {
                    literal_args(e, name, out);
                }
            }
            Tmpl::Array(a) => a.iter().for_each(|x| x.literal_args_of(name, out)),
            Tmpl::Object(o) => o.iter().for_each(|(_, x)| x.literal_args_of(name, out)),
            _ => {}
        }
    }
}

fn literal_args(e: &expr::Expr, name: &str, out: &mut Vec<String>) {
    match e {
        expr::Expr::Call { name: n, args } => {
            if n.eq_ignore_ascii_case(name)
                && let Some(expr::Expr::Str(s)) = args.first()
            {
                out.push(s.clone());
            }
            for a in args {
                literal_args(a, name, out);
            }
        }
        expr::Expr::Index { target, index, .. } => {
            literal_args(target, name, out);
            literal_args(index, name, out);
        }
        expr::Expr::Member { target, .. } => literal_args(target, name, out),
        _ => {}
    }
}

/// Parses one string value, checking its function calls.
pub fn parse_string(s: &str, path: &JsonPath, problems: &mut Vec<Problem>) -> Template {
    match parse_template(s) {
        Ok(t) => {
            let mut calls = Vec::new();
            for e in t.exprs() {
                expr::calls(e, &mut calls);
            }
            for (name, n) in calls {
                if let Err(message) = expr::check_call(&name, n) {
                    problems.push(Problem::new(path, message));
                }
            }
            t
        }
        Err(e) => {
            problems.push(Problem::new(
                path,
                format!("the expression does not parse: {e}"),
            ));
            Template::Literal(s.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_quote_keys_that_are_not_identifiers() {
        let p = JsonPath::root()
            .key("actions")
            .key("Get items")
            .key("$top")
            .index(2);
        assert_eq!(p.0, "$.actions['Get items']['$top'][2]");
    }

    #[test]
    fn parsing_reports_every_bad_expression_with_its_path() {
        let mut problems = Vec::new();
        let t = Tmpl::parse(
            &json!({"a": "@frob(1)", "b": ["ok", "@add(1)"], "c": "@concat('x'"}),
            &JsonPath::root(),
            &mut problems,
        );
        let found: Vec<(String, String)> = problems
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].0, "$.a");
        assert!(found[0].1.starts_with("unknown function frob()"));
        assert_eq!(
            found[1],
            ("$.b[1]".into(), "add() takes 2 argument(s), not 1".into())
        );
        assert_eq!(found[2].0, "$.c");
        assert!(matches!(t.get("a"), Some(Tmpl::Str(_))));
    }

    #[test]
    fn finds_a_parameter_binding() {
        let mut problems = Vec::new();
        let t = Tmpl::parse(
            &json!("@parameters('Segment')"),
            &JsonPath::root(),
            &mut problems,
        );
        assert_eq!(t.bound_parameter(), Some("Segment"));
        let t = Tmpl::parse(
            &json!("@{parameters('Segment')}"),
            &JsonPath::root(),
            &mut problems,
        );
        assert_eq!(t.bound_parameter(), None);
    }
}
