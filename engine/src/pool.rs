//! A pool of connections to one server, safe to share across threads.
//!
//! Connections are checked before reuse: a closed one is discarded, one idle for more than
//! [`PING_AFTER`] is pinged first, one older than `max_lifetime` is replaced. A background
//! task closes connections idle longer than `idle_timeout` and keeps `min_connections` open.
//! So after a server restart the pool replaces every connection by itself, and a caller sees
//! at most one failed call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arrow_array::RecordBatchReader;
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Object, PoolError, RecyclingMethod, Runtime};

use crate::config;
use crate::error::{error_chain, Error, Result};
use crate::param::Value;
use crate::read::{ReadOptions, ReadStream};
use crate::session::{Connection, Session};
use crate::socket::{Address, BufferedConnect};
use crate::tls::{Connector, TlsOptions};
use crate::transaction::{Transaction, TransactionOptions};
use crate::write::{TableName, WriteMode, WriteOptions};

/// OIDs below this are the server's built-in objects (`FirstNormalObjectId`).
pub(crate) const FIRST_USER_OID: u32 = 16384;
/// A connection idle for longer is pinged before it is handed out.
pub const PING_AFTER: Duration = Duration::from_secs(5);
/// How often idle connections are reaped and `min_connections` restored.
const REAP_EVERY: Duration = Duration::from_millis(500);

/// Pool bounds, timeouts and session settings.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Connections opened at once and kept open.
    pub min_connections: usize,
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a caller waits for a free connection before [`Error::PoolTimeout`].
    pub acquire_timeout: Duration,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
    /// Connections idle longer are closed (down to `min_connections`).
    pub idle_timeout: Option<Duration>,
    /// Connections older are replaced when they come back.
    pub max_lifetime: Option<Duration>,
    /// The server's `statement_timeout` on every connection.
    pub statement_timeout: Option<Duration>,
    /// Shown in `pg_stat_activity` (default: the URL's, else `data-bridge`).
    pub application_name: Option<String>,
    /// TLS settings replacing the URL's.
    pub tls: Option<TlsOptions>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            min_connections: 0,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            statement_timeout: None,
            application_name: None,
            tls: None,
        }
    }
}

/// How full the pool is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections.
    pub size: usize,
    /// Open connections not in use.
    pub idle: usize,
    /// Open connections in use.
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// The most connections the pool opens.
    pub max_size: usize,
}

/// A pool of connections to one PostgreSQL server. Cloning shares the pool.
///
/// ```no_run
/// use data_bridge_postgres::{runtime, Pool, PoolOptions};
///
/// runtime::runtime().block_on(async {
///     let pool = Pool::connect(Some("postgresql://postgres@127.0.0.1/test"), PoolOptions::default()).await?;
///     let changed = pool.execute("UPDATE accounts SET active = $1", vec![true.into()]).await?;
///     println!("{changed} accounts activated");
///     Ok::<_, data_bridge_postgres::Error>(())
/// })?;
/// # Ok::<_, data_bridge_postgres::Error>(())
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    pool: deadpool_postgres::Pool,
    target: String,
    /// The one server connections open their own sockets to (see [`crate::socket`]).
    address: Option<(Address, tokio_postgres::Config)>,
    /// How connections (and so their cancel requests) negotiate TLS.
    tls: Connector,
    min_connections: usize,
    idle_timeout: Option<Duration>,
    /// What the server told us of every built-in column type seen, so a read asks only once.
    type_names: Mutex<HashMap<(u32, i32), TypeInfo>>,
}

/// A column type as the catalog describes it.
#[derive(Clone, Debug, Default)]
pub(crate) struct TypeInfo {
    /// `format_type(oid, typmod)`, e.g. `numeric(15,2)`.
    pub name: String,
    /// The type's output function (`pg_type.typoutput`), e.g. `inet_out`: calling it gives
    /// exactly the text PostgreSQL prints, which a `::text` cast does not always (inet).
    pub output_function: String,
}

