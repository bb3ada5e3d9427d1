"""Declared models: DDL from annotations, CRUD and upsert against a real server, validation."""

from __future__ import annotations

import datetime as dt
import types
import uuid
from decimal import Decimal
from typing import ClassVar, Dict, List, Optional, Union

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import data_bridge
from conftest import pg_column, pg_rows, unique_name
from data_bridge import Model, col, field, func

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def make_model(pg, body: Dict[str, object], annotations: Dict[str, object], **class_kwargs) -> type:
    """A model class over a fresh uniquely named table, dropped at the end of the test module."""
    name = class_kwargs.pop("table", None) or unique_name("m")
    namespace = dict(body, __annotations__=annotations)
    cls = types.new_class("M", (Model,), dict(class_kwargs, table=name), lambda ns: ns.update(namespace))
    _CREATED.append(cls)
    return cls


_CREATED: List[type] = []


@pytest.fixture(autouse=True)
def _drop_models(db):
    yield
    while _CREATED:
        _CREATED.pop().drop_table(db)


@pytest.fixture
def Order(db):  # noqa: N802 - a class
    class Order(Model, table=unique_name("orders")):
        id: int = field(primary_key=True)
        customer_id: int
        total: Decimal = field(sql_type="numeric(10,2)")
        created_at: dt.datetime
        status: str = "new"
        note: Optional[str]
        tags: List[str] = field(default_factory=list)

    _CREATED.append(Order)
    Order.create_table(db)
    return Order


def order(Order, i: int, **changes):  # noqa: N803
    values = dict(id=i, customer_id=i % 3, total=Decimal(i) / 4, created_at=NOW + dt.timedelta(hours=i),
                  status=("paid", "open")[i % 2], note=None if i % 3 == 0 else f"n{i}", tags=["t", str(i)][: i % 3])
    values.update(changes)
    return Order(**values)


# --------------------------------------------------------------------------
# DDL
# --------------------------------------------------------------------------


def column_types(pg, table: str) -> list:
    return pg_rows(
        pg,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (f'"{table}"',),
    )


def test_create_table_types_from_annotations(db, pg):
    class Every(Model, table=unique_name("every")):
        id: int = field(primary_key=True, identity=True)
        flag: bool
        small: int = field(sql_type="smallint")
        ratio: float
        name: str
        blob: Optional[bytes]
        amount: Decimal
        price: Decimal = field(sql_type="NUMERIC(10, 2)")
        day: dt.date
        at: dt.datetime
        local: dt.datetime = field(sql_type="timestamp")
        clock: Optional[dt.time]
        span: Optional[dt.timedelta]
        key: uuid.UUID
        doc: Optional[dict]
        numbers: List[int]
        maybe: list[Optional[str]]
        label: Optional[str] = field(column="Label Text")
        cache: ClassVar[int] = 0  # not a column

    _CREATED.append(Every)
    Every.create_table(db)
    assert column_types(pg, Every.__table__._parts[0]) == [
        ("id", "bigint", True), ("flag", "boolean", True), ("small", "smallint", True),
        ("ratio", "double precision", True), ("name", "text", True), ("blob", "bytea", False),
        ("amount", "numeric", True), ("price", "numeric(10,2)", True), ("day", "date", True),
        ("at", "timestamp with time zone", True), ("local", "timestamp without time zone", True),
        ("clock", "time without time zone", False), ("span", "interval", False), ("key", "uuid", True),
        ("doc", "jsonb", False), ("numbers", "bigint[]", True), ("maybe", "text[]", True),
        ("Label Text", "text", False),
    ]
    table = Every.__table__._parts[0]
    assert pg_column(pg, "SELECT attidentity FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'id'",
                     (f'"{table}"',)) == ["d"]
    assert pg_column(pg, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
                     (f'"{table}"',)) == ["PRIMARY KEY (id)"]
    Every.create_table(db, if_not_exists=True)  # no error the second time
    with pytest.raises(data_bridge.ProgrammingError, match="already exists"):
        Every.create_table(db)

    row = Every(flag=True, small=3, ratio=1, name="x", amount=Decimal("1.000001"), price=Decimal("2.5"),
                day=dt.date(2020, 1, 2), at=NOW, local=dt.datetime(2020, 1, 1, 12), key=str(uuid.UUID(int=7)),
                doc={"a": [1, None]}, numbers=[1, 2], maybe=["a", None], label="L",
                clock=dt.time(1, 2, 3), span=dt.timedelta(days=2, microseconds=5), blob=b"\x00\xff")
    assert row.id is None and row.key == uuid.UUID(int=7) and row.ratio == 1.0 and isinstance(row.ratio, float)
    stored = Every.insert(db, row)
    assert stored is row and row.id == 1
    assert Every.get(db, 1) == row
    assert Every.insert_many(db, [row.to_dict() | {"id": None, "name": "y"}, dict(row.to_dict(), id=None, doc=None)]) == 2
    assert [e.id for e in Every.select().order_by(Every.id).fetch_models(db)] == [1, 2, 3]
    assert pg_rows(pg, f'SELECT price::text, doc, "Label Text" FROM "{table}" ORDER BY id') == [
        ("2.50", {"a": [1, None]}, "L"), ("2.50", {"a": [1, None]}, "L"), ("2.50", None, "L")]


