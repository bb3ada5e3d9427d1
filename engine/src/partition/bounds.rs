//! Where a column's values are cut into partitions, computed by the server in the plan's
//! snapshot: even steps between the minimum and the maximum, or quantiles of a sample.

use tokio_postgres::types::Type;
use tokio_postgres::Client;

use crate::error::Result;
use crate::param::{Bound, Value};

/// Values a quantile plan samples (a random subset of the column's non-NULL values).
const SAMPLE_SIZE: f64 = 100_000.0;

/// How a column's range is cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PartitionStrategy {
    /// Even steps between the minimum and the maximum (integers, numerics, dates and
    /// timestamps; other types fall back to quantiles).
    #[default]
    Range,
    /// Quantiles of a sample, so that skewed columns still give partitions of similar size.
    Quantile,
}

impl std::str::FromStr for PartitionStrategy {
    type Err = crate::Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "range" => Ok(PartitionStrategy::Range),
            "quantile" => Ok(PartitionStrategy::Quantile),
            _ => Err(crate::Error::Usage(format!("partition_strategy {name:?}: use \"range\" or \"quantile\""))),
        }
    }
}

/// The SQL computing `k/n` of the way from `$1` to `$2` (text) for k in 1..n (`$3`), as
/// distinct text values in the type's order, for a column type with arithmetic; `None` for
/// the others. Dates and timestamps step through plain numbers (days, epoch seconds): the
/// difference of two far-apart timestamps overflows an interval.
fn step_sql(column_type: &Type) -> Option<String> {
    let step = match *column_type {
        Type::INT2 | Type::INT4 | Type::INT8 => {
            "floor($1::text::numeric + ($2::text::numeric - $1::text::numeric) * k / $3::int4)"
        }
        Type::NUMERIC => "$1::text::numeric + ($2::text::numeric - $1::text::numeric) * k / $3::int4",
        Type::DATE => {
            "$1::text::date + ((($2::text::date - date '2000-01-01')::int8 \
             - ($1::text::date - date '2000-01-01')::int8) * k / $3::int4)::int4"
        }
        Type::TIMESTAMP => {
            "to_timestamp(extract(epoch FROM $1::text::timestamp) + (extract(epoch FROM $2::text::timestamp) \
             - extract(epoch FROM $1::text::timestamp)) * k / $3::int4) AT TIME ZONE 'UTC'"
        }
        Type::TIMESTAMPTZ => {
            "to_timestamp(extract(epoch FROM $1::text::timestamptz) + (extract(epoch FROM $2::text::timestamptz) \
             - extract(epoch FROM $1::text::timestamptz)) * k / $3::int4)"
        }
        _ => return None,
    };
    Some(format!(
        "SELECT s.v::text AS bound FROM (SELECT DISTINCT {step} AS v FROM generate_series(1, $3::int4 - 1) AS k) AS s \
         ORDER BY s.v"
    ))
}

/// Whether `column_type` has steps between two values (else it is cut by quantiles).
pub fn has_steps(column_type: &Type) -> bool {
    step_sql(column_type).is_some()
}

/// What the plan knows of the partition column, from one pass over the query's result.
pub struct ColumnStats {
    pub nulls: i64,
    pub values: i64,
    pub min: Option<String>,
    pub max: Option<String>,
}

/// A column of the caller's query, to cut into ranges.
pub struct CutPoints<'a> {
    /// The caller's query as an aliased subquery: `(...) AS "data_bridge_p"`.
    pub wrapped: &'a str,
    /// The column, quoted and qualified by the alias.
    pub column: &'a str,
    pub column_type: &'a Type,
    /// The caller's parameters.
    pub params: &'a [Value],
}

impl CutPoints<'_> {
    /// Counts, minimum and maximum (when `with_range`) in the current snapshot.
    pub async fn stats(&self, client: &Client, with_range: bool) -> Result<ColumnStats> {
        let column = self.column;
        let range = match with_range {
            true => format!("min({column})::text, max({column})::text"),
            false => "NULL::text, NULL::text".into(),
        };
        let sql = format!("SELECT count(*), count({column}), {range} FROM {}", self.wrapped);
        let rows = query(client, &sql, self.params).await?;
        let row = rows.first().ok_or(crate::Error::Internal("an aggregate returned no row"))?;
        let (all, values): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(ColumnStats { nulls: all - values, values, min: row.try_get(2)?, max: row.try_get(3)? })
    }

    /// The cut points between `parts` partitions of the non-NULL values, ascending and
    /// distinct (fewer when the column has fewer distinct values).
    pub async fn compute(
        &self,
        client: &Client,
        parts: usize,
        strategy: PartitionStrategy,
        stats: &ColumnStats,
    ) -> Result<Vec<String>> {
        if parts < 2 || stats.values == 0 {
            return Ok(Vec::new());
        }
        let parts_param = i32::try_from(parts).unwrap_or(i32::MAX);
        let steps = match (strategy, step_sql(self.column_type), &stats.min, &stats.max) {
            (PartitionStrategy::Range, Some(sql), Some(min), Some(max)) if is_finite(min) && is_finite(max) => {
                let rows = client.query(&sql, &[min, max, &parts_param]).await?;
                Some(rows.iter().map(|row| row.try_get::<_, String>(0)).collect::<Result<Vec<_>, _>>()?)
            }
            _ => None,
        };
        let points = match steps {
            Some(points) => points,
            None => self.sample_quantiles(client, parts, stats.values).await?,
        };
        let mut distinct: Vec<String> = Vec::with_capacity(points.len());
        for point in points {
            if distinct.last() != Some(&point) {
                distinct.push(point);
            }
        }
        Ok(distinct)
    }

    async fn sample_quantiles(&self, client: &Client, parts: usize, values: i64) -> Result<Vec<String>> {
        let fractions: Vec<f64> = (1..parts).map(|k| k as f64 / parts as f64).collect();
        let sample = (SAMPLE_SIZE / values as f64).min(1.0);
        let n = self.params.len();
        let column = self.column;
        let filter = match sample < 1.0 {
            true => format!(" AND random() < ${}::float8", n + 2),
            false => String::new(),
        };
        let sql = format!(
            "SELECT (percentile_disc(${}::float8[]) WITHIN GROUP (ORDER BY {column}))::text[] \
             FROM {} WHERE {column} IS NOT NULL{filter}",
            n + 1,
            self.wrapped
        );
        let mut params = self.params.to_vec();
        params.push(Value::List(fractions.into_iter().map(Value::Float).collect()));
        if sample < 1.0 {
            params.push(Value::Float(sample));
        }
        let rows = query(client, &sql, &params).await?;
        let points: Option<Vec<Option<String>>> = match rows.first() {
            Some(row) => row.try_get(0)?,
            None => None,
        };
        Ok(points.unwrap_or_default().into_iter().flatten().collect())
    }
}

/// ±infinity and NaN have no steps between them and other values.
fn is_finite(value: &str) -> bool {
    !matches!(value.trim_start_matches(['-', '+']).to_ascii_lowercase().as_str(), "infinity" | "nan")
}

/// Runs `sql` with the caller's kind of parameters.
pub(crate) async fn query(client: &Client, sql: &str, params: &[Value]) -> Result<Vec<tokio_postgres::Row>> {
    let statement = client.prepare(sql).await?;
    let bound = params.iter().enumerate().map(|(index, value)| Bound { index, value });
    Ok(futures_util::TryStreamExt::try_collect(client.query_raw(&statement, bound).await?).await?)
}
