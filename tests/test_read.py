"""read_arrow / read_pandas / read_polars / read_batches behaviour."""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import data_bridge
from conftest import (
    COPY_COND,
    DSN,
    PARAM_COND,
    assert_tables_identical,
    pg_rows,
    pg_type_of,
    read_both,
    run_with_timeout,
    unique_name,
    values,
)

BOTH_PATHS = pytest.mark.parametrize(
    "cond, params", [(COPY_COND, None), (PARAM_COND, [1])], ids=["copy", "params"]
)

EMPTY_SQL = (
    "SELECT 1::int4 AS a, 'x'::text AS b, 1.5::numeric(10,2) AS c,"
    " '2020-01-01'::timestamptz AS d, 2::int8 AS e, '2020-01-01'::date AS f WHERE FALSE AND {cond}"
)
EMPTY_TYPES = [
    ("a", pa.int32()),
    ("b", pa.string()),
    ("c", pa.decimal128(10, 2)),
    ("d", pa.timestamp("us", tz="UTC")),
    ("e", pa.int64()),
    ("f", pa.date32()),
]


# --------------------------------------------------------------------------
# empty results, column order, duplicate names
# --------------------------------------------------------------------------


@BOTH_PATHS
def test_empty_result_schema_arrow(db, cond, params):
    table = db.read_arrow(EMPTY_SQL.replace("{cond}", cond), params)
    assert table.num_rows == 0
    assert [(f.name, f.type) for f in table.schema] == EMPTY_TYPES
    assert pg_type_of(table.schema.field("c")) == b"numeric(10,2)"


@BOTH_PATHS
def test_empty_result_schema_batches(db, cond, params):
    reader = db.read_batches(EMPTY_SQL.replace("{cond}", cond), params, batch_rows=10)
    assert [(f.name, f.type) for f in reader.schema] == EMPTY_TYPES
    batches = list(reader)
    assert sum(b.num_rows for b in batches) == 0
    assert all(b.schema.equals(reader.schema) for b in batches)


@BOTH_PATHS
def test_empty_result_pandas(db, cond, params):
    df = db.read_pandas(EMPTY_SQL.replace("{cond}", cond), params)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == [n for n, _ in EMPTY_TYPES]
    assert len(df) == 0
    assert df["a"].dtype == np.int32 and df["e"].dtype == np.int64


@BOTH_PATHS
def test_empty_result_polars(db, cond, params):
    df = db.read_polars(EMPTY_SQL.replace("{cond}", cond), params)
    assert isinstance(df, pl.DataFrame)
    assert df.height == 0
    assert df.schema == pl.Schema(
        {
            "a": pl.Int32,
            "b": pl.String,
            "c": pl.Decimal(10, 2),
            "d": pl.Datetime("us", "UTC"),
            "e": pl.Int64,
            "f": pl.Date,
        }
    )


def test_empty_table(db, make_table):
    table = make_table("id int8, name varchar(20), amount numeric(15,2)")
    result = read_both(db, f"SELECT * FROM {table} WHERE {{cond}}")
    assert result.num_rows == 0
    assert [(f.name, f.type, pg_type_of(f)) for f in result.schema] == [
        ("id", pa.int64(), b"bigint"),
        ("name", pa.string(), b"character varying(20)"),
        ("amount", pa.decimal128(15, 2), b"numeric(15,2)"),
    ]


def test_no_columns(db):
    """A query that returns rows but no columns."""
    result = db.read_arrow("SELECT FROM generate_series(1, 3)")
    assert result.num_columns == 0


def test_column_order(db):
    result = read_both(db, "SELECT 3 AS c, 1 AS a, 2 AS b, 'z' AS \"Mixed Case\", 5 AS \"ü\" WHERE {cond}")
    assert result.column_names == ["c", "a", "b", "Mixed Case", "ü"]
    assert [result.column(i).to_pylist()[0] for i in range(5)] == [3, 1, 2, "z", 5]


