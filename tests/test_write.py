"""write_arrow: Arrow data into PostgreSQL (append, create, replace, upsert).

Every write is checked by reading the table back twice: with data_bridge's own
read_arrow (values and Arrow types) and with psycopg (the reference client)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import numpy as np
import pandas as pd
import polars as pl
import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

import data_bridge
from conftest import (
    DSN,
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    norm,
    pg_column,
    pg_rows,
    pg_type_of,
    run_with_timeout,
    spawn_python,
    unique_name,
    values,
)

UTC = dt.timezone.utc


# --------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture
def new_table(pg):
    """Factory: ``new_table(schema=None, name=None) -> name`` reserves a table name
    (not created) that is dropped at teardown, whatever a test made of it."""
    reserved = []

    def factory(schema: str | None = None, name: str | None = None) -> str:
        name = name or unique_name("w")
        reserved.append((schema, name))
        return name

    yield factory
    for schema, name in reserved:
        ident = sql.Identifier(schema, name) if schema else sql.Identifier(name)
        pg.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(ident))


@pytest.fixture
def new_schema(pg):
    """A fresh schema (quoted name given by the test or unique), dropped with CASCADE."""
    created = []

    def factory(name: str | None = None) -> str:
        name = name or unique_name("s")
        pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        created.append(name)
        return name

    yield factory
    for name in created:
        pg.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def column_types(pg, table: str, schema: str = "public") -> list[tuple[str, str]]:
    """[(column, format_type)] of a table, in column order."""
    return pg_rows(
        pg,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY a.attnum",
        (schema, table),
    )


def table_exists(pg, table: str, schema: str = "public") -> bool:
    return pg.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (str(sql.Identifier(schema, table).as_string(pg)),)
    ).fetchone()[0]


def snapshot(pg, table: str, order: str = "1") -> tuple[list, list]:
    """Column types and all rows (as text, so that every type compares) of a table."""
    ident = sql.Identifier(table).as_string(pg)
    rows = pg_rows(pg, f"SELECT t::text FROM {ident} AS t ORDER BY {order}")
    return column_types(pg, table), rows


def reader_from(schema: pa.Schema, batches) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(schema, batches)


def failing_source(schema: pa.Schema, good_batches: list[pa.RecordBatch], message: str = "boom"):
    """A RecordBatchReader over a generator that yields ``good_batches`` then raises."""

    def gen():
        yield from good_batches
        raise ValueError(message)

    return reader_from(schema, gen())


def pg_interval(months: int, days: int, nanos: int) -> dt.timedelta:
    """How psycopg loads an interval: a year counts 365 days, a month 30."""
    years, rest = divmod(abs(months), 12)
    sign = -1 if months < 0 else 1
    return dt.timedelta(days=sign * (years * 365 + rest * 30) + days, microseconds=nanos // 1000)


def col_values(col) -> list:
    """conftest.values, also for an empty chunked column of a type pa.array([]) cannot build."""
    if isinstance(col, pa.ChunkedArray) and col.num_chunks == 0:
        return []
    return values(col)


def python_values(arr) -> list:
    """The Python values psycopg is expected to load for an Arrow column."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    if pa.types.is_interval(arr.type):
        return [None if v is None else pg_interval(*v) for v in arr.to_pylist()]
    return [norm(v) for v in arr.to_pylist()]


# --------------------------------------------------------------------------
# 1. round trips: write mode="create", read back with data_bridge and psycopg
# --------------------------------------------------------------------------

U1, U2 = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), uuid.UUID("00000000-0000-0000-0000-000000000001")
STRINGS = ["", "ü€𝄞 \u200b", None, "a'b\"c\\d\n\t,|"]
BLOBS = [b"", b"\x00\xff\\x", None, b"abc"]
TS = [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59), None, dt.datetime(1970, 1, 1)]
TS_US_INTS = [-62135596800000000, 253402300799000000, None, 0]


def _f16():
    return pa.array(
        np.array([1.5, -65504.0, 0.0, np.inf], dtype=np.float16), mask=np.array([False, False, True, False])
    )


# name -> (input array, expected read-back array (None: same as input), PostgreSQL type)
ROUND_TRIP = {
    "bool": (pa.array([True, False, None, True]), None, "boolean"),
    "int8": (pa.array([-128, 127, None, 0], pa.int8()), pa.array([-128, 127, None, 0], pa.int16()), "smallint"),
    "int16": (pa.array([-(2**15), 2**15 - 1, None, 0], pa.int16()), None, "smallint"),
    "int32": (pa.array([INT32_MIN, INT32_MAX, None, 0], pa.int32()), None, "integer"),
    "int64": (pa.array([INT64_MIN, INT64_MAX, None, 0], pa.int64()), None, "bigint"),
    "uint8": (pa.array([0, 255, None, 1], pa.uint8()), pa.array([0, 255, None, 1], pa.int16()), "smallint"),
    "uint16": (pa.array([0, 65535, None, 1], pa.uint16()), pa.array([0, 65535, None, 1], pa.int32()), "integer"),
    "uint32": (pa.array([0, 2**32 - 1, None, 1], pa.uint32()), pa.array([0, 2**32 - 1, None, 1], pa.int64()), "bigint"),
    "uint64": (
        pa.array([0, 2**64 - 1, None, 1], pa.uint64()),
        pa.array([Decimal(0), Decimal(2**64 - 1), None, Decimal(1)], pa.decimal128(20, 0)),
        "numeric(20,0)",
    ),
    "float16": (_f16(), pa.array([1.5, -65504.0, None, float("inf")], pa.float32()), "real"),
    "float32": (pa.array([1.5, float("-inf"), None, float("nan")], pa.float32()), None, "real"),
    "float64": (pa.array([-0.0, float("inf"), None, float("nan")], pa.float64()), None, "double precision"),
    "decimal128": (
        pa.array(
            [Decimal("-99999999999999.999999"), Decimal("12345.678901"), None, Decimal("0.000001")],
            pa.decimal128(20, 6),
        ),
        None,
        "numeric(20,6)",
    ),
    "decimal256": (
        pa.array([Decimal("9" * 38 + ".25"), Decimal("-0.01"), None, Decimal("0")], pa.decimal256(40, 2)),
        None,
        "numeric(40,2)",
    ),
    "decimal_neg_scale0": (
        pa.array([Decimal("-12345"), Decimal("99999"), None, Decimal("0")], pa.decimal128(5, 0)),
        None,
        "numeric(5,0)",
    ),
    "string": (pa.array(STRINGS), None, "text"),
    "large_string": (pa.array(STRINGS, pa.large_string()), pa.array(STRINGS), "text"),
    "string_view": (pa.array(STRINGS, pa.string_view()), pa.array(STRINGS), "text"),
    "dictionary": (
        pa.array(["x", "y", None, "x"]).dictionary_encode(),
        pa.array(["x", "y", None, "x"]),
        "text",
    ),
    "dictionary_int8_large": (
        pa.DictionaryArray.from_arrays(
            pa.array([1, 0, None, 1], pa.int8()), pa.array(["ä", "b"], pa.large_string())
        ),
        pa.array(["b", "ä", None, "b"]),
        "text",
    ),
    "binary": (pa.array(BLOBS), None, "bytea"),
    "large_binary": (pa.array(BLOBS, pa.large_binary()), pa.array(BLOBS), "bytea"),
    "binary_view": (pa.array(BLOBS, pa.binary_view()), pa.array(BLOBS), "bytea"),
    "fixed_size_binary": (
        pa.array([b"ab", b"\x00\x00", None, b"zz"], pa.binary(2)),
        pa.array([b"ab", b"\x00\x00", None, b"zz"]),
        "bytea",
    ),
    "uuid_fixed16": (
        pa.array([U1.bytes, U2.bytes, None, bytes(16)], pa.binary(16)),
        pa.array([U1.bytes, U2.bytes, None, bytes(16)], pa.uuid()),
        "uuid",
    ),
    "uuid_ext": (pa.array([U1.bytes, U2.bytes, None, bytes(16)], pa.uuid()), None, "uuid"),
    "date32": (pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31), None, dt.date(1970, 1, 1)], pa.date32()), None, "date"),
    "date32_infinity": (
        pa.array([INT32_MAX, INT32_MIN, None, -1], pa.int32()).cast(pa.date32()),
        None,
        "date",
    ),
    "date64": (
        pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31), None, dt.date(1970, 1, 1)], pa.date64()),
        pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31), None, dt.date(1970, 1, 1)], pa.date32()),
        "date",
    ),
    "timestamp_s": (pa.array(TS, pa.timestamp("s")), pa.array(TS, pa.timestamp("us")), "timestamp without time zone"),
    "timestamp_ms": (pa.array(TS, pa.timestamp("ms")), pa.array(TS, pa.timestamp("us")), "timestamp without time zone"),
    "timestamp_us": (pa.array(TS, pa.timestamp("us")), None, "timestamp without time zone"),
    "timestamp_ns": (
        pa.array([1_700_000_000_123_456_789, 0, None, 1999], pa.timestamp("ns")),
        pa.array([1_700_000_000_123_456, 0, None, 1], pa.timestamp("us")),
        "timestamp without time zone",
    ),
    "timestamp_infinity": (
        pa.array([INT64_MAX, INT64_MIN, None, 1], pa.int64()).cast(pa.timestamp("us")),
        None,
        "timestamp without time zone",
    ),
    "timestamptz": (
        pa.array(TS_US_INTS, pa.int64()).cast(pa.timestamp("us", "UTC")),
        None,
        "timestamp with time zone",
    ),
    "timestamptz_tokyo_ms": (
        pa.array([1_600_000_000_123, -1, None, 0], pa.int64()).cast(pa.timestamp("ms", "Asia/Tokyo")),
        pa.array([1_600_000_000_123_000, -1000, None, 0], pa.int64()).cast(pa.timestamp("us", "UTC")),
        "timestamp with time zone",
    ),
    "time32_s": (
        pa.array([0, 86399, None, 3600], pa.time32("s")),
        pa.array([0, 86_399_000_000, None, 3_600_000_000], pa.time64("us")),
        "time without time zone",
    ),
    "time32_ms": (
        pa.array([0, 86_399_999, None, 1], pa.time32("ms")),
        pa.array([0, 86_399_999_000, None, 1000], pa.time64("us")),
        "time without time zone",
    ),
    "time64_us": (pa.array([0, 86_399_999_999, None, 1], pa.time64("us")), None, "time without time zone"),
    "time64_ns": (
        pa.array([0, 86_399_999_999_999, None, 1999], pa.time64("ns")),
        pa.array([0, 86_399_999_999, None, 1], pa.time64("us")),
        "time without time zone",
    ),
    "interval": (
        pa.array([(1, 2, 3000), (-14, -3, -86_400_000_000_000), None, (0, 0, 0)], pa.month_day_nano_interval()),
        None,
        "interval",
    ),
    "duration_s": (
        pa.array([1, -3 * 86400, None, 0], pa.duration("s")),
        pa.array([(0, 0, 10**9), (0, 0, -3 * 86400 * 10**9), None, (0, 0, 0)], pa.month_day_nano_interval()),
        "interval",
    ),
    "duration_us": (
        pa.array([1, 10**12, None, -5], pa.duration("us")),
        pa.array([(0, 0, 1000), (0, 0, 10**15), None, (0, 0, -5000)], pa.month_day_nano_interval()),
        "interval",
    ),
    "null": (pa.nulls(4), pa.nulls(4, pa.string()), "text"),
    # lists -> one-dimensional arrays
    "list_int64": (pa.array([[1, None, INT64_MAX], [], None, [INT64_MIN]], pa.list_(pa.int64())), None, "bigint[]"),
    "large_list_int32": (
        pa.array([[1, None], [], None, [INT32_MIN]], pa.large_list(pa.int32())),
        pa.array([[1, None], [], None, [INT32_MIN]], pa.list_(pa.int32())),
        "integer[]",
    ),
    "list_uint8": (
        pa.array([[255], [], None, [0, None]], pa.list_(pa.uint8())),
        pa.array([[255], [], None, [0, None]], pa.list_(pa.int16())),
        "smallint[]",
    ),
    "list_string": (
        pa.array([["a", None, "ü,{\"}"], [], None, ["", "NULL"]], pa.list_(pa.string())),
        None,
        "text[]",
    ),
    "list_large_string": (
        pa.array([["x"], [], None, [None]], pa.list_(pa.large_string())),
        pa.array([["x"], [], None, [None]], pa.list_(pa.string())),
        "text[]",
    ),
    "list_dictionary": (
        pa.array([["a", "b"], [], None, ["a"]], pa.list_(pa.dictionary(pa.int32(), pa.string()))),
        pa.array([["a", "b"], [], None, ["a"]], pa.list_(pa.string())),
        "text[]",
    ),
    "list_float64": (
        pa.array([[1.5, float("nan"), float("-inf")], [], None, [-0.0]], pa.list_(pa.float64())),
        None,
        "double precision[]",
    ),
    "list_decimal": (
        pa.array([[Decimal("1.50"), None], [], None, [Decimal("-999.99")]], pa.list_(pa.decimal128(5, 2))),
        None,
        "numeric(5,2)[]",
    ),
    "list_bool": (pa.array([[True, False, None], [], None, [False]], pa.list_(pa.bool_())), None, "boolean[]"),
    "list_binary": (pa.array([[b"\x00", None], [], None, [b""]], pa.list_(pa.binary())), None, "bytea[]"),
    "list_date": (
        pa.array([[dt.date(2020, 1, 1), None], [], None, [dt.date(1, 1, 1)]], pa.list_(pa.date32())),
        None,
        "date[]",
    ),
    "list_timestamptz": (
        pa.array([[0, None], [], None, [-1]], pa.list_(pa.int64())).cast(pa.list_(pa.timestamp("us", "UTC"))),
        None,
        "timestamp with time zone[]",
    ),
    "list_uuid": (
        pa.ListArray.from_arrays(
            pa.array([0, 2, None, 2, 3], pa.int32()), pa.array([U1.bytes, None, U2.bytes], pa.uuid())
        ),
        None,
        "uuid[]",
    ),
}
N_ROUND_TRIP = 4
IDS = pa.array(range(N_ROUND_TRIP), pa.int64())


