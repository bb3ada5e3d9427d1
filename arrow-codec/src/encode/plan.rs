//! Which Arrow types go into which PostgreSQL columns, and how.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::{DataType, Field, IntervalUnit, TimeUnit};

use super::column::{Borrowed, ColumnEncoder, Fixed, PreEncoded};
use super::numeric::POW10;
use super::{decimal_to_numeric, nested, numeric_from_str};
use crate::decode::MAX_DIMS;
use crate::pg_type::{array_element, numeric_precision, oid, ColumnSpec, Shape, PG_TYPE_KEY};

/// Microseconds from 1970-01-01 to 2000-01-01.
const EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const EPOCH_DAYS: i32 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The binary format a column is written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Target {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    /// numeric, with the column's precision and scale when it has them (values are rescaled
    /// to that scale exactly, or refused).
    Numeric(Option<(u8, i8)>),
    /// text, varchar, bpchar, name, json, enums: the UTF-8 bytes.
    Text,
    Jsonb,
    Bytea,
    Uuid,
    Date,
    /// timestamp and timestamptz (both microseconds since 2000-01-01 UTC on the wire).
    Timestamp {
        with_zone: bool,
    },
    Time,
    Interval,
    /// xid8.
    Xid8,
    /// money (int64 cents).
    Money,
    /// bit, varbit.
    Bits,
    /// "char": one byte, from its text form.
    Char,
    /// timetz.
    TimeTz,
    /// An array of the element target (element type OID kept for the header); the element is
    /// another `List` for each further dimension.
    List(Box<Target>, u32),
    /// A composite: per attribute its name, target and type OID.
    Composite(Vec<(String, Target, u32)>),
    /// A range over the subtype target.
    Range(Box<Target>),
    /// hstore, from a map of strings to strings.
    Hstore,
    /// A multirange: a list of ranges over the subtype target.
    Multirange(Box<Target>),
}

/// How many list levels `data_type` has.
fn list_depth(data_type: &DataType) -> usize {
    match data_type {
        DataType::List(child) | DataType::LargeList(child) => 1 + list_depth(child.data_type()),
        _ => 0,
    }
}

/// Bits of an integer type, and whether it is signed.
fn int_width(data_type: &DataType) -> Option<(u32, bool)> {
    Some(match data_type {
        DataType::Int8 => (8, true),
        DataType::Int16 => (16, true),
        DataType::Int32 => (32, true),
        DataType::Int64 => (64, true),
        DataType::UInt8 => (8, false),
        DataType::UInt16 => (16, false),
        DataType::UInt32 => (32, false),
        DataType::UInt64 => (64, false),
        _ => return None,
    })
}

fn is_string(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => matches!(**values, DataType::Utf8 | DataType::LargeUtf8),
        _ => false,
    }
}

/// Whether the codec has a binary encoder for the column's type (whatever the source); the
/// others can only be written through their text form.
pub fn writes_natively(column: &ColumnSpec) -> bool {
    match &column.shape {
        Shape::Plain => Target::scalar(column).is_some() || array_element(column.type_oid).is_some(),
        Shape::Enum | Shape::Hstore => true,
        Shape::Array(element) | Shape::Range(element) => writes_natively(element),
        Shape::Composite(attributes) => attributes.iter().all(writes_natively),
        Shape::Multirange(range) => writes_natively(range),
    }
}

impl Target {
    /// The binary format of a plain (OID-described, non-array) column type.
    fn scalar(column: &ColumnSpec) -> Option<Target> {
        Some(match column.type_oid {
            oid::BOOL => Target::Bool,
            oid::INT2 => Target::Int2,
            oid::INT4 => Target::Int4,
            oid::INT8 => Target::Int8,
            oid::OID => Target::Oid,
            oid::FLOAT4 => Target::Float4,
            oid::FLOAT8 => Target::Float8,
            oid::NUMERIC => Target::Numeric(numeric_precision(column.typmod)),
            oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::JSON => Target::Text,
            oid::CHAR => Target::Char,
            alias if oid::is_oid_alias(alias) => Target::Oid,
            oid::XID8 => Target::Xid8,
            oid::MONEY => Target::Money,
            oid::BIT | oid::VARBIT => Target::Bits,
            oid::TIMETZ => Target::TimeTz,
            oid::JSONB => Target::Jsonb,
            oid::BYTEA => Target::Bytea,
            oid::UUID => Target::Uuid,
            oid::DATE => Target::Date,
            oid::TIMESTAMP => Target::Timestamp { with_zone: false },
            oid::TIMESTAMPTZ => Target::Timestamp { with_zone: true },
            oid::TIME => Target::Time,
            oid::INTERVAL => Target::Interval,
            _ => return None,
        })
    }

