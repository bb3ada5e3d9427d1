//! The one place where Rust errors become Python exceptions.
//!
//! The exception classes live in Python (`data_bridge/errors.py`) so they pickle and carry
//! docstrings; `errors._make` picks the class from the SQLSTATE (exact code, then its class)
//! or, for errors without one, from the kind given here.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use data_bridge_postgres::{Error, ErrorPosition};

/// Builds a `data_bridge` exception of `kind` ("interface", "operational", "programming",
/// "data", "internal", "database") with `message`.
pub fn new_error(py: Python<'_>, kind: &str, message: &str) -> PyErr {
    make(py, kind, message, None, None)
}

/// Converts an engine error into the matching `data_bridge` exception.
pub fn to_py(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    let kind = match &error {
        Error::Server(_) => "database",
        Error::PoolTimeout(_) => "pool_timeout",
        Error::Connect { .. } | Error::Connection(_) | Error::Cancelled => "operational",
        Error::Config(_)
        | Error::Usage(_)
        | Error::Query(_)
        | Error::ParamCount { .. }
        | Error::MissingColumn { .. } => "programming",
        Error::Param { .. } | Error::Codec(_) | Error::Source(_) | Error::UnsupportedType { .. } => "data",
        Error::Closed | Error::TransactionDone | Error::Busy => "interface",
        _ => "internal",
    };
    let diag = error.db_error().and_then(|db| {
        let diag = PyDict::new(py);
        let position = |p: Option<&ErrorPosition>, internal: bool| match p {
            Some(ErrorPosition::Original(at)) if !internal => Some(*at),
            Some(ErrorPosition::Internal { position, .. }) if internal => Some(*position),
            _ => None,
        };
        let internal_query = match db.position() {
            Some(ErrorPosition::Internal { query, .. }) => Some(query.as_str()),
            _ => None,
        };
        let fields: [(&str, Option<&str>); 12] = [
            ("severity", Some(db.severity())),
            ("message_primary", Some(db.message())),
            ("message_detail", db.detail()),
            ("message_hint", db.hint()),
            ("context", db.where_()),
            ("schema_name", db.schema()),
            ("table_name", db.table()),
            ("column_name", db.column()),
            ("datatype_name", db.datatype()),
            ("constraint_name", db.constraint()),
            ("internal_query", internal_query),
            ("source_function", db.routine()),
        ];
        let filled = fields.iter().try_for_each(|(key, value)| diag.set_item(key, value)).and_then(|_| {
            diag.set_item("statement_position", position(db.position(), false))?;
            diag.set_item("internal_position", position(db.position(), true))?;
            diag.set_item("source_file", db.file())?;
            diag.set_item("source_line", db.line())
        });
        filled.ok().map(|_| diag)
    });
    make(py, kind, &message, error.sqlstate(), diag)
}

fn make(py: Python<'_>, kind: &str, message: &str, sqlstate: Option<&str>, diag: Option<Bound<'_, PyDict>>) -> PyErr {
    static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let built = FACTORY
        .get_or_try_init(py, || py.import("data_bridge.errors")?.getattr("_make").map(Bound::unbind))
        .and_then(|factory| factory.bind(py).call1((kind, message, sqlstate, diag)));
    match built {
        Ok(exception) => PyErr::from_value(exception),
        // The errors module failed to import: still raise, with the original message.
        Err(import_error) => import_error,
    }
}
