//! Property tests: random values of every family written in PostgreSQL's binary formats by a
//! test-side encoder (`support`), framed as COPY tuples with random NULLs, cut into chunks at
//! random row boundaries, decoded, and compared with Arrow arrays built from the originals.
//! Then: whatever the bytes, `decode` returns Ok or Err and never panics.
//!
//! `PROPTEST_CASES=5000 cargo test -p data-bridge-arrow-codec --test proptest` runs longer.

mod support;

use std::fmt::Debug;
use std::sync::Arc;

use arrow_array::types::{Decimal128Type, Decimal256Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, FixedSizeBinaryArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, IntervalMonthDayNanoArray, PrimitiveArray, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow_buffer::{i256, IntervalMonthDayNano};
use data_bridge_arrow_codec::{
    copy_format, decode_all, oid, tuple, CodecError, ColumnSpec, DecodeOptions, Decoder,
};
use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::{select, Index};

use support::{
    decimal_text, numeric_typmod, push_tuple, spec, wire, EPOCH_DAYS, EPOCH_MICROS, PG_DATE_MAX, PG_DATE_MIN,
    PG_TIMESTAMP_END, PG_TIMESTAMP_MIN,
};

/// Moderate by default so the suite runs in seconds; `PROPTEST_CASES` overrides.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// Generated columns

/// A generated column: what the server would describe, send, and what it must decode to.
#[derive(Clone, Debug)]
struct Column {
    spec: ColumnSpec,
    wire: Vec<Option<Vec<u8>>>,
    expected: ArrayRef,
}

/// `rows` random values (about one in six NULL) of one family.
///
/// `encode` writes a value's binary format; `expected` builds the Arrow array the column must
/// decode to from the same values.
fn column_of<T, S, E, X>(
    spec: ColumnSpec,
    values: S,
    encode: E,
    expected: X,
    rows: usize,
) -> BoxedStrategy<Column>
where
    T: Debug + Clone + 'static,
    S: Strategy<Value = T> + 'static,
    E: Fn(&T) -> Vec<u8> + 'static,
    X: Fn(Vec<Option<T>>) -> ArrayRef + 'static,
{
    vec(weighted(0.85, values), rows)
        .prop_map(move |values| Column {
            spec: spec.clone(),
            wire: values.iter().map(|v| v.as_ref().map(&encode)).collect(),
            expected: expected(values),
        })
        .boxed()
}

fn array<A: Array + 'static>(a: A) -> ArrayRef {
    Arc::new(a)
}

/// Bits of floats, so NaN payloads and -0 survive (`any::<f64>()` leaves those out).
fn float4() -> impl Strategy<Value = f32> {
    prop_oneof![any::<f32>(), any::<u32>().prop_map(f32::from_bits)]
}

fn float8() -> impl Strategy<Value = f64> {
    prop_oneof![any::<f64>(), any::<u64>().prop_map(f64::from_bits)]
}

/// A day in PostgreSQL's date range, or ±infinity.
fn pg_date() -> impl Strategy<Value = i32> {
    prop_oneof![8 => PG_DATE_MIN..=PG_DATE_MAX, 1 => Just(i32::MAX), 1 => Just(i32::MIN)]
}

/// A timestamp within both PostgreSQL's and Arrow's range, or ±infinity.
fn pg_timestamp() -> impl Strategy<Value = i64> {
    let arrow_max = i64::MAX - EPOCH_MICROS - 1;
    prop_oneof![
        8 => PG_TIMESTAMP_MIN..PG_TIMESTAMP_END.min(arrow_max),
        2 => -1_000_000_000_000i64..1_000_000_000_000, // near 2000-01-01
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
    ]
}

fn date32(pg_days: i32) -> i32 {
    match pg_days {
        i32::MAX | i32::MIN => pg_days,
        days => days + EPOCH_DAYS,
    }
}

fn timestamp_us(pg_micros: i64) -> i64 {
    match pg_micros {
        i64::MAX | i64::MIN => pg_micros,
        micros => micros + EPOCH_MICROS,
    }
}

