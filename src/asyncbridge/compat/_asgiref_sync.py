"""asgiref's ``asgiref.sync`` API on asyncbridge's engine (`asyncbridge.compat.asgiref`).

The public names of ``asgiref.sync`` 3.13, with asgiref's signatures and
semantics, mapped onto asyncbridge's public API (``import asyncbridge as ab``):

* `async_to_sync` / `AsyncToSync` run the coroutine with `asyncbridge.run_sync`:
  from a thread started by `sync_to_async` it runs back on that thread's event loop;
  from a plain thread on asyncbridge's shared portal loop (one long-lived loop, no
  new thread and loop per call as asgiref starts). Called in a thread whose event
  loop is running, it raises asgiref's `RuntimeError`.
* `sync_to_async` / `SyncToAsync` run the function with `asyncbridge.run_in_thread`:
  ``thread_sensitive=True`` (the default) on the sync thread that waits for this
  coroutine in `async_to_sync` (asyncbridge's ``SYNC_CALLER`` executor), else on the
  thread of the enclosing `ThreadSensitiveContext`, else on one thread shared by
  the process; ``thread_sensitive=False`` on *executor* (asyncbridge's default pool
  when None; asgiref uses the loop's default executor).
* contextvars travel both ways as in asgiref: the callee starts with the caller's
  values and the caller sees the callee's changes afterwards (with ``context=``,
  the changes stay in that context). Only variables the callee changed travel
  back, never ones a bridge set around it. ``asgiref.local.Local`` storage is
  re-homed to the thread that receives it, as asgiref does.
* Cancelling a task that awaits `sync_to_async` cancels the coroutine that the
  sync function started back on the loop with `async_to_sync`; if that coroutine
  absorbs the cancellation, the task waits for the sync function and returns its
  value (asgiref's ``shield`` idiom); otherwise the task is cancelled at once.

The state shared between calls (contextvars, the waiting caller, the contexts) is
in `._asgiref_contexts`; `install` is in `._asgiref_install`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import sys
import threading
import warnings
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Protocol,
    TypeVar,
    cast,
    overload,
)

from typing_extensions import ParamSpec

import asyncbridge as ab

from ._asgiref_contexts import (
    ASYNC_SINGLE_THREAD_CONTEXT,
    CONTEXT_TO_THREAD_EXECUTOR,
    THREAD_SENSITIVE_CONTEXT,
    WAITING,
    AsyncSingleThreadContext,
    Changes,
    Executors,
    ThreadSensitiveContext,
    Waiter,
    adopt_local_data,
    apply,
    changes,
    thread_sensitive_executor,
)

if TYPE_CHECKING:
    import concurrent.futures
    import weakref
    from collections.abc import Awaitable, Callable, Coroutine

__all__ = [
    "AsyncToSync",
    "SyncToAsync",
    "async_to_sync",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "sync_to_async",
]

_F = TypeVar("_F", bound="Callable[..., Any]")
_P = ParamSpec("_P")
_R = TypeVar("_R")

# ------------------------------------------------------------------ coroutine marks

if sys.version_info >= (3, 12):
    iscoroutinefunction = inspect.iscoroutinefunction
    markcoroutinefunction = inspect.markcoroutinefunction
else:  # pragma: no cover  (the venv's Python decides which branch runs)

    def iscoroutinefunction(func: object) -> bool:
        """Tell whether *func* is async, `markcoroutinefunction` included (3.11)."""
        # deprecated from Python 3.14 on; this branch is Python 3.11's
        return asyncio.iscoroutinefunction(func)  # pyright: ignore[reportDeprecated]

    def markcoroutinefunction(func: _F) -> _F:
        """Mark *func* so that `iscoroutinefunction` reports True (Python 3.11)."""
        # Python 3.11's asyncio.iscoroutinefunction() recognises this attribute,
        # a private asyncio marker that asgiref sets the same way.
        marker = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]  # noqa: SLF001
        func._is_coroutine = marker  # type: ignore[attr-defined]  # noqa: SLF001
        return func


# ------------------------------------------------------------------ async → sync


class _ThreadState(threading.local):
    call: _ThreadCall | None = None


_thread_state = _ThreadState()


class AsyncToSync(Generic[_P, _R]):
    """Turn an async callable into a sync one (asgiref's `AsyncToSync`).

    A call blocks this thread until the coroutine is done and returns its value (or
    raises its exception). From a thread that `sync_to_async` started, the
    coroutine runs on that call's event loop; from any other thread without a
    running loop, on asyncbridge's shared portal loop (``force_new_loop=True``: on
    the portal even from a `sync_to_async` thread). While it waits, this thread
    serves the thread-sensitive `sync_to_async` calls that the coroutine makes.
    contextvars are copied in, and the coroutine's changes copied back.

    Raises:
        RuntimeError: called in a thread whose asyncio event loop is running.
    """

    executors = Executors()
    async_single_thread_context: ClassVar[
        contextvars.ContextVar[AsyncSingleThreadContext]
    ] = ASYNC_SINGLE_THREAD_CONTEXT

    def __init__(
        self,
        awaitable: Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]],
        force_new_loop: bool = False,
    ) -> None:
        target: object = awaitable  # asgiref checks at run time what typing promises
        if not callable(target) or (
            not iscoroutinefunction(awaitable)
            and not iscoroutinefunction(getattr(awaitable, "__call__", awaitable))  # noqa: B004
        ):
            # Detection of async callables has false negatives: only a warning.
            warnings.warn(
                "async_to_sync was passed a non-async-marked callable", stacklevel=2
            )
        self.awaitable = awaitable
        try:
            self.__self__ = self.awaitable.__self__  # type: ignore[union-attr]
        except AttributeError:
            pass
        self.force_new_loop = force_new_loop

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if ab.in_async_context():
            raise RuntimeError(
                "You cannot use AsyncToSync in the same thread as an async event "
                "loop - just await the async function directly."
            )
        after: list[Changes] = []
        old = WAITING.get()
        WAITING.set(Waiter())
        try:
            main = _main(
                after,
                _thread_state.call,
                sys.exc_info()[1],
                self.awaitable(*args, **kwargs),
            )
            if self.force_new_loop:
                return _run_on_portal(main)
            return ab.run_sync(main)
        finally:
            if after:
                apply(after[0])
            WAITING.set(old)

    def __get__(self, parent: Any, objtype: Any) -> Callable[_P, _R]:
        """Bind to *parent*, as a method."""
        func = functools.partial(self.__call__, parent)
        return functools.update_wrapper(func, self.awaitable)


async def _main(
    after: list[Changes],
    call: _ThreadCall | None,
    exc: BaseException | None,
    awaitable: Awaitable[_R],
) -> _R:
    """Await *awaitable* on the target loop for `AsyncToSync`."""
    task = None if call is None else asyncio.current_task()
    if task is not None:
        call.tasks.append(task)  # type: ignore[union-attr]  # a cancelled caller cancels it
    adopt_local_data()
    start = contextvars.copy_context()
    try:
        if exc is not None:
            # The caller was handling *exc*: so is the coroutine (sys.exc_info()).
            try:
                raise exc  # noqa: TRY301  (to set sys.exc_info() for the callee)
            except BaseException:
                return await awaitable
        return await awaitable
    finally:
        if task is not None:
            call.tasks.remove(task)  # type: ignore[union-attr]
        after.append(changes(start))


def _run_on_portal(main: Coroutine[Any, Any, _R]) -> _R:
    """Run *main* on the shared portal, not the loop this thread works for."""
    context = contextvars.copy_context()
    box: list[Any] = []

    def target() -> None:
        try:
            box.append((True, context.run(ab.run_sync, main)))
        except BaseException as exc:
            box.append((False, exc))

    thread = threading.Thread(target=target, name="asgiref-force-new-loop")
    thread.start()
    thread.join()
    ok, value = box.pop()
    if ok:
        return value  # type: ignore[no-any-return]
    try:
        raise value
    finally:
        del value


# ------------------------------------------------------------------ sync → async


class _Submitter(Protocol):
    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]: ...


class _ThreadCall:
    """One `SyncToAsync` call: runs in the worker thread, reports to the loop."""

    __slots__ = (
        "changes",
        "child",
        "context",
        "exc",
        "finished",
        "lock",
        "loop",
        "outcome",
        "tasks",
        "waiter",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        child: Callable[[], Any],
        exc: BaseException | None,
    ) -> None:
        self.loop = loop
        self.context = context
        self.child = child
        self.exc = exc
        self.tasks: list[asyncio.Task[Any]] = []  # coroutines it started on *loop*
        self.lock = threading.Lock()
        self.finished = False
        self.outcome: tuple[bool, Any] = (False, None)
        self.waiter: asyncio.Future[None] | None = None
        self.changes: Changes | None = None  # what the function set, for the caller

    def run(self) -> Any:
        """Run the function in *context* (in the worker thread)."""
        previous = _thread_state.call
        _thread_state.call = self
        try:
            if self.exc is not None:
                try:
                    raise self.exc  # noqa: TRY301  (sets sys.exc_info() for the callee)
                except BaseException:
                    value = self.context.run(self._child)
            else:
                value = self.context.run(self._child)
        except BaseException as exc:
            self._finish(ok=False, value=exc)
            raise
        else:
            self._finish(ok=True, value=value)
            return value
        finally:
            _thread_state.call = previous

    def _child(self) -> Any:
        adopt_local_data()
        start = contextvars.copy_context()
        try:
            return self.child()
        finally:
            self.changes = changes(start)

    def _finish(self, *, ok: bool, value: Any) -> None:
        with self.lock:
            self.outcome = (ok, value)
            self.finished = True
            waiter = self.waiter
        if waiter is not None:
            self.loop.call_soon_threadsafe(_wake, waiter)

    async def after_cancel(self) -> tuple[bool, Any] | None:
        """Decide a cancelled caller's fate, as asgiref does.

        The coroutine this call started back on the loop (if any) is cancelled and
        awaited. If it absorbed the cancellation, wait for the function and return
        its outcome ``(ok, value or exception)``; otherwise None: the caller is
        cancelled at once.
        """
        absorbed = False
        if self.tasks:
            task = self.tasks[0]
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            else:
                absorbed = True
        if not absorbed:
            return None
        with self.lock:
            if self.finished:
                return self.outcome
            waiter = self.waiter = self.loop.create_future()
        await waiter
        return self.outcome


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class SyncToAsync(Generic[_P, _R]):
    """Turn a sync callable into an async one (asgiref's `SyncToAsync`).

    Awaiting the wrapper runs the function in a thread without blocking the loop
    and returns its value. ``thread_sensitive=True`` runs it on the sync thread that
    waits for this coroutine in `async_to_sync` (nested to any depth), or on the
    thread of the enclosing `ThreadSensitiveContext`, or else on one thread shared
    by the process; ``thread_sensitive=False`` runs it on *executor* (any object
    with ``submit()``; None: asyncbridge's default pool). The function sees the
    caller's contextvars (or runs in *context*), and the caller sees its changes.

    Raises:
        TypeError: *func* is not a sync callable, or *executor* is given with
            ``thread_sensitive=True``.
    """

    thread_sensitive_context: ClassVar[
        contextvars.ContextVar[ThreadSensitiveContext]
    ] = THREAD_SENSITIVE_CONTEXT
    context_to_thread_executor: ClassVar[
        weakref.WeakKeyDictionary[ThreadSensitiveContext, concurrent.futures.Executor]
    ] = CONTEXT_TO_THREAD_EXECUTOR

    def __init__(
        self,
        func: Callable[_P, _R],
        thread_sensitive: bool = True,
        executor: _Submitter | None = None,
        context: contextvars.Context | None = None,
    ) -> None:
        if (
            not callable(checked := cast("object", func))
            or iscoroutinefunction(func)
            or iscoroutinefunction(getattr(func, "__call__", func))  # noqa: B004
        ):
            raise TypeError("sync_to_async can only be applied to sync functions.")
        functools.update_wrapper(self, checked)
        self.func = func
        self.context = context
        self._thread_sensitive = thread_sensitive
        markcoroutinefunction(self)
        if thread_sensitive and executor is not None:
            raise TypeError("executor must not be set when thread_sensitive is True")
        self._executor = executor
        try:
            self.__self__ = func.__self__  # type: ignore[attr-defined]
        except AttributeError:
            pass

    async def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        loop = asyncio.get_running_loop()
        # duck-typed executors (only submit()) are accepted at run time
        executor: Any = (
            thread_sensitive_executor() if self._thread_sensitive else self._executor
        )
        context = contextvars.copy_context() if self.context is None else self.context
        call = _ThreadCall(
            loop,
            context,
            functools.partial(self.func, *args, **kwargs),
            sys.exc_info()[1],
        )
        try:
            value: _R = await ab.run_in_thread(
                call.run, executor=executor, cancellable=True
            )
        except asyncio.CancelledError:
            outcome = await call.after_cancel()
            if outcome is None:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            ok, result = outcome
            if not ok:
                raise result  # noqa: B904  (the function's own exception)
            value = result
        finally:
            if self.context is None and call.changes is not None:
                apply(call.changes)
        return value

    def __get__(
        self, parent: Any, objtype: Any
    ) -> Callable[_P, Coroutine[Any, Any, _R]]:
        """Bind to *parent*, as a method."""
        func = functools.partial(self.__call__, parent)
        return functools.update_wrapper(func, self.func)


# ------------------------------------------------------------------ functions


@overload
def async_to_sync(
    *, force_new_loop: bool = False
) -> Callable[
    [Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]]],
    Callable[_P, _R],
]: ...


@overload
def async_to_sync(
    awaitable: Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]],
    *,
    force_new_loop: bool = False,
) -> Callable[_P, _R]: ...


def async_to_sync(
    awaitable: Callable[_P, Coroutine[Any, Any, _R]]
    | Callable[_P, Awaitable[_R]]
    | None = None,
    *,
    force_new_loop: bool = False,
) -> (
    Callable[
        [Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]]],
        Callable[_P, _R],
    ]
    | Callable[_P, _R]
):
    """Wrap an async callable into a sync one; see `AsyncToSync`.

    Usable as ``async_to_sync(fn)``, ``@async_to_sync`` and
    ``@async_to_sync(force_new_loop=True)``.

    Example:
        >>> async def add(a: int, b: int) -> int:
        ...     return a + b
        >>> async_to_sync(add)(1, 2)
        3
    """
    if awaitable is None:
        return lambda f: AsyncToSync(f, force_new_loop=force_new_loop)
    return AsyncToSync(awaitable, force_new_loop=force_new_loop)


@overload
def sync_to_async(
    *,
    thread_sensitive: bool = True,
    executor: _Submitter | None = None,
    context: contextvars.Context | None = None,
) -> Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]: ...


@overload
def sync_to_async(
    func: Callable[_P, _R],
    *,
    thread_sensitive: bool = True,
    executor: _Submitter | None = None,
    context: contextvars.Context | None = None,
) -> Callable[_P, Coroutine[Any, Any, _R]]: ...


def sync_to_async(
    func: Callable[_P, _R] | None = None,
    *,
    thread_sensitive: bool = True,
    executor: _Submitter | None = None,
    context: contextvars.Context | None = None,
) -> (
    Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]
    | Callable[_P, Coroutine[Any, Any, _R]]
):
    """Wrap a sync callable into an async one; see `SyncToAsync`.

    Usable as ``sync_to_async(fn)``, ``@sync_to_async`` and
    ``@sync_to_async(thread_sensitive=False)``.

    Example:
        >>> asyncio.run(sync_to_async(sum)([1, 2, 3]))
        6
    """
    if func is None:
        return lambda f: SyncToAsync(
            f, thread_sensitive=thread_sensitive, executor=executor, context=context
        )
    return SyncToAsync(
        func, thread_sensitive=thread_sensitive, executor=executor, context=context
    )
