//! Typed rows: a struct mapped to a table ([`Row`], `#[derive(Row)]`), converted to and from
//! Arrow record batches so typed rows and dataframes share one read and write path.

use std::future::Future;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, RecordBatchIterator, RecordBatchReader, StringArray, Time64MicrosecondArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use super::expr::{col, val, Expr};
use super::select::{table, Select, Table};
use super::{Query, QueryError};
use crate::error::Result;
use crate::param::Value;
use crate::read::ReadStream;
use crate::transaction::Transaction;
use crate::write::{TableName, WriteMode, WriteOptions};
use crate::{Connection, Pool};

/// Where statements run: a [`Pool`], a [`Connection`] or a [`Transaction`].
pub trait Executor: Sync {
    /// Runs a statement; returns the rows it affected.
    fn execute(&self, sql: &str, params: Vec<Value>) -> impl Future<Output = Result<u64>> + Send;

    /// Streams a query's result as record batches.
    fn query_arrow(&self, sql: &str, params: Vec<Value>) -> impl Future<Output = Result<ReadStream>> + Send;

    /// Loads record batches into a table with binary COPY.
    fn copy_in_arrow(
        &self,
        table: &TableName,
        source: Box<dyn RecordBatchReader + Send>,
        options: WriteOptions,
    ) -> impl Future<Output = Result<u64>> + Send;
}

macro_rules! executor {
    ($($type:ty),*) => {$(
        impl Executor for $type {
            fn execute(&self, sql: &str, params: Vec<Value>) -> impl Future<Output = Result<u64>> + Send {
                <$type>::execute(self, sql, params)
            }

            fn query_arrow(&self, sql: &str, params: Vec<Value>) -> impl Future<Output = Result<ReadStream>> + Send {
                <$type>::query_arrow(self, sql, params)
            }

            fn copy_in_arrow(
                &self,
                table: &TableName,
                source: Box<dyn RecordBatchReader + Send>,
                options: WriteOptions,
            ) -> impl Future<Output = Result<u64>> + Send {
                <$type>::copy_in_arrow(self, table, source, options)
            }
        }
    )*};
}

executor!(Pool, Connection, Transaction);

