"""data_bridge.aio: the asyncio API, against a real server.

Each test runs its own event loop with ``asyncio.run`` (in a watchdog thread, so a hang
fails the test instead of the session) and opens its own AsyncDatabase inside it; psycopg
(``pg``, autocommit) is the reference client that checks what was committed and what
still runs on the server."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from decimal import Decimal

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import data_bridge
import data_bridge.aio as aio
from conftest import DSN, pg_column, pg_rows, run_with_timeout, unique_name

UTC = dt.timezone.utc


def run(coro, timeout: float = 60.0):
    """``asyncio.run(coro)``; fails the test if it does not finish within ``timeout`` s."""
    return run_with_timeout(asyncio.run, timeout, coro)


@pytest.fixture
def items(make_table):
    """``items(id int primary key, v text)`` holding ids 1..3."""
    return make_table("id int PRIMARY KEY, v text", "SELECT i, 'v' || i FROM generate_series(1, 3) i")


def ids(pg, table: str) -> list:
    return pg_column(pg, f"SELECT id FROM {table} ORDER BY id")


def running(pg, marker: str) -> list:
    """Other backends whose current statement contains ``marker`` (the marker is bound, so
    this query's own text does not contain it)."""
    return pg_column(
        pg,
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        " AND state = 'active' AND position(%s in query) > 0",
        [marker],
    )


def wait_until_gone(pg, marker: str, timeout: float = 3.0) -> list:
    """Polls until no backend runs a statement containing ``marker``; returns what is left."""
    deadline = time.monotonic() + timeout
    while True:
        left = running(pg, marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


# --------------------------------------------------------------------------
# connect, reads
# --------------------------------------------------------------------------


def test_connect_returns_async_database_and_reads_arrow():
    async def main():
        db = await aio.connect(DSN)
        try:
            plain = await db.read_arrow("SELECT i, 'x' || i AS s FROM generate_series(1, 3) i")
            bound = await db.read_arrow("SELECT $1::int8 AS a, $2::text AS b", [7, "seven"])
            many = await db.read_arrow("SELECT i FROM generate_series(1, 100000) i")
            return type(db).__name__, plain, bound, many
        finally:
            await db.close()

    name, plain, bound, many = run(main())
    assert name == "AsyncDatabase"
    assert isinstance(plain, pa.Table)
    assert plain.to_pydict() == {"i": [1, 2, 3], "s": ["x1", "x2", "x3"]}
    assert bound.schema.field("a").type == pa.int64()
    assert bound.to_pydict() == {"a": [7], "b": ["seven"]}
    assert many.num_rows == 100000 and many.column("i").to_pylist()[-1] == 100000


def test_read_pandas_and_read_polars():
    async def main():
        async with await aio.connect(DSN) as db:
            frame = await db.read_pandas("SELECT i, i * 2 AS d FROM generate_series(1, 4) i WHERE i > $1", [1])
            polars_frame = await db.read_polars("SELECT i, 'p' || i AS s FROM generate_series(1, 3) i")
            return frame, polars_frame

    frame, polars_frame = run(main())
    assert isinstance(frame, pd.DataFrame)
    assert frame["i"].tolist() == [2, 3, 4] and frame["d"].tolist() == [4, 6, 8]
    assert isinstance(polars_frame, pl.DataFrame)
    assert polars_frame.to_dict(as_series=False) == {"i": [1, 2, 3], "s": ["p1", "p2", "p3"]}


def test_read_arrow_types_option_passes_through():
    async def main():
        async with await aio.connect(DSN) as db:
            return await db.read_arrow("SELECT 1.5::numeric(10,2) AS n", types={"numeric": "float64"})

    table = run(main())
    assert table.schema.field("n").type == pa.float64()
    assert table.to_pydict() == {"n": [1.5]}


def test_connect_to_refused_port_is_operational_error():
    async def main():
        db = await aio.connect("postgresql://postgres@127.0.0.1:1/test", connect_timeout=2.0)
        try:
            await db.fetch_one("SELECT 1")
        finally:
            await db.close()

    # connect may open no connection up front (min_connections=0): then the call fails
    with pytest.raises(data_bridge.OperationalError):
        run(main())


def test_async_with_closes_and_later_calls_raise_interface_error():
    async def main():
        async with await aio.connect(DSN) as db:
            assert await db.fetch_one("SELECT 1 AS one") == {"one": 1}
        with pytest.raises(data_bridge.InterfaceError):
            await db.fetch_one("SELECT 1")
        return True

    assert run(main())


def test_close_then_every_call_raises_interface_error(items):
    async def main():
        db = await aio.connect(DSN)
        await db.fetch_one("SELECT 1")
        await db.close()
        raised = {}
        calls = {
            "read_arrow": lambda: db.read_arrow("SELECT 1"),
            "read_pandas": lambda: db.read_pandas("SELECT 1"),
            "read_polars": lambda: db.read_polars("SELECT 1"),
            "write_arrow": lambda: db.write_arrow(items, pa.table({"id": [9], "v": ["x"]})),
            "execute": lambda: db.execute("SELECT 1"),
            "execute_many": lambda: db.execute_many("SELECT $1::int", [[1]]),
            "fetch_all": lambda: db.fetch_all("SELECT 1"),
            "fetch_one": lambda: db.fetch_one("SELECT 1"),
        }
        for name, call in calls.items():
            try:
                await call()
            except Exception as exc:  # noqa: BLE001 - recorded and asserted below
                raised[name] = exc
            else:
                raised[name] = None
        return raised

    raised = run(main())
    wrong = {name: exc for name, exc in raised.items() if not isinstance(exc, data_bridge.InterfaceError)}
    assert wrong == {}


def test_status_reports_pool_occupancy():
    async def main():
        async with await aio.connect(DSN, max_connections=4) as db:
            await asyncio.gather(*(db.fetch_one("SELECT pg_sleep(0.1)") for _ in range(4)))
            return db.status()

    status = run(main())
    assert set(status) >= {"size", "idle", "in_use", "waiting", "max_size"}
    assert status["max_size"] == 4
    assert 1 <= status["size"] <= 4
    assert status["in_use"] == 0 and status["waiting"] == 0
    assert status["idle"] == status["size"]


# --------------------------------------------------------------------------
# execute, execute_many, fetch_all, fetch_one
# --------------------------------------------------------------------------

MIXED_SQL = """
SELECT i AS int4, i::int8 * 10000000000 AS int8, 'row ' || i AS text,
       (i * 1.25)::numeric(10,2) AS amount, i % 2 = 0 AS flag, i / 4.0::float8 AS f8,
       DATE '2024-01-01' + i AS day,
       TIMESTAMPTZ '2024-01-01 12:00:00+00' + i * INTERVAL '1 hour' AS at,
       CASE WHEN i = 2 THEN NULL ELSE i END AS maybe
FROM generate_series(1, 3) i ORDER BY i
"""


def test_fetch_all_and_fetch_one_values():
    async def main():
        async with await aio.connect(DSN) as db:
            return (
                await db.fetch_all(MIXED_SQL),
                await db.fetch_one(MIXED_SQL),
                await db.read_arrow(MIXED_SQL),
                await db.fetch_one("SELECT 1 AS one WHERE false"),
                await db.fetch_all("SELECT 1 AS one WHERE false"),
                await db.fetch_one("SELECT $1::int + 1 AS n, $2::text AS t", [41, "é"]),
                await db.fetch_all("SELECT i FROM generate_series(1, $1::int) i", [3]),
            )

    rows, first, table, none, empty, bound, by_param = run(main())
    assert rows == table.to_pylist()  # the same type mapping as read_arrow
    assert first == rows[0]
    assert rows[0] == {
        "int4": 1, "int8": 10000000000, "text": "row 1", "amount": Decimal("1.25"), "flag": False,
        "f8": 0.25, "day": dt.date(2024, 1, 2), "at": dt.datetime(2024, 1, 1, 13, tzinfo=UTC),
        "maybe": 1,
    }
    assert isinstance(rows[0]["amount"], Decimal)
    assert rows[0]["at"].utcoffset() == dt.timedelta(0)
    assert rows[1]["maybe"] is None and rows[1]["flag"] is True
    assert [r["amount"] for r in rows] == [Decimal("1.25"), Decimal("2.50"), Decimal("3.75")]
    assert none is None
    assert empty == []
    assert bound == {"n": 42, "t": "é"}
    assert by_param == [{"i": 1}, {"i": 2}, {"i": 3}]


def test_execute_returns_rows_affected(pg, items):
    async def main():
        async with await aio.connect(DSN) as db:
            return (
                await db.execute(f"INSERT INTO {items} VALUES ($1, $2)", [4, "four"]),
                await db.execute(f"UPDATE {items} SET v = v || '!' WHERE id <= $1", [3]),
                await db.execute(f"UPDATE {items} SET v = 'none' WHERE id > 100"),
                # several statements without params: the last one's count
                await db.execute(
                    f"INSERT INTO {items} VALUES (5, 'five'); DELETE FROM {items} WHERE id IN (1, 2)"
                ),
            )

    assert run(main()) == (1, 3, 0, 2)
    assert pg_rows(pg, f"SELECT id, v FROM {items} ORDER BY id") == [(3, "v3!"), (4, "four"), (5, "five")]


def test_execute_many_all_rows_in_one_transaction(pg, items):
    async def main():
        async with await aio.connect(DSN) as db:
            total = await db.execute_many(
                f"INSERT INTO {items} VALUES ($1, $2)", ((i, f"n{i}") for i in range(10, 110))
            )
            updated = await db.execute_many(f"UPDATE {items} SET v = $2 WHERE id = $1", [(1, "a"), (2, "b"), (999, "c")])
            with pytest.raises(data_bridge.UniqueViolation) as info:
                # the last row collides: nothing of this call may stay
                await db.execute_many(f"INSERT INTO {items} VALUES ($1, $2)", [(200, "x"), (201, "y"), (3, "dup")])
            return total, updated, info.value.sqlstate

    total, updated, sqlstate = run(main())
    assert (total, updated, sqlstate) == (100, 2, "23505")
    assert ids(pg, items) == [1, 2, 3, *range(10, 110)]
    assert pg_rows(pg, f"SELECT v FROM {items} WHERE id <= 3 ORDER BY id") == [("a",), ("b",), ("v3",)]


def test_write_arrow_pyarrow_table(pg, make_table):
    name = make_table("id int8 PRIMARY KEY, v text, amount numeric(12,2), at timestamptz")
    data = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "v": ["a", None, "c"],
            "amount": pa.array([Decimal("1.10"), Decimal("-2.25"), None], pa.decimal128(12, 2)),
            "at": pa.array([dt.datetime(2024, 5, 1, tzinfo=UTC)] * 3, pa.timestamp("us", tz="UTC")),
        }
    )

    async def main():
        async with await aio.connect(DSN) as db:
            written = await db.write_arrow(name, data)
            upserted = await db.write_arrow(
                name, pa.table({"id": pa.array([3], pa.int64()), "v": ["C"]}), mode="upsert", key=["id"]
            )
            back = await db.read_arrow(f"SELECT * FROM {name} ORDER BY id")
            return written, upserted, back

    written, upserted, back = run(main())
    assert (written, upserted) == (3, 1)
    assert back.column("v").to_pylist() == ["a", None, "C"]
    assert pg_rows(pg, f"SELECT id, v, amount FROM {name} ORDER BY id") == [
        (1, "a", Decimal("1.10")), (2, None, Decimal("-2.25")), (3, "C", None)
    ]


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_errors_keep_their_classes(items):
    async def main():
        async with await aio.connect(DSN) as db:
            caught = []
            calls = [
                lambda: db.execute(f"INSERT INTO {items} VALUES (1, 'dup')"),
                lambda: db.execute(f"INSERT INTO {items} VALUES ($1, $2)", [1, "dup"]),
                lambda: db.fetch_one("SELECT 1 / 0"),
                lambda: db.fetch_all("SELECT 1 / $1::int", [0]),
                lambda: db.read_arrow("SELECT * FROM dbt_no_such_table_aio"),
                lambda: db.read_pandas("SELEC 1"),
                lambda: db.fetch_one("SELECT 'abc'::int"),
            ]
            for call in calls:
                try:
                    await call()
                except data_bridge.Error as exc:
                    caught.append(exc)
                else:
                    caught.append(None)
            after = await db.fetch_one("SELECT 1 AS one")  # still usable
            return caught, after

    caught, after = run(main())
    expected = [
        (data_bridge.UniqueViolation, "23505"),
        (data_bridge.UniqueViolation, "23505"),
        (data_bridge.DivisionByZero, "22012"),
        (data_bridge.DivisionByZero, "22012"),
        (data_bridge.UndefinedTable, "42P01"),
        (data_bridge.errors.SyntaxError, "42601"),
        (data_bridge.InvalidTextRepresentation, "22P02"),
    ]
    assert [(type(e), e.sqlstate if e else None) for e in caught] == expected
    assert isinstance(caught[0], data_bridge.IntegrityError)
    assert caught[0].diag.constraint_name == f"{items}_pkey"
    assert after == {"one": 1}


