//! Arrays into Arrow lists, one list level per dimension.
//!
//! Wire format: ndim i32, has-nulls flag i32, element type OID u32, then per dimension its
//! length i32 and lower bound i32, then each element (row-major) as a length-prefixed field.
//! The element positions of all rows are gathered first and decoded by the element's own
//! decoder in one pass. Lower bounds are dropped (the elements are kept in order).
//!
//! PostgreSQL's array types do not fix the number of dimensions (`int4[]` and `int4[][]` are
//! one type), so a column's is taken from its data: [`sample_array_dims`] reads it off the
//! first values before the decoder is built, and a value with another number of dimensions
//! is an error that says so. An empty array fits any number (it becomes an empty list).

use std::sync::Arc;

use arrow_array::{ArrayRef, ListArray};
use arrow_buffer::OffsetBuffer;

use super::nested::{part, word};
use super::{decode_column, Column};
use crate::error::{row_of_element, Result};
use crate::pg_type::{array_element, ColumnSpec, Kind, Shape};
use crate::tuple::{self, FieldPos};

/// PostgreSQL's limit on array dimensions (`MAXDIM`).
pub(crate) const MAX_DIMS: usize = 6;

/// `element` is the family of one level down: another `List` for each further dimension.
pub(super) fn list(col: &Column<'_>, element: &Kind) -> Result<ArrayRef> {
    // The item family of each level, outermost first; the last one is the elements'.
    let kinds: Vec<&Kind> = std::iter::successors(Some(element), |kind| match kind {
        Kind::List(inner) => Some(inner),
        _ => None,
    })
    .collect();
    let dims = kinds.len();
    // levels[0] ends one list per row; levels[k] ends the lists of level k, each holding
    // lists of level k+1 (or, at the last level, elements).
    let mut levels: Vec<Vec<i32>> = vec![vec![0i32]; dims];
    levels[0].reserve(col.rows());
    let mut items = Vec::new();
    for (row, field) in col.positions().enumerate() {
        let outer = match field.is_null() {
            true => 0,
            false => gather(col.chunk, field, &mut levels, &mut items).map_err(|reason| col.invalid(row, reason))?,
        };
        let end = levels[0].last().copied().unwrap_or(0).checked_add(outer);
        let end = end.ok_or_else(|| col.out_of_range(row, "over 2^31 array elements in one batch"))?;
        levels[0].push(end);
    }
    let element_spec = Column { chunk: col.chunk, positions: &items, spec: col.spec };
    let mut values = decode_column(kinds[dims - 1], &element_spec)
        .map_err(|e| e.with_row(|index| levels.iter().rev().fold(index, |at, offsets| row_of_element(offsets, at))))?;
    for depth in (0..dims).rev() {
        let offsets = OffsetBuffer::new(std::mem::take(&mut levels[depth]).into());
        // Sub-arrays are never NULL: only whole values are.
        let nulls = if depth == 0 { col.nulls() } else { None };
        values = Arc::new(ListArray::try_new(Arc::new(kinds[depth].item_field()), offsets, values, nulls)?);
    }
    Ok(values)
}

/// Reads one array value: appends its sublists to `levels[1..]` and its elements to `items`,
/// and returns how many lists (or elements, when one-dimensional) its row holds.
fn gather(chunk: &[u8], field: FieldPos, levels: &mut [Vec<i32>], items: &mut Vec<FieldPos>) -> Result<i32, String> {
    let bytes = field.bytes(chunk);
    let ndim = word(bytes, 0)?;
    if ndim == 0 {
        return if bytes.len() == 12 { Ok(0) } else { Err("empty array with trailing bytes".into()) };
    }
    let dims = levels.len();
    if ndim < 0 || ndim as usize > MAX_DIMS {
        return Err(format!("array with {ndim} dimensions"));
    }
    if ndim as usize != dims {
        return Err(format!(
            "{ndim}-dimensional array in a column read as {dims}-dimensional (from its first values); \
             cast the column to text to read arrays of mixed dimensions"
        ));
    }
    let lengths = (0..dims).map(|d| word(bytes, 12 + 8 * d)).collect::<Result<Vec<i32>, _>>()?;
    if lengths.iter().any(|&n| n <= 0) {
        return Err("array with an empty or negative dimension".into());
    }
    // Every element takes at least its length word: bounds the work a bad header can ask for.
    let total = lengths.iter().try_fold(1usize, |total, &n| total.checked_mul(n as usize));
    if total.is_none_or(|total| total > bytes.len() / 4) {
        return Err("array value shorter than its dimensions".into());
    }
    // Lists at the current level: one per list of the level above.
    let mut lists = lengths[0] as usize;
    for d in 1..dims {
        let level = &mut levels[d];
        let mut end = level.last().copied().unwrap_or(0);
        for _ in 0..lists {
            end = end.checked_add(lengths[d]).ok_or("over 2^31 array elements in one batch")?;
            level.push(end);
        }
        lists *= lengths[d] as usize;
    }
    let mut at = 12 + 8 * dims;
    for _ in 0..lists {
        let (element, next) = part(field, bytes, at)?;
        items.push(element);
        at = next;
    }
    if at != bytes.len() {
        return Err("array value with trailing bytes".into());
    }
    Ok(lengths[0])
}

/// Sets the number of dimensions of each array column from the first non-empty value of it in
/// `chunk` (whole tuples); columns with none stay one-dimensional.
pub fn sample_array_dims(columns: &mut [ColumnSpec], chunk: &[u8]) -> Result<()> {
    let fields = tuple::split(chunk, columns.len())?;
    for (index, spec) in columns.iter_mut().enumerate() {
        if !is_array(spec) {
            continue;
        }
        let ndim = fields.column(index).iter().map(|field| word(field.bytes(chunk), 0).unwrap_or(0)).find(|&n| n != 0);
        match ndim {
            Some(n) if n > 1 && n as usize <= MAX_DIMS => *spec = with_dims(spec.clone(), n as usize),
            _ => {}
        }
    }
    Ok(())
}

/// Whether any column is an array (whose number of dimensions only its data tells).
pub fn has_arrays(columns: &[ColumnSpec]) -> bool {
    columns.iter().any(is_array)
}

fn is_array(spec: &ColumnSpec) -> bool {
    matches!(spec.shape, Shape::Array(_)) || (spec.shape == Shape::Plain && array_element(spec.type_oid).is_some())
}

/// An array column of `dims` dimensions: its element wrapped in one array level per dimension.
fn with_dims(spec: ColumnSpec, dims: usize) -> ColumnSpec {
    let element = match &spec.shape {
        Shape::Array(element) => (**element).clone(),
        _ => {
            let element_oid = array_element(spec.type_oid).unwrap_or(spec.type_oid);
            ColumnSpec { type_oid: element_oid, shape: Shape::Plain, ..spec.clone() }
        }
    };
    let mut shape = Shape::Array(Box::new(element));
    for _ in 1..dims {
        shape = Shape::Array(Box::new(ColumnSpec { shape, ..spec.clone() }));
    }
    ColumnSpec { shape, ..spec }
}
