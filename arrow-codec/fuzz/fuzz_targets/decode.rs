//! Fuzzes `Decoder::decode`: the first input byte picks a schema (and how numeric comes out),
//! the rest is decoded as a chunk of tuples. Any bytes must give Ok or Err, never a panic, and
//! whatever comes back Ok must be valid Arrow in the decoder's schema.

#![no_main]

use data_bridge_arrow_codec::{copy_format, oid, tuple, ColumnSpec, DecodeOptions, Decoder};
use libfuzzer_sys::fuzz_target;

/// numeric(p,s)'s type modifier.
const fn numeric(precision: i32, scale: i32) -> i32 {
    ((precision << 16) | (scale & 0x7ff)) + 4
}

/// (type oid, typmod) of each column, per schema. Wide schemas exercise framing across
/// types; one-column schemas let random bytes reach each value decoder quickly.
const SCHEMAS: &[&[(u32, i32)]] = &[
    // Every family once.
    &[
        (oid::BOOL, -1),
        (oid::INT2, -1),
        (oid::INT4, -1),
        (oid::INT8, -1),
        (oid::OID, -1),
        (oid::FLOAT4, -1),
        (oid::FLOAT8, -1),
        (oid::NUMERIC, numeric(15, 2)),
        (oid::NUMERIC, numeric(50, 10)),
        (oid::NUMERIC, -1),
        (oid::TEXT, -1),
        (oid::JSONB, -1),
        (oid::BYTEA, -1),
        (oid::DATE, -1),
        (oid::TIME, -1),
        (oid::TIMESTAMP, -1),
        (oid::TIMESTAMPTZ, -1),
        (oid::INTERVAL, -1),
        (oid::UUID, -1),
    ],
    // TPC-H lineitem.
    &[
        (oid::INT8, -1),
        (oid::INT8, -1),
        (oid::INT8, -1),
        (oid::INT4, -1),
        (oid::NUMERIC, numeric(15, 2)),
        (oid::NUMERIC, numeric(15, 2)),
        (oid::NUMERIC, numeric(15, 2)),
        (oid::NUMERIC, numeric(15, 2)),
        (oid::BPCHAR, 5),
        (oid::BPCHAR, 5),
        (oid::DATE, -1),
        (oid::DATE, -1),
        (oid::DATE, -1),
        (oid::BPCHAR, 29),
        (oid::BPCHAR, 14),
        (oid::VARCHAR, 48),
    ],
    &[(oid::NUMERIC, numeric(38, 0)), (oid::NUMERIC, numeric(76, 38)), (oid::NUMERIC, numeric(5, -2))],
    &[(oid::TEXT, -1), (oid::JSONB, -1), (oid::BYTEA, -1), (oid::NAME, -1), (869 /* inet, as text */, -1)],
    &[],
    &[(oid::BOOL, -1)],
    &[(oid::INT2, -1)],
    &[(oid::INT8, -1)],
    &[(oid::FLOAT4, -1)],
    &[(oid::NUMERIC, numeric(15, 2))],
    &[(oid::NUMERIC, numeric(60, 5))],
    &[(oid::NUMERIC, -1)],
    &[(oid::TEXT, -1)],
    &[(oid::JSONB, -1)],
    &[(oid::BYTEA, -1)],
    &[(oid::DATE, -1)],
    &[(oid::TIMESTAMPTZ, -1)],
    &[(oid::INTERVAL, -1)],
    &[(oid::UUID, -1)],
];

const NUMERIC_AS: [&str; 3] = ["decimal", "float64", "string"];

fn decoder(selector: u8) -> Decoder {
    let schema = SCHEMAS[selector as usize % SCHEMAS.len()];
    let numeric_as = NUMERIC_AS[selector as usize / SCHEMAS.len() % NUMERIC_AS.len()];
    let columns = schema
        .iter()
        .enumerate()
        .map(|(i, &(type_oid, typmod))| {
            ColumnSpec::new(format!("c{i}"), type_oid, typmod, format!("oid {type_oid} typmod {typmod}"))
        })
        .collect();
    let options = DecodeOptions::from_pairs([("numeric", numeric_as)]).expect("a known option");
    Decoder::new(columns, &options)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, chunk)) = data.split_first() else {
        return;
    };
    let decoder = decoder(selector);
    // A whole stream when it starts with the signature, else tuples.
    let body = match copy_format::header_len(chunk) {
        Ok(len) => &chunk[len..],
        Err(_) => chunk,
    };
    let _ = tuple::split(body, decoder.schema().fields().len());
    if let Ok(batch) = decoder.decode(body) {
        assert_eq!(batch.schema(), decoder.schema());
        for column in batch.columns() {
            column.to_data().validate_full().expect("decode returned invalid Arrow data");
        }
    }
});
