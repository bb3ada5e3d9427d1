//! One pooled connection in use: what every statement runs on.
//!
//! A [`Session`] is shared (`Arc`) by the handle that owns it ([`Connection`],
//! [`crate::Transaction`]) and the read task streaming from it, and guarded so that only one
//! statement runs at a time. When the last holder lets go, the connection goes back to the
//! pool clean: rolled back first when a transaction was left open (an error, a cancelled call,
//! a handle dropped without commit), or closed when it broke.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatchReader;
use deadpool_postgres::Object;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{is_stale_plan, Error, Result};
use crate::param::{Bound, Value};
use crate::pool::Pool;
use crate::read::{ReadOptions, ReadStream};
use crate::transaction::{Transaction, TransactionOptions};
use crate::write::{TableName, WriteMode, WriteOptions};

/// Parameter rows a pipelined `execute_many` keeps in flight.
const PIPELINE_DEPTH: usize = 256;
/// How long an abandoned statement may take to wind down before its connection is closed.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) struct Session {
    client: Option<Object>,
    pub(crate) pool: Pool,
    /// Held while a statement (or a read stream) uses the connection.
    busy: Arc<Mutex<()>>,
    /// A transaction (ours or the caller's) is open on the server.
    pub(crate) in_transaction: AtomicBool,
    /// The connection cannot be trusted any more: closed instead of pooled.
    pub(crate) broken: AtomicBool,
    /// A statement was abandoned midway (its caller was cancelled): the server may still be
    /// running it, so the next user settles the connection first.
    interrupted: AtomicBool,
    /// A read stream was dropped early and its task is winding the query down: the next
    /// statement waits for it instead of failing as busy.
    pub(crate) settling: AtomicBool,
}

impl Session {
    pub(crate) fn new(client: Object, pool: Pool) -> Arc<Session> {
        Arc::new(Session {
            client: Some(client),
            pool,
            busy: Arc::new(Mutex::new(())),
            in_transaction: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            settling: AtomicBool::new(false),
        })
    }

    pub(crate) fn client(&self) -> &Object {
        // Only `drop` takes it.
        self.client.as_ref().expect("a session's client is taken only when it is dropped")
    }

    /// Exclusive use of the connection, or an error when a statement or an open read stream
    /// already has it (a transaction's calls run one at a time). A connection whose last
    /// statement was abandoned is settled first.
    pub(crate) async fn claim(&self) -> Result<OwnedMutexGuard<()>> {
        let guard = match self.busy.clone().try_lock_owned() {
            Ok(guard) => guard,
            // A closed read stream still cancelling its query: it ends within the settle time.
            Err(_) if self.settling.load(Ordering::Relaxed) => {
                let wait = tokio::time::timeout(2 * SETTLE_TIMEOUT, self.busy.clone().lock_owned());
                wait.await.map_err(|_| Error::Busy)?
            }
            Err(_) => return Err(Error::Busy),
        };
        // Whatever read was winding down is done: it let go of the connection.
        self.settling.store(false, Ordering::Relaxed);
        if self.interrupted.load(Ordering::Relaxed) {
            self.settle().await;
            if self.broken.load(Ordering::Relaxed) {
                return Err(Error::Connection("the connection did not recover from an interrupted statement".into()));
            }
        }
        Ok(guard)
    }