def test_statement_timeout_is_query_canceled():
    async def main():
        async with await aio.connect(DSN, statement_timeout=0.2) as db:
            with pytest.raises(data_bridge.QueryCanceled) as info:
                await db.fetch_one("SELECT pg_sleep(5)")
            return info.value.sqlstate, await db.fetch_one("SELECT 1 AS one")

    started = time.monotonic()
    assert run(main()) == ("57014", {"one": 1})
    assert time.monotonic() - started < 4


def test_pool_timeout_when_exhausted():
    async def main():
        async with await aio.connect(DSN, max_connections=1, acquire_timeout=0.3) as db:
            holder = asyncio.create_task(db.fetch_one("SELECT pg_sleep(2)"))
            await asyncio.sleep(0.3)  # the one connection is taken
            started = time.monotonic()
            with pytest.raises(data_bridge.PoolTimeout) as info:
                await db.fetch_one("SELECT 1")
            waited = time.monotonic() - started
            await holder
            return waited, info.value, await db.fetch_one("SELECT 1 AS one")

    waited, exc, after = run(main())
    assert isinstance(exc, data_bridge.OperationalError)
    assert 0.2 <= waited < 1.5
    assert after == {"one": 1}


# --------------------------------------------------------------------------
# transactions
# --------------------------------------------------------------------------


