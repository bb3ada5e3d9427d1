//! Types with parts, the other way: lists into arrays, structs into composites, ranges and
//! timetz; and the small fixed formats of money and bit strings.
//!
//! A child array is encoded once, whole, into the element format (a length word and the bytes
//! per value, -1 for NULL), which is exactly how arrays, composites and ranges embed their
//! parts; each row then copies its slices.

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int32Type, Time64MicrosecondType};
use arrow_array::{make_array, Array, ArrayRef, StructArray};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer};

use super::column::{ColumnEncoder, Fixed, PreEncoded};
use super::plan::{rescale, string_values, Target};
use crate::error::row_of_element;

/// Every value of `array` in the element format, and where each one starts (plus the end).
struct Elements {
    bytes: Vec<u8>,
    starts: Vec<usize>,
}

impl Elements {
    fn encode(target: &Target, array: &ArrayRef) -> Result<Elements, (usize, String)> {
        let encoder = target.encoder(array)?;
        let mut sizes = vec![0usize; array.len()];
        encoder.add_sizes(&mut sizes);
        let mut starts = Vec::with_capacity(array.len() + 1);
        let mut at = 0;
        for size in &sizes {
            starts.push(at);
            at += size;
        }
        starts.push(at);
        let mut bytes = vec![0u8; at];
        let mut cursors = starts[..array.len()].to_vec();
        encoder.write(&mut bytes, &mut cursors)?;
        Ok(Elements { bytes, starts })
    }

    /// Values `first..last` in the element format.
    fn slice(&self, first: usize, last: usize) -> &[u8] {
        &self.bytes[self.starts[first]..self.starts[last]]
    }
}

/// Lists into one-dimensional arrays (lower bound 1).
/// The values a list or large list array's rows use, and the rows' offsets into them. A
/// sliced list keeps all its values: only the used ones are taken (and encoded).
fn list_parts(array: &ArrayRef) -> (ArrayRef, Vec<usize>) {
    let (values, offsets): (&ArrayRef, Vec<usize>) = match array.data_type() {
        arrow_schema::DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            (list.values(), list.value_offsets().iter().map(|&o| o as usize).collect())
        }
        _ => {
            let list = array.as_list::<i32>();
            (list.values(), list.value_offsets().iter().map(|&o| o as usize).collect())
        }
    };
    let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
    let offsets: Vec<usize> = offsets.iter().map(|o| o - first).collect();
    let values = values.slice(first, last - first);
    let values = hide_under_nulls(&values, array.nulls(), |row| offsets[row]..offsets[row + 1]);
    (values, offsets)
}

/// `child` with the values under NULL parent rows made NULL too: Arrow leaves them undefined,
/// so they must not be encoded (nor fail the write). `span(row)` gives a row's child values.
fn hide_under_nulls(
    child: &ArrayRef,
    parent_nulls: Option<&NullBuffer>,
    span: impl Fn(usize) -> std::ops::Range<usize>,
) -> ArrayRef {
    let Some(parent_nulls) = parent_nulls.filter(|n| n.null_count() > 0) else { return child.clone() };
    let mut valid = BooleanBufferBuilder::new(child.len());
    match child.nulls() {
        Some(nulls) => valid.append_buffer(nulls.inner()),
        None => valid.append_n(child.len(), true),
    }
    for row in (0..parent_nulls.len()).filter(|&row| parent_nulls.is_null(row)) {
        for i in span(row) {
            valid.set_bit(i, false);
        }
    }
    let nulls = NullBuffer::new(valid.finish());
    match child.to_data().into_builder().nulls(Some(nulls)).build() {
        Ok(data) => make_array(data),
        // Cannot fail: only the validity changed, and it has the child's length.
        Err(_) => child.clone(),
    }
}

