//! The query builder and `#[derive(Row)]` against a real PostgreSQL (DATABASE_URL, default the
//! local test database): every built query returns the same batches as the same query
//! written by hand, hostile strings stay data, and typed rows go through CRUD and COPY.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::{
    ArrayRef, Date32Array, Date64Array, Int64Array, RecordBatch, Time32MillisecondArray, Time32SecondArray,
    Time64NanosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use data_bridge_postgres::chrono::{self, DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use data_bridge_postgres::query::{
    col, excluded, exists, func, not, select, star, subquery, table, val, when, FrameBound, Query, QueryError,
    RowField, Table, Window,
};
use data_bridge_postgres::{runtime::runtime, Pool, PoolOptions, Row, TransactionOptions, Value};
use proptest::prelude::*;

const SCHEMA: &str = "query_builder_test";

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".into())
}

/// A pool on the test database, with the fixture tables loaded once per run.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        runtime().block_on(async {
            let options = PoolOptions { max_connections: 8, ..PoolOptions::default() };
            let db = Pool::connect(Some(&url()), options).await.expect("the test database is reachable");
            db.execute(&FIXTURES.replace("{s}", SCHEMA), vec![]).await.unwrap();
            db
        })
    })
}

const FIXTURES: &str = "
DROP SCHEMA IF EXISTS {s} CASCADE;
CREATE SCHEMA {s};
CREATE TABLE {s}.customers (id int8 PRIMARY KEY, name text NOT NULL, region text, tags text[], doc jsonb);
INSERT INTO {s}.customers
SELECT i, 'customer ' || i,
       CASE WHEN i % 4 = 0 THEN NULL ELSE (ARRAY['north', 'south', 'east'])[i % 3 + 1] END,
       ARRAY['t' || (i % 5), 't' || (i % 7)],
       jsonb_build_object('score', i % 10, 'tags', jsonb_build_array('a' || (i % 3), 'b'),
                          'address', jsonb_build_object('city', 'city ' || (i % 6)))
FROM generate_series(1, 60) i;
CREATE TABLE {s}.orders (id int8 PRIMARY KEY, customer_id int8, status text NOT NULL,
                         total numeric(12,2) NOT NULL, created_at timestamp NOT NULL, note text);
INSERT INTO {s}.orders
SELECT i, i % 70 + 1, (ARRAY['paid', 'open', 'refunded'])[i % 3 + 1], ((i * 37) % 1000) / 4.0,
       timestamp '2024-01-01' + i * interval '7 hours', CASE WHEN i % 5 = 0 THEN 'note ' || i END
FROM generate_series(1, 400) i;
CREATE TABLE {s}.lineitem (order_id int8, line int4, quantity int4 NOT NULL, price numeric(12,2) NOT NULL,
                           discount numeric(4,2) NOT NULL, shipdate date NOT NULL, PRIMARY KEY (order_id, line));
INSERT INTO {s}.lineitem
SELECT o, l, (o * l) % 50 + 1, ((o * 13 + l * 7) % 900) + 0.99, ((o + l) % 10) / 100.0, date '2024-01-01' + (o % 200)
FROM generate_series(1, 400) o, generate_series(1, 1 + o % 4) l;
CREATE TABLE {s}.employees (id int8 PRIMARY KEY, name text NOT NULL, manager_id int8);
INSERT INTO {s}.employees SELECT i, 'emp ' || i, NULLIF(i / 3, 0) FROM generate_series(1, 40) i;
";

/// A fixture table, schema-qualified.
fn t(name: &str) -> Table {
    table([SCHEMA, name])
}

