//! Variable-length types: text (and everything sent as text), jsonb, bytea.

use std::sync::Arc;

use std::collections::HashMap;

use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, BinaryArray, DictionaryArray, Int32Array, StringArray};
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

/// bit and varbit: the bit count (i32) then the bits, most significant first, into a string
/// of '0' and '1'.
pub(super) fn bits(col: &Column<'_>) -> Result<ArrayRef> {
    let mut values = Vec::new();
    let mut offsets = Vec::with_capacity(col.rows() + 1);
    offsets.push(0i32);
    for (row, field) in col.positions().enumerate() {
        if !field.is_null() {
            let bytes = field.bytes(col.chunk);
            let count = bytes
                .get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .filter(|&n| n >= 0 && bytes.len() - 4 == (n as usize).div_ceil(8))
                .ok_or_else(|| col.invalid(row, "bit string length does not match its bytes"))?;
            for bit in 0..count as usize {
                let set = bytes[4 + bit / 8] & (0x80 >> (bit % 8)) != 0;
                values.push(if set { b'1' } else { b'0' });
            }
        }
        let end = i32::try_from(values.len()).map_err(|_| col.out_of_range(row, "batch over 2 GiB"))?;
        offsets.push(end);
    }
    Ok(Arc::new(StringArray::try_new(OffsetBuffer::new(offsets.into()), values.into(), col.nulls())?))
}

/// Enum labels into dictionary<int32, string>, one dictionary entry per distinct label seen in
/// the batch (in order of first appearance).
pub(super) fn dictionary(col: &Column<'_>) -> Result<ArrayRef> {
    let mut index: HashMap<&[u8], i32> = HashMap::new();
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut keys = Vec::with_capacity(col.rows());
    for field in col.positions() {
        if field.is_null() {
            keys.push(0);
            continue;
        }
        let label = field.bytes(col.chunk);
        let next = labels.len() as i32;
        let key = *index.entry(label).or_insert_with(|| {
            labels.push(label);
            next
        });
        keys.push(key);
    }
    let mut values = Vec::new();
    let mut offsets = vec![0i32];
    for label in &labels {
        values.extend_from_slice(label);
        offsets.push(values.len() as i32);
    }
    let values = StringArray::try_new(OffsetBuffer::new(offsets.into()), values.into(), None)
        .map_err(|_| first_invalid_utf8(col, 0))?;
    let keys = Int32Array::new(keys.into(), col.nulls());
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))?))
}

/// "char": its one byte as `charout` prints it: nothing for 0, `\ooo` (octal) for bytes with
/// the high bit set, else the character.
pub(super) fn char_text(col: &Column<'_>) -> Result<ArrayRef> {
    let mut values = Vec::with_capacity(col.rows());
    let mut offsets = Vec::with_capacity(col.rows() + 1);
    offsets.push(0i32);
    for (row, field) in col.positions().enumerate() {
        match field.bytes(col.chunk) {
            _ if field.is_null() => {}
            [0] => {}
            [byte] if *byte >= 0x80 => values.extend_from_slice(format!("\\{byte:03o}").as_bytes()),
            [byte] => values.push(*byte),
            _ => return Err(col.bad_length(row, "1", field.len)),
        }
        offsets.push(values.len() as i32);
    }
    Ok(Arc::new(StringArray::try_new(OffsetBuffer::new(offsets.into()), values.into(), col.nulls())?))
}
