//! `data_bridge._native.Database` and `BatchStream`: thin handles over the engine.
//!
//! One native class serves the pool and its transactions (a [`Scope`]); the Python package
//! gives each its own API. Every call is an [`Op`] that runs either blocking, with the GIL
//! released and Ctrl-C checked every few milliseconds (dropping the engine's future cancels
//! the query on the server), or as an asyncio awaitable (see `aio.rs`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_pyarrow::{IntoPyArrow, PyArrowType, ToPyArrow};
use arrow_schema::SchemaRef;
use data_bridge_arrow_codec::{narrow_numerics, DecodeOptions, NumericAs};
use data_bridge_postgres::{
    runtime, Error, PartitionOptions, PartitionStrategy, Plan, Pool, PoolOptions, ReadOptions, ReadStream, SslMode,
    TableName, TlsOptions, Transaction, TransactionOptions, Value, WriteMode, WriteOptions,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::aio::awaitable;
use crate::errors::{new_error, to_py};
use crate::params::{to_rows, to_values};

/// Runs `future` with the GIL released, checking for Ctrl-C while it waits.
fn wait<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = data_bridge_postgres::Result<T>> + Send,
    T: Send,
{
    let outcome = py.detach(|| runtime::block_on_interruptible(future, || Python::attach(|py| py.check_signals())));
    outcome?.map_err(|e| to_py(py, e))
}

fn read_options(
    py: Python<'_>,
    batch_rows: Option<usize>,
    types: Option<HashMap<String, String>>,
) -> PyResult<ReadOptions> {
    let types = types.unwrap_or_default();
    let decode = DecodeOptions::from_pairs(types.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| new_error(py, "programming", &e.to_string()))?;
    if batch_rows == Some(0) {
        return Err(new_error(py, "programming", "batch_rows must be positive"));
    }
    Ok(ReadOptions { batch_rows, decode, cache_statement: false })
}

/// Page-range pieces per partition of a partitioned read (a plan shows one per partition):
/// a connection that finishes early takes another's second piece. More pieces cost a
/// statement each, on a server that is already the bottleneck: on 2 cores, 2M-row lineitem,
/// 2 pieces read 4 partitions in 1.26 s and 2 partitions in 1.22 s, 8 pieces in 1.31 s and 1.27 s.
const READ_PIECES_PER_PARTITION: usize = 2;

/// How to split a read; `None` for a read on one connection.
fn split_options(
    py: Python<'_>,
    partitions: Option<usize>,
    partition_on: Option<String>,
    strategy: &str,
) -> PyResult<Option<PartitionOptions>> {
    let strategy: PartitionStrategy = strategy.parse().map_err(|e| to_py(py, e))?;
    match (partitions, partition_on) {
        (Some(0), _) => Err(new_error(py, "programming", "partitions must be at least 1")),
        (None, Some(_)) => Err(new_error(py, "programming", "partition_on needs partitions=N")),
        (None | Some(1), None) => Ok(None),
        (Some(partitions), partition_on) => {
            Ok(Some(PartitionOptions { partitions, partition_on, strategy, pieces_per_partition: 1 }))
        }
    }
}

fn seconds(py: Python<'_>, value: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| new_error(py, "programming", &format!("{name} must be a non-negative number of seconds")))
}

/// TLS settings from `ssl=`: a mode, or a dict of mode, root_cert, cert, key.
fn tls_options(ssl: &Bound<'_, PyAny>) -> PyResult<TlsOptions> {
    let py = ssl.py();
    let mode = |text: &str| text.parse::<SslMode>().map_err(|e| to_py(py, e));
    if let Ok(text) = ssl.extract::<String>() {
        return Ok(TlsOptions { mode: mode(&text)?, ..TlsOptions::default() });
    }
    let Ok(settings) = ssl.cast::<PyDict>() else {
        return Err(new_error(py, "programming", "ssl must be a mode (\"require\", ...) or a dict"));
    };
    let mut options = TlsOptions { mode: SslMode::Require, ..TlsOptions::default() };
    for (key, value) in settings.iter() {
        let key: String = key.extract()?;
        let text: String = value.str()?.extract()?;
        match key.as_str() {
            "mode" => options.mode = mode(&text)?,
            "root_cert" => options.root_cert = Some(text.into()),
            "cert" => options.cert = Some(text.into()),
            "key" => options.key = Some(text.into()),
            other => {
                return Err(new_error(
                    py,
                    "programming",
                    &format!("ssl has no setting {other:?}: use mode, root_cert, cert, key"),
                ))
            }
        }
    }
    Ok(options)
}

/// What a handle runs on: the pool, or one open transaction.
#[derive(Clone)]
enum Scope {
    Pool(Pool),
    Transaction(Arc<tokio::sync::Mutex<Transaction>>),
}

/// One call, with its arguments already taken from Python.
enum Op {
    Read { sql: String, params: Vec<Value>, options: ReadOptions, whole: bool, split: Option<PartitionOptions> },
    Plan { sql: String, params: Vec<Value>, split: PartitionOptions },
    Write { table: TableName, source: Box<dyn RecordBatchReader + Send>, options: WriteOptions },
    Execute { sql: String, params: Vec<Value> },
    ExecuteMany { sql: String, rows: Vec<Vec<Value>> },
    Begin(TransactionOptions),
    Commit,
    Rollback,
    Savepoint,
    ReleaseSavepoint,
    RollbackToSavepoint,
}

/// What an [`Op`] gives back, before it becomes a Python object.
enum Outcome {
    Table(SchemaRef, Vec<RecordBatch>),
    Stream(ReadStream),
    Plan(Plan, usize),
    Count(u64),
    Transaction(Transaction),
    Nothing,
}

impl Scope {
    async fn run(self, op: Op) -> data_bridge_postgres::Result<Outcome> {
        let transaction = match &self {
            Scope::Transaction(tx) => Some(tx.clone()),
            Scope::Pool(_) => None,
        };
        match (op, &self, transaction) {
            (Op::Read { sql, params, options, whole, split: Some(split) }, _, tx) => {
                // Finer pieces than a plan shows: no connection idles while another reads.
                let split = PartitionOptions { pieces_per_partition: READ_PIECES_PER_PARTITION, ..split };
                let plan = make_plan(&self, tx, &sql, params, split).await?;
                if !whole {
                    return Ok(Outcome::Stream(plan.stream(options).await?));
                }
                let narrow = options.decode.numeric == NumericAs::Auto;
                let (schema, batches) = plan.read_all(options).await?;
                Ok(whole_table(schema, batches, narrow)?)
            }
            (Op::Plan { sql, params, split }, _, tx) => {
                let user_params = params.len();
                Ok(Outcome::Plan(make_plan(&self, tx, &sql, params, split).await?, user_params))
            }
            (Op::Read { sql, params, options, whole, split: None }, _, tx) => {
                // A whole result gives unconstrained numerics their narrowest exact decimal type.
                let narrow = whole && options.decode.numeric == NumericAs::Auto;
                let start = |options: ReadOptions, params: Vec<Value>| {
                    let (scope, sql, tx) = (&self, &sql, tx.clone());
                    async move {
                        match (scope, tx) {
                            (Scope::Pool(pool), _) => pool.read(sql, params, options).await,
                            (_, Some(tx)) => tx.lock().await.read(sql, params, options).await,
                            (Scope::Transaction(_), None) => Err(Error::Internal("scope mismatch")),
                        }
                    }
                };
                if !whole {
                    return Ok(Outcome::Stream(start(options, params).await?));
                }
                let whole_read = |options: ReadOptions, params: Vec<Value>| {
                    let stream = start(options, params);
                    async move {
                        let mut stream = stream.await?;
                        let mut batches = Vec::new();
                        while let Some(batch) = stream.next_batch().await? {
                            batches.push(batch);
                        }
                        Ok::<_, Error>((stream.schema(), batches))
                    }
                };
                let (schema, batches) = match whole_read(options.clone(), params.clone()).await {
                    // A cached statement outdated by a schema change: once more, prepared afresh.
                    Err(error) if error.is_stale_statement() => whole_read(options, params).await?,
                    outcome => outcome?,
                };
                Ok(whole_table(schema, batches, narrow)?)
            }
            (Op::Write { table, source, options }, Scope::Pool(pool), _) => {
                Ok(Outcome::Count(pool.copy_in_arrow(&table, source, options).await?))
            }
            (Op::Execute { sql, params }, Scope::Pool(pool), _) => {
                Ok(Outcome::Count(pool.execute(&sql, params).await?))
            }
            (Op::ExecuteMany { sql, rows }, Scope::Pool(pool), _) => {
                Ok(Outcome::Count(pool.execute_many(&sql, &rows).await?))
            }
            (Op::Begin(options), Scope::Pool(pool), _) => Ok(Outcome::Transaction(pool.transaction(options).await?)),
            (op, Scope::Transaction(_), Some(tx)) => {
                let mut tx = tx.lock().await;
                Ok(match op {
                    Op::Write { table, source, options } => {
                        Outcome::Count(tx.copy_in_arrow(&table, source, options).await?)
                    }
                    Op::Execute { sql, params } => Outcome::Count(tx.execute(&sql, params).await?),
                    Op::ExecuteMany { sql, rows } => Outcome::Count(tx.execute_many(&sql, &rows).await?),
                    Op::Commit => Outcome::Nothing.after(tx.commit().await)?,
                    Op::Rollback => Outcome::Nothing.after(tx.rollback().await)?,
                    Op::Savepoint => Outcome::Count(tx.savepoint().await? as u64),
                    Op::ReleaseSavepoint => Outcome::Nothing.after(tx.release_savepoint().await)?,
                    Op::RollbackToSavepoint => Outcome::Nothing.after(tx.rollback_to_savepoint().await)?,
                    Op::Begin(_) => return Err(Error::Usage("transactions do not nest: use savepoint()".into())),
                    Op::Read { .. } | Op::Plan { .. } => return Err(Error::Internal("reads are handled above")),
                })
            }
            (_, _, _) => Err(Error::Usage("commit, rollback and savepoints belong to a transaction".into())),
        }
    }
}

/// Plans a partitioned read on the pool, or in the transaction's snapshot.
async fn make_plan(
    scope: &Scope,
    tx: Option<Arc<tokio::sync::Mutex<Transaction>>>,
    sql: &str,
    params: Vec<Value>,
    split: PartitionOptions,
) -> data_bridge_postgres::Result<Plan> {
    match (scope, tx) {
        (Scope::Pool(pool), _) => pool.plan(sql, params, split).await,
        (_, Some(tx)) => tx.lock().await.plan(sql, params, split).await,
        (Scope::Transaction(_), None) => Err(Error::Internal("scope mismatch")),
    }
}

/// A whole result; unconstrained numerics get their narrowest exact decimal type.
fn whole_table(schema: SchemaRef, batches: Vec<RecordBatch>, narrow: bool) -> data_bridge_postgres::Result<Outcome> {
    let (schema, batches) = match narrow {
        true => narrow_numerics(schema, batches)?,
        false => (schema, batches),
    };
    Ok(Outcome::Table(schema, batches))
}

impl Outcome {
    fn after(self, done: data_bridge_postgres::Result<()>) -> data_bridge_postgres::Result<Outcome> {
        done.map(|_| self)
    }

    fn into_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Outcome::Table(schema, batches) => {
                let reader: Box<dyn RecordBatchReader + Send> =
                    Box::new(RecordBatchIterator::new(batches.into_iter().map(Ok), schema));
                reader.into_pyarrow(py)?.call_method0("read_all")?.unbind()
            }
            Outcome::Stream(stream) => Py::new(py, BatchStream { stream: Mutex::new(Some(stream)) })?.into_any(),
            Outcome::Plan(plan, user_params) => {
                Py::new(py, PlanHandle { plan: Arc::new(Mutex::new(Some(Arc::new(plan)))), user_params })?.into_any()
            }
            Outcome::Count(count) => count.into_pyobject(py)?.into_any().unbind(),
            Outcome::Transaction(tx) => {
                let scope = Scope::Transaction(Arc::new(tokio::sync::Mutex::new(tx)));
                Py::new(py, Database { scope })?.into_any()
            }
            Outcome::Nothing => py.None(),
        })
    }
}