    /// The target for writing `source` into `column`, when that loses nothing.
    pub fn plan(source: &DataType, column: &ColumnSpec) -> Option<Target> {
        match &column.shape {
            Shape::Plain => {}
            Shape::Enum => return Target::Text.accepts(source).then_some(Target::Text),
            Shape::Array(element) => {
                let (DataType::List(child) | DataType::LargeList(child)) = source else { return None };
                let target = match Target::plan(child.data_type(), element) {
                    Some(target) => target,
                    // A list of lists: one more dimension of the same array type.
                    None if list_depth(child.data_type()) > 0 && list_depth(source) <= MAX_DIMS => {
                        Target::plan(child.data_type(), column)?
                    }
                    None => return None,
                };
                return Some(Target::List(Box::new(target), element.type_oid));
            }
            Shape::Composite(attributes) => {
                let DataType::Struct(fields) = source else { return None };
                let planned = attributes.iter().map(|attribute| {
                    let (_, field) = fields.find(&attribute.name)?;
                    Some((attribute.name.clone(), Target::plan(field.data_type(), attribute)?, attribute.type_oid))
                });
                let planned: Vec<_> = planned.collect::<Option<_>>()?;
                // Every struct field must land in an attribute.
                return (fields.len() == planned.len()).then_some(Target::Composite(planned));
            }
            Shape::Range(subtype) => {
                let DataType::Struct(fields) = source else { return None };
                let field = |name| fields.find(name).map(|(_, f)| f.data_type().clone());
                let flags_ok = nested::RANGE_FIELDS[2..].iter().all(|name| field(name) == Some(DataType::Boolean));
                let bound = field("lower")?;
                let target = Target::plan(&bound, subtype)?;
                let same_bounds = field("upper") == Some(bound);
                return (flags_ok && same_bounds && fields.len() == 5).then_some(Target::Range(Box::new(target)));
            }
            Shape::Multirange(range) => {
                let (DataType::List(child) | DataType::LargeList(child)) = source else { return None };
                return match Target::plan(child.data_type(), range)? {
                    Target::Range(subtype) => Some(Target::Multirange(subtype)),
                    _ => None,
                };
            }
            Shape::Hstore => {
                let DataType::Map(entries, _) = source else { return None };
                let DataType::Struct(fields) = entries.data_type() else { return None };
                let strings = fields.len() == 2 && fields.iter().all(|f| is_string(f.data_type()));
                return strings.then_some(Target::Hstore);
            }
        }
        let Some(target) = Target::scalar(column) else {
            // A built-in array type known by its OID alone.
            let element_oid = array_element(column.type_oid)?;
            let element = ColumnSpec { type_oid: element_oid, ..column.clone() };
            let array = ColumnSpec { shape: Shape::Array(Box::new(element)), ..column.clone() };
            return Target::plan(source, &array);
        };
        target.accepts(source).then_some(target)
    }

    /// Whether every value of `source` fits this target exactly.
    fn accepts(&self, source: &DataType) -> bool {
        if *source == DataType::Null {
            return true;
        }
        let int = int_width(source);
        // Bits an integer needs as a signed number.
        let signed_bits = int.map(|(bits, signed)| if signed { bits } else { bits + 1 });
        match self {
            Target::Bool => *source == DataType::Boolean,
            Target::Int2 => signed_bits.is_some_and(|b| b <= 16),
            Target::Int4 => signed_bits.is_some_and(|b| b <= 32),
            Target::Int8 => signed_bits.is_some_and(|b| b <= 64),
            Target::Oid => matches!(source, DataType::UInt8 | DataType::UInt16 | DataType::UInt32),
            Target::Float4 => {
                matches!(source, DataType::Float16 | DataType::Float32) || signed_bits.is_some_and(|b| b <= 16)
            }
            Target::Float8 => {
                matches!(source, DataType::Float16 | DataType::Float32 | DataType::Float64)
                    || signed_bits.is_some_and(|b| b <= 32)
            }
            // Strings: numeric's text form (what a read gives for numeric without a typmod).
            // Floats: their shortest decimal form, as PostgreSQL's float8-to-numeric cast.
            Target::Numeric(_) => {
                int.is_some()
                    || is_string(source)
                    || matches!(source, DataType::Float16 | DataType::Float32 | DataType::Float64)
                    || matches!(source, DataType::Decimal128(..) | DataType::Decimal256(..))
            }
            Target::Text | Target::Jsonb => is_string(source),
            Target::Bytea => matches!(
                source,
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_)
            ),
            // Strings: the text form (what a read with uuid="string" gives).
            Target::Uuid => *source == DataType::FixedSizeBinary(16) || is_string(source),
            Target::Date => matches!(source, DataType::Date32 | DataType::Date64),
            Target::Timestamp { with_zone } => match source {
                DataType::Timestamp(_, tz) => tz.is_some() == *with_zone,
                DataType::Date32 | DataType::Date64 => !*with_zone,
                _ => false,
            },
            Target::Time => matches!(source, DataType::Time32(_) | DataType::Time64(_)),
            Target::Interval => {
                matches!(source, DataType::Interval(IntervalUnit::MonthDayNano) | DataType::Duration(_))
            }
            Target::Xid8 => matches!(source, DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64),
            Target::Money => matches!(source, DataType::Decimal128(..)),
            Target::Bits | Target::Char => matches!(source, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
            Target::TimeTz => {
                let timetz = DataType::Struct(crate::pg_type::timetz_fields().into());
                matches!(source, DataType::Struct(_)) && source.equals_datatype(&timetz)
            }
            Target::List(..) | Target::Composite(_) | Target::Range(_) | Target::Hstore | Target::Multirange(_) => {
                false
            }
        }
    }

