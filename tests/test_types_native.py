"""Differential tests for the types decoded natively since "every PostgreSQL type natively":
enums, domains, composites, ranges (and multiranges), timetz, money, bit strings, "char",
the oid family, xid/cid/xid8, and the ``types=`` options for enum/uuid/numeric.

Table-driven like ``test_types.py``: each :class:`Case` creates a table ``(id int, v <type>)``
holding its SQL literals plus a NULL, reads ``SELECT v ... ORDER BY id`` twice, without params
and with a dummy param, and compares

* the exact Arrow type and the ``pg_type`` field metadata, and
* the values, against what psycopg reads for the same rows.

Nested values (structs, lists, dictionaries) are compared through :func:`deep`, which turns an
Arrow array into plain Python values *without* pyarrow's datetime conversion (BC dates and
±infinity would not survive it): dates, times and timestamps stay their raw storage integers,
Decimals become their exact text, UUIDs their text.  The expected side is built by
:class:`Read` recipes: which SQL expressions psycopg selects for a value and how they are
turned into the same comparable form (e.g. a range is read through ``lower()``, ``upper()``,
``lower_inc()``, ``upper_inc()`` and ``isempty()``, a composite through its attributes).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from psycopg.types.range import Range

import data_bridge
from conftest import (
    assert_writes_back,
    COPY_COND,
    DSN,
    NAN,
    PARAM_COND,
    norm,
    pg_column,
    pg_date_text_to_days,
    pg_rows,
    pg_time_text_to_us,
    pg_timestamp_text_to_us,
    pg_type_of,
    unique_name,
)

# --------------------------------------------------------------------------
# Arrow -> comparable Python values
# --------------------------------------------------------------------------


def deep(arr) -> list:
    """Python values of an Arrow array, recursively and loss-free.

    dictionary -> the decoded values; struct -> dict (None for a null struct); list -> list;
    date32 / time64 / timestamp -> their storage integers; uuid -> uuid.UUID; floats with NaN
    normalised (``conftest.NAN``)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    if isinstance(arr, pa.ExtensionArray):
        storage = arr.storage.to_pylist()
        if arr.type.extension_name == "arrow.uuid":
            return [None if b is None else uuid.UUID(bytes=b) for b in storage]
        return storage
    typ = arr.type
    if pa.types.is_dictionary(typ):
        return deep(arr.dictionary_decode())
    if pa.types.is_struct(typ):
        children = {typ.field(i).name: deep(arr.field(i)) for i in range(typ.num_fields)}
        return [
            {name: vals[row] for name, vals in children.items()} if valid else None
            for row, valid in enumerate(arr.is_valid().to_pylist())
        ]
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        offsets = arr.offsets.to_pylist()
        items = deep(arr.values)
        return [
            items[offsets[i] : offsets[i + 1]] if valid else None
            for i, valid in enumerate(arr.is_valid().to_pylist())
        ]
    if pa.types.is_date32(typ):
        arr = arr.cast(pa.int32())
    elif pa.types.is_timestamp(typ) or pa.types.is_time64(typ):
        arr = arr.cast(pa.int64())
    return [norm(v) for v in arr.to_pylist()]


