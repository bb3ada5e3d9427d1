"""Type stubs of the native module (data_bridge._native); checked by mypy.stubtest."""

from typing import Any, Awaitable, Iterable, Mapping, Optional, Sequence, final

import pyarrow as pa

__all__ = ["BatchStream", "Database", "PlanHandle", "migrate", "migration_status", "rollback"]
__version__: str

@final
class Database:
    """A pool of connections to one PostgreSQL server, or one transaction on it."""

    def __new__(
        cls,
        url: Optional[str] = None,
        *,
        min_connections: int = 0,
        max_connections: int = 10,
        acquire_timeout: float = 30.0,
        idle_timeout: Optional[float] = ...,
        max_lifetime: Optional[float] = ...,
        statement_timeout: Optional[float] = None,
        application_name: Optional[str] = None,
        ssl: Any = None,
        connect_timeout: float = 10.0,
    ) -> "Database": ...
    @staticmethod
    def connect_async(
        url: Optional[str] = None,
        *,
        min_connections: int = 0,
        max_connections: int = 10,
        acquire_timeout: float = 30.0,
        idle_timeout: Optional[float] = ...,
        max_lifetime: Optional[float] = ...,
        statement_timeout: Optional[float] = None,
        application_name: Optional[str] = None,
        ssl: Any = None,
        connect_timeout: float = 10.0,
    ) -> Awaitable["Database"]:
        """Opens a pool for asyncio: an awaitable of a Database."""
    def read_arrow(
        self,
        sql: str,
        params: Optional[Sequence[Any]] = None,
        types: Optional[Mapping[str, str]] = None,
        *,
        cache_statement: bool = False,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
        asynchronous: bool = False,
    ) -> Any:
        """Runs `sql` and returns the whole result as a pyarrow Table.

        `cache_statement`: through the connection's statement cache (for small, repeated queries).
        """
    def read_stream(
        self,
        sql: str,
        params: Optional[Sequence[Any]] = None,
        batch_rows: Optional[int] = None,
        types: Optional[Mapping[str, str]] = None,
        *,
        partitions: Optional[int] = None,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> Any:
        """Starts `sql` and returns a stream of its batches."""
    def plan(
        self,
        sql: str,
        params: Optional[Sequence[Any]] = None,
        *,
        partitions: int,
        partition_on: Optional[str] = None,
        partition_strategy: str = "range",
    ) -> Any:
        """Plans a partitioned read: its queries and snapshot, runnable piece by piece."""
    def write_arrow(
        self,
        schema: Optional[str],
        name: str,
        data: pa.RecordBatchReader,
        mode: str,
        key: Optional[Sequence[str]] = None,
        create_if_missing: bool = False,
        batch_rows: Optional[int] = None,
        connections: int = 1,
        *,
        asynchronous: bool = False,
    ) -> Any:
        """Writes an Arrow stream into a table; returns the rows written."""
    def execute(self, sql: str, params: Optional[Sequence[Any]] = None, *, asynchronous: bool = False) -> Any:
        """Runs `sql`; returns the rows affected."""
    def execute_many(self, sql: str, rows: Iterable[Sequence[Any]], *, asynchronous: bool = False) -> Any:
        """Runs `sql` once per row of parameters, pipelined, all or nothing; returns the rows affected."""
    def begin(
        self,
        isolation: str = "read_committed",
        readonly: bool = False,
        deferrable: bool = False,
        *,
        asynchronous: bool = False,
    ) -> Any:
        """Starts a transaction: a Database handle pinned to one connection."""
    def commit(self, *, asynchronous: bool = False) -> Any:
        """Commits the transaction."""
    def rollback(self, *, asynchronous: bool = False) -> Any:
        """Rolls the transaction back."""
    def savepoint(self, *, asynchronous: bool = False) -> Any:
        """Opens a savepoint; returns its depth."""
    def release_savepoint(self, *, asynchronous: bool = False) -> Any:
        """Keeps the innermost savepoint's work."""
    def rollback_to_savepoint(self, *, asynchronous: bool = False) -> Any:
        """Undoes the innermost savepoint's work."""
    def status(self) -> tuple[int, int, int, int, int]:
        """(size, idle, in use, waiting, max size)."""
    def close(self) -> None:
        """Closes the pool."""
    @property
    def closed(self) -> bool: ...

@final
class BatchStream:
    """The batches of one running query."""

    def schema(self) -> pa.Schema:
        """The pyarrow schema of every batch."""
    def next_batch(self) -> Optional[pa.RecordBatch]:
        """The next pyarrow RecordBatch, or None after the last one."""
    def close(self) -> None:
        """Stops the query (cancelling it on the server if still running)."""

@final
class PlanHandle:
    """A planned partitioned read (see `data_bridge.Plan`); it holds the snapshot open until closed."""

    @property
    def snapshot(self) -> str:
        """The exported snapshot the pieces read in."""
    def queries(self) -> list[tuple[str, list[str]]]:
        """Each piece's SQL and its bound values beyond the caller's parameters (as text)."""
    def read(
        self,
        index: Optional[int] = None,
        whole: bool = True,
        batch_rows: Optional[int] = None,
        types: Optional[Mapping[str, str]] = None,
    ) -> Any:
        """Reads piece `index` (every piece, in order, when None): a pyarrow Table when `whole`,
        else a BatchStream."""
    def close(self) -> None:
        """Ends the snapshot's transaction (pieces already reading go on)."""

def migrate(
    url: Optional[str],
    directory: str,
    target: Optional[int] = None,
    repair: bool = False,
    ignore_missing: bool = False,
    single_transaction: bool = False,
) -> list[dict[str, Any]]:
    """Applies the pending migrations of `directory`; returns the applied ones as dicts."""

def rollback(
    url: Optional[str],
    directory: str,
    steps: Optional[int] = None,
    target: Optional[int] = None,
    single_transaction: bool = False,
) -> list[dict[str, Any]]:
    """Reverts the latest `steps` migrations, or those above version `target`; returns them as dicts."""

def migration_status(url: Optional[str], directory: str) -> dict[str, Any]:
    """`{"applied": [...], "pending": [...], "problems": [...]}` for `directory` on the database at `url`."""
