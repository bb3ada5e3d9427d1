//! Partitioned reads: one query split into pieces read by several connections at once, all
//! seeing one snapshot, so the pieces together equal what a single read would have returned.
//!
//! A plan starts a `REPEATABLE READ, READ ONLY` transaction and exports its snapshot
//! (`pg_export_snapshot()`); every other connection imports it (`SET TRANSACTION SNAPSHOT`)
//! before its first query. The split itself is computed in that snapshot too:
//! - a plain scan of one table is cut into ranges of its pages (`ctid`, read with TID range
//!   scans), so no column needs an index;
//! - any other query is cut on a column of its result (`partition_on`): even steps between its
//!   minimum and maximum, or quantiles of a sample, with NULLs in a partition of their own.
//!
//! Queries whose top level orders or limits the rows (`ORDER BY`, `LIMIT`, ...) are refused:
//! their pieces could not be put back in order.

mod bounds;
mod scan;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::Type;

pub use bounds::PartitionStrategy;

use crate::error::{Error, Result};
use crate::param::Value;
use crate::pool::Pool;
use crate::read::{Pending, ReadOptions, ReadStream};
use crate::session::Session;
use crate::sql::{quote_ident, trim_query};

/// How to split a read.
#[derive(Clone, Debug, Default)]
pub struct PartitionOptions {
    /// Connections reading at once (and, for page ranges, the number of pieces).
    pub partitions: usize,
    /// A column of the result to split on; `None`: page ranges of the query's one table.
    pub partition_on: Option<String>,
    /// How a column is cut.
    pub strategy: PartitionStrategy,
    /// Page ranges only: cut the table into up to this many pieces per partition (at least
    /// [`MIN_PIECE_PAGES`] pages each). A connection that finishes its piece takes the next,
    /// so none idles while another still has rows: backends sharing cores do not progress
    /// at one pace. 0 or 1: one piece per partition, as [`Pool::plan`]'s callers expect.
    pub pieces_per_partition: usize,
}

/// The fewest pages in a page-range piece when partitions are cut finer (8 MiB of heap):
/// each piece costs a few round trips.
pub const MIN_PIECE_PAGES: i64 = 1024;

/// One piece of a plan: a query over part of the rows, with its parameters (the caller's,
/// then the piece's bounds). Run it in a transaction that imported the plan's snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionQuery {
    /// The SQL text.
    pub sql: String,
    /// Values for its `$n` placeholders.
    pub params: Vec<Value>,
}

/// A partitioned read, planned: the pieces' queries and the snapshot they share. It keeps the
/// exporting transaction open (so the snapshot can be imported) until it is dropped.
pub struct Plan {
    snapshot: String,
    queries: Vec<PartitionQuery>,
    /// The connection whose transaction exported the snapshot; it reads pieces too.
    exporter: Arc<Session>,
    /// Connections to read with.
    width: usize,
}

/// The name PostgreSQL gives an exported snapshot: hex digits and dashes.
fn check_snapshot_id(id: &str) -> Result<()> {
    match !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        true => Ok(()),
        false => Err(Error::Usage(format!("{id:?} is not a snapshot id (such as \"00000003-0000001B-1\")"))),
    }
}

/// `BEGIN` for a transaction reading in `snapshot` (a `pg_export_snapshot()` result).
pub(crate) fn import_sql(snapshot: &str) -> Result<String> {
    check_snapshot_id(snapshot)?;
    Ok(format!("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'"))
}

impl Pool {
    /// Plans a read of `sql` split `options.partitions` ways, in a snapshot of its own.
    pub async fn plan(&self, sql: &str, params: Vec<Value>, options: PartitionOptions) -> Result<Plan> {
        let max = self.status().max_size;
        if options.partitions > max {
            return Err(Error::Usage(format!(
                "partitions={} needs as many connections, but the pool opens at most {max} (max_connections)",
                options.partitions
            )));
        }
        let session = Session::new(self.acquire().await?, self.clone());
        let _busy = session.claim().await?;
        session
            .guarded(async {
                let begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
                session.client().batch_execute(begin).await?;
                session.in_transaction.store(true, Ordering::Relaxed);
                Ok(())
            })
            .await?;
        drop(_busy);
        Plan::build(session, sql, params, options).await
    }
}