def canon(v):
    """The comparable form of a value from either side: Decimal -> its exact text (so the scale
    counts), UUID -> text, float NaN -> NAN, containers element-wise."""
    if isinstance(v, Decimal):
        return "NaN" if v.is_nan() else format(v, "f")
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, float) and math.isnan(v):
        return NAN
    if isinstance(v, dict):
        return {k: canon(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    return v


def read_both_deep(db, template: str, **kwargs) -> pa.Table:
    """Like ``conftest.read_both`` (without params, then with a dummy param; the two results
    must be identical) but comparing with :func:`deep`, since ``to_pylist`` cannot
    convert BC or infinite dates inside structs."""
    assert "{cond}" in template
    copy_path = db.read_arrow(template.replace("{cond}", COPY_COND), **kwargs)
    param_path = db.read_arrow(template.replace("{cond}", PARAM_COND), [1], **kwargs)
    assert copy_path.schema.equals(param_path.schema, check_metadata=True), (
        f"\n{copy_path.schema}\n!=\n{param_path.schema}"
    )
    assert copy_path.num_rows == param_path.num_rows
    for name in copy_path.column_names:
        assert deep(copy_path.column(name)) == deep(param_path.column(name)), name
    return copy_path


# --------------------------------------------------------------------------
# expected values: how psycopg reads a value of each type
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """A recipe for reading one SQL value with psycopg: ``exprs`` are SQL templates over
    ``{e}`` (the value), ``build`` turns the selected columns into the form of :func:`deep`."""

    exprs: tuple[str, ...]
    build: Callable[..., Any]

    def at(self, e: str) -> list[str]:
        return [x.replace("{e}", e) for x in self.exprs]


def scalar(expr: str = "{e}", convert: Callable[[Any], Any] = lambda v: v) -> Read:
    return Read((expr,), lambda v: None if v is None else convert(v))


def composite(**attributes: Read) -> Read:
    """A composite: NULL-ness of the whole value, then each attribute ``(e).name``."""
    exprs = ["num_nulls({e}) = 1"]  # not "IS NULL": ROW(NULL, NULL) IS NULL is true
    for name, read in attributes.items():
        exprs += read.at(f"({{e}}).{name}")

    def build(is_null, *vals):
        if is_null:
            return None
        out, at = {}, 0
        for name, read in attributes.items():
            width = len(read.exprs)
            out[name] = read.build(*vals[at : at + width])
            at += width
        return out

    return Read(tuple(exprs), build)


def range_of(bound: Read) -> Read:
    """A range through lower()/upper()/lower_inc()/upper_inc()/isempty(): an unbounded side
    has a NULL bound and is not inclusive, an empty range has NULL bounds."""
    width = len(bound.exprs)
    exprs = ["num_nulls({e}) = 1", *bound.at("lower({e})"), *bound.at("upper({e})"),
             "lower_inc({e})", "upper_inc({e})", "isempty({e})"]

    def build(is_null, *vals):
        if is_null:
            return None
        lower, upper, (lower_inc, upper_inc, empty) = vals[:width], vals[width : 2 * width], vals[2 * width :]
        return {
            "lower": bound.build(*lower),
            "upper": bound.build(*upper),
            "lower_inclusive": lower_inc,
            "upper_inclusive": upper_inc,
            "empty": empty,
        }

    return Read(tuple(exprs), build)


NATIVE = scalar()  # psycopg's own value (int, float, str, list, UUID, Decimal, ...)
TEXT = scalar("{e}::text")  # the server's text form
OUTPUT = scalar("CASE WHEN num_nulls({e}) = 0 THEN format('%s', {e}) END")  # the output function
DATE = scalar("{e}::text", pg_date_text_to_days)
TIMESTAMP = scalar("{e}::text", pg_timestamp_text_to_us)
MONEY = scalar("{e}::numeric")  # Decimal with 2 fraction digits
OID_NUMBER = scalar("{e}::oid::int8")
XID = scalar("{e}::text::int8")
XID8 = scalar("{e}::text::numeric", int)
FLOAT8 = scalar("{e}::float8")
TIMETZ = Read(
    # the local time of day and the offset east of UTC in seconds
    ("{e}::time::text", "extract(timezone from {e})::int4"),
    lambda time, offset: None if time is None else {"time": pg_time_text_to_us(time), "offset_seconds": offset},
)


def expected_values(pg, read: Read, table: str) -> list:
    # "ORDER BY t.id": a bare "id" could name an output column, e.g. a composite's attribute
    rows = pg_rows(pg, f"SELECT {', '.join(read.at('t.v'))} FROM {table} AS t ORDER BY t.id")
    return [read.build(*row) for row in rows]


# --------------------------------------------------------------------------
# Arrow types
# --------------------------------------------------------------------------

DICT = pa.dictionary(pa.int32(), pa.string())
MONEY_T = pa.decimal128(19, 2)
TIMETZ_T = pa.struct([pa.field("time", pa.time64("us"), nullable=False),
                      pa.field("offset_seconds", pa.int32(), nullable=False)])
TSTZ = pa.timestamp("us", tz="UTC")


def range_t(bound: pa.DataType) -> pa.DataType:
    return pa.struct([
        pa.field("lower", bound),
        pa.field("upper", bound),
        pa.field("lower_inclusive", pa.bool_(), nullable=False),
        pa.field("upper_inclusive", pa.bool_(), nullable=False),
        pa.field("empty", pa.bool_(), nullable=False),
    ])


POINT2_T = pa.struct([("x", pa.float64()), ("y", pa.float64())])
POINT2_READ = composite(x=NATIVE, y=NATIVE)

# <item>: a composite with (nearly) every natively decoded kind of attribute
ITEM_ATTRIBUTES = (
    "id int8, name text, price numeric(10,2), mood <mood>, tags text[], at timestamptz,"
    " qty <dint>, pos <point2>, span int4range, u uuid, bits varbit, tz timetz, cash money"
)


def item_t(price=pa.decimal128(10, 2), mood=DICT, u=pa.uuid()) -> pa.DataType:
    return pa.struct([
        ("id", pa.int64()), ("name", pa.string()),
        ("price", price),  # the attribute's typmod from the catalog: numeric(10,2) -> decimal128(10, 2)
        ("mood", mood), ("tags", pa.list_(pa.string())), ("at", TSTZ),
        ("qty", pa.int32()),  # domain over int4 -> int4
        ("pos", POINT2_T), ("span", range_t(pa.int32())), ("u", u), ("bits", pa.string()),
        ("tz", TIMETZ_T), ("cash", MONEY_T),
    ])


def item_read(price=MONEY, u=NATIVE) -> Read:
    return composite(
        id=NATIVE, name=NATIVE, price=price, mood=NATIVE, tags=NATIVE, at=TIMESTAMP, qty=NATIVE,
        pos=POINT2_READ, span=range_of(NATIVE), u=u, bits=TEXT, tz=TIMETZ, cash=MONEY,
    )


ITEM_LITERALS = [
    "ROW(1, 'widget', 9.99, 'happy', ARRAY['a', NULL, 'ü'], '2020-01-01 12:00+02', 5, ROW(1, 2),"
    " '[1,10]', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', B'101', '12:00+02', 12.34)",
    "ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "ROW(-9223372036854775808, '', -99999999.99, 'sad', '{}', '-infinity', 2147483647,"
    " ROW(NULL, 'NaN'), 'empty', '00000000-0000-0000-0000-000000000000', B'', '24:00-15:59',"
    " '-92233720368547758.08')",
    "ROW(9223372036854775807, 'x', 0, 'ok', '{z}', '0044-03-15 12:00+00 BC', 1, NULL, '(,)',"
    " NULL, repeat('1', 1000)::varbit, '00:00+15:59', '92233720368547758.07')",
]

# --------------------------------------------------------------------------
# user-defined types shared by the cases (names substituted for <tokens>)
# --------------------------------------------------------------------------

LONG_LABEL = "l" * 63  # NAMEDATALEN - 1: the longest enum label
MOOD_LABELS = ["sad", "ok", "happy", "ünïcödé ✓", "with space", LONG_LABEL]

TOKENS = [
    "mood", "dint", "dnum", "dvc", "dmood", "point2", "dpoint", "drange", "item", "rowtbl",
    "withinet", "frange", "fmulti", "moodrange", "inetrange",
]


class Names(dict):
    """Token -> unique type name; ``sub`` replaces ``<token>`` in SQL text."""

    def sub(self, text: str) -> str:
        for token, name in self.items():
            text = text.replace(f"<{token}>", name)
        return text


@pytest.fixture(scope="module")
def udt(pg):
    names = Names({token: unique_name(token) for token in TOKENS})
    labels = ", ".join("'" + label + "'" for label in MOOD_LABELS)
    statements = [
        f"CREATE TYPE <mood> AS ENUM ({labels})",
        "CREATE DOMAIN <dint> AS int4 CHECK (VALUE > 0)",
        "CREATE DOMAIN <dnum> AS numeric(10,2)",
        "CREATE DOMAIN <dvc> AS varchar(5)",
        "CREATE DOMAIN <dmood> AS <mood>",
        "CREATE TYPE <point2> AS (x float8, y float8)",
        "CREATE DOMAIN <dpoint> AS <point2> CHECK ((VALUE).x IS DISTINCT FROM -1)",
        "CREATE DOMAIN <drange> AS int4range CHECK (VALUE <> 'empty')",
        f"CREATE TYPE <item> AS ({ITEM_ATTRIBUTES})",
        # a table's row type, with a dropped column in the middle
        "CREATE TABLE <rowtbl> (a int4, gone text, b <mood>, c numeric(5,1), d <point2>)",
        "ALTER TABLE <rowtbl> DROP COLUMN gone",
        "CREATE TYPE <withinet> AS (a int4, b inet)",
        "CREATE TYPE <frange> AS RANGE (subtype = float8, multirange_type_name = <fmulti>)",
        "CREATE TYPE <moodrange> AS RANGE (subtype = <mood>)",
        "CREATE TYPE <inetrange> AS RANGE (subtype = inet)",
    ]
    try:
        for statement in statements:
            pg.execute(names.sub(statement))
        yield names
    finally:
        pg.execute(names.sub("DROP TABLE IF EXISTS <rowtbl> CASCADE"))
        for token in reversed(TOKENS):
            kind = "DOMAIN" if token in ("dint", "dnum", "dvc", "dmood", "dpoint", "drange") else "TYPE"
            if token not in ("rowtbl", "fmulti"):  # dropped with the table / its range
                pg.execute(names.sub(f"DROP {kind} IF EXISTS <{token}> CASCADE"))


# --------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    sql_type: str  # may hold <tokens>
    literals: list[str]
    arrow_type: pa.DataType
    pg_type: str  # expected field metadata (the column type as the result describes it)
    read: Read
    types: dict | None = None
    array: bool = True  # also read <sql_type>[] as list<arrow_type>
    array_pg_type: str | None = None  # default: pg_type + "[]"
    xfail: str | None = None


def oid_case(regtype: str, literals: list[str]) -> Case:
    return Case(regtype, regtype, literals, pa.uint32(), regtype, OID_NUMBER)


NUMRANGE_LITERALS = ["'[1.50,2.500]'", "'(-1e-10,1e20)'", "'(,)'", "'empty'", "'[0,NaN]'", "'(,0.000)'",
                     "'[123456789012345678901234567890.123456789,)'"]

CASES = [
    # ---- enums: dictionary<int32, string>, or string with types={"enum": "string"}
    Case("enum", "<mood>", [f"'{label}'" for label in MOOD_LABELS] + ["'sad'", "'happy'"], DICT, "<mood>", NATIVE),
    Case("enum_as_string", "<mood>", ["'sad'", "'ünïcödé ✓'", "'sad'", f"'{LONG_LABEL}'"], pa.string(), "<mood>",
         NATIVE, types={"enum": "string"}),
    Case("enum_as_dictionary", "<mood>", ["'ok'", "'ok'"], DICT, "<mood>", NATIVE, types={"enum": "dictionary"}),
    # ---- domains: the base type (a result column of a domain type is described as its base)
    Case("domain_int", "<dint>", ["1", "2147483647"], pa.int32(), "integer", NATIVE, array_pg_type="<dint>[]"),
    Case("domain_numeric", "<dnum>", ["1.5", "-99999999.99", "0.01", "0"], pa.decimal128(10, 2), "numeric(10,2)",
         NATIVE, array_pg_type="<dnum>[]"),
    Case("domain_varchar", "<dvc>", ["''", "'abcde'", "'ü'"], pa.string(), "character varying(5)", NATIVE,
         array_pg_type="<dvc>[]"),
    Case("domain_over_enum", "<dmood>", ["'ok'", "'happy'"], DICT, "<mood>", NATIVE, array_pg_type="<dmood>[]"),
    Case("domain_over_composite", "<dpoint>", ["ROW(1, 2)", "ROW(NULL, NULL)"], POINT2_T, "<point2>", POINT2_READ,
         array_pg_type="<dpoint>[]"),
    Case("domain_over_range", "<drange>", ["'[1,5]'", "'(,)'", "'[-2147483648,0)'"], range_t(pa.int32()),
         "int4range", range_of(NATIVE), array_pg_type="<drange>[]"),
    # ---- composites: struct with the attributes' names and types
    Case("composite", "<point2>",
         ["ROW(1.5, -2)", "ROW(NULL, NULL)", "ROW(NULL, 0)", "ROW('Infinity', 'NaN')", "ROW('-Infinity', 1e308)"],
         POINT2_T, "<point2>", POINT2_READ),
    Case("composite_every_attribute_kind", "<item>", ITEM_LITERALS, item_t(), "<item>", item_read()),
    Case("composite_with_type_options", "<item>", ITEM_LITERALS,
         item_t(price=pa.float64(), mood=pa.string(), u=pa.string()), "<item>",
         item_read(price=FLOAT8, u=TEXT), types={"numeric": "float64", "enum": "string", "uuid": "string"}),
    Case("composite_table_row_type", "<rowtbl>",
         ["ROW(1, 'ok', 1.5, ROW(1, 2))", "ROW(NULL, NULL, NULL, NULL)", "ROW(-2147483648, 'happy', -9999.9, NULL)"],
         pa.struct([("a", pa.int32()), ("b", DICT), ("c", pa.decimal128(5, 1)), ("d", POINT2_T)]), "<rowtbl>",
         composite(a=NATIVE, b=NATIVE, c=MONEY, d=POINT2_READ)),
    # an attribute without a native decoder: the whole column is the composite's text form
    Case("composite_with_inet_attribute", "<withinet>", ["ROW(1, '10.0.0.1/8')", "ROW(NULL, NULL)", "ROW(2, '::1')"],
         pa.string(), "<withinet>", OUTPUT, array=False),
    Case("composite_with_inet_attribute_array", "<withinet>[]",
         ["ARRAY[ROW(1, '10.0.0.1')::<withinet>, NULL]", "'{}'"], pa.string(), "<withinet>[]", OUTPUT, array=False),
    # ---- ranges: struct {lower, upper, lower_inclusive, upper_inclusive, empty}
    Case("int4range", "int4range",
         ["'[1,5]'", "'(1,5)'", "'[-2147483648,2147483647)'", "'(,)'", "'[3,)'", "'(,3]'", "'empty'", "'[7,7)'",
          "'[0,0]'"],
         range_t(pa.int32()), "int4range", range_of(NATIVE)),
    Case("int8range", "int8range",
         ["'[-9223372036854775808,9223372036854775807)'", "'(0,1)'", "'[,0]'", "'(,)'", "'[5,10)'"],
         range_t(pa.int64()), "int8range", range_of(NATIVE)),
    Case("numrange", "numrange", NUMRANGE_LITERALS, range_t(pa.string()), "numrange", range_of(TEXT)),
    Case("numrange_as_float64", "numrange", NUMRANGE_LITERALS, range_t(pa.float64()), "numrange", range_of(FLOAT8),
         types={"numeric": "float64"}),
    Case("daterange", "daterange",
         ["'[2020-01-01,2020-12-31]'", "'[0044-03-15 BC,0001-01-01)'", "'[4713-01-01 BC,5874897-12-30]'",
          "'[-infinity,infinity]'", "'(-infinity,2000-01-01)'", "'(,)'", "'empty'", "'[2020-02-29,2020-02-29]'"],
         range_t(pa.date32()), "daterange", range_of(DATE)),
    Case("tsrange", "tsrange",
         ["'[2020-01-01 12:34:56.123456,infinity)'", "'[0044-03-15 12:00 BC,1970-01-01)'", "'(,2000-01-01]'",
          "'empty'", "'[294247-01-10 04:00:54.775806,294247-01-10 04:00:54.775806]'", "'(-infinity,)'"],
         range_t(pa.timestamp("us")), "tsrange", range_of(TIMESTAMP)),
    Case("tstzrange", "tstzrange",
         ["'[2020-06-01 12:00+02,2020-06-01 13:00-08:00)'", "'[-infinity,infinity]'", "'(,)'", "'empty'",
          "'[0044-03-15 12:00+00 BC,2000-01-01 00:00+05:30]'"],
         range_t(TSTZ), "tstzrange", range_of(TIMESTAMP)),
    Case("custom_float8_range", "<frange>", ["'[1.5,2.5)'", "'(-Infinity,Infinity)'", "'(,)'", "'empty'", "'[0,0]'"],
         range_t(pa.float64()), "<frange>", range_of(NATIVE)),
    Case("enum_range", "<moodrange>", ["'[sad,happy]'", "'(sad,ok)'", "'(,ok]'", "'empty'"],
         range_t(DICT), "<moodrange>", range_of(NATIVE)),
    Case("range_over_inet", "<inetrange>", ["'[10.0.0.1,10.0.0.9)'", "'empty'", "'(,)'"],
         pa.string(), "<inetrange>", OUTPUT, array=False),
    # ---- timetz: struct {time (local), offset_seconds (east of UTC)}
    Case("timetz", "timetz",
         ["'12:00:00+02'", "'23:59:59.999999-03:30'", "'00:00:00+15:59'", "'24:00:00-15:59'",
          "'12:34:56.5+01:02:03'", "'00:00+00'", "'04:05:06.789-08'"],
         TIMETZ_T, "time with time zone", TIMETZ),
    Case("timetz_3", "timetz(3)", ["'12:34:56.789+05:45'", "'01:02:03-00:30'"], TIMETZ_T, "time(3) with time zone",
         TIMETZ),
    # ---- money: decimal128(19, 2), exact to the extremes
    Case("money", "money",
         ["12.34", "-1000000.5", "0", "0.01", "-0.01", "'-92233720368547758.08'", "'92233720368547758.07'",
          "'$1,234.56'"],
         MONEY_T, "money", MONEY),
    # ---- bit strings: '0'/'1' text
    Case("bit_4", "bit(4)", ["B'1011'", "B'0000'", "'1111'"], pa.string(), "bit(4)", TEXT),
    Case("bit_100", "bit(100)", ["repeat('01', 50)::bit(100)", "B'1'::bit(100)"], pa.string(), "bit(100)", TEXT),
    Case("varbit", "varbit",
         ["B''", "B'1'", "B'0'", "B'1011'", "B'10000000'", "B'100000001'", "repeat('1', 100)::varbit",
          "repeat('10', 500)::varbit", "lpad('1', 1000, '0')::varbit"],
         pa.string(), "bit varying", TEXT),
    Case("varbit_8", "varbit(8)", ["B'101'", "B''", "B'11111111'"], pa.string(), "bit varying(8)", TEXT),
    # ---- "char": a one-byte string
    Case("char_internal", '"char"', ["'a'", "'Z'", "' '", "'ab'", "'7'", "'\\'"], pa.string(), '"char"', TEXT),
    Case("char_internal_empty", '"char"', ["''", "'a'"], pa.string(), '"char"', TEXT),
    Case("char_internal_high_bit", '"char"', ["'é'", "'\\200'", "'a'"], pa.string(), '"char"', TEXT),
    # ---- the oid family: uint32 (the oid number); xid8: uint64
    oid_case("regclass", ["'pg_class'", "'pg_catalog.pg_type'", "'-'", "'4294967295'"]),
    oid_case("regtype", ["'int4'", "'text[]'", "'-'"]),
    oid_case("regproc", ["'now'", "'-'"]),
    oid_case("regprocedure", ["'sum(int4)'", "'-'"]),
    oid_case("regoper", ["'||/'", "'0'"]),
    oid_case("regoperator", ["'+(int4,int4)'", "'-(NONE,int4)'"]),
    oid_case("regconfig", ["'english'", "'simple'"]),
    oid_case("regdictionary", ["'simple'", "'english_stem'"]),
    oid_case("regnamespace", ["'pg_catalog'", "'public'"]),
    oid_case("regrole", ["'postgres'", "'pg_monitor'"]),
    oid_case("regcollation", ["'\"C\"'", "'\"default\"'"]),
    Case("xid", "xid", ["'0'", "'1'", "'4294967295'"], pa.uint32(), "xid", XID),
    Case("cid", "cid", ["'0'", "'7'", "'4294967295'"], pa.uint32(), "cid", XID),
    Case("xid8", "xid8", ["'0'", "'4294967296'", "'18446744073709551615'"], pa.uint64(), "xid8", XID8),
    # ---- uuid as text
    Case("uuid_as_string", "uuid",
         ["'00000000-0000-0000-0000-000000000000'", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
          "'{ffffffff-ffff-ffff-ffff-ffffffffffff}'"],
         pa.string(), "uuid", TEXT, types={"uuid": "string"}),
    # ---- still the server's text form
    Case("inet", "inet", ["'192.168.0.1/24'", "'::1'", "'10.0.0.1'"], pa.string(), "inet", OUTPUT, array=False),
    Case("cidr", "cidr", ["'10.0.0.0/8'", "'2001:db8::/32'"], pa.string(), "cidr", OUTPUT, array=False),
    Case("macaddr", "macaddr", ["'08:00:2b:01:02:03'"], pa.string(), "macaddr", OUTPUT, array=False),
    Case("macaddr8", "macaddr8", ["'08:00:2b:01:02:03:04:05'", "'08:00:2b:01:02:03'"], pa.string(), "macaddr8",
         OUTPUT, array=False),
    Case("point", "point", ["'(1,2)'", "'(-1.5,2.25)'"], pa.string(), "point", OUTPUT, array=False),
    Case("tsvector", "tsvector", ["'a fat cat'", "''"], pa.string(), "tsvector", OUTPUT, array=False),
    Case("xml", "xml", ["'<a>x</a>'", "'text only'"], pa.string(), "xml", OUTPUT, array=False),
    Case("macaddr8_array", "macaddr8[]", ["'{08:00:2b:01:02:03:04:05,NULL}'", "'{}'"], pa.string(), "macaddr8[]",
         OUTPUT, array=False),
]

ARRAY_CASES = [c for c in CASES if c.array]


def case_params(cases: list[Case]) -> list:
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
        for c in cases
    ]


def lossless(types: dict | None) -> bool:
    """Whether a read with these options keeps every value (numeric="float64" rounds)."""
    return (types or {}).get("numeric") != "float64"


def _fill(make_table, udt: Names, case: Case) -> str:
    literals = [udt.sub(lit) for lit in case.literals] + ["NULL"]
    rows = ", ".join(f"({i}, {lit})" for i, lit in enumerate(literals))
    return make_table(f"id int PRIMARY KEY, v {udt.sub(case.sql_type)}", f"VALUES {rows}")


@pytest.mark.parametrize("case", case_params(CASES))
def test_type(db, pg, make_table, udt, case):
    table = _fill(make_table, udt, case)
    result = read_both_deep(db, f"SELECT v FROM {table} WHERE {{cond}} ORDER BY id", types=case.types)

    assert result.column_names == ["v"]
    fld = result.schema.field("v")
    assert fld.type == case.arrow_type, f"{fld.type} != {case.arrow_type}"
    assert pg_type_of(fld) == udt.sub(case.pg_type).encode()

    expected = expected_values(pg, case.read, table)
    assert len(expected) == len(case.literals) + 1 and expected[-1] is None
    assert canon(deep(result.column("v"))) == canon(expected)
    if lossless(case.types):
        assert_writes_back(db, pg, make_table, table, types=case.types)


@pytest.mark.parametrize("case", case_params(ARRAY_CASES))
def test_array_of_type(db, pg, make_table, udt, case):
    """<type>[] -> list<element>: all values of the scalar case (NULL included), '{}', NULL, and
    a one-element array."""
    scalar_table = _fill(make_table, udt, case)
    arrays = make_table(f"id int PRIMARY KEY, v {udt.sub(case.sql_type)}[]")
    pg.execute(f"INSERT INTO {arrays} SELECT 0, array_agg(v ORDER BY id) FROM {scalar_table}")
    pg.execute(f"INSERT INTO {arrays} VALUES (1, '{{}}'), (2, NULL)")
    pg.execute(f"INSERT INTO {arrays} SELECT 3, ARRAY[v] FROM {scalar_table} WHERE id = 0")

    result = read_both_deep(db, f"SELECT v FROM {arrays} WHERE {{cond}} ORDER BY id", types=case.types)
    fld = result.schema.field("v")
    assert fld.type == pa.list_(case.arrow_type), fld.type
    assert pg_type_of(fld) == udt.sub(case.array_pg_type or case.pg_type + "[]").encode()

    scalars = expected_values(pg, case.read, scalar_table)
    assert canon(deep(result.column("v"))) == canon([scalars, [], None, scalars[:1]])
    if lossless(case.types):
        assert_writes_back(db, pg, make_table, arrays, types=case.types)


# --------------------------------------------------------------------------
# cross-checks with psycopg's own Python objects
# --------------------------------------------------------------------------


def _range_dict(r: Range | None):
    if r is None:
        return None
    return {"lower": r.lower, "upper": r.upper, "lower_inclusive": r.lower_inc,
            "upper_inclusive": r.upper_inc, "empty": r.isempty}


def test_ranges_match_psycopg_range_objects(db, pg):
    sql = (
        "SELECT i4, i8, n, d, ts, tz FROM (VALUES"
        " (1, '[1,5]'::int4range, '[-9223372036854775808,0)'::int8range, '[1.50,2]'::numrange,"
        "  '[2020-01-01,2020-12-31]'::daterange, '[2020-01-01 12:00,2020-01-02)'::tsrange,"
        "  '[2020-06-01 12:00+02,)'::tstzrange),"
        " (2, '(,)', '(,5]', '(,)', '(,2000-01-01]', '(,)', '(,2000-01-01 00:00+00]'),"
        " (3, 'empty', 'empty', 'empty', 'empty', 'empty', 'empty'),"
        " (4, NULL, NULL, NULL, NULL, NULL, NULL)"
        ") AS x(i, i4, i8, n, d, ts, tz) WHERE {cond} ORDER BY i"
    )
    result = read_both_deep(db, sql)
    expected = [[canon(_range_dict(r)) for r in row] for row in pg_rows(pg, sql.replace("{cond}", "TRUE"))]
    got = [[canon(v) for v in row] for row in zip(*(result.column(n).to_pylist() for n in result.column_names))]
    assert got == expected


def test_timetz_matches_psycopg_time_objects(db, pg):
    sql = (
        "SELECT t FROM (VALUES (1, '12:00:00+02'::timetz), (2, '23:59:59.999999-03:30'), (3, '00:00+15:59'),"
        " (4, '01:02:03.5-15:59'), (5, '12:00:00+01:02:03'), (6, NULL)) AS x(i, t) WHERE {cond} ORDER BY i"
    )
    result = read_both_deep(db, sql)
    expected = [
        None if t is None else {"time": t.replace(tzinfo=None), "offset_seconds": int(t.utcoffset().total_seconds())}
        for t in pg_column(pg, sql.replace("{cond}", "TRUE"))
    ]
    assert result.column("t").to_pylist() == expected
    assert expected[0]["offset_seconds"] == 7200 and expected[1]["offset_seconds"] == -12600  # east of UTC


def test_composite_null_vs_all_null_attributes(db, udt):
    result = read_both_deep(
        db,
        udt.sub("SELECT c FROM (VALUES (1, ROW(NULL, NULL)::<point2>), (2, NULL), (3, ROW(1, NULL)::<point2>))"
                " AS x(i, c) WHERE {cond} ORDER BY i"),
    )
    col = result.column("c").combine_chunks()
    assert col.is_valid().to_pylist() == [True, False, True]
    assert col.to_pylist() == [{"x": None, "y": None}, None, {"x": 1.0, "y": None}]


def test_oid_family_from_the_catalog_and_system_columns(db, pg, make_table):
    table = make_table("id int", "VALUES (1), (2)")
    sql = (
        f"SELECT xmin, cmin, xmax, cmax, tableoid::regclass AS rel,"
        f" 'pg_catalog'::regnamespace AS ns, xmin::text::xid8 AS x8 FROM {table} WHERE {{cond}} ORDER BY id"
    )
    result = read_both_deep(db, sql)
    assert [f.type for f in result.schema] == [pa.uint32()] * 6 + [pa.uint64()]
    assert [pg_type_of(f) for f in result.schema] == [b"xid", b"cid", b"xid", b"cid", b"regclass", b"regnamespace",
                                                      b"xid8"]
    expected = pg_rows(
        pg,
        f"SELECT xmin::text::int8, cmin::text::int8, xmax::text::int8, cmax::text::int8, tableoid::int8,"
        f" 'pg_catalog'::regnamespace::oid::int8 FROM {table} ORDER BY id",
    )
    got = list(zip(*(result.column(n).to_pylist() for n in result.column_names[:6])))
    assert got == expected
    assert result.column("x8").to_pylist() == result.column("xmin").to_pylist()


def test_anonymous_record_is_text(db):
    """ROW(...) without a named type is `record`: no attribute names or types are known, so it
    comes back as the server's text form."""
    result = read_both_deep(db, "SELECT ROW(1, 'a b', NULL) AS r, NULL::record AS n WHERE {cond}")
    assert [(f.type, pg_type_of(f)) for f in result.schema] == [(pa.string(), b"record")] * 2
    assert result.to_pylist() == [{"r": '(1,"a b",)', "n": None}]


# --------------------------------------------------------------------------
# pandas and polars
# --------------------------------------------------------------------------

ENUM_VALUES_SQL = (
    "SELECT x::<mood> AS m FROM (VALUES (1, 'happy'), (2, 'sad'), (3, NULL), (4, 'happy'), (5, 'ünïcödé ✓'))"
    " AS v(i, x) WHERE {cond} ORDER BY i"
)
ENUM_VALUES = ["happy", "sad", None, "happy", "ünïcödé ✓"]


def _pandas_values(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series.tolist()]


@pytest.mark.parametrize("cond,params", [(COPY_COND, None), (PARAM_COND, [1])], ids=["copy", "param"])
def test_read_pandas_enum_is_categorical(db, udt, cond, params):
    df = db.read_pandas(udt.sub(ENUM_VALUES_SQL).replace("{cond}", cond), params)
    assert isinstance(df["m"].dtype, pd.CategoricalDtype)
    assert _pandas_values(df["m"]) == ENUM_VALUES
    assert set(df["m"].cat.categories) <= set(MOOD_LABELS)

    plain = db.read_pandas(udt.sub(ENUM_VALUES_SQL).replace("{cond}", cond), params, types={"enum": "string"})
    assert not isinstance(plain["m"].dtype, pd.CategoricalDtype)
    assert _pandas_values(plain["m"]) == ENUM_VALUES


def test_enum_dictionaries_differ_across_batches(db, udt):
    """Each batch carries its own dictionary; pandas/polars still see the right labels."""
    sql = udt.sub("SELECT (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::<mood> AS m FROM generate_series(1, 20) i"
                  " ORDER BY i")
    expected = [["sad", "ok", "happy"][i % 3] for i in range(1, 21)]
    with db.read_batches(sql, batch_rows=7) as reader:
        table = reader.read_all()
    assert table.column("m").num_chunks == 3
    assert table.schema.field("m").type == DICT
    assert deep(table.column("m")) == expected
    assert table.to_pandas()["m"].tolist() == expected
    assert pl.from_arrow(table)["m"].to_list() == expected


def test_read_polars_composite_range_enum(db, pg, udt):
    sql = udt.sub(
        "SELECT m, c, r, d, ma FROM (VALUES"
        " (1, 'happy'::<mood>, ROW(1.5, NULL)::<point2>, '[1,5]'::int4range, '[2020-01-01,2020-02-01)'::daterange,"
        "  ARRAY['ok', NULL]::<mood>[]),"
        " (2, NULL, ROW(NULL, NULL)::<point2>, 'empty', '(,)', '{}'),"
        " (3, 'sad', NULL, NULL, NULL, NULL)"
        ") AS x(i, m, c, r, d, ma) WHERE {cond} ORDER BY i"
    )
    for cond, params in ((COPY_COND, None), (PARAM_COND, [1])):
        df = db.read_polars(sql.replace("{cond}", cond), params)
        schema = df.schema
        assert schema["m"] in (pl.Categorical, pl.Enum)
        assert schema["ma"] == pl.List(schema["m"])
        assert schema["c"] == pl.Struct({"x": pl.Float64, "y": pl.Float64})
        range_fields = ["lower", "upper", "lower_inclusive", "upper_inclusive", "empty"]
        assert isinstance(schema["r"], pl.Struct) and [f.name for f in schema["r"].fields] == range_fields
        assert schema["r"].to_schema()["lower"] == pl.Int32
        assert schema["d"].to_schema()["upper"] == pl.Date

        rows = pg_rows(pg, sql.replace("{cond}", "TRUE"))
        assert df["m"].to_list() == [r[0] for r in rows]
        # (psycopg reads arrays of an unregistered enum, and composites, as their text form)
        assert [r[4] for r in rows] == ["{ok,NULL}", "{}", None]
        assert df["ma"].to_list() == [["ok", None], [], None]
        assert df["r"].to_list() == [_range_dict(r[2]) for r in rows]
        assert df["d"].to_list() == [_range_dict(r[3]) for r in rows]
        assert [r[1] for r in rows] == ["(1.5,)", "(,)", None]
        assert df["c"].to_list() == [{"x": 1.5, "y": None}, {"x": None, "y": None}, None]


# --------------------------------------------------------------------------
# type options
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "types",
    [
        {"money": "float64"},
        {"foo": "bar"},
        {"Enum": "string"},
        {"enum": "String"},
        {"enum": "categorical"},
        {"uuid": "bytes"},
        {"numeric": "int"},
        {"json": "jsonb"},
        {"enum": "string", "range": "string"},
    ],
    ids=str,
)
def test_unknown_type_options_are_programming_errors(db, types):
    for read in (
        lambda: db.read_arrow("SELECT 1 AS a", types=types),
        lambda: db.read_arrow("SELECT $1::int AS a", [1], types=types),
        lambda: db.read_batches("SELECT 1 AS a", types=types).read_all(),
        lambda: db.read_pandas("SELECT 1 AS a", types=types),
        lambda: db.read_polars("SELECT 1 AS a", types=types),
    ):
        with pytest.raises(data_bridge.ProgrammingError):
            read()


def test_known_type_options_together(db):
    result = read_both_deep(
        db,
        "SELECT 1.5::numeric AS n, 2.25::numeric(10,2) AS n2, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid AS u,"
        " '{\"a\": 1}'::jsonb AS j WHERE {cond}",
        types={"numeric": "string", "uuid": "string", "json": "string", "enum": "dictionary"},
    )
    assert [f.type for f in result.schema] == [pa.string()] * 4
    assert result.to_pylist() == [{"n": "1.5", "n2": "2.25", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                                   "j": '{"a": 1}'}]
    floats = read_both_deep(db, "SELECT 1.5::numeric(10,2) AS n WHERE {cond}", types={"numeric": "float64"})
    assert floats.schema.field("n").type == pa.float64() and floats.column("n").to_pylist() == [1.5]


# --------------------------------------------------------------------------
# extensions' types (text) and catalog changes
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extension,sql_type,literals",
    [
        ("citext", "citext", ["'MiXeD'", "''"]),
    ],
)
def test_extension_types_are_text(db, pg, make_table, extension, sql_type, literals):
    installed = pg_column(pg, "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = %s",
                          (extension,))
    if not installed and not pg_column(pg, "SELECT 1 FROM pg_available_extensions WHERE name = %s", (extension,)):
        pytest.skip(f"{extension} is not available")
    # not installed: install it into a schema of its own for this test
    schema = installed[0] if installed else unique_name("ext")
    if not installed:
        pg.execute(f"CREATE SCHEMA {schema}")
        pg.execute(f"CREATE EXTENSION {extension} SCHEMA {schema}")
    try:
        rows = ", ".join(f"({i}, {lit})" for i, lit in enumerate(literals + ["NULL"]))
        table = make_table(f"id int PRIMARY KEY, v {schema}.{sql_type}", f"VALUES {rows}")
        result = read_both_deep(db, f"SELECT v FROM {table} WHERE {{cond}} ORDER BY id")
        fld = result.schema.field("v")
        assert fld.type == pa.string()
        server_fmt = pg_column(pg, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                                   " WHERE attrelid = %s::regclass AND attname = 'v'", (table,))[0]
        assert pg_type_of(fld) == server_fmt.encode()
        assert deep(result.column("v")) == expected_values(pg, OUTPUT, table)
    finally:
        if not installed:
            pg.execute(f"DROP SCHEMA {schema} CASCADE")  # the extension and the test table with it