    /// The type's name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Bool => "boolean",
            Target::Int2 => "smallint",
            Target::Int4 => "integer",
            Target::Int8 => "bigint",
            Target::Oid => "oid",
            Target::Float4 => "real",
            Target::Float8 => "double precision",
            Target::Numeric(_) => "numeric",
            Target::Text => "text",
            Target::Jsonb => "jsonb",
            Target::Bytea => "bytea",
            Target::Uuid => "uuid",
            Target::Date => "date",
            Target::Timestamp { with_zone: false } => "timestamp",
            Target::Timestamp { with_zone: true } => "timestamptz",
            Target::Time => "time",
            Target::Interval => "interval",
            Target::Xid8 => "xid8",
            Target::Money => "money",
            Target::Bits => "bit varying",
            Target::Char => "\"char\"",
            Target::TimeTz => "timetz",
            Target::List(..) => "array",
            Target::Composite(_) => "composite",
            Target::Range(_) => "range",
            Target::Hstore => "hstore",
            Target::Multirange(_) => "multirange",
        }
    }

    /// The encoder of one batch's column (planned to be compatible).
    pub fn encoder<'a>(&self, array: &'a ArrayRef) -> Result<Box<dyn ColumnEncoder + 'a>, (usize, String)> {
        let nulls = array.nulls();
        let rows = array.len();
        if *array.data_type() == DataType::Null {
            return Ok(Box::new(AllNull(rows)));
        }
        Ok(match self {
            Target::Bool => {
                let values = array.as_boolean();
                Box::new(Fixed { nulls, rows, convert: move |row| Ok([values.value(row) as u8]) })
            }
            Target::Int2 => int_encoder(array, |v| Ok((v as i16).to_be_bytes())),
            Target::Int4 => int_encoder(array, |v| Ok((v as i32).to_be_bytes())),
            Target::Int8 => int_encoder(array, |v| Ok(v.to_be_bytes())),
            Target::Oid => int_encoder(array, |v| Ok((v as u32).to_be_bytes())),
            Target::Float4 => match array.data_type() {
                DataType::Float32 => fixed(array.as_primitive::<Float32Type>(), |v| Ok(v.to_be_bytes())),
                DataType::Float16 => fixed(array.as_primitive::<Float16Type>(), |v| Ok(v.to_f32().to_be_bytes())),
                _ => int_encoder(array, |v| Ok((v as f32).to_be_bytes())),
            },
            Target::Float8 => match array.data_type() {
                DataType::Float64 => fixed(array.as_primitive::<Float64Type>(), |v| Ok(v.to_be_bytes())),
                DataType::Float32 => fixed(array.as_primitive::<Float32Type>(), |v| Ok((v as f64).to_be_bytes())),
                DataType::Float16 => fixed(array.as_primitive::<Float16Type>(), |v| Ok(v.to_f64().to_be_bytes())),
                _ => int_encoder(array, |v| Ok((v as f64).to_be_bytes())),
            },
            Target::Numeric(column) => Box::new(numeric_encoder(array, *column)?),
            Target::Text => string_encoder(array, None),
            Target::Jsonb => string_encoder(array, Some(1)),
            Target::Bytea => binary_encoder(array),
            Target::Uuid if is_string(array.data_type()) => {
                let text = string_values(array);
                Box::new(Fixed::<16, _> { nulls, rows, convert: move |row| uuid_from_str(text(row)) })
            }
            Target::Uuid => {
                let values = array.as_fixed_size_binary();
                Box::new(Fixed::<16, _> {
                    nulls,
                    rows,
                    convert: move |row| values.value(row).try_into().map_err(|_| "not 16 bytes".to_string()),
                })
            }
            Target::Date => match array.data_type() {
                DataType::Date32 => fixed(array.as_primitive::<Date32Type>(), |days| Ok(pg_days(days).to_be_bytes())),
                _ => fixed(array.as_primitive::<Date64Type>(), |ms| {
                    Ok(pg_days(i32::try_from(ms.div_euclid(86_400_000)).map_err(|_| "date out of range")?)
                        .to_be_bytes())
                }),
            },
            Target::Timestamp { .. } => match array.data_type() {
                DataType::Timestamp(unit, _) => timestamp_encoder(array, *unit),
                DataType::Date32 => fixed(array.as_primitive::<Date32Type>(), |days| {
                    pg_micros(days as i64 * MICROS_PER_DAY).map(i64::to_be_bytes)
                }),
                _ => fixed(array.as_primitive::<Date64Type>(), |ms| {
                    pg_micros(ms.checked_mul(1000).ok_or("date out of range")?).map(i64::to_be_bytes)
                }),
            },
            Target::Time => match array.data_type() {
                DataType::Time64(TimeUnit::Nanosecond) => {
                    fixed(array.as_primitive::<Time64NanosecondType>(), |ns| Ok((ns / 1000).to_be_bytes()))
                }
                DataType::Time64(_) => fixed(array.as_primitive::<Time64MicrosecondType>(), |us| Ok(us.to_be_bytes())),
                DataType::Time32(TimeUnit::Millisecond) => {
                    fixed(array.as_primitive::<Time32MillisecondType>(), |ms| Ok((ms as i64 * 1000).to_be_bytes()))
                }
                _ => fixed(array.as_primitive::<Time32SecondType>(), |s| Ok((s as i64 * 1_000_000).to_be_bytes())),
            },
            Target::Interval => interval_encoder(array),
            Target::Xid8 => match array.data_type() {
                DataType::UInt64 => fixed(array.as_primitive::<UInt64Type>(), |v| Ok(v.to_be_bytes())),
                _ => int_encoder(array, |v| Ok((v as u64).to_be_bytes())),
            },
            Target::Money => nested::money(array),
            Target::Bits => Box::new(nested::bits(array)?),
            Target::Char => Box::new(nested::char_byte(array)?),
            Target::TimeTz => nested::timetz(array)?,
            Target::List(element, element_oid) => Box::new(nested::list(array, element, *element_oid)?),
            Target::Composite(attributes) => Box::new(nested::composite(array, attributes)?),
            Target::Range(subtype) => Box::new(nested::range(array, subtype)?),
            Target::Hstore => Box::new(nested::hstore(array)?),
            Target::Multirange(subtype) => Box::new(nested::multirange(array, subtype)?),
        })
    }
}

