"""BatchReader: a pyarrow RecordBatchReader over a running query."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Tuple

import pyarrow as pa

from . import _native


class BatchReader(pa.RecordBatchReader):
    """The batches of a running query, as a ``pyarrow.RecordBatchReader``.

    Reading waits with the GIL released and answers Ctrl-C (the query is cancelled on the
    server). ``close()``, leaving a ``with`` block, or dropping the reader early cancels the
    query and returns its connection to the pool. Consumers of the Arrow C stream interface
    (polars, duckdb, ``pa.table``) read it through ``__arrow_c_stream__``.
    """

    def __init__(self, stream: _native.BatchStream) -> None:
        # pyarrow's own reader state is never used: every method reads the native stream.
        self._stream = stream
        self._schema = stream.schema()

    @property
    def schema(self) -> pa.Schema:
        """The schema of every batch, known before the first row."""
        return self._schema

    def read_next_batch(self) -> pa.RecordBatch:
        """The next batch; raises StopIteration after the last one."""
        batch = self._stream.next_batch()
        if batch is None:
            raise StopIteration
        return batch

    def read_next_batch_with_custom_metadata(self) -> Tuple[pa.RecordBatch, None]:
        """The next batch and its custom metadata (always None)."""
        return self.read_next_batch(), None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while (batch := self._stream.next_batch()) is not None:
            yield batch

    def iter_batches_with_custom_metadata(self) -> Iterator[Tuple[pa.RecordBatch, None]]:
        """Yields (batch, None) pairs."""
        for batch in self:
            yield batch, None

    def read_all(self) -> pa.Table:
        """The remaining batches as one Table (no copies)."""
        return pa.Table.from_batches(list(self), schema=self._schema)

    def read_pandas(self, **options: Any) -> Any:
        """The remaining batches as a pandas DataFrame."""
        return self.read_all().to_pandas(**options)

    def cast(self, target_schema: pa.Schema) -> pa.RecordBatchReader:
        """A reader that casts each batch to ``target_schema``."""
        return self._as_pyarrow().cast(target_schema)

    def close(self) -> None:
        """Stops the query (cancelling it on the server) and releases its connection."""
        self._stream.close()

    def __enter__(self) -> "BatchReader":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object:
        return self._as_pyarrow().__arrow_c_stream__(requested_schema)

    def _export_to_c(self, out_ptr: int) -> None:
        self._as_pyarrow()._export_to_c(out_ptr)

    def _as_pyarrow(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self._schema, iter(self))
