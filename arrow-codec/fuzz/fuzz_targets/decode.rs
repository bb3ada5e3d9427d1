//! Fuzzes `Decoder::decode`: the first input byte picks a schema (and how numeric and enums
//! come out), the rest is decoded as a chunk of tuples. Any bytes must give Ok or Err, never a
//! panic, and whatever comes back Ok must be valid Arrow in the decoder's schema.
//!
//! Schemas with arrays are also decoded after `sample_array_dims` read their dimensions off
//! the same bytes, so multi-dimensional arrays are reached.
//!
//! The schemas are plain ones (types the OID describes) and shaped ones (enums, composites,
//! ranges, multiranges, arrays of composites, described as the catalog would).

#![no_main]

use std::sync::OnceLock;

use data_bridge_arrow_codec::{
    copy_format, has_arrays, oid, sample_array_dims, tuple, ColumnSpec, DecodeOptions, Decoder, Shape,
};
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
    // Arrays by OID: int4[], text[], numeric(10,2)[] (multi-dimensional when the data says so).
    &[(1007, -1), (1009, -1), (1231, numeric(10, 2))],
    &[(1007, -1)],
];

// ---------------------------------------------------------------------------------------------
// Shaped schemas: what the engine builds from the catalog (see engine/src/shape.rs).

fn plain(name: &str, type_oid: u32, typmod: i32) -> ColumnSpec {
    ColumnSpec::new(name, type_oid, typmod, format!("oid {type_oid} typmod {typmod}"))
}

fn shaped(name: &str, type_oid: u32, shape: Shape) -> ColumnSpec {
    ColumnSpec { shape, ..plain(name, type_oid, -1) }
}

/// An enum (of a scratch OID: enums have no fixed one).
fn enumeration(name: &str) -> ColumnSpec {
    shaped(name, 70_001, Shape::Enum)
}

fn array_of(name: &str, element: ColumnSpec) -> ColumnSpec {
    shaped(name, 70_002, Shape::Array(Box::new(element)))
}

fn composite(name: &str, attributes: Vec<ColumnSpec>) -> ColumnSpec {
    shaped(name, 70_003, Shape::Composite(attributes))
}

/// (x int4, label text)
fn pair(name: &str) -> ColumnSpec {
    composite(name, vec![plain("x", oid::INT4, -1), plain("label", oid::TEXT, -1)])
}

/// (id int4, name text, m enum, missing int4, nested pair, moods enum[], at timetz)
fn record(name: &str) -> ColumnSpec {
    composite(
        name,
        vec![
            plain("id", oid::INT4, -1),
            plain("name", oid::TEXT, -1),
            enumeration("m"),
            plain("missing", oid::INT4, -1),
            pair("nested"),
            array_of("moods", enumeration("item")),
            plain("at", oid::TIMETZ, -1),
        ],
    )
}

/// The built-in ranges: (range OID, multirange OID, subtype OID).
const RANGES: [(u32, u32, u32); 6] = [
    (3904, 4451, oid::INT4),
    (3926, 4536, oid::INT8),
    (3906, 4532, oid::NUMERIC),
    (3912, 4535, oid::DATE),
    (3908, 4533, oid::TIMESTAMP),
    (3910, 4534, oid::TIMESTAMPTZ),
];

fn range(name: &str, which: usize) -> ColumnSpec {
    let (range_oid, _, subtype) = RANGES[which];
    shaped(name, range_oid, Shape::Range(Box::new(plain("bound", subtype, -1))))
}

fn multirange(name: &str, which: usize) -> ColumnSpec {
    let (_, multirange_oid, _) = RANGES[which];
    shaped(name, multirange_oid, Shape::Multirange(Box::new(range("range", which))))
}

/// Composites nested `depth` deep, every third level an array of composites.
fn deep(name: &str, depth: usize) -> ColumnSpec {
    let innermost = plain("leaf", oid::TEXT, -1);
    let nested = (0..depth).fold(innermost, |inner, level| {
        let next = if level % 3 == 2 { array_of("next", inner) } else { ColumnSpec { name: "next".into(), ..inner } };
        composite("next", vec![plain("n", oid::INT4, -1), next])
    });
    ColumnSpec { name: name.into(), ..nested }
}

