"""The seed's decorators: `async_safe` and `mixed_execution_safe`.

A tool module: it runs coroutines for sync callers through `run_sync_internal` (the
rules of `run_sync`) and hands blocking calls to worker threads as `ThreadJob`
objects of the executor registry (the rules of `run_in_thread`).

Layout, chosen for the path that runs millions of times (a sync function called
where nothing needs bridging): a decorated function is a real function object with
an ``aio`` attribute, the cheapest wrapper Python can call. How it binds (methods,
classmethods, staticmethods, ``.aio`` bound with them) is `_binding`'s, shared with
`async_retry`.
"""

from __future__ import annotations

import logging
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Final,
    Protocol,
    Self,
    TypeVar,
    cast,
    overload,
)

import anyio
from typing_extensions import ParamSpec

from asyncbridge._backends import discard
from asyncbridge._core._config import ConflictPolicy, check_conflict_policy
from asyncbridge._core._detect import (
    current_backend,
    in_async_context,
    is_async_callable,
    mark_awaitable_result,
)
from asyncbridge._core._validate import (
    check_async_target,
    check_executor,
    check_timeout,
    describe,
    qualified_name,
)
from asyncbridge._core._wrapping import PLAIN_TYPES, is_awaitable, wraps
from asyncbridge._engine._executors import resolve
from asyncbridge._engine._offload import offload, offload_blocking
from asyncbridge._engine._route import warn_blocking
from asyncbridge._engine._sync import run_sync_internal
from asyncbridge._tools._binding import Decorator, check_target, decorate

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine
    from concurrent.futures import Executor

__all__ = [
    "AsyncSafe",
    "AsyncSafeDecorator",
    "MixedExecutionSafe",
    "MixedExecutionSafeDecorator",
    "async_safe",
    "mixed_execution_safe",
]

P = ParamSpec("P")
Q = ParamSpec("Q")
T = TypeVar("T")
S = TypeVar("S")
R_co = TypeVar("R_co", covariant=True)
T_co = TypeVar("T_co", covariant=True)

logger = logging.getLogger("asyncbridge")

# ------------------------------------------------------------------ static types


class AsyncSafe(Protocol[P, T_co]):
    """What `async_safe` makes of a callable with parameters *P* and final value *T*.

    Calling it returns the final value (the awaitable it may produce is run by the
    rules of `run_sync`); ``.aio(...)`` is the coroutine form for async callers. On a
    method it binds like a function, ``.aio`` included.
    """

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T_co:
        """Call it and return the final value."""
        ...

    def aio(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T_co]:
        """Return a coroutine giving the final value, for async callers."""
        ...

    # Through the class: itself (a classmethod's type keeps ``cls`` there: mypy
    # cannot tell it from a function). Through an instance: a classmethod (its first
    # parameter ``type[S]``) bound to the instance's class, a method to the instance.
    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None, /) -> Self: ...
    @overload
    def __get__(
        self: AsyncSafe[Concatenate[type[S], Q], T_co],
        obj: S,
        owner: type[Any] | None = None,
        /,
    ) -> AsyncSafe[Q, T_co]: ...
    @overload
    def __get__(
        self: AsyncSafe[Concatenate[S, Q], T_co],
        obj: S,
        owner: type[Any] | None = None,
        /,
    ) -> AsyncSafe[Q, T_co]: ...


