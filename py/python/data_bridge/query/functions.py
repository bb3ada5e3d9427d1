"""Function calls: the ``func`` namespace, aggregates with ``FILTER``, window functions with
``OVER`` and ``case()``."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Tuple

from .expressions import Expr, _BoolOp, _column, _condition, _order_item, _value
from .items import OrderItem
from .render import _Ctx, _flat, _render_list


class _Case(Expr):
    __slots__ = ("_whens", "_else")

    def __init__(self, whens: Tuple[Tuple[Expr, Expr], ...], else_: Optional[Expr]) -> None:
        self._whens, self._else = whens, else_

    def _render(self, ctx: _Ctx) -> str:
        parts = ["CASE"]
        for cond, result in self._whens:
            parts.append("WHEN " + cond._render(ctx) + " THEN " + result._render(ctx))
        if self._else is not None:
            parts.append("ELSE " + self._else._render(ctx))
        parts.append("END")
        return " ".join(parts)


def case(*whens: Tuple[Any, Any], else_: Any = None) -> Expr:
    """``CASE WHEN cond THEN value ... ELSE else_ END``: ``case((col("a") > 1, "big"), else_="small")``."""
    if not whens:
        raise ValueError("case() needs at least one (condition, value) pair")
    pairs = []
    for pair in whens:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError("case() takes (condition, value) pairs")
        pairs.append((_condition(pair[0], "case"), _value(pair[1])))
    return _Case(tuple(pairs), None if else_ is None else _value(else_))


_FRAME_BOUND = r"(?:unbounded preceding|unbounded following|current row|\d+ preceding|\d+ following)"
_FRAME_RE = re.compile(
    rf"^(?:rows|range|groups) (?:between {_FRAME_BOUND} and {_FRAME_BOUND}|{_FRAME_BOUND})"
    r"(?: exclude (?:current row|group|ties|no others))?$"
)


class Func(Expr):
    """A function call ``name(args)``; aggregates take ``.filter(cond)`` and every function
    ``.over(...)`` (a window function)."""

    __slots__ = ("_name", "_args", "_distinct", "_order", "_filter")

    def __init__(self, name: str, args: Tuple[Expr, ...], distinct: bool, order: Tuple[Any, ...],
                 filter_: Optional[Expr]) -> None:
        self._name, self._args, self._distinct, self._order, self._filter = name, args, distinct, order, filter_

    def filter(self, *conditions: Any) -> "Func":
        """``FILTER (WHERE ...)`` on an aggregate (several conditions are ANDed)."""
        conds = [_condition(c, "filter") for c in conditions]
        if self._filter is not None:
            conds.insert(0, self._filter)
        return Func(self._name, self._args, self._distinct, self._order, _BoolOp.make("AND", *conds))

    def over(self, partition_by: Any = None, order_by: Any = None, frame: Optional[str] = None) -> "Expr":
        """``OVER (PARTITION BY ... ORDER BY ... frame)``: a window function.

        ``partition_by``/``order_by``: a column, an expression or a list of them; ``frame``: a
        frame clause such as ``"rows between unbounded preceding and current row"``.
        """
        parts = _flat([partition_by]) if partition_by is not None else []
        orders = _flat([order_by]) if order_by is not None else []
        frame_sql = ""
        if frame is not None:
            norm = " ".join(str(frame).lower().split())
            if not _FRAME_RE.match(norm):
                raise ValueError(f"not a valid window frame: {frame!r} (e.g. 'rows between 2 preceding and current row')")
            frame_sql = norm.upper()
        return _Window(self, tuple(_column(p) for p in parts), tuple(_order_item(o) for o in orders), frame_sql)

    def _render(self, ctx: _Ctx) -> str:
        if self._args:
            args = ("DISTINCT " if self._distinct else "") + _render_list(ctx, self._args)
        else:
            args = "*" if self._name.lower() == "count" else ""
        if self._order:
            args += " ORDER BY " + _render_list(ctx, self._order)
        text = self._name + "(" + args + ")"
        if self._filter is not None:
            text += " FILTER (WHERE " + self._filter._render(ctx) + ")"
        return text


class _Window(Expr):
    __slots__ = ("_func", "_partition", "_order", "_frame")

    def __init__(self, func: Func, partition: Tuple[Expr, ...], order: Tuple["OrderItem", ...], frame: str) -> None:
        self._func, self._partition, self._order, self._frame = func, partition, order, frame

    def _render(self, ctx: _Ctx) -> str:
        spec = []
        if self._partition:
            spec.append("PARTITION BY " + _render_list(ctx, self._partition))
        if self._order:
            spec.append("ORDER BY " + _render_list(ctx, self._order))
        if self._frame:
            spec.append(self._frame)
        return self._func._render(ctx) + " OVER (" + " ".join(spec) + ")"


_FUNC_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _FuncNamespace:
    """``func.<name>(*args, distinct=False, order_by=None)`` calls any SQL function.

    The name must be letters, digits and ``_``; arguments are expressions or values (a string
    is a value: use ``col()`` for a column). ``func.count()`` is ``count(*)``;
    ``distinct=True`` gives ``count(DISTINCT x)``; ``order_by`` orders an aggregate's input
    (``string_agg(x, ',' ORDER BY y)``).
    """

    __slots__ = ()
    _makers: Dict[str, "_FuncMaker"] = {}  # one validated maker per name

    def __getattr__(self, name: str) -> "_FuncMaker":
        maker = self._makers.get(name)
        if maker is None:
            if name.startswith("__"):
                raise AttributeError(name)
            if not _FUNC_NAME_RE.match(name):
                raise ValueError(f"not a valid function name: {name!r}")
            maker = self._makers[name] = _FuncMaker(name)
        return maker

    def __getitem__(self, name: str) -> Any:
        """``func["name"]``, for names held in a variable."""
        return getattr(self, name)


class _FuncMaker:
    """``func.name``: calling it builds the call expression."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, distinct: bool = False, order_by: Any = None) -> Func:
        if distinct and not args:
            raise ValueError(f"{self._name}(DISTINCT) needs an argument")
        orders = tuple([_order_item(o) for o in _flat([order_by])]) if order_by is not None else ()
        return Func(self._name, tuple([_value(a) for a in args]), distinct, orders, None)

    def __repr__(self) -> str:
        return f"func.{self._name}"


#: The SQL function namespace: ``func.sum(col("x"))``, ``func.count()``, ``func.row_number().over(...)``.
func = _FuncNamespace()
