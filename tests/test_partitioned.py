"""Partitioned reads: ``partitions=`` / ``partition_on=`` / ``partition_strategy=`` on the read
methods, and ``Database.plan()``.

A partitioned read must return exactly the rows a single read returns (as a multiset: the order
is the partitions'), with the same schema, even while other sessions commit: every partition
reads in the plan's one exported snapshot. psycopg is the reference: it imports the same
snapshot and runs the plan's queries itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import contextlib
import gc
import re
import threading
import time

import pandas as pd
import polars as pl
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql as pgsql

import data_bridge
import data_bridge.aio as aio
from conftest import DSN, assert_tables_identical, pg_column, run_with_timeout, unique_name, wait_pool_back

SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")
PLACEHOLDER = re.compile(r"\$([0-9]+)")


@pytest.fixture(scope="module", autouse=True)
def no_hang_on_leaked_locks(pg):
    """A snapshot transaction left open by a bug keeps its locks: let DROP TABLE at teardown fail
    after a while instead of hanging the session."""
    pg.execute("SET lock_timeout = '10s'")
    yield
    pg.execute("RESET lock_timeout")


@pytest.fixture(autouse=True)
def _every_connection_back(pool_returned):
    """Every test here gives back the connections it took (see conftest.pool_returned)."""


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------




def canonical(table: pa.Table) -> pa.Table:
    """``table`` sorted on every column: equal multisets of rows give identical tables.
    (Extension columns, such as UUIDs, are sorted by their storage.)"""
    keys = pa.table([
        pa.chunked_array([c.storage for c in column.chunks], column.type.storage_type)
        if isinstance(column.type, pa.BaseExtensionType) else column
        for column in table.columns
    ], names=[f"c{i}" for i in range(table.num_columns)])
    return table.take(pc.sort_indices(keys, [(name, "ascending") for name in keys.column_names]))


def assert_same_rows(partitioned: pa.Table, single: pa.Table) -> None:
    """Same schema (field metadata included) and the same rows, in any order."""
    assert_tables_identical(canonical(partitioned), canonical(single))


def read_split(db, sql: str, params=None, **split) -> pa.Table:
    """A partitioned read, checked against the single read of the same query; returned."""
    partitioned = db.read_arrow(sql, params, **split)
    assert_same_rows(partitioned, db.read_arrow(sql, params))
    return partitioned


@contextlib.contextmanager
def in_snapshot(snapshot: str):
    """A psycopg cursor taking ``$n`` placeholders, in a read-only repeatable read transaction
    that imported ``snapshot``."""
    assert SNAPSHOT_ID.match(snapshot), snapshot
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(pgsql.SQL("SET TRANSACTION SNAPSHOT {}").format(pgsql.Literal(snapshot)))
        try:
            yield psycopg.RawCursor(conn)
        finally:
            conn.execute("ROLLBACK")


def row_key(row: tuple) -> tuple:
    return tuple((v is None, v if v is not None else 0) for v in row)


def arrow_rows(table: pa.Table) -> list[tuple]:
    """Rows of ``table`` as tuples, sorted (NULLs last)."""
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=row_key)


class Writer(threading.Thread):
    """Runs ``step(conn, i)`` in its own committed transaction, over and over, on its own
    psycopg connection, until ``stop()``; remembers when each commit returned."""

    def __init__(self, step, pause: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.step, self.pause = step, pause
        self.commits: list[float] = []
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            with psycopg.connect(DSN, autocommit=True) as conn:
                i = 0
                while not self._stop_event.is_set():
                    with conn.transaction():
                        self.step(conn, i)
                    self.commits.append(time.monotonic())
                    i += 1
                    time.sleep(self.pause)
        except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc

    def wait_for_commits(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.commits) < count and self.error is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.commits) >= count, f"the writer committed {len(self.commits)} times ({self.error!r})"

    def commits_between(self, start: float, end: float) -> int:
        return sum(start <= t <= end for t in self.commits)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)
        assert not self.is_alive(), "the writer did not stop"
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def writing(step, pause: float = 0.002):
    writer = Writer(step, pause)
    writer.start()
    try:
        yield writer
    finally:
        writer.stop()


@pytest.fixture
def plain(make_table):
    """``(id int, v text, n numeric(10,2), d date)``: 20,000 rows over ~140 pages, inserted in
    id order, with NULLs in v, n and d."""
    return make_table(
        "id int, v text, n numeric(10,2), d date",
        "SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'value ' || i END,"
        " CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7919 % 100000) / 100.0 - 300 END,"
        " CASE WHEN i % 13 = 0 THEN NULL ELSE date '1999-12-31' + (i * 37 % 9000) END"
        " FROM generate_series(1, 20000) i",
    )


# --------------------------------------------------------------------------
# 1. the same rows as a single read
# --------------------------------------------------------------------------


@pytest.mark.parametrize("partitions", [2, 3, 4, 8])
def test_plain_table_split_by_pages_equals_single_read(db, plain, partitions):
    sql = f"SELECT * FROM {plain}"
    with db.plan(sql, partitions=partitions) as plan:
        assert len(plan.queries) == partitions
        assert all("ctid" in query.sql for query in plan.queries)
    table = read_split(db, sql, partitions=partitions)
    assert table.num_rows == 20000
    assert sorted(table.column("id").to_pylist()) == list(range(1, 20001))


@pytest.mark.parametrize("partition_on", [None, "id", "v"])
def test_where_with_bound_params_in_both_plan_kinds(db, plain, partition_on):
    sql = f"SELECT id, v, d FROM {plain} WHERE id % $1 <> 0 AND d > $2"
    params = [5, dt.date(2005, 1, 1)]
    with db.plan(sql, params, partitions=4, partition_on=partition_on) as plan:
        assert len(plan.queries) >= 4
        assert all(query.params[:2] == params for query in plan.queries)
    table = read_split(db, sql, params, partitions=4, partition_on=partition_on)
    assert 0 < table.num_rows < 20000
    assert not any(i % 5 == 0 for i in table.column("id").to_pylist())


def test_nulls_of_the_partition_column_form_the_last_partition(db, plain):
    sql = f"SELECT id, n FROM {plain}"
    with db.plan(sql, partitions=3, partition_on="n") as plan:
        assert len(plan.queries) == 4
        assert plan.queries[-1].sql.endswith('"data_bridge_p"."n" IS NULL')
        nulls = plan.read_arrow(len(plan.queries) - 1)
        assert nulls.num_rows == 20000 // 11
        assert nulls.column("n").null_count == nulls.num_rows
        for index in range(3):
            assert plan.read_arrow(index).column("n").null_count == 0
    read_split(db, sql, partitions=3, partition_on="n")


def test_a_partition_column_of_only_nulls(db, make_table):
    t = make_table("id int, k int", "SELECT i, NULL FROM generate_series(1, 500) i")
    with db.plan(f"SELECT * FROM {t}", partitions=4, partition_on="k") as plan:
        sizes = [plan.read_arrow(i).num_rows for i in range(len(plan.queries))]
    assert sizes[-1] == 500 and sum(sizes) == 500
    read_split(db, f"SELECT * FROM {t}", partitions=4, partition_on="k")


@pytest.mark.parametrize("strategy", ["range", "quantile"])
def test_empty_partitions_between_values_at_the_ends(db, make_table, strategy):
    t = make_table(
        "id int, k int8",
        "SELECT i, CASE WHEN i <= 50 THEN i ELSE 1000000 - i END FROM generate_series(1, 100) i",
    )
    with db.plan(f"SELECT * FROM {t}", partitions=8, partition_on="k", partition_strategy=strategy) as plan:
        sizes = [plan.read_arrow(i).num_rows for i in range(len(plan.queries))]
    assert sum(sizes) == 100
    if strategy == "range":
        assert sizes.count(0) >= 6, sizes
    read_split(db, f"SELECT * FROM {t}", partitions=8, partition_on="k", partition_strategy=strategy)


@pytest.mark.parametrize("partition_on", [None, "id", "v"])
def test_table_smaller_than_the_partition_count(db, make_table, partition_on):
    t = make_table("id int, v text", "VALUES (1, 'a'), (2, NULL), (3, 'c')")
    table = read_split(db, f"SELECT * FROM {t}", partitions=8, partition_on=partition_on)
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3]
    if partition_on is None:  # one page: one piece
        with db.plan(f"SELECT * FROM {t}", partitions=8) as plan:
            assert len(plan.queries) == 1


@pytest.mark.parametrize("strategy", ["range", "quantile"])
@pytest.mark.parametrize("partition_on", [None, "id", "v"])
def test_empty_table(db, make_table, partition_on, strategy):
    t = make_table("id int, v text, n numeric(8,3)")
    table = read_split(db, f"SELECT * FROM {t}", partitions=4, partition_on=partition_on,
                       partition_strategy=strategy)
    assert table.num_rows == 0
    assert table.column_names == ["id", "v", "n"]


@pytest.mark.parametrize("strategy", ["range", "quantile"])
def test_skewed_column(db, make_table, strategy):
    """95% of the rows share one value (in the middle of the range)."""
    t = make_table(
        "id int, k int",
        "SELECT i, CASE WHEN i % 20 = 0 THEN i ELSE 5000 END FROM generate_series(1, 10000) i",
    )
    sql = f"SELECT * FROM {t}"
    with db.plan(sql, partitions=6, partition_on="k", partition_strategy=strategy) as plan:
        sizes = [plan.read_arrow(i).num_rows for i in range(len(plan.queries))]
        assert sum(sizes) == 10000 and max(sizes) >= 9500
        assert len(plan.queries) >= 2
    read_split(db, sql, partitions=6, partition_on="k", partition_strategy=strategy)


# name: (column type, its values for i in 1..2000; every tenth is NULL)
TYPED_CASES = {
    "text": ("text", "CASE WHEN i % 10 = 0 THEN NULL WHEN i % 97 = 0 THEN '' "
             "ELSE md5(i::text) || CASE WHEN i % 3 = 0 THEN ' ünï ✓ 🐘' ELSE '' END END"),
    "date": ("date", "CASE WHEN i % 10 = 0 THEN NULL ELSE date '1969-12-31' + (i * 37 % 30000 - 15000) END"),
    "date_infinity": ("date", "CASE WHEN i % 10 = 0 THEN NULL WHEN i = 1 THEN '-infinity' WHEN i = 2 THEN "
                      "'infinity' ELSE date '2020-01-01' + i END"),
    "timestamp": ("timestamp", "CASE WHEN i % 10 = 0 THEN NULL ELSE timestamp '1950-06-01 12:00' "
                  "+ (i * 7919 % 2000) * interval '13 days 1 hour 17 minutes 3.123457 seconds' END"),
    "timestamptz": ("timestamptz", "CASE WHEN i % 10 = 0 THEN NULL ELSE timestamptz '1950-06-01 12:00+05:30' "
                    "+ (i * 7919 % 2000) * interval '13 days 1 hour 17 minutes 3.123457 seconds' END"),
    "numeric": ("numeric(14,4)", "CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919 % 2000 - 1000) / 7.0 END"),
    "numeric_unconstrained": ("numeric", "CASE WHEN i % 10 = 0 THEN NULL WHEN i < 1000 THEN i::numeric "
                              "ELSE i / 7.0 END"),
    "bigint": ("bigint", "CASE WHEN i % 10 = 0 THEN NULL WHEN i = 1 THEN -9223372036854775808 WHEN i = 2 "
               "THEN 9223372036854775807 ELSE (i - 1000)::int8 * 4611686018427387 END"),
    "smallint": ("int2", "CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 200 - 100) END"),
    "float8": ("float8", "CASE WHEN i % 10 = 0 THEN NULL WHEN i = 1 THEN 'NaN' WHEN i = 2 THEN '-Infinity' "
               "WHEN i = 3 THEN '-0' ELSE (i - 1000) / 3.0 END"),
    "uuid": ("uuid", "CASE WHEN i % 10 = 0 THEN NULL ELSE md5(i::text)::uuid END"),
}


@pytest.mark.parametrize("strategy", ["range", "quantile"])
@pytest.mark.parametrize("case", list(TYPED_CASES))
def test_partition_column_types(db, make_table, case, strategy):
    pg_type, values_sql = TYPED_CASES[case]
    t = make_table(f"id int, v {pg_type}", f"SELECT i, {values_sql} FROM generate_series(1, 2000) i")
    sql = f"SELECT id, v FROM {t}"
    with db.plan(sql, partitions=4, partition_on="v", partition_strategy=strategy) as plan:
        assert len(plan.queries) >= 4  # split (3 cuts at least) + the NULLs
        assert plan.queries[-1].sql.endswith("IS NULL")
        sizes = [plan.read_arrow(i).num_rows for i in range(len(plan.queries))]
        assert sum(sizes) == 2000 and sizes[-1] == 200
    read_split(db, sql, partitions=4, partition_on="v", partition_strategy=strategy)


@pytest.mark.parametrize("pg_type", ["timestamp", "timestamptz"])
def test_timestamps_spanning_most_of_the_arrow_range(db, make_table, pg_type):
    """Both ends are valid PostgreSQL timestamps that Arrow's timestamp[us] holds, and a single
    read returns them; a range split must not fail on the width of the span."""
    t = make_table(
        f"id int, v {pg_type}",
        "VALUES (1, '4713-01-01 00:00:00+00 BC'), (2, '2000-01-01 00:00:00+00'),"
        " (3, '290000-12-31 23:59:59+00'), (4, NULL)",
    )
    read_split(db, f"SELECT id, v FROM {t}", partitions=4, partition_on="v")


@pytest.mark.parametrize("prefix", ['Members "A" ', "GroupMembers", "SortedEvents"])
def test_quoted_mixed_case_names(db, pg, prefix):
    """A plain scan of a table whose name needs quoting, split by pages, and split on a column
    whose name needs quoting."""
    quoted = '"' + (prefix + unique_name("q")).replace('"', '""') + '"'
    pg.execute(f'CREATE TABLE {quoted} (id int, "Sort Key" text)')
    try:
        pg.execute(f"INSERT INTO {quoted} SELECT i, 'k' || (i % 17) FROM generate_series(1, 5000) i")
        read_split(db, f'SELECT "Sort Key", id FROM {quoted}', partitions=3, partition_on="Sort Key")
        read_split(db, f"SELECT * FROM {quoted}", partitions=3)
    finally:
        pg.execute(f"DROP TABLE {quoted}")


def test_query_shapes_split_on_a_column(db, plain, make_table):
    """Joins, CTEs, unions, aggregates, DISTINCT and ORDER BY inside a subquery: any query with
    partition_on (its own ordering words inside strings or parentheses do not count)."""
    other = make_table("id int, w int", "SELECT i, i * 2 FROM generate_series(1, 20000, 3) i")
    queries = [
        f"SELECT a.id, a.v, b.w FROM {plain} a JOIN {other} b ON a.id = b.id",
        f"WITH x AS (SELECT id, v FROM {plain} ORDER BY id LIMIT 5000) SELECT * FROM x",
        f"SELECT id FROM {plain} WHERE id < 100 UNION ALL SELECT w FROM {other}",
        f"SELECT d AS id, count(*) AS c FROM {plain} GROUP BY d",
        f"SELECT DISTINCT n AS id FROM {plain}",
        f"SELECT id, v FROM {plain} WHERE v <> 'ORDER BY id LIMIT 1'",
    ]
    for sql in queries:
        read_split(db, sql, partitions=3, partition_on="id")
    # the plain scan with an ORDER BY only in a string is split by pages
    read_split(db, f"SELECT id, v FROM {plain} WHERE v <> 'ORDER BY id LIMIT 1' -- LIMIT 1", partitions=3)


INT8S = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(-5, 5))


@pytest.fixture(scope="module")
def prop_table():
    """``(id int, v int8, pad text)``: rows of ~1.8 kB, so a few per page."""
    name = unique_name("pprop")
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id int, v int8, pad text)")
        yield conn, name
        conn.execute(f"DROP TABLE {name}")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    values=st.lists(INT8S, max_size=40),
    partitions=st.integers(1, 6),
    partition_on=st.sampled_from([None, "v", "id"]),
    strategy=st.sampled_from(["range", "quantile"]),
    bound=st.one_of(st.none(), st.integers(-3, 30)),
)
def test_random_tables_equal_the_single_read(db, prop_table, values, partitions, partition_on, strategy, bound):
    conn, table = prop_table
    with conn.transaction():
        conn.execute(f"TRUNCATE {table}")
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, repeat('x', 1800))", list(enumerate(values)))
    sql, params = f"SELECT id, v FROM {table}", None
    if bound is not None:
        sql, params = f"SELECT id, v FROM {table} WHERE id >= $1", [bound]
    result = read_split(db, sql, params, partitions=partitions, partition_on=partition_on,
                        partition_strategy=strategy)
    assert sorted(result.column("id").to_pylist()) == [i for i in range(len(values)) if bound is None or i >= bound]


# --------------------------------------------------------------------------
# 2. one snapshot, while others commit
# --------------------------------------------------------------------------

BIG = 300_000


@pytest.fixture
def big(make_table):
    """``(id int PRIMARY KEY, v int, pad text)`` holding ids 1..300,000 with v = id."""
    return make_table(
        "id int PRIMARY KEY, v int NOT NULL, pad text",
        f"SELECT i, i, 'padding ' || i FROM generate_series(1, {BIG}) i",
    )


@pytest.mark.slow
@pytest.mark.parametrize("partition_on", [None, "id"])
def test_plan_reads_its_snapshot_while_a_writer_commits(db, pg, big, partition_on):
    before = pg_column(pg, f"SELECT count(*) FROM {big}")[0]
    assert before == BIG

    def step(conn, i):  # a new row, an updated row and a deleted row per transaction
        conn.execute(f"INSERT INTO {big} VALUES (%s, -1, 'new')", [BIG + 1 + i])
        conn.execute(f"UPDATE {big} SET v = -v WHERE id = %s", [2 * i + 1])
        conn.execute(f"DELETE FROM {big} WHERE id = %s", [BIG - 2 * i])

    with db.plan(f"SELECT id, v FROM {big}", partitions=4, partition_on=partition_on) as plan:
        with writing(step) as writer:
            writer.wait_for_commits(5)  # committed after planning, before the read starts
            start = time.monotonic()
            batches = []
            for batch in plan.read_batches(batch_rows=10_000):
                batches.append(batch)
                time.sleep(0.02)  # the read spans many of the writer's commits
            streamed = pa.Table.from_batches(batches)
            whole = plan.read_arrow()  # once more, later still
            end = time.monotonic()
            assert writer.commits_between(start, end) >= 10
            with in_snapshot(plan.snapshot) as cur:
                cur.execute(f"SELECT id, v FROM {big} ORDER BY id")
                in_snapshot_rows = cur.fetchall()
        written = len(writer.commits)

    expected_ids = list(range(1, BIG + 1))
    assert [row[0] for row in in_snapshot_rows] == expected_ids
    assert [row[1] for row in in_snapshot_rows] == expected_ids
    for result in (streamed, whole):
        assert result.num_rows == before
        by_id = result.sort_by("id")
        assert by_id.column("id").to_pylist() == expected_ids  # none new, none deleted
        assert by_id.column("v").to_pylist() == expected_ids  # none updated
    # the writer's work is there for everyone else
    now = pg_column(pg, f"SELECT count(*) FROM {big} WHERE id > {BIG} OR v < 0")[0]
    assert now == 2 * written
    assert pg_column(pg, f"SELECT count(*) FROM {big}")[0] == before


@pytest.mark.slow
@pytest.mark.parametrize("partition_on", [None, "id"])
def test_partitioned_reads_see_one_snapshot_under_transfers(db, pg, big, partition_on):
    """The writer moves one unit of v from a row near the start of the table to one near its
    end, in one transaction (each update writes a new version of the row elsewhere): any read
    mixing two snapshots, or seeing a row twice, breaks count, ids or sum."""
    total = BIG * (BIG + 1) // 2

    def step(conn, i):
        conn.execute(f"UPDATE {big} SET v = v - 1 WHERE id = %s", [1 + i * 7 % (BIG // 10)])
        conn.execute(f"UPDATE {big} SET v = v + 1 WHERE id = %s", [BIG - i * 11 % (BIG // 10)])

    overlapping = 0
    with writing(step, pause=0.0005) as writer:
        writer.wait_for_commits(5)
        for _ in range(3):
            start = time.monotonic()
            table = db.read_arrow(f"SELECT id, v FROM {big}", partitions=4, partition_on=partition_on)
            overlapping += writer.commits_between(start, time.monotonic())
            assert table.num_rows == BIG
            assert pc.count_distinct(table.column("id")).as_py() == BIG
            assert pc.sum(table.column("v")).as_py() == total
            assert not table.sort_by("id").column("v").equals(table.sort_by("id").column("id"))  # moved
    assert overlapping >= 3, "the reads never overlapped a commit"
    assert pg_column(pg, f"SELECT sum(v) FROM {big}")[0] == total


# --------------------------------------------------------------------------
# 3. the plan, inspected and run piece by piece
# --------------------------------------------------------------------------


@pytest.mark.parametrize("partition_on", [None, "id", "v"])
def test_plan_queries_params_and_snapshot(db, plain, partition_on):
    sql = f"SELECT id, v, d FROM {plain} WHERE id > $1 AND v LIKE $2"
    with db.plan(sql, [10, "value %"], partitions=4, partition_on=partition_on) as plan:
        assert SNAPSHOT_ID.match(plan.snapshot), plan.snapshot
        assert repr(plan) == f"<data_bridge.Plan snapshot={plan.snapshot!r} queries={len(plan.queries)}>"
        assert len(plan) == len(plan.queries) >= 4
        for query in plan.queries:
            assert isinstance(query, data_bridge.PartitionQuery)
            assert isinstance(query.sql, str) and isinstance(query.params, list)
            assert query.params[:2] == [10, "value %"]
            bounds = query.params[2:]
            assert all(isinstance(b, str) for b in bounds)
            numbers = {int(n) for n in PLACEHOLDER.findall(query.sql)}
            assert numbers == set(range(1, len(query.params) + 1)), (query.sql, query.params)
        if partition_on is None:
            assert all(query.params == [10, "value %"] for query in plan.queries)
        else:
            assert plan.queries[0].params[2:] and plan.queries[-2].params[2:]  # bounded pieces


@pytest.mark.parametrize("partition_on", [None, "id", "v", "d"])
def test_plan_pieces_are_disjoint_and_cover_the_whole(db, pg, plain, partition_on):
    sql = f"SELECT id, v, d FROM {plain} WHERE id % $1 <> 0"
    with db.plan(sql, [3], partitions=4, partition_on=partition_on) as plan:
        pg.execute(f"INSERT INTO {plain} (id, v) SELECT i, 'late' FROM generate_series(20001, 20100) i")
        pieces = [plan.read_arrow(i) for i in range(len(plan.queries))]
        ids = [set(piece.column("id").to_pylist()) for piece in pieces]
        assert sum(map(len, ids)) == len(set().union(*ids))  # disjoint
        assert set().union(*ids) == {i for i in range(1, 20001) if i % 3}  # not the late rows
        assert sum(1 for piece in pieces if piece.num_rows) >= 3
        whole = plan.read_arrow()
        assert_same_rows(whole, pa.concat_tables(pieces))
        # psycopg runs every query in the same snapshot and gets the same rows
        with in_snapshot(plan.snapshot) as cur:
            for query, piece in zip(plan.queries, pieces):
                cur.execute(query.sql, query.params)
                assert sorted(cur.fetchall(), key=row_key) == arrow_rows(piece), query
            cur.execute(sql, [3])
            assert sorted(cur.fetchall(), key=row_key) == arrow_rows(whole)
        # and a piece streamed alone gives the same rows
        streamed = plan.read_batches(1, batch_rows=100).read_all()
        assert_same_rows(streamed, pieces[1])
    expected = db.read_arrow(f"{sql} AND id <= 20000", [3])
    assert_same_rows(whole, expected)


def test_closed_plan_raises_interface_error(db, plain):
    with db.plan(f"SELECT * FROM {plain}", partitions=2) as plan:
        snapshot = plan.snapshot
        assert plan.read_arrow(0).num_rows > 0
        with pytest.raises(data_bridge.ProgrammingError, match="no query 2"):
            plan.read_arrow(2)
    for call in (lambda: plan.read_arrow(), lambda: plan.read_arrow(0), lambda: plan.read_batches(),
                 lambda: plan.read_batches(1), lambda: plan.read_pandas(), lambda: plan.read_polars()):
        with pytest.raises(data_bridge.InterfaceError, match="closed"):
            call()
    plan.close()  # twice is harmless
    assert plan.snapshot == snapshot and len(plan.queries) == 2  # still there to inspect
    # the snapshot's transaction has ended: it can no longer be imported
    wait_pool_back(db, 0, 2.0)
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        with in_snapshot(snapshot):
            pass


# --------------------------------------------------------------------------
# 4. refusals
# --------------------------------------------------------------------------


@pytest.fixture
def keyed(make_table):
    """``(id int PRIMARY KEY, v text)``, 3,000 rows."""
    return make_table("id int PRIMARY KEY, v text", "SELECT i, 'v' || (i % 50) FROM generate_series(1, 3000) i")


REFUSALS = [
    ("SELECT * FROM {t} ORDER BY id", {}, "ends in ORDER BY"),
    ("select * from {t} where id > 3 order by v desc;", {"partition_on": "id"}, "ends in ORDER BY"),
    ("SELECT * FROM {t} LIMIT 10", {}, "ends in LIMIT"),
    ("SELECT * FROM {t} OFFSET 10", {"partition_on": "id"}, "ends in OFFSET"),
    ("SELECT * FROM {t} FETCH FIRST 3 ROWS ONLY", {}, "ends in FETCH"),
    ("SELECT count(*) FROM {t}", {}, "combines rows (Aggregate)"),
    ("SELECT v, count(*) FROM {t} GROUP BY v", {}, "pass partition_on="),
    ("SELECT DISTINCT v FROM {t}", {}, "pass partition_on="),
    ("SELECT id, sum(id) OVER (ORDER BY id) FROM {t}", {}, "combines rows (WindowAgg)"),
    ("SELECT * FROM {t} a JOIN {t} b USING (id)", {}, "only a plain scan of one table"),
    ("SELECT 1 AS one", {}, "only a plain scan of one table"),
    ("SELECT * FROM {t}", {"partition_on": "nope"}, 'partition_on="nope" is not a column of the query\'s '
     "result (its columns: id, v)"),
    ("SELECT * FROM {t}", {"partitions": 0}, "partitions must be at least 1"),
    ("SELECT * FROM {t}", {"partition_strategy": "bogus"}, 'partition_strategy "bogus": use "range" or "quantile"'),
    ("SELECT * FROM {t}", {"partitions": 11}, "partitions=11 needs as many connections, but the pool opens at "
     "most 10 (max_connections)"),
]


@pytest.mark.parametrize(("template", "split", "message"), REFUSALS)
def test_refusals_are_programming_errors(db, keyed, template, split, message):
    sql = template.format(t=keyed)
    split = {"partitions": 3, **split}
    for attempt in (
        lambda: db.read_arrow(sql, **split),
        lambda: db.read_batches(sql, **split),
        lambda: db.read_pandas(sql, **split),
        lambda: db.plan(sql, **split),
    ):
        with pytest.raises(data_bridge.ProgrammingError) as info:
            attempt()
        assert message in str(info.value)
    assert db.status()["max_size"] == 10


@pytest.mark.parametrize("aggregate", ["max(id)", "min(id), max(id)"])
def test_aggregate_over_an_indexed_column_is_refused(db, keyed, aggregate):
    """Without partition_on, an aggregate over one table cannot be split by pages, even when
    the planner answers it from the primary key's index."""
    sql = f"SELECT {aggregate} FROM {keyed}"
    assert db.read_arrow(sql).num_rows == 1
    with pytest.raises(data_bridge.ProgrammingError, match="pass partition_on="):
        db.read_arrow(sql, partitions=3)


