"""Parallel loads: ``write_arrow(..., mode="create"|"replace", connections=N)`` against the real
server. The rows land over several connections in a staging table that takes the target's name
in one transaction; any failure leaves the target as it was and no staging table behind."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

import data_bridge
from conftest import DSN, pg_column, unique_name

ROWS = 300_000


@pytest.fixture
def target(pg):
    name = unique_name("pload")
    yield name
    pg.execute(f"DROP VIEW IF EXISTS {name}_v")
    pg.execute(f"DROP TABLE IF EXISTS {name}")


def data(rows: int = ROWS, offset: int = 0) -> pa.Table:
    ids = pa.array(range(offset, offset + rows), pa.int64())
    return pa.table({"id": ids, "label": pa.array([f"row {i}" for i in range(offset, offset + rows)])})


def contents(pg, table: str) -> tuple:
    return tuple(pg_column(pg, f"SELECT {expr} FROM {table}")[0] for expr in ("count(*)", "sum(id)", "max(label)"))


def staging_tables(pg) -> list:
    return pg_column(pg, "SELECT relname FROM pg_class WHERE relname LIKE 'data_bridge_load%'")


def assert_left_as_it_was(pg, target: str, rows: int = 10) -> None:
    """A failed load: the target still holds its `rows` rows, and no staging table is left."""
    assert contents(pg, target)[0] == rows
    assert staging_tables(pg) == []


@pytest.mark.parametrize("connections", [1, 2, 4])
def test_create_loads_every_row(db, pg, target, connections):
    assert db.write_arrow(target, data(), mode="create", connections=connections) == ROWS
    assert contents(pg, target) == (ROWS, ROWS * (ROWS - 1) // 2, "row 99999")
    assert staging_tables(pg) == []


def test_replace_swaps_the_whole_table_in(db, pg, target):
    db.write_arrow(target, data(10), mode="create")
    assert db.write_arrow(target, data(offset=5), mode="replace", connections=3) == ROWS
    assert contents(pg, target)[0] == ROWS
    assert pg_column(pg, f"SELECT min(id) FROM {target}") == [5]
    assert staging_tables(pg) == []


def test_readers_see_the_old_table_or_the_whole_new_one(db, pg, target):
    db.write_arrow(target, data(1000), mode="create")
    counts: list = []
    done = threading.Event()

    errors: list = []

    def watch() -> None:
        reader = data_bridge.connect(DSN)
        try:
            while not done.is_set():
                counts.append(reader.fetch_one(f"SELECT count(*) AS n FROM {target}")["n"])
        except data_bridge.Error as exc:  # asserted below: the swap must not break readers
            errors.append(exc)
        finally:
            reader.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        db.write_arrow(target, data(), mode="replace", connections=2)
    finally:
        done.set()
        watcher.join()
    assert errors == []
    assert set(counts) <= {1000, ROWS}
    assert contents(pg, target)[0] == ROWS


def test_create_refuses_an_existing_table_before_loading(db, pg, target):
    db.write_arrow(target, data(10), mode="create")
    with pytest.raises(data_bridge.ProgrammingError) as raised:
        db.write_arrow(target, data(), mode="create", connections=2)
    assert raised.value.sqlstate == "42P07"
    assert_left_as_it_was(pg, target)


def test_a_failing_source_leaves_the_target_as_it_was(db, pg, target):
    db.write_arrow(target, data(10), mode="create")
    whole = data()

    def batches():
        yield from whole.slice(0, 200_000).to_batches(50_000)
        raise ValueError("the source broke")

    reader = pa.RecordBatchReader.from_batches(whole.schema, batches())
    with pytest.raises(data_bridge.DataError, match="reading the data failed"):
        db.write_arrow(target, reader, mode="replace", connections=3)
    assert_left_as_it_was(pg, target)


def test_a_dependent_view_blocks_replace_and_keeps_the_table(db, pg, target):
    db.write_arrow(target, data(10), mode="create")
    pg.execute(f"CREATE VIEW {target}_v AS SELECT * FROM {target}")
    with pytest.raises(data_bridge.DatabaseError) as raised:
        db.write_arrow(target, data(), mode="replace", connections=2)
    assert raised.value.sqlstate == "2BP01"
    assert_left_as_it_was(pg, target)


def test_append_and_upsert_stay_on_one_connection_and_atomic(db, pg, target):
    db.write_arrow(target, data(10), mode="create")
    assert db.write_arrow(target, data(10, offset=10), mode="append", connections=4) == 10
    assert contents(pg, target)[0] == 20
    bad = pa.table({"id": pa.array([100, None], pa.int64()), "label": ["x", "y"]})
    pg.execute(f"ALTER TABLE {target} ALTER COLUMN id SET NOT NULL")
    with pytest.raises(data_bridge.IntegrityError):
        db.write_arrow(target, bad, mode="append", connections=4)
    assert contents(pg, target)[0] == 20


def test_inside_a_transaction_parallel_create_is_refused(db, target):
    with db.transaction() as tx:
        with pytest.raises(data_bridge.ProgrammingError, match="connections of its own"):
            tx.write_arrow(target, data(10), mode="create", connections=2)
        assert tx.write_arrow(target, data(10), mode="create", connections=1) == 10


def test_connections_must_be_positive(db, target):
    with pytest.raises(data_bridge.ProgrammingError, match="connections"):
        db.write_arrow(target, data(10), mode="create", connections=0)


def test_concurrent_loads_on_a_small_pool_do_not_wait_for_each_other(pg):
    # Each load takes the connections beyond its first only if they are free.
    db = data_bridge.connect(DSN, max_connections=2, acquire_timeout=5)
    names = [unique_name("pload") for _ in range(4)]
    errors: list = []

    def load(name: str) -> None:
        try:
            db.write_arrow(name, data(50_000), mode="create", connections=2)
        except Exception as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(name,)) for name in names]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [contents(pg, name)[0] for name in names] == [50_000] * 4
    finally:
        db.close()
        for name in names:
            pg.execute(f"DROP TABLE IF EXISTS {name}")