# --------------------------------------------------------------------------
# CRUD
# --------------------------------------------------------------------------


def test_insert_get_update_delete(db, pg, Order):  # noqa: N803
    o = Order.insert(db, order(Order, 1, note="first"))
    assert o.status == "open" and o.note == "first"
    got = Order.get(db, 1)
    assert got == o and got is not o
    assert isinstance(got.total, Decimal) and got.total == Decimal("0.25")
    assert got.created_at == NOW + dt.timedelta(hours=1) and got.created_at.utcoffset() == dt.timedelta(0)
    assert Order.get(db, 99) is None

    got.total = Decimal("10.5")
    got.tags = ["x"]
    got.note = None
    assert Order.update(db, got) == 1
    assert Order.get(db, 1) == got
    assert pg_rows(pg, f'SELECT total::text, tags, note FROM "{Order.__table__._parts[0]}"') == [("10.50", ["x"], None)]
    assert Order.update(db, order(Order, 5)) == 0  # no such row

    assert Order.delete(db, 99) == 0
    assert Order.delete(db, got) == 1
    assert Order.get(db, 1) is None


def test_insert_many_from_instances_dicts_and_frames(db, pg, Order):  # noqa: N803
    assert Order.insert_many(db, [order(Order, i) for i in range(1, 51)]) == 50
    assert Order.insert_many(db, [order(Order, 51).to_dict(), order(Order, 52)]) == 2
    frame = Order.to_arrow([order(Order, i) for i in range(100, 110)])
    assert frame.schema.field("total").type == pa.decimal128(10, 2)
    assert frame.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert Order.insert_many(db, frame) == 10
    assert Order.insert_many(db, frame.to_pandas().assign(id=lambda f: f["id"] + 100)) == 10
    assert Order.insert_many(db, pl.from_arrow(frame).with_columns(pl.col("id") + 200)) == 10
    assert pg_column(pg, f'SELECT count(*) FROM "{Order.__table__._parts[0]}"') == [82]
    for i in (1, 52, 105):
        assert Order.get(db, i) == order(Order, i)
    assert Order.get(db, 305) == order(Order, 105, id=305)


def test_upsert_lists_and_frames(db, pg, Order):  # noqa: N803
    Order.insert_many(db, [order(Order, i) for i in range(1, 5)])
    changed = [order(Order, 2, total=Decimal("99.99"), note="changed"), order(Order, 7)]
    assert Order.upsert(db, changed) == 2
    assert Order.get(db, 2).note == "changed" and Order.get(db, 7) == order(Order, 7)
    frame = pd.DataFrame(Order.to_arrow([order(Order, 3, status="done"), order(Order, 8)]).to_pandas())
    assert Order.upsert(db, frame) == 2
    assert Order.get(db, 3).status == "done"
    assert pg_column(pg, f'SELECT id FROM "{Order.__table__._parts[0]}" ORDER BY id') == [1, 2, 3, 4, 7, 8]


def test_select_reads_like_handwritten_sql(db, Order):  # noqa: N803
    Order.insert_many(db, [order(Order, i) for i in range(1, 41)])
    name = Order.__table__._parts[0]
    q = Order.select().where(Order.total > 5, Order.status == "paid").order_by(Order.id)
    hand = f'SELECT id, customer_id, total, created_at, status, note, tags FROM "{name}"' \
           " WHERE total > 5 AND status = 'paid' ORDER BY id"
    assert q.read_arrow(db).equals(db.read_arrow(hand))
    assert q.read_polars(db).equals(db.read_polars(hand))
    assert q.read_pandas(db).equals(db.read_pandas(hand))
    assert db.read_arrow(q).num_rows == 10
    models = q.fetch_models(db)
    assert [m.id for m in models] == list(range(22, 41, 2)) and all(isinstance(m, Order) for m in models)
    assert models[0] == order(Order, 22)
    # explicit columns and aggregates, with the class attributes as columns
    per = (Order.select(Order.customer_id, func.sum(Order.total).alias("sum")).group_by(Order.customer_id)
           .order_by(Order.customer_id).fetch_all(db))
    assert per == db.fetch_all(f'SELECT customer_id, sum(total) AS sum FROM "{name}" GROUP BY 1 ORDER BY 1')
    with pytest.raises(TypeError, match="lacks column"):
        Order.select(Order.id).fetch_models(db)
    with pytest.raises(TypeError, match="Model.select"):
        data_bridge.table(name).select().fetch_models(db)


