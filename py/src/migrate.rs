//! `data_bridge._native.migrate`, `rollback` and `migration_status`: the engine's migration runner
//! (`data_bridge_postgres::migrate`) for `data_bridge/migrations.py`, which wraps the plain dicts
//! returned here in dataclasses.
//!
//! Migration errors become `data_bridge.migrations.MigrationError` (and subclasses), built by
//! `migrations._make_error` from a kind and a dict of fields.

use std::future::Future;
use std::time::UNIX_EPOCH;

use data_bridge_postgres::migrate::{Applied, MigrateError, MigrateOptions, Migrations, Problem, RollbackTo, Status};
use data_bridge_postgres::runtime;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

/// Runs `future` with the GIL released, checking for Ctrl-C while it waits (dropping the future
/// closes the connection, and the server rolls back the migration in progress).
fn wait<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = Result<T, MigrateError>> + Send,
    T: Send,
{
    let outcome = py.detach(|| runtime::block_on_interruptible(future, || Python::attach(|py| py.check_signals())));
    outcome?.map_err(|e| to_py(py, e))
}

fn load(py: Python<'_>, directory: &str) -> PyResult<Migrations> {
    Migrations::from_dir(directory).map_err(|e| to_py(py, e))
}

/// Applies the pending migrations of `directory`; returns the applied ones as dicts.
#[pyfunction]
#[pyo3(signature = (url, directory, target=None, repair=false, ignore_missing=false, single_transaction=false))]
pub fn migrate<'py>(
    py: Python<'py>,
    url: Option<&str>,
    directory: &str,
    target: Option<i64>,
    repair: bool,
    ignore_missing: bool,
    single_transaction: bool,
) -> PyResult<Bound<'py, PyList>> {
    let migrations = load(py, directory)?;
    let options = MigrateOptions::default()
        .target(target)
        .repair(repair)
        .ignore_missing(ignore_missing)
        .single_transaction(single_transaction);
    let applied = wait(py, migrations.run(url, &options))?;
    steps(py, &applied)
}

/// Reverts the latest `steps` migrations, or those above version `target`; returns them as dicts.
#[pyfunction]
#[pyo3(signature = (url, directory, steps=None, target=None, single_transaction=false))]
pub fn rollback<'py>(
    py: Python<'py>,
    url: Option<&str>,
    directory: &str,
    steps: Option<usize>,
    target: Option<i64>,
    single_transaction: bool,
) -> PyResult<Bound<'py, PyList>> {
    let to = match (steps, target) {
        (Some(_), Some(_)) => return Err(make(py, "usage", "give steps or target, not both", None)),
        (_, Some(version)) => RollbackTo::Version(version),
        (steps, None) => RollbackTo::Steps(steps.unwrap_or(1)),
    };
    let migrations = load(py, directory)?;
    let options = MigrateOptions::default().single_transaction(single_transaction);
    let reverted = wait(py, migrations.rollback(url, to, &options))?;
    self::steps(py, &reverted)
}

/// `{"applied": [...], "pending": [...], "problems": [...]}` for `directory` on the database at `url`.
#[pyfunction]
pub fn migration_status<'py>(py: Python<'py>, url: Option<&str>, directory: &str) -> PyResult<Bound<'py, PyDict>> {
    let migrations = load(py, directory)?;
    let status = wait(py, migrations.status(url))?;
    status_dict(py, &status)
}

fn steps<'py>(py: Python<'py>, done: &[Applied]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for step in done {
        let d = PyDict::new(py);
        d.set_item("version", step.version)?;
        d.set_item("description", &step.description)?;
        d.set_item("file", &step.file)?;
        d.set_item("elapsed", step.elapsed.as_secs_f64())?;
        list.append(d)?;
    }
    Ok(list)
}