def test_duplicate_column_names(db):
    result = read_both(db, "SELECT 1 AS a, 'two' AS a, 3::int8 AS a WHERE {cond}")
    assert result.column_names == ["a", "a", "a"]
    assert [c.to_pylist() for c in result.columns] == [[1], ["two"], [3]]
    assert [f.type for f in result.schema] == [pa.int32(), pa.string(), pa.int64()]
    reader = db.read_batches("SELECT 1 AS a, 2 AS a")
    assert reader.schema.names == ["a", "a"]
    assert [c.to_pylist() for c in reader.read_all().columns] == [[1], [2]]
    df = db.read_pandas("SELECT 1 AS a, 2 AS a")
    assert list(df.columns) == ["a", "a"] and df.iloc[0].tolist() == [1, 2]


def test_unnamed_columns(db):
    result = db.read_arrow("SELECT 1, 2, 'x'::text")
    assert result.column_names == ["?column?", "?column?", "text"]


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT 1 AS a;", {"a": [1]}),
        ("  select 1 as a  ;  \n", {"a": [1]}),
        ("SELECT 1 AS a -- trailing line comment", {"a": [1]}),
        ("/* leading */ SELECT 1 AS a /* trailing */", {"a": [1]}),
        ("(SELECT 1 AS a)", {"a": [1]}),
        ("VALUES (1, 'x'), (2, 'y')", {"column1": [1, 2], "column2": ["x", "y"]}),
        ("WITH q AS (SELECT 2 AS a) SELECT * FROM q", {"a": [2]}),
        ("SELECT '$1' AS x, '?' AS y, '%s' AS z", {"x": ["$1"], "y": ["?"], "z": ["%s"]}),
        ("SELECT 1 AS a ORDER BY 1 LIMIT 1 FOR UPDATE", {"a": [1]}),
        ("SHOW DateStyle", {"DateStyle": ["ISO, MDY"]}),
        ("SELECT '::1'::inet IS NOT NULL AS \"we\"\"ird ü\", 1 AS \"x y\"", {'we"ird ü': [True], "x y": [1]}),
    ],
)
def test_sql_forms(db, sql, expected):
    for params in (None, []):
        assert db.read_arrow(sql, params).to_pydict() == expected


def test_multiple_statements_rejected(db):
    with pytest.raises(data_bridge.ProgrammingError):
        db.read_arrow("SELECT 1 AS a; SELECT 2 AS b")


def test_many_columns(db):
    n = 400
    cols = ", ".join(
        f"{i}::int4 AS c{i}" if i % 3 == 0 else f"'v{i}' AS c{i}" if i % 3 == 1 else f"'::{i}'::inet AS c{i}"
        for i in range(n)
    )
    result = read_both(db, f"SELECT {cols} WHERE {{cond}}")
    assert result.column_names == [f"c{i}" for i in range(n)]
    row = result.to_pylist()[0]
    assert [row[f"c{i}"] for i in range(0, n, 3)] == list(range(0, n, 3))
    assert [row[f"c{i}"] for i in range(1, n, 3)] == [f"v{i}" for i in range(1, n, 3)]
    assert all(result.schema.field(f"c{i}").type == pa.string() for i in range(2, n, 3))


def test_session_timezone_from_url_does_not_shift_values():
    url = DSN + ("&" if "?" in DSN else "?") + "options=-c%20TimeZone%3DAsia%2FTokyo"
    with data_bridge.connect(url) as database:
        result = database.read_arrow(
            "SELECT current_setting('TimeZone') AS zone, '2020-01-01 09:00'::timestamptz AS t,"
            " '2020-01-01 09:00'::timestamptz::text AS s, '2020-01-01 09:00'::timestamp AS n"
        )
    assert result.to_pydict() == {
        "zone": ["Asia/Tokyo"],
        "t": [dt.datetime(2020, 1, 1, 0, 0, tzinfo=dt.timezone.utc)],
        "s": ["2020-01-01 09:00:00+09"],
        "n": [dt.datetime(2020, 1, 1, 9, 0)],
    }


# --------------------------------------------------------------------------
# large results
# --------------------------------------------------------------------------

