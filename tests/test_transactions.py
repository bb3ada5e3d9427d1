"""Statements and transactions: execute, execute_many, fetch_all/fetch_one, transaction(),
savepoints, isolation levels, run_in_transaction retries and Ctrl-C inside a transaction.

Every effect is checked from the server's side: the `pg` psycopg connection (autocommit) is an
independent session, so it sees exactly what has been committed and nothing else.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

import data_bridge
from conftest import DSN, pg_column, pg_rows, spawn_python, unique_name, wait_pool_back


class Boom(Exception):
    """An application error raised on purpose inside a transaction."""


@pytest.fixture(scope="module", autouse=True)
def no_hang_on_leaked_locks(pg):
    """A transaction left open by a bug holds its locks: let `pg` (DROP TABLE at teardown) fail
    after a while instead of hanging the session."""
    pg.execute("SET lock_timeout = '10s'")
    yield
    pg.execute("RESET lock_timeout")


@pytest.fixture(autouse=True)
def _every_connection_back(pool_returned):
    """Every test here gives back the connections it took (see conftest.pool_returned)."""




def run_threads(*fns, timeout: float = 30.0) -> list:
    """Runs each fn in its own thread; returns their results in order (re-raising the first error)."""
    results: list = [None] * len(fns)
    errors: list = [None] * len(fns)

    def target(i, fn):
        try:
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors[i] = exc

    threads = [threading.Thread(target=target, args=(i, fn), daemon=True) for i, fn in enumerate(fns)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            pytest.fail(f"a thread did not finish within {timeout} s (hang?)")
    for exc in errors:
        if exc is not None:
            raise exc
    return results


def visible(pg, table: str, column: str = "id") -> list:
    """What a separate, autocommit session sees in ``table`` (sorted)."""
    return pg_column(pg, f"SELECT {column} FROM {table} ORDER BY {column}")


# --------------------------------------------------------------------------
# execute
# --------------------------------------------------------------------------


def test_execute_returns_rows_affected(db, pg, make_table):
    t = make_table("id int PRIMARY KEY, v text")
    assert db.execute(f"INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (3, 'c')") == 3
    assert db.execute(f"UPDATE {t} SET v = v || '!' WHERE id >= $1", [2]) == 2
    assert db.execute(f"UPDATE {t} SET v = 'never' WHERE id > $1", [100]) == 0
    assert db.execute(f"DELETE FROM {t} WHERE id = $1", [1]) == 1
    assert db.execute(f"INSERT INTO {t} SELECT i, i::text FROM generate_series($1::int, $2::int) i", [10, 19]) == 10
    assert db.execute(f"DELETE FROM {t} WHERE id >= 10") == 10
    assert pg_rows(pg, f"SELECT id, v FROM {t} ORDER BY id") == [(2, "b!"), (3, "c!")]


def test_execute_binds_every_parameter_type(db, pg, make_table):
    t = make_table("id int, s text, n numeric(12,3), d date, ts timestamptz, flag bool, arr int[], f float8")
    tricky = "it's a \"quote\"; DROP TABLE x; -- ünïcødé ✓ 🐘 $1"
    ts = datetime(2024, 3, 1, 10, 34, 56, 789000, tzinfo=timezone.utc)
    n = db.execute(
        f"INSERT INTO {t} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [7, tricky, Decimal("-12345.678"), date(2024, 2, 29), ts, True, [1, None, 3], 0.1],
    )
    assert n == 1
    n = db.execute(f"INSERT INTO {t} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [8, None, None, None, None, None, None, None])
    assert n == 1
    assert pg_rows(pg, f"SELECT * FROM {t} ORDER BY id") == [
        (7, tricky, Decimal("-12345.678"), date(2024, 2, 29), ts, True, [1, None, 3], 0.1),
        (8, None, None, None, None, None, None, None),
    ]
    # the value was bound, never spliced: the table is still there with its two rows
    assert pg_column(pg, f"SELECT count(*) FROM {t} WHERE s = %s", (tricky,)) == [1]


def test_execute_several_statements_without_params(db, pg, make_table):
    t = make_table("id int")
    sql = (
        f"INSERT INTO {t} VALUES (1);\n"
        f"INSERT INTO {t} VALUES (2), (3);\n"
        f"UPDATE {t} SET id = id + 10 WHERE id > 1;"
    )
    assert db.execute(sql) == 2  # the last statement's count
    assert visible(pg, t) == [1, 12, 13]
    assert db.execute(f"UPDATE {t} SET id = id + 1; DELETE FROM {t} WHERE id > 12") == 2
    assert visible(pg, t) == [2]


def test_execute_errors_carry_sqlstate(db, pg, make_table):
    t = make_table("id int PRIMARY KEY")
    db.execute(f"INSERT INTO {t} VALUES ($1)", [1])
    with pytest.raises(data_bridge.UniqueViolation) as info:
        db.execute(f"INSERT INTO {t} VALUES ($1)", [1])
    assert isinstance(info.value, data_bridge.IntegrityError)
    assert info.value.sqlstate == "23505"
    assert info.value.diag.constraint_name == f"{t}_pkey"
    with pytest.raises(data_bridge.UniqueViolation) as info:
        db.execute(f"INSERT INTO {t} VALUES (2); INSERT INTO {t} VALUES (1)")
    assert info.value.sqlstate == "23505"
    pg.execute(f"DELETE FROM {t} WHERE id = 2")  # whether the first statement stayed is not pinned

    for sql, params in [("SELEC 1", None), ("SELEC $1", [1]), (f"UPDATE {t} SET id = WHERE", None)]:
        with pytest.raises(data_bridge.SyntaxError) as info:
            db.execute(sql, params)
        assert isinstance(info.value, data_bridge.ProgrammingError)
        assert info.value.sqlstate == "42601", sql
    with pytest.raises(data_bridge.ProgrammingError) as info:  # server: no multi-statement prepared statement
        db.execute(f"INSERT INTO {t} VALUES ($1); INSERT INTO {t} VALUES (3)", [2])
    assert info.value.sqlstate == "42601"
    with pytest.raises(data_bridge.UndefinedTable) as info:
        db.execute(f"DELETE FROM {t}_missing")
    assert info.value.sqlstate == "42P01"
    assert visible(pg, t) == [1]


# --------------------------------------------------------------------------
# execute_many
# --------------------------------------------------------------------------


def _many_rows(count: int) -> list[tuple]:
    rows = []
    for i in range(count):
        text = None if i % 11 == 0 else f"row {i}: it's \"quoted\", ünïcødé ✓ 🐘 {'x' * (i % 37)}"
        number = None if i % 13 == 0 else Decimal(i * 7919 % 100_000_000) / Decimal(1000) * (-1 if i % 2 else 1)
        day = None if i % 7 == 0 else date(1999, 12, 31) + timedelta(days=i * 3)
        rows.append((i, text, number, day, i % 3 == 0 if i % 5 else None))
    return rows


def test_execute_many_inserts_rows_exactly(db, pg, make_table):
    t = make_table("id int PRIMARY KEY, s text, n numeric(12,3), d date, flag bool")
    rows = _many_rows(5000)
    assert db.execute_many(f"INSERT INTO {t} VALUES ($1, $2, $3, $4, $5)", rows) == 5000
    assert pg_rows(pg, f"SELECT id, s, n, d, flag FROM {t} ORDER BY id") == rows


def test_execute_many_takes_lists_tuples_and_generators(db, pg, make_table):
    t = make_table("id int, s text")
    assert db.execute_many(f"INSERT INTO {t} VALUES ($1, $2)", [[1, "a"], (2, "b")]) == 2
    assert db.execute_many(f"INSERT INTO {t} VALUES ($1, $2)", ((i, str(i)) for i in range(3, 103))) == 100
    assert db.execute_many(f"INSERT INTO {t} (id) VALUES ($1)", [(1000,)]) == 1
    assert pg_column(pg, f"SELECT count(*) FROM {t}") == [103]
    assert pg_rows(pg, f"SELECT id, s FROM {t} WHERE id IN (1, 2, 50, 1000) ORDER BY id") == [
        (1, "a"), (2, "b"), (50, "50"), (1000, None)
    ]


def test_execute_many_returns_the_total_affected(db, pg, make_table):
    t = make_table("id int, grp int", "SELECT i, i % 4 FROM generate_series(1, 20) i")
    # group 0 has 5 rows, group 1 has 5, group 99 none
    assert db.execute_many(f"UPDATE {t} SET grp = grp + 10 WHERE grp = $1", [[0], [1], [99]]) == 10
    assert db.execute_many(f"DELETE FROM {t} WHERE id = $1", [[1], [2], [3], [1]]) == 3
    assert pg_rows(pg, f"SELECT grp, count(*) FROM {t} GROUP BY grp ORDER BY grp") == [
        (2, 4), (3, 4), (10, 5), (11, 4)
    ]


def test_execute_many_empty_rows_is_zero(db, pg, make_table):
    t = make_table("id int", "VALUES (1)")
    assert db.execute_many(f"INSERT INTO {t} VALUES ($1)", []) == 0
    assert db.execute_many(f"INSERT INTO {t} VALUES ($1)", iter(())) == 0
    assert visible(pg, t) == [1]


@pytest.mark.parametrize("bad_at", [0, 2500, 4999], ids=["first", "middle", "last"])
def test_execute_many_is_all_or_nothing(db, pg, make_table, bad_at):
    t = make_table("id int PRIMARY KEY, v text NOT NULL", "VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    rows = [[i, f"v{i}"] for i in range(10, 5010)]
    rows[bad_at] = [2, "duplicate of an existing row"]
    with pytest.raises(data_bridge.UniqueViolation) as info:
        db.execute_many(f"INSERT INTO {t} VALUES ($1, $2)", rows)
    assert isinstance(info.value, data_bridge.IntegrityError)
    assert info.value.sqlstate == "23505"
    assert pg_rows(pg, f"SELECT id, v FROM {t} ORDER BY id") == [(1, "one"), (2, "two"), (3, "three")]

    rows[bad_at] = [bad_at + 100_000, None]  # NOT NULL this time
    with pytest.raises(data_bridge.IntegrityError) as info:
        db.execute_many(f"INSERT INTO {t} VALUES ($1, $2)", rows)
    assert info.value.sqlstate == "23502"
    assert visible(pg, t) == [1, 2, 3]


def test_execute_many_of_updates_is_all_or_nothing(db, pg, make_table):
    t = make_table("id int PRIMARY KEY, v int CHECK (v < 100)", "SELECT i, 0 FROM generate_series(1, 50) i")
    rows = [[i, i] for i in range(1, 51)]
    rows[30] = [31, 1000]  # violates the CHECK
    with pytest.raises(data_bridge.CheckViolation) as info:
        db.execute_many(f"UPDATE {t} SET v = $2 WHERE id = $1", rows)
    assert info.value.sqlstate == "23514"
    assert pg_column(pg, f"SELECT DISTINCT v FROM {t}") == [0]


# --------------------------------------------------------------------------
# fetch_all / fetch_one
# --------------------------------------------------------------------------

TYPED_SELECT = """
SELECT * FROM (VALUES
    (1::int4, 1099511627776::int8, 'héllo ✓'::text, 12.50::numeric(10,2),
     timestamptz '2024-03-01 12:34:56.789+02', date '2024-02-29', NULL::int4,
     ARRAY[1, NULL, 3]::int4[], ARRAY['a', 'b''c']::text[], true, 1.5::float8, 0.25::float4),
    (-2::int4, -1::int8, ''::text, -0.01::numeric(10,2), timestamptz '1999-12-31 23:59:59.999999+00',
     date '0001-01-01', 5::int4, ARRAY[]::int4[], NULL::text[], false, -2.5::float8, NULL::float4)
) AS v(i, big, s, n, ts, d, nul, arr, tarr, b, f, r)
ORDER BY i DESC
"""

TYPED_ROWS = [
    {
        "i": 1, "big": 2**40, "s": "héllo ✓", "n": Decimal("12.50"),
        "ts": datetime(2024, 3, 1, 10, 34, 56, 789000, tzinfo=timezone.utc), "d": date(2024, 2, 29),
        "nul": None, "arr": [1, None, 3], "tarr": ["a", "b'c"], "b": True, "f": 1.5, "r": 0.25,
    },
    {
        "i": -2, "big": -1, "s": "", "n": Decimal("-0.01"),
        "ts": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), "d": date(1, 1, 1),
        "nul": 5, "arr": [], "tarr": None, "b": False, "f": -2.5, "r": None,
    },
]


def _assert_same_typed_values(got: list, expected: list) -> None:
    assert got == expected
    for got_row, expected_row in zip(got, expected):
        assert list(got_row) == list(expected_row)  # column order kept
        for name, value in got_row.items():
            assert type(value) is type(expected_row[name]), (name, value)  # bool is not int, ...
    for row in got:
        assert row["ts"].utcoffset() == timedelta(0)


def test_fetch_all_returns_dicts_of_python_values(db):
    rows = db.fetch_all(TYPED_SELECT)
    assert isinstance(rows, list) and all(type(row) is dict for row in rows)
    _assert_same_typed_values(rows, TYPED_ROWS)
    # the same mapping as read_arrow(...).to_pylist()
    assert rows == db.read_arrow(TYPED_SELECT).to_pylist()


def test_fetch_all_binds_params(db, make_table):
    t = make_table(
        "id int, s text, n numeric(8,2), d date",
        "SELECT i, 's' || i, i / 4.0, date '2020-01-01' + i FROM generate_series(1, 100) i",
    )
    rows = db.fetch_all(f"SELECT id, s, n, d FROM {t} WHERE id BETWEEN $1 AND $2 AND s <> $3 ORDER BY id", [10, 13, "s11"])
    assert rows == [
        {"id": 10, "s": "s10", "n": Decimal("2.50"), "d": date(2020, 1, 11)},
        {"id": 12, "s": "s12", "n": Decimal("3.00"), "d": date(2020, 1, 13)},
        {"id": 13, "s": "s13", "n": Decimal("3.25"), "d": date(2020, 1, 14)},
    ]
    echoed = db.fetch_all(
        "SELECT $1::int AS a, $2::text AS b, $3::numeric(6,2) AS c, $4::date AS d, $5::timestamptz AS e,"
        " $6::int[] AS f, $7::bool AS g, $8::text AS h",
        [
            -5, "quote ' and ✓", Decimal("3.14"), date(2000, 2, 29),
            datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc), [3, 2, 1], False, None,
        ],
    )
    assert echoed == [{
        "a": -5, "b": "quote ' and ✓", "c": Decimal("3.14"), "d": date(2000, 2, 29),
        "e": datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc), "f": [3, 2, 1], "g": False, "h": None,
    }]
    assert db.fetch_all(f"SELECT id FROM {t} WHERE id > $1", [1000]) == []
    assert db.fetch_all(f"SELECT id FROM {t} WHERE false") == []
    assert len(db.fetch_all(f"SELECT * FROM {t}")) == 100


def test_fetch_one(db, make_table):
    t = make_table("id int, s text", "SELECT i, 's' || i FROM generate_series(1, 1000) i")
    assert db.fetch_one(f"SELECT id, s FROM {t} WHERE id = $1", [1001]) is None
    assert db.fetch_one(f"SELECT id FROM {t} WHERE false") is None
    assert db.fetch_one(f"SELECT id, s FROM {t} ORDER BY id DESC") == {"id": 1000, "s": "s1000"}
    assert db.fetch_one(f"SELECT s, id FROM {t} WHERE id >= $1 ORDER BY id", [500]) == {"s": "s500", "id": 500}
    assert db.fetch_one(f"SELECT count(*) AS n, sum(id) AS total FROM {t}") == {"n": 1000, "total": 500500}
    _assert_same_typed_values([db.fetch_one(TYPED_SELECT)], TYPED_ROWS[:1])
    # the pool still answers at once after a fetch_one that left rows unread
    assert db.fetch_one("SELECT 2 AS two") == {"two": 2}


def test_fetch_errors_carry_sqlstate(db):
    with pytest.raises(data_bridge.SyntaxError) as info:
        db.fetch_all("SELEC 1")
    assert info.value.sqlstate == "42601"
    with pytest.raises(data_bridge.DivisionByZero) as info:
        db.fetch_one("SELECT 1 / $1::int AS x", [0])
    assert info.value.sqlstate == "22012"


# --------------------------------------------------------------------------
# transaction(): commit, rollback, atomicity
# --------------------------------------------------------------------------


def test_transaction_commits_on_success(db, pg, make_table):
    t = make_table("id int PRIMARY KEY, v text")
    with db.transaction() as tx:
        assert tx.execute(f"INSERT INTO {t} VALUES ($1, $2)", [1, "one"]) == 1
        assert tx.execute_many(f"INSERT INTO {t} VALUES ($1, $2)", [[2, "two"], [3, "three"]]) == 2
        assert tx.execute(f"UPDATE {t} SET v = upper(v) WHERE id <> $1", [3]) == 2
        # nothing is visible outside before the commit: not to pg, not to another pooled connection
        assert visible(pg, t) == []
        assert db.fetch_all(f"SELECT id FROM {t}") == []
    assert pg_rows(pg, f"SELECT id, v FROM {t} ORDER BY id") == [(1, "ONE"), (2, "TWO"), (3, "three")]


def test_transaction_rolls_back_on_exception(db, pg, make_table):
    t = make_table("id int PRIMARY KEY", "VALUES (0)")
    boom = Boom("application error")
    with pytest.raises(Boom) as info:
        with db.transaction() as tx:
            tx.execute(f"INSERT INTO {t} VALUES ($1)", [1])
            tx.execute_many(f"INSERT INTO {t} VALUES ($1)", [[2], [3]])
            tx.execute(f"DELETE FROM {t} WHERE id = 0")
            raise boom
    assert info.value is boom
    assert visible(pg, t) == [0]

    with pytest.raises(data_bridge.UniqueViolation) as info:
        with db.transaction() as tx:
            tx.execute(f"INSERT INTO {t} VALUES (10)")
            tx.execute(f"INSERT INTO {t} VALUES (0)")
    assert info.value.sqlstate == "23505"
    assert visible(pg, t) == [0]


def test_error_at_commit_is_raised(db, pg, make_table):
    t = make_table("id int, CONSTRAINT deferred_unique UNIQUE (id) DEFERRABLE INITIALLY DEFERRED", "VALUES (1)")
    with pytest.raises(data_bridge.UniqueViolation) as info:
        with db.transaction() as tx:
            tx.execute(f"INSERT INTO {t} VALUES (2), (1)")  # checked at COMMIT only
    assert info.value.sqlstate == "23505"
    assert visible(pg, t) == [1]

    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {t} VALUES (3), (1)")
        with pytest.raises(data_bridge.UniqueViolation):
            tx.commit()
    assert visible(pg, t) == [1]


def test_explicit_commit_and_rollback(db, pg, make_table):
    t = make_table("id int")
    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {t} VALUES (1)")
        tx.commit()
        assert visible(pg, t) == [1]  # committed at once, not at the end of the block
    assert visible(pg, t) == [1]

    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {t} VALUES (2)")
        tx.rollback()
        assert visible(pg, t) == [1]
    assert visible(pg, t) == [1]


@pytest.mark.parametrize("end", ["commit", "rollback", "block"])
def test_calls_after_the_end_raise_interface_error(db, pg, make_table, end):
    t = make_table("id int")
    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {t} VALUES (1)")
        if end != "block":
            getattr(tx, end)()
    calls = [
        lambda: tx.execute(f"INSERT INTO {t} VALUES (2)"),
        lambda: tx.execute_many(f"INSERT INTO {t} VALUES ($1)", [[3]]),
        lambda: tx.fetch_all("SELECT 1 AS one"),
        lambda: tx.fetch_one("SELECT 1 AS one"),
        lambda: tx.read_arrow("SELECT 1 AS one"),
        lambda: tx.read_batches("SELECT 1 AS one"),
        lambda: tx.write_arrow(t, pa.table({"id": pa.array([4], pa.int32())})),
    ]
    for call in calls:
        with pytest.raises(data_bridge.InterfaceError):
            call()
    assert visible(pg, t) == ([] if end == "rollback" else [1])


def test_transaction_on_a_closed_database_raises_interface_error():
    other = data_bridge.connect(DSN)
    other.close()
    with pytest.raises(data_bridge.InterfaceError):
        with other.transaction():
            pass
    with pytest.raises(data_bridge.InterfaceError):
        other.execute("SELECT 1")
    with pytest.raises(data_bridge.InterfaceError):
        other.run_in_transaction(lambda tx: 1)


def test_reads_inside_a_transaction_see_its_own_writes(db, pg, make_table):
    t = make_table("id int, v text", "VALUES (1, 'committed')")
    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {t} VALUES (2, 'mine')")
        tx.execute(f"UPDATE {t} SET v = 'changed' WHERE id = 1")
        expected = [{"id": 1, "v": "changed"}, {"id": 2, "v": "mine"}]
        assert tx.fetch_all(f"SELECT id, v FROM {t} ORDER BY id") == expected
        assert tx.fetch_all(f"SELECT id, v FROM {t} WHERE id >= $1 ORDER BY id", [1]) == expected
        assert tx.fetch_one(f"SELECT v FROM {t} WHERE id = $1", [2]) == {"v": "mine"}
        assert tx.read_arrow(f"SELECT id, v FROM {t} ORDER BY id").to_pylist() == expected
        assert tx.read_arrow(f"SELECT id, v FROM {t} WHERE id > $1 ORDER BY id", [0]).to_pylist() == expected
        assert tx.read_pandas(f"SELECT id, v FROM {t} ORDER BY id").to_dict("records") == expected
        assert tx.read_polars(f"SELECT id, v FROM {t} ORDER BY id").to_dicts() == expected
        # outside the transaction: still the committed state
        assert db.fetch_all(f"SELECT id, v FROM {t} ORDER BY id") == [{"id": 1, "v": "committed"}]
        assert pg_rows(pg, f"SELECT id, v FROM {t} ORDER BY id") == [(1, "committed")]
        txid = tx.fetch_one("SELECT txid_current() AS x")["x"]
        assert tx.fetch_one("SELECT txid_current() AS x")["x"] == txid  # one server transaction
    assert pg_rows(pg, f"SELECT id, v FROM {t} ORDER BY id") == [(1, "changed"), (2, "mine")]


def test_read_batches_inside_a_transaction(db, pg, make_table):
    t = make_table("id int")
    with db.transaction() as tx:
        assert tx.execute(f"INSERT INTO {t} SELECT generate_series(1, 10000)") == 10000
        reader = tx.read_batches(f"SELECT id FROM {t} ORDER BY id", batch_rows=1000)
        batches = list(reader)
        assert [b.num_rows for b in batches] == [1000] * 10
        assert pa.Table.from_batches(batches).column("id").to_pylist() == list(range(1, 10001))
        # exhausted: the transaction goes on
        with tx.read_batches(f"SELECT id FROM {t} WHERE id <= $1 ORDER BY id", [3]) as reader:
            assert reader.read_all().column("id").to_pylist() == [1, 2, 3]
        assert tx.execute(f"DELETE FROM {t} WHERE id > $1", [5]) == 9995
        assert visible(pg, t) == []
    assert visible(pg, t) == [1, 2, 3, 4, 5]


def test_open_reader_blocks_the_transaction_until_closed(db, pg, make_table):
    t = make_table("id int")
    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {t} SELECT generate_series(1, 50000)")
        reader = tx.read_batches(f"SELECT id FROM {t} ORDER BY id", batch_rows=1000)
        assert reader.read_next_batch().num_rows == 1000
        with pytest.raises(data_bridge.InterfaceError):
            tx.fetch_one("SELECT 1 AS one")
        reader.close()
        # once the reader is closed the transaction is usable again and keeps its work
        assert tx.fetch_one(f"SELECT count(*) AS n FROM {t}") == {"n": 50000}
        tx.execute(f"DELETE FROM {t} WHERE id > 2")
    assert visible(pg, t) == [1, 2]


def test_exception_while_a_reader_is_open_rolls_back(db, pg, make_table):
    t = make_table("id int")
    in_use = db.status()["in_use"]
    with pytest.raises(Boom):
        with db.transaction() as tx:
            tx.execute(f"INSERT INTO {t} VALUES (1)")
            for _batch in tx.read_batches("SELECT i FROM generate_series(1, 100000) i", batch_rows=1000):
                raise Boom
    # rolled back and returned to the pool now, not when `tx` is garbage-collected
    assert wait_pool_back(db, in_use, 2.0)["in_use"] == in_use
    assert visible(pg, t) == []
    del tx


def _arrow_rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table({"id": pa.array(ids, pa.int32()), "v": pa.array([f"arrow {i}" for i in ids])})


def test_write_arrow_and_execute_roll_back_together(db, pg, make_table):
    t = make_table("id int PRIMARY KEY, v text")
    audit = make_table("n int", "VALUES (0)")
    created = unique_name("tx_created")
    try:
        with pytest.raises(data_bridge.UniqueViolation):
            with db.transaction() as tx:
                assert tx.write_arrow(t, _arrow_rows(1, 1000)) == 1000
                assert tx.write_arrow(created, _arrow_rows(1, 10), mode="create") == 10
                assert tx.execute(f"UPDATE {audit} SET n = n + 1000") == 1
                assert tx.fetch_one(f"SELECT count(*) AS n FROM {t}") == {"n": 1000}
                tx.execute(f"INSERT INTO {t} VALUES (500, 'clash')")  # fails: everything goes
        assert visible(pg, t) == []
        assert pg_column(pg, f"SELECT n FROM {audit}") == [0]
        assert pg_column(pg, "SELECT to_regclass(%s)::text", (created,)) == [None]
    finally:
        pg.execute(f"DROP TABLE IF EXISTS {created}")


def test_write_arrow_and_execute_commit_together(db, pg, make_table):
    t = make_table("id int PRIMARY KEY, v text")
    audit = make_table("n int", "VALUES (0)")
    with db.transaction() as tx:
        assert tx.write_arrow(t, _arrow_rows(1, 1000)) == 1000
        assert tx.execute(f"UPDATE {audit} SET n = (SELECT count(*) FROM {t})") == 1
        assert tx.write_arrow(t, _arrow_rows(1, 10), mode="upsert", key=["id"]) == 10
        assert visible(pg, t) == []
        assert pg_column(pg, f"SELECT n FROM {audit}") == [0]
    assert pg_column(pg, f"SELECT count(*) FROM {t}") == [1000]
    assert pg_rows(pg, f"SELECT id, v FROM {t} WHERE id IN (1, 1000) ORDER BY id") == [(1, "arrow 1"), (1000, "arrow 1000")]
    assert pg_column(pg, f"SELECT n FROM {audit}") == [1000]


def test_execute_many_joins_the_transaction(db, pg, make_table):
    t = make_table("id int")
    with pytest.raises(Boom):
        with db.transaction() as tx:
            assert tx.execute_many(f"INSERT INTO {t} VALUES ($1)", [[i] for i in range(100)]) == 100
            assert tx.fetch_one(f"SELECT count(*) AS n FROM {t}") == {"n": 100}
            raise Boom
    assert visible(pg, t) == []


# --------------------------------------------------------------------------
# savepoints
# --------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["python", "server"])
def test_nested_savepoints_innermost_failing(db, pg, make_table, failure):
    t = make_table("id int PRIMARY KEY, v text")
    caught = []
    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {t} VALUES (1, 'outer')")
        with tx.savepoint():
            tx.execute(f"INSERT INTO {t} VALUES (2, 'level 1')")
            with tx.savepoint():
                tx.execute(f"INSERT INTO {t} VALUES (3, 'level 2')")
                try:
                    with tx.savepoint():
                        tx.execute(f"INSERT INTO {t} VALUES (4, 'level 3')")
                        tx.execute(f"UPDATE {t} SET v = 'touched by level 3'")
                        if failure == "python":
                            raise Boom("innermost")
                        tx.execute(f"INSERT INTO {t} VALUES (1, 'clash')")
                except (Boom, data_bridge.UniqueViolation) as exc:
                    caught.append(exc)
                # the transaction goes on: level 3 is undone, levels 0-2 are still there
                assert tx.fetch_all(f"SELECT id, v FROM {t} ORDER BY id") == [
                    {"id": 1, "v": "outer"}, {"id": 2, "v": "level 1"}, {"id": 3, "v": "level 2"}
                ]
                tx.execute(f"INSERT INTO {t} VALUES (5, 'level 2 after')")
    assert len(caught) == 1
    assert isinstance(caught[0], Boom if failure == "python" else data_bridge.UniqueViolation)
    assert pg_rows(pg, f"SELECT id, v FROM {t} ORDER BY id") == [
        (1, "outer"), (2, "level 1"), (3, "level 2"), (5, "level 2 after")
    ]


def test_savepoint_failure_propagates_to_the_level_that_catches_it(db, pg, make_table):
    t = make_table("id int PRIMARY KEY")
    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {t} VALUES (1)")
        with tx.savepoint():
            tx.execute(f"INSERT INTO {t} VALUES (2)")
            with pytest.raises(Boom):
                with tx.savepoint():  # level 2: does not catch
                    tx.execute(f"INSERT INTO {t} VALUES (3)")
                    with tx.savepoint():  # level 3: fails
                        tx.execute(f"INSERT INTO {t} VALUES (4)")
                        raise Boom
            assert tx.fetch_all(f"SELECT id FROM {t} ORDER BY id") == [{"id": 1}, {"id": 2}]
        tx.execute(f"INSERT INTO {t} VALUES (5)")
    assert visible(pg, t) == [1, 2, 5]


def test_savepoint_success_keeps_work(db, pg, make_table):
    t = make_table("id int")
    with db.transaction() as tx:
        with tx.savepoint():
            tx.execute(f"INSERT INTO {t} VALUES (1)")
            with tx.savepoint():
                tx.write_arrow(t, pa.table({"id": pa.array([2, 3], pa.int32())}))
        with tx.savepoint():
            tx.execute_many(f"INSERT INTO {t} VALUES ($1)", [[4]])
        assert visible(pg, t) == []
    assert visible(pg, t) == [1, 2, 3, 4]

    # released savepoints are still undone when the transaction itself fails
    with pytest.raises(Boom):
        with db.transaction() as tx:
            with tx.savepoint():
                tx.execute(f"INSERT INTO {t} VALUES (10)")
            raise Boom
    assert visible(pg, t) == [1, 2, 3, 4]


def test_many_savepoints_in_a_row(db, pg, make_table):
    t = make_table("id int PRIMARY KEY")
    with db.transaction() as tx:
        for i in range(50):
            try:
                with tx.savepoint():
                    tx.execute(f"INSERT INTO {t} VALUES ($1)", [i % 10])  # only the first 10 succeed
            except data_bridge.UniqueViolation:
                pass
    assert visible(pg, t) == list(range(10))


# --------------------------------------------------------------------------
# isolation levels
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "isolation, sees_concurrent_row",
    [("read_committed", True), ("repeatable_read", False), ("serializable", False)],
)
def test_isolation_level_is_observable(db, pg, make_table, isolation, sees_concurrent_row):
    t = make_table("id int", "VALUES (1)")
    with db.transaction(isolation=isolation) as tx:
        assert tx.fetch_one(f"SELECT count(*) AS n FROM {t}") == {"n": 1}  # takes the snapshot
        pg.execute(f"INSERT INTO {t} VALUES (2)")  # committed concurrently
        expected = 2 if sees_concurrent_row else 1
        assert tx.fetch_one(f"SELECT count(*) AS n FROM {t}") == {"n": expected}
        assert tx.fetch_all(f"SELECT id FROM {t} WHERE id > $1", [0]) == [{"id": i} for i in range(1, expected + 1)]
        assert tx.read_arrow(f"SELECT id FROM {t}").num_rows == expected
    assert visible(pg, t) == [1, 2]


@pytest.mark.parametrize(
    "kwargs, shown",
    [
        ({}, "read committed"),
        ({"isolation": "read_committed"}, "read committed"),
        ({"isolation": "repeatable_read"}, "repeatable read"),
        ({"isolation": "serializable"}, "serializable"),
    ],
)
def test_show_transaction_isolation(db, kwargs, shown):
    with db.transaction(**kwargs) as tx:
        assert tx.fetch_one("SHOW transaction_isolation") == {"transaction_isolation": shown}
        assert tx.fetch_all("SELECT current_setting('transaction_isolation') AS iso") == [{"iso": shown}]
        assert tx.fetch_one("SHOW transaction_read_only") == {"transaction_read_only": "off"}
    # the pooled connection is back to the server's default afterwards
    assert db.fetch_one("SELECT current_setting('transaction_isolation') AS iso") == {"iso": "read committed"}


def test_readonly_transaction_rejects_writes(db, pg, make_table):
    t = make_table("id int", "VALUES (1)")
    read_only = data_bridge.errors.lookup("25006")
    with pytest.raises(data_bridge.DatabaseError) as info:
        with db.transaction(readonly=True) as tx:
            assert tx.fetch_one("SHOW transaction_read_only") == {"transaction_read_only": "on"}
            assert tx.fetch_all(f"SELECT id FROM {t}") == [{"id": 1}]
            tx.execute(f"INSERT INTO {t} VALUES (2)")
    assert info.value.sqlstate == "25006"
    assert isinstance(info.value, read_only)

    for write in (
        lambda tx: tx.execute(f"UPDATE {t} SET id = $1", [5]),
        lambda tx: tx.execute_many(f"INSERT INTO {t} VALUES ($1)", [[3]]),
        lambda tx: tx.write_arrow(t, pa.table({"id": pa.array([4], pa.int32())})),
    ):
        with pytest.raises(data_bridge.DatabaseError) as info:
            with db.transaction(readonly=True) as tx:
                write(tx)
        assert info.value.sqlstate == "25006"
    assert visible(pg, t) == [1]
    # readonly does not stick to the pooled connection
    assert db.execute(f"INSERT INTO {t} VALUES (2)") == 1
    assert visible(pg, t) == [1, 2]


def test_serializable_readonly_deferrable(db, pg, make_table):
    t = make_table("id int", "SELECT generate_series(1, 5)")
    with db.transaction(isolation="serializable", readonly=True, deferrable=True) as tx:
        assert tx.fetch_one(
            "SELECT current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro,"
            " current_setting('transaction_deferrable') AS def"
        ) == {"iso": "serializable", "ro": "on", "def": "on"}
        assert tx.fetch_one(f"SELECT sum(id) AS s FROM {t}") == {"s": 15}
        pg.execute(f"INSERT INTO {t} VALUES (100)")
        assert tx.fetch_one(f"SELECT sum(id) AS s FROM {t}") == {"s": 15}  # a stable snapshot
    with pytest.raises(data_bridge.DatabaseError) as info:
        with db.transaction(isolation="serializable", readonly=True, deferrable=True) as tx:
            tx.execute(f"DELETE FROM {t}")
    assert info.value.sqlstate == "25006"
    assert pg_column(pg, f"SELECT count(*) FROM {t}") == [6]


# --------------------------------------------------------------------------
# run_in_transaction
# --------------------------------------------------------------------------


def test_run_in_transaction_returns_fn_value_and_commits(db, pg, make_table):
    t = make_table("id int")
    seen = {}

    def fn(tx):
        seen["iso"] = tx.fetch_one("SELECT current_setting('transaction_isolation') AS iso")["iso"]
        tx.execute(f"INSERT INTO {t} VALUES ($1)", [1])
        tx.write_arrow(t, pa.table({"id": pa.array([2], pa.int32())}))
        return {"answer": 42}

    assert db.run_in_transaction(fn) == {"answer": 42}
    assert seen["iso"] == "serializable"  # the default
    assert visible(pg, t) == [1, 2]

    def check_level(tx):
        return tx.fetch_one("SHOW transaction_isolation")["transaction_isolation"]

    assert db.run_in_transaction(check_level, isolation="repeatable_read") == "repeatable read"
    assert db.run_in_transaction(check_level, isolation="read_committed") == "read committed"


def test_run_in_transaction_retries_a_real_write_skew(db, pg, make_table):
    """Two serializable transactions each read the sum, then insert sum + 1: run concurrently
    that is a write skew, so the server fails one (40001); its retry sees the other's row."""
    t = make_table("v int NOT NULL", "VALUES (0)")
    barrier = threading.Barrier(2, timeout=15)
    lock = threading.Lock()
    calls = {"a": 0, "b": 0}

    def worker(name):
        def fn(tx):
            with lock:
                calls[name] += 1
                first = calls[name] == 1
            total = tx.fetch_one(f"SELECT coalesce(sum(v), 0)::int AS s FROM {t}")["s"]
            if first:
                barrier.wait()  # both have read before either writes
            tx.execute(f"INSERT INTO {t} VALUES ($1)", [total + 1])
            return total

        return lambda: db.run_in_transaction(fn, retries=5)

    read_sums = run_threads(worker("a"), worker("b"))
    assert calls["a"] + calls["b"] >= 3, calls  # at least one whole re-run
    assert max(calls.values()) >= 2, calls
    # serializable outcome: as if one ran after the other
    assert sorted(read_sums) == [0, 1]
    assert pg_column(pg, f"SELECT v FROM {t} ORDER BY v") == [0, 1, 2]


