"""Queries: FROM items (``table()``, ``Table``, ``Subquery``), ``Select`` with its joins and clauses,
``Compound`` (``UNION``/``INTERSECT``/``EXCEPT``) and ``select()``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Mapping, Optional, Sequence, Tuple, Union

from .base import _FromItemBase, _QueryBase, _Statement
from .expressions import Column, Expr, _column, _condition, _order_item, _render_and, _Subquery
from .items import Aliased
from .names import _table_sql, quote_ident
from .render import _Ctx, _flat, _render_list, _unknown

if TYPE_CHECKING:
    from .dml import Delete, Insert, Update


class _FromItem(_FromItemBase):
    """Something a query reads from (a table or an aliased subquery); each query method starts
    a ``Select`` from it."""

    __slots__ = ()

    def _render_from(self, ctx: _Ctx) -> str:
        raise NotImplementedError

    def _select(self) -> "Select":
        return Select(self)

    def col(self, name: str) -> Column:
        """A column of this table (qualified by its alias, else its name); ``t["name"]`` too."""
        raise NotImplementedError

    def __getitem__(self, name: str) -> Column:
        return self.col(name)

    def select(self, *items: Any) -> "Select":
        """``SELECT items FROM this`` (no items: ``*``)."""
        return self._select().select(*items)

    def distinct(self) -> "Select":
        """``SELECT DISTINCT``."""
        return self._select().distinct()

    def distinct_on(self, *items: Any) -> "Select":
        """``SELECT DISTINCT ON (items)``."""
        return self._select().distinct_on(*items)

    def where(self, *conditions: Any) -> "Select":
        """``WHERE`` (several conditions, or several calls, are ANDed)."""
        return self._select().where(*conditions)

    def join(self, other: Any, on: Optional[Expr] = None, *, using: Any = None) -> "Select":
        """``JOIN other ON on`` (or ``USING (columns)``)."""
        return self._select().join(other, on, using=using)

    def left_join(self, other: Any, on: Optional[Expr] = None, *, using: Any = None) -> "Select":
        """``LEFT JOIN other ON on``."""
        return self._select().left_join(other, on, using=using)

    def right_join(self, other: Any, on: Optional[Expr] = None, *, using: Any = None) -> "Select":
        """``RIGHT JOIN other ON on``."""
        return self._select().right_join(other, on, using=using)

    def full_join(self, other: Any, on: Optional[Expr] = None, *, using: Any = None) -> "Select":
        """``FULL JOIN other ON on``."""
        return self._select().full_join(other, on, using=using)

    def cross_join(self, other: Any) -> "Select":
        """``CROSS JOIN other``."""
        return self._select().cross_join(other)

    def group_by(self, *items: Any) -> "Select":
        """``GROUP BY items``."""
        return self._select().group_by(*items)

    def order_by(self, *items: Any) -> "Select":
        """``ORDER BY items``."""
        return self._select().order_by(*items)

    def having(self, *conditions: Any) -> "Select":
        """``HAVING``."""
        return self._select().having(*conditions)

    def limit(self, n: Optional[int]) -> "Select":
        """``LIMIT n``."""
        return self._select().limit(n)

    def offset(self, n: Optional[int]) -> "Select":
        """``OFFSET n``."""
        return self._select().offset(n)

    def for_update(self, *, share: bool = False, nowait: bool = False, skip_locked: bool = False) -> "Select":
        """``FOR UPDATE``; see ``Select.for_update``."""
        return self._select().for_update(share=share, nowait=nowait, skip_locked=skip_locked)

    def with_(self, name: str, query: "_Statement", *, columns: Optional[Sequence[str]] = None,
              recursive: bool = False, materialized: Optional[bool] = None) -> "Select":
        """A common table expression; see ``Select.with_``."""
        return self._select().with_(name, query, columns=columns, recursive=recursive, materialized=materialized)

    if not TYPE_CHECKING:  # type checkers keep flagging unknown attributes themselves

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            raise _unknown(self, name)


class Table(_FromItem):
    """A table (or view): ``table("orders")``, ``table("sales.orders")``,
    ``table(("sales", "a.b"))``; ``.alias("o")`` for self-joins."""

    __slots__ = ("_parts", "_alias", "_name_sql", "_ref")

    def __init__(self, name: Union[str, Tuple[str, ...]], alias: Optional[str] = None) -> None:
        self._parts, self._name_sql = _table_sql(name)
        self._alias = alias
        # columns are qualified by the alias when there is one, as SQL requires
        self._ref = quote_ident(alias) if alias is not None else self._name_sql

    def alias(self, name: str) -> "Table":
        """The same table under another name: ``table("orders").alias("o")``."""
        return Table(self._parts, name)

    def col(self, name: str) -> Column:
        """Column ``name`` (taken literally) qualified by this table's alias or name."""
        column = Column.__new__(Column)
        column._sql = self._ref + "." + quote_ident(name)
        return column

    __getitem__ = col  # not inherited through _FromItem.__getitem__: one call less on a hot path

    def _qualifier(self) -> Tuple[str, ...]:
        return (self._alias,) if self._alias is not None else self._parts

    def _render_from(self, ctx: _Ctx) -> str:
        return self._name_sql + (" AS " + self._ref if self._alias is not None else "")

    def insert(self, values: Any = None, *, rows: Optional[Sequence[Mapping[str, Any]]] = None) -> "Insert":
        """``INSERT INTO this``: a dict (one row), a list of dicts (``rows=``), or nothing and
        ``.values(...)``/``.from_select(...)`` later."""
        from .dml import Insert  # late: dml.py builds on this module

        stmt = Insert(self)
        if values is not None:
            stmt = stmt.values(values)
        if rows is not None:
            stmt = stmt.values(list(rows))
        return stmt

    def update(self, values: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> "Update":
        """``UPDATE this SET ...`` from a dict (or keyword arguments) of column -> value."""
        from .dml import Update  # late: dml.py builds on this module

        return Update(self).set(values, **kwargs)

    def delete(self) -> "Delete":
        """``DELETE FROM this``: add ``.where(...)`` (without it every row goes)."""
        from .dml import Delete  # late: dml.py builds on this module

        return Delete(self)

    def to_sql(self) -> Tuple[str, List[Any]]:
        """``SELECT * FROM this``, so that ``db.read_arrow(table("t"))`` reads a whole table."""
        return self._select().to_sql()

    def __repr__(self) -> str:
        return f"<Table {self._render_from(_Ctx())}>"


class Subquery(_FromItem):
    """A query in ``FROM``: ``query.alias("x")``; its columns are ``x.col("name")``."""

    __slots__ = ("_query", "_alias")

    def __init__(self, query: "_Query", alias: str) -> None:
        quote_ident(alias)  # validates the name now rather than at render time
        self._query = query
        self._alias = alias

    def col(self, name: str) -> Column:
        """Column ``name`` of the subquery's result."""
        return Column((self._alias, name))

    def _render_from(self, ctx: _Ctx) -> str:
        return "(" + self._query._render(ctx) + ") AS " + quote_ident(self._alias)


def table(name: Union[str, Tuple[str, ...], Table]) -> Table:
    """A table: ``"orders"``, ``"sales.orders"`` (schema-qualified) or ``("sales", "a.b")``."""
    return name if isinstance(name, Table) else Table(name)


def _from_item(item: Any) -> _FromItem:
    if isinstance(item, _FromItem):
        return item
    if isinstance(item, (str, tuple)):
        return Table(item)
    if isinstance(item, (Select, Compound)):
        raise TypeError("a subquery in FROM needs a name: pass query.alias('name')")
    raise TypeError(f"expected a table or query.alias(...), not {type(item).__name__}")


def _select_item(item: Any) -> Any:
    if isinstance(item, (Expr, Aliased)):
        return item
    if isinstance(item, (Select, Compound)):
        return _Subquery(item, "")
    return _column(item)


class _Query(_QueryBase):
    """A statement producing rows: it can be a subquery, a CTE or an arm of a union."""

    __slots__ = ()

    def alias(self, name: str) -> Subquery:
        """This query as a named subquery for ``FROM``/joins: ``(...) AS "name"``."""
        return Subquery(self, name)

    def scalar(self) -> Expr:
        """This query as a scalar value ``(SELECT ...)`` (queries used as values are wrapped
        automatically)."""
        return _Subquery(self, "")

    def exists(self) -> Expr:
        """``EXISTS (this query)``."""
        return _Subquery(self, "EXISTS ")

    def union(self, other: "_Query") -> "Compound":
        """``this UNION other`` (duplicates removed)."""
        return Compound(self, "UNION", other)

    def union_all(self, other: "_Query") -> "Compound":
        """``this UNION ALL other``."""
        return Compound(self, "UNION ALL", other)

    def intersect(self, other: "_Query") -> "Compound":
        """``this INTERSECT other``."""
        return Compound(self, "INTERSECT", other)

    def except_(self, other: "_Query") -> "Compound":
        """``this EXCEPT other``."""
        return Compound(self, "EXCEPT", other)

    def order_by(self, *items: Any) -> Any:
        """``ORDER BY``: columns (strings), expressions, ``.desc()``/``.asc()`` items,
        optionally ``.nulls_first()``/``.nulls_last()``; appends to earlier calls."""
        return self._set("order_by", self._c["order_by"] + tuple([_order_item(i) for i in _flat(items)]))

    def limit(self, n: Optional[int]) -> Any:
        """``LIMIT n`` (bound as a parameter); None removes it."""
        return self._set("limit", _count(n, "limit"))

    def offset(self, n: Optional[int]) -> Any:
        """``OFFSET n`` (bound as a parameter); None removes it."""
        return self._set("offset", _count(n, "offset"))

    def _render_tail(self, ctx: _Ctx) -> str:
        c = self._c
        text = ""
        if c["order_by"]:
            text += " ORDER BY " + _render_list(ctx, c["order_by"])
        if c["limit"] is not None:
            text += " LIMIT " + ctx.bind(c["limit"])
        if c["offset"] is not None:
            text += " OFFSET " + ctx.bind(c["offset"])
        return text


def _count(n: Optional[int], what: str) -> Optional[int]:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative int or None, got {n!r}")
    return n


_JOIN_KINDS = ("JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN")


class Select(_Query):
    """``SELECT``: clauses may be added in any order and render in SQL's order.

    Repeated calls add to a clause (``select``, ``where`` (ANDed), ``group_by``, ``having``,
    ``order_by``, joins, CTEs) or replace it (``limit``, ``offset``, ``from_``).
    """

    __slots__ = ()

    def __init__(self, from_: Optional[_FromItem] = None) -> None:
        self._c = {
            "ctes": (), "distinct": False, "distinct_on": (), "items": (), "from": from_, "joins": (),
            "where": (), "group_by": (), "having": (), "order_by": (), "limit": None, "offset": None,
            "lock": "", "model": None,
        }

    def select(self, *items: Any) -> "Select":
        """Adds select-list items: column names, expressions, ``expr.alias(name)``, scalar
        subqueries; lists are expanded. With none at all the query selects ``*``."""
        return self._set("items", self._c["items"] + tuple([_select_item(i) for i in _flat(items)]))

    def distinct(self) -> "Select":
        """``SELECT DISTINCT``."""
        return self._set("distinct", True)

    def distinct_on(self, *items: Any) -> "Select":
        """``SELECT DISTINCT ON (items)`` (order_by must start with the same items)."""
        return self._set("distinct_on", self._c["distinct_on"] + tuple([_column(i) for i in _flat(items)]))

    def from_(self, item: Any) -> "Select":
        """Sets the ``FROM`` item: a table (name) or ``query.alias(name)``."""
        return self._set("from", _from_item(item))

    def _join(self, kind: str, other: Any, on: Optional[Expr], using: Any) -> "Select":
        item = _from_item(other)
        using_cols: Tuple[str, ...] = ()
        if using is not None:
            using_cols = tuple(quote_ident(u) for u in ([using] if isinstance(using, str) else using))
        if kind == "CROSS JOIN":
            pass
        elif (on is None) == (not using_cols):
            raise ValueError(f"{kind} needs exactly one of on=<condition> or using=<columns>")
        if on is not None:
            on = _condition(on, "join")
        return self._set("joins", self._c["joins"] + ((kind, item, on, using_cols),))

    def join(self, other: Any, on: Optional[Expr] = None, *, using: Any = None) -> "Select":
        """``JOIN other ON on`` (or ``USING (columns)``); ``other`` is a table, a table name or
        ``query.alias(name)``."""
        return self._join("JOIN", other, on, using)

    def left_join(self, other: Any, on: Optional[Expr] = None, *, using: Any = None) -> "Select":
        """``LEFT JOIN other ON on``."""
        return self._join("LEFT JOIN", other, on, using)

    def right_join(self, other: Any, on: Optional[Expr] = None, *, using: Any = None) -> "Select":
        """``RIGHT JOIN other ON on``."""
        return self._join("RIGHT JOIN", other, on, using)

    def full_join(self, other: Any, on: Optional[Expr] = None, *, using: Any = None) -> "Select":
        """``FULL JOIN other ON on``."""
        return self._join("FULL JOIN", other, on, using)

    def cross_join(self, other: Any) -> "Select":
        """``CROSS JOIN other``."""
        return self._join("CROSS JOIN", other, None, None)

    def where(self, *conditions: Any) -> "Select":
        """``WHERE``: conditions are ANDed, with each other and with earlier calls."""
        return self._set("where", self._c["where"] + tuple([_condition(c, "where") for c in conditions]))

    def group_by(self, *items: Any) -> "Select":
        """``GROUP BY``: column names or expressions; lists are expanded."""
        return self._set("group_by", self._c["group_by"] + tuple([_column(i) for i in _flat(items)]))

    def having(self, *conditions: Any) -> "Select":
        """``HAVING``: conditions are ANDed."""
        return self._set("having", self._c["having"] + tuple([_condition(c, "having") for c in conditions]))

    def for_update(self, *, share: bool = False, nowait: bool = False, skip_locked: bool = False) -> "Select":
        """``FOR UPDATE`` (``FOR SHARE`` with ``share=True``), optionally ``NOWAIT`` or
        ``SKIP LOCKED``."""
        if nowait and skip_locked:
            raise ValueError("for_update: nowait and skip_locked exclude each other")
        lock = " FOR SHARE" if share else " FOR UPDATE"
        lock += " NOWAIT" if nowait else " SKIP LOCKED" if skip_locked else ""
        return self._set("lock", lock)

    def fetch_models(self, db: Any) -> List[Any]:
        """The rows as instances of the Model this query came from (``Model.select()``)."""
        model = self._c["model"]
        if model is None:
            raise TypeError("fetch_models() needs a query started from a Model: Model.select(...)")
        return [model._from_db(row) for row in self.fetch_all(db)]

    def _render(self, ctx: _Ctx) -> str:
        c = self._c
        text = self._render_ctes(ctx) + "SELECT "
        if c["distinct_on"]:
            text += "DISTINCT ON (" + _render_list(ctx, c["distinct_on"]) + ") "
        elif c["distinct"]:
            text += "DISTINCT "
        text += _render_list(ctx, c["items"]) if c["items"] else "*"
        if c["from"] is not None:
            text += " FROM " + c["from"]._render_from(ctx)
        elif c["joins"]:
            raise ValueError("a join needs a FROM item: start from table(...) or call from_()")
        for kind, item, on, using in c["joins"]:
            text += " " + kind + " " + item._render_from(ctx)
            if on is not None:
                text += " ON " + on._render(ctx)
            elif using:
                text += " USING (" + ", ".join(using) + ")"
        if c["where"]:
            text += " WHERE " + _render_and(ctx, c["where"])
        if c["group_by"]:
            text += " GROUP BY " + _render_list(ctx, c["group_by"])
        if c["having"]:
            text += " HAVING " + _render_and(ctx, c["having"])
        return text + self._render_tail(ctx) + c["lock"]


def select(*items: Any) -> Select:
    """A ``SELECT`` without a table yet (``select(lit(1, "int").alias("one"))``); add one with
    ``.from_(...)``."""
    return Select().select(*items)


_SET_OPS = {"UNION": 1, "UNION ALL": 1, "EXCEPT": 1, "INTERSECT": 2}


class Compound(_Query):
    """``left UNION [ALL] | INTERSECT | EXCEPT right``, with its own ``order_by``/``limit``/``offset``."""

    __slots__ = ()

    def __init__(self, left: _Query, op: str, right: _Query) -> None:
        for arm in (left, right):
            if not isinstance(arm, _Query):
                raise TypeError(f"{op.lower()} takes a query, not {type(arm).__name__}")
        self._c = {"ctes": (), "left": left, "op": op, "right": right, "order_by": (), "limit": None, "offset": None}

    def _render(self, ctx: _Ctx) -> str:
        c = self._c
        left = c["left"]
        left_sql = left._render(ctx)
        # a chain of the same precedence reads left to right without parentheses
        plain_left = (isinstance(left, Compound) and _SET_OPS[left._c["op"]] == _SET_OPS[c["op"]]
                      and not left._c["ctes"] and not left._c["order_by"]
                      and left._c["limit"] is None and left._c["offset"] is None)
        if not plain_left:
            left_sql = "(" + left_sql + ")"
        text = self._render_ctes(ctx) + left_sql + " " + c["op"] + " (" + c["right"]._render(ctx) + ")"
        return text + self._render_tail(ctx)