def test_transaction_commits_on_success(pg, items):
    async def main():
        async with await aio.connect(DSN) as db:
            async with db.transaction() as tx:
                await tx.execute(f"INSERT INTO {items} VALUES ($1, $2)", [4, "four"])
                await tx.write_arrow(items, pa.table({"id": pa.array([5], pa.int32()), "v": ["five"]}))
                await tx.execute_many(f"INSERT INTO {items} VALUES ($1, $2)", [(6, "six"), (7, "seven")])
                inside = await tx.fetch_all(f"SELECT id FROM {items} ORDER BY id")
                seen_outside = ids(pg, items)  # not committed yet
                arrow = await tx.read_arrow(f"SELECT count(*) AS n FROM {items}")
                frame = await tx.read_pandas(f"SELECT count(*) AS n FROM {items}")
                polars_frame = await tx.read_polars(f"SELECT count(*) AS n FROM {items}")
                one = await tx.fetch_one(f"SELECT v FROM {items} WHERE id = $1", [5])
            return inside, seen_outside, arrow, frame, polars_frame, one

    inside, seen_outside, arrow, frame, polars_frame, one = run(main())
    assert [r["id"] for r in inside] == [1, 2, 3, 4, 5, 6, 7]
    assert seen_outside == [1, 2, 3]
    assert arrow.to_pydict() == {"n": [7]}
    assert frame["n"].tolist() == [7] and polars_frame["n"].to_list() == [7]
    assert one == {"v": "five"}
    assert ids(pg, items) == [1, 2, 3, 4, 5, 6, 7]