def test_run_in_transaction_retries_a_real_deadlock(db, pg, make_table):
    t = make_table("id int PRIMARY KEY, v int NOT NULL", "VALUES (1, 0), (2, 0)")
    barrier = threading.Barrier(2, timeout=15)
    lock = threading.Lock()
    calls: list = []
    deadlocks: list = []

    def worker(first_id, second_id):
        def fn(tx):
            with lock:
                calls.append(first_id)
                first = calls.count(first_id) == 1
            tx.execute(f"UPDATE {t} SET v = v + 1 WHERE id = $1", [first_id])
            if first:
                barrier.wait()  # each holds one row lock, then wants the other's
            try:
                tx.execute(f"UPDATE {t} SET v = v + 1 WHERE id = $1", [second_id])
            except data_bridge.DeadlockDetected as exc:
                deadlocks.append(exc.sqlstate)
                raise
            return first_id

        return lambda: db.run_in_transaction(fn, isolation="read_committed")

    assert run_threads(worker(1, 2), worker(2, 1)) == [1, 2]
    assert deadlocks == ["40P01"]  # one victim, chosen by the server...
    assert len(calls) == 3, calls  # ...re-run once, to success
    assert pg_rows(pg, f"SELECT id, v FROM {t} ORDER BY id") == [(1, 2), (2, 2)]