/// A struct mapped to a table: usually `#[derive(Row)]` (re-exported as
/// `data_bridge_postgres::Row`) writes the mapping and the methods come with it.
///
/// Field types, with the column types [`Row::create_table`] makes and the Arrow types of
/// [`Row::to_batch`]:
///
/// | Field | Column | Arrow (also read by [`Row::from_batch`]) |
/// |---|---|---|
/// | `bool` | `boolean` | Boolean |
/// | `i16`, `i32`, `i64` | `int2`, `int4`, `int8` | Int16, Int32, Int64 (narrower widen) |
/// | `f32`, `f64` | `float4`, `float8` | Float32, Float64 (Float32 widens) |
/// | `String` | `text` | Utf8 (LargeUtf8, Utf8View, and decimals: `numeric` reads as its text) |
/// | `Vec<u8>` | `bytea` | Binary (LargeBinary, BinaryView) |
/// | `chrono::NaiveDate` | `date` | Date32 (Date64) |
/// | `chrono::NaiveDateTime` | `timestamp` | Timestamp(µs) (other units, Date32, Date64) |
/// | `chrono::DateTime<chrono::Utc>` | `timestamptz` | Timestamp(µs, "UTC") (other units and zones) |
/// | `chrono::NaiveTime` | `time` | Time64(µs) (Time64(ns), Time32) |
///
/// and `Option` of each for nullable columns. chrono is re-exported as
/// `data_bridge_postgres::chrono`, so the versions match. PostgreSQL keeps microseconds:
/// nanoseconds are truncated on the way in, and a value chrono cannot hold (`infinity`,
/// `24:00:00`) is a [`QueryError::ColumnType`] on the way out. Other types (uuid, json,
/// intervals, arrays) are not mapped yet: read them with the query builder into Arrow, or
/// cast them to text.
///
/// ```no_run
/// use data_bridge_postgres::query::{col, Row as _};
/// use data_bridge_postgres::{runtime, Pool, PoolOptions, Row};
/// use data_bridge_postgres::chrono::{DateTime, NaiveDate, Utc};
///
/// #[derive(Row, Debug)]
/// #[row(table = "orders")]
/// struct Order {
///     #[row(primary_key)]
///     id: i64,
///     customer_id: i64,
///     total: String,
///     note: Option<String>,
///     created_at: DateTime<Utc>,
///     ship_date: Option<NaiveDate>,
/// }
///
/// runtime::runtime().block_on(async {
///     let pool = Pool::connect(None, PoolOptions::default()).await?;
///     let created_at = DateTime::<Utc>::from_timestamp(1_709_251_200, 0).expect("in range");
///     let ship_date = NaiveDate::from_ymd_opt(2024, 3, 4);
///     let order = Order { id: 1, customer_id: 7, total: "12.50".into(), note: None, created_at, ship_date };
///     order.insert(&pool).await?;
///     let found = Order::get(&pool, 1).await?;
///     let big = Order::fetch_all(&pool, Order::select().filter(col("total").gt(10))).await?;
///     let march = Order::select().filter(col("ship_date").ge(NaiveDate::from_ymd_opt(2024, 3, 1)));
///     let shipped = Order::fetch_all(&pool, march).await?;
///     Order::upsert(&pool, &big).await?;
///     Ok::<_, data_bridge_postgres::Error>(())
/// })?;
/// # Ok::<_, data_bridge_postgres::Error>(())
/// ```
pub trait Row: Sized + Send + Sync {
    /// The primary key's type: the key field's type, a tuple for several, `()` for none.
    type Key: Send;
    /// The table, schema-qualified when dotted.
    const TABLE: &'static str;
    /// The columns, in field order.
    const COLUMNS: &'static [&'static str];
    /// The primary key columns, in key order.
    const PRIMARY_KEY: &'static [&'static str];

    /// The Arrow schema of [`Row::to_batch`].
    fn schema() -> SchemaRef;

    /// The row's values, in [`Row::COLUMNS`] order.
    fn to_values(&self) -> Vec<Value>;

    /// A key's values, in [`Row::PRIMARY_KEY`] order.
    fn key_to_values(key: Self::Key) -> Vec<Value>;

    /// The rows as one record batch.
    fn to_batch(rows: &[Self]) -> Result<RecordBatch, QueryError>;

    /// The rows of a batch (columns matched by name; extra columns ignored).
    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, QueryError>;

    /// The table, for the query builder.
    fn table() -> Table {
        table(Self::TABLE)
    }

    /// `SELECT <columns> FROM <table>`: add clauses, then run it with [`Row::fetch_all`].
    fn select() -> Select {
        Self::table().select(Self::COLUMNS.iter().map(|c| col([*c])))
    }

    /// Runs `query` and maps its rows (its columns must include the mapped ones).
    fn fetch_all<E: Executor>(db: &E, query: impl Into<Query>) -> impl Future<Output = Result<Vec<Self>>> + Send {
        let built = query.into().to_sql();
        async move {
            let (sql, params) = built?;
            let mut stream = db.query_arrow(&sql, params).await?;
            let mut rows = Vec::new();
            while let Some(batch) = stream.next_batch().await? {
                rows.extend(Self::from_batch(&batch)?);
            }
            Ok(rows)
        }
    }

    /// The row with this primary key, if any.
    fn get<E: Executor>(db: &E, key: Self::Key) -> impl Future<Output = Result<Option<Self>>> + Send {
        let query = key_filter::<Self>(Self::key_to_values(key)).map(|filter| Self::select().filter(filter).limit(1));
        async move { Ok(Self::fetch_all(db, query?).await?.into_iter().next()) }
    }

    /// `INSERT` of this row; returns 1.
    fn insert<E: Executor>(&self, db: &E) -> impl Future<Output = Result<u64>> + Send {
        let statement = Self::table().insert().columns(Self::COLUMNS.iter().map(|c| [*c])).values(self.to_values());
        run(db, statement.into())
    }

    /// Inserts the rows with binary COPY, in one transaction; returns the rows written.
    fn insert_many<E: Executor>(db: &E, rows: &[Self]) -> impl Future<Output = Result<u64>> + Send {
        copy::<Self, E>(db, rows, WriteMode::Append)
    }

    /// Inserts the rows, updating those whose primary key exists (binary COPY into a staging
    /// table, then `INSERT ... ON CONFLICT DO UPDATE`); returns the rows written.
    fn upsert<E: Executor>(db: &E, rows: &[Self]) -> impl Future<Output = Result<u64>> + Send {
        copy::<Self, E>(db, rows, WriteMode::Upsert { key: Self::PRIMARY_KEY.iter().map(|k| (*k).into()).collect() })
    }

    /// `UPDATE` of this row's other columns, by primary key; returns the rows changed (0 or 1).
    fn update<E: Executor>(&self, db: &E) -> impl Future<Output = Result<u64>> + Send {
        let mut key = Vec::new();
        let mut statement = Self::table().update();
        for (column, value) in Self::COLUMNS.iter().zip(self.to_values()) {
            match Self::PRIMARY_KEY.iter().position(|k| k == column) {
                Some(at) => key.push((at, value)),
                None => statement = statement.set([*column], value),
            }
        }
        key.sort_by_key(|(at, _)| *at);
        let statement = key_filter::<Self>(key.into_iter().map(|(_, v)| v).collect()).map(|f| statement.filter(f));
        async move { run(db, statement?.into()).await }
    }

    /// `DELETE` of this row, by primary key; returns the rows deleted (0 or 1).
    fn delete<E: Executor>(&self, db: &E) -> impl Future<Output = Result<u64>> + Send {
        let all = self.to_values();
        let values: Vec<Value> = Self::PRIMARY_KEY
            .iter()
            .filter_map(|k| Self::COLUMNS.iter().position(|c| c == k))
            .filter_map(|at| all.get(at).cloned())
            .collect();
        let statement = key_filter::<Self>(values).map(|filter| Self::table().delete().filter(filter));
        async move { run(db, statement?.into()).await }
    }

    /// Creates the table from [`Row::schema`] (with the primary key) unless it exists.
    fn create_table<E: Executor>(db: &E) -> impl Future<Output = Result<()>> + Send {
        let mode = match Self::PRIMARY_KEY {
            [] => WriteMode::Append,
            key => WriteMode::Upsert { key: key.iter().map(|k| (*k).into()).collect() },
        };
        let options = WriteOptions { create_if_missing: true, ..WriteOptions::new(mode) };
        async move {
            let empty = RecordBatch::new_empty(Self::schema());
            db.copy_in_arrow(&table_name(Self::TABLE), reader(empty), options).await.map(drop)
        }
    }
}

