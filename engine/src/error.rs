//! The engine's error type, with the server's SQLSTATE where there is one.

use std::error::Error as StdError;

use thiserror::Error;
use tokio_postgres::error::DbError;

use crate::param::ParamError;

/// Everything that can go wrong talking to PostgreSQL.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The server reported an error (it has a SQLSTATE).
    #[error("{}", server_message(.0))]
    Server(Box<DbError>),
    /// No connection could be opened.
    #[error("could not connect to {target}: {reason}")]
    Connect {
        /// `host:port` (or socket path) tried.
        target: String,
        /// What the network or the server said.
        reason: String,
    },
    /// An open connection broke (closed by the server, network failure, ...).
    #[error("connection lost: {0}")]
    Connection(String),
    /// No pooled connection became free in time.
    #[error("no connection available within {0:?}")]
    PoolTimeout(std::time::Duration),
    /// The connection settings are invalid.
    #[error("invalid connection settings: {0}")]
    Config(String),
    /// The transaction was already committed or rolled back.
    #[error("the transaction is already committed or rolled back")]
    TransactionDone,
    /// The connection is in use by an open read stream (one statement at a time).
    #[error("the connection is busy: finish or close the open read_batches stream first")]
    Busy,
    /// A built statement is misbuilt, or typed rows do not match their data.
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    /// The call's arguments do not make sense together.
    #[error("{0}")]
    Usage(String),
    /// The query has a different number of placeholders from the parameters given.
    #[error("the query has {expected} parameter(s) but {got} were given")]
    ParamCount {
        /// Placeholders in the statement.
        expected: usize,
        /// Parameters supplied.
        got: usize,
    },
    /// A parameter value cannot be encoded as the type the server expects.
    #[error("parameter ${}: {reason}", .index + 1)]
    Param {
        /// 0-based parameter index.
        index: usize,
        /// Why it does not fit.
        reason: String,
    },
    /// The data has a column the target table lacks.
    #[error("{table} has no column {column:?}")]
    MissingColumn {
        /// The table, as quoted in SQL.
        table: String,
        /// The data's column.
        column: String,
    },
    /// An Arrow type with no PostgreSQL column type to create yet.
    #[error("column {column:?}: no PostgreSQL type for Arrow {arrow_type} yet")]
    UnsupportedType {
        /// Column name.
        column: String,
        /// The Arrow type.
        arrow_type: String,
    },
    /// The caller's data source failed while it was being read.
    #[error("reading the data failed: {0}")]
    Source(String),
    /// Data from the server could not be decoded into Arrow.
    #[error(transparent)]
    Codec(#[from] data_bridge_arrow_codec::CodecError),
    /// The operation was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
    /// The database handle was closed.
    #[error("the database is closed")]
    Closed,
    /// An engine task stopped without an answer (a bug: please report it).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The server's SQLSTATE code, e.g. `"23505"`.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Server(db) => Some(db.code().code()),
            _ => None,
        }
    }

    /// Whether a cached statement was outdated by a schema change ("cached plan must not
    /// change result type"): running the call again prepares it afresh.
    pub fn is_stale_statement(&self) -> bool {
        self.db_error().is_some_and(is_stale_plan)
    }

    /// The server's full error report (detail, hint, constraint, position, ...).
    pub fn db_error(&self) -> Option<&DbError> {
        match self {
            Error::Server(db) => Some(db),
            _ => None,
        }
    }

    /// Whether retrying the whole transaction may succeed: serialization failure (40001),
    /// deadlock (40P01), or a connection problem (class 08, or a lost connection).
    pub fn is_transient(&self) -> bool {
        match self.sqlstate() {
            Some(code) => code == "40001" || code == "40P01" || code.starts_with("08"),
            None => matches!(self, Error::Connection(_) | Error::Connect { .. }),
        }
    }
}

fn server_message(db: &DbError) -> String {
    let mut message = db.message().to_string();
    if let Some(detail) = db.detail() {
        message.push_str("\nDETAIL:  ");
        message.push_str(detail);
    }
    if let Some(hint) = db.hint() {
        message.push_str("\nHINT:  ");
        message.push_str(hint);
    }
    message
}

/// "cached plan must not change result type" and friends: the statement needs preparing again.
pub(crate) fn is_stale_plan(db: &DbError) -> bool {
    db.code() == &tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED && db.message().contains("cached plan")
}

impl From<tokio_postgres::Error> for Error {
    fn from(error: tokio_postgres::Error) -> Self {
        if let Some(db) = error.as_db_error() {
            return Error::Server(Box::new(db.clone()));
        }
        if let Some(param) = error.source().and_then(|s| s.downcast_ref::<ParamError>()) {
            return Error::Param { index: param.index, reason: param.reason.clone() };
        }
        Error::Connection(error_chain(&error))
    }
}

/// An error and its sources on one line, e.g. "error connecting to server: Connection refused".
pub(crate) fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
