"""Type stubs of the native module (data_bridge._native)."""

from typing import Any, Mapping, Optional, Sequence

import pyarrow as pa

__version__: str

class Database:
    def __init__(
        self,
        url: Optional[str] = None,
        *,
        max_connections: int = 10,
        acquire_timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None: ...
    def read_arrow(
        self, sql: str, params: Optional[Sequence[Any]] = None, types: Optional[Mapping[str, str]] = None
    ) -> pa.Table: ...
    def read_stream(
        self,
        sql: str,
        params: Optional[Sequence[Any]] = None,
        batch_rows: Optional[int] = None,
        types: Optional[Mapping[str, str]] = None,
    ) -> BatchStream: ...
    def status(self) -> tuple[int, int, int]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...

class BatchStream:
    def schema(self) -> pa.Schema: ...
    def next_batch(self) -> Optional[pa.RecordBatch]: ...
    def close(self) -> None: ...