/// `pk1 = $1 AND pk2 = $2`.
fn key_filter<R: Row>(values: Vec<Value>) -> Result<Expr, QueryError> {
    if R::PRIMARY_KEY.is_empty() {
        return Err(QueryError::NoPrimaryKey { table: R::TABLE });
    }
    let mut terms = R::PRIMARY_KEY.iter().zip(values).map(|(k, v)| col([*k]).eq(val(v)));
    let first = terms.next().ok_or(QueryError::NoPrimaryKey { table: R::TABLE })?;
    Ok(terms.fold(first, Expr::and))
}

async fn run<E: Executor>(db: &E, statement: Query) -> Result<u64> {
    let (sql, params) = statement.to_sql()?;
    db.execute(&sql, params).await
}

fn copy<'a, R: Row, E: Executor>(
    db: &'a E,
    rows: &[R],
    mode: WriteMode,
) -> impl Future<Output = Result<u64>> + Send + 'a {
    let batch = match (&mode, rows.is_empty()) {
        (WriteMode::Upsert { key }, _) if key.is_empty() => Err(QueryError::NoPrimaryKey { table: R::TABLE }),
        (_, true) => Ok(None),
        _ => R::to_batch(rows).map(Some),
    };
    let options = WriteOptions::new(mode);
    async move {
        match batch? {
            Some(batch) => db.copy_in_arrow(&table_name(R::TABLE), reader(batch), options).await,
            None => Ok(0),
        }
    }
}

