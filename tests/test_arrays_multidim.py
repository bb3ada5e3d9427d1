"""Multi-dimensional arrays: one list level per dimension, both ways.

PostgreSQL's array types do not fix the number of dimensions (``int4[]`` holds 1-D and 2-D
values alike), so a column's depth is read off its first non-empty value.  Reads are compared
with psycopg (which returns nested Python lists), writes and parameters with the server's own
text form.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

import data_bridge
from conftest import COPY_COND, PARAM_COND, assert_writes_back, pg_column, pg_type_of, read_both

ELEMENTS = [
    ("int4", pa.int32(), "'{{1,2,3},{4,NULL,6}}'", "'{{7,8,9}}'"),
    ("int8", pa.int64(), "'{{{1},{2}},{{3},{4}}}'", "'{{{-9223372036854775808},{9223372036854775807}}}'"),
    ("text", pa.string(), "'{{a,\"b c\"},{NULL,ü}}'", "'{{\"{}\",\",\"}}'"),
    ("numeric(10,2)", pa.decimal128(10, 2), "'{{1.5,2.25},{-3,NULL}}'", "'{{0.01}}'"),
    ("bool", pa.bool_(), "'{{t,f},{f,t}}'", "'{{NULL}}'"),
    ("date", pa.date32(), "'{{2024-02-29,1999-12-31}}'", "'{{1970-01-01},{9999-12-31}}'"),
]


def depth_of(t: pa.DataType) -> tuple[int, pa.DataType]:
    depth = 0
    while pa.types.is_list(t):
        depth, t = depth + 1, t.value_type
    return depth, t


@pytest.mark.parametrize("element,arrow,first,second", ELEMENTS, ids=[e[0] for e in ELEMENTS])
def test_multidimensional_read_matches_psycopg_and_writes_back(db, pg, make_table, element, arrow, first, second):
    table = make_table(f"id int PRIMARY KEY, v {element}[]",
                       f"VALUES (1, {first}), (2, '{{}}'), (3, NULL), (4, {second})")
    result = read_both(db, f"SELECT v FROM {table} WHERE {{cond}} ORDER BY id")
    depth, leaf = depth_of(result.schema.field("v").type)
    assert depth == pg_column(pg, f"SELECT array_ndims(v) FROM {table} WHERE id = 1")[0]
    assert leaf == arrow
    assert pg_type_of(result.schema.field("v")) == pg_column(
        pg, f"SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '{table}'::regclass"
        " AND attname = 'v'")[0].encode()
    expected = pg_column(pg, f"SELECT v FROM {table} ORDER BY id")
    expected[1] = []  # psycopg reads '{}' as []
    assert result.column("v").to_pylist() == expected
    assert_writes_back(db, pg, make_table, table)


def test_lower_bounds_are_dropped_and_data_kept(db, pg):
    got = db.read_arrow("SELECT '[0:1][3:5]={{1,2,3},{4,5,6}}'::int4[] AS v").column("v").to_pylist()
    assert got == [[[1, 2, 3], [4, 5, 6]]]


def test_depth_comes_from_the_first_non_empty_value(db):
    result = db.read_arrow(
        "SELECT v FROM (VALUES (1, NULL::int[]), (2, '{}'), (3, '{{{1}}}')) t(id, v) ORDER BY id")
    assert result.schema.field("v").type == pa.list_(pa.list_(pa.list_(pa.int32())))
    assert result.column("v").to_pylist() == [None, [], [[[1]]]]


def test_empty_result_and_all_empty_column_are_one_dimensional(db):
    for sql in ("SELECT '{{1}}'::int[] AS v WHERE false", "SELECT '{}'::int[] AS v"):
        assert db.read_arrow(sql).schema.field("v").type == pa.list_(pa.int32())


def test_read_batches_schema_has_the_depth(db):
    with db.read_batches("SELECT ARRAY[[i, i + 1]] AS v FROM generate_series(1, 100000) i",
                         batch_rows=1000) as reader:
        assert reader.schema.field("v").type == pa.list_(pa.list_(pa.int32()))
        assert sum(b.num_rows for b in reader) == 100000


@pytest.mark.parametrize("cond,params", [(COPY_COND, None), (PARAM_COND, [1])], ids=["copy", "param"])
def test_mixed_dimensions_are_a_data_error_naming_the_column(db, cond, params):
    sql = f"SELECT v AS grid FROM (VALUES (1, '{{{{1,2}}}}'::int[]), (2, '{{3}}')) t(id, v) WHERE {cond} ORDER BY id"
    with pytest.raises(data_bridge.DataError, match=r'"grid".*1-dimensional array in a column read as 2-dimensional'):
        db.read_arrow(sql, params)
    assert db.read_arrow("SELECT 1 AS ok").column("ok").to_pylist() == [1]  # the pool is fine


def test_nested_lists_write_into_array_columns(db, pg, make_table):
    table = make_table("id int, a int4[], s text[]")
    data = pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int32()),
        "a": pa.array([[[1, 2], [3, 4]], [], None, [[None, 5]]], pa.list_(pa.list_(pa.int32()))),
        "s": pa.array([[["x"]], [[]], [], None], pa.large_list(pa.list_(pa.string()))),
    })
    db.write_arrow(table, data)
    assert pg.execute(f"SELECT a::text, s::text FROM {table} ORDER BY id").fetchall() == [
        ("{{1,2},{3,4}}", "{{x}}"), ("{}", "{}"), (None, "{}"), ("{{NULL,5}}", None)]


@pytest.mark.parametrize("rows,message", [
    ([[[1, 2], [3]]], "rectangular"),
    ([[[1, 2], None]], "NULL sub-list"),
], ids=["ragged", "null-sublist"])
def test_non_rectangular_lists_are_refused_and_nothing_written(db, pg, make_table, rows, message):
    table = make_table("a int4[]", "VALUES ('{1}')")
    with pytest.raises(data_bridge.DataError, match=message):
        db.write_arrow(table, pa.table({"a": pa.array(rows, pa.list_(pa.list_(pa.int32())))}))
    assert pg_column(pg, f"SELECT a::text FROM {table}") == ["{1}"]


def test_create_mode_declares_the_dimensions(db, pg, make_table):
    name = make_table("x int")  # only for the unique name and the cleanup
    db.write_arrow(name, pa.table({"g": pa.array([[[1.5]]], pa.list_(pa.list_(pa.float64())))}), mode="replace")
    assert pg.execute(f"SELECT format_type(atttypid, atttypmod), attndims FROM pg_attribute"
                      f" WHERE attrelid = '{name}'::regclass AND attname = 'g'").fetchone() == ("double precision[]", 2)
    assert db.read_arrow(f"SELECT g FROM {name}").column("g").to_pylist() == [[[1.5]]]


def test_nested_list_parameters(db):
    row = db.read_arrow("SELECT $1::int[] AS a, $2::text[] AS t, $3::numeric[] AS n, array_ndims($1::int[]) AS d",
                        [[[1, 2], [3, None]], [["a"], ["b"]], [[Decimal("1.5")]]]).to_pylist()[0]
    assert row == {"a": [[1, 2], [3, None]], "t": [["a"], ["b"]], "n": [["1.5"]], "d": 2}


@pytest.mark.parametrize("param,message", [
    ([[1, 2], [3]], "rectangular"),
    ([[1], 2], "different depths"),
    ([1, [2]], "mixing"),
    ([[[[[[[1]]]]]]], "6 dimensions"),
], ids=["ragged", "mixed", "mixed-first", "too-deep"])
def test_bad_nested_list_parameters(db, param, message):
    with pytest.raises(data_bridge.DataError, match=message):
        db.read_arrow("SELECT $1::int[] AS a", [param])