def _expected(name: str):
    given_, expected, pg_type = ROUND_TRIP[name]
    return given_, (given_ if expected is None else expected), pg_type


def _psycopg_expected(name: str, expected) -> list:
    if name.endswith("_infinity"):  # psycopg cannot load ±infinity dates/timestamps as Python values
        return [None if v is None else v for v in values(expected)]
    return python_values(expected)


def _psycopg_select(name: str, ident: str) -> str:
    if name == "date32_infinity":  # date -> days since 1970-01-01, ±infinity -> int32 max/min
        return (
            f"CASE WHEN {ident} = 'infinity' THEN {INT32_MAX} WHEN {ident} = '-infinity' THEN {INT32_MIN}"
            f" ELSE {ident} - DATE '1970-01-01' END"
        )
    if name == "timestamp_infinity":
        return (
            f"CASE WHEN {ident} = 'infinity' THEN {INT64_MAX} WHEN {ident} = '-infinity' THEN {INT64_MIN}"
            f" ELSE (extract(epoch FROM {ident}) * 1000000)::int8 END"
        )
    return ident


def check_round_trip(db, pg, table: str, names: list[str], n_rows: int) -> None:
    """``table`` was written from ROUND_TRIP columns ``names`` (first ``n_rows`` rows) plus ``id``."""
    assert column_types(pg, table) == [("id", "bigint")] + [(n, ROUND_TRIP[n][2]) for n in names]
    back = db.read_arrow(f"SELECT * FROM {table} ORDER BY id")
    assert back.num_rows == n_rows
    assert back.column_names == ["id"] + names
    for name in names:
        _, expected, pg_type = _expected(name)
        expected = expected.slice(0, n_rows)
        field = back.schema.field(name)
        assert field.type == expected.type, name
        assert pg_type_of(field) == pg_type.encode(), name
        assert col_values(back.column(name)) == col_values(expected), name
    select = ", ".join(_psycopg_select(n, f'"{n}"') for n in names)
    rows = pg_rows(pg, f"SELECT {select} FROM {table} ORDER BY id")
    for i, name in enumerate(names):
        _, expected, _ = _expected(name)
        got = [norm(r[i]) for r in rows]
        assert got == _psycopg_expected(name, expected.slice(0, n_rows)), name


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_round_trip_each_type(db, pg, new_table, name):
    table = new_table()
    given_, _, _ = _expected(name)
    written = db.write_arrow(table, pa.table({"id": IDS, name: given_}), mode="create")
    assert written == N_ROUND_TRIP
    check_round_trip(db, pg, table, [name], N_ROUND_TRIP)
    # -0.0 keeps its sign
    if name == "float64":
        (neg_zero,) = pg_column(pg, f"SELECT float64 FROM {table} WHERE id = 0")
        assert str(neg_zero) == "-0.0"


@pytest.mark.parametrize("n_rows", [0, 1, N_ROUND_TRIP], ids=["empty", "one-row", "all"])
def test_round_trip_all_types_in_one_table(db, pg, new_table, n_rows):
    table = new_table()
    names = list(ROUND_TRIP)
    data = pa.table({"id": IDS, **{n: ROUND_TRIP[n][0] for n in names}}).slice(0, n_rows)
    assert db.write_arrow(table, data, mode="create") == n_rows
    check_round_trip(db, pg, table, names, n_rows)


def test_round_trip_row_of_nulls_only(db, pg, new_table):
    """The third row of ROUND_TRIP is NULL in every column."""
    table = new_table()
    names = list(ROUND_TRIP)
    data = pa.table({"id": IDS, **{n: ROUND_TRIP[n][0] for n in names}}).slice(2, 1)
    assert db.write_arrow(table, data, mode="create") == 1
    (row,) = pg_rows(pg, f"SELECT * FROM {table}")
    assert row == (2,) + (None,) * len(names)


RICH_COLUMNS = (
    "id int4, n numeric(15,2), c char(25), vc varchar(44), tz timestamptz, ts timestamp,"
    " iv interval, u uuid, b bytea, j jsonb, js json, d date, t time, sm smallint, r real,"
    " f float8, bo boolean, tx text, n5 numeric(5,0), big numeric(38,10), ia int4[], ta text[],"
    " na numeric(6,3)[]"
)
RICH_ROWS = r"""VALUES
    (1, 12345.67, 'abc', 'hello', '2020-01-01 12:00+02', '2020-01-01 12:00:00.000001',
     '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff',
     '{"a": [1, 2], "ü": null}', '{"b" :  1}', 'infinity', '23:59:59.999999', -32768, 1.25,
     2.5, true, 'x', -99999, 1234567890123456789012345678.0123456789, '{1,NULL,3}',
     '{"a b",NULL,"{\"}"}', '{1.5,NULL}'),
    (2, -0.01, '', '', '-infinity', 'infinity', '-1 days -00:00:00.000001', NULL, '\x', 'null',
     '[]', '-infinity', '00:00', NULL, 'NaN', '-Infinity', false, '', 0, -0.0000000001, '{}', '{}',
     '{}'),
    (3, NULL, NULL, NULL, NULL, '-infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (4, 9999999999999.99, 'padded   ', 'ü€', '4713-01-01 00:00+00 BC', '100000-01-01 00:00:00.000001',
     '178000000 years', '00000000-0000-0000-0000-000000000000', '\xdeadbeef', '{"deep": {"x": [true]}}',
     '"s"', '5874897-12-31', '24:00:00', 32767, '-Infinity', 'NaN', true, 'tab	here', 99999,
     0, '{-2147483648}', '{NULL}', '{-999.999}')"""