fn reader(batch: RecordBatch) -> Box<dyn RecordBatchReader + Send> {
    let schema = batch.schema();
    Box::new(RecordBatchIterator::new([Ok::<_, ArrowError>(batch)], schema))
}

fn table_name(name: &str) -> TableName {
    match name.split_once('.') {
        Some((schema, name)) => TableName { schema: Some(schema.into()), name: name.into() },
        None => TableName { schema: None, name: name.into() },
    }
}

/// A field type of a [`Row`]: its Arrow type, its parameter value, and whole-column
/// conversions to and from Arrow arrays.
pub trait RowField: Sized {
    /// The Arrow type of its column.
    fn data_type() -> DataType;

    /// Whether the column may hold NULL (for `Option`).
    fn nullable() -> bool {
        false
    }

    /// The value as a query parameter.
    fn to_value(&self) -> Value;

    /// A column of these values.
    fn to_array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef
    where
        Self: 'a;

    /// The values of a column named `column` (for messages).
    fn from_array(array: &ArrayRef, column: &str) -> Result<Vec<Self>, QueryError>;
}

/// A non-null field type; `T` and `Option<T>` are both [`RowField`]s.
#[doc(hidden)]
pub trait Scalar: Sized {
    /// The Arrow type of its column.
    fn scalar_type() -> DataType;
    /// The value as a query parameter.
    fn scalar_value(&self) -> Value;
    /// A column of these values, NULL for `None`.
    fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef
    where
        Self: 'a;
    /// The values of a column named `column` (for messages), `None` for NULL.
    fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError>;
}

impl<T: Scalar> RowField for T {
    fn data_type() -> DataType {
        T::scalar_type()
    }

    fn to_value(&self) -> Value {
        self.scalar_value()
    }

    fn to_array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef
    where
        Self: 'a,
    {
        T::scalar_array(values.map(Some))
    }

    fn from_array(array: &ArrayRef, column: &str) -> Result<Vec<Self>, QueryError> {
        T::scalar_values(array, column)?
            .into_iter()
            .enumerate()
            .map(|(row, value)| value.ok_or_else(|| QueryError::Null { column: column.into(), row }))
            .collect()
    }
}

impl<T: Scalar> RowField for Option<T> {
    fn data_type() -> DataType {
        T::scalar_type()
    }

    fn nullable() -> bool {
        true
    }

    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, Scalar::scalar_value)
    }

    fn to_array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef
    where
        Self: 'a,
    {
        T::scalar_array(values.map(Option::as_ref))
    }

    fn from_array(array: &ArrayRef, column: &str) -> Result<Vec<Self>, QueryError> {
        T::scalar_values(array, column)
    }
}

fn mismatch(array: &ArrayRef, column: &str, expected: &'static str) -> QueryError {
    QueryError::ColumnType { column: column.into(), expected, found: array.data_type().to_string() }
}

/// The values of a primitive column, widened from the narrower Arrow types listed.
macro_rules! primitive {
    ($type:ty, $name:literal, $arrow:ident, $array:ident, $value:expr, [$($from:ident),*]) => {
        impl Scalar for $type {
            fn scalar_type() -> DataType {
                DataType::$arrow
            }

            fn scalar_value(&self) -> Value {
                $value(*self)
            }

            fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
                Arc::new(values.map(|v| v.copied()).collect::<$array>())
            }

            fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError> {
                $(
                    if let Some(array) = array.as_primitive_opt::<$from>() {
                        return Ok(array.iter().map(|v| v.map(<$type>::from)).collect());
                    }
                )*
                Err(mismatch(array, column, $name))
            }
        }
    };
}

