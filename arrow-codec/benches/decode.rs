//! Decode throughput (input bytes per second) per type family, on a TPC-H lineitem-shaped
//! chunk, and `decode_all` over 8 chunks against decoding them one after the other.
//!
//! ```text
//! cargo bench -p data-bridge-arrow-codec --bench decode -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Chunks are synthetic (~8 MiB of tuples each, about 1 value in 20 NULL), built once with the
//! test-side wire writer of `tests/support`.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use data_bridge_arrow_codec::{decode_all, oid, ColumnSpec, DecodeOptions, Decoder};

use support::{numeric_typmod, push_tuple, spec, wire};

const CHUNK_BYTES: usize = 8 << 20;

/// A small deterministic generator (xorshift64*), so every run decodes the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low) as u64) as i64
    }

    fn ascii(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len).map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char).collect()
    }

    /// Two decimals, `0.00 ..= max_cents / 100`, as numeric(15,2) sends it.
    fn cents(&mut self, max_cents: u64) -> Vec<u8> {
        let cents = self.below(max_cents + 1);
        wire::numeric(&format!("{}.{:02}", cents / 100, cents % 100))
    }
}

/// bpchar(n) pads with spaces on the wire.
fn padded(text: &str, n: usize) -> Vec<u8> {
    format!("{text:<n$}").into_bytes()
}

/// Tuples of `row` until the chunk holds `CHUNK_BYTES`; each field NULL with 1/`null_every`.
fn build_chunk(null_every: u64, row: impl FnMut(&mut Rng) -> Vec<Vec<u8>>) -> Vec<u8> {
    build_chunk_of(CHUNK_BYTES, null_every, row)
}

fn build_chunk_of(bytes: usize, null_every: u64, mut row: impl FnMut(&mut Rng) -> Vec<Vec<u8>>) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut chunk = Vec::with_capacity(bytes + 1024);
    while chunk.len() < bytes {
        let fields = row(&mut rng);
        let nulls: Vec<bool> = fields.iter().map(|_| rng.below(null_every) == 0).collect();
        push_tuple(&mut chunk, fields.iter().zip(nulls).map(|(f, null)| (!null).then_some(&f[..])));
    }
    chunk
}

/// One family: a column description and a generator of its values' wire bytes.
struct Family {
    name: &'static str,
    spec: ColumnSpec,
    value: fn(&mut Rng) -> Vec<u8>,
}

fn families() -> Vec<Family> {
    let family = |name, spec, value| Family { name, spec, value };
    vec![
        family("int8", spec("v", oid::INT8, -1, "bigint"), |r| wire::int8(r.next() as i64)),
        family("float8", spec("v", oid::FLOAT8, -1, "double precision"), |r| {
            wire::float8(r.range(-1_000_000, 1_000_000) as f64 / 7.0)
        }),
        family("numeric(15,2) decimal128", spec("v", oid::NUMERIC, numeric_typmod(15, 2), "numeric(15,2)"), |r| {
            r.cents(10_000_000_000)
        }),
        family("numeric text", spec("v", oid::NUMERIC, -1, "numeric"), |r| {
            let digits = r.range(1, 30) as usize;
            let text: String = (0..digits).map(|_| char::from(b'0' + r.below(10) as u8)).collect();
            let point = r.below(digits as u64 + 1) as usize;
            wire::numeric(&format!("{}.{}", &text[..point], &text[point..]))
        }),
        family("text short", spec("v", oid::TEXT, -1, "text"), |r| {
            let len = r.range(5, 21) as usize;
            r.ascii(len).into_bytes()
        }),
        family("bpchar(25)", spec("v", oid::BPCHAR, 29, "character(25)"), |r| {
            let len = r.range(5, 26) as usize;
            padded(&r.ascii(len), 25)
        }),
        family("date", spec("v", oid::DATE, -1, "date"), |r| wire::date(r.range(-36_500, 36_500) as i32)),
        family("timestamptz", spec("v", oid::TIMESTAMPTZ, -1, "timestamp with time zone"), |r| {
            wire::micros(r.range(-3_000_000_000_000_000, 3_000_000_000_000_000))
        }),
        family("uuid", spec("v", oid::UUID, -1, "uuid"), |r| [r.next().to_be_bytes(), r.next().to_be_bytes()].concat()),
        family("interval", spec("v", oid::INTERVAL, -1, "interval"), |r| {
            wire::interval(r.range(-86_400_000_000, 86_400_000_000), r.range(-30, 30) as i32, r.range(-24, 24) as i32)
        }),
    ]
}

