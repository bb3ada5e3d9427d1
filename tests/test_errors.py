"""Server errors -> data_bridge exception classes, diagnostics, recovery."""

from __future__ import annotations

import builtins
import pickle
import re
import threading
import time

import psycopg
import pytest

import data_bridge
from conftest import COPY_COND, DSN, PARAM_COND, pg_column, run_with_timeout, unique_name

BOTH_PATHS = pytest.mark.parametrize(
    "cond, params", [(COPY_COND, None), (PARAM_COND, [1])], ids=["copy", "params"]
)

HIERARCHY = {
    # class name: direct base name
    "InterfaceError": "Error",
    "DatabaseError": "Error",
    "DataError": "DatabaseError",
    "OperationalError": "DatabaseError",
    "IntegrityError": "DatabaseError",
    "ProgrammingError": "DatabaseError",
    "InternalError": "DatabaseError",
    "NotSupportedError": "DatabaseError",
    "UniqueViolation": "IntegrityError",
    "ForeignKeyViolation": "IntegrityError",
    "NotNullViolation": "IntegrityError",
    "CheckViolation": "IntegrityError",
    "SerializationFailure": "OperationalError",
    "DeadlockDetected": "OperationalError",
    "QueryCanceled": "OperationalError",
    "UndefinedTable": "ProgrammingError",
    "UndefinedColumn": "ProgrammingError",
    "SyntaxError": "ProgrammingError",
    "DivisionByZero": "DataError",
    "InvalidTextRepresentation": "DataError",
}


@pytest.fixture(autouse=True)
def db_still_usable(db):
    """After every test here, the shared db must still answer (both paths)."""
    yield
    assert db.read_arrow("SELECT 1 AS ok")["ok"].to_pylist() == [1]
    assert db.read_arrow("SELECT $1::int4 AS ok", [2])["ok"].to_pylist() == [2]


def server_error(pg, sql: str, params=None) -> psycopg.Error:
    """The error psycopg gets for the same statement."""
    with pytest.raises(psycopg.Error) as info:
        pg.execute(sql, params)
    return info.value


# --------------------------------------------------------------------------
# class hierarchy
# --------------------------------------------------------------------------


def test_error_hierarchy():
    assert issubclass(data_bridge.Error, Exception)
    for name, base in HIERARCHY.items():
        cls = getattr(data_bridge, name)
        assert issubclass(cls, getattr(data_bridge, base)), name
        assert issubclass(cls, data_bridge.Error), name
        assert getattr(data_bridge.errors, name) is cls, name
    assert data_bridge.SyntaxError is not builtins.SyntaxError
    assert not issubclass(data_bridge.SyntaxError, builtins.SyntaxError)
    assert data_bridge.errors.Error is data_bridge.Error


# --------------------------------------------------------------------------
# specific server errors
# --------------------------------------------------------------------------


@BOTH_PATHS
@pytest.mark.parametrize(
    "sql",
    [
        "SELEC 1 WHERE {cond}",
        "SELECT 1 FROM WHERE {cond}",
        "SELECT 1,, 2 WHERE {cond}",
        "SELECT 'a' AS x, (1 + ) AS y WHERE {cond}",
    ],
)
def test_syntax_error(db, pg, cond, params, sql):
    sql = sql.replace("{cond}", cond)
    with pytest.raises(data_bridge.SyntaxError) as info:
        db.read_arrow(sql, params)
    err = info.value
    assert isinstance(err, data_bridge.ProgrammingError)
    assert err.sqlstate == "42601"
    ref = server_error(pg, sql.replace("$1", "%s"), params)
    assert err.diag.message_primary == ref.diag.message_primary
    # the position refers to the caller's SQL (not to a wrapping COPY statement)
    assert err.diag.statement_position is not None
    assert int(err.diag.statement_position) == int(ref.diag.statement_position)


