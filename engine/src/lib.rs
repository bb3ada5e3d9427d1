//! data-bridge's PostgreSQL engine: a connection pool, transactions, and streaming binary
//! reads into Arrow and writes from it.
//!
//! # Basic usage
//! ```no_run
//! use data_bridge_postgres::{runtime, Pool, PoolOptions};
//! use futures_util::StreamExt;
//!
//! runtime::runtime().block_on(async {
//!     let pool = Pool::connect(Some("postgresql://postgres@127.0.0.1/test"), PoolOptions::default()).await?;
//!     let mut batches = pool.query_arrow("SELECT generate_series(1, $1::int) AS n", vec![10i64.into()]).await?;
//!     while let Some(batch) = batches.next().await {
//!         println!("{} rows", batch?.num_rows());
//!     }
//!     Ok::<_, data_bridge_postgres::Error>(())
//! })?;
//! # Ok::<_, data_bridge_postgres::Error>(())
//! ```

mod busy_poll;
pub mod config;
mod error;
mod ingest;
mod lex;
pub mod migrate;
mod param;
mod partition;
mod pool;
pub mod query;
mod read;
pub mod runtime;
mod session;
mod shape;
mod socket;
pub mod sql;
pub mod tls;
mod transaction;
mod write;

/// The chrono version [`Row`] fields use for dates and times (`chrono::NaiveDate`, ...).
pub use chrono;
/// `#[derive(Row)]`: see [`query::Row`].
pub use data_bridge_derive::Row;
pub use error::{Error, Result};
pub use param::Value;
pub use partition::{PartitionOptions, PartitionQuery, PartitionStrategy, Plan, MIN_PIECE_PAGES};
pub use pool::{Pool, PoolOptions, PoolStatus, PING_AFTER};
pub use query::Row;
pub use read::{ReadOptions, ReadStream};
pub use session::Connection;
pub use tls::{SslMode, TlsOptions};
pub use tokio_postgres::error::{DbError, ErrorPosition};
pub use transaction::{Isolation, Transaction, TransactionOptions};
pub use write::{TableName, WriteMode, WriteOptions};
