//! A test-side writer of PostgreSQL's binary formats, written from the protocol docs and
//! independent of the codec (only `numeric` goes through the crate's `numeric_from_str`).
//!
//! Shared by the property tests and the benchmarks (`#[path]`-included there).

#![allow(dead_code)]

use data_bridge_arrow_codec::{copy_format, encode, ColumnSpec};

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's): 30 years, 7 leap days.
pub const EPOCH_DAYS: i32 = 30 * 365 + 7;
/// The same span in microseconds.
pub const EPOCH_MICROS: i64 = EPOCH_DAYS as i64 * 86_400 * 1_000_000;

/// PostgreSQL's `date` range as days since 2000-01-01: 4714-11-24 BC to 5874897-12-31.
pub const PG_DATE_MIN: i32 = -2_451_545;
pub const PG_DATE_MAX: i32 = 2_145_031_948;
/// PostgreSQL's `timestamp` range as microseconds since 2000-01-01 (MIN_TIMESTAMP, END_TIMESTAMP).
pub const PG_TIMESTAMP_MIN: i64 = -211_813_488_000_000_000;
pub const PG_TIMESTAMP_END: i64 = 9_223_371_331_200_000_000;

pub fn spec(name: &str, type_oid: u32, typmod: i32, pg_type: &str) -> ColumnSpec {
    ColumnSpec::new(name, type_oid, typmod, pg_type)
}

/// The typmod PostgreSQL gives numeric(precision, scale); the scale may be negative.
pub fn numeric_typmod(precision: i32, scale: i32) -> i32 {
    ((precision << 16) | (scale & 0x7ff)) + 4
}