/// Arrow's Null type: `rows` NULLs.
struct AllNull(usize);

impl ColumnEncoder for AllNull {
    fn add_sizes(&self, row_sizes: &mut [usize]) {
        row_sizes.iter_mut().take(self.0).for_each(|size| *size += 4);
    }

    fn write(&self, out: &mut [u8], cursors: &mut [usize]) -> Result<(), (usize, String)> {
        for cursor in cursors.iter_mut().take(self.0) {
            out[*cursor..*cursor + 4].copy_from_slice(&(-1i32).to_be_bytes());
            *cursor += 4;
        }
        Ok(())
    }
}

/// Days since 2000-01-01 for days since 1970-01-01 (±infinity kept).
fn pg_days(days: i32) -> i32 {
    match days {
        i32::MAX | i32::MIN => days,
        days => days - EPOCH_DAYS,
    }
}

/// Microseconds since 2000-01-01 for microseconds since 1970-01-01 (±infinity kept).
fn pg_micros(micros: i64) -> Result<i64, String> {
    match micros {
        i64::MAX | i64::MIN => Ok(micros),
        micros => micros.checked_sub(EPOCH_MICROS).ok_or_else(|| "timestamp out of range".to_string()),
    }
}

fn fixed<'a, T, const N: usize>(
    array: &'a PrimitiveArray<T>,
    convert: impl Fn(T::Native) -> Result<[u8; N], String> + 'a,
) -> Box<dyn ColumnEncoder + 'a>
where
    T: ArrowPrimitiveType,
{
    Box::new(Fixed { nulls: array.nulls(), rows: array.len(), convert: move |row| convert(array.value(row)) })
}

