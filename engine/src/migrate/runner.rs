//! Applies, reverts and inspects migrations on a database, through a sqlx connection.

use std::time::{Duration, Instant, SystemTime};

use sqlx::migrate::{Migrate, Migration};
use sqlx::postgres::{PgConnection, PgDatabaseError, PgErrorPosition};
use sqlx::{Connection, Executor};

use super::connect::{close, connect};
use super::split::split;
use super::status::{Applied, AppliedMigration, PendingMigration, Problem, Status};
use super::{MigrateError, MigrationFile, Migrations, StatementError};

/// Options of [`Migrations::run`] and [`Migrations::rollback`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MigrateOptions {
    /// Apply pending migrations up to this version (included) only; `None`: all of them. Not used by
    /// `rollback`, which takes a [`RollbackTo`].
    pub target: Option<i64>,
    /// Record the new checksum of applied migrations whose up file changed, instead of refusing to run.
    pub repair: bool,
    /// Go on when applied migrations are missing from the folder (an older release of the app).
    pub ignore_missing: bool,
    /// Run every migration of the call in one transaction (each in a savepoint): all or nothing.
    /// Refused when one of them is marked `-- no-transaction`.
    pub single_transaction: bool,
}

impl MigrateOptions {
    /// Sets [`target`](Self::target).
    pub fn target(mut self, version: Option<i64>) -> Self {
        self.target = version;
        self
    }

    /// Sets [`repair`](Self::repair).
    pub fn repair(mut self, repair: bool) -> Self {
        self.repair = repair;
        self
    }

    /// Sets [`ignore_missing`](Self::ignore_missing).
    pub fn ignore_missing(mut self, ignore: bool) -> Self {
        self.ignore_missing = ignore;
        self
    }

    /// Sets [`single_transaction`](Self::single_transaction).
    pub fn single_transaction(mut self, single: bool) -> Self {
        self.single_transaction = single;
        self
    }
}

/// How far [`Migrations::rollback`] goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackTo {
    /// Revert the latest `n` applied migrations.
    Steps(usize),
    /// Revert every applied migration above this version (`0`: all of them).
    Version(i64),
}

struct Row {
    version: i64,
    description: String,
    installed_on: f64,
    success: bool,
    checksum: Vec<u8>,
    execution_time: i64,
}

impl Migrations {
    /// Applies the pending migrations on the database at `url` (a libpq URL or `key=value` string, as
    /// [`Pool::connect`](crate::Pool::connect) reads it; `None`: `DATABASE_URL`, else the `PG*`
    /// variables).
    ///
    /// They run in version order, each in its own transaction (or all in one,
    /// with [`MigrateOptions::single_transaction`]), under sqlx's advisory lock. Returns what it
    /// applied (nothing when another runner did it first).
    pub async fn run(&self, url: Option<&str>, options: &MigrateOptions) -> Result<Vec<Applied>, MigrateError> {
        let mut conn = connect(url).await?;
        let outcome = match lock(&mut conn).await {
            Ok(()) => {
                let outcome = self.run_locked(&mut conn, options).await;
                unlock(&mut conn, outcome).await
            }
            Err(e) => Err(e),
        };
        close(conn).await;
        outcome
    }

    /// Reverts applied migrations, latest first, running their down files.
    pub async fn rollback(
        &self,
        url: Option<&str>,
        to: RollbackTo,
        options: &MigrateOptions,
    ) -> Result<Vec<Applied>, MigrateError> {
        let mut conn = connect(url).await?;
        let outcome = match lock(&mut conn).await {
            Ok(()) => {
                let outcome = self.rollback_locked(&mut conn, to, options).await;
                unlock(&mut conn, outcome).await
            }
            Err(e) => Err(e),
        };
        close(conn).await;
        outcome
    }

    /// Lists applied and pending migrations and the problems found. Takes no lock and creates nothing.
    pub async fn status(&self, url: Option<&str>) -> Result<Status, MigrateError> {
        let mut conn = connect(url).await?;
        let outcome = async {
            let rows = if table_exists(&mut conn).await? { applied_rows(&mut conn).await? } else { Vec::new() };
            Ok(self.compare(&rows))
        }
        .await;
        close(conn).await;
        outcome
    }

