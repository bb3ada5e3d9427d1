//! Reads against a real PostgreSQL (DATABASE_URL, default the local test database).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use data_bridge_postgres::{runtime::runtime, Error, Pool, PoolOptions, ReadOptions, Value};

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".into())
}

async fn connect(max_connections: usize) -> Pool {
    let options = PoolOptions { max_connections, ..PoolOptions::default() };
    Pool::connect(Some(&url()), options).await.expect("the test database is reachable")
}

async fn read_all(db: &Pool, sql: &str, params: Vec<Value>, options: ReadOptions) -> Result<Vec<RecordBatch>, Error> {
    let mut stream = db.read(sql, params, options).await?;
    let mut batches = Vec::new();
    while let Some(batch) = stream.next_batch().await? {
        batches.push(batch);
    }
    Ok(batches)
}

/// The values of every column as text, decoded by us, for comparison with the server's text.
fn column_i64(batches: &[RecordBatch], column: usize) -> Vec<i64> {
    batches.iter().flat_map(|b| b.column(column).as_primitive::<Int64Type>().values().to_vec()).collect()
}

#[test]
fn copy_and_extended_protocol_give_identical_batches() {
    runtime().block_on(async {
        let db = connect(2).await;
        let sql = "SELECT i::int8 AS id, (i * 1.25)::numeric(12,2) AS amount, 'row ' || i AS label, \
                   CASE WHEN i % 7 = 0 THEN NULL ELSE DATE '2024-01-01' + i END AS day, \
                   '10.0.' || (i % 255) || '.1' ::text AS host, inet '10.1.2.3' AS ip \
                   FROM generate_series(1, 50000) i";
        let copy = read_all(&db, sql, vec![], ReadOptions::default()).await.unwrap();
        let with_param = format!("{sql} WHERE $1::int = 1");
        let extended = read_all(&db, &with_param, vec![Value::Int(1)], ReadOptions::default()).await.unwrap();
        let rows = |b: &[RecordBatch]| b.iter().map(|b| b.num_rows()).sum::<usize>();
        assert_eq!(rows(&copy), 50_000);
        assert_eq!(rows(&extended), 50_000);
        let concat = |b: &[RecordBatch]| arrow_select_concat(b);
        assert_eq!(concat(&copy), concat(&extended));
        let schema = copy[0].schema();
        assert_eq!(schema.field(1).data_type(), &DataType::Decimal128(12, 2));
        assert_eq!(schema.field(1).metadata()["pg_type"], "numeric(12,2)");
        assert_eq!(schema.field(5).data_type(), &DataType::Utf8, "inet comes back as text");
        let amount = copy[0].column(1).as_primitive::<Decimal128Type>();
        assert_eq!(amount.value(3), 500, "4 * 1.25 = 5.00");
    });
}

/// Row-wise debug rendering of all batches, to compare two reads without arrow-select.
fn arrow_select_concat(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = batch.columns().iter().map(|c| format!("{:?}", c.slice(row, 1))).collect();
            rows.push(cells.join("|"));
        }
    }
    rows
}

#[test]
fn empty_results_keep_their_schema() {
    runtime().block_on(async {
        let db = connect(1).await;
        let mut stream = db
            .read("SELECT 1::int4 AS a, 'x'::varchar(5) AS b WHERE false", vec![], ReadOptions::default())
            .await
            .unwrap();
        let schema = stream.schema();
        assert_eq!(schema.field(0).data_type(), &DataType::Int32);
        assert_eq!(schema.field(1).metadata()["pg_type"], "character varying(5)");
        assert!(stream.next_batch().await.unwrap().is_none());
    });
}

#[test]
fn batch_rows_cuts_exactly() {
    runtime().block_on(async {
        let db = connect(1).await;
        let options = ReadOptions { batch_rows: Some(1000), ..ReadOptions::default() };
        let batches = read_all(&db, "SELECT i FROM generate_series(1, 4500) i", vec![], options).await.unwrap();
        let sizes: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
        assert_eq!(sizes, vec![1000, 1000, 1000, 1000, 500]);
        let values: Vec<i32> =
            batches.iter().flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec()).collect();
        assert_eq!(values, (1..=4500).collect::<Vec<i32>>(), "batches arrive in query order");
    });
}

