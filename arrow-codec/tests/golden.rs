//! Decodes binary COPY files written by a real PostgreSQL 15 (see `golden/capture.sh`) and
//! checks every value, the Arrow types, and the `pg_type` metadata.
//!
//! Expected values are what PostgreSQL prints for the same rows (`SELECT x::text`, or the day
//! and microsecond numbers from `d - '1970-01-01'` and `extract(epoch ...)`), never our encoder.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    IntervalMonthDayNanoType, Time64MicrosecondType, TimestampMicrosecondType, UInt32Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_buffer::IntervalMonthDayNano;
use arrow_schema::{DataType, IntervalUnit, TimeUnit};
use data_bridge_arrow_codec::{
    copy_format, oid, CodecError, ColumnSpec, DecodeOptions, Decoder, PG_TYPE_KEY,
};

// ---------------------------------------------------------------------------------------------
// Helpers

/// One expected column: its description as the server gives it, and the Arrow type it must get.
struct Col {
    name: &'static str,
    type_oid: u32,
    typmod: i32,
    pg_type: &'static str,
    arrow: DataType,
}

fn col(name: &'static str, type_oid: u32, typmod: i32, pg_type: &'static str, arrow: DataType) -> Col {
    Col { name, type_oid, typmod, pg_type, arrow }
}

/// The typmod PostgreSQL gives numeric(precision, scale).
fn numeric_typmod(precision: i32, scale: i32) -> i32 {
    ((precision << 16) | scale) + 4
}

/// The typmod of varchar(n) and bpchar(n).
fn char_typmod(n: i32) -> i32 {
    n + 4
}

fn read_golden(file: &str) -> Vec<u8> {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run tests/golden/capture.sh)"))
}

/// The lines of `NAME.txt` (PostgreSQL's `x::text` of each row), `\N` as `None`.
fn golden_text(name: &str) -> Vec<Option<String>> {
    let text = String::from_utf8(read_golden(&format!("{name}.txt"))).expect("utf-8");
    text.lines().map(|line| (line != "\\N").then(|| line.to_string())).collect()
}

/// Decodes `NAME.bin` with these columns, or returns the codec's error.
fn try_decode(name: &str, columns: &[Col], options: &DecodeOptions) -> Result<RecordBatch, CodecError> {
    let stream = read_golden(&format!("{name}.bin"));
    // A server's stream: the fixed 19-byte header, tuples, the trailer.
    let header = copy_format::header_len(&stream).expect("PostgreSQL's header");
    assert_eq!(header, 19, "{name}: header length");
    assert!(stream.ends_with(&copy_format::TRAILER), "{name}: trailer");
    let specs = columns
        .iter()
        .map(|c| ColumnSpec::new(c.name, c.type_oid, c.typmod, c.pg_type))
        .collect();
    Decoder::new(specs, options).decode(&stream[header..])
}

/// Decodes `NAME.bin` and checks the schema: names, Arrow types, `pg_type` metadata.
fn decode_with(name: &str, columns: &[Col], options: &DecodeOptions) -> RecordBatch {
    let batch = try_decode(name, columns, options).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(batch.num_columns(), columns.len());
    for (field, expected) in batch.schema().fields().iter().zip(columns) {
        assert_eq!(field.name(), expected.name);
        assert_eq!(field.data_type(), &expected.arrow, "{name}.{}", expected.name);
        assert!(field.is_nullable());
        let pg_type = field.metadata().get(PG_TYPE_KEY).map(String::as_str);
        assert_eq!(pg_type, Some(expected.pg_type), "{name}.{}: pg_type metadata", expected.name);
    }
    for array in batch.columns() {
        array.to_data().validate_full().expect("a valid Arrow array");
    }
    batch
}

fn decode(name: &str, columns: &[Col]) -> RecordBatch {
    decode_with(name, columns, &DecodeOptions::default())
}

/// Column `i` of a primitive type as options.
fn primitives<T: ArrowPrimitiveType>(batch: &RecordBatch, i: usize) -> Vec<Option<T::Native>> {
    batch.column(i).as_primitive::<T>().iter().collect()
}

