"""The query builder: SQL statements composed from Python objects, rendered as ``(sql, params)``.

>>> from data_bridge import table, col, func
>>> orders = table("orders")
>>> q = (orders.select("customer_id", func.sum(col("total")).alias("revenue"))
...        .where(col("status") == "paid")
...        .group_by("customer_id").having(func.sum(col("total")) > 1000)
...        .order_by(col("revenue").desc()).limit(100))
>>> q.to_sql()
('SELECT "customer_id", sum("total") AS "revenue" FROM "orders" WHERE "status" = $1 GROUP BY "customer_id" HAVING sum("total") > $2 ORDER BY "revenue" DESC LIMIT $3', ['paid', 1000, 100])

Every statement (``Select``, ``Compound``, ``Insert``, ``Update``, ``Delete``) is immutable: each
method returns a new statement, so a partly built query can be shared and extended. ``to_sql()``
returns the SQL text with ``$1, $2, ...`` placeholders and the list of values to bind; every read
method of a Database or Transaction accepts a statement in place of SQL text.

Safety rules, enforced here rather than by the server:

- A Python value is never written into the SQL text: it always becomes a bound parameter
  (``LIMIT``/``OFFSET`` included). Supported values: ``None``, ``bool``, ``int``, ``float``,
  ``str``, ``bytes``, ``Decimal``, ``date``, ``datetime``, ``time``, ``timedelta``, ``UUID``, lists
  or tuples of these (arrays) and ``dict`` (bound as JSON text and cast to ``jsonb``); anything
  else is a TypeError naming the type.
- Identifiers are always double-quoted, with ``"`` doubled inside, so a name can never leave its
  quotes. Empty names, names holding NUL and names over PostgreSQL's 63 bytes are refused (the
  server would reject or silently truncate them).
- Names given as strings: a dot separates qualifiers (``col("orders.total")`` is ``"orders"."total"``,
  ``table("sales.orders")`` is ``"sales"."orders"``, a last part ``*`` is the star). A name that
  itself holds a dot is passed as a tuple of parts: ``col(("orders", "a.b"))``. Lists (never
  tuples) group several arguments: ``order_by(["a", "b"])`` is ``order_by("a", "b")``.
- Where a column is expected (select lists, ``group_by``, ``order_by``, ``partition_by``,
  ``distinct_on``, ``returning``) a string is a column name. Everywhere else (comparisons,
  function arguments, inserted values) a string is a value: ``func.sum(col("total"))``, not
  ``func.sum("total")``. Keys of ``insert``/``update``/``do_update`` dicts and conflict targets are
  single column names taken literally (no dot splitting).
- The only SQL text taken from strings is checked against a strict pattern: function names
  (letters, digits, ``_``), cast type names (``numeric(10,2)``, ``timestamp with time zone``,
  ``text[]``), window frames (``"rows between unbounded preceding and current row"``) and custom
  operators (``op("<->", x)``: operator characters only).
- ``col == None`` renders ``IS NULL`` (and ``!= None`` ``IS NOT NULL``), like Python's intent and
  unlike SQL's ``= NULL``. ``in_([])`` renders ``FALSE`` and ``not_in([])`` ``TRUE``; a non-empty
  list is one array parameter (``= ANY($1)`` / ``<> ALL($1)``), so a list of any length costs one
  placeholder. ``bool(expr)`` is a TypeError: combine conditions with ``&``, ``|`` and ``~``
  (Python's ``and``/``or``/``not`` cannot be overloaded).

The server infers each parameter's type from its context (``"total" > $1`` binds ``$1`` as the
column's type). Where there is no context (a bare value in a select list), give one:
``lit(5, "int")``. One expression object rendered twice binds its values once, so an expression
holding a value can be grouped by: build it once, use it in ``select`` and ``group_by`` (two
separately built copies would be ``$1`` and ``$2`` to the server, which then cannot match them;
grouping by the output name, ``group_by("month")``, works too).

At a glance: ``table(name)`` starts any statement (``.select/.where/.join/...`` a ``Select``,
``.insert/.update/.delete`` the others; ``.alias(a)`` for self-joins, ``t["col"]`` for its
columns); ``select(...)`` starts one without a table. Queries nest: ``q.alias("x")`` in FROM or
joins, ``col.in_(q)``, ``exists(q)``, ``q`` as a value (scalar subquery), ``q.with_(name, q2)`` for
a CTE referred to as ``table(name)``, ``q.union(q2)``/``union_all``/``intersect``/``except_``.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import difflib
import functools
import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow as pa

    from .reader import BatchReader

__all__ = [
    "Expr", "Column", "Table", "Subquery", "Select", "Compound", "Insert", "Update", "Delete",
    "table", "col", "func", "lit", "case", "exists", "excluded", "select", "quote_ident",
]

#: Anything bound as a parameter (checked at build time).
Value = Any
#: A column given by name (``"a"``, ``"t.a"``, ``("t", "a.b")``) or as an expression.
ColumnLike = Union[str, Tuple[str, ...], "Expr"]

# Operator precedence, lowest first, as in PostgreSQL's grammar: a child binding less tightly
# than its parent's operator is parenthesised.
_OR, _AND, _NOT, _IS, _CMP, _LIKE, _OTHER, _ADD, _MUL, _EXP, _UNARY, _CAST, _ATOM = range(1, 14)

_MAX_IDENT_BYTES = 63  # NAMEDATALEN - 1: longer names are truncated by the server
_MAX_PARAMS = 65535  # the protocol's limit on bound parameters

# --------------------------------------------------------------------------
# identifiers and values
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def quote_ident(name: str) -> str:
    """``name`` as a quoted PostgreSQL identifier: ``a"b`` -> ``"a""b"``.

    Raises TypeError for a non-string and ValueError for an empty name, a NUL character or more
    than 63 bytes (which the server would truncate).
    """
    if not isinstance(name, str):
        raise TypeError(f"an identifier must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("an identifier cannot be empty")
    if "\x00" in name:
        raise ValueError(f"an identifier cannot contain NUL: {name!r}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"an identifier must be valid Unicode (no lone surrogates): {name!r}") from None
    if size > _MAX_IDENT_BYTES:
        raise ValueError(f"identifier longer than PostgreSQL's {_MAX_IDENT_BYTES} bytes: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _name_parts(name: Union[str, Tuple[str, ...]], what: str, max_parts: int) -> Tuple[str, ...]:
    """Splits a dotted string (a tuple is taken as given) into 1..max_parts parts."""
    if isinstance(name, str):
        parts: Tuple[str, ...] = tuple(name.split("."))
    elif isinstance(name, tuple) and all(isinstance(p, str) for p in name):
        parts = name
    else:
        raise TypeError(f"a {what} name must be a str or a tuple of str, not {type(name).__name__}")
    if not 1 <= len(parts) <= max_parts:
        raise ValueError(f"a {what} name has 1 to {max_parts} dotted parts, got {name!r}")
    return parts


@functools.lru_cache(maxsize=4096)
def _column_sql(name: Union[str, Tuple[str, ...]]) -> str:
    parts = _name_parts(name, "column", 4)
    if isinstance(name, str) and parts[-1] == "*":
        return ".".join([quote_ident(p) for p in parts[:-1]] + ["*"])
    return ".".join(quote_ident(p) for p in parts)


_SCALAR_TYPES = frozenset(
    {type(None), bool, int, float, str, bytes, decimal.Decimal, _dt.date, _dt.datetime, _dt.time,
     _dt.timedelta, uuid.UUID}
)
_SCALAR_BASES = (bool, int, float, str, bytes, decimal.Decimal, _dt.date, _dt.time, _dt.timedelta, uuid.UUID)
_SUPPORTED = ("None, bool, int, float, str, bytes, Decimal, date, datetime, time, timedelta, UUID, "
              "list/tuple of these, dict (as jsonb)")


def _check_value(value: Any) -> Any:
    """``value`` as something the driver binds; TypeError naming an unsupported type."""
    kind = type(value)
    if kind in _SCALAR_TYPES:
        return value
    if kind is list or kind is tuple:
        return [_check_value(v) for v in value]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, _SCALAR_BASES):
        return value
    if kind.__module__ == "numpy" and hasattr(value, "item"):  # numpy scalars from frames
        return _check_value(value.item())
    if isinstance(value, (list, tuple)):
        return [_check_value(v) for v in value]
    if isinstance(value, dict):
        raise TypeError("a dict inside a list is not supported: pass lit(value, 'jsonb') for a JSON array")
    raise TypeError(f"cannot use a value of type {kind.__name__} in a query; supported: {_SUPPORTED}")


def _value(value: Any) -> "Expr":
    """An expression for a value position: expressions as they are, queries as scalar
    subqueries, dicts as jsonb, anything else as a checked parameter."""
    if type(value) in _SCALAR_TYPES:  # fast path: most values are plain scalars
        return _Param(value)
    if isinstance(value, Expr):
        return value
    if isinstance(value, (Select, Compound)):
        return _Subquery(value, "")
    if isinstance(value, dict):
        return _Param(_json_text(value), "jsonb")
    if isinstance(value, (Table, Subquery, Aliased, OrderItem)):
        raise TypeError(f"a {type(value).__name__} cannot be used as a value here")
    return _Param(_check_value(value))


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except TypeError as exc:
        raise TypeError(f"cannot bind a value as JSON: {exc}") from None


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


def _flat(items: Sequence[Any]) -> Sequence[Any]:
    """Varargs with lists expanded: ``f(a, b)`` == ``f([a, b])``. Tuples are names, not lists."""
    for item in items:
        if type(item) is list:
            break
    else:
        return items  # the common case: nothing to expand
    out: List[Any] = []
    for item in items:
        if isinstance(item, list):
            out.extend(item)
        else:
            out.append(item)
    return out


def _condition(cond: Any, method: str) -> "Expr":
    if isinstance(cond, Expr):
        return cond
    if isinstance(cond, bool):
        return _Param(cond)
    raise TypeError(
        f"{method}() takes conditions built from col(), func and values (e.g. col('a') == 1), "
        f"not {type(cond).__name__}; SQL text is never accepted here"
    )


def _unknown(obj: object, name: str) -> AttributeError:
    """AttributeError naming the valid methods (and the closest one) of ``obj``."""
    valid = sorted(n for n in dir(type(obj)) if not n.startswith("_"))
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return AttributeError(f"{type(obj).__name__} has no attribute {name!r}.{hint} Valid: {', '.join(valid)}")


class _Ctx:
    """Render state: the parameters bound so far (``$n`` is the n-th)."""

    __slots__ = ("params", "_seen")

    def __init__(self) -> None:
        self.params: List[Any] = []
        self._seen: Dict[int, str] = {}

    def bind(self, value: Any, node: Optional[object] = None) -> str:
        """The placeholder of a new parameter; one node rendered twice keeps one placeholder, so
        that an expression reused in ``select`` and ``group_by`` is the same to the server."""
        if node is not None:
            ref = self._seen.get(id(node))
            if ref is not None:
                return ref
        self.params.append(value)
        ref = "$" + str(len(self.params))
        if node is not None:
            self._seen[id(node)] = ref  # nodes outlive the render: the statement holds them
        return ref


def _sub(ctx: _Ctx, expr: "Expr", prec: int) -> str:
    """Renders ``expr``, parenthesised when it binds less tightly than ``prec``."""
    text = expr._render(ctx)
    return "(" + text + ")" if expr._prec < prec else text


def _render_and(ctx: _Ctx, conditions: Tuple["Expr", ...]) -> str:
    """Conditions ANDed (one condition needs no AND node)."""
    if len(conditions) == 1:
        return conditions[0]._render(ctx)
    return _BoolOp.make("AND", *conditions)._render(ctx)


def _render_list(ctx: _Ctx, items: Iterable[Any]) -> str:
    return ", ".join([i._render(ctx) for i in items])


# --------------------------------------------------------------------------
# expressions
# --------------------------------------------------------------------------

_TYPE_RE = re.compile(
    r"^(?:double precision|character varying|bit varying|(?:[a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*)"
    r"(?:\(\d+(?:, ?\d+)?\))?(?: with(?:out)? time zone)?(?:\[\d*\])*$"
)
_OPERATOR_RE = re.compile(r"^[+\-*/<>=~!@#%^&|`?]{1,8}$")


def _type_name(type_name: str) -> str:
    """A validated SQL type name, lowercased with single spaces."""
    if not isinstance(type_name, str):
        raise TypeError(f"a type name must be a str, not {type(type_name).__name__}")
    norm = " ".join(type_name.lower().split())
    if not _TYPE_RE.match(norm):
        raise ValueError(
            f"not a valid type name: {type_name!r} (e.g. 'int', 'numeric(10,2)', 'text[]', "
            "'timestamp with time zone')"
        )
    return norm


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
        if len(values) == 1 and isinstance(values[0], (Select, Compound)):
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

    def __init__(self, expr: Expr, query: "_Query", negated: bool) -> None:
        self._expr, self._query, self._negated = expr, query, negated

    def _render(self, ctx: _Ctx) -> str:
        op = " NOT IN (" if self._negated else " IN ("
        return _sub(ctx, self._expr, _OTHER) + op + self._query._render(ctx) + ")"


class _Subquery(Expr):
    """``(query)`` as a scalar value, or ``EXISTS (query)`` with prefix ``"EXISTS "``."""

    __slots__ = ("_query", "_prefix")

    def __init__(self, query: "_Query", prefix: str) -> None:
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


class Aliased:
    """``expr AS "name"``: an item of a select list or ``returning``."""

    __slots__ = ("_expr", "_name")

    def __init__(self, expr: Expr, name: str) -> None:
        self._expr = expr
        self._name = quote_ident(name)

    def _render(self, ctx: _Ctx) -> str:
        return self._expr._render(ctx) + " AS " + self._name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"an aliased expression only goes into select()/returning(); refer to it elsewhere "
            f"as col(name) or use the expression itself (no attribute {name!r})"
        )

    def __bool__(self) -> bool:
        raise TypeError("an aliased expression has no truth value")


class OrderItem:
    """An ``order_by`` item: an expression with ASC/DESC and NULLS FIRST/LAST."""

    __slots__ = ("_expr", "_dir", "_nulls")

    def __init__(self, expr: Expr, direction: str, nulls: str) -> None:
        self._expr, self._dir, self._nulls = expr, direction, nulls

    def nulls_first(self) -> "OrderItem":
        """NULLs before other values."""
        return OrderItem(self._expr, self._dir, " NULLS FIRST")

    def nulls_last(self) -> "OrderItem":
        """NULLs after other values."""
        return OrderItem(self._expr, self._dir, " NULLS LAST")

    def _render(self, ctx: _Ctx) -> str:
        return self._expr._render(ctx) + self._dir + self._nulls

    if not TYPE_CHECKING:  # type checkers keep flagging unknown attributes themselves

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            raise _unknown(self, name)


def _order_item(item: Any) -> OrderItem:
    if isinstance(item, OrderItem):
        return item
    return OrderItem(_column(item), "", "")


def _select_item(item: Any) -> Any:
    if isinstance(item, (Expr, Aliased)):
        return item
    if isinstance(item, (Select, Compound)):
        return _Subquery(item, "")
    return _column(item)


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


def exists(query: "_Query") -> Expr:
    """``EXISTS (query)``; ``~exists(q)`` is ``NOT EXISTS``."""
    if not isinstance(query, (Select, Compound)):
        raise TypeError(f"exists() takes a query, not {type(query).__name__}")
    return _Subquery(query, "EXISTS ")


def excluded(name: str) -> Column:
    """``EXCLUDED."name"``: the row proposed for insertion, inside ``do_update``."""
    return Column(("excluded", name))


# --------------------------------------------------------------------------
# from items
# --------------------------------------------------------------------------


class _FromItem:
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


@functools.lru_cache(maxsize=1024)
def _table_sql(name: Union[str, Tuple[str, ...]]) -> Tuple[Tuple[str, ...], str]:
    parts = _name_parts(name, "table", 2)
    return parts, ".".join(quote_ident(p) for p in parts)


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
        stmt = Insert(self)
        if values is not None:
            stmt = stmt.values(values)
        if rows is not None:
            stmt = stmt.values(list(rows))
        return stmt

    def update(self, values: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> "Update":
        """``UPDATE this SET ...`` from a dict (or keyword arguments) of column -> value."""
        return Update(self).set(values, **kwargs)

    def delete(self) -> "Delete":
        """``DELETE FROM this``: add ``.where(...)`` (without it every row goes)."""
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


# --------------------------------------------------------------------------
# statements
# --------------------------------------------------------------------------


class _Statement:
    """A complete statement: ``to_sql()`` and the ways to run it."""

    __slots__ = ("_c",)
    _c: Dict[str, Any]

    def _set(self, key: str, value: Any) -> Any:
        new = object.__new__(type(self))
        new._c = c = self._c.copy()
        c[key] = value
        return new

    def _render(self, ctx: _Ctx) -> str:
        raise NotImplementedError

    def to_sql(self) -> Tuple[str, List[Any]]:
        """``(sql, params)``: the SQL text with ``$n`` placeholders and the values to bind."""
        ctx = _Ctx()
        sql = self._render(ctx)
        if len(ctx.params) > _MAX_PARAMS:
            raise ValueError(
                f"{len(ctx.params)} parameters exceed PostgreSQL's {_MAX_PARAMS}: "
                "use write_arrow (or Model.insert_many) for bulk rows"
            )
        return sql, ctx.params

    def with_(self, name: str, query: "_Statement", *, columns: Optional[Sequence[str]] = None,
              recursive: bool = False, materialized: Optional[bool] = None) -> Any:
        """Adds a common table expression: ``WITH "name" [(columns)] AS (query)``.

        Refer to it as ``table(name)``. ``recursive=True`` makes it ``WITH RECURSIVE`` (the
        query then refers to ``table(name)`` itself, usually via ``union_all``);
        ``materialized`` adds ``[NOT] MATERIALIZED``. ``query`` may be an insert, update or
        delete with ``returning``. CTEs render in the order they were added.
        """
        if not isinstance(query, _Statement):
            raise TypeError(f"with_() takes a query, not {type(query).__name__}")
        if not isinstance(name, str):
            raise TypeError(f"a CTE name must be a str, not {type(name).__name__}")
        cols = tuple(quote_ident(c) for c in columns) if columns is not None else ()
        quote_ident(name)
        return self._set("ctes", self._c["ctes"] + ((name, query, cols, recursive, materialized),))

    def _render_ctes(self, ctx: _Ctx) -> str:
        ctes = self._c["ctes"]
        if not ctes:
            return ""
        parts = []
        for name, query, cols, _recursive, materialized in ctes:
            head = quote_ident(name) + (" (" + ", ".join(cols) + ")" if cols else "") + " AS "
            if materialized is not None:
                head += "MATERIALIZED " if materialized else "NOT MATERIALIZED "
            parts.append(head + "(" + query._render(ctx) + ")")
        keyword = "WITH RECURSIVE " if any(c[3] for c in ctes) else "WITH "
        return keyword + ", ".join(parts) + " "

    # -- running --
    def execute(self, db: Any) -> Any:
        """Runs the statement on ``db`` (a Database or Transaction); returns the rows affected."""
        return db.execute(*self.to_sql())

    def fetch_all(self, db: Any, **kwargs: Any) -> Any:
        """The rows as dicts (``returning`` rows for insert/update/delete)."""
        return db.fetch_all(*self.to_sql(), **kwargs)

    def fetch_one(self, db: Any, **kwargs: Any) -> Any:
        """The first row as a dict, or None."""
        return db.fetch_one(*self.to_sql(), **kwargs)

    def read_arrow(self, db: Any, **kwargs: Any) -> "pa.Table":
        """The result as a pyarrow Table (kwargs go to ``db.read_arrow``, e.g. ``types=``)."""
        return db.read_arrow(*self.to_sql(), **kwargs)

    def read_pandas(self, db: Any, **kwargs: Any) -> "pandas.DataFrame":
        """The result as a pandas DataFrame."""
        return db.read_pandas(*self.to_sql(), **kwargs)

    def read_polars(self, db: Any, **kwargs: Any) -> "polars.DataFrame":
        """The result as a polars DataFrame."""
        return db.read_polars(*self.to_sql(), **kwargs)

    def read_batches(self, db: Any, batch_rows: Optional[int] = None, **kwargs: Any) -> "BatchReader":
        """The result as a stream of record batches."""
        sql, params = self.to_sql()
        return db.read_batches(sql, params, batch_rows, **kwargs)

    if not TYPE_CHECKING:  # type checkers keep flagging unknown attributes themselves

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            raise _unknown(self, name)

    def __repr__(self) -> str:
        try:
            sql, params = self.to_sql()
        except ValueError as exc:  # an unfinished statement still has a repr
            return f"<{type(self).__name__} (incomplete: {exc})>"
        return f"<{type(self).__name__} {sql!r} {params!r}>"


class _Query(_Statement):
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