def test_read_then_write_round_trip_keeps_column_types(db, pg, make_table, new_table):
    """read_arrow -> write_arrow(mode="create"): the pg_type metadata recreates the same
    column types, and the rows are equal by PostgreSQL's own comparison."""
    src = make_table(RICH_COLUMNS, RICH_ROWS)
    dst = new_table()
    data = db.read_arrow(f"SELECT * FROM {src} ORDER BY id")
    assert db.write_arrow(dst, data, mode="create") == 4
    assert data.schema.field("ia").type == pa.list_(pa.int32())
    assert column_types(pg, dst) == column_types(pg, src)
    back = db.read_arrow(f"SELECT * FROM {dst} ORDER BY id")
    assert back.schema.equals(data.schema, check_metadata=True), f"\n{back.schema}\n!=\n{data.schema}"
    for name in data.column_names:
        assert col_values(back.column(name)) == col_values(data.column(name)), name
    # json has no equality operator: compare its text (kept verbatim by json)
    cols = ", ".join("js::text" if c == "js" else c for c in data.column_names)
    for a, b in ((src, dst), (dst, src)):
        assert pg_rows(pg, f"SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b}") == []
    assert pg_rows(pg, f"SELECT count(*) FROM {dst}") == [(4,)]
    # and byte for byte in text form (char padding, interval normalisation, json spacing...)
    assert snapshot(pg, dst)[1] == snapshot(pg, src)[1]


def test_pg_type_metadata_only_honoured_within_the_same_family(db, pg, new_table):
    table = new_table()
    meta = lambda t: {"pg_type": t}  # noqa: E731
    data = pa.table(
        pa.RecordBatch.from_arrays(
            [pa.array(["a"]), pa.array([1], pa.int64()), pa.array(["x"]), pa.array([Decimal("1.5")], pa.decimal128(4, 1))],
            schema=pa.schema(
                [
                    pa.field("vc", pa.string(), metadata=meta("character varying(7)")),
                    pa.field("i", pa.int64(), metadata=meta("text")),  # other family: ignored
                    pa.field("s", pa.string(), metadata=meta("integer")),  # other family: ignored
                    pa.field("n", pa.decimal128(4, 1), metadata=meta("numeric(9,3)")),
                ]
            ),
        )
    )
    db.write_arrow(table, data, mode="create")
    types = dict(column_types(pg, table))
    assert types["vc"] == "character varying(7)"
    assert types["i"] == "bigint"
    assert types["s"] == "text"
    assert types["n"] == "numeric(9,3)"
    assert pg_rows(pg, f"SELECT vc, i, s, n::text FROM {table}") == [("a", 1, "x", "1.500")]


def test_pg_type_metadata_narrower_numeric_refuses_inexact_values(db, pg, new_table):
    table = new_table()
    field = pa.field("x", pa.decimal128(4, 1), metadata={"pg_type": "numeric(3,0)"})
    data = pa.table([pa.array([Decimal("2.0"), Decimal("1.5")], pa.decimal128(4, 1))], schema=pa.schema([field]))
    with pytest.raises(data_bridge.DataError) as info:
        db.write_arrow(table, data, mode="create")
    assert '"x"' in str(info.value) and "row 1" in str(info.value)
    assert not table_exists(pg, table)


@pytest.mark.parametrize(
    "evil", ["text); DROP TABLE {sentinel}; --", "text DEFAULT 'injected'"], ids=["drop-table", "default"]
)
def test_pg_type_metadata_is_not_sql(db, pg, make_table, new_table, evil):
    sentinel = make_table("a int4", "VALUES (1)")
    table = new_table()
    field = pa.field("x", pa.string(), metadata={"pg_type": evil.format(sentinel=sentinel)})
    data = pa.table([pa.array(["v"])], schema=pa.schema([field]))
    try:
        db.write_arrow(table, data, mode="create")
    except data_bridge.Error:
        assert not table_exists(pg, table)  # refusing the type is fine
    else:  # ignoring it is fine too
        assert column_types(pg, table) == [("x", "text")]
        assert pg_rows(pg, f"SELECT count(*) FROM pg_attrdef WHERE adrelid = '{table}'::regclass") == [(0,)]
    assert pg_rows(pg, f"SELECT * FROM {sentinel}") == [(1,)]


def test_pg_type_metadata_timestamp_precision_not_lossy(db, pg, new_table):
    table = new_table()
    field = pa.field("ts", pa.timestamp("us"), metadata={"pg_type": "timestamp(0) without time zone"})
    data = pa.table([pa.array([dt.datetime(2020, 1, 1, 0, 0, 0, 700000)], pa.timestamp("us"))], schema=pa.schema([field]))
    try:
        db.write_arrow(table, data, mode="create")
    except data_bridge.DataError:
        assert not table_exists(pg, table)
    else:
        assert pg_column(pg, f"SELECT ts FROM {table}") == [dt.datetime(2020, 1, 1, 0, 0, 0, 700000)]


# --------------------------------------------------------------------------
# 2. append: by name, defaults, errors, schemas, quoting
# --------------------------------------------------------------------------


def test_append_matches_columns_by_name_in_any_order(db, pg, make_table):
    table = make_table("id int8 PRIMARY KEY, name text, score float8", "VALUES (1, 'one', 1.0)")
    data = pa.table({"score": [2.5, None], "id": [2, 3], "name": ["two", "three"]})
    assert db.write_arrow(table, data) == 2
    assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY id") == [
        (1, "one", 1.0),
        (2, "two", 2.5),
        (3, "three", None),
    ]


def test_append_missing_columns_take_defaults(db, pg, make_table):
    table = make_table(
        "id int8, n int DEFAULT 42, ts timestamptz DEFAULT now(), note text, s serial"
    )
    before = pg.execute("SELECT now()").fetchone()[0]
    assert db.write_arrow(table, pa.table({"id": [1, 2, 3]})) == 3
    after = pg.execute("SELECT now()").fetchone()[0]
    rows = pg_rows(pg, f"SELECT id, n, note, s FROM {table} ORDER BY id")
    assert rows == [(1, 42, None, 1), (2, 42, None, 2), (3, 42, None, 3)]
    (stamps,) = pg_rows(pg, f"SELECT count(DISTINCT ts), min(ts), bool_and(ts IS NOT NULL) FROM {table}")
    count, stamp, all_set = stamps
    assert count == 1 and all_set  # now() is the one transaction's start time
    assert before <= stamp <= after
    # an explicit NULL is not replaced by the default
    db.write_arrow(table, pa.table({"id": [4], "n": pa.array([None], pa.int32())}))
    assert pg_rows(pg, f"SELECT n FROM {table} WHERE id = 4") == [(None,)]


def test_append_extra_column_is_a_programming_error_naming_it(db, pg, make_table):
    table = make_table("id int8, v text", "VALUES (1, 'a')")
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.ProgrammingError) as info:
        db.write_arrow(table, pa.table({"id": [2], "v": ["b"], "not_there": [1]}))
    assert "not_there" in str(info.value)
    assert snapshot(pg, table) == before


def test_append_missing_table(db, pg, new_table):
    table = new_table()
    with pytest.raises(data_bridge.UndefinedTable) as info:
        db.write_arrow(table, pa.table({"a": [1]}))
    assert info.value.sqlstate == "42P01"
    assert not table_exists(pg, table)


def test_append_create_if_missing(db, pg, new_table):
    table = new_table()
    assert db.write_arrow(table, pa.table({"a": [1], "b": ["x"]}), create_if_missing=True) == 1
    assert column_types(pg, table) == [("a", "bigint"), ("b", "text")]
    # second time the table exists: plain append, by name
    assert db.write_arrow(table, pa.table({"b": ["y"], "a": [2]}), create_if_missing=True) == 1
    assert pg_rows(pg, f"SELECT a, b FROM {table} ORDER BY a") == [(1, "x"), (2, "y")]


def test_append_empty_data_writes_nothing(db, pg, make_table):
    table = make_table("id int8, v text", "VALUES (1, 'a')")
    assert db.write_arrow(table, pa.table({"id": pa.array([], pa.int64())})) == 0
    assert pg_rows(pg, f"SELECT * FROM {table}") == [(1, "a")]


def test_append_duplicate_data_column_names_rejected(db, pg, make_table):
    table = make_table("id int8", "VALUES (1)")
    data = pa.Table.from_arrays([pa.array([2]), pa.array([3])], names=["id", "id"])
    with pytest.raises(data_bridge.ProgrammingError):
        db.write_arrow(table, data)
    assert pg_rows(pg, f"SELECT * FROM {table}") == [(1,)]


@pytest.mark.parametrize("form", ["dotted", "tuple"])
def test_schema_qualified_names(db, pg, new_schema, new_table, form):
    schema = new_schema()
    name = new_table(schema)
    new_table(None, name)  # the same name in public, which must stay untouched
    pg.execute(f"CREATE TABLE public.{name} (a int8)")
    target = f"{schema}.{name}" if form == "dotted" else (schema, name)
    assert db.write_arrow(target, pa.table({"a": [1, 2]}), mode="create") == 2
    assert column_types(pg, name, schema) == [("a", "bigint")]
    assert db.write_arrow(target, pa.table({"a": [3]})) == 1
    assert pg_column(pg, f"SELECT a FROM {schema}.{name} ORDER BY a") == [1, 2, 3]
    assert pg_rows(pg, f"SELECT count(*) FROM public.{name}") == [(0,)]
    assert db.write_arrow(target, pa.table({"z": ["new"]}), mode="replace") == 1
    assert column_types(pg, name, schema) == [("z", "text")]
    assert column_types(pg, name, "public") == [("a", "bigint")]


