//! Engine futures as asyncio awaitables.
//!
//! The future runs on the engine's tokio runtime; its result is handed to the event loop
//! with `call_soon_threadsafe`, so the loop never blocks. Cancelling the asyncio future
//! aborts the tokio task, which drops the engine's future: the query is cancelled on the
//! server exactly as on Ctrl-C.

use std::future::Future;

use data_bridge_postgres::runtime;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tokio::task::AbortHandle;

use crate::errors::to_py;

/// An asyncio future (of the running loop) completed with `convert(future's output)`.
pub fn awaitable<'py, F, T, C>(py: Python<'py>, future: F, convert: C) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = data_bridge_postgres::Result<T>> + Send + 'static,
    T: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let py_future = event_loop.call_method0("create_future")?;
    let (loop_ref, future_ref) = (event_loop.unbind(), py_future.clone().unbind());
    let task = runtime::runtime().spawn(async move {
        let outcome = future.await;
        Python::attach(|py| {
            let (ok, value) = match outcome.map_err(|e| to_py(py, e)).and_then(|value| convert(py, value)) {
                Ok(value) => (true, value),
                Err(error) => (false, error.into_value(py).into_any()),
            };
            // The loop may be closed by now: then nobody is waiting for the answer.
            let _ = complete(py).and_then(|complete| {
                loop_ref.call_method1(py, "call_soon_threadsafe", (complete, future_ref, ok, value))
            });
        });
    });
    py_future.call_method1("add_done_callback", (AbortOnCancel { task: task.abort_handle() },))?;
    Ok(py_future)
}

/// `data_bridge.aio._complete(future, ok, value)`: sets the result unless it was cancelled.
fn complete(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static COMPLETE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    COMPLETE
        .get_or_try_init(py, || py.import("data_bridge.aio")?.getattr("_complete").map(Bound::unbind))
        .map(|complete| complete.bind(py))
}

/// Done-callback of the asyncio future: a cancelled future aborts the engine's task.
#[pyclass(frozen, module = "data_bridge._native")]
struct AbortOnCancel {
    task: AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}
