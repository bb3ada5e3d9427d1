//! SQL functions: aggregates, window functions and common scalar functions, each a Rust
//! function so a misspelt name does not compile; [`call`] reaches any other function.
//!
//! Arguments that want an expression take strings as column names; those that want a value
//! ([`Operand`]) bind it as a parameter.

use std::borrow::Cow;

use super::expr::{Call, CallKind, Expr, Node};
use super::window::WindowFn;
use super::Operand;

fn call_of(name: &'static str, kind: CallKind, args: Vec<Node>) -> Call {
    Call { name: Cow::Borrowed(name), args, distinct: false, kind }
}

fn function(name: &'static str, kind: CallKind, args: Vec<Node>) -> Expr {
    Expr(Node::Call(call_of(name, kind, args)))
}

fn window(name: &'static str, args: Vec<Node>) -> WindowFn {
    WindowFn(call_of(name, CallKind::Window, args))
}

fn nodes<I>(args: I) -> Vec<Node>
where
    I: IntoIterator,
    I::Item: Into<Expr>,
{
    args.into_iter().map(|a| a.into().0).collect()
}

/// Any function, by name: `call("date_part", [val("year"), col("created_at")])`. The name is
/// written into the SQL unquoted, so `to_sql` accepts only `[A-Za-z_][A-Za-z0-9_]*`,
/// optionally schema-qualified. Values among the arguments go through [`val`](super::val).
pub fn call<I>(name: &str, args: I) -> Expr
where
    I: IntoIterator,
    I::Item: Into<Expr>,
{
    Expr(Node::Call(Call {
        name: Cow::Owned(name.to_owned()),
        args: nodes(args),
        distinct: false,
        kind: CallKind::Unknown,
    }))
}

macro_rules! aggregates {
    ($($name:ident => $doc:literal;)*) => {$(
        #[doc = $doc]
        pub fn $name(expr: impl Into<Expr>) -> Expr {
            function(stringify!($name), CallKind::Aggregate, vec![expr.into().0])
        }
    )*};
}

aggregates! {
    count => "`count(expr)`: non-NULL values (`count(star())` counts rows).";
    sum => "`sum(expr)`.";
    avg => "`avg(expr)`.";
    min => "`min(expr)`.";
    max => "`max(expr)`.";
    array_agg => "`array_agg(expr)`: the values as an array.";
    bool_and => "`bool_and(expr)`: true when every value is.";
    bool_or => "`bool_or(expr)`: true when any value is.";
    stddev => "`stddev(expr)`: sample standard deviation.";
}

/// `count(DISTINCT expr)`.
pub fn count_distinct(expr: impl Into<Expr>) -> Expr {
    let mut call = call_of("count", CallKind::Aggregate, vec![expr.into().0]);
    call.distinct = true;
    Expr(Node::Call(call))
}

/// `string_agg(expr, separator)`: the values joined into one string.
pub fn string_agg(expr: impl Into<Expr>, separator: &str) -> Expr {
    function("string_agg", CallKind::Aggregate, vec![expr.into().0, Node::Value(separator.into())])
}

macro_rules! scalars {
    ($($name:ident => $doc:literal;)*) => {$(
        #[doc = $doc]
        pub fn $name(expr: impl Into<Expr>) -> Expr {
            function(stringify!($name), CallKind::Scalar, vec![expr.into().0])
        }
    )*};
}

scalars! {
    lower => "`lower(expr)`.";
    upper => "`upper(expr)`.";
    length => "`length(expr)`: characters in a string.";
    abs => "`abs(expr)`.";
    round => "`round(expr)`: to the nearest integer.";
    floor => "`floor(expr)`.";
    ceil => "`ceil(expr)`.";
    trim => "`trim(expr)`: without leading and trailing spaces.";
    jsonb_array_length => "`jsonb_array_length(expr)`.";
    cardinality => "`cardinality(expr)`: elements in an array, all dimensions.";
}

