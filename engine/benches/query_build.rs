//! The cost of building and rendering a query: a 10-clause `SELECT` (CTE, select list with an
//! aggregate and a window function, two joins, where, group by, having, order by, limit,
//! offset), built from scratch and rendered to `(sql, params)`, and rendered alone. The
//! target is under 50 µs, so it never matters next to a round trip.
//!
//! ```text
//! cargo bench -p data-bridge-postgres --bench query_build -- --warm-up-time 1 --measurement-time 2
//! ```

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use data_bridge_postgres::query::{col, func, table, Select, Window};

fn ten_clauses(since: &str, minimum: i64) -> Select {
    let (c, o, l) = (table("sales.customers").alias("c"), table("sales.orders").alias("o"), table("recent").alias("l"));
    let revenue = || func::sum(l.col("price") * l.col("quantity"));
    c.clone()
        .select([
            c.col("region"),
            c.col("id").alias("customer"),
            revenue().alias("revenue"),
            func::rank()
                .over(Window::new().partition_by([c.col("region")]).order_by([revenue().desc()]))
                .alias("rank_in_region"),
        ])
        .with_cte("recent", table("sales.lineitem").filter(col("shipdate").ge(since)))
        .join(o.clone(), o.col("customer_id").eq(c.col("id")))
        .left_join(l.clone(), l.col("order_id").eq(o.col("id")))
        .filter(o.col("status").eq("paid").and(o.col("created_at").ge(since)).and(c.col("region").in_list(["n", "s"])))
        .group_by([c.col("region"), c.col("id")])
        .having(revenue().gt(minimum))
        .order_by([c.col("region").asc().nulls_last(), col("revenue").desc()])
        .limit(100)
        .offset(20)
}

fn bench(c: &mut Criterion) {
    c.bench_function("build and render a 10-clause select", |b| {
        b.iter(|| ten_clauses(black_box("2024-01-01"), black_box(1000)).to_sql())
    });
    let built = ten_clauses("2024-01-01", 1000);
    c.bench_function("render a 10-clause select", |b| b.iter(|| black_box(&built).to_sql()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
