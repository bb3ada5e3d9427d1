"""The Database handle (a connection pool) and its transactions."""

from __future__ import annotations

import itertools
import random
import time
import weakref
from typing import (
    TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Protocol, Sequence, Tuple,
    TypeVar, Union, cast,
)

import pyarrow as pa

from . import _native, errors
from .reader import BatchReader

if TYPE_CHECKING:
    import pandas
    import polars

Params = Optional[Sequence[Any]]
# SQL text, or a built query (anything with ``to_sql() -> (sql, params)``).
Query = Union[str, "SupportsToSql"]
TypeOptions = Optional[Mapping[str, str]]
SslOption = Union[None, str, Mapping[str, str]]
T = TypeVar("T")


class SupportsToSql(Protocol):
    """A built query: ``data_bridge.table("t").select(...)`` and friends."""

    def to_sql(self) -> Tuple[str, List[Any]]: ...


def _statement(sql: Query, params: Params) -> Tuple[str, Params]:
    """SQL text and parameters of ``sql``, which may be a built query (with its own params)."""
    if isinstance(sql, str):
        return sql, params
    if hasattr(sql, "to_sql"):
        if params is not None:
            raise errors.ProgrammingError("a built query carries its own parameters: pass params=None")
        text, built = sql.to_sql()
        return text, built
    raise errors.ProgrammingError(f"sql must be a str or a built query, not {type(sql).__name__}")


def connect(
    url: Optional[str] = None,
    *,
    min_connections: int = 0,
    max_connections: int = 10,
    acquire_timeout: float = 30.0,
    idle_timeout: Optional[float] = 600.0,
    max_lifetime: Optional[float] = 1800.0,
    statement_timeout: Optional[float] = None,
    application_name: Optional[str] = None,
    ssl: SslOption = None,
    connect_timeout: float = 10.0,
) -> "Database":
    """Opens a connection pool to PostgreSQL.

    ``url`` is a libpq URL or ``key=value`` string (``sslmode``, ``sslrootcert``, ``sslcert``
    and ``sslkey`` included); ``None`` uses ``DATABASE_URL``, else the ``PG*`` environment
    variables. ``min_connections`` (at least one) are opened at once, so a wrong address or
    password fails here. Connections idle longer than ``idle_timeout`` seconds are closed,
    ones older than ``max_lifetime`` replaced; ``statement_timeout`` (seconds) applies to every
    statement. ``application_name`` (shown in ``pg_stat_activity``) overrides the URL's, which
    defaults to ``data-bridge``. ``ssl`` overrides the URL's TLS settings: a mode (``"disable"``, ``"prefer"``,
    ``"require"``, ``"verify-ca"``, ``"verify-full"``) or a dict with ``mode``, ``root_cert``,
    ``cert`` and ``key`` (file paths).
    """
    native = _native.Database(
        url,
        min_connections=min_connections,
        max_connections=max_connections,
        acquire_timeout=acquire_timeout,
        idle_timeout=idle_timeout,
        max_lifetime=max_lifetime,
        statement_timeout=statement_timeout,
        application_name=application_name,
        ssl=ssl,
        connect_timeout=connect_timeout,
    )
    return Database(native, url)


