"""The connection pool: occupancy, exhaustion, sizing, per-connection settings, recycling,
recovery from dead connections and server restarts, close(), and many threads at once.

Each test opens its own pool with a unique application_name, so that psycopg (the reference
client) can count that pool's backends in pg_stat_activity. A connection is held busy by an
open read_batches reader that has read one batch of a long streamed result.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

import data_bridge
from clusters import Cluster
from conftest import DSN, pg_column, run_with_timeout, unique_name

# A result streamed row by row (a set-returning function in the select list is not
# materialized first), so a reader holding it open keeps its connection busy.
LONG_STREAM = "SELECT generate_series(1, 100000000) AS g"


@pytest.fixture
def app() -> str:
    """A unique application_name for this test's pool."""
    return unique_name("pool")


@pytest.fixture(scope="module")
def restart_cluster():
    """A server of our own, since the test restarts it."""
    with Cluster() as c:
        yield c


@contextlib.contextmanager
def holding(db) -> Iterator[None]:
    """Keeps one pooled connection busy with an open reader."""
    reader = db.read_batches(LONG_STREAM, batch_rows=1000)
    try:
        assert reader.read_next_batch().num_rows == 1000
        yield
    finally:
        reader.close()


@contextlib.contextmanager
def holding_transaction(db) -> Iterator[None]:
    """Keeps one pooled connection busy with an open transaction."""
    with db.transaction() as tx:
        assert tx.fetch_one("SELECT 1 AS one") == {"one": 1}
        yield


