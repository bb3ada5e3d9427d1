//! Query parameters: values from the caller, encoded for the type the server inferred.
//!
//! The statement is prepared first; each parameter is then encoded in binary for the type
//! the server chose for its placeholder, so `WHERE int2_col = $1` takes a plain integer. A
//! string bound to a type we do not encode natively (inet, a date, an enum, ...) is sent in
//! text format for the server to parse, never spliced into the SQL.

use std::error::Error as StdError;
use std::fmt;

use bytes::{BufMut, BytesMut};
use data_bridge_arrow_codec::encode::numeric_from_str;
use tokio_postgres::types::{Format, IsNull, Kind, ToSql, Type};

/// Microseconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const EPOCH_DAYS: i32 = 10_957;

/// A parameter value, as the caller's language hands it over.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// An integer beyond 64 bits, in decimal text.
    BigInt(String),
    /// A double.
    Float(f64),
    /// A string.
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An exact decimal in text form (`"12.50"`, `"NaN"`).
    Decimal(String),
    /// A date as days since 1970-01-01.
    Date(i32),
    /// A timestamp as microseconds since 1970-01-01; `aware` when it denotes an instant (UTC).
    Timestamp {
        /// Microseconds since the Unix epoch.
        micros: i64,
        /// Whether the caller's value had a time zone.
        aware: bool,
    },
    /// A time of day in microseconds.
    Time(i64),
    /// A duration.
    Interval {
        /// Months.
        months: i32,
        /// Days.
        days: i32,
        /// Microseconds.
        micros: i64,
    },
    /// A UUID's 16 bytes.
    Uuid([u8; 16]),
    /// An array (one dimension).
    List(Vec<Value>),
    /// String keys to nullable string values (hstore).
    Map(Vec<(String, Option<String>)>),
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<i32> for Value {
    fn from(value: i32) -> Self {
        Value::Int(value.into())
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Float(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(value)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

/// Why a value could not be encoded; turned into [`crate::Error::Param`].
#[derive(Debug)]
pub(crate) struct ParamError {
    pub index: usize,
    pub reason: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter ${}: {}", self.index + 1, self.reason)
    }
}

impl StdError for ParamError {}

/// A value bound to its placeholder's position, so encoding errors can name it.
#[derive(Debug)]
pub(crate) struct Bound<'a> {
    pub index: usize,
    pub value: &'a Value,
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Bound<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if matches!(self.value, Value::Null) {
            return Ok(IsNull::Yes);
        }
        if matches!(self.encode_format(ty), Format::Text) {
            out.put_slice(text_of(self.value).as_bytes());
            return Ok(IsNull::No);
        }
        encode(self.value, ty, out).map_err(|reason| Box::new(ParamError { index: self.index, reason }) as BoxError)?;
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        match self.value {
            Value::Text(_) if !is_text_like(ty) && !is_native(ty) => Format::Text,
            _ => Format::Binary,
        }
    }

    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.to_sql(ty, out)
    }
}

/// Types whose binary format is the UTF-8 text itself.
fn is_text_like(ty: &Type) -> bool {
    matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON | Type::JSONB)
        || matches!(ty.kind(), Kind::Enum(_))
}

/// Types `encode` handles itself (a string for them is an error or parsed by the server).
fn is_native(ty: &Type) -> bool {
    matches!(ty.kind(), Kind::Array(_))
}

