//! Types with parts: composites and ranges into structs, multiranges into lists of structs,
//! timetz into a struct of time and offset.
//!
//! Like arrays, the parts of every row are gathered first and each part is decoded by its own
//! decoder in one pass.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Int32Array, ListArray, StructArray, Time64MicrosecondArray};
use arrow_buffer::{BooleanBuffer, OffsetBuffer};
use arrow_schema::Fields;

use super::{decode_column, Column};
use crate::error::{row_of_element, Result};
use crate::pg_type::{hstore_entries, range_fields, timetz_fields, Kind};
use crate::tuple::FieldPos;

/// A NULL part (an absent range bound, a NULL attribute).
const NULL: FieldPos = FieldPos { start: 0, len: -1 };

/// The big-endian i32 at `at`.
pub(super) fn word(bytes: &[u8], at: usize) -> Result<i32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| "value cut short".to_string())
}

/// The position of a length-prefixed part at `at` inside `field`; returns it and the offset
/// after it.
pub(super) fn part(field: FieldPos, bytes: &[u8], at: usize) -> Result<(FieldPos, usize), String> {
    let len = word(bytes, at)?;
    let start = at + 4;
    if len < 0 {
        return if len == -1 { Ok((NULL, start)) } else { Err("negative length".into()) };
    }
    let end = start.checked_add(len as usize).filter(|&end| end <= bytes.len()).ok_or("part cut short")?;
    // Inside the chunk, which `tuple::split` bounded to 4 GiB.
    Ok((FieldPos { start: field.start + start as u32, len }, end))
}

/// Composite: attribute count, then per attribute its type OID and a length-prefixed value.
pub(super) fn composite(col: &Column<'_>, attributes: &[(String, Kind)]) -> Result<ArrayRef> {
    let mut parts: Vec<Vec<FieldPos>> = vec![Vec::with_capacity(col.rows()); attributes.len()];
    for (row, field) in col.positions().enumerate() {
        if field.is_null() {
            parts.iter_mut().for_each(|p| p.push(NULL));
            continue;
        }
        let bytes = field.bytes(col.chunk);
        let mut parse = || -> Result<(), String> {
            if word(bytes, 0)? as usize != attributes.len() {
                return Err(format!("composite with {} attributes, expected {}", word(bytes, 0)?, attributes.len()));
            }
            let mut at = 4;
            for attribute in parts.iter_mut() {
                let (position, next) = part(field, bytes, at + 4)?; // skip the attribute's type OID
                attribute.push(position);
                at = next;
            }
            if at == bytes.len() {
                Ok(())
            } else {
                Err("composite with trailing bytes".into())
            }
        };
        parse().map_err(|reason| col.invalid(row, reason))?;
    }
    if attributes.is_empty() {
        // A composite with no attributes (CREATE TYPE t AS ()): a struct with no fields.
        return Ok(Arc::new(StructArray::new_empty_fields(col.rows(), col.nulls())));
    }
    let fields: Fields = attributes.iter().map(|(name, kind)| kind.named_field(name)).collect::<Vec<_>>().into();
    let arrays = attributes
        .iter()
        .zip(&parts)
        .map(|((_, kind), positions)| decode_column(kind, &Column { chunk: col.chunk, positions, spec: col.spec }))
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(StructArray::try_new(fields, arrays, col.nulls())?))
}

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;

/// The parts of ranges: bounds and flags, one entry per range.
#[derive(Default)]
struct RangeParts {
    lower: Vec<FieldPos>,
    upper: Vec<FieldPos>,
    lower_inclusive: Vec<bool>,
    upper_inclusive: Vec<bool>,
    empty: Vec<bool>,
}

impl RangeParts {
    /// Range binary format: a flags byte, then the bounds that are present, length-prefixed.
    fn push(&mut self, field: FieldPos, bytes: &[u8]) -> Result<(), String> {
        let flags = *bytes.first().ok_or("empty range value")?;
        let mut at = 1;
        let mut bound = |present: bool| -> Result<FieldPos, String> {
            if !present {
                return Ok(NULL);
            }
            let (position, next) = part(field, bytes, at)?;
            at = next;
            Ok(position)
        };
        let has_bounds = flags & RANGE_EMPTY == 0;
        let lower = bound(has_bounds && flags & RANGE_LB_INF == 0)?;
        let upper = bound(has_bounds && flags & RANGE_UB_INF == 0)?;
        if at != bytes.len() {
            return Err("range with trailing bytes".into());
        }
        self.lower.push(lower);
        self.upper.push(upper);
        self.lower_inclusive.push(flags & RANGE_LB_INC != 0);
        self.upper_inclusive.push(flags & RANGE_UB_INC != 0);
        self.empty.push(flags & RANGE_EMPTY != 0);
        Ok(())
    }

    fn push_null(&mut self) {
        self.lower.push(NULL);
        self.upper.push(NULL);
        self.lower_inclusive.push(false);
        self.upper_inclusive.push(false);
        self.empty.push(false);
    }