@BOTH_PATHS
def test_undefined_table(db, cond, params):
    missing = unique_name("missing")
    with pytest.raises(data_bridge.UndefinedTable) as info:
        db.read_arrow(f"SELECT * FROM {missing} WHERE {cond}", params)
    err = info.value
    assert isinstance(err, data_bridge.ProgrammingError)
    assert err.sqlstate == "42P01"
    assert missing in err.diag.message_primary
    assert missing in str(err)


@BOTH_PATHS
def test_undefined_column(db, cond, params):
    with pytest.raises(data_bridge.UndefinedColumn) as info:
        db.read_arrow(f"SELECT no_such_col FROM generate_series(1, 2) g(i) WHERE {cond}", params)
    assert info.value.sqlstate == "42703"
    assert "no_such_col" in str(info.value)


@BOTH_PATHS
def test_division_by_zero(db, cond, params):
    with pytest.raises(data_bridge.DivisionByZero) as info:
        db.read_arrow(f"SELECT 1 / 0 AS x WHERE {cond}", params)
    assert isinstance(info.value, data_bridge.DataError)
    assert info.value.sqlstate == "22012"
    assert info.value.diag.message_primary == "division by zero"


@BOTH_PATHS
def test_error_after_rows_were_streamed(db, cond, params):
    """The server fails after sending many rows: read_arrow raises, nothing partial returned."""
    sql = f"SELECT 1 / (50000 - i) AS x FROM generate_series(1, 100000) g(i) WHERE {cond}"
    with pytest.raises(data_bridge.DivisionByZero):
        db.read_arrow(sql, params)


@BOTH_PATHS
def test_error_during_read_batches_iteration(db, cond, params):
    sql = f"SELECT i, 1 / (50000 - i) AS x FROM generate_series(1, 100000) g(i) WHERE {cond}"
    reader = db.read_batches(sql, params, batch_rows=1000)
    seen = 0
    with pytest.raises(data_bridge.DataError) as info:
        for batch in reader:
            seen += batch.num_rows
    assert info.value.sqlstate == "22012"
    assert seen < 50000


@BOTH_PATHS
def test_invalid_text_representation(db, cond, params):
    with pytest.raises(data_bridge.InvalidTextRepresentation) as info:
        db.read_arrow(f"SELECT 'abc'::int4 AS x WHERE {cond}", params)
    assert info.value.sqlstate == "22P02"
    assert isinstance(info.value, data_bridge.DataError)


@pytest.fixture
def keyed_table(make_table):
    parent = make_table("id int PRIMARY KEY")
    return make_table(f"id int PRIMARY KEY, v int NOT NULL CHECK (v >= 0), p int REFERENCES {parent}(id)")


def _constraint_names(pg, table):
    return dict(
        pg.execute(
            "SELECT contype::text, conname::text FROM pg_constraint WHERE conrelid = %s::regclass", (table,)
        ).fetchall()
    )


@BOTH_PATHS
def test_unique_violation(db, pg, keyed_table, cond, params):
    pg.execute(f"INSERT INTO {keyed_table} (id, v) VALUES (1, 1)")
    sql = f"WITH x AS (INSERT INTO {keyed_table} (id, v) VALUES (1, 2) RETURNING *) SELECT * FROM x WHERE {cond}"
    with pytest.raises(data_bridge.UniqueViolation) as info:
        db.read_arrow(sql, params)
    err = info.value
    assert isinstance(err, data_bridge.IntegrityError)
    assert err.sqlstate == "23505"
    assert err.diag.constraint_name == _constraint_names(pg, keyed_table)["p"]
    assert err.diag.table_name == keyed_table
    assert err.diag.schema_name == "public"
    assert err.diag.message_detail == "Key (id)=(1) already exists."
    assert pg_column(pg, f"SELECT count(*) FROM {keyed_table}") == [1]


def test_insert_returning_succeeds(db, pg, keyed_table):
    result = db.read_arrow(
        f"WITH x AS (INSERT INTO {keyed_table} (id, v) VALUES ($1, $2) RETURNING id, v) SELECT * FROM x", [5, 6]
    )
    assert result.to_pydict() == {"id": [5], "v": [6]}
    assert pg_column(pg, f"SELECT v FROM {keyed_table} WHERE id = 5") == [6]