def test_transaction_rolls_back_on_exception_and_reraises(pg, items):
    class Boom(Exception):
        pass

    async def main():
        async with await aio.connect(DSN) as db:
            with pytest.raises(Boom):
                async with db.transaction() as tx:
                    await tx.execute(f"INSERT INTO {items} VALUES (4, 'four')")
                    await tx.write_arrow(items, pa.table({"id": pa.array([5], pa.int32()), "v": ["five"]}))
                    raise Boom
            with pytest.raises(data_bridge.UniqueViolation):
                async with db.transaction() as tx:
                    await tx.execute(f"INSERT INTO {items} VALUES (6, 'six')")
                    await tx.execute(f"INSERT INTO {items} VALUES (1, 'dup')")
            # the connections went back to the pool clean
            return await db.fetch_one("SELECT count(*) AS n FROM " + items)

    assert run(main()) == {"n": 3}
    assert ids(pg, items) == [1, 2, 3]


def test_explicit_commit_and_rollback_then_calls_raise(pg, items):
    async def main():
        async with await aio.connect(DSN) as db:
            async with db.transaction() as tx:
                await tx.execute(f"INSERT INTO {items} VALUES (4, 'four')")
                await tx.commit()
                with pytest.raises(data_bridge.InterfaceError):
                    await tx.fetch_one("SELECT 1")
            async with db.transaction() as tx:
                await tx.execute(f"INSERT INTO {items} VALUES (5, 'five')")
                await tx.rollback()
                with pytest.raises(data_bridge.InterfaceError):
                    await tx.execute(f"INSERT INTO {items} VALUES (6, 'six')")
            return True

    assert run(main())
    assert ids(pg, items) == [1, 2, 3, 4]