    /// Runs `work` (statements on this connection, under a claim), noting an interruption if
    /// the caller drops it midway, and what its error says about the connection.
    pub(crate) async fn guarded<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.interrupted.store(true, Ordering::Relaxed);
        let outcome = work.await;
        self.interrupted.store(false, Ordering::Relaxed);
        self.observe(outcome)
    }

    /// After a statement was abandoned: cancels it on the server and waits until the
    /// connection is idle. One that does not settle in time is marked broken.
    pub(crate) async fn settle(&self) {
        let client = self.client();
        self.pool.cancel(client.cancel_token()).await;
        let idle = async {
            // A cancel that lands after the statement finished may hit this probe: retry once.
            for _ in 0..2 {
                if client.simple_query("").await.is_ok() {
                    return true;
                }
            }
            false
        };
        let settled = matches!(tokio::time::timeout(SETTLE_TIMEOUT, idle).await, Ok(true));
        self.interrupted.store(false, Ordering::Relaxed);
        if !settled {
            self.broken.store(true, Ordering::Relaxed);
        }
    }

    /// Notes what an error says about the connection.
    pub(crate) fn observe<T>(&self, outcome: Result<T>) -> Result<T> {
        // The server ending the session (57P01 after pg_terminate_backend or a shutdown, 57P02,
        // 57P03) or a connection failure (class 08) may arrive before the socket is seen closed.
        let fatal = outcome
            .as_ref()
            .err()
            .and_then(Error::sqlstate)
            .is_some_and(|code| code.starts_with("57P") || code.starts_with("08"));
        if fatal || matches!(outcome, Err(Error::Connection(_))) || self.client().is_closed() {
            self.broken.store(true, Ordering::Relaxed);
        }
        outcome
    }

    pub(crate) async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let _busy = self.claim().await?;
        self.guarded(self.execute_claimed(sql, params)).await
    }

    async fn execute_claimed(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let client = self.client();
        if params.is_empty() {
            // The simple protocol: several statements may run; the last one's count counts.
            let messages = client.simple_query(sql).await?;
            let last = messages.iter().rev().find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::CommandComplete(rows) => Some(*rows),
                _ => None,
            });
            return Ok(last.unwrap_or(0));
        }
        let statement = client.prepare_cached(sql).await?;
        check_count(statement.params().len(), params.len())?;
        let bound = |statement| {
            let bound = params.iter().enumerate().map(|(index, value)| Bound { index, value });
            client.execute_raw(statement, bound)
        };
        match bound(&statement).await {
            // The cached statement predates a schema change: prepared again, once.
            Err(error) if error.as_db_error().is_some_and(is_stale_plan) => {
                client.statement_cache.remove(sql, &[]);
                let statement = client.prepare_cached(sql).await?;
                Ok(bound(&statement).await?)
            }
            outcome => Ok(outcome?),
        }
    }

    /// Runs `sql` once per row, pipelined, all or nothing.
    pub(crate) async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        let _busy = self.claim().await?;
        self.guarded(async {
            let atomic = self.atomic_begin().await?;
            let outcome = self.execute_many_claimed(sql, rows).await;
            self.atomic_end(atomic, outcome).await
        })
        .await
    }

    async fn execute_many_claimed(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        let client = self.client();
        // Not the cached statement: a stale one would fail the whole batch (no retry inside a
        // transaction), and one prepare is nothing next to many rows.
        let statement = client.prepare(sql).await?;
        let mut total = 0;
        for block in rows.chunks(PIPELINE_DEPTH) {
            let runs = block.iter().map(|row| {
                let statement = &statement;
                async move {
                    check_count(statement.params().len(), row.len())?;
                    let bound = row.iter().enumerate().map(|(index, value)| Bound { index, value });
                    Ok::<u64, Error>(client.execute_raw(statement, bound).await?)
                }
            });
            // Polled together, the statements go out back to back (tokio-postgres pipelines).
            for count in futures_util::future::join_all(runs).await {
                total += count?;
            }
        }
        Ok(total)
    }

    /// Writes `source` into `table` with binary COPY, all or nothing.
    pub(crate) async fn write(
        &self,
        table: &TableName,
        source: Box<dyn RecordBatchReader + Send>,
        options: WriteOptions,
    ) -> Result<u64> {
        if options.connections > 1 && matches!(options.mode, WriteMode::Create | WriteMode::Replace) {
            return Err(Error::Usage(format!(
                "connections={} loads over connections of its own: call it on the pool, outside a transaction",
                options.connections
            )));
        }
        let _busy = self.claim().await?;
        self.guarded(async {
            let atomic = self.atomic_begin().await?;
            let outcome = crate::write::write(self, table, source, options).await;
            self.atomic_end(atomic, outcome).await
        })
        .await
    }

    /// Opens what makes the next statements all-or-nothing: a transaction, or a savepoint
    /// inside the caller's.
    async fn atomic_begin(&self) -> Result<Atomic> {
        let nested = self.in_transaction.load(Ordering::Relaxed);
        let sql = if nested { "SAVEPOINT data_bridge_atomic" } else { "BEGIN" };
        self.client().batch_execute(sql).await?;
        self.in_transaction.store(true, Ordering::Relaxed);
        Ok(if nested { Atomic::Savepoint } else { Atomic::Transaction })
    }

    async fn atomic_end<T>(&self, atomic: Atomic, outcome: Result<T>) -> Result<T> {
        let sql = match (&atomic, outcome.is_ok()) {
            (Atomic::Transaction, true) => "COMMIT",
            (Atomic::Transaction, false) => "ROLLBACK",
            (Atomic::Savepoint, true) => "RELEASE SAVEPOINT data_bridge_atomic",
            (Atomic::Savepoint, false) => {
                "ROLLBACK TO SAVEPOINT data_bridge_atomic; RELEASE SAVEPOINT data_bridge_atomic"
            }
        };
        let ended = self.client().batch_execute(sql).await.map_err(Error::from);
        if matches!(atomic, Atomic::Transaction) && !matches!(ended, Err(Error::Connection(_))) {
            self.in_transaction.store(false, Ordering::Relaxed);
        }
        let value = outcome?;
        ended?;
        Ok(value)
    }
}