    fn finish(self, col: &Column<'_>, subtype: &Kind, nulls: Option<arrow_buffer::NullBuffer>) -> Result<StructArray> {
        let bound =
            |positions: &[FieldPos]| decode_column(subtype, &Column { chunk: col.chunk, positions, spec: col.spec });
        let flag = |values: Vec<bool>| -> ArrayRef { Arc::new(BooleanArray::new(BooleanBuffer::from(values), None)) };
        let arrays = vec![
            bound(&self.lower)?,
            bound(&self.upper)?,
            flag(self.lower_inclusive),
            flag(self.upper_inclusive),
            flag(self.empty),
        ];
        Ok(StructArray::try_new(range_fields(subtype).into(), arrays, nulls)?)
    }
}

pub(super) fn range(col: &Column<'_>, subtype: &Kind) -> Result<ArrayRef> {
    let mut parts = RangeParts::default();
    for (row, field) in col.positions().enumerate() {
        if field.is_null() {
            parts.push_null();
        } else {
            parts.push(field, field.bytes(col.chunk)).map_err(|reason| col.invalid(row, reason))?;
        }
    }
    Ok(Arc::new(parts.finish(col, subtype, col.nulls())?))
}

/// Multirange: a range count, then each range length-prefixed.
pub(super) fn multirange(col: &Column<'_>, subtype: &Kind) -> Result<ArrayRef> {
    let mut parts = RangeParts::default();
    let mut offsets = vec![0i32];
    for (row, field) in col.positions().enumerate() {
        if !field.is_null() {
            let bytes = field.bytes(col.chunk);
            let parse = |parts: &mut RangeParts| -> Result<(), String> {
                let count = word(bytes, 0)?;
                let mut at = 4;
                for _ in 0..count.max(0) {
                    let (range, next) = part(field, bytes, at)?;
                    parts.push(range, range.bytes(col.chunk))?;
                    at = next;
                }
                if at == bytes.len() {
                    Ok(())
                } else {
                    Err("multirange with trailing bytes".into())
                }
            };
            parse(&mut parts).map_err(|reason| col.invalid(row, reason))?;
        }
        let end =
            i32::try_from(parts.empty.len()).map_err(|_| col.out_of_range(row, "too many ranges in one batch"))?;
        offsets.push(end);
    }
    let ranges = parts.finish(col, subtype, None).map_err(|e| e.with_row(|index| row_of_element(&offsets, index)))?;
    let item = Arc::new(arrow_schema::Field::new("item", arrow_array::Array::data_type(&ranges).clone(), true));
    Ok(Arc::new(ListArray::try_new(item, OffsetBuffer::new(offsets.into()), Arc::new(ranges), col.nulls())?))
}

/// timetz: microseconds since midnight (i64) and the zone in seconds *west* of UTC (i32);
/// `offset_seconds` is east of UTC, as ISO 8601 writes it (+02:00 is 7200).
pub(super) fn timetz(col: &Column<'_>) -> Result<ArrayRef> {
    let mut times = Vec::with_capacity(col.rows());
    let mut offsets = Vec::with_capacity(col.rows());
    for (row, field) in col.positions().enumerate() {
        match field.bytes(col.chunk) {
            _ if field.is_null() => {
                times.push(0);
                offsets.push(0);
            }
            b if b.len() == 12 => {
                times.push(i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
                let west = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
                offsets.push(west.checked_neg().ok_or_else(|| col.invalid(row, "timetz zone out of range"))?);
            }
            _ => return Err(col.bad_length(row, "12", field.len)),
        }
    }
    let fields: Fields = timetz_fields().into();
    let arrays: Vec<ArrayRef> =
        vec![Arc::new(Time64MicrosecondArray::from(times)), Arc::new(Int32Array::from(offsets))];
    Ok(Arc::new(StructArray::try_new(fields, arrays, col.nulls())?))
}

/// hstore: a pair count, then per pair a length-prefixed key and value (-1: NULL value).
pub(super) fn hstore(col: &Column<'_>) -> Result<ArrayRef> {
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    let mut offsets = vec![0i32];
    for (row, field) in col.positions().enumerate() {
        if !field.is_null() {
            let bytes = field.bytes(col.chunk);
            let mut parse = || -> Result<(), String> {
                let count = word(bytes, 0)?;
                let mut at = 4;
                for _ in 0..count.max(0) {
                    let (key, next) = part(field, bytes, at)?;
                    let (value, next) = part(field, bytes, next)?;
                    if key.is_null() {
                        return Err("hstore with a NULL key".into());
                    }
                    keys.push(key);
                    values.push(value);
                    at = next;
                }
                if at == bytes.len() {
                    Ok(())
                } else {
                    Err("hstore with trailing bytes".into())
                }
            };
            parse().map_err(|reason| col.invalid(row, reason))?;
        }
        let end = i32::try_from(keys.len()).map_err(|_| col.out_of_range(row, "too many hstore pairs in one batch"))?;
        offsets.push(end);
    }
    let text =
        |positions: &[FieldPos]| decode_column(&Kind::Text, &Column { chunk: col.chunk, positions, spec: col.spec });
    let entries_field = hstore_entries();
    let arrow_schema::DataType::Struct(entry_fields) = entries_field.data_type() else {
        return Err(col.invalid(0, "hstore entries are not a struct"));
    };
    let entries = StructArray::try_new(entry_fields.clone(), vec![text(&keys)?, text(&values)?], None)?;
    let map = arrow_array::MapArray::try_new(
        Arc::new(entries_field),
        OffsetBuffer::new(offsets.into()),
        entries,
        col.nulls(),
        false,
    )?;
    Ok(Arc::new(map))
}