    fn compare(&self, rows: &[Row]) -> Status {
        let mut status = Status::default();
        for row in rows {
            let file = self.get(row.version);
            let checksum_matches = file.map(|f| f.checksum() == row.checksum.as_slice());
            if !row.success {
                status.problems.push(Problem::Failed { version: row.version });
            }
            match file {
                None => status
                    .problems
                    .push(Problem::Missing { version: row.version, description: row.description.clone() }),
                Some(f) if checksum_matches == Some(false) => {
                    status.problems.push(Problem::ChecksumChanged { version: row.version, file: f.up_file.clone() })
                }
                Some(_) => {}
            }
            status.applied.push(AppliedMigration {
                version: row.version,
                description: row.description.clone(),
                file: file.map(|f| f.up_file.clone()),
                installed_on: SystemTime::UNIX_EPOCH + Duration::from_secs_f64(row.installed_on.max(0.0)),
                execution_time: u64::try_from(row.execution_time).ok().map(Duration::from_nanos),
                success: row.success,
                checksum_matches,
                reversible: file.is_some_and(|f| f.down.is_some()),
            });
        }
        let latest = rows.last().map(|r| r.version);
        for f in &self.files {
            if rows.binary_search_by_key(&f.version, |r| r.version).is_ok() {
                continue;
            }
            if let Some(latest) = latest.filter(|latest| *latest > f.version) {
                status.problems.push(Problem::Gap {
                    version: f.version,
                    file: f.up_file.clone(),
                    latest_applied: latest,
                });
            }
            status.pending.push(PendingMigration {
                version: f.version,
                description: f.description.clone(),
                file: f.up_file.clone(),
                reversible: f.down.is_some(),
                no_transaction: f.up.no_tx,
            });
        }
        status.problems.sort_by_key(Problem::version);
        status
    }

    async fn run_locked(
        &self,
        conn: &mut PgConnection,
        options: &MigrateOptions,
    ) -> Result<Vec<Applied>, MigrateError> {
        conn.ensure_migrations_table().await.map_err(migrate_error("creating _sqlx_migrations"))?;
        let rows = applied_rows(conn).await?;
        let status = self.compare(&rows);
        let mut changed = Vec::new();
        let mut missing = Vec::new();
        for problem in &status.problems {
            match problem {
                Problem::Failed { version } => return Err(MigrateError::Dirty(*version)),
                Problem::ChecksumChanged { version, file } => changed.push((*version, file.clone())),
                Problem::Missing { version, .. } => missing.push(*version),
                Problem::Gap { .. } => {}
            }
        }
        if !changed.is_empty() && !options.repair {
            return Err(MigrateError::ChecksumChanged { files: changed.into_iter().map(|(_, f)| f).collect() });
        }
        if !missing.is_empty() && !options.ignore_missing {
            return Err(MigrateError::Missing { versions: missing });
        }
        let pending: Vec<&MigrationFile> = status
            .pending
            .iter()
            .filter(|p| options.target.is_none_or(|target| p.version <= target))
            .filter_map(|p| self.get(p.version))
            .collect();
        if options.single_transaction {
            if let Some(f) = pending.iter().find(|f| f.up.no_tx) {
                return Err(MigrateError::Usage(format!(
                    "{} is marked -- no-transaction and cannot run inside the single transaction",
                    f.up_file
                )));
            }
        }
        if options.single_transaction {
            let mut tx = conn.begin().await.map_err(MigrateError::db("BEGIN"))?;
            let applied = self.apply_pending(&mut tx, &changed, pending).await?;
            tx.commit().await.map_err(MigrateError::db("COMMIT"))?;
            Ok(applied)
        } else {
            self.apply_pending(conn, &changed, pending).await
        }
    }

