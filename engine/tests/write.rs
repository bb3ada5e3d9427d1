//! Writes against a real PostgreSQL (DATABASE_URL, default the local test database).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, RecordBatchIterator, RecordBatchReader, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use data_bridge_postgres::{runtime::runtime, Pool, PoolOptions, ReadOptions, TableName, WriteMode, WriteOptions};

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".into())
}

fn batch(ids: Vec<i64>, names: Vec<Option<&str>>) -> RecordBatch {
    let schema =
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]));
    let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn reader(batches: Vec<RecordBatch>) -> Box<dyn RecordBatchReader + Send> {
    let schema = batches[0].schema();
    Box::new(RecordBatchIterator::new(batches.into_iter().map(Ok::<_, ArrowError>), schema))
}

fn table(name: &str) -> TableName {
    TableName { schema: None, name: name.into() }
}

fn options(mode: WriteMode) -> WriteOptions {
    WriteOptions::new(mode)
}

async fn ids(db: &Pool, sql: &str) -> Vec<i64> {
    let mut stream = db.read(sql, vec![], ReadOptions::default()).await.unwrap();
    let mut out = Vec::new();
    while let Some(batch) = stream.next_batch().await.unwrap() {
        out.extend(batch.column(0).as_primitive::<Int64Type>().values().iter());
    }
    out
}

#[test]
fn create_append_upsert_and_a_failed_append_changes_nothing() {
    runtime().block_on(async {
        let db = Pool::connect(Some(&url()), PoolOptions::default()).await.unwrap();
        let name = "engine_write_test";
        let upsert = WriteMode::Upsert { key: vec!["id".into()] };
        db.copy_in_arrow(
            &table(name),
            reader(vec![batch(vec![1, 2], vec![Some("a"), None])]),
            options(WriteMode::Replace),
        )
        .await
        .unwrap();
        let written = db
            .copy_in_arrow(&table(name), reader(vec![batch(vec![3], vec![Some("c")])]), options(WriteMode::Append))
            .await
            .unwrap();
        assert_eq!(written, 1);
        assert_eq!(ids(&db, &format!("SELECT id FROM {name} ORDER BY id")).await, vec![1, 2, 3]);

        // Upsert with create_if_missing creates the table with the key as its primary key.
        let keyed = format!("{name}_keyed");
        ids(&db, &format!("DROP TABLE IF EXISTS {keyed}")).await;
        let created = WriteOptions { create_if_missing: true, ..options(upsert.clone()) };
        db.copy_in_arrow(&table(&keyed), reader(vec![batch(vec![1, 2], vec![Some("a"), Some("b")])]), created)
            .await
            .unwrap();
        let changed = db
            .copy_in_arrow(&table(&keyed), reader(vec![batch(vec![2, 5], vec![Some("B"), Some("e")])]), options(upsert))
            .await
            .unwrap();
        assert_eq!(changed, 2, "one update, one insert");
        assert_eq!(ids(&db, &format!("SELECT id FROM {keyed} ORDER BY id")).await, vec![1, 2, 5]);

        // A duplicate key in the last batch: the whole append rolls back.
        let many: Vec<i64> = (100..50_100).collect();
        let failing = reader(vec![batch(many.clone(), vec![None; many.len()]), batch(vec![1], vec![None])]);
        let error = db.copy_in_arrow(&table(&keyed), failing, options(WriteMode::Append)).await.unwrap_err();
        assert_eq!(error.sqlstate(), Some("23505"), "{error}");
        assert_eq!(ids(&db, &format!("SELECT count(*)::int8 FROM {keyed}")).await, vec![3]);

        // A lossy type pair is refused before any row is sent.
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
        let text_ids = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["7"])) as ArrayRef]).unwrap();
        let error =
            db.copy_in_arrow(&table(&keyed), reader(vec![text_ids]), options(WriteMode::Append)).await.unwrap_err();
        assert!(error.to_string().contains("\"id\""), "{error}");
        assert_eq!(ids(&db, &format!("SELECT count(*)::int8 FROM {keyed}")).await, vec![3]);
    });
}