@pytest.mark.parametrize("retries", [0, 2])
@pytest.mark.parametrize("error", ["SerializationFailure", "DeadlockDetected"])
def test_run_in_transaction_gives_up_after_retries(db, pg, make_table, retries, error):
    t = make_table("id int")
    calls = []

    def fn(tx):
        calls.append(tx.execute(f"INSERT INTO {t} VALUES ($1)", [len(calls)]))
        raise getattr(data_bridge, error)("simulated")

    with pytest.raises(getattr(data_bridge, error)) as info:
        db.run_in_transaction(fn, retries=retries)
    assert str(info.value) == "simulated"
    assert len(calls) == retries + 1
    assert visible(pg, t) == []  # every attempt rolled back


def test_run_in_transaction_reruns_the_whole_fn(db, pg, make_table):
    t = make_table("attempt int")
    calls = []

    def fn(tx):
        calls.append(1)
        tx.execute(f"INSERT INTO {t} VALUES ($1)", [len(calls)])
        if len(calls) < 3:
            raise data_bridge.SerializationFailure("try again")
        return tx.fetch_all(f"SELECT attempt FROM {t}")

    assert db.run_in_transaction(fn) == [{"attempt": 3}]  # earlier attempts' rows were rolled back
    assert visible(pg, t, "attempt") == [3]