/// Lists into arrays (lower bounds 1), one dimension per list level: `element` is another
/// `List` for each further dimension. Sub-lists must be rectangular and not NULL, as
/// PostgreSQL's arrays are.
pub(super) fn list<'a>(
    array: &'a ArrayRef,
    element: &Target,
    element_oid: u32,
) -> Result<PreEncoded<'a>, (usize, String)> {
    // Offsets of each level (level 0: the rows) and the sub-lists' validity; then the elements.
    let mut levels: Vec<(Vec<usize>, Option<NullBuffer>)> = Vec::new();
    let (mut values, offsets) = list_parts(array);
    levels.push((offsets, None));
    let mut leaf = (element, element_oid);
    while let Target::List(inner, inner_oid) = leaf.0 {
        let (next, offsets) = list_parts(&values);
        levels.push((offsets, values.nulls().cloned()));
        values = next;
        leaf = (inner, *inner_oid);
    }
    let leaf_offsets = &levels[levels.len() - 1].0;
    let elements = Elements::encode(leaf.0, &values).map_err(|(index, reason)| {
        let at = row_of_element(leaf_offsets, index);
        (levels[..levels.len() - 1].iter().rev().fold(at, |at, (offsets, _)| row_of_element(offsets, at)), reason)
    })?;
    let element_oid = leaf.1;
    let mut lengths = Vec::with_capacity(levels.len());
    PreEncoded::build(array, |row, out| {
        // Walk down the levels: each row's lists at a level are a contiguous range.
        let (mut first, mut last) = (row, row + 1);
        lengths.clear();
        for (offsets, nulls) in &levels {
            if first == last {
                // An empty list somewhere: the value is an empty array.
                lengths.push(0);
                break;
            }
            if nulls.as_ref().is_some_and(|nulls| (first..last).any(|i| nulls.is_null(i))) {
                return Err("a NULL sub-list: multi-dimensional arrays hold only whole sub-arrays".into());
            }
            let length = offsets[first + 1] - offsets[first];
            if (first..last).any(|i| offsets[i + 1] - offsets[i] != length) {
                return Err("sub-lists of different lengths: multi-dimensional arrays must be rectangular".into());
            }
            lengths.push(length);
            (first, last) = (offsets[first], offsets[last]);
        }
        let has_null = (first..last).any(|i| values.is_null(i));
        // Any zero length makes the whole value an empty array (PostgreSQL has no other).
        let empty = lengths.contains(&0);
        out.extend_from_slice(&(if empty { 0 } else { lengths.len() as i32 }).to_be_bytes());
        out.extend_from_slice(&(has_null as i32).to_be_bytes());
        out.extend_from_slice(&element_oid.to_be_bytes());
        if !empty {
            for &length in &lengths {
                let length = i32::try_from(length).map_err(|_| "array too long".to_string())?;
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
            }
            out.extend_from_slice(elements.slice(first, last));
        }
        Ok(())
    })
}

/// Structs into composites: attribute count, then per attribute its type OID and value.
pub(super) fn composite<'a>(
    array: &'a ArrayRef,
    attributes: &[(String, Target, u32)],
) -> Result<PreEncoded<'a>, (usize, String)> {
    let fields: &StructArray = array.as_struct();
    let parts = attributes
        .iter()
        .map(|(name, target, oid)| {
            let child = fields.column_by_name(name).ok_or_else(|| (0, format!("no field {name:?}")))?;
            let child = hide_under_nulls(child, array.nulls(), |row| row..row + 1);
            Ok((Elements::encode(target, &child)?, *oid))
        })
        .collect::<Result<Vec<_>, (usize, String)>>()?;
    PreEncoded::build(array, |row, out| {
        out.extend_from_slice(&(parts.len() as i32).to_be_bytes());
        for (elements, oid) in &parts {
            out.extend_from_slice(&oid.to_be_bytes());
            out.extend_from_slice(elements.slice(row, row + 1));
        }
        Ok(())
    })
}

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;

/// The struct fields a range is written from (the read mapping's shape).
pub(super) const RANGE_FIELDS: [&str; 5] = ["lower", "upper", "lower_inclusive", "upper_inclusive", "empty"];

/// Structs {lower, upper, lower_inclusive, upper_inclusive, empty} into ranges: a flags byte
/// and the bounds present; a NULL bound is unbounded.
pub(super) fn range<'a>(array: &'a ArrayRef, subtype: &Target) -> Result<PreEncoded<'a>, (usize, String)> {
    let fields: &StructArray = array.as_struct();
    let column = |name: &str| fields.column_by_name(name).ok_or_else(|| (0, format!("no field {name:?}")));
    let hidden = |child: &ArrayRef| hide_under_nulls(child, array.nulls(), |row| row..row + 1);
    let (lower, upper) = (hidden(column("lower")?), hidden(column("upper")?));
    let flag = |name: &str| -> Result<_, (usize, String)> { Ok(column(name)?.as_boolean().clone()) };
    let (lower_inclusive, upper_inclusive, empty) =
        (flag("lower_inclusive")?, flag("upper_inclusive")?, flag("empty")?);
    let (lowers, uppers) = (Elements::encode(subtype, &lower)?, Elements::encode(subtype, &upper)?);
    PreEncoded::build(array, |row, out| {
        if empty.is_valid(row) && empty.value(row) {
            out.push(RANGE_EMPTY);
            return Ok(());
        }
        let set = |flags: &arrow_array::BooleanArray| flags.is_valid(row) && flags.value(row);
        let mut flags = 0u8;
        if lower.is_null(row) {
            flags |= RANGE_LB_INF;
        } else if set(&lower_inclusive) {
            flags |= RANGE_LB_INC;
        }
        if upper.is_null(row) {
            flags |= RANGE_UB_INF;
        } else if set(&upper_inclusive) {
            flags |= RANGE_UB_INC;
        }
        out.push(flags);
        if lower.is_valid(row) {
            out.extend_from_slice(lowers.slice(row, row + 1));
        }
        if upper.is_valid(row) {
            out.extend_from_slice(uppers.slice(row, row + 1));
        }
        Ok(())
    })
}