@pytest.mark.parametrize(
    "table_name",
    ["Mixed Case {}", 'we"ird name {}', "dotted.name.{}", "ü select {}", "x;DROP TABLE y {}"],
)
def test_quoted_table_names(db, pg, new_schema, new_table, table_name):
    schema = new_schema(f"Sch ema \"{uuid.uuid4().hex[:6]}\"")
    name = new_table(schema, table_name.format(uuid.uuid4().hex[:8]))
    data = pa.table({"Mixed Col": [1, 2], 'q"uote col': ["a", "b"], "sp ace": [True, None]})
    assert db.write_arrow((schema, name), data, mode="create") == 2
    assert column_types(pg, name, schema) == [
        ("Mixed Col", "bigint"),
        ('q"uote col', "text"),
        ("sp ace", "boolean"),
    ]
    # append by name, in another order
    more = pa.table({"sp ace": [False], 'q"uote col': ["c"], "Mixed Col": [3]})
    assert db.write_arrow((schema, name), more) == 1
    ident = sql.Identifier(schema, name).as_string(pg)
    assert pg_rows(pg, f'SELECT "Mixed Col", "q""uote col", "sp ace" FROM {ident} ORDER BY 1') == [
        (1, "a", True),
        (2, "b", None),
        (3, "c", False),
    ]


def test_quoted_name_in_public_as_plain_string(db, pg, new_table):
    name = new_table(None, f'Mixed "Case" {uuid.uuid4().hex[:8]}')
    assert db.write_arrow(name, pa.table({"A": [1]}), mode="create") == 1
    assert db.write_arrow(name, pa.table({"A": [2]})) == 1
    ident = sql.Identifier(name).as_string(pg)
    assert pg_column(pg, f'SELECT "A" FROM {ident} ORDER BY 1') == [1, 2]
    assert not table_exists(pg, name.lower())


# --------------------------------------------------------------------------
# 3. create / replace / upsert
# --------------------------------------------------------------------------


def test_create_on_existing_table(db, pg, make_table):
    table = make_table("id int4, v text", "VALUES (1, 'a')")
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.ProgrammingError) as info:
        db.write_arrow(table, pa.table({"x": [1.5]}), mode="create")
    assert info.value.sqlstate == "42P07"
    assert snapshot(pg, table) == before


def test_replace_changes_schema_and_content(db, pg, make_table):
    table = make_table("id int4 PRIMARY KEY, v text", "VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    pg.execute(f"CREATE INDEX ON {table} (v)")
    data = pa.table({"x": [1.5, None], "y": ["p", "q"]})
    assert db.write_arrow(table, data, mode="replace") == 2
    assert column_types(pg, table) == [("x", "double precision"), ("y", "text")]
    assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY y") == [(1.5, "p"), (None, "q")]


def test_replace_creates_missing_table(db, pg, new_table):
    table = new_table()
    assert db.write_arrow(table, pa.table({"x": [1]}), mode="replace") == 1
    assert pg_rows(pg, f"SELECT * FROM {table}") == [(1,)]


def test_replace_with_dependent_view_fails_and_keeps_table(db, pg, make_table):
    table = make_table("id int4", "VALUES (1), (2)")
    view = unique_name("v")
    pg.execute(f"CREATE VIEW {view} AS SELECT * FROM {table}")
    try:
        before = snapshot(pg, table)
        with pytest.raises(data_bridge.DatabaseError) as info:
            db.write_arrow(table, pa.table({"z": ["x"]}), mode="replace")
        assert info.value.sqlstate == "2BP01"
        assert snapshot(pg, table) == before
        assert pg_rows(pg, f"SELECT * FROM {view} ORDER BY 1") == [(1,), (2,)]
    finally:
        pg.execute(f"DROP VIEW IF EXISTS {view}")


UPSERT_COLUMNS = "id int8 PRIMARY KEY, v text, n int DEFAULT 42"
UPSERT_ROWS = "VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)"


def test_upsert_updates_and_inserts(db, pg, make_table):
    table = make_table(UPSERT_COLUMNS, UPSERT_ROWS)
    data = pa.table({"v": ["B", "C", "D", "E"], "id": [2, 3, 4, 5]})
    assert db.write_arrow(table, data, mode="upsert", key=["id"]) == 4
    # updated rows keep the columns the data lacks; inserted ones take the defaults
    assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY id") == [
        (1, "a", 1),
        (2, "B", 2),
        (3, "C", 3),
        (4, "D", 42),
        (5, "E", 42),
    ]


def test_upsert_can_set_null_and_all_columns(db, pg, make_table):
    table = make_table(UPSERT_COLUMNS, UPSERT_ROWS)
    data = pa.table({"id": [1, 9], "v": [None, "nine"], "n": pa.array([None, 9], pa.int32())})
    assert db.write_arrow(table, data, mode="upsert", key=("id",), batch_rows=1) == 2
    assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY id") == [
        (1, None, None),
        (2, "b", 2),
        (3, "c", 3),
        (9, "nine", 9),
    ]


def test_upsert_composite_key(db, pg, make_table):
    table = make_table("a int4, b text, v float8, PRIMARY KEY (a, b)", "VALUES (1, 'x', 1.0), (1, 'y', 2.0)")
    data = pa.table(
        {"a": pa.array([1, 1, 2], pa.int32()), "b": ["y", "z", "x"], "v": [20.0, 30.0, 40.0]}
    )
    assert db.write_arrow(table, data, mode="upsert", key=["a", "b"]) == 3
    assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY a, b") == [
        (1, "x", 1.0),
        (1, "y", 20.0),
        (1, "z", 30.0),
        (2, "x", 40.0),
    ]


def test_upsert_on_unique_constraint_not_pk(db, pg, make_table):
    table = make_table("id serial PRIMARY KEY, code text UNIQUE, v int4", "VALUES (DEFAULT, 'a', 1)")
    data = pa.table({"code": ["a", "b"], "v": pa.array([10, 20], pa.int32())})
    assert db.write_arrow(table, data, mode="upsert", key=["code"]) == 2
    rows = pg_rows(pg, f"SELECT id, code, v FROM {table} ORDER BY id")
    assert [r[1:] for r in rows] == [("a", 10), ("b", 20)]
    assert rows[0][0] == 1  # the updated row keeps its id; the new one got a fresh one
    assert rows[1][0] > 1


def test_upsert_create_if_missing_gets_primary_key(db, pg, new_table):
    table = new_table()
    data = pa.table({"id": [1, 2], "v": ["a", "b"]})
    assert db.write_arrow(table, data, mode="upsert", key=["id"], create_if_missing=True) == 2
    assert pg_column(pg, f"SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '{table}'::regclass") == [
        "PRIMARY KEY (id)"
    ]
    data = pa.table({"id": [2, 3], "v": ["B", "c"]})
    assert db.write_arrow(table, data, mode="upsert", key=["id"], create_if_missing=True) == 2
    assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY id") == [(1, "a"), (2, "B"), (3, "c")]


def test_upsert_quoted_names(db, pg, new_schema, new_table):
    schema = new_schema(f"Up Sert {uuid.uuid4().hex[:6]}")
    name = new_table(schema, f'Ta"ble {uuid.uuid4().hex[:6]}')
    ident = sql.Identifier(schema, name).as_string(pg)
    pg.execute(f'CREATE TABLE {ident} ("Key Col" int8, "k""2" text, "v al" text, PRIMARY KEY ("Key Col", "k""2"))')
    pg.execute(f"INSERT INTO {ident} VALUES (1, 'a', 'old'), (2, 'b', 'old')")
    data = pa.table({"v al": ["new", "ins"], 'k"2': ["a", "z"], "Key Col": [1, 2]})
    assert db.write_arrow((schema, name), data, mode="upsert", key=["Key Col", 'k"2']) == 2
    assert pg_rows(pg, f"SELECT * FROM {ident} ORDER BY 1, 2") == [(1, "a", "new"), (2, "b", "old"), (2, "z", "ins")]


@pytest.mark.parametrize("key", [None, []])
def test_upsert_without_key(db, pg, make_table, key):
    table = make_table(UPSERT_COLUMNS, UPSERT_ROWS)
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.ProgrammingError) as info:
        db.write_arrow(table, pa.table({"id": [1], "v": ["x"]}), mode="upsert", key=key)
    assert "key" in str(info.value)
    assert snapshot(pg, table) == before


def test_upsert_without_matching_unique_constraint(db, pg, make_table):
    table = make_table("id int8, v text", "VALUES (1, 'a')")
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.ProgrammingError) as info:
        db.write_arrow(table, pa.table({"id": [1, 2], "v": ["x", "y"]}), mode="upsert", key=["id"])
    assert info.value.sqlstate == "42P10"
    assert snapshot(pg, table) == before


def test_upsert_duplicate_keys_in_data(db, pg, make_table):
    table = make_table(UPSERT_COLUMNS, UPSERT_ROWS)
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.ProgrammingError) as info:
        db.write_arrow(table, pa.table({"id": [7, 7], "v": ["x", "y"]}), mode="upsert", key=["id"])
    assert info.value.sqlstate == "21000"  # ON CONFLICT DO UPDATE cannot affect row a second time
    assert snapshot(pg, table) == before


def test_upsert_unknown_key_column(db, pg, make_table):
    table = make_table(UPSERT_COLUMNS, UPSERT_ROWS)
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.ProgrammingError) as info:
        db.write_arrow(table, pa.table({"id": [1]}), mode="upsert", key=["nope"])
    assert "nope" in str(info.value)
    assert snapshot(pg, table) == before


def test_upsert_extra_data_column(db, pg, make_table):
    table = make_table(UPSERT_COLUMNS, UPSERT_ROWS)
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.ProgrammingError) as info:
        db.write_arrow(table, pa.table({"id": [1], "bogus_col": [1]}), mode="upsert", key=["id"])
    assert "bogus_col" in str(info.value)
    assert snapshot(pg, table) == before


