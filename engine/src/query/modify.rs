//! `INSERT`, `UPDATE` and `DELETE`, with `RETURNING` and `ON CONFLICT`.

use super::expr::{Expr, IntoName, Name, Node};
use super::select::{and, Table};
use super::{Operand, Query};

/// An `INSERT`: rows of values ([`Insert::values`], [`Insert::value`]) or a query's rows
/// ([`Insert::from_query`]).
#[derive(Clone, Debug)]
pub struct Insert {
    pub(crate) table: Table,
    pub(crate) columns: Vec<Name>,
    pub(crate) rows: Vec<Vec<Node>>,
    pub(crate) query: Option<Query>,
    pub(crate) conflict: Option<Conflict>,
    pub(crate) returning: Vec<Node>,
}

#[derive(Clone, Debug)]
pub(crate) struct Conflict {
    pub target: Vec<Name>,
    /// Empty: `DO NOTHING`.
    pub updates: Vec<(Name, Node)>,
}

impl Insert {
    pub(crate) fn new(table: Table) -> Insert {
        Insert { table, columns: Vec::new(), rows: Vec::new(), query: None, conflict: None, returning: Vec::new() }
    }

    /// The columns the values are for, in order.
    pub fn columns<I>(mut self, columns: I) -> Insert
    where
        I: IntoIterator,
        I::Item: IntoName,
    {
        self.columns.extend(columns.into_iter().map(IntoName::into_name));
        self
    }

    /// One row of values, one per column (mix values and expressions through [`val`](super::val)).
    pub fn values<I>(mut self, row: I) -> Insert
    where
        I: IntoIterator,
        I::Item: Operand,
    {
        self.rows.push(row.into_iter().map(|v| v.into_expr().0).collect());
        self
    }

    /// A column and its value, for a single-row insert built one column at a time.
    pub fn value(mut self, column: impl IntoName, value: impl Operand) -> Insert {
        self.columns.push(column.into_name());
        match self.rows.first_mut() {
            Some(row) => row.push(value.into_expr().0),
            None => self.rows.push(vec![value.into_expr().0]),
        }
        self
    }

    /// `INSERT ... SELECT`: the rows of `query`, instead of values.
    pub fn from_query(mut self, query: impl Into<Query>) -> Insert {
        self.query = Some(query.into());
        self
    }

    /// `ON CONFLICT (columns)`, followed by `do_nothing()` or `do_update(..)`. With no
    /// columns, `do_nothing()` covers any unique constraint.
    pub fn on_conflict<I>(self, columns: I) -> OnConflict
    where
        I: IntoIterator,
        I::Item: IntoName,
    {
        OnConflict { insert: self, target: columns.into_iter().map(IntoName::into_name).collect() }
    }

    /// `RETURNING exprs` (strings are column names).
    pub fn returning<I>(mut self, exprs: I) -> Insert
    where
        I: IntoIterator,
        I::Item: Into<Expr>,
    {
        self.returning.extend(exprs.into_iter().map(|e| e.into().0));
        self
    }
}

/// An `INSERT` waiting for what to do on a conflict.
#[derive(Clone, Debug)]
pub struct OnConflict {
    insert: Insert,
    target: Vec<Name>,
}

impl OnConflict {
    /// `DO NOTHING`: skip rows that conflict.
    pub fn do_nothing(mut self) -> Insert {
        self.insert.conflict = Some(Conflict { target: self.target, updates: Vec::new() });
        self.insert
    }

    /// `DO UPDATE SET column = value, ...`; [`excluded`](super::excluded) is the proposed row:
    /// `do_update([("total", excluded("total"))])`.
    pub fn do_update<I, N, V>(mut self, assignments: I) -> Insert
    where
        I: IntoIterator<Item = (N, V)>,
        N: IntoName,
        V: Operand,
    {
        let updates = assignments.into_iter().map(|(n, v)| (n.into_name(), v.into_expr().0)).collect();
        self.insert.conflict = Some(Conflict { target: self.target, updates });
        self.insert
    }
}

/// An `UPDATE`. Without [`Update::filter`] it changes every row.
#[derive(Clone, Debug)]
pub struct Update {
    pub(crate) table: Table,
    pub(crate) assignments: Vec<(Name, Node)>,
    pub(crate) filter: Option<Node>,
    pub(crate) returning: Vec<Node>,
}

impl Update {
    pub(crate) fn new(table: Table) -> Update {
        Update { table, assignments: Vec::new(), filter: None, returning: Vec::new() }
    }

    /// `SET column = value` (a value, or an expression such as `col("n") + 1`).
    pub fn set(mut self, column: impl IntoName, value: impl Operand) -> Update {
        self.assignments.push((column.into_name(), value.into_expr().0));
        self
    }

    /// `WHERE condition` (a second call adds `AND condition`).
    pub fn filter(mut self, condition: impl Into<Expr>) -> Update {
        self.filter = and(self.filter.take(), condition.into());
        self
    }

    /// `RETURNING exprs` (strings are column names).
    pub fn returning<I>(mut self, exprs: I) -> Update
    where
        I: IntoIterator,
        I::Item: Into<Expr>,
    {
        self.returning.extend(exprs.into_iter().map(|e| e.into().0));
        self
    }
}

/// A `DELETE`. Without [`Delete::filter`] it deletes every row.
#[derive(Clone, Debug)]
pub struct Delete {
    pub(crate) table: Table,
    pub(crate) filter: Option<Node>,
    pub(crate) returning: Vec<Node>,
}

impl Delete {
    pub(crate) fn new(table: Table) -> Delete {
        Delete { table, filter: None, returning: Vec::new() }
    }

    /// `WHERE condition` (a second call adds `AND condition`).
    pub fn filter(mut self, condition: impl Into<Expr>) -> Delete {
        self.filter = and(self.filter.take(), condition.into());
        self
    }

    /// `RETURNING exprs` (strings are column names).
    pub fn returning<I>(mut self, exprs: I) -> Delete
    where
        I: IntoIterator,
        I::Item: Into<Expr>,
    {
        self.returning.extend(exprs.into_iter().map(|e| e.into().0));
        self
    }
}
