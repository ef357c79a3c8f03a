"""Detection: what runs in this thread, and whom this thread works for.

Everything here is cheap enough for hot paths: the "is a loop running here?" check
costs well under a microsecond, so decorators can afford it on every call.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "AWAITABLE_RESULT_MARK",
    "BackendName",
    "current_backend",
    "in_async_context",
    "is_async_callable",
    "mark_awaitable_result",
    "running_asyncio_loop",
    "unwrap_partial",
]

# The event-loop libraries asyncbridge runs on, by name.
BackendName: TypeAlias = Literal["asyncio", "trio"]

# `asyncio._get_running_loop` is listed in `asyncio.__all__` (so public by PEP 8's
# rule) and documented as "intended to be used by event loops"; uvloop relies on it.
# It answers "which asyncio loop runs in this thread?" in ~50 ns, against ~550 ns for
# `get_running_loop()` raising RuntimeError when there is none.
running_asyncio_loop: Callable[[], asyncio.AbstractEventLoop | None] = (
    asyncio._get_running_loop  # noqa: SLF001 - public by asyncio.__all__, see above
)

AWAITABLE_RESULT_MARK = "__asyncbridge_awaitable_result__"


_OUR_PREFIX = __name__.partition(".")[0] + "."  # "asyncbridge."
_ADAPTERS_PREFIX = _OUR_PREFIX + "adapters."


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the user's call.

    For ``warnings.warn(..., stacklevel=user_stacklevel())`` in asyncbridge code: the
    first frame outside the package (the reference adapters count as user code), so
    the warning names the line that called the public API, however many of our
    wrappers (stacked decorators, bound methods, twins) sit in between.
    """
    # documented API (pyright: private by its name); 1: the function that warns
    frame = sys._getframe(1)  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
    level = 1
    while frame.f_back is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(_OUR_PREFIX) or module.startswith(_ADAPTERS_PREFIX):
            break
        frame = frame.f_back
        level += 1
    return level


_modules: Final = sys.modules


def trio_running() -> bool:
    """Tell whether a trio run is active in this thread."""
    # trio declares itself through sniffio's documented `thread_local.name` for the
    # length of a run (trio imports sniffio); reading it is ~10x cheaper than
    # `trio.lowlevel.in_trio_run()`, and never touches trio itself, which another
    # thread may be importing right now. No trio or sniffio imported: no trio run.
    if "trio" not in _modules:
        return False
    sniffio = _modules.get("sniffio")
    if sniffio is None:
        return False
    local = getattr(sniffio, "thread_local", None)  # None: sniffio half-imported
    return local is not None and local.name == "trio"


def current_backend() -> BackendName | None:
    """Return the async library whose event loop runs in this thread, or None.

    Returns:
        ``"asyncio"`` (uvloop included), ``"trio"``, or None when no loop runs in
        this thread (a worker thread started from a loop also answers None).

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> ab.current_backend() is None
        True
        >>> async def main():
        ...     return ab.current_backend()
        >>> asyncio.run(main())
        'asyncio'
    """
    if running_asyncio_loop() is not None:
        return "asyncio"
    if trio_running():
        return "trio"
    return None


def in_async_context() -> bool:
    """Tell whether an event loop (asyncio or trio) is running in this thread.

    When it is, a blocking call here stalls that loop; `run_sync` called here follows
    the ``on_loop_conflict`` policy.

    Example:
        >>> import asyncbridge as ab
        >>> ab.in_async_context()
        False
    """
    # Decorators call this on every call: the common answer (no trio imported, so
    # no trio run) costs one dict lookup.
    return running_asyncio_loop() is not None or ("trio" in _modules and trio_running())


def mark_awaitable_result(fn: Callable[..., Any]) -> None:
    """Mark an asyncbridge wrapper whose result must be awaited.

    `is_async_callable` answers True for it even though it is a plain function.
    """
    setattr(fn, AWAITABLE_RESULT_MARK, True)


def unwrap_partial(obj: object) -> object:
    """The callable under any layers of `functools.partial`."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return obj


def is_async_callable(obj: object) -> bool:
    """Tell whether calling *obj* gives an awaitable that must be awaited.

    True for ``async def`` functions, bound methods of them, `functools.partial`
    objects wrapping them, instances whose ``__call__`` is ``async def``, and
    asyncbridge wrappers whose result must be awaited. False for async generator
    functions (they return async iterators, not awaitables) and for anything else.

    Example:
        >>> import functools, asyncbridge as ab
        >>> async def fetch(url: str) -> str: ...
        >>> ab.is_async_callable(fetch), ab.is_async_callable(functools.partial(fetch, "x"))
        (True, True)
        >>> ab.is_async_callable(print)
        False
    """
    obj = unwrap_partial(obj)
    if (
        inspect.iscoroutinefunction(obj)
        or getattr(obj, AWAITABLE_RESULT_MARK, False) is True
    ):
        return True
    if callable(obj) and not isinstance(obj, type) and not inspect.isroutine(obj):
        call = getattr(type(obj), "__call__", None)  # noqa: B004
        return call is not None and (
            inspect.iscoroutinefunction(call)
            or getattr(call, AWAITABLE_RESULT_MARK, False) is True
        )
    return False
