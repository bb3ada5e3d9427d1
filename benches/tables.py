"""Benchmark tables, generated server-side with generate_series.

Values are derived from hashes of the row number (``hashint8extended``), so
every load produces the same data without slow PL/pgSQL or client round trips.
``h`` and ``g`` below are non-negative 63-bit hashes of the row number ``i``; different
fields take different digits of it (``h % a``, ``h / b % c``) so they vary
independently enough for a benchmark.
"""

from typing import NamedTuple

LINEITEM_DDL = """
CREATE TABLE bench_lineitem (
    l_orderkey      bigint,
    l_partkey       bigint,
    l_suppkey       bigint,
    l_linenumber    integer,
    l_quantity      numeric(15,2),
    l_extendedprice numeric(15,2),
    l_discount      numeric(15,2),
    l_tax           numeric(15,2),
    l_returnflag    char(1),
    l_linestatus    char(1),
    l_shipdate      date,
    l_commitdate    date,
    l_receiptdate   date,
    l_shipinstruct  char(25),
    l_shipmode      char(10),
    l_comment       varchar(44)
)"""

# ~1% NULLs in l_discount, l_commitdate and l_comment.
LINEITEM_FILL = """
INSERT INTO bench_lineitem
SELECT (i + 3) / 4,
       1 + h % 200000,
       1 + g % 10000,
       1 + (i - 1) % 7,
       (1 + h / 200000 % 50)::numeric(15,2),
       (h / 10000000 % 10000000 / 100.0)::numeric(15,2),
       CASE WHEN g % 100 = 0 THEN NULL ELSE (g / 100 % 11 / 100.0)::numeric(15,2) END,
       (g / 1100 % 9 / 100.0)::numeric(15,2),
       (ARRAY['R', 'A', 'N'])[1 + g / 9900 % 3],
       (ARRAY['O', 'F'])[1 + g / 29700 % 2],
       ship,
       CASE WHEN g % 97 = 1 THEN NULL ELSE ship + (g / 59400 % 61 - 30)::int END,
       ship + (1 + g / 3623400 % 30)::int,
       (ARRAY['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'])[1 + h % 4],
       (ARRAY['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'])[1 + h / 4 % 7],
       CASE WHEN g % 89 = 2 THEN NULL
            ELSE left(md5(i::text) || ' ' || md5(h::text), 10 + (g / 7 % 35)::int) END
FROM generate_series(1, {rows}::bigint) AS i,
     LATERAL (SELECT hashint8extended(i, 1) & 9223372036854775807 AS h,
             hashint8extended(i, 2) & 9223372036854775807 AS g) AS hashes,
     LATERAL (SELECT date '1992-01-02' + (h % 2526)::int AS ship) AS dates
"""

AWKWARD_DDL = """
CREATE TABLE bench_awkward (
    id      bigint,
    ts      timestamptz,
    iv      interval,
    u       uuid,
    doc     jsonb,
    ints    int4[],
    tags    text[],
    amount  numeric,
    payload bytea,
    label   text
)"""

# ~2% NULLs in ts, iv, doc, tags, amount and payload; some NULL array elements,
# empty arrays, mixed-scale numerics and variable-length bytea.
AWKWARD_FILL = """
INSERT INTO bench_awkward
SELECT i,
       CASE WHEN h % 50 = 0 THEN NULL
            ELSE timestamptz '2000-01-01 00:00:00+00' + (h % 1000000000000000) * interval '1 microsecond' END,
       CASE WHEN h % 50 = 1 THEN NULL
            ELSE make_interval(months => (h % 30)::int, days => (h / 30 % 40)::int,
                               secs => (h / 1200 % 86400000000) / 1e6) END,
       md5(i::text)::uuid,
       CASE WHEN h % 50 = 2 THEN NULL
            ELSE jsonb_build_object('id', i, 'name', 'item-' || i, 'score', h % 1000 / 10.0,
                                    'flags', jsonb_build_array(h % 2 = 0, h % 3 = 0)) END,
       (ARRAY[(h % 1000)::int, CASE WHEN h % 13 = 0 THEN NULL ELSE (h / 1000 % 1000)::int END,
              -(i % 100000)::int, 7, 42])[1:(h % 6)::int],
       CASE WHEN h % 50 = 3 THEN NULL
            ELSE (ARRAY['alpha', 'beta', 'gamma', 'δέλτα', 'ε-' || i])[1:(h / 6 % 6)::int] END,
       CASE WHEN h % 50 = 4 THEN NULL
            ELSE (h % 1000000000000)::numeric / 10 ^ (h / 7 % 9)::int END,
       CASE WHEN h % 50 = 5 THEN NULL
            ELSE decode(repeat(md5(i::text), 1 + (h / 11 % 4)::int), 'hex') END,
       'zürich-✓-' || i
FROM generate_series(1, {rows}::bigint) AS i,
     LATERAL (SELECT hashint8extended(i, 3) & 9223372036854775807 AS h) AS hashes
"""


class BenchTable(NamedTuple):
    """A benchmark table: its name, DDL, fill statement and row count per --rows value."""

    name: str
    ddl: str
    fill: str
    rows_per: int  # the table gets --rows // rows_per rows


TABLES = {
    "lineitem": BenchTable("bench_lineitem", LINEITEM_DDL, LINEITEM_FILL, rows_per=1),
    "awkward": BenchTable("bench_awkward", AWKWARD_DDL, AWKWARD_FILL, rows_per=4),
}


def expected_rows(key, rows):
    """Row count the table `key` should have for a --rows value."""
    return rows // TABLES[key].rows_per


def current_rows(conn, name):
    """Row count of table `name`, or None if it does not exist."""
    if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None:
        return None
    return conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


def ensure_table(url, key, rows, log=print):
    """Create (or recreate) table `key` unless count(*) already equals the expected rows.

    Loading runs in one transaction, then VACUUM (FREEZE, ANALYZE) sets hint bits
    and statistics so the first timed read does not pay for them.
    Returns the table's PostgreSQL name.
    """
    import psycopg  # imported here so measuring subprocesses do not load it

    table = TABLES[key]
    want = expected_rows(key, rows)
    with psycopg.connect(url, autocommit=True) as conn:
        have = current_rows(conn, table.name)
        if have == want:
            return table.name
        found = "no table" if have is None else f"{have:,} rows"
        log(f"loading {table.name}: {want:,} rows (found {found})")
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {table.name}")
            conn.execute(table.ddl)
            conn.execute(table.fill.format(rows=int(want)))
        conn.execute(f"VACUUM (FREEZE, ANALYZE) {table.name}")
    return table.name