def test_upsert_key_column_missing_from_data(db, pg, make_table):
    table = make_table(UPSERT_COLUMNS, UPSERT_ROWS)
    before = snapshot(pg, table)
    try:
        with pytest.raises(data_bridge.ProgrammingError) as info:
            db.write_arrow(table, pa.table({"v": ["q"]}), mode="upsert", key=["id"])
        assert '"id"' in str(info.value) or "id" in str(info.value).split()
    finally:
        assert snapshot(pg, table) == before


def test_unknown_mode(db, pg, make_table):
    table = make_table("id int8", "VALUES (1)")
    with pytest.raises(data_bridge.ProgrammingError) as info:
        db.write_arrow(table, pa.table({"id": [2]}), mode="merge")
    assert "merge" in str(info.value)
    assert pg_rows(pg, f"SELECT * FROM {table}") == [(1,)]


@pytest.mark.parametrize("batch_rows", [0])
def test_bad_batch_rows(db, pg, make_table, batch_rows):
    table = make_table("id int8", "VALUES (1)")
    with pytest.raises(data_bridge.ProgrammingError):
        db.write_arrow(table, pa.table({"id": [2]}), batch_rows=batch_rows)
    assert pg_rows(pg, f"SELECT * FROM {table}") == [(1,)]


# --------------------------------------------------------------------------
# lossless widening into existing columns; everything else is a DataError
# --------------------------------------------------------------------------

WIDEN_COLUMNS = (
    "id int8, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric(12,2), nu numeric,"
    " ts timestamp, tz timestamptz, d date, tx text, vc varchar(10), j jsonb, js json, m {enum},"
    " by bytea, u uuid, bo boolean, t time, iv interval, i4a int4[], i8a int8[], ta text[], va varchar(3)[]"
)


@pytest.fixture
def widen_table(pg, make_table):
    enum = unique_name("mood")
    pg.execute(f"CREATE TYPE {enum} AS ENUM ('sad', 'ok', 'happy')")
    table = make_table(WIDEN_COLUMNS.format(enum=enum), "(id) VALUES (0)")
    yield table
    pg.execute(f"DROP TABLE IF EXISTS {table}")
    pg.execute(f"DROP TYPE {enum}")


ACCEPTED = [
    ("i8", pa.array([-(2**31)], pa.int32()), -(2**31)),
    ("i8", pa.array([-7], pa.int16()), -7),
    ("i8", pa.array([-8], pa.int8()), -8),
    ("i8", pa.array([2**32 - 1], pa.uint32()), 2**32 - 1),
    ("i4", pa.array([-(2**15)], pa.int16()), -(2**15)),
    ("i4", pa.array([65535], pa.uint16()), 65535),
    ("i2", pa.array([255], pa.uint8()), 255),
    ("f8", pa.array([1.1], pa.float32()), float(np.float32(1.1))),
    ("f8", pa.array([2**31 - 1], pa.int32()), 2**31 - 1.0),
    ("f4", pa.array([-(2**15)], pa.int16()), -(2.0**15)),
    ("f4", pa.array(np.array([0.5], np.float16)), 0.5),
    ("n", pa.array([Decimal("123.45")], pa.decimal128(5, 2)), Decimal("123.45")),
    ("n", pa.array([Decimal("-9.5")], pa.decimal128(2, 1)), Decimal("-9.50")),
    ("nu", pa.array([Decimal("1.000")], pa.decimal128(10, 3)), Decimal("1.000")),
    ("ts", pa.array([dt.date(2020, 1, 2)], pa.date32()), dt.datetime(2020, 1, 2)),
    ("ts", pa.array([dt.datetime(2020, 1, 2, 3)], pa.timestamp("ns")), dt.datetime(2020, 1, 2, 3)),
    ("tz", pa.array([0], pa.timestamp("s", "America/New_York")), dt.datetime(1970, 1, 1, tzinfo=UTC)),
    ("tx", pa.array(["x"], pa.large_string()), "x"),
    ("vc", pa.array(["0123456789"]), "0123456789"),
    ("vc", pa.array(["ok"], pa.string_view()), "ok"),
    ("j", pa.array(['{"a": [1, 2.5, null]}']), {"a": [1, 2.5, None]}),
    ("js", pa.array(['{"b" : 1}']), {"b": 1}),
    ("m", pa.array(["happy"]), "happy"),
    ("m", pa.array(["ok"]).dictionary_encode(), "ok"),
    ("by", pa.array([b"\x00"], pa.binary(1)), b"\x00"),
    ("u", pa.array([uuid.UUID(int=5).bytes], pa.binary(16)), uuid.UUID(int=5)),
    ("t", pa.array([1], pa.time32("s")), dt.time(0, 0, 1)),
    ("iv", pa.array([1], pa.duration("ms")), dt.timedelta(milliseconds=1)),
    ("i4", pa.nulls(1), None),
    ("i8a", pa.array([[1, None]], pa.list_(pa.int32())), [1, None]),
    ("i4a", pa.array([[-1]], pa.large_list(pa.int16())), [-1]),
    ("ta", pa.array([["x", None]], pa.list_(pa.large_string())), ["x", None]),
    ("va", pa.array([["abc"]], pa.list_(pa.string_view())), ["abc"]),
]


@pytest.mark.parametrize("column, arr, expected", ACCEPTED, ids=[f"{c}<-{a.type}" for c, a, _ in ACCEPTED])
def test_lossless_widening_accepted(db, pg, widen_table, column, arr, expected):
    assert db.write_arrow(widen_table, pa.table({"id": [1], column: arr})) == 1
    got = pg_rows(pg, f"SELECT {column} FROM {widen_table} WHERE id = 1")
    assert got == [(expected,)]
    if isinstance(expected, float):
        assert type(got[0][0]) is float


REJECTED = [
    ("i4", pa.array([1], pa.int64()), "Int64", "integer"),
    ("i2", pa.array([1], pa.int32()), "Int32", "smallint"),
    ("i2", pa.array([1], pa.uint16()), "UInt16", "smallint"),
    ("i8", pa.array([1], pa.uint64()), "UInt64", "bigint"),
    ("f4", pa.array([1.0], pa.float64()), "Float64", "real"),
    ("f4", pa.array([1], pa.int32()), "Int32", "real"),
    ("f8", pa.array([1], pa.int64()), "Int64", "double precision"),
    ("f8", pa.array([Decimal("1.5")], pa.decimal128(5, 1)), "Decimal128", "double precision"),
    ("tz", pa.array([1], pa.timestamp("us")), "Timestamp", "timestamp with time zone"),
    ("ts", pa.array([1], pa.timestamp("us", "UTC")), "Timestamp", "timestamp without time zone"),
    ("tz", pa.array([dt.date(2020, 1, 1)], pa.date32()), "Date32", "timestamp with time zone"),
    ("d", pa.array([1], pa.timestamp("us")), "Timestamp", "date"),
    ("i4", pa.array(["1"]), "Utf8", "integer"),
    ("i4", pa.array([True]), "Boolean", "integer"),
    ("bo", pa.array([1], pa.int64()), "Int64", "boolean"),
    ("tx", pa.array([1], pa.int64()), "Int64", "text"),
    ("by", pa.array(["x"]), "Utf8", "bytea"),
    ("u", pa.array([b"x" * 15], pa.binary(15)), "FixedSizeBinary", "uuid"),
    ("t", pa.array([1], pa.duration("us")), "Duration", "time"),
    ("iv", pa.array([1], pa.time64("us")), "Time64", "interval"),
    ("i4", pa.array([1], pa.int32()).dictionary_encode(), "Dictionary", "integer"),
    ("i4a", pa.array([[1]], pa.list_(pa.int64())), "Int64", "integer[]"),
    ("ta", pa.array([[1]], pa.list_(pa.int64())), "Int64", "text[]"),
    ("i4", pa.array([[1]], pa.list_(pa.int32())), "List", "integer"),
    ("tx", pa.array([["a"]]), "List", "text"),
    ("j", pa.array([[1]]), "List", "jsonb"),
    ("i8a", pa.array([[[[[[[[1]]]]]]]]), "List(List", "bigint[]"),  # 7 dimensions: PostgreSQL allows 6
]


@pytest.mark.parametrize(
    "column, arr, arrow_name, pg_name", REJECTED, ids=[f"{c}<-{a.type}" for c, a, _, _ in REJECTED]
)
def test_lossy_or_wrong_type_rejected_before_writing(db, pg, widen_table, column, arr, arrow_name, pg_name):
    before = snapshot(pg, widen_table)
    data = pa.table({"id": pa.array([1] * len(arr)), column: arr})
    with pytest.raises(data_bridge.DataError) as info:
        db.write_arrow(widen_table, data)
    message = str(info.value)
    assert f'"{column}"' in message
    assert arrow_name in message
    assert pg_name in message
    assert snapshot(pg, widen_table) == before


def test_decimal_rescaled_exactly_or_refused(db, pg, widen_table):
    """decimal128(5,3) into numeric(12,2): 1.230 fits exactly; 1.235 would be rounded by the
    server, so it is refused (naming the column and the row) and nothing is written."""
    exact = pa.array([Decimal("1.230"), None, Decimal("-99.990")], pa.decimal128(5, 3))
    assert db.write_arrow(widen_table, pa.table({"id": [1, 2, 3], "n": exact})) == 3
    assert pg_column(pg, f"SELECT n::text FROM {widen_table} WHERE id > 0 ORDER BY id") == ["1.23", None, "-99.99"]
    before = snapshot(pg, widen_table)
    inexact = pa.array([Decimal("1.230"), Decimal("1.235")], pa.decimal128(5, 3))
    with pytest.raises(data_bridge.DataError) as info:
        db.write_arrow(widen_table, pa.table({"id": [4, 5], "n": inexact}))
    assert '"n"' in str(info.value) and "row 1" in str(info.value)
    assert snapshot(pg, widen_table) == before


