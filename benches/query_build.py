"""Overhead of the Python query builder: building a query and rendering it with ``to_sql()``.

    python benches/query_build.py [--number 2000] [--repeat 25]

No server is involved. Two queries, every object built afresh each time as application code
would:

- ``ten_clauses``: the issue's example grown to ten clauses (SELECT, DISTINCT, FROM, JOIN, WHERE,
  GROUP BY, HAVING, ORDER BY, LIMIT, OFFSET), 5 parameters. Target: under 50 µs.
- ``heavy``: a TPC-H-like report, also ten clauses but with a CTE, a LEFT JOIN, a window function
  over an aggregate and an IN subquery (about 60 nodes, 7 parameters); for scale.

Reports the median, min and max microseconds per ``build + to_sql`` over ``--repeat`` runs of
``--number`` builds each. Timings on a loaded machine are inflated: look at the min as well.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import timeit
from typing import Any, Callable, Dict, List, Tuple

from data_bridge import col, func, table

TARGET_US = 50.0
SINCE = dt.date(2024, 1, 1)
CUTOFF = dt.datetime(2021, 5, 1, tzinfo=dt.timezone.utc)


def ten_clauses() -> Tuple[str, List[Any]]:
    orders, customers = table("orders"), table("customers")
    query = (
        orders.select(customers["name"], func.sum(orders["total"]).alias("revenue"))  # SELECT, FROM
        .distinct()                                                                    # DISTINCT
        .join(customers, orders["customer_id"] == customers["id"])                    # JOIN
        .where((orders["status"] == "paid") & (orders["created_at"] >= SINCE))        # WHERE
        .group_by(customers["name"])                                                  # GROUP BY
        .having(func.sum(orders["total"]) > 1000)                                     # HAVING
        .order_by(col("revenue").desc())                                              # ORDER BY
        .limit(100)                                                                   # LIMIT
        .offset(20)                                                                   # OFFSET
    )
    return query.to_sql()


def heavy() -> Tuple[str, List[Any]]:
    lineitem, orders, customer = table("lineitem").alias("l"), table("orders").alias("o"), table("customer").alias("c")
    revenue = func.sum(lineitem["price"] * (1 - lineitem["discount"]))
    recent = table("orders").select("id", "customer_id").where(col("created_at") >= CUTOFF)
    query = (
        lineitem.with_("recent", recent)
        .select(customer["nation"], customer["name"], revenue.alias("revenue"),
                func.rank().over(partition_by=customer["nation"], order_by=revenue.desc()).alias("rank"))
        .join(orders, lineitem["order_id"] == orders["id"])
        .left_join(customer, orders["customer_id"] == customer["id"])
        .where(customer["segment"].in_(["BUILDING", "MACHINERY"]),
               orders["status"] != "refunded", orders["id"].in_(table("recent").select("id")))
        .group_by(customer["nation"], customer["name"])
        .having(revenue > 500)
        .order_by(col("nation").nulls_last(), col("rank"), col("name"))
        .limit(100)
        .offset(10)
    )
    return query.to_sql()


QUERIES: Dict[str, Callable[[], Tuple[str, List[Any]]]] = {"ten_clauses": ten_clauses, "heavy": heavy}


def measure(build: Callable[[], Any], number: int, repeat: int) -> List[float]:
    """Microseconds per build, one value per run."""
    timeit.timeit(build, number=number)  # warm-up: caches of quoted names
    return [run / number * 1e6 for run in timeit.repeat(build, number=number, repeat=repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=2000, help="builds per timed run")
    parser.add_argument("--repeat", type=int, default=25, help="timed runs")
    args = parser.parse_args()
    for name, build in QUERIES.items():
        sql, params = build()
        us = measure(build, args.number, args.repeat)
        median = statistics.median(us)
        verdict = f"; target < {TARGET_US:.0f} µs: {'ok' if median < TARGET_US else 'OVER'}" if name == "ten_clauses" else ""
        print(f"{name:12} build + to_sql: median {median:6.1f} µs, min {min(us):6.1f}, max {max(us):6.1f} "
              f"({len(sql)} chars, {len(params)} params){verdict}")


if __name__ == "__main__":
    main()
