//! Splits a chunk of binary COPY tuples into field positions: the only per-row loop.
//!
//! Column decoders then walk one column at a time over these positions, so the type switch
//! happens once per column and never per value.

use crate::error::{CodecError, Result};

/// Where one field's bytes sit in the chunk. `len` is -1 for NULL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldPos {
    /// Offset of the first byte after the length word.
    pub start: u32,
    /// Byte length, or -1 for NULL.
    pub len: i32,
}

impl FieldPos {
    /// Whether the field is NULL.
    #[inline]
    pub fn is_null(self) -> bool {
        self.len < 0
    }

    /// The field's bytes (empty for NULL).
    #[inline]
    pub fn bytes(self, chunk: &[u8]) -> &[u8] {
        if self.len <= 0 {
            return &[];
        }
        let start = self.start as usize;
        // In bounds: `split` checked start + len <= chunk.len() for every field it produced.
        &chunk[start..start + self.len as usize]
    }
}

/// The fields of a chunk, column by column.
#[derive(Debug)]
pub struct Fields {
    /// Number of complete rows.
    pub rows: usize,
    columns: Vec<Vec<FieldPos>>,
}

impl Fields {
    /// The positions of column `column`, one per row.
    pub fn column(&self, column: usize) -> &[FieldPos] {
        &self.columns[column]
    }
}

/// Splits `chunk` (whole tuples, optionally ending with the trailer) into field positions.
///
/// Every tuple must have `columns` fields. Bytes after the trailer are an error, so a stream
/// that is cut or padded is reported, not silently decoded.
pub fn split(chunk: &[u8], columns: usize) -> Result<Fields> {
    if chunk.len() > u32::MAX as usize {
        return Err(CodecError::Truncated { offset: 0, what: "chunk larger than 4 GiB" });
    }
    let estimate = estimate_rows(chunk.len(), columns);
    let mut positions: Vec<Vec<FieldPos>> = (0..columns).map(|_| Vec::with_capacity(estimate)).collect();
    let mut at = 0usize;
    let mut rows = 0usize;
    while at < chunk.len() {
        let count = read_i16(chunk, at, "field count")?;
        at += 2;
        if count == -1 {
            if at != chunk.len() {
                return Err(CodecError::Truncated { offset: at, what: "data after the trailer" });
            }
            break;
        }
        if count as i64 != columns as i64 {
            return Err(CodecError::FieldCount { row: rows, expected: columns, got: count as i64 });
        }
        for column in positions.iter_mut() {
            let len = read_i32(chunk, at, "field length")?;
            at += 4;
            if len < -1 {
                return Err(CodecError::Truncated { offset: at - 4, what: "negative field length" });
            }
            let start = at as u32;
            if len > 0 {
                let end = at.checked_add(len as usize).filter(|&end| end <= chunk.len());
                at = end.ok_or_else(|| CodecError::Truncated { offset: at, what: "field value" })?;
            }
            column.push(FieldPos { start, len });
        }
        rows += 1;
    }
    Ok(Fields { rows, columns: positions })
}

/// A guess of the row count, so the position vector rarely reallocates.
fn estimate_rows(bytes: usize, columns: usize) -> usize {
    bytes / (2 + 8 * columns.max(1))
}

fn read_i16(buf: &[u8], at: usize, what: &'static str) -> Result<i16> {
    match buf.get(at..at + 2) {
        Some(b) => Ok(i16::from_be_bytes([b[0], b[1]])),
        None => Err(CodecError::Truncated { offset: at, what }),
    }
}

fn read_i32(buf: &[u8], at: usize, what: &'static str) -> Result<i32> {
    match buf.get(at..at + 4) {
        Some(b) => Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(CodecError::Truncated { offset: at, what }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(fields: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (fields.len() as i16).to_be_bytes().to_vec();
        for f in fields {
            match f {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(b) => {
                    out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                    out.extend_from_slice(b);
                }
            }
        }
        out
    }

    #[test]
    fn splits_rows_and_nulls() {
        let mut chunk = tuple(&[Some(b"ab"), None]);
        chunk.extend(tuple(&[Some(b""), Some(b"xyz")]));
        chunk.extend_from_slice(&crate::copy_format::TRAILER);
        let fields = split(&chunk, 2).unwrap();
        assert_eq!(fields.rows, 2);
        let col0: Vec<_> = fields.column(0).iter().map(|f| f.bytes(&chunk).to_vec()).collect();
        assert_eq!(col0, vec![b"ab".to_vec(), b"".to_vec()]);
        let nulls: Vec<_> = fields.column(1).iter().map(|f| f.is_null()).collect();
        assert_eq!(nulls, vec![true, false]);
        assert_eq!(fields.column(1)[1].bytes(&chunk), b"xyz");
    }

    #[test]
    fn rejects_bad_framing() {
        let row = tuple(&[Some(b"abc")]);
        assert!(matches!(split(&row, 2), Err(CodecError::FieldCount { .. })));
        assert!(matches!(split(&row[..row.len() - 1], 1), Err(CodecError::Truncated { .. })));
        let mut padded = row.clone();
        padded.extend_from_slice(&[0xff, 0xff, 0]);
        assert!(split(&padded, 1).is_err());
        let mut negative = (1i16).to_be_bytes().to_vec();
        negative.extend_from_slice(&(-7i32).to_be_bytes());
        assert!(split(&negative, 1).is_err());
    }
}