/// text, varchar, bpchar, name and json all arrive as their UTF-8 bytes.
fn text_like(rows: usize) -> BoxedStrategy<Column> {
    let types = vec![
        (oid::TEXT, "text"),
        (oid::VARCHAR, "character varying"),
        (oid::BPCHAR, "character(12)"),
        (oid::NAME, "name"),
        (oid::JSON, "json"),
    ];
    select(types)
        .prop_flat_map(move |(type_oid, pg_type)| {
            let strings = prop_oneof![any::<String>(), "[a-zA-Z0-9 ]{0,12}", "\\PC{0,4}"];
            column_of(
                spec("t", type_oid, -1, pg_type),
                strings,
                |s| wire::text(s),
                |v| array(StringArray::from(v)),
                rows,
            )
        })
        .boxed()
}

/// numeric(p,s) with p <= 38 into decimal128(p,s): any unscaled value of up to p digits.
///
/// The text handed to `numeric_from_str` is sometimes spelled with fewer or more fraction
/// zeros, so the wire display scale differs from the column's (still the same number).
fn decimal128(rows: usize) -> BoxedStrategy<Column> {
    (1u8..=38)
        .prop_flat_map(|p| (Just(p), -4i8..=p as i8))
        .prop_flat_map(move |(p, s)| {
            let values = (unscaled(p), spelling());
            let encode = move |&(v, spelling): &(i128, Spelling)| {
                wire::numeric(&spell(decimal_text(v < 0, &v.unsigned_abs().to_string(), s as i32), spelling))
            };
            let expected = move |v: Vec<Option<(i128, Spelling)>>| {
                let values: PrimitiveArray<Decimal128Type> =
                    v.into_iter().map(|v| v.map(|(v, _)| v)).collect();
                array(values.with_precision_and_scale(p, s).expect("valid precision"))
            };
            let pg_type = format!("numeric({p},{s})");
            column_of(
                spec("d", oid::NUMERIC, numeric_typmod(p as i32, s as i32), &pg_type),
                values,
                encode,
                expected,
                rows,
            )
        })
        .boxed()
}

/// numeric(p,s) with 38 < p <= 76 into decimal256(p,s), from random digit strings.
fn decimal256(rows: usize) -> BoxedStrategy<Column> {
    (39u8..=76)
        .prop_flat_map(|p| (Just(p), 0i8..=p as i8))
        .prop_flat_map(move |(p, s)| {
            let values =
                (any::<bool>(), proptest::string::string_regex(&format!("[0-9]{{1,{p}}}")).expect("regex"));
            let encode = move |(negative, digits): &(bool, String)| {
                wire::numeric(&decimal_text(*negative, digits, s as i32))
            };
            let expected = move |v: Vec<Option<(bool, String)>>| {
                let values: PrimitiveArray<Decimal256Type> = v
                    .into_iter()
                    .map(|v| {
                        v.map(|(negative, digits)| {
                            let magnitude = i256::from_string(&digits).expect("digits");
                            if negative {
                                magnitude.wrapping_neg()
                            } else {
                                magnitude
                            }
                        })
                    })
                    .collect();
                array(values.with_precision_and_scale(p, s).expect("valid precision"))
            };
            let pg_type = format!("numeric({p},{s})");
            column_of(
                spec("d", oid::NUMERIC, numeric_typmod(p as i32, s as i32), &pg_type),
                values,
                encode,
                expected,
                rows,
            )
        })
        .boxed()
}

/// How decimal text is spelled: the same number with another display scale on the wire.
#[derive(Clone, Copy, Debug)]
enum Spelling {
    /// As `decimal_text` writes it, the column's scale (what PostgreSQL sends).
    AsIs,
    /// Trailing fraction zeros dropped: "1.500" -> "1.5", "2.00" -> "2".
    Trimmed,
    /// Three more fraction zeros: "1.5" -> "1.5000", "2" -> "2.000".
    Padded,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    select(vec![Spelling::AsIs, Spelling::Trimmed, Spelling::Padded])
}

