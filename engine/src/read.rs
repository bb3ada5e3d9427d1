//! Streaming reads: a query's binary rows into Arrow record batches.
//!
//! One task per read runs on the I/O runtime. It prepares the statement (the description gives
//! the Arrow schema before any row arrives), then appends each row's wire bytes to a chunk.
//! Full chunks are decoded on the rayon pool while the next one fills (or on the task itself
//! for partitioned reads on small machines, see [`Limit::Cores`]); the reader receives
//! them in query order through a bounded channel, so memory stays at a few batches whatever
//! the result size. Rows come from the extended protocol with binary results (`DataRow`
//! messages), or from `COPY (query) TO STDOUT (FORMAT binary)`; both give the same tuple
//! bytes for the same decoder. Which one depends on what limits the read (see [`Limit`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{ready, Context, Poll};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use data_bridge_arrow_codec::{
    copy_format, decode_in_background, has_arrays, needs_text_cast, sample_array_dims, ColumnSpec, DecodeOptions,
    Decoder,
};
use tokio::sync::{mpsc, oneshot, OwnedMutexGuard};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Statement;

use crate::busy_poll;
use crate::error::{is_stale_plan, Error, Result};
use crate::param::{Bound, Value};
use crate::pool::FIRST_USER_OID;
use crate::runtime;
use crate::session::Session;
use crate::shape::{self, Typmods};
use crate::sql;

/// Raw bytes a chunk is cut at (unless `batch_rows` cuts first).
const CHUNK_BYTES: usize = 4 << 20;
/// The same for one of several reads at once: smaller chunks stay in the core's cache while
/// each column is decoded (the codec's bench: 1,012 MiB/s at 1 MiB, 912 at 4 MiB, 790 at
/// 8 MiB), which counts when our CPU is shared with the server's backends.
const SHARED_CORES_CHUNK_BYTES: usize = 1 << 20;
/// Most rows in one batch when the caller sets no `batch_rows`.
const MAX_BATCH_ROWS: usize = 1 << 20;
/// A whole result up to this size is decoded on the I/O task instead of the decoder threads.
const INLINE_BYTES: usize = 64 << 10;
/// Batches decoded or decoding ahead of the reader.
const BATCHES_AHEAD: usize = 4;

/// How a read is cut into batches and decoded.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Rows per batch (every batch but the last has exactly this many). `None`: about 4 MiB of
    /// wire data per batch.
    pub batch_rows: Option<usize>,
    /// Choices of Arrow types.
    pub decode: DecodeOptions,
    /// Runs the query as a statement from the connection's cache, through the extended
    /// protocol: one round trip less for small queries run again and again. A schema change
    /// since it was cached fails the read with [`Error::is_stale_statement`] (and evicts it):
    /// the caller may run the read again.
    pub cache_statement: bool,
}

/// The batches of one query, in order: a [`futures_util::Stream`] of record batches.
/// Dropping it cancels the query on the server.
pub struct ReadStream {
    schema: SchemaRef,
    pending: mpsc::Receiver<Pending>,
    /// The batch being decoded, once its turn has come.
    decoding: Option<oneshot::Receiver<data_bridge_arrow_codec::Result<RecordBatch>>>,
    finished: bool,
    /// Told when the stream is dropped before its end (the query is then cancelled).
    session: Weak<Session>,
    /// Dropped (or fired) to stop the producing task.
    _cancel: oneshot::Sender<()>,
}

impl Drop for ReadStream {
    fn drop(&mut self) {
        if let (false, Some(session)) = (self.finished, self.session.upgrade()) {
            session.settling.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

pub(crate) enum Pending {
    Batch(oneshot::Receiver<data_bridge_arrow_codec::Result<RecordBatch>>),
    Failed(Error),
    Done,
}

impl ReadStream {
    /// The schema of every batch, known before the first row.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch, or `None` after the last.
    pub async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        futures_util::StreamExt::next(self).await.transpose()
    }
}

impl futures_util::Stream for ReadStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(decoding) = self.decoding.as_mut() {
                let decoded = ready!(Pin::new(decoding).poll(cx));
                self.decoding = None;
                return Poll::Ready(Some(match decoded {
                    Ok(batch) => batch.map_err(Error::from),
                    Err(_) => Err(Error::Internal("decoder stopped without a result")),
                }));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            match ready!(self.pending.poll_recv(cx)) {
                Some(Pending::Batch(batch)) => self.decoding = Some(batch),
                Some(Pending::Failed(error)) => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(error)));
                }
                Some(Pending::Done) => {
                    self.finished = true;
                    self.pending.close();
                }
                None => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(Error::Internal("read task stopped without finishing"))));
                }
            }
        }
    }
}

