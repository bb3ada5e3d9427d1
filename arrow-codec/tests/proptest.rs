//! Property tests: random values of every family written in PostgreSQL's binary formats by a
//! test-side encoder (`support`), framed as COPY tuples with random NULLs, cut into chunks at
//! random row boundaries, decoded, and compared with Arrow arrays built from the originals.
//! Then: whatever the bytes, `decode` returns Ok or Err and never panics.
//!
//! Types with parts (enums, composites, ranges, multiranges, arrays of them) and the other
//! native mappings get the same, plus a round trip of random Arrow arrays through the `Encoder`
//! (see "Types with parts" below).
//!
//! `PROPTEST_CASES=5000 cargo test -p data-bridge-arrow-codec --test proptest` runs longer.

mod support;

use std::fmt::Debug;
use std::sync::Arc;

use arrow_array::types::{Decimal128Type, Decimal256Type, Int32Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, DictionaryArray, FixedSizeBinaryArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, IntervalMonthDayNanoArray, ListArray, PrimitiveArray,
    RecordBatch, StringArray, StructArray, Time64MicrosecondArray, TimestampMicrosecondArray, UInt32Array, UInt64Array,
};
use arrow_buffer::{i256, IntervalMonthDayNano, NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields, Schema};
use data_bridge_arrow_codec::{
    copy_format, decode_all, oid, tuple, CodecError, ColumnSpec, DecodeOptions, Decoder, Encoder, Shape,
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
fn column_of<T, S, E, X>(spec: ColumnSpec, values: S, encode: E, expected: X, rows: usize) -> BoxedStrategy<Column>
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
                let values: PrimitiveArray<Decimal128Type> = v.into_iter().map(|v| v.map(|(v, _)| v)).collect();
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
            let values = (any::<bool>(), proptest::string::string_regex(&format!("[0-9]{{1,{p}}}")).expect("regex"));
            let encode =
                move |(negative, digits): &(bool, String)| wire::numeric(&decimal_text(*negative, digits, s as i32));
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
        Spelling::Trimmed if text.contains('.') => text.trim_end_matches('0').trim_end_matches('.').to_string(),
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
                TimestampMicrosecondArray::from_iter(v.into_iter().map(|t| t.map(timestamp_us))).with_timezone("UTC")
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
            |v| array(FixedSizeBinaryArray::try_from_sparse_iter_with_size(v.into_iter(), 16).expect("uuids")),
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
    (0..=max_rows).prop_flat_map(|rows| vec(any_column(rows), 1..=6).prop_map(move |columns| Table { rows, columns }))
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
    let special =
        select(&["NaN", "nan", "Infinity", "-Infinity", "+Infinity", "inf", "-inf"][..]).prop_map(str::to_string);
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
    let options =
        ["decimal", "float64", "string"].map(|o| DecodeOptions::from_pairs([("numeric", o)]).expect("option"));
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

// ---------------------------------------------------------------------------------------------
// Types with parts: enums, composites, ranges, multiranges, arrays of any of them, and the
// other native mappings (timetz, money, bit strings, "char", the oid family, xid8).
//
// A random type (`Ty`, nested up to a few levels) and random values of it (`Value`) give three
// things: the column description (`Ty::spec`, as the engine builds it from the catalog), the
// server's binary format written by the test-side writer (`wire_value`), and the Arrow array the
// decoder must produce (`build`). Those arrays also go through the `Encoder`, whose bytes must
// be the server's format exactly and decode back to the same arrays.

/// OIDs the scratch types of a database would get (any value not built in will do).
const ENUM_OID: u32 = 70_001;
const COMPOSITE_OID: u32 = 70_002;
const ENUM_ARRAY_OID: u32 = 70_003;
const COMPOSITE_ARRAY_OID: u32 = 70_004;

const LABELS: &[&str] = &["sad", "ok", "happy", "ünï ☃", "with \"quote\", comma", "x"];

/// A column type the codec maps natively.
#[derive(Clone, Debug)]
enum Ty {
    Bool,
    Int4,
    Int8,
    Text,
    Date,
    Timestamp,
    Timestamptz,
    /// numeric(15,2) into decimal128(15,2).
    Decimal,
    /// numeric without typmod, as PostgreSQL's text (a range's numeric bounds are this).
    NumericText,
    Enum,
    Money,
    Bits,
    Char,
    TimeTz,
    RegClass,
    Xid8,
    Composite(Vec<Ty>),
    Range(Box<Ty>),
    Multirange(Box<Ty>),
    Array(Box<Ty>),
}

/// One value of a `Ty` (`Null` anywhere a value may be NULL).
#[derive(Clone, Debug)]
enum Value {
    Null,
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    Str(String),
    Dec(i128),
    Byte(u8),
    TimeTz(i64, i32),
    Record(Vec<Value>),
    Range(RangeValue),
    List(Vec<Value>),
}

/// A range value, canonical as the server sends it: an unbounded side is never inclusive.
#[derive(Clone, Debug)]
enum RangeValue {
    Empty,
    Bounds { lower: Option<Box<Value>>, lower_inclusive: bool, upper: Option<Box<Value>>, upper_inclusive: bool },
}

impl Ty {
    /// The type's OID and `format_type` name.
    fn oid_and_name(&self) -> (u32, String) {
        let (type_oid, name) = match self {
            Ty::Bool => (oid::BOOL, "boolean"),
            Ty::Int4 => (oid::INT4, "integer"),
            Ty::Int8 => (oid::INT8, "bigint"),
            Ty::Text => (oid::TEXT, "text"),
            Ty::Date => (oid::DATE, "date"),
            Ty::Timestamp => (oid::TIMESTAMP, "timestamp without time zone"),
            Ty::Timestamptz => (oid::TIMESTAMPTZ, "timestamp with time zone"),
            Ty::Decimal => (oid::NUMERIC, "numeric(15,2)"),
            Ty::NumericText => (oid::NUMERIC, "numeric"),
            Ty::Enum => (ENUM_OID, "mood"),
            Ty::Money => (oid::MONEY, "money"),
            Ty::Bits => (oid::VARBIT, "bit varying"),
            Ty::Char => (oid::CHAR, "\"char\""),
            Ty::TimeTz => (oid::TIMETZ, "time with time zone"),
            Ty::RegClass => (oid::REGCLASS, "regclass"),
            Ty::Xid8 => (oid::XID8, "xid8"),
            Ty::Composite(_) => (COMPOSITE_OID, "row_t"),
            Ty::Range(subtype) => match **subtype {
                Ty::Int4 => (3904, "int4range"),
                Ty::Int8 => (3926, "int8range"),
                Ty::NumericText => (3906, "numrange"),
                Ty::Date => (3912, "daterange"),
                Ty::Timestamp => (3908, "tsrange"),
                Ty::Timestamptz => (3910, "tstzrange"),
                _ => (70_005, "custom_range"),
            },
            Ty::Multirange(subtype) => match **subtype {
                Ty::Int4 => (4451, "int4multirange"),
                Ty::Int8 => (4536, "int8multirange"),
                Ty::NumericText => (4532, "nummultirange"),
                Ty::Date => (4535, "datemultirange"),
                Ty::Timestamp => (4533, "tsmultirange"),
                Ty::Timestamptz => (4534, "tstzmultirange"),
                _ => (70_006, "custom_multirange"),
            },
            Ty::Array(element) => {
                let array_oid = match **element {
                    Ty::Bool => 1000,
                    Ty::Int4 => 1007,
                    Ty::Text => 1009,
                    Ty::Int8 => 1016,
                    Ty::Enum => ENUM_ARRAY_OID,
                    Ty::Composite(_) => COMPOSITE_ARRAY_OID,
                    Ty::Range(_) => 3905,
                    _ => 70_007,
                };
                return (array_oid, format!("{}[]", element.oid_and_name().1));
            }
        };
        (type_oid, name.to_string())
    }

    /// The column description the engine would build from the catalog.
    fn spec(&self, name: &str) -> ColumnSpec {
        let (type_oid, pg_type) = self.oid_and_name();
        let typmod = if matches!(self, Ty::Decimal) { numeric_typmod(15, 2) } else { -1 };
        let mut spec = spec(name, type_oid, typmod, &pg_type);
        spec.shape = match self {
            Ty::Enum => Shape::Enum,
            Ty::Composite(attributes) => {
                Shape::Composite(attributes.iter().enumerate().map(|(i, a)| a.spec(&format!("a{i}"))).collect())
            }
            Ty::Range(subtype) => Shape::Range(Box::new(subtype.spec("bound"))),
            Ty::Multirange(subtype) => Shape::Multirange(Box::new(Ty::Range(subtype.clone()).spec("range"))),
            Ty::Array(element) => Shape::Array(Box::new(element.spec("item"))),
            _ => Shape::Plain,
        };
        spec
    }
}

/// A scalar type of the families above.
fn scalar_ty() -> BoxedStrategy<Ty> {
    select(vec![
        Ty::Bool,
        Ty::Int4,
        Ty::Int8,
        Ty::Text,
        Ty::Date,
        Ty::Timestamp,
        Ty::Timestamptz,
        Ty::Decimal,
        Ty::NumericText,
        Ty::Enum,
        Ty::Money,
        Ty::Bits,
        Ty::Char,
        Ty::TimeTz,
        Ty::RegClass,
        Ty::Xid8,
    ])
    .boxed()
}

/// The subtypes of PostgreSQL's built-in ranges (and text, for a custom range).
fn range_subtype() -> BoxedStrategy<Ty> {
    select(vec![Ty::Int4, Ty::Int8, Ty::NumericText, Ty::Date, Ty::Timestamp, Ty::Timestamptz, Ty::Text]).boxed()
}

/// A random type, nested up to `depth` levels of composites, ranges, multiranges and arrays.
fn any_ty(depth: u32) -> BoxedStrategy<Ty> {
    scalar_ty()
        .prop_recursive(depth, 16, 4, |inner| {
            let composite = vec(inner.clone(), 1..4).prop_map(Ty::Composite);
            let range = range_subtype().prop_map(|s| Ty::Range(Box::new(s)));
            let multirange = range_subtype().prop_map(|s| Ty::Multirange(Box::new(s)));
            // PostgreSQL has no arrays of arrays (a nested array is another dimension).
            let array = inner.prop_map(|t| if matches!(t, Ty::Array(_)) { t } else { Ty::Array(Box::new(t)) });
            prop_oneof![3 => composite, 2 => range, 1 => multirange, 2 => array]
        })
        .boxed()
}

/// A bound of a range over `subtype` (never NULL).
fn range_value(subtype: &Ty, empty: bool) -> BoxedStrategy<RangeValue> {
    let bound = || proptest::option::of(non_null_value(subtype).prop_map(Box::new));
    let bounds =
        (bound(), any::<bool>(), bound(), any::<bool>()).prop_map(|(lower, li, upper, ui)| RangeValue::Bounds {
            lower_inclusive: li && lower.is_some(),
            upper_inclusive: ui && upper.is_some(),
            lower,
            upper,
        });
    if empty {
        prop_oneof![1 => Just(RangeValue::Empty), 5 => bounds].boxed()
    } else {
        bounds.boxed()
    }
}

/// A value of `ty`, NULL about one time in six.
fn value(ty: &Ty) -> BoxedStrategy<Value> {
    weighted(0.85, non_null_value(ty)).prop_map(|v| v.unwrap_or(Value::Null)).boxed()
}

fn non_null_value(ty: &Ty) -> BoxedStrategy<Value> {
    match ty {
        Ty::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Ty::Int4 => any::<i32>().prop_map(Value::I32).boxed(),
        Ty::Int8 => any::<i64>().prop_map(Value::I64).boxed(),
        Ty::Text => prop_oneof![any::<String>(), "[a-z ,()\"\\\\]{0,8}"].prop_map(Value::Str).boxed(),
        Ty::Date => pg_date().prop_map(|d| Value::I32(date32(d))).boxed(),
        Ty::Timestamp | Ty::Timestamptz => pg_timestamp().prop_map(|t| Value::I64(timestamp_us(t))).boxed(),
        Ty::Decimal => (-999_999_999_999_999i128..=999_999_999_999_999).prop_map(Value::Dec).boxed(),
        Ty::NumericText => decimal_string().prop_map(|s| Value::Str(canonical_numeric(&s))).boxed(),
        Ty::Enum => select(LABELS).prop_map(|l| Value::Str(l.to_string())).boxed(),
        Ty::Money => any::<i64>().prop_map(|cents| Value::Dec(cents as i128)).boxed(),
        Ty::Bits => "[01]{0,40}".prop_map(Value::Str).boxed(),
        Ty::Char => any::<u8>().prop_map(Value::Byte).boxed(),
        // Offsets within PostgreSQL's limit of ±15:59:59; 24:00:00 is a valid time.
        Ty::TimeTz => (0i64..=86_400_000_000, -57_599i32..=57_599).prop_map(|(t, o)| Value::TimeTz(t, o)).boxed(),
        Ty::RegClass => any::<u32>().prop_map(Value::U32).boxed(),
        Ty::Xid8 => any::<u64>().prop_map(Value::U64).boxed(),
        Ty::Composite(attributes) => attributes.iter().map(value).collect::<Vec<_>>().prop_map(Value::Record).boxed(),
        Ty::Range(subtype) => range_value(subtype, true).prop_map(Value::Range).boxed(),
        // A multirange holds no empty ranges (the server drops them).
        Ty::Multirange(subtype) => {
            vec(range_value(subtype, false).prop_map(Value::Range), 0..4).prop_map(Value::List).boxed()
        }
        Ty::Array(element) => vec(value(element), 0..4).prop_map(Value::List).boxed(),
    }
}

/// The server's binary format of a value (test-side writer, independent of the codec).
fn wire_value(ty: &Ty, value: &Value) -> Option<Vec<u8>> {
    let bytes = match (ty, value) {
        (_, Value::Null) => return None,
        (Ty::Bool, Value::Bool(b)) => wire::bool(*b),
        (Ty::Int4, Value::I32(v)) => wire::int4(*v),
        (Ty::Int8, Value::I64(v)) => wire::int8(*v),
        (Ty::Text | Ty::Enum, Value::Str(s)) => wire::text(s),
        (Ty::Date, Value::I32(days)) => wire::date(match *days {
            infinity @ (i32::MAX | i32::MIN) => infinity,
            days => days - EPOCH_DAYS,
        }),
        (Ty::Timestamp | Ty::Timestamptz, Value::I64(micros)) => wire::micros(match *micros {
            infinity @ (i64::MAX | i64::MIN) => infinity,
            micros => micros - EPOCH_MICROS,
        }),
        (Ty::Decimal, Value::Dec(v)) => wire::numeric(&decimal_text(*v < 0, &v.unsigned_abs().to_string(), 2)),
        (Ty::NumericText, Value::Str(s)) => wire::numeric(s),
        (Ty::Money, Value::Dec(cents)) => wire::money(*cents as i64),
        (Ty::Bits, Value::Str(s)) => wire::bits(s),
        (Ty::Char, Value::Byte(b)) => wire::char(*b),
        (Ty::TimeTz, Value::TimeTz(micros, offset)) => wire::timetz(*micros, *offset),
        (Ty::RegClass, Value::U32(v)) => wire::oid(*v),
        (Ty::Xid8, Value::U64(v)) => v.to_be_bytes().to_vec(),
        (Ty::Composite(attributes), Value::Record(values)) => wire::composite(
            &attributes.iter().zip(values).map(|(ty, v)| (ty.oid_and_name().0, wire_value(ty, v))).collect::<Vec<_>>(),
        ),
        (Ty::Range(subtype), Value::Range(range)) => wire_range(subtype, range),
        (Ty::Multirange(subtype), Value::List(ranges)) => wire::multirange(
            &ranges
                .iter()
                .map(|r| match r {
                    Value::Range(range) => wire_range(subtype, range),
                    other => panic!("{other:?} in a multirange"),
                })
                .collect::<Vec<_>>(),
        ),
        (Ty::Array(element), Value::List(items)) => {
            wire::array(element.oid_and_name().0, &items.iter().map(|v| wire_value(element, v)).collect::<Vec<_>>())
        }
        (ty, value) => panic!("{value:?} is not a {ty:?}"),
    };
    Some(bytes)
}

fn wire_range(subtype: &Ty, range: &RangeValue) -> Vec<u8> {
    match range {
        RangeValue::Empty => wire::empty_range(),
        RangeValue::Bounds { lower, lower_inclusive, upper, upper_inclusive } => {
            let bound = |b: &Option<Box<Value>>| b.as_ref().map(|v| wire_value(subtype, v).expect("a bound"));
            let (lower, upper) = (bound(lower), bound(upper));
            wire::range(
                lower.as_deref().map(|b| (b, *lower_inclusive)),
                upper.as_deref().map(|b| (b, *upper_inclusive)),
            )
        }
    }
}

/// The validity of `values`, or `None` when none is NULL (as the decoder builds it).
fn validity(values: &[Value]) -> Option<NullBuffer> {
    let valid: Vec<bool> = values.iter().map(|v| !matches!(v, Value::Null)).collect();
    valid.contains(&false).then(|| NullBuffer::from(valid))
}

/// A list array of `items` grouped by `lengths` (None: a NULL list).
fn list_array(lengths: &[Option<usize>], items: ArrayRef) -> ArrayRef {
    let offsets = OffsetBuffer::from_lengths(lengths.iter().map(|l| l.unwrap_or(0)));
    let valid: Vec<bool> = lengths.iter().map(Option::is_some).collect();
    let nulls = valid.contains(&false).then(|| NullBuffer::from(valid));
    let item = Arc::new(Field::new("item", items.data_type().clone(), true));
    array(ListArray::try_new(item, offsets, items, nulls).expect("a valid list"))
}

/// The ranges' struct {lower, upper, lower_inclusive, upper_inclusive, empty}; a NULL range has
/// NULL bounds and false flags, as the decoder writes them.
fn range_array(subtype: &Ty, ranges: &[Option<&RangeValue>]) -> ArrayRef {
    let mut lowers = Vec::new();
    let mut uppers = Vec::new();
    let mut flags: [Vec<bool>; 3] = Default::default();
    for range in ranges {
        let (lower, upper, li, ui, empty) = match range {
            None => (Value::Null, Value::Null, false, false, false),
            Some(RangeValue::Empty) => (Value::Null, Value::Null, false, false, true),
            Some(RangeValue::Bounds { lower, lower_inclusive, upper, upper_inclusive }) => {
                let bound = |b: &Option<Box<Value>>| b.as_deref().cloned().unwrap_or(Value::Null);
                (bound(lower), bound(upper), *lower_inclusive, *upper_inclusive, false)
            }
        };
        lowers.push(lower);
        uppers.push(upper);
        flags[0].push(li);
        flags[1].push(ui);
        flags[2].push(empty);
    }
    let (lower, upper) = (build(subtype, &lowers), build(subtype, &uppers));
    let mut fields = vec![
        Field::new("lower", lower.data_type().clone(), true),
        Field::new("upper", upper.data_type().clone(), true),
    ];
    fields
        .extend(["lower_inclusive", "upper_inclusive", "empty"].map(|name| Field::new(name, DataType::Boolean, false)));
    let mut children = vec![lower, upper];
    children.extend(flags.into_iter().map(|f| array(BooleanArray::from(f))));
    let valid: Vec<bool> = ranges.iter().map(Option::is_some).collect();
    let nulls = valid.contains(&false).then(|| NullBuffer::from(valid));
    array(StructArray::try_new(Fields::from(fields), children, nulls).expect("a valid range struct"))
}

/// The Arrow array the decoder must produce for `values` of `ty`.
fn build(ty: &Ty, values: &[Value]) -> ArrayRef {
    fn each<T>(values: &[Value], f: impl Fn(&Value) -> T) -> Vec<Option<T>> {
        values.iter().map(|v| (!matches!(v, Value::Null)).then(|| f(v))).collect()
    }
    let i32s = |f: fn(&Value) -> i32| each(values, f);
    let text = |v: &Value| match v {
        Value::Str(s) => s.clone(),
        other => panic!("{other:?} is not text"),
    };
    let int32 = |v: &Value| match v {
        Value::I32(x) => *x,
        other => panic!("{other:?} is not an i32"),
    };
    let int64 = |v: &Value| match v {
        Value::I64(x) => *x,
        other => panic!("{other:?} is not an i64"),
    };
    let decimal = |v: &Value| match v {
        Value::Dec(x) => *x,
        other => panic!("{other:?} is not a decimal"),
    };
    match ty {
        Ty::Bool => array(BooleanArray::from(each(values, |v| matches!(v, Value::Bool(true))))),
        Ty::Int4 => array(Int32Array::from(i32s(int32))),
        Ty::Date => array(Date32Array::from(i32s(int32))),
        Ty::Int8 => array(Int64Array::from(each(values, int64))),
        Ty::Timestamp => array(TimestampMicrosecondArray::from(each(values, int64))),
        Ty::Timestamptz => array(TimestampMicrosecondArray::from(each(values, int64)).with_timezone("UTC")),
        Ty::Text | Ty::NumericText | Ty::Bits => array(StringArray::from(each(values, text))),
        Ty::Char => array(StringArray::from(each(values, |v| match v {
            Value::Byte(b) => support::charout(*b),
            other => panic!("{other:?} is not a byte"),
        }))),
        Ty::Enum => {
            let labels = each(values, text);
            array(labels.iter().map(Option::as_deref).collect::<DictionaryArray<Int32Type>>())
        }
        Ty::Decimal => array(
            PrimitiveArray::<Decimal128Type>::from(each(values, decimal)).with_precision_and_scale(15, 2).expect("p15"),
        ),
        Ty::Money => array(
            PrimitiveArray::<Decimal128Type>::from(each(values, decimal)).with_precision_and_scale(19, 2).expect("p19"),
        ),
        Ty::RegClass => array(UInt32Array::from(each(values, |v| match v {
            Value::U32(x) => *x,
            other => panic!("{other:?} is not a u32"),
        }))),
        Ty::Xid8 => array(UInt64Array::from(each(values, |v| match v {
            Value::U64(x) => *x,
            other => panic!("{other:?} is not a u64"),
        }))),
        Ty::TimeTz => {
            let parts = |v: &Value| match v {
                Value::TimeTz(t, o) => (*t, *o),
                Value::Null => (0, 0),
                other => panic!("{other:?} is not a timetz"),
            };
            let (times, offsets): (Vec<i64>, Vec<i32>) = values.iter().map(parts).unzip();
            let fields = Fields::from(vec![
                Field::new("time", DataType::Time64(arrow_schema::TimeUnit::Microsecond), false),
                Field::new("offset_seconds", DataType::Int32, false),
            ]);
            let children = vec![array(Time64MicrosecondArray::from(times)), array(Int32Array::from(offsets))];
            array(StructArray::try_new(fields, children, validity(values)).expect("a valid timetz struct"))
        }
        Ty::Composite(attributes) => {
            let children: Vec<ArrayRef> = attributes
                .iter()
                .enumerate()
                .map(|(i, attribute)| {
                    let column: Vec<Value> = values
                        .iter()
                        .map(|v| match v {
                            Value::Record(fields) => fields[i].clone(),
                            _ => Value::Null,
                        })
                        .collect();
                    build(attribute, &column)
                })
                .collect();
            let fields: Vec<Field> = children
                .iter()
                .enumerate()
                .map(|(i, child)| Field::new(format!("a{i}"), child.data_type().clone(), true))
                .collect();
            array(StructArray::try_new(Fields::from(fields), children, validity(values)).expect("a valid struct"))
        }
        Ty::Range(subtype) => {
            let ranges: Vec<Option<&RangeValue>> = values
                .iter()
                .map(|v| match v {
                    Value::Range(range) => Some(range),
                    _ => None,
                })
                .collect();
            range_array(subtype, &ranges)
        }
        Ty::Multirange(subtype) => {
            let lengths: Vec<Option<usize>> = values
                .iter()
                .map(|v| match v {
                    Value::List(ranges) => Some(ranges.len()),
                    _ => None,
                })
                .collect();
            let ranges: Vec<Option<&RangeValue>> = values
                .iter()
                .flat_map(|v| match v {
                    Value::List(ranges) => ranges.as_slice(),
                    _ => &[],
                })
                .map(|r| match r {
                    Value::Range(range) => Some(range),
                    other => panic!("{other:?} in a multirange"),
                })
                .collect();
            list_array(&lengths, range_array(subtype, &ranges))
        }
        Ty::Array(element) => {
            let lengths: Vec<Option<usize>> = values
                .iter()
                .map(|v| match v {
                    Value::List(items) => Some(items.len()),
                    _ => None,
                })
                .collect();
            let items: Vec<Value> = values
                .iter()
                .flat_map(|v| match v {
                    Value::List(items) => items.clone(),
                    _ => Vec::new(),
                })
                .collect();
            list_array(&lengths, build(element, &items))
        }
    }
}

/// A column of a random type with `rows` random values.
#[derive(Clone, Debug)]
struct NestedColumn {
    ty: Ty,
    values: Vec<Value>,
}

impl NestedColumn {
    fn to_column(&self, index: usize) -> Column {
        Column {
            spec: self.ty.spec(&format!("c{index}")),
            wire: self.values.iter().map(|v| wire_value(&self.ty, v)).collect(),
            expected: build(&self.ty, &self.values),
        }
    }
}

fn nested_column(ty: Ty, rows: usize) -> BoxedStrategy<NestedColumn> {
    vec(value(&ty), rows).prop_map(move |values| NestedColumn { ty: ty.clone(), values }).boxed()
}

/// 1 to 4 columns of random (nested) types, as a `Table` of the decode tests.
fn nested_table(max_rows: usize, depth: u32) -> impl Strategy<Value = Table> {
    (0..=max_rows, vec(any_ty(depth), 1..=4)).prop_flat_map(|(rows, types)| {
        types.into_iter().map(|ty| nested_column(ty, rows)).collect::<Vec<_>>().prop_map(move |columns| Table {
            rows,
            columns: columns.iter().enumerate().map(|(i, c)| c.to_column(i)).collect(),
        })
    })
}

impl Table {
    /// The expected arrays as one record batch (the Arrow side of a write).
    fn record_batch(&self) -> RecordBatch {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(c.spec.name.clone(), c.expected.data_type().clone(), true))
            .collect();
        let arrays = self.columns.iter().map(|c| c.expected.clone()).collect();
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(self.rows));
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options).expect("a valid batch")
    }
}

