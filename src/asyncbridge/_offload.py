"""Async → sync: `run_in_thread` and `asyncify`."""

from __future__ import annotations

import contextvars
import functools
import sys
import weakref
from types import FunctionType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from typing_extensions import ParamSpec, TypeVarTuple

from ._backends import ThreadJob, await_thread_job
from ._detect import running_asyncio_loop
from ._executors import Adapter, default_adapter, resolve
from ._hooks import HOOKS, trace_run_in_thread
from ._validate import check_bool, check_sync_callable
from ._wrapping import wraps

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from concurrent.futures import Executor

__all__ = ["asyncify", "run_in_thread", "thread_context"]

T = TypeVar("T")
P = ParamSpec("P")
Ts = TypeVarTuple("Ts")

# code flags of `async def` and async generator functions (inspect.CO_COROUTINE |
# inspect.CO_ASYNC_GENERATOR), checked on the fast path without calling inspect
_ASYNC_FLAGS = 0x0080 | 0x0200


def _check_fn(sync_fn: object, func: str) -> None:
    # Fast path for the common case, a plain sync function: skip the full check.
    if type(sync_fn) is FunctionType and not sync_fn.__code__.co_flags & _ASYNC_FLAGS:
        return
    check_sync_callable(sync_fn, func)


def _check_limiter(limiter: object) -> anyio.CapacityLimiter | int | None:
    if limiter is None or isinstance(limiter, anyio.CapacityLimiter):
        return limiter
    if isinstance(limiter, bool) or not isinstance(limiter, int):
        raise TypeError(
            f"limiter must be an anyio.CapacityLimiter, an int or None, got {limiter!r}"
        )
    if limiter < 1:
        raise ValueError(f"limiter must be at least 1, got {limiter!r}")
    return limiter


class _PerLoopLimiters:
    """One `anyio.CapacityLimiter` of a fixed size per event loop, per key.

    anyio limiters belong to the loop they are first used on, so an int limit is
    kept per loop: "at most N at once" holds within each loop.
    """

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[object, Any] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, key: object, size: int) -> anyio.CapacityLimiter:
        loop = _current_loop()
        per_key = self._by_loop.get(loop)
        if per_key is None:
            per_key = self._by_loop[loop] = _KeyedLimiters()
        return per_key.get(key, size)


class _KeyedLimiters:
    def __init__(self) -> None:
        self._weak: weakref.WeakKeyDictionary[object, anyio.CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )
        self._strong: dict[object, anyio.CapacityLimiter] = {}

    def get(self, key: object, size: int) -> anyio.CapacityLimiter:
        try:
            store: Any = self._weak
            limiter = store.get(key)
        except TypeError:  # not weak-referenceable (a builtin): lives forever anyway
            store = self._strong
            limiter = store.get(key)
        if limiter is None:
            limiter = store[key] = anyio.CapacityLimiter(size)
        return limiter  # type: ignore[no-any-return]


def _current_loop() -> object:
    loop = running_asyncio_loop()
    if loop is not None:
        return loop
    import trio  # noqa: PLC0415  (not asyncio, so trio is running)

    return trio.lowlevel.current_trio_token()


_function_limiters = _PerLoopLimiters()


def thread_context() -> contextvars.Context:
    """Copy the caller's contextvars for a worker thread, which runs no loop.

    anyio records the running async library in sniffio's context variable; a copy
    carried into a thread would make sniffio (and `anyio.run` there) believe a loop
    runs in that thread. anyio and trio clear it for their worker threads; so do we.
    """
    context = contextvars.copy_context()
    sniffio = sys.modules.get("sniffio")
    if sniffio is not None:
        var = sniffio.current_async_library_cvar
        if context.get(var) is not None:
            context.run(var.set, None)
    return context


async def _offload(
    adapter: Adapter,
    sync_fn: Callable[..., T],
    args: tuple[Any, ...],
    cancellable: bool,
) -> T:
    context = thread_context() if adapter.marks_threads else None
    if HOOKS and context is not None:  # asyncbridge.instrumentation: report this hop
        sync_fn = trace_run_in_thread(sync_fn)
    return await await_thread_job(
        ThreadJob(sync_fn, args, context), adapter.put, cancellable
    )


