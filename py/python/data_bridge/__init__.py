"""data-bridge: PostgreSQL query results into Arrow, pandas and polars, decoded in Rust.

>>> import data_bridge
>>> db = data_bridge.connect("postgresql://postgres@127.0.0.1:5432/test")
>>> db.read_arrow("SELECT 1 AS one").to_pydict()
{'one': [1]}
"""

from __future__ import annotations

from . import aio, errors
from ._native import __version__
from .database import Database, PartitionQuery, Plan, Savepoint, Transaction, connect
from .migrations import (
    ChecksumMismatch, IrreversibleMigration, MigrationError, MigrationStatus, MissingMigration, migrate,
    migration_status, new_migration, rollback,
)
from .model import Field, Model, field
from .query import case, col, excluded, exists, func, lit, select, table
from .reader import BatchReader
from .errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from .errors import *  # noqa: F401,F403 - the named SQLSTATE classes

__all__ = [
    "connect", "Database", "Transaction", "Savepoint", "Plan", "PartitionQuery", "BatchReader", "aio", "errors", "__version__",
    "Error", "Warning", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    *errors.__all__,
    "migrate", "rollback", "migration_status", "new_migration", "MigrationError", "MigrationStatus",
    "ChecksumMismatch", "MissingMigration", "IrreversibleMigration",
    "table", "col", "func", "lit", "case", "exists", "excluded", "select", "Model", "Field", "field",
]