#[test]
fn parameters_take_the_inferred_type() {
    runtime().block_on(async {
        let db = connect(1).await;
        let batches = read_all(
            &db,
            "SELECT $1::int2 AS a, $2::numeric(10,3) AS b, $3::text AS c, $4::int8[] AS d",
            vec![
                Value::Int(41),
                Value::Decimal("-1.5".into()),
                Value::Text("it's".into()),
                Value::List(vec![Value::Int(1), Value::Null]),
            ],
            ReadOptions::default(),
        )
        .await
        .unwrap();
        let batch = &batches[0];
        assert_eq!(batch.column(0).as_primitive::<arrow_array::types::Int16Type>().value(0), 41);
        assert_eq!(batch.column(1).as_primitive::<Decimal128Type>().value(0), -1500);
        assert_eq!(batch.column(2).as_string::<i32>().value(0), "it's");
        let list = batch.column(3).as_list::<i32>().value(0);
        assert_eq!(list.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), vec![Some(1), None]);

        let too_big = read_all(&db, "SELECT $1::int4", vec![Value::Int(1 << 40)], ReadOptions::default()).await;
        assert!(matches!(too_big, Err(Error::Param { index: 0, .. })), "{too_big:?}");
        let missing = read_all(&db, "SELECT $1::int4, $2::int4", vec![Value::Int(1)], ReadOptions::default()).await;
        assert!(matches!(missing, Err(Error::ParamCount { expected: 2, got: 1 })), "{missing:?}");
    });
}

#[test]
fn server_errors_carry_sqlstate_and_the_pool_recovers() {
    runtime().block_on(async {
        let db = connect(1).await;
        let error = read_all(&db, "SELEC 1", vec![], ReadOptions::default()).await.unwrap_err();
        assert_eq!(error.sqlstate(), Some("42601"));
        let error = read_all(&db, "SELECT 1 / (i - 3) FROM generate_series(1, 5) i", vec![], ReadOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.sqlstate(), Some("22012"), "an error after rows started still surfaces");
        let ok = read_all(&db, "SELECT 7::int8", vec![], ReadOptions::default()).await.unwrap();
        assert_eq!(column_i64(&ok, 0), vec![7]);
    });
}

#[test]
fn refused_connections_name_the_target() {
    runtime().block_on(async {
        let options = PoolOptions { connect_timeout: Duration::from_secs(2), ..PoolOptions::default() };
        let error = Pool::connect(Some("postgresql://postgres@127.0.0.1:1/test"), options).await.err().unwrap();
        assert!(matches!(error, Error::Connect { .. }), "{error:?}");
        assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
    });
}

#[test]
fn numeric_nan_in_a_decimal_column_names_the_column() {
    runtime().block_on(async {
        let db = connect(1).await;
        let error =
            read_all(&db, "SELECT 'NaN'::numeric(10,2) AS price", vec![], ReadOptions::default()).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("price") && message.contains("float64"), "{message}");
    });
}

#[test]
fn dropping_a_stream_cancels_the_query_and_frees_the_connection() {
    runtime().block_on(async {
        let db = connect(1).await;
        let mut stream = db
            .read("SELECT i, repeat('x', 100) FROM generate_series(1, 50000000) i", vec![], ReadOptions::default())
            .await
            .unwrap();
        assert!(stream.next_batch().await.unwrap().is_some());
        // Timed from here: the server takes its time materialising the series first.
        let started = Instant::now();
        drop(stream);
        // The only pooled connection must come back quickly and clean.
        let batches = read_all(&db, "SELECT count(*)::int8 FROM pg_stat_activity WHERE query LIKE '%50000000%' AND state = 'active' AND pid <> pg_backend_pid()", vec![], ReadOptions::default())
            .await
            .unwrap();
        assert_eq!(column_i64(&batches, 0), vec![0]);
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    });
}

#[test]
fn reads_run_concurrently_on_the_pool() {
    runtime().block_on(async {
        let db = connect(4).await;
        let started = Instant::now();
        let reads = (0..4).map(|_| {
            let db = db.clone();
            tokio::spawn(async move { read_all(&db, "SELECT pg_sleep(0.5)", vec![], ReadOptions::default()).await })
        });
        for read in futures_util::future::join_all(reads).await {
            assert!(read.unwrap().is_ok());
        }
        assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
        assert!(db.status().size <= 4);
    });
}

#[test]
fn unknown_types_come_back_as_text_even_with_duplicate_names() {
    runtime().block_on(async {
        let db = connect(1).await;
        let batches = read_all(
            &db,
            "SELECT inet '192.168.0.1/24' AS a, point(1, 2) AS a, macaddr '08:00:2b:01:02:03' AS a, 'a fat cat'::tsvector AS m, inet '::1' AS host;",
            vec![],
            ReadOptions::default(),
        )
        .await
        .unwrap();
        let batch = &batches[0];
        let text: Vec<&str> = (0..5).map(|c| batch.column(c).as_string::<i32>().value(0)).collect();
        assert_eq!(text, vec!["192.168.0.1/24", "(1,2)", "08:00:2b:01:02:03", "'a' 'cat' 'fat'", "::1"], "as the output functions print them");
        let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["a", "a", "a", "m", "host"]);
        assert!(batch.column(0).null_count() == 0);
    });
}
