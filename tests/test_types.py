"""Differential type tests: data_bridge vs psycopg / the server's text form.

Every case creates a table ``(id int, v <type>)``, fills it with a list of SQL
literals plus a NULL, and reads ``SELECT v FROM t ORDER BY id`` twice, without
params and with a dummy param (the two must agree).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

import data_bridge
from conftest import (
    COPY_COND,
    INT64_MAX,
    PARAM_COND,
    norm,
    pg_column,
    pg_date_text_to_days,
    pg_rows,
    pg_time_text_to_us,
    pg_timestamp_text_to_us,
    assert_writes_back,
    pg_type_of,
    read_both,
    unique_name,
    values,
)


@dataclass
class Case:
    id: str
    sql_type: str
    literals: list[str]
    arrow_type: pa.DataType
    pg_type: str
    # how the expected values are obtained:
    #   native   - psycopg's value of v
    #   float4   - psycopg's value of v rounded to float32
    #   text     - psycopg's value of v::text (the server's text form)
    #   decimal  - psycopg's Decimal; also format(d, 'f') == v::text
    #   date / time / timestamp - parsed from v::text into Arrow storage ints
    #   interval - (months, days, nanoseconds) from extract()
    #   uuid     - psycopg's UUID
    mode: str = "native"
    extra: dict = field(default_factory=dict)


CASES = [
    Case("bool", "boolean", ["TRUE", "FALSE"], pa.bool_(), "boolean"),
    Case("int2", "int2", ["0", "1", "-1", "32767", "-32768"], pa.int16(), "smallint"),
    Case("int4", "int4", ["0", "42", "2147483647", "-2147483648"], pa.int32(), "integer"),
    Case(
        "int8",
        "int8",
        ["0", "123456789012", "9223372036854775807", "-9223372036854775808"],
        pa.int64(),
        "bigint",
    ),
    Case(
        "float4",
        "float4",
        ["0", "'-0'", "1.1", "-2.5", "3.4028235e38", "1.1754944e-38", "1e-45",
         "'NaN'", "'Infinity'", "'-Infinity'"],
        pa.float32(),
        "real",
        mode="float4",
    ),
    Case(
        "float8",
        "float8",
        ["0", "'-0'", "1.1", "-2.5e-300", "1.7976931348623157e308", "5e-324",
         "'NaN'", "'Infinity'", "'-Infinity'"],
        pa.float64(),
        "double precision",
    ),
    Case(
        "numeric_15_2",
        "numeric(15,2)",
        ["0", "1.5", "-1.5", "0.01", "-0.01", "1.005", "1234567890123.45", "-9999999999999.99"],
        pa.decimal128(15, 2),
        "numeric(15,2)",
        mode="decimal",
    ),
    Case(
        "numeric_5_5",
        "numeric(5,5)",
        ["0", "0.12345", "-0.99999", "0.00001"],
        pa.decimal128(5, 5),
        "numeric(5,5)",
        mode="decimal",
    ),
    Case(
        "numeric_38_10",
        "numeric(38,10)",
        ["1234567890123456789012345678.0123456789", "-0.0000000001",
         "-9999999999999999999999999999.9999999999", "1.5"],
        pa.decimal128(38, 10),
        "numeric(38,10)",
        mode="decimal",
    ),
    Case(
        "numeric_38_0",
        "numeric(38,0)",
        ["0", str(10**38 - 1), str(-(10**38 - 1))],
        pa.decimal128(38, 0),
        "numeric(38,0)",
        mode="decimal",
    ),
    Case(
        "numeric_39_0",
        "numeric(39,0)",
        ["0", str(10**39 - 1), str(-(10**39 - 1)), "1"],
        pa.decimal256(39, 0),
        "numeric(39,0)",
        mode="decimal",
    ),
    Case(
        "numeric_50_10",
        "numeric(50,10)",
        ["1234567890123456789012345678901234567890.0123456789", "-0.0000000001", "2.5", "0"],
        pa.decimal256(50, 10),
        "numeric(50,10)",
        mode="decimal",
    ),
    Case(
        "numeric_76_0",
        "numeric(76,0)",
        [str(10**76 - 1), str(-(10**76 - 1)), "12345"],
        pa.decimal256(76, 0),
        "numeric(76,0)",
        mode="decimal",
    ),
    Case(
        "numeric_76_38",
        "numeric(76,38)",
        ["12345678901234567890123456789012345678.12345678901234567890123456789012345678",
         "-0.00000000000000000000000000000000000001", "1.10"],
        pa.decimal256(76, 38),
        "numeric(76,38)",
        mode="decimal",
    ),
    Case(
        "numeric_10_neg2",  # PostgreSQL 15+: negative scale
        "numeric(10,-2)",
        ["0", "12345", "-99949", "1234567890"],
        pa.decimal128(10, -2),
        "numeric(10,-2)",
        mode="decimal",
    ),
    Case(
        "numeric_unconstrained",
        "numeric",
        ["0", "0.00", "1.500", "-1.500", "'NaN'", "'Infinity'", "'-Infinity'",
         "1e100", "-1e-100", "123456789012345678901234567890.123456789",
         "-0.000001", "100", "1e5", "0.1",
         "round(1::numeric / 3, 1000)", "-1e1000", "1e-1000"],  # 1000 digits of scale, 1001 digits
        pa.string(),
        "numeric",
        mode="text",
    ),
    Case(
        "text",
        "text",
        ["''", "'hello'", "'héllo wörld ✓ 日本語 🎉'", "E'tab\\there\\nnewline\\r'",
         "repeat('x', 100000)", "'quote''s \\ back'", "'  padded  '", "repeat('ü', 500000)"],  # 1 MB
        pa.string(),
        "text",
    ),
    Case("varchar_44", "varchar(44)", ["''", "'abc'", "'üñí'", "'trailing  '"],
         pa.string(), "character varying(44)"),
    Case("varchar", "varchar", ["''", "'abc'", "repeat('é', 3000)"], pa.string(), "character varying"),
    Case("bpchar_25", "char(25)", ["'abc'", "''", "'ñ'", "repeat('z', 25)"],
         pa.string(), "character(25)", extra={"padded_to": 25}),
    Case("bpchar_1", "char", ["'a'", "' '"], pa.string(), "character(1)", extra={"padded_to": 1}),
    Case("name", "name", ["'pg_catalog'", "''", "'ü'"], pa.string(), "name"),
    Case("char_internal", '"char"', ["'a'", "'Z'"], pa.string(), '"char"', mode="text"),
    Case(
        "bytea",
        "bytea",
        ["'\\x'::bytea", "'\\x00ff10'::bytea", "'abc'::bytea", "decode(repeat('00ab', 5000), 'hex')",
         "decode(repeat('ab', 1048576), 'hex')"],
        pa.binary(),
        "bytea",
    ),
    Case(
        "date",
        "date",
        ["'2020-02-29'", "'1970-01-01'", "'1969-12-31'", "'0001-01-01'", "'9999-12-31'",
         "'0044-03-15 BC'", "'4713-01-01 BC'", "'5874897-12-31'", "'infinity'", "'-infinity'"],
        pa.date32(),
        "date",
        mode="date",
    ),
    Case(
        "time",
        "time",
        ["'00:00'", "'23:59:59.999999'", "'12:34:56.789'", "'24:00:00'"],
        pa.time64("us"),
        "time without time zone",
        mode="time",
    ),
    Case(
        "time_3",
        "time(3)",
        ["'12:34:56.789'", "'01:02:03'"],
        pa.time64("us"),
        "time(3) without time zone",
        mode="time",
    ),
    Case(
        "timestamp",
        "timestamp",
        ["'2020-01-01 12:34:56.123456'", "'1970-01-01'", "'1969-12-31 23:59:59.999999'",
         "'0001-01-01'", "'0044-03-15 12:00 BC'", "'4713-01-01 BC'",
         "'294247-01-10 04:00:54.775806'", "'infinity'", "'-infinity'"],
        pa.timestamp("us"),
        "timestamp without time zone",
        mode="timestamp",
    ),
    Case(
        "timestamp_3",
        "timestamp(3)",
        ["'2020-01-01 12:34:56.789'"],
        pa.timestamp("us"),
        "timestamp(3) without time zone",
        mode="timestamp",
    ),
    Case(
        "timestamptz",
        "timestamptz",
        ["'2020-06-01 12:00:00+02'", "'2020-01-01 00:00:00-08:00'", "'1970-01-01 00:00:00+00'",
         "'2021-03-04 05:06:07.654321+05:30'", "'0044-03-15 12:00:00+00 BC'",
         "'infinity'", "'-infinity'"],
        pa.timestamp("us", tz="UTC"),
        "timestamp with time zone",
        mode="timestamp",
    ),
    Case(
        "interval",
        "interval",
        ["'1 year 2 months 3 days 04:05:06.789'", "'-1 mon'", "'0'", "'-3 days +02:00'",
         "'100 hours'", "'1 mon -1 day'", "'-00:00:00.000001'", "'178000000 years'",
         "'-2 years -3 days -00:00:01.5'"],
        pa.month_day_nano_interval(),
        "interval",
        mode="interval",
    ),
    Case(
        "uuid",
        "uuid",
        ["'00000000-0000-0000-0000-000000000000'", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
         "'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'"],
        pa.uuid(),
        "uuid",
    ),
    Case(
        "json",
        "json",
        ["'{\"b\": 1,   \"a\" : [1,2]}'", "'[]'", "'\"str\"'", "'null'", "'3.0'", "'{\"ü\": \"✓\"}'"],
        pa.string(),
        "json",
        mode="text",
    ),
    Case(
        "jsonb",
        "jsonb",
        ["'{\"b\": 1,   \"a\" : [1,2], \"a\": 2}'", "'[]'", "'\"str\"'", "'null'", "'3.0'",
         "'{\"ü\": \"✓\"}'", "'1e3'"],
        pa.string(),
        "jsonb",
        mode="text",
    ),
    Case("oid", "oid", ["0", "1", "4294967295"], pa.uint32(), "oid"),
    # not decoded natively -> the server's text form
    Case("inet", "inet", ["'192.168.0.1/24'", "'::1'", "'10.0.0.1'"], pa.string(), "inet", mode="text"),
    Case("cidr", "cidr", ["'10.0.0.0/8'"], pa.string(), "cidr", mode="text"),
    Case("macaddr", "macaddr", ["'08:00:2b:01:02:03'"], pa.string(), "macaddr", mode="text"),
    Case("point", "point", ["'(1,2)'", "'(-1.5,2.25)'"], pa.string(), "point", mode="text"),
    Case("tsvector", "tsvector", ["'a fat cat'"], pa.string(), "tsvector", mode="text"),
    # arrays of a type without a native decoder -> the server's text form of the array
    Case("inet_array", "inet[]", ["'{192.168.0.1/24,::1,NULL}'", "'{}'"], pa.string(), "inet[]", mode="text"),
]

# one-dimensional arrays of natively decoded types -> list<element>
NOT_NATIVE = {"inet", "cidr", "macaddr", "point", "tsvector", "char_internal", "inet_array"}
ARRAY_CASES = [c for c in CASES if c.id not in NOT_NATIVE]


# the type's output function (v::text differs for e.g. inet, which adds the netmask)
OUTPUT_TEXT = "CASE WHEN v IS NOT NULL THEN format('%s', v) END"


def _expected(pg, table: str, case: Case) -> list:
    """The values data_bridge must return, from psycopg / the server."""
    order = f"FROM {table} ORDER BY id"
    if case.mode == "native":
        return [norm(v) for v in pg_column(pg, f"SELECT v {order}")]
    if case.mode == "float4":
        return [None if v is None else norm(float(np.float32(v))) for v in pg_column(pg, f"SELECT v {order}")]
    if case.mode == "text":
        return pg_column(pg, f"SELECT {OUTPUT_TEXT} {order}")
    if case.mode == "decimal":
        rows = pg_rows(pg, f"SELECT v, v::text {order}")
        return [(d, t) for d, t in rows]
    if case.mode == "date":
        return [pg_date_text_to_days(t) for t in pg_column(pg, f"SELECT v::text {order}")]
    if case.mode == "time":
        return [pg_time_text_to_us(t) for t in pg_column(pg, f"SELECT v::text {order}")]
    if case.mode == "timestamp":
        return [pg_timestamp_text_to_us(t) for t in pg_column(pg, f"SELECT v::text {order}")]
    if case.mode == "interval":
        rows = pg_rows(
            pg,
            "SELECT v IS NULL, extract(year from v) * 12 + extract(month from v), extract(day from v),"
            " extract(hour from v) * 3600000000 + extract(minute from v) * 60000000"
            f" + extract(microseconds from v) {order}",
        )
        return [None if null else (int(m), int(d), int(us) * 1000) for null, m, d, us in rows]
    raise AssertionError(case.mode)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_type_roundtrip(db, pg, make_table, case):
    rows = ", ".join(f"({i}, {lit})" for i, lit in enumerate(case.literals + ["NULL"]))
    table = make_table(f"id int PRIMARY KEY, v {case.sql_type}", f"VALUES {rows}")

    result = read_both(db, f"SELECT v FROM {table} WHERE {{cond}} ORDER BY id")

    # schema: exact Arrow type and pg_type metadata (cross-checked with format_type)
    assert result.column_names == ["v"]
    fld = result.schema.field("v")
    assert fld.type == case.arrow_type, f"{fld.type} != {case.arrow_type}"
    server_fmt = pg_column(
        pg,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attname = 'v'",
        (table,),
    )[0]
    assert server_fmt == case.pg_type  # self-check of the test table
    assert pg_type_of(fld) == case.pg_type.encode()

    expected = _expected(pg, table, case)
    assert len(expected) == len(case.literals) + 1
    assert expected[-1] is None or expected[-1] == (None, None)  # the NULL row
    assert_writes_back(db, pg, make_table, table)

    if case.mode == "decimal":
        _check_decimals(result.column("v").to_pylist(), expected)
        return

    got = values(result.column("v"))
    if case.mode == "uuid" or case.arrow_type == pa.uuid():
        got = [None if g is None else (g if isinstance(g, uuid.UUID) else uuid.UUID(bytes=g)) for g in got]
    assert got == expected

    if "padded_to" in case.extra:
        assert all(len(g) == case.extra["padded_to"] for g in got if g is not None)


def _check_decimals(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for g, (d, text) in zip(got, expected):
        if d is None:
            assert g is None
            continue
        assert isinstance(g, Decimal)
        assert g == d
        assert format(g, "f") == text  # scale kept exactly as PostgreSQL prints it


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c.id for c in ARRAY_CASES])
def test_array_roundtrip(db, pg, make_table, case):
    rows = ", ".join(f"({i}, {lit})" for i, lit in enumerate(case.literals + ["NULL"]))
    scalar = make_table(f"id int PRIMARY KEY, v {case.sql_type}", f"VALUES {rows}")
    arrays = make_table(f"id int PRIMARY KEY, v {case.sql_type}[]")
    pg.execute(f"INSERT INTO {arrays} SELECT 0, array_agg(v ORDER BY id) FROM {scalar}")
    pg.execute(f"INSERT INTO {arrays} VALUES (1, '{{}}'), (2, NULL)")
    pg.execute(f"INSERT INTO {arrays} SELECT 3, ARRAY[v] FROM {scalar} WHERE id = 0")
    # a non-default lower bound is dropped
    pg.execute(f"INSERT INTO {arrays} SELECT 4, array_agg(v ORDER BY id) FROM {scalar} WHERE id < 2")
    pg.execute(f"UPDATE {arrays} SET v = ('[5:' || (4 + cardinality(v)) || ']=' || v::text)::{case.sql_type}[]"
               " WHERE id = 4")

    result = read_both(db, f"SELECT v FROM {arrays} WHERE {{cond}} ORDER BY id")
    fld = result.schema.field("v")
    assert pa.types.is_list(fld.type), fld.type
    assert fld.type.value_type == case.arrow_type
    assert pg_type_of(fld) == (case.pg_type + "[]").encode()

    scalar_expected = _expected(pg, scalar, case)
    expected = [scalar_expected, [], None, scalar_expected[:1], scalar_expected[:2]]
    # lower bounds are dropped: the copy matches once they are reset to 1
    pg.execute(f"UPDATE {arrays} SET v = v[array_lower(v, 1):array_upper(v, 1)] WHERE id = 4")
    assert_writes_back(db, pg, make_table, arrays)
    if case.mode == "decimal":
        got = result.column("v").to_pylist()
        assert got[1:3] == [[], None]
        for g, e in zip(got, expected):
            if e:
                _check_decimals(g, e)
        return
    got = values(result.column("v"))
    assert got == expected


def test_float_specials_exact(db):
    """NaN, ±Infinity and -0.0 survive bit-exactly for float4/float8."""
    result = read_both(
        db,
        "SELECT x::float8 AS f8, x::float4 AS f4 FROM (VALUES (1, 'NaN'), (2, 'Infinity'),"
        " (3, '-Infinity'), (4, '-0'), (5, NULL)) AS t(i, x) WHERE {cond} ORDER BY i",
    )
    for name in ("f8", "f4"):
        vals = result.column(name).to_pylist()
        assert np.isnan(vals[0])
        assert vals[1] == float("inf") and vals[2] == float("-inf")
        assert vals[3] == 0.0 and np.signbit(vals[3])
        assert vals[4] is None


def test_infinity_sentinels(db):
    """±infinity dates/timestamps come back as the Arrow type's max/min storage value."""
    result = read_both(
        db,
        "SELECT 'infinity'::date AS d1, '-infinity'::date AS d2,"
        " 'infinity'::timestamp AS t1, '-infinity'::timestamp AS t2,"
        " 'infinity'::timestamptz AS z1, '-infinity'::timestamptz AS z2 WHERE {cond}",
    )
    assert values(result.column("d1")) == [2**31 - 1]
    assert values(result.column("d2")) == [-(2**31)]
    for name in ("t1", "z1"):
        assert values(result.column(name)) == [2**63 - 1]
    for name in ("t2", "z2"):
        assert values(result.column(name)) == [-(2**63)]


