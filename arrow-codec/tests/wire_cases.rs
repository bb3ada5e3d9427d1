//! Hand-written wire cases: malformed values and framing, and the error each one must give;
//! edge cases of the happy path that random generation rarely hits.

mod support;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use data_bridge_arrow_codec::{copy_format, decode_all, oid, CodecError, ColumnSpec, DecodeOptions, Decoder};

use support::{numeric_typmod, push_tuple, spec, wire};

/// One column of these values (None = NULL), framed as tuples, no trailer.
fn chunk<B: AsRef<[u8]>>(values: &[Option<B>]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        push_tuple(&mut out, [value.as_ref().map(B::as_ref)].into_iter());
    }
    out
}

fn decode<B: AsRef<[u8]>>(spec: ColumnSpec, values: &[Option<B>]) -> Result<RecordBatch, CodecError> {
    Decoder::new(vec![spec], &DecodeOptions::default()).decode(&chunk(values))
}

fn numeric_15_2() -> ColumnSpec {
    spec("amount", oid::NUMERIC, numeric_typmod(15, 2), "numeric(15,2)")
}

/// A numeric's wire form from its parts (sign word, weight, display scale, base-10000 digits).
fn numeric_parts(sign: u16, weight: i16, dscale: u16, digits: &[u16]) -> Vec<u8> {
    let mut out = (digits.len() as i16).to_be_bytes().to_vec();
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    digits.iter().for_each(|d| out.extend_from_slice(&d.to_be_bytes()));
    out
}

/// What kind of error a case must give, and at which row.
#[derive(Debug)]
enum Expect {
    BadLength(usize),
    Invalid(usize),
    OutOfRange(usize),
}

impl Expect {
    fn matches(&self, error: &CodecError) -> bool {
        match (self, error) {
            (Expect::BadLength(r), CodecError::BadLength { row, .. })
            | (Expect::Invalid(r), CodecError::Invalid { row, .. })
            | (Expect::OutOfRange(r), CodecError::OutOfRange { row, .. }) => r == row,
            _ => false,
        }
    }
}

/// A column, its values (None = NULL), and the error decoding them must give.
type Case = (ColumnSpec, Vec<Option<Vec<u8>>>, Expect);

#[test]
fn malformed_values_are_errors_naming_column_and_row() {
    let ok4 = 7i32.to_be_bytes();
    let v = |bytes: &[u8]| Some(bytes.to_vec());
    let cases: Vec<Case> = vec![
        (spec("b", oid::BOOL, -1, "boolean"), vec![v(&[1, 0])], Expect::BadLength(0)),
        (spec("i", oid::INT4, -1, "integer"), vec![v(&ok4), None, v(&[0, 0, 7])], Expect::BadLength(2)),
        (spec("i", oid::INT8, -1, "bigint"), vec![v(&ok4)], Expect::BadLength(0)),
        (spec("f", oid::FLOAT8, -1, "double precision"), vec![v(&[])], Expect::BadLength(0)),
        (spec("u", oid::UUID, -1, "uuid"), vec![v(&[0; 15])], Expect::BadLength(0)),
        (spec("iv", oid::INTERVAL, -1, "interval"), vec![v(&[0; 12])], Expect::BadLength(0)),
        // jsonb: version byte 1 only, and never empty.
        (spec("j", oid::JSONB, -1, "jsonb"), vec![v(b"\x02{}")], Expect::Invalid(0)),
        (spec("j", oid::JSONB, -1, "jsonb"), vec![None, v(b"")], Expect::Invalid(1)),
        // Invalid UTF-8, including a character split across two values (valid once joined).
        (spec("t", oid::TEXT, -1, "text"), vec![v(b"ok"), v(b"\xff")], Expect::Invalid(1)),
        (spec("t", oid::TEXT, -1, "text"), vec![v(b"\xc3"), v(b"\xa9")], Expect::Invalid(0)),
        // numeric: short header, digit over 9999, unknown sign, digit count vs bytes.
        (numeric_15_2(), vec![v(&[0; 7])], Expect::Invalid(0)),
        (numeric_15_2(), vec![v(&numeric_parts(0, 0, 0, &[10_000]))], Expect::Invalid(0)),
        (numeric_15_2(), vec![v(&numeric_parts(0x1234, 0, 0, &[]))], Expect::Invalid(0)),
        (numeric_15_2(), vec![v(&numeric_parts(0, 0, 0, &[1])[..9])], Expect::Invalid(0)),
        // numeric that does not fit the decimal column.
        (numeric_15_2(), vec![v(&wire::numeric("NaN"))], Expect::OutOfRange(0)),
        (numeric_15_2(), vec![v(&wire::numeric("-Infinity"))], Expect::OutOfRange(0)),
        (numeric_15_2(), vec![v(&wire::numeric("1.234"))], Expect::OutOfRange(0)),
        (
            spec("n", oid::NUMERIC, numeric_typmod(38, 0), "numeric(38,0)"),
            vec![v(&wire::numeric(&format!("1{}", "0".repeat(40))))],
            Expect::OutOfRange(0),
        ),
        (spec("d", oid::DATE, -1, "date"), vec![v(&wire::date(i32::MAX - 1))], Expect::OutOfRange(0)),
    ];
    for (spec, values, expect) in cases {
        let label = spec.to_string();
        match decode(spec.clone(), &values) {
            Err(e) if expect.matches(&e) => {
                let message = e.to_string();
                assert!(
                    message.contains(&spec.name) && message.contains(&spec.pg_type),
                    "{label}: {message}"
                );
            }
            other => panic!("{label}: expected {expect:?}, got {other:?}"),
        }
    }
}