/// TPC-H lineitem's 16 columns, with values shaped like dbgen's.
fn lineitem_columns() -> Vec<ColumnSpec> {
    let money = || numeric_typmod(15, 2);
    vec![
        spec("l_orderkey", oid::INT8, -1, "bigint"),
        spec("l_partkey", oid::INT8, -1, "bigint"),
        spec("l_suppkey", oid::INT8, -1, "bigint"),
        spec("l_linenumber", oid::INT4, -1, "integer"),
        spec("l_quantity", oid::NUMERIC, money(), "numeric(15,2)"),
        spec("l_extendedprice", oid::NUMERIC, money(), "numeric(15,2)"),
        spec("l_discount", oid::NUMERIC, money(), "numeric(15,2)"),
        spec("l_tax", oid::NUMERIC, money(), "numeric(15,2)"),
        spec("l_returnflag", oid::BPCHAR, 5, "character(1)"),
        spec("l_linestatus", oid::BPCHAR, 5, "character(1)"),
        spec("l_shipdate", oid::DATE, -1, "date"),
        spec("l_commitdate", oid::DATE, -1, "date"),
        spec("l_receiptdate", oid::DATE, -1, "date"),
        spec("l_shipinstruct", oid::BPCHAR, 29, "character(25)"),
        spec("l_shipmode", oid::BPCHAR, 14, "character(10)"),
        spec("l_comment", oid::VARCHAR, 48, "character varying(44)"),
    ]
}

fn lineitem_row(r: &mut Rng) -> Vec<Vec<u8>> {
    const INSTRUCT: [&str; 4] = ["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"];
    const MODE: [&str; 7] = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"];
    let pick = |r: &mut Rng, options: &[&'static str]| options[r.below(options.len() as u64) as usize];
    let ship = r.range(-2_800, -300) as i32; // 1992..1999, as days since 2000-01-01
    let comment_len = r.range(10, 44) as usize;
    vec![
        wire::int8(r.range(1, 6_000_000)),
        wire::int8(r.range(1, 200_000)),
        wire::int8(r.range(1, 10_000)),
        wire::int4(r.range(1, 8) as i32),
        wire::numeric(&format!("{}.00", r.range(1, 51))),
        r.cents(10_494_950),
        r.cents(10),
        r.cents(8),
        pick(r, &["R", "A", "N"]).as_bytes().to_vec(),
        pick(r, &["O", "F"]).as_bytes().to_vec(),
        wire::date(ship),
        wire::date(ship + r.range(-60, 60) as i32),
        wire::date(ship + r.range(1, 31) as i32),
        padded(pick(r, &INSTRUCT), 25),
        padded(pick(r, &MODE), 10),
        r.ascii(comment_len).into_bytes(),
    ]
}

fn bench_families(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    for family in families() {
        let chunk = build_chunk(20, |r| vec![(family.value)(r)]);
        let decoder = Decoder::new(vec![family.spec.clone()], &DecodeOptions::default());
        decoder.decode(&chunk).expect("the chunk decodes");
        group.throughput(Throughput::Bytes(chunk.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(family.name), |b| {
            b.iter(|| decoder.decode(black_box(&chunk)).expect("decodes"))
        });
    }
    group.finish();
}

fn bench_lineitem(c: &mut Criterion) {
    let decoder = Decoder::new(lineitem_columns(), &DecodeOptions::default());
    let chunk = build_chunk(u64::MAX, lineitem_row);
    let rows = decoder.decode(&chunk).expect("lineitem decodes").num_rows();

    let mut group = c.benchmark_group("lineitem");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(chunk.len() as u64));
    group.bench_function(BenchmarkId::new("decode", format!("{rows} rows")), |b| {
        b.iter(|| decoder.decode(black_box(&chunk)).expect("decodes"))
    });
    group.finish();
    for size in [256usize << 10, 512 << 10, 1 << 20, 4 << 20] {
        let small = build_chunk_of(size, u64::MAX, lineitem_row);
        let mut group = c.benchmark_group("lineitem chunk size");
        group.sample_size(20);
        group.throughput(Throughput::Bytes(small.len() as u64));
        group.bench_function(BenchmarkId::new("decode", format!("{} KiB", size >> 10)), |b| {
            b.iter(|| decoder.decode(black_box(&small)).expect("decodes"))
        });
        group.finish();
    }

    // 8 chunks: one after the other on this thread, then on the rayon pool.
    let chunks: Vec<Vec<u8>> = (0..8).map(|_| chunk.clone()).collect();
    let total: usize = chunks.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("lineitem x8");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("sequential", |b| {
        b.iter(|| chunks.iter().map(|chunk| decoder.decode(black_box(chunk)).expect("decodes")).collect::<Vec<_>>())
    });
    group.bench_function("decode_all", |b| b.iter(|| decode_all(&decoder, black_box(&chunks)).expect("decodes")));
    group.finish();
}

criterion_group!(benches, bench_families, bench_lineitem);
criterion_main!(benches);