fn strings(batch: &RecordBatch, i: usize) -> Vec<Option<String>> {
    batch.column(i).as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

fn binaries(batch: &RecordBatch, i: usize) -> Vec<Option<Vec<u8>>> {
    batch.column(i).as_binary::<i32>().iter().map(|v| v.map(<[u8]>::to_vec)).collect()
}

/// A decimal column through Arrow's own formatting, for comparison with PostgreSQL's text.
fn decimal_texts(batch: &RecordBatch, i: usize) -> Vec<Option<String>> {
    let array = batch.column(i);
    (0..array.len())
        .map(|row| {
            array.is_valid(row).then(|| match array.data_type() {
                DataType::Decimal128(..) => array.as_primitive::<Decimal128Type>().value_as_string(row),
                DataType::Decimal256(..) => array.as_primitive::<Decimal256Type>().value_as_string(row),
                other => panic!("not a decimal: {other}"),
            })
        })
        .collect()
}

fn some<T: Clone>(values: &[T]) -> Vec<Option<T>> {
    values.iter().cloned().map(Some).collect()
}

/// `values` followed by one NULL: every golden file ends with a row of NULLs.
fn then_null<T: Clone>(values: &[T]) -> Vec<Option<T>> {
    let mut out = some(values);
    out.push(None);
    out
}

fn owned(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}

fn floats_bits<T: ArrowPrimitiveType>(
    batch: &RecordBatch,
    i: usize,
    bits: impl Fn(T::Native) -> u64,
) -> Vec<Option<u64>> {
    primitives::<T>(batch, i).into_iter().map(|v| v.map(&bits)).collect()
}

// ---------------------------------------------------------------------------------------------
// One test per type family

#[test]
fn bool() {
    let batch = decode("bool", &[col("b", oid::BOOL, -1, "boolean", DataType::Boolean)]);
    let values: Vec<_> = batch.column(0).as_boolean().iter().collect();
    assert_eq!(values, vec![Some(true), Some(false), None]);
}

#[test]
fn integers_with_min_and_max() {
    let batch = decode(
        "int",
        &[
            col("a", oid::INT2, -1, "smallint", DataType::Int16),
            col("b", oid::INT4, -1, "integer", DataType::Int32),
            col("c", oid::INT8, -1, "bigint", DataType::Int64),
        ],
    );
    assert_eq!(primitives::<Int16Type>(&batch, 0), then_null(&[0, 1, i16::MIN, i16::MAX]));
    assert_eq!(primitives::<Int32Type>(&batch, 1), then_null(&[0, -1, i32::MIN, i32::MAX]));
    assert_eq!(primitives::<Int64Type>(&batch, 2), then_null(&[0, 42, i64::MIN, i64::MAX]));
}

#[test]
fn oid_is_unsigned() {
    let batch = decode("oid", &[col("o", oid::OID, -1, "oid", DataType::UInt32)]);
    assert_eq!(primitives::<UInt32Type>(&batch, 0), then_null(&[0, 1259, u32::MAX]));
}

#[test]
fn floats_keep_nan_infinities_and_negative_zero() {
    let batch = decode(
        "float",
        &[
            col("r", oid::FLOAT4, -1, "real", DataType::Float32),
            col("d", oid::FLOAT8, -1, "double precision", DataType::Float64),
        ],
    );
    // Compared bit for bit, so -0 and NaN are checked too.
    let f4 = |v: f32| v.to_bits() as u64;
    let expected_f4 =
        [1.5, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.1, f32::MAX, f32::from_bits(1)];
    assert_eq!(floats_bits::<Float32Type>(&batch, 0, f4), then_null(&expected_f4.map(f4)));
    let f8 = |v: f64| v.to_bits();
    let expected_f8 =
        [1.5, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.1, f64::MAX, f64::from_bits(1)];
    assert_eq!(floats_bits::<Float64Type>(&batch, 1, f8), then_null(&expected_f8.map(f8)));
}

#[test]
fn numeric_15_2_is_decimal128() {
    let numeric =
        || [col("x", oid::NUMERIC, numeric_typmod(15, 2), "numeric(15,2)", DataType::Decimal128(15, 2))];
    let batch = decode("numeric_15_2", &numeric());
    let unscaled = [0, 150, -12345, 1, -1, 999_999_999_999_999, -999_999_999_999_999, 100_000_000, 1_234_568];
    assert_eq!(primitives::<Decimal128Type>(&batch, 0), then_null(&unscaled));
    assert_eq!(decimal_texts(&batch, 0), golden_text("numeric_15_2"));

    // The same column as text: exactly PostgreSQL's `x::text`, typmod scale included.
    let as_text = DecodeOptions::from_pairs([("numeric", "string")]).expect("option");
    let [mut text] = numeric();
    text.arrow = DataType::Utf8;
    let batch = decode_with("numeric_15_2", &[text], &as_text);
    assert_eq!(strings(&batch, 0), golden_text("numeric_15_2"));
}

#[test]
fn numeric_50_10_is_decimal256() {
    let batch = decode(
        "numeric_50_10",
        &[col("x", oid::NUMERIC, numeric_typmod(50, 10), "numeric(50,10)", DataType::Decimal256(50, 10))],
    );
    assert_eq!(decimal_texts(&batch, 0), golden_text("numeric_50_10"));
    let values = batch.column(0).as_primitive::<Decimal256Type>();
    let large = "12345678901234567890123456789012345678900123456789";
    assert_eq!(values.value(3).to_string(), large);
    assert_eq!(values.value(4).to_string(), format!("-{}", "9".repeat(50)));
    assert_eq!(values.value(2).to_string(), "-1");
}

#[test]
fn unconstrained_numeric_is_postgres_text() {
    let batch = decode("numeric", &[col("x", oid::NUMERIC, -1, "numeric", DataType::Utf8)]);
    let decoded = strings(&batch, 0);
    assert_eq!(decoded, golden_text("numeric"));
    // Spelled out for the reader; golden_text holds the long ones in full.
    let head = ["NaN", "Infinity", "-Infinity", "0", "0.000", "1.500", "-1.5", "10000", "1000000", "0.0001"];
    assert_eq!(decoded[..head.len()], owned(&head.map(Some)));
    assert_eq!(decoded[12].as_deref(), Some("123456789012345678901234567890.123456789"));
    assert_eq!(decoded[13], Some(format!("1{}", "0".repeat(100))));
    assert_eq!(decoded[14], Some(format!("-0.{}1", "0".repeat(99))));
    assert_eq!(decoded[16], Some(format!("0.{}1", "0".repeat(999))));
    assert_eq!(decoded[18].as_deref(), Some("0.00"), "-0.00 has no sign");
}

#[test]
fn unconstrained_numeric_as_float64() {
    let options = DecodeOptions::from_pairs([("numeric", "float64")]).expect("option");
    let batch = decode_with("numeric", &[col("x", oid::NUMERIC, -1, "numeric", DataType::Float64)], &options);
    let nearest = |text: &str| match text {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => text.parse().expect("a number"),
    };
    let expected: Vec<_> =
        golden_text("numeric").iter().map(|t| t.as_deref().map(|t| nearest(t).to_bits())).collect();
    assert_eq!(floats_bits::<Float64Type>(&batch, 0, f64::to_bits), expected);
    let values = batch.column(0).as_primitive::<Float64Type>();
    assert_eq!((values.value(5), values.value(11), values.value(15)), (1.5, -0.00001234, 9.99e300));
}

#[test]
fn text_types_keep_bytes_exactly() {
    let batch = decode(
        "text",
        &[
            col("t", oid::TEXT, -1, "text", DataType::Utf8),
            col("v", oid::VARCHAR, char_typmod(10), "character varying(10)", DataType::Utf8),
            col("c", oid::BPCHAR, char_typmod(5), "character(5)", DataType::Utf8),
            col("n", oid::NAME, -1, "name", DataType::Utf8),
        ],
    );
    let long_name = "n".repeat(63);
    let expected: [[Option<&str>; 5]; 4] = [
        [Some("hello"), Some(""), Some("héllo wörld ✓ 日本語 🎉"), Some("tab\there\nnewline \\ back"), None],
        [Some("hello"), Some(""), Some("ÄÖÜ"), Some("x"), None],
        // bpchar comes padded to its length, as bpchar_send sends it.
        [Some("ab   "), Some("     "), Some("é    "), Some("abcde"), None],
        [Some("pg_class"), Some(""), Some("имя"), Some(&long_name), None],
    ];
    for (i, column) in expected.iter().enumerate() {
        assert_eq!(strings(&batch, i), owned(column), "column {i}");
    }
}

#[test]
fn json_as_sent_and_jsonb_without_version_byte() {
    let batch = decode(
        "json",
        &[col("j", oid::JSON, -1, "json", DataType::Utf8), col("b", oid::JSONB, -1, "jsonb", DataType::Utf8)],
    );
    let json = [Some(r#"{"b":1,  "a":[true,null]}"#), Some(r#""snö ☃""#), Some("[]"), Some("1.50"), None];
    let jsonb = [Some(r#"{"a": [true, null], "b": 1}"#), Some(r#""snö ☃""#), Some("[]"), Some("1.50"), None];
    assert_eq!(strings(&batch, 0), owned(&json));
    assert_eq!(strings(&batch, 1), owned(&jsonb));
}

#[test]
fn bytea() {
    let batch = decode("bytea", &[col("b", oid::BYTEA, -1, "bytea", DataType::Binary)]);
    let expected: [&[u8]; 4] = [b"", &[0x00, 0xff, 0x10], b"abc", &[0xde, 0xad, 0xbe, 0xef]];
    assert_eq!(binaries(&batch, 0), then_null(&expected.map(<[u8]>::to_vec)));
}

#[test]
fn dates_as_days_since_1970() {
    let batch = decode("date", &[col("d", oid::DATE, -1, "date", DataType::Date32)]);
    // `d - '1970-01-01'::date` for: 2000-01-01, 1970-01-01, 1969-12-31, 2024-02-29,
    // 0001-01-01 BC, 4714-11-24 BC (the first date), 5874897-12-31 (the last), ±infinity.
    let days = [10_957, 0, -1, 19_782, -719_528, -2_440_588, 2_145_042_905, i32::MAX, i32::MIN];
    assert_eq!(primitives::<Date32Type>(&batch, 0), then_null(&days));
}

#[test]
fn time_of_day_in_micros() {
    let batch = decode(
        "time",
        &[col("t", oid::TIME, -1, "time without time zone", DataType::Time64(TimeUnit::Microsecond))],
    );
    let micros = [0, 45_296_789_012, 86_399_999_999, 86_400_000_000];
    assert_eq!(primitives::<Time64MicrosecondType>(&batch, 0), then_null(&micros));
}

#[test]
fn timestamps_as_micros_since_1970() {
    let batch = decode(
        "timestamp",
        &[
            col(
                "ts",
                oid::TIMESTAMP,
                -1,
                "timestamp without time zone",
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
            col(
                "tz",
                oid::TIMESTAMPTZ,
                -1,
                "timestamp with time zone",
                DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC"))),
            ),
        ],
    );
    // `extract(epoch from x) * 1000000` for: 2000-01-01, 1970-01-01, 1969-12-31 23:59:59.999999,
    // 2024-02-29 12:34:56.123456, 0044-03-15 12:00 BC, 4714-11-24 BC (the first), ±infinity.
    let micros = [
        946_684_800_000_000,
        0,
        -1,
        1_709_210_096_123_456,
        -63_517_780_800_000_000,
        -210_866_803_200_000_000,
        i64::MAX,
        i64::MIN,
    ];
    // The timestamptz literals name the same instants with other offsets.
    assert_eq!(primitives::<TimestampMicrosecondType>(&batch, 0), then_null(&micros));
    assert_eq!(primitives::<TimestampMicrosecondType>(&batch, 1), then_null(&micros));
}

#[test]
fn intervals_keep_months_days_and_time_apart() {
    let batch = decode(
        "interval",
        &[col("x", oid::INTERVAL, -1, "interval", DataType::Interval(IntervalUnit::MonthDayNano))],
    );
    let iv = IntervalMonthDayNano::new;
    let expected = [
        iv(14, 3, 14_706_789_000_000), // 1 year 2 mons 3 days 04:05:06.789
        iv(0, -1, 0),                  // -1 days
        iv(-3, 5, -1_000_000_000),     // -3 mons +5 days -00:00:01
        iv(0, 0, 0),
        iv(0, 0, 90_000_000_000_000), // 25:00:00 (not folded into days)
        iv(1, 0, 0),
        iv(2_136_000_000, 0, 0), // 178000000 years
        iv(0, 0, -1_000),        // -00:00:00.000001
    ];
    assert_eq!(primitives::<IntervalMonthDayNanoType>(&batch, 0), then_null(&expected));
}

#[test]
fn uuid_is_fixed_size_binary_with_extension() {
    let batch = decode("uuid", &[col("u", oid::UUID, -1, "uuid", DataType::FixedSizeBinary(16))]);
    let values: Vec<_> =
        batch.column(0).as_fixed_size_binary().iter().map(|v| v.map(<[u8]>::to_vec)).collect();
    let first =
        [0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11];
    assert_eq!(values, then_null(&[first.to_vec(), vec![0; 16], vec![0xff; 16]]));
    let schema = batch.schema();
    let metadata = schema.field(0).metadata();
    assert_eq!(metadata.get("ARROW:extension:name").map(String::as_str), Some("arrow.uuid"));
}

#[test]
fn values_beyond_arrow_are_out_of_range_errors() {
    let timestamp = [col(
        "ts",
        oid::TIMESTAMP,
        -1,
        "timestamp without time zone",
        DataType::Timestamp(TimeUnit::Microsecond, None),
    )];
    let interval = [col("x", oid::INTERVAL, -1, "interval", DataType::Interval(IntervalUnit::MonthDayNano))];
    for (name, columns) in [("timestamp_max", &timestamp), ("interval_max", &interval)] {
        match try_decode(name, columns, &DecodeOptions::default()) {
            Err(CodecError::OutOfRange { row: 0, .. }) => {}
            other => panic!("{name}: expected OutOfRange at row 0, got {other:?}"),
        }
    }
}

#[test]
fn numeric_special_values_do_not_fit_decimals() {
    // NaN in a decimal column: an error that names the options that can read it.
    let columns =
        [col("x", oid::NUMERIC, numeric_typmod(38, 10), "numeric(38,10)", DataType::Decimal128(38, 10))];
    match try_decode("numeric", &columns, &DecodeOptions::default()) {
        Err(CodecError::OutOfRange { row: 0, reason, .. }) => assert!(reason.contains("float64"), "{reason}"),
        other => panic!("expected OutOfRange, got {other:?}"),
    }
}