/// The new scalars: timetz, money, bit(8), varbit, "char", regclass, xid, xid8.
fn new_scalars() -> Vec<ColumnSpec> {
    vec![
        plain("tz", oid::TIMETZ, -1),
        plain("m", oid::MONEY, -1),
        plain("b", oid::BIT, 8),
        plain("vb", oid::VARBIT, -1),
        plain("ch", oid::CHAR, -1),
        plain("rc", oid::REGCLASS, -1),
        plain("x", oid::XID, -1),
        plain("x8", oid::XID8, -1),
    ]
}

fn shaped_schemas() -> Vec<Vec<ColumnSpec>> {
    let mut schemas = vec![
        vec![enumeration("e")],
        vec![record("r")],
        vec![pair("p"), enumeration("e"), range("r", 0)],
        vec![array_of("a", pair("item"))],
        vec![array_of("a", composite("item", vec![plain("d", oid::DATE, -1), array_of("pairs", pair("item"))]))],
        vec![array_of("a", enumeration("item"))],
        vec![array_of("a", range("item", 0)), array_of("m", multirange("item", 3))],
        (0..RANGES.len()).map(|i| range(&format!("r{i}"), i)).collect(),
        (0..RANGES.len()).map(|i| multirange(&format!("m{i}"), i)).collect(),
        vec![range("r", 0)],
        vec![range("r", 2)],
        vec![range("r", 3)],
        vec![multirange("m", 0)],
        vec![multirange("m", 5)],
        vec![deep("d", 20)],
        new_scalars(),
    ];
    schemas.extend(new_scalars().into_iter().map(|c| vec![c]));
    // Everything at once.
    let mut all = vec![record("r"), array_of("a", pair("item")), deep("d", 8)];
    all.extend((0..RANGES.len()).map(|i| range(&format!("r{i}"), i)));
    all.extend((0..RANGES.len()).map(|i| multirange(&format!("m{i}"), i)));
    all.extend(new_scalars());
    schemas.push(all);
    schemas
}

/// (numeric, enum) options, picked by the selector byte along with the schema.
const OPTIONS: [(&str, &str); 3] = [("decimal", "dictionary"), ("float64", "string"), ("string", "dictionary")];

/// One decoder per selector byte, built once.
fn decoders() -> &'static [Decoder] {
    static DECODERS: OnceLock<Vec<Decoder>> = OnceLock::new();
    DECODERS.get_or_init(|| specs().iter().map(|(columns, options)| Decoder::new(columns.clone(), options)).collect())
}

/// The columns and options of each selector byte.
fn specs() -> &'static [(Vec<ColumnSpec>, DecodeOptions)] {
    static SPECS: OnceLock<Vec<(Vec<ColumnSpec>, DecodeOptions)>> = OnceLock::new();
    SPECS.get_or_init(|| {
        let plain_schemas = SCHEMAS.iter().map(|schema| {
            let columns = schema.iter().enumerate();
            columns.map(|(i, &(type_oid, typmod))| plain(&format!("c{i}"), type_oid, typmod)).collect()
        });
        let schemas: Vec<Vec<ColumnSpec>> = plain_schemas.chain(shaped_schemas()).collect();
        (0..=u8::MAX)
            .map(|selector| {
                let schema = &schemas[selector as usize % schemas.len()];
                let (numeric, enums) = OPTIONS[selector as usize / schemas.len() % OPTIONS.len()];
                let options =
                    DecodeOptions::from_pairs([("numeric", numeric), ("enum", enums)]).expect("known options");
                (schema.clone(), options)
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, chunk)) = data.split_first() else {
        return;
    };
    let decoder = &decoders()[selector as usize];
    // A whole stream when it starts with the signature, else tuples.
    let body = match copy_format::header_len(chunk) {
        Ok(len) => &chunk[len..],
        Err(_) => chunk,
    };
    let _ = tuple::split(body, decoder.schema().fields().len());
    decode_checked(decoder, body);
    // As a read does: array columns take their number of dimensions from the data.
    let (columns, options) = &specs()[selector as usize];
    let mut sampled = columns.clone();
    if has_arrays(&sampled) && sample_array_dims(&mut sampled, body).is_ok() {
        decode_checked(&Decoder::new(sampled, options), body);
    }
});

fn decode_checked(decoder: &Decoder, body: &[u8]) {
    if let Ok(batch) = decoder.decode(body) {
        assert_eq!(batch.schema(), decoder.schema());
        for column in batch.columns() {
            column.to_data().validate_full().expect("decode returned invalid Arrow data");
        }
    }
}