def test_transaction_options_reach_the_server():
    async def main():
        async with await aio.connect(DSN) as db:
            async with db.transaction(isolation="serializable", readonly=True, deferrable=True) as tx:
                a = await tx.fetch_one(
                    "SELECT current_setting('transaction_isolation') AS iso,"
                    " current_setting('transaction_read_only') AS ro,"
                    " current_setting('transaction_deferrable') AS de"
                )
            async with db.transaction(isolation="repeatable_read") as tx:
                b = await tx.fetch_one("SELECT current_setting('transaction_isolation') AS iso")
            async with db.transaction() as tx:
                c = await tx.fetch_one("SELECT current_setting('transaction_isolation') AS iso")
            return a, b, c

    a, b, c = run(main())
    assert a == {"iso": "serializable", "ro": "on", "de": "on"}
    assert b == {"iso": "repeatable read"}
    assert c == {"iso": "read committed"}


def test_nested_savepoints(pg, items):
    class Boom(Exception):
        pass

    async def main():
        async with await aio.connect(DSN) as db:
            async with db.transaction() as tx:
                await tx.execute(f"INSERT INTO {items} VALUES (10, 'outer')")
                async with tx.savepoint():
                    await tx.execute(f"INSERT INTO {items} VALUES (11, 'sp1')")
                    async with tx.savepoint():
                        await tx.execute(f"INSERT INTO {items} VALUES (12, 'sp2')")
                        with pytest.raises(Boom):
                            async with tx.savepoint():
                                await tx.execute(f"INSERT INTO {items} VALUES (13, 'sp3')")
                                raise Boom
                        with pytest.raises(data_bridge.UniqueViolation):
                            async with tx.savepoint():
                                await tx.execute(f"INSERT INTO {items} VALUES (14, 'sp3b')")
                                await tx.execute(f"INSERT INTO {items} VALUES (1, 'dup')")
                    with pytest.raises(Boom):
                        async with tx.savepoint():
                            await tx.execute(f"INSERT INTO {items} VALUES (15, 'sp2b')")
                            async with tx.savepoint():
                                await tx.execute(f"INSERT INTO {items} VALUES (16, 'sp3c')")
                            raise Boom  # rolls back 15 and the released 16
                await tx.execute(f"INSERT INTO {items} VALUES (17, 'after')")
                return [r["id"] for r in await tx.fetch_all(f"SELECT id FROM {items} WHERE id >= 10 ORDER BY id")]

    inside = run(main())
    assert inside == [10, 11, 12, 17]
    assert ids(pg, items) == [1, 2, 3, 10, 11, 12, 17]


def test_transaction_ends_when_its_task_is_cancelled(pg, items):
    marker = unique_name("txcancel")

    async def main():
        async with await aio.connect(DSN) as db:
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                async with db.transaction() as tx:
                    await tx.execute(f"INSERT INTO {items} VALUES (4, 'four')")
                    await asyncio.wait_for(tx.fetch_one(f"SELECT pg_sleep(30) /* {marker} */"), 0.5)
            return time.monotonic() - started, await db.fetch_one("SELECT 1 AS one")

    elapsed, after = run(main())
    assert elapsed < 3
    assert after == {"one": 1}
    assert wait_until_gone(pg, marker) == []
    assert ids(pg, items) == [1, 2, 3]