#[test]
fn bad_framing_is_an_error() {
    let int4 = || vec![spec("a", oid::INT4, -1, "integer"), spec("b", oid::INT4, -1, "integer")];
    let decoder = Decoder::new(int4(), &DecodeOptions::default());
    let one = 1i32.to_be_bytes();
    let mut row = Vec::new();
    push_tuple(&mut row, [Some(&one[..]), None].into_iter());

    let mut three_fields = Vec::new();
    push_tuple(&mut three_fields, [None, None, None].into_iter());
    assert!(matches!(
        decoder.decode(&three_fields),
        Err(CodecError::FieldCount { row: 0, expected: 2, got: 3 })
    ));

    let mut after_trailer = row.clone();
    after_trailer.extend_from_slice(&copy_format::TRAILER);
    after_trailer.extend_from_slice(&row);
    assert!(matches!(decoder.decode(&after_trailer), Err(CodecError::Truncated { .. })));

    let mut negative_length = 2i16.to_be_bytes().to_vec();
    negative_length.extend_from_slice(&(-2i32).to_be_bytes());
    assert!(matches!(decoder.decode(&negative_length), Err(CodecError::Truncated { .. })));

    let mut huge_length = 2i16.to_be_bytes().to_vec();
    huge_length.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(decoder.decode(&huge_length), Err(CodecError::Truncated { .. })));

    assert!(matches!(decoder.decode(&row[..row.len() - 1]), Err(CodecError::Truncated { .. })));
}

#[test]
fn empty_chunks_and_bare_trailers_have_no_rows() {
    let decoder = Decoder::new(vec![numeric_15_2()], &DecodeOptions::default());
    for chunk in [&[][..], &copy_format::TRAILER[..]] {
        let batch = decoder.decode(chunk).expect("no rows");
        assert_eq!((batch.num_rows(), batch.column(0).data_type()), (0, &DataType::Decimal128(15, 2)));
    }
    // A result with no columns still counts its rows.
    let none = Decoder::new(Vec::new(), &DecodeOptions::default());
    let rows = [0u8, 0, 0, 0, 0, 0, 0xff, 0xff];
    assert_eq!(none.decode(&rows).expect("three empty rows").num_rows(), 3);
    assert!(decode_all(&decoder, &[]).expect("nothing").is_empty());
}