async fn batches(db: &Pool, sql: &str, params: Vec<Value>) -> Vec<RecordBatch> {
    let mut stream = db.query_arrow(sql, params).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    while let Some(batch) = stream.next_batch().await.unwrap() {
        out.push(batch);
    }
    out
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Runs the built query and the hand-written one; their batches must be equal and not empty.
async fn same(db: &Pool, built: impl Into<Query>, hand: &str, params: Vec<Value>) -> Vec<RecordBatch> {
    let (sql, built_params) = built.into().to_sql().unwrap();
    let hand = hand.replace("{s}", SCHEMA);
    let ours = batches(db, &sql, built_params).await;
    let theirs = batches(db, &hand, params).await;
    assert!(rows(&ours) > 0, "no rows: {sql}");
    assert_eq!(ours, theirs, "\nbuilt: {sql}\nhand:  {hand}");
    ours
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

#[test]
fn filters_comparisons_and_boolean_logic() {
    let db = pool();
    block_on(async {
        same(
            db,
            t("orders")
                .select(["id", "status", "total"])
                .filter(col("status").eq("paid").and(col("created_at").ge("2024-01-20")))
                .filter(col("total").lt(200).or(col("total").gt(240)).and(not(col("id").le(10))))
                .order_by(["id"]),
            "SELECT id, status, total FROM {s}.orders \
             WHERE status = 'paid' AND created_at >= '2024-01-20' AND (total < 200 OR total > 240) AND NOT id <= 10 \
             ORDER BY id",
            vec![],
        )
        .await;
        same(
            db,
            t("orders").select(["id"]).filter(col("id").ne(3) & !(col("note").is_null() | col("id").gt(100))),
            "SELECT id FROM {s}.orders WHERE id <> 3 AND NOT (note IS NULL OR id > 100)",
            vec![],
        )
        .await;
        same(
            db,
            t("orders").select(["id"]).filter(col("note").is_distinct_from(Value::Null).and(col("id").lt(50))),
            "SELECT id FROM {s}.orders WHERE note IS DISTINCT FROM NULL AND id < 50",
            vec![],
        )
        .await;
    });
}

#[test]
fn in_between_null_and_pattern_matching() {
    let db = pool();
    block_on(async {
        same(
            db,
            t("orders").select(["id"]).filter(col("id").in_list([3, 5, 8]).or(col("id").between(100, 104))),
            "SELECT id FROM {s}.orders WHERE id IN (3, 5, 8) OR id BETWEEN 100 AND 104",
            vec![],
        )
        .await;
        // An empty list is FALSE, and NOT of it is TRUE.
        let (sql, params) = t("orders").select_all().filter(col("id").in_list(Vec::<i64>::new())).to_sql().unwrap();
        assert_eq!(rows(&batches(db, &sql, params).await), 0);
        same(
            db,
            t("orders").select(["id"]).filter(not(col("id").in_list(Vec::<i64>::new())).and(col("id").lt(5))),
            "SELECT id FROM {s}.orders WHERE id < 5",
            vec![],
        )
        .await;
        same(
            db,
            t("orders").select(["id", "note"]).filter(col("note").is_not_null().and(col("note").like("note 1%"))),
            "SELECT id, note FROM {s}.orders WHERE note IS NOT NULL AND note LIKE 'note 1%'",
            vec![],
        )
        .await;
        same(
            db,
            t("customers").select(["id"]).filter(col("name").ilike("CUSTOMER 1_").or(col("region").is_null())),
            "SELECT id FROM {s}.customers WHERE name ILIKE 'CUSTOMER 1_' OR region IS NULL",
            vec![],
        )
        .await;
    });
}

#[test]
fn arrays_and_json_paths() {
    let db = pool();
    block_on(async {
        same(
            db,
            t("customers")
                .select(["id", "tags"])
                .filter(col("tags").contains(["t1"]).or(col("tags").overlaps(vec!["t6"]))),
            "SELECT id, tags FROM {s}.customers WHERE tags @> ARRAY['t1'] OR tags && ARRAY['t6']",
            vec![],
        )
        .await;
        same(
            db,
            t("customers").select(["id"]).filter(col("tags").contained_by(["t0", "t1", "t2", "t3", "t4"])),
            "SELECT id FROM {s}.customers WHERE tags <@ ARRAY['t0', 't1', 't2', 't3', 't4']",
            vec![],
        )
        .await;
        same(
            db,
            t("customers")
                .select([
                    col("id"),
                    col("doc").get("address").get_text("city").alias("city"),
                    col("doc").get("tags").get(0).alias("first_tag"),
                    col("doc").path_text(["tags", "1"]).alias("second_tag"),
                    col("doc").path(["address"]).alias("address"),
                ])
                .filter(
                    col("doc").get_text("score").cast("int").ge(7).and(!col("doc").contains(val(r#"{"score": 9}"#))),
                )
                .order_by(["id"]),
            "SELECT id, doc -> 'address' ->> 'city' AS city, doc -> 'tags' -> 0 AS first_tag, \
             doc #>> '{tags,1}' AS second_tag, doc #> '{address}' AS address \
             FROM {s}.customers WHERE (doc ->> 'score')::int >= 7 AND NOT doc @> '{\"score\": 9}' ORDER BY id",
            vec![],
        )
        .await;
    });
}

#[test]
fn grouping_ordering_and_paging() {
    let db = pool();
    block_on(async {
        same(
            db,
            t("orders")
                .select([col("customer_id"), func::sum(col("total")).alias("revenue"), func::count(star()).alias("n")])
                .filter(col("status").eq("paid"))
                .group_by(["customer_id"])
                .having(func::sum(col("total")).gt(300))
                .order_by([col("revenue").desc(), col("customer_id").asc()])
                .limit(10)
                .offset(2),
            "SELECT customer_id, sum(total) AS revenue, count(*) AS n FROM {s}.orders WHERE status = 'paid' \
             GROUP BY customer_id HAVING sum(total) > 300 ORDER BY revenue DESC, customer_id ASC LIMIT 10 OFFSET 2",
            vec![],
        )
        .await;
        same(
            db,
            t("customers").select(["region", "id"]).order_by([col("region").desc().nulls_last(), col("id").into()]),
            "SELECT region, id FROM {s}.customers ORDER BY region DESC NULLS LAST, id",
            vec![],
        )
        .await;
        same(
            db,
            t("customers").select(["region", "id"]).order_by([col("region").asc().nulls_first(), col("id").desc()]),
            "SELECT region, id FROM {s}.customers ORDER BY region ASC NULLS FIRST, id DESC",
            vec![],
        )
        .await;
        same(
            db,
            t("orders").select(["status"]).distinct().order_by(["status"]),
            "SELECT DISTINCT status FROM {s}.orders ORDER BY status",
            vec![],
        )
        .await;
        same(
            db,
            t("orders").select(["status", "id", "total"]).distinct_on(["status"]).order_by([
                col("status").into(),
                col("total").desc(),
                col("id").into(),
            ]),
            "SELECT DISTINCT ON (status) status, id, total FROM {s}.orders ORDER BY status, total DESC, id",
            vec![],
        )
        .await;
    });
}

#[test]
fn joins_of_every_kind_and_self_joins() {
    let db = pool();
    block_on(async {
        let o = || t("orders").alias("o");
        let c = || t("customers").alias("c");
        let on = || col("o.customer_id").eq(col("c.id"));
        for (built, kind) in [
            (o().join(c(), on()), "JOIN"),
            (o().left_join(c(), on()), "LEFT JOIN"),
            (o().right_join(c(), on()), "RIGHT JOIN"),
            (o().full_join(c(), on()), "FULL JOIN"),
        ] {
            same(
                db,
                built.select(["o.id", "c.id", "c.name"]).order_by(["o.id", "c.id"]),
                &format!(
                    "SELECT o.id, c.id, c.name FROM {{s}}.orders o {kind} {{s}}.customers c ON o.customer_id = c.id \
                     ORDER BY o.id, c.id"
                ),
                vec![],
            )
            .await;
        }
        // Clauses chain in any order: select before join.
        same(
            db,
            c().select([col("c.name"), func::count(col("o.id")).alias("orders")])
                .left_join(o(), on())
                .group_by(["c.name"])
                .order_by(["c.name"]),
            "SELECT c.name, count(o.id) AS orders FROM {s}.customers c LEFT JOIN {s}.orders o ON o.customer_id = c.id \
             GROUP BY c.name ORDER BY c.name",
            vec![],
        )
        .await;
        let (e, m) = (t("employees").alias("e"), t("employees").alias("m"));
        same(
            db,
            e.clone()
                .left_join(m.clone(), e.col("manager_id").eq(m.col("id")))
                .select([e.col("name").alias("employee"), m.col("name").alias("manager")])
                .order_by([e.col("id")]),
            "SELECT e.name AS employee, m.name AS manager FROM {s}.employees e LEFT JOIN {s}.employees m \
             ON e.manager_id = m.id ORDER BY e.id",
            vec![],
        )
        .await;
        same(
            db,
            select([col("a.id"), col("b.id")])
                .from(t("employees").alias("a"))
                .cross_join(t("employees").alias("b"))
                .filter(col("a.id").lt(3).and(col("b.id").lt(3)))
                .order_by(["a.id", "b.id"]),
            "SELECT a.id, b.id FROM {s}.employees a CROSS JOIN {s}.employees b WHERE a.id < 3 AND b.id < 3 \
             ORDER BY a.id, b.id",
            vec![],
        )
        .await;
    });
}

#[test]
fn window_functions() {
    let db = pool();
    block_on(async {
        let by_customer = Window::new().partition_by(["customer_id"]).order_by(["created_at", "id"]);
        let last_three = Window::new().order_by(["id"]).rows_between(FrameBound::Preceding(2), FrameBound::CurrentRow);
        let whole_partition =
            by_customer.clone().rows_between(FrameBound::UnboundedPreceding, FrameBound::UnboundedFollowing);
        same(
            db,
            t("orders")
                .select([
                    col("id"),
                    func::row_number().over(by_customer.clone()).alias("n"),
                    func::lag(col("total"), 1).over(by_customer.clone()).alias("previous"),
                    func::lead_or(col("total"), 2, 0).over(by_customer.clone()).alias("after_next"),
                    func::sum(col("total")).over(by_customer.clone()).alias("running"),
                    func::sum(col("total")).over(last_three).alias("last_three"),
                    func::rank().over(Window::new().order_by([col("total").desc()])).alias("rank"),
                    func::ntile(4).over(Window::new().order_by(["id"])).alias("quartile"),
                    func::first_value(col("id")).over(whole_partition).alias("first_id"),
                ])
                .order_by(["id"]),
            "SELECT id, row_number() OVER w AS n, lag(total, 1) OVER w AS previous, \
             lead(total, 2, 0) OVER w AS after_next, sum(total) OVER w AS running, \
             sum(total) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS last_three, \
             rank() OVER (ORDER BY total DESC) AS rank, ntile(4) OVER (ORDER BY id) AS quartile, \
             first_value(id) OVER (PARTITION BY customer_id ORDER BY created_at, id \
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_id \
             FROM {s}.orders WINDOW w AS (PARTITION BY customer_id ORDER BY created_at, id) ORDER BY id",
            vec![],
        )
        .await;
    });
}

#[test]
fn ctes_subqueries_and_set_operations() {
    let db = pool();
    block_on(async {
        let big = t("orders").select(["id", "customer_id", "total"]).filter(col("total").gt(200));
        same(
            db,
            table("big")
                .select([col("customer_id"), func::max(col("total")).alias("top")])
                .group_by(["customer_id"])
                .order_by(["customer_id"])
                .with_cte("big", big.clone()),
            "WITH big AS (SELECT id, customer_id, total FROM {s}.orders WHERE total > 200) \
             SELECT customer_id, max(total) AS top FROM big GROUP BY customer_id ORDER BY customer_id",
            vec![],
        )
        .await;
        same(
            db,
            select([col("s.customer_id"), func::avg(col("s.total")).alias("mean")])
                .from(subquery(big.clone(), "s"))
                .group_by(["s.customer_id"])
                .order_by(["s.customer_id"]),
            "SELECT s.customer_id, avg(s.total) AS mean FROM (SELECT id, customer_id, total FROM {s}.orders \
             WHERE total > 200) AS s GROUP BY s.customer_id ORDER BY s.customer_id",
            vec![],
        )
        .await;
        same(
            db,
            t("customers")
                .select(["id"])
                .filter(col("id").in_subquery(t("orders").select(["customer_id"]).filter(col("status").eq("refunded"))))
                .order_by(["id"]),
            "SELECT id FROM {s}.customers WHERE id IN (SELECT customer_id FROM {s}.orders WHERE status = 'refunded') \
             ORDER BY id",
            vec![],
        )
        .await;
        same(
            db,
            t("customers")
                .alias("c")
                .select(["c.id"])
                .filter(not(exists(
                    t("orders")
                        .alias("o")
                        .select([val(1)])
                        .filter(col("o.customer_id").eq(col("c.id")).and(col("o.total").gt(230))),
                )))
                .order_by(["c.id"]),
            "SELECT c.id FROM {s}.customers c \
             WHERE NOT EXISTS (SELECT 1 FROM {s}.orders o WHERE o.customer_id = c.id AND o.total > 230) \
             ORDER BY c.id",
            vec![],
        )
        .await;
        same(
            db,
            t("orders")
                .select(["id", "total"])
                .filter(col("total").gt(t("orders").select([func::avg("total")])))
                .order_by(["id"]),
            "SELECT id, total FROM {s}.orders WHERE total > (SELECT avg(total) FROM {s}.orders) ORDER BY id",
            vec![],
        )
        .await;
        let low = || t("orders").select(["customer_id"]).filter(col("total").lt(20));
        let high = || t("orders").select(["customer_id"]).filter(col("total").gt(240));
        for (built, op) in [
            (low().union(high()), "UNION"),
            (low().union_all(high()), "UNION ALL"),
            (low().intersect(high()), "INTERSECT"),
            (low().except(high()), "EXCEPT"),
        ] {
            same(
                db,
                built.order_by(["customer_id"]).limit(20),
                &format!(
                    "SELECT customer_id FROM {{s}}.orders WHERE total < 20 {op} \
                     SELECT customer_id FROM {{s}}.orders WHERE total > 240 ORDER BY customer_id LIMIT 20"
                ),
                vec![],
            )
            .await;
        }
    });
}

#[test]
fn expressions_functions_and_casts() {
    let db = pool();
    block_on(async {
        same(
            db,
            t("orders")
                .select([
                    col("id"),
                    ((col("total") + 1) * 2 - col("id") % 7).alias("arith"),
                    func::coalesce([col("note"), val("none")]).alias("note"),
                    func::upper(col("status")).concat("!").alias("shout"),
                    when(col("total").gt(200), "big")
                        .when(col("total").gt(100), "medium")
                        .otherwise("small")
                        .alias("size"),
                    func::round_to(col("total") / 3, 1).alias("third"),
                    col("created_at").cast("date").alias("day"),
                    func::date_trunc("month", col("created_at")).alias("month"),
                    func::call("date_part", [val("hour"), col("created_at")]).alias("hour"),
                    func::nullif(col("status"), "open").alias("not_open"),
                    func::greatest([col("id"), val(100)]).alias("at_least_100"),
                    (-col("total")).alias("negative"),
                ])
                .order_by(["id"]),
            "SELECT id, (total + 1) * 2 - id % 7 AS arith, coalesce(note, 'none') AS note, \
             upper(status) || '!' AS shout, \
             CASE WHEN total > 200 THEN 'big' WHEN total > 100 THEN 'medium' ELSE 'small' END AS size, \
             round(total / 3, 1) AS third, created_at::date AS day, date_trunc('month', created_at) AS month, \
             date_part('hour', created_at) AS hour, nullif(status, 'open') AS not_open, \
             greatest(id, 100) AS at_least_100, -total AS negative \
             FROM {s}.orders ORDER BY id",
            vec![],
        )
        .await;
    });
}

/// TPC-H-style: revenue per customer of the shipped lines, joined across three tables,
/// grouped, filtered on the aggregate, and ranked within each region.
#[test]
fn tpch_style_join_group_having_window() {
    let db = pool();
    block_on(async {
        let (c, o, l) = (t("customers").alias("c"), t("orders").alias("o"), t("lineitem").alias("l"));
        let revenue = || func::sum(l.col("price") * l.col("quantity") * (val(1) - l.col("discount")));
        let built = c
            .clone()
            .join(o.clone(), o.col("customer_id").eq(c.col("id")))
            .join(l.clone(), l.col("order_id").eq(o.col("id")))
            .select([
                c.col("region"),
                c.col("id").alias("customer"),
                revenue().alias("revenue"),
                func::count_distinct(o.col("id")).alias("orders"),
                func::rank()
                    .over(Window::new().partition_by([c.col("region")]).order_by([revenue().desc(), c.col("id").asc()]))
                    .alias("rank_in_region"),
            ])
            .filter(o.col("status").ne("refunded").and(l.col("shipdate").between("2024-01-10", "2024-06-01")))
            .group_by([c.col("region"), c.col("id")])
            .having(revenue().gt(20_000))
            .order_by([c.col("region").asc().nulls_last(), col("revenue").desc(), col("customer").asc()])
            .limit(25);
        let batches = same(
            db,
            built,
            "SELECT c.region, c.id AS customer, sum(l.price * l.quantity * (1 - l.discount)) AS revenue, \
                    count(DISTINCT o.id) AS orders, \
                    rank() OVER (PARTITION BY c.region \
                                 ORDER BY sum(l.price * l.quantity * (1 - l.discount)) DESC, c.id ASC) \
                    AS rank_in_region \
             FROM {s}.customers c JOIN {s}.orders o ON o.customer_id = c.id \
             JOIN {s}.lineitem l ON l.order_id = o.id \
             WHERE o.status <> $1 AND l.shipdate BETWEEN $2 AND $3 \
             GROUP BY c.region, c.id HAVING sum(l.price * l.quantity * (1 - l.discount)) > 20000 \
             ORDER BY c.region ASC NULLS LAST, revenue DESC, customer ASC LIMIT 25",
            vec!["refunded".into(), "2024-01-10".into(), "2024-06-01".into()],
        )
        .await;
        assert!(rows(&batches) > 5, "the having keeps a meaningful number of customers");
    });
}

/// Runs `built` on a fresh copy of a small table and `hand` on another; the RETURNING rows
/// and the tables afterwards must be equal.
async fn same_change(db: &Pool, built: impl Fn(Table) -> Query, hand: &str) {
    let setup = "DROP TABLE IF EXISTS {s}.{t}; CREATE TABLE {s}.{t} (id int8 PRIMARY KEY, n int4, s text); \
                 INSERT INTO {s}.{t} SELECT i, i * 10, 's' || i FROM generate_series(1, 5) i;";
    for name in ["change_built", "change_hand"] {
        db.execute(&setup.replace("{s}", SCHEMA).replace("{t}", name), vec![]).await.unwrap();
    }
    same(db, built(t("change_built")), &hand.replace("{t}", "change_hand"), vec![]).await;
    let contents = |name: &str| format!("SELECT * FROM {SCHEMA}.{name} ORDER BY id");
    assert_eq!(
        batches(db, &contents("change_built"), vec![]).await,
        batches(db, &contents("change_hand"), vec![]).await
    );
}

#[test]
fn insert_update_delete_with_returning_and_conflicts() {
    let db = pool();
    block_on(async {
        same_change(
            db,
            |t| {
                t.insert()
                    .columns(["id", "n", "s"])
                    .values([val(10), val(100), val("x")])
                    .values([11, 110, 0])
                    .returning(["id", "s"])
                    .into()
            },
            "INSERT INTO {s}.{t} (id, n, s) VALUES (10, 100, 'x'), (11, 110, '0') RETURNING id, s",
        )
        .await;
        same_change(
            db,
            |t| {
                t.alias("cur")
                    .insert()
                    .columns(["id", "n"])
                    .values([2, 7])
                    .values([6, 60])
                    .on_conflict(["id"])
                    .do_update([("n", col("cur.n") + excluded("n")), ("s", val("updated"))])
                    .returning([star()])
                    .into()
            },
            "INSERT INTO {s}.{t} AS cur (id, n) VALUES (2, 7), (6, 60) \
             ON CONFLICT (id) DO UPDATE SET n = cur.n + EXCLUDED.n, s = 'updated' RETURNING *",
        )
        .await;
        same_change(
            db,
            |target| {
                let insert = target.insert().columns(["id", "n"]).values([3, 1]).values([7, 70]);
                insert.on_conflict(["id"]).do_nothing().returning(["id"]).into()
            },
            "INSERT INTO {s}.{t} (id, n) VALUES (3, 1), (7, 70) ON CONFLICT (id) DO NOTHING RETURNING id",
        )
        .await;
        same_change(
            db,
            |target| target.insert().value("id", 8).value("s", "single").returning(["id", "n"]).into(),
            "INSERT INTO {s}.{t} (id, s) VALUES (8, 'single') RETURNING id, n",
        )
        .await;
        same_change(
            db,
            |target| {
                target
                    .insert()
                    .columns(["id", "n", "s"])
                    .from_query(t("orders").select([col("id") + 100, col("id"), col("status")]).filter(col("id").lt(4)))
                    .returning(["id"])
                    .into()
            },
            "INSERT INTO {s}.{t} (id, n, s) SELECT id + 100, id, status FROM {s}.orders WHERE id < 4 RETURNING id",
        )
        .await;
        same_change(
            db,
            |t| {
                t.update()
                    .set("n", col("n") * 2)
                    .set("s", Value::Null)
                    .filter(col("id").ge(3))
                    .returning(["id", "n"])
                    .into()
            },
            "UPDATE {s}.{t} SET n = n * 2, s = NULL WHERE id >= 3 RETURNING id, n",
        )
        .await;
        same_change(
            db,
            |t| t.delete().filter(col("id").in_list([1, 4])).returning(["id", "s"]).into(),
            "DELETE FROM {s}.{t} WHERE id IN (1, 4) RETURNING id, s",
        )
        .await;
    });
}

/// Some text with SQL's special characters, and arbitrary Unicode (no NUL: PostgreSQL text
/// cannot hold it).
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(r#"[a-z"'\\;$()*/ \-\n\t.]{0,24}"#).unwrap(),
        Just(r#""; DROP TABLE x; --"#.to_string()),
        Just("'); DELETE FROM t; --".to_string()),
        Just("$1".to_string()),
        Just("a\"\"b".to_string()),
        Just("*/ /* --".to_string()),
        any::<String>(),
    ]
    .prop_map(|s| s.replace('\0', ""))
}

/// A hostile identifier: 1 to 63 bytes.
fn hostile_ident() -> impl Strategy<Value = String> {
    hostile().prop_map(|s| {
        let mut s = if s.is_empty() { "\"".to_string() } else { s };
        while s.len() > 63 {
            s.pop();
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// `WITH "<name>" AS (SELECT $1 AS "<name>") SELECT "<name>"."<name>", $2 AS "echo" FROM "<name>"
    /// WHERE "<name>"."<name>" = $3`: one row, whose column is named `name` and holds `value`.
    #[test]
    fn hostile_strings_stay_data(value in hostile(), name in hostile_ident()) {
        let db = pool();
        let n = name.as_str();
        let query = table([n])
            .select([col([n, n]), val(value.clone()).alias("echo")])
            .filter(col([n, n]).eq(value.clone()))
            .with_cte(n, select([val(value.clone()).alias(n)]));
        let (sql, params) = query.to_sql().unwrap();
        let result = block_on(batches(db, &sql, params));
        prop_assert_eq!(rows(&result), 1);
        let batch = &result[0];
        let schema = batch.schema();
        prop_assert_eq!(schema.field(0).name(), &name);
        prop_assert_eq!(batch.column(0).as_string::<i32>().value(0), value.as_str());
        prop_assert_eq!(batch.column(1).as_string::<i32>().value(0), value.as_str());
    }
}

#[test]
fn identifiers_postgresql_cannot_take_are_refused_before_the_server() {
    for name in ["", "nul\0", &"x".repeat(64)] {
        let error = table(["t"]).select([col([name])]).to_sql().unwrap_err();
        assert!(matches!(error, QueryError::Identifier { .. }), "{name:?}: {error}");
    }
}

#[derive(Row, Debug, Clone, PartialEq)]
#[row(table = "query_builder_test.typed_rows")]
struct Typed {
    #[row(primary_key)]
    id: i64,
    small: i16,
    count: i32,
    ratio: f32,
    score: Option<f64>,
    flag: bool,
    total: String,
    label: Option<String>,
    payload: Option<Vec<u8>>,
    #[row(rename = "type")]
    kind: String,
}

fn typed(id: i64) -> Typed {
    Typed {
        id,
        small: (id * 3) as i16,
        count: (id * 1000) as i32,
        ratio: id as f32 / 4.0,
        score: (id % 2 == 0).then_some(id as f64 * 1.5),
        flag: id % 3 == 0,
        total: format!("{id}.25"),
        label: (id % 2 == 1).then(|| format!("label '{id}'")),
        payload: (id % 2 == 0).then(|| vec![0, id as u8, 255]),
        kind: "kind".into(),
    }
}

#[derive(Row, Debug, Clone, PartialEq)]
#[row(table = "query_builder_test.pairs")]
struct Pair {
    #[row(primary_key)]
    a: i64,
    #[row(primary_key)]
    b: String,
    v: Option<i32>,
}

#[test]
fn derived_rows_insert_get_update_delete_and_copy() {
    let db = pool();
    block_on(async {
        db.execute(
            &format!(
                "DROP TABLE IF EXISTS {SCHEMA}.typed_rows; CREATE TABLE {SCHEMA}.typed_rows (id int8 PRIMARY KEY, \
                 small int2 NOT NULL, count int4 NOT NULL, ratio float4 NOT NULL, score float8, flag bool NOT NULL, \
                 total numeric(12,2) NOT NULL, label text, payload bytea, type text NOT NULL)"
            ),
            vec![],
        )
        .await
        .unwrap();
        assert_eq!(Typed::COLUMNS[9], "type");
        assert_eq!(Typed::PRIMARY_KEY, ["id"]);

        let mut one = typed(1);
        assert_eq!(one.insert(db).await.unwrap(), 1);
        assert_eq!(Typed::get(db, 1).await.unwrap(), Some(one.clone()));
        assert_eq!(Typed::get(db, 2).await.unwrap(), None);

        one.total = "99.90".into();
        one.label = None;
        one.score = Some(-0.5);
        assert_eq!(one.update(db).await.unwrap(), 1);
        assert_eq!(Typed::get(db, 1).await.unwrap(), Some(one.clone()));

        let many: Vec<Typed> = (2..=6).map(typed).collect();
        assert_eq!(Typed::insert_many(db, &many).await.unwrap(), 5);
        assert_eq!(Typed::insert_many(db, &[]).await.unwrap(), 0);
        let evens =
            Typed::fetch_all(db, Typed::select().filter(col("id").in_list([2, 4, 6])).order_by(["id"])).await.unwrap();
        assert_eq!(evens, vec![typed(2), typed(4), typed(6)]);

        // Upsert: 6 changes, 7 is new.
        let mut changed = typed(6);
        changed.kind = "changed".into();
        assert_eq!(Typed::upsert(db, &[changed.clone(), typed(7)]).await.unwrap(), 2);
        let all = Typed::fetch_all(db, Typed::select().order_by(["id"])).await.unwrap();
        let mut expected = vec![one.clone()];
        expected.extend((2..=5).map(typed));
        expected.extend([changed, typed(7)]);
        assert_eq!(all, expected);

        assert_eq!(one.delete(db).await.unwrap(), 1);
        assert_eq!(one.delete(db).await.unwrap(), 0);
        assert_eq!(Typed::get(db, 1).await.unwrap(), None);

        // A transaction is an executor too; rolling back undoes the insert.
        let mut tx = db.transaction(TransactionOptions::default()).await.unwrap();
        typed(50).insert(&tx).await.unwrap();
        assert!(Typed::get(&tx, 50).await.unwrap().is_some());
        tx.rollback().await.unwrap();
        assert_eq!(Typed::get(db, 50).await.unwrap(), None);
    });
}

#[test]
fn composite_keys_and_create_table() {
    let db = pool();
    block_on(async {
        db.execute(&format!("DROP TABLE IF EXISTS {SCHEMA}.pairs"), vec![]).await.unwrap();
        Pair::create_table(db).await.unwrap();
        Pair::create_table(db).await.unwrap();
        let rows = vec![
            Pair { a: 1, b: "x".into(), v: Some(1) },
            Pair { a: 1, b: "y".into(), v: None },
            Pair { a: 2, b: "x".into(), v: Some(3) },
        ];
        Pair::insert_many(db, &rows).await.unwrap();
        assert_eq!(Pair::get(db, (1, "y".into())).await.unwrap(), Some(rows[1].clone()));
        let updated = Pair { v: Some(9), ..rows[1].clone() };
        assert_eq!(updated.update(db).await.unwrap(), 1);
        assert_eq!(Pair::get(db, (1, "y".into())).await.unwrap(), Some(updated));
        assert_eq!(Pair::upsert(db, &[Pair { a: 2, b: "x".into(), v: None }]).await.unwrap(), 1);
        assert_eq!(Pair::get(db, (2, "x".into())).await.unwrap().unwrap().v, None);
        let key: Vec<String> = batches(
            db,
            &format!(
                "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
                 AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{SCHEMA}.pairs'::regclass AND i.indisprimary \
                 ORDER BY 1"
            ),
            vec![],
        )
        .await[0]
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect();
        assert_eq!(key, ["a", "b"], "create_table makes the primary key");
    });
}

#[test]
fn rows_and_batches_convert_both_ways() {
    let rows: Vec<Typed> = (1..=4).map(typed).collect();
    let batch = Typed::to_batch(&rows).unwrap();
    assert_eq!(batch.num_rows(), 4);
    assert_eq!(batch.schema(), Typed::schema());
    assert_eq!(batch.schema().field(4).data_type(), &DataType::Float64);
    assert!(batch.schema().field(4).is_nullable());
    assert!(!batch.schema().field(0).is_nullable());
    assert_eq!(Typed::from_batch(&batch).unwrap(), rows);

    // Narrower integers widen; a NULL in a non-Option field and a missing column are errors.
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
    let narrow = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, false),
            Field::new("b", DataType::Utf8, false),
            Field::new("v", DataType::Int16, true),
        ])),
        vec![
            Arc::new(arrow_array::Int32Array::from(vec![1, 2])),
            Arc::new(arrow_array::StringArray::from(vec!["p", "q"])),
            Arc::new(arrow_array::Int16Array::from(vec![Some(5), None])),
        ],
    )
    .unwrap();
    assert_eq!(
        Pair::from_batch(&narrow).unwrap(),
        vec![Pair { a: 1, b: "p".into(), v: Some(5) }, Pair { a: 2, b: "q".into(), v: None }]
    );
    let with_null =
        RecordBatch::try_new(Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)])), vec![ids]).unwrap();
    assert_eq!(
        <i64 as data_bridge_postgres::query::RowField>::from_array(with_null.column(0), "id").unwrap_err(),
        QueryError::Null { column: "id".into(), row: 1 }
    );
    assert_eq!(Pair::from_batch(&with_null).unwrap_err(), QueryError::MissingColumn { column: "a".into() });
    let wrong_type = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, false),
            Field::new("b", DataType::Utf8, false),
            Field::new("v", DataType::Int32, true),
        ])),
        vec![
            Arc::new(arrow_array::StringArray::from(vec!["1"])),
            Arc::new(arrow_array::StringArray::from(vec!["p"])),
            Arc::new(arrow_array::Int32Array::from(vec![1])),
        ],
    )
    .unwrap();
    assert!(matches!(Pair::from_batch(&wrong_type).unwrap_err(), QueryError::ColumnType { .. }));
}