fn status_dict<'py>(py: Python<'py>, status: &Status) -> PyResult<Bound<'py, PyDict>> {
    let applied = PyList::empty(py);
    for a in &status.applied {
        let d = PyDict::new(py);
        d.set_item("version", a.version)?;
        d.set_item("description", &a.description)?;
        d.set_item("file", &a.file)?;
        let installed = a.installed_on.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        d.set_item("installed_on", installed)?;
        d.set_item("execution_time", a.execution_time.map(|t| t.as_secs_f64()))?;
        d.set_item("success", a.success)?;
        d.set_item("checksum_matches", a.checksum_matches)?;
        d.set_item("reversible", a.reversible)?;
        applied.append(d)?;
    }
    let pending = PyList::empty(py);
    for p in &status.pending {
        let d = PyDict::new(py);
        d.set_item("version", p.version)?;
        d.set_item("description", &p.description)?;
        d.set_item("file", &p.file)?;
        d.set_item("reversible", p.reversible)?;
        d.set_item("no_transaction", p.no_transaction)?;
        pending.append(d)?;
    }
    let problems = PyList::empty(py);
    for p in &status.problems {
        let d = PyDict::new(py);
        d.set_item("kind", p.kind())?;
        d.set_item("version", p.version())?;
        d.set_item("message", p.to_string())?;
        let file = match p {
            Problem::ChecksumChanged { file, .. } | Problem::Gap { file, .. } => Some(file.as_str()),
            _ => None,
        };
        d.set_item("file", file)?;
        problems.append(d)?;
    }
    let out = PyDict::new(py);
    out.set_item("applied", applied)?;
    out.set_item("pending", pending)?;
    out.set_item("problems", problems)?;
    Ok(out)
}

/// The one place where migration errors become Python exceptions.
fn to_py(py: Python<'_>, error: MigrateError) -> PyErr {
    let message = error.to_string();
    let fields = PyDict::new(py);
    let filled: PyResult<&str> = (|| {
        Ok(match &error {
            MigrateError::Statement(e) => {
                fields.set_item("version", e.version)?;
                fields.set_item("file", &e.file)?;
                fields.set_item("statement", &e.statement)?;
                fields.set_item("statement_index", e.index)?;
                fields.set_item("line", e.line)?;
                fields.set_item("position", e.position)?;
                fields.set_item("sqlstate", &e.sqlstate)?;
                let diag = PyDict::new(py);
                diag.set_item("message_primary", &e.message)?;
                diag.set_item("message_detail", &e.detail)?;
                diag.set_item("message_hint", &e.hint)?;
                diag.set_item("statement_position", e.statement_position)?;
                fields.set_item("diag", diag)?;
                "statement"
            }
            MigrateError::ChecksumChanged { files } => {
                fields.set_item("files", files)?;
                "checksum_changed"
            }
            MigrateError::Missing { versions } => {
                fields.set_item("versions", versions)?;
                "missing"
            }
            MigrateError::Irreversible { version, file } => {
                fields.set_item("version", version)?;
                fields.set_item("file", file)?;
                "irreversible"
            }
            MigrateError::Dirty(version) => {
                fields.set_item("version", version)?;
                "dirty"
            }
            MigrateError::Database { .. } => {
                fields.set_item("sqlstate", error.sqlstate())?;
                "database"
            }
            MigrateError::Source { .. } => "source",
            _ => "usage",
        })
    })();
    match filled {
        Ok(kind) => make(py, kind, &message, Some(fields)),
        Err(e) => e,
    }
}

fn make(py: Python<'_>, kind: &str, message: &str, fields: Option<Bound<'_, PyDict>>) -> PyErr {
    static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let built = FACTORY
        .get_or_try_init(py, || py.import("data_bridge.migrations")?.getattr("_make_error").map(Bound::unbind))
        .and_then(|factory| factory.bind(py).call1((kind, message, fields)));
    match built {
        Ok(exception) => PyErr::from_value(exception),
        Err(import_error) => import_error,
    }
}
