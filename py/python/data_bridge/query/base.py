"""Base classes below the expression nodes: ``_Statement`` (``to_sql()``, CTEs, running) and the
markers by which expressions recognise queries and FROM items without importing select.py, which
builds on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from .names import quote_ident
from .render import _MAX_PARAMS, _Ctx, _unknown

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow as pa

    from ..reader import BatchReader


class _Statement:
    """A complete statement: ``to_sql()``, CTEs and the ways to run it."""

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


class _QueryBase(_Statement):
    """Marker base of the statements producing rows (``Select`` and ``Compound``, through
    select.py's ``_Query``), which expressions take as values, in ``IN`` and in ``EXISTS``."""

    __slots__ = ()


class _FromItemBase:
    """Marker base of FROM items (``Table`` and ``Subquery``, through select.py's ``_FromItem``),
    which expressions refuse as values."""

    __slots__ = ()
