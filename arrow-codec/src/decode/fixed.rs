//! Fixed-width types: booleans, integers, floats, dates and times, intervals, uuids.

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, IntervalMonthDayNanoType,
    Time64MicrosecondType, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt32Type, UInt64Type,
};
use arrow_array::{ArrayRef, ArrowPrimitiveType, BooleanArray, FixedSizeBinaryArray, PrimitiveArray, StringArray};
use arrow_buffer::OffsetBuffer;
use arrow_buffer::{BooleanBufferBuilder, IntervalMonthDayNano};
use arrow_schema::TimeUnit;

use super::Column;
use crate::error::Result;

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
const EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Decodes a column of `N`-byte values with `convert`, which may reject a value with a reason.
///
/// Generic over the conversion so each type gets its own tight loop (no call per value).
fn decode<T, const N: usize>(
    col: &Column<'_>,
    convert: impl Fn([u8; N]) -> Result<T::Native, String>,
) -> Result<PrimitiveArray<T>>
where
    T: ArrowPrimitiveType,
{
    let mut values = Vec::with_capacity(col.rows());
    for (row, field) in col.positions().enumerate() {
        if field.is_null() {
            values.push(T::Native::default());
            continue;
        }
        let bytes: [u8; N] =
            field.bytes(col.chunk).try_into().map_err(|_| col.bad_length(row, width_name(N), field.len))?;
        values.push(convert(bytes).map_err(|reason| col.out_of_range(row, reason))?);
    }
    Ok(PrimitiveArray::new(values.into(), col.nulls()))
}

fn width_name(n: usize) -> &'static str {
    match n {
        1 => "1",
        2 => "2",
        4 => "4",
        8 => "8",
        _ => "16",
    }
}

pub(super) fn boolean(col: &Column<'_>) -> Result<ArrayRef> {
    let mut values = BooleanBufferBuilder::new(col.rows());
    for (row, field) in col.positions().enumerate() {
        match field.bytes(col.chunk) {
            _ if field.is_null() => values.append(false),
            [b] => values.append(*b != 0),
            _ => return Err(col.bad_length(row, "1", field.len)),
        }
    }
    Ok(Arc::new(BooleanArray::new(values.finish(), col.nulls())))
}

pub(super) fn int2(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<Int16Type, 2>(col, |b| Ok(i16::from_be_bytes(b)))?))
}

pub(super) fn int4(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<Int32Type, 4>(col, |b| Ok(i32::from_be_bytes(b)))?))
}

pub(super) fn int8(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<Int64Type, 8>(col, |b| Ok(i64::from_be_bytes(b)))?))
}

pub(super) fn oid(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<UInt32Type, 4>(col, |b| Ok(u32::from_be_bytes(b)))?))
}

pub(super) fn float4(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<Float32Type, 4>(col, |b| Ok(f32::from_be_bytes(b)))?))
}

pub(super) fn float8(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<Float64Type, 8>(col, |b| Ok(f64::from_be_bytes(b)))?))
}

/// Dates: ±infinity (i32 max/min on the wire) stay i32 max/min.
pub(super) fn date(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<Date32Type, 4>(col, |b| match i32::from_be_bytes(b) {
        infinity @ (i32::MAX | i32::MIN) => Ok(infinity),
        days => days.checked_add(EPOCH_DAYS).ok_or_else(|| "date out of range".to_string()),
    })?))
}

pub(super) fn time(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<Time64MicrosecondType, 8>(col, |b| Ok(i64::from_be_bytes(b)))?))
}

