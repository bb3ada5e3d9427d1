//! Arrow record batches into PostgreSQL's binary COPY tuples (the write path).
//!
//! An [`Encoder`] is planned once per write from the Arrow schema and the target columns: each
//! pair must be a lossless match (the same type, or a widening such as int32 -> bigint or
//! date -> timestamp), else planning fails naming the column and both types, before any row is
//! sent. [`Encoder::encode`] then lays out the rows of a batch and lets each column write its
//! values into place.

mod column;
mod nested;
mod numeric;
mod plan;

use arrow_array::RecordBatch;
use arrow_schema::Field;

use crate::error::{CodecError, Result};
use crate::pg_type::ColumnSpec;
use column::ColumnEncoder;
pub(crate) use numeric::decimal_to_numeric;
pub use numeric::numeric_from_str;
use plan::Target;
pub use plan::{create_type, writes_natively};

/// Encodes record batches into binary COPY tuples for a fixed list of target columns.
#[derive(Debug, Clone)]
pub struct Encoder {
    columns: Vec<(String, Target)>,
}

impl Encoder {
    /// Plans the encoding of Arrow `fields` into the PostgreSQL `columns`, pairwise.
    pub fn new(fields: &[Field], columns: &[ColumnSpec]) -> Result<Encoder> {
        let columns = fields
            .iter()
            .zip(columns)
            .map(|(field, column)| {
                Target::plan(field.data_type(), column).map(|target| (field.name().clone(), target)).ok_or_else(|| {
                    CodecError::Incompatible {
                        column: field.name().clone(),
                        arrow_type: field.data_type().to_string(),
                        pg_type: column.pg_type.clone(),
                    }
                })
            })
            .collect::<Result<_>>()?;
        Ok(Encoder { columns })
    }

    /// Appends the batch's rows to `out` as COPY tuples (columns in the planned order).
    pub fn encode(&self, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<()> {
        let rows = batch.num_rows();
        let encoders: Vec<Box<dyn ColumnEncoder + '_>> = self
            .columns
            .iter()
            .zip(batch.columns())
            .map(|((name, target), array)| {
                target.encoder(array).map_err(|(row, reason)| out_of_range(name, target, row, reason))
            })
            .collect::<Result<_>>()?;
        let mut sizes = vec![2usize; rows];
        for encoder in &encoders {
            encoder.add_sizes(&mut sizes);
        }
        let start = out.len();
        let mut cursors = Vec::with_capacity(rows);
        let mut at = start;
        for size in &sizes {
            cursors.push(at);
            at += size;
        }
        out.resize(at, 0);
        let field_count = (self.columns.len() as i16).to_be_bytes();
        for cursor in cursors.iter_mut() {
            out[*cursor..*cursor + 2].copy_from_slice(&field_count);
            *cursor += 2;
        }
        for ((name, target), encoder) in self.columns.iter().zip(&encoders) {
            encoder.write(out, &mut cursors).map_err(|(row, reason)| out_of_range(name, target, row, reason))?;
        }
        Ok(())
    }
}

fn out_of_range(name: &str, target: &Target, row: usize, reason: String) -> CodecError {
    CodecError::OutOfRange { column: name.to_string(), pg_type: target.name().to_string(), row, reason }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int64Type;
    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float64Array, Int32Array,
        LargeStringArray, StringArray, TimestampMicrosecondArray,
    };
    use arrow_schema::{DataType, Schema};

    use super::*;
    use crate::pg_type::{oid, DecodeOptions};
    use crate::Decoder;

    fn spec(name: &str, type_oid: u32, typmod: i32, pg_type: &str) -> ColumnSpec {
        ColumnSpec::new(name, type_oid, typmod, pg_type)
    }

