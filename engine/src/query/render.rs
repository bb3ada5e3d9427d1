//! The renderer: statements and expressions into SQL text with `$n` placeholders.
//!
//! Identifiers go through [`Writer::ident`] (checked, then double-quoted with inner quotes
//! doubled), values through [`Writer::param`] (bound, never written). The only other text
//! written is this file's own keywords, operators, digits of Rust integers, and function and
//! type names that passed a strict pattern.

use std::fmt::Write as _;

use super::expr::{BinOp, Call, Name, Node, OrderBy};
use super::modify::{Delete, Insert, Update};
use super::names::{is_function_name, is_type_name, MAX_IDENT_BYTES};
use super::select::{FromItem, JoinKind, Select, SetOp, Table, Union};
use super::window::{Frame, FrameBound, Window};
use super::{QueryError, Statement};
use crate::param::Value;

type Result<T = ()> = std::result::Result<T, QueryError>;

// Binding strength, loosest first, as in PostgreSQL's grammar: a child binding more loosely
// than its place requires is parenthesized.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const IS: u8 = 4;
const CMP: u8 = 5;
const LIKE: u8 = 6;
const OTHER: u8 = 7;
const ADD: u8 = 8;
const MUL: u8 = 9;
const UNARY: u8 = 10;
const ATOM: u8 = 11;

impl BinOp {
    fn text(self) -> &'static str {
        match self {
            BinOp::Eq => " = ",
            BinOp::Ne => " <> ",
            BinOp::Lt => " < ",
            BinOp::Le => " <= ",
            BinOp::Gt => " > ",
            BinOp::Ge => " >= ",
            BinOp::IsDistinct => " IS DISTINCT FROM ",
            BinOp::Like => " LIKE ",
            BinOp::ILike => " ILIKE ",
            BinOp::Contains => " @> ",
            BinOp::ContainedBy => " <@ ",
            BinOp::Overlaps => " && ",
            BinOp::Get => " -> ",
            BinOp::GetText => " ->> ",
            BinOp::Path => " #> ",
            BinOp::PathText => " #>> ",
            BinOp::Concat => " || ",
            BinOp::Add => " + ",
            BinOp::Sub => " - ",
            BinOp::Mul => " * ",
            BinOp::Div => " / ",
            BinOp::Rem => " % ",
        }
    }

    /// Its binding strength, and whether it chains to the left (`a - b - c`); the others
    /// (comparisons) do not chain at all.
    fn precedence(self) -> (u8, bool) {
        match self {
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => (CMP, false),
            BinOp::IsDistinct => (IS, false),
            BinOp::Like | BinOp::ILike => (LIKE, false),
            BinOp::Add | BinOp::Sub => (ADD, true),
            BinOp::Mul | BinOp::Div | BinOp::Rem => (MUL, true),
            _ => (OTHER, true),
        }
    }
}

fn precedence(node: &Node) -> u8 {
    match node {
        Node::Or(_) => OR,
        Node::And(_) => AND,
        Node::Not(_) => NOT,
        Node::IsNull(..) => IS,
        Node::Binary(op, ..) => op.precedence().0,
        Node::Between { .. } | Node::InList { .. } | Node::InQuery { .. } => LIKE,
        Node::Neg(_) => UNARY,
        _ => ATOM,
    }
}

/// SQL text being written, and the values of its placeholders.
#[derive(Default)]
pub(crate) struct Writer {
    sql: String,
    params: Vec<Value>,
}

impl Writer {
    pub fn finish(self) -> (String, Vec<Value>) {
        (self.sql, self.params)
    }

    fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }

    /// `"name"`, with inner quotes doubled.
    fn ident(&mut self, name: &str) -> Result {
        let reason = if name.is_empty() {
            "empty"
        } else if name.contains('\0') {
            "contains a NUL character"
        } else if name.len() > MAX_IDENT_BYTES {
            "longer than 63 bytes (PostgreSQL would truncate it)"
        } else {
            self.sql.reserve(name.len() + 2);
            self.sql.push('"');
            for c in name.chars() {
                if c == '"' {
                    self.sql.push('"');
                }
                self.sql.push(c);
            }
            self.sql.push('"');
            return Ok(());
        };
        Err(QueryError::Identifier { name: name.into(), reason })
    }

    /// A dotted name of at most `max_parts` identifiers.
    fn name(&mut self, name: &Name, max_parts: usize) -> Result {
        if name.0.is_empty() || name.0.len() > max_parts {
            let reason = if name.0.is_empty() { "empty" } else { "too many dotted parts" };
            return Err(QueryError::Identifier { name: name.0.join("."), reason });
        }
        for (i, part) in name.0.iter().enumerate() {
            if i > 0 {
                self.push(".");
            }
            self.ident(part)?;
        }
        Ok(())
    }

    /// A column being written (insert, update, conflict target): one unqualified name.
    fn target_column(&mut self, name: &Name) -> Result {
        match name.0.as_slice() {
            [column] => self.ident(column),
            _ => Err(QueryError::Identifier { name: name.0.join("."), reason: "a column to write is not qualified" }),
        }
    }

    fn table(&mut self, table: &Table) -> Result {
        self.name(&table.name, 2)?;
        if let Some(alias) = &table.alias {
            self.push(" AS ");
            self.ident(alias)?;
        }
        Ok(())
    }

    fn param(&mut self, value: &Value) {
        self.params.push(value.clone());
        let _ = write!(self.sql, "${}", self.params.len());
    }

    /// `node`, parenthesized when it binds more loosely than `min`.
    fn expr(&mut self, node: &Node, min: u8) -> Result {
        let wrap = precedence(node) < min;
        if wrap {
            self.push("(");
        }
        self.node(node)?;
        if wrap {
            self.push(")");
        }
        Ok(())
    }

    fn exprs(&mut self, nodes: &[Node]) -> Result {
        for (i, node) in nodes.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.expr(node, 0)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node) -> Result {
        match node {
            Node::Column(name) => self.name(name, 3)?,
            Node::Value(value) => self.param(value),
            Node::Binary(op, left, right) => {
                let (strength, chains) = op.precedence();
                self.expr(left, if chains { strength } else { strength + 1 })?;
                self.push(op.text());
                self.expr(right, strength + 1)?;
            }
            Node::And(terms) | Node::Or(terms) => {
                let (strength, joiner) = if matches!(node, Node::And(_)) { (AND, " AND ") } else { (OR, " OR ") };
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        self.push(joiner);
                    }
                    self.expr(term, strength)?;
                }
            }
            Node::Not(inner) => {
                self.push("NOT ");
                self.expr(inner, NOT)?;
            }
            Node::Neg(inner) => {
                self.push("-");
                self.expr(inner, ATOM)?;
            }
            Node::IsNull(inner, negated) => {
                self.expr(inner, IS + 1)?;
                self.push(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Node::Between { expr, low, high } => {
                self.expr(expr, LIKE + 1)?;
                self.push(" BETWEEN ");
                self.expr(low, LIKE + 1)?;
                self.push(" AND ");
                self.expr(high, LIKE + 1)?;
            }
            Node::InList { list, .. } if list.is_empty() => self.push("FALSE"),
            Node::InList { expr, list } => {
                self.expr(expr, LIKE + 1)?;
                self.push(" IN (");
                self.exprs(list)?;
                self.push(")");
            }
            Node::InQuery { expr, query } => {
                self.expr(expr, LIKE + 1)?;
                self.push(" IN (");
                self.statement(&query.0)?;
                self.push(")");
            }
            Node::Exists(query) => {
                self.push("EXISTS (");
                self.statement(&query.0)?;
                self.push(")");
            }
            Node::Subquery(query) => {
                self.push("(");
                self.statement(&query.0)?;
                self.push(")");
            }
            Node::Call(call) => self.call(call)?,
            Node::Over(call, window) => {
                self.call(call)?;
                self.push(" OVER (");
                self.window(window)?;
                self.push(")");
            }
            Node::Cast(inner, type_name) => {
                if !is_type_name(type_name) {
                    return Err(QueryError::TypeName(type_name.clone()));
                }
                self.push("CAST(");
                self.expr(inner, 0)?;
                self.push(" AS ");
                self.push(type_name);
                self.push(")");
            }
            Node::Case(branches, otherwise) => {
                self.push("CASE");
                for (condition, result) in branches {
                    self.push(" WHEN ");
                    self.expr(condition, 0)?;
                    self.push(" THEN ");
                    self.expr(result, 0)?;
                }
                if let Some(otherwise) = otherwise {
                    self.push(" ELSE ");
                    self.expr(otherwise, 0)?;
                }
                self.push(" END");
            }
            Node::Star(_) => return Err(QueryError::Misplaced("* belongs in a select list or count(*)")),
            Node::Alias(..) => return Err(QueryError::Misplaced("an alias belongs in a select or returning list")),
            Node::Invalid(error) => return Err((**error).clone()),
        }
        Ok(())
    }

    fn call(&mut self, call: &Call) -> Result {
        if !is_function_name(&call.name) {
            return Err(QueryError::FunctionName(call.name.to_string()));
        }
        self.push(&call.name);
        self.push(if call.distinct { "(DISTINCT " } else { "(" });
        for (i, arg) in call.args.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            match arg {
                Node::Star(None) if call.args.len() == 1 => self.push("*"),
                arg => self.expr(arg, 0)?,
            }
        }
        self.push(")");
        Ok(())
    }

    fn window(&mut self, window: &Window) -> Result {
        let mut space = "";
        if !window.partition_by.is_empty() {
            self.push("PARTITION BY ");
            self.exprs(&window.partition_by)?;
            space = " ";
        }
        if !window.order_by.is_empty() {
            self.push(space);
            self.push("ORDER BY ");
            self.order_by(&window.order_by)?;
            space = " ";
        }
        if let Some(Frame { rows, start, end }) = &window.frame {
            self.push(space);
            self.push(if *rows { "ROWS BETWEEN " } else { "RANGE BETWEEN " });
            self.frame_bound(*start);
            self.push(" AND ");
            self.frame_bound(*end);
        }
        Ok(())
    }

    fn frame_bound(&mut self, bound: FrameBound) {
        let _ = match bound {
            FrameBound::UnboundedPreceding => write!(self.sql, "UNBOUNDED PRECEDING"),
            FrameBound::Preceding(n) => write!(self.sql, "{n} PRECEDING"),
            FrameBound::CurrentRow => write!(self.sql, "CURRENT ROW"),
            FrameBound::Following(n) => write!(self.sql, "{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => write!(self.sql, "UNBOUNDED FOLLOWING"),
        };
    }

    fn order_by(&mut self, items: &[OrderBy]) -> Result {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.expr(&item.expr, 0)?;
            match item.descending {
                Some(true) => self.push(" DESC"),
                Some(false) => self.push(" ASC"),
                None => {}
            }
            match item.nulls_first {
                Some(true) => self.push(" NULLS FIRST"),
                Some(false) => self.push(" NULLS LAST"),
                None => {}
            }
        }
        Ok(())
    }

    /// A select or returning list: where `*` and aliases belong.
    fn output_list(&mut self, items: &[Node]) -> Result {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            match item {
                Node::Star(None) => self.push("*"),
                Node::Star(Some(table)) => {
                    self.name(table, 2)?;
                    self.push(".*");
                }
                Node::Alias(inner, alias) => {
                    self.expr(inner, 0)?;
                    self.push(" AS ");
                    self.ident(alias)?;
                }
                item => self.expr(item, 0)?,
            }
        }
        Ok(())
    }

    fn source(&mut self, item: &FromItem) -> Result {
        match item {
            FromItem::Table(table) => self.table(table),
            FromItem::Subquery(query, alias) => {
                self.push("(");
                self.statement(&query.0)?;
                self.push(") AS ");
                self.ident(alias)
            }
        }
    }

    fn filter(&mut self, keyword: &str, condition: &Option<Node>) -> Result {
        if let Some(condition) = condition {
            self.push(keyword);
            self.expr(condition, 0)?;
        }
        Ok(())
    }

    fn returning(&mut self, items: &[Node]) -> Result {
        if !items.is_empty() {
            self.push(" RETURNING ");
            self.output_list(items)?;
        }
        Ok(())
    }

    fn limit(&mut self, limit: &Option<Value>, offset: &Option<Value>) {
        if let Some(limit) = limit {
            self.push(" LIMIT ");
            self.param(limit);
        }
        if let Some(offset) = offset {
            self.push(" OFFSET ");
            self.param(offset);
        }
    }

    pub fn statement(&mut self, statement: &Statement) -> Result {
        match statement {
            Statement::Select(select) => self.select(select),
            Statement::Union(union) => self.union(union),
            Statement::Insert(insert) => self.insert(insert),
            Statement::Update(update) => self.update(update),
            Statement::Delete(delete) => self.delete(delete),
        }
    }

    pub fn select(&mut self, select: &Select) -> Result {
        for (i, (name, query)) in select.ctes.iter().enumerate() {
            self.push(if i == 0 { "WITH " } else { ", " });
            self.ident(name)?;
            self.push(" AS (");
            self.statement(&query.0)?;
            self.push(")");
        }
        if !select.ctes.is_empty() {
            self.push(" ");
        }
        self.push("SELECT ");
        match &select.distinct {
            Some(on) if on.is_empty() => self.push("DISTINCT "),
            Some(on) => {
                self.push("DISTINCT ON (");
                self.exprs(on)?;
                self.push(") ");
            }
            None => {}
        }
        if select.columns.is_empty() {
            self.push("*");
        } else {
            self.output_list(&select.columns)?;
        }
        match &select.from {
            Some(from) => {
                self.push(" FROM ");
                self.source(from)?;
            }
            None if !select.joins.is_empty() => return Err(QueryError::Incomplete("a join needs a FROM to join to")),
            None => {}
        }
        for join in &select.joins {
            self.push(match join.kind {
                JoinKind::Inner => " JOIN ",
                JoinKind::Left => " LEFT JOIN ",
                JoinKind::Right => " RIGHT JOIN ",
                JoinKind::Full => " FULL JOIN ",
                JoinKind::Cross => " CROSS JOIN ",
            });
            self.source(&join.item)?;
            self.filter(" ON ", &join.on)?;
        }
        self.filter(" WHERE ", &select.filter)?;
        if !select.group_by.is_empty() {
            self.push(" GROUP BY ");
            self.exprs(&select.group_by)?;
        }
        self.filter(" HAVING ", &select.having)?;
        if !select.order_by.is_empty() {
            self.push(" ORDER BY ");
            self.order_by(&select.order_by)?;
        }
        self.limit(&select.limit, &select.offset);
        Ok(())
    }

    pub fn union(&mut self, union: &Union) -> Result {
        self.push("(");
        self.select(&union.first)?;
        self.push(")");
        for (op, select) in &union.rest {
            self.push(match op {
                SetOp::Union => " UNION (",
                SetOp::UnionAll => " UNION ALL (",
                SetOp::Intersect => " INTERSECT (",
                SetOp::Except => " EXCEPT (",
            });
            self.select(select)?;
            self.push(")");
        }
        if !union.order_by.is_empty() {
            self.push(" ORDER BY ");
            self.order_by(&union.order_by)?;
        }
        self.limit(&union.limit, &union.offset);
        Ok(())
    }

    pub fn insert(&mut self, insert: &Insert) -> Result {
        self.push("INSERT INTO ");
        self.table(&insert.table)?;
        if !insert.columns.is_empty() {
            self.push(" (");
            for (i, column) in insert.columns.iter().enumerate() {
                if i > 0 {
                    self.push(", ");
                }
                self.target_column(column)?;
            }
            self.push(")");
        }
        match (&insert.query, insert.rows.is_empty()) {
            (Some(_), false) => return Err(QueryError::Misplaced("an insert takes values or a query, not both")),
            (None, true) => return Err(QueryError::Incomplete("an insert needs values or a query")),
            (Some(query), true) => {
                self.push(" ");
                self.statement(&query.0)?;
            }
            (None, false) => {
                let expected = insert.columns.len().max(insert.rows[0].len());
                for (i, row) in insert.rows.iter().enumerate() {
                    if row.len() != expected {
                        return Err(QueryError::RowWidth { row: i, expected, got: row.len() });
                    }
                    self.push(if i == 0 { " VALUES (" } else { ", (" });
                    self.exprs(row)?;
                    self.push(")");
                }
            }
        }
        if let Some(conflict) = &insert.conflict {
            self.push(" ON CONFLICT");
            if !conflict.target.is_empty() {
                self.push(" (");
                for (i, column) in conflict.target.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.target_column(column)?;
                }
                self.push(")");
            }
            if conflict.updates.is_empty() {
                self.push(" DO NOTHING");
            } else if conflict.target.is_empty() {
                return Err(QueryError::Incomplete("on_conflict(..).do_update(..) needs the conflict columns"));
            } else {
                self.push(" DO UPDATE SET ");
                self.assignments(&conflict.updates)?;
            }
        }
        self.returning(&insert.returning)
    }

    fn assignments(&mut self, assignments: &[(Name, Node)]) -> Result {
        for (i, (column, value)) in assignments.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.target_column(column)?;
            self.push(" = ");
            self.expr(value, 0)?;
        }
        Ok(())
    }

    pub fn update(&mut self, update: &Update) -> Result {
        if update.assignments.is_empty() {
            return Err(QueryError::Incomplete("an update needs at least one set(..)"));
        }
        self.push("UPDATE ");
        self.table(&update.table)?;
        self.push(" SET ");
        self.assignments(&update.assignments)?;
        self.filter(" WHERE ", &update.filter)?;
        self.returning(&update.returning)
    }

    pub fn delete(&mut self, delete: &Delete) -> Result {
        self.push("DELETE FROM ");
        self.table(&delete.table)?;
        self.filter(" WHERE ", &delete.filter)?;
        self.returning(&delete.returning)
    }
}