    async fn apply_pending(
        &self,
        conn: &mut PgConnection,
        changed: &[(i64, String)],
        pending: Vec<&MigrationFile>,
    ) -> Result<Vec<Applied>, MigrateError> {
        for (version, _) in changed {
            if let Some(f) = self.get(*version) {
                sqlx::query("UPDATE _sqlx_migrations SET checksum = $1, description = $2 WHERE version = $3")
                    .bind(f.checksum())
                    .bind(&f.description)
                    .bind(f.version)
                    .execute(&mut *conn)
                    .await
                    .map_err(MigrateError::db(format!("repairing the checksum of {}", f.up_file)))?;
            }
        }
        let mut applied = Vec::with_capacity(pending.len());
        for f in pending {
            let elapsed = apply(conn, f, &f.up, &f.up_file, Direction::Up).await?;
            applied.push(Applied {
                version: f.version,
                description: f.description.clone(),
                file: f.up_file.clone(),
                elapsed,
            });
        }
        Ok(applied)
    }

    async fn rollback_locked(
        &self,
        conn: &mut PgConnection,
        to: RollbackTo,
        options: &MigrateOptions,
    ) -> Result<Vec<Applied>, MigrateError> {
        if !table_exists(conn).await? {
            return Ok(Vec::new());
        }
        let rows = applied_rows(conn).await?;
        let chosen: Vec<i64> = match to {
            RollbackTo::Steps(n) => rows.iter().rev().take(n).map(|r| r.version).collect(),
            RollbackTo::Version(target) => rows.iter().rev().map(|r| r.version).take_while(|v| *v > target).collect(),
        };
        let mut plan = Vec::with_capacity(chosen.len());
        for version in chosen {
            let f = self.get(version).ok_or_else(|| MigrateError::Missing { versions: vec![version] })?;
            let (Some(down), Some(down_file)) = (&f.down, &f.down_file) else {
                return Err(MigrateError::Irreversible { version, file: f.up_file.clone() });
            };
            if options.single_transaction && down.no_tx {
                return Err(MigrateError::Usage(format!(
                    "{down_file} is marked -- no-transaction and cannot run inside the single transaction"
                )));
            }
            plan.push((f, down, down_file));
        }
        if options.single_transaction {
            let mut tx = conn.begin().await.map_err(MigrateError::db("BEGIN"))?;
            let reverted = revert_all(&mut tx, plan).await?;
            tx.commit().await.map_err(MigrateError::db("COMMIT"))?;
            Ok(reverted)
        } else {
            revert_all(conn, plan).await
        }
    }
}