    #[test]
    fn round_trips_through_the_decoder() {
        let columns: Vec<(&str, ArrayRef, ColumnSpec)> = vec![
            (
                "b",
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
                spec("b", oid::BOOL, -1, "boolean"),
            ),
            ("i", Arc::new(Int32Array::from(vec![Some(-7), Some(i32::MAX), None])), spec("i", oid::INT8, -1, "bigint")),
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(f64::NAN), Some(1.5), None])),
                spec("f", oid::FLOAT8, -1, "double precision"),
            ),
            (
                "n",
                Arc::new(
                    Decimal128Array::from(vec![Some(-12345), Some(0), None]).with_precision_and_scale(15, 2).unwrap(),
                ),
                spec("n", oid::NUMERIC, ((15 << 16) | 2) + 4, "numeric(15,2)"),
            ),
            ("s", Arc::new(StringArray::from(vec![Some("zürich"), Some(""), None])), spec("s", oid::TEXT, -1, "text")),
            (
                "l",
                Arc::new(LargeStringArray::from(vec![Some("x"), None, Some("{}")])),
                spec("l", oid::JSONB, -1, "jsonb"),
            ),
            (
                "d",
                Arc::new(DictionaryArray::<arrow_array::types::Int8Type>::from_iter([Some("a"), None, Some("a")])),
                spec("d", oid::VARCHAR, -1, "character varying"),
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![Some(0), Some(i32::MAX), None])),
                spec("day", oid::DATE, -1, "date"),
            ),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from(vec![Some(1), None, Some(-5)]).with_timezone("UTC")),
                spec("ts", oid::TIMESTAMPTZ, -1, "timestamp with time zone"),
            ),
        ];
        let fields: Vec<Field> = columns.iter().map(|(n, a, _)| Field::new(*n, a.data_type().clone(), true)).collect();
        let specs: Vec<ColumnSpec> = columns.iter().map(|(_, _, s)| s.clone()).collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(fields.clone())),
            columns.iter().map(|(_, a, _)| a.clone()).collect(),
        )
        .unwrap();
        let encoder = Encoder::new(&fields, &specs).unwrap();
        let mut wire = Vec::new();
        encoder.encode(&batch, &mut wire).unwrap();
        let decoded = Decoder::new(specs, &DecodeOptions::default()).decode(&wire).unwrap();
        assert_eq!(decoded.num_rows(), 3);
        let render = |a: &ArrayRef| format!("{:?}", a);
        assert_eq!(render(decoded.column(0)), render(batch.column(0)));
        let widened = decoded.column(1).as_any().downcast_ref::<arrow_array::PrimitiveArray<Int64Type>>().unwrap();
        assert_eq!(widened.iter().collect::<Vec<_>>(), vec![Some(-7), Some(i32::MAX as i64), None]);
        for index in [2, 3, 4, 7, 8] {
            assert_eq!(render(decoded.column(index)), render(batch.column(index)), "column {index}");
        }
        let strings = |c: usize| format!("{:?}", decoded.column(c));
        assert!(strings(5).contains("\"x\"") && strings(5).contains("\"{}\""));
        assert!(strings(6).contains("\"a\""));
    }

    fn encode_one(array: ArrayRef, column: ColumnSpec) -> Result<Vec<u8>> {
        let fields = vec![Field::new("c", array.data_type().clone(), true)];
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields.clone())), vec![array]).unwrap();
        let mut wire = Vec::new();
        Encoder::new(&fields, &[column])?.encode(&batch, &mut wire)?;
        Ok(wire)
    }

    #[test]
    fn decimals_are_rescaled_exactly_or_refused() {
        let numeric = |p: i32, s: i32| spec("c", oid::NUMERIC, ((p << 16) | s) + 4, &format!("numeric({p},{s})"));
        let decimals = |values: Vec<i128>, scale: i8| -> ArrayRef {
            Arc::new(Decimal128Array::from(values).with_precision_and_scale(20, scale).unwrap())
        };
        let wire = encode_one(decimals(vec![15, -3], 1), numeric(10, 3)).unwrap();
        let decoded = Decoder::new(vec![numeric(10, 3)], &DecodeOptions::default()).decode(&wire).unwrap();
        assert_eq!(
            format!("{:?}", decoded.column(0)),
            format!("{:?}", decimals(vec![1500, -300], 3)).replace("20, 3", "10, 3")
        );
        let error = encode_one(decimals(vec![1234], 3), numeric(10, 2)).unwrap_err().to_string();
        assert!(error.contains("more than 2 decimal places") && error.contains("row 0"), "{error}");
        assert!(encode_one(decimals(vec![1230], 3), numeric(10, 2)).is_ok(), "trailing zeros drop exactly");
        let error = encode_one(decimals(vec![123_456], 0), numeric(5, 0)).unwrap_err().to_string();
        assert!(error.contains("does not fit numeric(5,0)"), "{error}");
    }

    #[test]
    fn lists_become_arrays() {
        use arrow_array::types::Int32Type;
        use arrow_array::ListArray;
        let lists: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            Some(vec![]),
            None,
        ]));
        let column = spec("c", 1016 /* int8[] */, -1, "bigint[]");
        let wire = encode_one(lists, column.clone()).unwrap();
        let decoded = Decoder::new(vec![column], &DecodeOptions::default()).decode(&wire).unwrap();
        let list = decoded.column(0).as_any().downcast_ref::<ListArray>().unwrap();
        let first = list.value(0);
        let first = first.as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
        assert_eq!(first.iter().collect::<Vec<_>>(), vec![Some(1), None, Some(3)]);
        assert_eq!(list.value(1).len(), 0);
        assert!(arrow_array::Array::is_null(list, 2));
    }

    #[test]
    fn refuses_lossy_pairs_before_encoding() {
        let field = |t: DataType| vec![Field::new("c", t, true)];
        let to = |o: u32| vec![spec("c", o, -1, "t")];
        assert!(Encoder::new(&field(DataType::Int64), &to(oid::INT4)).is_err());
        assert!(Encoder::new(&field(DataType::Float64), &to(oid::FLOAT4)).is_err());
        assert!(Encoder::new(&field(DataType::Utf8), &to(oid::INT4)).is_err());
        assert!(Encoder::new(
            &field(DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None)),
            &to(oid::TIMESTAMPTZ)
        )
        .is_err());
        assert!(Encoder::new(&field(DataType::Int32), &to(oid::INT8)).is_ok());
        assert!(Encoder::new(&field(DataType::Date32), &to(oid::TIMESTAMP)).is_ok());
        let error = Encoder::new(&field(DataType::Utf8), &to(oid::INT4)).unwrap_err().to_string();
        assert!(error.contains("\"c\"") && error.contains("Utf8"), "{error}");
    }

    #[test]
    fn create_types_honour_read_metadata() {
        let with = |t: DataType, pg: &str| {
            Field::new("c", t, true)
                .with_metadata(std::collections::HashMap::from([(crate::PG_TYPE_KEY.to_string(), pg.to_string())]))
        };
        assert_eq!(create_type(&with(DataType::Utf8, "character(25)")).unwrap(), "character(25)");
        assert_eq!(create_type(&with(DataType::Decimal128(15, 2), "numeric(15,2)")).unwrap(), "numeric(15,2)");
        assert_eq!(create_type(&with(DataType::Utf8, "inet")).unwrap(), "inet", "written through its text form");
        assert_eq!(create_type(&Field::new("c", DataType::Int64, true)).unwrap(), "bigint");
        for hostile in
            ["text); DROP TABLE t; --", "text DEFAULT 1", "numeric(1,2) CHECK (false)", "text[] --", "\"text\""]
        {
            assert_eq!(create_type(&with(DataType::Utf8, hostile)).unwrap(), "text", "{hostile}");
        }
        let timestamp = DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None);
        assert_eq!(
            create_type(&with(timestamp, "timestamp(0) without time zone")).unwrap(),
            "timestamp without time zone"
        );
        assert_eq!(create_type(&with(DataType::Utf8, "character varying(44)")).unwrap(), "character varying(44)");
        let texts = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        assert_eq!(create_type(&with(texts, "character varying(5)[]")).unwrap(), "character varying(5)[]");
    }
}
