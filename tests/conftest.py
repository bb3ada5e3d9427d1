"""Shared fixtures and helpers for the end-to-end suite.

Every test talks to a real PostgreSQL (``$DATABASE_URL`` or the local default)
and uses psycopg as the reference client.  Tables are real (not TEMP) tables,
because data_bridge runs its queries on pooled connections of its own; each
gets a unique name and is dropped at teardown.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

import data_bridge

DSN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

INT32_MAX, INT32_MIN = 2**31 - 1, -(2**31)
INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def db():
    database = data_bridge.connect(DSN)
    yield database
    database.close()


@pytest.fixture(scope="session")
def pg():
    """Reference psycopg connection (autocommit, session TimeZone UTC)."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn


@pytest.fixture
def make_table(pg):
    """Factory: ``make_table("id int, v text", rows_sql=None) -> name``.

    Creates a uniquely named table (optionally filled by
    ``INSERT INTO <name> <rows_sql>``) and drops it at teardown.
    """
    created = []

    def factory(columns: str, rows_sql: str | None = None) -> str:
        name = unique_name("t")
        pg.execute(f"CREATE TABLE {name} ({columns})")
        created.append(name)
        if rows_sql is not None:
            pg.execute(f"INSERT INTO {name} {rows_sql}")
        return name

    yield factory
    for name in created:
        pg.execute(f"DROP TABLE IF EXISTS {name} CASCADE")


def unique_name(prefix: str) -> str:
    return f"dbt_{prefix}_{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------
# reading helpers
# --------------------------------------------------------------------------

COPY_COND = "TRUE"
PARAM_COND = "$1::int = 1"


def read_both(db, template: str, **kwargs) -> pa.Table:
    """Run ``template`` (which contains ``{cond}`` in a WHERE clause) twice:
    without params and with a dummy parameter (bound in binary).  Asserts both
    results are identical (schema incl. metadata and values) and returns the
    first one.  (The COPY transport is what partitioned reads use: see
    test_partitioned.py.)"""
    assert "{cond}" in template
    copy_path = db.read_arrow(template.replace("{cond}", COPY_COND), **kwargs)
    param_path = db.read_arrow(template.replace("{cond}", PARAM_COND), [1], **kwargs)
    assert_tables_identical(copy_path, param_path)
    return copy_path


def assert_writes_back(db, pg, make_table, table: str, types: dict | None = None) -> None:
    """Reads ``table`` (``id``, ``v``) and writes the Arrow result into a fresh table of the same
    column types with ``write_arrow`` (binary COPY): the server must then print every value
    exactly as it prints the original (``v::text``, in id order), NULLs and empties included."""
    copy = make_table(f"LIKE {table}")
    db.write_arrow(copy, db.read_arrow(f"SELECT id, v FROM {table}", types=types))
    differing = pg_rows(
        pg,
        f"SELECT a.id, a.v::text, b.v::text FROM {table} a FULL JOIN {copy} b USING (id)"
        " WHERE a.v::text IS DISTINCT FROM b.v::text OR a.id IS NULL OR b.id IS NULL",
    )
    assert differing == [], differing


def assert_tables_identical(a: pa.Table, b: pa.Table) -> None:
    assert isinstance(a, pa.Table) and isinstance(b, pa.Table)
    assert a.schema.equals(b.schema, check_metadata=True), f"\n{a.schema}\n!=\n{b.schema}"
    assert a.num_rows == b.num_rows
    for name_a, col_a, col_b in zip(a.column_names, a.columns, b.columns):
        assert values(col_a) == values(col_b), name_a


class _NaN:
    """Stand-in for float NaN that compares equal to itself."""

    def __eq__(self, other):
        return isinstance(other, _NaN)

    def __hash__(self):
        return 0

    def __repr__(self):
        return "NaN"


NAN = _NaN()


def norm(v):
    """Make a Python value comparable: NaN floats/Decimals -> NAN."""
    if isinstance(v, float) and math.isnan(v):
        return NAN
    if isinstance(v, Decimal) and v.is_nan():
        return NAN
    if isinstance(v, (list, tuple)):
        return type(v)(norm(x) for x in v)
    return v


