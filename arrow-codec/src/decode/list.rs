//! One-dimensional arrays into Arrow lists.
//!
//! Wire format: ndim i32, has-nulls flag i32, element type OID u32, then per dimension its
//! length i32 and lower bound i32, then each element as a length-prefixed field. The element
//! positions of all rows are gathered first and decoded by the element's own decoder in one
//! pass. Lower bounds are dropped (the elements are kept in order).

use std::sync::Arc;

use arrow_array::{ArrayRef, ListArray};
use arrow_buffer::OffsetBuffer;

use super::nested::{part, word};
use super::{decode_column, Column};
use crate::error::{row_of_element, Result};
use crate::pg_type::Kind;
use crate::tuple::FieldPos;

pub(super) fn list(col: &Column<'_>, element: &Kind) -> Result<ArrayRef> {
    let mut offsets = Vec::with_capacity(col.rows() + 1);
    offsets.push(0i32);
    let mut items = Vec::new();
    for (row, field) in col.positions().enumerate() {
        if !field.is_null() {
            gather_elements(col.chunk, field, &mut items).map_err(|reason| col.invalid(row, reason))?;
        }
        let end =
            i32::try_from(items.len()).map_err(|_| col.out_of_range(row, "over 2^31 array elements in one batch"))?;
        offsets.push(end);
    }
    let values = decode_column(element, &Column { chunk: col.chunk, positions: &items, spec: col.spec })
        .map_err(|e| e.with_row(|index| row_of_element(&offsets, index)))?;
    let array =
        ListArray::try_new(Arc::new(element.item_field()), OffsetBuffer::new(offsets.into()), values, col.nulls())?;
    Ok(Arc::new(array))
}

/// Appends the positions of one array value's elements to `items`.
fn gather_elements(chunk: &[u8], field: FieldPos, items: &mut Vec<FieldPos>) -> Result<(), String> {
    let bytes = field.bytes(chunk);
    match word(bytes, 0)? {
        0 => return if bytes.len() == 12 { Ok(()) } else { Err("empty array with trailing bytes".into()) },
        1 => {}
        n if n > 1 => {
            return Err(format!(
                "{n}-dimensional array: only one-dimensional arrays are decoded so far; cast the column to text"
            ))
        }
        n => return Err(format!("array with {n} dimensions")),
    }
    let count = word(bytes, 12)?;
    if count < 0 {
        return Err("array with a negative length".into());
    }
    let mut at = 20usize;
    for _ in 0..count {
        let (element, next) = part(field, bytes, at)?;
        items.push(element);
        at = next;
    }
    if at != bytes.len() {
        return Err("array value with trailing bytes".into());
    }
    Ok(())
}