/// `round(expr, digits)`: to `digits` decimal places (numeric).
pub fn round_to(expr: impl Into<Expr>, digits: i32) -> Expr {
    function("round", CallKind::Scalar, vec![expr.into().0, Node::Value(digits.into())])
}

/// `coalesce(a, b, ...)`: the first non-NULL argument.
pub fn coalesce<I>(args: I) -> Expr
where
    I: IntoIterator,
    I::Item: Into<Expr>,
{
    function("coalesce", CallKind::Scalar, nodes(args))
}

/// `greatest(a, b, ...)`.
pub fn greatest<I>(args: I) -> Expr
where
    I: IntoIterator,
    I::Item: Into<Expr>,
{
    function("greatest", CallKind::Scalar, nodes(args))
}

/// `least(a, b, ...)`.
pub fn least<I>(args: I) -> Expr
where
    I: IntoIterator,
    I::Item: Into<Expr>,
{
    function("least", CallKind::Scalar, nodes(args))
}

/// `nullif(expr, other)`: NULL when they are equal, else `expr`.
pub fn nullif(expr: impl Into<Expr>, other: impl Operand) -> Expr {
    function("nullif", CallKind::Scalar, vec![expr.into().0, other.into_expr().0])
}

/// `now()`: the transaction's start time.
pub fn now() -> Expr {
    function("now", CallKind::Scalar, vec![])
}

/// `date_trunc(unit, expr)`: `unit` is `"day"`, `"month"`, ... (bound as a parameter).
pub fn date_trunc(unit: &str, expr: impl Into<Expr>) -> Expr {
    function("date_trunc", CallKind::Scalar, vec![Node::Value(unit.into()), expr.into().0])
}

/// `row_number()`: 1, 2, 3, ... within the partition.
pub fn row_number() -> WindowFn {
    window("row_number", vec![])
}

/// `rank()`: ties share a rank, with gaps after them.
pub fn rank() -> WindowFn {
    window("rank", vec![])
}

/// `dense_rank()`: ties share a rank, without gaps.
pub fn dense_rank() -> WindowFn {
    window("dense_rank", vec![])
}

/// `percent_rank()`: `(rank - 1) / (rows - 1)`.
pub fn percent_rank() -> WindowFn {
    window("percent_rank", vec![])
}

/// `cume_dist()`: the fraction of rows up to and including this one's peers.
pub fn cume_dist() -> WindowFn {
    window("cume_dist", vec![])
}

/// `ntile(buckets)`: the bucket, from 1 to `buckets`, of as equal sizes as possible.
pub fn ntile(buckets: i32) -> WindowFn {
    window("ntile", vec![Node::Value(buckets.into())])
}

/// `lag(expr, offset)`: the value `offset` rows before, NULL before the first.
pub fn lag(expr: impl Into<Expr>, offset: i32) -> WindowFn {
    window("lag", vec![expr.into().0, Node::Value(offset.into())])
}

/// `lag(expr, offset, default)`: the value `offset` rows before, `default` before the first.
pub fn lag_or(expr: impl Into<Expr>, offset: i32, default: impl Operand) -> WindowFn {
    window("lag", vec![expr.into().0, Node::Value(offset.into()), default.into_expr().0])
}

/// `lead(expr, offset)`: the value `offset` rows after, NULL after the last.
pub fn lead(expr: impl Into<Expr>, offset: i32) -> WindowFn {
    window("lead", vec![expr.into().0, Node::Value(offset.into())])
}

/// `lead(expr, offset, default)`: the value `offset` rows after, `default` after the last.
pub fn lead_or(expr: impl Into<Expr>, offset: i32, default: impl Operand) -> WindowFn {
    window("lead", vec![expr.into().0, Node::Value(offset.into()), default.into_expr().0])
}

/// `first_value(expr)`: the value at the frame's first row.
pub fn first_value(expr: impl Into<Expr>) -> WindowFn {
    window("first_value", vec![expr.into().0])
}

/// `last_value(expr)`: the value at the frame's last row.
pub fn last_value(expr: impl Into<Expr>) -> WindowFn {
    window("last_value", vec![expr.into().0])
}
