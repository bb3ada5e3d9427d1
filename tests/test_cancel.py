"""Ctrl-C (SIGINT) during a running query, in a subprocess.

The child prints protocol lines (READY / KBI <seconds> / AFTER <json>) and then
waits for the parent before exiting, so that the parent can check from
psycopg that the server-side query is gone while the child's pool is alive.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time

import pytest

from conftest import pg_column, spawn_python, unique_name

CHILD = r"""
import json, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
import data_bridge

mode, marker = sys.argv[1], sys.argv[2]
db = data_bridge.connect()
db.read_arrow("SELECT 1")  # pool warm
print("READY", flush=True)
sql = {
    "sleep_copy": f"SELECT pg_sleep(30) /* {marker} */",
    "sleep_params": f"SELECT pg_sleep($1) /* {marker} */",
    "stream_copy": f"SELECT a.i, b.j FROM generate_series(1, 20000) a(i), generate_series(1, 20000) b(j) /* {marker} */",
    "count_copy": f"SELECT count(*) FROM generate_series(1, 20000) a(i), generate_series(1, 50000) b(j) /* {marker} */",
    "batches": f"SELECT a.i, b.j FROM generate_series(1, 20000) a(i), generate_series(1, 20000) b(j) /* {marker} */",
    # the reader itself blocks: the first batch needs 60 x 0.5 s of server time
    "batches_blocked": f"SELECT i, pg_sleep(0.5) AS s FROM generate_series(1, 60) i /* {marker} */",
}[mode]
try:
    if mode == "sleep_params":
        db.read_arrow(sql, [30])
    elif mode == "batches":
        reader = db.read_batches(sql, batch_rows=10000)
        for batch in reader:
            time.sleep(0.05)  # slow consumer: the signal arrives in Python code or in the reader
    elif mode == "batches_blocked":
        reader = db.read_batches(sql, batch_rows=1000)
        reader.read_next_batch()
    else:
        db.read_arrow(sql)
    print("FINISHED", flush=True)
except KeyboardInterrupt:
    print(f"KBI {time.monotonic()}", flush=True)
if mode.startswith("batches"):
    del reader
after = db.read_arrow("SELECT 1 AS one, $1::text AS two", ["2"]).to_pydict()
after_copy = db.read_arrow("SELECT 3 AS three").to_pydict()
print("AFTER " + json.dumps([after, after_copy]), flush=True)
sys.stdin.readline()  # keep the pool alive until the parent has looked at pg_stat_activity
print("BYE", flush=True)
"""


def _reader_thread(stream, lines: queue.Queue):
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _expect(lines: queue.Queue, prefix: str, timeout: float, stderr_proc=None) -> str:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {prefix!r} line within {timeout} s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            err = stderr_proc.stderr.read() if stderr_proc else ""
            raise AssertionError(f"child exited before {prefix!r}; stderr:\n{err}")
        if line.startswith(prefix):
            return line
        if line.startswith("FINISHED"):
            raise AssertionError(f"query finished instead of being interrupted (waiting for {prefix!r})")


# pg_stat_activity of the other backends running a query tagged with a marker.
ACTIVE = (
    "SELECT {what} FROM pg_stat_activity WHERE state = 'active' AND position(%s in query) > 0"
    " AND pid <> pg_backend_pid()"
)


def _active_pids(pg, marker: str) -> list[int]:
    return pg_column(pg, ACTIVE.format(what="pid"), (marker,))


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode", ["sleep_copy", "sleep_params", "stream_copy", "count_copy", "batches", "batches_blocked"]
)
def test_sigint_cancels_query(pg, mode):
    marker = unique_name("sigint")
    proc = spawn_python(CHILD, mode, marker, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_reader_thread, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        _expect(lines, "READY", 30, proc)
        deadline = time.monotonic() + 10
        while not _active_pids(pg, marker):
            assert time.monotonic() < deadline, "query never showed up in pg_stat_activity"
            time.sleep(0.05)
        time.sleep(1.0)
        assert _active_pids(pg, marker), "query ended on its own before the signal"

        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        kbi = _expect(lines, "KBI", 10, proc)
        raised_after = float(kbi.split()[1]) - sent
        assert raised_after < 2.0, f"KeyboardInterrupt only {raised_after:.2f} s after SIGINT"

        # the server-side query must be cancelled promptly (not just abandoned)
        while _active_pids(pg, marker):
            if time.monotonic() - sent >= 3.0:
                waits = pg.execute(ACTIVE.format(what="wait_event_type, wait_event"), (marker,)).fetchall()
                raise AssertionError(
                    f"query still running on the server 3 s after Ctrl-C (KeyboardInterrupt after"
                    f" {raised_after:.2f} s; the backend waits on {waits})"
                )
            time.sleep(0.05)

        after = json.loads(_expect(lines, "AFTER", 30, proc)[len("AFTER "):])
        assert after == [{"one": [1], "two": ["2"]}, {"three": [3]}]
        assert not _active_pids(pg, marker)
        proc.stdin.write("exit\n")
        proc.stdin.flush()
        _expect(lines, "BYE", 10, proc)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()
        for pid in _active_pids(pg, marker):  # never leave a runaway query behind
            pg.execute("SELECT pg_terminate_backend(%s)", (pid,))


WRITE_CHILD = r"""
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import pyarrow as pa
import data_bridge

table = sys.argv[1]
db = data_bridge.connect()
schema = pa.schema([("id", pa.int64())])

def slow_batches():
    for start in range(0, 10_000_000, 10_000):
        yield pa.record_batch([pa.array(range(start, start + 10_000), pa.int64())], schema=schema)
        time.sleep(0.01)

print("READY", flush=True)
try:
    db.write_arrow(table, pa.RecordBatchReader.from_batches(schema, slow_batches()))
    print("FINISHED", flush=True)
except KeyboardInterrupt:
    print("KBI", flush=True)
print("AFTER " + str(db.read_arrow(f"SELECT count(*) AS n FROM {table}").column(0)[0].as_py()), flush=True)
"""


@pytest.mark.slow
def test_ctrl_c_during_a_write_leaves_the_table_unchanged(pg):
    table = unique_name("cancel_write")
    pg.execute(f"CREATE TABLE {table} (id bigint)")
    pg.execute(f"INSERT INTO {table} SELECT generate_series(1, 5)")
    try:
        proc = spawn_python(WRITE_CHILD, table)
        assert proc.stdout.readline().strip() == "READY"
        # Wait until the COPY is running on the server, then interrupt.
        deadline = time.monotonic() + 10
        while not pg_column(pg, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s", (f"COPY %{table}%",))[0]:
            assert time.monotonic() < deadline, "the COPY never started"
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert "KBI" in lines, out + err
        assert "AFTER 5" in lines, out + err
        assert pg_column(pg, f"SELECT count(*) FROM {table}") == [5]
    finally:
        pg.execute(f"DROP TABLE IF EXISTS {table}")
