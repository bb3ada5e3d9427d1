//! Expressions: one private tree of [`Node`]s behind the public [`Expr`], and what builds it.

use std::borrow::Cow;
use std::ops;

use super::window::Window;
use super::{Query, QueryError, Select};
use crate::param::Value;

/// A possibly qualified name, one part per identifier (`sales.orders` has two).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(pub(crate) Vec<String>);

/// What makes a [`Name`]: a string is split at its dots (`"orders.total"` is column `total`
/// of `orders`); an array of parts is taken as is (`["odd.name"]` is one identifier).
pub trait IntoName {
    /// The name.
    fn into_name(self) -> Name;
}

impl IntoName for Name {
    fn into_name(self) -> Name {
        self
    }
}

impl IntoName for &str {
    fn into_name(self) -> Name {
        Name(self.split('.').map(str::to_owned).collect())
    }
}

impl IntoName for String {
    fn into_name(self) -> Name {
        self.as_str().into_name()
    }
}

impl IntoName for &String {
    fn into_name(self) -> Name {
        self.as_str().into_name()
    }
}

impl<const N: usize> IntoName for [&str; N] {
    fn into_name(self) -> Name {
        Name(self.iter().map(|part| (*part).to_owned()).collect())
    }
}

/// A SQL expression: a column, a bound value, an operator, a function call, a subquery.
///
/// Build it with [`col`], [`val`], the [`func`](super::func) functions and the methods here;
/// `&`, `|`, `!`, `+`, `-`, `*`, `/` and `%` work too (`&` is `AND`, `|` is `OR`).
#[derive(Clone, Debug)]
pub struct Expr(pub(crate) Node);

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Column(Name),
    Star(Option<Name>),
    Value(Value),
    Binary(BinOp, Box<Node>, Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    IsNull(Box<Node>, bool),
    Between {
        expr: Box<Node>,
        low: Box<Node>,
        high: Box<Node>,
    },
    InList {
        expr: Box<Node>,
        list: Vec<Node>,
    },
    InQuery {
        expr: Box<Node>,
        query: Box<Query>,
    },
    Exists(Box<Query>),
    Subquery(Box<Query>),
    Call(Call),
    Over(Box<Call>, Box<Window>),
    Cast(Box<Node>, String),
    Case(Vec<(Node, Node)>, Option<Box<Node>>),
    Alias(Box<Node>, String),
    /// A misuse noticed while building, reported by `to_sql`.
    Invalid(Box<QueryError>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    IsDistinct,
    Like,
    ILike,
    Contains,
    ContainedBy,
    Overlaps,
    Get,
    GetText,
    Path,
    PathText,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// A function call; `kind` says whether `OVER` may follow.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub name: Cow<'static, str>,
    pub args: Vec<Node>,
    pub distinct: bool,
    pub kind: CallKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// A plain function: no `OVER`.
    Scalar,
    /// An aggregate: `OVER` makes it a window function.
    Aggregate,
    /// A function only valid with `OVER` (row_number, lag, ...).
    Window,
    /// A function from [`func::call`](super::func::call): the server decides.
    Unknown,
}

/// A column, by name: `col("total")`, `col("orders.total")` (qualified), `col(["odd.name"])`.
pub fn col(name: impl IntoName) -> Expr {
    Expr(Node::Column(name.into_name()))
}

/// A value as an expression: bound as a parameter, never written into the SQL.
pub fn val(value: impl Into<Value>) -> Expr {
    Expr(Node::Value(value.into()))
}

/// `*`: all columns (also `count(*)` as `func::count(star())`).
pub fn star() -> Expr {
    Expr(Node::Star(None))
}

/// `EXISTS (subquery)`.
pub fn exists(query: impl Into<Query>) -> Expr {
    Expr(Node::Exists(Box::new(query.into())))
}

/// `NOT expr` (also `!expr`).
pub fn not(expr: impl Into<Expr>) -> Expr {
    Expr(Node::Not(Box::new(expr.into().0)))
}

/// `EXCLUDED.column`: the row proposed for insertion, in `on_conflict(..).do_update(..)`.
pub fn excluded(column: &str) -> Expr {
    Expr(Node::Column(Name(vec!["excluded".into(), column.into()])))
}

/// `CASE WHEN condition THEN result ...`: add branches with [`Case::when`], finish with
/// [`Case::otherwise`] or [`Case::end`].
pub fn when(condition: impl Into<Expr>, then: impl Operand) -> Case {
    Case(vec![(condition.into().0, then.into_expr().0)])
}

/// A `CASE` expression being built.
#[derive(Clone, Debug)]
pub struct Case(Vec<(Node, Node)>);

impl Case {
    /// Another `WHEN condition THEN result`.
    pub fn when(mut self, condition: impl Into<Expr>, then: impl Operand) -> Case {
        self.0.push((condition.into().0, then.into_expr().0));
        self
    }

    /// `ELSE result END`.
    pub fn otherwise(self, result: impl Operand) -> Expr {
        Expr(Node::Case(self.0, Some(Box::new(result.into_expr().0))))
    }

    /// `END` (NULL when no branch matches).
    pub fn end(self) -> Expr {
        Expr(Node::Case(self.0, None))
    }
}

impl From<&str> for Expr {
    /// A column name (dotted: qualified).
    fn from(name: &str) -> Expr {
        col(name)
    }
}

impl From<String> for Expr {
    /// A column name (dotted: qualified).
    fn from(name: String) -> Expr {
        col(name)
    }
}

impl From<Case> for Expr {
    fn from(case: Case) -> Expr {
        case.end()
    }
}

/// The right-hand side of an operator: an [`Expr`], a subquery ([`Select`]), or a value
/// (anything `Into<Value>`, bound as a parameter; `Vec`s and arrays become SQL arrays).
pub trait Operand {
    /// The operand as an expression.
    fn into_expr(self) -> Expr;
}

impl Operand for Expr {
    fn into_expr(self) -> Expr {
        self
    }
}

impl Operand for Select {
    /// A scalar subquery.
    fn into_expr(self) -> Expr {
        Expr(Node::Subquery(Box::new(self.into())))
    }
}

impl<T: Into<Value>> Operand for T {
    fn into_expr(self) -> Expr {
        val(self)
    }
}

impl<T: Into<Value>> Operand for Vec<T> {
    fn into_expr(self) -> Expr {
        val(Value::List(self.into_iter().map(Into::into).collect()))
    }
}

impl<T: Into<Value>, const N: usize> Operand for [T; N] {
    fn into_expr(self) -> Expr {
        val(Value::List(self.into_iter().map(Into::into).collect()))
    }
}

/// A key or index in a JSON value, for [`Expr::get`] and [`Expr::path`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonKey {
    /// An object key.
    Key(String),
    /// An array index (negative counts from the end).
    Index(i64),
}