impl ReadStream {
    /// A stream of batches another task sends down `pending` (see [`Pending`]); dropping the
    /// stream fires `cancel`.
    pub(crate) fn forwarding(
        schema: SchemaRef,
        pending: mpsc::Receiver<Pending>,
        cancel: oneshot::Sender<()>,
    ) -> ReadStream {
        ReadStream { schema, pending, decoding: None, finished: false, session: Weak::new(), _cancel: cancel }
    }

    /// Starts `sql` with `params` on `session` and returns once the result's schema is known.
    /// The stream keeps the session busy until it ends or is dropped.
    pub(crate) async fn start(
        session: Arc<Session>,
        sql: &str,
        params: Vec<Value>,
        options: ReadOptions,
    ) -> Result<ReadStream> {
        Self::start_limited(session, sql, params, options, Limit::Server).await
    }

    /// [`ReadStream::start`] for one of `reads` reads running at once (see [`Limit::Cores`]).
    pub(crate) async fn start_one_of_many(
        session: Arc<Session>,
        sql: &str,
        params: Vec<Value>,
        options: ReadOptions,
        reads: usize,
    ) -> Result<ReadStream> {
        let decode_here = decodes_in_place(reads, runtime::workers(), runtime::cores());
        Self::start_limited(session, sql, params, options, Limit::Cores { decode_here }).await
    }

    async fn start_limited(
        session: Arc<Session>,
        sql: &str,
        params: Vec<Value>,
        options: ReadOptions,
        limit: Limit,
    ) -> Result<ReadStream> {
        let busy = session.claim().await?;
        let (schema_tx, schema_rx) = oneshot::channel();
        let (pending_tx, pending) = mpsc::channel(BATCHES_AHEAD);
        let (cancel, cancelled) = oneshot::channel();
        let task = ReadTask { sql: sql.to_owned(), params, options, pending: pending_tx, limit };
        tokio::spawn(task.run(session.clone(), busy, schema_tx, cancelled));
        match schema_rx.await {
            Ok(Ok(schema)) => Ok(ReadStream {
                schema,
                pending,
                decoding: None,
                finished: false,
                session: Arc::downgrade(&session),
                _cancel: cancel,
            }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(Error::Internal("read task stopped before describing the result")),
        }
    }
}

/// What limits a read's pace, which decides how its rows travel and how it waits for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// The server producing the rows, as for a read on its own: rows come as `DataRow`
    /// messages, which cost the server about 10% less CPU than COPY's (measured on a 2M-row
    /// lineitem read: 1.89 vs 2.24 CPU-seconds), and the I/O thread spins for the next one.
    Server,
    /// The cores, shared by several reads and their backends (a partitioned read): rows come
    /// by COPY, cheaper for us to receive, and waiting threads sleep at once.
    ///
    /// Each read decodes its chunks itself (`decode_here`), in cache and with no hand-off,
    /// when the runtime has a worker per read, or when its workers are half the cores or more
    /// (a small machine, where the backends fill the cores and our share of the work fits on
    /// the workers). Measured on 2 cores, 2M-row lineitem: 2 partitions 1.07 instead of 1.32
    /// client CPU-seconds and 2,500 instead of 18,500 context switches; 4 partitions 1.21 s
    /// instead of 1.29 s (medians of 9, `benches/partitioned.py`), where writing rows into
    /// chunk buffers the decoder threads had read last stalled the I/O thread. Otherwise
    /// (more reads than workers on a big machine) the decoder threads take the chunks.
    Cores { decode_here: bool },
}

/// Whether each of `reads` reads at once decodes its own chunks (see [`Limit::Cores`]), on a
/// runtime of `workers` threads on `cores` cores.
fn decodes_in_place(reads: usize, workers: usize, cores: usize) -> bool {
    reads <= workers || 2 * workers >= cores
}

impl Limit {
    fn spin(self) -> std::time::Duration {
        match self {
            Limit::Server => busy_poll::SPIN,
            Limit::Cores { .. } => std::time::Duration::ZERO,
        }
    }

    fn chunk_bytes(self) -> usize {
        match self {
            Limit::Server => CHUNK_BYTES,
            Limit::Cores { .. } => SHARED_CORES_CHUNK_BYTES,
        }
    }