class MixedExecutionSafe(Protocol[P, R_co, T_co]):
    """What `mixed_execution_safe` makes of a callable.

    Calling it returns what the callable returns (*R*); ``.aio(...)`` is a coroutine
    giving the final value (*T*: the awaitable it may return, awaited). On a method
    it binds like a function, ``.aio`` included.
    """

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Call it (in a worker thread if a loop runs here) and return its value."""
        ...

    def aio(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T_co]:
        """Return a coroutine that runs it in a worker thread, for async callers."""
        ...

    # bound as `AsyncSafe` is
    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None, /) -> Self: ...
    @overload
    def __get__(
        self: MixedExecutionSafe[Concatenate[type[S], Q], R_co, T_co],
        obj: S,
        owner: type[Any] | None = None,
        /,
    ) -> MixedExecutionSafe[Q, R_co, T_co]: ...
    @overload
    def __get__(
        self: MixedExecutionSafe[Concatenate[S, Q], R_co, T_co],
        obj: S,
        owner: type[Any] | None = None,
        /,
    ) -> MixedExecutionSafe[Q, R_co, T_co]: ...


class AsyncSafeDecorator(Protocol):
    """What ``async_safe(timeout=..., on_loop_conflict=...)`` returns."""

    @overload
    def __call__(self, fn: Callable[P, Awaitable[T]], /) -> AsyncSafe[P, T]: ...
    @overload
    def __call__(self, fn: Callable[P, T], /) -> AsyncSafe[P, T]: ...


class MixedExecutionSafeDecorator(Protocol):
    """What ``mixed_execution_safe(executor=..., timeout=...)`` returns."""

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, T]], /
    ) -> MixedExecutionSafe[P, Coroutine[Any, Any, T], T]: ...
    @overload
    def __call__(
        self, fn: Callable[P, Awaitable[T]], /
    ) -> MixedExecutionSafe[P, Awaitable[T], T]: ...
    @overload
    def __call__(self, fn: Callable[P, T], /) -> MixedExecutionSafe[P, T, T]: ...


# ------------------------------------------------------------------ helpers

# What a decorator builds for one target: the sync-call wrapper, the `.aio` coroutine
# function, and whether calling the wrapper gives an awaitable.
_Parts = tuple[Any, Any, bool]


async def _in_thread(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    executor: str | Executor | None,
    limit: float | None,
) -> Any:
    """Await ``fn(*args, **kwargs)`` run in a worker thread (`run_in_thread` rules).

    The thread works for the caller's loop (so `run_sync` in it routes back there).
    With a time *limit* (seconds), the caller is released when it passes (or when
    cancelled) and the thread's result is discarded; without, a cancelled caller
    waits for the thread.
    """
    outlet = resolve(executor)
    if limit is None:
        return await offload(outlet, fn, args, kwargs)
    with anyio.fail_after(limit):
        return await offload(outlet, fn, args, kwargs, cancellable=True)


async def _await_within(aw: Awaitable[T], limit: float | None) -> T:
    if limit is None:
        return await aw
    try:
        with anyio.fail_after(limit):
            return await aw
    except BaseException:
        discard(aw)  # never started (cancelled at once): close it
        raise


def _run_off_loop(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    executor: str | Executor | None,
    timeout: float | None,
) -> Any:
    """Run the call in a clean worker thread while this thread (and its loop) waits.

    "Clean": the thread is not marked as working for this thread's loop, so
    `run_sync` in there goes to the portal instead of waiting for the loop that is
    blocked waiting for it (and the chain of waits refuses that loop anyway).
    """
    name = f"mixed_execution_safe {describe(fn)}"
    here = current_backend() or "asyncio"
    warn_blocking(
        f"calling the {name} from a coroutine",
        here,
        advice="it runs in a worker thread meanwhile; await its .aio(...) form instead",
    )
    outlet = resolve(executor)
    return offload_blocking(outlet, fn, args, kwargs, timeout, name)


# ------------------------------------------------------------------ layout


def _assemble(target: object, parts: _Parts) -> Any:
    """Give the wrapper of *parts* *target*'s metadata and its ``.aio`` form."""
    call, aio, is_async = parts
    wraps(target)(call)
    wraps(target)(aio)
    call.aio = aio
    if is_async:
        mark_awaitable_result(call)
    return call


_GENERATORS: Final = {  # decorators that refuse generator functions, and why
    "mixed_execution_safe": "its body runs where it is iterated, not where it is "
    "called; decorate the function that iterates it",
}


def _check(fn: object, api: str) -> None:
    """Check what *api* decorates, first (a coroutine object is closed at once)."""
    hint = f"; its options are keyword-only: @{api}(timeout=...)"
    check_target(fn, api, generators=_GENERATORS.get(api), hint=hint)


def _finish(fn: object, api: str, make: Callable[[Any], _Parts], label: str) -> Any:
    """Decorate *fn* (bare use), or return the configured decorator (`_binding`)."""

    def wrap(target: Any) -> Any:
        return _assemble(target, make(target))

    if fn is None:
        return Decorator(api, wrap, label, _GENERATORS.get(api))
    return decorate(fn, wrap)


# ------------------------------------------------------------------ async_safe


def _async_safe_of_async(
    fn: Any, timeout: float | None, policy: ConflictPolicy | None
) -> _Parts:
    what = f"the async_safe function {qualified_name(fn)}()"

    def call(*args: Any, **kwargs: Any) -> Any:
        return run_sync_internal(fn, args, kwargs, timeout, policy, None, what)

    async def aio(*args: Any, **kwargs: Any) -> Any:
        if timeout is None:
            return await fn(*args, **kwargs)
        with anyio.fail_after(timeout):
            return await fn(*args, **kwargs)

    return call, aio, False


