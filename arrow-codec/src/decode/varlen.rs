//! Variable-length types: text (and everything sent as text), jsonb, bytea.

use std::sync::Arc;

use arrow_array::{ArrayRef, BinaryArray, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer};

use super::Column;
use crate::error::Result;

/// jsonb's binary format starts with a version byte; 1 is the only one defined.
const JSONB_VERSION: u8 = 1;

/// Copies every value's bytes (after `skip` leading bytes) into one buffer with offsets.
fn gather(col: &Column<'_>, skip: usize) -> Result<(OffsetBuffer<i32>, Buffer)> {
    let total: usize = col.positions().map(|f| f.bytes(col.chunk).len().saturating_sub(skip)).sum();
    if i32::try_from(total).is_err() {
        return Err(col.out_of_range(0, "more than 2 GiB of values in one batch; use a smaller batch_rows"));
    }
    let mut values = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(col.rows() + 1);
    offsets.push(0i32);
    for (row, field) in col.positions().enumerate() {
        let bytes = field.bytes(col.chunk);
        if skip > 0 && !field.is_null() {
            match bytes.first() {
                Some(&JSONB_VERSION) => {}
                other => return Err(col.invalid(row, format!("unknown jsonb version {other:?}"))),
            }
        }
        values.extend_from_slice(bytes.get(skip..).unwrap_or_default());
        // Cannot overflow: the sum of all lengths was checked to fit i32 above.
        offsets.push(values.len() as i32);
    }
    Ok((OffsetBuffer::new(offsets.into()), values.into()))
}

/// Text-like values into a string array; `skip` drops a version prefix (1 for jsonb).
///
/// UTF-8 is validated by Arrow for the whole buffer at once, which is far cheaper than a
/// check per value.
pub(super) fn text(col: &Column<'_>, skip: usize) -> Result<ArrayRef> {
    let (offsets, values) = gather(col, skip)?;
    match StringArray::try_new(offsets, values, col.nulls()) {
        Ok(array) => Ok(Arc::new(array)),
        Err(_) => Err(first_invalid_utf8(col, skip)),
    }
}

/// Finds the row holding invalid UTF-8, for an error that points at it.
fn first_invalid_utf8(col: &Column<'_>, skip: usize) -> crate::CodecError {
    let row = col
        .positions()
        .position(|f| std::str::from_utf8(f.bytes(col.chunk).get(skip..).unwrap_or_default()).is_err())
        .unwrap_or(0);
    col.invalid(row, "invalid UTF-8 in a text value")
}

pub(super) fn binary(col: &Column<'_>) -> Result<ArrayRef> {
    let (offsets, values) = gather(col, 0)?;
    Ok(Arc::new(BinaryArray::try_new(offsets, values, col.nulls())?))
}
