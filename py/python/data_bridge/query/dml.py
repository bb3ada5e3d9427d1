"""Data-changing statements: ``Insert`` (rows or a query, ``on_conflict`` with ``do_nothing`` or
``do_update``), ``Update`` and ``Delete``, each with ``returning``."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .base import _Statement
from .expressions import Expr, _condition, _Keyword, _render_and, _value
from .names import quote_ident
from .render import _Ctx, _flat, _render_list
from .select import Table, _from_item, _Query, _select_item


class Insert(_Statement):
    """``INSERT INTO``: rows from dicts (missing keys take the column default) or a query,
    ``on_conflict(...)`` with ``do_nothing()``/``do_update(...)``, ``returning(...)``."""

    __slots__ = ()

    def __init__(self, target: Table) -> None:
        self._c = {"ctes": (), "table": target, "rows": (), "query": None, "query_cols": (),
                   "conflict": None, "action": None, "returning": ()}

    def values(self, values: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]]) -> "Insert":
        """Adds rows: a dict (one row) or a list of dicts. Values are bound (dicts inside as
        jsonb) or expressions (``func.now()``)."""
        rows = [values] if isinstance(values, Mapping) else list(values)
        checked = []
        for row in rows:
            if not isinstance(row, Mapping):
                raise TypeError(f"a row to insert is a dict of column -> value, not {type(row).__name__}")
            checked.append(tuple((quote_ident(k), _value(v)) for k, v in row.items()))
        if self._c["query"] is not None:
            raise ValueError("an insert takes either rows or from_select(), not both")
        return self._set("rows", self._c["rows"] + tuple(checked))

    def from_select(self, query: _Query, columns: Optional[Sequence[str]] = None) -> "Insert":
        """``INSERT INTO t (columns) SELECT ...``."""
        if not isinstance(query, _Query):
            raise TypeError(f"from_select() takes a query, not {type(query).__name__}")
        if self._c["rows"]:
            raise ValueError("an insert takes either rows or from_select(), not both")
        cols = tuple(quote_ident(c) for c in columns) if columns is not None else ()
        return self._set("query", query)._set("query_cols", cols)

    def on_conflict(self, *columns: Any, constraint: Optional[str] = None) -> "Insert":
        """``ON CONFLICT (columns)`` or ``ON CONSTRAINT name``; follow with ``do_nothing()`` or
        ``do_update(...)``. No target is allowed with ``do_nothing()`` only."""
        cols = tuple(quote_ident(c) for c in _flat(columns))
        if constraint is not None and cols:
            raise ValueError("on_conflict takes columns or constraint=, not both")
        target = "ON CONSTRAINT " + quote_ident(constraint) if constraint is not None else (
            "(" + ", ".join(cols) + ")" if cols else "")
        return self._set("conflict", (target, cols))

    def do_nothing(self) -> "Insert":
        """``ON CONFLICT ... DO NOTHING``."""
        conflict = self._c["conflict"] or ("", ())
        return self._set("conflict", conflict)._set("action", ("NOTHING", (), None))

    def do_update(self, set_: Any = None, *, where: Optional[Expr] = None) -> "Insert":
        """``ON CONFLICT (...) DO UPDATE SET ...``.

        ``set_``: a list of column names (each set from ``EXCLUDED``), a dict of column ->
        value or expression (``excluded("a")``, ``col("t.n") + 1``), or None for every inserted
        column that is not in the conflict target. ``where`` limits which rows are updated.
        """
        conflict = self._c["conflict"]
        if conflict is None or not conflict[0]:
            raise ValueError("do_update() needs on_conflict(columns) or on_conflict(constraint=...) first")
        if set_ is None:
            if not self._c["rows"]:
                raise ValueError("do_update() without columns needs the rows first (or name the columns)")
            target = set(conflict[1])
            names = [k for k in _row_columns(self._c["rows"]) if k not in target]
            pairs: Tuple[Tuple[str, Expr], ...] = tuple((k, _Keyword("EXCLUDED." + k)) for k in names)
        elif isinstance(set_, Mapping):
            pairs = tuple((quote_ident(k), _value(v)) for k, v in set_.items())
        elif isinstance(set_, (list, tuple)):
            pairs = tuple((quote_ident(k), _Keyword("EXCLUDED." + quote_ident(k))) for k in set_)
        else:
            raise TypeError(f"do_update() takes a list of columns or a dict, not {type(set_).__name__}")
        if not pairs:
            raise ValueError("do_update() has no column to set")
        cond = _condition(where, "do_update") if where is not None else None
        return self._set("action", ("UPDATE", pairs, cond))

    def returning(self, *items: Any) -> "Insert":
        """``RETURNING items`` (column names, expressions, ``"*"``)."""
        return self._set("returning", self._c["returning"] + tuple([_select_item(i) for i in _flat(items)]))

    def _render(self, ctx: _Ctx) -> str:
        c = self._c
        text = self._render_ctes(ctx) + "INSERT INTO " + c["table"]._render_from(ctx)
        if c["query"] is not None:
            if c["query_cols"]:
                text += " (" + ", ".join(c["query_cols"]) + ")"
            text += " " + c["query"]._render(ctx)
        elif c["rows"]:
            names = _row_columns(c["rows"])
            text += " (" + ", ".join(names) + ") VALUES "
            rendered = []
            for row in c["rows"]:
                values = dict(row)
                # a key missing from this row (but present in another) takes the column default
                rendered.append("(" + ", ".join(values[n]._render(ctx) if n in values else "DEFAULT" for n in names) + ")")
            text += ", ".join(rendered)
        else:
            text += " DEFAULT VALUES"
        if c["action"] is not None:
            target, _cols = c["conflict"]
            text += " ON CONFLICT " + (target + " " if target else "") + "DO "
            kind, pairs, cond = c["action"]
            if kind == "NOTHING":
                text += "NOTHING"
            else:
                text += "UPDATE SET " + ", ".join(k + " = " + v._render(ctx) for k, v in pairs)
                if cond is not None:
                    text += " WHERE " + cond._render(ctx)
        elif c["conflict"] is not None:
            raise ValueError("on_conflict() needs do_nothing() or do_update(...)")
        if c["returning"]:
            text += " RETURNING " + _render_list(ctx, c["returning"])
        return text


def _row_columns(rows: Tuple[Tuple[Tuple[str, Expr], ...], ...]) -> List[str]:
    """The quoted column names of all rows, in first-seen order."""
    seen: Dict[str, None] = {}
    for row in rows:
        for name, _ in row:
            seen.setdefault(name, None)
    return list(seen)


class Update(_Statement):
    """``UPDATE t SET ... [FROM ...] WHERE ... [RETURNING ...]``."""

    __slots__ = ()

    def __init__(self, target: Table) -> None:
        self._c = {"ctes": (), "table": target, "set": (), "from": (), "where": (), "returning": ()}

    def set(self, values: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> "Update":
        """Adds ``"column" = value`` assignments (values bound, or expressions)."""
        pairs = dict(values or {}, **kwargs)
        return self._set("set", self._c["set"] + tuple((quote_ident(k), _value(v)) for k, v in pairs.items()))

    def from_(self, *items: Any) -> "Update":
        """``UPDATE ... FROM items`` (join the condition in ``where``)."""
        return self._set("from", self._c["from"] + tuple(_from_item(i) for i in items))

    def where(self, *conditions: Any) -> "Update":
        """``WHERE`` (ANDed). Without it every row is updated."""
        return self._set("where", self._c["where"] + tuple([_condition(c, "where") for c in conditions]))

    def returning(self, *items: Any) -> "Update":
        """``RETURNING items``."""
        return self._set("returning", self._c["returning"] + tuple([_select_item(i) for i in _flat(items)]))

    def _render(self, ctx: _Ctx) -> str:
        c = self._c
        if not c["set"]:
            raise ValueError("an update needs at least one column to set")
        text = self._render_ctes(ctx) + "UPDATE " + c["table"]._render_from(ctx) + " SET "
        text += ", ".join(k + " = " + v._render(ctx) for k, v in c["set"])
        if c["from"]:
            text += " FROM " + ", ".join(i._render_from(ctx) for i in c["from"])
        if c["where"]:
            text += " WHERE " + _render_and(ctx, c["where"])
        if c["returning"]:
            text += " RETURNING " + _render_list(ctx, c["returning"])
        return text


class Delete(_Statement):
    """``DELETE FROM t [USING ...] WHERE ... [RETURNING ...]``."""

    __slots__ = ()

    def __init__(self, target: Table) -> None:
        self._c = {"ctes": (), "table": target, "using": (), "where": (), "returning": ()}

    def using(self, *items: Any) -> "Delete":
        """``DELETE ... USING items`` (join the condition in ``where``)."""
        return self._set("using", self._c["using"] + tuple([_from_item(i) for i in items]))

    def where(self, *conditions: Any) -> "Delete":
        """``WHERE`` (ANDed). Without it every row is deleted."""
        return self._set("where", self._c["where"] + tuple([_condition(c, "where") for c in conditions]))

    def returning(self, *items: Any) -> "Delete":
        """``RETURNING items``."""
        return self._set("returning", self._c["returning"] + tuple([_select_item(i) for i in _flat(items)]))

    def _render(self, ctx: _Ctx) -> str:
        c = self._c
        text = self._render_ctes(ctx) + "DELETE FROM " + c["table"]._render_from(ctx)
        if c["using"]:
            text += " USING " + ", ".join(i._render_from(ctx) for i in c["using"])
        if c["where"]:
            text += " WHERE " + _render_and(ctx, c["where"])
        if c["returning"]:
            text += " RETURNING " + _render_list(ctx, c["returning"])
        return text