LARGE_N = 300_000
LARGE_SQL = (
    "SELECT i::int8 AS i, (i % 1000)::int4 AS m, i * 0.5::float8 AS f,"
    " ((i % 97)::numeric / 4)::numeric(12,2) AS n, 'row-' || i AS s,"
    " CASE WHEN i % 10 = 0 THEN NULL ELSE i END AS sparse"
    f" FROM generate_series(1, {LARGE_N}) AS g(i) WHERE {{cond}} ORDER BY i"
)


@BOTH_PATHS
def test_large_result_matches_psycopg_aggregates(db, pg, cond, params):
    table = db.read_arrow(LARGE_SQL.replace("{cond}", cond), params)
    assert table.num_rows == LARGE_N
    (ref,) = pg_rows(
        pg,
        "SELECT sum(i), sum(m), sum(f), sum(n), sum(length(s)), sum(sparse), count(sparse)"
        f" FROM ({LARGE_SQL.replace('{cond}', 'TRUE')}) q",
    )
    i_sum, m_sum, f_sum, n_sum, s_len, sparse_sum, sparse_count = ref
    assert pc.sum(table["i"]).as_py() == i_sum
    assert pc.sum(table["m"]).as_py() == m_sum
    assert pc.sum(table["f"]).as_py() == pytest.approx(f_sum, rel=1e-12)
    assert sum(table["n"].to_pylist()) == n_sum
    assert pc.sum(pc.utf8_length(table["s"])).as_py() == s_len
    assert pc.sum(table["sparse"]).as_py() == sparse_sum
    assert table["sparse"].null_count == LARGE_N - sparse_count
    # order kept
    assert np.array_equal(table["i"].to_numpy(), np.arange(1, LARGE_N + 1))
    assert table["s"][LARGE_N - 1].as_py() == f"row-{LARGE_N}"


def test_large_result_identical_on_both_paths(db):
    read_both(db, LARGE_SQL.replace(f"{LARGE_N}", "50000"))


def test_large_values(db):
    """Single huge values (text and bytea of several MB)."""
    result = read_both(
        db,
        "SELECT repeat('ab', 4000000) AS t, decode(repeat('ff', 3000000), 'hex') AS b WHERE {cond}",
    )
    assert result["t"][0].as_py() == "ab" * 4_000_000
    assert result["b"][0].as_py() == b"\xff" * 3_000_000


# --------------------------------------------------------------------------
# read_batches
# --------------------------------------------------------------------------


