"""Argument checks shared by the public entry points.

Each check raises at the earliest moment (wrap or decoration time where possible)
with a message that names the parameter, says what was expected, and what to do.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import math
import threading
from inspect import CO_COROUTINE
from types import FunctionType
from typing import Final

from ._detect import is_async_callable, unwrap_partial

__all__ = [
    "MAX_SECONDS",
    "check_async_target",
    "check_backend",
    "check_bool",
    "check_callable",
    "check_decorated",
    "check_executor",
    "check_int",
    "check_number",
    "check_seconds",
    "check_sync_callable",
    "check_timeout",
    "describe",
    "is_executor",
    "qualified_name",
    "reject_coroutine",
]

# The longest wait that locks, threads, event loops and `time.sleep` all accept
# (~146 years): a larger (or infinite) number of seconds is refused up front instead
# of failing later with OverflowError. Half of `threading.TIMEOUT_MAX`, because
# `time.sleep` adds the monotonic clock's reading to it and fails with EINVAL
# ("Invalid argument") when the sum overflows. "No limit" is spelled None.
MAX_SECONDS: Final = float(threading.TIMEOUT_MAX) / 2


def describe(obj: object) -> str:
    """A short description of *obj* for error messages."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    kind = type(obj).__name__
    return f"{kind} {name!r}" if isinstance(name, str) else f"{kind} {obj!r}"


def reject_coroutine(
    obj: object, func: str, param: str, hint: str, expected: str = "a function"
) -> None:
    """Raise TypeError if *obj* is a coroutine object given where *expected* belongs.

    The coroutine is closed first, so Python does not also warn that it was never
    awaited. *hint* says what to do instead.

    Example:
        >>> reject_coroutine(print, "run", "fn", "")  # not a coroutine: returns
    """
    if inspect.iscoroutine(obj):
        obj.close()
        raise TypeError(
            f"{func}() expected {expected} for {param}, but got a coroutine object "
            f"{describe(obj)}: notice the parentheses? {hint}"
        )


def is_executor(obj: object) -> bool:
    """A `concurrent.futures.Executor`, or any object with a ``submit()`` method."""
    return isinstance(obj, concurrent.futures.Executor) or callable(
        getattr(obj, "submit", None)
    )


def check_executor(
    executor: object, func: str, param: str = "executor"
) -> str | object | None:
    """Return an ``executor=`` argument if it can be one; TypeError otherwise.

    None (the default pool), a non-empty str (a registered name, looked up at each
    call: it may be registered later), a `concurrent.futures.Executor`, or any object
    with a ``submit()`` method.
    """
    if executor is None:
        return None
    if isinstance(executor, str):
        if not executor:
            raise ValueError(
                f"{func}() expected a registered executor name for {param}, not an "
                "empty string"
            )
        return executor
    if is_executor(executor):
        return executor
    raise TypeError(
        f"{func}() expected None, a registered executor name, a "
        f"concurrent.futures.Executor or an object with a submit() method for "
        f"{param}, got {describe(executor)}"
    )


def check_sync_callable(obj: object, func: str, param: str = "sync_fn") -> None:
    """Raise TypeError unless *obj* is a callable that is not async."""
    reject_coroutine(
        obj,
        func,
        param,
        "Pass the function and its arguments separately, e.g. "
        f"{func}(fn, arg), or await the coroutine directly.",
    )
    check_callable(obj, param, func=func)
    if is_async_callable(obj):
        raise TypeError(
            f"{func}() runs blocking sync code in a thread, but {param} is the async "
            f"function {describe(obj)}; await it directly instead"
        )
    if inspect.isasyncgenfunction(unwrap_partial(obj)):
        raise TypeError(
            f"{func}() runs blocking sync code in a thread, but {param} is the async "
            f"generator function {describe(obj)}; iterate it with `async for` instead"
        )


def qualified_name(fn: object) -> str:
    """``module.qualname`` of *fn* (partials unwrapped), for logs and messages."""
    fn = unwrap_partial(fn)
    qualname = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if not isinstance(qualname, str):
        qualname = type(fn).__qualname__
        module = type(fn).__module__
    return f"{module}.{qualname}" if isinstance(module, str) else qualname


def check_async_target(obj: object, func: str, param: str) -> bool:
    """Check a sync→async target; True if it is an awaitable, False a function.

    Raises:
        TypeError: a coroutine already awaited or closed, a sync function (pointing
            to `async_safe`), or neither a function nor an awaitable.
    """
    if type(obj) is FunctionType and obj.__code__.co_flags & CO_COROUTINE:
        return False  # an `async def` function: the common case, decided at once
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


