"""Load test: many callers doing mixed small reads and writes through one pool.

    python benches/load.py [--seconds 30] [--threads 32] [--pool-size 10]
        [--dsn postgresql://postgres@127.0.0.1/test] [--rows 10000]
        [--tools data-bridge,psycopg_pool,asyncpg] [--out bench-results/load.md]

The same workload runs for each tool, against the same table reset to the same
`--rows` rows before each tool:

- 50% fetch one row by primary key,
- 20% fetch a 100-row range of primary keys,
- 20% insert one row,
- 10% update one row by primary key.

data-bridge and psycopg_pool: `--threads` Python threads share one pool of
`--pool-size` connections (`data_bridge.connect(...)` / `psycopg_pool.ConnectionPool`
with `dict_row`). asyncpg has no thread-safe API: it runs `--threads` concurrent
asyncio tasks on one event loop sharing `asyncpg.create_pool(...)`.

Every operation's latency is timed with `time.perf_counter`; any exception, or a
result of the wrong shape (a missing row, a range of other than 100 rows, an
insert or update not touching exactly one row), counts as an error and is
printed. After each tool the table must hold the initial rows plus the tool's
successful inserts (the table is dropped at the end). Each tool runs in a fresh Python subprocess (this script
with `--child TOOL`), so no tool inherits another's threads or runtime. The
report (a markdown table) goes to stdout and `--out`; progress to stderr. The
exit status is 1 if any tool had an error or a wrong row count.

Peers: `pip install -r benches/requirements-load.txt`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import math
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

DEFAULT_DSN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
ALL_TOOLS = ["data-bridge", "psycopg_pool", "asyncpg"]
DISTRIBUTIONS = {"data-bridge": "data-bridge", "psycopg_pool": "psycopg-pool", "asyncpg": "asyncpg"}
TABLE = "load_items"
RANGE_ROWS = 100
MAX_ERRORS_KEPT = 20

# (operation, cumulative probability)
MIX = [("get", 0.50), ("range", 0.70), ("insert", 0.90), ("update", 1.00)]
OPS = [name for name, _ in MIX]

# One SQL text per operation, `$n` placeholders (data-bridge, asyncpg); psycopg gets `%s`.
SQL = {
    "get": f"SELECT id, k, v, amount, at FROM {TABLE} WHERE id = $1",
    "range": f"SELECT id, k, v, amount, at FROM {TABLE} WHERE id >= $1 AND id < $2 ORDER BY id",
    "insert": f"INSERT INTO {TABLE} (k, v, amount, at) VALUES ($1, $2, $3, now())",
    "update": f"UPDATE {TABLE} SET v = $1, amount = amount + 1, at = now() WHERE id = $2",
}
PSYCOPG_SQL = {op: sql.replace("$1", "%s").replace("$2", "%s").replace("$3", "%s") for op, sql in SQL.items()}


# --------------------------------------------------------------------------- table


def reset_table(dsn: str, rows: int) -> None:
    """(Re)creates `load_items` with ids 1..rows (ids above `rows` are the inserts')."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id serial PRIMARY KEY, k int NOT NULL, v text NOT NULL,"
            " amount numeric(12,2) NOT NULL, at timestamptz NOT NULL)"
        )
        conn.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")
        conn.execute(
            f"INSERT INTO {TABLE} (k, v, amount, at)"
            " SELECT i %% 1000, md5(i::text), (i %% 100000) / 100.0,"
            " TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 minute'"
            " FROM generate_series(1, %s) i",
            [rows],
        )
        conn.execute(f"VACUUM (ANALYZE) {TABLE}")