/// Any signed or unsigned integer array (planned to fit) through `convert` of its i64 value.
fn int_encoder<'a, const N: usize>(
    array: &'a ArrayRef,
    convert: impl Fn(i64) -> Result<[u8; N], String> + 'a,
) -> Box<dyn ColumnEncoder + 'a> {
    match array.data_type() {
        DataType::Int8 => fixed(array.as_primitive::<Int8Type>(), move |v| convert(v as i64)),
        DataType::Int16 => fixed(array.as_primitive::<Int16Type>(), move |v| convert(v as i64)),
        DataType::Int32 => fixed(array.as_primitive::<Int32Type>(), move |v| convert(v as i64)),
        DataType::UInt8 => fixed(array.as_primitive::<UInt8Type>(), move |v| convert(v as i64)),
        DataType::UInt16 => fixed(array.as_primitive::<UInt16Type>(), move |v| convert(v as i64)),
        DataType::UInt32 => fixed(array.as_primitive::<UInt32Type>(), move |v| convert(v as i64)),
        _ => fixed(array.as_primitive::<Int64Type>(), convert),
    }
}

fn numeric_encoder(array: &ArrayRef, column: Option<(u8, i8)>) -> Result<PreEncoded<'_>, (usize, String)> {
    match array.data_type() {
        DataType::Decimal128(_, scale) => {
            let values = array.as_primitive::<Decimal128Type>();
            let scale = *scale;
            PreEncoded::build(array, move |row, out| {
                let (value, scale) = rescale(values.value(row), scale, column)?;
                decimal_to_numeric(value, scale, out);
                Ok(())
            })
        }
        // decimal256 goes through text; the server applies the column's typmod.
        DataType::Decimal256(_, scale) => {
            let values = array.as_primitive::<Decimal256Type>();
            let scale = *scale as i32;
            PreEncoded::build(array, move |row, out| {
                numeric_from_str(&format!("{}E{}", values.value(row), -scale), out)
            })
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = string_values(array);
            PreEncoded::build(array, move |row, out| numeric_from_str(text(row), out))
        }
        // Shortest round-trip digits; the server applies the column's typmod.
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let float = widen_to_f64(array);
            PreEncoded::build(array, move |row, out| numeric_from_str(&format!("{:?}", float(row)), out))
        }
        DataType::UInt64 => {
            let values = array.as_primitive::<UInt64Type>();
            PreEncoded::build(array, move |row, out| {
                let (value, scale) = rescale(values.value(row) as i128, 0, column)?;
                decimal_to_numeric(value, scale, out);
                Ok(())
            })
        }
        _ => {
            let widened = widen_to_i64(array);
            PreEncoded::build(array, move |row, out| {
                let (value, scale) = rescale(widened(row) as i128, 0, column)?;
                decimal_to_numeric(value, scale, out);
                Ok(())
            })
        }
    }
}

/// A decimal `value` x 10^-`scale` at the column's scale, exactly, or why not: more decimal
/// places than the column keeps, or more digits than its precision.
pub(super) fn rescale(value: i128, scale: i8, column: Option<(u8, i8)>) -> Result<(i128, i8), String> {
    let Some((precision, column_scale)) = column else { return Ok((value, scale)) };
    let pow10 = |k: i32| POW10.get(k as usize).map(|&p| p as i128).ok_or_else(|| "value overflows numeric".to_string());
    let shift = column_scale as i32 - scale as i32;
    let rescaled = if shift == 0 {
        value
    } else if shift > 0 {
        value
            .checked_mul(pow10(shift)?)
            .ok_or_else(|| format!("value does not fit numeric({precision},{column_scale})"))?
    } else {
        let divisor = pow10(-shift)?;
        if value % divisor != 0 {
            return Err(format!("value has more than {column_scale} decimal places"));
        }
        value / divisor
    };
    if precision <= 38 && rescaled.unsigned_abs() >= POW10[precision as usize] {
        return Err(format!("value does not fit numeric({precision},{column_scale})"));
    }
    Ok((rescaled, column_scale))
}