@pytest.mark.parametrize(
    "values, cls, sqlstate, contype, column",
    [
        ("(1, NULL, NULL)", "NotNullViolation", "23502", None, "v"),
        ("(1, -1, NULL)", "CheckViolation", "23514", "c", None),
        ("(1, 1, 12345)", "ForeignKeyViolation", "23503", "f", None),
    ],
    ids=["not_null", "check", "foreign_key"],
)
def test_integrity_errors(db, pg, keyed_table, values, cls, sqlstate, contype, column):
    sql = f"WITH x AS (INSERT INTO {keyed_table} (id, v, p) VALUES {values} RETURNING *) SELECT * FROM x WHERE $1"
    with pytest.raises(getattr(data_bridge, cls)) as info:
        db.read_arrow(sql, [True])
    err = info.value
    assert type(err) is getattr(data_bridge, cls)
    assert isinstance(err, data_bridge.IntegrityError)
    assert err.sqlstate == sqlstate
    assert err.diag.table_name == keyed_table
    if contype:
        assert err.diag.constraint_name == _constraint_names(pg, keyed_table)[contype]
    if column:
        assert err.diag.column_name == column


# --------------------------------------------------------------------------
# SQLSTATE -> class mapping, exhaustively via RAISE
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raiser(pg):
    """A function raising an arbitrary SQLSTATE with all diagnostic fields set."""
    name = unique_name("raise")
    pg.execute(
        f"""CREATE FUNCTION {name}(state text) RETURNS int LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = state, MESSAGE = 'boom ' || state, DETAIL = 'the detail',
                HINT = 'the hint', CONSTRAINT = 'the_constraint', TABLE = 'the_table',
                SCHEMA = 'the_schema', COLUMN = 'the_column';
        END $$"""
    )
    yield name
    pg.execute(f"DROP FUNCTION {name}(text)")


# (sqlstate, documented class).  The first 12 are exact (type(err) is cls); for the
# two-character fallbacks and "everything else" a more specific subclass is allowed
# (e.g. psycopg-style NumericValueOutOfRange for 22003), so those are isinstance checks.
SQLSTATE_CLASSES = [
    ("23505", "UniqueViolation"),
    ("23503", "ForeignKeyViolation"),
    ("23502", "NotNullViolation"),
    ("23514", "CheckViolation"),
    ("40001", "SerializationFailure"),
    ("40P01", "DeadlockDetected"),
    ("57014", "QueryCanceled"),
    ("42P01", "UndefinedTable"),
    ("42703", "UndefinedColumn"),
    ("42601", "SyntaxError"),
    ("22012", "DivisionByZero"),
    ("22P02", "InvalidTextRepresentation"),
    # two-character class fallbacks
    ("22003", "DataError"),
    ("22000", "DataError"),
    ("23000", "IntegrityError"),
    ("23P01", "IntegrityError"),
    ("08006", "OperationalError"),
    ("42501", "ProgrammingError"),
    ("42883", "ProgrammingError"),
    ("57P01", "OperationalError"),
    ("40002", "OperationalError"),
    ("XX000", "InternalError"),
    ("XX001", "InternalError"),
    ("0A000", "NotSupportedError"),
    # everything else
    ("P0001", "DatabaseError"),
    ("2BP01", "DatabaseError"),
    ("53100", "DatabaseError"),
    ("55P03", "DatabaseError"),
    ("25001", "DatabaseError"),
]


