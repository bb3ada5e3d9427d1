"""The README's type table agrees with what reads return: every row has a probe here, each
probe's Arrow type is checked against the server, and the row's text names that type."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

RANGE = pa.struct([("lower", pa.int32()), ("upper", pa.int32()), pa.field("lower_inclusive", pa.bool_(), False),
                   pa.field("upper_inclusive", pa.bool_(), False), pa.field("empty", pa.bool_(), False)])
TIMETZ = pa.struct([pa.field("time", pa.time64("us"), False), pa.field("offset_seconds", pa.int32(), False)])

# README row (its PostgreSQL cell) -> [(probe query, Arrow type, words the Arrow cell must hold)]
PROBES = {
    "bool": [("SELECT true", pa.bool_(), "bool")],
    "int2 / int4 / int8": [("SELECT 1::int2", pa.int16(), "int16"), ("SELECT 1::int4", pa.int32(), "int32"),
                           ("SELECT 1::int8", pa.int64(), "int64")],
    "float4 / float8": [("SELECT 1::float4", pa.float32(), "float32"), ("SELECT 1::float8", pa.float64(), "float64")],
    "numeric(p,s), p <= 38 / p <= 76": [("SELECT 1::numeric(15,2)", pa.decimal128(15, 2), "decimal128(p,s)"),
                                         ("SELECT 1::numeric(50,2)", pa.decimal256(50, 2), "decimal256(p,s)")],
    "numeric without typmod": [("SELECT 1.25::numeric", pa.decimal128(3, 2), "narrowest exact decimal128/256")],
    'text, varchar, bpchar (padding kept), name, "char"': [
        ("SELECT 'x'::text", pa.string(), "string"), ("SELECT 'x'::varchar", pa.string(), "string"),
        ("SELECT 'x'::char(3)", pa.string(), "string"), ("SELECT 'x'::name", pa.string(), "string"),
        ("SELECT 'x'::\"char\"", pa.string(), "string")],
    "bytea": [("SELECT '\\x01'::bytea", pa.binary(), "binary")],
    "date": [("SELECT current_date", pa.date32(), "date32")],
    "time": [("SELECT '12:00'::time", pa.time64("us"), "time64[us]")],
    "timetz": [("SELECT '12:00+02'::timetz", TIMETZ, "offset_seconds: int32")],
    "timestamp / timestamptz": [("SELECT now()::timestamp", pa.timestamp("us"), "timestamp[us]"),
                                ("SELECT now()", pa.timestamp("us", tz="UTC"), "timestamp[us, tz=UTC]")],
    "interval": [("SELECT '1 day'::interval", pa.month_day_nano_interval(), "month_day_nano_interval")],
    "uuid": [("SELECT gen_random_uuid()", pa.uuid(), "arrow.uuid")],
    "json, jsonb": [("SELECT '[]'::json", pa.string(), "string"), ("SELECT '[]'::jsonb", pa.string(), "string")],
    "oid, regclass, regtype, regproc, ... , xid, cid / xid8": [
        ("SELECT 1::oid", pa.uint32(), "uint32"), ("SELECT 'pg_class'::regclass", pa.uint32(), "uint32"),
        ("SELECT '1'::xid8", pa.uint64(), "uint64")],
    "money": [("SELECT 1::money", pa.decimal128(19, 2), "decimal128(19,2)")],
    "bit(n), varbit": [("SELECT B'101'", pa.string(), "'0'/'1'"), ("SELECT B'1'::varbit", pa.string(), "'0'/'1'")],
    "enum": [("SELECT 'ok'::{enum}", pa.dictionary(pa.int32(), pa.string()), "dictionary<int32, string>")],
    "domain": [("SELECT 1::{domain}", pa.int32(), "base type")],
    "composite (row) types": [("SELECT ROW(1, 'x')::{composite}", pa.struct([("a", pa.int32()), ("b", pa.string())]),
                               "struct")],
    "int4range, int8range, numrange, daterange, tsrange, tstzrange (and other ranges)": [
        ("SELECT int4range(1, 2)", RANGE, "lower_inclusive")],
    "multiranges": [("SELECT int4multirange(int4range(1, 2))", pa.list_(RANGE), "list of the range struct")],
    "hstore (when installed, in any schema)": [],  # tested in test_types_native.py (needs the extension)
    "arrays of any of these": [("SELECT ARRAY[1, 2]", pa.list_(pa.int32()), "list<element>"),
                               ("SELECT ARRAY[[1], [2]]", pa.list_(pa.list_(pa.int32())), "one list level per dimension")],
    "anything else (inet, cidr, macaddr, xml, tsvector, point, citext and other extension types)": [
        ("SELECT '10.0.0.1'::inet", pa.string(), "string"), ("SELECT point(1, 2)", pa.string(), "string")],
}


def readme_rows() -> dict[str, str]:
    text = README.read_text()
    table = text[text.index("| PostgreSQL | Arrow |"):].split("\n\n")[0].splitlines()[2:]
    rows = {}
    for line in table:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0]] = cells[1]
    return rows


def test_every_readme_row_has_a_probe():
    assert set(readme_rows()) == set(PROBES)


@pytest.fixture(scope="module")
def user_types(pg):
    names = {"enum": "readme_mood", "domain": "readme_posint", "composite": "readme_pair"}
    pg.execute(f"DROP TYPE IF EXISTS {names['enum']}, {names['composite']} CASCADE")
    pg.execute(f"DROP DOMAIN IF EXISTS {names['domain']}")
    pg.execute(f"CREATE TYPE {names['enum']} AS ENUM ('ok')")
    pg.execute(f"CREATE DOMAIN {names['domain']} AS int4")
    pg.execute(f"CREATE TYPE {names['composite']} AS (a int4, b text)")
    yield names
    pg.execute(f"DROP TYPE {names['enum']}, {names['composite']}")
    pg.execute(f"DROP DOMAIN {names['domain']}")


@pytest.mark.parametrize("row", list(PROBES))
def test_readme_row_matches_the_code(db, user_types, row):
    arrow_cell = readme_rows()[row]
    for sql, arrow_type, words in PROBES[row]:
        assert words in arrow_cell, f"README row {row!r} should mention {words!r}"
        got = db.read_arrow(sql.format(**user_types)).schema.field(0).type
        assert got == arrow_type, f"{sql}: README says {arrow_cell!r}, the code gives {got}"
