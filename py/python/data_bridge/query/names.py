"""Names in SQL text: ``quote_ident`` (the one quoting function for identifiers), dotted column and
table names, and type names checked against a strict pattern."""

from __future__ import annotations

import functools
import re
from typing import Tuple, Union

_MAX_IDENT_BYTES = 63  # NAMEDATALEN - 1: longer names are truncated by the server


@functools.lru_cache(maxsize=4096)
def quote_ident(name: str) -> str:
    """``name`` as a quoted PostgreSQL identifier: ``a"b`` -> ``"a""b"``.

    Raises TypeError for a non-string and ValueError for an empty name, a NUL character or more
    than 63 bytes (which the server would truncate).
    """
    if not isinstance(name, str):
        raise TypeError(f"an identifier must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("an identifier cannot be empty")
    if "\x00" in name:
        raise ValueError(f"an identifier cannot contain NUL: {name!r}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"an identifier must be valid Unicode (no lone surrogates): {name!r}") from None
    if size > _MAX_IDENT_BYTES:
        raise ValueError(f"identifier longer than PostgreSQL's {_MAX_IDENT_BYTES} bytes: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _name_parts(name: Union[str, Tuple[str, ...]], what: str, max_parts: int) -> Tuple[str, ...]:
    """Splits a dotted string (a tuple is taken as given) into 1..max_parts parts."""
    if isinstance(name, str):
        parts: Tuple[str, ...] = tuple(name.split("."))
    elif isinstance(name, tuple) and all(isinstance(p, str) for p in name):
        parts = name
    else:
        raise TypeError(f"a {what} name must be a str or a tuple of str, not {type(name).__name__}")
    if not 1 <= len(parts) <= max_parts:
        raise ValueError(f"a {what} name has 1 to {max_parts} dotted parts, got {name!r}")
    return parts


@functools.lru_cache(maxsize=4096)
def _column_sql(name: Union[str, Tuple[str, ...]]) -> str:
    parts = _name_parts(name, "column", 4)
    if isinstance(name, str) and parts[-1] == "*":
        return ".".join([quote_ident(p) for p in parts[:-1]] + ["*"])
    return ".".join(quote_ident(p) for p in parts)


@functools.lru_cache(maxsize=1024)
def _table_sql(name: Union[str, Tuple[str, ...]]) -> Tuple[Tuple[str, ...], str]:
    parts = _name_parts(name, "table", 2)
    return parts, ".".join(quote_ident(p) for p in parts)


_TYPE_RE = re.compile(
    r"^(?:double precision|character varying|bit varying|(?:[a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*)"
    r"(?:\(\d+(?:, ?\d+)?\))?(?: with(?:out)? time zone)?(?:\[\d*\])*$"
)


def _type_name(type_name: str) -> str:
    """A validated SQL type name, lowercased with single spaces."""
    if not isinstance(type_name, str):
        raise TypeError(f"a type name must be a str, not {type(type_name).__name__}")
    norm = " ".join(type_name.lower().split())
    if not _TYPE_RE.match(norm):
        raise ValueError(
            f"not a valid type name: {type_name!r} (e.g. 'int', 'numeric(10,2)', 'text[]', "
            "'timestamp with time zone')"
        )
    return norm