impl From<&str> for JsonKey {
    fn from(key: &str) -> Self {
        JsonKey::Key(key.into())
    }
}

impl From<String> for JsonKey {
    fn from(key: String) -> Self {
        JsonKey::Key(key)
    }
}

impl From<i64> for JsonKey {
    fn from(index: i64) -> Self {
        JsonKey::Index(index)
    }
}

impl From<i32> for JsonKey {
    fn from(index: i32) -> Self {
        JsonKey::Index(index.into())
    }
}

impl JsonKey {
    fn into_node(self) -> Node {
        match self {
            JsonKey::Key(key) => Node::Value(Value::Text(key)),
            // `-> $1` would take an untyped parameter as a key: say it is an index.
            JsonKey::Index(index) => Node::Cast(Box::new(Node::Value(Value::Int(index))), "integer".into()),
        }
    }

    fn into_path_element(self) -> Value {
        match self {
            JsonKey::Key(key) => Value::Text(key),
            JsonKey::Index(index) => Value::Text(index.to_string()),
        }
    }
}

impl Expr {
    fn binary(self, op: BinOp, other: impl Operand) -> Expr {
        Expr(Node::Binary(op, Box::new(self.0), Box::new(other.into_expr().0)))
    }

    /// `self = other`.
    pub fn eq(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Eq, other)
    }

    /// `self <> other`.
    pub fn ne(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Ne, other)
    }

    /// `self < other`.
    pub fn lt(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Lt, other)
    }

    /// `self <= other`.
    pub fn le(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Le, other)
    }

    /// `self > other`.
    pub fn gt(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Gt, other)
    }

    /// `self >= other`.
    pub fn ge(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Ge, other)
    }

    /// `self IS DISTINCT FROM other`: `<>` where NULL equals NULL.
    pub fn is_distinct_from(self, other: impl Operand) -> Expr {
        self.binary(BinOp::IsDistinct, other)
    }

    /// `self AND other`.
    pub fn and(self, other: impl Into<Expr>) -> Expr {
        let mut terms = match self.0 {
            Node::And(terms) => terms,
            node => vec![node],
        };
        match other.into().0 {
            Node::And(more) => terms.extend(more),
            node => terms.push(node),
        }
        Expr(Node::And(terms))
    }

    /// `self OR other`.
    pub fn or(self, other: impl Into<Expr>) -> Expr {
        let mut terms = match self.0 {
            Node::Or(terms) => terms,
            node => vec![node],
        };
        match other.into().0 {
            Node::Or(more) => terms.extend(more),
            node => terms.push(node),
        }
        Expr(Node::Or(terms))
    }

    /// `self IN (v1, v2, ...)`; an empty list is `FALSE`.
    pub fn in_list<I>(self, values: I) -> Expr
    where
        I: IntoIterator,
        I::Item: Operand,
    {
        let list = values.into_iter().map(|v| v.into_expr().0).collect();
        Expr(Node::InList { expr: Box::new(self.0), list })
    }

    /// `self IN (subquery)`.
    pub fn in_subquery(self, query: impl Into<Query>) -> Expr {
        Expr(Node::InQuery { expr: Box::new(self.0), query: Box::new(query.into()) })
    }

    /// `self BETWEEN low AND high` (both ends included).
    pub fn between(self, low: impl Operand, high: impl Operand) -> Expr {
        Expr(Node::Between {
            expr: Box::new(self.0),
            low: Box::new(low.into_expr().0),
            high: Box::new(high.into_expr().0),
        })
    }

    /// `self IS NULL`.
    pub fn is_null(self) -> Expr {
        Expr(Node::IsNull(Box::new(self.0), false))
    }

    /// `self IS NOT NULL`.
    pub fn is_not_null(self) -> Expr {
        Expr(Node::IsNull(Box::new(self.0), true))
    }

    /// `self LIKE pattern` (`%` and `_` are wildcards, `\` escapes them).
    pub fn like(self, pattern: impl Operand) -> Expr {
        self.binary(BinOp::Like, pattern)
    }

    /// `self ILIKE pattern`: [`Expr::like`] ignoring case.
    pub fn ilike(self, pattern: impl Operand) -> Expr {
        self.binary(BinOp::ILike, pattern)
    }

    /// `self @> other`: the array (or jsonb, range) contains `other`.
    pub fn contains(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Contains, other)
    }

    /// `self <@ other`: the array (or jsonb, range) is contained by `other`.
    pub fn contained_by(self, other: impl Operand) -> Expr {
        self.binary(BinOp::ContainedBy, other)
    }

    /// `self && other`: the arrays (or ranges) have an element in common.
    pub fn overlaps(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Overlaps, other)
    }

    /// `self -> key`: a JSON object field or array element, as json(b).
    pub fn get(self, key: impl Into<JsonKey>) -> Expr {
        Expr(Node::Binary(BinOp::Get, Box::new(self.0), Box::new(key.into().into_node())))
    }

    /// `self ->> key`: a JSON object field or array element, as text.
    pub fn get_text(self, key: impl Into<JsonKey>) -> Expr {
        Expr(Node::Binary(BinOp::GetText, Box::new(self.0), Box::new(key.into().into_node())))
    }

    /// `self #> path`: the JSON value at a path of keys and indexes, as json(b).
    pub fn path<I>(self, path: I) -> Expr
    where
        I: IntoIterator,
        I::Item: Into<JsonKey>,
    {
        let path = path.into_iter().map(|key| key.into().into_path_element()).collect();
        self.binary(BinOp::Path, Value::List(path))
    }

    /// `self #>> path`: the JSON value at a path of keys and indexes, as text.
    pub fn path_text<I>(self, path: I) -> Expr
    where
        I: IntoIterator,
        I::Item: Into<JsonKey>,
    {
        let path = path.into_iter().map(|key| key.into().into_path_element()).collect();
        self.binary(BinOp::PathText, Value::List(path))
    }

    /// `self || other`: string or array concatenation.
    pub fn concat(self, other: impl Operand) -> Expr {
        self.binary(BinOp::Concat, other)
    }

    /// `CAST(self AS type)`. The type name is written into the SQL, so `to_sql` checks it
    /// against a strict pattern: words of letters, digits and `_` (`double precision`,
    /// `public.my_type`), an optional `(n)` or `(p,s)`, and optional `[]` suffixes.
    pub fn cast(self, type_name: &str) -> Expr {
        Expr(Node::Cast(Box::new(self.0), type_name.into()))
    }

    /// `self AS "name"`, in a select or returning list.
    pub fn alias(self, name: &str) -> Expr {
        Expr(Node::Alias(Box::new(self.0), name.into()))
    }

    /// Ascending, in an `ORDER BY`.
    pub fn asc(self) -> OrderBy {
        OrderBy { expr: self.0, descending: Some(false), nulls_first: None }
    }

    /// Descending, in an `ORDER BY`.
    pub fn desc(self) -> OrderBy {
        OrderBy { expr: self.0, descending: Some(true), nulls_first: None }
    }

    /// `aggregate(...) OVER (window)`: a running or windowed aggregate. Only aggregates (and
    /// [`func::call`](super::func::call)) take a window; `to_sql` reports anything else.
    pub fn over(self, window: Window) -> Expr {
        match self.0 {
            Node::Call(call) if call.kind != CallKind::Scalar => Expr(Node::Over(Box::new(call), Box::new(window))),
            _ => Expr(Node::Invalid(Box::new(QueryError::Misplaced("OVER follows an aggregate or window function")))),
        }
    }
}