def test_class_attributes_are_qualified_columns(Order):  # noqa: N803
    name = Order.__table__._parts[0]
    assert data_bridge.select((Order.total > 10).alias("x")).to_sql() == (f'SELECT "{name}"."total" > $1 AS "x"', [10])
    assert Order.select().to_sql()[0].startswith(f'SELECT "{name}"."id", "{name}"."customer_id"')


def test_crud_inside_a_transaction_rolls_back(db, Order):  # noqa: N803
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            Order.insert(tx, order(Order, 1))
            Order.insert_many(tx, [order(Order, 2)])
            assert Order.get(tx, 1) is not None and Order.get(tx, 2) is not None
            raise RuntimeError("roll back")
    assert Order.get(db, 1) is None and Order.get(db, 2) is None


def test_composite_key_schema_and_column_mapping(db, pg):
    schema = unique_name("s")
    pg.execute(f"CREATE SCHEMA {schema}")
    try:
        class Line(Model, table="line items", schema=schema):
            order_id: int = field(primary_key=True)
            line_no: int = field(primary_key=True, column="line")
            qty: int = field(sql_type="integer")
            kind_: str = field(column="select", default="std")

        Line.create_table(db)
        assert Line.__primary_key__ == ("order_id", "line_no")
        Line.insert_many(db, [Line(order_id=1, line_no=n, qty=n) for n in range(1, 4)])
        Line.insert(db, Line(order_id=2, line_no=1, qty=9, kind_="x"))
        assert Line.get(db, (1, 2)) == Line(order_id=1, line_no=2, qty=2)
        assert Line.delete(db, (1, 3)) == 1
        assert Line.upsert(db, [Line(order_id=1, line_no=1, qty=100)]) == 1
        assert pg_rows(pg, f'SELECT order_id, line, qty, "select" FROM {schema}."line items" ORDER BY 1, 2') == [
            (1, 1, 100, "std"), (1, 2, 2, "std"), (2, 1, 9, "x")]
        with pytest.raises(TypeError, match="composite key"):
            Line.get(db, 1)
    finally:
        pg.execute(f"DROP SCHEMA {schema} CASCADE")


def test_inherited_fields(db):
    class Base(Model, table="unused_base"):
        id: int = field(primary_key=True)
        created_at: dt.datetime

    class Event(Base, table=unique_name("event")):
        name: str

    _CREATED.append(Event)
    Event.create_table(db)
    assert list(Event.__fields__) == ["id", "created_at", "name"]
    Event.insert(db, Event(id=1, created_at=NOW, name="x"))
    assert Event.get(db, 1).name == "x"
    assert list(Base.__fields__) == ["id", "created_at"]


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"customer_id": "7"}, r"Order\.customer_id: expected int, got str '7'"),
        ({"customer_id": True}, r"Order\.customer_id: expected int, got bool"),
        ({"total": 1.5}, r"Order\.total: expected Decimal, got float"),
        ({"total": "1.5"}, r"Order\.total: expected Decimal, got str"),
        ({"created_at": dt.datetime(2020, 1, 1)}, r"Order\.created_at: expected a timezone-aware datetime"),
        ({"created_at": dt.date(2020, 1, 1)}, r"Order\.created_at: expected datetime, got date"),
        ({"tags": "abc"}, r"Order\.tags: expected list"),
        ({"tags": ["a", 1]}, r"Order\.tags\[1\]: expected str, got int"),
        ({"tags": ["a", None]}, r"Order\.tags\[1\]: None in a list"),
        ({"status": None}, r"Order\.status: None for a field that is not Optional"),
        ({"colour": "red"}, r"Order: unknown field\(s\) 'colour'"),
    ],
)
def test_validation_names_the_field(Order, changes, match):  # noqa: N803
    with pytest.raises(TypeError, match=match):
        order(Order, 1, **changes)


def test_missing_required_field(Order):  # noqa: N803
    with pytest.raises(TypeError, match=r"Order: missing required field 'customer_id'"):
        Order(id=1, total=Decimal(1), created_at=NOW)
    o = Order(id=1, customer_id=2, total=3, created_at=NOW)  # an int is an exact Decimal
    assert o.total == Decimal(3) and o.note is None and o.status == "new" and o.tags == []
    with pytest.raises(TypeError, match=r"Order\.total: expected Decimal"):
        o.total = 0.1  # assignment is validated too


