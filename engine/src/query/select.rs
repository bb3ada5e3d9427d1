//! `SELECT` and set operations, and the tables and subqueries they read from.

use super::expr::{col, Expr, IntoName, Name, Node, OrderBy};
use super::modify::{Delete, Insert, Update};
use super::Query;
use crate::param::Value;

/// A table (or a CTE, by its name): `table("orders")`, `table("sales.orders")`.
pub fn table(name: impl IntoName) -> Table {
    Table { name: name.into_name(), alias: None }
}

/// A `SELECT` without `FROM` (add one with [`Select::from`]).
pub fn select<I>(columns: I) -> Select
where
    I: IntoIterator,
    I::Item: Into<Expr>,
{
    Select::default().select(columns)
}

/// A subquery in `FROM` or a join: `(query) AS "alias"`.
pub fn subquery(query: impl Into<Query>, alias: &str) -> FromItem {
    FromItem::Subquery(Box::new(query.into()), alias.into())
}

/// A table to read from or write to, possibly with an alias.
#[derive(Clone, Debug)]
pub struct Table {
    pub(crate) name: Name,
    pub(crate) alias: Option<String>,
}

impl Table {
    /// The table as `"alias"`: needed to join a table with itself.
    pub fn alias(mut self, alias: &str) -> Table {
        self.alias = Some(alias.into());
        self
    }

    /// One of its columns, qualified by the alias (or the table's name).
    pub fn col(&self, column: &str) -> Expr {
        col(self.qualify(column))
    }

    /// `"table".*`.
    pub fn star(&self) -> Expr {
        Expr(Node::Star(Some(self.reference())))
    }

    fn reference(&self) -> Name {
        match &self.alias {
            Some(alias) => Name(vec![alias.clone()]),
            None => self.name.clone(),
        }
    }

    fn qualify(&self, column: &str) -> Name {
        let mut name = self.reference();
        name.0.push(column.into());
        name
    }

    /// `SELECT columns FROM table`.
    pub fn select<I>(self, columns: I) -> Select
    where
        I: IntoIterator,
        I::Item: Into<Expr>,
    {
        self.select_all().select(columns)
    }

    /// `SELECT * FROM table`.
    pub fn select_all(self) -> Select {
        Select { from: Some(FromItem::Table(self)), ..Select::default() }
    }

    /// `SELECT * FROM table WHERE condition`.
    pub fn filter(self, condition: impl Into<Expr>) -> Select {
        self.select_all().filter(condition)
    }

    /// `SELECT * FROM table JOIN other ON condition`.
    pub fn join(self, other: impl Into<FromItem>, on: impl Into<Expr>) -> Select {
        self.select_all().join(other, on)
    }

    /// `SELECT * FROM table LEFT JOIN other ON condition`.
    pub fn left_join(self, other: impl Into<FromItem>, on: impl Into<Expr>) -> Select {
        self.select_all().left_join(other, on)
    }

    /// `SELECT * FROM table RIGHT JOIN other ON condition`.
    pub fn right_join(self, other: impl Into<FromItem>, on: impl Into<Expr>) -> Select {
        self.select_all().right_join(other, on)
    }

    /// `SELECT * FROM table FULL JOIN other ON condition`.
    pub fn full_join(self, other: impl Into<FromItem>, on: impl Into<Expr>) -> Select {
        self.select_all().full_join(other, on)
    }

    /// `INSERT INTO table`.
    pub fn insert(self) -> Insert {
        Insert::new(self)
    }

    /// `UPDATE table`.
    pub fn update(self) -> Update {
        Update::new(self)
    }

    /// `DELETE FROM table`.
    pub fn delete(self) -> Delete {
        Delete::new(self)
    }
}

/// What a `FROM` or a join reads: a table or a subquery ([`subquery`]).
#[derive(Clone, Debug)]
pub enum FromItem {
    /// A table.
    Table(Table),
    /// `(query) AS "alias"`.
    Subquery(Box<Query>, String),
}