def test_enum_value_added_after_first_read(db, pg):
    enum = unique_name("grow")
    pg.execute(f"CREATE TYPE {enum} AS ENUM ('a')")
    try:
        sql = f"SELECT x::{enum} AS e FROM (VALUES (1, 'a')) v(i, x) WHERE {{cond}}"
        assert read_both_deep(db, sql).column("e").to_pylist() == ["a"]
        pg.execute(f"ALTER TYPE {enum} ADD VALUE 'b' BEFORE 'a'")
        sql = f"SELECT x::{enum} AS e FROM (VALUES (1, 'a'), (2, 'b')) v(i, x) WHERE {{cond}} ORDER BY i"
        assert read_both_deep(db, sql).column("e").to_pylist() == ["a", "b"]
    finally:
        pg.execute(f"DROP TYPE {enum}")


@pytest.fixture
def one_connection_db():
    """A pool of one connection, so that consecutive reads share its catalog caches."""
    database = data_bridge.connect(DSN, max_connections=1)
    yield database
    database.close()


@pytest.mark.parametrize(
    "alter,select,expected",
    [
        ("ADD ATTRIBUTE c int8", "ROW(1, 'x', 5)", {"a": 1, "b": "x", "c": 5}),
        ("DROP ATTRIBUTE b, ADD ATTRIBUTE b int8", "ROW(1, 5)", {"a": 1, "b": 5}),
        ("RENAME ATTRIBUTE a TO z", "ROW(1, 'x')", {"z": 1, "b": "x"}),
    ],
    ids=["add_attribute", "change_attribute_type", "rename_attribute"],
)
def test_composite_altered_after_first_read(one_connection_db, pg, alter, select, expected):
    db = one_connection_db
    ctype = unique_name("alt")
    pg.execute(f"CREATE TYPE {ctype} AS (a int4, b text)")
    try:
        first = read_both_deep(db, f"SELECT ROW(1, 'x')::{ctype} AS c WHERE {{cond}}")
        assert first.column("c").to_pylist() == [{"a": 1, "b": "x"}]
        pg.execute(f"ALTER TYPE {ctype} {alter}")
        again = read_both_deep(db, f"SELECT {select}::{ctype} AS c WHERE {{cond}}")
        assert again.column("c").to_pylist() == [expected]
    finally:
        pg.execute(f"DROP TYPE {ctype}")


