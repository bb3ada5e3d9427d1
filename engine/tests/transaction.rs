//! The Rust API around the Arrow paths: pool, connections, transactions and savepoints,
//! against a real PostgreSQL (DATABASE_URL, default the local test database).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, RecordBatchIterator};
use arrow_schema::{DataType, Field, Schema};
use data_bridge_postgres::{
    runtime::runtime, Error, Isolation, Pool, PoolOptions, TableName, TransactionOptions, Value, WriteMode,
    WriteOptions,
};
use futures_util::StreamExt;

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".into())
}

async fn pool(max_connections: usize) -> Pool {
    let options =
        PoolOptions { max_connections, acquire_timeout: Duration::from_millis(500), ..PoolOptions::default() };
    Pool::connect(Some(&url()), options).await.unwrap()
}

/// A fresh table `(id int8)` with a name of its own.
async fn table(pool: &Pool, name: &str) -> String {
    let name = format!("engine_tx_{name}");
    pool.execute(&format!("DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id int8 PRIMARY KEY)"), vec![])
        .await
        .unwrap();
    name
}

async fn ids(pool: &Pool, table: &str) -> Vec<i64> {
    let mut stream = pool.query_arrow(&format!("SELECT id FROM {table} ORDER BY id"), vec![]).await.unwrap();
    let mut ids = Vec::new();
    while let Some(batch) = stream.next().await {
        ids.extend(batch.unwrap().column(0).as_primitive::<Int64Type>().values().iter().copied());
    }
    ids
}

fn rows(ids: &[i64]) -> Box<dyn arrow_array::RecordBatchReader + Send> {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let column: ArrayRef = Arc::new(Int64Array::from(ids.to_vec()));
    let batch = RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
    Box::new(RecordBatchIterator::new(vec![Ok(batch)], schema))
}

fn append() -> WriteOptions {
    WriteOptions::new(WriteMode::Append)
}

#[test]
fn commit_keeps_and_drop_rolls_back_copy_and_execute_together() {
    runtime().block_on(async {
        let pool = pool(1).await;
        let name = table(&pool, "commit").await;
        let target = TableName { schema: None, name: name.clone() };

        let mut tx = pool.transaction(TransactionOptions::default()).await.unwrap();
        tx.copy_in_arrow(&target, rows(&[1, 2]), append()).await.unwrap();
        tx.execute(&format!("INSERT INTO {name} VALUES ($1)"), vec![3i64.into()]).await.unwrap();
        tx.commit().await.unwrap();
        assert!(matches!(tx.execute("SELECT 1", vec![]).await, Err(Error::TransactionDone)));

        let tx = pool.transaction(TransactionOptions::default()).await.unwrap();
        tx.copy_in_arrow(&target, rows(&[10]), append()).await.unwrap();
        tx.execute(&format!("DELETE FROM {name} WHERE id = 1"), vec![]).await.unwrap();
        drop(tx); // never committed
                  // The only connection comes back rolled back, and is usable.
        assert_eq!(ids(&pool, &name).await, vec![1, 2, 3]);
    });
}

#[test]
fn savepoints_nest_and_an_inner_failure_keeps_the_outer_work() {
    runtime().block_on(async {
        let pool = pool(1).await;
        let name = table(&pool, "savepoints").await;
        let insert = format!("INSERT INTO {name} VALUES ($1)");
        let mut tx = pool.transaction(TransactionOptions::default()).await.unwrap();
        tx.execute(&insert, vec![1i64.into()]).await.unwrap();
        assert_eq!(tx.savepoint().await.unwrap(), 1);
        tx.execute(&insert, vec![2i64.into()]).await.unwrap();
        assert_eq!(tx.savepoint().await.unwrap(), 2);
        tx.execute(&insert, vec![3i64.into()]).await.unwrap();
        assert_eq!(tx.savepoint().await.unwrap(), 3);
        let duplicate = tx.execute(&insert, vec![1i64.into()]).await.unwrap_err();
        assert_eq!(duplicate.sqlstate(), Some("23505"));
        tx.rollback_to_savepoint().await.unwrap(); // level 3: the failure
        tx.rollback_to_savepoint().await.unwrap(); // level 2: row 3
        tx.release_savepoint().await.unwrap(); // level 1: row 2 kept
        assert!(matches!(tx.release_savepoint().await, Err(Error::Usage(_))));
        tx.commit().await.unwrap();
        assert_eq!(ids(&pool, &name).await, vec![1, 2]);
    });
}