@pytest.mark.parametrize(
    "arr",
    [
        pa.array([1, 10**10], pa.int64()),
        pa.array([0, 2**64 - 1], pa.uint64()),
        pa.array([Decimal(0), Decimal("1" * 38)], pa.decimal128(38, 0)),
        pa.array([Decimal(0), Decimal("-10000000000.00")], pa.decimal256(40, 2)),
    ],
    ids=lambda a: str(a.type),
)
def test_numeric_overflow_refused(db, pg, widen_table, arr):
    """numeric(12,2) holds at most 10 integer digits: a bigger value is a DataError naming the
    column (found while encoding, or by the server), and nothing is written."""
    before = snapshot(pg, widen_table)
    with pytest.raises(data_bridge.DataError) as info:
        db.write_arrow(widen_table, pa.table({"id": [1, 2], "n": arr}))
    assert info.value.sqlstate in (None, "22003")
    assert info.value.sqlstate == "22003" or '"n"' in str(info.value)
    assert snapshot(pg, widen_table) == before
    # the largest value that fits goes in
    assert db.write_arrow(widen_table, pa.table({"id": [9], "n": pa.array([10**10 - 1], pa.int64())})) == 1
    assert pg_column(pg, f"SELECT n::text FROM {widen_table} WHERE id = 9") == ["9999999999.00"]


@pytest.mark.parametrize(
    "column, arr, cls, sqlstate",
    [
        ("vc", pa.array(["ok", "01234567890"]), data_bridge.DataError, "22001"),
        ("j", pa.array(['{"a": 1}', "{bad"]), data_bridge.InvalidTextRepresentation, "22P02"),
        ("m", pa.array(["ok", "furious"]), data_bridge.InvalidTextRepresentation, "22P02"),
        ("va", pa.array([["ok"], ["ok", "long"]]), data_bridge.DataError, "22001"),
    ],
    ids=["varchar-too-long", "bad-json", "bad-enum", "varchar-array-element-too-long"],
)
def test_values_rejected_by_the_server_leave_table_unchanged(db, pg, widen_table, column, arr, cls, sqlstate):
    before = snapshot(pg, widen_table)
    with pytest.raises(cls) as info:
        db.write_arrow(widen_table, pa.table({"id": [1, 2], column: arr}))
    assert info.value.sqlstate == sqlstate
    assert snapshot(pg, widen_table) == before


# --------------------------------------------------------------------------
# types not supported yet: an error, not a crash
# --------------------------------------------------------------------------

UNSUPPORTED = {
    "fixed_size_list": pa.array([[1, 2], [3, 4]], pa.list_(pa.int32(), 2)),
    "list_view": pa.array([[1], []], pa.list_view(pa.int64())),
    "list_of_struct": pa.array([[{"x": 1}], []]),
    "struct": pa.array([{"x": 1, "y": "a"}, None]),
    "map": pa.array([[("a", 1)], []], pa.map_(pa.string(), pa.int64())),
    "dictionary_of_ints": pa.array([1, 2]).dictionary_encode(),
}


@pytest.mark.parametrize("kind", list(UNSUPPORTED))
def test_unsupported_types_create(db, pg, new_table, kind):
    table = new_table()
    data = pa.table({"id": [1, 2], "x": UNSUPPORTED[kind]})
    with pytest.raises(data_bridge.Error):
        db.write_arrow(table, data, mode="create")
    assert not table_exists(pg, table)
    assert db.read_arrow("SELECT 1 AS ok").to_pydict() == {"ok": [1]}


@pytest.mark.parametrize("pg_type", ["int8[]", "jsonb", "text", "int4[]"])
@pytest.mark.parametrize("kind", ["struct", "map", "list_of_struct"])
def test_unsupported_types_append(db, pg, make_table, kind, pg_type):
    table = make_table(f"id int8, x {pg_type}", "(id) VALUES (0)")
    data = pa.table({"id": [1, 2], "x": UNSUPPORTED[kind]})
    with pytest.raises(data_bridge.Error):
        db.write_arrow(table, data)
    assert pg_rows(pg, f"SELECT id FROM {table}") == [(0,)]


def test_unsupported_type_error_message(db, new_table):
    with pytest.raises(data_bridge.Error) as info:
        db.write_arrow(new_table(), pa.table({"xs": pa.array([{"a": 1}])}), mode="create")
    message = str(info.value)
    assert '"xs"' in message and "Struct" in message
    assert "connection" not in message


def test_unsupported_input_object(db, new_table):
    with pytest.raises(data_bridge.ProgrammingError):
        db.write_arrow(new_table(), [{"a": 1}], mode="create")
    with pytest.raises(TypeError):
        db.write_arrow(123, pa.table({"a": [1]}))


# --------------------------------------------------------------------------
# 4. atomicity: any failure leaves the table as it was
# --------------------------------------------------------------------------


def test_duplicate_key_in_last_of_100k_rows(db, pg, make_table):
    table = make_table("id int8 PRIMARY KEY, v text", "SELECT i, 'old' FROM generate_series(1, 10) i")
    n = 100_000
    ids = np.arange(1000, 1000 + n, dtype=np.int64)
    ids[-1] = 5  # already in the table
    data = pa.table({"id": ids, "v": pa.array(np.char.add("v", ids.astype(str)).tolist())})
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.UniqueViolation) as info:
        db.write_arrow(table, data, batch_rows=8192)
    err = info.value
    assert isinstance(err, data_bridge.IntegrityError)
    assert err.sqlstate == "23505"
    assert err.diag.constraint_name == f"{table}_pkey"
    assert err.diag.table_name == table
    assert err.diag.message_detail == "Key (id)=(5) already exists."
    assert snapshot(pg, table) == before
    # the same rows without the duplicate all go in
    data = data.slice(0, n - 1)
    assert db.write_arrow(table, data) == n - 1
    assert pg_rows(pg, f"SELECT count(*), sum(id) FROM {table}") == [(10 + n - 1, 55 + int(ids[:-1].sum()))]


def test_duplicate_key_within_the_data(db, pg, make_table):
    table = make_table("id int8 PRIMARY KEY", "VALUES (1)")
    with pytest.raises(data_bridge.UniqueViolation):
        db.write_arrow(table, pa.table({"id": [2, 3, 2]}))
    assert pg_rows(pg, f"SELECT * FROM {table}") == [(1,)]


def test_not_null_violation(db, pg, make_table):
    table = make_table("id int8 PRIMARY KEY, v text NOT NULL", "VALUES (1, 'a')")
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.NotNullViolation) as info:
        db.write_arrow(table, pa.table({"id": [2, 3], "v": ["b", None]}))
    assert info.value.sqlstate == "23502"
    assert info.value.diag.column_name == "v"
    assert snapshot(pg, table) == before
    # a NOT NULL column missing from the data (no default) is a violation too
    with pytest.raises(data_bridge.NotNullViolation):
        db.write_arrow(table, pa.table({"id": [4]}))
    assert snapshot(pg, table) == before


def test_check_violation(db, pg, make_table):
    table = make_table("id int8, v int4 CHECK (v > 0)", "VALUES (1, 1)")
    with pytest.raises(data_bridge.CheckViolation):
        db.write_arrow(table, pa.table({"id": [2, 3], "v": pa.array([5, -5], pa.int32())}))
    assert pg_rows(pg, f"SELECT * FROM {table}") == [(1, 1)]


def test_wrong_type_leaves_table_unchanged(db, pg, make_table):
    table = make_table("id int4, v text", "VALUES (1, 'a')")
    before = snapshot(pg, table)
    with pytest.raises(data_bridge.DataError) as info:
        db.write_arrow(table, pa.table({"v": ["b"], "id": pa.array([2], pa.int64())}))
    assert '"id"' in str(info.value) and "Int64" in str(info.value) and "integer" in str(info.value)
    assert snapshot(pg, table) == before


SRC_SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])


def _batch(start: int, n: int, text: str = "new") -> pa.RecordBatch:
    return pa.record_batch(
        [pa.array(range(start, start + n), pa.int64()), pa.array([f"{text}{i}" for i in range(start, start + n)])],
        schema=SRC_SCHEMA,
    )


@pytest.mark.parametrize("good_batches", [0, 1, 5])
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_failing_source_leaves_table_unchanged(db, pg, make_table, good_batches, mode):
    table = make_table("id int8 PRIMARY KEY, v text", "SELECT i, 'old' FROM generate_series(1, 10) i")
    before = snapshot(pg, table)
    source = failing_source(SRC_SCHEMA, [_batch(100 + 1000 * i, 1000) for i in range(good_batches)])
    with pytest.raises(Exception) as info:
        db.write_arrow(table, source, mode=mode, key=["id"] if mode == "upsert" else None)
    # what happens: the generator's error comes back wrapped in a data_bridge.Error
    assert isinstance(info.value, data_bridge.Error), repr(info.value)
    assert "boom" in str(info.value)
    assert snapshot(pg, table) == before
    assert db.write_arrow(table, _batch(50, 2)) == 2  # the pool is healthy


@pytest.mark.parametrize("mode", ["create", "replace"])
def test_failing_source_create_or_replace(db, pg, make_table, new_table, mode):
    if mode == "create":
        table = new_table()
        before = None
    else:
        table = make_table("id int4 PRIMARY KEY, old_col text", "VALUES (1, 'a'), (2, 'b')")
        before = snapshot(pg, table)
    source = failing_source(SRC_SCHEMA, [_batch(0, 10)])
    with pytest.raises(data_bridge.Error) as info:
        db.write_arrow(table, source, mode=mode)
    assert "boom" in str(info.value)
    if mode == "create":
        assert not table_exists(pg, table)
    else:
        assert snapshot(pg, table) == before
        assert pg_column(pg, f"SELECT count(*) FROM pg_constraint WHERE conrelid = '{table}'::regclass") == [1]