async fn revert_all(
    conn: &mut PgConnection,
    plan: Vec<(&MigrationFile, &Migration, &String)>,
) -> Result<Vec<Applied>, MigrateError> {
    let mut reverted = Vec::with_capacity(plan.len());
    for (f, down, down_file) in plan {
        let elapsed = apply(conn, f, down, down_file, Direction::Down).await?;
        reverted.push(Applied {
            version: f.version,
            description: f.description.clone(),
            file: down_file.clone(),
            elapsed,
        });
    }
    Ok(reverted)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// Runs one file and records it (or deletes its record), like sqlx's `Migrate::apply`/`revert`:
/// in a transaction (a savepoint inside the single transaction) unless marked `-- no-transaction`.
async fn apply(
    conn: &mut PgConnection,
    f: &MigrationFile,
    migration: &Migration,
    file: &str,
    direction: Direction,
) -> Result<Duration, MigrateError> {
    let start = Instant::now();
    if migration.no_tx {
        run_statements(conn, f.version, file, migration).await?;
        record(conn, f, direction).await?;
    } else {
        let mut tx = conn.begin().await.map_err(MigrateError::db("BEGIN"))?;
        run_statements(&mut tx, f.version, file, migration).await?;
        record(&mut tx, f, direction).await?;
        tx.commit().await.map_err(MigrateError::db(format!("committing {file}")))?;
    }
    let elapsed = start.elapsed();
    if direction == Direction::Up {
        sqlx::query("UPDATE _sqlx_migrations SET execution_time = $1 WHERE version = $2")
            .bind(i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
            .bind(f.version)
            .execute(&mut *conn)
            .await
            .map_err(MigrateError::db("recording the execution time"))?;
    }
    Ok(elapsed)
}

async fn record(conn: &mut PgConnection, f: &MigrationFile, direction: Direction) -> Result<(), MigrateError> {
    let done = match direction {
        Direction::Up => {
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES ($1, $2, TRUE, $3, -1)",
            )
            .bind(f.version)
            .bind(&f.description)
            .bind(f.checksum())
            .execute(conn)
            .await
        }
        Direction::Down => {
            sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(f.version).execute(conn).await
        }
    };
    done.map(|_| ()).map_err(MigrateError::db(format!("recording migration {}", f.version)))
}

async fn run_statements(
    conn: &mut PgConnection,
    version: i64,
    file: &str,
    migration: &Migration,
) -> Result<(), MigrateError> {
    let sql: &str = &migration.sql;
    for (index, statement) in split(sql).iter().enumerate() {
        let Err(source) = conn.execute(sqlx::raw_sql(statement.text)).await else {
            continue;
        };
        let db = source.as_database_error();
        let pg = db.and_then(|db| db.try_downcast_ref::<PgDatabaseError>());
        let statement_position = match pg.and_then(PgDatabaseError::position) {
            Some(PgErrorPosition::Original(at)) => Some(at),
            _ => None,
        };
        let error = StatementError {
            version,
            file: file.to_owned(),
            index: index + 1,
            line: statement.line,
            statement: statement.text.to_owned(),
            position: statement_position.map(|at| statement.file_position(sql, at)),
            statement_position,
            sqlstate: db.and_then(|db| db.code()).map(|c| c.into_owned()),
            message: db.map_or_else(|| source.to_string(), |db| db.message().to_owned()),
            detail: pg.and_then(PgDatabaseError::detail).map(str::to_owned),
            hint: pg.and_then(PgDatabaseError::hint).map(str::to_owned),
            no_transaction: migration.no_tx,
            source,
        };
        return Err(MigrateError::Statement(Box::new(error)));
    }
    Ok(())
}

async fn lock(conn: &mut PgConnection) -> Result<(), MigrateError> {
    conn.lock().await.map_err(migrate_error("taking the migration lock"))
}

/// Releases the lock taken by [`lock`], whatever `outcome` was.
async fn unlock<T>(conn: &mut PgConnection, outcome: Result<T, MigrateError>) -> Result<T, MigrateError> {
    let unlocked = conn.unlock().await.map_err(migrate_error("releasing the migration lock"));
    let value = outcome?;
    unlocked?;
    Ok(value)
}

fn migrate_error(context: &'static str) -> impl FnOnce(sqlx::migrate::MigrateError) -> MigrateError {
    move |e| match e {
        sqlx::migrate::MigrateError::Execute(source) => MigrateError::Database { context: context.into(), source },
        other => MigrateError::Usage(format!("{context}: {other}")),
    }
}

async fn table_exists(conn: &mut PgConnection) -> Result<bool, MigrateError> {
    sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(conn)
        .await
        .map_err(MigrateError::db("looking for _sqlx_migrations"))
}

async fn applied_rows(conn: &mut PgConnection) -> Result<Vec<Row>, MigrateError> {
    let rows: Vec<(i64, String, f64, bool, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT version, description, extract(epoch FROM installed_on)::float8, success, checksum, execution_time \
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(conn)
    .await
    .map_err(MigrateError::db("reading _sqlx_migrations"))?;
    Ok(rows
        .into_iter()
        .map(|(version, description, installed_on, success, checksum, execution_time)| Row {
            version,
            description,
            installed_on,
            success,
            checksum,
            execution_time,
        })
        .collect())
}

/// Compile-time check: the runner's futures are `Send`, so they can be `tokio::spawn`ed (sqlx's
/// generic executors easily make them not, through higher-ranked lifetimes).
#[cfg(test)]
mod send_check {
    use super::*;
    fn assert_send<T: Send>(_: T) {}
    #[allow(dead_code)]
    fn check(m: &Migrations, conn: &mut PgConnection, f: &MigrationFile, o: &MigrateOptions) {
        assert_send(table_exists(conn));
        assert_send(applied_rows(conn));
        assert_send(run_statements(conn, 1, "x", &f.up));
        assert_send(record(conn, f, Direction::Up));
        assert_send(apply(conn, f, &f.up, "x", Direction::Up));
        assert_send(m.apply_pending(conn, &[], vec![]));
        assert_send(m.run_locked(conn, o));
        assert_send(m.rollback_locked(conn, RollbackTo::Steps(1), o));
        assert_send(lock(conn));
        assert_send(m.status(Some("x")));
    }
}
