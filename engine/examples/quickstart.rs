//! The engine without Python: a table loaded from Arrow with COPY, changed in a transaction
//! with a savepoint, and read back as a stream of record batches.
//!
//! `cargo run -p data-bridge-postgres --example quickstart` (uses DATABASE_URL, else the
//! PG* variables).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, RecordBatchIterator, StringArray};
use arrow_schema::{DataType, Field, Schema};
use data_bridge_postgres::{runtime, Pool, PoolOptions, TableName, TransactionOptions, WriteMode, WriteOptions};
use futures_util::StreamExt;

fn main() -> Result<(), data_bridge_postgres::Error> {
    runtime::runtime().block_on(async {
        let pool = Pool::connect(None, PoolOptions::default()).await?;

        // Arrow in: the table is created from the schema and loaded with binary COPY.
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(1..=1000)),
            Arc::new(StringArray::from_iter_values((1..=1000).map(|i| format!("item {i}")))),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| data_bridge_postgres::Error::Source(e.to_string()))?;
        let table = TableName { schema: None, name: "quickstart_items".into() };
        let replace = WriteOptions::new(WriteMode::Replace);
        let written =
            pool.copy_in_arrow(&table, Box::new(RecordBatchIterator::new([Ok(batch)], schema)), replace).await?;
        println!("copied {written} rows");

        // A transaction: the savepoint's work is undone, the rest committed.
        let mut tx = pool.transaction(TransactionOptions::default()).await?;
        tx.execute("DELETE FROM quickstart_items WHERE id > $1", vec![900i64.into()]).await?;
        tx.savepoint().await?;
        tx.execute("DELETE FROM quickstart_items", vec![]).await?;
        tx.rollback_to_savepoint().await?;
        tx.commit().await?;

        // Arrow out: a stream of record batches.
        let mut batches =
            pool.query_arrow("SELECT count(*)::int8 AS n, max(id) AS top FROM quickstart_items", vec![]).await?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            let n = batch.column(0).as_primitive::<Int64Type>().value(0);
            let top = batch.column(1).as_primitive::<Int64Type>().value(0);
            println!("{n} rows left, the highest id is {top}");
            assert_eq!((n, top), (900, 900));
        }
        pool.execute("DROP TABLE quickstart_items", vec![]).await?;
        Ok(())
    })
}