def test_partition_on_needs_partitions(db, keyed):
    with pytest.raises(data_bridge.ProgrammingError, match="partition_on needs partitions=N"):
        db.read_arrow(f"SELECT * FROM {keyed}", partition_on="id")


@pytest.mark.parametrize(
    ("isolation", "readonly"),
    [("read_committed", False), ("read_committed", True), ("repeatable_read", False), ("serializable", True)],
)
def test_refused_in_a_transaction_without_a_shareable_snapshot(db, keyed, isolation, readonly):
    with db.transaction(isolation=isolation, readonly=readonly) as tx:
        for attempt in (
            lambda: tx.read_arrow(f"SELECT * FROM {keyed}", partitions=2),
            lambda: tx.read_arrow(f"SELECT * FROM {keyed}", partitions=2, partition_on="id"),
            lambda: tx.plan(f"SELECT * FROM {keyed}", partitions=2),
        ):
            with pytest.raises(data_bridge.ProgrammingError, match="read-only repeatable read transaction"):
                attempt()
        # the transaction goes on
        assert tx.read_arrow(f"SELECT count(*) AS c FROM {keyed}").to_pylist() == [{"c": 3000}]


def test_repeatable_read_only_transaction_shares_its_snapshot(db, pg, keyed):
    with db.transaction(isolation="repeatable_read", readonly=True) as tx:
        assert tx.read_arrow(f"SELECT count(*) AS c FROM {keyed}").to_pylist() == [{"c": 3000}]
        pg.execute(f"INSERT INTO {keyed} SELECT i, 'late' FROM generate_series(3001, 3500) i")
        pg.execute(f"DELETE FROM {keyed} WHERE id <= 100")
        by_pages = tx.read_arrow(f"SELECT * FROM {keyed}", partitions=3)
        on_v = tx.read_arrow(f"SELECT * FROM {keyed}", partitions=3, partition_on="v")
        frame = tx.read_pandas(f"SELECT * FROM {keyed} WHERE id > $1", [10], partitions=2, partition_on="id")
        with tx.plan(f"SELECT * FROM {keyed}", partitions=3, partition_on="id") as plan:
            planned = plan.read_arrow()
            pieces = [plan.read_arrow(i) for i in range(len(plan.queries))]
        single = tx.read_arrow(f"SELECT * FROM {keyed}")
        assert sorted(single.column("id").to_pylist()) == list(range(1, 3001))
        for table in (by_pages, on_v, planned, pa.concat_tables(pieces)):
            assert_same_rows(table, single)
        assert sorted(frame["id"]) == list(range(11, 3001))
        assert tx.read_arrow(f"SELECT count(*) AS c FROM {keyed}").to_pylist() == [{"c": 3000}]
    assert pg_column(pg, f"SELECT count(*) FROM {keyed}") == [3400]
    assert db.read_arrow(f"SELECT * FROM {keyed}", partitions=3).num_rows == 3400