/// Reads any integer array as i64 (the planner admits only types that fit).
fn widen_to_i64(array: &ArrayRef) -> Box<dyn Fn(usize) -> i64 + '_> {
    match array.data_type() {
        DataType::Int8 => Box::new(|row| array.as_primitive::<Int8Type>().value(row) as i64),
        DataType::Int16 => Box::new(|row| array.as_primitive::<Int16Type>().value(row) as i64),
        DataType::Int32 => Box::new(|row| array.as_primitive::<Int32Type>().value(row) as i64),
        DataType::UInt8 => Box::new(|row| array.as_primitive::<UInt8Type>().value(row) as i64),
        DataType::UInt16 => Box::new(|row| array.as_primitive::<UInt16Type>().value(row) as i64),
        DataType::UInt32 => Box::new(|row| array.as_primitive::<UInt32Type>().value(row) as i64),
        _ => Box::new(|row| array.as_primitive::<Int64Type>().value(row)),
    }
}

/// The values of a (non-dictionary) string array.
/// A float array's values as f64; float32 goes through its own shortest form, so 0.1f32 is
/// 0.1, not 0.100000001490116.
fn widen_to_f64(array: &ArrayRef) -> Box<dyn Fn(usize) -> f64 + '_> {
    match array.data_type() {
        DataType::Float16 => {
            let values = array.as_primitive::<Float16Type>();
            Box::new(move |row| values.value(row).to_string().parse().unwrap_or(f64::NAN))
        }
        DataType::Float32 => {
            let values = array.as_primitive::<Float32Type>();
            Box::new(move |row| format!("{:?}", values.value(row)).parse().unwrap_or(f64::NAN))
        }
        _ => {
            let values = array.as_primitive::<Float64Type>();
            Box::new(move |row| values.value(row))
        }
    }
}

/// A UUID's 16 bytes from the forms `uuid_in` accepts: 32 hex digits, optionally in braces,
/// with hyphens between groups of four.
fn uuid_from_str(text: &str) -> Result<[u8; 16], String> {
    let bad = || format!("{text:?} is not a UUID");
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    let mut bytes = [0u8; 16];
    let mut digits = 0usize;
    let mut after_hyphen = false;
    for b in inner.bytes() {
        let nibble = match b {
            b'-' if digits > 0 && digits < 32 && digits % 4 == 0 && !after_hyphen => {
                after_hyphen = true;
                continue;
            }
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(bad()),
        };
        if digits == 32 {
            return Err(bad());
        }
        bytes[digits / 2] |= if digits % 2 == 0 { nibble << 4 } else { nibble };
        digits += 1;
        after_hyphen = false;
    }
    if digits != 32 || after_hyphen {
        return Err(bad());
    }
    Ok(bytes)
}

pub(super) fn string_values<'a>(array: &'a ArrayRef) -> Box<dyn Fn(usize) -> &'a str + 'a> {
    match array.data_type() {
        DataType::LargeUtf8 => Box::new(|row| array.as_string::<i64>().value(row)),
        DataType::Utf8View => Box::new(|row| array.as_string_view().value(row)),
        _ => Box::new(|row| array.as_string::<i32>().value(row)),
    }
}

fn string_encoder(array: &ArrayRef, prefix: Option<u8>) -> Box<dyn ColumnEncoder + '_> {
    let nulls = array.nulls();
    let rows = array.len();
    match array.data_type() {
        DataType::Utf8 => {
            let values = array.as_string::<i32>();
            Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(row).as_bytes() })
        }
        DataType::LargeUtf8 => {
            let values = array.as_string::<i64>();
            Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(row).as_bytes() })
        }
        DataType::Utf8View => {
            let values = array.as_string_view();
            Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(row).as_bytes() })
        }
        _ => {
            // Dictionary-encoded strings (pandas categoricals): look each key up.
            let dictionary = array.as_any_dictionary();
            if dictionary.values().is_empty() {
                // No values: every key is NULL (anything else is an invalid dictionary).
                return Box::new(AllNull(rows));
            }
            let keys = dictionary.normalized_keys();
            let values: &ArrayRef = dictionary.values();
            let nulls = dictionary.keys().nulls();
            match values.data_type() {
                DataType::LargeUtf8 => {
                    let values = values.as_string::<i64>();
                    Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(keys[row]).as_bytes() })
                }
                _ => {
                    let values = values.as_string::<i32>();
                    Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(keys[row]).as_bytes() })
                }
            }
        }
    }
}

fn binary_encoder(array: &ArrayRef) -> Box<dyn ColumnEncoder + '_> {
    let nulls = array.nulls();
    let rows = array.len();
    let prefix = None;
    match array.data_type() {
        DataType::Binary => {
            let values = array.as_binary::<i32>();
            Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(row) })
        }
        DataType::LargeBinary => {
            let values = array.as_binary::<i64>();
            Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(row) })
        }
        DataType::BinaryView => {
            let values = array.as_binary_view();
            Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(row) })
        }
        _ => {
            let values = array.as_fixed_size_binary();
            Box::new(Borrowed { nulls, rows, prefix, value: move |row| values.value(row) })
        }
    }
}