primitive!(i16, "i16", Int16, Int16Array, |v: i16| Value::Int(v.into()), [Int16Type]);
primitive!(i32, "i32", Int32, Int32Array, |v: i32| Value::Int(v.into()), [Int32Type, Int16Type]);
primitive!(i64, "i64", Int64, Int64Array, Value::Int, [Int64Type, Int32Type, Int16Type]);
primitive!(f32, "f32", Float32, Float32Array, |v: f32| Value::Float(v.into()), [Float32Type]);
primitive!(f64, "f64", Float64, Float64Array, Value::Float, [Float64Type, Float32Type]);

impl Scalar for bool {
    fn scalar_type() -> DataType {
        DataType::Boolean
    }

    fn scalar_value(&self) -> Value {
        Value::Bool(*self)
    }

    fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(values.map(|v| v.copied()).collect::<BooleanArray>())
    }

    fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError> {
        let array = array.as_boolean_opt().ok_or_else(|| mismatch(array, column, "bool"))?;
        Ok(array.iter().collect())
    }
}

impl Scalar for String {
    fn scalar_type() -> DataType {
        DataType::Utf8
    }

    fn scalar_value(&self) -> Value {
        Value::Text(self.clone())
    }

    fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(values.map(|v| v.map(String::as_str)).collect::<StringArray>())
    }

    /// Strings, and decimals as their text (`numeric(12,2)` reads as `"12.50"`).
    fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError> {
        Ok(match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect(),
            DataType::LargeUtf8 => array.as_string::<i64>().iter().map(|v| v.map(str::to_owned)).collect(),
            DataType::Utf8View => array.as_string_view().iter().map(|v| v.map(str::to_owned)).collect(),
            DataType::Decimal128(..) => {
                let decimals = array.as_primitive::<Decimal128Type>();
                (0..decimals.len()).map(|i| decimals.is_valid(i).then(|| decimals.value_as_string(i))).collect()
            }
            DataType::Decimal256(..) => {
                let decimals = array.as_primitive::<Decimal256Type>();
                (0..decimals.len()).map(|i| decimals.is_valid(i).then(|| decimals.value_as_string(i))).collect()
            }
            _ => return Err(mismatch(array, column, "String")),
        })
    }
}

impl Scalar for Vec<u8> {
    fn scalar_type() -> DataType {
        DataType::Binary
    }

    fn scalar_value(&self) -> Value {
        Value::Bytes(self.clone())
    }

    fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(values.map(|v| v.map(Vec::as_slice)).collect::<BinaryArray>())
    }

    fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError> {
        Ok(match array.data_type() {
            DataType::Binary => array.as_binary::<i32>().iter().map(|v| v.map(<[u8]>::to_vec)).collect(),
            DataType::LargeBinary => array.as_binary::<i64>().iter().map(|v| v.map(<[u8]>::to_vec)).collect(),
            DataType::BinaryView => array.as_binary_view().iter().map(|v| v.map(<[u8]>::to_vec)).collect(),
            _ => return Err(mismatch(array, column, "Vec<u8>")),
        })
    }
}

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;
const MICROS_PER_DAY: i64 = 86_400_000_000;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01.
fn date_days(date: &NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

fn date_from_days(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).ok()?.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}

/// Microseconds since midnight (nanoseconds truncated).
fn time_micros(time: &NaiveTime) -> i64 {
    i64::from(time.num_seconds_from_midnight()) * 1_000_000 + i64::from(time.nanosecond() / 1000)
}

/// A time of day from a count of `per_second` units since midnight.
fn time_from(value: i64, per_second: i64) -> Option<NaiveTime> {
    if !(0..86_400 * per_second).contains(&value) {
        return None;
    }
    let nanos = value % per_second * (1_000_000_000 / per_second);
    NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(value / per_second).ok()?, u32::try_from(nanos).ok()?)
}