fn spell(text: String, spelling: Spelling) -> String {
    match spelling {
        Spelling::AsIs => text,
        Spelling::Trimmed if text.contains('.') => {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        Spelling::Trimmed => text,
        Spelling::Padded if text.contains('.') => format!("{text}000"),
        Spelling::Padded => format!("{text}.000"),
    }
}

/// Up to `p` digits, sometimes ending in many zeros (whole base-10000 groups left off the wire).
fn unscaled(p: u8) -> impl Strategy<Value = i128> {
    let limit = 10i128.pow(p as u32);
    (0..limit, 0..=p as u32, any::<bool>()).prop_map(|(v, zeros, negative)| {
        let v = v / 10i128.pow(zeros) * 10i128.pow(zeros);
        if negative {
            -v
        } else {
            v
        }
    })
}

/// One column of `rows` values, of any family the codec decodes natively.
fn any_column(rows: usize) -> BoxedStrategy<Column> {
    prop_oneof![
        column_of(
            spec("b", oid::BOOL, -1, "boolean"),
            any::<bool>(),
            |&v| wire::bool(v),
            |v| array(BooleanArray::from(v)),
            rows
        ),
        column_of(
            spec("i2", oid::INT2, -1, "smallint"),
            any::<i16>(),
            |&v| wire::int2(v),
            |v| array(Int16Array::from(v)),
            rows
        ),
        column_of(
            spec("i4", oid::INT4, -1, "integer"),
            any::<i32>(),
            |&v| wire::int4(v),
            |v| array(Int32Array::from(v)),
            rows
        ),
        column_of(
            spec("i8", oid::INT8, -1, "bigint"),
            any::<i64>(),
            |&v| wire::int8(v),
            |v| array(Int64Array::from(v)),
            rows
        ),
        column_of(
            spec("o", oid::OID, -1, "oid"),
            any::<u32>(),
            |&v| wire::oid(v),
            |v| array(UInt32Array::from(v)),
            rows
        ),
        column_of(
            spec("f4", oid::FLOAT4, -1, "real"),
            float4(),
            |&v| wire::float4(v),
            |v| array(Float32Array::from(v)),
            rows
        ),
        column_of(
            spec("f8", oid::FLOAT8, -1, "double precision"),
            float8(),
            |&v| wire::float8(v),
            |v| array(Float64Array::from(v)),
            rows
        ),
        text_like(rows),
        column_of(
            spec("j", oid::JSONB, -1, "jsonb"),
            any::<String>(),
            |v| wire::jsonb(v),
            |v| array(StringArray::from(v)),
            rows
        ),
        column_of(
            spec("by", oid::BYTEA, -1, "bytea"),
            vec(any::<u8>(), 0..40),
            |v| v.clone(),
            |v| array(BinaryArray::from_iter(v)),
            rows
        ),
        column_of(
            spec("d", oid::DATE, -1, "date"),
            pg_date(),
            |&v| wire::date(v),
            |v| array(Date32Array::from_iter(v.into_iter().map(|d| d.map(date32)))),
            rows
        ),
        column_of(
            spec("t", oid::TIME, -1, "time without time zone"),
            0i64..=86_400_000_000,
            |&v| wire::micros(v),
            |v| array(Time64MicrosecondArray::from(v)),
            rows
        ),
        column_of(
            spec("ts", oid::TIMESTAMP, -1, "timestamp without time zone"),
            pg_timestamp(),
            |&v| wire::micros(v),
            |v| array(TimestampMicrosecondArray::from_iter(v.into_iter().map(|t| t.map(timestamp_us)))),
            rows
        ),
        column_of(
            spec("tz", oid::TIMESTAMPTZ, -1, "timestamp with time zone"),
            pg_timestamp(),
            |&v| wire::micros(v),
            |v| array(
                TimestampMicrosecondArray::from_iter(v.into_iter().map(|t| t.map(timestamp_us)))
                    .with_timezone("UTC")
            ),
            rows
        ),
        column_of(
            spec("iv", oid::INTERVAL, -1, "interval"),
            (-(i64::MAX / 1000)..=i64::MAX / 1000, any::<i32>(), any::<i32>()),
            |&(micros, days, months)| wire::interval(micros, days, months),
            |v| array(IntervalMonthDayNanoArray::from_iter(
                v.into_iter().map(|v| v.map(|(us, d, m)| IntervalMonthDayNano::new(m, d, us * 1000)))
            )),
            rows,
        ),
        column_of(
            spec("u", oid::UUID, -1, "uuid"),
            any::<[u8; 16]>(),
            |v| v.to_vec(),
            |v| array(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(v.into_iter(), 16).expect("uuids")
            ),
            rows
        ),
        column_of(
            spec("n", oid::NUMERIC, -1, "numeric"),
            decimal_string(),
            |v| wire::numeric(v),
            |v| array(StringArray::from_iter(v.iter().map(|s| s.as_deref().map(canonical_numeric)))),
            rows
        ),
        decimal128(rows),
        decimal256(rows),
    ]
    .boxed()
}

/// A result: 1 to 6 columns of any families, the same number of rows each.
#[derive(Clone, Debug)]
struct Table {
    rows: usize,
    columns: Vec<Column>,
}

impl Table {
    fn decoder(&self, options: &DecodeOptions) -> Decoder {
        Decoder::new(self.columns.iter().map(|c| c.spec.clone()).collect(), options)
    }

    /// Each row as one encoded tuple.
    fn tuples(&self) -> Vec<Vec<u8>> {
        (0..self.rows)
            .map(|row| {
                let mut out = Vec::new();
                push_tuple(&mut out, self.columns.iter().map(|c| c.wire[row].as_deref()));
                out
            })
            .collect()
    }

    /// All rows and the trailer: what follows the header in a stream.
    fn body(&self) -> Vec<u8> {
        let mut out = self.tuples().concat();
        out.extend_from_slice(&copy_format::TRAILER);
        out
    }
}

fn table(max_rows: usize) -> impl Strategy<Value = Table> {
    (0..=max_rows)
        .prop_flat_map(|rows| vec(any_column(rows), 1..=6).prop_map(move |columns| Table { rows, columns }))
}

/// Row boundaries `0 = b0 <= b1 <= ... <= rows`, from random cut points (empty chunks included).
fn boundaries(rows: usize, cuts: &[Index]) -> Vec<usize> {
    let mut bounds: Vec<usize> = cuts.iter().map(|cut| cut.index(rows + 1)).collect();
    bounds.extend([0, rows]);
    bounds.sort_unstable();
    bounds
}

// ---------------------------------------------------------------------------------------------
// numeric text

/// Decimal text as people and `str(Decimal)` write it: sign, leading zeros, point, exponent.
fn decimal_string() -> impl Strategy<Value = String> {
    let finite = (
        "[-+]?",
        "[0-9]{0,24}",
        proptest::option::of("[0-9]{0,24}"),
        proptest::option::of(("[eE]", "[-+]?", 0u32..40)),
    )
        .prop_filter("needs a digit", |(_, int, frac, _)| {
            !int.is_empty() || frac.as_deref().is_some_and(|f| !f.is_empty())
        })
        .prop_map(|(sign, int, frac, exponent)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            let exponent = exponent.map(|(e, sign, n)| format!("{e}{sign}{n}")).unwrap_or_default();
            format!("{sign}{int}{frac}{exponent}")
        });
    let special = select(&["NaN", "nan", "Infinity", "-Infinity", "+Infinity", "inf", "-inf"][..])
        .prop_map(str::to_string);
    prop_oneof![12 => finite, 1 => special]
}