/// Appends one tuple: field count, then each field's length (-1 for NULL) and bytes.
pub fn push_tuple<'a>(out: &mut Vec<u8>, fields: impl ExactSizeIterator<Item = Option<&'a [u8]>>) {
    out.extend_from_slice(&(fields.len() as i16).to_be_bytes());
    for field in fields {
        match field {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
}

/// A whole stream as the server sends it: header, tuples, trailer.
pub fn stream(body: &[u8]) -> Vec<u8> {
    let mut out = copy_format::header().to_vec();
    out.extend_from_slice(body);
    out.extend_from_slice(&copy_format::TRAILER);
    out
}

/// Each type's binary send format.
pub mod wire {
    use super::encode;

    pub fn bool(v: bool) -> Vec<u8> {
        vec![v as u8]
    }

    pub fn int2(v: i16) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    pub fn int4(v: i32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    pub fn int8(v: i64) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    pub fn oid(v: u32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    pub fn float4(v: f32) -> Vec<u8> {
        v.to_bits().to_be_bytes().to_vec()
    }

    pub fn float8(v: f64) -> Vec<u8> {
        v.to_bits().to_be_bytes().to_vec()
    }

    /// text, varchar, bpchar, name and json: the bytes as they are.
    pub fn text(v: &str) -> Vec<u8> {
        v.as_bytes().to_vec()
    }

    /// jsonb: version byte 1, then the JSON text.
    pub fn jsonb(v: &str) -> Vec<u8> {
        let mut out = vec![1];
        out.extend_from_slice(v.as_bytes());
        out
    }

    /// date: days since 2000-01-01 as i32 (i32::MAX / MIN for ±infinity).
    pub fn date(pg_days: i32) -> Vec<u8> {
        pg_days.to_be_bytes().to_vec()
    }

    /// time, timestamp, timestamptz: microseconds (since midnight, or since 2000-01-01 UTC).
    pub fn micros(v: i64) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    /// interval: microseconds i64, days i32, months i32.
    pub fn interval(micros: i64, days: i32, months: i32) -> Vec<u8> {
        let mut out = micros.to_be_bytes().to_vec();
        out.extend_from_slice(&days.to_be_bytes());
        out.extend_from_slice(&months.to_be_bytes());
        out
    }

    /// numeric from decimal text, through the crate's encoder.
    pub fn numeric(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode::numeric_from_str(text, &mut out).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        out
    }

    /// A part of a value with parts (array element, composite attribute, range bound, range of
    /// a multirange): its length (-1 for NULL), then its bytes.
    pub fn part(out: &mut Vec<u8>, value: Option<&[u8]>) {
        match value {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }

    /// array_send of a one-dimensional array: ndim, has-nulls flag, element type, then (when
    /// not empty) the length and lower bound 1, then the elements. Empty arrays have ndim 0.
    pub fn array(element_oid: u32, elements: &[Option<Vec<u8>>]) -> Vec<u8> {
        let ndim = i32::from(!elements.is_empty());
        let mut out = ndim.to_be_bytes().to_vec();
        out.extend_from_slice(&i32::from(elements.iter().any(Option::is_none)).to_be_bytes());
        out.extend_from_slice(&element_oid.to_be_bytes());
        if !elements.is_empty() {
            out.extend_from_slice(&(elements.len() as i32).to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
        }
        for element in elements {
            part(&mut out, element.as_deref());
        }
        out
    }

    /// record_send: the attribute count, then per attribute its type OID and value.
    pub fn composite(attributes: &[(u32, Option<Vec<u8>>)]) -> Vec<u8> {
        let mut out = (attributes.len() as i32).to_be_bytes().to_vec();
        for (type_oid, value) in attributes {
            out.extend_from_slice(&type_oid.to_be_bytes());
            part(&mut out, value.as_deref());
        }
        out
    }

    /// Range flags (rangetypes.h).
    pub const RANGE_EMPTY: u8 = 0x01;
    pub const RANGE_LB_INC: u8 = 0x02;
    pub const RANGE_UB_INC: u8 = 0x04;
    pub const RANGE_LB_INF: u8 = 0x08;
    pub const RANGE_UB_INF: u8 = 0x10;

    /// range_send of an empty range: the flags byte alone.
    pub fn empty_range() -> Vec<u8> {
        vec![RANGE_EMPTY]
    }

    /// range_send: the flags byte, then the bounds present, length-prefixed. A missing bound is
    /// unbounded (and never inclusive, as range_serialize clears the flag).
    pub fn range(lower: Option<(&[u8], bool)>, upper: Option<(&[u8], bool)>) -> Vec<u8> {
        let mut flags = 0u8;
        match lower {
            None => flags |= RANGE_LB_INF,
            Some((_, true)) => flags |= RANGE_LB_INC,
            Some((_, false)) => {}
        }
        match upper {
            None => flags |= RANGE_UB_INF,
            Some((_, true)) => flags |= RANGE_UB_INC,
            Some((_, false)) => {}
        }
        let mut out = vec![flags];
        for (bound, _) in [lower, upper].into_iter().flatten() {
            part(&mut out, Some(bound));
        }
        out
    }

    /// multirange_send: the range count, then each range (range_send) length-prefixed.
    pub fn multirange(ranges: &[Vec<u8>]) -> Vec<u8> {
        let mut out = (ranges.len() as i32).to_be_bytes().to_vec();
        for range in ranges {
            part(&mut out, Some(range));
        }
        out
    }

    /// timetz: microseconds since midnight (i64), then the zone in seconds *west* of UTC (i32).
    pub fn timetz(micros: i64, offset_east: i32) -> Vec<u8> {
        let mut out = micros.to_be_bytes().to_vec();
        out.extend_from_slice(&offset_east.wrapping_neg().to_be_bytes());
        out
    }

    /// money: int64 cents.
    pub fn money(cents: i64) -> Vec<u8> {
        cents.to_be_bytes().to_vec()
    }

    /// bit and varbit: the bit count (i32), then the bits packed most significant first, the
    /// last byte padded with zeros.
    pub fn bits(text: &str) -> Vec<u8> {
        let mut out = (text.len() as i32).to_be_bytes().to_vec();
        for chunk in text.as_bytes().chunks(8) {
            let byte = chunk.iter().enumerate().fold(0u8, |byte, (i, bit)| match bit {
                b'1' => byte | 0x80 >> i,
                b'0' => byte,
                other => panic!("{other} in a bit string"),
            });
            out.push(byte);
        }
        out
    }

    /// "char": its one byte.
    pub fn char(byte: u8) -> Vec<u8> {
        vec![byte]
    }
}

/// What PostgreSQL's `charout` prints for a "char" byte: nothing for 0, `\ooo` for bytes with
/// the high bit set, else the character.
pub fn charout(byte: u8) -> String {
    match byte {
        0 => String::new(),
        0x80.. => format!("\\{byte:03o}"),
        ascii => char::from(ascii).to_string(),
    }
}

/// `digits` (ASCII, no sign) times 10^-`scale` as decimal text, e.g. ("12345", 2) -> "123.45",
/// ("5", 3) -> "0.005", ("7", -2) -> "700".
pub fn decimal_text(negative: bool, digits: &str, scale: i32) -> String {
    let sign = if negative { "-" } else { "" };
    if scale <= 0 {
        return format!("{sign}{digits}{}", "0".repeat(-scale as usize));
    }
    let scale = scale as usize;
    let padded = format!("{}{digits}", "0".repeat((scale + 1).saturating_sub(digits.len())));
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}
