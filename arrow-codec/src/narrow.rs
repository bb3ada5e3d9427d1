//! numeric without a type modifier, once a whole result is known: the narrowest decimal that
//! holds every value exactly.
//!
//! While streaming, such a column is PostgreSQL's text form (its precision is only known at
//! the end). A materialised result is scanned once for the largest integer part and scale;
//! when no NaN or ±Infinity occurs and the precision fits 76 digits, the column becomes
//! decimal128 or decimal256 at that precision and scale. Otherwise it stays text.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, Decimal128Array, Decimal256Array, RecordBatch, StringArray};
use arrow_buffer::i256;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::Result;
use crate::pg_type::PG_TYPE_KEY;

/// Digits before and after the point of a numeric's text form, or `None` for NaN/±Infinity.
fn digits(text: &str) -> Option<(usize, usize)> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    if !unsigned.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int = int.trim_start_matches('0');
    Some((int.len(), frac.len()))
}

/// The decimal type that holds every value of these text columns exactly, if any.
fn narrowest(columns: &[&StringArray]) -> Option<DataType> {
    let (mut int_digits, mut scale) = (0usize, 0usize);
    for column in columns {
        for text in column.iter().flatten() {
            let (int, frac) = digits(text)?;
            int_digits = int_digits.max(int);
            scale = scale.max(frac);
        }
    }
    let precision = (int_digits + scale).max(1);
    match precision {
        p if p <= 38 => Some(DataType::Decimal128(p as u8, scale as i8)),
        p if p <= 76 => Some(DataType::Decimal256(p as u8, scale as i8)),
        _ => None,
    }
}

/// The text of a decimal with `scale` places as the integer of its unscaled value.
fn unscaled(text: &str, scale: usize) -> String {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    format!("{int}{frac}{}", "0".repeat(scale - frac.len()))
}

/// The unscaled value of a decimal's text at `scale` places, without allocating (the hot
/// path: precision <= 38 was checked, so it fits).
fn unscaled_i128(text: &str, scale: usize) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mut value, mut places, mut after_point) = (0i128, 0usize, false);
    for byte in digits.bytes() {
        if byte == b'.' {
            after_point = true;
            continue;
        }
        value = value.checked_mul(10)?.checked_add((byte - b'0') as i128)?;
        places += after_point as usize;
    }
    value = value.checked_mul(10i128.checked_pow(scale.checked_sub(places)? as u32)?)?;
    Some(if negative { -value } else { value })
}

fn convert(column: &StringArray, data_type: &DataType) -> Result<ArrayRef> {
    Ok(match *data_type {
        DataType::Decimal128(precision, scale) => {
            let values = column.iter().map(|v| v.and_then(|t| unscaled_i128(t, scale as usize)));
            Arc::new(Decimal128Array::from_iter(values).with_precision_and_scale(precision, scale)?)
        }
        DataType::Decimal256(precision, scale) => {
            let values = column.iter().map(|v| v.and_then(|t| i256::from_string(&unscaled(t, scale as usize))));
            Arc::new(Decimal256Array::from_iter(values).with_precision_and_scale(precision, scale)?)
        }
        _ => Arc::new(column.clone()),
    })
}

/// Turns every unconstrained-numeric text column of a whole result into its narrowest exact
/// decimal (see the module docs); other columns are untouched and no buffer is copied.
pub fn narrow_numerics(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let candidates: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.data_type() == &DataType::Utf8 && f.metadata().get(PG_TYPE_KEY).map(String::as_str) == Some("numeric")
        })
        .map(|(i, _)| i)
        .collect();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut targets = Vec::new();
    for index in candidates {
        let columns: Vec<&StringArray> = batches.iter().map(|b| b.column(index).as_string::<i32>()).collect();
        if let Some(data_type) = narrowest(&columns) {
            fields[index] = fields[index].clone().with_data_type(data_type.clone());
            targets.push((index, data_type));
        }
    }
    if targets.is_empty() {
        return Ok((schema, batches));
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let batches = batches
        .into_iter()
        .map(|batch| {
            let mut columns = batch.columns().to_vec();
            for (index, data_type) in &targets {
                columns[*index] = convert(columns[*index].as_string::<i32>(), data_type)?;
            }
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        })
        .collect::<Result<_>>()?;
    Ok((schema, batches))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn numeric_batch(values: Vec<Option<&str>>) -> (SchemaRef, Vec<RecordBatch>) {
        let field = Field::new("n", DataType::Utf8, true)
            .with_metadata(HashMap::from([(PG_TYPE_KEY.to_string(), "numeric".to_string())]));
        let schema = Arc::new(Schema::new(vec![field]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(values))]).unwrap();
        (schema, vec![batch])
    }

    #[test]
    fn picks_the_narrowest_exact_decimal() {
        let (schema, batches) = numeric_batch(vec![Some("12.5"), Some("-0.001"), None, Some("100")]);
        let (schema, batches) = narrow_numerics(schema, batches).unwrap();
        assert_eq!(schema.field(0).data_type(), &DataType::Decimal128(6, 3));
        let values = batches[0].column(0).as_primitive::<arrow_array::types::Decimal128Type>();
        assert_eq!(values.iter().collect::<Vec<_>>(), vec![Some(12500), Some(-1), None, Some(100_000)]);
        assert_eq!(schema.field(0).metadata()[PG_TYPE_KEY], "numeric");
    }

    #[test]
    fn wide_values_use_decimal256_and_special_values_stay_text() {
        let wide = format!("{}.5", "9".repeat(50));
        let (schema, batches) = numeric_batch(vec![Some(&wide)]);
        assert_eq!(narrow_numerics(schema, batches).unwrap().0.field(0).data_type(), &DataType::Decimal256(51, 1));
        let (schema, batches) = numeric_batch(vec![Some("1"), Some("NaN")]);
        assert_eq!(narrow_numerics(schema, batches).unwrap().0.field(0).data_type(), &DataType::Utf8);
        let huge = "1".repeat(80);
        let (schema, batches) = numeric_batch(vec![Some(&huge)]);
        assert_eq!(narrow_numerics(schema, batches).unwrap().0.field(0).data_type(), &DataType::Utf8);
        let (schema, batches) = numeric_batch(vec![None]);
        assert_eq!(narrow_numerics(schema, batches).unwrap().0.field(0).data_type(), &DataType::Decimal128(1, 0));
    }
}
