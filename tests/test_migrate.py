"""Schema migrations end to end: data_bridge.migrate / rollback / migration_status and the
``python -m data_bridge`` command line, each test in a scratch database of its own (its own
``_sqlx_migrations`` table and advisory lock)."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

import data_bridge
from data_bridge.migrations import (
    ChecksumMismatch,
    IrreversibleMigration,
    MigrationError,
    MissingMigration,
    new_migration,
)

from conftest import DSN

FIXTURES = Path(__file__).resolve().parent.parent / "engine" / "tests" / "migrations"

CATALOG = """
SELECT x FROM (
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
     WHERE n.nspname = 'public' AND conrelid <> coalesce(to_regclass('_sqlx_migrations')::oid, 0)
    UNION ALL
    SELECT format('function %s', p.oid::regprocedure) FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
) catalog ORDER BY x
"""


@pytest.fixture
def scratch(pg):
    """The URL of a database created for this test (dropped after it)."""
    name = f"py_migrate_{uuid.uuid4().hex[:12]}"
    pg.execute(f"CREATE DATABASE {name}")
    yield DSN.rsplit("/", 1)[0] + "/" + name
    pg.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def catalog(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(CATALOG)]


def recorded(url: str) -> dict[int, bytes]:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('_sqlx_migrations')").fetchone()[0] is None:
            return {}
        return {v: bytes(c) for v, c in conn.execute("SELECT version, checksum FROM _sqlx_migrations")}


def folder(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def test_apply_status_rollback_to_each_version_and_up_again(scratch, tmp_path):
    migrations = folder(tmp_path, "basic")
    status = data_bridge.migration_status(scratch, migrations)
    assert [p.version for p in status.pending] == [1, 2, 3]
    assert status.applied == [] and status.problems == [] and not status.ok

    catalogs = [catalog(scratch)]
    for version in (1, 2, 3):
        steps = data_bridge.migrate(scratch, migrations, target=version)
        assert [s.version for s in steps] == [version]
        catalogs.append(catalog(scratch))
    assert any(x.startswith("column orders.customer text NO") for x in catalogs[1])
    assert any("orders_status" in x for x in catalogs[2]) and not any("orders_status" in x for x in catalogs[1])
    assert any("items_quantity_check" in x for x in catalogs[3])
    assert data_bridge.migrate(scratch, migrations) == []

    status = data_bridge.migration_status(scratch, migrations)
    assert status.ok
    assert [(a.version, a.file, a.checksum_matches, a.reversible) for a in status.applied] == [
        (1, "0001_create_orders.up.sql", True, True),
        (2, "0002_add_status.up.sql", True, True),
        (3, "0003_create_items.up.sql", True, True),
    ]
    assert all(a.installed_on.tzinfo is not None and a.execution_time is not None for a in status.applied)
    assert "0002_add_status.up.sql" in str(status) and "no problems" in str(status)

    for target in (2, 1, 0):
        steps = data_bridge.rollback(scratch, migrations, target=target)
        assert [s.version for s in steps] == [target + 1]
        assert steps[0].file.endswith(".down.sql")
        assert catalog(scratch) == catalogs[target], f"after rollback to {target}"
        assert sorted(recorded(scratch)) == list(range(1, target + 1))

    assert [s.version for s in data_bridge.migrate(scratch, migrations)] == [1, 2, 3]
    assert catalog(scratch) == catalogs[3]
    assert [s.version for s in data_bridge.rollback(scratch, migrations)] == [3]
    assert [s.version for s in data_bridge.rollback(scratch, migrations, steps=2)] == [2, 1]
    assert catalog(scratch) == catalogs[0]


def test_accepts_a_database(scratch, tmp_path):
    migrations = folder(tmp_path, "basic")
    db = data_bridge.connect(scratch)
    try:
        assert len(data_bridge.migrate(db, str(migrations))) == 3
        assert db.read_arrow("SELECT count(*) AS n FROM _sqlx_migrations").to_pydict() == {"n": [3]}
        assert data_bridge.migration_status(db, migrations).ok
    finally:
        db.close()
    with pytest.raises(TypeError):
        data_bridge.migrate(42, migrations)


def test_a_failing_migration_names_the_statement_and_leaves_nothing(scratch, tmp_path):
    migrations = folder(tmp_path, "failing")
    with pytest.raises(MigrationError) as caught:
        data_bridge.migrate(scratch, migrations)
    e = caught.value
    assert isinstance(e, data_bridge.DatabaseError)
    assert (e.file, e.version, e.statement_index, e.line, e.position) == ("0002_broken.up.sql", 2, 3, 4, (6, 8))
    assert e.statement.startswith("UPDATE orders") and "no_such_column" in e.statement
    assert e.sqlstate == "42703"
    assert "no_such_column" in e.diag.message_primary and e.diag.statement_position is not None
    assert "0002_broken.up.sql: statement 3 (line 4) failed at line 6, column 8" in str(e)
    again = pickle.loads(pickle.dumps(e))
    assert (type(again), again.file, again.sqlstate, again.position) == (MigrationError, e.file, "42703", (6, 8))

    # 0001 applied; 0002 left neither tables nor a row; 0003 never ran.
    assert sorted(recorded(scratch)) == [1]
    assert not any("audit" in x or "after_broken" in x for x in catalog(scratch))
    status = data_bridge.migration_status(scratch, migrations)
    assert [p.version for p in status.pending] == [2, 3] and status.problems == []


def test_single_transaction_is_all_or_nothing(scratch, tmp_path):
    with pytest.raises(MigrationError):
        data_bridge.migrate(scratch, folder(tmp_path, "failing"), single_transaction=True)
    assert recorded(scratch) == {} and catalog(scratch) == []
    basic = folder(tmp_path, "basic")
    assert len(data_bridge.migrate(scratch, basic, single_transaction=True)) == 3
    assert len(data_bridge.rollback(scratch, basic, target=0, single_transaction=True)) == 3
    assert catalog(scratch) == []


def test_changed_checksum_is_refused_until_repaired(scratch, tmp_path):
    migrations = folder(tmp_path, "basic")
    data_bridge.migrate(scratch, migrations, target=2)
    before = recorded(scratch)
    up = migrations / "0001_create_orders.up.sql"
    up.write_text(up.read_text() + "\n-- a comment added later\n")

    status = data_bridge.migration_status(scratch, migrations)
    assert [(p.kind, p.version, p.file) for p in status.problems] == [
        ("checksum_changed", 1, "0001_create_orders.up.sql")
    ]
    assert status.applied[0].checksum_matches is False
    with pytest.raises(ChecksumMismatch) as caught:
        data_bridge.migrate(scratch, migrations)
    assert caught.value.files == ["0001_create_orders.up.sql"]
    assert recorded(scratch) == before

    assert [s.version for s in data_bridge.migrate(scratch, migrations, repair=True)] == [3]
    assert data_bridge.migration_status(scratch, migrations).ok
    assert recorded(scratch)[1] != before[1] and recorded(scratch)[2] == before[2]


def test_missing_gap_and_irreversible(scratch, tmp_path):
    migrations = folder(tmp_path, "basic")
    (migrations / "0004_seed.up.sql").write_text("INSERT INTO orders (customer) VALUES ('ada');\n")
    held_back = tmp_path / "0002_add_status.up.sql"
    shutil.move(migrations / "0002_add_status.up.sql", held_back)
    shutil.move(migrations / "0002_add_status.down.sql", tmp_path / "0002_add_status.down.sql")
    # Without 0002, 0003 cannot reference orders.status: it does not; apply 1, 3, 4.
    assert [s.version for s in data_bridge.migrate(scratch, migrations)] == [1, 3, 4]

    shutil.move(held_back, migrations / held_back.name)
    shutil.move(tmp_path / "0002_add_status.down.sql", migrations / "0002_add_status.down.sql")
    status = data_bridge.migration_status(scratch, migrations)
    assert [(p.kind, p.version) for p in status.problems] == [("gap", 2)]
    assert "not applied but the later migration 4 is" in status.problems[0].message
    assert [s.version for s in data_bridge.migrate(scratch, migrations)] == [2]

    # Irreversible: rollback refuses before reverting anything.
    with pytest.raises(IrreversibleMigration) as caught:
        data_bridge.rollback(scratch, migrations, steps=2)
    assert (caught.value.version, caught.value.file) == (4, "0004_seed.up.sql")
    assert "irreversible" in str(caught.value)
    assert sorted(recorded(scratch)) == [1, 2, 3, 4]

    (migrations / "0004_seed.up.sql").unlink()
    status = data_bridge.migration_status(scratch, migrations)
    assert [(p.kind, p.version) for p in status.problems] == [("missing", 4)]
    with pytest.raises(MissingMigration):
        data_bridge.migrate(scratch, migrations)
    assert data_bridge.migrate(scratch, migrations, ignore_missing=True) == []


def test_no_transaction_marker_runs_create_index_concurrently(scratch, tmp_path):
    migrations = folder(tmp_path, "concurrently")
    status = data_bridge.migration_status(scratch, migrations)
    assert [p.no_transaction for p in status.pending] == [False, True]
    with pytest.raises(data_bridge.ProgrammingError, match="no-transaction"):
        data_bridge.migrate(scratch, migrations, single_transaction=True)
    assert len(data_bridge.migrate(scratch, migrations)) == 2
    with psycopg.connect(scratch) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname IN ('orders_customer', 'orders_total') ORDER BY 1"
        ).fetchall()
    assert rows == [("orders_customer", True), ("orders_total", True)]
    data_bridge.rollback(scratch, migrations)
    assert not any("orders_customer" in x for x in catalog(scratch))


def slow_folder(tmp_path: Path) -> Path:
    """The basic folder plus a migration that holds the lock for a while, so runners overlap."""
    migrations = folder(tmp_path, "basic")
    (migrations / "0004_slow.up.sql").write_text("SELECT pg_sleep(0.5);\nCREATE TABLE slow (id int);\n")
    return migrations


def test_concurrent_threads_apply_each_migration_once(scratch, tmp_path):
    migrations = slow_folder(tmp_path)
    results: list = []
    errors: list = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            results.extend(s.version for s in data_bridge.migrate(scratch, migrations))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [1, 2, 3, 4]
    assert sorted(recorded(scratch)) == [1, 2, 3, 4]


def cli(*args: str, env_url: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if env_url is not None:
        env["DATABASE_URL"] = env_url
    return subprocess.run([sys.executable, "-m", "data_bridge", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_concurrent_processes_apply_each_migration_once(scratch, tmp_path):
    migrations = slow_folder(tmp_path)
    command = [sys.executable, "-m", "data_bridge", "migrate", "--dir", str(migrations), "--url", scratch]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    applied = [line.split()[1] for out, _ in outputs for line in out.splitlines() if line.strip().startswith("apply")]
    assert sorted(applied) == [
        "0001_create_orders.up.sql", "0002_add_status.up.sql", "0003_create_items.up.sql", "0004_slow.up.sql"
    ]
    assert sum("nothing to apply" in out for out, _ in outputs) == 2
    assert sorted(recorded(scratch)) == [1, 2, 3, 4]


def test_cli_end_to_end(scratch, tmp_path):
    migrations = tmp_path / "migrations"
    done = cli("new", "create widgets", "--dir", str(migrations))
    assert done.returncode == 0, done.stderr
    assert "0001_create_widgets.up.sql" in done.stdout
    (migrations / "0001_create_widgets.up.sql").write_text("CREATE TABLE widgets (id int PRIMARY KEY);\n")
    (migrations / "0001_create_widgets.down.sql").write_text("DROP TABLE widgets;\n")
    done = cli("new", "Add Widget Name!", "--dir", str(migrations))
    assert sorted(p.name for p in migrations.iterdir()) == [
        "0001_create_widgets.down.sql", "0001_create_widgets.up.sql",
        "0002_add_widget_name.down.sql", "0002_add_widget_name.up.sql",
    ]
    (migrations / "0002_add_widget_name.up.sql").write_text("ALTER TABLE widgets ADD COLUMN name text;\n")
    (migrations / "0002_add_widget_name.down.sql").write_text("ALTER TABLE widgets DROP COLUMN name;\n")

    done = cli("status", "--dir", str(migrations), "--check", env_url=scratch)
    assert done.returncode == 3 and "pending" in done.stdout
    done = cli("migrate", "--dir", str(migrations), env_url=scratch)  # the URL from $DATABASE_URL
    assert done.returncode == 0, done.stderr
    assert "0001_create_widgets.up.sql" in done.stdout and "0002_add_widget_name.up.sql" in done.stdout
    done = cli("status", "--dir", str(migrations), "--url", scratch, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["version", "state", "file", "applied", "at", "(UTC)"]
    assert lines[1].split()[:3] == ["1", "applied", "0001_create_widgets.up.sql"]
    assert "2 applied, 0 pending, no problems" in done.stdout

    done = cli("rollback", "--dir", str(migrations), "--url", scratch)
    assert done.returncode == 0 and "0002_add_widget_name.down.sql" in done.stdout
    assert sorted(recorded(scratch)) == [1]

    (migrations / "0001_create_widgets.up.sql").write_text("CREATE TABLE widgets (id bigint PRIMARY KEY);\n")
    done = cli("status", "--dir", str(migrations), "--url", scratch)
    assert done.returncode == 3 and "problem: 0001_create_widgets.up.sql changed" in done.stdout
    done = cli("migrate", "--dir", str(migrations), "--url", scratch)
    assert done.returncode == 1 and "checksum" in done.stderr
    done = cli("migrate", "--dir", str(migrations), "--url", scratch, "--repair")
    assert done.returncode == 0, done.stderr

    (migrations / "0003_bad.up.sql").write_text("SELECT 1;\nSELEC 2;\n")
    done = cli("migrate", "--dir", str(migrations), "--url", scratch)
    assert done.returncode == 1
    assert "0003_bad.up.sql: statement 2 (line 2) failed at line 2, column 1" in done.stderr
    assert "syntax error" in done.stderr

    done = cli("rollback", "--steps", "1", "--target", "0", "--dir", str(migrations), "--url", scratch)
    assert done.returncode == 2  # argparse: not both
    done = cli("status", "--dir", str(migrations), "--url", scratch.rsplit("/", 1)[0] + "/no_such_database_xyz")
    assert done.returncode == 1 and "error:" in done.stderr


def test_new_migration_numbers_after_the_highest(tmp_path):
    (tmp_path / "20240101_start.up.sql").write_text("")
    paths = new_migration(tmp_path, "next", reversible=False)
    assert [Path(p).name for p in paths] == ["20240102_next.up.sql"]
    with pytest.raises(data_bridge.ProgrammingError):
        new_migration(tmp_path, "!!!")


def test_bad_folder_and_arguments(scratch, tmp_path):
    (tmp_path / "abc_oops.up.sql").write_text("SELECT 1;")
    with pytest.raises(data_bridge.ProgrammingError, match="abc_oops.up.sql"):
        data_bridge.migrate(scratch, tmp_path)
    with pytest.raises(data_bridge.ProgrammingError):
        data_bridge.migration_status(scratch, tmp_path / "does-not-exist")
    with pytest.raises(data_bridge.ProgrammingError):
        data_bridge.rollback(scratch, tmp_path, steps=1, target=0)


def test_a_runtime_error_without_position_still_names_the_statement(scratch, tmp_path):
    (tmp_path / "0001_dupes.up.sql").write_text(
        "CREATE TABLE t (id int PRIMARY KEY);\n"
        "-- the second insert collides\n"
        "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (1);\n"
    )
    with pytest.raises(MigrationError) as caught:
        data_bridge.migrate(scratch, tmp_path)
    e = caught.value
    assert (e.statement_index, e.line, e.position, e.sqlstate) == (3, 4, None, "23505")
    assert e.statement == "INSERT INTO t VALUES (1)"
    assert "Key (id)=(1) already exists" in (e.diag.message_detail or "")
    assert recorded(scratch) == {} and catalog(scratch) == []
