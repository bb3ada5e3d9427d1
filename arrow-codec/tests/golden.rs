//! Decodes binary COPY files written by a real PostgreSQL 15 (see `golden/capture.sh`) and
//! checks every value, the Arrow types, and the `pg_type` metadata.
//!
//! Expected values are what PostgreSQL prints for the same rows (`SELECT x::text`, or the day
//! and microsecond numbers from `d - '1970-01-01'` and `extract(epoch ...)`), never our encoder.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    IntervalMonthDayNanoType, Time64MicrosecondType, TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, RecordBatch};
use arrow_buffer::IntervalMonthDayNano;
use arrow_schema::{DataType, Field, Fields, IntervalUnit, TimeUnit};
use data_bridge_arrow_codec::{copy_format, oid, CodecError, ColumnSpec, DecodeOptions, Decoder, Shape, PG_TYPE_KEY};

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
    let specs = columns.iter().map(|c| ColumnSpec::new(c.name, c.type_oid, c.typmod, c.pg_type)).collect();
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
    let expected_f4 = [1.5, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.1, f32::MAX, f32::from_bits(1)];
    assert_eq!(floats_bits::<Float32Type>(&batch, 0, f4), then_null(&expected_f4.map(f4)));
    let f8 = |v: f64| v.to_bits();
    let expected_f8 = [1.5, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.1, f64::MAX, f64::from_bits(1)];
    assert_eq!(floats_bits::<Float64Type>(&batch, 1, f8), then_null(&expected_f8.map(f8)));
}

