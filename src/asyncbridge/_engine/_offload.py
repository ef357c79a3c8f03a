"""Async → sync: `run_in_thread` and `asyncify`."""

from __future__ import annotations

import contextvars
import functools
import logging
import sys
import threading
import weakref
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from typing_extensions import ParamSpec, TypeVarTuple

from asyncbridge._backends import (
    ThreadJob,
    await_thread_job,
    current_token,
    discard,
    running,
)
from asyncbridge._core._hooks import HOOKS, trace_run_in_thread
from asyncbridge._core._state import state
from asyncbridge._core._validate import (
    check_bool,
    check_executor,
    check_sync_callable,
    describe,
)
from asyncbridge._core._waits import ThreadWaits, Wait, here, serve_until
from asyncbridge._core._wrapping import wraps

from ._executors import Outlet, resolve

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from concurrent.futures import Executor

__all__ = [
    "asyncify",
    "check_cancelled",
    "offload",
    "offload_blocking",
    "run_in_thread",
    "thread_context",
]

T = TypeVar("T")
P = ParamSpec("P")
Ts = TypeVarTuple("Ts")
logger = logging.getLogger("asyncbridge")

# code flags of `async def` and async generator functions (inspect.CO_COROUTINE |
# inspect.CO_ASYNC_GENERATOR), checked on the fast path without calling inspect
_ASYNC_FLAGS = 0x0080 | 0x0200


def _check_fn(sync_fn: object, func: str) -> None:
    # Fast path for the common cases, a plain sync function or a method bound to
    # one: skip the full check.
    plain = sync_fn.__func__ if type(sync_fn) is MethodType else sync_fn
    if type(plain) is FunctionType and not plain.__code__.co_flags & _ASYNC_FLAGS:
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


def _limit_key(sync_fn: object) -> object:
    """What an int limiter of a direct call is keyed on: the underlying function.

    `functools.partial` objects and bound methods are unwrapped, so a lambda-free
    ``partial(fn, x=1)`` made per call (the usual way to pass keyword arguments)
    shares one limit with every other call of ``fn``.

    Raises:
        TypeError: the callable cannot be keyed (unhashable, and not a partial or a
            method of a hashable function).
    """
    key: object = sync_fn
    while True:
        if isinstance(key, functools.partial):
            key = key.func
        elif isinstance(key, MethodType):
            key = key.__func__
        else:
            break
    try:
        hash(key)
    except TypeError:
        raise TypeError(
            f"run_in_thread() cannot key an int limiter on {describe(sync_fn)} (it is "
            "unhashable); pass an anyio.CapacityLimiter shared by the calls to limit "
            "instead"
        ) from None
    return key