# --------------------------------------------------------------------------
# run_in_transaction
# --------------------------------------------------------------------------


def test_run_in_transaction_retries_a_raised_serialization_failure(pg, items):
    attempts = []

    async def work(tx):
        attempts.append(len(attempts) + 1)
        await tx.execute(f"INSERT INTO {items} VALUES ($1, 'attempt')", [100 + len(attempts)])
        if len(attempts) < 3:
            raise data_bridge.SerializationFailure("simulated conflict", sqlstate="40001")
        return "done"

    async def main():
        async with await aio.connect(DSN) as db:
            return await db.run_in_transaction(work, retries=3)

    assert run(main()) == "done"
    assert attempts == [1, 2, 3]
    assert ids(pg, items) == [1, 2, 3, 103]  # the failed attempts were rolled back


def test_run_in_transaction_retries_server_serialization_failure_and_deadlock(pg, items):
    attempts = []
    raisers = [
        "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$",
        "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected'; END $$",
    ]

    async def work(tx):
        attempts.append(len(attempts) + 1)
        await tx.execute(f"UPDATE {items} SET v = v || '+' WHERE id = 1")
        if len(attempts) <= len(raisers):
            await tx.execute(raisers[len(attempts) - 1])
        return await tx.fetch_one(f"SELECT v FROM {items} WHERE id = 1")

    async def main():
        async with await aio.connect(DSN) as db:
            return await db.run_in_transaction(work)

    assert run(main()) == {"v": "v1+"}
    assert attempts == [1, 2, 3]
    assert pg_column(pg, f"SELECT v FROM {items} WHERE id = 1") == ["v1+"]


def test_run_in_transaction_retries_a_real_serialization_conflict(pg, items):
    attempts = []

    async def work(tx):
        attempts.append(len(attempts) + 1)
        row = await tx.fetch_one(f"SELECT v FROM {items} WHERE id = 2")  # takes the snapshot
        if len(attempts) == 1:
            pg.execute(f"UPDATE {items} SET v = v || '-other' WHERE id = 2")  # a concurrent commit
        await tx.execute(f"UPDATE {items} SET v = v || '-mine' WHERE id = 2")  # 40001 on attempt 1
        return row["v"]

    async def main():
        async with await aio.connect(DSN) as db:
            return await db.run_in_transaction(work, isolation="serializable")

    assert run(main()) == "v2-other"
    assert attempts == [1, 2]
    assert pg_column(pg, f"SELECT v FROM {items} WHERE id = 2") == ["v2-other-mine"]


def test_run_in_transaction_gives_up_after_retries(pg, items):
    attempts = []

    async def work(tx):
        attempts.append(1)
        await tx.execute(f"INSERT INTO {items} VALUES ($1, 'x')", [200 + len(attempts)])
        await tx.execute("DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = 'serialization_failure'; END $$")

    async def main():
        async with await aio.connect(DSN) as db:
            with pytest.raises(data_bridge.SerializationFailure) as info:
                await db.run_in_transaction(work, retries=2)
            return info.value.sqlstate

    assert run(main()) == "40001"
    assert len(attempts) == 3  # the first run and 2 retries
    assert ids(pg, items) == [1, 2, 3]


def test_run_in_transaction_other_errors_are_not_retried(pg, items):
    attempts = []

    async def work(tx):
        attempts.append(1)
        await tx.execute(f"INSERT INTO {items} VALUES (300, 'x')")
        raise ValueError("not retried")

    async def unique(tx):
        attempts.append(1)
        await tx.execute(f"INSERT INTO {items} VALUES (1, 'dup')")

    async def main():
        async with await aio.connect(DSN) as db:
            with pytest.raises(ValueError, match="not retried"):
                await db.run_in_transaction(work)
            with pytest.raises(data_bridge.UniqueViolation):
                await db.run_in_transaction(unique)
            return True

    assert run(main())
    assert len(attempts) == 2
    assert ids(pg, items) == [1, 2, 3]