/// Structs {time, offset_seconds} into timetz: microseconds, then the zone in seconds *west*.
pub(super) fn timetz(array: &ArrayRef) -> Result<Box<dyn ColumnEncoder + '_>, (usize, String)> {
    let fields: &StructArray = array.as_struct();
    let time = fields.column_by_name("time").ok_or((0, "no field \"time\"".to_string()))?;
    let offset = fields.column_by_name("offset_seconds").ok_or((0, "no field \"offset_seconds\"".to_string()))?;
    let (time, offset) = (time.as_primitive::<Time64MicrosecondType>(), offset.as_primitive::<Int32Type>());
    Ok(Box::new(Fixed::<12, _> {
        nulls: array.nulls(),
        rows: array.len(),
        convert: move |row| {
            let mut out = [0u8; 12];
            out[..8].copy_from_slice(&time.value(row).to_be_bytes());
            // PostgreSQL keeps zones within ±15:59:59, in seconds west of UTC.
            let east = offset.value(row);
            if east.unsigned_abs() >= 16 * 3600 {
                return Err(format!("time zone offset {east} s is beyond ±15:59:59"));
            }
            out[8..].copy_from_slice(&(-east).to_be_bytes());
            Ok(out)
        },
    }))
}

/// money: decimals at exactly two places, as int64 cents.
pub(super) fn money(array: &ArrayRef) -> Box<dyn ColumnEncoder + '_> {
    let scale = match array.data_type() {
        arrow_schema::DataType::Decimal128(_, scale) => *scale,
        _ => 0,
    };
    let values = array.as_primitive::<Decimal128Type>();
    Box::new(Fixed::<8, _> {
        nulls: array.nulls(),
        rows: array.len(),
        convert: move |row| {
            let (cents, _) = rescale(values.value(row), scale, Some((19, 2)))?;
            let cents = i64::try_from(cents).map_err(|_| "value out of range for money".to_string())?;
            Ok(cents.to_be_bytes())
        },
    })
}

/// Strings of '0' and '1' into bit strings: the bit count, then the bits packed.
pub(super) fn bits(array: &ArrayRef) -> Result<PreEncoded<'_>, (usize, String)> {
    let text = string_values(array);
    PreEncoded::build(array, |row, out| {
        let bits = text(row).as_bytes();
        let count = i32::try_from(bits.len()).map_err(|_| "bit string too long".to_string())?;
        out.extend_from_slice(&count.to_be_bytes());
        for chunk in bits.chunks(8) {
            let mut byte = 0u8;
            for (i, bit) in chunk.iter().enumerate() {
                match bit {
                    b'1' => byte |= 0x80 >> i,
                    b'0' => {}
                    _ => return Err(format!("{:?} is not a string of 0 and 1", text(row))),
                }
            }
            out.push(byte);
        }
        Ok(())
    })
}

/// "char" from its text form (as `charin` reads it): empty is byte 0, `\ooo` an octal byte,
/// else the one byte given.
pub(super) fn char_byte(array: &ArrayRef) -> Result<PreEncoded<'_>, (usize, String)> {
    let text = string_values(array);
    PreEncoded::build(array, |row, out| {
        let value = text(row);
        let byte = match value.as_bytes() {
            [] => 0,
            [byte] => *byte,
            [b'\\', digits @ ..] if digits.len() == 3 => {
                u8::from_str_radix(std::str::from_utf8(digits).unwrap_or("x"), 8)
                    .map_err(|_| format!("{value:?} is not a \"char\""))?
            }
            _ => return Err(format!("{value:?} is more than one byte for \"char\"")),
        };
        out.push(byte);
        Ok(())
    })
}

/// Maps of strings into hstore: the pair count, then each key and value length-prefixed.
pub(super) fn hstore(array: &ArrayRef) -> Result<PreEncoded<'_>, (usize, String)> {
    let map = array.as_map();
    let (keys, values) = (map.keys(), map.values());
    let text = Target::Text;
    let (keys_encoded, values_encoded) = (Elements::encode(&text, keys)?, Elements::encode(&text, values)?);
    let offsets = map.value_offsets();
    PreEncoded::build(array, |row, out| {
        let (first, last) = (offsets[row] as usize, offsets[row + 1] as usize);
        if (first..last).any(|i| keys.is_null(i)) {
            return Err("hstore keys cannot be NULL".into());
        }
        out.extend_from_slice(&((last - first) as i32).to_be_bytes());
        for i in first..last {
            out.extend_from_slice(keys_encoded.slice(i, i + 1));
            out.extend_from_slice(values_encoded.slice(i, i + 1));
        }
        Ok(())
    })
}

/// Lists of range structs into multiranges: the range count, then each range length-prefixed.
pub(super) fn multirange<'a>(array: &'a ArrayRef, subtype: &Target) -> Result<PreEncoded<'a>, (usize, String)> {
    let (values, offsets) = list_parts(array);
    let range = Target::Range(Box::new(subtype.clone()));
    let ranges =
        Elements::encode(&range, &values).map_err(|(index, reason)| (row_of_element(&offsets, index), reason))?;
    PreEncoded::build(array, |row, out| {
        let (first, last) = (offsets[row], offsets[row + 1]);
        if (first..last).any(|i| values.is_null(i)) {
            return Err("a multirange cannot hold a NULL range".into());
        }
        out.extend_from_slice(&((last - first) as i32).to_be_bytes());
        out.extend_from_slice(ranges.slice(first, last));
        Ok(())
    })
}