def test_pg_type_after_type_rename(one_connection_db, pg):
    db = one_connection_db
    old, new = unique_name("old"), unique_name("new")
    pg.execute(f"CREATE TYPE {old} AS ENUM ('a')")
    try:
        first = read_both_deep(db, f"SELECT 'a'::{old} AS e WHERE {{cond}}")
        assert pg_type_of(first.schema.field("e")) == old.encode()
        pg.execute(f"ALTER TYPE {old} RENAME TO {new}")
        again = read_both_deep(db, f"SELECT 'a'::{new} AS e WHERE {{cond}}")
        assert pg_type_of(again.schema.field("e")) == new.encode()
    finally:
        pg.execute(f"DROP TYPE IF EXISTS {old}, {new}")


def test_array_of_domain_keeps_base_typmod(db, pg, make_table, udt):
    table = make_table(udt.sub("id int, v <dnum>[]"), "VALUES (1, '{1.5,NULL,-99999999.99}'), (2, NULL)")
    result = read_both_deep(db, f"SELECT v FROM {table} WHERE {{cond}} ORDER BY id")
    assert result.schema.field("v").type == pa.list_(pa.decimal128(10, 2))
    assert canon(deep(result.column("v"))) == [["1.50", None, "-99999999.99"], None]


def test_multiranges_match_psycopg(db, pg):
    """Multiranges: list<struct> of their ranges, in the server's (sorted, merged) order."""
    sql = (
        "SELECT a, b, c FROM (VALUES"
        " (1, '{[1,3), [5,7]}'::int4multirange, '{[1.50,2), (3,)}'::nummultirange, '{[2020-01-01,2020-02-01)}'::datemultirange),"
        " (2, '{}', '{}', '{}'),"
        " (3, '{(,)}', '{(,5]}', '{[2020-01-01,)}'),"
        " (4, NULL, NULL, NULL)"
        ") AS x(i, a, b, c) WHERE {cond} ORDER BY i"
    )
    result = read_both_deep(db, sql)
    for name in result.column_names:
        assert pa.types.is_list(result.schema.field(name).type)
        assert pa.types.is_struct(result.schema.field(name).type.value_type)
    expected = [
        [None if m is None else [canon(_range_dict(r)) for r in m] for m in row]
        for row in pg_rows(pg, sql.replace("{cond}", "TRUE"))
    ]
    got = [
        [None if v is None else [canon(r) for r in v] for v in row]
        for row in zip(*(result.column(n).to_pylist() for n in result.column_names))
    ]
    assert got == expected


