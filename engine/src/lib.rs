//! data-bridge's PostgreSQL engine: a connection pool and streaming binary reads into Arrow.
//!
//! # Basic usage
//! ```no_run
//! use data_bridge_postgres::{runtime, Database, PoolOptions, ReadOptions};
//!
//! runtime::runtime().block_on(async {
//!     let db = Database::connect(Some("postgresql://postgres@127.0.0.1/test"), PoolOptions::default()).await?;
//!     let mut stream = db.read("SELECT generate_series(1, 10) AS n", vec![], ReadOptions::default()).await?;
//!     while let Some(batch) = stream.next_batch().await? {
//!         println!("{} rows", batch.num_rows());
//!     }
//!     Ok::<_, data_bridge_postgres::Error>(())
//! })?;
//! # Ok::<_, data_bridge_postgres::Error>(())
//! ```

mod busy_poll;
pub mod config;
mod database;
mod error;
mod param;
mod read;
pub mod runtime;
mod shape;
pub mod sql;
mod write;

pub use database::{Database, PoolOptions};
pub use error::{Error, Result};
pub use param::Value;
pub use read::{ReadOptions, ReadStream};
pub use tokio_postgres::error::{DbError, ErrorPosition};
pub use write::{TableName, WriteMode, WriteOptions};
