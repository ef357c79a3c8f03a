"""How `async_retry` binds: classmethods, staticmethods, and the configured decorator.

Kept apart and small: one binding layer for every decorator may replace it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Decorator", "RetryDecorator", "bind"]

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C")


class RetryDecorator(Protocol):
    """What ``async_retry(...)`` returns: apply it to a function or method.

    The decorated callable keeps its type. A sync callable that returns an
    awaitable gets a wrapper returning one that retries when awaited: a coroutine,
    or a `Task` where the callable returned an asyncio `Task` or `Future` (already
    running, as the one it replaces).
    """

    @overload
    def __call__(self, fn: classmethod[C, P, T], /) -> classmethod[C, P, T]: ...
    @overload
    def __call__(self, fn: staticmethod[P, T], /) -> staticmethod[P, T]: ...
    @overload
    def __call__(self, fn: Callable[P, T], /) -> Callable[P, T]: ...


def bind(fn: object, wrap: Callable[[object], Any]) -> Any:
    """Apply *wrap* to *fn*, or inside a classmethod or staticmethod (kept one)."""
    if isinstance(fn, classmethod):
        return classmethod(bind(fn.__func__, wrap))
    if isinstance(fn, staticmethod):
        return staticmethod(bind(fn.__func__, wrap))
    return wrap(fn)


class Decorator:
    """A configured decorator, as ``async_retry(max_attempts=...)`` returns it."""

    __slots__ = ("_label", "_wrap")

    def __init__(self, wrap: Callable[[object], Any], label: str) -> None:
        self._wrap = wrap
        self._label = label

    def __call__(self, fn: object, /) -> Any:
        return bind(fn, self._wrap)

    def __repr__(self) -> str:
        return f"<{self._label}>"