# --------------------------------------------------------------------------
# 5. streaming
# --------------------------------------------------------------------------


def tids(batches) -> list[tuple[int, int]]:
    """(page, item) of every row, in the order received, from a ``tid`` column (ctid as text)."""
    return [tuple(map(int, tid.strip("()").split(","))) for b in batches for tid in b.column("tid").to_pylist()]


def test_read_batches_by_pages_keep_physical_order(db, make_table):
    t = make_table("id int, v text", "SELECT i, repeat('x', i % 300) FROM generate_series(1, 30000) i")
    sql = f"SELECT id, ctid::text AS tid FROM {t}"
    single = list(db.read_batches(sql, batch_rows=1000))
    assert tids(single) == sorted(tids(single))  # a sequential scan: physical order
    with db.plan(sql, partitions=4) as plan:
        assert len(plan.queries) == 4
        streamed = list(plan.read_batches(batch_rows=1000))
    assert tids(streamed) == tids(single)
    batches = list(db.read_batches(sql, batch_rows=1000, partitions=4))
    assert all(b.num_rows <= 1000 for b in batches)
    assert tids(batches) == tids(single)
    assert pa.Table.from_batches(batches).column("id").to_pylist() == pa.Table.from_batches(single).column(
        "id").to_pylist()


@pytest.mark.parametrize(("partition_on", "strategy"), [("k", "range"), ("k", "quantile"), ("s", "range")])
def test_read_batches_on_a_column_come_in_partition_order(db, make_table, partition_on, strategy):
    t = make_table(
        "id int, k int, s text",
        "SELECT i, CASE WHEN i % 9 = 0 THEN NULL ELSE i * 7919 % 10007 END, md5(i::text)"
        " FROM generate_series(1, 20000) i",
    )
    sql = f"SELECT * FROM {t}"
    split = {"partitions": 5, "partition_on": partition_on, "partition_strategy": strategy}
    with db.plan(sql, **split) as plan:
        piece_of = {}
        for index in range(len(plan.queries)):
            for row_id in plan.read_arrow(index).column("id").to_pylist():
                piece_of[row_id] = index
        assert len(set(piece_of.values())) >= 5
        from_plan = [piece_of[i] for b in plan.read_batches(batch_rows=500) for i in b.column("id").to_pylist()]
    assert from_plan == sorted(from_plan)
    # a read_batches planned afresh on the same data cuts at the same points
    received = []
    with db.read_batches(sql, batch_rows=500, **split) as reader:
        for batch in reader:
            assert batch.num_rows <= 500
            received.extend(batch.column("id").to_pylist())
    assert sorted(received) == list(range(1, 20001))
    order = [piece_of[i] for i in received]
    assert order == sorted(order)
    if partition_on == "k":  # NULLs last
        nulls_from = [i % 9 == 0 for i in received].index(True)
        assert all(i % 9 == 0 for i in received[nulls_from:])