    fn decodes_here(self) -> bool {
        matches!(self, Limit::Cores { decode_here: true })
    }
}

struct ReadTask {
    limit: Limit,
    sql: String,
    params: Vec<Value>,
    options: ReadOptions,
    pending: mpsc::Sender<Pending>,
}

/// Where the rows come from.
enum Source {
    /// A `COPY ... TO STDOUT (FORMAT binary)` statement.
    Copy(String),
    /// A prepared statement run with the parameters through the extended protocol.
    Rows(Statement),
}

impl ReadTask {
    async fn run(
        self,
        session: Arc<Session>,
        busy: OwnedMutexGuard<()>,
        schema_tx: oneshot::Sender<Result<SchemaRef>>,
        mut cancelled: oneshot::Receiver<()>,
    ) {
        // Inside a transaction the read runs in a savepoint, so that closing its stream early
        // (which cancels the query) or a failed read leaves the transaction usable.
        let in_transaction = session.in_transaction.load(std::sync::atomic::Ordering::Relaxed);
        let mut schema = SchemaSlot(Some(schema_tx));
        let outcome = tokio::select! {
            outcome = self.read(&session, &mut schema, in_transaction) => outcome,
            _ = &mut cancelled => Err(Error::Cancelled),
        };
        let outcome = match outcome {
            Err(Error::Cancelled) => {
                session.settle().await;
                Err(Error::Cancelled)
            }
            other => session.observe(other),
        };
        if in_transaction && !session.broken.load(std::sync::atomic::Ordering::Relaxed) {
            let end = match outcome {
                Ok(()) => "RELEASE SAVEPOINT data_bridge_read",
                Err(_) => "ROLLBACK TO SAVEPOINT data_bridge_read; RELEASE SAVEPOINT data_bridge_read",
            };
            if let Err(error) = session.client().batch_execute(end).await {
                let _ = session.observe::<()>(Err(error.into()));
            }
        }
        session.settling.store(false, std::sync::atomic::Ordering::Relaxed);
        // The connection goes back before the reader hears of the end, so the caller's next
        // statement can have it at once.
        drop(busy);
        drop(session);
        match (outcome, schema.0.take()) {
            // Failed before the schema was known: the caller of `start` gets the error.
            (Err(error), Some(schema_tx)) => drop(schema_tx.send(Err(error))),
            (Err(error), None) => drop(self.pending.send(Pending::Failed(error)).await),
            (Ok(()), _) => drop(self.pending.send(Pending::Done).await),
        }
    }

    /// Prepares and streams; the schema goes to `schema` as soon as it is known.
    async fn read(&self, session: &Session, schema: &mut SchemaSlot, in_transaction: bool) -> Result<()> {
        if in_transaction {
            session.client().batch_execute("SAVEPOINT data_bridge_read").await?;
        }
        let (columns, source) = self.prepare(session).await?;
        self.stream_rows(session.client(), columns, source, schema).await
    }

    /// Prepares the query: its columns (from the description) and where its rows come from.
    async fn prepare(&self, session: &Session) -> Result<(Vec<ColumnSpec>, Source)> {
        let client = session.client();
        // User-defined types may have changed since this connection last saw them
        // (ALTER TYPE): tokio-postgres looks them up again. Built-in types cost nothing.
        client.clear_type_cache();
        let mut statement = match self.options.cache_statement {
            true => client.prepare_cached(&self.sql).await?,
            false => client.prepare(&self.sql).await?,
        };
        let user_types = statement.columns().iter().map(|c| c.type_()).chain(statement.params());
        if self.options.cache_statement && user_types.clone().any(|t| t.oid() >= FIRST_USER_OID) {
            // Cached user-defined types may be stale (ALTER TYPE): described afresh each time.
            client.statement_cache.remove(&self.sql, &[]);
            client.clear_type_cache();
            statement = client.prepare(&self.sql).await?;
        }
        if statement.params().len() != self.params.len() {
            return Err(Error::ParamCount { expected: statement.params().len(), got: self.params.len() });
        }
        let types: Vec<(u32, i32)> = statement.columns().iter().map(|c| (c.type_().oid(), c.type_modifier())).collect();
        let infos = session.pool.type_info(client, &types).await?;
        let typmods = Typmods::fetch(&***client, statement.columns().iter().map(|c| c.type_())).await?;
        let specs: Vec<ColumnSpec> = statement
            .columns()
            .iter()
            .zip(&infos)
            .map(|(column, info)| {
                shape::column_spec(column.name(), column.type_(), column.type_modifier(), info.name.clone(), &typmods)
            })
            .collect();
        // Types without a native decoder come back through their output function, as text.
        let as_text: Vec<Option<&str>> = specs
            .iter()
            .zip(&infos)
            .map(|(spec, info)| needs_text_cast(spec, &self.options.decode).then_some(info.output_function.as_str()))
            .collect();
        let query = match as_text.iter().any(Option::is_some) {
            true => sql::with_text_output(&self.sql, &as_text),
            false => self.sql.clone(),
        };
        let copy = matches!(self.limit, Limit::Cores { .. }) && self.params.is_empty() && !self.options.cache_statement;
        let source = if copy && sql::is_copyable(&self.sql) {
            Source::Copy(sql::copy_out(&query))
        } else if query == self.sql {
            Source::Rows(statement)
        } else {
            Source::Rows(client.prepare(&query).await?)
        };
        Ok((specs, source))
    }

