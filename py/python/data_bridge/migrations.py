"""Schema migrations: versioned SQL files applied in order, reversible, safe under concurrency.

A migrations folder holds ``<VERSION>_<NAME>.up.sql`` files, each with an optional
``<VERSION>_<NAME>.down.sql`` (without one, the migration is irreversible). A file whose first
line starts with ``-- no-transaction`` runs outside a transaction, statement by statement (for
``CREATE INDEX CONCURRENTLY``)::

    migrations/
        0001_create_orders.up.sql
        0001_create_orders.down.sql
        0002_index_orders.up.sql      -- starts with "-- no-transaction"

>>> import data_bridge
>>> db = data_bridge.connect("postgresql://postgres@127.0.0.1:5432/test")
>>> data_bridge.migrate(db, "migrations/")             # doctest: +SKIP
[Step(version=1, description='create orders', file='0001_create_orders.up.sql', ...)]
>>> print(data_bridge.migration_status(db, "migrations/"))   # doctest: +SKIP
>>> data_bridge.rollback(db, "migrations/", steps=1)    # doctest: +SKIP

The runner is the engine's (Rust, on sqlx's migrate module). It keeps sqlx's metadata table,
``_sqlx_migrations`` (``version``, ``description``, ``installed_on``, ``success``, ``checksum``:
SHA-384 of the up file, ``execution_time`` in nanoseconds), in the first schema of the
``search_path``. Each migration runs in one transaction with its row, so a failure leaves both the
schema and the table as they were. A PostgreSQL advisory lock serialises runners: two app
instances booting at once apply each migration once, the second finding the work done.

The command line: ``python -m data_bridge migrate|rollback|status|new NAME --dir migrations/
--url URL``.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from typing import Any, List, Optional, Union

from . import _native, errors

__all__ = [
    "migrate", "rollback", "migration_status", "new_migration", "MigrationStatus", "AppliedMigration",
    "PendingMigration", "Problem", "Step", "MigrationError", "ChecksumMismatch", "MissingMigration",
    "IrreversibleMigration",
]

DbOrUrl = Union[str, Any, None]


class MigrationError(errors.DatabaseError):
    """A migration could not be applied or reverted.

    For a failing statement: ``file``, ``version``, ``statement`` (its text), ``statement_index``
    (1-based), ``line`` (where it starts in the file), ``position`` (``(line, column)`` in the file
    of the server's error position, or None), ``sqlstate`` and ``diag`` (the server's message,
    detail, hint and position in the statement).
    """

    file: Optional[str] = None
    version: Optional[int] = None
    statement: Optional[str] = None
    statement_index: Optional[int] = None
    line: Optional[int] = None
    position: Optional[tuple] = None

    def __init__(self, *args: Any, sqlstate: Optional[str] = None, diag: Optional[dict] = None,
                 **fields: Any) -> None:
        super().__init__(*args, sqlstate=sqlstate, diag=diag)
        self._fields = fields
        for name, value in fields.items():
            setattr(self, name, tuple(value) if name == "position" and value is not None else value)

    def __reduce__(self) -> Any:
        diag = {name: getattr(self.diag, name) for name in errors.Diagnostic._FIELDS}
        return (_rebuild, (type(self), self.args, self.sqlstate, diag, self._fields))


def _rebuild(cls: type, args: tuple, sqlstate: Optional[str], diag: dict, fields: dict) -> MigrationError:
    return cls(*args, sqlstate=sqlstate, diag=diag, **fields)


class ChecksumMismatch(MigrationError):
    """Applied migrations whose up file changed since (``files``); pass ``repair=True`` to record
    the new checksums."""

    files: List[str] = []


class MissingMigration(MigrationError):
    """Applied migrations missing from the folder (``versions``); pass ``ignore_missing=True``
    to go on."""

    versions: List[int] = []


class IrreversibleMigration(MigrationError):
    """A rollback needs a migration that has no down file (``version``, ``file``)."""


_KINDS = {
    "checksum_changed": ChecksumMismatch,
    "missing": MissingMigration,
    "irreversible": IrreversibleMigration,
}


def _make_error(kind: str, message: str, fields: Optional[dict]) -> Exception:
    """Called by the native module to build the exception it raises."""
    fields = dict(fields or {})
    if kind == "usage":
        return errors.ProgrammingError(message)
    if kind == "source":
        return errors.ProgrammingError(message)
    if kind == "database":
        return errors._make("operational", message, fields.get("sqlstate"), None)
    sqlstate = fields.pop("sqlstate", None)
    diag = fields.pop("diag", None)
    return _KINDS.get(kind, MigrationError)(message, sqlstate=sqlstate, diag=diag, **fields)


@dataclass(frozen=True)
class Step:
    """A migration applied (its up file) or reverted (its down file) by a call."""

    version: int
    description: str
    file: str
    elapsed: _dt.timedelta


@dataclass(frozen=True)
class AppliedMigration:
    """A row of the metadata table, matched with the folder."""

    version: int
    description: str
    #: The up file, or None when the folder no longer has it.
    file: Optional[str]
    installed_on: _dt.datetime
    execution_time: Optional[_dt.timedelta]
    success: bool
    #: Whether the up file still has the recorded checksum (None: the file is missing).
    checksum_matches: Optional[bool]
    reversible: bool


@dataclass(frozen=True)
class PendingMigration:
    """A migration of the folder not applied yet."""

    version: int
    description: str
    file: str
    reversible: bool
    no_transaction: bool


@dataclass(frozen=True)
class Problem:
    """Something wrong: ``kind`` is ``"checksum_changed"``, ``"missing"`` (applied, not in the
    folder), ``"gap"`` (not applied while a later version is) or ``"failed"``."""

    kind: str
    version: int
    message: str
    file: Optional[str] = None


@dataclass(frozen=True)
class MigrationStatus:
    """What :func:`migration_status` found: applied and pending migrations, and problems."""

    applied: List[AppliedMigration]
    pending: List[PendingMigration]
    problems: List[Problem]

    @property
    def ok(self) -> bool:
        """No problems and nothing pending."""
        return not self.problems and not self.pending

    def __str__(self) -> str:
        rows = [("version", "state", "file", "applied at (UTC)")]
        for a in self.applied:
            state = "applied" if a.checksum_matches is not False else "changed"
            if a.file is None:
                state = "missing"
            rows.append((str(a.version), state, a.file or a.description,
                         a.installed_on.strftime("%Y-%m-%d %H:%M:%S")))
        for p in self.pending:
            rows.append((str(p.version), "pending", p.file, ""))
        rows.sort(key=lambda r: int(r[0]) if r[0].isdigit() else -1)
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip() for r in rows]
        lines.extend(f"problem: {p.message}" for p in self.problems)
        if not self.problems:
            lines.append(f"{len(self.applied)} applied, {len(self.pending)} pending, no problems")
        return "\n".join(lines)


def _url(db: DbOrUrl) -> Optional[str]:
    """The URL to connect with: ``db`` itself (a string, or None for ``DATABASE_URL``/``PG*``),
    or the ``url`` of a Database."""
    if db is None or isinstance(db, str):
        return db
    url = getattr(db, "url", None)
    if url is None and not hasattr(db, "url"):
        raise TypeError(f"expected a data_bridge.Database or a URL string, not {type(db).__name__}")
    return url


def _steps(raw: List[dict]) -> List[Step]:
    return [Step(r["version"], r["description"], r["file"], _dt.timedelta(seconds=r["elapsed"])) for r in raw]


def migrate(db: DbOrUrl, directory: Union[str, "os.PathLike[str]"] = "migrations/", target: Optional[int] = None,
            *, repair: bool = False, ignore_missing: bool = False, single_transaction: bool = False) -> List[Step]:
    """Applies the pending migrations of ``directory`` in version order; returns what it applied.

    ``db`` is a :class:`data_bridge.Database` (the runner opens its own connection with the
    Database's URL) or a URL. ``target``: stop after this version. Each migration runs in its own
    transaction, or all of them in one with ``single_transaction=True``. Refuses to run
    (:class:`ChecksumMismatch`) when an applied file changed, unless ``repair=True``, which records
    the new checksums; refuses (:class:`MissingMigration`) when applied migrations are missing from
    the folder, unless ``ignore_missing=True``. A failing statement raises :class:`MigrationError`
    naming the file, the statement and the server's position; its migration leaves no trace.
    """
    raw = _native.migrate(_url(db), os.fspath(directory), target, repair, ignore_missing, single_transaction)
    return _steps(raw)


def rollback(db: DbOrUrl, directory: Union[str, "os.PathLike[str]"] = "migrations/", steps: Optional[int] = None,
             *, target: Optional[int] = None, single_transaction: bool = False) -> List[Step]:
    """Reverts applied migrations, latest first, with their down files: the last ``steps`` (default
    1), or every one above version ``target`` (``target=0``: all). Raises
    :class:`IrreversibleMigration`, before reverting anything, when one of them has no down file.
    """
    if steps is not None and target is not None:
        raise errors.ProgrammingError("give steps or target, not both")
    if steps is not None and steps < 0:
        raise errors.ProgrammingError("steps must not be negative")
    raw = _native.rollback(_url(db), os.fspath(directory), steps, target, single_transaction)
    return _steps(raw)


def migration_status(db: DbOrUrl, directory: Union[str, "os.PathLike[str]"] = "migrations/") -> MigrationStatus:
    """Lists the applied and pending migrations of ``directory``, and problems: a checksum changed
    after being applied, an applied migration missing from the folder, a gap (a migration not
    applied while a later one is). Takes no lock and creates nothing; ``str()`` of the result is a
    table."""
    raw = _native.migration_status(_url(db), os.fspath(directory))
    utc = _dt.timezone.utc
    applied = [
        AppliedMigration(
            version=a["version"], description=a["description"], file=a["file"],
            installed_on=_dt.datetime.fromtimestamp(a["installed_on"], utc),
            execution_time=None if a["execution_time"] is None else _dt.timedelta(seconds=a["execution_time"]),
            success=a["success"], checksum_matches=a["checksum_matches"], reversible=a["reversible"],
        )
        for a in raw["applied"]
    ]
    pending = [PendingMigration(**p) for p in raw["pending"]]
    problems = [Problem(**p) for p in raw["problems"]]
    return MigrationStatus(applied, pending, problems)


def new_migration(directory: Union[str, "os.PathLike[str]"], name: str, reversible: bool = True) -> List[str]:
    """Creates empty ``NNNN_name.up.sql`` and ``NNNN_name.down.sql`` files (just ``.up.sql`` when
    not ``reversible``) with the next version number; returns their paths."""
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    versions = []
    width = 4
    for entry in os.listdir(directory):
        head, sep, _ = entry.partition("_")
        if sep and head.isdigit() and entry.endswith(".sql"):
            versions.append(int(head))
            width = max(width, len(head))
    slug = "".join(c.lower() if c.isascii() and c.isalnum() else "_" for c in name).strip("_")
    if not slug:
        raise errors.ProgrammingError(f"migration name {name!r} has no letters or digits")
    stem = f"{max(versions, default=0) + 1:0{width}d}_{slug}"
    paths = [os.path.join(directory, f"{stem}.up.sql")]
    if reversible:
        paths.append(os.path.join(directory, f"{stem}.down.sql"))
    for path, text in zip(paths, ["-- Migration: {}\n", "-- Revert: {}\n"]):
        with open(path, "x", encoding="utf-8") as f:
            f.write(text.format(name))
    return paths
