//! Column encoders: one pass per column, writing each row's field at that row's cursor.
//!
//! Rows are laid out first (every column adds its fields' sizes), then each column scatters
//! its values into place, so the type switch happens once per column per batch.

use arrow_array::{Array, ArrayRef};
use arrow_buffer::NullBuffer;

/// Writes one column of a batch into the tuples being built.
pub(super) trait ColumnEncoder {
    /// Adds each row's field size (4-byte length word plus value) to `row_sizes`.
    fn add_sizes(&self, row_sizes: &mut [usize]);
    /// Writes each row's field at `cursors[row]` and advances the cursor past it; a value
    /// the target type cannot hold gives `Err((row, reason))`.
    fn write(&self, out: &mut [u8], cursors: &mut [usize]) -> Result<(), (usize, String)>;
}

fn is_null(nulls: Option<&NullBuffer>, row: usize) -> bool {
    nulls.is_some_and(|n| n.is_null(row))
}

fn put(out: &mut [u8], cursor: &mut usize, bytes: &[u8]) {
    out[*cursor..*cursor + bytes.len()].copy_from_slice(bytes);
    *cursor += bytes.len();
}

const NULL_FIELD: [u8; 4] = (-1i32).to_be_bytes();

/// Fixed-width values: `convert(row)` gives the N wire bytes of a non-null row, or why not.
pub(super) struct Fixed<'a, const N: usize, F> {
    pub nulls: Option<&'a NullBuffer>,
    pub rows: usize,
    pub convert: F,
}

impl<const N: usize, F: Fn(usize) -> Result<[u8; N], String>> ColumnEncoder for Fixed<'_, N, F> {
    fn add_sizes(&self, row_sizes: &mut [usize]) {
        for (row, size) in row_sizes.iter_mut().enumerate().take(self.rows) {
            *size += if is_null(self.nulls, row) { 4 } else { 4 + N };
        }
    }

    fn write(&self, out: &mut [u8], cursors: &mut [usize]) -> Result<(), (usize, String)> {
        let len = (N as i32).to_be_bytes();
        for (row, cursor) in cursors.iter_mut().enumerate().take(self.rows) {
            if is_null(self.nulls, row) {
                put(out, cursor, &NULL_FIELD);
            } else {
                let value = (self.convert)(row).map_err(|reason| (row, reason))?;
                put(out, cursor, &len);
                put(out, cursor, &value);
            }
        }
        Ok(())
    }
}

/// Variable-length values borrowed from the array, with an optional prefix byte (jsonb's
/// version).
pub(super) struct Borrowed<'a, F> {
    pub nulls: Option<&'a NullBuffer>,
    pub rows: usize,
    pub prefix: Option<u8>,
    pub value: F,
}

impl<'a, F: Fn(usize) -> &'a [u8]> ColumnEncoder for Borrowed<'a, F> {
    fn add_sizes(&self, row_sizes: &mut [usize]) {
        let extra = 4 + self.prefix.is_some() as usize;
        for (row, size) in row_sizes.iter_mut().enumerate().take(self.rows) {
            *size += if is_null(self.nulls, row) { 4 } else { extra + (self.value)(row).len() };
        }
    }

    fn write(&self, out: &mut [u8], cursors: &mut [usize]) -> Result<(), (usize, String)> {
        for (row, cursor) in cursors.iter_mut().enumerate().take(self.rows) {
            if is_null(self.nulls, row) {
                put(out, cursor, &NULL_FIELD);
                continue;
            }
            let value = (self.value)(row);
            let len = value.len() + self.prefix.is_some() as usize;
            // Fits: the batch was checked to stay under 2 GiB per value before encoding.
            put(out, cursor, &(len as i32).to_be_bytes());
            if let Some(prefix) = self.prefix {
                put(out, cursor, &[prefix]);
            }
            put(out, cursor, value);
        }
        Ok(())
    }
}

/// Values encoded ahead into a buffer of their own (numeric, arrays): `offsets[row]..offsets[row
/// + 1]` of `data`.
pub(super) struct PreEncoded<'a> {
    pub nulls: Option<&'a NullBuffer>,
    pub data: Vec<u8>,
    pub offsets: Vec<usize>,
}

impl PreEncoded<'_> {
    /// Encodes every non-null row of `array` with `encode_value`.
    pub fn build<'a>(
        array: &'a ArrayRef,
        mut encode_value: impl FnMut(usize, &mut Vec<u8>) -> Result<(), String>,
    ) -> Result<PreEncoded<'a>, (usize, String)> {
        let mut data = Vec::new();
        let mut offsets = Vec::with_capacity(array.len() + 1);
        offsets.push(0);
        for row in 0..array.len() {
            if !array.is_null(row) {
                encode_value(row, &mut data).map_err(|reason| (row, reason))?;
            }
            offsets.push(data.len());
        }
        Ok(PreEncoded { nulls: array.nulls(), data, offsets })
    }
}

impl ColumnEncoder for PreEncoded<'_> {
    fn add_sizes(&self, row_sizes: &mut [usize]) {
        for (row, size) in row_sizes.iter_mut().enumerate().take(self.offsets.len() - 1) {
            *size += 4 + if is_null(self.nulls, row) { 0 } else { self.offsets[row + 1] - self.offsets[row] };
        }
    }

    fn write(&self, out: &mut [u8], cursors: &mut [usize]) -> Result<(), (usize, String)> {
        for (row, cursor) in cursors.iter_mut().enumerate().take(self.offsets.len() - 1) {
            if is_null(self.nulls, row) {
                put(out, cursor, &NULL_FIELD);
                continue;
            }
            let value = &self.data[self.offsets[row]..self.offsets[row + 1]];
            put(out, cursor, &(value.len() as i32).to_be_bytes());
            put(out, cursor, value);
        }
        Ok(())
    }
}