def test_run_in_transaction_does_not_retry_other_errors(db, pg, make_table):
    t = make_table("id int PRIMARY KEY", "VALUES (1)")
    calls = []

    def app_error(tx):
        calls.append("app")
        tx.execute(f"INSERT INTO {t} VALUES (2)")
        raise Boom("not retryable")

    def server_error(tx):
        calls.append("server")
        tx.execute(f"INSERT INTO {t} VALUES (3)")
        tx.execute(f"INSERT INTO {t} VALUES (1)")

    def readonly_write(tx):
        calls.append("readonly")
        tx.execute(f"INSERT INTO {t} VALUES (4)")

    with pytest.raises(Boom):
        db.run_in_transaction(app_error, retries=5)
    with pytest.raises(data_bridge.UniqueViolation) as info:
        db.run_in_transaction(server_error, retries=5)
    assert info.value.sqlstate == "23505"
    with pytest.raises(data_bridge.DatabaseError) as info:
        db.run_in_transaction(readonly_write, retries=5, readonly=True)
    assert info.value.sqlstate == "25006"
    assert calls == ["app", "server", "readonly"]
    assert visible(pg, t) == [1]


def test_run_in_transaction_serializable_readonly_deferrable(db, make_table):
    t = make_table("id int", "SELECT generate_series(1, 4)")

    def fn(tx):
        settings = tx.fetch_one(
            "SELECT current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro,"
            " current_setting('transaction_deferrable') AS def"
        )
        return settings, tx.fetch_one(f"SELECT sum(id) AS s FROM {t}")["s"]

    settings, total = db.run_in_transaction(fn, readonly=True, deferrable=True)
    assert settings == {"iso": "serializable", "ro": "on", "def": "on"}
    assert total == 10


