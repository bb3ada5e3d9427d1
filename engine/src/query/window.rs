//! Windows: what `OVER (...)` says, and the window-only functions that need one.

use super::expr::{Call, Expr, Node, OrderBy};

/// A window function that needs [`WindowFn::over`] to become an expression
/// (`row_number()`, `rank()`, `lag(...)`, ...).
#[derive(Clone, Debug)]
pub struct WindowFn(pub(crate) Call);

impl WindowFn {
    /// `function(...) OVER (window)`.
    pub fn over(self, window: Window) -> Expr {
        Expr(Node::Over(Box::new(self.0), Box::new(window)))
    }
}

/// A window: `OVER (PARTITION BY ... ORDER BY ... frame)`.
#[derive(Clone, Debug, Default)]
pub struct Window {
    pub(crate) partition_by: Vec<Node>,
    pub(crate) order_by: Vec<OrderBy>,
    pub(crate) frame: Option<Frame>,
}

#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub rows: bool,
    pub start: FrameBound,
    pub end: FrameBound,
}

/// One end of a window frame. Offsets are Rust integers, written into the SQL as digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameBound {
    /// `UNBOUNDED PRECEDING`: the partition's first row.
    UnboundedPreceding,
    /// `n PRECEDING`.
    Preceding(u64),
    /// `CURRENT ROW`.
    CurrentRow,
    /// `n FOLLOWING`.
    Following(u64),
    /// `UNBOUNDED FOLLOWING`: the partition's last row.
    UnboundedFollowing,
}

impl Window {
    /// An empty window: the whole result is one partition.
    pub fn new() -> Window {
        Window::default()
    }

    /// `PARTITION BY` these expressions (strings are column names).
    pub fn partition_by<I>(mut self, columns: I) -> Window
    where
        I: IntoIterator,
        I::Item: Into<Expr>,
    {
        self.partition_by.extend(columns.into_iter().map(|c| c.into().0));
        self
    }

    /// `ORDER BY` these (strings are column names, ascending).
    pub fn order_by<I>(mut self, items: I) -> Window
    where
        I: IntoIterator,
        I::Item: Into<OrderBy>,
    {
        self.order_by.extend(items.into_iter().map(Into::into));
        self
    }

    /// `ROWS BETWEEN start AND end`.
    pub fn rows_between(mut self, start: FrameBound, end: FrameBound) -> Window {
        self.frame = Some(Frame { rows: true, start, end });
        self
    }

    /// `RANGE BETWEEN start AND end` (offsets need a numeric ordering column).
    pub fn range_between(mut self, start: FrameBound, end: FrameBound) -> Window {
        self.frame = Some(Frame { rows: false, start, end });
        self
    }
}