impl Plan {
    /// Plans on `exporter`, a connection in a repeatable read transaction (its snapshot is
    /// the plan's).
    pub(crate) async fn build(
        exporter: Arc<Session>,
        sql: &str,
        params: Vec<Value>,
        options: PartitionOptions,
    ) -> Result<Plan> {
        if options.partitions == 0 {
            return Err(Error::Usage("partitions must be at least 1".into()));
        }
        let _busy = exporter.claim().await?;
        let (snapshot, queries) = exporter
            .guarded(async {
                let client = exporter.client();
                let row = client.query_one("SELECT pg_export_snapshot()", &[]).await?;
                let snapshot: String = row.try_get(0)?;
                let queries = match options.partitions {
                    1 => vec![PartitionQuery { sql: sql.to_owned(), params: params.clone() }],
                    parts => {
                        if let Some(clause) = scan::ordering_clause(sql) {
                            return Err(Error::Usage(format!(
                                "partitions={parts}: the query ends in {clause}, which a partitioned read cannot \
                                 keep (its pieces are read at once); read it with partitions=1, or sort the result"
                            )));
                        }
                        match &options.partition_on {
                            Some(column) => on_column(client, sql, &params, column, parts, options.strategy).await?,
                            None => by_pages(client, sql, &params, parts, options.pieces_per_partition).await?,
                        }
                    }
                };
                Ok((snapshot, queries))
            })
            .await?;
        drop(_busy);
        let width = options.partitions.min(queries.len()).max(1);
        Ok(Plan { snapshot, queries, exporter, width })
    }

    /// The exported snapshot every piece reads in.
    pub fn snapshot(&self) -> &str {
        &self.snapshot
    }

    /// The pieces, in the order their rows come back.
    pub fn queries(&self) -> &[PartitionQuery] {
        &self.queries
    }

    /// Reads piece `index` on a connection of its own that imports the plan's snapshot. The
    /// plan must live until the stream has started.
    pub async fn read(&self, index: usize, options: ReadOptions) -> Result<ReadStream> {
        let query = self
            .queries
            .get(index)
            .ok_or_else(|| Error::Usage(format!("the plan has {} queries: no query {index}", self.queries.len())))?;
        let session = snapshot_session(&self.exporter.pool, &self.snapshot).await?;
        ReadStream::start(session, &query.sql, query.params.clone(), options).await
    }