# --------------------------------------------------------------------------
# Ctrl-C inside a transaction
# --------------------------------------------------------------------------

SIGINT_CHILD = r"""
import json, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
import data_bridge

table, marker, how = sys.argv[1:4]
db = data_bridge.connect()
db.fetch_one("SELECT 1 AS warm")
sleep_sql = f"SELECT pg_sleep(30) /* {marker} */"
try:
    with db.transaction() as tx:
        tx.execute(f"INSERT INTO {table} VALUES ($1)", [1])
        pid = tx.fetch_one("SELECT pg_backend_pid() AS pid")["pid"]
        print(f"READY {pid}", flush=True)
        if how == "fetch_all":
            tx.fetch_all(sleep_sql)
        elif how == "execute":
            tx.execute(sleep_sql)
        else:
            tx.read_arrow(sleep_sql)
    print("FINISHED", flush=True)
except KeyboardInterrupt:
    print(f"KBI {time.monotonic()}", flush=True)
count = db.fetch_one(f"SELECT count(*) AS n FROM {table}")["n"]
two = db.fetch_one("SELECT $1::int + 1 AS two", [1])["two"]
with db.transaction() as tx:  # a new transaction on the same Database works too
    tx.execute(f"INSERT INTO {table} VALUES (2)")
print("AFTER " + json.dumps({"count": count, "two": two, "at": time.monotonic()}), flush=True)
sys.stdin.readline()  # keep the pool alive while the parent looks at pg_stat_activity
print("BYE", flush=True)
"""


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _expect(lines: queue.Queue, prefix: str, timeout: float, proc) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {prefix!r} line within {timeout} s") from None
        if line is None:
            raise AssertionError(f"child exited before {prefix!r}; stderr:\n{proc.stderr.read()}")
        if line.startswith("FINISHED"):
            raise AssertionError(f"the query finished instead of being interrupted (waiting for {prefix!r})")
        if line.startswith(prefix):
            return line


