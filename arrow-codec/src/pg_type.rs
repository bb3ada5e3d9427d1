//! PostgreSQL column types and the Arrow type each one decodes to.
//!
//! The decision is made once per column, when a [`crate::Decoder`] is built.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType, Field, IntervalUnit, TimeUnit};

use crate::error::{CodecError, Result};

/// Field metadata key holding the column's PostgreSQL type as `format_type()` prints it.
pub const PG_TYPE_KEY: &str = "pg_type";

/// Type OIDs of the built-in types the codec knows (from `pg_type.dat`).
#[allow(missing_docs)]
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// Element type of the built-in array types the codec decodes natively.
pub(crate) fn array_element(array_oid: u32) -> Option<u32> {
    Some(match array_oid {
        1000 => oid::BOOL,
        1001 => oid::BYTEA,
        1003 => oid::NAME,
        1005 => oid::INT2,
        1007 => oid::INT4,
        1009 => oid::TEXT,
        1014 => oid::BPCHAR,
        1015 => oid::VARCHAR,
        1016 => oid::INT8,
        1021 => oid::FLOAT4,
        1022 => oid::FLOAT8,
        1028 => oid::OID,
        1115 => oid::TIMESTAMP,
        1182 => oid::DATE,
        1183 => oid::TIME,
        1185 => oid::TIMESTAMPTZ,
        1187 => oid::INTERVAL,
        1231 => oid::NUMERIC,
        199 => oid::JSON,
        2951 => oid::UUID,
        3807 => oid::JSONB,
        _ => return None,
    })
}

/// One result column as the server describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column name (duplicates allowed, as in `SELECT 1 AS a, 2 AS a`).
    pub name: String,
    /// The type's OID.
    pub type_oid: u32,
    /// The type modifier (-1 when none), e.g. precision and scale of a numeric.
    pub typmod: i32,
    /// The type as `format_type(oid, typmod)` prints it, e.g. `numeric(15,2)`.
    pub pg_type: String,
}

/// How `numeric` columns come out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NumericAs {
    /// decimal128/decimal256 when the column has a precision, else PostgreSQL's text form.
    #[default]
    Auto,
    /// float64 (lossy; NaN and ±Infinity kept).
    Float64,
    /// PostgreSQL's text form, always.
    String,
}

/// Caller's choices for types with more than one reasonable Arrow shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// How `numeric` columns come out.
    pub numeric: NumericAs,
}

impl DecodeOptions {
    /// Builds options from `(family, shape)` pairs such as `("numeric", "float64")`.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut options = DecodeOptions::default();
        for (key, value) in pairs {
            let bad = |reason| CodecError::BadOption { key: key.into(), value: value.into(), reason };
            match key {
                "numeric" => {
                    options.numeric = match value {
                        "decimal" => NumericAs::Auto,
                        "float64" => NumericAs::Float64,
                        "string" => NumericAs::String,
                        _ => return Err(bad("numeric takes \"decimal\", \"float64\" or \"string\"")),
                    }
                }
                _ => return Err(bad("the known type families are: numeric")),
            }
        }
        Ok(options)
    }
}

/// The decode family of a column: what the bytes are and what Arrow type they become.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Decimal { precision: u8, scale: i8 },
    NumericText,
    NumericFloat,
    /// text, varchar, bpchar, name, json, and every type the server sends as text.
    Text,
    Jsonb,
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Uuid,
    /// A one-dimensional array of the element family.
    List(Box<Kind>),
}

impl Kind {
    /// The family for a column, or `None` when the codec has no native decoder for the type
    /// (the caller then asks the server for the text form: see [`needs_text_cast`]).
    pub(crate) fn of(spec: &ColumnSpec, options: &DecodeOptions) -> Option<Kind> {
        Some(match spec.type_oid {
            oid::BOOL => Kind::Bool,
            oid::INT2 => Kind::Int2,
            oid::INT4 => Kind::Int4,
            oid::INT8 => Kind::Int8,
            oid::OID => Kind::Oid,
            oid::FLOAT4 => Kind::Float4,
            oid::FLOAT8 => Kind::Float8,
            oid::NUMERIC => match options.numeric {
                NumericAs::Float64 => Kind::NumericFloat,
                NumericAs::String => Kind::NumericText,
                NumericAs::Auto => numeric_precision(spec.typmod)
                    .map(|(precision, scale)| Kind::Decimal { precision, scale })
                    .unwrap_or(Kind::NumericText),
            },
            oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::JSON => Kind::Text,
            oid::JSONB => Kind::Jsonb,
            oid::BYTEA => Kind::Bytea,
            oid::DATE => Kind::Date,
            oid::TIME => Kind::Time,
            oid::TIMESTAMP => Kind::Timestamp,
            oid::TIMESTAMPTZ => Kind::Timestamptz,
            oid::INTERVAL => Kind::Interval,
            oid::UUID => Kind::Uuid,
            array => {
                // Array columns carry their elements' type modifier (numeric(10,2)[]).
                let element = ColumnSpec { type_oid: array_element(array)?, ..spec.clone() };
                Kind::List(Box::new(Kind::of(&element, options)?))
            }
        })
    }