#[test]
fn numeric_15_2_is_decimal128() {
    let numeric = || [col("x", oid::NUMERIC, numeric_typmod(15, 2), "numeric(15,2)", DataType::Decimal128(15, 2))];
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
    let expected: Vec<_> = golden_text("numeric").iter().map(|t| t.as_deref().map(|t| nearest(t).to_bits())).collect();
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
    let batch =
        decode("time", &[col("t", oid::TIME, -1, "time without time zone", DataType::Time64(TimeUnit::Microsecond))]);
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
    let batch =
        decode("interval", &[col("x", oid::INTERVAL, -1, "interval", DataType::Interval(IntervalUnit::MonthDayNano))]);
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
    let values: Vec<_> = batch.column(0).as_fixed_size_binary().iter().map(|v| v.map(<[u8]>::to_vec)).collect();
    let first = [0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11];
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
    let columns = [col("x", oid::NUMERIC, numeric_typmod(38, 10), "numeric(38,10)", DataType::Decimal128(38, 10))];
    match try_decode("numeric", &columns, &DecodeOptions::default()) {
        Err(CodecError::OutOfRange { row: 0, reason, .. }) => assert!(reason.contains("float64"), "{reason}"),
        other => panic!("expected OutOfRange, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Types with parts (enums, composites, ranges, multiranges, arrays of them) and the other
// native mappings (timetz, money, bit strings, "char", the oid family).
//
// Each file has a companion NAME.txt with the server's `x::text` of every column (tab-separated,
// COPY's text escapes). The decoded values are printed back the way PostgreSQL's output
// functions print them (`pg_text`) and compared with it, and the notable values are also
// spelled out as numbers.

/// The scratch schema of capture.sh.
const SCRATCH: &str = "golden_scratch";

/// The enum and composite types capture.sh created: name -> (OID, array type OID), as saved in
/// `scratch_types.txt` (the OIDs differ per capture and appear inside the captured bytes).
fn scratch_types() -> HashMap<String, (u32, u32)> {
    let text = String::from_utf8(read_golden("scratch_types.txt")).expect("utf-8");
    text.lines()
        .map(|line| {
            let parts: Vec<&str> = line.split('\t').collect();
            let number = |s: &str| s.parse::<u32>().expect("an OID");
            (parts[0].to_string(), (number(parts[1]), number(parts[2])))
        })
        .collect()
}

fn scratch_oid(name: &str) -> u32 {
    scratch_types()[name].0
}

fn scratch_array_oid(name: &str) -> u32 {
    scratch_types()[name].1
}

/// Undoes COPY's text-format escapes (`\\`, `\t`, `\n`, `\r`, `\ooo`...).
fn unescape_copy_text(field: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = field.bytes().peekable();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'b') => out.push(8),
            Some(b'f') => out.push(12),
            Some(b'v') => out.push(11),
            Some(other) => out.push(other),
            None => panic!("a lone backslash in {field:?}"),
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// The rows of `NAME.txt`: one `x::text` per column, `None` for NULL.
fn golden_rows(name: &str) -> Vec<Vec<Option<String>>> {
    let text = String::from_utf8(read_golden(&format!("{name}.txt"))).expect("utf-8");
    text.lines().map(|line| line.split('\t').map(|f| (f != "\\N").then(|| unescape_copy_text(f))).collect()).collect()
}

/// Column `column` of `NAME.txt`.
fn golden_column(name: &str, column: usize) -> Vec<Option<String>> {
    golden_rows(name).into_iter().map(|row| row[column].clone()).collect()
}

/// Decodes `NAME.bin` with full column descriptions (shapes included) and checks the schema.
fn decode_specs(name: &str, columns: &[(ColumnSpec, DataType)], options: &DecodeOptions) -> RecordBatch {
    let stream = read_golden(&format!("{name}.bin"));
    let header = copy_format::header_len(&stream).expect("PostgreSQL's header");
    assert!(stream.ends_with(&copy_format::TRAILER), "{name}: trailer");
    let specs: Vec<ColumnSpec> = columns.iter().map(|(spec, _)| spec.clone()).collect();
    let batch = Decoder::new(specs, options).decode(&stream[header..]).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(batch.num_columns(), columns.len());
    for (field, (spec, arrow)) in batch.schema().fields().iter().zip(columns) {
        assert_eq!(field.name(), &spec.name);
        assert_eq!(field.data_type(), arrow, "{name}.{}", spec.name);
        assert_eq!(field.metadata().get(PG_TYPE_KEY), Some(&spec.pg_type), "{name}.{}", spec.name);
    }
    for array in batch.columns() {
        array.to_data().validate_full().expect("a valid Arrow array");
    }
    batch
}

// Column descriptions as the catalog gives them (the engine's `shape.rs` builds the same).

fn plain(name: &str, type_oid: u32, typmod: i32, pg_type: &str) -> ColumnSpec {
    ColumnSpec::new(name, type_oid, typmod, pg_type)
}

fn with_shape(mut spec: ColumnSpec, shape: Shape) -> ColumnSpec {
    spec.shape = shape;
    spec
}

fn mood(name: &str) -> ColumnSpec {
    with_shape(plain(name, scratch_oid("mood"), -1, &format!("{SCRATCH}.mood")), Shape::Enum)
}

fn array_of(name: &str, array_oid: u32, pg_type: &str, element: ColumnSpec) -> ColumnSpec {
    with_shape(plain(name, array_oid, -1, pg_type), Shape::Array(Box::new(element)))
}

/// `inner_t`: (x int4, label text).
fn inner_t(name: &str) -> ColumnSpec {
    let attributes = vec![plain("x", oid::INT4, -1, "integer"), plain("label", oid::TEXT, -1, "text")];
    with_shape(plain(name, scratch_oid("inner_t"), -1, &format!("{SCRATCH}.inner_t")), Shape::Composite(attributes))
}

/// `row_t`: (id int4, name text, m mood, missing int4, nested inner_t, moods mood[]); its
/// dropped attribute `gone` is not in the catalog's live attributes, nor on the wire.
fn row_t(name: &str) -> ColumnSpec {
    let attributes = vec![
        plain("id", oid::INT4, -1, "integer"),
        plain("name", oid::TEXT, -1, "text"),
        mood("m"),
        plain("missing", oid::INT4, -1, "integer"),
        inner_t("nested"),
        array_of("moods", scratch_array_oid("mood"), &format!("{SCRATCH}.mood[]"), mood("item")),
    ];
    with_shape(plain(name, scratch_oid("row_t"), -1, &format!("{SCRATCH}.row_t")), Shape::Composite(attributes))
}

fn range_of(name: &str, range_oid: u32, pg_type: &str, subtype: ColumnSpec) -> ColumnSpec {
    with_shape(plain(name, range_oid, -1, pg_type), Shape::Range(Box::new(subtype)))
}

fn multirange_of(name: &str, multirange_oid: u32, pg_type: &str, range: ColumnSpec) -> ColumnSpec {
    with_shape(plain(name, multirange_oid, -1, pg_type), Shape::Multirange(Box::new(range)))
}

fn int4range(name: &str) -> ColumnSpec {
    range_of(name, 3904, "int4range", plain("bound", oid::INT4, -1, "integer"))
}

fn daterange(name: &str) -> ColumnSpec {
    range_of(name, 3912, "daterange", plain("bound", oid::DATE, -1, "date"))
}

// Expected Arrow types, spelled out.

fn dictionary() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

fn struct_of(fields: Vec<Field>) -> DataType {
    DataType::Struct(Fields::from(fields))
}

fn range_type(bound: DataType) -> DataType {
    struct_of(vec![
        Field::new("lower", bound.clone(), true),
        Field::new("upper", bound, true),
        Field::new("lower_inclusive", DataType::Boolean, false),
        Field::new("upper_inclusive", DataType::Boolean, false),
        Field::new("empty", DataType::Boolean, false),
    ])
}

fn inner_t_type() -> DataType {
    struct_of(vec![Field::new("x", DataType::Int32, true), Field::new("label", DataType::Utf8, true)])
}

fn row_t_type(label: DataType) -> DataType {
    struct_of(vec![
        Field::new("id", DataType::Int32, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("m", label.clone(), true),
        Field::new("missing", DataType::Int32, true),
        Field::new("nested", inner_t_type(), true),
        Field::new("moods", list_of(label), true),
    ])
}

fn timetz_type() -> DataType {
    struct_of(vec![
        Field::new("time", DataType::Time64(TimeUnit::Microsecond), false),
        Field::new("offset_seconds", DataType::Int32, false),
    ])
}

// PostgreSQL's output functions, over decoded values.

/// (year, month, day) of a day count since 1970-01-01, proleptic Gregorian (year 0 = 1 BC).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + (month <= 2) as i64;
    (year, month, day)
}

/// `date_out` (ISO): 2000-01-01, 0044-03-15 BC, infinity.
fn date_text(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        days => {
            let (year, month, day) = civil_from_days(days as i64);
            let (year, era) = if year <= 0 { (1 - year, " BC") } else { (year, "") };
            format!("{year:04}-{month:02}-{day:02}{era}")
        }
    }
}

/// HH:MM:SS and the fraction without trailing zeros, as PostgreSQL prints times.
fn time_text(micros: i64) -> String {
    let (seconds, fraction) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let text = format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    match fraction {
        0 => text,
        f => format!("{text}.{}", format!("{f:06}").trim_end_matches('0')),
    }
}

/// `timestamp_out` / `timestamptz_out` at timezone UTC.
fn timestamp_text(micros: i64, with_zone: bool) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        micros => {
            let days = micros.div_euclid(86_400_000_000);
            let (year, month, day) = civil_from_days(days);
            let (year, era) = if year <= 0 { (1 - year, " BC") } else { (year, "") };
            let zone = if with_zone { "+00" } else { "" };
            let time = time_text(micros.rem_euclid(86_400_000_000));
            format!("{year:04}-{month:02}-{day:02} {time}{zone}{era}")
        }
    }
}

