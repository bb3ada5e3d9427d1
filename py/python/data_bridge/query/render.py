"""Rendering support: operator precedence, the render context that numbers bound parameters, the
check every Python value passes before it is bound, and helpers the other modules share (list
arguments, unknown-attribute errors)."""

from __future__ import annotations

import datetime as _dt
import decimal
import difflib
import json
import uuid
from typing import Any, Dict, Iterable, List, Optional, Sequence

# Operator precedence, lowest first, as in PostgreSQL's grammar: a child binding less tightly
# than its parent's operator is parenthesised.
_OR, _AND, _NOT, _IS, _CMP, _LIKE, _OTHER, _ADD, _MUL, _EXP, _UNARY, _CAST, _ATOM = range(1, 14)

_MAX_PARAMS = 65535  # the protocol's limit on bound parameters

_SCALAR_TYPES = frozenset(
    {type(None), bool, int, float, str, bytes, decimal.Decimal, _dt.date, _dt.datetime, _dt.time,
     _dt.timedelta, uuid.UUID}
)
_SCALAR_BASES = (bool, int, float, str, bytes, decimal.Decimal, _dt.date, _dt.time, _dt.timedelta, uuid.UUID)
_SUPPORTED = ("None, bool, int, float, str, bytes, Decimal, date, datetime, time, timedelta, UUID, "
              "list/tuple of these, dict (as jsonb)")


def _check_value(value: Any) -> Any:
    """``value`` as something the driver binds; TypeError naming an unsupported type."""
    kind = type(value)
    if kind in _SCALAR_TYPES:
        return value
    if kind is list or kind is tuple:
        return [_check_value(v) for v in value]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, _SCALAR_BASES):
        return value
    if kind.__module__ == "numpy" and hasattr(value, "item"):  # numpy scalars from frames
        return _check_value(value.item())
    if isinstance(value, (list, tuple)):
        return [_check_value(v) for v in value]
    if isinstance(value, dict):
        raise TypeError("a dict inside a list is not supported: pass lit(value, 'jsonb') for a JSON array")
    raise TypeError(f"cannot use a value of type {kind.__name__} in a query; supported: {_SUPPORTED}")


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except TypeError as exc:
        raise TypeError(f"cannot bind a value as JSON: {exc}") from None


def _flat(items: Sequence[Any]) -> Sequence[Any]:
    """Varargs with lists expanded: ``f(a, b)`` == ``f([a, b])``. Tuples are names, not lists."""
    for item in items:
        if type(item) is list:
            break
    else:
        return items  # the common case: nothing to expand
    out: List[Any] = []
    for item in items:
        if isinstance(item, list):
            out.extend(item)
        else:
            out.append(item)
    return out


def _unknown(obj: object, name: str) -> AttributeError:
    """AttributeError naming the valid methods (and the closest one) of ``obj``."""
    valid = sorted(n for n in dir(type(obj)) if not n.startswith("_"))
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return AttributeError(f"{type(obj).__name__} has no attribute {name!r}.{hint} Valid: {', '.join(valid)}")


class _Ctx:
    """Render state: the parameters bound so far (``$n`` is the n-th)."""

    __slots__ = ("params", "_seen")

    def __init__(self) -> None:
        self.params: List[Any] = []
        self._seen: Dict[int, str] = {}

    def bind(self, value: Any, node: Optional[object] = None) -> str:
        """The placeholder of a new parameter; one node rendered twice keeps one placeholder, so
        that an expression reused in ``select`` and ``group_by`` is the same to the server."""
        if node is not None:
            ref = self._seen.get(id(node))
            if ref is not None:
                return ref
        self.params.append(value)
        ref = "$" + str(len(self.params))
        if node is not None:
            self._seen[id(node)] = ref  # nodes outlive the render: the statement holds them
        return ref


def _render_list(ctx: _Ctx, items: Iterable[Any]) -> str:
    return ", ".join([i._render(ctx) for i in items])