    async fn stream_rows(
        &self,
        client: &deadpool_postgres::Object,
        columns: Vec<ColumnSpec>,
        source: Source,
        schema: &mut SchemaSlot,
    ) -> Result<()> {
        let mut chunks = Chunker::new(columns, &self.options, &self.pending, schema, self.limit)?;
        match source {
            Source::Copy(copy) => {
                let stream = client.copy_out(&copy).await?;
                futures_util::pin_mut!(stream);
                let mut header_seen = false;
                while let Some(message) = busy_poll::next(&mut stream, self.limit.spin()).await {
                    let message = message?;
                    let mut row = &message[..];
                    if !header_seen {
                        row = &row[copy_format::header_len(row)?..];
                        header_seen = true;
                    }
                    // The trailer comes in a message of its own; CopyDone follows.
                    if !row.is_empty() && row != copy_format::TRAILER {
                        chunks.push_row(row).await?;
                    }
                }
            }
            Source::Rows(statement) => {
                let params = self.params.iter().enumerate().map(|(index, value)| Bound { index, value });
                let rows = match client.query_raw(&statement, params).await {
                    Err(error) if error.as_db_error().is_some_and(is_stale_plan) => {
                        client.statement_cache.remove(&self.sql, &[]);
                        return Err(error.into());
                    }
                    rows => rows?,
                };
                futures_util::pin_mut!(rows);
                let mut tuple = Vec::new();
                while let Some(row) = busy_poll::next(&mut rows, self.limit.spin()).await {
                    let row = row?;
                    tuple.clear();
                    tuple.extend_from_slice(&(row.len() as i16).to_be_bytes());
                    for index in 0..row.len() {
                        match row.try_get::<_, Option<RawField<'_>>>(index)? {
                            None => tuple.extend_from_slice(&(-1i32).to_be_bytes()),
                            Some(RawField(bytes)) => {
                                tuple.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                                tuple.extend_from_slice(bytes);
                            }
                        }
                    }
                    chunks.push_row(&tuple).await?;
                }
            }
        }
        chunks.finish().await
    }
}

/// Where the result's schema goes, once it is known: at once, or after the first chunk when
/// array columns need their number of dimensions read off the data.
struct SchemaSlot(Option<oneshot::Sender<Result<SchemaRef>>>);

impl SchemaSlot {
    fn send(&mut self, schema: SchemaRef) -> Result<()> {
        match self.0.take().map(|tx| tx.send(Ok(schema))) {
            Some(Err(_)) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }
}

/// The decoder, or what builds it from the first chunk.
enum DecoderState {
    Ready(Arc<Decoder>),
    Sampling(Vec<ColumnSpec>, DecodeOptions),
}

/// Collects rows into chunks and sends each full chunk off to be decoded.
struct Chunker<'a> {
    decoder: DecoderState,
    schema: &'a mut SchemaSlot,
    batch_rows: usize,
    pending: &'a mpsc::Sender<Pending>,
    chunk: Vec<u8>,
    rows: usize,
    /// Chunk buffers the decoders are done with. Reusing them saves faulting in fresh pages
    /// for every chunk, a visible share of the client's CPU time.
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Raw bytes a chunk is cut at.
    chunk_bytes: usize,
    /// Every chunk is decoded on this task (see [`Limit::Cores`]).
    decode_here: bool,
    /// A chunk went to the decoder threads already.
    flushed: bool,
    /// The rows have ended: this is the last chunk.
    finishing: bool,
}

