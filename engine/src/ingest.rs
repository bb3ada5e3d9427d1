//! Parallel loads into a new table: several connections COPY at once, then the table appears
//! under its name in one short transaction.
//!
//! One COPY keeps one server backend busy, and the backend is the bottleneck of a load. So
//! `Create` and `Replace` writes with `connections > 1` create a staging table (committed,
//! so every connection sees it), stream the encoded pieces into it over all connections at
//! once, and rename it to the target (dropping the old table first for `Replace`) in one
//! transaction: readers see the old table or the whole new one, never part of it. Any
//! failure drops the staging table and leaves the target as it was.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatchReader;
use bytes::Bytes;
use data_bridge_arrow_codec::{copy_format, writes_natively, Encoder};
use futures_util::SinkExt;
use tokio::sync::{mpsc, Mutex};

use crate::error::{Error, Result};
use crate::pool::Pool;
use crate::session::Session;
use crate::sql::quote_ident;
use crate::write::{
    create_table, encode_all, match_columns, table_columns, EncoderThread, TableName, WriteMode, WriteOptions,
};

/// Encoded pieces waiting per connection.
const CHUNKS_AHEAD_PER_CONNECTION: usize = 2;

type Chunks = Arc<Mutex<mpsc::Receiver<Result<Option<Vec<u8>>>>>>;

/// Loads `source` into a new `table` over up to `options.connections` connections (see the
/// module docs); returns the rows written.
pub(crate) async fn write_parallel(
    pool: &Pool,
    table: &TableName,
    source: Box<dyn RecordBatchReader + Send>,
    options: WriteOptions,
) -> Result<u64> {
    let control = Session::new(pool.acquire().await?, pool.clone());
    let _busy = control.claim().await?;
    let target = table.quoted();
    let schema = source.schema();
    let stage = control
        .guarded(async {
            let client = control.client();
            if options.mode == WriteMode::Create {
                // Fails as the single-connection load would (42P07 when the table exists), and
                // before any row is sent.
                client.batch_execute("BEGIN").await?;
                let probe = create_table(client, &target, &schema, &options.mode).await;
                client.batch_execute("ROLLBACK").await?;
                probe?;
            }
            let row = client
                .query_one(
                    "SELECT coalesce((SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n \
                     ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)), current_schema()::text)",
                    &[&target],
                )
                .await?;
            let schema_name: Option<String> = row.try_get(0)?;
            let schema_name =
                table.schema.clone().or(schema_name).ok_or_else(|| {
                    Error::Usage("no schema to create the table in (the search_path is empty)".into())
                })?;
            let stage = TableName { schema: Some(schema_name), name: staging_name() };
            create_table(client, &stage.quoted(), &schema, &options.mode).await?;
            Ok(stage)
        })
        .await?;
    drop(_busy);
    let mut cleanup = DropOnFailure { pool: pool.clone(), stage: Some(stage.quoted()) };
    let rows = load(pool, &control, &stage, source, &options).await;
    let outcome = match rows {
        Ok(rows) => swap(&control, &stage, table, &options.mode).await.map(|_| rows),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(rows) => {
            cleanup.stage = None;
            Ok(rows)
        }
        Err(error) => {
            if let Some(stage) = cleanup.stage.take() {
                // Dropped now, so the caller finds the schema as it was when the call returns.
                let _ = drop_table(pool, &stage).await;
            }
            Err(error)
        }
    }
}