/// timetz_out: the time, then the offset east of UTC as ±HH[:MM[:SS]].
fn timetz_text(micros: i64, offset_east: i32) -> String {
    let sign = if offset_east >= 0 { '+' } else { '-' };
    let offset = offset_east.unsigned_abs();
    let (hours, minutes, seconds) = (offset / 3600, offset / 60 % 60, offset % 60);
    let zone = match (minutes, seconds) {
        (_, s) if s != 0 => format!("{hours:02}:{minutes:02}:{s:02}"),
        (m, _) if m != 0 => format!("{hours:02}:{m:02}"),
        _ => format!("{hours:02}"),
    };
    format!("{}{sign}{zone}", time_text(micros))
}

/// Quotes `value` when it holds one of `special` (or whitespace, or is empty), doubling `"`
/// and `\` (record_out, range_out).
fn quote_doubling(value: &str, special: &str) -> String {
    let needs = value.is_empty() || value.chars().any(|c| special.contains(c) || c.is_ascii_whitespace());
    if !needs {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// array_out's quoting: backslash-escapes `"` and `\`.
fn quote_array_element(value: &str) -> String {
    let needs = value.is_empty()
        || value.eq_ignore_ascii_case("NULL")
        || value.chars().any(|c| "{},\"\\".contains(c) || c.is_ascii_whitespace());
    if !needs {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// range_out of row `row` of a decoded range struct.
fn range_text(subtype: &ColumnSpec, ranges: &arrow_array::StructArray, row: usize) -> String {
    let flag = |name: &str| ranges.column_by_name(name).expect("flag").as_boolean().value(row);
    if flag("empty") {
        return "empty".into();
    }
    let bound = |name: &str| {
        pg_text(subtype, ranges.column_by_name(name).expect("bound"), row)
            .map(|text| quote_doubling(&text, "\"\\()[],"))
            .unwrap_or_default()
    };
    let open = if flag("lower_inclusive") { '[' } else { '(' };
    let close = if flag("upper_inclusive") { ']' } else { ')' };
    format!("{open}{},{}{close}", bound("lower"), bound("upper"))
}

/// What `x::text` prints for row `row` of a column decoded from `spec`; `None` for NULL.
fn pg_text(spec: &ColumnSpec, array: &ArrayRef, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    Some(match &spec.shape {
        Shape::Enum if array.data_type() == &DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        Shape::Enum => {
            let labels = array.as_dictionary::<Int32Type>();
            let key = labels.keys().value(row) as usize;
            labels.values().as_string::<i32>().value(key).to_string()
        }
        Shape::Composite(attributes) => {
            let record = array.as_struct();
            let parts: Vec<String> = attributes
                .iter()
                .zip(record.columns())
                .map(|(attribute, values)| {
                    pg_text(attribute, values, row).map(|t| quote_doubling(&t, "\"\\(),")).unwrap_or_default()
                })
                .collect();
            format!("({})", parts.join(","))
        }
        Shape::Range(subtype) => range_text(subtype, array.as_struct(), row),
        Shape::Multirange(range) => {
            let Shape::Range(subtype) = &range.shape else { panic!("a multirange of a range") };
            let ranges = array.as_list::<i32>().value(row);
            let texts: Vec<String> = (0..ranges.len()).map(|i| range_text(subtype, ranges.as_struct(), i)).collect();
            format!("{{{}}}", texts.join(","))
        }
        Shape::Array(element) => {
            let items = array.as_list::<i32>().value(row);
            let texts: Vec<String> = (0..items.len())
                .map(|i| pg_text(element, &items, i).map(|t| quote_array_element(&t)).unwrap_or("NULL".into()))
                .collect();
            format!("{{{}}}", texts.join(","))
        }
        _ => match array.data_type() {
            DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
            DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
            DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
            DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
            DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
            DataType::Date32 => date_text(array.as_primitive::<Date32Type>().value(row)),
            DataType::Timestamp(TimeUnit::Microsecond, zone) => {
                timestamp_text(array.as_primitive::<TimestampMicrosecondType>().value(row), zone.is_some())
            }
            DataType::Decimal128(..) => array.as_primitive::<Decimal128Type>().value_as_string(row),
            DataType::Struct(_) if spec.type_oid == oid::TIMETZ => {
                let parts = array.as_struct();
                timetz_text(
                    parts.column(0).as_primitive::<Time64MicrosecondType>().value(row),
                    parts.column(1).as_primitive::<Int32Type>().value(row),
                )
            }
            other => panic!("no text form for {other}"),
        },
    })
}

/// Every column of `batch` printed by `pg_text`, checked against `NAME.txt`.
fn assert_text_matches(name: &str, batch: &RecordBatch, specs: &[ColumnSpec]) {
    let expected = golden_rows(name);
    assert_eq!(expected.len(), batch.num_rows(), "{name}: rows");
    for (column, spec) in specs.iter().enumerate() {
        for (row, line) in expected.iter().enumerate() {
            let decoded = pg_text(spec, batch.column(column), row);
            assert_eq!(decoded, line[column], "{name}.{} row {row}", spec.name);
        }
    }
}

fn with_types(specs: &[ColumnSpec], types: &[DataType]) -> Vec<(ColumnSpec, DataType)> {
    specs.iter().cloned().zip(types.iter().cloned()).collect()
}

#[test]
fn text_forms_are_printed_like_postgres() {
    // The printers the checks below rely on, against values PostgreSQL printed (see capture.sh).
    assert_eq!(date_text(-2_440_588), "4714-11-24 BC");
    assert_eq!(date_text(-719_528), "0001-01-01 BC");
    assert_eq!(date_text(2_145_042_905), "5874897-12-31");
    assert_eq!(date_text(19_782), "2024-02-29");
    assert_eq!(timestamp_text(-63_517_780_800_000_000, false), "0044-03-15 12:00:00 BC");
    assert_eq!(timestamp_text(-1, true), "1969-12-31 23:59:59.999999+00");
    assert_eq!(timetz_text(86_400_000_000, 57_540), "24:00:00+15:59");
    assert_eq!(quote_doubling("a \"b\"", "\"\\(),"), "\"a \"\"b\"\"\"");
    assert_eq!(quote_array_element("null"), "\"null\"");
}

#[test]
fn enum_is_a_dictionary_of_labels() {
    let specs = [mood("e")];
    let batch = decode_specs("enum", &with_types(&specs, &[dictionary()]), &DecodeOptions::default());
    assert_text_matches("enum", &batch, &specs);
    let labels = batch.column(0).as_dictionary::<Int32Type>();
    // One dictionary entry per distinct label, in order of first appearance.
    let values: Vec<_> = labels.values().as_string::<i32>().iter().map(Option::unwrap).collect();
    assert_eq!(values, ["happy", "sad", "ünï ☃", "with \"quote\", comma"]);
    let keys: Vec<_> = labels.keys().iter().collect();
    assert_eq!(keys, [Some(0), Some(1), Some(0), None, Some(2), Some(3), Some(1)]);

    // types={"enum": "string"}: plain strings.
    let options = DecodeOptions::from_pairs([("enum", "string")]).expect("option");
    let batch = decode_specs("enum", &with_types(&specs, &[DataType::Utf8]), &options);
    assert_text_matches("enum", &batch, &specs);
    assert_eq!(strings(&batch, 0)[4].as_deref(), Some("ünï ☃"));
}

#[test]
fn composite_is_a_struct_of_its_attributes() {
    let specs = [row_t("c")];
    let batch = decode_specs("composite", &with_types(&specs, &[row_t_type(dictionary())]), &DecodeOptions::default());
    assert_text_matches("composite", &batch, &specs);
    let rows = batch.column(0).as_struct();
    assert_eq!(rows.null_count(), 1);
    assert!(rows.is_null(4), "the NULL row");
    let ids = rows.column_by_name("id").expect("id").as_primitive::<Int32Type>();
    assert_eq!(ids.iter().collect::<Vec<_>>(), [Some(1), Some(i32::MIN), None, Some(i32::MAX), None]);
    let names = rows.column_by_name("name").expect("name").as_string::<i32>();
    assert_eq!(names.value(0), "hello");
    assert_eq!((names.is_valid(1), names.value(1)), (true, ""), "'' is not NULL");
    assert_eq!(names.value(3), "quote \" comma , paren ( back \\ end");
    let missing = rows.column_by_name("missing").expect("missing");
    assert_eq!(missing.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(), [None, None, None, Some(7), None]);
    // The nested composite: a value, NULL, and a value whose attributes are all NULL.
    let nested = rows.column_by_name("nested").expect("nested").as_struct();
    assert_eq!((nested.is_valid(0), nested.is_null(1), nested.is_valid(2)), (true, true, true));
    let x = nested.column_by_name("x").expect("x").as_primitive::<Int32Type>();
    assert_eq!((x.value(0), x.is_null(2), x.value(3)), (10, true, 0));
    assert_eq!(nested.column_by_name("label").expect("label").as_string::<i32>().value(3), " ");
    let moods = rows.column_by_name("moods").expect("moods").as_list::<i32>();
    assert_eq!(moods.value_length(0), 2);
    assert_eq!((moods.value_length(1), moods.is_valid(1)), (0, true), "'{{}}' is an empty list");
    assert!(moods.is_null(2));

    // types={"enum": "string"} reaches enums inside composites and arrays.
    let options = DecodeOptions::from_pairs([("enum", "string")]).expect("option");
    let batch = decode_specs("composite", &with_types(&specs, &[row_t_type(DataType::Utf8)]), &options);
    assert_text_matches("composite", &batch, &specs);
}

/// The six built-in ranges; numrange's bounds are numeric text, or float64 on request.
fn range_specs() -> Vec<ColumnSpec> {
    vec![
        int4range("a"),
        range_of("b", 3926, "int8range", plain("bound", oid::INT8, -1, "bigint")),
        range_of("c", 3906, "numrange", plain("bound", oid::NUMERIC, -1, "numeric")),
        daterange("d"),
        range_of("e", 3908, "tsrange", plain("bound", oid::TIMESTAMP, -1, "timestamp without time zone")),
        range_of("f", 3910, "tstzrange", plain("bound", oid::TIMESTAMPTZ, -1, "timestamp with time zone")),
    ]
}

#[test]
fn ranges_are_structs_of_bounds_and_flags() {
    let specs = range_specs();
    let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
    let micros_utc = DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC")));
    let types =
        [DataType::Int32, DataType::Int64, DataType::Utf8, DataType::Date32, micros, micros_utc].map(range_type);
    let batch = decode_specs("range", &with_types(&specs, &types), &DecodeOptions::default());
    assert_text_matches("range", &batch, &specs);

    let flags = |column: usize, row: usize| {
        let range = batch.column(column).as_struct();
        let flag = |name| range.column_by_name(name).expect("flag").as_boolean().value(row);
        let bound_null = |name| range.column_by_name(name).expect("bound").is_null(row);
        (flag("lower_inclusive"), flag("upper_inclusive"), flag("empty"), bound_null("lower"), bound_null("upper"))
    };
    for column in 0..6 {
        assert_eq!(flags(column, 0), (false, false, true, true, true), "empty, column {column}");
        assert_eq!(flags(column, 1), (false, false, false, true, true), "(,), column {column}");
        assert!(batch.column(column).is_null(10), "NULL, column {column}");
    }
    let bounds = |column: usize| {
        let range = batch.column(column).as_struct();
        (range.column(0).clone(), range.column(1).clone())
    };
    // int4range [-2147483648,2147483647): the extremes; '(1,5]' comes canonical as [2,6).
    let (lower, upper) = bounds(0);
    let (lower, upper) = (lower.as_primitive::<Int32Type>(), upper.as_primitive::<Int32Type>());
    assert_eq!((lower.value(8), upper.value(8)), (i32::MIN, i32::MAX));
    assert_eq!((lower.value(5), upper.value(5), flags(0, 5).0, flags(0, 5).1), (2, 6, true, false));
    let (lower, upper) = bounds(1);
    let (lower, upper) = (lower.as_primitive::<Int64Type>(), upper.as_primitive::<Int64Type>());
    assert_eq!((lower.value(8), upper.value(8)), (i64::MIN, i64::MAX));
    // daterange [4714-11-24 BC, 5874897-12-31) and [-infinity, infinity]: infinity is a bound
    // value (i32 min/max), not an unbounded side.
    let (lower, upper) = bounds(3);
    let days = |a: &ArrayRef, row| a.as_primitive::<Date32Type>().value(row);
    assert_eq!((days(&lower, 8), days(&upper, 8)), (-2_440_588, 2_145_042_905));
    assert_eq!((days(&lower, 9), days(&upper, 9)), (i32::MIN, i32::MAX));
    assert_eq!(flags(3, 9), (true, true, false, false, false));
    // tsrange [4714-11-24 00:00 BC, 0044-03-15 12:00 BC]; tstzrange (-infinity, infinity].
    let (lower, upper) = bounds(4);
    let us = |a: &ArrayRef, row| a.as_primitive::<TimestampMicrosecondType>().value(row);
    assert_eq!((us(&lower, 8), us(&upper, 8)), (-210_866_803_200_000_000, -63_517_780_800_000_000));
    assert_eq!((us(&lower, 4), us(&upper, 4)), (0, 1), "[1970-01-01 00:00, +1µs)");
    let (lower, upper) = bounds(5);
    assert_eq!((us(&lower, 9), us(&upper, 9), flags(5, 9)), (i64::MIN, i64::MAX, (false, true, false, false, false)));
    assert_eq!(us(&upper, 3), 1_709_210_096_123_456, "2024-02-29 14:34:56.123456+02");

    // numrange with types={"numeric": "float64"}: only its bounds change.
    let options = DecodeOptions::from_pairs([("numeric", "float64")]).expect("option");
    let mut float_types = types.clone();
    float_types[2] = range_type(DataType::Float64);
    let batch = decode_specs("range", &with_types(&specs, &float_types), &options);
    let range = batch.column(2).as_struct();
    let (lower, upper) = (range.column(0).as_primitive::<Float64Type>(), range.column(1).as_primitive::<Float64Type>());
    assert_eq!((lower.value(4), upper.value(4)), (-1.5, 1.5));
    assert_eq!((lower.value(8), upper.value(8)), (-123456789012345678901234567890.123456789, 1e30));
    assert_eq!((lower.value(9), upper.value(9)), (f64::NEG_INFINITY, f64::INFINITY));
    assert_eq!((lower.value(2), upper.is_null(2)), (1.5, true), "[1.5,)");
    assert!(lower.is_null(0) && upper.is_null(1), "empty and unbounded stay NULL");
}

#[test]
fn multiranges_are_lists_of_range_structs() {
    let specs = [
        multirange_of("a", 4451, "int4multirange", int4range("range")),
        multirange_of("d", 4535, "datemultirange", daterange("range")),
    ];
    let types = [list_of(range_type(DataType::Int32)), list_of(range_type(DataType::Date32))];
    let batch = decode_specs("multirange", &with_types(&specs, &types), &DecodeOptions::default());
    assert_text_matches("multirange", &batch, &specs);
    for column in 0..2 {
        let lists = batch.column(column).as_list::<i32>();
        let lengths: Vec<_> =
            (0..lists.len()).map(|row| lists.is_valid(row).then(|| lists.value_length(row))).collect();
        // '{}' is an empty list, not NULL; '{[1,2], [3,4]}' merges into one range.
        assert_eq!(lengths, then_null(&[0, 2, 2, 1, 1]), "column {column}");
    }
    let dates = batch.column(1).as_list::<i32>().value(1);
    let dates = dates.as_struct();
    let (lower, upper) = (dates.column(0).as_primitive::<Date32Type>(), dates.column(1).as_primitive::<Date32Type>());
    // {[2000-01-01,2000-02-01), [2024-02-29,infinity]}
    assert_eq!((lower.value(0), upper.value(0), lower.value(1), upper.value(1)), (10_957, 10_988, 19_782, i32::MAX));
    assert_eq!(golden_column("multirange", 1)[3].as_deref(), Some("{[\"4714-11-24 BC\",\"0001-01-02 BC\")}"));
}

#[test]
fn timetz_is_time_and_offset_east() {
    let specs = [plain("t", oid::TIMETZ, -1, "time with time zone")];
    let batch = decode_specs("timetz", &with_types(&specs, &[timetz_type()]), &DecodeOptions::default());
    assert_text_matches("timetz", &batch, &specs);
    let parts = batch.column(0).as_struct();
    let times: Vec<_> = parts.column(0).as_primitive::<Time64MicrosecondType>().values().to_vec();
    let offsets: Vec<_> = parts.column(1).as_primitive::<Int32Type>().values().to_vec();
    let expected = [
        (0, 0),
        (45_296_789_012, 19_800),  // 12:34:56.789012+05:30
        (86_399_999_999, -57_540), // 23:59:59.999999-15:59
        (86_400_000_000, 57_540),  // 24:00:00+15:59
        (14_706_000_000, -28_800), // 04:05:06-08
        (3_723_000_000, 3_723),    // 01:02:03+01:02:03
        (43_200_000_000, -57_599), // 12:00:00-15:59:59
    ];
    assert_eq!(times[..7].iter().copied().zip(offsets[..7].iter().copied()).collect::<Vec<_>>(), expected);
    assert!(parts.is_null(7));
}

#[test]
fn money_is_decimal_cents() {
    let specs = [plain("m", oid::MONEY, -1, "money")];
    let batch = decode_specs("money", &with_types(&specs, &[DataType::Decimal128(19, 2)]), &DecodeOptions::default());
    let cents = [i64::MIN as i128, i64::MAX as i128, 0, -123, 1234, 1];
    assert_eq!(primitives::<Decimal128Type>(&batch, 0), then_null(&cents));
    // `m::numeric::text` (money's own text depends on lc_monetary).
    assert_eq!(decimal_texts(&batch, 0), golden_column("money", 0));
    batch.column(0).as_primitive::<Decimal128Type>().validate_decimal_precision(19).expect("fits decimal(19,2)");
}

#[test]
fn bit_strings_are_zeros_and_ones() {
    let specs = [plain("b", oid::BIT, 8, "bit(8)"), plain("v", oid::VARBIT, -1, "bit varying")];
    let batch = decode_specs("bits", &with_types(&specs, &[DataType::Utf8, DataType::Utf8]), &DecodeOptions::default());
    assert_text_matches("bits", &batch, &specs);
    let varbits = strings(&batch, 1);
    assert_eq!(varbits[0].as_deref(), Some(""), "B'' is empty, not NULL");
    let long = varbits[3].as_deref().expect("1000 bits");
    assert_eq!(long.len(), 1000);
    assert_eq!(long, format!("{}110100", "1100101".repeat(142)));
    assert_eq!(strings(&batch, 0)[1].as_deref(), Some("10100101"));
}

#[test]
fn char_is_printed_like_charout() {
    let specs = [plain("c", oid::CHAR, -1, "\"char\"")];
    let batch = decode_specs("char", &with_types(&specs, &[DataType::Utf8]), &DecodeOptions::default());
    assert_text_matches("char", &batch, &specs);
    let expected = [Some("a"), Some(""), Some("\\200"), Some("\\377"), Some("\\"), Some(" "), Some("\\303"), None];
    assert_eq!(strings(&batch, 0), owned(&expected));
}

#[test]
fn oid_family_is_unsigned() {
    let specs = [
        plain("rc", oid::REGCLASS, -1, "regclass"),
        plain("rt", oid::REGTYPE, -1, "regtype"),
        plain("rp", oid::REGPROC, -1, "regproc"),
        plain("x", oid::XID, -1, "xid"),
        plain("x8", oid::XID8, -1, "xid8"),
        plain("c", oid::CID, -1, "cid"),
    ];
    let u32 = DataType::UInt32;
    let types = [u32.clone(), u32.clone(), u32.clone(), u32.clone(), DataType::UInt64, u32];
    let batch = decode_specs("oids", &with_types(&specs, &types), &DecodeOptions::default());
    // `x::oid::text` for the reg* types, `x::text` for the others.
    assert_text_matches("oids", &batch, &specs);
    assert_eq!(primitives::<UInt32Type>(&batch, 0), then_null(&[1259, 1247, 0]));
    assert_eq!(primitives::<UInt32Type>(&batch, 1), then_null(&[23, scratch_oid("mood"), 0]));
    assert_eq!(primitives::<UInt32Type>(&batch, 2), then_null(&[1299, 42, 0]));
    assert_eq!(primitives::<UInt32Type>(&batch, 3), then_null(&[0, 42, u32::MAX]));
    assert_eq!(primitives::<UInt64Type>(&batch, 4), then_null(&[0, 42, u64::MAX]));
    assert_eq!(primitives::<UInt32Type>(&batch, 5), then_null(&[0, 7, u32::MAX]));
}

#[test]
fn arrays_of_enums_composites_ranges_and_multiranges() {
    let specs = [
        array_of("e", scratch_array_oid("mood"), &format!("{SCRATCH}.mood[]"), mood("item")),
        array_of("c", scratch_array_oid("inner_t"), &format!("{SCRATCH}.inner_t[]"), inner_t("item")),
        array_of("r", 3905, "int4range[]", int4range("item")),
        array_of("m", 6150, "int4multirange[]", multirange_of("item", 4451, "int4multirange", int4range("range"))),
    ];
    let types = [
        list_of(dictionary()),
        list_of(inner_t_type()),
        list_of(range_type(DataType::Int32)),
        list_of(list_of(range_type(DataType::Int32))),
    ];
    let batch = decode_specs("arrays", &with_types(&specs, &types), &DecodeOptions::default());
    assert_text_matches("arrays", &batch, &specs);
    for column in 0..4 {
        let lists = batch.column(column).as_list::<i32>();
        assert_eq!((lists.value_length(1), lists.is_valid(1), lists.is_null(3)), (0, true, true), "column {column}");
    }
    // {"(1,a)",NULL,"(,)"}: a NULL element and an element whose attributes are NULL differ.
    let composites = batch.column(1).as_list::<i32>().value(0);
    let composites = composites.as_struct();
    assert_eq!((composites.is_valid(0), composites.is_null(1), composites.is_valid(2)), (true, true, true));
    assert_eq!(composites.column(1).as_string::<i32>().value(0), "a");
    assert!(composites.column(0).is_null(2) && composites.column(1).is_null(2));
    // {happy,sad,NULL,happy}
    let moods = batch.column(0).as_list::<i32>().value(0);
    let moods = moods.as_dictionary::<Int32Type>();
    let labels = moods.values().as_string::<i32>();
    let text: Vec<_> = moods.keys().iter().map(|k| k.map(|k| labels.value(k as usize))).collect();
    assert_eq!(text, [Some("happy"), Some("sad"), None, Some("happy")]);
}

/// `empty_t AS ()`: the server sends an attribute count of 0 (composite_empty.bin), and
/// decoding fails inside Arrow (`StructArray::try_new` cannot give a struct without fields a
/// length). A composite whose attributes were all dropped is the same.
#[test]
fn composite_without_attributes() {
    let specs = [with_shape(
        plain("e", scratch_oid("empty_t"), -1, &format!("{SCRATCH}.empty_t")),
        Shape::Composite(Vec::new()),
    )];
    let columns = with_types(&specs, &[struct_of(Vec::new())]);
    let batch = decode_specs("composite_empty", &columns, &DecodeOptions::default());
    assert_text_matches("composite_empty", &batch, &specs);
    assert_eq!((batch.num_rows(), batch.column(0).len(), batch.column(0).null_count()), (3, 3, 1));
}
