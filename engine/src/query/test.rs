//! The SQL text each builder feature renders, and the misuse `to_sql` reports.

use super::func::{self, count, row_number, sum};
use super::*;
use crate::param::Value;

fn sql(query: impl Into<Query>) -> String {
    query.into().to_sql().expect("renders").0
}

fn error(query: impl Into<Query>) -> QueryError {
    query.into().to_sql().expect_err("is refused")
}

#[test]
fn names_are_quoted_and_dotted_names_qualified() {
    assert_eq!(sql(table("orders").select(["id"])), r#"SELECT "id" FROM "orders""#);
    assert_eq!(
        sql(table("sales.orders").select([col("orders.total"), col("sales.orders.id")])),
        r#"SELECT "orders"."total", "sales"."orders"."id" FROM "sales"."orders""#
    );
    assert_eq!(sql(table(["odd.table"]).select([col(["a\"b"])])), r#"SELECT "a""b" FROM "odd.table""#);
    assert_eq!(sql(table("t").select_all()), r#"SELECT * FROM "t""#);
    assert_eq!(sql(table("t").alias("x").select([table("t").alias("x").star()])), r#"SELECT "x".* FROM "t" AS "x""#);
}

#[test]
fn values_are_bound_in_placeholder_order() {
    let (text, params) = table("t")
        .select([val("a").alias("v")])
        .filter(col("x").eq(1).and(col("y").ne("it's")))
        .limit(5)
        .offset(10)
        .to_sql()
        .unwrap();
    assert_eq!(text, r#"SELECT $1 AS "v" FROM "t" WHERE "x" = $2 AND "y" <> $3 LIMIT $4 OFFSET $5"#);
    assert_eq!(
        params,
        vec![Value::Text("a".into()), Value::Int(1), Value::Text("it's".into()), Value::Int(5), Value::Int(10)]
    );
}

#[test]
fn operators_parenthesize_only_where_needed() {
    let t = || table("t");
    let a = || col("a");
    assert_eq!(
        sql(t().filter(a().eq(1).or(a().eq(2)).and(col("b").is_null()))),
        r#"SELECT * FROM "t" WHERE ("a" = $1 OR "a" = $2) AND "b" IS NULL"#
    );
    assert_eq!(sql(t().filter(!(a().gt(1) & col("b")))), r#"SELECT * FROM "t" WHERE NOT ("a" > $1 AND "b")"#);
    assert_eq!(sql(t().filter(!a().gt(1))), r#"SELECT * FROM "t" WHERE NOT "a" > $1"#);
    assert_eq!(
        sql(t().select([((a() + 1) * 2 - -col("b")).alias("x")])),
        r#"SELECT ("a" + $1) * $2 - -"b" AS "x" FROM "t""#
    );
    assert_eq!(sql(t().select([(a() - (col("b") - 1)).alias("x")])), r#"SELECT "a" - ("b" - $1) AS "x" FROM "t""#);
    assert_eq!(sql(t().filter(a().eq(1).eq(true))), r#"SELECT * FROM "t" WHERE ("a" = $1) = $2"#);
    assert_eq!(sql(t().filter(a().is_null().is_null())), r#"SELECT * FROM "t" WHERE ("a" IS NULL) IS NULL"#);
    assert_eq!(
        sql(t().filter(col("doc").get("k").get_text(0).eq("v"))),
        r#"SELECT * FROM "t" WHERE "doc" -> $1 ->> CAST($2 AS integer) = $3"#
    );
    assert_eq!(
        sql(t().filter(a().between(1, 5).or(a().in_list([7, 8])))),
        r#"SELECT * FROM "t" WHERE "a" BETWEEN $1 AND $2 OR "a" IN ($3, $4)"#
    );
    assert_eq!(sql(t().filter(a().in_list(Vec::<i64>::new()))), r#"SELECT * FROM "t" WHERE FALSE"#);
    assert_eq!(sql(t().filter(not(a().in_list(Vec::<i64>::new())))), r#"SELECT * FROM "t" WHERE NOT FALSE"#);
}

#[test]
fn every_clause_in_order() {
    let query = table("orders")
        .alias("o")
        .select([col("o.customer_id"), sum(col("o.total")).alias("revenue")])
        .distinct_on(["o.customer_id"])
        .left_join(table("customers").alias("c"), col("c.id").eq(col("o.customer_id")))
        .filter(col("o.status").eq("paid"))
        .group_by(["o.customer_id"])
        .having(sum(col("o.total")).gt(100))
        .order_by([col("o.customer_id").asc().nulls_last(), col("revenue").desc().nulls_first()])
        .limit(10)
        .with_cte("recent", table("orders").filter(col("created_at").gt("2024-01-01")));
    assert_eq!(
        sql(query),
        concat!(
            r#"WITH "recent" AS (SELECT * FROM "orders" WHERE "created_at" > $1) SELECT DISTINCT ON "#,
            r#"("o"."customer_id") "o"."customer_id", sum("o"."total") AS "revenue" FROM "orders" AS "o" LEFT JOIN "#,
            r#""customers" AS "c" ON "c"."id" = "o"."customer_id" WHERE "o"."status" = $2 GROUP BY "#,
            r#""o"."customer_id" HAVING sum("o"."total") > $3 ORDER BY "o"."customer_id" ASC NULLS LAST, "revenue" "#,
            r#"DESC NULLS FIRST LIMIT $4"#,
        )
    );
}

#[test]
fn windows_functions_and_casts() {
    let w = Window::new().partition_by(["region"]).order_by([col("day").desc()]);
    assert_eq!(
        sql(select([
            row_number().over(w.clone()).alias("n"),
            sum(col("x")).over(
                Window::new().order_by(["day"]).rows_between(FrameBound::UnboundedPreceding, FrameBound::CurrentRow)
            ),
            func::lag(col("x"), 1).over(Window::new()),
            count(star()),
            func::count_distinct("y"),
            col("x").cast("numeric(12,2)"),
            func::call("pg_catalog.lower", ["name"]),
        ])),
        concat!(
            r#"SELECT row_number() OVER (PARTITION BY "region" ORDER BY "day" DESC) AS "n", sum("x") OVER (ORDER BY "#,
            r#""day" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), lag("x", $1) OVER (), count(*), "#,
            r#"count(DISTINCT "y"), CAST("x" AS numeric(12,2)), pg_catalog.lower("name")"#,
        )
    );
}

#[test]
fn subqueries_and_set_operations() {
    let inner = table("orders").select(["customer_id"]).filter(col("total").gt(10));
    assert_eq!(
        sql(table("customers").filter(col("id").in_subquery(inner.clone()).and(exists(inner.clone())))),
        concat!(
            r#"SELECT * FROM "customers" WHERE "id" IN (SELECT "customer_id" FROM "orders" WHERE "total" > $1) AND "#,
            r#"EXISTS (SELECT "customer_id" FROM "orders" WHERE "total" > $2)"#,
        )
    );
    assert_eq!(
        sql(select(["customer_id"]).from(subquery(inner.clone(), "s"))),
        r#"SELECT "customer_id" FROM (SELECT "customer_id" FROM "orders" WHERE "total" > $1) AS "s""#
    );
    assert_eq!(
        sql(inner.clone().union_all(table("archive").select(["customer_id"])).order_by(["customer_id"]).limit(3)),
        concat!(
            r#"(SELECT "customer_id" FROM "orders" WHERE "total" > $1) UNION ALL (SELECT "customer_id" FROM "#,
            r#""archive") ORDER BY "customer_id" LIMIT $2"#,
        )
    );
    assert_eq!(
        sql(table("t").filter(col("x").gt(table("t").select([func::avg("x")])))),
        r#"SELECT * FROM "t" WHERE "x" > (SELECT avg("x") FROM "t")"#
    );
}

#[test]
fn insert_update_delete() {
    assert_eq!(
        sql(table("t").insert().columns(["a", "b"]).values([val(1), val("x")]).values([2, 3]).returning(["a"])),
        r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2), ($3, $4) RETURNING "a""#
    );
    assert_eq!(
        sql(table("t")
            .insert()
            .value("id", 1)
            .value("n", 2)
            .on_conflict(["id"])
            .do_update([("n", col("t.n") + excluded("n"))])),
        r#"INSERT INTO "t" ("id", "n") VALUES ($1, $2) ON CONFLICT ("id") DO UPDATE SET "n" = "t"."n" + "excluded"."n""#
    );
    assert_eq!(
        sql(table("t").insert().value("id", 1).on_conflict(Vec::<&str>::new()).do_nothing()),
        r#"INSERT INTO "t" ("id") VALUES ($1) ON CONFLICT DO NOTHING"#
    );
    assert_eq!(
        sql(table("t").insert().columns(["a"]).from_query(table("u").select(["b"]))),
        r#"INSERT INTO "t" ("a") SELECT "b" FROM "u""#
    );
    assert_eq!(
        sql(table("t").update().set("n", col("n") + 1).set("s", "x").filter(col("id").eq(3)).returning([star()])),
        r#"UPDATE "t" SET "n" = "n" + $1, "s" = $2 WHERE "id" = $3 RETURNING *"#
    );
    assert_eq!(
        sql(table("s.t").delete().filter(col("id").eq(3)).returning(["id"])),
        r#"DELETE FROM "s"."t" WHERE "id" = $1 RETURNING "id""#
    );
}

#[test]
fn misuse_is_reported_before_the_server() {
    let bad_ident =
        |name: &str| matches!(table(["t"]).select([col([name])]).to_sql(), Err(QueryError::Identifier { .. }));
    assert!(bad_ident(""));
    assert!(bad_ident("nul\0byte"));
    assert!(bad_ident(&"x".repeat(64)));
    assert!(!bad_ident(&"x".repeat(63)));
    assert!(matches!(error(table("a.b.c").select_all()), QueryError::Identifier { .. }));
    assert!(matches!(error(table("a..b").select_all()), QueryError::Identifier { .. }));
    assert!(matches!(error(select([col("x").cast("int); DROP TABLE t; --")])), QueryError::TypeName(_)));
    assert!(matches!(error(select([func::call("f(1); --", ["x"])])), QueryError::FunctionName(_)));
    assert!(matches!(error(table("t").filter(col("x").alias("y"))), QueryError::Misplaced(_)));
    assert!(matches!(error(table("t").filter(star().eq(1))), QueryError::Misplaced(_)));
    assert!(matches!(error(select([func::lower("x").over(Window::new())])), QueryError::Misplaced(_)));
    assert!(matches!(error(select([col("x").over(Window::new())])), QueryError::Misplaced(_)));
    assert!(matches!(error(select(["x"]).join(table("t"), col("a").eq(1))), QueryError::Incomplete(_)));
    assert!(matches!(error(table("t").insert()), QueryError::Incomplete(_)));
    assert!(matches!(error(table("t").update()), QueryError::Incomplete(_)));
    assert!(matches!(
        error(table("t").insert().columns(["a", "b"]).values([1])),
        QueryError::RowWidth { row: 0, expected: 2, got: 1 }
    ));
    assert!(matches!(
        error(table("t").insert().value("a", 1).on_conflict(Vec::<&str>::new()).do_update([("a", 2)])),
        QueryError::Incomplete(_)
    ));
    assert!(matches!(error(table("t").update().set("t.a", 1)), QueryError::Identifier { .. }));
}