enum Atomic {
    Transaction,
    Savepoint,
}

fn check_count(expected: usize, got: usize) -> Result<()> {
    match expected == got {
        true => Ok(()),
        false => Err(Error::ParamCount { expected, got }),
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        let broken = self.broken.load(Ordering::Relaxed) || client.is_closed();
        let interrupted = self.interrupted.load(Ordering::Relaxed);
        let in_transaction = self.in_transaction.load(Ordering::Relaxed);
        if broken {
            // Closed, not pooled.
            drop(Object::take(client));
            return;
        }
        if !interrupted && !in_transaction {
            return; // back to the pool as it is
        }
        // Cleaned up before it is pooled again: the abandoned statement cancelled, the open
        // transaction rolled back; closed when either fails.
        let pool = self.pool.clone();
        let cleanup = async move {
            let session = Session {
                client: Some(client),
                pool,
                busy: Arc::new(Mutex::new(())),
                in_transaction: AtomicBool::new(false),
                broken: AtomicBool::new(false),
                interrupted: AtomicBool::new(false),
                settling: AtomicBool::new(false),
            };
            if interrupted {
                session.settle().await;
            }
            if in_transaction && !session.broken.load(Ordering::Relaxed) {
                let rolled_back = session.client().batch_execute("ROLLBACK").await.is_ok();
                session.broken.store(!rolled_back, Ordering::Relaxed);
            }
            // Dropped here: pooled, or closed when broken.
        };
        crate::runtime::spawn_detached(cleanup);
    }
}

/// A connection of one's own, taken from the pool until dropped.
///
/// ```no_run
/// use data_bridge_postgres::{runtime, Pool, PoolOptions, TransactionOptions};
///
/// runtime::runtime().block_on(async {
///     let pool = Pool::connect(None, PoolOptions::default()).await?;
///     let connection = pool.connection().await?;
///     connection.execute("SET search_path TO sales", vec![]).await?;
///     let mut tx = connection.begin(TransactionOptions::default()).await?;
///     tx.execute("DELETE FROM orders WHERE total = 0", vec![]).await?;
///     tx.commit().await?;
///     Ok::<_, data_bridge_postgres::Error>(())
/// })?;
/// # Ok::<_, data_bridge_postgres::Error>(())
/// ```
pub struct Connection {
    session: Arc<Session>,
}

impl Connection {
    pub(crate) fn new(session: Arc<Session>) -> Connection {
        Connection { session }
    }

    /// Runs `sql` (several `;`-separated statements when there are no parameters); returns
    /// the rows the (last) statement affected.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64> {
        self.session.execute(sql, &params).await
    }

    /// Runs `sql` once per row of parameters, pipelined, in one transaction.
    pub async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        self.session.execute_many(sql, rows).await
    }

    /// Streams the result of `sql` as Arrow record batches. The stream must end (or be
    /// dropped) before the connection's next call.
    pub async fn query_arrow(&self, sql: &str, params: Vec<Value>) -> Result<ReadStream> {
        self.read(sql, params, ReadOptions::default()).await
    }

    /// [`Connection::query_arrow`] with batch size and type choices.
    pub async fn read(&self, sql: &str, params: Vec<Value>, options: ReadOptions) -> Result<ReadStream> {
        ReadStream::start(self.session.clone(), sql, params, options).await
    }

    /// Loads `source` into `table` with binary COPY, in one transaction.
    pub async fn copy_in_arrow(
        &self,
        table: &TableName,
        source: Box<dyn RecordBatchReader + Send>,
        options: WriteOptions,
    ) -> Result<u64> {
        self.session.write(table, source, options).await
    }

    /// Starts a transaction on this connection.
    pub async fn begin(self, options: TransactionOptions) -> Result<Transaction> {
        Transaction::begin(self.session, options).await
    }
}