# --------------------------------------------------------------------------
# the event loop keeps running; concurrency; cancellation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fetch_one", "fetch_all", "execute", "read_arrow", "transaction"])
def test_event_loop_is_not_blocked_during_a_query(method):
    async def main():
        async with await aio.connect(DSN) as db:
            await db.fetch_one("SELECT 1")  # a connection is open
            ticks = 0
            stop = asyncio.Event()

            async def ticker():
                nonlocal ticks
                while not stop.is_set():
                    await asyncio.sleep(0.01)
                    ticks += 1

            task = asyncio.create_task(ticker())
            await asyncio.sleep(0.02)
            before, started = ticks, time.monotonic()
            if method == "transaction":
                async with db.transaction() as tx:
                    await tx.fetch_one("SELECT pg_sleep(1)")
            else:
                await getattr(db, method)("SELECT pg_sleep(1)")
            during, elapsed = ticks - before, time.monotonic() - started
            stop.set()
            await task
            return during, elapsed

    during, elapsed = run(main())
    assert elapsed >= 0.95
    assert during >= 50, f"only {during} ticks of 10 ms in {elapsed:.2f} s: the event loop was blocked"


def test_concurrent_queries_run_in_parallel():
    async def main():
        async with await aio.connect(DSN, max_connections=20) as db:
            started = time.monotonic()
            rows = await asyncio.gather(
                *(db.fetch_one("SELECT $1::int AS n, pg_sleep(0.5)::text AS s", [n]) for n in range(20))
            )
            return time.monotonic() - started, rows

    elapsed, rows = run(main())
    assert [r["n"] for r in rows] == list(range(20))
    assert elapsed < 3, f"20 x pg_sleep(0.5) on 20 connections took {elapsed:.2f} s"


def test_pool_never_exceeds_max_connections(pg):
    app = unique_name("app")
    peak = 0

    async def main():
        nonlocal peak
        async with await aio.connect(DSN, max_connections=3, application_name=app) as db:

            async def watch():
                nonlocal peak
                while True:
                    n = pg_column(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app])[0]
                    peak = max(peak, n)
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch())
            started = time.monotonic()
            await asyncio.gather(*(db.fetch_one("SELECT pg_sleep(0.3)") for _ in range(9)))
            elapsed = time.monotonic() - started
            watcher.cancel()
            return elapsed, db.status()

    elapsed, status = run(main())
    assert 0.85 <= elapsed < 3  # three waves of three
    assert 1 <= peak <= 3
    assert status["max_size"] == 3 and status["size"] <= 3


CANCEL_CALLS = {
    "fetch_one": lambda db, m: db.fetch_one(f"SELECT pg_sleep(30) /* {m} */"),
    "fetch_one_params": lambda db, m: db.fetch_one(f"SELECT pg_sleep($1) /* {m} */", [30]),
    "read_arrow": lambda db, m: db.read_arrow(f"SELECT pg_sleep(30) /* {m} */"),
    "execute": lambda db, m: db.execute(f"SELECT pg_sleep(30) /* {m} */"),
}


@pytest.mark.parametrize("call", list(CANCEL_CALLS))
def test_wait_for_timeout_cancels_the_query_on_the_server(pg, call):
    marker = unique_name("cancel")

    async def main():
        async with await aio.connect(DSN) as db:
            await db.fetch_one("SELECT 1")
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(CANCEL_CALLS[call](db, marker), 0.5)
            elapsed = time.monotonic() - started
            left = await asyncio.to_thread(wait_until_gone, pg, marker)
            after = await db.fetch_one("SELECT 1 AS one")
            return elapsed, left, after

    elapsed, left, after = run(main())
    assert elapsed < 2.5, f"wait_for(..., 0.5) returned after {elapsed:.2f} s"
    assert left == [], "the backend still runs pg_sleep(30)"
    assert after == {"one": 1}


def test_task_cancel_cancels_the_query_on_the_server(pg):
    marker = unique_name("cancel")

    async def main():
        async with await aio.connect(DSN, max_connections=1) as db:
            task = asyncio.create_task(db.fetch_one(f"SELECT pg_sleep(30) /* {marker} */"))
            await asyncio.sleep(0.5)
            seen_running = await asyncio.to_thread(running, pg, marker)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            left = await asyncio.to_thread(wait_until_gone, pg, marker)
            # the only connection is usable again
            after = await asyncio.wait_for(db.fetch_one("SELECT 2 AS two"), 5)
            return seen_running, left, after

    seen_running, left, after = run(main())
    assert len(seen_running) == 1
    assert left == []
    assert after == {"two": 2}
