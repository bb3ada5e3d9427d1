"""Expressions: ``Expr`` with its operators and predicate methods, the nodes they build (columns,
parameters, operators, JSON access, casts, subqueries) and ``col``, ``lit``, ``exists``,
``excluded``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Union

from .base import _FromItemBase, _QueryBase
from .items import Aliased, OrderItem
from .names import _column_sql, _type_name
from .render import (
    _ADD, _AND, _ATOM, _CAST, _CMP, _EXP, _IS, _LIKE, _MUL, _NOT, _OR, _OTHER, _SCALAR_TYPES, _UNARY, _Ctx,
    _check_value, _json_text, _render_list, _unknown,
)

#: Anything bound as a parameter (checked at build time).
Value = Any
#: A column given by name (``"a"``, ``"t.a"``, ``("t", "a.b")``) or as an expression.
ColumnLike = Union[str, Tuple[str, ...], "Expr"]

_OPERATOR_RE = re.compile(r"^[+\-*/<>=~!@#%^&|`?]{1,8}$")


def _value(value: Any) -> "Expr":
    """An expression for a value position: expressions as they are, queries as scalar
    subqueries, dicts as jsonb, anything else as a checked parameter."""
    if type(value) in _SCALAR_TYPES:  # fast path: most values are plain scalars
        return _Param(value)
    if isinstance(value, Expr):
        return value
    if isinstance(value, _QueryBase):
        return _Subquery(value, "")
    if isinstance(value, dict):
        return _Param(_json_text(value), "jsonb")
    if isinstance(value, (_FromItemBase, Aliased, OrderItem)):
        raise TypeError(f"a {type(value).__name__} cannot be used as a value here")
    return _Param(_check_value(value))


def _column(item: Any) -> "Expr":
    """An expression for a column position: strings and tuples are column names."""
    if isinstance(item, Expr):
        return item
    if isinstance(item, (str, tuple)):
        return Column(item)
    if isinstance(item, Expr):
        return item
    raise TypeError(f"expected a column name or an expression, not {type(item).__name__} "
                    "(a value goes in as lit(value))")


def _condition(cond: Any, method: str) -> "Expr":
    if isinstance(cond, Expr):
        return cond
    if isinstance(cond, bool):
        return _Param(cond)
    raise TypeError(
        f"{method}() takes conditions built from col(), func and values (e.g. col('a') == 1), "
        f"not {type(cond).__name__}; SQL text is never accepted here"
    )


def _sub(ctx: _Ctx, expr: "Expr", prec: int) -> str:
    """Renders ``expr``, parenthesised when it binds less tightly than ``prec``."""
    text = expr._render(ctx)
    return "(" + text + ")" if expr._prec < prec else text


def _render_and(ctx: _Ctx, conditions: Tuple["Expr", ...]) -> str:
    """Conditions ANDed (one condition needs no AND node)."""
    if len(conditions) == 1:
        return conditions[0]._render(ctx)
    return _BoolOp.make("AND", *conditions)._render(ctx)


class Expr:
    """A SQL expression. Build with ``col()``, ``lit()``, ``func``, operators and methods.

    Comparison operators (``== != < <= > >=``), arithmetic (``+ - * / % **``, unary ``-``) and
    boolean ``&`` (AND), ``|`` (OR), ``~`` (NOT) build new expressions; ``expr[key]`` is JSON
    access (``->``, with ``.astext`` for ``->>``).
    """

    __slots__ = ()
    _prec = _ATOM

    def _render(self, ctx: _Ctx) -> str:
        raise NotImplementedError

    # -- misuse --
    def __bool__(self) -> bool:
        raise TypeError(
            "a SQL expression has no truth value: combine conditions with & | ~ "
            "(not and/or/not), and compare with == inside where()"
        )

    def __iter__(self) -> Any:
        raise TypeError("a SQL expression is not iterable")

    def __contains__(self, item: Any) -> bool:
        raise TypeError("use expr.contains(value) (@>) or expr.in_(values), not the 'in' operator")

    if not TYPE_CHECKING:  # type checkers keep flagging unknown attributes themselves

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            raise _unknown(self, name)

    __hash__ = None  # type: ignore[assignment]  # == builds an expression

    def __repr__(self) -> str:
        ctx = _Ctx()
        name = type(self).__name__
        return f"<{'Expr' if name.startswith('_') else name} {self._render(ctx)} {ctx.params!r}>"

    # -- comparison --
    def __eq__(self, other: Any) -> "Expr":  # type: ignore[override]
        if other is None:
            return _Postfix(self, " IS NULL")
        return _Binary(self, "=", _value(other), _CMP)

    def __ne__(self, other: Any) -> "Expr":  # type: ignore[override]
        if other is None:
            return _Postfix(self, " IS NOT NULL")
        return _Binary(self, "<>", _value(other), _CMP)

    def __lt__(self, other: Any) -> "Expr":
        return _Binary(self, "<", _value(other), _CMP)

    def __le__(self, other: Any) -> "Expr":
        return _Binary(self, "<=", _value(other), _CMP)

    def __gt__(self, other: Any) -> "Expr":
        return _Binary(self, ">", _value(other), _CMP)

    def __ge__(self, other: Any) -> "Expr":
        return _Binary(self, ">=", _value(other), _CMP)

    # -- boolean --
    def __and__(self, other: Any) -> "Expr":
        return _BoolOp.make("AND", self, _condition(other, "&"))

    def __rand__(self, other: Any) -> "Expr":
        return _BoolOp.make("AND", _condition(other, "&"), self)

    def __or__(self, other: Any) -> "Expr":
        return _BoolOp.make("OR", self, _condition(other, "|"))

    def __ror__(self, other: Any) -> "Expr":
        return _BoolOp.make("OR", _condition(other, "|"), self)

    def __invert__(self) -> "Expr":
        return _Not(self)

    # -- arithmetic --
    def __add__(self, other: Any) -> "Expr":
        return _Binary(self, "+", _value(other), _ADD)

    def __radd__(self, other: Any) -> "Expr":
        return _Binary(_value(other), "+", self, _ADD)

    def __sub__(self, other: Any) -> "Expr":
        return _Binary(self, "-", _value(other), _ADD)

    def __rsub__(self, other: Any) -> "Expr":
        return _Binary(_value(other), "-", self, _ADD)

    def __mul__(self, other: Any) -> "Expr":
        return _Binary(self, "*", _value(other), _MUL)

    def __rmul__(self, other: Any) -> "Expr":
        return _Binary(_value(other), "*", self, _MUL)

    def __truediv__(self, other: Any) -> "Expr":
        return _Binary(self, "/", _value(other), _MUL)

    def __rtruediv__(self, other: Any) -> "Expr":
        return _Binary(_value(other), "/", self, _MUL)

    def __mod__(self, other: Any) -> "Expr":
        return _Binary(self, "%", _value(other), _MUL)

    def __rmod__(self, other: Any) -> "Expr":
        return _Binary(_value(other), "%", self, _MUL)

    def __pow__(self, other: Any) -> "Expr":
        return _Binary(self, "^", _value(other), _EXP)

    def __rpow__(self, other: Any) -> "Expr":
        return _Binary(_value(other), "^", self, _EXP)

    def __neg__(self) -> "Expr":
        return _Negate(self)

    # -- JSON --
    def __getitem__(self, key: Union[str, int]) -> "JsonGet":
        """``expr[key]``: JSON member (str key) or element (int key), ``->``."""
        return JsonGet(self, key, False)

    # -- predicates --
    def in_(self, *values: Any) -> "Expr":
        """``IN``: a list (``in_([1, 2])``), varargs (``in_(1, 2)``) or a subquery.

        A list of values is one array parameter (``= ANY($1)``); an empty list is ``FALSE``.
        """
        return self._in(values, False)

    def not_in(self, *values: Any) -> "Expr":
        """``NOT IN``: like ``in_``; ``<> ALL($1)`` for values, ``TRUE`` for an empty list."""
        return self._in(values, True)

    def _in(self, values: Tuple[Any, ...], negated: bool) -> "Expr":
        if len(values) == 1 and isinstance(values[0], _QueryBase):
            return _InQuery(self, values[0], negated)
        if len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset)):
            items = list(values[0])
        else:
            items = list(values)
        if not items:
            return _Keyword("TRUE" if negated else "FALSE")
        if any(isinstance(v, Expr) for v in items):  # expressions cannot go into an array parameter
            return _InList(self, tuple(_value(v) for v in items), negated)
        array = _Param([_check_value(v) for v in items])
        return _Binary(self, "<>" if negated else "=", _Call("ALL" if negated else "ANY", (array,)), _CMP)

    def between(self, low: Any, high: Any) -> "Expr":
        """``BETWEEN low AND high`` (both ends included)."""
        return _Between(self, _value(low), _value(high), False)

    def not_between(self, low: Any, high: Any) -> "Expr":
        """``NOT BETWEEN low AND high``."""
        return _Between(self, _value(low), _value(high), True)

    def like(self, pattern: Any) -> "Expr":
        """``LIKE pattern`` (``%`` and ``_`` are wildcards; the pattern is bound)."""
        return _Binary(self, "LIKE", _value(pattern), _LIKE)

    def not_like(self, pattern: Any) -> "Expr":
        """``NOT LIKE pattern``."""
        return _Binary(self, "NOT LIKE", _value(pattern), _LIKE)

    def ilike(self, pattern: Any) -> "Expr":
        """``ILIKE pattern`` (case-insensitive)."""
        return _Binary(self, "ILIKE", _value(pattern), _LIKE)

    def not_ilike(self, pattern: Any) -> "Expr":
        """``NOT ILIKE pattern``."""
        return _Binary(self, "NOT ILIKE", _value(pattern), _LIKE)

    def is_null(self) -> "Expr":
        """``IS NULL``."""
        return _Postfix(self, " IS NULL")

    def is_not_null(self) -> "Expr":
        """``IS NOT NULL``."""
        return _Postfix(self, " IS NOT NULL")

    def is_distinct_from(self, other: Any) -> "Expr":
        """``IS DISTINCT FROM`` (NULL-safe ``<>``)."""
        return _Binary(self, "IS DISTINCT FROM", _value(other), _IS)

    def is_not_distinct_from(self, other: Any) -> "Expr":
        """``IS NOT DISTINCT FROM`` (NULL-safe ``=``)."""
        return _Binary(self, "IS NOT DISTINCT FROM", _value(other), _IS)

    def contains(self, other: Any) -> "Expr":
        """``@>``: array (list value) or jsonb (dict value) containment."""
        return _Binary(self, "@>", _value(other), _OTHER)

    def contained_by(self, other: Any) -> "Expr":
        """``<@``: contained by."""
        return _Binary(self, "<@", _value(other), _OTHER)

    def overlaps(self, other: Any) -> "Expr":
        """``&&``: arrays (or ranges) with an element in common."""
        return _Binary(self, "&&", _value(other), _OTHER)

    def concat(self, other: Any) -> "Expr":
        """``||``: string, array or jsonb concatenation."""
        return _Binary(self, "||", _value(other), _OTHER)

    def op(self, operator: str, other: Any) -> "Expr":
        """Any binary operator made of operator characters, e.g. ``col("p").op("<->", q)``."""
        if not isinstance(operator, str) or not _OPERATOR_RE.match(operator) or "--" in operator or "/*" in operator:
            raise ValueError(f"not a valid operator: {operator!r}")
        return _Binary(self, operator, _value(other), _OTHER)

    def cast(self, type_name: str) -> "Expr":
        """``expr::type``; the type name is validated (e.g. ``"numeric(10,2)"``, ``"text[]"``)."""
        return _Cast(self, _type_name(type_name))

    # -- select list and order by --
    def alias(self, name: str) -> "Aliased":
        """``expr AS "name"`` (for select lists and ``returning``)."""
        return Aliased(self, name)

    def asc(self) -> "OrderItem":
        """Ascending order (for ``order_by``)."""
        return OrderItem(self, " ASC", "")

    def desc(self) -> "OrderItem":
        """Descending order (for ``order_by``)."""
        return OrderItem(self, " DESC", "")

    def nulls_first(self) -> "OrderItem":
        """Ascending order with NULLs first."""
        return OrderItem(self, "", " NULLS FIRST")

    def nulls_last(self) -> "OrderItem":
        """Ascending order with NULLs last."""
        return OrderItem(self, "", " NULLS LAST")


class Column(Expr):
    """A column reference: ``col("total")``, ``col("orders.total")``, ``col(("t", "a.b"))``."""

    __slots__ = ("_sql",)

    def __init__(self, name: Union[str, Tuple[str, ...]]) -> None:
        self._sql = _column_sql(name)

    def _render(self, ctx: _Ctx) -> str:
        return self._sql


class _Param(Expr):
    __slots__ = ("_v", "_cast", "_prec")

    def __init__(self, value: Any, cast: str = "") -> None:
        self._v = value
        self._cast = cast
        self._prec = _CAST if cast else _ATOM

    def _render(self, ctx: _Ctx) -> str:
        return ctx.bind(self._v, self) + ("::" + self._cast if self._cast else "")


class _Keyword(Expr):
    __slots__ = ("_sql",)

    def __init__(self, sql: str) -> None:
        self._sql = sql

    def _render(self, ctx: _Ctx) -> str:
        return self._sql


class _Binary(Expr):
    __slots__ = ("_left", "_op", "_right", "_prec")

    def __init__(self, left: Expr, op: str, right: Expr, prec: int) -> None:
        self._left, self._op, self._right, self._prec = left, op, right, prec

    def _render(self, ctx: _Ctx) -> str:
        prec = self._prec
        left, right = self._left, self._right
        left_sql = left._render(ctx)  # _sub inlined: this is the hottest node
        # comparisons, LIKE and IS are non-associative; arithmetic and other operators group left
        if left._prec < prec or (left._prec == prec and prec <= _LIKE):
            left_sql = "(" + left_sql + ")"
        right_sql = right._render(ctx)
        if right._prec <= prec:
            right_sql = "(" + right_sql + ")"
        return left_sql + " " + self._op + " " + right_sql


class JsonGet(Expr):
    """``expr -> key`` (JSON member or element); ``.astext`` gives ``->>`` (text)."""

    __slots__ = ("_base", "_key", "_text")
    _prec = _OTHER

    def __init__(self, base: Expr, key: Union[str, int], text: bool) -> None:
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise TypeError(f"a JSON key is a str (member) or an int (element), not {type(key).__name__}")
        self._base, self._key, self._text = base, key, text

    @property
    def astext(self) -> "JsonGet":
        """The same access as text (``->>``)."""
        return JsonGet(self._base, self._key, True)

    def _render(self, ctx: _Ctx) -> str:
        base = _sub(ctx, self._base, _OTHER)  # first: parameters are numbered in text order
        # An explicit cast picks the operator: `jsonb -> unknown` would always take text.
        key = ctx.bind(self._key, self) + ("::text" if isinstance(self._key, str) else "::integer")
        return base + (" ->> " if self._text else " -> ") + key


class _BoolOp(Expr):
    __slots__ = ("_op", "_items", "_prec")

    def __init__(self, op: str, items: Tuple[Expr, ...]) -> None:
        self._op, self._items = op, items
        self._prec = _AND if op == "AND" else _OR

    @staticmethod
    def make(op: str, *items: Expr) -> Expr:
        flat: List[Expr] = []
        for item in items:  # a AND (b AND c) is flattened: same meaning, fewer parentheses
            if isinstance(item, _BoolOp) and item._op == op:
                flat.extend(item._items)
            else:
                flat.append(item)
        return flat[0] if len(flat) == 1 else _BoolOp(op, tuple(flat))

    def _render(self, ctx: _Ctx) -> str:
        sep = " " + self._op + " "
        prec = self._prec
        parts = []
        for item in self._items:
            text = item._render(ctx)
            parts.append("(" + text + ")" if item._prec <= prec else text)
        return sep.join(parts)


class _Not(Expr):
    __slots__ = ("_expr",)
    _prec = _NOT

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def _render(self, ctx: _Ctx) -> str:
        return "NOT " + _sub(ctx, self._expr, _NOT)


class _Negate(Expr):
    __slots__ = ("_expr",)
    _prec = _UNARY

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def _render(self, ctx: _Ctx) -> str:
        # another unary minus is parenthesised: "--" would start a comment
        return "-" + _sub(ctx, self._expr, _UNARY + 1)


class _Postfix(Expr):
    __slots__ = ("_expr", "_sql")
    _prec = _IS

    def __init__(self, expr: Expr, sql: str) -> None:
        self._expr, self._sql = expr, sql

    def _render(self, ctx: _Ctx) -> str:
        return _sub(ctx, self._expr, _IS + 1) + self._sql


class _Between(Expr):
    __slots__ = ("_expr", "_low", "_high", "_negated")
    _prec = _LIKE

    def __init__(self, expr: Expr, low: Expr, high: Expr, negated: bool) -> None:
        self._expr, self._low, self._high, self._negated = expr, low, high, negated

    def _render(self, ctx: _Ctx) -> str:
        op = " NOT BETWEEN " if self._negated else " BETWEEN "
        return (_sub(ctx, self._expr, _OTHER) + op + _sub(ctx, self._low, _OTHER) + " AND "
                + _sub(ctx, self._high, _OTHER))


class _InList(Expr):
    __slots__ = ("_expr", "_items", "_negated")
    _prec = _LIKE

    def __init__(self, expr: Expr, items: Tuple[Expr, ...], negated: bool) -> None:
        self._expr, self._items, self._negated = expr, items, negated

    def _render(self, ctx: _Ctx) -> str:
        return _sub(ctx, self._expr, _OTHER) + (" NOT IN (" if self._negated else " IN (") + _render_list(ctx, self._items) + ")"


class _InQuery(Expr):
    __slots__ = ("_expr", "_query", "_negated")
    _prec = _LIKE

    def __init__(self, expr: Expr, query: _QueryBase, negated: bool) -> None:
        self._expr, self._query, self._negated = expr, query, negated

    def _render(self, ctx: _Ctx) -> str:
        op = " NOT IN (" if self._negated else " IN ("
        return _sub(ctx, self._expr, _OTHER) + op + self._query._render(ctx) + ")"


class _Subquery(Expr):
    """``(query)`` as a scalar value, or ``EXISTS (query)`` with prefix ``"EXISTS "``."""

    __slots__ = ("_query", "_prefix")

    def __init__(self, query: _QueryBase, prefix: str) -> None:
        self._query, self._prefix = query, prefix

    def _render(self, ctx: _Ctx) -> str:
        return self._prefix + "(" + self._query._render(ctx) + ")"


class _Cast(Expr):
    __slots__ = ("_expr", "_type")
    _prec = _CAST

    def __init__(self, expr: Expr, type_name: str) -> None:
        self._expr, self._type = expr, type_name

    def _render(self, ctx: _Ctx) -> str:
        return _sub(ctx, self._expr, _CAST) + "::" + self._type


class _Call(Expr):
    """A call with SQL-keyword name and plain arguments (ANY/ALL)."""

    __slots__ = ("_name", "_args")

    def __init__(self, name: str, args: Tuple[Expr, ...]) -> None:
        self._name, self._args = name, args

    def _render(self, ctx: _Ctx) -> str:
        return self._name + "(" + _render_list(ctx, self._args) + ")"


def _order_item(item: Any) -> OrderItem:
    if isinstance(item, OrderItem):
        return item
    return OrderItem(_column(item), "", "")


def col(name: Union[str, Tuple[str, ...]]) -> Column:
    """A column: ``col("total")``, ``col("orders.total")`` (qualified), ``col("o.*")``,
    ``col(("orders", "a.b"))`` for names holding dots."""
    return Column(name)


def lit(value: Any, type: Optional[str] = None) -> Expr:
    """A value as an expression (always a bound parameter), optionally cast: ``lit(5, "int")``.

    With ``type`` ``"json"`` or ``"jsonb"`` any JSON-serialisable value (a list too) is bound
    as JSON text.
    """
    if type is not None:
        type_name = _type_name(type)
        if type_name in ("json", "jsonb"):
            return _Param(_json_text(value), type_name)
        return _Cast(_value(value), type_name)
    return _value(value)


def exists(query: _QueryBase) -> Expr:
    """``EXISTS (query)``; ``~exists(q)`` is ``NOT EXISTS``."""
    if not isinstance(query, _QueryBase):
        raise TypeError(f"exists() takes a query, not {type(query).__name__}")
    return _Subquery(query, "EXISTS ")


def excluded(name: str) -> Column:
    """``EXCLUDED."name"``: the row proposed for insertion, inside ``do_update``."""
    return Column(("excluded", name))
