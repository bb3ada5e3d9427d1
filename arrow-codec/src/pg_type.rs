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
    pub const CHAR: u32 = 18;
    pub const REGPROC: u32 = 24;
    pub const XID: u32 = 28;
    pub const CID: u32 = 29;
    pub const MONEY: u32 = 790;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const REGPROCEDURE: u32 = 2202;
    pub const REGOPER: u32 = 2203;
    pub const REGOPERATOR: u32 = 2204;
    pub const REGCLASS: u32 = 2205;
    pub const REGTYPE: u32 = 2206;
    pub const REGCONFIG: u32 = 3734;
    pub const REGDICTIONARY: u32 = 3769;
    pub const REGNAMESPACE: u32 = 4089;
    pub const REGROLE: u32 = 4096;
    pub const REGCOLLATION: u32 = 4191;
    pub const XID8: u32 = 5069;

    /// The types stored as a bare 32-bit OID or id: the reg* aliases, xid and cid.
    pub fn is_oid_alias(oid: u32) -> bool {
        matches!(
            oid,
            REGPROC
                | XID
                | CID
                | REGPROCEDURE
                | REGOPER
                | REGOPERATOR
                | REGCLASS
                | REGTYPE
                | REGCONFIG
                | REGDICTIONARY
                | REGNAMESPACE
                | REGROLE
                | REGCOLLATION
        )
    }
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column name (duplicates allowed, as in `SELECT 1 AS a, 2 AS a`).
    pub name: String,
    /// The type's OID.
    pub type_oid: u32,
    /// The type modifier (-1 when none), e.g. precision and scale of a numeric.
    pub typmod: i32,
    /// The type as `format_type(oid, typmod)` prints it, e.g. `numeric(15,2)`.
    pub pg_type: String,
    /// What the catalog says of types the OID alone does not describe (enums, arrays,
    /// composites, ranges).
    pub shape: Shape,
}

impl ColumnSpec {
    /// A column of a type the OID describes (a built-in scalar or array type).
    pub fn new(name: impl Into<String>, type_oid: u32, typmod: i32, pg_type: impl Into<String>) -> Self {
        ColumnSpec { name: name.into(), type_oid, typmod, pg_type: pg_type.into(), shape: Shape::Plain }
    }
}

/// The structure of a type, from the catalog (`pg_type.typtype` and friends).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Shape {
    /// Decided by the OID alone.
    #[default]
    Plain,
    /// An enum: the label's text on the wire.
    Enum,
    /// An array of the element type (any element, enums and composites included).
    Array(Box<ColumnSpec>),
    /// A composite (row) type with these attributes.
    Composite(Vec<ColumnSpec>),
    /// A range over the subtype.
    Range(Box<ColumnSpec>),
    /// A multirange of the range type.
    Multirange(Box<ColumnSpec>),
    /// The hstore extension's key/value map.
    Hstore,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// How `numeric` columns come out.
    pub numeric: NumericAs,
    /// Enums as plain strings instead of dictionary<int32, string>.
    pub enum_as_string: bool,
    /// UUIDs as their 36-character text instead of the `arrow.uuid` extension.
    pub uuid_as_string: bool,
    /// The unit of timestamp columns (microseconds, PostgreSQL's own resolution, by default).
    pub timestamp_unit: TimeUnit,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            numeric: NumericAs::default(),
            enum_as_string: false,
            uuid_as_string: false,
            timestamp_unit: TimeUnit::Microsecond,
        }
    }
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
                "enum" => {
                    options.enum_as_string = match value {
                        "dictionary" => false,
                        "string" => true,
                        _ => return Err(bad("enum takes \"dictionary\" or \"string\"")),
                    }
                }
                "uuid" => {
                    options.uuid_as_string = match value {
                        "uuid" => false,
                        "string" => true,
                        _ => return Err(bad("uuid takes \"uuid\" or \"string\"")),
                    }
                }
                "timestamp" => {
                    options.timestamp_unit = match value {
                        "s" => TimeUnit::Second,
                        "ms" => TimeUnit::Millisecond,
                        "us" => TimeUnit::Microsecond,
                        "ns" => TimeUnit::Nanosecond,
                        _ => return Err(bad("timestamp takes \"s\", \"ms\", \"us\" or \"ns\"")),
                    }
                }
                "json" if value == "string" => {}
                "json" => return Err(bad("json takes \"string\"")),
                _ => return Err(bad("the known type families are: numeric, enum, uuid, json, timestamp")),
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
    Decimal {
        precision: u8,
        scale: i8,
    },
    NumericText,
    NumericFloat,
    /// text, varchar, bpchar, name, json, and every type the server sends as text.
    Text,
    Jsonb,
    Bytea,
    Date,
    Time,
    Timestamp(TimeUnit),
    Timestamptz(TimeUnit),
    Interval,
    Uuid,
    UuidText,
    /// xid8: a 64-bit transaction id.
    UInt64,
    /// money: int64 cents.
    Money,
    /// bit, varbit: a string of '0' and '1'.
    Bits,
    /// "char": one byte, printed as PostgreSQL's charout does.
    Char,
    /// An enum label, dictionary-encoded.
    Enum,
    /// timetz: microseconds and the zone's offset.
    TimeTz,
    /// A one-dimensional array of the element family.
    List(Box<Kind>),
    /// A composite type: named attributes.
    Composite(Vec<(String, Kind)>),
    /// A range over the subtype family.
    Range(Box<Kind>),
    /// A multirange: a list of ranges of the subtype family.
    Multirange(Box<Kind>),
    /// hstore: a map of strings to nullable strings.
    Hstore,
}

