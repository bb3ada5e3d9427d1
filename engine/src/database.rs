//! A database handle: a pool of connections to one server, safe to share across threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config;
use crate::error::{error_chain, Error, Result};

/// OIDs below this are the server's built-in objects (`FirstNormalObjectId`).
const FIRST_USER_OID: u32 = 16384;

/// Pool bounds and timeouts.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A pool of connections to one PostgreSQL server. Cloning shares the pool.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    target: String,
    /// What the server told us of every column type seen, so a read asks only once.
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

impl Database {
    /// Opens a pool to `url` (or the environment's server, see [`config::resolve`]) and checks
    /// that one connection can be made, so a wrong address fails here and not on first use.
    pub async fn connect(url: Option<&str>, options: PoolOptions) -> Result<Database> {
        let mut pg_config = config::resolve(url)?;
        pg_config.connect_timeout(options.connect_timeout);
        let target = config::target(&pg_config);
        let manager = Manager::from_config(pg_config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let database = Database { inner: Arc::new(Inner { pool, target, type_names: Mutex::new(HashMap::new()) }) };
        drop(database.acquire().await?);
        Ok(database)
    }

    /// A connection from the pool; it goes back when dropped.
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

    /// Pool occupancy: (open connections, idle connections, callers waiting).
    pub fn status(&self) -> (usize, usize, usize) {
        let status = self.inner.pool.status();
        (status.size, status.available, status.waiting)
    }

    /// Closes the pool: idle connections are dropped, and new calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Whether [`Database::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.pool.is_closed()
    }
}