@pytest.mark.parametrize("how", ["close", "with", "drop"])
@pytest.mark.parametrize("partition_on", [None, "id"])
def test_closing_a_partitioned_reader_early_releases_its_connections(db, pg, big, how, partition_on):
    before = db.status()["in_use"]
    marker = unique_name("early")
    sql = f"SELECT /* {marker} */ id, v, pad FROM {big}"
    reader = db.read_batches(sql, batch_rows=1000, partitions=4, partition_on=partition_on)
    first = reader.read_next_batch()
    assert first.num_rows == 1000
    assert db.status()["in_use"] >= before + 2
    if how == "close":
        reader.close()
    elif how == "with":
        with reader:
            reader.read_next_batch()
    else:
        del reader
        gc.collect()
    status = wait_pool_back(db, before, 2.0)
    assert status["in_use"] <= before, status
    deadline = time.monotonic() + 3.0
    while (left := pg_column(pg, "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                                 " AND state = 'active' AND position(%s in query) > 0", [marker])[0]):
        assert time.monotonic() < deadline, f"{left} queries still running"
        time.sleep(0.05)
    # the pool is usable, partitioned reads included
    assert db.read_arrow(f"SELECT count(*) AS c FROM {big}").to_pylist() == [{"c": BIG}]
    assert db.read_arrow(f"SELECT id FROM {big} WHERE id <= 5000", partitions=4).num_rows == 5000


# --------------------------------------------------------------------------
# 6. pandas, polars, asyncio
# --------------------------------------------------------------------------


@pytest.mark.parametrize("partition_on", [None, "id", "v"])
def test_pandas_and_polars(db, plain, partition_on):
    sql = f"SELECT * FROM {plain} WHERE id > $1"
    split = {"partitions": 3, "partition_on": partition_on}
    frame = db.read_pandas(sql, [5], **split).sort_values("id").reset_index(drop=True)
    expected = db.read_pandas(sql, [5]).sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected)
    assert len(frame) == 19995 and frame["v"].isna().sum() == 20000 // 7
    polars_frame = db.read_polars(sql, [5], **split).sort("id")
    assert isinstance(polars_frame, pl.DataFrame)
    assert polars_frame.equals(db.read_polars(sql, [5]).sort("id"))
    assert polars_frame.schema == db.read_polars(sql, [5]).schema
    with db.plan(sql, [5], **split) as plan:
        pd.testing.assert_frame_equal(plan.read_pandas().sort_values("id").reset_index(drop=True), expected)
        assert plan.read_polars().sort("id").equals(polars_frame)


def test_aio_read_arrow_with_partitions(db, plain):
    async def main():
        async with await aio.connect(DSN) as adb:
            by_pages = await adb.read_arrow(f"SELECT * FROM {plain}", partitions=4)
            on_column = await adb.read_arrow(
                f"SELECT * FROM {plain} WHERE id > $1", [10], partitions=3, partition_on="d",
                partition_strategy="quantile",
            )
            at_once = await asyncio.gather(*(
                adb.read_arrow(f"SELECT id, v FROM {plain}", partitions=2, partition_on="v") for _ in range(3)
            ))
            frame = await adb.read_polars(f"SELECT * FROM {plain}", partitions=2, partition_on="id")
            with pytest.raises(data_bridge.ProgrammingError, match="ends in ORDER BY"):
                await adb.read_arrow(f"SELECT * FROM {plain} ORDER BY id", partitions=2)
            return by_pages, on_column, at_once, frame

    by_pages, on_column, at_once, frame = run_with_timeout(asyncio.run, 60.0, main())
    assert_same_rows(by_pages, db.read_arrow(f"SELECT * FROM {plain}"))
    assert_same_rows(on_column, db.read_arrow(f"SELECT * FROM {plain} WHERE id > $1", [10]))
    for table in at_once:
        assert_same_rows(table, db.read_arrow(f"SELECT id, v FROM {plain}"))
    assert frame.sort("id").equals(db.read_polars(f"SELECT * FROM {plain}").sort("id"))


# --------------------------------------------------------------------------
# 7. chunks
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("partition_on", "batches"), [(None, None), ("id", None), ("v", 1000)])
def test_partitioned_table_keeps_a_chunk_per_batch(db, plain, partition_on, batches):
    sql = f"SELECT * FROM {plain}"
    with db.plan(sql, partitions=4, partition_on=partition_on) as plan:
        non_empty = sum(1 for i in range(len(plan.queries)) if plan.read_arrow(i).num_rows)
        planned = plan.read_arrow()
        streamed = plan.read_batches(batch_rows=batches).read_all() if batches else None
    assert non_empty >= 4
    table = db.read_arrow(sql, partitions=4, partition_on=partition_on)
    for result in (table, planned):
        assert result.num_rows == 20000
        for column in result.columns:
            assert column.num_chunks >= non_empty
    if streamed is not None:
        assert streamed.column(0).num_chunks >= 20000 // batches