    /// Reads every piece, `width` at a time on connections sharing the snapshot, each to its
    /// end; returns the schema and the batches in piece order. A connection takes the next
    /// piece as soon as it finishes one.
    pub async fn read_all(&self, options: ReadOptions) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let slots = self.slots().await?;
        let (queries, reads) = (&self.queries, slots.len());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let readers = slots.iter().map(|session| {
            let (options, next) = (options.clone(), &next);
            async move {
                let mut pieces = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(query) = queries.get(index) else { break };
                    let mut stream = ReadStream::start_one_of_many(
                        session.clone(),
                        &query.sql,
                        query.params.clone(),
                        options.clone(),
                        reads,
                    )
                    .await?;
                    let mut batches = Vec::new();
                    while let Some(batch) = stream.next_batch().await? {
                        batches.push(batch);
                    }
                    pieces.push((index, stream.schema(), batches));
                }
                Ok::<_, Error>(pieces)
            }
        });
        let mut pieces: Vec<_> = futures_util::future::try_join_all(readers).await?.into_iter().flatten().collect();
        pieces.sort_by_key(|(index, _, _)| *index);
        let schema =
            pieces.first().map(|(_, schema, _)| schema.clone()).ok_or(Error::Internal("a plan without queries"))?;
        let mut batches = Vec::new();
        for (index, piece_schema, piece) in pieces {
            check_schema(&schema, &piece_schema, index)?;
            batches.extend(piece);
        }
        Ok((schema, batches))
    }

    /// Streams every piece's batches in piece order, `width` pieces reading at once (each a
    /// few batches ahead of the reader).
    pub async fn stream(&self, options: ReadOptions) -> Result<ReadStream> {
        let slots = self.slots().await?;
        let mut window =
            Window { queries: self.queries.clone(), slots, options, started: VecDeque::new(), next: 0, schema: None };
        while window.next < window.slots.len() {
            window.start_next().await?;
        }
        let schema = window.schema.clone().ok_or(Error::Internal("a plan without queries"))?;
        let (pending_tx, pending) = mpsc::channel(1);
        let (cancel, cancelled) = oneshot::channel();
        let exporter = self.exporter.clone();
        tokio::spawn(async move {
            window.forward(pending_tx, cancelled).await;
            // The exporting transaction ends only after every piece has imported the snapshot.
            drop(exporter);
        });
        Ok(ReadStream::forwarding(schema, pending, cancel))
    }

    /// The connections to read with: the exporter, and up to `width - 1` more importing its
    /// snapshot: as many as the pool has free now. Waiting for more could deadlock callers
    /// that each hold some connections and wait for the rest.
    async fn slots(&self) -> Result<Vec<Arc<Session>>> {
        let pool = &self.exporter.pool;
        let mut clients = Vec::new();
        for _ in 1..self.width {
            match pool.try_acquire().await? {
                Some(client) => clients.push(client),
                None => break,
            }
        }
        let others =
            clients.into_iter().map(|client| import_snapshot(Session::new(client, pool.clone()), &self.snapshot));
        let mut slots = vec![self.exporter.clone()];
        slots.extend(futures_util::future::try_join_all(others).await?);
        Ok(slots)
    }
}

/// A pooled connection in a read-only transaction that imported `snapshot`.
async fn snapshot_session(pool: &Pool, snapshot: &str) -> Result<Arc<Session>> {
    import_snapshot(Session::new(pool.acquire().await?, pool.clone()), snapshot).await
}

/// Begins a read-only transaction on `session` that imports `snapshot`.
async fn import_snapshot(session: Arc<Session>, snapshot: &str) -> Result<Arc<Session>> {
    let begin = import_sql(snapshot)?;
    let _busy = session.claim().await?;
    session
        .guarded(async {
            session.in_transaction.store(true, Ordering::Relaxed);
            Ok(session.client().batch_execute(&begin).await?)
        })
        .await?;
    drop(_busy);
    Ok(session)
}

fn check_schema(expected: &SchemaRef, got: &SchemaRef, index: usize) -> Result<()> {
    match expected == got {
        true => Ok(()),
        false => Err(Error::Usage(format!(
            "partition {index} came back with a different schema from partition 0 ({got:?} vs {expected:?}); \
             this happens with arrays of different dimensions: cast them to text, or read with partitions=1"
        ))),
    }
}

/// The pieces started so far, in order; piece `i` runs on slot `i % slots`, after piece
/// `i - slots` has ended there.
struct Window {
    queries: Vec<PartitionQuery>,
    slots: Vec<Arc<Session>>,
    options: ReadOptions,
    started: VecDeque<ReadStream>,
    next: usize,
    schema: Option<SchemaRef>,
}