fn timestamp_encoder(array: &ArrayRef, unit: TimeUnit) -> Box<dyn ColumnEncoder + '_> {
    let infinite = |v: i64| v == i64::MAX || v == i64::MIN;
    match unit {
        TimeUnit::Second => fixed(array.as_primitive::<TimestampSecondType>(), move |s| {
            let micros = if infinite(s) { s } else { s.checked_mul(1_000_000).ok_or("timestamp out of range")? };
            pg_micros(micros).map(i64::to_be_bytes)
        }),
        TimeUnit::Millisecond => fixed(array.as_primitive::<TimestampMillisecondType>(), move |ms| {
            let micros = if infinite(ms) { ms } else { ms.checked_mul(1000).ok_or("timestamp out of range")? };
            pg_micros(micros).map(i64::to_be_bytes)
        }),
        TimeUnit::Microsecond => {
            fixed(array.as_primitive::<TimestampMicrosecondType>(), |us| pg_micros(us).map(i64::to_be_bytes))
        }
        // PostgreSQL keeps microseconds: nanoseconds are truncated toward minus infinity.
        TimeUnit::Nanosecond => fixed(array.as_primitive::<TimestampNanosecondType>(), move |ns| {
            let micros = if infinite(ns) { ns } else { ns.div_euclid(1000) };
            pg_micros(micros).map(i64::to_be_bytes)
        }),
    }
}

/// interval wire format: microseconds i64, days i32, months i32.
fn interval_bytes(micros: i64, days: i32, months: i32) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&micros.to_be_bytes());
    out[8..12].copy_from_slice(&days.to_be_bytes());
    out[12..].copy_from_slice(&months.to_be_bytes());
    out
}

fn interval_encoder(array: &ArrayRef) -> Box<dyn ColumnEncoder + '_> {
    match array.data_type() {
        DataType::Duration(TimeUnit::Second) => fixed(array.as_primitive::<DurationSecondType>(), |s| {
            Ok(interval_bytes(s.checked_mul(1_000_000).ok_or("interval out of range")?, 0, 0))
        }),
        DataType::Duration(TimeUnit::Millisecond) => fixed(array.as_primitive::<DurationMillisecondType>(), |ms| {
            Ok(interval_bytes(ms.checked_mul(1000).ok_or("interval out of range")?, 0, 0))
        }),
        DataType::Duration(TimeUnit::Microsecond) => {
            fixed(array.as_primitive::<DurationMicrosecondType>(), |us| Ok(interval_bytes(us, 0, 0)))
        }
        DataType::Duration(TimeUnit::Nanosecond) => {
            fixed(array.as_primitive::<DurationNanosecondType>(), |ns| Ok(interval_bytes(ns.div_euclid(1000), 0, 0)))
        }
        _ => fixed(array.as_primitive::<IntervalMonthDayNanoType>(), |v| {
            Ok(interval_bytes(v.nanoseconds.div_euclid(1000), v.days, v.months))
        }),
    }
}

/// The PostgreSQL column type `CREATE TABLE` uses for an Arrow field: its `pg_type` metadata
/// when a read attached one the encoder fills exactly, else the natural match; `None` when
/// the field's type has no match yet.
///
/// The metadata may come from an untrusted file, so it is only used when it is a plain type
/// name as `format_type()` prints it (letters, spaces, one modifier list of integers, array
/// brackets): never anything SQL could do more with than name a type.
pub fn create_type(field: &Field) -> Option<String> {
    let declared = field.metadata().get(PG_TYPE_KEY).filter(|t| is_plain_type_name(t));
    match (natural_type(field.data_type()), declared) {
        (Some(natural), Some(pg_type)) if same_family(pg_type, &natural) || read_as(pg_type, field.data_type()) => {
            Some(pg_type.clone())
        }
        (Some(natural), _) => Some(natural),
        // Structs (composites, ranges, timetz) have no natural type: the read's type is used,
        // and the encoder then checks that the data fits it.
        (None, declared) => declared.cloned(),
    }
}