fn encode(value: &Value, ty: &Type, out: &mut BytesMut) -> Result<(), String> {
    let mismatch = || format!("cannot send {} as {}", describe(value), ty.name());
    match (value, ty.clone()) {
        (Value::Null, _) => return Err("NULL inside a value".into()),
        (Value::List(items), _) => return encode_array(items, ty, out).map_err(|e| e.unwrap_or_else(mismatch)),
        (value, ty) if is_text_like(&ty) => {
            if ty == Type::JSONB {
                out.put_u8(1);
            }
            match value {
                Value::Bytes(_) => return Err(mismatch()),
                _ => out.put_slice(text_of(value).as_bytes()),
            }
        }
        (Value::Bool(b), Type::BOOL) => out.put_u8(*b as u8),
        (Value::Int(i), Type::INT2) => out.put_i16(i16::try_from(*i).map_err(|_| out_of_range(*i, "smallint"))?),
        (Value::Int(i), Type::INT4) => out.put_i32(i32::try_from(*i).map_err(|_| out_of_range(*i, "integer"))?),
        (Value::Int(i), Type::INT8) => out.put_i64(*i),
        (Value::Int(i), ty) if is_oid_like(&ty) => {
            out.put_u32(u32::try_from(*i).map_err(|_| out_of_range(*i, ty.name()))?)
        }
        (Value::Int(i), Type::XID8) => out.put_u64(u64::try_from(*i).map_err(|_| out_of_range(*i, "xid8"))?),
        (Value::Int(i), Type::MONEY) => out.put_i64(i.checked_mul(100).ok_or_else(|| out_of_range(*i, "money"))?),
        (Value::Decimal(text), Type::MONEY) => out.put_i64(money_cents(text).ok_or_else(mismatch)?),
        (Value::Map(pairs), ty) if ty.name() == "hstore" => {
            out.put_i32(i32::try_from(pairs.len()).map_err(|_| "too many pairs".to_string())?);
            for (key, value) in pairs {
                out.put_i32(i32::try_from(key.len()).map_err(|_| "key too long".to_string())?);
                out.put_slice(key.as_bytes());
                match value {
                    Some(value) => {
                        out.put_i32(i32::try_from(value.len()).map_err(|_| "value too long".to_string())?);
                        out.put_slice(value.as_bytes());
                    }
                    None => out.put_i32(-1),
                }
            }
        }
        (Value::Int(i), Type::FLOAT4) => out.put_f32(*i as f32),
        (Value::Int(i), Type::FLOAT8) => out.put_f64(*i as f64),
        (Value::Int(_) | Value::BigInt(_) | Value::Decimal(_), Type::NUMERIC) => {
            let mut buf = Vec::new();
            numeric_from_str(&text_of(value), &mut buf)?;
            out.put_slice(&buf);
        }
        (Value::BigInt(text), Type::INT2 | Type::INT4 | Type::INT8) => {
            return Err(format!("{text} is out of range for {}", ty.name()))
        }
        (Value::Float(f), Type::FLOAT4) => out.put_f32(*f as f32),
        (Value::Float(f), Type::FLOAT8) => out.put_f64(*f),
        (Value::Float(f), Type::NUMERIC) => {
            let mut buf = Vec::new();
            numeric_from_str(&float_text(*f), &mut buf)?;
            out.put_slice(&buf);
        }
        (Value::Decimal(text), Type::FLOAT4 | Type::FLOAT8) => {
            let f: f64 = text.parse().map_err(|_| mismatch())?;
            if *ty == Type::FLOAT4 {
                out.put_f32(f as f32)
            } else {
                out.put_f64(f)
            }
        }
        (Value::Bytes(b), Type::BYTEA) => out.put_slice(b),
        (Value::Date(days), Type::DATE) => out.put_i32(days - EPOCH_DAYS),
        (Value::Date(days), Type::TIMESTAMP | Type::TIMESTAMPTZ) => {
            out.put_i64(*days as i64 * 86_400_000_000 - EPOCH_MICROS)
        }
        (Value::Timestamp { micros, .. }, Type::TIMESTAMP | Type::TIMESTAMPTZ) => out.put_i64(micros - EPOCH_MICROS),
        (Value::Timestamp { micros, aware: false }, Type::DATE) if micros.rem_euclid(86_400_000_000) == 0 => {
            out.put_i32((micros.div_euclid(86_400_000_000)) as i32 - EPOCH_DAYS)
        }
        (Value::Time(micros), Type::TIME) => out.put_i64(*micros),
        (Value::Interval { months, days, micros }, Type::INTERVAL) => {
            out.put_i64(*micros);
            out.put_i32(*days);
            out.put_i32(*months);
        }
        (Value::Uuid(bytes), Type::UUID) => out.put_slice(bytes),
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// An array of `items` for array type `ty`, one dimension per level of nested lists;
/// `Err(None)` when `ty` is no array.
fn encode_array(items: &[Value], ty: &Type, out: &mut BytesMut) -> Result<(), Option<String>> {
    let Kind::Array(element) = ty.kind() else { return Err(None) };
    let mut lengths = Vec::new();
    let mut elements = Vec::new();
    flatten(items, 0, &mut lengths, &mut elements).map_err(|e| Some(e.to_string()))?;
    let empty = lengths.contains(&0);
    let has_null = elements.iter().any(|v| matches!(v, Value::Null));
    out.put_i32(if empty { 0 } else { lengths.len() as i32 });
    out.put_i32(has_null as i32);
    out.put_u32(element.oid());
    if empty {
        return Ok(());
    }
    for length in lengths {
        out.put_i32(i32::try_from(length).map_err(|_| Some("array too long".to_string()))?);
        out.put_i32(1);
    }
    for item in elements {
        if matches!(item, Value::Null) {
            out.put_i32(-1);
            continue;
        }
        let len_at = out.len();
        out.put_i32(0);
        encode(item, element, out).map_err(Some)?;
        let len = i32::try_from(out.len() - len_at - 4).map_err(|_| Some("array element too large".to_string()))?;
        out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// The elements of nested lists in row-major order, and the length of each level, checking
/// that they are rectangular (as PostgreSQL's multi-dimensional arrays are).
fn flatten<'a>(
    items: &'a [Value],
    depth: usize,
    lengths: &mut Vec<usize>,
    elements: &mut Vec<&'a Value>,
) -> Result<(), &'static str> {
    const MAX_DIMS: usize = 6;
    let nested = items.first().is_some_and(|item| matches!(item, Value::List(_)));
    match lengths.get(depth) {
        None if depth >= MAX_DIMS => return Err("arrays have at most 6 dimensions"),
        None => lengths.push(items.len()),
        Some(&length) if length != items.len() => {
            return Err("nested lists of different lengths: multi-dimensional arrays must be rectangular")
        }
        Some(_) => {}
    }
    let last_level = lengths.len() == depth + 1 && !nested;
    for item in items {
        match item {
            Value::List(inner) if nested => flatten(inner, depth + 1, lengths, elements)?,
            Value::List(_) | Value::Null if nested => {
                return Err("a list mixing sub-lists and values: multi-dimensional arrays must be rectangular")
            }
            Value::List(_) => return Err("a list mixing values and sub-lists"),
            _ if !last_level => return Err("nested lists of different depths"),
            value => elements.push(value),
        }
    }
    Ok(())
}

/// The oid type and its aliases (regclass, regtype, ...) and xid/cid: all a u32 on the wire.
fn is_oid_like(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::OID
            | Type::REGPROC
            | Type::REGPROCEDURE
            | Type::REGOPER
            | Type::REGOPERATOR
            | Type::REGCLASS
            | Type::REGTYPE
            | Type::REGCONFIG
            | Type::REGDICTIONARY
            | Type::REGNAMESPACE
            | Type::REGROLE
            | Type::REGCOLLATION
            | Type::XID
            | Type::CID
    )
}

/// A decimal's text as money's int64 cents, when it has at most two places.
fn money_cents(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2
        || int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents: i64 = format!("{int}{frac:0<2}").parse().ok()?;
    Some(if negative { -cents } else { cents })
}

fn out_of_range(value: i64, type_name: &str) -> String {
    format!("{value} is out of range for {type_name}")
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        format!("{f:?}")
    }
}

