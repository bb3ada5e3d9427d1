"""Property tests: random values written by psycopg read back by data_bridge,
and random values bound as data_bridge parameters echoed back."""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DSN, norm, unique_name

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

UTC = dt.timezone.utc
Q6 = Decimal("0.000001")

int2s = st.integers(-(2**15), 2**15 - 1)
int4s = st.integers(-(2**31), 2**31 - 1)
int8s = st.integers(-(2**63), 2**63 - 1)
float8s = st.floats(allow_nan=True, allow_infinity=True)
float4s = st.floats(width=32, allow_nan=True, allow_infinity=True)
texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=60)
blobs = st.binary(max_size=80)
decimals = st.decimals(
    min_value=Decimal("-99999999999999.999999"),
    max_value=Decimal("99999999999999.999999"),
    allow_nan=False,
    allow_infinity=False,
    places=6,
)
dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
timestamps = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59))
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
aware = st.datetimes(
    min_value=dt.datetime(100, 1, 1), max_value=dt.datetime(9000, 1, 1), timezones=offsets
)
times = st.times()
bools = st.booleans()


def maybe(strategy):
    return st.one_of(st.none(), strategy)


ROW = st.tuples(
    maybe(bools), maybe(int2s), maybe(int4s), maybe(int8s), maybe(float4s), maybe(float8s),
    maybe(texts), maybe(blobs), maybe(decimals), maybe(dates), maybe(timestamps), maybe(aware),
    maybe(times),
)
COLUMNS = "b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, t text, by bytea," \
    " n numeric(20,6), d date, ts timestamp, tz timestamptz, tm time"
NAMES = ["b", "i2", "i4", "i8", "f4", "f8", "t", "by", "n", "d", "ts", "tz", "tm"]


@pytest.fixture(scope="module")
def prop_table():
    name = unique_name("prop")
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, {COLUMNS})")
        yield conn, name
        conn.execute(f"DROP TABLE {name}")


def expected_value(name: str, value):
    if value is None:
        return None
    if name == "f4":
        return norm(float(pa.scalar(value, pa.float32()).as_py()))
    if name == "n":
        return value.quantize(Q6, rounding=ROUND_HALF_UP)  # PostgreSQL rounds ties away from 0
    if name == "tz":
        return value.astimezone(UTC)
    return norm(value)


@SETTINGS
@given(rows=st.lists(ROW, max_size=12))
def test_psycopg_written_rows_read_back(db, prop_table, rows):
    conn, table = prop_table
    with conn.transaction():
        conn.execute(f"DELETE FROM {table}")
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} VALUES (%s, {', '.join(['%s'] * len(NAMES))})",
                [(i, *row) for i, row in enumerate(rows)],
            )
    for params, cond in ((None, "TRUE"), ([0], "$1::int >= 0")):
        result = db.read_arrow(f"SELECT {', '.join(NAMES)} FROM {table} WHERE {cond} ORDER BY id", params)
        assert result.num_rows == len(rows)
        assert result.schema.field("n").type == pa.decimal128(20, 6)
        for col_no, name in enumerate(NAMES):
            got = [norm(v) for v in result.column(name).to_pylist()]
            want = [expected_value(name, row[col_no]) for row in rows]
            assert got == want, name
            if name == "f8":  # -0.0 keeps its sign
                for g, w in zip(got, want):
                    if isinstance(w, float) and w == 0:
                        assert math.copysign(1, g) == math.copysign(1, w)


@SETTINGS
@given(row=ROW)
def test_random_params_echoed(db, row):
    casts = ["bool", "int2", "int4", "int8", "float4", "float8", "text", "bytea", "numeric(20,6)",
             "date", "timestamp", "timestamptz", "time"]
    sql = "SELECT " + ", ".join(f"${i + 1}::{c} AS {n}" for i, (c, n) in enumerate(zip(casts, NAMES)))
    result = db.read_arrow(sql, list(row))
    got = [norm(result.column(n).to_pylist()[0]) for n in NAMES]
    assert got == [expected_value(n, v) for n, v in zip(NAMES, row)]


@SETTINGS
@given(values=st.lists(maybe(texts), max_size=20), batch_rows=st.integers(1, 7))
def test_random_text_arrays_and_batches(db, values, batch_rows):
    reader = db.read_batches(
        "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n", [values], batch_rows=batch_rows
    )
    batches = list(reader)
    assert all(b.num_rows <= batch_rows for b in batches)
    assert [v for b in batches for v in b.column("x").to_pylist()] == values


@SETTINGS
@given(value=st.decimals(allow_nan=True, allow_infinity=True, places=None).filter(lambda d: not d.is_snan()))
def test_random_decimal_text_form_matches_server(db, pg, value):
    """Unconstrained numeric comes back as PostgreSQL's own text form."""
    try:
        want = pg.execute("SELECT %s::numeric::text", (value,)).fetchone()[0]
    except psycopg.DataError:
        return  # beyond numeric's range: nothing to compare
    got = db.read_arrow("SELECT $1::numeric AS v", [value], types={"numeric": "string"}).column("v").to_pylist()
    assert got == [want]
