"""Type stubs of the native module (data_bridge._native); checked by mypy.stubtest."""

from typing import Any, Mapping, Optional, Sequence, final

import pyarrow as pa

__all__ = ["BatchStream", "Database"]
__version__: str

@final
class Database:
    """A pool of connections to one PostgreSQL server."""

    def __new__(
        cls,
        url: Optional[str] = None,
        *,
        max_connections: int = 10,
        acquire_timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> "Database": ...
    def read_arrow(
        self, sql: str, params: Optional[Sequence[Any]] = None, types: Optional[Mapping[str, str]] = None
    ) -> pa.Table:
        """Runs `sql` and returns the whole result as a pyarrow Table."""
    def read_stream(
        self,
        sql: str,
        params: Optional[Sequence[Any]] = None,
        batch_rows: Optional[int] = None,
        types: Optional[Mapping[str, str]] = None,
    ) -> "BatchStream":
        """Starts `sql` and returns a stream of its batches."""
    def write_arrow(
        self,
        schema: Optional[str],
        name: str,
        data: pa.RecordBatchReader,
        mode: str,
        key: Optional[Sequence[str]] = None,
        create_if_missing: bool = False,
        batch_rows: Optional[int] = None,
    ) -> int:
        """Writes an Arrow stream into a table; returns the rows written."""
    def status(self) -> tuple[int, int, int]:
        """(open connections, idle connections, callers waiting)."""
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