def count_rows(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
        assert row is not None
        return int(row[0])


def drop_table(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


# --------------------------------------------------------------------------- workload


class Recorder:
    """One caller's results: latencies per operation, successful inserts, errors."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {op: [] for op in OPS}
        self.inserted = 0
        self.errors: list[str] = []
        self.error_count = 0

    def error(self, op: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(f"{op}: {message}")


def next_op(rng: random.Random, rows: int) -> tuple[str, tuple]:
    """A random operation and its parameters (ids only within the initial rows)."""
    r = rng.random()
    op = next(name for name, cumulative in MIX if r < cumulative)
    if op == "get":
        return op, (rng.randint(1, rows),)
    if op == "range":
        lo = rng.randint(1, rows - RANGE_ROWS + 1)
        return op, (lo, lo + RANGE_ROWS)
    if op == "insert":
        return op, (rng.randrange(1000), f"new-{rng.getrandbits(48):012x}", Decimal(rng.randrange(10**6)) / 100)
    return op, (f"upd-{rng.getrandbits(48):012x}", rng.randint(1, rows))


def check(op: str, result) -> str | None:
    """What is wrong with an operation's result (None when it has the expected shape).
    `result`: a row (or None) for get, a list of rows for range, a count for writes."""
    if op == "get":
        return None if result is not None else "no row"
    if op == "range":
        return None if len(result) == RANGE_ROWS else f"{len(result)} rows instead of {RANGE_ROWS}"
    return None if result == 1 else f"{result} rows affected instead of 1"


def run_threads(threads: int, seconds: float, rows: int, seed: int, call) -> tuple[list[Recorder], float]:
    """`threads` threads, each running `call(op, params)` in a loop for `seconds`."""
    recorders = [Recorder() for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        rec = recorders[index]
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            op, params = next_op(rng, rows)
            start = time.perf_counter()
            try:
                result = call(op, params)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                rec.error(op, f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
                continue
            rec.latencies[op].append(time.perf_counter() - start)
            problem = check(op, result)
            if problem:
                rec.error(op, problem)
            elif op == "insert":
                rec.inserted += 1

    pool = [threading.Thread(target=worker, args=(i,), name=f"load-{i}") for i in range(threads)]
    for t in pool:
        t.start()
    started = time.perf_counter()
    deadline[0] = started + seconds
    barrier.wait()
    for t in pool:
        t.join()
    return recorders, time.perf_counter() - started


def run_data_bridge(args) -> tuple[list[Recorder], float]:
    import data_bridge

    db = data_bridge.connect(args.dsn, min_connections=args.pool_size, max_connections=args.pool_size)
    try:
        for _ in range(args.pool_size):
            db.fetch_one("SELECT 1")

        def call(op, params):
            if op == "get":
                return db.fetch_one(SQL[op], params)
            if op == "range":
                return db.fetch_all(SQL[op], params)
            return db.execute(SQL[op], params)

        return run_threads(args.threads, args.seconds, args.rows, args.seed, call)
    finally:
        db.close()


def run_psycopg_pool(args) -> tuple[list[Recorder], float]:
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    with ConnectionPool(
        args.dsn, min_size=args.pool_size, max_size=args.pool_size, kwargs={"row_factory": dict_row, "autocommit": True}, open=True
    ) as pool:
        pool.wait(timeout=30)

        def call(op, params):
            with pool.connection() as conn:
                cur = conn.execute(PSYCOPG_SQL[op], params)
                if op == "get":
                    return cur.fetchone()
                if op == "range":
                    return cur.fetchall()
                return cur.rowcount

        return run_threads(args.threads, args.seconds, args.rows, args.seed, call)


def run_asyncpg(args) -> tuple[list[Recorder], float]:
    import asyncpg

    async def main() -> tuple[list[Recorder], float]:
        pool = await asyncpg.create_pool(args.dsn, min_size=args.pool_size, max_size=args.pool_size)
        try:
            recorders = [Recorder() for _ in range(args.threads)]

            async def call(op, params):
                if op == "get":
                    return await pool.fetchrow(SQL[op], *params)
                if op == "range":
                    return await pool.fetch(SQL[op], *params)
                status = await pool.execute(SQL[op], *params)  # "INSERT 0 1" / "UPDATE 1"
                return int(status.rsplit(" ", 1)[1])

            async def worker(index: int, deadline: float) -> None:
                rng = random.Random(args.seed * 1000 + index)
                rec = recorders[index]
                while time.perf_counter() < deadline:
                    op, params = next_op(rng, args.rows)
                    start = time.perf_counter()
                    try:
                        result = await call(op, params)
                    except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                        rec.error(op, f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
                        continue
                    rec.latencies[op].append(time.perf_counter() - start)
                    problem = check(op, result)
                    if problem:
                        rec.error(op, problem)
                    elif op == "insert":
                        rec.inserted += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker(i, started + args.seconds) for i in range(args.threads)))
            return recorders, time.perf_counter() - started
        finally:
            await pool.close()

    return asyncio.run(main())


RUNNERS = {"data-bridge": run_data_bridge, "psycopg_pool": run_psycopg_pool, "asyncpg": run_asyncpg}


def child(args) -> None:
    """Runs one tool's workload and prints its summary as one JSON line."""
    recorders, elapsed = RUNNERS[args.child](args)
    latencies = {op: sorted(x for r in recorders for x in r.latencies[op]) for op in OPS}
    summary = {
        "elapsed": elapsed,
        "inserted": sum(r.inserted for r in recorders),
        "errors": sum(r.error_count for r in recorders),
        "error_samples": [e for r in recorders for e in r.errors][:MAX_ERRORS_KEPT],
        "ops": {op: len(v) for op, v in latencies.items()},
        "p50": {op: percentile(v, 0.50) for op, v in latencies.items()},
        "p99": {op: percentile(v, 0.99) for op, v in latencies.items()},
        "all_p50": percentile(sorted(x for v in latencies.values() for x in v), 0.50),
        "all_p99": percentile(sorted(x for v in latencies.values() for x in v), 0.99),
    }
    print(json.dumps(summary), flush=True)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --------------------------------------------------------------------------- parent side


def version(tool: str) -> str:
    try:
        return importlib.metadata.version(DISTRIBUTIONS[tool])
    except importlib.metadata.PackageNotFoundError:
        return "?"


def run_tool(tool: str, args) -> dict:
    reset_table(args.dsn, args.rows)
    cmd = [
        sys.executable, __file__, "--child", tool, "--dsn", args.dsn, "--seconds", str(args.seconds),
        "--threads", str(args.threads), "--pool-size", str(args.pool_size), "--rows", str(args.rows),
        "--seed", str(args.seed),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 300)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        how = f"killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 else f"exit {proc.returncode}"
        return {"failed": f"{how}: {tail}"}
    result = json.loads(lines[-1])
    result["rows_after"] = count_rows(args.dsn)
    result["rows_expected"] = args.rows + result["inserted"]
    return result


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f}"


def report(results: dict, args) -> str:
    out = [
        f"# Load: {args.threads} callers, mixed small reads and writes, {args.seconds:g} s per tool",
        "",
        "| tool | ops | ops/s | p50 ms | p99 ms | errors | rows check |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for tool, r in results.items():
        if "failed" in r:
            out.append(f"| {tool} {version(tool)} | - | - | - | - | failed: {r['failed']} | - |")
            continue
        ops = sum(r["ops"].values())
        ok = r["rows_after"] == r["rows_expected"]
        rows_check = f"{'ok' if ok else 'MISMATCH'} ({r['rows_after']} = {args.rows} + {r['inserted']}" + (
            ")" if ok else f", expected {r['rows_expected']})"
        )
        out.append(
            f"| {tool} {version(tool)} | {ops} | {ops / r['elapsed']:.0f} | {ms(r['all_p50'])} | {ms(r['all_p99'])}"
            f" | {r['errors']} | {rows_check} |"
        )
    out += ["", "Per operation (ops, p50 ms / p99 ms):", "", "| tool | " + " | ".join(OPS) + " |",
            "|---|" + "---:|" * len(OPS)]
    for tool, r in results.items():
        if "failed" in r:
            continue
        cells = [f"{r['ops'][op]}: {ms(r['p50'][op])} / {ms(r['p99'][op])}" for op in OPS]
        out.append(f"| {tool} | " + " | ".join(cells) + " |")
    errors = [(tool, e) for tool, r in results.items() for e in r.get("error_samples", [])]
    if errors:
        out += ["", "Errors (first ones per tool):", ""] + [f"- {tool}: {e}" for tool, e in errors]
    out += [
        "",
        f"- Mix: 50% fetch one row by primary key, 20% fetch {RANGE_ROWS} rows by key range, 20% insert one row,"
        f" 10% update one row by key; table `{TABLE}` reset to {args.rows} rows before each tool.",
        f"- data-bridge and psycopg_pool: {args.threads} Python threads sharing one pool of {args.pool_size}"
        " connections (psycopg_pool with `dict_row`, autocommit, as the others: one statement per transaction).",
        f"- asyncpg: {args.threads} concurrent asyncio tasks on one event loop sharing `asyncpg.create_pool"
        f"(max_size={args.pool_size})`; asyncpg has no thread-safe API, so it runs no threads.",
        "- Latency: `time.perf_counter` around each call, including waiting for a pooled connection"
        " (and, for threads, for the GIL). Pools are opened with all their connections before timing.",
        f"- Machine: {os.cpu_count()} CPUs shared by the clients and the PostgreSQL server; Python"
        f" {platform.python_version()}. Each tool runs in its own subprocess.",
    ]
    return "\n".join(out) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="run time per tool (default 30)")
    parser.add_argument("--threads", type=int, default=32, help="concurrent callers (default 32)")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="libpq URL (default $DATABASE_URL or local test db)")
    parser.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated, of " + ",".join(ALL_TOOLS))
    parser.add_argument("--pool-size", type=int, default=10, help="connections per pool (default 10)")
    parser.add_argument("--rows", type=int, default=10000, help="initial rows in the table (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the operation sequences")
    parser.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    parser.add_argument("--child", choices=ALL_TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows < RANGE_ROWS:
        parser.error(f"--rows must be at least {RANGE_ROWS}")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(ALL_TOOLS))
    if unknown:
        parser.error(f"unknown tools {unknown}; choose from {ALL_TOOLS}")
    args.tools = tools
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    results = {}
    for tool in args.tools:
        print(f"{tool}: {args.threads} callers for {args.seconds:g} s ...", file=sys.stderr, flush=True)
        results[tool] = run_tool(tool, args)
    drop_table(args.dsn)
    text = report(results, args)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    bad = [
        tool for tool, r in results.items()
        if "failed" in r or r["errors"] or r["rows_after"] != r["rows_expected"]
    ]
    if bad:
        print(f"FAILED: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