/// A pool of connections to one PostgreSQL server, or one transaction on it.
#[pyclass(frozen, module = "data_bridge._native")]
pub struct Database {
    scope: Scope,
}

impl Database {
    /// Runs `op`: blocking, or as an awaitable for asyncio when `asynchronous`.
    fn dispatch<'py>(&self, py: Python<'py>, op: Op, asynchronous: bool) -> PyResult<Bound<'py, PyAny>> {
        let scope = self.scope.clone();
        if asynchronous {
            return awaitable(py, scope.run(op), |py, outcome| outcome.into_python(py));
        }
        let outcome = wait(py, scope.run(op))?;
        Ok(outcome.into_python(py)?.into_bound(py))
    }

    fn pool(&self, py: Python<'_>) -> PyResult<&Pool> {
        match &self.scope {
            Scope::Pool(pool) => Ok(pool),
            Scope::Transaction(_) => Err(new_error(py, "programming", "not available on a transaction")),
        }
    }
}

#[pymethods]
impl Database {
    #[new]
    #[pyo3(signature = (
        url=None, *, min_connections=0, max_connections=10, acquire_timeout=30.0, idle_timeout=Some(600.0),
        max_lifetime=Some(1800.0), statement_timeout=None, application_name=None, ssl=None, connect_timeout=10.0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: Option<String>,
        min_connections: usize,
        max_connections: usize,
        acquire_timeout: f64,
        idle_timeout: Option<f64>,
        max_lifetime: Option<f64>,
        statement_timeout: Option<f64>,
        application_name: Option<String>,
        ssl: Option<&Bound<'_, PyAny>>,
        connect_timeout: f64,
    ) -> PyResult<Self> {
        let options = pool_options(
            py,
            min_connections,
            max_connections,
            acquire_timeout,
            idle_timeout,
            max_lifetime,
            statement_timeout,
            application_name,
            ssl,
            connect_timeout,
        )?;
        let pool = wait(py, Pool::connect(url.as_deref(), options))?;
        Ok(Database { scope: Scope::Pool(pool) })
    }

    /// Opens a pool for asyncio: an awaitable of a Database.
    #[staticmethod]
    #[pyo3(signature = (
        url=None, *, min_connections=0, max_connections=10, acquire_timeout=30.0, idle_timeout=Some(600.0),
        max_lifetime=Some(1800.0), statement_timeout=None, application_name=None, ssl=None, connect_timeout=10.0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn connect_async<'py>(
        py: Python<'py>,
        url: Option<String>,
        min_connections: usize,
        max_connections: usize,
        acquire_timeout: f64,
        idle_timeout: Option<f64>,
        max_lifetime: Option<f64>,
        statement_timeout: Option<f64>,
        application_name: Option<String>,
        ssl: Option<&Bound<'_, PyAny>>,
        connect_timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = pool_options(
            py,
            min_connections,
            max_connections,
            acquire_timeout,
            idle_timeout,
            max_lifetime,
            statement_timeout,
            application_name,
            ssl,
            connect_timeout,
        )?;
        awaitable(py, async move { Pool::connect(url.as_deref(), options).await }, |py, pool| {
            Ok(Py::new(py, Database { scope: Scope::Pool(pool) })?.into_any())
        })
    }

    /// Runs `sql` and returns the whole result as a pyarrow Table. `cache_statement`: through
    /// the connection's statement cache (for small, repeated queries).
    #[pyo3(signature = (
        sql, params=None, types=None, *, cache_statement=false, partitions=None, partition_on=None,
        partition_strategy="range", asynchronous=false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn read_arrow<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        types: Option<HashMap<String, String>>,
        cache_statement: bool,
        partitions: Option<usize>,
        partition_on: Option<String>,
        partition_strategy: &str,
        asynchronous: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = ReadOptions { cache_statement, ..read_options(py, None, types)? };
        let split = split_options(py, partitions, partition_on, partition_strategy)?;
        let op = Op::Read { sql: sql.into(), params: to_values(params)?, options, whole: true, split };
        self.dispatch(py, op, asynchronous)
    }

    /// Starts `sql` and returns a stream of its batches.
    #[pyo3(signature = (
        sql, params=None, batch_rows=None, types=None, *, partitions=None, partition_on=None,
        partition_strategy="range",
    ))]
    #[allow(clippy::too_many_arguments)]
    fn read_stream<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        batch_rows: Option<usize>,
        types: Option<HashMap<String, String>>,
        partitions: Option<usize>,
        partition_on: Option<String>,
        partition_strategy: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = read_options(py, batch_rows, types)?;
        let split = split_options(py, partitions, partition_on, partition_strategy)?;
        let op = Op::Read { sql: sql.into(), params: to_values(params)?, options, whole: false, split };
        self.dispatch(py, op, false)
    }

    /// Plans a partitioned read: its queries and snapshot, runnable piece by piece.
    #[pyo3(signature = (sql, params=None, *, partitions, partition_on=None, partition_strategy="range"))]
    fn plan<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        partitions: usize,
        partition_on: Option<String>,
        partition_strategy: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let split = split_options(py, Some(partitions), partition_on, partition_strategy)?
            .unwrap_or_else(|| PartitionOptions { partitions: 1, ..PartitionOptions::default() });
        self.dispatch(py, Op::Plan { sql: sql.into(), params: to_values(params)?, split }, false)
    }

    /// Writes an Arrow stream into a table; returns the rows written.
    #[pyo3(signature = (
        schema, name, data, mode, key=None, create_if_missing=false, batch_rows=None, connections=1, *,
        asynchronous=false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn write_arrow<'py>(
        &self,
        py: Python<'py>,
        schema: Option<String>,
        name: String,
        data: PyArrowType<RecordBatchStreamReader>,
        mode: &str,
        key: Option<Vec<String>>,
        create_if_missing: bool,
        batch_rows: Option<usize>,
        connections: usize,
        asynchronous: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        if connections == 0 {
            return Err(new_error(py, "programming", "connections must be at least 1"));
        }
        let mode = match (mode, key) {
            ("append", _) => WriteMode::Append,
            ("create", _) => WriteMode::Create,
            ("replace", _) => WriteMode::Replace,
            ("upsert", Some(key)) if !key.is_empty() => WriteMode::Upsert { key },
            ("upsert", _) => return Err(new_error(py, "programming", "mode=\"upsert\" needs key=[columns]")),
            (other, _) => {
                return Err(new_error(
                    py,
                    "programming",
                    &format!("unknown mode {other:?}: use \"append\", \"create\", \"replace\" or \"upsert\""),
                ))
            }
        };
        if batch_rows == Some(0) {
            return Err(new_error(py, "programming", "batch_rows must be positive"));
        }
        let table = TableName { schema, name };
        let options = WriteOptions { mode, create_if_missing, batch_rows, connections };
        self.dispatch(py, Op::Write { table, source: Box::new(data.0), options }, asynchronous)
    }

    /// Runs `sql`; returns the rows affected.
    #[pyo3(signature = (sql, params=None, *, asynchronous=false))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        asynchronous: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.dispatch(py, Op::Execute { sql: sql.into(), params: to_values(params)? }, asynchronous)
    }

    /// Runs `sql` once per row of parameters, pipelined, all or nothing; returns the rows affected.
    #[pyo3(signature = (sql, rows, *, asynchronous=false))]
    fn execute_many<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        rows: &Bound<'py, PyAny>,
        asynchronous: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.dispatch(py, Op::ExecuteMany { sql: sql.into(), rows: to_rows(rows)? }, asynchronous)
    }

    /// Starts a transaction: a Database handle pinned to one connection.
    #[pyo3(signature = (isolation="read_committed", readonly=false, deferrable=false, *, asynchronous=false))]
    fn begin<'py>(
        &self,
        py: Python<'py>,
        isolation: &str,
        readonly: bool,
        deferrable: bool,
        asynchronous: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let isolation = isolation.parse().map_err(|e| to_py(py, e))?;
        let options = TransactionOptions { isolation, read_only: readonly, deferrable };
        self.dispatch(py, Op::Begin(options), asynchronous)
    }

    /// Commits the transaction.
    #[pyo3(signature = (*, asynchronous=false))]
    fn commit<'py>(&self, py: Python<'py>, asynchronous: bool) -> PyResult<Bound<'py, PyAny>> {
        self.dispatch(py, Op::Commit, asynchronous)
    }

    /// Rolls the transaction back.
    #[pyo3(signature = (*, asynchronous=false))]
    fn rollback<'py>(&self, py: Python<'py>, asynchronous: bool) -> PyResult<Bound<'py, PyAny>> {
        self.dispatch(py, Op::Rollback, asynchronous)
    }

    /// Opens a savepoint; returns its depth.
    #[pyo3(signature = (*, asynchronous=false))]
    fn savepoint<'py>(&self, py: Python<'py>, asynchronous: bool) -> PyResult<Bound<'py, PyAny>> {
        self.dispatch(py, Op::Savepoint, asynchronous)
    }

    /// Keeps the innermost savepoint's work.
    #[pyo3(signature = (*, asynchronous=false))]
    fn release_savepoint<'py>(&self, py: Python<'py>, asynchronous: bool) -> PyResult<Bound<'py, PyAny>> {
        self.dispatch(py, Op::ReleaseSavepoint, asynchronous)
    }

    /// Undoes the innermost savepoint's work.
    #[pyo3(signature = (*, asynchronous=false))]
    fn rollback_to_savepoint<'py>(&self, py: Python<'py>, asynchronous: bool) -> PyResult<Bound<'py, PyAny>> {
        self.dispatch(py, Op::RollbackToSavepoint, asynchronous)
    }

    /// (size, idle, in use, waiting, max size).
    fn status(&self, py: Python<'_>) -> PyResult<(usize, usize, usize, usize, usize)> {
        let status = self.pool(py)?.status();
        Ok((status.size, status.idle, status.in_use, status.waiting, status.max_size))
    }

    /// Closes the pool.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.pool(py)?.close();
        Ok(())
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.pool(py)?.is_closed())
    }
}