def _prefix(func: str | None) -> str:
    return "" if func is None else f"{func}(): "


def check_seconds(
    value: object,
    param: str,
    *,
    func: str | None = None,
    none_ok: bool = True,
    zero_ok: bool = True,
) -> float | None:
    """Return *value* as a float number of seconds (None if allowed and given).

    The one check for every duration asyncbridge takes (timeouts, waits, grace
    periods): a real number (not a bool), not NaN, not negative (nor zero unless
    *zero_ok*), and at most `MAX_SECONDS` (so ``inf`` is refused: None means no
    limit).

    Raises:
        TypeError: not a number (nor None where allowed).
        ValueError: NaN, negative, zero where not allowed, or infinite/too large.
    """
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        expected = "a number of seconds" + (" or None" if none_ok else "")
        raise TypeError(f"{_prefix(func)}{param} must be {expected}, got {value!r}")
    if math.isnan(value) or value < 0 or (value == 0 and not zero_ok):
        bound = "non-negative" if zero_ok else "positive"
        raise ValueError(
            f"{_prefix(func)}{param} must be a {bound} number of seconds, got {value!r}"
        )
    if value > MAX_SECONDS:
        hint = "; use None for no limit" if none_ok else ""
        raise ValueError(
            f"{_prefix(func)}{param} must be a finite number of seconds of at most "
            f"{MAX_SECONDS:.0f}, got {value!r}{hint}"
        )
    return float(value)


def check_timeout(value: object, param: str = "timeout") -> float | None:
    """Return *value* as seconds (or None); TypeError/ValueError otherwise."""
    return check_seconds(value, param)


def check_int(
    value: object, param: str, *, func: str | None = None, minimum: int = 1
) -> int:
    """Return *value* if it is an int (not a bool) of at least *minimum*."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{_prefix(func)}{param} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(
            f"{_prefix(func)}{param} must be at least {minimum}, got {value!r}"
        )
    return value


def check_number(
    value: object, param: str, *, func: str | None = None, minimum: float = 0.0
) -> float:
    """Return *value* as a float if it is a finite real number (not a bool) >= *minimum*.

    For quantities that are not durations (ratios, growth factors); durations go
    through `check_seconds`.

    Raises:
        TypeError: not a number.
        ValueError: NaN, infinite, or below *minimum*.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{_prefix(func)}{param} must be a number, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise ValueError(
            f"{_prefix(func)}{param} must be a finite number of at least "
            f"{minimum:g}, got {value!r}"
        )
    return float(value)


def check_callable(
    value: object, param: str, *, func: str | None = None, none_ok: bool = False
) -> None:
    """Raise TypeError unless *value* is callable (or None, where allowed)."""
    if (value is None and none_ok) or callable(value):
        return
    expected = "callable or None" if none_ok else "callable"
    raise TypeError(f"{_prefix(func)}{param} must be {expected}, got {describe(value)}")


def check_decorated(
    fn: object, func: str, *, generators: str | None = None, hint: str = ""
) -> None:
    """Raise TypeError unless the decorator *func* can wrap *fn*.

    Refused: a coroutine object (closed first, so Python does not also warn that it
    was never awaited), anything not callable (*hint* is added to that message), an
    async generator function, and, when *generators* (the reason, for the message)
    is given, generator functions of both kinds.
    """
    reject_coroutine(
        fn,
        func,
        "fn",
        "Decorate the function itself (f), not the result of calling it (f()).",
    )
    if not callable(fn):
        raise TypeError(
            f"{func}() can only decorate a callable, got {describe(fn)}{hint}"
        )
    target = unwrap_partial(fn)
    if generators is not None and inspect.isgeneratorfunction(target):
        kind = "generator function"
    elif inspect.isasyncgenfunction(target):
        kind = "async generator function"
    else:
        return
    why = generators or (
        "calling it gives an async iterator, not an awaitable; iterate it with "
        "`async for`, or bridge the iteration instead"
    )
    raise TypeError(f"{func}() cannot decorate the {kind} {describe(fn)}: {why}")


def check_backend(value: object, param: str = "backend") -> str | None:
    """Return *value* if it is None, ``"asyncio"`` or ``"trio"``."""
    if value is None or value in ("asyncio", "trio"):
        return value
    raise ValueError(f"{param} must be 'asyncio', 'trio' or None, got {value!r}")


def check_bool(value: object, param: str, *, func: str | None = None) -> bool:
    """Return *value* if it is a bool; TypeError otherwise."""
    if not isinstance(value, bool):
        raise TypeError(f"{_prefix(func)}{param} must be True or False, got {value!r}")
    return value