def test_concurrent_partitioned_reads_on_a_small_pool_do_not_wait_for_each_other(plain):
    # Each read holds one connection and takes the others only if they are free: four reads
    # of two partitions on a pool of two all finish, none waits out the acquire timeout.
    db = data_bridge.connect(DSN, max_connections=2, acquire_timeout=5)
    try:
        single = db.read_arrow(f"SELECT * FROM {plain}")
        results: list = []
        errors: list = []

        def read() -> None:
            try:
                results.append(db.read_arrow(f"SELECT * FROM {plain}", partitions=2))
            except Exception as exc:  # collected, asserted below
                errors.append(exc)

        threads = [threading.Thread(target=read) for _ in range(4)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert time.monotonic() - started < 5
        for table in results:
            assert_same_rows(table, single)
    finally:
        db.close()


def test_copy_transport_of_partitions_decodes_every_type_like_a_single_read(db, make_table):
    # Partitions of a page-range plan stream by COPY; a single read streams DataRow messages.
    # The same values must come out of both, for every family of types.
    table = make_table(
        "id int, ts timestamptz, iv interval, u uuid, j jsonb, ai int4[], at text[], n numeric, "
        "nd numeric(12,3), b bytea, t text, ch char(3), r int4range, bits bit varying, ip inet, "
        "tt timetz, money_ money, arr2 int[], comp pg_catalog.pg_lsn",
        "SELECT i, timestamptz '2020-01-01 00:00+00' + i * interval '37 minutes', i * interval '1 day 3 sec', "
        "md5(i::text)::uuid, jsonb_build_object('i', i, 'ü', repeat('x', i % 5)), ARRAY[i, NULL, -i], "
        "ARRAY['a' || i, NULL], i::numeric / 7, (i % 1000)::numeric(12,3) / 3, decode(md5(i::text), 'hex'), "
        "repeat('é', i % 9), 'ab', int4range(i, i + 10), (i % 256)::bit(8)::varbit, "
        "('10.0.' || (i % 250) || '.1/24')::inet, time with time zone '10:00+02' + i * interval '1 s', "
        "(i * 1.25)::money, CASE WHEN i % 3 = 0 THEN NULL ELSE ARRAY[[i, 1], [2, 3]] END, "
        "('0/' || to_hex(i))::pg_lsn FROM generate_series(1, 5000) i",
    )
    single = db.read_arrow(f"SELECT * FROM {table}")
    split = db.read_arrow(f"SELECT * FROM {table}", partitions=3)
    assert split.schema.equals(single.schema, check_metadata=True)
    assert split.sort_by("id").equals(single.sort_by("id"))


def test_a_plan_piece_is_a_built_query(db, plain):
    with db.plan(f"SELECT id FROM {plain} WHERE id > $1", [100], partitions=3) as plan:
        pieces = [db.read_arrow(piece) for piece in plan.queries]
    ids = sorted(i for table in pieces for i in table.column("id").to_pylist())
    assert ids == list(range(101, 20001))