class _PerLoopLimiters:
    """One `anyio.CapacityLimiter` of a fixed size per event loop, per key.

    anyio limiters belong to the loop they are first used on, so an int limit is
    kept per loop: "at most N at once" holds within each loop. Made under a lock:
    simultaneous first use from several loops' threads gets one limiter each.
    """

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[object, dict[object, Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self, key: object, size: int) -> anyio.CapacityLimiter:
        loop = current_token()
        with self._lock:
            per_key = self._by_loop.get(loop)
            if per_key is None:
                per_key = self._by_loop[loop] = {}
            limiter = per_key.get((key, size))
            if limiter is None:
                limiter = per_key[(key, size)] = anyio.CapacityLimiter(size)
            return limiter


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
        var = getattr(sniffio, "current_async_library_cvar", None)
        if var is not None and context.get(var) is not None:
            context.run(var.set, None)
    return context


def _job(
    outlet: Outlet,
    sync_fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    context: contextvars.Context | None = None,
) -> ThreadJob[T]:
    target = functools.partial(sync_fn, **kwargs) if kwargs else sync_fn
    if context is None and outlet.marks_threads:
        context = thread_context()
    if HOOKS and outlet.marks_threads:  # asyncbridge.instrumentation: report the hop
        target = trace_run_in_thread(target)
    return ThreadJob(target, args, context)


def _check_context(context: object, outlet: Outlet | None) -> None:
    """Check a ``context=`` argument (and that its executor runs in this process)."""
    if context is None:
        return
    if not isinstance(context, contextvars.Context):
        raise TypeError(
            f"context must be a contextvars.Context or None, got {describe(context)}"
        )
    if outlet is not None and not outlet.marks_threads:
        raise ValueError(
            f"context= needs an executor that runs the call in this process; "
            f"{outlet.executor!r} may not (contextvars do not travel)"
        )


async def offload(
    outlet: Outlet,
    sync_fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None = None,
    *,
    cancellable: bool = False,
    context: contextvars.Context | None = None,
) -> T:
    """The one async→sync path: run ``sync_fn(*args, **kwargs)`` on *outlet*.

    `run_in_thread`, `asyncify` and the decorators' ``.aio`` forms all come here;
    see `run_in_thread` for the rules.
    """
    job = _job(outlet, sync_fn, args, kwargs, context)
    return await await_thread_job(job, outlet.put, cancellable)


class _Outcome:
    """What a thread job delivers to a thread blocked waiting for it."""

    __slots__ = ("abandoned", "error", "finished", "name", "owner", "value")

    def __init__(self, owner: ThreadWaits, name: str) -> None:
        self.owner = owner
        self.name = name
        self.finished = False
        self.abandoned = False  # the waiting thread stopped waiting
        self.value: Any = None
        self.error: BaseException | None = None

    def deliver(self, value: object, error: BaseException | None) -> None:
        """Receive the outcome (in the worker thread) and wake the waiting thread."""
        if self.abandoned:
            discard(value)
            if error is not None:
                logger.warning(
                    "%s raised after its caller stopped waiting",
                    self.name,
                    exc_info=error,
                )
            return
        self.value, self.error = value, error
        self.finished = True
        self.owner.wake()

    def result(self, fn: object) -> Any:
        error = self.error
        if error is None:
            return self.value
        self.error = None
        backend = running()
        if backend is not None:  # raised inside a task of that library here
            error = backend.raised_in_task(error, fn)
        try:
            raise error
        finally:
            del error


def offload_blocking(
    outlet: Outlet,
    sync_fn: Callable[..., T],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    timeout: float | None,
    name: str,
) -> T:
    """The one sync→thread path: block this thread until a worker ran the call.

    For sync code that must leave this thread (its loop is running), such as
    `mixed_execution_safe` called from a coroutine. The worker is not marked as
    working for this thread's loop: that loop is blocked. The wait is recorded in
    the chain (see `_waits`), so `run_sync` in the worker refuses this loop, and
    this thread serves work addressed to it meanwhile.

    Cancellation: on *timeout* the caller gets `TimeoutError` at once; a call not
    started yet never starts, a running one runs on and its result is discarded
    (an exception it raises then is logged). KeyboardInterrupt likewise.
    """
    owner = here()
    outcome = _Outcome(owner, name)
    job = _job(outlet, sync_fn, args, kwargs)
    job.deliver = outcome.deliver
    wait = Wait(owner, f"{name} in a worker thread", sync=True, loop=current_token())
    wait.begin()
    try:
        job.join(wait)
        outlet.put(job)
        try:
            finished = serve_until(outcome, owner, timeout)
        except BaseException:  # KeyboardInterrupt while waiting
            outcome.abandoned = True
            job.claim()  # withdraw it if no worker has started it yet
            raise
    finally:
        wait.end()
    if not finished:
        outcome.abandoned = True
        what = (
            "it had not started yet and now never will"
            if job.claim()
            else "its worker thread cannot be stopped: the call runs on to its end "
            "and its result is discarded"
        )
        raise TimeoutError(f"{name} did not return within {timeout} s; {what}")
    return outcome.result(sync_fn)  # type: ignore[no-any-return]


def check_cancelled() -> None:
    """Raise the caller's cancellation in a worker thread whose caller was cancelled.

    In sync code run by `run_in_thread` (or `asyncify`, an ``.aio`` form...), when
    the task awaiting it has been cancelled meanwhile: raise that cancellation
    (`asyncio.CancelledError`, or trio's `Cancelled`), so a long loop can stop
    early. Anywhere else it returns at once. Bridge calls the function makes
    (`run_sync` back to the loop) are cancelled, and raise, in the same case.

    Example:
        >>> import asyncbridge as ab
        >>> ab.check_cancelled()  # not in a cancelled worker: nothing happens
    """
    job = state.job
    if job is not None and job.raise_cancel is not None:
        job.raise_cancel()


async def run_in_thread(
    sync_fn: Callable[[*Ts], T],
    /,
    *args: *Ts,
    executor: str | Executor | None = None,
    limiter: anyio.CapacityLimiter | int | None = None,
    cancellable: bool = False,
    context: contextvars.Context | None = None,
) -> T:
    """Run blocking code in a worker thread without blocking the event loop.

    The thread comes from a managed pool (the default one unless *executor* says
    otherwise) and runs *sync_fn* in a copy of the caller's contextvars. It is marked
    as working for the caller's loop, so `run_sync` inside it runs coroutines back on
    that loop. Works on asyncio (uvloop included) and trio.

    Cancellation: a call still queued is withdrawn at once. A running one, by
    default (``cancellable=False``), is waited for: the caller's cancellation takes
    effect when the thread is done, so no work is orphaned (what the thread raised
    is chained to it). Meanwhile the cancellation crosses into the thread: a
    coroutine *sync_fn* runs back on a loop through `run_sync` is cancelled, its
    next bridge call raises the cancellation, and `check_cancelled` lets it stop
    early. With ``cancellable=True`` the caller is released at once and the
    thread's result is discarded.

    Args:
        sync_fn: the blocking function.
        *args: positional arguments for it (use `asyncify` or `functools.partial`
            for keyword arguments).
        executor: a registered name or any `concurrent.futures.Executor` (None: the
            default pool). Thread pools get contextvars and the worker marker; other
            executors (process pools, Dask) get ``submit(sync_fn, *args)`` as is.
        limiter: an `anyio.CapacityLimiter` shared by every call given it, or an int
            N: at most N calls of this *sync_fn* at once (per event loop). The int
            form is keyed on the underlying function (partials and bound methods
            unwrapped) and on N: calls given another N share another limit.
        cancellable: release a cancelled caller at once instead of waiting.
        context: run *sync_fn* in this `contextvars.Context` instead of a copy of
            the caller's: what it sets is visible there afterwards (e.g. pass
            ``ctx = contextvars.copy_context()`` and read ``ctx[var]``). A context
            can be entered by one thread at a time.

    Returns:
        What *sync_fn* returned.

    Raises:
        TypeError: *sync_fn* is async (or an async generator function), a coroutine
            object, or not callable; an int *limiter* for an unhashable callable.
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
    outlet = resolve(executor)
    if context is not None:
        _check_context(context, outlet)
    elif limiter is None and not HOOKS:  # the common case, inlined (hooks: see _job)
        job = ThreadJob(
            sync_fn, args, thread_context() if outlet.marks_threads else None
        )
        return await await_thread_job(job, outlet.put, cancellable)
    if limiter is None:
        return await offload(
            outlet, sync_fn, args, cancellable=cancellable, context=context
        )
    checked = _check_limiter(limiter)
    if isinstance(checked, int):
        checked = _function_limiters.get(_limit_key(sync_fn), checked)
    assert checked is not None  # noqa: S101
    async with checked:
        return await offload(
            outlet, sync_fn, args, cancellable=cancellable, context=context
        )


def asyncify(
    sync_fn: Callable[P, T],
    *,
    executor: str | Executor | None = None,
    limiter: anyio.CapacityLimiter | int | None = None,
    cancellable: bool = False,
    context: contextvars.Context | None = None,
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
        context: as for `run_in_thread`: every call runs in this one context.

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
    check_executor(executor, "asyncify")
    # A name is looked up at each call (it may be registered later); an executor
    # object now, to refuse context= for one that leaves this process.
    named = executor is None or isinstance(executor, str)
    _check_context(context, None if named else resolve(executor))
    per_loop = _PerLoopLimiters() if isinstance(checked, int) else None

    @wraps(sync_fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        outlet = resolve(executor)
        if checked is None:
            return await offload(
                outlet, sync_fn, args, kwargs, cancellable=cancellable, context=context
            )
        limiter_now = (
            checked
            if isinstance(checked, anyio.CapacityLimiter)
            else per_loop.get(wrapper, checked)  # type: ignore[union-attr]
        )
        async with limiter_now:
            return await offload(
                outlet, sync_fn, args, kwargs, cancellable=cancellable, context=context
            )

    return wrapper