/// Microseconds since 1970-01-01 00:00 (nanoseconds truncated).
fn datetime_micros(datetime: &NaiveDateTime) -> i64 {
    datetime.and_utc().timestamp_micros()
}

fn out_of_range(array: &ArrayRef, column: &str, expected: &'static str, row: usize) -> QueryError {
    let found = format!("{} with a value out of range (such as infinity) at row {row}", array.data_type());
    QueryError::ColumnType { column: column.into(), expected, found }
}

/// The raw values of a primitive column of Arrow type `T`.
fn raw<T: ArrowPrimitiveType>(array: &ArrayRef) -> Vec<Option<T::Native>> {
    array.as_primitive::<T>().iter().collect()
}

/// Raw values converted one by one; a value `convert` refuses is an error naming its row.
fn converted<V, T>(
    raw: Vec<Option<V>>,
    convert: impl Fn(V) -> Option<T>,
    array: &ArrayRef,
    column: &str,
    expected: &'static str,
) -> Result<Vec<Option<T>>, QueryError> {
    raw.into_iter()
        .enumerate()
        .map(|(row, value)| {
            value.map(|v| convert(v).ok_or_else(|| out_of_range(array, column, expected, row))).transpose()
        })
        .collect()
}

/// The instants of a timestamp column (any unit) that has a time zone when `zoned`, or
/// else of a date column (midnight) or a timestamp column without one.
fn instants(
    array: &ArrayRef,
    column: &str,
    expected: &'static str,
    zoned: bool,
) -> Result<Vec<Option<DateTime<Utc>>>, QueryError> {
    let convert = |raw, convert: fn(i64) -> Option<DateTime<Utc>>| converted(raw, convert, array, column, expected);
    match array.data_type() {
        DataType::Timestamp(unit, zone) if zone.is_some() == zoned => match unit {
            TimeUnit::Second => convert(raw::<TimestampSecondType>(array), |s| DateTime::from_timestamp(s, 0)),
            TimeUnit::Millisecond => convert(raw::<TimestampMillisecondType>(array), DateTime::from_timestamp_millis),
            TimeUnit::Microsecond => convert(raw::<TimestampMicrosecondType>(array), DateTime::from_timestamp_micros),
            TimeUnit::Nanosecond => {
                convert(raw::<TimestampNanosecondType>(array), |ns| Some(DateTime::from_timestamp_nanos(ns)))
            }
        },
        DataType::Date32 if !zoned => {
            let days = raw::<Date32Type>(array).into_iter().map(|d| d.map(i64::from)).collect();
            convert(days, |d| d.checked_mul(MICROS_PER_DAY).and_then(DateTime::from_timestamp_micros))
        }
        DataType::Date64 if !zoned => convert(raw::<Date64Type>(array), DateTime::from_timestamp_millis),
        _ => Err(mismatch(array, column, expected)),
    }
}

/// `date` ↔ Arrow `Date32` (days since 1970-01-01); also reads `Date64`.
impl Scalar for NaiveDate {
    fn scalar_type() -> DataType {
        DataType::Date32
    }

    fn scalar_value(&self) -> Value {
        Value::Date(date_days(self))
    }

    fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(values.map(|v| v.map(date_days)).collect::<Date32Array>())
    }

    fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError> {
        const EXPECTED: &str = "NaiveDate";
        match array.data_type() {
            DataType::Date32 => {
                converted(raw::<Date32Type>(array), |d| date_from_days(d.into()), array, column, EXPECTED)
            }
            DataType::Date64 => converted(
                raw::<Date64Type>(array),
                |ms| date_from_days(ms.div_euclid(MILLIS_PER_DAY)),
                array,
                column,
                EXPECTED,
            ),
            _ => Err(mismatch(array, column, EXPECTED)),
        }
    }
}

