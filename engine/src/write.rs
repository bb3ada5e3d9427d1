//! Bulk writes: Arrow record batches into a table with binary COPY, in one transaction.
//!
//! The batches are read on a blocking thread (the source may be a Python-backed Arrow stream)
//! and encoded on the codec's pool into chunks of COPY tuples, which the I/O task streams to
//! `COPY ... FROM STDIN (FORMAT binary)` while the next ones are encoded. Everything, DDL included, runs in
//! one transaction: any error, or the caller giving up, rolls the table back to what it was.

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{DataType, Field, SchemaRef};
use bytes::Bytes;
use data_bridge_arrow_codec::{copy_format, create_type, oid, parallelism, writes_natively, ColumnSpec, Encoder};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::session::Session;
use crate::shape::{self, Typmods};
use crate::sql::quote_ident;

/// Encoded chunks waiting to be sent.
const CHUNKS_AHEAD: usize = 4;
/// Rows encoded as one piece when the caller sets no `batch_rows`: small enough that a big
/// input batch is encoded on every core and sent while the rest is encoded.
const PIECE_ROWS: usize = 65_536;

/// What to do with the target table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Add the rows to an existing table (columns matched by name).
    Append,
    /// Create the table from the Arrow schema; an error if it exists.
    Create,
    /// Drop and recreate the table, then load it (atomically).
    Replace,
    /// Insert rows, updating those whose key columns match an existing row.
    Upsert {
        /// The key columns (a unique constraint or primary key must cover them).
        key: Vec<String>,
    },
}

/// How to write.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// What to do with the target table.
    pub mode: WriteMode,
    /// In append and upsert modes, create the table when it does not exist.
    pub create_if_missing: bool,
    /// Rows encoded at a time (default: input batches, cut to 65 536 rows at most).
    pub batch_rows: Option<usize>,
    /// Connections loading at once in `Create` and `Replace` modes (from a [`crate::Pool`];
    /// fewer when the pool has not that many free):
    /// the rows go into a new table, which then takes the target's name in one short
    /// transaction. `Append` and `Upsert` always use one connection and one transaction.
    pub connections: usize,
}

impl WriteOptions {
    /// Writing in `mode`, otherwise with the defaults.
    pub fn new(mode: WriteMode) -> WriteOptions {
        WriteOptions { mode, create_if_missing: false, batch_rows: None, connections: 1 }
    }
}

/// A table name, optionally schema-qualified; always quoted in SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableName {
    /// Schema, or `None` for the search path.
    pub schema: Option<String>,
    /// Table.
    pub name: String,
}

impl TableName {
    pub(crate) fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }
}

/// A column of the target table.
pub(crate) struct TableColumn {
    spec: ColumnSpec,
}