#[test]
fn decimal_edge_cases() {
    let decimal = |spec: ColumnSpec, text: &str| -> i128 {
        let batch = decode(spec, &[Some(&wire::numeric(text))]).unwrap_or_else(|e| panic!("{text}: {e}"));
        batch.column(0).as_primitive::<Decimal128Type>().value(0)
    };
    let p38 = || spec("n", oid::NUMERIC, numeric_typmod(38, 0), "numeric(38,0)");
    let max38 = "9".repeat(38);
    assert_eq!(decimal(p38(), &max38), max38.parse::<i128>().expect("38 nines"));
    assert_eq!(decimal(p38(), &format!("-{max38}")), -max38.parse::<i128>().expect("38 nines"));
    // Negative scale (PostgreSQL 15): numeric(5,-2) holds hundreds.
    let hundreds = spec("n", oid::NUMERIC, numeric_typmod(5, -2), "numeric(5,-2)");
    let batch = decode(hundreds.clone(), &[Some(&wire::numeric("1234500"))]).expect("hundreds");
    assert_eq!(batch.column(0).data_type(), &DataType::Decimal128(5, -2));
    assert_eq!(decimal(hundreds.clone(), "1234500"), 12345);
    assert!(decode(hundreds, &[Some(&wire::numeric("1250"))]).is_err(), "1250 is not a multiple of 100");
    // Trailing zeros beyond the scale are fine; the wire's display scale does not matter.
    assert_eq!(decimal(numeric_15_2(), "1.50000000"), 150);
    assert_eq!(decimal(numeric_15_2(), "-0.00"), 0);
    assert_eq!(decimal(numeric_15_2(), "1e3"), 100_000);
    // A scale above the precision has no Arrow type: the column comes out as text.
    let odd = spec("n", oid::NUMERIC, numeric_typmod(2, 5), "numeric(2,5)");
    let batch = decode(odd, &[Some(&wire::numeric("0.00012"))]).expect("text");
    assert_eq!(batch.column(0).as_string::<i32>().value(0), "0.00012");
}

#[test]
fn numeric_as_float64_is_nearest_double() {
    let options = DecodeOptions::from_pairs([("numeric", "float64")]).expect("option");
    let decoder = Decoder::new(vec![numeric_15_2()], &options);
    let values = ["1.5", "-0.1", "NaN", "Infinity", "-Infinity", "123456789012.34"].map(wire::numeric);
    let fields: Vec<Option<&[u8]>> = values.iter().map(|v| Some(&v[..])).chain([None]).collect();
    let batch = decoder.decode(&chunk(&fields)).expect("floats");
    let floats = batch.column(0).as_primitive::<Float64Type>();
    assert_eq!(&floats.values()[..2], &[1.5, -0.1]);
    assert!(floats.value(2).is_nan());
    assert_eq!(
        (floats.value(3), floats.value(4), floats.value(5)),
        (f64::INFINITY, f64::NEG_INFINITY, 123456789012.34)
    );
    assert!(floats.is_null(6));
}

#[test]
fn unknown_types_arrive_as_text() {
    // inet, sent as text because the query cast it `::text`.
    let batch = decode(spec("ip", 869, -1, "inet"), &[Some(b"10.0.0.1/8"), None]).expect("text");
    assert_eq!(batch.column(0).as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("10.0.0.1/8"), None]);
}

#[test]
fn any_nonzero_byte_is_true() {
    // PostgreSQL's boolrecv reads any non-zero byte as true.
    let batch =
        decode(spec("b", oid::BOOL, -1, "boolean"), &[Some(&[0]), Some(&[1]), Some(&[2])]).expect("bools");
    assert_eq!(
        batch.column(0).as_boolean().iter().collect::<Vec<_>>(),
        vec![Some(false), Some(true), Some(true)]
    );
}

// ---------------------------------------------------------------------------------------------
// Known codec gaps: these fail today. Run with `cargo test -p data-bridge-arrow-codec --test
// wire_cases -- --ignored`.

/// A numeric with more digits than the column's precision decodes into a Decimal128(15,2)
/// holding a value Arrow's own validation rejects (only i128 overflow is checked).
#[test]
fn numeric_beyond_the_precision_is_an_error() {
    match decode(numeric_15_2(), &[Some(&wire::numeric("12345678901234567"))]) {
        Err(CodecError::OutOfRange { row: 0, .. }) => {}
        Ok(batch) => {
            let decimals = batch.column(0).as_primitive::<Decimal128Type>();
            panic!("decoded {}: {:?}", decimals.value_as_string(0), decimals.validate_decimal_precision(15));
        }
        Err(e) => panic!("expected OutOfRange, got {e}"),
    }
}

/// The COPY docs: "Bits 17-31 [of the flags] are reserved for future format issues; a reader
/// should abort if it finds an unexpected bit set in this range." Only bit 16 is checked.
#[test]
fn unknown_critical_header_flags_are_rejected() {
    let mut header = copy_format::header();
    header[11..15].copy_from_slice(&(1u32 << 20).to_be_bytes());
    assert!(copy_format::header_len(&header).is_err(), "flags bit 20 accepted");
}