#[allow(clippy::too_many_arguments)]
fn pool_options(
    py: Python<'_>,
    min_connections: usize,
    max_connections: usize,
    acquire_timeout: f64,
    idle_timeout: Option<f64>,
    max_lifetime: Option<f64>,
    statement_timeout: Option<f64>,
    application_name: Option<String>,
    ssl: Option<&Bound<'_, PyAny>>,
    connect_timeout: f64,
) -> PyResult<PoolOptions> {
    if max_connections == 0 {
        return Err(new_error(py, "programming", "max_connections must be at least 1"));
    }
    if min_connections > max_connections {
        return Err(new_error(py, "programming", "min_connections cannot exceed max_connections"));
    }
    let optional = |value: Option<f64>, name: &str| value.map(|v| seconds(py, v, name)).transpose();
    Ok(PoolOptions {
        min_connections,
        max_connections,
        acquire_timeout: seconds(py, acquire_timeout, "acquire_timeout")?,
        connect_timeout: seconds(py, connect_timeout, "connect_timeout")?,
        idle_timeout: optional(idle_timeout, "idle_timeout")?,
        max_lifetime: optional(max_lifetime, "max_lifetime")?,
        statement_timeout: optional(statement_timeout, "statement_timeout")?,
        application_name,
        tls: ssl.filter(|s| !s.is_none()).map(tls_options).transpose()?,
    })
}