impl Window {
    async fn start_next(&mut self) -> Result<()> {
        let Some(query) = self.queries.get(self.next) else { return Ok(()) };
        let slot = self.slots[self.next % self.slots.len()].clone();
        let stream = ReadStream::start_one_of_many(
            slot,
            &query.sql,
            query.params.clone(),
            self.options.clone(),
            self.slots.len(),
        )
        .await?;
        match &self.schema {
            Some(schema) => check_schema(schema, &stream.schema(), self.next)?,
            None => self.schema = Some(stream.schema()),
        }
        self.started.push_back(stream);
        self.next += 1;
        Ok(())
    }

    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            let Some(front) = self.started.front_mut() else { return Ok(None) };
            if let Some(batch) = front.next_batch().await? {
                return Ok(Some(batch));
            }
            self.started.pop_front();
            self.start_next().await?;
        }
    }

    /// Sends the batches to a [`ReadStream`]'s receiving end until the last, an error, or
    /// the reader going away.
    async fn forward(mut self, pending: mpsc::Sender<Pending>, mut cancelled: oneshot::Receiver<()>) {
        loop {
            let next = tokio::select! {
                next = self.next_batch() => next,
                _ = &mut cancelled => return,
            };
            let message = match next {
                Ok(Some(batch)) => {
                    let (done, decoded) = oneshot::channel();
                    let _ = done.send(Ok(batch));
                    Pending::Batch(decoded)
                }
                Ok(None) => Pending::Done,
                Err(error) => Pending::Failed(error),
            };
            let last = !matches!(message, Pending::Batch(_));
            if pending.send(message).await.is_err() || last {
                return;
            }
        }
    }
}

/// Page ranges of the query's one table.
async fn by_pages(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[Value],
    parts: usize,
    pieces_per_partition: usize,
) -> Result<Vec<PartitionQuery>> {
    let sql = trim_query(sql);
    let not_plain = || {
        Error::Usage(format!(
            "partitions={parts}: only a plain scan of one table (SELECT ... FROM table [WHERE ...]) is split \
             automatically; for this query pass partition_on= a column of its result"
        ))
    };
    let table = scan::single_table(sql).ok_or_else(not_plain)?;
    let row = client
        .query_opt(
            "SELECT c.relkind::text, pg_relation_size(c.oid) / current_setting('block_size')::int8 \
             FROM pg_class c WHERE c.oid = to_regclass($1)",
            &[&&sql[table.table.clone()]],
        )
        .await?;
    let Some(row) = row else { return Err(not_plain()) };
    let (kind, pages): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
    if !matches!(kind.as_str(), "r" | "m") {
        return Err(Error::Usage(format!(
            "partitions={parts}: {} is not a table (a view or a partitioned table) and has no pages to split; \
             pass partition_on= a column of the result",
            &sql[table.table.clone()]
        )));
    }
    let finer = (pages / MIN_PIECE_PAGES).min((parts * pieces_per_partition.max(1)) as i64);
    let pieces = (parts as i64).max(finer).min(pages).max(1);
    let queries: Vec<PartitionQuery> = (0..pieces)
        .map(|k| {
            let lower = (k > 0).then(|| format!("ctid >= '({},0)'::tid", pages * k / pieces));
            let upper = (k + 1 < pieces).then(|| format!("ctid < '({},0)'::tid", pages * (k + 1) / pieces));
            let range: Vec<String> = lower.into_iter().chain(upper).collect();
            let sql = match (&table.condition, range.is_empty()) {
                (_, true) => sql.to_owned(),
                (Some(condition), false) => {
                    format!("{}({}\n) AND {}", &sql[..condition.start], &sql[condition.clone()], range.join(" AND "))
                }
                (None, false) => format!("{sql}\nWHERE {}", range.join(" AND ")),
            };
            PartitionQuery { sql, params: params.to_vec() }
        })
        .collect();
    // Checked however few pages the table has now, so a query is refused or not whatever
    // the table's size.
    check_row_wise(client, &queries[0], parts).await?;
    Ok(queries)
}