#[test]
fn repeatable_read_does_not_see_a_concurrent_commit() {
    runtime().block_on(async {
        let pool = pool(2).await;
        let name = table(&pool, "isolation").await;
        let options = TransactionOptions { isolation: Isolation::RepeatableRead, ..TransactionOptions::default() };
        let tx = pool.transaction(options).await.unwrap();
        let count = format!("SELECT count(*)::int8 FROM {name}");
        let read = |stream: data_bridge_postgres::ReadStream| async move {
            let batches: Vec<_> = stream.collect().await;
            batches[0].as_ref().unwrap().column(0).as_primitive::<Int64Type>().value(0)
        };
        assert_eq!(read(tx.query_arrow(&count, vec![]).await.unwrap()).await, 0);
        pool.execute(&format!("INSERT INTO {name} VALUES (1)"), vec![]).await.unwrap();
        assert_eq!(read(tx.query_arrow(&count, vec![]).await.unwrap()).await, 0, "the snapshot hides it");
        assert_eq!(read(pool.query_arrow(&count, vec![]).await.unwrap()).await, 1);
    });
}

#[test]
fn execute_many_is_pipelined_and_all_or_nothing() {
    runtime().block_on(async {
        let pool = pool(1).await;
        let name = table(&pool, "many").await;
        let insert = format!("INSERT INTO {name} VALUES ($1)");
        let good: Vec<Vec<Value>> = (0..2000i64).map(|i| vec![i.into()]).collect();
        assert_eq!(pool.execute_many(&insert, &good).await.unwrap(), 2000);
        let clash: Vec<Vec<Value>> = vec![vec![5000i64.into()], vec![1i64.into()], vec![5001i64.into()]];
        assert_eq!(pool.execute_many(&insert, &clash).await.unwrap_err().sqlstate(), Some("23505"));
        assert_eq!(ids(&pool, &name).await.len(), 2000);
    });
}

#[test]
fn an_exhausted_pool_times_out_then_serves_again() {
    runtime().block_on(async {
        let pool = pool(1).await;
        let held = pool.connection().await.unwrap();
        let started = Instant::now();
        assert!(matches!(pool.execute("SELECT 1", vec![]).await, Err(Error::PoolTimeout(_))));
        assert!(started.elapsed() >= Duration::from_millis(450));
        assert_eq!(pool.status().waiting, 0);
        drop(held);
        assert_eq!(pool.execute("SELECT 1", vec![]).await.unwrap(), 1);
    });
}

#[test]
fn a_terminated_idle_connection_is_replaced() {
    runtime().block_on(async {
        let pool = pool(1).await;
        let pid = |pool: Pool| async move {
            let mut stream = pool.query_arrow("SELECT pg_backend_pid()::int8", vec![]).await?;
            let batch = stream.next().await.unwrap()?;
            Ok::<i64, Error>(batch.column(0).as_primitive::<Int64Type>().value(0))
        };
        let first = pid(pool.clone()).await.unwrap();
        let other = Pool::connect(Some(&url()), PoolOptions::default()).await.unwrap();
        other.execute(&format!("SELECT pg_terminate_backend({first})"), vec![]).await.unwrap();
        // At most one call may fail; then the pool has a new connection.
        let second = match pid(pool.clone()).await {
            Ok(pid) => pid,
            Err(first_error) => pid(pool.clone()).await.unwrap_or_else(|e| panic!("{first_error} then {e}")),
        };
        assert_ne!(first, second);
    });
}