impl<'a> Chunker<'a> {
    fn new(
        columns: Vec<ColumnSpec>,
        options: &ReadOptions,
        pending: &'a mpsc::Sender<Pending>,
        schema: &'a mut SchemaSlot,
        limit: Limit,
    ) -> Result<Self> {
        let decoder = match has_arrays(&columns) {
            true => DecoderState::Sampling(columns, options.decode.clone()),
            false => {
                let decoder = Arc::new(Decoder::new(columns, &options.decode));
                schema.send(decoder.schema())?;
                DecoderState::Ready(decoder)
            }
        };
        let batch_rows = options.batch_rows.unwrap_or(MAX_BATCH_ROWS).max(1);
        Ok(Chunker {
            decoder,
            schema,
            batch_rows,
            pending,
            chunk: Vec::new(),
            rows: 0,
            spare: Arc::default(),
            chunk_bytes: limit.chunk_bytes(),
            decode_here: limit.decodes_here(),
            flushed: false,
            finishing: false,
        })
    }

    /// The decoder, built from `chunk` (the first one) if it is not yet.
    fn decoder(&mut self, chunk: &[u8]) -> Result<Arc<Decoder>> {
        if let DecoderState::Sampling(columns, options) = &mut self.decoder {
            sample_array_dims(columns, chunk)?;
            let decoder = Arc::new(Decoder::new(std::mem::take(columns), options));
            self.schema.send(decoder.schema())?;
            self.decoder = DecoderState::Ready(decoder);
        }
        match &self.decoder {
            DecoderState::Ready(decoder) => Ok(decoder.clone()),
            DecoderState::Sampling(..) => Err(Error::Internal("decoder not built")),
        }
    }

    async fn push_row(&mut self, row: &[u8]) -> Result<()> {
        if self.chunk.capacity() == 0 {
            let spare = self.spare.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            self.chunk = spare.unwrap_or_else(|| Vec::with_capacity(self.chunk_bytes + self.chunk_bytes / 8));
        }
        self.chunk.extend_from_slice(row);
        self.rows += 1;
        // With an explicit batch_rows, only the row count cuts (up to a 1 GiB safety limit).
        let full = if self.batch_rows == MAX_BATCH_ROWS {
            self.chunk.len() >= self.chunk_bytes
        } else {
            self.chunk.len() >= 1 << 30
        };
        if full || self.rows == self.batch_rows {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        let mut chunk = std::mem::take(&mut self.chunk);
        self.rows = 0;
        let decoder = self.decoder(&chunk)?;
        let (done, batch) = oneshot::channel();
        // A small whole result is decoded here too, sparing the hand-off.
        if self.decode_here || (self.finishing && !self.flushed && chunk.len() <= INLINE_BYTES) {
            let _ = done.send(decoder.decode(&chunk));
            chunk.clear();
            self.chunk = chunk;
            return self.pending.send(Pending::Batch(batch)).await.map_err(|_| Error::Cancelled);
        }
        self.flushed = true;
        let (spare, chunk_bytes) = (self.spare.clone(), self.chunk_bytes);
        decode_in_background(decoder, chunk, move |decoded, mut buffer| {
            let _ = done.send(decoded);
            let mut spare = spare.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if spare.len() < BATCHES_AHEAD && buffer.capacity() <= 2 * chunk_bytes {
                buffer.clear();
                spare.push(buffer);
            }
        });
        self.pending.send(Pending::Batch(batch)).await.map_err(|_| Error::Cancelled)
    }

    async fn finish(mut self) -> Result<()> {
        self.finishing = true;
        if self.rows > 0 {
            self.flush().await?;
        }
        // No rows: the schema of one-dimensional arrays.
        self.decoder(&[])?;
        Ok(())
    }
}

/// A field's wire bytes, whatever its type.
struct RawField<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawField<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawField(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::decodes_in_place;

    #[test]
    fn partitioned_reads_decode_in_place_on_small_machines_or_with_a_worker_each() {
        // 2 cores, 1 worker: always.
        assert!(decodes_in_place(2, 1, 2));
        assert!(decodes_in_place(4, 1, 2));
        // 8 cores, 2 workers: while each read has a worker.
        assert!(decodes_in_place(2, 2, 8));
        assert!(!decodes_in_place(3, 2, 8));
        assert!(!decodes_in_place(8, 2, 8));
        // 16 cores, 4 workers.
        assert!(decodes_in_place(4, 4, 16));
        assert!(!decodes_in_place(16, 4, 16));
    }
}
