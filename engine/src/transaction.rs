//! Transactions on one connection, with savepoints nested to any depth.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow_array::RecordBatchReader;

use crate::error::{Error, Result};
use crate::param::Value;
use crate::partition::{PartitionOptions, Plan};
use crate::read::{ReadOptions, ReadStream};
use crate::session::Session;
use crate::write::{TableName, WriteOptions};

/// Isolation levels (PostgreSQL runs `read uncommitted` as `read committed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Isolation {
    /// Each statement sees what was committed before it began.
    #[default]
    ReadCommitted,
    /// Every statement sees the snapshot of the transaction's first.
    RepeatableRead,
    /// As if the transactions ran one after another; may fail with SQLSTATE 40001.
    Serializable,
}

impl std::str::FromStr for Isolation {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
            "read_committed" => Isolation::ReadCommitted,
            "repeatable_read" => Isolation::RepeatableRead,
            "serializable" => Isolation::Serializable,
            _ => {
                return Err(Error::Usage(format!(
                    "isolation {name:?}: use \"read_committed\", \"repeatable_read\" or \"serializable\""
                )))
            }
        })
    }
}

/// How a transaction starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransactionOptions {
    /// The isolation level.
    pub isolation: Isolation,
    /// Writes are refused (SQLSTATE 25006).
    pub read_only: bool,
    /// With serializable and read only: waits for a snapshot that cannot fail (no 40001).
    pub deferrable: bool,
}

impl TransactionOptions {
    fn begin_sql(&self) -> String {
        let isolation = match self.isolation {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        };
        let access = if self.read_only { "READ ONLY" } else { "READ WRITE" };
        let deferrable = if self.deferrable { "DEFERRABLE" } else { "NOT DEFERRABLE" };
        format!("BEGIN ISOLATION LEVEL {isolation}, {access}, {deferrable}")
    }
}

/// A transaction: rolled back unless [`Transaction::commit`] is called (also when dropped).
///
/// ```no_run
/// use data_bridge_postgres::{runtime, Pool, PoolOptions, TransactionOptions};
///
/// runtime::runtime().block_on(async {
///     let pool = Pool::connect(None, PoolOptions::default()).await?;
///     let mut tx = pool.transaction(TransactionOptions::default()).await?;
///     tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = $1", vec![1i64.into()]).await?;
///     tx.savepoint().await?;
///     if tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = $1", vec![2i64.into()]).await.is_err() {
///         tx.rollback_to_savepoint().await?;
///     } else {
///         tx.release_savepoint().await?;
///     }
///     tx.commit().await?;
///     Ok::<_, data_bridge_postgres::Error>(())
/// })?;
/// # Ok::<_, data_bridge_postgres::Error>(())
/// ```
pub struct Transaction {
    /// Given back to the pool when the transaction ends.
    session: Option<Arc<Session>>,
    /// Open savepoints.
    depth: usize,
    /// How it began.
    options: TransactionOptions,
}

impl Transaction {
    pub(crate) async fn begin(session: Arc<Session>, options: TransactionOptions) -> Result<Transaction> {
        let busy = session.claim().await?;
        session.guarded(async { Ok(session.client().batch_execute(&options.begin_sql()).await?) }).await?;
        session.in_transaction.store(true, Ordering::Relaxed);
        drop(busy);
        Ok(Transaction { session: Some(session), depth: 0, options })
    }

    fn open(&self) -> Result<&Arc<Session>> {
        self.session.as_ref().ok_or(Error::TransactionDone)
    }

    async fn run(&self, sql: &str) -> Result<()> {
        let session = self.open()?;
        let _busy = session.claim().await?;
        session.guarded(async { Ok(session.client().batch_execute(sql).await?) }).await
    }

    /// Commits. A failure (such as a serialization failure at commit) leaves the transaction
    /// rolled back.
    pub async fn commit(&mut self) -> Result<()> {
        let outcome = self.run("COMMIT").await;
        self.end(outcome)
    }