@BOTH_PATHS
@pytest.mark.parametrize("n, batch_rows", [(10_500, 1000), (3000, 1000), (999, 1000), (1, 1), (7, 2)])
def test_read_batches_sizes_and_order(db, cond, params, n, batch_rows):
    sql = f"SELECT i, 'v' || i AS s FROM generate_series(1, {n}) AS g(i) WHERE {cond} ORDER BY i"
    reader = db.read_batches(sql, params, batch_rows=batch_rows)
    assert isinstance(reader, pa.RecordBatchReader)
    batches = list(reader)
    sizes = [b.num_rows for b in batches]
    assert sum(sizes) == n
    assert all(0 < s <= batch_rows for s in sizes)
    assert all(s == batch_rows for s in sizes[:-1])
    assert len(sizes) == -(-n // batch_rows)
    got = pa.Table.from_batches(batches, schema=reader.schema)
    assert got["i"].to_pylist() == list(range(1, n + 1))
    assert got["s"].to_pylist() == [f"v{i}" for i in range(1, n + 1)]


def test_read_batches_default_batch_rows(db):
    reader = db.read_batches("SELECT i FROM generate_series(1, 200000) AS g(i) ORDER BY i")
    table = reader.read_all()
    assert table.num_rows == 200_000
    assert table["i"].to_pylist() == list(range(1, 200_001))


def test_read_batches_equals_read_arrow(db):
    sql = "SELECT i, i::float8 / 3 AS f, '2020-01-01'::date + i AS d FROM generate_series(1, 5000) AS g(i) ORDER BY i"
    whole = db.read_arrow(sql)
    streamed = db.read_batches(sql, batch_rows=777).read_all()
    assert_tables_identical(whole, streamed)


@BOTH_PATHS
def test_read_batches_schema_before_reading(db, cond, params):
    reader = db.read_batches(
        f"SELECT 1::int2 AS x, 'a'::varchar(3) AS y, 2.5::numeric(4,1) AS z WHERE {cond}", params, batch_rows=5
    )
    schema = reader.schema
    assert schema.names == ["x", "y", "z"]
    assert schema.types == [pa.int16(), pa.string(), pa.decimal128(4, 1)]
    assert pg_type_of(schema.field("y")) == b"character varying(3)"
    batch = reader.read_next_batch()
    assert batch.schema.equals(schema, check_metadata=True)
    assert batch.to_pydict() == {"x": [1], "y": ["a"], "z": [Decimal("2.5")]}
    with pytest.raises(StopIteration):
        reader.read_next_batch()


def _wait_query_gone(pg, marker: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pg_rows(
        pg,
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND position(%s in query) > 0"
        " AND pid <> pg_backend_pid()",
        (marker,),
    ):
        assert time.monotonic() < deadline, "the abandoned query is still running on the server"
        time.sleep(0.05)


def _break_early(database, pg, how: str):
    marker = unique_name("abandon")
    sql = f"SELECT i, repeat('x', 100) AS pad FROM generate_series(1, 5000000) AS g(i) /* {marker} */"
    if how == "loop":  # the idiomatic form: the reader is only referenced by the for loop
        for batch in database.read_batches(sql, batch_rows=1000):
            assert batch.num_rows == 1000 and batch["i"][0].as_py() == 1
            break
        del batch
    else:
        reader = database.read_batches(sql, batch_rows=1000)
        first = next(iter(reader))
        assert first.num_rows == 1000 and first["i"][0].as_py() == 1
        if how == "close":
            reader.close()  # the reader object itself stays referenced until the end
        else:
            del reader
            gc.collect()
    # abandoning must cancel the server-side query (not drain 5M rows) ...
    _wait_query_gone(pg, marker, 5)
    # ... and hand the only pooled connection back
    assert database.read_arrow("SELECT 42 AS v")["v"].to_pylist() == [42]
    assert database.read_arrow("SELECT $1::int4 AS v", [7])["v"].to_pylist() == [7]
    if how == "close":
        with pytest.raises(Exception):  # noqa: PT011 - any error, but no more data
            reader.read_next_batch()


@pytest.mark.parametrize("how", ["close", "drop", "loop"])
def test_break_out_of_read_batches_then_query(pg, how):
    with data_bridge.connect(DSN, max_connections=1) as database:
        for _ in range(3):
            run_with_timeout(_break_early, 60, database, pg, how)


def test_two_readers_open_at_once(db):
    r1 = db.read_batches("SELECT i FROM generate_series(1, 3000) AS g(i) ORDER BY i", batch_rows=1000)
    r2 = db.read_batches("SELECT -i AS i FROM generate_series(1, 3000) AS g(i) ORDER BY g.i", batch_rows=1000)
    out1, out2 = [], []
    for b1, b2 in zip(r1, r2):
        out1 += b1["i"].to_pylist()
        out2 += b2["i"].to_pylist()
    assert out1 == list(range(1, 3001)) and out2 == [-i for i in range(1, 3001)]


def test_reader_consumed_on_another_thread(db):
    reader = db.read_batches("SELECT i FROM generate_series(1, 5000) AS g(i) ORDER BY i", batch_rows=500)
    with ThreadPoolExecutor(1) as pool:
        table = pool.submit(reader.read_all).result(timeout=60)
    assert table["i"].to_pylist() == list(range(1, 5001))


def test_read_batches_rejects_bad_batch_rows(db):
    with pytest.raises((ValueError, data_bridge.Error, OverflowError, TypeError)):
        db.read_batches("SELECT 1", batch_rows=0).read_all()


# --------------------------------------------------------------------------
# pandas and polars
# --------------------------------------------------------------------------

FRAME_SQL = (
    "SELECT i::int8 AS id, (i * 1.25)::numeric(15,2) AS amount, ('2024-01-01'::date + i) AS day,"
    " ('2024-01-01 00:00+00'::timestamptz + i * interval '1 hour') AS ts, 'name' || i AS name,"
    " i % 2 = 0 AS even, CASE WHEN i = 2 THEN NULL ELSE i::float8 END AS maybe"
    " FROM generate_series(1, 3) AS g(i) WHERE {cond} ORDER BY i"
)


@BOTH_PATHS
def test_read_pandas_values(db, cond, params):
    df = db.read_pandas(FRAME_SQL.replace("{cond}", cond), params)
    assert list(df.columns) == ["id", "amount", "day", "ts", "name", "even", "maybe"]
    assert df["id"].tolist() == [1, 2, 3] and df["id"].dtype == np.int64
    assert df["amount"].tolist() == [Decimal("1.25"), Decimal("2.50"), Decimal("3.75")]
    assert df["name"].tolist() == ["name1", "name2", "name3"]
    assert df["even"].tolist() == [False, True, False]
    assert df["maybe"].isna().tolist() == [False, True, False]
    assert df["ts"].iloc[0] == pd.Timestamp("2024-01-01 01:00", tz="UTC")
    assert str(df["ts"].dt.tz) == "UTC"


def test_read_pandas_kwargs_pass_through(db):
    df = db.read_pandas(FRAME_SQL.replace("{cond}", COPY_COND), types_mapper=pd.ArrowDtype)
    assert all(isinstance(t, pd.ArrowDtype) for t in df.dtypes)
    assert df["id"].dtype == pd.ArrowDtype(pa.int64())
    assert df["amount"].dtype == pd.ArrowDtype(pa.decimal128(15, 2))
    assert df["ts"].dtype == pd.ArrowDtype(pa.timestamp("us", tz="UTC"))
    assert df["maybe"].isna().tolist() == [False, True, False]
    # another to_pandas kwarg combined with params and types
    df = db.read_pandas(
        FRAME_SQL.replace("{cond}", PARAM_COND), [1], types={"numeric": "float64"}, date_as_object=False
    )
    assert df["amount"].tolist() == [1.25, 2.5, 3.75]
    assert df["day"].dtype.kind == "M"


def test_read_pandas_unknown_kwarg_raises(db):
    with pytest.raises(TypeError):
        db.read_pandas("SELECT 1 AS a", not_a_to_pandas_option=True)


@BOTH_PATHS
def test_read_polars_dtypes(db, cond, params):
    df = db.read_polars(FRAME_SQL.replace("{cond}", cond), params)
    assert df.schema == pl.Schema(
        {
            "id": pl.Int64,
            "amount": pl.Decimal(15, 2),
            "day": pl.Date,
            "ts": pl.Datetime("us", "UTC"),
            "name": pl.String,
            "even": pl.Boolean,
            "maybe": pl.Float64,
        }
    )
    assert df["id"].to_list() == [1, 2, 3]
    assert df["amount"].to_list() == [Decimal("1.25"), Decimal("2.50"), Decimal("3.75")]
    assert df["day"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)]
    assert df["ts"].to_list()[0] == dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone.utc)
    assert df["maybe"].to_list() == [1.0, None, 3.0]


