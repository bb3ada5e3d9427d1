//! Partitioned reads and parallel loads through the Rust API, against a real PostgreSQL
//! (DATABASE_URL, default the local test database).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, RecordBatchIterator};
use arrow_schema::{DataType, Field, Schema};
use data_bridge_postgres::{
    runtime::runtime, Error, Isolation, PartitionOptions, PartitionStrategy, Pool, PoolOptions, ReadOptions, TableName,
    TransactionOptions, WriteMode, WriteOptions,
};

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".into())
}

async fn pool() -> Pool {
    Pool::connect(Some(&url()), PoolOptions { max_connections: 6, ..PoolOptions::default() }).await.unwrap()
}

/// `(id, k)`: ids 1..=rows, k = id % 7, NULL for every tenth id.
async fn table(pool: &Pool, name: &str, rows: i64) -> String {
    let name = format!("engine_part_{name}");
    let sql = format!(
        "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} AS SELECT g::int8 AS id, \
         CASE WHEN g % 10 = 0 THEN NULL ELSE g % 7 END::int8 AS k FROM generate_series(1, {rows}) g"
    );
    pool.execute(&sql, vec![]).await.unwrap();
    name
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect()
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

fn split(partitions: usize, partition_on: Option<&str>, strategy: PartitionStrategy) -> PartitionOptions {
    PartitionOptions { partitions, partition_on: partition_on.map(str::to_owned), strategy, pieces_per_partition: 1 }
}

#[test]
fn every_plan_reads_the_rows_of_a_single_read() {
    runtime().block_on(async {
        let pool = pool().await;
        let name = table(&pool, "plans", 50_000).await;
        let sql = format!("SELECT id, k FROM {name} WHERE id > $1");
        let expected: Vec<i64> = (11..=50_000).collect();
        for options in [
            split(4, None, PartitionStrategy::Range),
            split(3, Some("k"), PartitionStrategy::Range),
            split(5, Some("id"), PartitionStrategy::Quantile),
        ] {
            let plan = pool.plan(&sql, vec![10i64.into()], options.clone()).await.unwrap();
            assert!(plan.queries().len() >= 2, "{options:?}");
            let (_, batches) = plan.read_all(ReadOptions::default()).await.unwrap();
            assert_eq!(sorted(ids(&batches)), expected, "{options:?}");
            // Piece by piece, the pieces are disjoint and cover the result.
            let mut pieces = Vec::new();
            for index in 0..plan.queries().len() {
                let mut stream = plan.read(index, ReadOptions::default()).await.unwrap();
                while let Some(batch) = stream.next_batch().await.unwrap() {
                    pieces.extend(ids(&[batch]));
                }
            }
            assert_eq!(sorted(pieces), expected, "{options:?}");
        }
    });
}

#[test]
fn a_big_table_is_cut_finer_than_its_partitions_when_asked() {
    runtime().block_on(async {
        let pool = pool().await;
        // About 4,300 pages: four pieces of at least MIN_PIECE_PAGES each.
        let name = "engine_part_finer";
        let create = format!(
            "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} AS \
             SELECT g::int8 AS id, repeat(md5(g::text), 16) AS pad FROM generate_series(1, 60000) g"
        );
        pool.execute(&create, vec![]).await.unwrap();
        let size = format!("SELECT pg_relation_size('{name}') / current_setting('block_size')::int8");
        let batch = pool.query_arrow(&size, vec![]).await.unwrap().next_batch().await.unwrap().unwrap();
        let pages = batch.column(0).as_primitive::<Int64Type>().value(0);
        let sql = format!("SELECT id FROM {name}");
        let finer = PartitionOptions { pieces_per_partition: 8, ..split(2, None, PartitionStrategy::Range) };
        let plan = pool.plan(&sql, vec![], finer).await.unwrap();
        assert_eq!(plan.queries().len() as i64, (pages / data_bridge_postgres::MIN_PIECE_PAGES).min(16));
        assert!(plan.queries().len() > 2, "{pages} pages");
        let (_, batches) = plan.read_all(ReadOptions::default()).await.unwrap();
        // Two connections took the pieces as they finished; the rows come back in piece order,
        // which for page ranges is the table's physical order.
        assert_eq!(ids(&batches), (1..=60_000).collect::<Vec<_>>());
        let plain = pool.plan(&sql, vec![], split(2, None, PartitionStrategy::Range)).await.unwrap();
        assert_eq!(plain.queries().len(), 2);
    });
}

#[test]
fn the_snapshot_hides_rows_committed_after_planning() {
    runtime().block_on(async {
        let pool = pool().await;
        let name = table(&pool, "snapshot", 20_000).await;
        let plan = pool.plan(&format!("SELECT id FROM {name}"), vec![], split(3, None, PartitionStrategy::Range)).await;
        let plan = plan.unwrap();
        pool.execute(&format!("INSERT INTO {name} SELECT g, 0 FROM generate_series(20001, 30000) g"), vec![])
            .await
            .unwrap();
        pool.execute(&format!("DELETE FROM {name} WHERE id <= 5000"), vec![]).await.unwrap();
        let (_, batches) = plan.read_all(ReadOptions::default()).await.unwrap();
        assert_eq!(sorted(ids(&batches)), (1..=20_000).collect::<Vec<_>>());
    });
}

#[test]
fn only_a_read_only_repeatable_read_transaction_shares_its_snapshot() {
    runtime().block_on(async {
        let pool = pool().await;
        let name = table(&pool, "in_tx", 1_000).await;
        let sql = format!("SELECT id FROM {name}");
        let tx = pool.transaction(TransactionOptions::default()).await.unwrap();
        let refused = tx.plan(&sql, vec![], split(2, None, PartitionStrategy::Range)).await;
        assert!(matches!(refused, Err(Error::Usage(message)) if message.contains("repeatable read")));
        let shared = TransactionOptions { isolation: Isolation::RepeatableRead, read_only: true, deferrable: false };
        let tx = pool.transaction(shared).await.unwrap();
        let plan = tx.plan(&sql, vec![], split(2, None, PartitionStrategy::Range)).await.unwrap();
        let (_, batches) = plan.read_all(ReadOptions::default()).await.unwrap();
        assert_eq!(sorted(ids(&batches)), (1..=1_000).collect::<Vec<_>>());
    });
}

#[test]
fn ordered_and_combining_queries_are_refused() {
    runtime().block_on(async {
        let pool = pool().await;
        let name = table(&pool, "refused", 100).await;
        for sql in [
            format!("SELECT id FROM {name} ORDER BY id"),
            format!("SELECT id FROM {name} LIMIT 5"),
            format!("SELECT count(*) FROM {name}"),
            format!("SELECT a.id FROM {name} a JOIN {name} b USING (id)"),
        ] {
            let refused = pool.plan(&sql, vec![], split(2, None, PartitionStrategy::Range)).await;
            assert!(matches!(refused, Err(Error::Usage(_))), "{sql}");
        }
    });
}

fn rows(count: i64) -> Box<dyn arrow_array::RecordBatchReader + Send> {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let column: ArrayRef = Arc::new(Int64Array::from((0..count).collect::<Vec<_>>()));
    let batch = RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
    Box::new(RecordBatchIterator::new(vec![Ok(batch)], schema))
}

#[test]
fn parallel_loads_create_and_replace_whole_tables() {
    runtime().block_on(async {
        let pool = pool().await;
        pool.execute("DROP TABLE IF EXISTS engine_part_load", vec![]).await.unwrap();
        let table = TableName { schema: None, name: "engine_part_load".into() };
        let create = WriteOptions { connections: 3, ..WriteOptions::new(WriteMode::Create) };
        assert_eq!(pool.copy_in_arrow(&table, rows(300_000), create.clone()).await.unwrap(), 300_000);
        let again = pool.copy_in_arrow(&table, rows(10), create).await;
        assert_eq!(again.unwrap_err().sqlstate(), Some("42P07"));
        let replace = WriteOptions { connections: 3, ..WriteOptions::new(WriteMode::Replace) };
        assert_eq!(pool.copy_in_arrow(&table, rows(1_000), replace).await.unwrap(), 1_000);
        let mut stream = pool.query_arrow("SELECT sum(id)::int8 FROM engine_part_load", vec![]).await.unwrap();
        let batch = stream.next_batch().await.unwrap().unwrap();
        assert_eq!(ids(&[batch]), vec![(0..1_000).sum::<i64>()]);
        let mut stream = pool
            .query_arrow("SELECT count(*) FROM pg_class WHERE relname LIKE 'data_bridge_load%'", vec![])
            .await
            .unwrap();
        assert_eq!(ids(&[stream.next_batch().await.unwrap().unwrap()]), vec![0]);
    });
}
