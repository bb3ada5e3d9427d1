//! The codec's error type.

use thiserror::Error;

/// Everything that can go wrong turning PostgreSQL binary data into Arrow.
///
/// `column` is the result column's name and `row` the row's index within the chunk being
/// decoded (0-based), so a caller can point at the offending value.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The stream does not start with the `PGCOPY` signature, or its header is cut short.
    #[error("not a PostgreSQL binary COPY stream: {reason}")]
    BadHeader {
        /// What was wrong with the header.
        reason: &'static str,
    },
    /// The stream ended in the middle of a row.
    #[error("truncated COPY data at byte {offset}: {what}")]
    Truncated {
        /// Offset into the chunk where more bytes were expected.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A row has a different number of fields from the result's columns.
    #[error("row {row} has {got} fields, the result has {expected} columns")]
    FieldCount {
        /// Row index within the chunk.
        row: usize,
        /// Columns in the result description.
        expected: usize,
        /// Fields found in the row.
        got: i64,
    },
    /// A value's byte length does not fit its type.
    #[error("column {column:?} ({pg_type}), row {row}: expected {expected} bytes, got {got}")]
    BadLength {
        /// Column name.
        column: String,
        /// PostgreSQL type name.
        pg_type: String,
        /// Row index within the chunk.
        row: usize,
        /// Expected length in bytes (a description for variable-length types).
        expected: &'static str,
        /// Length found on the wire.
        got: i32,
    },
    /// A value is malformed for its type (bad numeric digits, invalid UTF-8, ...).
    #[error("column {column:?} ({pg_type}), row {row}: {reason}")]
    Invalid {
        /// Column name.
        column: String,
        /// PostgreSQL type name.
        pg_type: String,
        /// Row index within the chunk.
        row: usize,
        /// Why the value was rejected.
        reason: String,
    },
    /// A value is valid PostgreSQL but cannot be represented in the column's Arrow type.
    #[error("column {column:?} ({pg_type}), row {row}: {reason}")]
    OutOfRange {
        /// Column name.
        column: String,
        /// PostgreSQL type name.
        pg_type: String,
        /// Row index within the chunk.
        row: usize,
        /// Why the value does not fit, and what to do about it.
        reason: String,
    },
    /// An Arrow column cannot be written into its PostgreSQL column without loss.
    #[error("column {column:?}: cannot write Arrow {arrow_type} into PostgreSQL {pg_type}")]
    Incompatible {
        /// Column name.
        column: String,
        /// The Arrow type of the data.
        arrow_type: String,
        /// The PostgreSQL type of the column.
        pg_type: String,
    },
    /// An option given by the caller is not understood.
    #[error("unknown type option {key}={value:?}: {reason}")]
    BadOption {
        /// Option name.
        key: String,
        /// Option value.
        value: String,
        /// The accepted values.
        reason: &'static str,
    },
    /// Arrow refused to build an array (a bug if it ever happens: report it).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

impl CodecError {
    /// The same error with its row index passed through `row_of` (an element's index within
    /// a chunk's arrays turned into the row holding it).
    pub(crate) fn with_row(mut self, row_of: impl Fn(usize) -> usize) -> Self {
        if let CodecError::BadLength { row, .. }
        | CodecError::Invalid { row, .. }
        | CodecError::OutOfRange { row, .. } = &mut self
        {
            *row = row_of(*row);
        }
        self
    }
}

/// The row whose `offsets[row]..offsets[row + 1]` holds element `index`.
pub(crate) fn row_of_element<T: Copy + TryInto<usize>>(offsets: &[T], index: usize) -> usize {
    offsets.partition_point(|&start| start.try_into().is_ok_and(|start| start <= index)).saturating_sub(1)
}

/// The codec's result type.
pub type Result<T, E = CodecError> = std::result::Result<T, E>;