def test_failing_replace_keeps_old_table(db, pg, make_table):
    table = make_table("id int4 PRIMARY KEY, keep text DEFAULT 'k'", "VALUES (1, 'a'), (2, 'b')")
    before = snapshot(pg, table)
    # unsupported type, server-side value error after the CREATE, duplicate column
    with pytest.raises(data_bridge.Error):
        db.write_arrow(table, pa.table({"x": pa.array([{"a": 1}])}), mode="replace")
    assert snapshot(pg, table) == before
    meta = pa.schema([pa.field("x", pa.string(), metadata={"pg_type": "character varying(2)"})])
    with pytest.raises(data_bridge.DataError):
        db.write_arrow(table, pa.table([pa.array(["ok", "too long"])], schema=meta), mode="replace")
    assert snapshot(pg, table) == before
    with pytest.raises(data_bridge.ProgrammingError):
        db.write_arrow(table, pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]), mode="replace")
    assert snapshot(pg, table) == before


def test_failing_create_if_missing_leaves_no_table(db, pg, new_table):
    table = new_table()
    with pytest.raises(data_bridge.Error):
        db.write_arrow(table, failing_source(SRC_SCHEMA, [_batch(0, 3)]), create_if_missing=True)
    assert not table_exists(pg, table)


# --------------------------------------------------------------------------
# 5. inputs
# --------------------------------------------------------------------------


def test_pandas_nullable_dtypes(db, pg, new_table):
    table = new_table()
    df = pd.DataFrame(
        {
            "i": pd.array([1, None, -3], dtype="Int64"),
            "i32": pd.array([1, None, 2], dtype="Int32"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "s": pd.array(["x", None, "ü"], dtype="string"),
            "f": pd.array([1.5, None, -2.0], dtype="Float64"),
            "plain": [1.0, np.nan, 3.0],
            "obj": ["a", None, "c"],
            "cat": pd.Categorical(["lo", None, "hi"]),
            "tz": pd.to_datetime(
                ["2020-01-01 00:00:00.123456789", None, "1999-12-31 23:59:59.000000001"], utc=True
            ),
            "naive": pd.to_datetime(["2020-01-01 00:00:00.123456789", None, "1999-12-31 23:59:59.000000001"]),
        }
    )
    assert db.write_arrow(table, df, mode="create") == 3
    assert column_types(pg, table) == [
        ("i", "bigint"),
        ("i32", "integer"),
        ("b", "boolean"),
        ("s", "text"),
        ("f", "double precision"),
        ("plain", "double precision"),
        ("obj", "text"),
        ("cat", "text"),
        ("tz", "timestamp with time zone"),
        ("naive", "timestamp without time zone"),
    ]
    t1 = dt.datetime(2020, 1, 1, 0, 0, 0, 123456)
    t2 = dt.datetime(1999, 12, 31, 23, 59, 59)
    assert pg_rows(pg, f"SELECT * FROM {table}") == [
        (1, 1, True, "x", 1.5, 1.0, "a", "lo", t1.replace(tzinfo=UTC), t1),
        (None,) * 10,
        (-3, 2, False, "ü", -2.0, 3.0, "c", "hi", t2.replace(tzinfo=UTC), t2),
    ]
    # read back as pandas
    back = db.read_pandas(f"SELECT i, s, cat FROM {table}")
    assert back["s"].tolist()[0] == "x" and back["cat"].tolist()[2] == "hi"


def test_pandas_categorical_into_enum_and_text(db, pg, make_table):
    enum = unique_name("lvl")
    pg.execute(f"CREATE TYPE {enum} AS ENUM ('lo', 'hi')")
    try:
        table = make_table(f"id int8, e {enum}, t text")
        df = pd.DataFrame(
            {
                "id": [1, 2, 3],
                "e": pd.Categorical(["hi", "lo", None], categories=["lo", "hi"]),
                "t": pd.Categorical(["a", "a", "b"]),
            }
        )
        assert db.write_arrow(table, df) == 3
        assert pg_rows(pg, f"SELECT id, e::text, t FROM {table} ORDER BY id") == [
            (1, "hi", "a"),
            (2, "lo", "a"),
            (3, None, "b"),
        ]
    finally:
        pg.execute(f"DROP TABLE IF EXISTS {table}")
        pg.execute(f"DROP TYPE {enum}")


def test_pandas_index_not_written(db, pg, new_table):
    table = new_table()
    df = pd.DataFrame({"a": [1, 2]}, index=pd.Index([10, 20], name="idx"))
    db.write_arrow(table, df, mode="create")
    assert column_types(pg, table) == [("a", "bigint")]


def test_polars_dataframe_and_lazyframe(db, pg, new_table):
    table = new_table()
    df = pl.DataFrame(
        {
            "a": [1, None, 3],
            "s": ["x", None, "z"],
            "d": [dt.date(2020, 1, 1), None, dt.date(2021, 1, 1)],
            "dec": pl.Series([Decimal("1.5"), None, Decimal("2.25")], dtype=pl.Decimal(10, 2)),
            "ts": pl.Series([dt.datetime(2020, 1, 1, 1), None, dt.datetime(2020, 1, 1, 2)], dtype=pl.Datetime("ns")),
            "cat": pl.Series(["p", None, "q"], dtype=pl.Categorical),
            "i8": pl.Series([1, None, -1], dtype=pl.Int8),
        }
    )
    assert db.write_arrow(table, df, mode="create") == 3
    assert column_types(pg, table) == [
        ("a", "bigint"),
        ("s", "text"),
        ("d", "date"),
        ("dec", "numeric(10,2)"),
        ("ts", "timestamp without time zone"),
        ("cat", "text"),
        ("i8", "smallint"),
    ]
    assert db.write_arrow(table, df.lazy().filter(pl.col("a") > 1).select("s", "a")) == 1
    rows = pg_rows(pg, f"SELECT * FROM {table} ORDER BY a NULLS FIRST, d NULLS FIRST")
    assert rows == [
        (None, None, None, None, None, None, None),
        (1, "x", dt.date(2020, 1, 1), Decimal("1.50"), dt.datetime(2020, 1, 1, 1), "p", 1),
        (3, "z", None, None, None, None, None),
        (3, "z", dt.date(2021, 1, 1), Decimal("2.25"), dt.datetime(2020, 1, 1, 2), "q", -1),
    ]
    back = db.read_polars(f"SELECT a, s FROM {table} ORDER BY a NULLS FIRST, d NULLS FIRST")
    assert back["a"].to_list() == [None, 1, 3, 3]


def test_record_batch_input(db, pg, new_table):
    table = new_table()
    assert db.write_arrow(table, _batch(1, 3), mode="create") == 3
    assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY id") == [(1, "new1"), (2, "new2"), (3, "new3")]


def test_streaming_reader_of_50_batches(db, pg, new_table):
    table = new_table()
    pulled = []

    def gen():
        for i in range(50):
            pulled.append(i)
            yield _batch(i * 2000, 2000 if i % 7 else 0 if i == 0 else 1999)

    total = sum(2000 if i % 7 else 0 if i == 0 else 1999 for i in range(50))
    assert db.write_arrow(table, reader_from(SRC_SCHEMA, gen()), mode="create") == total
    assert pulled == list(range(50))
    (row,) = pg_rows(pg, f"SELECT count(*), count(DISTINCT id), sum(length(v)) FROM {table}")
    assert row[0] == row[1] == total
    expected_ids = np.concatenate(
        [np.arange(i * 2000, i * 2000 + (2000 if i % 7 else 0 if i == 0 else 1999)) for i in range(50)]
    )
    assert pg_rows(pg, f"SELECT sum(id) FROM {table}") == [(int(expected_ids.sum()),)]
    back = db.read_arrow(f"SELECT id, v FROM {table} ORDER BY id")
    assert np.array_equal(back["id"].to_numpy(), expected_ids)
    assert back["v"][123].as_py() == f"new{expected_ids[123]}"


class StreamOnly:
    """Exposes nothing but the Arrow PyCapsule stream protocol."""

    def __init__(self, table: pa.Table):
        self._table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self._table.__arrow_c_stream__(requested_schema)


def test_arrow_c_stream_object(db, pg, new_table):
    table = new_table()
    data = pa.concat_tables([pa.table(_batch(0, 5)), pa.table(_batch(5, 5))])
    assert db.write_arrow(table, StreamOnly(data), mode="create") == 10
    assert column_types(pg, table) == [("id", "bigint"), ("v", "text")]
    assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY id") == [(i, f"new{i}") for i in range(10)]


def test_batch_rows_does_not_change_the_result(db, pg, new_table):
    a, b = new_table(), new_table()
    names = list(ROUND_TRIP)
    data = pa.concat_tables(
        [pa.table({"id": pa.array(range(k * 4, k * 4 + 4), pa.int64()), **{n: ROUND_TRIP[n][0] for n in names}}) for k in range(10)]
    )
    assert db.write_arrow(a, data, mode="create") == 40
    assert db.write_arrow(b, data, mode="create", batch_rows=7) == 40
    ta = db.read_arrow(f"SELECT * FROM {a} ORDER BY id")
    tb = db.read_arrow(f"SELECT * FROM {b} ORDER BY id")
    assert ta.schema.equals(tb.schema, check_metadata=True)
    for name in ta.column_names:
        assert col_values(ta.column(name)) == col_values(tb.column(name)), name
    assert snapshot(pg, a, "t::text")[1] == snapshot(pg, b, "t::text")[1]


# --------------------------------------------------------------------------
# 6. threads
# --------------------------------------------------------------------------


def test_threads_write_concurrently(db, pg, new_table):
    tables = [new_table() for _ in range(4)]
    n = 30_000

    def work(k: int) -> int:
        ids = np.arange(n, dtype=np.int64) + k * n
        data = pa.table({"id": ids, "k": pa.array(np.full(n, k, dtype=np.int32)), "s": pa.array(ids.astype(str))})
        written = db.write_arrow(tables[k], data, mode="create", batch_rows=4096)
        more = db.write_arrow(tables[k], data.slice(0, 10).set_column(0, "id", pa.array(range(-10, 0), pa.int64())))
        return written + more

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    assert results == [n + 10] * 4
    for k, table in enumerate(tables):
        (row,) = pg_rows(pg, f"SELECT count(*), sum(id), min(k), max(k), sum(length(s)) FROM {table}")
        ids = np.arange(n) + k * n
        assert row[:4] == (n + 10, int(ids.sum()) - 55, k, k)
        assert row[4] == sum(len(str(i)) for i in ids) + sum(len(str(i)) for i in ids[:10])


def test_python_threads_run_while_writing(db, new_table):
    """write_arrow releases the GIL while it waits on the server."""
    table = new_table()
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.005)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        n = 400_000
        db.write_arrow(table, pa.table({"id": np.arange(n, dtype=np.int64), "f": np.random.rand(n)}), mode="create")
    finally:
        stop.set()
        thread.join()
    assert len(ticks) > 5


