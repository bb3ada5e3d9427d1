"""Select-list and ORDER BY items that are not expressions themselves: ``expr AS "name"`` and
``expr DESC NULLS LAST``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .names import quote_ident
from .render import _Ctx, _unknown

if TYPE_CHECKING:
    from .expressions import Expr


class Aliased:
    """``expr AS "name"``: an item of a select list or ``returning``."""

    __slots__ = ("_expr", "_name")

    def __init__(self, expr: Expr, name: str) -> None:
        self._expr = expr
        self._name = quote_ident(name)

    def _render(self, ctx: _Ctx) -> str:
        return self._expr._render(ctx) + " AS " + self._name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"an aliased expression only goes into select()/returning(); refer to it elsewhere "
            f"as col(name) or use the expression itself (no attribute {name!r})"
        )

    def __bool__(self) -> bool:
        raise TypeError("an aliased expression has no truth value")


class OrderItem:
    """An ``order_by`` item: an expression with ASC/DESC and NULLS FIRST/LAST."""

    __slots__ = ("_expr", "_dir", "_nulls")

    def __init__(self, expr: Expr, direction: str, nulls: str) -> None:
        self._expr, self._dir, self._nulls = expr, direction, nulls

    def nulls_first(self) -> "OrderItem":
        """NULLs before other values."""
        return OrderItem(self._expr, self._dir, " NULLS FIRST")

    def nulls_last(self) -> "OrderItem":
        """NULLs after other values."""
        return OrderItem(self._expr, self._dir, " NULLS LAST")

    def _render(self, ctx: _Ctx) -> str:
        return self._expr._render(ctx) + self._dir + self._nulls

    if not TYPE_CHECKING:  # type checkers keep flagging unknown attributes themselves

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            raise _unknown(self, name)