def test_timestamp_beyond_arrow_range_is_not_wrapped(db):
    """PostgreSQL's timestamps reach 294276 AD, Arrow's int64 microseconds since
    1970 only 294247 AD.  Such a value must not wrap around silently: either a
    DataError, or the value is clamped to the max."""
    for sql in (
        "SELECT '294276-12-31 23:59:59.999999'::timestamp AS ts WHERE {cond}",
        "SELECT '294276-12-31 23:59:59.999999+00'::timestamptz AS ts WHERE {cond}",
    ):
        for cond, params in ((COPY_COND, None), (PARAM_COND, [1])):
            try:
                result = db.read_arrow(sql.replace("{cond}", cond), params)
            except data_bridge.DataError:
                continue
            assert values(result.column("ts")) == [INT64_MAX]


def test_temporal_values_match_psycopg(db, pg):
    """Finite, in-Python-range temporal values equal psycopg's datetime objects."""
    sql = (
        "SELECT d, t, ts, tz FROM (VALUES"
        " (1, '2020-02-29'::date, '13:14:15.161718'::time, '2020-02-29 13:14:15.161718'::timestamp,"
        "  '2020-02-29 13:14:15.161718+03'::timestamptz),"
        " (2, '0001-01-01', '00:00', '0001-01-01 00:00', '0001-01-02 00:00+00'),"
        " (3, '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999+00'),"
        " (4, NULL, NULL, NULL, NULL)"
        ") AS x(i, d, t, ts, tz) WHERE {cond} ORDER BY i"
    )
    result = read_both(db, sql)
    expected = pg_rows(pg, sql.replace("{cond}", "TRUE"))
    got = list(zip(*(result.column(n).to_pylist() for n in result.column_names)))
    assert got == expected
    # aware datetimes in UTC
    assert got[0][3].utcoffset().total_seconds() == 0


