"""data-bridge end-to-end demo: generate a table in PostgreSQL, read it every way, time it.

    python scripts/demo.py [--rows N]

Uses $DATABASE_URL when set, otherwise starts a throwaway server (see
throwaway_pg.py). The table is generated server-side with generate_series via
psycopg (data_bridge only reads), then read with data_bridge into pyarrow,
pandas and polars and streamed as record batches. Prints rows, seconds and
rows/s per method, then checks that every method saw the same data as the
server. Exits non-zero on any failure.

The table is named data_bridge_demo; an existing one is replaced, and it is
dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import polars as pl
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

import data_bridge
from throwaway_pg import throwaway_postgres

TABLE = "data_bridge_demo"
QUERY = f"SELECT * FROM {TABLE}"

# psycopg placeholder syntax: %s is the row count, %% the modulo operator.
CREATE_SQL = f"""
CREATE TABLE {TABLE} AS
SELECT g AS id,
       CASE WHEN g %% 31 = 0 THEN NULL ELSE (g * 7 %% 1000)::integer END AS quantity,
       ((g * 37 %% 100000) / 100.0 + 0.99)::numeric(12,2) AS price,
       CASE WHEN g %% 17 = 0 THEN NULL ELSE sin(g) * 1000 END AS score,
       'customer-' || lpad((g %% 50000)::text, 5, '0') AS customer,
       (ARRAY['north', 'south', 'east', 'west', NULL])[1 + g %% 5] AS region,
       DATE '2020-01-01' + (g %% 1826)::integer AS order_date,
       TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * INTERVAL '61 seconds' AS created_at,
       CASE WHEN g %% 13 = 0 THEN NULL ELSE g %% 3 = 0 END AS shipped
FROM generate_series(1, %s::bigint) AS g
"""

SUMMARY_SQL = f"""
SELECT count(*), coalesce(sum(quantity), 0), coalesce(sum(price), 0), count(*) - count(score)
FROM {TABLE}
"""


@dataclass(frozen=True)
class Summary:
    """What every reader must agree on: row count, two column sums and a NULL count."""

    rows: int
    sum_quantity: int
    sum_price: Decimal
    null_scores: int


@dataclass(frozen=True)
class Timing:
    """One read method's result: rows read and wall-clock seconds."""

    method: str
    rows: int
    seconds: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (default 1,000,000)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    return args


@contextlib.contextmanager
def database_url() -> Iterator[str]:
    """Yield $DATABASE_URL if set, else the URL of a throwaway server that lives for the block."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    print("DATABASE_URL not set: starting a throwaway PostgreSQL server", flush=True)
    with throwaway_postgres() as url:
        yield url


@contextlib.contextmanager
def demo_table(url: str, rows: int) -> Iterator[Summary]:
    """Create the demo table with psycopg, yield the server's own summary of it, drop it afterwards."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(CREATE_SQL, (rows,))
        conn.execute(f"ANALYZE {TABLE}")
        count, quantity, price, null_scores = conn.execute(SUMMARY_SQL).fetchall()[0]
        try:
            yield Summary(count, int(quantity), Decimal(price), null_scores)
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


def summarize_arrow(table: pa.Table | pa.RecordBatch) -> Summary:
    """Summary of a pyarrow Table or RecordBatch."""
    return Summary(
        rows=table.num_rows,
        sum_quantity=pc.sum(table.column("quantity")).as_py() or 0,
        sum_price=pc.sum(table.column("price")).as_py() or Decimal(0),
        null_scores=table.column("score").null_count,
    )


def summarize_pandas(df: pd.DataFrame) -> Summary:
    """Summary of a pandas DataFrame (price holds decimal.Decimal objects)."""
    return Summary(
        rows=len(df),
        sum_quantity=int(df["quantity"].sum()),
        sum_price=Decimal(df["price"].sum()),
        null_scores=int(df["score"].isna().sum()),
    )


def summarize_polars(df: pl.DataFrame) -> Summary:
    """Summary of a polars DataFrame."""
    return Summary(
        rows=df.height,
        sum_quantity=int(df["quantity"].sum()),
        sum_price=Decimal(df["price"].sum()),
        null_scores=df["score"].null_count(),
    )


def stream_batches(db: data_bridge.Database) -> Summary:
    """Stream the table as record batches, summarizing each batch as it arrives."""
    total = Summary(0, 0, Decimal(0), 0)
    for batch in db.read_batches(QUERY):
        part = summarize_arrow(batch)
        total = Summary(
            total.rows + part.rows,
            total.sum_quantity + part.sum_quantity,
            total.sum_price + part.sum_price,
            total.null_scores + part.null_scores,
        )
    return total


# method -> (read it, summarize what was read); only the read is timed.
READERS: dict[str, tuple[Callable[[data_bridge.Database], Any], Callable[[Any], Summary]]] = {
    "read_arrow": (lambda db: db.read_arrow(QUERY), summarize_arrow),
    "read_pandas": (lambda db: db.read_pandas(QUERY), summarize_pandas),
    "read_polars": (lambda db: db.read_polars(QUERY), summarize_polars),
    "read_batches": (stream_batches, lambda summary: summary),
}


def time_readers(db: data_bridge.Database) -> tuple[list[Timing], dict[str, Summary]]:
    """Run every reader once; return their timings and summaries."""
    timings: list[Timing] = []
    summaries: dict[str, Summary] = {}
    for method, (read, summarize) in READERS.items():
        start = time.perf_counter()
        result = read(db)
        seconds = time.perf_counter() - start
        summaries[method] = summarize(result)
        timings.append(Timing(method, summaries[method].rows, seconds))
    return timings, summaries


def print_timings(timings: list[Timing]) -> None:
    """Print the timings as an aligned table."""
    print(f"\n{'method':<14}{'rows':>12}{'seconds':>10}{'rows/s':>14}")
    for t in timings:
        rate = t.rows / t.seconds if t.seconds > 0 else float("inf")
        print(f"{t.method:<14}{t.rows:>12,}{t.seconds:>10.3f}{rate:>14,.0f}")


def check_summaries(expected: Summary, summaries: dict[str, Summary]) -> bool:
    """Print every method's summary next to the server's; return whether all agree."""
    print(f"\n{'source':<14}{'rows':>12}{'sum(quantity)':>16}{'sum(price)':>18}{'NULL scores':>13}  ok")
    ok = True
    for source, s in {"server (SQL)": expected, **summaries}.items():
        agrees = s == expected
        ok &= agrees
        print(f"{source:<14}{s.rows:>12,}{s.sum_quantity:>16,}{s.sum_price:>18,}{s.null_scores:>13,}"
              f"  {'yes' if agrees else 'NO'}")
    return ok


def run(rows: int) -> bool:
    """Set up the data, run every reader, print the results; return whether all checks passed."""
    with database_url() as url:
        start = time.perf_counter()
        with demo_table(url, rows) as expected:
            print(f"generated {rows:,} rows in {TABLE} in {time.perf_counter() - start:.2f} s", flush=True)
            with data_bridge.connect(url) as db:
                timings, summaries = time_readers(db)
            print_timings(timings)
            return check_summaries(expected, summaries)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when every reader agrees with the server, 1 otherwise."""
    args = parse_args(argv)
    if run(args.rows):
        print("\nall readers agree with the server")
        return 0
    print("\nMISMATCH: some reader disagrees with the server", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