/// Streams the encoded rows into `stage` over the connections at once.
async fn load(
    pool: &Pool,
    control: &Arc<Session>,
    stage: &TableName,
    source: Box<dyn RecordBatchReader + Send>,
    options: &WriteOptions,
) -> Result<u64> {
    let schema = source.schema();
    let encoder = {
        let _busy = control.claim().await?;
        let columns = control.guarded(table_columns(control.client(), &stage.quoted())).await?;
        let specs = match_columns(stage, &schema, &columns)?;
        let fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        // Created from the Arrow types, every column is one the encoder writes.
        if let Some((field, _)) = fields.iter().zip(&specs).find(|(_, spec)| !writes_natively(spec)) {
            return Err(Error::UnsupportedType {
                column: field.name().clone(),
                arrow_type: field.data_type().to_string(),
            });
        }
        Encoder::new(&fields, &specs)?
    };
    let names: Vec<String> = schema.fields().iter().map(|f| quote_ident(f.name())).collect();
    let copy = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", stage.quoted(), names.join(", "));

    let width = options.connections.max(1);
    let (chunks_tx, chunks_rx) = mpsc::channel(CHUNKS_AHEAD_PER_CONNECTION * width);
    let batch_rows = options.batch_rows;
    let encoding = EncoderThread::spawn(move || encode_all(source, &encoder, batch_rows, &chunks_tx));
    let chunks: Chunks = Arc::new(Mutex::new(chunks_rx));
    let ended = Arc::new(AtomicBool::new(false));
    // The connections beyond the first are taken only if free now: waiting for them could
    // deadlock callers that each hold some.
    let mut sessions = vec![control.clone()];
    for _ in 1..width {
        match pool.try_acquire().await? {
            Some(client) => sessions.push(Session::new(client, pool.clone())),
            None => break,
        }
    }
    let total = Arc::new(AtomicU64::new(0));
    let copies =
        sessions.iter().map(|session| copy_share(session, &copy, chunks.clone(), ended.clone(), total.clone()));
    let outcome = futures_util::future::try_join_all(copies).await;
    // The connections stop taking pieces first, so the encoder thread ends (its channel gone).
    drop(chunks);
    drop(encoding);
    outcome?;
    Ok(total.load(Ordering::Relaxed))
}

/// One connection's COPY: pieces from the shared queue until the encoder's end marker.
async fn copy_share(
    session: &Arc<Session>,
    copy: &str,
    chunks: Chunks,
    ended: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
) -> Result<()> {
    let _busy = session.claim().await?;
    session
        .guarded(async {
            let sink = session.client().copy_in::<_, Bytes>(copy).await?;
            futures_util::pin_mut!(sink);
            sink.send(Bytes::copy_from_slice(&copy_format::header())).await?;
            loop {
                let next = chunks.lock().await.recv().await;
                match next {
                    Some(Ok(Some(chunk))) => sink.send(Bytes::from(chunk)).await?,
                    Some(Ok(None)) => {
                        ended.store(true, Ordering::Relaxed);
                        break;
                    }
                    // Another connection took the end marker; the encoder has let go.
                    None if ended.load(Ordering::Relaxed) => break,
                    None => return Err(Error::Internal("the encoder stopped before the end of the data")),
                    Some(Err(error)) => return Err(error),
                }
            }
            sink.send(Bytes::from_static(&copy_format::TRAILER)).await?;
            total.fetch_add(sink.finish().await?, Ordering::Relaxed);
            Ok(())
        })
        .await
}

/// Gives the loaded table its name, in one transaction.
async fn swap(control: &Session, stage: &TableName, table: &TableName, mode: &WriteMode) -> Result<()> {
    let _busy = control.claim().await?;
    let mut sql = String::from("BEGIN;");
    if *mode == WriteMode::Replace {
        sql.push_str(&format!("DROP TABLE IF EXISTS {};", table.quoted()));
    }
    sql.push_str(&format!("ALTER TABLE {} RENAME TO {}; COMMIT", stage.quoted(), quote_ident(&table.name)));
    control.in_transaction.store(true, Ordering::Relaxed);
    let outcome = control.guarded(async { Ok(control.client().batch_execute(&sql).await?) }).await;
    if outcome.is_err() && !control.broken.load(Ordering::Relaxed) {
        control.guarded(async { Ok(control.client().batch_execute("ROLLBACK").await?) }).await?;
    }
    if !control.broken.load(Ordering::Relaxed) {
        control.in_transaction.store(false, Ordering::Relaxed);
    }
    outcome
}

/// A name no other load uses: the process, the time and a counter.
fn staging_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("data_bridge_load_{:x}_{:x}_{count}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

async fn drop_table(pool: &Pool, quoted: &str) -> Result<()> {
    let session = Session::new(pool.acquire().await?, pool.clone());
    session.execute(&format!("DROP TABLE IF EXISTS {quoted}"), &[]).await.map(drop)
}

/// Drops the staging table if the load is abandoned midway (its future dropped).
struct DropOnFailure {
    pool: Pool,
    stage: Option<String>,
}

impl Drop for DropOnFailure {
    fn drop(&mut self) {
        let Some(stage) = self.stage.take() else { return };
        let pool = self.pool.clone();
        let cleanup = async move {
            let _ = drop_table(&pool, &stage).await;
        };
        crate::runtime::spawn_detached(cleanup);
    }
}