impl Kind {
    /// The family for a column, or `None` when the codec has no native decoder for the type
    /// (the caller then asks the server for the text form: see [`needs_text_cast`]).
    pub(crate) fn of(spec: &ColumnSpec, options: &DecodeOptions) -> Option<Kind> {
        match &spec.shape {
            Shape::Plain => {}
            Shape::Enum if options.enum_as_string => return Some(Kind::Text),
            Shape::Enum => return Some(Kind::Enum),
            Shape::Array(element) => return Some(Kind::List(Box::new(Kind::of(element, options)?))),
            Shape::Composite(attributes) => {
                let attributes = attributes.iter().map(|a| Some((a.name.clone(), Kind::of(a, options)?)));
                return Some(Kind::Composite(attributes.collect::<Option<_>>()?));
            }
            Shape::Range(subtype) => return Some(Kind::Range(Box::new(Kind::of(subtype, options)?))),
            Shape::Hstore => return Some(Kind::Hstore),
            Shape::Multirange(range) => match Kind::of(range, options)? {
                Kind::Range(subtype) => return Some(Kind::Multirange(subtype)),
                _ => return None,
            },
        }
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
            oid::TIMESTAMP => Kind::Timestamp(options.timestamp_unit),
            oid::TIMESTAMPTZ => Kind::Timestamptz(options.timestamp_unit),
            oid::INTERVAL => Kind::Interval,
            oid::UUID if options.uuid_as_string => Kind::UuidText,
            oid::UUID => Kind::Uuid,
            oid::CHAR => Kind::Char,
            alias if oid::is_oid_alias(alias) => Kind::Oid,
            oid::XID8 => Kind::UInt64,
            oid::MONEY => Kind::Money,
            oid::BIT | oid::VARBIT => Kind::Bits,
            oid::TIMETZ => Kind::TimeTz,
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
            Kind::NumericText | Kind::Text | Kind::Jsonb | Kind::Bits | Kind::UuidText | Kind::Char => DataType::Utf8,
            Kind::UInt64 => DataType::UInt64,
            Kind::Money => DataType::Decimal128(19, 2),
            Kind::Enum => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            Kind::TimeTz => DataType::Struct(timetz_fields().into()),
            Kind::Composite(ref attributes) => DataType::Struct(
                attributes.iter().map(|(name, kind)| kind.named_field(name)).collect::<Vec<_>>().into(),
            ),
            Kind::Range(ref subtype) => DataType::Struct(range_fields(subtype).into()),
            Kind::Hstore => DataType::Map(Arc::new(hstore_entries()), false),
            Kind::Multirange(ref subtype) => {
                DataType::List(Arc::new(Field::new("item", DataType::Struct(range_fields(subtype).into()), true)))
            }
            Kind::Bytea => DataType::Binary,
            Kind::Date => DataType::Date32,
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Timestamp(unit) => DataType::Timestamp(unit, None),
            Kind::Timestamptz(unit) => DataType::Timestamp(unit, Some("UTC".into())),
            Kind::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
            Kind::Uuid => DataType::FixedSizeBinary(16),
            Kind::List(ref element) => DataType::List(Arc::new(element.item_field())),
        }
    }

    /// The field of a list's elements.
    pub(crate) fn item_field(&self) -> Field {
        self.named_field("item")
    }

    /// A nullable field of this family (with its extension metadata).
    pub(crate) fn named_field(&self, name: &str) -> Field {
        Field::new(name, self.data_type(), true).with_metadata(self.extension_metadata())
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

/// hstore's map entries: non-null string keys, nullable string values.
pub(crate) fn hstore_entries() -> Field {
    let fields = vec![Field::new("keys", DataType::Utf8, false), Field::new("values", DataType::Utf8, true)];
    Field::new("entries", DataType::Struct(fields.into()), false)
}

/// timetz's struct fields: the time of day and the zone's offset east of UTC in seconds.
pub(crate) fn timetz_fields() -> Vec<Field> {
    vec![
        Field::new("time", DataType::Time64(TimeUnit::Microsecond), false),
        Field::new("offset_seconds", DataType::Int32, false),
    ]
}

/// A range's struct fields: `lower`, `upper`, `lower_inclusive`, `upper_inclusive`, `empty`
/// (an unbounded side has a NULL bound and is not inclusive).
pub(crate) fn range_fields(subtype: &Kind) -> Vec<Field> {
    vec![
        subtype.named_field("lower"),
        subtype.named_field("upper"),
        Field::new("lower_inclusive", DataType::Boolean, false),
        Field::new("upper_inclusive", DataType::Boolean, false),
        Field::new("empty", DataType::Boolean, false),
    ]
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
    fits.then_some((precision as u8, scale as i8))
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
        ColumnSpec::new("c", type_oid, typmod, "t")
    }

    /// The crate docs' type table agrees with the code: every row has probes here, each probe's
    /// Arrow type is what `Kind` gives, and the row's Arrow cell names it.
    #[test]
    fn crate_docs_type_table_matches_the_code() {
        let shaped = |shape: Shape| ColumnSpec { shape, ..spec(99_999, -1) };
        let int4 = || Box::new(spec(oid::INT4, -1));
        let probes: Vec<(&str, Vec<(ColumnSpec, &str)>)> = vec![
            ("bool", vec![(spec(oid::BOOL, -1), "Boolean")]),
            ("int2 / int4 / int8", vec![(spec(oid::INT2, -1), "Int16"), (spec(oid::INT8, -1), "Int64")]),
            (
                "oid, reg* (regclass, regtype, ...), xid, cid / xid8",
                vec![
                    (spec(oid::REGCLASS, -1), "UInt32"),
                    (spec(oid::XID, -1), "UInt32"),
                    (spec(oid::XID8, -1), "UInt64"),
                ],
            ),
            ("float4 / float8", vec![(spec(oid::FLOAT4, -1), "Float32"), (spec(oid::FLOAT8, -1), "Float64")]),
            (
                "numeric(p,s), p <= 38 / p <= 76",
                vec![
                    (spec(oid::NUMERIC, ((38 << 16) | 2) + 4), "Decimal128"),
                    (spec(oid::NUMERIC, ((76 << 16) | 2) + 4), "Decimal256"),
                ],
            ),
            ("numeric without typmod", vec![(spec(oid::NUMERIC, -1), "Utf8")]),
            ("money", vec![(spec(oid::MONEY, -1), "Decimal128(19, 2)")]),
            (
                "text, varchar, bpchar, name, json, jsonb, \"char\"",
                vec![(spec(oid::BPCHAR, 5), "Utf8"), (spec(oid::JSONB, -1), "Utf8"), (spec(oid::CHAR, -1), "Utf8")],
            ),
            ("bit, varbit", vec![(spec(oid::VARBIT, -1), "Utf8")]),
            ("bytea", vec![(spec(oid::BYTEA, -1), "Binary")]),
            ("date", vec![(spec(oid::DATE, -1), "Date32")]),
            ("time / timetz", vec![(spec(oid::TIME, -1), "Time64(µs)"), (spec(oid::TIMETZ, -1), "Struct")]),
            (
                "timestamp / timestamptz",
                vec![
                    (spec(oid::TIMESTAMP, -1), "Timestamp(µs)"),
                    (spec(oid::TIMESTAMPTZ, -1), "Timestamp(µs, \"UTC\")"),
                ],
            ),
            ("interval", vec![(spec(oid::INTERVAL, -1), "Interval(MonthDayNano)")]),
            ("uuid", vec![(spec(oid::UUID, -1), "FixedSizeBinary(16)")]),
            ("enum ([`Shape::Enum`])", vec![(shaped(Shape::Enum), "Dictionary(Int32, Utf8)")]),
            ("composite ([`Shape::Composite`])", vec![(shaped(Shape::Composite(vec![spec(oid::INT4, -1)])), "Struct")]),
            (
                "range ([`Shape::Range`]) / multirange",
                vec![
                    (shaped(Shape::Range(int4())), "Struct"),
                    (shaped(Shape::Multirange(Box::new(shaped(Shape::Range(int4()))))), "List"),
                ],
            ),
            ("hstore ([`Shape::Hstore`])", vec![(shaped(Shape::Hstore), "Map")]),
            (
                "arrays ([`Shape::Array`] or a built-in array OID)",
                vec![(spec(1007, -1), "List"), (shaped(Shape::Array(Box::new(shaped(Shape::Array(int4()))))), "List")],
            ),
            ("anything else", vec![(spec(869, -1), "Utf8")]),
        ];
        let rows: Vec<(&str, &str)> = include_str!("lib.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! | "))
            .filter_map(|row| row.strip_suffix(" |")?.split_once(" | "))
            .filter(|(pg, _)| !matches!(*pg, "PostgreSQL" | "---"))
            .collect();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), probes.iter().map(|p| p.0).collect::<Vec<_>>());
        for ((_, arrow_cell), (row, checks)) in rows.iter().zip(&probes) {
            for (column, word) in checks {
                assert!(arrow_cell.contains(word), "{row}: the table does not name {word}");
                let data_type = match Kind::of(column, &DecodeOptions::default()) {
                    Some(kind) => format!("{}", kind.data_type()),
                    None => "Utf8".to_string(), // read as text
                };
                assert!(data_type.starts_with(word), "{row}: the code gives {data_type}, the table {word}");
            }
        }
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
        assert!(
            matches!(numeric_array.data_type(), DataType::List(f) if f.data_type() == &DataType::Decimal128(10, 2))
        );
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