def test_naive_datetime_field(db):
    class Local(Model, table=unique_name("local")):
        id: int = field(primary_key=True)
        at: dt.datetime = field(sql_type="timestamp")

    _CREATED.append(Local)
    Local.create_table(db)
    with pytest.raises(TypeError, match=r"Local\.at: expected a naive datetime"):
        Local(id=1, at=NOW)
    Local.insert_many(db, [Local(id=1, at=dt.datetime(2020, 1, 1, 3))])
    assert Local.get(db, 1).at == dt.datetime(2020, 1, 1, 3)

    class Precise(Model, table=unique_name("precise")):
        id: int = field(primary_key=True)
        naive: dt.datetime = field(sql_type="timestamp(3)")
        aware: dt.datetime = field(sql_type="timestamptz(3)")

    _CREATED.append(Precise)
    Precise.create_table(db)
    row = Precise(id=1, naive=dt.datetime(2020, 1, 1, 3), aware=NOW.replace(microsecond=0))
    Precise.insert_many(db, [row])
    assert Precise.get(db, 1) == row
    with pytest.raises(TypeError, match=r"Precise\.naive: expected a naive datetime"):
        row.naive = NOW


@pytest.mark.parametrize(
    "annotations, body, match",
    [
        ({"x": complex}, {}, "unsupported annotation"),
        ({"x": Optional[int], "y": Union[int, str]}, {}, "only Optional"),
        ({"x": list}, {}, "element type"),
        ({"select": int}, {}, "would hide Model.select"),
        ({"x": Optional[int]}, {"x": field(primary_key=True)}, "primary key cannot be Optional"),
        ({"x": str}, {"x": field(identity=True)}, "identity=True needs an int"),
        ({"x": int, "y": int}, {"y": field(column="x")}, "same column"),
        ({"x": int}, {"x": "seven"}, r"\.x: expected int"),
        ({"x": int}, {"x": field(sql_type="int; drop table t")}, "type name"),
        ({"x": List[dict]}, {}, "lists of dict"),
    ],
)
def test_bad_declarations(annotations, body, match):
    with pytest.raises((TypeError, ValueError), match=match):
        types.new_class("Bad", (Model,), {"table": "bad"},
                        lambda ns: ns.update(dict(body, __annotations__=annotations), __module__=__name__))


def test_bad_field_options():
    with pytest.raises(ValueError, match="empty"):
        field(column="")
    with pytest.raises(ValueError, match="63 bytes"):
        field(column="c" * 64)
    with pytest.raises(ValueError, match="not both"):
        field(default=1, default_factory=int)


def test_primary_key_needed_for_key_operations(db):
    class Log(Model, table=unique_name("log")):
        msg: str

    _CREATED.append(Log)
    Log.create_table(db)
    assert Log.insert_many(db, [Log(msg="a")]) == 1
    with pytest.raises(TypeError, match="no primary key"):
        Log.get(db, 1)
    with pytest.raises(TypeError, match="no primary key"):
        Log.upsert(db, [Log(msg="b")])


# --------------------------------------------------------------------------
# hostile names through the model's DDL and CRUD
# --------------------------------------------------------------------------

# any character PostgreSQL stores: not NUL, not a lone surrogate (no UTF-8 form)
chars = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
ident_st = st.text(chars, min_size=1, max_size=20).filter(lambda s: len(s.encode()) <= 63)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table_name=ident_st, column_name=ident_st, value=st.text(chars))
def test_hostile_names_in_models(db, pg, table_name, column_name, value):
    schema = unique_name("hm")
    pg.execute(f"CREATE SCHEMA {schema}")
    try:
        cls = types.new_class(
            "Hostile", (Model,), {"table": table_name, "schema": schema},
            lambda ns: ns.update(__annotations__={"id": int, "v": str},
                                 id=field(primary_key=True, column="id" if column_name != "id" else "id_"),
                                 v=field(column=column_name)))
        cls.create_table(db)
        cls.insert(db, cls(id=1, v=value))
        cls.insert_many(db, [cls(id=2, v=value + "2")])
        assert cls.get(db, 1).v == value
        assert cls.upsert(db, [cls(id=2, v=value)]) == 1
        assert pg_rows(pg, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s"
                           " ORDER BY ordinal_position", (schema,)) == [
            (table_name, "id" if column_name != "id" else "id_"), (table_name, column_name)]
        assert [m.v for m in cls.select().where(getattr(cls, "v") == value).fetch_models(db)] == [value, value]
    finally:
        pg.execute(f"DROP SCHEMA {schema} CASCADE")


def test_row_count_through_builder_and_model_agree(db, Order):  # noqa: N803
    Order.insert_many(db, [order(Order, i) for i in range(1, 11)])
    n = db.fetch_one(Order.select(func.count().alias("n")).where(col("status") == "paid"))["n"]
    assert n == len(Order.select().where(Order.status == "paid").fetch_models(db)) == 5