def _sleeping(pg, marker: str) -> list:
    return pg_column(
        pg,
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND position(%s in query) > 0"
        " AND pid <> pg_backend_pid()",
        (marker,),
    )


@pytest.mark.slow
@pytest.mark.parametrize("how", ["fetch_all", "execute", "read_arrow"])
def test_ctrl_c_inside_a_transaction_rolls_it_back(pg, make_table, how):
    t = make_table("id int")
    marker = unique_name("tx_sigint")
    proc = spawn_python(SIGINT_CHILD, t, marker, how, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    pump = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    pump.start()
    try:
        backend = int(_expect(lines, "READY", 30, proc).split()[1])
        deadline = time.monotonic() + 10
        while not _sleeping(pg, marker):
            assert time.monotonic() < deadline, "pg_sleep never showed up in pg_stat_activity"
            time.sleep(0.05)
        time.sleep(1.0)
        assert _sleeping(pg, marker) == [backend]  # on the transaction's connection
        assert visible(pg, t) == []  # the insert is not committed

        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        kbi = _expect(lines, "KBI", 10, proc)
        assert float(kbi.split()[1]) - sent < 2.0, "KeyboardInterrupt came late"
        while _sleeping(pg, marker):
            assert time.monotonic() - sent < 3.0, "pg_sleep still running on the server after Ctrl-C"
            time.sleep(0.05)

        after = json.loads(_expect(lines, "AFTER", 10, proc)[len("AFTER "):])
        assert after["count"] == 0, "the interrupted transaction's insert was visible to the child"
        assert after["two"] == 2
        assert after["at"] - sent < 10.0
        # the interrupted transaction's row never committed; the later transaction's did
        assert visible(pg, t) == [2]
        assert not _sleeping(pg, marker)
        # the connection (if the pool kept it) is idle, not left inside a transaction
        assert pg_column(pg, "SELECT state FROM pg_stat_activity WHERE pid = %s", (backend,)) in ([], ["idle"])
        proc.stdin.write("exit\n")
        proc.stdin.flush()
        _expect(lines, "BYE", 10, proc)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        pump.join(5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()
        for pid in _sleeping(pg, marker):  # never leave a runaway query behind
            pg.execute("SELECT pg_terminate_backend(%s)", (pid,))
