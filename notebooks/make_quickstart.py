"""Generate notebooks/quickstart.ipynb (outputs empty, cell ids stable).

    python notebooks/make_quickstart.py

Edit the cells here, not in the .ipynb, then rerun. To execute it headless:

    python -c "import nbformat, nbclient; nb = nbformat.read('notebooks/quickstart.ipynb', 4); \
nbclient.NotebookClient(nb, timeout=600, kernel_name='python3').execute()"
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOK = Path(__file__).with_name("quickstart.ipynb")

CELLS = [
    ("md", '''\
# data-bridge quickstart

data-bridge runs a PostgreSQL query and decodes the result in Rust straight into Apache Arrow,
then hands it to pyarrow, pandas or polars. This notebook:

1. connects to PostgreSQL,
2. creates a small `quickstart_orders` table (100,000 orders),
3. reads it into pandas and polars and computes revenue by region in both,
4. plots it,
5. runs a parameterised query,
6. streams the table in record batches,
7. drops the table again.

It uses `$DATABASE_URL`, or `postgresql://postgres@127.0.0.1:5432/test` when that is not set.'''),
    ("code", '''\
%matplotlib inline
import os
from decimal import Decimal

import polars as pl
import psycopg
import pyarrow.compute as pc

import data_bridge

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLE = "quickstart_orders\"'''),
    ("md", '''\
## 1. Connect

`data_bridge.connect` opens a small pool of connections (it fails right away if the server is
unreachable). `read_arrow` returns a `pyarrow.Table`.'''),
    ("code", '''\
db = data_bridge.connect(DATABASE_URL)
db.read_arrow("SELECT version() AS server, now() AS connected_at")'''),
    ("md", '''\
## 2. Create a demo table

data-bridge only reads, so the table is written with psycopg. `generate_series` builds
100,000 orders on the server; `setseed` makes the random amounts and dates repeatable.'''),
    ("code", '''\
with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute("SELECT setseed(0.42)")
    conn.execute(f"""
        CREATE TABLE {TABLE} AS
        SELECT g::bigint AS id,
               'customer-' || lpad((g % 5000)::text, 4, '0') AS customer,
               (ARRAY['north', 'north', 'north', 'south', 'south', 'east', 'west'])[1 + g % 7] AS region,
               (10 + random() * 990)::numeric(10,2) AS amount,
               TIMESTAMPTZ '2024-01-01 00:00:00+00' + random() * INTERVAL '365 days' AS ordered_at
        FROM generate_series(1, 100000) AS g
    """)
    print(conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0], "rows created")'''),
    ("md", '''\
## 3. Read into pandas and polars

`numeric(10,2)` arrives in Arrow as an exact `decimal128(10,2)`. pandas would hold those as
Python `Decimal` objects, which are exact but slow to aggregate, so for pandas we ask data-bridge
to decode numerics as `float64` with `types=`. `timestamptz` becomes a UTC timestamp.'''),
    ("code", '''\
orders_pd = db.read_pandas(f"SELECT * FROM {TABLE}", types={"numeric": "float64"})
print(orders_pd.dtypes)
orders_pd.head()'''),
    ("md", '''\
polars has a native decimal type, so it keeps the exact amounts.'''),
    ("code", '''\
orders_pl = db.read_polars(f"SELECT * FROM {TABLE}")
print(orders_pl.schema)
orders_pl.head()'''),
    ("md", '''\
## 4. Revenue by region

The same aggregation in both libraries; the results agree (to the cent: pandas sums floats,
polars sums decimals).'''),
    ("code", '''\
revenue_pd = orders_pd.groupby("region")["amount"].sum().sort_index()
revenue_pd'''),
    ("code", '''\
revenue_pl = orders_pl.group_by("region").agg(pl.col("amount").sum().alias("revenue")).sort("region")
revenue_pl'''),
    ("code", '''\
assert revenue_pd.index.tolist() == revenue_pl["region"].to_list()
assert all(abs(a - float(b)) < 0.01 for a, b in zip(revenue_pd, revenue_pl["revenue"]))
print("pandas and polars agree")'''),
    ("md", '''\
## 5. Plot

A plain matplotlib bar chart from the pandas result.'''),
    ("code", '''\
ax = revenue_pd.plot.bar(rot=0, title="Revenue by region", xlabel="region", ylabel="revenue")
ax.yaxis.set_major_formatter("{x:,.0f}")'''),
    ("md", '''\
## 6. A parameterised query

Placeholders are `$1, $2, ...` and the values go in a list. They are sent separately from the
SQL, in binary, typed as the server infers (`$2` is compared with `numeric`, so a `Decimal` fits);
no string formatting, so no SQL injection.'''),
    ("code", '''\
big_north = db.read_polars(
    f"SELECT id, customer, amount, ordered_at FROM {TABLE} "
    "WHERE region = $1 AND amount > $2 ORDER BY amount DESC",
    ["north", Decimal("900")],
)
print(big_north.height, "orders in the north above 900")
big_north.head()'''),
    ("md", '''\
## 7. Stream in batches

`read_batches` returns a `pyarrow.RecordBatchReader`: batches of `batch_rows` rows arrive while
the query runs and only a few are held in memory, so results larger than RAM can be processed.
Here we sum the amounts batch by batch and check the total against polars.'''),
    ("code", '''\
total = Decimal(0)
batches = 0
for batch in db.read_batches(f"SELECT amount FROM {TABLE}", batch_rows=10_000):
    total += pc.sum(batch.column("amount")).as_py()
    batches += 1
print(f"{batches} batches, total revenue {total:,}")
assert total == orders_pl["amount"].sum()'''),
    ("md", '''\
## 8. Clean up

Drop the demo table and close the pool.'''),
    ("code", '''\
with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
db.close()'''),
]


def build() -> nbformat.NotebookNode:
    """Build the notebook from CELLS, with stable cell ids so regenerating gives no diff."""
    makers = {"md": new_markdown_cell, "code": new_code_cell}
    cells = [makers[kind](source, id=f"cell-{i:02d}") for i, (kind, source) in enumerate(CELLS)]
    notebook = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(notebook)
    return notebook


def main() -> None:
    """Write the notebook next to this script."""
    nbformat.write(build(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
