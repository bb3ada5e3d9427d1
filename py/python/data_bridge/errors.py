"""Exceptions raised by data_bridge, following DB-API 2.0 and psycopg's names.

Server errors carry ``.sqlstate`` and ``.diag``; the class is chosen by the exact SQLSTATE,
then by its two-character class.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "Error", "Warning", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "UniqueViolation", "ForeignKeyViolation", "NotNullViolation", "CheckViolation",
    "SerializationFailure", "DeadlockDetected", "QueryCanceled", "PoolTimeout", "UndefinedTable",
    "UndefinedColumn", "SyntaxError", "DivisionByZero", "InvalidTextRepresentation",
    "NumericValueOutOfRange", "Diagnostic", "lookup",
]


class Diagnostic:
    """The server's error report: message, detail, hint, position, constraint, ..."""

    _FIELDS = (
        "severity", "message_primary", "message_detail", "message_hint", "context",
        "statement_position", "internal_position", "internal_query", "schema_name",
        "table_name", "column_name", "datatype_name", "constraint_name", "source_file",
        "source_line", "source_function",
    )

    def __init__(self, fields: Optional[dict] = None) -> None:
        fields = fields or {}
        for name in self._FIELDS:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        shown = {name: getattr(self, name) for name in self._FIELDS if getattr(self, name) is not None}
        return f"Diagnostic({shown})"

    def __reduce__(self) -> Any:
        return (Diagnostic, ({name: getattr(self, name) for name in self._FIELDS},))


class Warning(Exception):  # noqa: A001 - the DB-API name
    """A warning from the database (DB-API)."""


class Error(Exception):
    """Base class of every data_bridge error."""

    sqlstate: Optional[str] = None

    def __init__(self, *args: Any, sqlstate: Optional[str] = None, diag: Optional[dict] = None) -> None:
        super().__init__(*args)
        self.sqlstate = sqlstate or type(self).sqlstate
        self.diag = Diagnostic(diag)

    def __reduce__(self) -> Any:
        diag = {name: getattr(self.diag, name) for name in Diagnostic._FIELDS}
        return (_rebuild, (type(self), self.args, self.sqlstate, diag))


def _rebuild(cls: type, args: tuple, sqlstate: Optional[str], diag: dict) -> "Error":
    return cls(*args, sqlstate=sqlstate, diag=diag)


class InterfaceError(Error):
    """Misuse of data_bridge itself (a closed database or stream, ...)."""


class DatabaseError(Error):
    """An error reported by or about the database."""


class DataError(DatabaseError):
    """A value does not fit: out of range, malformed, not representable in Arrow (class 22)."""


class OperationalError(DatabaseError):
    """The connection or the server's operation failed (classes 08, 40, 53, 57, ...)."""


class IntegrityError(DatabaseError):
    """A constraint was violated (class 23)."""


class InternalError(DatabaseError):
    """The server or data_bridge hit an internal error (class XX)."""


class ProgrammingError(DatabaseError):
    """Bad SQL, an unknown table or column, wrong parameters (class 42, ...)."""


class NotSupportedError(DatabaseError):
    """A feature the server does not support (class 0A)."""


class UniqueViolation(IntegrityError):
    """A unique constraint was violated."""

    sqlstate = "23505"


class ForeignKeyViolation(IntegrityError):
    """A foreign key was violated."""

    sqlstate = "23503"


class NotNullViolation(IntegrityError):
    """NULL in a NOT NULL column."""

    sqlstate = "23502"


class CheckViolation(IntegrityError):
    """A check constraint was violated."""

    sqlstate = "23514"


class SerializationFailure(OperationalError):
    """Serialization failure: retry the transaction."""

    sqlstate = "40001"


class DeadlockDetected(OperationalError):
    """Deadlock detected: retry the transaction."""

    sqlstate = "40P01"


class QueryCanceled(OperationalError):
    """The query was cancelled (statement timeout or a cancel request)."""

    sqlstate = "57014"


class PoolTimeout(OperationalError):
    """No pooled connection became free within ``acquire_timeout``."""


class UndefinedTable(ProgrammingError):
    """The table does not exist."""

    sqlstate = "42P01"


class UndefinedColumn(ProgrammingError):
    """The column does not exist."""

    sqlstate = "42703"


class SyntaxError(ProgrammingError):  # noqa: A001 - psycopg's name
    """SQL syntax error."""

    sqlstate = "42601"


class DivisionByZero(DataError):
    """Division by zero."""

    sqlstate = "22012"


class InvalidTextRepresentation(DataError):
    """Malformed input text for a type."""

    sqlstate = "22P02"


class NumericValueOutOfRange(DataError):
    """A number is out of range."""

    sqlstate = "22003"


_BY_SQLSTATE: dict = {cls.sqlstate: cls for cls in (
    UniqueViolation, ForeignKeyViolation, NotNullViolation, CheckViolation, SerializationFailure,
    DeadlockDetected, QueryCanceled, UndefinedTable, UndefinedColumn, SyntaxError, DivisionByZero,
    InvalidTextRepresentation, NumericValueOutOfRange,
)}

_BY_CLASS = {
    "08": OperationalError, "0A": NotSupportedError, "21": ProgrammingError, "22": DataError,
    "23": IntegrityError, "24": InternalError, "25": InternalError, "26": ProgrammingError,
    "27": OperationalError, "28": OperationalError, "2B": InternalError, "2D": InternalError,
    "2F": OperationalError, "34": ProgrammingError, "38": OperationalError, "39": OperationalError,
    "3B": OperationalError, "3D": ProgrammingError, "3F": ProgrammingError, "40": OperationalError,
    "42": ProgrammingError, "44": ProgrammingError, "53": OperationalError, "54": OperationalError,
    "55": OperationalError, "57": OperationalError, "58": OperationalError, "F0": OperationalError,
    "HV": OperationalError, "P0": InternalError, "XX": InternalError,
}

_BY_KIND = {
    "interface": InterfaceError, "database": DatabaseError, "data": DataError,
    "operational": OperationalError, "programming": ProgrammingError, "internal": InternalError,
    "pool_timeout": PoolTimeout,
}


def lookup(sqlstate: str) -> type:
    """The exception class for a SQLSTATE: by exact code, then by class, else DatabaseError."""
    return _BY_SQLSTATE.get(sqlstate) or _BY_CLASS.get(sqlstate[:2], DatabaseError)


def _make(kind: str, message: str, sqlstate: Optional[str], diag: Optional[dict]) -> Error:
    """Called by the native module to build the exception it raises."""
    cls = lookup(sqlstate) if sqlstate else _BY_KIND.get(kind, DatabaseError)
    return cls(message, sqlstate=sqlstate, diag=diag)
