//! The OData subset as data: what a query says before ([`RawOptions`], [`Expr`]) and after
//! ([`Query`], [`Filter`]) it is checked against an entity's schema.

use crate::schema::AttrId;
use crate::time::SimTime;

/// A `$filter` expression as parsed, with field names as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `Field op literal` (a `literal op Field` is normalised to this form by flipping `op`).
    Compare {
        field: String,
        op: CmpOp,
        value: Literal,
    },
    /// `Field in (lit, lit, ...)`.
    In {
        field: String,
        values: Vec<Literal>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `IsMemberOfSegment('Name')`.
    IsMemberOfSegment(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn keyword(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        }
    }

    /// The operator with its operands swapped: `5 lt X` is `X gt 5`.
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
        }
    }
}

/// A literal value in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    String(String),
    DateTime(SimTime),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// The system query options of one request, parsed but not yet checked against a schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawOptions {
    pub filter: Option<Expr>,
    /// `None` when `$select` is absent; `Some(["*"])` for `$select=*`.
    pub select: Option<Vec<String>>,
    pub orderby: Vec<(String, Direction)>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    /// The text between the quotes of `$search="..."`.
    pub search: Option<String>,
    pub expand: Vec<String>,
    pub count: bool,
    pub skiptoken: Option<String>,
}

/// A `$filter` bound to a schema: attributes resolved, literals checked against their types.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        attr: AttrId,
        op: CmpOp,
        value: Literal,
    },
    In {
        attr: AttrId,
        values: Vec<Literal>,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// Membership of the segment with this index in [`BindContext::segments`](super::BindContext).
    Member(usize),
}

/// A query bound to a schema, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Option<Filter>,
    /// `None` means every attribute.
    pub select: Option<Vec<AttrId>>,
    pub orderby: Vec<(AttrId, Direction)>,
    /// Rows per page after clamping to the maximum page size.
    pub top: usize,
    /// Rows to skip (`$skip` plus the offset of a `$skiptoken`).
    pub skip: usize,
    pub search: Option<String>,
    /// Navigation properties to expand, as named in the schema's `expandable` list.
    pub expand: Vec<String>,
    pub count: bool,
}

/// A rejected query: the OData error the client gets (`400`), naming the option and token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// A stable, machine-readable code (`InvalidFilter`, `FieldNotFilterable`, ...).
    pub code: &'static str,
    pub message: String,
    /// The query option at fault (`$filter`, `$top`, ...).
    pub target: String,
}

impl QueryError {
    pub fn new(code: &'static str, target: &str, message: impl Into<String>) -> QueryError {
        QueryError {
            code,
            message: message.into(),
            target: target.to_owned(),
        }
    }
}