def test_read_polars_and_pandas_list_columns(db):
    sql = "SELECT '{1,NULL,3}'::int4[] AS a, ARRAY['x', 'y'] AS b, '{}'::float8[] AS c"
    df = db.read_polars(sql)
    assert df.schema == pl.Schema({"a": pl.List(pl.Int32), "b": pl.List(pl.String), "c": pl.List(pl.Float64)})
    assert df.row(0) == ([1, None, 3], ["x", "y"], [])
    pdf = db.read_pandas(sql)
    assert pdf["a"].iloc[0].tolist()[::2] == [1, 3] and pdf["b"].iloc[0].tolist() == ["x", "y"]


def test_read_polars_with_types_option(db):
    df = db.read_polars("SELECT 1.5::numeric(5,1) AS n, 'NaN'::numeric AS m", types={"numeric": "float64"})
    assert df.schema == pl.Schema({"n": pl.Float64, "m": pl.Float64})
    assert df["n"].to_list() == [1.5] and np.isnan(df["m"][0])


# --------------------------------------------------------------------------
# numeric options and NaN
# --------------------------------------------------------------------------


@BOTH_PATHS
def test_numeric_typmod_nan_raises_data_error_naming_column(db, cond, params):
    sql = (
        "SELECT i, x::numeric(10,2) AS price_col FROM (VALUES (1, '1.5'), (2, 'NaN'), (3, '2'))"
        f" AS v(i, x) WHERE {cond} ORDER BY i"
    )
    with pytest.raises(data_bridge.DataError, match="price_col"):
        db.read_arrow(sql, params)
    with pytest.raises(data_bridge.DataError, match="price_col"):
        db.read_batches(sql, params).read_all()
    # the connection is fine afterwards
    assert db.read_arrow("SELECT 1 AS v")["v"].to_pylist() == [1]