    /// Rolls back everything since `begin`.
    pub async fn rollback(&mut self) -> Result<()> {
        let outcome = self.run("ROLLBACK").await;
        self.end(outcome)
    }

    fn end(&mut self, outcome: Result<()>) -> Result<()> {
        if matches!(outcome, Err(Error::Busy | Error::TransactionDone)) {
            return outcome;
        }
        if let Some(session) = self.session.take() {
            // Ended on the server unless the connection failed (then the session cleans up).
            if !matches!(outcome, Err(Error::Connection(_) | Error::Cancelled)) {
                session.in_transaction.store(false, Ordering::Relaxed);
            }
        }
        outcome
    }

    /// Whether `commit` or `rollback` was called.
    pub fn is_finished(&self) -> bool {
        self.session.is_none()
    }

    /// Opens a savepoint (nested inside the open ones); returns the new depth.
    pub async fn savepoint(&mut self) -> Result<usize> {
        self.run(&format!("SAVEPOINT data_bridge_{}", self.depth + 1)).await?;
        self.depth += 1;
        Ok(self.depth)
    }

    /// Keeps the work since the innermost open savepoint and closes it.
    pub async fn release_savepoint(&mut self) -> Result<()> {
        let depth = self.innermost()?;
        self.run(&format!("RELEASE SAVEPOINT data_bridge_{depth}")).await?;
        self.depth -= 1;
        Ok(())
    }

    /// Undoes the work since the innermost open savepoint and closes it; the transaction
    /// goes on (even after an error inside the savepoint).
    pub async fn rollback_to_savepoint(&mut self) -> Result<()> {
        let depth = self.innermost()?;
        self.run(&format!("ROLLBACK TO SAVEPOINT data_bridge_{depth}; RELEASE SAVEPOINT data_bridge_{depth}")).await?;
        self.depth -= 1;
        Ok(())
    }

    fn innermost(&self) -> Result<usize> {
        match self.depth {
            0 => Err(Error::Usage("no savepoint is open".into())),
            depth => Ok(depth),
        }
    }

    /// Runs `sql` in the transaction; returns the rows the (last) statement affected.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64> {
        self.open()?.execute(sql, &params).await
    }

    /// Runs `sql` once per row of parameters, pipelined; all rows or none (a savepoint).
    pub async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        self.open()?.execute_many(sql, rows).await
    }

    /// Streams the result of `sql` as Arrow record batches. The stream must end (or be
    /// dropped) before the transaction's next call.
    pub async fn query_arrow(&self, sql: &str, params: Vec<Value>) -> Result<ReadStream> {
        self.read(sql, params, ReadOptions::default()).await
    }

    /// [`Transaction::query_arrow`] with batch size and type choices.
    pub async fn read(&self, sql: &str, params: Vec<Value>, options: ReadOptions) -> Result<ReadStream> {
        ReadStream::start(self.open()?.clone(), sql, params, options).await
    }

    /// Plans a partitioned read in this transaction's snapshot (see [`crate::Pool::plan`]):
    /// only a read-only repeatable read transaction has one to share. Its connection reads
    /// the first piece; the others import the snapshot.
    pub async fn plan(&self, sql: &str, params: Vec<Value>, options: PartitionOptions) -> Result<Plan> {
        let shareable = TransactionOptions { isolation: Isolation::RepeatableRead, read_only: true, ..self.options };
        if self.options != shareable {
            return Err(Error::Usage(
                "a partitioned read needs connections of its own: run it outside the transaction, or in a \
                 read-only repeatable read transaction, whose snapshot it shares"
                    .into(),
            ));
        }
        Plan::build(self.open()?.clone(), sql, params, options).await
    }

    /// Loads `source` into `table` with binary COPY; all rows or none (a savepoint).
    pub async fn copy_in_arrow(
        &self,
        table: &TableName,
        source: Box<dyn RecordBatchReader + Send>,
        options: WriteOptions,
    ) -> Result<u64> {
        self.open()?.write(table, source, options).await
    }
}