async def run_in_thread(
    sync_fn: Callable[[*Ts], T],
    /,
    *args: *Ts,
    executor: str | Executor | None = None,
    limiter: anyio.CapacityLimiter | int | None = None,
    cancellable: bool = False,
) -> T:
    """Run blocking code in a worker thread without blocking the event loop.

    The thread comes from a managed pool (the default one unless *executor* says
    otherwise) and runs *sync_fn* in a copy of the caller's contextvars. It is marked
    as working for the caller's loop, so `run_sync` inside it runs coroutines back on
    that loop. Works on asyncio (uvloop included) and trio.

    Cancellation: a call still queued is withdrawn at once. A running one, by
    default (``cancellable=False``), is waited for: the caller's cancellation takes
    effect when the thread is done, so no work is orphaned (what the thread raised
    is chained to it). With ``cancellable=True`` the caller is released at once and
    the thread's result is discarded.

    Args:
        sync_fn: the blocking function.
        *args: positional arguments for it (use `asyncify` or `functools.partial`
            for keyword arguments).
        executor: a registered name or any `concurrent.futures.Executor` (None: the
            default pool). Thread pools get contextvars and the worker marker; other
            executors (process pools, Dask) get ``submit(sync_fn, *args)`` as is.
        limiter: an `anyio.CapacityLimiter` shared by every call given it, or an int:
            at most that many calls of this *sync_fn* at once (per event loop).
        cancellable: release a cancelled caller at once instead of waiting.

    Returns:
        What *sync_fn* returned.

    Raises:
        TypeError: *sync_fn* is async, a coroutine object, or not callable.
        ExecutorShutdownError: the executor has been shut down.
        Exception: whatever *sync_fn* raised, unchanged, with its traceback.

    Example:
        >>> import asyncio, time, asyncbridge as ab
        >>> async def main() -> float:
        ...     return await ab.run_in_thread(time.sleep, 0) or 1.0
        >>> asyncio.run(main())
        1.0
    """
    _check_fn(sync_fn, "run_in_thread")
    if cancellable is not False:
        check_bool(cancellable, "cancellable")
    adapter = default_adapter() if executor is None else resolve(executor)
    if limiter is None:
        return await _offload(adapter, sync_fn, args, cancellable)
    checked = _check_limiter(limiter)
    if isinstance(checked, int):
        key = getattr(sync_fn, "__func__", sync_fn)
        checked = _function_limiters.get(key, checked)
    assert checked is not None  # noqa: S101
    async with checked:
        return await _offload(adapter, sync_fn, args, cancellable)


def asyncify(
    sync_fn: Callable[P, T],
    *,
    executor: str | Executor | None = None,
    limiter: anyio.CapacityLimiter | int | None = None,
    cancellable: bool = False,
) -> Callable[P, Awaitable[T]]:
    """Wrap a blocking function into an async one that runs it by `run_in_thread`.

    The wrapper forwards ``*args, **kwargs`` untouched and keeps the name,
    docstring, signature and ``__wrapped__`` of *sync_fn*.

    Args:
        sync_fn: the blocking function.
        executor: as for `run_in_thread`; a name is looked up at each call.
        limiter: an `anyio.CapacityLimiter`, or an int: one limiter of that size for
            all calls of this wrapper (per event loop).
        cancellable: as for `run_in_thread`.

    Returns:
        An async function with *sync_fn*'s parameters.

    Raises:
        TypeError: bad arguments (raised here, at wrap time).
        ValueError: an unknown executor name, or a limiter below 1.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> def slow_add(a: int, b: int = 0) -> int:
        ...     return a + b
        >>> asyncio.run(ab.asyncify(slow_add)(1, b=2))
        3
    """
    check_sync_callable(sync_fn, "asyncify")
    check_bool(cancellable, "cancellable")
    checked = _check_limiter(limiter)
    if executor is not None and not isinstance(executor, str):
        resolve(executor)  # check the type now; a name may be registered later
    per_loop = _PerLoopLimiters() if isinstance(checked, int) else None

    @wraps(sync_fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        adapter = default_adapter() if executor is None else resolve(executor)
        fn: Callable[..., T] = (
            functools.partial(sync_fn, **kwargs) if kwargs else sync_fn
        )
        if checked is None:
            return await _offload(adapter, fn, args, cancellable)
        limiter_now = (
            checked
            if isinstance(checked, anyio.CapacityLimiter)
            else per_loop.get(wrapper, checked)  # type: ignore[union-attr]
        )
        async with limiter_now:
            return await _offload(adapter, fn, args, cancellable)

    return wrapper
