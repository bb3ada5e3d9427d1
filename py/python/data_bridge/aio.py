"""data-bridge for asyncio: the same API as coroutines.

>>> import asyncio, data_bridge.aio
>>> async def main():
...     db = await data_bridge.aio.connect("postgresql://postgres@127.0.0.1:5432/test")
...     async with db.transaction() as tx:
...         await tx.execute("SELECT 1")
...     return (await db.read_arrow("SELECT 1 AS one")).to_pydict()
>>> asyncio.run(main())
{'one': [1]}

Every call runs on the engine's own I/O threads and completes an asyncio future, so the event
loop is never blocked. Cancelling the awaiting task cancels the query on the server.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar, Union, cast

import pyarrow as pa

from . import _native, errors
from .database import (
    Params, Query, SslOption, TypeOptions, _backoff, _first_row, _split, _statement, _status, _to_polars, _types, _write_args,
)

__all__ = ["connect", "AsyncDatabase", "AsyncTransaction"]

T = TypeVar("T")


async def connect(
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
) -> "AsyncDatabase":
    """Opens a connection pool; the arguments are those of ``data_bridge.connect``."""
    native = await _native.Database.connect_async(
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
    return AsyncDatabase(native, url)


def _complete(future: "asyncio.Future[Any]", ok: bool, value: Any) -> None:
    """Called on the event loop by the native module with a call's outcome."""
    if future.done():  # cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _AsyncQueries:
    """The statements shared by AsyncDatabase and AsyncTransaction."""

    _native: _native.Database

    async def read_arrow(
        self,
        sql: Query,
        params: Params = None,
        *,
        types: TypeOptions = None,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> pa.Table:
        """Runs ``sql`` (text or a built query) and returns the whole result as a pyarrow Table;
        ``partitions`` and friends split the read as in ``Database.read_arrow``."""
        text, params = _statement(sql, params)
        split = _split(partitions, partition_on, partition_strategy)
        return cast(pa.Table, await self._native.read_arrow(text, params, _types(types), asynchronous=True, **split))

    async def read_pandas(
        self,
        sql: Query,
        params: Params = None,
        *,
        types: TypeOptions = None,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
        **kwargs: Any,
    ) -> Any:
        """Runs ``sql`` into a pandas DataFrame (kwargs go to ``Table.to_pandas``)."""
        split = _split(partitions, partition_on, partition_strategy)
        return (await self.read_arrow(sql, params, types=types, **split)).to_pandas(**kwargs)

    async def read_polars(
        self,
        sql: Query,
        params: Params = None,
        *,
        types: TypeOptions = None,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> Any:
        """Runs ``sql`` into a polars DataFrame."""
        split = _split(partitions, partition_on, partition_strategy)
        return _to_polars(await self.read_arrow(sql, params, types=types, **split))

    async def write_arrow(
        self,
        table: Union[str, Tuple[str, str]],
        data: Any,
        mode: str = "append",
        key: Optional[Sequence[str]] = None,
        create_if_missing: bool = False,
        batch_rows: Optional[int] = None,
        connections: int = 1,
    ) -> int:
        """Writes ``data`` into ``table`` with binary COPY, all or nothing (see
        ``Database.write_arrow``)."""
        args = _write_args(table, data, mode, key, create_if_missing, batch_rows, connections)
        return cast(int, await self._native.write_arrow(*args, asynchronous=True))

    async def execute(self, sql: Query, params: Params = None) -> int:
        """Runs ``sql`` (text or a built statement); returns the rows affected."""
        return cast(int, await self._native.execute(*_statement(sql, params), asynchronous=True))

    async def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Runs ``sql`` once per row of parameters, pipelined, all or nothing."""
        return cast(int, await self._native.execute_many(sql, rows, asynchronous=True))

    async def fetch_all(self, sql: Query, params: Params = None, *, types: TypeOptions = None) -> List[Dict[str, Any]]:
        """Runs ``sql`` and returns its rows as dicts."""
        return cast(List[Dict[str, Any]], (await self._fetch(sql, params, types)).to_pylist())

    async def fetch_one(
        self, sql: Query, params: Params = None, *, types: TypeOptions = None
    ) -> Optional[Dict[str, Any]]:
        """The first row of ``sql`` as a dict, or None."""
        table = await self._fetch(sql, params, types)
        return _first_row(table)

    async def _fetch(self, sql: Query, params: Params, types: TypeOptions) -> pa.Table:
        # Small results: the cached statement saves a round trip per call.
        text, params = _statement(sql, params)
        return cast(pa.Table, await self._native.read_arrow(text, params, _types(types), cache_statement=True,
                                                            asynchronous=True))


class AsyncDatabase(_AsyncQueries):
    """A pool of connections for asyncio; safe to share between tasks."""

    def __init__(self, native: _native.Database, url: Optional[str] = None) -> None:
        self._native = native
        #: The URL given to ``connect`` (None: the environment's).
        self.url = url

    def transaction(
        self, isolation: str = "read_committed", readonly: bool = False, deferrable: bool = False
    ) -> "AsyncTransaction":
        """``async with db.transaction() as tx:`` commits at the end, rolls back on an exception."""
        return AsyncTransaction(self._native, isolation, readonly, deferrable)

    async def run_in_transaction(
        self,
        fn: Callable[["AsyncTransaction"], Awaitable[T]],
        retries: int = 3,
        isolation: str = "serializable",
        readonly: bool = False,
        deferrable: bool = False,
    ) -> T:
        """Awaits ``fn(tx)`` in a transaction, re-running it on serialization failures and
        deadlocks (see ``Database.run_in_transaction``)."""
        for attempt in itertools.count():
            try:
                async with self.transaction(isolation, readonly, deferrable) as tx:
                    return await fn(tx)
            except (errors.SerializationFailure, errors.DeadlockDetected):
                if attempt >= retries:
                    raise
            await asyncio.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    def status(self) -> Dict[str, int]:
        """Pool occupancy: ``{"size", "idle", "in_use", "waiting", "max_size"}``."""
        return _status(self._native)

    async def close(self) -> None:
        """Closes the pool; later calls raise InterfaceError."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._native.closed

    async def __aenter__(self) -> "AsyncDatabase":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


class AsyncTransaction(_AsyncQueries):
    """A transaction on one connection, from ``AsyncDatabase.transaction()``."""

    def __init__(self, pool: _native.Database, isolation: str, readonly: bool, deferrable: bool) -> None:
        self._pool = pool
        self._options = (isolation, readonly, deferrable)
        self._begun: Optional[_native.Database] = None
        self._ended = False

    @property
    def _native(self) -> _native.Database:  # type: ignore[override]
        if self._begun is None:
            raise errors.InterfaceError("the transaction has not begun: use it in an async with block")
        return self._begun

    async def begin(self) -> "AsyncTransaction":
        """Starts the transaction (done by ``async with``)."""
        if self._begun is not None:
            raise errors.InterfaceError("the transaction has already begun")
        self._begun = cast(_native.Database, await self._pool.begin(*self._options, asynchronous=True))
        return self

    async def commit(self) -> None:
        """Commits; later calls raise InterfaceError."""
        native = self._native
        self._ended = True
        await native.commit(asynchronous=True)

    async def rollback(self) -> None:
        """Rolls back; later calls raise InterfaceError."""
        native = self._native
        self._ended = True
        await native.rollback(asynchronous=True)

    def savepoint(self) -> "AsyncSavepoint":
        """``async with tx.savepoint():`` undoes the block's work if it raises."""
        return AsyncSavepoint(self)

    async def __aenter__(self) -> "AsyncTransaction":
        return await self.begin()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._ended:  # committed or rolled back inside the block
            return
        if exc_type is None:
            await self.commit()
            return
        try:
            await self.rollback()
        except errors.Error:
            pass  # already ended, or the connection broke: the block's exception matters more


class AsyncSavepoint:
    """A savepoint of an AsyncTransaction, as an async context manager."""

    def __init__(self, transaction: AsyncTransaction) -> None:
        self._transaction = transaction

    async def __aenter__(self) -> AsyncTransaction:
        await self._transaction._native.savepoint(asynchronous=True)
        return self._transaction

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        native = self._transaction._native
        if exc_type is None:
            await native.release_savepoint(asynchronous=True)
        else:
            await native.rollback_to_savepoint(asynchronous=True)