/// Writes every batch of `source` into `table`; returns the number of rows written. The
/// caller makes it atomic (a transaction or a savepoint around it).
///
/// `source` is read on a blocking thread, so it may call back into a language runtime.
pub(crate) async fn write(
    session: &Session,
    table: &TableName,
    source: Box<dyn RecordBatchReader + Send>,
    options: WriteOptions,
) -> Result<u64> {
    let schema = source.schema();
    let client = session.client();
    let target = table.quoted();
    let exists = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&target]).await?.try_get::<_, bool>(0)?;
    let create = match &options.mode {
        WriteMode::Create => true,
        WriteMode::Replace => {
            if exists {
                client.batch_execute(&format!("DROP TABLE {target}")).await?;
            }
            true
        }
        WriteMode::Append | WriteMode::Upsert { .. } => !exists && options.create_if_missing,
    };
    if create {
        create_table(client, &target, &schema, &options.mode).await?;
    }
    let columns = table_columns(client, &target).await?;
    let declared = match_columns(table, &schema, &columns)?;
    let fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    // A column of a type the codec cannot write (inet, xml, an extension type, ...) that
    // the data holds as strings goes through the staging table as text; the server then
    // casts it with the type's input function, exactly as it would parse a literal.
    let as_text: Vec<bool> =
        fields.iter().zip(&declared).map(|(field, spec)| is_string(field) && !writes_natively(spec)).collect();
    let specs: Vec<ColumnSpec> = declared
        .iter()
        .zip(&as_text)
        .map(
            |(spec, &text)| {
                if text {
                    ColumnSpec::new(spec.name.clone(), oid::TEXT, -1, "text")
                } else {
                    spec.clone()
                }
            },
        )
        .collect();
    let encoder = Encoder::new(&fields, &specs)?;
    let names: Vec<String> = schema.fields().iter().map(|f| quote_ident(f.name())).collect();
    let column_list = names.join(", ");
    let upsert_key = match &options.mode {
        WriteMode::Upsert { key } if key.is_empty() => return Err(Error::Usage("upsert needs key columns".into())),
        WriteMode::Upsert { key } => Some(key),
        _ => None,
    };

    let rows = if upsert_key.is_none() && !as_text.contains(&true) {
        let copy = format!("COPY {target} ({column_list}) FROM STDIN (FORMAT binary)");
        copy_in(client, &copy, source, encoder, options.batch_rows).await?
    } else {
        if let Some(missing) = upsert_key.and_then(|key| key.iter().find(|k| schema.field_with_name(k).is_err())) {
            return Err(Error::MissingColumn { table: "the data".into(), column: missing.clone() });
        }
        // Only the data's columns, with their types (text where staged as text) and no
        // defaults or constraints: the target's own defaults apply to the others.
        let stage = quote_ident("data_bridge_stage");
        let staged: Vec<String> = names
            .iter()
            .zip(&as_text)
            .map(|(name, &text)| if text { format!("{name}::text AS {name}") } else { name.clone() })
            .collect();
        client
            .batch_execute(&format!(
                "CREATE TEMP TABLE {stage} AS SELECT {} FROM {target} WITH NO DATA",
                staged.join(", ")
            ))
            .await?;
        let copy = format!("COPY {stage} ({column_list}) FROM STDIN (FORMAT binary)");
        copy_in(client, &copy, source, encoder, options.batch_rows).await?;
        // Type names come from the catalog's format_type(), never from the caller.
        let values: Vec<String> = names
            .iter()
            .zip(&as_text)
            .zip(&declared)
            .map(|((name, &text), spec)| if text { format!("{name}::{}", spec.pg_type) } else { name.clone() })
            .collect();
        let conflict = match upsert_key {
            Some(key) => {
                let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
                let updates: Vec<String> = schema
                    .fields()
                    .iter()
                    .filter(|f| !key.contains(f.name()))
                    .map(|f| format!("{0} = EXCLUDED.{0}", quote_ident(f.name())))
                    .collect();
                let action = match updates.is_empty() {
                    true => "NOTHING".to_string(),
                    false => format!("UPDATE SET {}", updates.join(", ")),
                };
                format!(" ON CONFLICT ({}) DO {action}", keys.join(", "))
            }
            None => String::new(),
        };
        let insert =
            format!("INSERT INTO {target} ({column_list}) SELECT {} FROM {stage}{conflict}", values.join(", "));
        let rows = client.execute(&insert, &[]).await?;
        // Dropped now, not at commit: the caller's transaction may write again.
        client.batch_execute(&format!("DROP TABLE {stage}")).await?;
        rows
    };
    Ok(rows)
}

fn is_string(field: &Field) -> bool {
    matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// `CREATE TABLE` from the Arrow schema (each field's `pg_type` metadata honoured when it fits).
pub(crate) async fn create_table(client: &Client, target: &str, schema: &SchemaRef, mode: &WriteMode) -> Result<()> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let pg_type = create_type(field).ok_or_else(|| Error::UnsupportedType {
            column: field.name().clone(),
            arrow_type: field.data_type().to_string(),
        })?;
        let not_null = if field.is_nullable() { "" } else { " NOT NULL" };
        columns.push(format!("{} {pg_type}{not_null}", quote_ident(field.name())));
    }
    if let WriteMode::Upsert { key } = mode {
        if !key.is_empty() {
            let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
            columns.push(format!("PRIMARY KEY ({})", keys.join(", ")));
        }
    }
    client.batch_execute(&format!("CREATE TABLE {target} ({})", columns.join(", "))).await?;
    Ok(())
}

/// The table's columns as the codec needs them: the description of `SELECT *` (domains as
/// their base types, with the structure of enums, arrays, composites and ranges), and each
/// column's declared type for messages.
pub(crate) async fn table_columns(client: &Client, target: &str) -> Result<Vec<TableColumn>> {
    client.clear_type_cache();
    let described = client.prepare(&format!("SELECT * FROM {target}")).await?;
    let typmods = Typmods::fetch(client, described.columns().iter().map(|c| c.type_())).await?;
    let declared = client
        .query(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&target],
        )
        .await?;
    described
        .columns()
        .iter()
        .zip(&declared)
        .map(|(column, row)| {
            let pg_type: String = row.try_get(0)?;
            let spec = shape::column_spec(column.name(), column.type_(), column.type_modifier(), pg_type, &typmods);
            Ok(TableColumn { spec })
        })
        .collect()
}