def values(col) -> list:
    """Python values of an Arrow column, comparable and loss-free.

    Temporal types are returned as their raw integer storage (so that the
    ±infinity sentinels and out-of-datetime-range values survive), intervals
    as (months, days, nanoseconds) tuples, floats with NaN normalised, lists
    element-wise by the same rules."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks else pa.array([], col.type)
    typ = col.type
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        offsets = col.offsets.to_pylist()
        items = values(col.values)
        return [
            None if not valid else items[offsets[i] : offsets[i + 1]]
            for i, valid in enumerate(col.is_valid().to_pylist())
        ]
    if pa.types.is_date32(typ):
        col = col.cast(pa.int32())
    elif pa.types.is_timestamp(typ) or pa.types.is_time64(typ):
        col = col.cast(pa.int64())
    elif pa.types.is_interval(typ):
        return [None if v is None else tuple(v) for v in col.to_pylist()]
    return [norm(v) for v in col.to_pylist()]


def pg_rows(pg, sql: str, params=None) -> list[tuple]:
    return pg.execute(sql, params).fetchall()


def pg_column(pg, sql: str, params=None) -> list:
    return [r[0] for r in pg.execute(sql, params).fetchall()]


def pg_type_of(field: pa.Field) -> bytes | None:
    return (field.metadata or {}).get(b"pg_type")


# --------------------------------------------------------------------------
# parsing PostgreSQL's text output (DateStyle ISO) into Arrow storage ints
# --------------------------------------------------------------------------


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar
    (astronomical year numbering: 1 BC == year 0)."""
    y -= m <= 2
    era = y // 400  # floor division (Hinnant uses C truncation + adjustment)
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_DATE_RE = re.compile(r"^(\d+)-(\d\d)-(\d\d)$")
_TIME_RE = re.compile(
    r"^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?$"
)


def _split_bc(text: str) -> tuple[str, bool]:
    return (text[:-3], True) if text.endswith(" BC") else (text, False)


def _days(date_text: str, bc: bool) -> int:
    m = _DATE_RE.match(date_text)
    assert m, date_text
    year = int(m.group(1))
    return days_from_civil(1 - year if bc else year, int(m.group(2)), int(m.group(3)))


def _time_us(time_text: str) -> int:
    """'HH:MM:SS[.ffffff][+HH[:MM[:SS]]]' -> microseconds, shifted to UTC."""
    m = _TIME_RE.match(time_text)
    assert m, time_text
    h, mi, s, frac, sign, oh, om, os_ = m.groups()
    us = ((int(h) * 60 + int(mi)) * 60 + int(s)) * 10**6 + int((frac or "").ljust(6, "0"))
    if sign:
        offset = int(oh) * 3600 + int(om or 0) * 60 + int(os_ or 0)
        us -= (1 if sign == "+" else -1) * offset * 10**6
    return us


def pg_date_text_to_days(text: str | None) -> int | None:
    """PostgreSQL date text -> Arrow date32 storage (±infinity -> int32 max/min)."""
    if text is None:
        return None
    if text in ("infinity", "-infinity"):
        return INT32_MAX if text == "infinity" else INT32_MIN
    return _days(*_split_bc(text))


def pg_time_text_to_us(text: str | None) -> int | None:
    return None if text is None else _time_us(text)


def pg_timestamp_text_to_us(text: str | None) -> int | None:
    """timestamp[tz] text -> microseconds since the Unix epoch, UTC
    (±infinity -> int64 max/min)."""
    if text is None:
        return None
    if text in ("infinity", "-infinity"):
        return INT64_MAX if text == "infinity" else INT64_MIN
    body, bc = _split_bc(text)
    date_text, time_text = body.split(" ")
    return _days(date_text, bc) * 86_400_000_000 + _time_us(time_text)


# --------------------------------------------------------------------------
# misc
# --------------------------------------------------------------------------


def run_with_timeout(fn, timeout: float, *args, **kwargs):
    """Run ``fn`` in a daemon thread; fail the test (instead of hanging the
    whole session) if it does not finish within ``timeout`` seconds."""
    result: dict = {}

    def target():
        try:
            result["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not finish within {timeout} s (hang?)")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def spawn_python(code: str, *args: str, **popen_kwargs) -> subprocess.Popen:
    """Start ``python -c code`` with DATABASE_URL set, line-buffered text pipes."""
    env = dict(os.environ, DATABASE_URL=DSN, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **popen_kwargs,
    )


def wait_pool_back(db, in_use: int, seconds: float) -> dict:
    """Waits until at most ``in_use`` pooled connections are in use; returns the last status."""
    deadline = time.monotonic() + seconds
    while (status := db.status())["in_use"] > in_use and time.monotonic() < deadline:
        time.sleep(0.02)
    return status


@pytest.fixture
def pool_returned(db, make_table):
    """After the test (and before its tables are dropped) the shared pool must have every
    connection back, and still answer. (Compared with the start: a connection leaked by an
    earlier failure is that test's error, not this one's.) Modules use it autouse."""
    before = db.status()["in_use"]
    yield
    status = wait_pool_back(db, before, 5.0)
    assert status["in_use"] <= before, f"a connection never came back to the pool: {status}"
    assert db.read_arrow("SELECT 1 AS ok").to_pylist() == [{"ok": 1}]