class _Queries:
    """The statements shared by a Database (each call on a pooled connection) and a
    Transaction (every call on its one connection)."""

    _native: _native.Database

    def read_arrow(
        self,
        sql: Query,
        params: Params = None,
        *,
        types: TypeOptions = None,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> pa.Table:
        """Runs ``sql`` (text or a built query) and returns the whole result as a pyarrow Table.

        ``partitions=N`` reads it over N connections at once, all in one snapshot, so the
        result is the one a single read would have returned (rows in partition order). A plain
        scan of one table (``SELECT ... FROM t [WHERE ...]``) is split into page ranges;
        other queries need ``partition_on``, a column of the result, split into even ranges
        between its minimum and maximum (integers, numerics, dates, timestamps) or, with
        ``partition_strategy="quantile"`` and for other types such as text, into quantiles of
        a sample; its NULLs form a partition of their own. A query ending in ORDER BY, LIMIT,
        OFFSET or FETCH is refused (ProgrammingError): its order could not be kept. Inside a
        transaction only a read-only repeatable read one can share its snapshot.
        """
        text, params = _statement(sql, params)
        split = _split(partitions, partition_on, partition_strategy)
        return cast(pa.Table, self._native.read_arrow(text, params, _types(types), **split))

    def read_batches(
        self,
        sql: Query,
        params: Params = None,
        batch_rows: Optional[int] = None,
        *,
        types: TypeOptions = None,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> BatchReader:
        """Streams the result as record batches, holding only a few in memory at a time.

        Returns a ``pyarrow.RecordBatchReader``. Every batch but the last has exactly
        ``batch_rows`` rows when it is given (else about 4 MiB of data each). Closing or
        dropping the reader early cancels the query. ``partitions`` and friends split the read
        as in ``read_arrow``; the partitions' batches (about 1 MiB of data each unless
        ``batch_rows`` is given) come in partition order, each partition reading a few batches
        ahead.
        """
        text, params = _statement(sql, params)
        split = _split(partitions, partition_on, partition_strategy)
        stream = self._native.read_stream(text, params, batch_rows, _types(types), **split)
        return BatchReader(cast(_native.BatchStream, stream))

    def read_pandas(
        self,
        sql: Query,
        params: Params = None,
        *,
        types: TypeOptions = None,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
        **to_pandas_kwargs: Any,
    ) -> "pandas.DataFrame":
        """Runs ``sql`` into a pandas DataFrame (through Arrow; kwargs go to ``Table.to_pandas``)."""
        split = _split(partitions, partition_on, partition_strategy)
        return self.read_arrow(sql, params, types=types, **split).to_pandas(**to_pandas_kwargs)

    def read_polars(
        self,
        sql: Query,
        params: Params = None,
        *,
        types: TypeOptions = None,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> "polars.DataFrame":
        """Runs ``sql`` into a polars DataFrame (through Arrow, without copying)."""
        split = _split(partitions, partition_on, partition_strategy)
        return _to_polars(self.read_arrow(sql, params, types=types, **split))

    def plan(
        self,
        sql: Query,
        params: Params = None,
        *,
        partitions: int,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> "Plan":
        """Plans a partitioned read (see ``read_arrow``) without running it: the queries and the
        snapshot they share, to inspect or to run piece by piece (``plan.read_arrow(i)``), here
        or elsewhere. The plan holds its snapshot open until ``close()`` (or the end of a
        ``with`` block)."""
        text, params = _statement(sql, params)
        native = self._native.plan(text, params, partitions=partitions, partition_on=partition_on,
                                   partition_strategy=partition_strategy)
        return Plan(cast(_native.PlanHandle, native), params)

    def write_arrow(
        self,
        table: Union[str, Tuple[str, str]],
        data: Any,
        mode: str = "append",
        key: Optional[Sequence[str]] = None,
        create_if_missing: bool = False,
        batch_rows: Optional[int] = None,
        connections: int = 1,
    ) -> int:
        """Writes ``data`` into ``table`` with binary COPY, all or nothing; returns the rows
        written.

        ``table`` is ``"name"``, ``"schema.name"`` or ``(schema, name)``; identifiers are quoted.
        ``data``: a pyarrow Table, RecordBatch or RecordBatchReader, a pandas DataFrame, a polars
        DataFrame or LazyFrame, or any object exporting ``__arrow_c_stream__`` (read as a stream).
        ``mode``: ``"append"`` (columns matched by name, missing ones take their defaults),
        ``"create"``, ``"replace"`` (drop and recreate, atomically) or ``"upsert"`` (needs
        ``key``). Any error leaves the table as it was (inside a transaction: as it was before
        this call).

        ``connections=N`` loads ``"create"`` and ``"replace"`` over up to N connections at once
        (as many as the pool has free): the rows go into a new table, which takes the target's
        name (replacing the old table) in one short transaction once every row is in, so
        readers never see part of it. The rows' physical order then interleaves. ``"append"``
        and ``"upsert"`` always use one connection and one transaction (atomicity first)
        whatever ``connections`` says; inside a transaction, ``connections > 1`` with
        create/replace raises ProgrammingError.
        ``batch_rows`` (default: at most 65 536) is the rows encoded and sent as one piece.
        """
        args = _write_args(table, data, mode, key, create_if_missing, batch_rows, connections)
        return cast(int, self._native.write_arrow(*args))

    def execute(self, sql: Query, params: Params = None) -> int:
        """Runs ``sql`` (text or a built statement); returns the rows affected. Without params,
        ``sql`` may hold several ``;``-separated statements (the last one's count is returned)."""
        return cast(int, self._native.execute(*_statement(sql, params)))

    def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Runs ``sql`` once per row of parameters, pipelined on one connection, all or nothing;
        returns the total rows affected."""
        return cast(int, self._native.execute_many(sql, rows))

    def fetch_all(self, sql: Query, params: Params = None, *, types: TypeOptions = None) -> List[Dict[str, Any]]:
        """Runs ``sql`` and returns its rows as dicts (decoded in Rust, through Arrow)."""
        return cast(List[Dict[str, Any]], self._fetch(sql, params, types).to_pylist())

    def fetch_one(self, sql: Query, params: Params = None, *, types: TypeOptions = None) -> Optional[Dict[str, Any]]:
        """The first row of ``sql`` as a dict, or None when there is none."""
        table = self._fetch(sql, params, types)
        return _first_row(table)

    def _fetch(self, sql: Query, params: Params, types: TypeOptions) -> pa.Table:
        # Small results: the cached statement saves a round trip per call.
        text, params = _statement(sql, params)
        return cast(pa.Table, self._native.read_arrow(text, params, _types(types), cache_statement=True))


class Database(_Queries):
    """A pool of connections to one PostgreSQL server; safe to share across threads.

    Placeholders are ``$1, $2, ...``; ``params`` is a list or tuple, bound in binary with the
    types the server infers. ``types`` chooses other Arrow shapes, e.g. ``{"numeric":
    "float64"}``.
    """

    def __init__(self, native: _native.Database, url: Optional[str] = None) -> None:
        self._native = native
        #: The URL given to ``connect`` (None: the environment's), for tools that open their own
        #: connections, such as the migration runner.
        self.url = url

    def transaction(
        self, isolation: str = "read_committed", readonly: bool = False, deferrable: bool = False
    ) -> "Transaction":
        """A transaction on one connection: ``with db.transaction() as tx:`` commits when the block
        ends normally and rolls back (and re-raises) on an exception.

        ``isolation`` is ``"read_committed"``, ``"repeatable_read"`` or ``"serializable"``.
        """
        return Transaction(self._native, isolation, readonly, deferrable)

    def run_in_transaction(
        self,
        fn: Callable[["Transaction"], T],
        retries: int = 3,
        isolation: str = "serializable",
        readonly: bool = False,
        deferrable: bool = False,
    ) -> T:
        """Runs ``fn(tx)`` in a transaction and commits; returns what ``fn`` returned.

        On a serialization failure (40001) or a deadlock (40P01), in ``fn`` or at commit, the
        transaction is rolled back and the whole of ``fn`` runs again after a jittered backoff,
        up to ``retries`` more times. Any other exception rolls back and propagates.
        """
        for attempt in itertools.count():
            try:
                with self.transaction(isolation, readonly, deferrable) as tx:
                    return fn(tx)
            except (errors.SerializationFailure, errors.DeadlockDetected):
                if attempt >= retries:
                    raise
            time.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    def status(self) -> Dict[str, int]:
        """Pool occupancy: ``{"size", "idle", "in_use", "waiting", "max_size"}``."""
        return _status(self._native)

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


class Transaction(_Queries):
    """A transaction pinned to one pooled connection, from ``Database.transaction()``.

    It offers the Database's read, write and execute methods; all of them run in this
    transaction, so they commit or roll back together. It begins when the ``with`` block is
    entered (or at ``begin()``).
    """

    def __init__(self, pool: _native.Database, isolation: str, readonly: bool, deferrable: bool) -> None:
        self._pool = pool
        self._options = (isolation, readonly, deferrable)
        self._begun: Optional[_native.Database] = None
        self._ended = False
        self._readers: "weakref.WeakSet[BatchReader]" = weakref.WeakSet()

    @property
    def _native(self) -> _native.Database:  # type: ignore[override]
        if self._begun is None:
            raise errors.InterfaceError("the transaction has not begun: use it in a with block")
        return self._begun

    def read_batches(
        self,
        sql: Query,
        params: Params = None,
        batch_rows: Optional[int] = None,
        *,
        types: TypeOptions = None,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> BatchReader:
        """Streams the result as record batches (see ``Database.read_batches``). The reader
        must be exhausted or closed before the transaction's next call; the transaction's end
        closes it."""
        split = _split(partitions, partition_on, partition_strategy)
        reader = super().read_batches(sql, params, batch_rows, types=types, **split)
        self._readers.add(reader)
        return reader

    def _close_readers(self) -> None:
        for reader in list(self._readers):
            reader.close()

    def begin(self) -> "Transaction":
        """Starts the transaction (done by ``with``)."""
        if self._begun is not None:
            raise errors.InterfaceError("the transaction has already begun")
        self._begun = cast(_native.Database, self._pool.begin(*self._options))
        return self

    def commit(self) -> None:
        """Commits; later calls raise InterfaceError."""
        native = self._native
        self._close_readers()
        self._ended = True
        native.commit()

    def rollback(self) -> None:
        """Rolls back; later calls raise InterfaceError."""
        native = self._native
        self._close_readers()
        self._ended = True
        native.rollback()

    def savepoint(self) -> "Savepoint":
        """``with tx.savepoint():`` undoes the block's work if it raises (and re-raises); the
        transaction goes on. Savepoints nest to any depth."""
        return Savepoint(self)

    def __enter__(self) -> "Transaction":
        return self.begin()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._ended:  # committed or rolled back inside the block
            return
        if exc_type is None:
            self.commit()
            return
        try:
            self.rollback()
        except errors.Error:
            pass  # the connection broke: it is discarded, and the block's exception matters more


class Savepoint:
    """A savepoint of a transaction, as a context manager."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    def __enter__(self) -> Transaction:
        self._transaction._native.savepoint()
        return self._transaction

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        native = self._transaction._native
        if exc_type is None:
            native.release_savepoint()
        else:
            native.rollback_to_savepoint()


class PartitionQuery(NamedTuple):
    """One piece of a Plan: its SQL and parameters (the caller's, then the piece's bounds)."""

    sql: str
    params: List[Any]

    def to_sql(self) -> Tuple[str, List[Any]]:
        """The SQL and parameters, so the piece runs as a built query: ``db.read_arrow(piece)``
        (outside the plan's snapshot, unless the transaction imported it)."""
        return self.sql, list(self.params)


class Plan:
    """A partitioned read, planned by ``Database.plan``: ``.queries`` (one per partition, in
    the order their rows come back) and ``.snapshot``, the exported snapshot they all read in.

    Each query can run on its own, here (``read_arrow(i)``, ``read_batches(i)``) or in another
    process: in a transaction begun with ``BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY``
    and ``SET TRANSACTION SNAPSHOT '<snapshot>'``. The snapshot stays importable until the
    plan is closed; use it in a ``with`` block.
    """

    def __init__(self, native: _native.PlanHandle, params: Params) -> None:
        self._native = native
        self.snapshot: str = native.snapshot
        given = list(params) if params is not None else []
        self.queries: List[PartitionQuery] = [PartitionQuery(sql, given + bounds) for sql, bounds in native.queries()]

    def read_arrow(self, index: Optional[int] = None, *, types: TypeOptions = None) -> pa.Table:
        """Partition ``index`` as a pyarrow Table, read on a connection of its own; every
        partition (in parallel, concatenated in order) when ``index`` is None."""
        return cast(pa.Table, self._native.read(index, True, None, _types(types)))

    def read_batches(
        self, index: Optional[int] = None, batch_rows: Optional[int] = None, *, types: TypeOptions = None
    ) -> BatchReader:
        """Partition ``index`` (every partition, in order, when None) as a stream of batches."""
        return BatchReader(cast(_native.BatchStream, self._native.read(index, False, batch_rows, _types(types))))

    def read_pandas(self, index: Optional[int] = None, **to_pandas_kwargs: Any) -> "pandas.DataFrame":
        """Partition ``index`` (all when None) as a pandas DataFrame."""
        return self.read_arrow(index).to_pandas(**to_pandas_kwargs)

    def read_polars(self, index: Optional[int] = None) -> "polars.DataFrame":
        """Partition ``index`` (all when None) as a polars DataFrame."""
        return _to_polars(self.read_arrow(index))

    def close(self) -> None:
        """Ends the transaction holding the snapshot; later reads raise InterfaceError."""
        self._native.close()

    def __len__(self) -> int:
        return len(self.queries)

    def __enter__(self) -> "Plan":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<data_bridge.Plan snapshot={self.snapshot!r} queries={len(self.queries)}>"


def _split(partitions: Optional[int], partition_on: Optional[str], partition_strategy: str) -> Dict[str, Any]:
    """The partitioning keyword arguments, passed on only when a partitioned read is asked for."""
    if partitions is None and partition_on is None and partition_strategy == "range":
        return {}
    return {"partitions": partitions, "partition_on": partition_on, "partition_strategy": partition_strategy}


def _first_row(table: pa.Table) -> Optional[Dict[str, Any]]:
    """The first row of ``table`` as a dict, or None when it has none."""
    return cast(Dict[str, Any], table.slice(0, 1).to_pylist()[0]) if table.num_rows else None


def _status(native: _native.Database) -> Dict[str, int]:
    size, idle, in_use, waiting, max_size = native.status()
    return {"size": size, "idle": idle, "in_use": in_use, "waiting": waiting, "max_size": max_size}


def _backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt + 1``: exponential from 10 ms, capped, jittered."""
    return random.uniform(0, min(1.0, 0.01 * 2**attempt))


def _to_polars(table: pa.Table) -> "polars.DataFrame":
    import polars as pl

    # polars has no UUID type: it takes the 16-byte storage of UUID columns.
    # A Table always gives a DataFrame (a Series only comes from an Array).
    return cast("polars.DataFrame", pl.from_arrow(table))


def _write_args(
    table: Union[str, Tuple[str, str]],
    data: Any,
    mode: str,
    key: Optional[Sequence[str]],
    create_if_missing: bool,
    batch_rows: Optional[int],
    connections: int = 1,
) -> tuple:
    schema, name = _table_name(table)
    keys = list(key) if key is not None else None
    return schema, name, _to_reader(data), mode, keys, create_if_missing, batch_rows, connections


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
