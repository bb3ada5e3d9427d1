//! Python parameter values into engine values (done with the GIL, before any I/O).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyDict, PyFloat, PyInt,
    PyList, PyString, PyTime, PyTimeAccess, PyTuple, PyType,
};

use data_bridge_postgres::Value;

use crate::errors::new_error;

/// `params` (None, a list or a tuple) as engine values.
pub fn to_values(params: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Value>> {
    let Some(params) = params.filter(|p| !p.is_none()) else { return Ok(Vec::new()) };
    if !(params.is_instance_of::<PyList>() || params.is_instance_of::<PyTuple>()) {
        let type_name = params.get_type().name()?;
        return Err(new_error(
            params.py(),
            "programming",
            &format!("params must be a list or tuple of values for $1, $2, ..., not {type_name}"),
        ));
    }
    params.try_iter()?.map(|item| to_value(&item?)).collect()
}

/// `rows` (any iterable of lists or tuples) as rows of engine values.
pub fn to_rows(rows: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<Value>>> {
    if rows.is_instance_of::<PyString>() {
        return Err(new_error(rows.py(), "programming", "rows must be an iterable of parameter lists, not a str"));
    }
    rows.try_iter()?.map(|row| to_values(Some(&row?))).collect()
}

fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(match obj.extract::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(obj.str()?.to_string()),
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Text(s.to_str()?.to_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if obj.is_instance(class(py, &DECIMAL, "decimal", "Decimal")?)? {
        return Ok(Value::Decimal(obj.str()?.to_string()));
    }
    if let Ok(dt) = obj.cast::<PyDateTime>() {
        let days = days_from_civil(dt.get_year(), dt.get_month(), dt.get_day());
        let mut micros = days as i64 * 86_400_000_000 + time_micros(dt);
        let offset = obj.call_method0("utcoffset")?;
        let aware = !offset.is_none();
        if aware {
            micros -= delta_micros(offset.cast::<PyDelta>()?);
        }
        return Ok(Value::Timestamp { micros, aware });
    }
    if let Ok(date) = obj.cast::<PyDate>() {
        return Ok(Value::Date(days_from_civil(date.get_year(), date.get_month(), date.get_day())));
    }
    if let Ok(time) = obj.cast::<PyTime>() {
        return Ok(Value::Time(time_micros(time)));
    }
    if let Ok(delta) = obj.cast::<PyDelta>() {
        return Ok(Value::Interval {
            months: 0,
            days: delta.get_days(),
            micros: delta.get_seconds() as i64 * 1_000_000 + delta.get_microseconds() as i64,
        });
    }
    if obj.is_instance(class(py, &UUID, "uuid", "UUID")?)? {
        let bytes: Vec<u8> = obj.getattr("bytes")?.extract()?;
        let bytes: [u8; 16] = bytes.try_into().map_err(|_| new_error(py, "data", "a UUID must have 16 bytes"))?;
        return Ok(Value::Uuid(bytes));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let pairs = dict
            .iter()
            .map(|(key, value)| {
                let value = if value.is_none() { None } else { Some(value.str()?.to_string()) };
                Ok((key.str()?.to_string(), value))
            })
            .collect::<PyResult<_>>()?;
        return Ok(Value::Map(pairs));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return Ok(Value::List(obj.try_iter()?.map(|item| to_value(&item?)).collect::<PyResult<_>>()?));
    }
    // numpy integers and other objects that are integers in all but class.
    if obj.hasattr("__index__")? {
        return to_value(&obj.call_method0("__index__")?);
    }
    let type_name = obj.get_type().name()?;
    Err(new_error(py, "programming", &format!("cannot bind a parameter of Python type {type_name}")))
}

static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UUID: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    module: &str,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, module, name)
}

fn time_micros(t: &impl PyTimeAccess) -> i64 {
    (t.get_hour() as i64 * 3600 + t.get_minute() as i64 * 60 + t.get_second() as i64) * 1_000_000
        + t.get_microsecond() as i64
}

fn delta_micros(delta: &Bound<'_, PyDelta>) -> i64 {
    (delta.get_days() as i64 * 86_400 + delta.get_seconds() as i64) * 1_000_000 + delta.get_microseconds() as i64
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(year: i32, month: u8, day: u8) -> i32 {
    let year = year as i64 - (month <= 2) as i64;
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = month as i64;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

#[cfg(test)]
mod tests {
    use super::days_from_civil;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }
}