@BOTH_PATHS
def test_types_numeric_float64(db, cond, params):
    sql = (
        "SELECT i, x::numeric(10,2) AS n, x::numeric AS u, 7::int4 AS k FROM (VALUES (1, '1.25'), (2, 'NaN'),"
        f" (3, NULL), (4, '-99999999.99')) AS v(i, x) WHERE {cond} ORDER BY i"
    )
    table = db.read_arrow(sql, params, types={"numeric": "float64"})
    assert table.schema.field("n").type == pa.float64()
    assert table.schema.field("u").type == pa.float64()
    assert table.schema.field("k").type == pa.int32()  # other families untouched
    assert pg_type_of(table.schema.field("n")) == b"numeric(10,2)"
    assert values(table["n"]) == values(pa.chunked_array([[1.25, float("nan"), None, -99999999.99]]))
    assert values(table["u"]) == values(table["n"])
    batches = db.read_batches(sql, params, batch_rows=2, types={"numeric": "float64"}).read_all()
    assert_tables_identical(table, batches)


def test_types_numeric_float64_infinity(db):
    table = db.read_arrow("SELECT 'Infinity'::numeric AS a, '-Infinity'::numeric AS b", types={"numeric": "float64"})
    assert table.to_pydict() == {"a": [float("inf")], "b": [float("-inf")]}


def test_types_invalid_option(db):
    with pytest.raises((ValueError, TypeError, data_bridge.Error)):
        db.read_arrow("SELECT 1.5::numeric AS n", types={"numeric": "no-such-option"})


# --------------------------------------------------------------------------
# concurrency
# --------------------------------------------------------------------------


def test_many_threads_correct_results(db):
    def work(thread_no: int) -> list[tuple[int, int]]:
        out = []
        for q in range(20):
            n = 1 + (thread_no * 20 + q) % 50
            if q % 2:
                table = db.read_arrow(
                    "SELECT i * $1::int8 AS v, repeat('x', i) AS s FROM generate_series(1, $2::int4) i ORDER BY i",
                    [thread_no, n],
                )
            else:
                table = db.read_arrow(
                    f"SELECT i * {thread_no}::int8 AS v, repeat('x', i) AS s"
                    f" FROM generate_series(1, {n}) i ORDER BY i"
                )
            assert table["v"].to_pylist() == [i * thread_no for i in range(1, n + 1)]
            assert table["s"].to_pylist() == ["x" * i for i in range(1, n + 1)]
            out.append((thread_no, n))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8), timeout=120))
    assert [len(r) for r in results] == [20] * 8


