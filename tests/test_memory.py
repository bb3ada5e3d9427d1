"""read_batches must stream: peak memory stays bounded while the full result
would be several times larger.  Runs in a subprocess for a clean ru_maxrss."""

from __future__ import annotations

import json

import pytest

from conftest import spawn_python

ROWS = 5_000_000
PAD = 80
BATCH_ROWS = 65_536
MAX_GROWTH_MB = 150

CHILD = r"""
import json, resource, sys, time
import pyarrow as pa
import pyarrow.compute as pc
import data_bridge

rows, pad, batch_rows = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def vm_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

db = data_bridge.connect()
# warm up everything that allocates once (pool, type caches, pyarrow compute kernels)
warm = db.read_batches("SELECT i, i * 2 AS j, repeat('x', 3) || i AS s FROM generate_series(1, 1000) i",
                       batch_rows=100)
for b in warm:
    pc.sum(b.column(0)); pc.sum(pc.utf8_length(b.column(2)))
del warm, b
before_kb = vm_rss_kb()
start = time.monotonic()
reader = db.read_batches(
    f"SELECT i::int8 AS i, (i * 2)::int8 AS j, repeat('x', {pad}) || i AS s FROM generate_series(1, {rows}) i",
    batch_rows=batch_rows,
)
total_i = total_j = total_len = n = batches = max_batch = 0
arrow_bytes = 0
for batch in reader:
    total_i += pc.sum(batch.column(0)).as_py()
    total_j += pc.sum(batch.column(1)).as_py()
    total_len += pc.sum(pc.utf8_length(batch.column(2))).as_py()
    n += batch.num_rows
    batches += 1
    max_batch = max(max_batch, batch.num_rows)
    arrow_bytes += batch.nbytes
    del batch
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "rows": n, "batches": batches, "max_batch": max_batch,
    "sum_i": total_i, "sum_j": total_j, "sum_len": total_len,
    "before_mb": before_kb / 1024, "peak_mb": peak_kb / 1024, "growth_mb": (peak_kb - before_kb) / 1024,
    "full_result_mb": arrow_bytes / 2**20, "seconds": time.monotonic() - start,
}), flush=True)
"""


@pytest.mark.slow
def test_read_batches_memory_is_bounded():
    proc = spawn_python(CHILD, str(ROWS), str(PAD), str(BATCH_ROWS))
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(stats, indent=1))

    assert stats["rows"] == ROWS
    assert stats["sum_i"] == ROWS * (ROWS + 1) // 2
    assert stats["sum_j"] == ROWS * (ROWS + 1)
    assert stats["sum_len"] == PAD * ROWS + sum(len(str(i)) for i in range(1, ROWS + 1))
    assert stats["max_batch"] <= BATCH_ROWS
    assert stats["batches"] == -(-ROWS // BATCH_ROWS)

    # the whole result as Arrow: 2 x int64 + string offsets + string data
    assert stats["full_result_mb"] > 3 * MAX_GROWTH_MB
    assert stats["growth_mb"] < MAX_GROWTH_MB, (
        f"peak RSS grew {stats['growth_mb']:.0f} MB while streaming a {stats['full_result_mb']:.0f} MB result"
    )


WRITE_ROWS = 6_000_000
WRITE_BATCH_ROWS = 50_000
MAX_WRITE_GROWTH_MB = 100

WRITE_CHILD = r"""
import json, resource, sys, time
import pyarrow as pa
import data_bridge

rows, batch_rows, table = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def vm_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

schema = pa.schema([("i", pa.int64()), ("s", pa.string())])

def batches():
    for start in range(0, rows, batch_rows):
        ids = pa.array(range(start, min(start + batch_rows, rows)), pa.int64())
        yield pa.record_batch([ids, pa.compute.binary_join_element_wise("row-" + "x" * 30 + "-", pa.compute.cast(ids, pa.string()), "")], schema=schema)

db = data_bridge.connect()
db.write_arrow(table, pa.RecordBatchReader.from_batches(schema, batches()), mode="replace")  # warm up
before_kb = vm_rss_kb()
start = time.monotonic()
written = db.write_arrow(table, pa.RecordBatchReader.from_batches(schema, batches()), mode="replace")
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"written": written, "growth_mb": (peak_kb - before_kb) / 1024,
                  "seconds": time.monotonic() - start}), flush=True)
"""


@pytest.mark.slow
def test_write_from_a_stream_holds_a_few_batches(pg):
    table = "data_bridge_write_memory"
    proc = spawn_python(WRITE_CHILD, str(WRITE_ROWS), str(WRITE_BATCH_ROWS), table)
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        pg.execute(f"DROP TABLE IF EXISTS {table}")
    assert proc.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(stats, indent=1))
    assert stats["written"] == WRITE_ROWS
    # The whole input is ~330 MB of Arrow (and more of COPY data); a stream holds a few batches.
    assert stats["growth_mb"] < MAX_WRITE_GROWTH_MB, stats