impl Pool {
    /// Opens a pool to the server at `url` (or the environment's, see [`config::resolve`]),
    /// with `min_connections` (at least one) opened at once, so bad settings fail here.
    pub async fn connect(url: Option<&str>, options: PoolOptions) -> Result<Pool> {
        let (mut pg_config, url_tls) = config::resolve(url)?;
        let tls = options.tls.clone().unwrap_or(url_tls);
        pg_config.ssl_mode(tls.pg_mode());
        // As libpq: no TLS over Unix-domain sockets (the server offers none there).
        let unix_socket = pg_config.get_hosts().iter().all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
        if unix_socket && tls.mode == crate::tls::SslMode::Prefer {
            pg_config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        }
        pg_config.connect_timeout(options.connect_timeout);
        if let Some(name) = &options.application_name {
            pg_config.application_name(name);
        }
        if let Some(timeout) = options.statement_timeout {
            let setting = format!("-c statement_timeout={}", timeout.as_millis());
            let merged = match pg_config.get_options() {
                Some(existing) => format!("{existing} {setting}"),
                None => setting,
            };
            pg_config.options(merged);
        }
        let target = config::target(&pg_config);
        let address = Address::of(&pg_config).map(|address| (address, pg_config.clone()));
        let connector = tls.connector()?;
        let manager = Manager::from_connect(
            pg_config,
            BufferedConnect { tls: connector.clone() },
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let max_lifetime = options.max_lifetime;
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout))
            .pre_recycle(Hook::async_fn(move |client, metrics| {
                Box::pin(async move {
                    if max_lifetime.is_some_and(|limit| metrics.age() > limit) {
                        return Err(HookError::message("older than max_lifetime"));
                    }
                    if metrics.last_used() > PING_AFTER {
                        client.simple_query("").await.map_err(HookError::Backend)?;
                    }
                    Ok(())
                })
            }))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let inner = Arc::new(Inner {
            pool,
            target,
            address,
            tls: connector,
            min_connections: options.min_connections.min(options.max_connections.max(1)),
            idle_timeout: options.idle_timeout,
            type_names: Mutex::new(HashMap::new()),
        });
        let pool = Pool { inner };
        pool.fill_to_minimum(1).await?;
        tokio::spawn(reap(Arc::downgrade(&pool.inner)));
        Ok(pool)
    }

    /// Opens connections until `min_connections` (and at least `at_least`) are open.
    async fn fill_to_minimum(&self, at_least: usize) -> Result<()> {
        let wanted = self.inner.min_connections.max(at_least);
        let missing = wanted.saturating_sub(self.inner.pool.status().size);
        let opened = futures_util::future::join_all((0..missing).map(|_| self.acquire())).await;
        opened.into_iter().collect::<Result<Vec<_>>>().map(drop)
    }

    /// A connection of its own: for several statements in a row, or [`Connection::begin`].
    pub async fn connection(&self) -> Result<Connection> {
        Ok(Connection::new(Session::new(self.acquire().await?, self.clone())))
    }

    /// Starts a transaction on a connection of its own.
    pub async fn transaction(&self, options: TransactionOptions) -> Result<Transaction> {
        self.connection().await?.begin(options).await
    }

    /// Runs `sql` (several `;`-separated statements when there are no parameters); returns
    /// the rows the (last) statement affected.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64> {
        self.connection().await?.execute(sql, params).await
    }

    /// Runs `sql` once per row of parameters, pipelined, in one transaction.
    pub async fn execute_many(&self, sql: &str, rows: &[Vec<Value>]) -> Result<u64> {
        self.connection().await?.execute_many(sql, rows).await
    }

    /// Streams the result of `sql` as Arrow record batches (binary COPY without parameters,
    /// the extended protocol with them).
    pub async fn query_arrow(&self, sql: &str, params: Vec<Value>) -> Result<ReadStream> {
        self.read(sql, params, ReadOptions::default()).await
    }

    /// [`Pool::query_arrow`] with batch size and type choices.
    pub async fn read(&self, sql: &str, params: Vec<Value>, options: ReadOptions) -> Result<ReadStream> {
        self.connection().await?.read(sql, params, options).await
    }

    /// Loads `source` into `table` with binary COPY, all or nothing; returns the rows
    /// written. `source` is read on a thread of its own (it may call into Python). With
    /// `options.connections > 1`, `Create` and `Replace` load over that many connections at
    /// once (see [`WriteOptions::connections`]).
    pub async fn copy_in_arrow(
        &self,
        table: &TableName,
        source: Box<dyn RecordBatchReader + Send>,
        options: WriteOptions,
    ) -> Result<u64> {
        if options.connections > 1 && matches!(options.mode, WriteMode::Create | WriteMode::Replace) {
            return crate::ingest::write_parallel(self, table, source, options).await;
        }
        self.connection().await?.copy_in_arrow(table, source, options).await
    }

    /// A pooled client; it goes back when dropped.
    pub(crate) async fn acquire(&self) -> Result<Object> {
        self.inner.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) if e.as_db_error().is_none() => {
                Error::Connect { target: self.inner.target.clone(), reason: error_chain(&e) }
            }
            PoolError::Backend(e) => e.into(),
            PoolError::Timeout(_) => match self.inner.pool.timeouts().wait {
                Some(waited) => Error::PoolTimeout(waited),
                None => Error::Connect { target: self.inner.target.clone(), reason: "timed out".into() },
            },
            PoolError::Closed => Error::Closed,
            _ => Error::Internal("connection pool failure"),
        })
    }

    /// A pooled client if one is free or can be opened now, without waiting for another
    /// caller to give one back.
    pub(crate) async fn try_acquire(&self) -> Result<Option<Object>> {
        let timeouts = deadpool_postgres::Timeouts { wait: Some(Duration::ZERO), ..self.inner.pool.timeouts() };
        match self.inner.pool.timeout_get(&timeouts).await {
            Ok(client) => Ok(Some(client)),
            Err(PoolError::Timeout(deadpool_postgres::TimeoutType::Wait)) => Ok(None),
            Err(_) => self.acquire().await.map(Some),
        }
    }

    /// Catalog facts for these (oid, typmod) pairs, asking the server only for new ones.
    /// Built-in types are cached for the pool's life; user-defined ones are looked up each
    /// time, since `ALTER TYPE ... RENAME` may change them.
    pub(crate) async fn type_info(&self, client: &Object, types: &[(u32, i32)]) -> Result<Vec<TypeInfo>> {
        let built_in = |t: &(u32, i32)| t.0 < FIRST_USER_OID;
        let missing: Vec<(u32, i32)> = {
            let known = self.lock_type_names();
            types.iter().filter(|t| !built_in(t) || !known.contains_key(t)).copied().collect()
        };
        let mut fresh = HashMap::new();
        if !missing.is_empty() {
            let oids: Vec<u32> = missing.iter().map(|t| t.0).collect();
            let typmods: Vec<i32> = missing.iter().map(|t| t.1).collect();
            let rows = client
                .query(
                    "SELECT format_type(t, m), p.typoutput::regproc::text \
                     FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS u(t, m, i) \
                     LEFT JOIN pg_type p ON p.oid = u.t ORDER BY i",
                    &[&oids, &typmods],
                )
                .await?;
            for (key, row) in missing.into_iter().zip(rows) {
                let name = row.try_get::<_, Option<String>>(0)?.unwrap_or_else(|| "unknown".into());
                let output_function = row.try_get::<_, Option<String>>(1)?.unwrap_or_default();
                fresh.insert(key, TypeInfo { name, output_function });
            }
        }
        let mut known = self.lock_type_names();
        known.extend(fresh.iter().filter(|(key, _)| built_in(key)).map(|(key, info)| (*key, info.clone())));
        Ok(types.iter().map(|t| fresh.get(t).or_else(|| known.get(t)).cloned().unwrap_or_default()).collect())
    }

    fn lock_type_names(&self) -> std::sync::MutexGuard<'_, HashMap<(u32, i32), TypeInfo>> {
        // A panic while holding the lock cannot leave the map half-updated, so poison is moot.
        self.inner.type_names.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Asks the server to cancel what the connection of `token` is running, over TLS when the
    /// connection's sslmode asks for it.
    pub(crate) async fn cancel(&self, token: tokio_postgres::CancelToken) {
        // A cancel that fails changes nothing: the caller waits for the statement to end.
        let tls = self.inner.tls.clone();
        let _ = match &self.inner.address {
            // Connected through our own socket: tokio-postgres does not know where to.
            Some((address, config)) => address.cancel(config, &token, tls).await.map_err(drop),
            None => token.cancel_query(tls).await.map_err(drop),
        };
    }

    /// How full the pool is.
    pub fn status(&self) -> PoolStatus {
        let status = self.inner.pool.status();
        PoolStatus {
            size: status.size,
            idle: status.available,
            in_use: status.size - status.available,
            waiting: status.waiting,
            max_size: status.max_size,
        }
    }

    /// Closes the pool: idle connections are dropped, and new calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Whether [`Pool::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.pool.is_closed()
    }
}

/// Closes idle connections past `idle_timeout` and keeps `min_connections` open, until the
/// pool is closed or dropped.
async fn reap(pool: Weak<Inner>) {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        let Some(inner) = pool.upgrade() else { return };
        if inner.pool.is_closed() {
            return;
        }
        if let Some(idle_timeout) = inner.idle_timeout {
            let mut keep =
                inner.min_connections.saturating_sub(inner.pool.status().size - inner.pool.status().available);
            inner.pool.retain(|_, metrics| {
                if metrics.last_used() <= idle_timeout || keep > 0 {
                    keep = keep.saturating_sub(1);
                    return true;
                }
                false
            });
        }
        let pool = Pool { inner };
        // A failure (server down) is retried on the next round.
        let _ = pool.fill_to_minimum(0).await;
    }
}
