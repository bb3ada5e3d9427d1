//! Column decoders: one pass per column over the field positions of a chunk.
//!
//! [`Decoder`] is the public surface; the per-family functions stay private. The type switch
//! (`decode_column`) runs once per column per chunk, never per value.

mod fixed;
mod list;
mod nested;
mod numeric;
mod varlen;

pub(crate) use list::MAX_DIMS;
pub use list::{has_arrays, sample_array_dims};
#[cfg(test)]
pub(crate) use numeric::Numeric;

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{Schema, SchemaRef};

use crate::error::{CodecError, Result};
use crate::pg_type::{arrow_field, ColumnSpec, DecodeOptions, Kind};
use crate::tuple::{self, FieldPos};

/// Decodes chunks of binary COPY tuples into Arrow record batches.
///
/// Built once per result from the server's column description; [`Decoder::decode`] is pure and
/// can run on many chunks at once.
#[derive(Debug)]
pub struct Decoder {
    columns: Vec<(ColumnSpec, Kind)>,
    schema: SchemaRef,
}

impl Decoder {
    /// A decoder for a result with these columns.
    ///
    /// Columns whose type has no native decoder (see [`crate::needs_text_cast`]) are expected
    /// to arrive as text, so the query must cast them with `::text`.
    pub fn new(columns: Vec<ColumnSpec>, options: &DecodeOptions) -> Self {
        let columns: Vec<_> = columns
            .into_iter()
            .map(|spec| {
                let kind = Kind::of(&spec, options).unwrap_or(Kind::Text);
                (spec, kind)
            })
            .collect();
        let fields: Vec<_> = columns.iter().map(|(spec, kind)| arrow_field(spec, kind)).collect();
        Decoder { columns, schema: Arc::new(Schema::new(fields)) }
    }

    /// The Arrow schema of every batch this decoder produces.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Decodes whole tuples (the stream's header already removed; a trailer may end it).
    pub fn decode(&self, chunk: &[u8]) -> Result<RecordBatch> {
        let fields = tuple::split(chunk, self.columns.len())?;
        let arrays = self
            .columns
            .iter()
            .enumerate()
            .map(|(index, (spec, kind))| decode_column(kind, &Column { chunk, positions: fields.column(index), spec }))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(fields.rows));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)?)
    }
}

pub(crate) fn decode_column(kind: &Kind, col: &Column<'_>) -> Result<ArrayRef> {
    match *kind {
        Kind::Bool => fixed::boolean(col),
        Kind::Int2 => fixed::int2(col),
        Kind::Int4 => fixed::int4(col),
        Kind::Int8 => fixed::int8(col),
        Kind::Oid => fixed::oid(col),
        Kind::Float4 => fixed::float4(col),
        Kind::Float8 => fixed::float8(col),
        Kind::Date => fixed::date(col),
        Kind::Time => fixed::time(col),
        Kind::Timestamp(unit) => fixed::timestamp(col, unit, None),
        Kind::Timestamptz(unit) => fixed::timestamp(col, unit, Some("UTC")),
        Kind::Interval => fixed::interval(col),
        Kind::Uuid => fixed::uuid(col),
        Kind::UuidText => fixed::uuid_text(col),
        Kind::UInt64 => fixed::uint64(col),
        Kind::Money => fixed::money(col),
        Kind::Bits => varlen::bits(col),
        Kind::Char => varlen::char_text(col),
        Kind::Enum => varlen::dictionary(col),
        Kind::TimeTz => nested::timetz(col),
        Kind::Composite(ref attributes) => nested::composite(col, attributes),
        Kind::Range(ref subtype) => nested::range(col, subtype),
        Kind::Multirange(ref subtype) => nested::multirange(col, subtype),
        Kind::Hstore => nested::hstore(col),
        Kind::Decimal { precision, scale } => numeric::decimal(col, precision, scale),
        Kind::NumericText => numeric::text(col),
        Kind::NumericFloat => numeric::float64(col),
        Kind::Text => varlen::text(col, 0),
        Kind::Jsonb => varlen::text(col, 1),
        Kind::Bytea => varlen::binary(col),
        Kind::List(ref element) => list::list(col, element),
    }
}

/// The values of one column of one chunk (or the elements of an array column), with what
/// errors need to name it.
pub(crate) struct Column<'a> {
    pub chunk: &'a [u8],
    pub positions: &'a [FieldPos],
    pub spec: &'a ColumnSpec,
}

impl Column<'_> {
    pub fn rows(&self) -> usize {
        self.positions.len()
    }

    pub fn positions(&self) -> impl ExactSizeIterator<Item = FieldPos> + '_ {
        self.positions.iter().copied()
    }

    /// The validity bitmap, or `None` when the column has no NULL in this chunk.
    pub fn nulls(&self) -> Option<NullBuffer> {
        // Most columns of most chunks have no NULL: one quick scan settles it.
        if !self.positions.iter().any(|field| field.is_null()) {
            return None;
        }
        let valid = BooleanBuffer::collect_bool(self.rows(), |row| !self.positions[row].is_null());
        Some(NullBuffer::new(valid))
    }

    pub fn bad_length(&self, row: usize, expected: &'static str, got: i32) -> CodecError {
        CodecError::BadLength { column: self.spec.name.clone(), pg_type: self.spec.pg_type.clone(), row, expected, got }
    }

    pub fn invalid(&self, row: usize, reason: impl Into<String>) -> CodecError {
        CodecError::Invalid {
            column: self.spec.name.clone(),
            pg_type: self.spec.pg_type.clone(),
            row,
            reason: reason.into(),
        }
    }

    pub fn out_of_range(&self, row: usize, reason: impl Into<String>) -> CodecError {
        CodecError::OutOfRange {
            column: self.spec.name.clone(),
            pg_type: self.spec.pg_type.clone(),
            row,
            reason: reason.into(),
        }
    }
}