/// `timestamp` ↔ Arrow `Timestamp(µs)` without a time zone; also reads the other units,
/// `Date32` and `Date64`.
impl Scalar for NaiveDateTime {
    fn scalar_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    }

    fn scalar_value(&self) -> Value {
        Value::Timestamp { micros: datetime_micros(self), aware: false }
    }

    fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(values.map(|v| v.map(datetime_micros)).collect::<TimestampMicrosecondArray>())
    }

    fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError> {
        let instants = instants(array, column, "NaiveDateTime", false)?;
        Ok(instants.into_iter().map(|v| v.map(|v| v.naive_utc())).collect())
    }
}

/// `timestamptz` ↔ Arrow `Timestamp(µs, "UTC")`; also reads the other units and zones (an
/// Arrow timestamp with a zone counts from the UTC epoch whatever the zone).
impl Scalar for DateTime<Utc> {
    fn scalar_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    }

    fn scalar_value(&self) -> Value {
        Value::Timestamp { micros: self.timestamp_micros(), aware: true }
    }

    fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        let micros = values.map(|v| v.map(DateTime::timestamp_micros)).collect::<TimestampMicrosecondArray>();
        Arc::new(micros.with_timezone("UTC"))
    }

    fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError> {
        instants(array, column, "DateTime<Utc>", true)
    }
}

/// `time` ↔ Arrow `Time64(µs)`; also reads `Time64(ns)` and `Time32`.
impl Scalar for NaiveTime {
    fn scalar_type() -> DataType {
        DataType::Time64(TimeUnit::Microsecond)
    }

    fn scalar_value(&self) -> Value {
        Value::Time(time_micros(self))
    }

    fn scalar_array<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(values.map(|v| v.map(time_micros)).collect::<Time64MicrosecondArray>())
    }

    fn scalar_values(array: &ArrayRef, column: &str) -> Result<Vec<Option<Self>>, QueryError> {
        const EXPECTED: &str = "NaiveTime";
        let convert = |raw, per_second: i64| converted(raw, |v| time_from(v, per_second), array, column, EXPECTED);
        let widen = |raw: Vec<Option<i32>>| raw.into_iter().map(|v| v.map(i64::from)).collect();
        match array.data_type() {
            DataType::Time64(TimeUnit::Microsecond) => convert(raw::<Time64MicrosecondType>(array), 1_000_000),
            DataType::Time64(TimeUnit::Nanosecond) => convert(raw::<Time64NanosecondType>(array), 1_000_000_000),
            DataType::Time32(TimeUnit::Millisecond) => convert(widen(raw::<Time32MillisecondType>(array)), 1_000),
            DataType::Time32(TimeUnit::Second) => convert(widen(raw::<Time32SecondType>(array)), 1),
            _ => Err(mismatch(array, column, EXPECTED)),
        }
    }
}

/// Dates and times as query parameters (`col("created_at").ge(date)`).
impl From<NaiveDate> for Value {
    fn from(value: NaiveDate) -> Self {
        value.scalar_value()
    }
}

impl From<NaiveDateTime> for Value {
    fn from(value: NaiveDateTime) -> Self {
        value.scalar_value()
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(value: DateTime<Utc>) -> Self {
        value.scalar_value()
    }
}

impl From<NaiveTime> for Value {
    fn from(value: NaiveTime) -> Self {
        value.scalar_value()
    }
}

/// The schema of the derived fields.
pub fn schema(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

/// A field of the derived schema.
pub fn field<T: RowField>(name: &str) -> Field {
    Field::new(name, T::data_type(), T::nullable())
}

/// A record batch of the derived columns.
pub fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch, QueryError> {
    RecordBatch::try_new(schema, columns).map_err(|e| QueryError::Arrow(e.to_string()))
}

/// A batch's column, by name.
pub fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, QueryError> {
    batch.column_by_name(name).ok_or_else(|| QueryError::MissingColumn { column: name.into() })
}

/// The next value of a column being zipped into rows (each has exactly a batch's rows).
pub fn next<T>(values: &mut std::vec::IntoIter<T>, column: &str) -> Result<T, QueryError> {
    values.next().ok_or_else(|| QueryError::MissingColumn { column: column.into() })
}