/// What PostgreSQL prints for `text::numeric`: no leading zeros, no exponent, the display
/// scale being the fraction digits less the exponent (at least 0), no sign on zero.
fn canonical_numeric(text: &str) -> String {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    match body.to_ascii_lowercase().as_str() {
        "nan" => return "NaN".into(),
        "inf" | "infinity" => return if negative { "-Infinity" } else { "Infinity" }.into(),
        _ => {}
    }
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().expect("exponent")),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // value = digits x 10^exp10
    let exp10 = exponent - frac.len() as i64;
    let scale = (-exp10).max(0) as usize;
    // value x 10^scale, as a digit string with at least scale + 1 digits.
    let scaled = format!("{int}{frac}{}", "0".repeat(exp10.max(0) as usize));
    let scaled = format!("{}{scaled}", "0".repeat((scale + 1).saturating_sub(scaled.len())));
    let (int, frac) = scaled.split_at(scaled.len() - scale);
    let int = match int.trim_start_matches('0') {
        "" => "0",
        int => int,
    };
    let sign = if negative && scaled.bytes().any(|b| b != b'0') { "-" } else { "" };
    let point = if scale > 0 { "." } else { "" };
    format!("{sign}{int}{point}{frac}")
}

fn decode_one(spec: ColumnSpec, options: &DecodeOptions, value: &[u8]) -> Result<ArrayRef, CodecError> {
    let mut chunk = Vec::new();
    push_tuple(&mut chunk, [Some(value)].into_iter());
    Ok(Decoder::new(vec![spec], options).decode(&chunk)?.column(0).clone())
}

