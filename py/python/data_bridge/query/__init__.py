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

from .dml import Delete, Insert, Update
from .expressions import Column, Expr, col, excluded, exists, lit
from .functions import case, func
from .names import quote_ident
from .select import Compound, Select, Subquery, Table, select, table

# Importable from here as before, outside __all__: the remaining classes, the type aliases, and
# _type_name (model.py validates declared column types with it).
from .expressions import ColumnLike as ColumnLike, JsonGet as JsonGet, Value as Value
from .functions import Func as Func
from .items import Aliased as Aliased, OrderItem as OrderItem
from .names import _type_name as _type_name

__all__ = [
    "Expr", "Column", "Table", "Subquery", "Select", "Compound", "Insert", "Update", "Delete",
    "table", "col", "func", "lit", "case", "exists", "excluded", "select", "quote_ident",
]
