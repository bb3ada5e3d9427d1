//! PostgreSQL binary COPY data to Apache Arrow, with no I/O.
//!
//! The server sends rows as tuples of length-prefixed fields in each type's binary format
//! (`COPY ... TO STDOUT (FORMAT binary)`, or `DataRow` messages with binary results). A
//! [`Decoder`], built from the result's column description, turns whole tuples into Arrow
//! record batches: one pass to find the fields, then one tight loop per column.
//!
//! | PostgreSQL | Arrow |
//! |---|---|
//! | bool | Boolean |
//! | int2 / int4 / int8 | Int16 / Int32 / Int64 |
//! | oid, reg* (regclass, regtype, ...), xid, cid / xid8 | UInt32 / UInt64 |
//! | float4 / float8 | Float32 / Float64 (NaN, ±Infinity kept) |
//! | numeric(p,s), p <= 38 / p <= 76 | Decimal128(p,s) / Decimal256(p,s) |
//! | numeric without typmod | Utf8, PostgreSQL's text form ([`narrow_numerics`] turns a whole result into decimals) |
//! | money | Decimal128(19, 2) |
//! | text, varchar, bpchar, name, json, jsonb, "char" | Utf8 |
//! | bit, varbit | Utf8 of '0'/'1' |
//! | bytea | Binary |
//! | date | Date32 (±infinity as i32 max/min) |
//! | time / timetz | Time64(µs) / Struct {time, offset_seconds} |
//! | timestamp / timestamptz | Timestamp(µs) / Timestamp(µs, "UTC") (±infinity as i64 max/min) |
//! | interval | Interval(MonthDayNano) |
//! | uuid | FixedSizeBinary(16), extension `arrow.uuid` |
//! | enum ([`Shape::Enum`]) | Dictionary(Int32, Utf8) |
//! | composite ([`Shape::Composite`]) | Struct of the attributes |
//! | range ([`Shape::Range`]) / multirange | Struct {lower, upper, lower_inclusive, upper_inclusive, empty} / List of it |
//! | hstore ([`Shape::Hstore`]) | Map(Utf8, Utf8) |
//! | arrays ([`Shape::Array`] or a built-in array OID) | List of the element, one level per dimension ([`sample_array_dims`]) |
//! | anything else | Utf8: the query must cast it to text ([`needs_text_cast`]) |
//!
//! [`Encoder`] writes each of these back into its PostgreSQL type.
//!
//! # Basic usage
//! ```
//! use data_bridge_arrow_codec::{copy_format, oid, ColumnSpec, DecodeOptions, Decoder};
//! use arrow_array::{cast::AsArray, types::Int32Type};
//!
//! let column = ColumnSpec::new("n", oid::INT4, -1, "integer");
//! let decoder = Decoder::new(vec![column], &DecodeOptions::default());
//!
//! // What `COPY (SELECT 7 AS n) TO STDOUT (FORMAT binary)` sends.
//! let mut stream = copy_format::header().to_vec();
//! stream.extend_from_slice(&[0, 1, 0, 0, 0, 4, 0, 0, 0, 7]);
//! stream.extend_from_slice(&copy_format::TRAILER);
//!
//! let body = &stream[copy_format::header_len(&stream).unwrap()..];
//! let batch = decoder.decode(body).unwrap();
//! assert_eq!(batch.column(0).as_primitive::<Int32Type>().value(0), 7);
//! ```

pub mod copy_format;
mod decode;
pub mod encode;
mod error;
mod narrow;
mod parallel;
mod pg_type;
pub mod tuple;

pub use decode::{has_arrays, sample_array_dims, Decoder};
pub use encode::{create_type, writes_natively, Encoder};
pub use error::{CodecError, Result};
pub use narrow::narrow_numerics;
pub use parallel::{decode_all, decode_in_background, encode_all, parallelism};
pub use pg_type::{needs_text_cast, oid, ColumnSpec, DecodeOptions, NumericAs, Shape, PG_TYPE_KEY};
