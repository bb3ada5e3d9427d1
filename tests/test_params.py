"""Parameter binding: every documented Python type, echoed back by the server."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

import data_bridge
from conftest import pg_column, unique_name, values

UTC = dt.timezone.utc


def echo(db, cast: str, value, **read_options):
    """``SELECT $1::<cast> AS v`` -> (arrow type, python value)."""
    table = db.read_arrow(f"SELECT $1::{cast} AS v", [value], **read_options)
    assert table.num_rows == 1 and table.column_names == ["v"]
    return table.schema.field("v").type, table.column("v").to_pylist()[0]


def server_text(db, cast: str, value) -> str:
    """How the server prints the bound parameter (after the cast)."""
    return db.read_arrow(f"SELECT $1::{cast}::text AS v", [value]).column("v").to_pylist()[0]


# --------------------------------------------------------------------------
# echo per Python type
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cast, value, arrow_type",
    [
        ("int2", 0, pa.int16()),
        ("int2", 32767, pa.int16()),
        ("int2", -32768, pa.int16()),
        ("int4", 2147483647, pa.int32()),
        ("int4", -2147483648, pa.int32()),
        ("int8", 9223372036854775807, pa.int64()),
        ("int8", -9223372036854775808, pa.int64()),
        ("int8", 5, pa.int64()),
        ("oid", 4294967295, pa.uint32()),
        ("bool", True, pa.bool_()),
        ("bool", False, pa.bool_()),
        ("float8", 1.1, pa.float64()),
        ("float8", -2.5e-300, pa.float64()),
        ("float8", 1.7976931348623157e308, pa.float64()),
        ("float8", 5e-324, pa.float64()),
        ("float8", float("inf"), pa.float64()),
        ("float8", float("-inf"), pa.float64()),
        ("float4", 1.5, pa.float32()),
        ("text", "hello", pa.string()),
        ("text", "", pa.string()),
        ("text", "héllo ✓ 日本語 🎉 \t\n\\ '\"", pa.string()),
        ("text", "x" * 100_000, pa.string()),
        ("varchar", "abc", pa.string()),
        ("bytea", b"", pa.binary()),
        ("bytea", b"\x00\x01\xff\\'", pa.binary()),
        ("bytea", bytes(range(256)) * 100, pa.binary()),
        ("date", dt.date(2020, 2, 29), pa.date32()),
        ("date", dt.date(1, 1, 1), pa.date32()),
        ("date", dt.date(9999, 12, 31), pa.date32()),
        ("time", dt.time(13, 14, 15, 161718), pa.time64("us")),
        ("time", dt.time(0, 0), pa.time64("us")),
        ("timestamp", dt.datetime(2020, 2, 29, 13, 14, 15, 161718), pa.timestamp("us")),
        ("timestamp", dt.datetime(1, 1, 1), pa.timestamp("us")),
        ("timestamp", dt.datetime(1969, 12, 31, 23, 59, 59, 999999), pa.timestamp("us")),
        ("uuid", uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), pa.uuid()),
        ("uuid", uuid.UUID(int=0), pa.uuid()),
    ],
    ids=lambda x: x if isinstance(x, str) and len(x) < 12 else None,
)
def test_echo(db, cast, value, arrow_type):
    typ, got = echo(db, cast, value)
    assert typ == arrow_type
    if isinstance(value, float) and cast == "float4":
        assert got == value  # 1.5 is exact in float32
    else:
        assert got == value
        assert type(got) is type(value)


@pytest.mark.parametrize("cast", ["int2", "int4", "int8", "float8", "text", "bytea", "numeric", "date",
                                  "timestamp", "timestamptz", "time", "interval", "uuid", "bool", "jsonb"])
def test_none(db, cast):
    table = db.read_arrow(f"SELECT $1::{cast} AS v, $2::int4 AS w", [None, None])
    assert table.column("v").to_pylist() == [None]
    assert table.column("w").to_pylist() == [None]


def test_float_nan(db):
    typ, got = echo(db, "float8", float("nan"))
    assert typ == pa.float64() and math.isnan(got)
    typ, got = echo(db, "float4", float("nan"))
    assert typ == pa.float32() and math.isnan(got)


def test_float_negative_zero(db):
    _, got = echo(db, "float8", -0.0)
    assert got == 0.0 and math.copysign(1, got) == -1


def test_float4_rounding(db):
    _, got = echo(db, "float4", 1.1)
    assert got == pytest.approx(1.1, rel=1e-7) and got == float(pa.scalar(1.1, pa.float32()).as_py())


@pytest.mark.parametrize(
    "value, text",
    [
        (Decimal("0"), "0"),
        (Decimal("1.500"), "1.500"),
        (Decimal("-1.500"), "-1.500"),
        (Decimal("0.000001"), "0.000001"),
        (Decimal("-0.000001"), "-0.000001"),
        (Decimal("1E+5"), "100000"),
        (Decimal("1E-20"), "0.00000000000000000001"),
        (Decimal("123456789012345678901234567890.123456789"), "123456789012345678901234567890.123456789"),
        (Decimal("9" * 100), "9" * 100),
        (Decimal("NaN"), "NaN"),
        (Decimal("Infinity"), "Infinity"),
        (Decimal("-Infinity"), "-Infinity"),
    ],
    ids=str,
)
def test_decimal_unconstrained_numeric(db, value, text):
    typ, got = echo(db, "numeric", value, types={"numeric": "string"})
    assert typ == pa.string()  # numeric without typmod, as text: PostgreSQL's text form
    assert got == text
    # A whole result gets the narrowest exact decimal; text for NaN, ±Infinity, > 76 digits.
    typ, got = echo(db, "numeric", value)
    if text in ("NaN", "Infinity", "-Infinity") or len(text.replace("-", "").replace(".", "")) > 76:
        assert (typ, got) == (pa.string(), text)
    else:
        assert pa.types.is_decimal(typ) and got == Decimal(text)


def test_decimal_into_numeric_typmod(db):
    typ, got = echo(db, "numeric(10,2)", Decimal("1.005"))
    assert typ == pa.decimal128(10, 2) and got == Decimal("1.01")  # server rounds half away
    typ, got = echo(db, "numeric(50,5)", Decimal("-12345678901234567890123456789012345678901234.5"))
    assert typ == pa.decimal256(50, 5) and got == Decimal("-12345678901234567890123456789012345678901234.50000")


def test_decimal_overflowing_typmod_is_data_error(db):
    with pytest.raises(data_bridge.DataError) as info:
        echo(db, "numeric(3,2)", Decimal("123.45"))
    assert info.value.sqlstate == "22003"


def test_int_into_numeric_and_float(db):
    assert echo(db, "numeric", 12345678901234567890123) == (pa.decimal128(23, 0), Decimal("12345678901234567890123"))
    assert echo(db, "numeric(10,2)", 7) == (pa.decimal128(10, 2), Decimal("7.00"))
    assert echo(db, "float8", 3) == (pa.float64(), 3.0)


def test_str_untyped_parameter(db):
    """``SELECT $1``: the server infers text."""
    table = db.read_arrow("SELECT $1 AS v", ["hello"])
    assert table.schema.field("v").type == pa.string()
    assert table.column("v").to_pylist() == ["hello"]


def test_str_into_jsonb_and_bpchar(db):
    assert echo(db, "jsonb", '{"b": 1,  "a": [1, 2]}') == (pa.string(), '{"a": [1, 2], "b": 1}')
    assert echo(db, "json", '{"b": 1,  "a": 2}') == (pa.string(), '{"b": 1,  "a": 2}')
    assert echo(db, "char(5)", "ab") == (pa.string(), "ab   ")


def test_str_for_types_in_text_form(db):
    assert echo(db, "inet", "10.0.0.1/8") == (pa.string(), "10.0.0.1/8")
    assert echo(db, "date", "2020-02-29") == (pa.date32(), dt.date(2020, 2, 29))
    assert echo(db, "macaddr", "08:00:2b:01:02:03") == (pa.string(), "08:00:2b:01:02:03")
    range_type, range_value = echo(db, "int4range", "[1,5)")
    assert pa.types.is_struct(range_type)
    assert range_value == {"lower": 1, "upper": 5, "lower_inclusive": True, "upper_inclusive": False, "empty": False}


def test_str_with_nul_is_data_error(db):
    with pytest.raises(data_bridge.DataError):
        echo(db, "text", "a\x00b")


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2020, 6, 1, 12, 0, tzinfo=UTC),
        dt.datetime(2020, 6, 1, 12, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(2020, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
        dt.datetime(1900, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-15))),
        dt.datetime(1, 1, 1, 12, 0, tzinfo=UTC),
    ],
    ids=str,
)
def test_aware_datetime(db, value):
    typ, got = echo(db, "timestamptz", value)
    assert typ == pa.timestamp("us", tz="UTC")
    assert got == value  # same instant
    assert got.utcoffset() == dt.timedelta(0)
    # the server saw the right instant
    micros = db.read_arrow("SELECT (extract(epoch FROM $1::timestamptz) * 1000000)::int8 AS us", [value])
    expected = (value - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)
    assert micros.column("us").to_pylist() == [expected]


def test_naive_datetime_is_not_shifted(db):
    value = dt.datetime(2021, 3, 28, 2, 30)  # would not exist in many local zones
    assert echo(db, "timestamp", value) == (pa.timestamp("us"), value)
    assert server_text(db, "timestamp", value) == "2021-03-28 02:30:00"


@pytest.mark.parametrize(
    "value",
    [
        dt.timedelta(0),
        dt.timedelta(days=1, hours=1),
        dt.timedelta(microseconds=1),
        dt.timedelta(seconds=-1),
        dt.timedelta(days=-3, hours=2),
        dt.timedelta(days=10000, seconds=86399, microseconds=999999),
        dt.timedelta(days=-999999999),
    ],
    ids=str,
)
def test_timedelta(db, value):
    typ, got = echo(db, "interval", value)
    assert typ == pa.month_day_nano_interval()
    months, days, nanos = got
    assert months == 0
    assert days * 86_400_000_000_000 + nanos == value // dt.timedelta(microseconds=1) * 1000
    # and the server agrees it is the same interval
    micros = value // dt.timedelta(microseconds=1)
    same = db.read_arrow(
        "SELECT $1::interval = make_interval(secs => $2::float8 / 1000000)"
        " + make_interval(days => $3::int4) AS eq",
        [value, micros % 86_400_000_000, micros // 86_400_000_000],
    )
    assert same.column("eq").to_pylist() == [True]


def test_time_echo_text(db):
    assert server_text(db, "time", dt.time(23, 59, 59, 999999)) == "23:59:59.999999"


def test_params_as_tuple(db):
    table = db.read_arrow("SELECT $1::int4 AS a, $2::text AS b", (7, "x"))
    assert table.to_pydict() == {"a": [7], "b": ["x"]}


def test_same_param_used_twice(db):
    table = db.read_arrow("SELECT $1::int4 + $1::int4 AS a, $2::text || $2::text AS b", [21, "ab"])
    assert table.to_pydict() == {"a": [42], "b": ["abab"]}


def test_many_params(db):
    n = 500
    sql = "SELECT " + " + ".join(f"${i}::int8" for i in range(1, n + 1)) + " AS total"
    table = db.read_arrow(sql, list(range(n)))
    assert table.column("total").to_pylist() == [sum(range(n))]


# --------------------------------------------------------------------------
# arrays
# --------------------------------------------------------------------------


def _unnest(db, cast: str, value: list):
    table = db.read_arrow(
        f"SELECT x::{cast} AS x FROM unnest($1::{cast}[]) WITH ORDINALITY AS u(x, n) ORDER BY n", [value]
    )
    return table.schema.field("x").type, table.column("x").to_pylist()


@pytest.mark.parametrize(
    "cast, value, arrow_type",
    [
        ("int8", [1, 2, 3], pa.int64()),
        ("int4", [1, None, -3], pa.int32()),
        ("int2", [32767, -32768], pa.int16()),
        ("float8", [1.5, None, float("inf")], pa.float64()),
        ("text", ["a", "", None, "b,c", '"q"', "{x}", "NULL", "back\\slash", "ü ✓"], pa.string()),
        ("bool", [True, False, None], pa.bool_()),
        ("bytea", [b"\x00\xff", None, b""], pa.binary()),
        ("date", [dt.date(2020, 1, 2), None], pa.date32()),
        ("timestamp", [dt.datetime(2020, 1, 2, 3, 4, 5, 6)], pa.timestamp("us")),
        ("uuid", [uuid.UUID(int=1), None], pa.uuid()),
        ("numeric(10,3)", [Decimal("1.5"), None, Decimal("-0.001")], pa.decimal128(10, 3)),
        ("int4", [None], pa.int32()),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_array_param(db, cast, value, arrow_type):
    typ, got = _unnest(db, cast, value)
    assert typ == arrow_type
    assert got == value


@pytest.mark.parametrize(
    "cast, value, arrow_type",
    [
        ("int4", [1, None, 3], pa.list_(pa.int32())),
        ("text", ["a", None, ""], pa.list_(pa.string())),
        ("numeric(6,2)", [Decimal("1.5"), None], pa.list_(pa.decimal128(6, 2))),
        ("int8", [], pa.list_(pa.int64())),
        ("int8", None, pa.list_(pa.int64())),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_array_param_echoed_as_list(db, cast, value, arrow_type):
    typ, got = echo(db, f"{cast}[]", value)
    assert typ == arrow_type
    assert got == value


@pytest.mark.parametrize("cast", ["int4", "text", "float8", "uuid"])
def test_empty_list(db, cast):
    table = db.read_arrow(f"SELECT cardinality($1::{cast}[]) AS n, $1::{cast}[] IS NULL AS isnull", [[]])
    assert table.to_pydict() == {"n": [0], "isnull": [False]}


def test_any_with_list(db, make_table):
    table = make_table("id int4, name text", "SELECT i, 'n' || i FROM generate_series(1, 10) i")
    result = db.read_arrow(f"SELECT id, name FROM {table} WHERE id = ANY($1) ORDER BY id", [[3, 7, 99]])
    assert result.to_pydict() == {"id": [3, 7], "name": ["n3", "n7"]}
    result = db.read_arrow(f"SELECT id FROM {table} WHERE name = ANY($1) ORDER BY id", [["n1", "n10"]])
    assert result.column("id").to_pylist() == [1, 10]


# --------------------------------------------------------------------------
# target-type inference from the query
# --------------------------------------------------------------------------


@pytest.fixture
def typed_table(make_table):
    return make_table(
        "i4 int4, i2 int2, i8 int8, n numeric(10,2), t text, f8 float8, d date,"
        " ts timestamp, tz timestamptz, u uuid, b bool, by bytea",
        "VALUES (1, 2, 3, 4.50, 'five', 6.5, '2007-07-07', '2008-08-08 08:08:08',"
        " '2009-09-09 09:09:09+00', '00000000-0000-0000-0000-00000000000a', true, '\\x0b'),"
        " (11, 12, 13, 14.00, 'fifteen', 16.5, '2017-07-17', '2018-08-18 18:18:18',"
        " '2019-09-19 19:19:19+00', '00000000-0000-0000-0000-000000000014', false, '\\x15')",
    )


@pytest.mark.parametrize(
    "column, value",
    [
        ("i4", 11),
        ("i2", 12),
        ("i8", 13),
        ("n", Decimal("14")),
        ("n", Decimal("14.000")),
        ("n", 14),
        ("t", "fifteen"),
        ("f8", 16.5),
        ("d", dt.date(2017, 7, 17)),
        ("ts", dt.datetime(2018, 8, 18, 18, 18, 18)),
        ("tz", dt.datetime(2019, 9, 19, 21, 19, 19, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
        ("u", uuid.UUID(int=20)),
        ("b", False),
        ("by", b"\x15"),
        ("n", 14.0),  # float for a numeric column
        ("d", "2017-07-17"),  # str for a type given in text form
    ],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_inferred_parameter_type(db, typed_table, column, value):
    result = db.read_arrow(f"SELECT i4 FROM {typed_table} WHERE {column} = $1", [value])
    assert result.column("i4").to_pylist() == [11]


def test_inferred_types_in_insert_returning(db, pg, make_table):
    table = make_table("id int2, n numeric(6,3), t varchar(10), ts timestamptz")
    ts = dt.datetime(2022, 2, 2, 2, 2, 2, tzinfo=UTC)
    result = db.read_arrow(
        f"WITH x AS (INSERT INTO {table} VALUES ($1, $2, $3, $4) RETURNING *) SELECT * FROM x",
        [7, Decimal("1.5"), "hey", ts],
    )
    assert result.to_pydict() == {"id": [7], "n": [Decimal("1.500")], "t": ["hey"], "ts": [ts]}
    assert pg_column(pg, f"SELECT n::text FROM {table}") == ["1.500"]


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cast, value",
    [("int4", 2**40), ("int4", -(2**31) - 1), ("int2", 40000), ("int2", -32769), ("int8", 2**63),
     ("int8", -(2**63) - 1), ("int4", 2**100)],
)
def test_out_of_range_int_is_data_error(db, cast, value):
    with pytest.raises(data_bridge.DataError):
        echo(db, cast, value)


def test_out_of_range_int_inferred_column(db, typed_table):
    with pytest.raises(data_bridge.DataError):
        db.read_arrow(f"SELECT * FROM {typed_table} WHERE i4 = $1", [2**40])


@pytest.mark.parametrize(
    "sql, params",
    [
        ("SELECT $1::int4 AS v", []),
        ("SELECT $1::int4 AS v", [1, 2]),
        ("SELECT $1::int4 AS v, $2::int4 AS w", [1]),
        ("SELECT 1 AS v", [1]),
    ],
)
def test_wrong_parameter_count_is_programming_error(db, sql, params):
    with pytest.raises(data_bridge.ProgrammingError):
        db.read_arrow(sql, params)


def test_placeholder_without_params_is_programming_error(db):
    with pytest.raises(data_bridge.ProgrammingError):
        db.read_arrow("SELECT $1::int4 AS v")


def test_unsupported_python_type(db):
    with pytest.raises((data_bridge.Error, TypeError)):
        db.read_arrow("SELECT $1::text AS v", [object()])


def test_wrong_python_type_for_parameter(db):
    with pytest.raises((data_bridge.Error, TypeError)):
        db.read_arrow("SELECT $1::int4 AS v", ["not a number"])


@pytest.mark.parametrize(
    "value",
    [
        "'; DROP TABLE students; --",
        "Robert'); DROP TABLE students;--",
        "' OR '1'='1",
        "$1",
        "$$ $$",
        "\\",
        "\\'",
        "E'\\x41'",
        "*/ SELECT 1 /*",
        "-- comment",
        "'",
        '"',
    ],
)
def test_sql_injection_strings_verbatim(db, make_table, value):
    table = make_table("id int, s text", "VALUES (1, 'safe')")
    echoed = db.read_arrow("SELECT $1::text AS v, $2::text AS w", [value, value])
    assert echoed.to_pydict() == {"v": [value], "w": [value]}
    # also as a comparison target and as bytea
    assert db.read_arrow(f"SELECT count(*) AS n FROM {table} WHERE s = $1", [value]).column("n").to_pylist() == [0]
    assert echo(db, "bytea", value.encode())[1] == value.encode()
    assert db.read_arrow(f"SELECT count(*) AS n FROM {table}").column("n").to_pylist() == [1]


def test_param_values_dont_leak_between_queries(db):
    for i in range(20):
        result = db.read_arrow("SELECT $1::int8 AS a, $2::text AS b", [i, str(i)])
        assert result.to_pydict() == {"a": [i], "b": [str(i)]}
    assert values(db.read_arrow("SELECT $1::int8 AS a", [None]).column("a")) == [None]


def test_new_type_parameters(db, pg):
    """oid-family ints, xid8, money from Decimal/int, ranges and bit strings from their text,
    and a dict for hstore."""
    table = db.read_arrow(
        "SELECT $1::regclass AS r, $2::xid8 AS x, $3::money AS m, $4::money AS m2, $5::int4range AS rg, $6::varbit AS b",
        [1259, 42, Decimal("12.30"), 5, "[1,5)", "1011"],
    )
    assert table.to_pylist() == [{
        "r": 1259, "x": 42, "m": Decimal("12.30"), "m2": Decimal("5.00"),
        "rg": {"lower": 1, "upper": 5, "lower_inclusive": True, "upper_inclusive": False, "empty": False},
        "b": "1011",
    }]
    with pytest.raises(data_bridge.DataError, match="money"):
        db.read_arrow("SELECT $1::money", [Decimal("1.234")])
    if not pg.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'hstore'").fetchone():
        pytest.skip("hstore is not available")
    schema = unique_name("hs")
    pg.execute(f"CREATE SCHEMA {schema}")
    pg.execute(f"CREATE EXTENSION hstore SCHEMA {schema}")
    try:
        got = db.read_arrow(f"SELECT $1::{schema}.hstore AS h", [{"a": "1", "b": None, "ü": "✓"}]).column("h").to_pylist()
        assert sorted(got[0]) == [("a", "1"), ("b", None), ("ü", "✓")]
    finally:
        pg.execute(f"DROP SCHEMA {schema} CASCADE")