#[test]
fn canonical_numeric_examples() {
    for (input, expected) in [
        ("0012.3400", "12.3400"),
        ("-0.00", "0.00"),
        ("1.5e-7", "0.00000015"),
        ("1E+3", "1000"),
        ("0.00e1", "0.0"),
        ("-.5", "-0.5"),
        ("5.", "5"),
        ("+inf", "Infinity"),
        ("12e-1", "1.2"),
    ] {
        assert_eq!(canonical_numeric(input), expected, "{input}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config(256))]

    /// Random tables, cut into chunks at random row boundaries (the last chunk with or without
    /// the trailer) and decoded in parallel with `decode_all`, give exactly the generated values.
    #[test]
    fn chunks_decode_to_the_original_values(
        table in table(40),
        cuts in vec(any::<Index>(), 0..4),
        trailer in any::<bool>(),
    ) {
        let decoder = table.decoder(&DecodeOptions::default());
        for (field, column) in decoder.schema().fields().iter().zip(&table.columns) {
            prop_assert_eq!(field.data_type(), column.expected.data_type());
        }
        let tuples = table.tuples();
        let bounds = boundaries(table.rows, &cuts);
        let mut chunks: Vec<Vec<u8>> = bounds.windows(2).map(|w| tuples[w[0]..w[1]].concat()).collect();
        if trailer {
            chunks.last_mut().expect("one chunk at least").extend_from_slice(&copy_format::TRAILER);
        }
        let batches = decode_all(&decoder, &chunks).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (w, batch) in bounds.windows(2).zip(&batches) {
            let (start, len) = (w[0], w[1] - w[0]);
            prop_assert_eq!(batch.num_rows(), len);
            prop_assert_eq!(batch.schema(), decoder.schema());
            for (decoded, column) in batch.columns().iter().zip(&table.columns) {
                let expected = column.expected.slice(start, len);
                prop_assert_eq!(decoded.as_ref(), expected.as_ref(), "{}", column.spec);
            }
        }
        // One chunk holding everything, as `decode` would get it from a whole stream.
        let whole = decoder.decode(&table.body()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(whole.num_rows(), table.rows);
    }

    /// `numeric_from_str(s)` decoded as unconstrained numeric is PostgreSQL's text form of `s`.
    #[test]
    fn numeric_text_round_trips(text in decimal_string()) {
        let numeric = spec("n", oid::NUMERIC, -1, "numeric");
        let decoded = decode_one(numeric, &DecodeOptions::default(), &wire::numeric(&text))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let decoded = decoded.as_any().downcast_ref::<StringArray>().expect("utf8");
        prop_assert_eq!(decoded.value(0), canonical_numeric(&text));
    }

    /// A numeric(p,s) value of up to p digits comes back as exactly its unscaled i128.
    #[test]
    fn decimal128_round_trips(
        (p, s, value) in (1u8..=38).prop_flat_map(|p| (Just(p), -10i8..=p as i8, unscaled(p))),
        spelling in spelling(),
    ) {
        let text = spell(decimal_text(value < 0, &value.unsigned_abs().to_string(), s as i32), spelling);
        let spec = spec("d", oid::NUMERIC, numeric_typmod(p as i32, s as i32), "numeric");
        let decoded = decode_one(spec, &DecodeOptions::default(), &wire::numeric(&text))
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let decoded = decoded.as_any().downcast_ref::<PrimitiveArray<Decimal128Type>>().expect("decimal128");
        prop_assert_eq!((decoded.precision(), decoded.scale(), decoded.value(0)), (p, s, value), "{}", text);
    }

    /// Dates, timestamps and intervals of any bits decode exactly, or fail with OutOfRange when
    /// Arrow's type cannot hold them: never a wrapped value.
    #[test]
    fn fixed_width_extremes_decode_or_fail_cleanly(days in any::<i32>(), micros in any::<i64>()) {
        let options = DecodeOptions::default();
        let expect = |result: Result<ArrayRef, CodecError>, fits: bool| match result {
            Ok(_) if fits => Ok(()),
            Err(CodecError::OutOfRange { .. }) if !fits => Ok(()),
            other => Err(TestCaseError::fail(format!("fits={fits}: {other:?}"))),
        };
        let (date, timestamp, interval) = (
            spec("d", oid::DATE, -1, "date"),
            spec("t", oid::TIMESTAMP, -1, "timestamp"),
            spec("i", oid::INTERVAL, -1, "interval"),
        );
        let date = decode_one(date, &options, &wire::date(days));
        expect(date, days.checked_add(EPOCH_DAYS).is_some() || days == i32::MAX)?;
        let timestamp = decode_one(timestamp, &options, &wire::micros(micros));
        expect(timestamp, micros.checked_add(EPOCH_MICROS).is_some() || micros == i64::MAX)?;
        let interval = decode_one(interval, &options, &wire::interval(micros, days, days));
        expect(interval, micros.checked_mul(1000).is_some())?;
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: any bytes give Ok or Err, never a panic

/// Decoders over every family, with each numeric option.
fn decoders() -> Vec<Decoder> {
    let columns = vec![
        spec("b", oid::BOOL, -1, "boolean"),
        spec("i2", oid::INT2, -1, "smallint"),
        spec("i8", oid::INT8, -1, "bigint"),
        spec("f4", oid::FLOAT4, -1, "real"),
        spec("n", oid::NUMERIC, numeric_typmod(15, 2), "numeric(15,2)"),
        spec("n2", oid::NUMERIC, numeric_typmod(60, 5), "numeric(60,5)"),
        spec("n3", oid::NUMERIC, -1, "numeric"),
        spec("t", oid::TEXT, -1, "text"),
        spec("j", oid::JSONB, -1, "jsonb"),
        spec("by", oid::BYTEA, -1, "bytea"),
        spec("d", oid::DATE, -1, "date"),
        spec("tm", oid::TIME, -1, "time"),
        spec("tz", oid::TIMESTAMPTZ, -1, "timestamptz"),
        spec("iv", oid::INTERVAL, -1, "interval"),
        spec("u", oid::UUID, -1, "uuid"),
        spec("x", 869, -1, "inet"),
    ];
    let options = ["decimal", "float64", "string"]
        .map(|o| DecodeOptions::from_pairs([("numeric", o)]).expect("option"));
    let mut decoders: Vec<Decoder> = Vec::new();
    for option in &options {
        decoders.push(Decoder::new(columns.clone(), option));
        // Narrow decoders: random bytes match a 1-column tuple far more often.
        decoders.extend(columns.iter().map(|c| Decoder::new(vec![c.clone()], option)));
    }
    decoders.push(Decoder::new(Vec::new(), &DecodeOptions::default()));
    decoders
}

/// Runs every decoder on `bytes`: a panic fails the test, Ok and Err are both fine.
fn decode_everywhere(decoders: &[Decoder], bytes: &[u8]) {
    for decoder in decoders {
        decode_or_fail_cleanly(decoder, bytes);
    }
    let _ = tuple::split(bytes, 1);
}

/// Decodes, and checks that whatever comes back Ok is valid Arrow with the decoder's schema.
fn decode_or_fail_cleanly(decoder: &Decoder, bytes: &[u8]) {
    if let Ok(batch) = decoder.decode(bytes) {
        assert_eq!(batch.schema(), decoder.schema());
        for column in batch.columns() {
            column.to_data().validate_full().expect("valid Arrow data");
        }
    }
}

/// Tuple-shaped garbage: a field count, then (length, bytes) pairs of small lengths, so
/// random data gets past the framing and into the column decoders.
fn tuple_shaped() -> impl Strategy<Value = Vec<u8>> {
    let field = weighted(0.9, vec(any::<u8>(), 0..20));
    vec(vec(field, 1..3), 0..6).prop_map(|rows| {
        let mut out = Vec::new();
        for row in rows {
            push_tuple(&mut out, row.iter().map(|f| f.as_deref()));
        }
        out
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// Random bytes, and tuple-shaped random bytes, alone or after a valid header.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop_oneof![vec(any::<u8>(), 0..200), tuple_shaped()],
        with_header in any::<bool>(),
    ) {
        let decoders = decoders();
        let stream = if with_header { support::stream(&bytes) } else { bytes.clone() };
        if let Ok(header) = copy_format::header_len(&stream) {
            decode_everywhere(&decoders, &stream[header..]);
        }
        decode_everywhere(&decoders, &bytes);
    }

    /// A header with random flags and extension length: parsed or rejected, never a panic.
    #[test]
    fn arbitrary_headers_never_panic(rest in vec(any::<u8>(), 0..40)) {
        let mut stream = copy_format::SIGNATURE.to_vec();
        stream.extend_from_slice(&rest);
        if let Ok(len) = copy_format::header_len(&stream) {
            prop_assert!(len <= stream.len());
        }
    }

    /// Valid chunks with bytes flipped: Ok or Err, never a panic.
    #[test]
    fn mutated_chunks_never_panic(
        table in table(12),
        flips in vec((any::<Index>(), 1u8..=255), 1..6),
        numeric in select(&["decimal", "float64", "string"][..]),
    ) {
        let mut body = table.body();
        for (at, xor) in flips {
            let at = at.index(body.len());
            body[at] ^= xor;
        }
        let options = DecodeOptions::from_pairs([("numeric", numeric)]).expect("option");
        decode_or_fail_cleanly(&table.decoder(&options), &body);
    }

    /// A valid chunk cut anywhere decodes iff the cut falls between rows.
    #[test]
    fn truncated_chunks_fail_unless_cut_between_rows(table in table(12), cut in any::<Index>()) {
        let tuples = table.tuples();
        let body = table.body();
        let at = cut.index(body.len() + 1);
        let row_ends: Vec<usize> = tuples.iter().scan(0, |end, t| { *end += t.len(); Some(*end) }).collect();
        let between_rows = at == 0 || at == body.len() || row_ends.contains(&at);
        match table.decoder(&DecodeOptions::default()).decode(&body[..at]) {
            Ok(batch) => {
                prop_assert!(between_rows, "cut at {} of {} decoded", at, body.len());
                let rows = row_ends.iter().filter(|&&end| end <= at).count();
                prop_assert_eq!(batch.num_rows(), rows);
            }
            Err(e) => prop_assert!(!between_rows, "cut at {} between rows: {}", at, e),
        }
    }
}