def test_parsers_agree_with_server(pg):
    """Self-check of the text parsers used for expectations."""
    rows = pg_rows(
        pg,
        "SELECT d::text, (d - '1970-01-01'::date), ts::text, extract(epoch from ts) * 1000000"
        " FROM (VALUES ('0044-03-15 BC'::date, '0044-03-15 12:00:01.5 BC'::timestamptz),"
        " ('2024-02-29', '2024-02-29 23:59:59.999999+00'), ('1900-03-01', '1900-03-01 00:00:00-05')) v(d, ts)",
    )
    for d_text, days, ts_text, us in rows:
        assert pg_date_text_to_days(d_text) == days
        assert pg_timestamp_text_to_us(ts_text) == int(us)


def test_pg_type_metadata_of_expressions(db):
    result = read_both(
        db,
        "SELECT 1.5::numeric(15,2) AS a, 'x'::char(25) AS b, 'x'::varchar(44) AS c, 1 AS d,"
        " '2020-01-01 00:00+00'::timestamptz AS e, 1.5 AS f, 'x' AS g, 2::int8 AS h, '{}'::int4[] AS i, 1.5::numeric(40,2) AS j"
        " WHERE {cond}",
    )
    meta = {f.name: pg_type_of(f) for f in result.schema}
    assert meta == {
        "a": b"numeric(15,2)",
        "b": b"character(25)",
        "c": b"character varying(44)",
        "d": b"integer",
        "e": b"timestamp with time zone",
        "f": b"numeric",
        "g": b"text",
        "h": b"bigint",
        "i": b"integer[]",
        "j": b"numeric(40,2)",
    }
    assert result.schema.field("a").type == pa.decimal128(15, 2)
    assert result.schema.field("j").type == pa.decimal256(40, 2)
    assert result.column("b").to_pylist() == ["x" + " " * 24]
    # Unconstrained numeric in a whole result: the narrowest exact decimal.
    assert result.schema.field("f").type == pa.decimal128(2, 1)
    assert result.column("f").to_pylist() == [Decimal("1.5")]


