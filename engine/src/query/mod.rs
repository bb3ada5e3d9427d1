//! A query builder: SQL text and its parameters from Rust values, never from spliced strings.
//!
//! Every statement renders to `(sql, params)`, with `$1`, `$2`, ... placeholders, ready for
//! [`Pool::query_arrow`](crate::Pool::query_arrow) or [`Pool::execute`](crate::Pool::execute),
//! so a built query reads through the same Arrow path as a hand-written one.
//!
//! - Identifiers (tables, columns, aliases) are always double-quoted, with inner `"` doubled:
//!   a name can never leave its quotes. A dotted string is qualified (`"sales.orders"` is
//!   table `orders` in schema `sales`); an array of parts is taken verbatim (`["odd.name"]`).
//! - Values are always bound as parameters, never written into the SQL.
//! - The few names that are written unquoted, function names ([`func::call`]) and type names
//!   ([`Expr::cast`]), must match a strict pattern of letters, digits and `_`.
//! - What the types cannot rule out (an empty name, an alias inside a `WHERE`, an `UPDATE`
//!   without `SET`) is reported by `to_sql` as a [`QueryError`], before the server sees it.
//!
//! Where a method wants a column, a string is a column name (`select(["id", "total"])`); where
//! it wants a value ([`Operand`]), a string is a value (`col("status").eq("paid")`). Wrap a
//! value with [`val`] to use it as an expression (`select([val(1).alias("one")])`).
//!
//! # Basic usage
//! ```
//! use data_bridge_postgres::query::{col, func, table};
//!
//! let since = "2024-01-01";
//! let query = table("sales.orders")
//!     .select([col("customer_id"), func::sum(col("total")).alias("revenue")])
//!     .filter(col("status").eq("paid").and(col("created_at").ge(since)))
//!     .group_by(["customer_id"])
//!     .having(func::sum(col("total")).gt(1000))
//!     .order_by([col("revenue").desc()])
//!     .limit(100);
//! let (sql, params) = query.to_sql()?;
//! assert_eq!(
//!     sql,
//!     concat!(
//!         r#"SELECT "customer_id", sum("total") AS "revenue" FROM "sales"."orders" "#,
//!         r#"WHERE "status" = $1 AND "created_at" >= $2 GROUP BY "customer_id" "#,
//!         r#"HAVING sum("total") > $3 ORDER BY "revenue" DESC LIMIT $4"#,
//!     )
//! );
//! assert_eq!(params.len(), 4);
//! # Ok::<_, data_bridge_postgres::query::QueryError>(())
//! ```
//!
//! Typed rows map to tables with [`Row`] and `#[derive(Row)]` (see [`Row`]).

mod expr;
pub mod func;
mod modify;
mod names;
mod render;
mod row;
mod select;
#[cfg(test)]
mod test;
mod window;

pub use expr::{col, excluded, exists, not, star, val, when, Case, Expr, IntoName, JsonKey, Name, Operand, OrderBy};
pub use modify::{Delete, Insert, OnConflict, Update};
pub use row::{Executor, Row, RowField};
pub use select::{select, subquery, table, FromItem, Select, Table, Union};
pub use window::{FrameBound, Window, WindowFn};

use crate::param::Value;

/// Support for `#[derive(Row)]`'s generated code; not a public API.
#[doc(hidden)]
pub mod __derive {
    pub use super::row::{batch, column, field, next, schema, Scalar};
    pub use arrow_array::RecordBatch;
    pub use arrow_schema::SchemaRef;
}

/// A statement that is misbuilt, or typed rows that do not match their data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A table, column or alias name PostgreSQL cannot take.
    #[error("invalid identifier {name:?}: {reason}")]
    Identifier {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A function name outside `[A-Za-z_][A-Za-z0-9_]*`, optionally schema-qualified.
    #[error("invalid function name {0:?}: letters, digits and _ only, optionally schema.name")]
    FunctionName(String),
    /// A type name outside the strict pattern [`Expr::cast`] accepts.
    #[error("invalid type name {0:?}: words of letters, digits and _, an optional (n) or (p,s), optional []")]
    TypeName(String),
    /// An expression used where SQL does not allow it (e.g. an alias inside `WHERE`).
    #[error("{0}")]
    Misplaced(&'static str),
    /// A statement that is missing a required part.
    #[error("{0}")]
    Incomplete(&'static str),
    /// An `INSERT` row with a different number of values from its columns.
    #[error("insert row {row} has {got} value(s) for {expected} column(s)")]
    RowWidth {
        /// 0-based row number.
        row: usize,
        /// The number of columns.
        expected: usize,
        /// The number of values in the row.
        got: usize,
    },
    /// The operation needs a primary key the row type does not declare.
    #[error("{table} has no #[row(primary_key)] field")]
    NoPrimaryKey {
        /// The row type's table.
        table: &'static str,
    },
    /// A record batch lacks a column the row type maps.
    #[error("the data has no column {column:?}")]
    MissingColumn {
        /// The column.
        column: String,
    },
    /// A record batch column of a type the field cannot take.
    #[error("column {column:?} is {found}, which a {expected} field cannot hold")]
    ColumnType {
        /// The column.
        column: String,
        /// The field's Rust type.
        expected: &'static str,
        /// The column's Arrow type.
        found: String,
    },
    /// A NULL in a column whose field is not an `Option`.
    #[error("column {column:?} is NULL at row {row}: make the field an Option")]
    Null {
        /// The column.
        column: String,
        /// 0-based row number.
        row: usize,
    },
    /// Arrow refused the columns built from typed rows.
    #[error("building the record batch failed: {0}")]
    Arrow(String),
}

/// Any statement the builder makes: what subqueries, CTEs and `INSERT ... SELECT` accept.
#[derive(Clone, Debug)]
pub struct Query(pub(crate) Statement);

#[derive(Clone, Debug)]
pub(crate) enum Statement {
    Select(Box<Select>),
    Union(Box<Union>),
    Insert(Box<Insert>),
    Update(Box<Update>),
    Delete(Box<Delete>),
}

impl Query {
    /// The SQL text and its parameters, in placeholder order.
    pub fn to_sql(&self) -> Result<(String, Vec<Value>), QueryError> {
        let mut out = render::Writer::default();
        out.statement(&self.0)?;
        Ok(out.finish())
    }
}

macro_rules! statement {
    ($($type:ident => $render:ident),*) => {$(
        impl From<$type> for Query {
            fn from(statement: $type) -> Query {
                Query(Statement::$type(Box::new(statement)))
            }
        }

        impl $type {
            /// The SQL text and its parameters, in placeholder order.
            pub fn to_sql(&self) -> Result<(String, Vec<Value>), QueryError> {
                let mut out = render::Writer::default();
                out.$render(self)?;
                Ok(out.finish())
            }
        }
    )*};
}

statement!(Select => select, Union => union, Insert => insert, Update => update, Delete => delete);