# --------------------------------------------------------------------------
# 7. property test
# --------------------------------------------------------------------------

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def maybe(strategy):
    return st.one_of(st.none(), strategy)


PROP_COLUMNS = {
    "i": (st.integers(INT64_MIN, INT64_MAX), pa.int64()),
    "i4": (st.integers(INT32_MIN, INT32_MAX), pa.int32()),
    "f": (st.floats(allow_nan=True, allow_infinity=True), pa.float64()),
    "f4": (st.floats(width=32, allow_nan=True, allow_infinity=True), pa.float32()),
    "t": (st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40), pa.string()),
    "by": (st.binary(max_size=40), pa.binary()),
    "n": (
        st.decimals(
            min_value=Decimal("-99999999999999.999999"),
            max_value=Decimal("99999999999999.999999"),
            allow_nan=False,
            allow_infinity=False,
            places=6,
        ),
        pa.decimal128(20, 6),
    ),
    "d": (st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)), pa.date32()),
    "ts": (st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)), pa.timestamp("us")),
    "tz": (
        st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(UTC)),
        pa.timestamp("us", "UTC"),
    ),
    "b": (st.booleans(), pa.bool_()),
    "u": (st.uuids(), pa.uuid()),
}
PROP_ROW = st.fixed_dictionaries({name: maybe(strategy) for name, (strategy, _) in PROP_COLUMNS.items()})


@SETTINGS
@given(rows=st.lists(PROP_ROW, max_size=15), batch_rows=st.one_of(st.none(), st.integers(1, 5)))
def test_random_tables_round_trip(db, pg, rows, batch_rows):
    table = unique_name("prop")
    arrays = {"id": pa.array(range(len(rows)), pa.int64())}
    for name, (_, typ) in PROP_COLUMNS.items():
        col = [r[name] for r in rows]
        if name == "u":
            col = [None if v is None else v.bytes for v in col]
        arrays[name] = pa.array(col, typ)
    data = pa.table(arrays)
    try:
        assert db.write_arrow(table, data, mode="create", batch_rows=batch_rows) == len(rows)
        back = db.read_arrow(f"SELECT * FROM {table} ORDER BY id")
        assert back.column_names == data.column_names
        for name in data.column_names:
            assert back.schema.field(name).type == data.schema.field(name).type, name
            assert col_values(back.column(name)) == col_values(data.column(name)), name
        # -0.0 keeps its sign
        for got, want in zip(back["f"].to_pylist(), data["f"].to_pylist()):
            if want == 0:
                assert str(got) == str(want)
        # psycopg agrees
        ref = pg_rows(pg, f"SELECT n, t, by, d, ts FROM {table} ORDER BY id")
        assert ref == [(r["n"], r["t"], r["by"], r["d"], r["ts"]) for r in rows]
    finally:
        pg.execute(f"DROP TABLE IF EXISTS {table}")


# --------------------------------------------------------------------------
# 8. the connection dies mid-write
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_connection_killed_mid_write(db, pg, make_table):
    table = make_table("id int8 PRIMARY KEY, v text", "SELECT i, 'old' FROM generate_series(1, 10) i")
    before = snapshot(pg, table)
    sent = []

    def gen():
        for i in range(200):
            sent.append(i)
            yield _batch(1000 + i * 500, 500)
            time.sleep(0.02)

    killed: dict = {}

    def killer():
        with psycopg.connect(DSN, autocommit=True) as conn:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                pids = pg_column(
                    conn,
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY %%' AND query LIKE %s"
                    " AND state = 'active' AND pid <> pg_backend_pid()",
                    (f"%{table}%",),
                )
                if pids:
                    killed["at_batch"] = len(sent)
                    killed["pids"] = pids
                    for pid in pids:
                        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    return
                time.sleep(0.01)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    with pytest.raises(data_bridge.DatabaseError) as info:
        run_with_timeout(db.write_arrow, 30, table, reader_from(SRC_SCHEMA, gen()))
    thread.join(20)
    assert killed.get("pids"), "the COPY was never seen in pg_stat_activity"
    assert isinstance(info.value, data_bridge.OperationalError), repr(info.value)
    assert len(sent) < 200  # the write stopped early, it did not consume the whole source
    assert snapshot(pg, table) == before
    # the pool recovers: fresh connections for the next calls
    for _ in range(3):
        assert db.read_arrow("SELECT 1 AS ok").to_pydict() == {"ok": [1]}
    assert db.write_arrow(table, _batch(100, 3)) == 3
    assert pg_rows(pg, f"SELECT count(*) FROM {table}") == [(13,)]


KILL_AND_EXIT = """
    import os, sys, threading, time
    import psycopg, pyarrow as pa
    import data_bridge

    dsn, table = os.environ["DATABASE_URL"], sys.argv[1]
    db = data_bridge.connect(dsn)
    schema = pa.schema([("id", pa.int64())])

    def gen():
        for i in range(100):
            print("pulled", i, flush=True)
            yield pa.record_batch([pa.array(range(i * 100, i * 100 + 100), pa.int64())], schema=schema)
            time.sleep(0.05)

    def killer():
        with psycopg.connect(dsn, autocommit=True) as conn:
            while True:
                pids = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY %%' AND query LIKE %s"
                    " AND state = 'active' AND pid <> pg_backend_pid()", (f"%{table}%",)).fetchall()
                if pids:
                    for (pid,) in pids:
                        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    return
                time.sleep(0.01)

    threading.Thread(target=killer, daemon=True).start()
    try:
        db.write_arrow(table, pa.RecordBatchReader.from_batches(schema, gen()))
    except data_bridge.OperationalError as exc:
        print("returned", type(exc).__name__, flush=True)
    # exit straight away, as a script would
"""


@pytest.mark.slow
def test_connection_killed_then_exit_is_clean(make_table):
    table = make_table("id int8")
    proc = spawn_python(KILL_AND_EXIT, table)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    lines = out.splitlines()
    assert "returned OperationalError" in lines, (out, err)
    # the source is not touched once write_arrow has returned
    assert lines[-1] == "returned OperationalError", out
    assert "Fatal Python error" not in err
    assert proc.returncode == 0, err


def test_replace_is_atomic_for_concurrent_readers(db):
    """A reader during a replace sees the old rows or the new ones, never an empty or half table."""
    table = unique_name("replace_readers")
    schema = pa.schema([("id", pa.int64())])
    db.write_arrow(table, pa.table({"id": pa.array(range(100), pa.int64())}), mode="replace")

    def slow_batches():
        for start in range(0, 100_000, 10_000):
            yield pa.record_batch([pa.array(range(start, start + 10_000), pa.int64())], schema=schema)
            time.sleep(0.03)

    writer = threading.Thread(
        target=db.write_arrow, args=(table, pa.RecordBatchReader.from_batches(schema, slow_batches()), "replace")
    )
    seen = []
    try:
        with psycopg.connect(DSN, autocommit=True) as reader:
            writer.start()
            while writer.is_alive():
                seen.append(reader.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0])
            writer.join()
            seen.append(reader.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0])
    finally:
        db.read_arrow(f'DROP TABLE IF EXISTS "{table}"')
    assert set(seen) <= {100, 100_000}, seen
    assert seen[-1] == 100_000


def test_uuid_strings_write_into_uuid_columns(db, pg, make_table):
    table = make_table("u uuid")
    forms = ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
             "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11", None]
    db.write_arrow(table, pa.table({"u": pa.array(forms)}))
    assert [r[0] for r in pg.execute(f"SELECT u::text FROM {table}").fetchall()] == [
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"] * 4 + [None]
    with pytest.raises(data_bridge.DataError, match="not a UUID"):
        db.write_arrow(table, pa.table({"u": pa.array(["a0eebc99-9c0b"])}))
    assert pg.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 5


def test_floats_write_into_numeric_as_their_shortest_decimal(db, pg, make_table):
    table = make_table("id int, n numeric, m numeric(10,2)")
    data = pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int32()),
        "n": pa.array([0.1, 1e300, float("nan"), -2.5]),
        "m": pa.array([0.1, 12345.675, None, 3.0], pa.float32()),
    })
    db.write_arrow(table, data)
    got = pg.execute(f"SELECT n::text, m::text FROM {table} ORDER BY id").fetchall()
    # shortest round-trip digits (float32 by its own: 12345.675, not 12345.6748046875), then the
    # server applies the column's scale
    big = pg.execute("SELECT 1e300::numeric::text").fetchone()[0]
    assert got == [("0.1", "0.10"), (big, "12345.68"), ("NaN", None), ("-2.5", "3.00")]