def test_user_defined_enum_as_dictionary(db, pg):
    enum = unique_name("enum")
    pg.execute(f"CREATE TYPE {enum} AS ENUM ('sad', 'ok', 'happy')")
    try:
        result = read_both(
            db,
            f"SELECT x::{enum} AS mood FROM (VALUES (1, 'happy'), (2, 'sad'), (3, NULL)) v(i, x)"
            " WHERE {cond} ORDER BY i",
        )
        assert result.schema.field("mood").type == pa.dictionary(pa.int32(), pa.string())
        assert pg_type_of(result.schema.field("mood")) == enum.encode()
        assert result.column("mood").to_pylist() == ["happy", "sad", None]
    finally:
        pg.execute(f"DROP TYPE {enum}")


def test_domains_decode_as_their_base_type(db, pg):
    """RowDescription reports a domain's base type (and typmod)."""
    dom_num, dom_int = unique_name("dnum"), unique_name("dint")
    pg.execute(f"CREATE DOMAIN {dom_num} AS numeric(10,2) CHECK (VALUE > 0)")
    pg.execute(f"CREATE DOMAIN {dom_int} AS int8")
    try:
        result = read_both(db, f"SELECT 1.5::{dom_num} AS n, 7::{dom_int} AS i WHERE {{cond}}")
        assert [(f.type, pg_type_of(f)) for f in result.schema] == [
            (pa.decimal128(10, 2), b"numeric(10,2)"),
            (pa.int64(), b"bigint"),
        ]
        assert result.to_pydict() == {"n": [Decimal("1.50")], "i": [7]}
    finally:
        pg.execute(f"DROP DOMAIN {dom_num}, {dom_int}")