/// Refuses a query whose plan combines rows (aggregates, DISTINCT, window functions): split by
/// pages, each piece would combine only its own rows. From the top of the plan down its outer
/// inputs, a scan of a table must come before any node that combines rows.
async fn check_row_wise(client: &tokio_postgres::Client, query: &PartitionQuery, parts: usize) -> Result<()> {
    let rows = bounds::query(client, &format!("EXPLAIN (FORMAT JSON) {}", query.sql), &query.params).await?;
    let plan: serde_json::Value = match rows.first().map(|row| row.try_get::<_, JsonText>(0)).transpose()? {
        Some(JsonText(text)) => {
            serde_json::from_str(&text).map_err(|_| Error::Internal("EXPLAIN gave invalid JSON"))?
        }
        None => serde_json::Value::Null,
    };
    let combining = ["Aggregate", "Group", "Unique", "WindowAgg", "SetOp", "Limit", "Recursive Union", "LockRows"];
    let mut node = &plan[0]["Plan"];
    let refusal = loop {
        let kind = node["Node Type"].as_str().unwrap_or("nothing");
        if combining.contains(&kind) {
            break kind.to_owned();
        }
        if node.get("Relation Name").is_some() {
            return Ok(());
        }
        let outer = node["Plans"].as_array().and_then(|children| {
            children.iter().find(|child| matches!(child["Parent Relationship"].as_str(), Some("Outer" | "Member")))
        });
        match outer {
            Some(child) => node = child,
            // No table under it: the rows come from elsewhere (an InitPlan computing min/max).
            None => break format!("{kind} over no table scan"),
        }
    };
    Err(Error::Usage(format!(
        "partitions={parts}: the query combines rows ({refusal}), so it cannot be split by pages; pass \
         partition_on= a column of its result"
    )))
}

/// A `json` value's text (its binary format).
struct JsonText(String);

impl<'a> tokio_postgres::types::FromSql<'a> for JsonText {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(JsonText(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON
    }
}

/// Ranges of a column of the query's result, and its NULLs.
async fn on_column(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[Value],
    column: &str,
    parts: usize,
    strategy: PartitionStrategy,
) -> Result<Vec<PartitionQuery>> {
    let described = client.prepare(sql).await?;
    let column_type: Type = match described.columns().iter().find(|c| c.name() == column) {
        Some(found) => found.type_().clone(),
        None => {
            let names: Vec<&str> = described.columns().iter().map(|c| c.name()).collect();
            return Err(Error::Usage(format!(
                "partition_on={column:?} is not a column of the query's result (its columns: {})",
                names.join(", ")
            )));
        }
    };
    let alias = "\"data_bridge_p\"";
    let wrapped = format!("(\n{}\n) AS {alias}", trim_query(sql));
    let reference = format!("{alias}.{}", quote_ident(column));
    let with_range = strategy == PartitionStrategy::Range && bounds::has_steps(&column_type);
    let cut = bounds::CutPoints { wrapped: &wrapped, column: &reference, column_type: &column_type, params };
    let stats = cut.stats(client, with_range).await?;
    let points = cut.compute(client, parts, strategy, &stats).await?;
    let select = format!("SELECT * FROM {wrapped} WHERE ");
    let n = params.len();
    let mut queries = Vec::new();
    for k in 0..=points.len() {
        let lower = (k > 0).then(|| (format!("{reference} >= ${}", n + 1), points[k - 1].clone()));
        let upper = (k < points.len())
            .then(|| (format!("{reference} < ${}", n + 1 + lower.is_some() as usize), points[k].clone()));
        let conditions: Vec<(String, String)> = lower.into_iter().chain(upper).collect();
        let condition = match conditions.is_empty() {
            true => format!("{reference} IS NOT NULL"),
            false => conditions.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(" AND "),
        };
        let mut all = params.to_vec();
        all.extend(conditions.into_iter().map(|(_, point)| Value::Text(point)));
        queries.push(PartitionQuery { sql: format!("{select}{condition}"), params: all });
    }
    if stats.nulls > 0 {
        queries.push(PartitionQuery { sql: format!("{select}{reference} IS NULL"), params: params.to_vec() });
    }
    Ok(queries)
}
