//! The migration runner against a real PostgreSQL (DATABASE_URL, default the local test database).
//! Each test runs in a scratch database of its own, so the metadata table and the advisory lock
//! (keyed on the database name) are its own too.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;

use data_bridge_postgres::embed_migrations;
use data_bridge_postgres::migrate::{MigrateError, MigrateOptions, Migrations, Problem, RollbackTo};
use data_bridge_postgres::runtime::runtime;
use sqlx::{Connection, PgConnection};

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".into())
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/migrations").join(name)
}

/// A database created for one test and dropped when it ends.
struct Scratch {
    name: String,
    url: String,
}

impl Scratch {
    async fn new(tag: &str) -> Scratch {
        let name = format!("engine_migrate_{tag}_{}", std::process::id());
        let mut admin = PgConnection::connect(&url()).await.unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
        let base = url();
        let (server, _) = base.rsplit_once('/').unwrap();
        let url = format!("{server}/{name}");
        Scratch { name, url }
    }

    fn url(&self) -> Option<&str> {
        Some(&self.url)
    }

    async fn conn(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    /// The user-visible schema: columns, indexes, constraints and functions of `public`.
    async fn catalog(&self) -> Vec<String> {
        let mut conn = self.conn().await;
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT x FROM (
                SELECT format('column %s.%s %s %s %s', table_name, column_name, data_type, is_nullable,
                              coalesce(column_default, '')) AS x
                  FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'
                UNION ALL
                SELECT format('index %s', indexdef) FROM pg_indexes
                 WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations'
                UNION ALL
                SELECT format('constraint %s %s', conname, pg_get_constraintdef(c.oid))
                  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                 WHERE n.nspname = 'public' AND conrelid <> to_regclass('_sqlx_migrations')::oid
                UNION ALL
                SELECT format('function %s', p.oid::regprocedure) FROM pg_proc p
                  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
                UNION ALL
                SELECT format('comment %s %s', c.relname, obj_description(c.oid, 'pg_class')) FROM pg_class c
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND obj_description(c.oid, 'pg_class') IS NOT NULL
            ) catalog ORDER BY x",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        rows.into_iter().map(|(x,)| x).collect()
    }

    /// `version -> checksum` of `_sqlx_migrations` (empty when the table is absent).
    async fn recorded(&self) -> BTreeMap<i64, Vec<u8>> {
        let mut conn = self.conn().await;
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if !exists {
            return BTreeMap::new();
        }
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations").fetch_all(&mut conn).await.unwrap();
        rows.into_iter().collect()
    }

    async fn drop(self) {
        let mut admin = PgConnection::connect(&url()).await.unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

fn options() -> MigrateOptions {
    MigrateOptions::default()
}

#[test]
fn apply_status_rollback_to_each_version_and_up_again() {
    runtime().block_on(async {
        let db = Scratch::new("roundtrip").await;
        let migrations = Migrations::from_dir(fixture("basic")).unwrap();
        let status = migrations.status(db.url()).await.unwrap();
        assert_eq!(status.pending.len(), 3);
        assert!(status.applied.is_empty() && status.problems.is_empty());

        // Up one version at a time, keeping the catalog at each.
        let mut catalogs = vec![db.catalog().await];
        for version in 1..=3 {
            let applied = migrations.run(db.url(), &options().target(Some(version))).await.unwrap();
            assert_eq!(applied.iter().map(|a| a.version).collect::<Vec<_>>(), [version]);
            catalogs.push(db.catalog().await);
        }
        assert!(catalogs[1].iter().any(|x| x.starts_with("column orders.customer text NO")), "{:?}", catalogs[1]);
        assert!(catalogs[2].iter().any(|x| x.contains("orders_status")));
        assert!(catalogs[2].iter().any(|x| x.contains("function order_label(orders)")));
        assert!(catalogs[3].iter().any(|x| x.contains("items_quantity_check")));
        assert!(migrations.run(db.url(), &options()).await.unwrap().is_empty());

        let status = migrations.status(db.url()).await.unwrap();
        assert!(status.pending.is_empty() && status.problems.is_empty());
        assert_eq!(status.applied.iter().map(|a| a.version).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(status.applied.iter().all(|a| a.success && a.checksum_matches == Some(true) && a.reversible));
        assert!(status.applied.iter().all(|a| a.execution_time.is_some()));

        // Down to each version, then all the way up again.
        for target in (0..3).rev() {
            let reverted = migrations.rollback(db.url(), RollbackTo::Version(target), &options()).await.unwrap();
            assert_eq!(reverted.len(), 1);
            assert_eq!(db.catalog().await, catalogs[target as usize], "after rollback to {target}");
            assert_eq!(db.recorded().await.len(), target as usize);
        }
        assert_eq!(migrations.run(db.url(), &options()).await.unwrap().len(), 3);
        assert_eq!(db.catalog().await, catalogs[3]);
        let reverted = migrations.rollback(db.url(), RollbackTo::Steps(2), &options()).await.unwrap();
        assert_eq!(
            reverted.iter().map(|r| r.file.as_str()).collect::<Vec<_>>(),
            ["0003_create_items.down.sql", "0002_add_status.down.sql"]
        );
        assert_eq!(db.catalog().await, catalogs[1]);
        db.drop().await;
    });
}

#[test]
fn embedded_folder_matches_the_folder_on_disk() {
    let embedded = embed_migrations!("$CARGO_MANIFEST_DIR/tests/migrations/basic").unwrap();
    let on_disk = Migrations::from_dir(fixture("basic")).unwrap();
    let summary = |m: &Migrations| {
        m.iter().map(|f| (f.version, f.up_file.clone(), f.down_file.clone(), f.checksum().to_vec())).collect::<Vec<_>>()
    };
    assert_eq!(summary(&embedded), summary(&on_disk));
    runtime().block_on(async {
        let db = Scratch::new("embedded").await;
        assert_eq!(embedded.run(db.url(), &options()).await.unwrap().len(), 3);
        // The same folder read from disk sees the same checksums: nothing to do, nothing wrong.
        let status = on_disk.status(db.url()).await.unwrap();
        assert!(status.pending.is_empty() && status.problems.is_empty(), "{status:?}");
        db.drop().await;
    });
}

#[test]
fn a_failing_migration_rolls_back_and_names_the_statement() {
    runtime().block_on(async {
        let db = Scratch::new("failing").await;
        let migrations = Migrations::from_dir(fixture("failing")).unwrap();
        let error = migrations.run(db.url(), &options()).await.unwrap_err();
        let MigrateError::Statement(failed) = &error else { panic!("{error:?}") };
        assert_eq!(failed.file, "0002_broken.up.sql");
        assert_eq!((failed.index, failed.line), (3, 4));
        assert!(failed.statement.starts_with("UPDATE orders"), "{}", failed.statement);
        assert_eq!(failed.sqlstate.as_deref(), Some("42703"));
        assert_eq!(failed.position, Some((6, 8)));
        let text = error.to_string();
        assert!(text.contains("0002_broken.up.sql: statement 3 (line 4)"), "{text}");
        assert!(text.contains("no_such_column"), "{text}");

        // 0001 stays applied; 0002 left nothing behind, in the schema or in the metadata.
        assert_eq!(db.recorded().await.keys().copied().collect::<Vec<_>>(), [1]);
        let catalog = db.catalog().await;
        assert!(!catalog.iter().any(|x| x.contains("audit")), "{catalog:?}");

        // All in one transaction: nothing at all is left.
        let db2 = Scratch::new("failing_single").await;
        let error = migrations.run(db2.url(), &options().single_transaction(true)).await.unwrap_err();
        assert!(matches!(error, MigrateError::Statement(_)));
        assert!(db2.recorded().await.is_empty());
        assert!(db2.catalog().await.is_empty());
        db.drop().await;
        db2.drop().await;
    });
}

#[test]
fn single_transaction_applies_everything() {
    runtime().block_on(async {
        let db = Scratch::new("single").await;
        let migrations = Migrations::from_dir(fixture("basic")).unwrap();
        assert_eq!(migrations.run(db.url(), &options().single_transaction(true)).await.unwrap().len(), 3);
        assert_eq!(db.recorded().await.len(), 3);
        let reverted =
            migrations.rollback(db.url(), RollbackTo::Version(0), &options().single_transaction(true)).await.unwrap();
        assert_eq!(reverted.len(), 3);
        assert!(db.catalog().await.is_empty());
        db.drop().await;
    });
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(name, sql)| (name.to_string(), sql.to_string())).collect()
}

#[test]
fn changed_checksum_is_refused_until_repaired() {
    runtime().block_on(async {
        let db = Scratch::new("checksum").await;
        let first = Migrations::from_files("mem", files(&[("1_a.up.sql", "CREATE TABLE a (x int);")])).unwrap();
        first.run(db.url(), &options()).await.unwrap();
        let edited = Migrations::from_files(
            "mem",
            files(&[("1_a.up.sql", "CREATE TABLE a (x int); -- edited"), ("2_b.up.sql", "CREATE TABLE b (x int);")]),
        )
        .unwrap();
        let status = edited.status(db.url()).await.unwrap();
        assert_eq!(status.problems, [Problem::ChecksumChanged { version: 1, file: "1_a.up.sql".into() }]);
        let error = edited.run(db.url(), &options()).await.unwrap_err();
        assert!(matches!(&error, MigrateError::ChecksumChanged { files } if files == &["1_a.up.sql"]), "{error}");
        assert_eq!(db.recorded().await.len(), 1);

        let applied = edited.run(db.url(), &options().repair(true)).await.unwrap();
        assert_eq!(applied.len(), 1);
        assert!(edited.status(db.url()).await.unwrap().problems.is_empty());
        assert_eq!(db.recorded().await[&1], edited.get(1).unwrap().checksum());
        db.drop().await;
    });
}

#[test]
fn missing_gaps_and_irreversible_migrations() {
    runtime().block_on(async {
        let db = Scratch::new("problems").await;
        let all = Migrations::from_files(
            "mem",
            files(&[
                ("1_a.up.sql", "CREATE TABLE a (x int);"),
                ("1_a.down.sql", "DROP TABLE a;"),
                ("2_b.sql", "CREATE TABLE b (x int);"),
                ("3_c.up.sql", "CREATE TABLE c (x int);"),
                ("3_c.down.sql", "DROP TABLE c;"),
            ]),
        )
        .unwrap();
        let without_2 = Migrations::from_files(
            "mem",
            all.iter().filter(|f| f.version != 2).flat_map(|f| {
                let mut out = vec![(f.up_file.clone(), f.up_sql().to_owned())];
                out.extend(f.down_file.clone().zip(f.down_sql().map(str::to_owned)));
                out
            }),
        )
        .unwrap();
        without_2.run(db.url(), &options()).await.unwrap();
        // With 2 back in the folder: a gap, which run applies.
        let status = all.status(db.url()).await.unwrap();
        assert_eq!(status.problems, [Problem::Gap { version: 2, file: "2_b.sql".into(), latest_applied: 3 }]);
        assert_eq!(all.run(db.url(), &options()).await.unwrap().len(), 1);
        // Without it: applied but missing.
        let status = without_2.status(db.url()).await.unwrap();
        assert_eq!(status.problems, [Problem::Missing { version: 2, description: "b".into() }]);
        assert!(matches!(without_2.run(db.url(), &options()).await, Err(MigrateError::Missing { .. })));
        assert!(without_2.run(db.url(), &options().ignore_missing(true)).await.unwrap().is_empty());

        // Rolling back past 2 stops before doing anything: it has no down file.
        let error = all.rollback(db.url(), RollbackTo::Version(0), &options()).await.unwrap_err();
        assert!(matches!(&error, MigrateError::Irreversible { version: 2, .. }), "{error}");
        assert!(error.to_string().contains("2_b.sql is irreversible"), "{error}");
        assert_eq!(db.recorded().await.len(), 3);
        assert_eq!(all.rollback(db.url(), RollbackTo::Steps(1), &options()).await.unwrap().len(), 1);
        db.drop().await;
    });
}

#[test]
fn concurrent_runners_apply_each_migration_once() {
    runtime().block_on(async {
        let db = Scratch::new("concurrent").await;
        let migrations = std::sync::Arc::new(Migrations::from_dir(fixture("basic")).unwrap());
        let runners: Vec<_> = (0..4)
            .map(|_| {
                let (migrations, url) = (migrations.clone(), db.url.clone());
                tokio::spawn(async move { migrations.run(Some(url.as_str()), &MigrateOptions::default()).await })
            })
            .collect();
        let mut versions = Vec::new();
        for runner in runners {
            versions.extend(runner.await.unwrap().unwrap().into_iter().map(|a| a.version));
        }
        versions.sort();
        assert_eq!(versions, [1, 2, 3]);
        assert_eq!(db.recorded().await.len(), 3);
        db.drop().await;
    });
}

#[test]
fn no_transaction_marker_runs_create_index_concurrently() {
    runtime().block_on(async {
        let db = Scratch::new("concurrently").await;
        let migrations = Migrations::from_dir(fixture("concurrently")).unwrap();
        assert!(migrations.get(2).unwrap().no_transaction());
        let error = migrations.run(db.url(), &options().single_transaction(true)).await.unwrap_err();
        assert!(matches!(error, MigrateError::Usage(_)), "{error}");
        assert_eq!(migrations.run(db.url(), &options()).await.unwrap().len(), 2);
        let mut conn = db.conn().await;
        let valid: Vec<(String, bool)> = sqlx::query_as(
            "SELECT c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relname IN ('orders_customer', 'orders_total') ORDER BY 1",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(valid, [("orders_customer".into(), true), ("orders_total".into(), true)]);
        migrations.rollback(db.url(), RollbackTo::Steps(1), &options()).await.unwrap();
        assert!(!db.catalog().await.iter().any(|x| x.contains("orders_customer")));
        conn.close().await.unwrap();
        db.drop().await;
    });
}

#[test]
fn the_metadata_is_sqlx_s_own() {
    // A database half-migrated by sqlx's own Migrator is read and finished by ours, and sqlx then
    // finds nothing to do and nothing changed: same table, checksums and descriptions.
    runtime().block_on(async {
        let db = Scratch::new("sqlx_compat").await;
        let dir = tempdir("sqlx_compat");
        for name in ["0001_create_orders.up.sql", "0001_create_orders.down.sql"] {
            std::fs::copy(fixture("basic").join(name), dir.join(name)).unwrap();
        }
        let sqlx_migrator = sqlx::migrate::Migrator::new(dir.clone()).await.unwrap();
        let mut conn = db.conn().await;
        sqlx_migrator.run(&mut conn).await.unwrap();

        let ours = Migrations::from_dir(fixture("basic")).unwrap();
        let status = ours.status(db.url()).await.unwrap();
        assert!(status.problems.is_empty(), "{status:?}");
        assert_eq!(status.applied.len(), 1);
        assert_eq!(status.applied[0].description, "create orders");
        assert_eq!(ours.run(db.url(), &options()).await.unwrap().len(), 2);

        for entry in std::fs::read_dir(fixture("basic")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        let sqlx_migrator = sqlx::migrate::Migrator::new(dir.clone()).await.unwrap();
        sqlx_migrator.run(&mut conn).await.unwrap();
        // sqlx reverts what ours applied, down to version 1.
        sqlx_migrator.undo(&mut conn, 1).await.unwrap();
        conn.close().await.unwrap();
        assert_eq!(db.recorded().await.keys().copied().collect::<Vec<_>>(), [1]);
        assert!(ours.status(db.url()).await.unwrap().problems.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
        db.drop().await;
    });
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("engine_migrate_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