def test_wide_row_all_types_together(db, pg, make_table):
    """One row with every natively decoded type side by side (column order kept)."""
    table = make_table(
        "id int, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric(10,3),"
        " nu numeric, t text, vc varchar(5), c char(3), by bytea, d date, tm time, ts timestamp,"
        " tz timestamptz, iv interval, u uuid, j json, jb jsonb, o oid, ip inet",
        "VALUES (1, true, 2, 3, 4, 5.5, 6.25, 7.125, 8.50, 'nine', 'ten', 'e', '\\x0b',"
        " '2012-12-12', '13:13:13', '2014-01-14 14:14:14', '2015-01-15 15:15:15+00', '16 days',"
        " '17171717-1717-1717-1717-171717171717', '{\"x\": 18}', '{\"y\":  19}', 20, '21.21.21.21'),"
        " (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    result = read_both(db, f"SELECT * FROM {table} WHERE {{cond}} ORDER BY id")
    assert result.column_names == [
        "id", "b", "i2", "i4", "i8", "f4", "f8", "n", "nu", "t", "vc", "c", "by", "d", "tm", "ts",
        "tz", "iv", "u", "j", "jb", "o", "ip",
    ]
    assert [f.type for f in result.schema] == [
        pa.int32(), pa.bool_(), pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64(),
        pa.decimal128(10, 3), pa.decimal128(3, 2), pa.string(), pa.string(), pa.string(), pa.binary(),
        pa.date32(), pa.time64("us"), pa.timestamp("us"), pa.timestamp("us", tz="UTC"),
        pa.month_day_nano_interval(), pa.uuid(), pa.string(), pa.string(), pa.uint32(), pa.string(),
    ]
    row = {name: result.column(name).to_pylist()[0] for name in result.column_names}
    assert row["n"] == Decimal("7.125") and row["nu"] == Decimal("8.50") and row["c"] == "e  "
    assert row["by"] == b"\x0b" and row["jb"] == '{"y": 19}' and row["j"] == '{"x": 18}'
    assert tuple(row["iv"]) == (0, 16, 0)
    assert row["u"] == uuid.UUID("17171717-1717-1717-1717-171717171717")
    assert row["o"] == 20 and row["ip"] == "21.21.21.21"
    assert all(result.column(name).to_pylist()[1] is None for name in result.column_names[1:])
