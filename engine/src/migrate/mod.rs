//! Versioned, reversible schema migrations, built on sqlx's migrate module.
//!
//! A migrations folder holds SQL files named `<VERSION>_<NAME>.up.sql`, each with an optional
//! `<VERSION>_<NAME>.down.sql` (a migration without a down file is irreversible; a plain
//! `<VERSION>_<NAME>.sql` is too). A file whose first line starts with `-- no-transaction` runs outside a
//! transaction, statement by statement, for statements such as `CREATE INDEX CONCURRENTLY`.
//!
//! # Basic usage
//! ```no_run
//! use data_bridge_postgres::migrate::{MigrateOptions, Migrations, RollbackTo};
//!
//! data_bridge_postgres::runtime::runtime().block_on(async {
//!     let url = Some("postgresql://postgres@127.0.0.1/test");
//!     // Or, compiled into the binary: data_bridge_postgres::embed_migrations!("$CARGO_MANIFEST_DIR/migrations")?
//!     let migrations = Migrations::from_dir("migrations")?;
//!     for applied in migrations.run(url, &MigrateOptions::default()).await? {
//!         println!("applied {} in {:?}", applied.file, applied.elapsed);
//!     }
//!     let status = migrations.status(url).await?;
//!     assert!(status.problems.is_empty() && status.pending.is_empty());
//!     migrations.rollback(url, RollbackTo::Steps(1), &MigrateOptions::default()).await?;
//!     Ok::<_, data_bridge_postgres::migrate::MigrateError>(())
//! })?;
//! # Ok::<_, data_bridge_postgres::migrate::MigrateError>(())
//! ```
//!
//! # What comes from sqlx, and what is added
//! sqlx provides the file format and checksums ([`sqlx::migrate::Migration`]: SHA-384 of the up
//! file), the metadata table, the `-- no-transaction` marker, and the advisory lock
//! ([`sqlx::migrate::Migrate::lock`]: `pg_advisory_lock` on a key derived from the database name)
//! that makes two runners started at once apply each migration exactly once: the second waits, then
//! sees the work done. The runner adds: a status listing applied, pending and problems (a changed
//! checksum, an applied migration missing from the folder, a gap); refusing a changed checksum unless
//! `repair` (which records the new one); rollback by steps or to a version; an all-in-one-transaction
//! option; and errors that name the file, the statement, its line and the server's position. For those,
//! each file is split into statements (as psql does) and they run one at a time, inside the
//! migration's transaction, with the same bookkeeping as sqlx's `Migrate::apply`.
//!
//! # The metadata table
//! sqlx's `_sqlx_migrations`, created in the first schema of the `search_path` (so `sqlx migrate
//! info` reads it too):
//!
//! | column | meaning |
//! | --- | --- |
//! | `version BIGINT PRIMARY KEY` | the file's version |
//! | `description TEXT` | the file's name after the version, `_` as spaces |
//! | `installed_on TIMESTAMPTZ` | when it was applied |
//! | `success BOOLEAN` | always true when written by this runner (a failed migration leaves no row) |
//! | `checksum BYTEA` | SHA-384 of the up file |
//! | `execution_time BIGINT` | nanoseconds (-1 until measured) |
//!
//! A migration is applied in one transaction with its row, so a failure leaves both the schema
//! and the table as they were. A rollback runs the down file and deletes the row, in one transaction.

mod connect;
mod error;
mod runner;
mod source;
mod split;
mod status;

pub use error::{MigrateError, StatementError};
pub use runner::{MigrateOptions, RollbackTo};
pub use source::{next_file_stem, MigrationFile, Migrations};
pub use split::{split, Statement};
pub use status::{Applied, AppliedMigration, PendingMigration, Problem, Status};

#[doc(hidden)]
pub mod __private {
    pub use include_dir;
}

/// Embeds a migrations folder in the binary at compile time and reads it into
/// [`Migrations`](crate::migrate::Migrations) (a `Result`, as file names are checked at run time).
///
/// The path is absolute or starts with an environment variable, as in
/// `embed_migrations!("$CARGO_MANIFEST_DIR/migrations")`. Cargo rebuilds when an embedded file
/// changes; to notice a new file too, add `println!("cargo:rerun-if-changed=migrations");` to a
/// build script.
#[macro_export]
macro_rules! embed_migrations {
    ($path:tt) => {{
        use $crate::migrate::__private::include_dir;
        static DIR: include_dir::Dir<'static> = include_dir::include_dir!($path);
        $crate::migrate::Migrations::from_embedded(&DIR)
    }};
}