def test_threads_overlap(db):
    """4 concurrent pg_sleep(0.5) must run in parallel (GIL released, pool used)."""
    db.read_arrow("SELECT 1")  # warm up
    barrier = threading.Barrier(4)

    def sleeper(i):
        barrier.wait()
        if i % 2:
            return db.read_arrow("SELECT pg_sleep(0.5) IS NULL AS done, $1::int4 AS i", [i])
        return db.read_arrow(f"SELECT pg_sleep(0.5) IS NULL AS done, {i} AS i")

    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        tables = list(pool.map(sleeper, range(4), timeout=30))
    elapsed = time.monotonic() - start
    assert [t.to_pydict() for t in tables] == [{"done": [False], "i": [i]} for i in range(4)]
    assert elapsed < 1.5, f"4 x 0.5 s sleeps took {elapsed:.2f} s: not concurrent"


def test_python_threads_run_while_query_waits(db):
    """The GIL is released while waiting for the server."""
    ticks = 0
    stop = threading.Event()

    def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        db.read_arrow("SELECT pg_sleep(0.5)")
    finally:
        stop.set()
        t.join()
    assert ticks >= 20


def test_max_connections_bounds_concurrency():
    with data_bridge.connect(DSN, max_connections=2) as database:
        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: database.read_arrow("SELECT pg_sleep(0.4)"), range(4), timeout=30))
        elapsed = time.monotonic() - start
    assert 0.75 < elapsed < 1.5, elapsed  # two waves of two


# --------------------------------------------------------------------------
# connect / close
# --------------------------------------------------------------------------


def test_context_manager_and_close():
    with data_bridge.connect(DSN) as database:
        assert database.read_arrow("SELECT 1 AS v")["v"].to_pylist() == [1]
    with pytest.raises(data_bridge.Error):
        database.read_arrow("SELECT 1 AS v")


def test_close_twice_is_harmless():
    database = data_bridge.connect(DSN)
    database.read_arrow("SELECT 1")
    database.close()
    database.close()


def test_connect_from_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DSN)
    with data_bridge.connect() as database:
        assert database.read_arrow("SELECT current_database() AS d")["d"].to_pylist() == [DSN.rsplit("/", 1)[1]]


def test_connect_from_pg_env_vars(monkeypatch, pg):
    info = pg.info
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PGHOST", info.host)
    monkeypatch.setenv("PGPORT", str(info.port))
    monkeypatch.setenv("PGUSER", info.user)
    monkeypatch.setenv("PGDATABASE", info.dbname)
    if info.password:
        monkeypatch.setenv("PGPASSWORD", info.password)
    with data_bridge.connect() as database:
        result = database.read_arrow("SELECT current_database() AS d, current_user AS u")
    assert result.to_pydict() == {"d": [info.dbname], "u": [info.user]}


def test_session_is_utc_independent(db):
    """timestamptz values are absolute instants regardless of the session zone."""
    result = db.read_arrow("SELECT '2020-06-01 12:00:00+02'::timestamptz AS t")
    assert result["t"].to_pylist() == [dt.datetime(2020, 6, 1, 10, tzinfo=dt.timezone.utc)]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_unit_option(db, unit):
    sql = "SELECT '2024-02-29 12:34:56.789123'::timestamp AS ts, '2024-02-29 12:34:56.789123+00'::timestamptz AS tz, 'infinity'::timestamp AS inf"
    table = db.read_arrow(sql, types={"timestamp": unit})
    assert table.schema.field("ts").type == pa.timestamp(unit)
    assert table.schema.field("tz").type == pa.timestamp(unit, tz="UTC")
    expected = pa.array([dt.datetime(2024, 2, 29, 12, 34, 56, 789123)], pa.timestamp("us")).cast(pa.timestamp(unit), safe=False)
    assert table.column("ts").combine_chunks().cast(pa.int64()) == expected.cast(pa.int64())
    assert table.column("inf").cast(pa.int64()).to_pylist() == [2**63 - 1]


def test_unknown_type_options_are_refused(db):
    with pytest.raises(data_bridge.ProgrammingError, match="timestamp"):
        db.read_arrow("SELECT now()", types={"timestamp": "minutes"})
    with pytest.raises(data_bridge.ProgrammingError, match="known type families"):
        db.read_arrow("SELECT 1", types={"bogus": "x"})