#[derive(Row, Debug, Clone, PartialEq)]
#[row(table = "query_builder_test.dated_rows")]
struct Dated {
    #[row(primary_key)]
    id: i64,
    day: NaiveDate,
    at: NaiveDateTime,
    instant: DateTime<Utc>,
    clock: NaiveTime,
    maybe_day: Option<NaiveDate>,
    maybe_at: Option<NaiveDateTime>,
    maybe_instant: Option<DateTime<Utc>>,
    maybe_clock: Option<NaiveTime>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn time(h: u32, m: u32, s: u32, micro: u32) -> NaiveTime {
    NaiveTime::from_hms_micro_opt(h, m, s, micro).unwrap()
}

/// Row `id`: dates before and after 1970, timestamps with microseconds, NULLs for odd ids.
fn dated(id: i64) -> Dated {
    let n = id as u32;
    let day = if id == 1 { date(1969, 7, 20) } else { date(2024, 2, 28) + chrono::Days::new(id as u64) };
    let at = date(2024, 2, 29).and_time(time(13, 45, 30, 123_456 + n));
    let instant = date(1960 + id as i32, 1, 1).and_time(time(0, 0, 0, n)).and_utc();
    Dated {
        id,
        day,
        at,
        instant,
        clock: time(23, 59, 59, 999_999 - n),
        maybe_day: (id % 2 == 0).then(|| date(1900, 1, n)),
        maybe_at: (id % 2 == 0).then(|| date(1969, 12, 31).and_time(time(23, 59, 59, 999_999))),
        maybe_instant: (id % 2 == 0).then(|| date(2038, 1, 19).and_time(time(3, 14, 8, n)).and_utc()),
        maybe_clock: (id % 2 == 0).then(|| time(0, 0, 0, 1)),
    }
}

#[test]
fn dates_and_timestamps_round_trip_exactly() {
    let db = pool();
    block_on(async {
        db.execute(&format!("DROP TABLE IF EXISTS {SCHEMA}.dated_rows"), vec![]).await.unwrap();
        Dated::create_table(db).await.unwrap();
        let types: Vec<String> = batches(
            db,
            &format!(
                "SELECT format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END \
                 FROM pg_attribute WHERE attrelid = '{SCHEMA}.dated_rows'::regclass AND attnum > 0 ORDER BY attnum"
            ),
            vec![],
        )
        .await[0]
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect();
        assert_eq!(
            types,
            [
                "bigint not null",
                "date not null",
                "timestamp without time zone not null",
                "timestamp with time zone not null",
                "time without time zone not null",
                "date",
                "timestamp without time zone",
                "timestamp with time zone",
                "time without time zone",
            ]
        );

        // INSERT with bound parameters; the server sees exactly these values.
        let mut one = dated(1);
        assert_eq!(one.insert(db).await.unwrap(), 1);
        assert_eq!(Dated::get(db, 1).await.unwrap(), Some(one.clone()));
        let text = batches(
            db,
            &format!(
                "SELECT concat_ws(' | ', day, at, instant AT TIME ZONE 'UTC', clock, maybe_day) \
                 FROM {SCHEMA}.dated_rows WHERE id = 1"
            ),
            vec![],
        )
        .await;
        assert_eq!(
            text[0].column(0).as_string::<i32>().value(0),
            "1969-07-20 | 2024-02-29 13:45:30.123457 | 1961-01-01 00:00:00.000001 | 23:59:59.999998"
        );

        // UPDATE binds them as parameters too.
        one.day = date(1066, 10, 14);
        one.at = date(1970, 1, 1).and_time(time(0, 0, 0, 0));
        one.maybe_day = Some(date(1969, 12, 31));
        one.maybe_at = Some(date(1899, 12, 31).and_time(time(23, 59, 59, 1)));
        one.maybe_instant = Some(date(1950, 6, 15).and_time(time(12, 0, 0, 500_000)).and_utc());
        one.maybe_clock = Some(time(12, 0, 0, 0));
        assert_eq!(one.update(db).await.unwrap(), 1);
        assert_eq!(Dated::get(db, 1).await.unwrap(), Some(one.clone()));

        // COPY (insert_many) and filters on dates and timestamps.
        let many: Vec<Dated> = (2..=6).map(dated).collect();
        assert_eq!(Dated::insert_many(db, &many).await.unwrap(), 5);
        let text = batches(
            db,
            &format!(
                "SELECT concat_ws(' | ', day, at, instant AT TIME ZONE 'UTC', clock, maybe_day, maybe_at, \
                 maybe_instant AT TIME ZONE 'UTC', maybe_clock) FROM {SCHEMA}.dated_rows WHERE id = 2"
            ),
            vec![],
        )
        .await;
        assert_eq!(
            text[0].column(0).as_string::<i32>().value(0),
            "2024-03-01 | 2024-02-29 13:45:30.123458 | 1962-01-01 00:00:00.000002 | 23:59:59.999997 | \
             1900-01-02 | 1969-12-31 23:59:59.999999 | 2038-01-19 03:14:08.000002 | 00:00:00.000001"
        );
        let before_1970 = Dated::fetch_all(db, Dated::select().filter(col("day").lt(date(1970, 1, 1)))).await.unwrap();
        assert_eq!(before_1970, vec![one.clone()]);
        let since = date(1963, 1, 1).and_hms_opt(0, 0, 0).unwrap().and_utc();
        let later = Dated::select().filter(col("instant").ge(since)).order_by(["id"]);
        assert_eq!(Dated::fetch_all(db, later).await.unwrap(), (3..=6).map(dated).collect::<Vec<_>>());
        let by_time = Dated::select().filter(col("maybe_clock").eq(time(0, 0, 0, 1))).order_by(["id"]);
        assert_eq!(Dated::fetch_all(db, by_time).await.unwrap(), vec![dated(2), dated(4), dated(6)]);

        // Upsert: 6 changes, 7 is new.
        let mut changed = dated(6);
        changed.at = date(1969, 12, 31).and_time(time(23, 59, 59, 999_999));
        changed.maybe_day = None;
        changed.instant = date(2000, 1, 1).and_time(time(0, 0, 0, 654_321)).and_utc();
        assert_eq!(Dated::upsert(db, &[changed.clone(), dated(7)]).await.unwrap(), 2);
        let all = Dated::fetch_all(db, Dated::select().order_by(["id"])).await.unwrap();
        let mut expected = vec![one];
        expected.extend((2..=5).map(dated));
        expected.extend([changed, dated(7)]);
        assert_eq!(all, expected);

        // Values chrono cannot hold are errors naming the column and row.
        let edges = batches(
            db,
            "SELECT * FROM (VALUES (date '2024-01-01', time '24:00:00', timestamp 'infinity')) v(d, t, ts)",
            vec![],
        )
        .await;
        let edge = |i: usize| edges[0].column(i);
        assert_eq!(<NaiveDate as RowField>::from_array(edge(0), "d").unwrap(), [date(2024, 1, 1)]);
        for error in [
            <NaiveTime as RowField>::from_array(edge(1), "t").unwrap_err(),
            <NaiveDateTime as RowField>::from_array(edge(2), "ts").unwrap_err(),
        ] {
            assert!(matches!(&error, QueryError::ColumnType { found, .. } if found.contains("row 0")), "{error}");
        }
    });
}

#[test]
fn dates_and_timestamps_read_from_other_arrow_types() {
    let rows: Vec<Dated> = (1..=4).map(dated).collect();
    let batch = Dated::to_batch(&rows).unwrap();
    assert_eq!(batch.schema(), Dated::schema());
    assert_eq!(batch.schema().field(1).data_type(), &DataType::Date32);
    assert_eq!(batch.schema().field(2).data_type(), &DataType::Timestamp(TimeUnit::Microsecond, None));
    assert_eq!(batch.schema().field(3).data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    assert_eq!(batch.schema().field(4).data_type(), &DataType::Time64(TimeUnit::Microsecond));
    assert!(batch.schema().field(5).is_nullable() && !batch.schema().field(1).is_nullable());
    assert_eq!(Dated::from_batch(&batch).unwrap(), rows);
    assert_eq!(dated(1).to_values()[1], Value::Date(-165));
    assert_eq!(
        dated(1).to_values()[2],
        Value::Timestamp { micros: 1_709_214_330_123_457, aware: false },
        "2024-02-29 13:45:30.123457"
    );
    assert_eq!(dated(1).to_values()[3], Value::Timestamp { micros: -283_996_799_999_999, aware: true });
    assert_eq!(dated(1).to_values()[4], Value::Time(86_399_999_998));
    assert_eq!(dated(1).to_values()[5], Value::Null);

    let array = |a: ArrayRef| a;
    let at = date(1969, 12, 31).and_time(time(23, 59, 58, 0));
    let nanos = at.and_utc().timestamp_nanos_opt().unwrap();
    let cases: Vec<(ArrayRef, Vec<Option<NaiveDateTime>>)> = vec![
        (array(Arc::new(TimestampNanosecondArray::from(vec![Some(nanos), None]))), vec![Some(at), None]),
        (array(Arc::new(TimestampSecondArray::from(vec![-2]))), vec![Some(at)]),
        (array(Arc::new(TimestampMillisecondArray::from(vec![-2000]))), vec![Some(at)]),
        (array(Arc::new(Date32Array::from(vec![-1]))), vec![Some(date(1969, 12, 31).and_hms_opt(0, 0, 0).unwrap())]),
        (
            array(Arc::new(Date64Array::from(vec![86_400_000]))),
            vec![Some(date(1970, 1, 2).and_hms_opt(0, 0, 0).unwrap())],
        ),
    ];
    for (column, expected) in cases {
        assert_eq!(<Option<NaiveDateTime> as RowField>::from_array(&column, "at").unwrap(), expected);
    }
    // A zoned timestamp counts from the UTC epoch whatever its zone; zoned and naive don't mix.
    let zoned: ArrayRef = Arc::new(TimestampSecondArray::from(vec![-2]).with_timezone("+02:00"));
    assert_eq!(<DateTime<Utc> as RowField>::from_array(&zoned, "i").unwrap(), [at.and_utc()]);
    assert!(matches!(
        <NaiveDateTime as RowField>::from_array(&zoned, "at").unwrap_err(),
        QueryError::ColumnType { .. }
    ));
    let naive: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![0]));
    assert!(matches!(<DateTime<Utc> as RowField>::from_array(&naive, "i").unwrap_err(), QueryError::ColumnType { .. }));
    let days: ArrayRef = Arc::new(Date64Array::from(vec![-86_400_000]));
    assert_eq!(<NaiveDate as RowField>::from_array(&days, "d").unwrap(), [date(1969, 12, 31)]);
    let times: Vec<ArrayRef> = vec![
        Arc::new(Time32SecondArray::from(vec![45_296])),
        Arc::new(Time32MillisecondArray::from(vec![45_296_000])),
        Arc::new(Time64NanosecondArray::from(vec![45_296_000_000_000])),
    ];
    for column in times {
        assert_eq!(<NaiveTime as RowField>::from_array(&column, "t").unwrap(), [time(12, 34, 56, 0)]);
    }
    let out_of_range: ArrayRef = Arc::new(Date32Array::from(vec![Some(1), None, Some(i32::MAX)]));
    let error = <Option<NaiveDate> as RowField>::from_array(&out_of_range, "d").unwrap_err();
    assert!(matches!(&error, QueryError::ColumnType { found, .. } if found.contains("row 2")), "{error}");
}