/// The table column for each Arrow field, by exact name.
pub(crate) fn match_columns(table: &TableName, schema: &SchemaRef, columns: &[TableColumn]) -> Result<Vec<ColumnSpec>> {
    schema
        .fields()
        .iter()
        .map(|field| {
            columns.iter().find(|c| c.spec.name == *field.name()).map(|c| c.spec.clone()).ok_or_else(|| {
                Error::MissingColumn { table: format!("table {}", table.quoted()), column: field.name().clone() }
            })
        })
        .collect()
}

/// Streams the encoded batches into `copy` (a `COPY ... FROM STDIN (FORMAT binary)`).
async fn copy_in(
    client: &Client,
    copy: &str,
    source: Box<dyn RecordBatchReader + Send>,
    encoder: Encoder,
    batch_rows: Option<usize>,
) -> Result<u64> {
    // `Ok(None)` marks the end: a channel that closes without it means the encoder died.
    let (chunks_tx, chunks_rx) = mpsc::channel::<Result<Option<Vec<u8>>>>(CHUNKS_AHEAD);
    // Declared before the receiver so it drops after it: the receiver going away stops the
    // thread, then the guard waits for it.
    let encoding = EncoderThread::spawn(move || encode_all(source, &encoder, batch_rows, &chunks_tx));
    let mut chunks = chunks_rx;
    let sink = client.copy_in::<_, Bytes>(copy).await?;
    futures_util::pin_mut!(sink);
    // An error here drops the sink, which aborts the COPY (and the transaction with it).
    sink.send(Bytes::copy_from_slice(&copy_format::header())).await?;
    loop {
        match chunks.recv().await {
            Some(Ok(Some(chunk))) => sink.send(Bytes::from(chunk)).await?,
            Some(Ok(None)) => break,
            Some(Err(error)) => return Err(error),
            None => return Err(Error::Internal("the encoder stopped before the end of the data")),
        }
    }
    drop(encoding);
    sink.send(Bytes::from_static(&copy_format::TRAILER)).await?;
    Ok(sink.finish().await?)
}

/// The thread reading and encoding the caller's batches. Dropping it waits for the thread to
/// end, so no batch of the caller's source is read after the write returns (a Python-backed
/// source must not be touched once the call is over).
pub(crate) struct EncoderThread(Option<std::thread::JoinHandle<()>>);

impl EncoderThread {
    pub(crate) fn spawn(work: impl FnOnce() + Send + 'static) -> EncoderThread {
        let handle = std::thread::Builder::new().name("data-bridge-encode".into()).spawn(work);
        // Without a thread the source is dropped unread and the COPY ends with an error.
        EncoderThread(handle.ok())
    }
}

impl Drop for EncoderThread {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.join();
        }
    }
}

/// Encodes every batch into chunks of COPY tuples and sends them down `chunks`, then `None`.
///
/// Batches (cut to `batch_rows`, or [`PIECE_ROWS`]) are encoded a pool's width at a time, in
/// parallel, so at most that many pieces and their encodings are held at once.
pub(crate) fn encode_all(
    source: Box<dyn RecordBatchReader + Send>,
    encoder: &Encoder,
    batch_rows: Option<usize>,
    chunks: &mpsc::Sender<Result<Option<Vec<u8>>>>,
) {
    // A panic (a bug) must fail the write, not end the COPY early: it becomes an error.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<()> {
        let width = parallelism().max(1);
        let mut pending: Vec<RecordBatch> = Vec::with_capacity(width);
        let send = |chunk: Vec<u8>| chunks.blocking_send(Ok(Some(chunk))).map_err(|_| Error::Cancelled);
        let flush = |pending: &mut Vec<RecordBatch>| -> Result<()> {
            for encoded in data_bridge_arrow_codec::encode_all(encoder, pending)? {
                send(encoded)?;
            }
            pending.clear();
            Ok(())
        };
        for batch in source {
            let batch = batch.map_err(|e| Error::Source(e.to_string()))?;
            let step = batch_rows.unwrap_or(PIECE_ROWS).max(1);
            let mut offset = 0;
            while offset < batch.num_rows() {
                let len = step.min(batch.num_rows() - offset);
                pending.push(batch.slice(offset, len));
                offset += len;
                if pending.len() == width {
                    flush(&mut pending)?;
                }
            }
        }
        flush(&mut pending)?;
        chunks.blocking_send(Ok(None)).map_err(|_| Error::Cancelled)
    }))
    .unwrap_or(Err(Error::Internal("the encoder panicked")));
    if let Err(error) = outcome {
        // The receiver is gone only when the COPY already failed; that error is reported there.
        let _ = chunks.blocking_send(Err(error));
    }
}