/// Decodes `chunks` (cut at `bounds`) and compares every column with the table's arrays.
fn assert_chunks_decode_to(
    table: &Table,
    decoder: &Decoder,
    bounds: &[usize],
    chunks: &[Vec<u8>],
) -> Result<(), TestCaseError> {
    let batches = decode_all(decoder, chunks).map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (w, batch) in bounds.windows(2).zip(&batches) {
        let (start, len) = (w[0], w[1] - w[0]);
        prop_assert_eq!(batch.num_rows(), len);
        for (decoded, column) in batch.columns().iter().zip(&table.columns) {
            decoded.to_data().validate_full().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let expected = column.expected.slice(start, len);
            prop_assert_eq!(decoded.as_ref(), expected.as_ref(), "{}", column.spec);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    /// The server's binary format of random nested values (composites, ranges, multiranges,
    /// arrays of any of them, enums and the other new scalars), cut into chunks at random row
    /// boundaries, decodes to exactly the expected Arrow arrays.
    #[test]
    fn nested_values_decode_from_the_wire(
        table in nested_table(24, 3),
        cuts in vec(any::<Index>(), 0..4),
    ) {
        let decoder = table.decoder(&DecodeOptions::default());
        for (field, column) in decoder.schema().fields().iter().zip(&table.columns) {
            prop_assert_eq!(field.data_type(), column.expected.data_type(), "{}", column.spec);
        }
        let tuples = table.tuples();
        let bounds = boundaries(table.rows, &cuts);
        let chunks: Vec<Vec<u8>> = bounds.windows(2).map(|w| tuples[w[0]..w[1]].concat()).collect();
        assert_chunks_decode_to(&table, &decoder, &bounds, &chunks)?;
    }

    /// Random Arrow arrays of every new family (struct, dictionary and list types included),
    /// cut into slices at random row boundaries and written by the `Encoder`: the bytes are
    /// the server's format exactly, and decode back to the same arrays.
    #[test]
    fn nested_values_round_trip_through_the_encoder(
        table in nested_table(24, 3),
        cuts in vec(any::<Index>(), 0..4),
    ) {
        let batch = table.record_batch();
        let specs: Vec<ColumnSpec> = table.columns.iter().map(|c| c.spec.clone()).collect();
        let fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let encoder = Encoder::new(&fields, &specs).map_err(|e| TestCaseError::fail(format!("planning: {e}")))?;
        let tuples = table.tuples();
        let bounds = boundaries(table.rows, &cuts);
        let mut chunks = Vec::new();
        for w in bounds.windows(2) {
            let mut chunk = Vec::new();
            let slice = batch.slice(w[0], w[1] - w[0]);
            encoder.encode(&slice, &mut chunk).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(chunk == tuples[w[0]..w[1]].concat(), "rows {}..{}: not the server's format", w[0], w[1]);
            chunks.push(chunk);
        }
        assert_chunks_decode_to(&table, &table.decoder(&DecodeOptions::default()), &bounds, &chunks)?;
    }
}

/// A chain of `depth` nested composites, every third level an array of composites:
/// (n int4, next (n int4, next (n int4, next [(n int4, next ...)]))), ending with text.
fn deep_ty(depth: usize) -> Ty {
    (0..depth).fold(Ty::Text, |inner, level| {
        let next = if level % 3 == 2 { Ty::Array(Box::new(inner)) } else { inner };
        Ty::Composite(vec![Ty::Int4, next])
    })
}

/// Nesting depth (composites, ranges, multiranges and arrays) of a type.
fn depth_of(ty: &Ty) -> usize {
    match ty {
        Ty::Composite(attributes) => 1 + attributes.iter().map(depth_of).max().unwrap_or(0),
        Ty::Range(inner) | Ty::Array(inner) => 1 + depth_of(inner),
        Ty::Multirange(inner) => 2 + depth_of(inner),
        _ => 0,
    }
}

/// A table of one deeply nested column (and an int4, so tuples have two fields).
fn deep_table(max_rows: usize, depth: usize) -> impl Strategy<Value = Table> {
    (0..=max_rows).prop_flat_map(move |rows| {
        (nested_column(deep_ty(depth), rows), nested_column(Ty::Int4, rows))
            .prop_map(move |(deep, int)| Table { rows, columns: vec![deep.to_column(0), int.to_column(1)] })
    })
}

proptest! {
    #![proptest_config(config(32))]

    /// Composites nested 20 deep (arrays of composites among them) decode from the server's
    /// format and round-trip through the encoder, without running out of stack.
    #[test]
    fn deeply_nested_composites_round_trip(table in deep_table(6, 20), cuts in vec(any::<Index>(), 0..3)) {
        prop_assert_eq!(depth_of(&deep_ty(20)), 26);
        let decoder = table.decoder(&DecodeOptions::default());
        let tuples = table.tuples();
        let bounds = boundaries(table.rows, &cuts);
        let chunks: Vec<Vec<u8>> = bounds.windows(2).map(|w| tuples[w[0]..w[1]].concat()).collect();
        assert_chunks_decode_to(&table, &decoder, &bounds, &chunks)?;

        let batch = table.record_batch();
        let specs: Vec<ColumnSpec> = table.columns.iter().map(|c| c.spec.clone()).collect();
        let fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let encoder = Encoder::new(&fields, &specs).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut wire = Vec::new();
        encoder.encode(&batch, &mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(wire == tuples.concat(), "not the server's format");
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness of the decoders of types with parts: any bytes give Ok or Err, never a panic

/// The types of the robustness tests: composites with enums, arrays and composites inside,
/// every range and multirange subtype, arrays of composites, ranges and multiranges, the new
/// scalars, and a composite nested 20 deep.
fn nested_types() -> Vec<Ty> {
    let boxed = Box::new;
    let mut types = vec![
        Ty::Composite(vec![
            Ty::Int4,
            Ty::Text,
            Ty::Enum,
            Ty::Composite(vec![Ty::Int8, Ty::Array(boxed(Ty::Enum)), Ty::TimeTz]),
        ]),
        Ty::Array(boxed(Ty::Composite(vec![
            Ty::Decimal,
            Ty::Array(boxed(Ty::Composite(vec![Ty::Bits, Ty::Char, Ty::Range(boxed(Ty::Date))]))),
        ]))),
        Ty::Array(boxed(Ty::Range(boxed(Ty::Int8)))),
        Ty::Array(boxed(Ty::Multirange(boxed(Ty::Int4)))),
        Ty::Composite(vec![Ty::Multirange(boxed(Ty::Timestamptz)), Ty::Money]),
        deep_ty(20),
    ];
    for subtype in [Ty::Int4, Ty::Int8, Ty::NumericText, Ty::Date, Ty::Timestamp, Ty::Timestamptz, Ty::Text] {
        types.push(Ty::Range(boxed(subtype.clone())));
        types.push(Ty::Multirange(boxed(subtype)));
    }
    types.extend([Ty::Enum, Ty::Money, Ty::Bits, Ty::Char, Ty::TimeTz, Ty::RegClass, Ty::Xid8]);
    types
}

/// Decoders over `nested_types`: all of them at once, and each alone (random bytes match a
/// one-column tuple far more often), with enums as dictionaries or strings and numerics as
/// text or float64.
fn nested_decoders() -> Vec<Decoder> {
    let specs: Vec<ColumnSpec> = nested_types().iter().enumerate().map(|(i, t)| t.spec(&format!("c{i}"))).collect();
    let options = [
        DecodeOptions::default(),
        DecodeOptions::from_pairs([("enum", "string"), ("numeric", "float64")]).expect("options"),
    ];
    let mut decoders = Vec::new();
    for option in &options {
        decoders.push(Decoder::new(specs.clone(), option));
        decoders.extend(specs.iter().map(|spec| Decoder::new(vec![spec.clone()], option)));
    }
    decoders
}

/// Valid values of one of `nested_types`, as one-column tuples: the raw material for mutations
/// that get deep into the value decoders.
fn nested_value_tuples() -> impl Strategy<Value = Vec<u8>> {
    select(nested_types()).prop_flat_map(|ty| {
        vec(value(&ty), 1..4).prop_map(move |values| {
            let mut out = Vec::new();
            for v in &values {
                push_tuple(&mut out, [wire_value(&ty, v).as_deref()].into_iter());
            }
            out
        })
    })
}

/// Bytes changed in the ways that shift what follows: flips, cuts, removed and inserted runs.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Truncate(Index),
    Remove(Index, usize),
    Insert(Index, Vec<u8>),
    /// A word set to an extreme length or count. (Not i32::MIN: as a timetz zone it hits the
    /// known overflow of `wire_cases::shaped::timetz_zone_of_i32_min_is_an_error_not_a_panic`;
    /// add it back once that is fixed.)
    Word(Index, i32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 1u8..=255).prop_map(|(at, xor)| Mutation::Flip(at, xor)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..6).prop_map(|(at, n)| Mutation::Remove(at, n)),
        1 => (any::<Index>(), vec(any::<u8>(), 1..6)).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        2 => (any::<Index>(), select(vec![0, -1, -2, 1, i32::MAX, i32::MIN + 1, 0x7fff_fff0]))
            .prop_map(|(at, word)| Mutation::Word(at, word)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match mutation {
        Mutation::Flip(at, xor) => {
            let at = at.index(bytes.len());
            bytes[at] ^= xor;
        }
        Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len())),
        Mutation::Remove(at, n) => {
            let at = at.index(bytes.len());
            bytes.drain(at..(at + n).min(bytes.len()));
        }
        Mutation::Insert(at, new) => {
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Word(at, word) => {
            if bytes.len() >= 4 {
                let at = at.index(bytes.len() - 3);
                bytes[at..at + 4].copy_from_slice(&word.to_be_bytes());
            }
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Random and tuple-shaped bytes, and mutated one-column tuples of valid nested values,
    /// through every nested decoder.
    #[test]
    fn arbitrary_bytes_never_panic_in_nested_decoders(
        bytes in prop_oneof![vec(any::<u8>(), 0..200), tuple_shaped(), nested_value_tuples()],
        mutations in vec(mutation(), 0..4),
    ) {
        let mut bytes = bytes;
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        for decoder in &nested_decoders() {
            decode_or_fail_cleanly(decoder, &bytes);
        }
    }

    /// Valid chunks of random nested tables (deep ones included), mutated: Ok or Err, never a
    /// panic, and what comes back Ok is valid Arrow.
    #[test]
    fn mutated_nested_chunks_never_panic(
        table in prop_oneof![3 => nested_table(12, 4), 1 => deep_table(3, 20)],
        mutations in vec(mutation(), 1..5),
        enum_as in select(&["dictionary", "string"][..]),
    ) {
        let mut body = table.body();
        for m in &mutations {
            mutate(&mut body, m);
        }
        let options = DecodeOptions::from_pairs([("enum", enum_as)]).expect("option");
        decode_or_fail_cleanly(&table.decoder(&options), &body);
    }
}

// ---------------------------------------------------------------------------------------------
// Multi-dimensional arrays

/// One int4[] value: NULL, empty, or the lengths of its dimensions and its elements.
type GridValue = Option<Option<(Vec<usize>, Vec<Option<i32>>)>>;

/// A column of int4 arrays of `dims` dimensions (each 1 to 3 long), with NULLs and empties.
fn grids(dims: usize) -> impl Strategy<Value = Vec<GridValue>> {
    let value = vec(1usize..4, dims).prop_flat_map(|lengths| {
        let count: usize = lengths.iter().product();
        (Just(lengths), vec(weighted(0.8, any::<i32>()), count))
    });
    vec(weighted(0.9, weighted(0.9, value)), 0..30)
}

/// The server's wire format of one int4[] value.
fn grid_wire(value: &Option<(Vec<usize>, Vec<Option<i32>>)>) -> Vec<u8> {
    let mut out = Vec::new();
    let Some((lengths, elements)) = value else {
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23]);
        return out;
    };
    out.extend_from_slice(&(lengths.len() as i32).to_be_bytes());
    out.extend_from_slice(&(elements.iter().any(Option::is_none) as i32).to_be_bytes());
    out.extend_from_slice(&oid::INT4.to_be_bytes());
    for &length in lengths {
        out.extend_from_slice(&(length as i32).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    for element in elements {
        match element {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                out.extend_from_slice(&4i32.to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    out
}

/// The leaf values of a (sliced) list array nested any number of times, in order.
fn leaves(array: &dyn Array) -> Vec<Option<i32>> {
    match array.data_type() {
        DataType::List(_) => {
            let list = array.as_any().downcast_ref::<ListArray>().expect("list");
            (0..list.len()).filter(|&i| list.is_valid(i)).flat_map(|i| leaves(list.value(i).as_ref())).collect()
        }
        _ => array.as_any().downcast_ref::<Int32Array>().expect("int4").iter().collect(),
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Random multi-dimensional int4 arrays in the server's format: sampled to their depth,
    /// decoded to nested lists holding the same elements, and encoded back byte for byte.
    #[test]
    fn multidimensional_arrays_round_trip(rows in (1usize..4).prop_flat_map(grids)) {
        let mut body = Vec::new();
        for row in &rows {
            let field = row.as_ref().map(grid_wire);
            push_tuple(&mut body, [field.as_deref()].into_iter());
        }
        let column = ColumnSpec::new("g", 1007, -1, "integer[]");
        let mut columns = vec![column.clone()];
        data_bridge_arrow_codec::sample_array_dims(&mut columns, &body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let decoder = Decoder::new(columns, &DecodeOptions::default());
        let batch = decoder.decode(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let depth = rows.iter().flatten().flatten().map(|(lengths, _)| lengths.len()).next().unwrap_or(1);
        let mut data_type = batch.column(0).data_type().clone();
        for _ in 0..depth {
            let DataType::List(child) = data_type else { return Err(TestCaseError::fail("not a list")) };
            data_type = child.data_type().clone();
        }
        prop_assert_eq!(data_type, DataType::Int32);
        let expected: Vec<Option<i32>> = rows.iter().flatten().flatten().flat_map(|(_, e)| e.clone()).collect();
        prop_assert_eq!(leaves(batch.column(0).as_ref()), expected);
        let fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let encoder = Encoder::new(&fields, &[column]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut wire = Vec::new();
        encoder.encode(&batch, &mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(wire == body, "not the server's format");
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Mutated multi-dimensional arrays: sampling and decoding give Ok or Err, never a panic
    /// (a header claiming huge dimensions must not make the decoder allocate for them).
    #[test]
    fn mutated_multidimensional_arrays_never_panic(
        rows in (1usize..4).prop_flat_map(grids),
        mutations in vec(mutation(), 1..5),
    ) {
        let mut body = Vec::new();
        for row in &rows {
            let field = row.as_ref().map(grid_wire);
            push_tuple(&mut body, [field.as_deref()].into_iter());
        }
        for m in &mutations {
            mutate(&mut body, m);
        }
        let mut columns = vec![ColumnSpec::new("g", 1007, -1, "integer[]")];
        if data_bridge_arrow_codec::sample_array_dims(&mut columns, &body).is_ok() {
            decode_or_fail_cleanly(&Decoder::new(columns, &DecodeOptions::default()), &body);
        }
    }
}