/// The value's text form, as PostgreSQL's input functions read it.
fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(t) | Value::Decimal(t) | Value::Text(t) => t.clone(),
        Value::Float(f) => float_text(*f),
        Value::Bytes(b) => b.iter().fold(String::from("\\x"), |s, byte| s + &format!("{byte:02x}")),
        Value::Date(days) => date_text(*days),
        Value::Timestamp { micros, aware } => {
            let days = micros.div_euclid(86_400_000_000);
            let time = time_text(micros.rem_euclid(86_400_000_000));
            let zone = if *aware { "+00" } else { "" };
            let date = date_text(days as i32);
            match date.strip_suffix(" BC") {
                Some(date) => format!("{date} {time}{zone} BC"),
                None => format!("{date} {time}{zone}"),
            }
        }
        Value::Time(micros) => time_text(*micros),
        Value::Interval { months, days, micros } => format!("{months} mons {days} days {micros} microseconds"),
        Value::Uuid(b) => uuid_text(b),
        Value::List(_) | Value::Map(_) => String::new(),
    }
}

/// ISO date for days since 1970-01-01 (proleptic Gregorian; year 0 is 1 BC, as PostgreSQL has it).
fn date_text(days: i32) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    if year <= 0 {
        format!("{:04}-{month:02}-{day:02} BC", 1 - year)
    } else {
        format!("{year:04}-{month:02}-{day:02}")
    }
}

fn time_text(micros: i64) -> String {
    let (secs, frac) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    format!("{:02}:{:02}:{:02}.{frac:06}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn uuid_text(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::BigInt(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Text(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Decimal(_) => "a decimal",
        Value::Date(_) => "a date",
        Value::Timestamp { .. } => "a datetime",
        Value::Time(_) => "a time",
        Value::Interval { .. } => "a timedelta",
        Value::Uuid(_) => "a UUID",
        Value::List(_) => "a list",
        Value::Map(_) => "a dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_parse_in_postgres() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(-719_528), "0000-01-01".replace("0000", "0001") + " BC");
        assert_eq!(date_text(19_723), "2024-01-01");
        assert_eq!(time_text(45_296_000_001), "12:34:56.000001");
        let ts = Value::Timestamp { micros: 1_704_067_200_000_000, aware: true };
        assert_eq!(text_of(&ts), "2024-01-01 00:00:00.000000+00");
        assert_eq!(uuid_text(&[0xab; 16]), "abababab-abab-abab-abab-abababababab");
    }

    #[test]
    fn integers_are_range_checked() {
        let mut out = BytesMut::new();
        assert!(encode(&Value::Int(70_000), &Type::INT2, &mut out).is_err());
        assert!(encode(&Value::Int(1 << 40), &Type::INT4, &mut out).is_err());
        encode(&Value::Int(-5), &Type::INT4, &mut out).unwrap();
        assert_eq!(&out[..], &(-5i32).to_be_bytes());
    }

    #[test]
    fn arrays_carry_nulls_and_element_type() {
        let mut out = BytesMut::new();
        let list = Value::List(vec![Value::Int(1), Value::Null]);
        encode(&list, &Type::INT4_ARRAY, &mut out).unwrap();
        let expected: Vec<u8> = [1i32, 1, 23, 2, 1, 4, 1, -1].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(&out[..], &expected[..]);
    }
}
