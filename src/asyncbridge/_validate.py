"""Argument checks shared by the public entry points.

Each check raises at the earliest moment (wrap or decoration time where possible)
with a message that names the parameter, says what was expected, and what to do.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from ._detect import is_async_callable

__all__ = [
    "check_async_target",
    "check_backend",
    "check_bool",
    "check_sync_callable",
    "check_timeout",
    "describe",
]


def describe(obj: object) -> str:
    """A short description of *obj* for error messages."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    kind = type(obj).__name__
    return f"{kind} {name!r}" if isinstance(name, str) else f"{kind} {obj!r}"


def _coroutine_error(obj: Any, func: str, param: str, hint: str) -> TypeError:
    # Close it first so Python does not also warn "coroutine was never awaited".
    obj.close()
    return TypeError(
        f"{func}() expected a function for {param}, but got a coroutine object "
        f"{describe(obj)}: notice the parentheses? {hint}"
    )


def check_sync_callable(obj: object, func: str, param: str = "sync_fn") -> None:
    """Raise TypeError unless *obj* is a callable that is not async."""
    if inspect.iscoroutine(obj):
        raise _coroutine_error(
            obj,
            func,
            param,
            "Pass the function and its arguments separately, e.g. "
            f"{func}(fn, arg), or await the coroutine directly.",
        )
    if not callable(obj):
        raise TypeError(
            f"{func}() expected a callable for {param}, got {describe(obj)}"
        )
    if is_async_callable(obj):
        raise TypeError(
            f"{func}() runs blocking sync code in a thread, but {param} is the async "
            f"function {describe(obj)}; await it directly instead"
        )


def check_async_target(obj: object, func: str, param: str) -> bool:
    """Check a sync→async target; True if it is an awaitable, False a function.

    Raises:
        TypeError: a coroutine already awaited or closed, a sync function (pointing
            to `async_safe`), or neither a function nor an awaitable.
    """
    if inspect.iscoroutine(obj):
        if inspect.getcoroutinestate(obj) != inspect.CORO_CREATED:
            raise TypeError(
                f"{func}() got the coroutine {describe(obj)} for {param}, but it has "
                "already been awaited or closed; pass a fresh coroutine or the "
                "async function itself"
            )
        return True
    if inspect.isawaitable(obj):
        return True
    if not callable(obj):
        raise TypeError(
            f"{func}() expected an async function or an awaitable for {param}, "
            f"got {describe(obj)}"
        )
    if not is_async_callable(obj):
        raise TypeError(
            f"{func}() runs async code, but {param} is the sync callable "
            f"{describe(obj)}; call it directly, or decorate it with "
            "@asyncbridge.async_safe, which accepts both sync and async callables"
        )
    return False


def check_timeout(value: object, param: str = "timeout") -> float | None:
    """Return *value* as seconds (or None); TypeError/ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{param} must be a number of seconds or None, got {value!r}")
    if math.isnan(value) or value < 0:
        raise ValueError(
            f"{param} must be a non-negative number of seconds, got {value!r}"
        )
    return float(value)


def check_backend(value: object, param: str = "backend") -> str | None:
    """Return *value* if it is None, ``"asyncio"`` or ``"trio"``."""
    if value is None or value in ("asyncio", "trio"):
        return value
    raise ValueError(f"{param} must be 'asyncio', 'trio' or None, got {value!r}")


def check_bool(value: object, param: str) -> bool:
    """Return *value* if it is a bool; TypeError otherwise."""
    if not isinstance(value, bool):
        raise TypeError(f"{param} must be True or False, got {value!r}")
    return value