@BOTH_PATHS
@pytest.mark.parametrize("sqlstate, cls", SQLSTATE_CLASSES)
def test_sqlstate_mapping(db, raiser, sqlstate, cls, cond, params):
    with pytest.raises(data_bridge.DatabaseError) as info:
        db.read_arrow(f"SELECT {raiser}('{sqlstate}') AS x WHERE {cond}", params)
    err = info.value
    assert isinstance(err, getattr(data_bridge, cls))
    if (sqlstate, cls) in SQLSTATE_CLASSES[:12]:
        assert type(err) is getattr(data_bridge, cls)
    assert err.sqlstate == sqlstate
    d = err.diag
    assert d.message_primary == f"boom {sqlstate}"
    assert d.message_detail == "the detail"
    assert d.message_hint == "the hint"
    assert d.constraint_name == "the_constraint"
    assert d.table_name == "the_table"
    assert d.schema_name == "the_schema"
    assert d.column_name == "the_column"
    assert f"boom {sqlstate}" in str(err)


def test_diag_fields_absent_are_none(db):
    with pytest.raises(data_bridge.DivisionByZero) as info:
        db.read_arrow("SELECT 1 / 0")
    d = info.value.diag
    assert d.message_detail is None and d.message_hint is None
    assert d.constraint_name is None and d.table_name is None and d.column_name is None


# --------------------------------------------------------------------------
# pickling
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sqlstate, cls", SQLSTATE_CLASSES[:12] + [("22003", "DataError"), ("P0001", "DatabaseError")])
def test_raised_errors_are_picklable(db, raiser, sqlstate, cls):
    with pytest.raises(data_bridge.Error) as info:
        db.read_arrow(f"SELECT {raiser}('{sqlstate}')")
    err = info.value
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert isinstance(err, getattr(data_bridge, cls))
    assert str(clone) == str(err)
    assert clone.sqlstate == sqlstate
    assert clone.diag.message_primary == err.diag.message_primary
    assert clone.diag.constraint_name == "the_constraint"


@pytest.mark.parametrize("name", ["Error", *HIERARCHY])
def test_error_classes_picklable_when_constructed(name):
    cls = getattr(data_bridge, name)
    err = cls("some message")
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is cls
    assert "some message" in str(clone)


def test_client_side_errors_picklable(db):
    for call in (
        lambda: db.read_arrow("SELECT $1::int4", [2**40]),
        lambda: db.read_arrow("SELECT $1::int4", []),
    ):
        with pytest.raises(data_bridge.Error) as info:
            call()
        clone = pickle.loads(pickle.dumps(info.value))
        assert type(clone) is type(info.value) and str(clone) == str(info.value)


# --------------------------------------------------------------------------
# connection-level errors
# --------------------------------------------------------------------------


def _connect_and_query(url):
    with data_bridge.connect(url) as database:
        database.read_arrow("SELECT 1")


def test_connection_refused_names_host_and_port():
    with pytest.raises(data_bridge.OperationalError) as info:
        run_with_timeout(_connect_and_query, 30, "postgresql://postgres@127.0.0.1:1/test")
    msg = str(info.value)
    assert "127.0.0.1" in msg
    assert re.search(r"(?<![\d.])1(?![\d.])", msg.replace("127.0.0.1", "")), msg


def test_unknown_database_is_database_error():
    base = DSN.rsplit("/", 1)[0]
    missing = unique_name("nodb")
    with pytest.raises(data_bridge.DatabaseError) as info:
        run_with_timeout(_connect_and_query, 30, f"{base}/{missing}")
    assert missing in str(info.value)


def test_invalid_url_is_error():
    with pytest.raises((data_bridge.Error, ValueError)):
        run_with_timeout(_connect_and_query, 30, "this is not a url ::: ")


