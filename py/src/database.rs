//! `data_bridge._native.Database` and `BatchStream`: thin handles over the engine.
//!
//! Every call that waits on the network releases the GIL and wakes every few milliseconds to
//! run Python's signal handlers, so Ctrl-C raises KeyboardInterrupt promptly; dropping the
//! engine's future then cancels the query on the server.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_pyarrow::{IntoPyArrow, PyArrowType, ToPyArrow};
use data_bridge_arrow_codec::{narrow_numerics, DecodeOptions, NumericAs};
use data_bridge_postgres::{
    runtime, Database as Engine, PoolOptions, ReadOptions, ReadStream, TableName, WriteMode, WriteOptions,
};
use pyo3::prelude::*;

use crate::errors::{new_error, to_py};
use crate::params::to_values;

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
    Ok(ReadOptions { batch_rows, decode })
}

/// A pool of connections to one PostgreSQL server.
#[pyclass(frozen, module = "data_bridge._native")]
pub struct Database {
    engine: Engine,
}

#[pymethods]
impl Database {
    #[new]
    #[pyo3(signature = (url=None, *, max_connections=10, acquire_timeout=30.0, connect_timeout=10.0))]
    fn new(
        py: Python<'_>,
        url: Option<String>,
        max_connections: usize,
        acquire_timeout: f64,
        connect_timeout: f64,
    ) -> PyResult<Self> {
        let seconds = |s: f64, name: &str| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| new_error(py, "programming", &format!("{name} must be a non-negative number of seconds")))
        };
        let options = PoolOptions {
            max_connections,
            acquire_timeout: seconds(acquire_timeout, "acquire_timeout")?,
            connect_timeout: seconds(connect_timeout, "connect_timeout")?,
        };
        let engine = wait(py, Engine::connect(url.as_deref(), options))?;
        Ok(Database { engine })
    }

    /// Runs `sql` and returns the whole result as a pyarrow Table.
    #[pyo3(signature = (sql, params=None, types=None))]
    fn read_arrow<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        types: Option<HashMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = to_values(params)?;
        let options = read_options(py, None, types)?;
        // A whole result gives unconstrained numerics their narrowest exact decimal type.
        let narrow = options.decode.numeric == NumericAs::Auto;
        let (schema, batches) = wait(py, async {
            let mut stream = self.engine.read(sql, params, options).await?;
            let mut batches = Vec::new();
            while let Some(batch) = stream.next_batch().await? {
                batches.push(batch);
            }
            let (schema, batches) = match narrow {
                true => narrow_numerics(stream.schema(), batches)?,
                false => (stream.schema(), batches),
            };
            Ok((schema, batches))
        })?;
        let reader: Box<dyn RecordBatchReader + Send> =
            Box::new(RecordBatchIterator::new(batches.into_iter().map(Ok), schema));
        reader.into_pyarrow(py)?.call_method0("read_all")
    }

    /// Starts `sql` and returns a stream of its batches.
    #[pyo3(signature = (sql, params=None, batch_rows=None, types=None))]
    fn read_stream(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
        batch_rows: Option<usize>,
        types: Option<HashMap<String, String>>,
    ) -> PyResult<BatchStream> {
        let params = to_values(params)?;
        let options = read_options(py, batch_rows, types)?;
        let stream = wait(py, self.engine.read(sql, params, options))?;
        Ok(BatchStream { stream: Mutex::new(Some(stream)) })
    }

    /// Writes an Arrow stream into a table; returns the rows written.
    #[pyo3(signature = (schema, name, data, mode, key=None, create_if_missing=false, batch_rows=None))]
    #[allow(clippy::too_many_arguments)]
    fn write_arrow(
        &self,
        py: Python<'_>,
        schema: Option<String>,
        name: String,
        data: PyArrowType<RecordBatchStreamReader>,
        mode: &str,
        key: Option<Vec<String>>,
        create_if_missing: bool,
        batch_rows: Option<usize>,
    ) -> PyResult<u64> {
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
        let options = WriteOptions { mode, create_if_missing, batch_rows };
        wait(py, self.engine.write(&table, Box::new(data.0), options))
    }

    /// (open connections, idle connections, callers waiting).
    fn status(&self) -> (usize, usize, usize) {
        self.engine.status()
    }

    /// Closes the pool.
    fn close(&self) {
        self.engine.close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.engine.is_closed()
    }
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