def backends(pg, app: str) -> list[int]:
    """Pids of the server backends of the pool named ``app``."""
    return pg_column(
        pg,
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND backend_type = 'client backend'"
        " ORDER BY pid",
        (app,),
    )


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Polls ``predicate`` until it is true (-> True) or ``timeout`` seconds pass (-> False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def pid_of(db) -> int:
    return db.fetch_one("SELECT pg_backend_pid() AS pid")["pid"]


# ---------------------------------------------------------------------- status and exhaustion


def test_status_while_readers_hold_connections(pg, app):
    """status() counts what the server sees: open, idle and busy connections."""
    with data_bridge.connect(DSN, max_connections=3, application_name=app) as db:
        assert db.fetch_one("SELECT 1 AS one") == {"one": 1}
        assert wait_until(lambda: db.status()["in_use"] == 0, 5), db.status()
        assert db.status() == {"size": 1, "idle": 1, "in_use": 0, "waiting": 0, "max_size": 3}
        with holding(db):
            assert db.status() == {"size": 1, "idle": 0, "in_use": 1, "waiting": 0, "max_size": 3}
            with holding(db):
                assert db.status() == {"size": 2, "idle": 0, "in_use": 2, "waiting": 0, "max_size": 3}
                assert len(backends(pg, app)) == 2
            assert wait_until(lambda: db.status()["in_use"] == 1, 5), db.status()
        assert wait_until(lambda: db.status()["in_use"] == 0, 5), db.status()
        status = db.status()
        assert status["idle"] == status["size"] <= 2
        assert status["waiting"] == 0 and status["max_size"] == 3
        assert wait_until(lambda: len(backends(pg, app)) == db.status()["size"], 5)


def test_status_counts_waiting_callers(app):
    """A caller blocked on a full pool shows as waiting, and gets the connection once it is
    released."""
    with data_bridge.connect(DSN, max_connections=1, acquire_timeout=20, application_name=app) as db:
        result: dict = {}
        with holding(db):
            thread = threading.Thread(
                target=lambda: result.update(row=db.fetch_one("SELECT 7 AS v")), daemon=True
            )
            thread.start()
            assert wait_until(lambda: db.status()["waiting"] == 1, 5), db.status()
            assert db.status() == {"size": 1, "idle": 0, "in_use": 1, "waiting": 1, "max_size": 1}
            assert "row" not in result
        thread.join(10)
        assert result == {"row": {"v": 7}}
        assert db.status()["waiting"] == 0


def test_pool_timeout_is_an_operational_error():
    """Code catching OperationalError also catches an exhausted pool."""
    assert issubclass(data_bridge.PoolTimeout, data_bridge.OperationalError)
    assert data_bridge.errors.PoolTimeout is data_bridge.PoolTimeout


@pytest.mark.parametrize("hold", [holding, holding_transaction], ids=["reader", "transaction"])
def test_exhausted_pool_raises_pool_timeout(app, hold):
    """With the only connection busy, a call gives up after acquire_timeout, and the pool works
    again once the connection is released."""
    with data_bridge.connect(DSN, max_connections=1, acquire_timeout=0.5, application_name=app) as db:
        with hold(db):
            started = time.monotonic()
            with pytest.raises(data_bridge.PoolTimeout) as info:
                run_with_timeout(db.fetch_one, 30, "SELECT 1 AS one")
            elapsed = time.monotonic() - started
            assert isinstance(info.value, data_bridge.OperationalError)
            assert 0.4 <= elapsed < 5, elapsed
            with pytest.raises(data_bridge.PoolTimeout):
                run_with_timeout(db.read_arrow, 30, "SELECT 1 AS one")
            assert db.status()["waiting"] == 0
        assert wait_until(lambda: db.status()["in_use"] == 0, 5), db.status()
        assert db.fetch_one("SELECT 2 AS two") == {"two": 2}


# ---------------------------------------------------------------------- sizing and recycling


def test_min_connections_are_opened_at_connect(pg, app):
    """min_connections=2: both exist on the server as soon as connect() returns."""
    with data_bridge.connect(DSN, min_connections=2, application_name=app) as db:
        assert len(backends(pg, app)) == 2
        assert db.status() == {"size": 2, "idle": 2, "in_use": 0, "waiting": 0, "max_size": 10}
        assert db.fetch_one("SELECT 1 AS one") == {"one": 1}
        assert len(backends(pg, app)) == 2  # the query reused one, opened none


def test_application_name_comes_from_the_url_else_defaults(pg, app):
    """The URL's application_name is kept unless the keyword overrides it; without either the
    connections say data-bridge."""
    separator = "&" if "?" in DSN else "?"
    with data_bridge.connect(f"{DSN}{separator}application_name={app}") as db:
        assert db.fetch_one("SELECT current_setting('application_name') AS name") == {"name": app}
    with data_bridge.connect(f"{DSN}{separator}application_name={app}", application_name=f"{app}_kw") as db:
        assert db.fetch_one("SELECT current_setting('application_name') AS name") == {"name": f"{app}_kw"}
    with data_bridge.connect(DSN) as db:
        assert db.fetch_one("SELECT current_setting('application_name') AS name") == {"name": "data-bridge"}


def test_connection_is_idle_once_the_call_returns(app):
    """A finished call has given its connection back: nothing is in use between calls."""
    with data_bridge.connect(DSN, application_name=app) as db:
        seen = []
        for i in range(20):
            assert db.fetch_one("SELECT $1::int AS i", [i]) == {"i": i}
            seen.append(db.status()["in_use"])
        assert seen == [0] * 20


def test_sequential_calls_reuse_one_connection(pg, app):
    """A pool, not a connection per call."""
    with data_bridge.connect(DSN, application_name=app) as db:
        pids = {pid_of(db) for _ in range(20)}
        assert len(pids) == 1
        assert backends(pg, app) == sorted(pids)


@pytest.mark.parametrize("min_connections", [0, 2])
def test_idle_connections_are_closed(pg, app, min_connections):
    """idle_timeout=1: of 3 connections used at once, the idle ones are closed, down to
    min_connections (the reaper may run only every second or so)."""
    with data_bridge.connect(
        DSN, min_connections=min_connections, max_connections=3, idle_timeout=1, application_name=app
    ) as db:
        with holding(db), holding(db), holding(db):
            assert db.status()["size"] == 3
            assert len(backends(pg, app)) == 3
        assert wait_until(lambda: len(backends(pg, app)) <= max(min_connections, 2), 6, 0.2), backends(pg, app)
        if min_connections:
            time.sleep(1.5)  # a few more idle periods: never below min_connections
            assert len(backends(pg, app)) == min_connections
            assert db.status()["size"] == min_connections
        assert db.fetch_one("SELECT 3 AS three") == {"three": 3}


def test_max_lifetime_replaces_old_connections(pg, app):
    """max_lifetime=1: a connection older than a second is replaced, and closed on the server."""
    with data_bridge.connect(DSN, max_connections=1, max_lifetime=1, application_name=app) as db:
        first = pid_of(db)
        time.sleep(1.3)
        later = [pid_of(db) for _ in range(2)]  # replaced at the latest when it comes back
        assert later[-1] != first
        assert wait_until(lambda: first not in backends(pg, app), 5), backends(pg, app)


# ---------------------------------------------------------------------- per-connection settings


def test_application_name_is_visible_to_the_server(pg, app):
    with data_bridge.connect(DSN, application_name=app) as db:
        row = db.fetch_one("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        assert row == {"application_name": app}
        assert len(backends(pg, app)) == 1


def test_default_application_name():
    with data_bridge.connect(DSN) as db:
        assert db.fetch_one("SELECT current_setting('application_name') AS a") == {"a": "data-bridge"}


def test_statement_timeout_cancels_long_queries(app):
    """statement_timeout=0.2 is set on every pooled connection (also the second one) and cancels
    pg_sleep(2) server-side, on both read paths; the connection stays usable."""
    with data_bridge.connect(DSN, statement_timeout=0.2, application_name=app) as db:
        assert db.fetch_one("SELECT current_setting('statement_timeout') AS t") == {"t": "200ms"}
        with holding_transaction(db):  # an idle transaction: no statement running into the timeout
            assert db.fetch_one("SELECT current_setting('statement_timeout') AS t") == {"t": "200ms"}
        for call in (lambda: db.fetch_one("SELECT pg_sleep(2)"), lambda: db.read_arrow("SELECT pg_sleep(2)")):
            started = time.monotonic()
            with pytest.raises(data_bridge.QueryCanceled) as info:
                run_with_timeout(call, 30)
            assert info.value.sqlstate == "57014"
            assert time.monotonic() - started < 1.5
        assert db.fetch_one("SELECT 1 AS one") == {"one": 1}


def test_no_statement_timeout_by_default():
    with data_bridge.connect(DSN) as db:
        assert db.fetch_one("SELECT current_setting('statement_timeout') AS t") == {"t": "0"}


# ---------------------------------------------------------------------- dead connections


def test_terminated_idle_connection_is_replaced(pg, app):
    """An idle pooled connection killed by the server: at most one call fails, then a new
    backend serves the pool."""
    with data_bridge.connect(DSN, max_connections=1, application_name=app) as db:
        old = pid_of(db)
        assert pg_column(pg, "SELECT pg_terminate_backend(%s)", (old,)) == [True]
        assert wait_until(lambda: old not in backends(pg, app), 5)
        try:
            new = run_with_timeout(pid_of, 30, db)
        except data_bridge.OperationalError:
            new = run_with_timeout(pid_of, 30, db)
        assert new != old
        assert pid_of(db) == new
        assert backends(pg, app) == [new]


@pytest.mark.parametrize("pooled", [1, 3])
def test_server_restart(restart_cluster, app, pooled):
    """After a fast restart every pooled connection is dead: at most one call fails, then the
    pool recovers (with 1 or 3 idle connections at the time of the restart)."""
    min_connections = 0 if pooled == 1 else pooled
    with data_bridge.connect(
        restart_cluster.dsn(), min_connections=min_connections, max_connections=pooled, connect_timeout=5,
        application_name=app,
    ) as db:
        assert db.fetch_one("SELECT 1 AS one") == {"one": 1}
        before = restart_cluster.backend_pids(app)
        assert len(before) == pooled
        restart_cluster.restart("fast")
        outcomes: list = []
        for _ in range(pooled + 3):
            try:
                outcomes.append(run_with_timeout(pid_of, 30, db))
            except data_bridge.OperationalError as exc:
                outcomes.append(exc)
        assert sum(isinstance(o, Exception) for o in outcomes) <= 1, outcomes
        assert not isinstance(outcomes[-1], Exception)
        assert set(before).isdisjoint(o for o in outcomes if isinstance(o, int))
        assert db.fetch_one("SELECT 42 AS answer") == {"answer": 42}


def test_unreachable_server_is_operational_error():
    """Nothing listens on port 1: OperationalError, quickly."""
    started = time.monotonic()
    with pytest.raises(data_bridge.OperationalError):
        with data_bridge.connect("postgresql://postgres@127.0.0.1:1/test", connect_timeout=2) as db:
            run_with_timeout(db.fetch_one, 30, "SELECT 1")
    assert time.monotonic() - started < 10


# ---------------------------------------------------------------------- close


CLOSED_CALLS: dict[str, Callable[[data_bridge.Database], object]] = {
    "read_arrow": lambda db: db.read_arrow("SELECT 1"),
    "read_batches": lambda db: db.read_batches("SELECT 1").read_all(),
    "write_arrow": lambda db: db.write_arrow("nowhere", pa.table({"a": [1]})),
    "fetch_one": lambda db: db.fetch_one("SELECT 1"),
    "fetch_all": lambda db: db.fetch_all("SELECT 1"),
    "execute": lambda db: db.execute("SELECT 1"),
    "execute_many": lambda db: db.execute_many("SELECT $1::int", [[1]]),
    "transaction": lambda db: _in_transaction(db),
    "run_in_transaction": lambda db: db.run_in_transaction(lambda tx: tx.fetch_one("SELECT 1")),
}


def _in_transaction(db) -> None:
    with db.transaction() as tx:
        tx.fetch_one("SELECT 1")


def test_close_disconnects(pg, app):
    """close() disconnects every pooled connection."""
    db = data_bridge.connect(DSN, min_connections=2, application_name=app)
    assert len(backends(pg, app)) == 2
    assert not db.closed
    db.close()
    assert db.closed
    assert wait_until(lambda: backends(pg, app) == [], 5), backends(pg, app)


@pytest.mark.parametrize("call", CLOSED_CALLS.values(), ids=CLOSED_CALLS.keys())
def test_calls_after_close_raise_interface_error(call):
    db = data_bridge.connect(DSN)
    assert db.read_arrow("SELECT 1 AS one").to_pylist() == [{"one": 1}]
    db.close()
    with pytest.raises(data_bridge.InterfaceError):
        call(db)


def test_context_manager_closes(pg, app):
    """Leaving the with block closes the pool, also on an exception (which propagates)."""
    with data_bridge.connect(DSN, application_name=app) as db:
        assert db.fetch_one("SELECT 5 AS five") == {"five": 5}
        assert not db.closed
    assert db.closed
    with pytest.raises(data_bridge.InterfaceError):
        db.fetch_one("SELECT 1")
    assert wait_until(lambda: backends(pg, app) == [], 5), backends(pg, app)

    with pytest.raises(ZeroDivisionError):
        with data_bridge.connect(DSN, application_name=app) as db2:
            assert db2.fetch_one("SELECT 6 AS six") == {"six": 6}
            1 / 0  # noqa: B018
    assert db2.closed
    assert wait_until(lambda: backends(pg, app) == [], 5), backends(pg, app)


# ---------------------------------------------------------------------- threads


def test_many_threads_share_a_small_pool(pg, app):
    """16 threads x 50 calls on 4 connections: every call succeeds with its own answer, and the
    pool never grows past max_connections."""
    threads_n, calls_n = 16, 50
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    sizes: list[int] = []

    with data_bridge.connect(DSN, max_connections=4, application_name=app) as db:

        def work(t: int) -> None:
            try:
                rows = []
                for i in range(calls_n):
                    rows.append(db.fetch_one("SELECT $1::int * 2 AS v, pg_backend_pid() AS pid", [t * 1000 + i]))
                    sizes.append(db.status()["size"])
                results[t] = rows
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads), "threads hung"
        assert errors == []
        for t in range(threads_n):
            assert [row["v"] for row in results[t]] == [(t * 1000 + i) * 2 for i in range(calls_n)]
        pids = {row["pid"] for rows in results.values() for row in rows}
        assert 1 <= len(pids) <= 4
        assert max(sizes) <= 4
        assert len(backends(pg, app)) <= 4
        assert set(backends(pg, app)) <= pids