def _marker_pid(pg, marker: str, timeout: float = 10.0) -> int:
    """The backend running the query tagged with ``marker``, once it is inside pg_sleep
    (before that, it may still be preparing, and a cancel would land on nothing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = pg_column(
            pg,
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND position(%s in query) > 0"
            " AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()",
            (marker,),
        )
        if pids:
            return pids[0]
        time.sleep(0.05)
    raise AssertionError(f"query {marker} never became active")


def _run_in_thread(fn):
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


@pytest.mark.parametrize("use_params", [False, True], ids=["copy", "params"])
def test_server_side_cancel_is_query_canceled(db, pg, use_params):
    marker = unique_name("cancelme")
    if use_params:
        thread, out = _run_in_thread(lambda: db.read_arrow(f"SELECT pg_sleep($1) /* {marker} */", [30]))
    else:
        thread, out = _run_in_thread(lambda: db.read_arrow(f"SELECT pg_sleep(30) /* {marker} */"))
    pid = _marker_pid(pg, marker)
    assert pg_column(pg, "SELECT pg_cancel_backend(%s)", (pid,)) == [True]
    thread.join(10)
    assert not thread.is_alive()
    err = out.get("error")
    assert type(err) is data_bridge.QueryCanceled, repr(out)
    assert err.sqlstate == "57014"


def test_terminated_backend_then_pool_recovers(pg):
    """A pooled connection killed by the server is replaced transparently
    for the next query (max_connections=1 forces reuse of the same slot)."""
    with data_bridge.connect(DSN, max_connections=1) as database:
        marker = unique_name("terminate")
        thread, out = _run_in_thread(lambda: database.read_arrow(f"SELECT pg_sleep(30) /* {marker} */"))
        pid = _marker_pid(pg, marker)
        assert pg_column(pg, "SELECT pg_terminate_backend(%s)", (pid,)) == [True]
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(out.get("error"), data_bridge.OperationalError), repr(out)

        def query_again():
            # the first attempt may legitimately fail once the dead connection is noticed,
            # but the pool must recover by the second
            try:
                return database.read_arrow("SELECT 7 AS v")["v"].to_pylist()
            except data_bridge.OperationalError:
                return database.read_arrow("SELECT 7 AS v")["v"].to_pylist()

        assert run_with_timeout(query_again, 30) == [7]


def test_idle_pooled_connection_killed_is_replaced(pg):
    with data_bridge.connect(DSN, max_connections=1) as database:
        pid = database.read_arrow("SELECT pg_backend_pid() AS p")["p"].to_pylist()[0]
        assert pg_column(pg, "SELECT pg_terminate_backend(%s)", (pid,)) == [True]
        time.sleep(0.2)

        def query_again():
            try:
                return database.read_arrow("SELECT 8 AS v")["v"].to_pylist()
            except data_bridge.OperationalError:
                return database.read_arrow("SELECT 8 AS v")["v"].to_pylist()

        assert run_with_timeout(query_again, 30) == [8]


def test_errors_do_not_leak_pool_connections():
    with data_bridge.connect(DSN, max_connections=2) as database:

        def many_errors():
            for i in range(30):
                with pytest.raises(data_bridge.Error):
                    if i % 3 == 0:
                        database.read_arrow("SELECT 1 / 0")
                    elif i % 3 == 1:
                        database.read_arrow("SELECT 1 / $1::int4", [0])
                    else:
                        database.read_arrow("SELECT $1::int4", [2**40])
            return database.read_arrow("SELECT 9 AS v")["v"].to_pylist()

        assert run_with_timeout(many_errors, 60) == [9]


def test_error_leaves_no_open_transaction(db, pg, make_table):
    """A failed statement must not leave its pooled connection 'idle in transaction'."""
    table = make_table("id int PRIMARY KEY", "VALUES (1)")
    for _ in range(3):
        with pytest.raises(data_bridge.UniqueViolation):
            db.read_arrow(f"WITH x AS (INSERT INTO {table} VALUES (1) RETURNING *) SELECT * FROM x")
    # a later insert through data_bridge is committed and visible to psycopg
    db.read_arrow(f"WITH x AS (INSERT INTO {table} VALUES (2) RETURNING *) SELECT * FROM x")
    assert pg_column(pg, f"SELECT id FROM {table} ORDER BY id") == [1, 2]
    stuck = pg_column(
        pg,
        "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%%'"
        " AND position(%s in query) > 0 AND pid <> pg_backend_pid()",
        (table,),
    )
    assert stuck == [0]