/// Timestamps: ±infinity (i64 max/min on the wire) stay i64 max/min. Other units than
/// microseconds are opt-in (`types={"timestamp": "ms"}`): coarser ones truncate toward minus
/// infinity, nanoseconds fail beyond year 2262.
pub(super) fn timestamp(col: &Column<'_>, unit: TimeUnit, tz: Option<&str>) -> Result<ArrayRef> {
    let (multiply, divide): (i64, i64) = match unit {
        TimeUnit::Second => (1, 1_000_000),
        TimeUnit::Millisecond => (1, 1000),
        TimeUnit::Microsecond => (1, 1),
        TimeUnit::Nanosecond => (1000, 1),
    };
    let convert = |b: [u8; 8]| match i64::from_be_bytes(b) {
        infinity @ (i64::MAX | i64::MIN) => Ok(infinity),
        micros => micros
            .checked_add(EPOCH_MICROS)
            .and_then(|m| m.checked_mul(multiply))
            .map(|m| m.div_euclid(divide))
            .ok_or_else(|| format!("timestamp beyond the range of timestamp[{unit:?}]")),
    };
    Ok(match unit {
        TimeUnit::Second => Arc::new(decode::<TimestampSecondType, 8>(col, convert)?.with_timezone_opt(tz)),
        TimeUnit::Millisecond => Arc::new(decode::<TimestampMillisecondType, 8>(col, convert)?.with_timezone_opt(tz)),
        TimeUnit::Microsecond => Arc::new(decode::<TimestampMicrosecondType, 8>(col, convert)?.with_timezone_opt(tz)),
        TimeUnit::Nanosecond => Arc::new(decode::<TimestampNanosecondType, 8>(col, convert)?.with_timezone_opt(tz)),
    })
}

/// Intervals: microseconds (i64), days (i32), months (i32) on the wire.
pub(super) fn interval(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<IntervalMonthDayNanoType, 16>(col, |b| {
        let micros = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let days = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
        let months = i32::from_be_bytes([b[12], b[13], b[14], b[15]]);
        let nanos =
            micros.checked_mul(1000).ok_or_else(|| "interval time part too large for nanoseconds".to_string())?;
        Ok(IntervalMonthDayNano::new(months, days, nanos))
    })?))
}

pub(super) fn uuid(col: &Column<'_>) -> Result<ArrayRef> {
    let mut values = Vec::with_capacity(col.rows() * 16);
    for (row, field) in col.positions().enumerate() {
        match field.bytes(col.chunk) {
            _ if field.is_null() => values.extend_from_slice(&[0; 16]),
            bytes if bytes.len() == 16 => values.extend_from_slice(bytes),
            _ => return Err(col.bad_length(row, "16", field.len)),
        }
    }
    Ok(Arc::new(FixedSizeBinaryArray::try_new(16, values.into(), col.nulls())?))
}

pub(super) fn uint64(col: &Column<'_>) -> Result<ArrayRef> {
    Ok(Arc::new(decode::<UInt64Type, 8>(col, |b| Ok(u64::from_be_bytes(b)))?))
}

/// money: int64 cents into decimal128(19, 2).
pub(super) fn money(col: &Column<'_>) -> Result<ArrayRef> {
    let cents = decode::<Decimal128Type, 8>(col, |b| Ok(i64::from_be_bytes(b) as i128))?;
    Ok(Arc::new(cents.with_precision_and_scale(19, 2)?))
}

/// uuid as its 36-character text (`types={"uuid": "string"}`).
pub(super) fn uuid_text(col: &Column<'_>) -> Result<ArrayRef> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut values = Vec::with_capacity(col.rows() * 36);
    let mut offsets = Vec::with_capacity(col.rows() + 1);
    offsets.push(0i32);
    for (row, field) in col.positions().enumerate() {
        if !field.is_null() {
            let bytes = field.bytes(col.chunk);
            if bytes.len() != 16 {
                return Err(col.bad_length(row, "16", field.len));
            }
            for (i, byte) in bytes.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    values.push(b'-');
                }
                values.extend_from_slice(&[HEX[(byte >> 4) as usize], HEX[(byte & 15) as usize]]);
            }
        }
        let end = i32::try_from(values.len()).map_err(|_| col.out_of_range(row, "batch over 2 GiB"))?;
        offsets.push(end);
    }
    Ok(Arc::new(StringArray::try_new(OffsetBuffer::new(offsets.into()), values.into(), col.nulls())?))
}