/// The batches of one running query.
#[pyclass(frozen, module = "data_bridge._native")]
pub struct BatchStream {
    stream: Mutex<Option<ReadStream>>,
}

impl BatchStream {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ReadStream>> {
        // The stream holds no invariant a panic could break half-way.
        self.stream.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl BatchStream {
    /// The pyarrow schema of every batch.
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.lock().as_ref() {
            Some(stream) => stream.schema().to_pyarrow(py),
            None => Err(new_error(py, "interface", "the stream is closed")),
        }
    }

    /// The next pyarrow RecordBatch, or None after the last one.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let batch: Option<RecordBatch> = py
            .detach(|| {
                let mut guard = self.lock();
                let Some(stream) = guard.as_mut() else { return Ok(Ok(None)) };
                let next =
                    runtime::block_on_interruptible(stream.next_batch(), || Python::attach(|py| py.check_signals()));
                if !matches!(next, Ok(Ok(Some(_)))) {
                    // Finished, failed or interrupted: release the connection now.
                    *guard = None;
                }
                next
            })?
            .map_err(|e| to_py(py, e))?;
        batch.map(|b| b.to_pyarrow(py)).transpose()
    }

    /// Stops the query (cancelling it on the server if still running).
    fn close(&self) {
        self.lock().take();
    }
}