impl ops::Not for Expr {
    type Output = Expr;

    /// `NOT self`.
    fn not(self) -> Expr {
        not(self)
    }
}

impl<T: Into<Expr>> ops::BitAnd<T> for Expr {
    type Output = Expr;

    /// `self AND other`.
    fn bitand(self, other: T) -> Expr {
        self.and(other)
    }
}

impl<T: Into<Expr>> ops::BitOr<T> for Expr {
    type Output = Expr;

    /// `self OR other`.
    fn bitor(self, other: T) -> Expr {
        self.or(other)
    }
}

impl ops::Neg for Expr {
    type Output = Expr;

    /// `-self`.
    fn neg(self) -> Expr {
        Expr(Node::Neg(Box::new(self.0)))
    }
}

macro_rules! arithmetic {
    ($($trait:ident :: $method:ident => $op:ident, $doc:literal;)*) => {$(
        impl<T: Operand> ops::$trait<T> for Expr {
            type Output = Expr;

            #[doc = $doc]
            fn $method(self, other: T) -> Expr {
                self.binary(BinOp::$op, other)
            }
        }
    )*};
}

arithmetic! {
    Add::add => Add, "`self + other`.";
    Sub::sub => Sub, "`self - other`.";
    Mul::mul => Mul, "`self * other`.";
    Div::div => Div, "`self / other` (integer division for integers).";
    Rem::rem => Rem, "`self % other`.";
}

/// An `ORDER BY` item: an expression, its direction and where NULLs go.
#[derive(Clone, Debug)]
pub struct OrderBy {
    pub(crate) expr: Node,
    pub(crate) descending: Option<bool>,
    pub(crate) nulls_first: Option<bool>,
}

impl OrderBy {
    /// `NULLS FIRST`.
    pub fn nulls_first(mut self) -> OrderBy {
        self.nulls_first = Some(true);
        self
    }

    /// `NULLS LAST`.
    pub fn nulls_last(mut self) -> OrderBy {
        self.nulls_first = Some(false);
        self
    }
}

impl From<Expr> for OrderBy {
    fn from(expr: Expr) -> Self {
        OrderBy { expr: expr.0, descending: None, nulls_first: None }
    }
}

impl From<&str> for OrderBy {
    /// A column name, ascending.
    fn from(name: &str) -> Self {
        col(name).into()
    }
}

impl From<String> for OrderBy {
    /// A column name, ascending.
    fn from(name: String) -> Self {
        col(name).into()
    }
}
