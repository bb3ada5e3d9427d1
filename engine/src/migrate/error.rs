//! What can go wrong reading, applying or reverting migrations.

use thiserror::Error;

/// An error of the migration runner.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The migrations folder could not be read, or a file in it is misnamed or duplicated.
    #[error("migrations folder {path}: {reason}")]
    Source {
        /// The folder or file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A statement of a migration file failed; the migration was rolled back (unless the file is
    /// marked `-- no-transaction`, where the statements before this one stay applied).
    #[error("{}", statement_message(.0))]
    Statement(Box<StatementError>),
    /// Connecting, locking or reading/writing the metadata table failed.
    #[error("{context}: {source}")]
    Database {
        /// What the runner was doing.
        context: String,
        /// sqlx's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applied migrations whose file changed since: the runner refuses to go on unless told to repair.
    #[error(
        "the checksum of applied migration(s) {} changed since they were applied; revert the edit, or pass repair \
         to record the new checksum",
        files.join(", ")
    )]
    ChecksumChanged {
        /// The changed files.
        files: Vec<String>,
    },
    /// Applied migrations with no file in the folder.
    #[error(
        "migration(s) {versions:?} were applied but are missing from the folder; pass ignore_missing to go on anyway"
    )]
    Missing {
        /// Their versions.
        versions: Vec<i64>,
    },
    /// A migration recorded as failed (`success = false`, left by a failed no-transaction migration
    /// of another sqlx-based tool): fix the database by hand, then delete its row.
    #[error("migration {0} is recorded as partially applied (success = false in _sqlx_migrations); fix it by hand and delete that row")]
    Dirty(i64),
    /// A rollback would need a migration that has no down file.
    #[error("migration {file} is irreversible: it has no .down.sql file")]
    Irreversible {
        /// Its version.
        version: i64,
        /// Its up file.
        file: String,
    },
    /// The connection settings are invalid.
    #[error(transparent)]
    Config(#[from] crate::Error),
    /// The call's options do not make sense together (or with these migrations).
    #[error("{0}")]
    Usage(String),
}

/// A statement that failed, with the server's report.
#[derive(Debug)]
#[non_exhaustive]
pub struct StatementError {
    /// The migration's version.
    pub version: i64,
    /// The file (name within the folder).
    pub file: String,
    /// 1-based index of the statement in the file.
    pub index: usize,
    /// 1-based line where the statement starts.
    pub line: usize,
    /// The statement's text.
    pub statement: String,
    /// 1-based (line, column) in the file of the server's error position, when it gave one.
    pub position: Option<(usize, usize)>,
    /// The server's error position in characters into `statement`, when it gave one.
    pub statement_position: Option<usize>,
    /// SQLSTATE, when the server reported the error.
    pub sqlstate: Option<String>,
    /// The server's message (or the driver's, for a lost connection).
    pub message: String,
    /// DETAIL, if any.
    pub detail: Option<String>,
    /// HINT, if any.
    pub hint: Option<String>,
    /// Whether the file runs outside a transaction (the statements before this one then stay applied).
    pub no_transaction: bool,
    /// sqlx's error.
    pub source: sqlx::Error,
}

/// Statements longer than this many lines are cut in error messages (not in the field).
const SHOWN_LINES: usize = 12;

fn statement_message(e: &StatementError) -> String {
    let at = match e.position {
        Some((line, column)) => format!(" at line {line}, column {column}"),
        None => String::new(),
    };
    let code = e.sqlstate.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
    let mut shown: Vec<&str> = e.statement.lines().take(SHOWN_LINES).collect();
    if e.statement.lines().nth(SHOWN_LINES).is_some() {
        shown.push("...");
    }
    let mut text = format!(
        "{}: statement {} (line {}) failed{at}: {}{code}\n    {}",
        e.file,
        e.index,
        e.line,
        e.message,
        shown.join("\n    ")
    );
    if let Some(detail) = &e.detail {
        text.push_str(&format!("\nDETAIL: {detail}"));
    }
    if let Some(hint) = &e.hint {
        text.push_str(&format!("\nHINT: {hint}"));
    }
    if e.no_transaction {
        text.push_str("\n(the file is marked -- no-transaction: the statements before this one stay applied)");
    }
    text
}

impl MigrateError {
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> MigrateError {
        let context = context.into();
        move |source| MigrateError::Database { context, source }
    }

    /// The SQLSTATE of the server error behind this one, if any.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            MigrateError::Statement(e) => e.sqlstate.clone(),
            MigrateError::Database { source: sqlx::Error::Database(db), .. } => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }
}