/// `numeric(15,2)`, `character varying(44)`, `integer[]`, `double precision`, ...
fn is_plain_type_name(name: &str) -> bool {
    let name = name.trim_end_matches("[]");
    let (base, modifiers, tail) = match name.split_once('(') {
        None => (name, None, ""),
        Some((base, rest)) => match rest.split_once(')') {
            Some((modifiers, tail)) => (base, Some(modifiers), tail),
            None => return false,
        },
    };
    let base_ok = base.starts_with(|c: char| c.is_ascii_lowercase())
        && !base.ends_with(' ')
        && base.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ' ' || c == '_');
    let number = |n: &str| !n.is_empty() && n.trim_start_matches('-').chars().all(|c| c.is_ascii_digit());
    let modifiers_ok = modifiers.is_none_or(|m| m.split(',').all(number));
    let tail_ok = matches!(tail, "" | " with time zone" | " without time zone");
    base_ok && modifiers_ok && tail_ok
}

/// Whether `data_type` is what a read of a `pg_type` column gives, for the types whose read
/// mapping is not their natural type (enums, money, bit strings, the oid family).
fn read_as(pg_type: &str, data_type: &DataType) -> bool {
    match data_type {
        // Types read as their text form (inet, xml, extension types, ...) are written back
        // through it (the server parses what it printed); not types with a binary encoder of
        // their own, whose text is no read mapping.
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let base = pg_type.trim_end_matches("[]").split('(').next().unwrap_or(pg_type);
            !matches!(
                base,
                "boolean"
                    | "smallint"
                    | "integer"
                    | "bigint"
                    | "real"
                    | "double precision"
                    | "bytea"
                    | "uuid"
                    | "date"
                    | "interval"
                    | "oid"
                    | "xid"
                    | "cid"
                    | "xid8"
                    | "money"
            ) && !base.starts_with("time")
                && !base.starts_with("reg")
        }
        // Dictionaries come from enums: the type is the enum's name.
        DataType::Dictionary(..) => !pg_type.contains('['),
        DataType::Decimal128(19, 2) => pg_type == "money",
        DataType::UInt64 => pg_type == "xid8",
        DataType::UInt32 => matches!(
            pg_type,
            "oid"
                | "regproc"
                | "regprocedure"
                | "regoper"
                | "regoperator"
                | "regclass"
                | "regtype"
                | "regconfig"
                | "regdictionary"
                | "regnamespace"
                | "regrole"
                | "regcollation"
                | "xid"
                | "cid"
        ),
        _ => false,
    }
}

/// Whether a read's `pg_type` holds exactly what the natural type holds: the same family,
/// with a modifier only where the encoder checks values against it (numeric's precision and
/// scale, character lengths are checked by the server). A `timestamp(0)` would round
/// silently, so time types are reused only without a modifier.
fn same_family(pg_type: &str, natural: &str) -> bool {
    let family = |t: &str| -> &'static str {
        let base = t.split(['(', '[']).next().unwrap_or(t).trim();
        match base {
            "numeric" => "numeric",
            "text" | "character" | "character varying" | "bpchar" | "varchar" | "name" | "json" | "jsonb" => "text",
            _ => "other",
        }
    };
    match (family(pg_type), family(natural)) {
        ("other", _) | (_, "other") => pg_type == natural,
        (a, b) => a == b && pg_type.ends_with("[]") == natural.ends_with("[]"),
    }
}

fn natural_type(data_type: &DataType) -> Option<String> {
    Some(match data_type {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "numeric(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *s >= 0 => format!("numeric({p},{s})"),
        DataType::Decimal128(..) | DataType::Decimal256(..) => "numeric".into(),
        t if is_string(t) => "text".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "bytea".into(),
        DataType::FixedSizeBinary(16) => "uuid".into(),
        DataType::FixedSizeBinary(_) => "bytea".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone".into(),
        DataType::Timestamp(_, None) => "timestamp without time zone".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time without time zone".into(),
        DataType::Interval(IntervalUnit::MonthDayNano) | DataType::Duration(_) => "interval".into(),
        DataType::Null => "text".into(),
        DataType::List(child) | DataType::LargeList(child) => format!("{}[]", natural_type(child.data_type())?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::uuid_from_str;

    #[test]
    fn uuids_in_the_forms_uuid_in_accepts() {
        let bytes = [0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11];
        for text in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert_eq!(uuid_from_str(text), Ok(bytes), "{text}");
        }
        for bad in [
            "",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11-",
            "a0e-ebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc99--9c0b4ef8bb6d6bb9bd380a11",
            "+0eebc999c0b4ef8bb6d6bb9bd380a11",
            "g0eebc999c0b4ef8bb6d6bb9bd380a11",
        ] {
            assert!(uuid_from_str(bad).is_err(), "{bad}");
        }
    }
}
