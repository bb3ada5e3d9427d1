"""The Database handle: reads into pyarrow, pandas and polars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Tuple, Union, cast

import pyarrow as pa

from . import _native, errors
from .reader import BatchReader

if TYPE_CHECKING:
    import pandas
    import polars

Params = Optional[Sequence[Any]]
TypeOptions = Optional[Mapping[str, str]]


def connect(
    url: Optional[str] = None,
    *,
    max_connections: int = 10,
    acquire_timeout: float = 30.0,
    connect_timeout: float = 10.0,
) -> "Database":
    """Opens a connection pool to PostgreSQL.

    ``url`` is a libpq URL or ``key=value`` string; ``None`` uses ``DATABASE_URL``, else the
    ``PG*`` environment variables. One connection is opened at once, so a wrong address or
    password fails here.
    """
    native = _native.Database(
        url,
        max_connections=max_connections,
        acquire_timeout=acquire_timeout,
        connect_timeout=connect_timeout,
    )
    return Database(native)


class Database:
    """A pool of connections to one PostgreSQL server; safe to share across threads.

    Placeholders are ``$1, $2, ...``; ``params`` is a list or tuple, bound in binary with the
    types the server infers. ``types`` chooses other Arrow shapes, e.g. ``{"numeric":
    "float64"}``.
    """

    def __init__(self, native: _native.Database) -> None:
        self._native = native

    def read_arrow(self, sql: str, params: Params = None, *, types: TypeOptions = None) -> pa.Table:
        """Runs ``sql`` and returns the whole result as a pyarrow Table."""
        return self._native.read_arrow(sql, params, _types(types))

    def read_batches(
        self,
        sql: str,
        params: Params = None,
        batch_rows: Optional[int] = None,
        *,
        types: TypeOptions = None,
    ) -> BatchReader:
        """Streams the result as record batches, holding only a few in memory at a time.

        Returns a ``pyarrow.RecordBatchReader``. Every batch but the last has exactly
        ``batch_rows`` rows when it is given (else about 4 MiB of data each). Closing or
        dropping the reader early cancels the query.
        """
        return BatchReader(self._native.read_stream(sql, params, batch_rows, _types(types)))

    def read_pandas(
        self, sql: str, params: Params = None, *, types: TypeOptions = None, **to_pandas_kwargs: Any
    ) -> "pandas.DataFrame":
        """Runs ``sql`` into a pandas DataFrame (through Arrow; kwargs go to ``Table.to_pandas``)."""
        return self.read_arrow(sql, params, types=types).to_pandas(**to_pandas_kwargs)

    def read_polars(self, sql: str, params: Params = None, *, types: TypeOptions = None) -> "polars.DataFrame":
        """Runs ``sql`` into a polars DataFrame (through Arrow, without copying)."""
        import polars as pl

        # polars has no UUID type: it takes the 16-byte storage of UUID columns.
        # A Table always gives a DataFrame (a Series only comes from an Array).
        return cast("polars.DataFrame", pl.from_arrow(self.read_arrow(sql, params, types=types)))

    def write_arrow(
        self,
        table: Union[str, Tuple[str, str]],
        data: Any,
        mode: str = "append",
        key: Optional[Sequence[str]] = None,
        create_if_missing: bool = False,
        batch_rows: Optional[int] = None,
    ) -> int:
        """Writes ``data`` into ``table`` with binary COPY, in one transaction; returns the rows
        written.

        ``table`` is ``"name"``, ``"schema.name"`` or ``(schema, name)``; identifiers are quoted.
        ``data``: a pyarrow Table, RecordBatch or RecordBatchReader, a pandas DataFrame, a polars
        DataFrame or LazyFrame, or any object exporting ``__arrow_c_stream__`` (read as a stream).
        ``mode``: ``"append"`` (columns matched by name, missing ones take their defaults),
        ``"create"``, ``"replace"`` (drop and recreate, atomically) or ``"upsert"`` (needs
        ``key``). Any error leaves the table as it was.
        """
        schema, name = _table_name(table)
        return self._native.write_arrow(
            schema, name, _to_reader(data), mode, list(key) if key is not None else None, create_if_missing, batch_rows
        )

    def status(self) -> dict:
        """Pool occupancy: ``{"size", "idle", "waiting"}``."""
        size, idle, waiting = self._native.status()
        return {"size": size, "idle": idle, "waiting": waiting}

    def close(self) -> None:
        """Closes the pool; later calls raise InterfaceError."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._native.closed

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _table_name(table: Union[str, Tuple[str, str]]) -> Tuple[Optional[str], str]:
    """``"s.t"`` -> ("s", "t"); ``"t"`` -> (None, "t"); a tuple for names holding dots."""
    if isinstance(table, tuple):
        schema, name = table
        return schema, name
    if not isinstance(table, str):
        raise TypeError(f"table must be a str or a (schema, table) tuple, not {type(table).__name__}")
    schema, dot, name = table.partition(".")
    return (schema, name) if dot else (None, table)


def _to_reader(data: Any) -> pa.RecordBatchReader:
    """Any supported input as a pyarrow RecordBatchReader (no copies for Arrow inputs)."""
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatchReader.from_batches(data.schema, [data])
    module = type(data).__module__
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False).to_reader()
    if module.startswith("polars"):
        frame = data.collect() if hasattr(data, "collect") else data
        return frame.to_arrow().to_reader()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    raise errors.ProgrammingError(
        f"cannot write {type(data).__name__}: pass a pyarrow Table/RecordBatch/RecordBatchReader, "
        "a pandas or polars DataFrame, or an object with __arrow_c_stream__"
    )


def _types(types: TypeOptions) -> Optional[dict]:
    return None if types is None else dict(types)