def test_hstore_is_a_map_both_ways(db, pg):
    """hstore (found by name, whatever schema the extension lives in) <-> map<string, string>."""
    if not pg_column(pg, "SELECT 1 FROM pg_available_extensions WHERE name = 'hstore'"):
        pytest.skip("hstore is not available")
    schema, table = unique_name("ext"), unique_name("hstore_t")
    pg.execute(f"CREATE SCHEMA {schema}")
    pg.execute(f"CREATE EXTENSION hstore SCHEMA {schema}")
    try:
        sql = (f"SELECT v FROM (VALUES (1, 'a=>1, b=>NULL, \"c d\"=>\"ü\"'::{schema}.hstore), (2, ''), (3, NULL))"
               " AS x(i, v) WHERE {cond} ORDER BY i")
        result = read_both_deep(db, sql)
        assert result.schema.field("v").type == pa.map_(pa.string(), pa.string())
        rows = [None if m is None else sorted(m) for m in result.column("v").to_pylist()]
        assert rows == [[("a", "1"), ("b", None), ("c d", "ü")], [], None]
        # and back: a table with an hstore column gets the same maps
        pg.execute(f"CREATE TABLE {table} (v {schema}.hstore)")
        assert db.write_arrow(table, result) == 3
        text = pg_column(pg, f"SELECT v::text FROM {table} ORDER BY v::text NULLS LAST")
        assert text == ['', '"a"=>"1", "b"=>NULL, "c d"=>"ü"', None]
    finally:
        pg.execute(f"DROP TABLE IF EXISTS {table}")
        pg.execute(f"DROP SCHEMA {schema} CASCADE")