def _async_safe_of_sync(
    fn: Any, timeout: float | None, policy: ConflictPolicy | None
) -> _Parts:
    plain = PLAIN_TYPES

    def call(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if type(result) in plain:
            return result
        return _run_returned(fn, result, timeout, policy)

    async def aio(*args: Any, **kwargs: Any) -> Any:
        result = await _in_thread(fn, args, kwargs, None, None)
        if type(result) in plain or not is_awaitable(result):
            return result
        return await _await_within(result, timeout)

    return call, aio, False


def _run_returned(
    fn: object, result: object, timeout: float | None, policy: ConflictPolicy | None
) -> Any:
    """The slow path of a sync target: run the awaitable it returned, if it did."""
    if not is_awaitable(result):
        return result
    check_async_target(result, "async_safe", f"the value {describe(fn)} returned")
    what = f"the async_safe function {qualified_name(fn)}()"
    return run_sync_internal(result, None, None, timeout, policy, None, what)


@overload
def async_safe(fn: Callable[P, Awaitable[T]], /) -> AsyncSafe[P, T]: ...
@overload
def async_safe(fn: Callable[P, T], /) -> AsyncSafe[P, T]: ...
@overload
def async_safe(
    fn: None = None,
    /,
    *,
    timeout: float | None = None,
    on_loop_conflict: ConflictPolicy | None = None,
) -> AsyncSafeDecorator: ...
def async_safe(
    fn: object = None,
    /,
    *,
    timeout: float | None = None,
    on_loop_conflict: ConflictPolicy | None = None,
) -> Any:
    """Make a callable that is async, or may return an awaitable, callable from sync code.

    ``@async_safe`` (bare) or ``@async_safe(timeout=..., on_loop_conflict=...)``.
    The decorated name is a plain sync function that returns the final value:

    - an ``async def`` function (or an object whose ``__call__`` is one) runs by the
      rules of `run_sync`: on the loop a worker thread works for, else on the shared
      portal loop; from a thread whose own loop is running, by *on_loop_conflict*
      (default: on the portal while this thread waits, with a `LoopBlockedWarning`);
    - a sync function is called in the calling thread; if it returns an awaitable,
      that runs the same way; any other value passes through untouched, at the cost
      of a set lookup on its type.

    ``.aio(*args, **kwargs)`` is the form for async callers: an async function is
    awaited directly on the caller's loop; a sync one runs in a worker thread (the
    rules of `run_in_thread`) and the awaitable it may return is awaited on the
    caller's loop. Exceptions come out unchanged. On methods, classmethods and
    staticmethods both forms bind as expected (put ``@async_safe`` above
    ``@classmethod``).

    Cancellation: *timeout* bounds the async part of a call (the coroutine, or the
    awaitable a sync function returned): it is cancelled, its cleanup runs, then
    `TimeoutError` is raised. Sync code cannot be interrupted; it is never timed.

    Args:
        fn: the callable (bare use).
        timeout: seconds for the async part of each call (None: no limit).
        on_loop_conflict: ``"thread"`` or ``"raise"``, as for `run_sync`; default
            from `configure`.

    Returns:
        The decorated callable (bare use), or a decorator that makes it.

    Raises:
        TypeError: *fn* is not callable, is a coroutine object (it is closed), or is
            an async generator function; *timeout* is not a number.
        ValueError: a negative *timeout*, or an unknown *on_loop_conflict*.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> @ab.async_safe
        ... async def fetch(key: str) -> str:
        ...     await asyncio.sleep(0)
        ...     return key.upper()
        >>> fetch("a")
        'A'
        >>> asyncio.run(fetch.aio("b"))
        'B'
    """
    if fn is not None:
        _check(fn, "async_safe")
    checked = check_timeout(timeout)
    if on_loop_conflict is not None:
        check_conflict_policy(on_loop_conflict)

    def make(target: Any) -> _Parts:
        if is_async_callable(target):
            return _async_safe_of_async(target, checked, on_loop_conflict)
        return _async_safe_of_sync(target, checked, on_loop_conflict)

    label = f"timeout={checked!r}, on_loop_conflict={on_loop_conflict!r}"
    return _finish(fn, "async_safe", make, label)


# --------------------------------------------------------- mixed_execution_safe


def _mixed_of_async(fn: Any) -> _Parts:
    # Creating a coroutine runs no loop, so there is nothing to protect; the wrapper
    # exists so that the decorators compose in any order. Still async.
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await fn(*args, **kwargs)

    async def aio(*args: Any, **kwargs: Any) -> Any:
        return await fn(*args, **kwargs)

    return call, aio, True


def _mixed_of_sync(
    fn: Any, executor: str | Executor | None, timeout: float | None
) -> _Parts:
    in_loop = in_async_context
    plain = PLAIN_TYPES

    def call(*args: Any, **kwargs: Any) -> Any:
        if not in_loop():
            return fn(*args, **kwargs)
        return _run_off_loop(fn, args, kwargs, executor, timeout)

    async def aio(*args: Any, **kwargs: Any) -> Any:
        result = await _in_thread(fn, args, kwargs, executor, timeout)
        if type(result) in plain or not is_awaitable(result):
            return result
        return await result

    return call, aio, False


@overload
def mixed_execution_safe(
    fn: Callable[P, Coroutine[Any, Any, T]], /
) -> MixedExecutionSafe[P, Coroutine[Any, Any, T], T]: ...
@overload
def mixed_execution_safe(
    fn: Callable[P, Awaitable[T]], /
) -> MixedExecutionSafe[P, Awaitable[T], T]: ...
@overload
def mixed_execution_safe(fn: Callable[P, T], /) -> MixedExecutionSafe[P, T, T]: ...
@overload
def mixed_execution_safe(
    fn: None = None,
    /,
    *,
    executor: str | Executor | None = None,
    timeout: float | None = None,
) -> MixedExecutionSafeDecorator: ...
def mixed_execution_safe(
    fn: object = None,
    /,
    *,
    executor: str | Executor | None = None,
    timeout: float | None = None,
) -> Any:
    """Let opaque sync code that runs its own event loop be called from anywhere.

    For sync code that calls `asyncio.run`, ``loop.run_until_complete`` or
    `anyio.run` itself (as many SDKs do), which raises `RuntimeError` in a thread
    whose event loop is running. ``@mixed_execution_safe`` (bare) or
    ``@mixed_execution_safe(executor=..., timeout=...)``:

    - outside a running loop the call runs inline, in the calling thread, at the
      cost of a plain call plus a loop check;
    - in a thread whose loop is running (sync code called from a coroutine), it
      runs in a clean worker thread, where its own loop works, while the calling
      thread waits for it. That stalls the calling loop, so a `LoopBlockedWarning`
      says so (through `warnings`: once per call site by default). The worker is
      not marked as working for the blocked loop: `run_sync` in there uses the
      portal, never the loop waiting for it. It sees a copy of the caller's
      contextvars.

    ``.aio(*args, **kwargs)`` is the form for async callers: it always runs the call
    in a worker thread without blocking the loop (the rules of `run_in_thread`;
    `run_sync` in there routes back to the caller's loop), and awaits the awaitable
    the call may return. The function is called once per call, never retried;
    exceptions come out unchanged. An ``async def`` function needs no protection
    (creating a coroutine runs no loop): it is passed through, still async.

    Cancellation: *timeout* applies where the call runs off-thread (the blocking
    form inside a loop, and ``.aio``). A thread cannot be killed: on timeout the
    caller gets `TimeoutError` at once and the call runs on in its thread to its
    end, its result discarded (an exception it raises then is logged on the
    ``asyncbridge`` logger). A call that had not started yet never starts.

    Args:
        fn: the callable (bare use).
        executor: where it runs off-thread: a registered executor name (looked up
            at each call) or a `concurrent.futures.Executor` (None: the default
            pool).
        timeout: seconds to wait for an off-thread call (None: no limit).

    Returns:
        The decorated callable (bare use), or a decorator that makes it.

    Raises:
        TypeError: *fn* is not callable, is a coroutine object (it is closed), or
            is a generator or async generator function; *executor* or *timeout* of
            the wrong type.
        ValueError: a negative *timeout*, or an empty executor name.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> @ab.mixed_execution_safe
        ... def legacy_fetch(key: str) -> str:
        ...     async def inner() -> str:
        ...         return key.upper()
        ...     return asyncio.run(inner())  # works even when called from a coroutine
        >>> legacy_fetch("a")
        'A'
        >>> async def main() -> str:
        ...     return await legacy_fetch.aio("b")
        >>> asyncio.run(main())
        'B'
    """
    if fn is not None:
        _check(fn, "mixed_execution_safe")
    checked_executor = cast(
        "str | Executor | None", check_executor(executor, "mixed_execution_safe")
    )
    checked_timeout = check_timeout(timeout)

    def make(target: Any) -> _Parts:
        if is_async_callable(target):
            return _mixed_of_async(target)
        return _mixed_of_sync(target, checked_executor, checked_timeout)

    label = f"executor={checked_executor!r}, timeout={checked_timeout!r}"
    return _finish(fn, "mixed_execution_safe", make, label)