    pub(crate) fn data_type(&self) -> DataType {
        match *self {
            Kind::Bool => DataType::Boolean,
            Kind::Int2 => DataType::Int16,
            Kind::Int4 => DataType::Int32,
            Kind::Int8 => DataType::Int64,
            Kind::Oid => DataType::UInt32,
            Kind::Float4 => DataType::Float32,
            Kind::Float8 | Kind::NumericFloat => DataType::Float64,
            Kind::Decimal { precision, scale } if precision <= 38 => DataType::Decimal128(precision, scale),
            Kind::Decimal { precision, scale } => DataType::Decimal256(precision, scale),
            Kind::NumericText | Kind::Text | Kind::Jsonb => DataType::Utf8,
            Kind::Bytea => DataType::Binary,
            Kind::Date => DataType::Date32,
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
            Kind::Uuid => DataType::FixedSizeBinary(16),
            Kind::List(ref element) => DataType::List(Arc::new(element.item_field())),
        }
    }

    /// The field of a list's elements.
    pub(crate) fn item_field(&self) -> Field {
        Field::new("item", self.data_type(), true).with_metadata(self.extension_metadata())
    }

    /// Arrow extension type metadata (only `arrow.uuid` so far).
    fn extension_metadata(&self) -> HashMap<String, String> {
        match self {
            Kind::Uuid => HashMap::from([
                ("ARROW:extension:name".to_string(), "arrow.uuid".to_string()),
                ("ARROW:extension:metadata".to_string(), String::new()),
            ]),
            _ => HashMap::new(),
        }
    }
}

/// Whether the codec needs this column as text (cast with `::text` by the query) because it
/// has no native decoder for its type.
pub fn needs_text_cast(spec: &ColumnSpec, options: &DecodeOptions) -> bool {
    Kind::of(spec, options).is_none()
}

/// The Arrow field a column decodes to, with its PostgreSQL type in the metadata.
pub(crate) fn arrow_field(spec: &ColumnSpec, kind: &Kind) -> Field {
    let mut metadata = kind.extension_metadata();
    metadata.insert(PG_TYPE_KEY.to_string(), spec.pg_type.clone());
    Field::new(&spec.name, kind.data_type(), true).with_metadata(metadata)
}

/// Precision and scale from a numeric type modifier, when Arrow can hold them.
///
/// PostgreSQL packs `((precision << 16) | (scale & 0x7ff)) + 4`, the scale being an 11-bit
/// signed number since PostgreSQL 15. Modifiers Arrow cannot represent (precision over 76, a
/// scale above the precision) give `None`, and the column falls back to the text form.
pub(crate) fn numeric_precision(typmod: i32) -> Option<(u8, i8)> {
    if typmod < 4 {
        return None;
    }
    let packed = typmod - 4;
    let precision = (packed >> 16) & 0xffff;
    let scale = ((packed & 0x7ff) ^ 1024) - 1024;
    let fits = (1..=76).contains(&precision) && scale <= precision && scale >= -76;
    fits.then(|| (precision as u8, scale as i8))
}

impl fmt::Display for ColumnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self.name, self.pg_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(type_oid: u32, typmod: i32) -> ColumnSpec {
        ColumnSpec { name: "c".into(), type_oid, typmod, pg_type: "t".into() }
    }

    #[test]
    fn numeric_typmods() {
        assert_eq!(numeric_precision(((15 << 16) | 2) + 4), Some((15, 2)));
        assert_eq!(numeric_precision(((76 << 16) | 10) + 4), Some((76, 10)));
        assert_eq!(numeric_precision(((5 << 16) | (-2i32 & 0x7ff)) + 4), Some((5, -2)));
        assert_eq!(numeric_precision(((77 << 16) | 2) + 4), None);
        assert_eq!(numeric_precision(((2 << 16) | 5) + 4), None);
        assert_eq!(numeric_precision(-1), None);
    }

    #[test]
    fn numeric_arrow_types() {
        let options = DecodeOptions::default();
        let kind = |typmod| Kind::of(&spec(oid::NUMERIC, typmod), &options).unwrap().data_type();
        assert_eq!(kind(((15 << 16) | 2) + 4), DataType::Decimal128(15, 2));
        assert_eq!(kind(((50 << 16) | 3) + 4), DataType::Decimal256(50, 3));
        assert_eq!(kind(-1), DataType::Utf8);
        let floats = DecodeOptions::from_pairs([("numeric", "float64")]).unwrap();
        assert_eq!(Kind::of(&spec(oid::NUMERIC, -1), &floats), Some(Kind::NumericFloat));
    }

    #[test]
    fn arrays_of_known_elements_are_lists() {
        let options = DecodeOptions::default();
        let numeric_array = Kind::of(&spec(1231, ((10 << 16) | 2) + 4), &options).unwrap();
        assert_eq!(numeric_array, Kind::List(Box::new(Kind::Decimal { precision: 10, scale: 2 })));
        assert!(matches!(numeric_array.data_type(), DataType::List(f) if f.data_type() == &DataType::Decimal128(10, 2)));
        assert!(needs_text_cast(&spec(1041 /* inet[] */, -1), &options));
    }

    #[test]
    fn unknown_types_need_text() {
        assert!(needs_text_cast(&spec(869 /* inet */, -1), &DecodeOptions::default()));
        assert!(!needs_text_cast(&spec(oid::TEXT, -1), &DecodeOptions::default()));
    }

    #[test]
    fn bad_options_are_errors() {
        assert!(DecodeOptions::from_pairs([("numeric", "int")]).is_err());
        assert!(DecodeOptions::from_pairs([("money", "float64")]).is_err());
    }
}