def test_text_form_types_round_trip_through_write(db, pg):
    """Types read as their text form go back into columns of their type (the server parses
    what it printed), in create mode and into an existing table; a bad value is the server's
    error and changes nothing."""
    sql = (
        "SELECT 1 AS id, '10.0.0.1/8'::inet AS i, '10.0.0.0/8'::cidr AS c, '08:00:2b:01:02:03'::macaddr AS m,"
        " '<a>x</a>'::xml AS x, point(1, 2) AS p, 'a fat cat'::tsvector AS ts, '{10.0.0.1,::1}'::inet[] AS ia,"
        " '{[1,3),[5,)}'::int4multirange AS mr"
    )
    source = db.read_arrow(sql)
    table = unique_name("textform")
    try:
        assert db.write_arrow(table, source, mode="create") == 1
        types = pg_column(pg, f"SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                              f" WHERE attrelid = '{table}'::regclass AND attnum > 0 ORDER BY attnum")
        assert types == ["integer", "inet", "cidr", "macaddr", "xml", "point", "tsvector", "inet[]", "int4multirange"]
        assert db.read_arrow(f"SELECT * FROM {table}").to_pylist() == source.to_pylist()
        bad = source.set_column(1, "i", pa.array(["not an address"]))
        with pytest.raises(data_bridge.InvalidTextRepresentation):
            db.write_arrow(table, bad)
        assert pg_column(pg, f"SELECT count(*) FROM {table}") == [1]
    finally:
        pg.execute(f"DROP TABLE IF EXISTS {table}")


def test_all_null_dictionary_column_writes_nulls(db, pg):
    table = unique_name("nulldict")
    pg.execute(f"CREATE TABLE {table} (t text)")
    try:
        empty = pa.DictionaryArray.from_arrays(pa.array([None, None], pa.int32()), pa.array([], pa.string()))
        assert db.write_arrow(table, pa.table({"t": empty})) == 2
        assert pg_column(pg, f"SELECT count(*) FROM {table} WHERE t IS NULL") == [2]
    finally:
        pg.execute(f"DROP TABLE {table}")