impl From<Table> for FromItem {
    fn from(table: Table) -> Self {
        FromItem::Table(table)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Cross,
}

#[derive(Clone, Debug)]
pub(crate) struct Join {
    pub kind: JoinKind,
    pub item: FromItem,
    pub on: Option<Node>,
}

/// A `SELECT` statement. Clauses may be added in any order; `filter` and `having` twice
/// combine with `AND`; the list clauses (`select`, `group_by`, `order_by`) extend.
#[derive(Clone, Debug, Default)]
pub struct Select {
    pub(crate) ctes: Vec<(String, Query)>,
    pub(crate) distinct: Option<Vec<Node>>,
    pub(crate) columns: Vec<Node>,
    pub(crate) from: Option<FromItem>,
    pub(crate) joins: Vec<Join>,
    pub(crate) filter: Option<Node>,
    pub(crate) group_by: Vec<Node>,
    pub(crate) having: Option<Node>,
    pub(crate) order_by: Vec<OrderBy>,
    pub(crate) limit: Option<Value>,
    pub(crate) offset: Option<Value>,
}

/// `current AND condition`, or `condition` alone: how repeated `filter`/`having` calls combine.
pub(crate) fn and(current: Option<Node>, condition: Expr) -> Option<Node> {
    Some(match current {
        Some(node) => Expr(node).and(condition).0,
        None => condition.0,
    })
}

/// A row count as a bound `bigint`; beyond its range means no limit anyway.
fn count(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

impl Select {
    /// `WITH "name" AS (query)`: a common table expression, read with `table(name)`.
    pub fn with_cte(mut self, name: &str, query: impl Into<Query>) -> Select {
        self.ctes.push((name.into(), query.into()));
        self
    }

    /// Adds to the select list (strings are column names; `expr.alias(..)` names a column).
    pub fn select<I>(mut self, columns: I) -> Select
    where
        I: IntoIterator,
        I::Item: Into<Expr>,
    {
        self.columns.extend(columns.into_iter().map(|c| c.into().0));
        self
    }

    /// `SELECT DISTINCT`.
    pub fn distinct(mut self) -> Select {
        self.distinct = Some(Vec::new());
        self
    }

    /// `SELECT DISTINCT ON (exprs)`: the first row of each group (the `ORDER BY` must start
    /// with the same expressions).
    pub fn distinct_on<I>(mut self, exprs: I) -> Select
    where
        I: IntoIterator,
        I::Item: Into<Expr>,
    {
        self.distinct = Some(exprs.into_iter().map(|e| e.into().0).collect());
        self
    }

    /// `FROM item` (a [`Table`] or a [`subquery`]).
    pub fn from(mut self, item: impl Into<FromItem>) -> Select {
        self.from = Some(item.into());
        self
    }

    fn join_with(mut self, kind: JoinKind, item: impl Into<FromItem>, on: Option<Expr>) -> Select {
        self.joins.push(Join { kind, item: item.into(), on: on.map(|e| e.0) });
        self
    }

    /// `JOIN item ON condition`.
    pub fn join(self, item: impl Into<FromItem>, on: impl Into<Expr>) -> Select {
        self.join_with(JoinKind::Inner, item, Some(on.into()))
    }

    /// `LEFT JOIN item ON condition`.
    pub fn left_join(self, item: impl Into<FromItem>, on: impl Into<Expr>) -> Select {
        self.join_with(JoinKind::Left, item, Some(on.into()))
    }

    /// `RIGHT JOIN item ON condition`.
    pub fn right_join(self, item: impl Into<FromItem>, on: impl Into<Expr>) -> Select {
        self.join_with(JoinKind::Right, item, Some(on.into()))
    }

    /// `FULL JOIN item ON condition`.
    pub fn full_join(self, item: impl Into<FromItem>, on: impl Into<Expr>) -> Select {
        self.join_with(JoinKind::Full, item, Some(on.into()))
    }

    /// `CROSS JOIN item`.
    pub fn cross_join(self, item: impl Into<FromItem>) -> Select {
        self.join_with(JoinKind::Cross, item, None)
    }

    /// `WHERE condition` (a second call adds `AND condition`).
    pub fn filter(mut self, condition: impl Into<Expr>) -> Select {
        self.filter = and(self.filter.take(), condition.into());
        self
    }

    /// `GROUP BY exprs` (strings are column names).
    pub fn group_by<I>(mut self, exprs: I) -> Select
    where
        I: IntoIterator,
        I::Item: Into<Expr>,
    {
        self.group_by.extend(exprs.into_iter().map(|e| e.into().0));
        self
    }

    /// `HAVING condition` (a second call adds `AND condition`).
    pub fn having(mut self, condition: impl Into<Expr>) -> Select {
        self.having = and(self.having.take(), condition.into());
        self
    }

    /// `ORDER BY items` (strings are column names, ascending; `expr.desc()` for descending).
    pub fn order_by<I>(mut self, items: I) -> Select
    where
        I: IntoIterator,
        I::Item: Into<OrderBy>,
    {
        self.order_by.extend(items.into_iter().map(Into::into));
        self
    }

    /// `LIMIT $n`.
    pub fn limit(mut self, rows: u64) -> Select {
        self.limit = Some(count(rows));
        self
    }

    /// `OFFSET $n`.
    pub fn offset(mut self, rows: u64) -> Select {
        self.offset = Some(count(rows));
        self
    }

    /// `(self) UNION (other)`: rows of both, without duplicates.
    pub fn union(self, other: Select) -> Union {
        Union::new(self, SetOp::Union, other)
    }

    /// `(self) UNION ALL (other)`: rows of both.
    pub fn union_all(self, other: Select) -> Union {
        Union::new(self, SetOp::UnionAll, other)
    }

    /// `(self) INTERSECT (other)`: rows in both.
    pub fn intersect(self, other: Select) -> Union {
        Union::new(self, SetOp::Intersect, other)
    }

    /// `(self) EXCEPT (other)`: rows of `self` not in `other`.
    pub fn except(self, other: Select) -> Union {
        Union::new(self, SetOp::Except, other)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetOp {
    Union,
    UnionAll,
    Intersect,
    Except,
}

/// Selects combined with `UNION`, `UNION ALL`, `INTERSECT` or `EXCEPT`, left to right; its
/// `ORDER BY`, `LIMIT` and `OFFSET` apply to the combined rows.
#[derive(Clone, Debug)]
pub struct Union {
    pub(crate) first: Select,
    pub(crate) rest: Vec<(SetOp, Select)>,
    pub(crate) order_by: Vec<OrderBy>,
    pub(crate) limit: Option<Value>,
    pub(crate) offset: Option<Value>,
}

impl Union {
    fn new(first: Select, op: SetOp, other: Select) -> Union {
        Union { first, rest: vec![(op, other)], order_by: Vec::new(), limit: None, offset: None }
    }

    /// `... UNION (other)`.
    pub fn union(mut self, other: Select) -> Union {
        self.rest.push((SetOp::Union, other));
        self
    }

    /// `... UNION ALL (other)`.
    pub fn union_all(mut self, other: Select) -> Union {
        self.rest.push((SetOp::UnionAll, other));
        self
    }

    /// `... INTERSECT (other)`.
    pub fn intersect(mut self, other: Select) -> Union {
        self.rest.push((SetOp::Intersect, other));
        self
    }

    /// `... EXCEPT (other)`.
    pub fn except(mut self, other: Select) -> Union {
        self.rest.push((SetOp::Except, other));
        self
    }

    /// `ORDER BY items`, over the combined rows (by output column names).
    pub fn order_by<I>(mut self, items: I) -> Union
    where
        I: IntoIterator,
        I::Item: Into<OrderBy>,
    {
        self.order_by.extend(items.into_iter().map(Into::into));
        self
    }

    /// `LIMIT $n`.
    pub fn limit(mut self, rows: u64) -> Union {
        self.limit = Some(count(rows));
        self
    }

    /// `OFFSET $n`.
    pub fn offset(mut self, rows: u64) -> Union {
        self.offset = Some(count(rows));
        self
    }
}