/// A planned partitioned read (see `data_bridge.Plan`); it holds the snapshot open until closed.
#[pyclass(frozen, module = "data_bridge._native")]
pub struct PlanHandle {
    plan: Arc<Mutex<Option<Arc<Plan>>>>,
    /// The caller's parameters come first in every query's; the rest are the piece's bounds.
    user_params: usize,
}

impl PlanHandle {
    fn plan(&self, py: Python<'_>) -> PyResult<Arc<Plan>> {
        let plan = self.plan.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        plan.ok_or_else(|| new_error(py, "interface", "the plan is closed"))
    }
}

#[pymethods]
impl PlanHandle {
    /// The exported snapshot the pieces read in.
    #[getter]
    fn snapshot(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.plan(py)?.snapshot().to_owned())
    }

    /// Each piece's SQL and its bound values beyond the caller's parameters (as text).
    fn queries(&self, py: Python<'_>) -> PyResult<Vec<(String, Vec<String>)>> {
        let plan = self.plan(py)?;
        let text = |value: &Value| match value {
            Value::Text(text) => Ok(text.clone()),
            _ => Err(new_error(py, "interface", "a partition bound that is not text")),
        };
        plan.queries()
            .iter()
            .map(|query| {
                let bounds = query.params[self.user_params.min(query.params.len())..].iter().map(text);
                Ok((query.sql.clone(), bounds.collect::<PyResult<Vec<_>>>()?))
            })
            .collect()
    }

    /// Reads piece `index` (every piece, in order, when None): a pyarrow Table when `whole`,
    /// else a BatchStream.
    #[pyo3(signature = (index=None, whole=true, batch_rows=None, types=None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        index: Option<usize>,
        whole: bool,
        batch_rows: Option<usize>,
        types: Option<HashMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let plan = self.plan(py)?;
        let options = read_options(py, batch_rows, types)?;
        let narrow = whole && options.decode.numeric == NumericAs::Auto;
        let outcome = wait(py, async move {
            match (index, whole) {
                (Some(index), false) => Ok(Outcome::Stream(plan.read(index, options).await?)),
                (None, false) => Ok(Outcome::Stream(plan.stream(options).await?)),
                (Some(index), true) => {
                    let mut stream = plan.read(index, options).await?;
                    let mut batches = Vec::new();
                    while let Some(batch) = stream.next_batch().await? {
                        batches.push(batch);
                    }
                    whole_table(stream.schema(), batches, narrow)
                }
                (None, true) => {
                    let (schema, batches) = plan.read_all(options).await?;
                    whole_table(schema, batches, narrow)
                }
            }
        })?;
        Ok(outcome.into_python(py)?.into_bound(py))
    }

    /// Ends the snapshot's transaction (pieces already reading go on).
    fn close(&self) {
        self.plan.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    }
}
