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

`install` makes ``asgiref.sync`` hand out these implementations (see its
docstring); `uninstall` puts asgiref's own back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import sys
import threading
import warnings
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Protocol,
    Self,
    TypeVar,
    cast,
    overload,
)

from typing_extensions import ParamSpec

import asyncbridge as ab

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine
    from types import ModuleType, TracebackType

__all__ = [
    "AsyncSingleThreadContext",
    "AsyncToSync",
    "SyncToAsync",
    "ThreadSensitiveContext",
    "async_to_sync",
    "install",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "sync_to_async",
    "uninstall",
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
        # Python 3.11's asyncio.iscoroutinefunction() recognises this attribute.
        func._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
        return func


# ------------------------------------------------------------------ contextvars


def _storage_type() -> Any:
    """asgiref.local's thread-tagged storage class, if asgiref.local is in use."""
    module = sys.modules.get("asgiref.local")
    return None if module is None else getattr(module, "_Storage", None)


_Changes = list[tuple["contextvars.ContextVar[Any]", Any]]
_MISSING = object()


def _adopt_local_data() -> None:
    """Re-tag the ``asgiref.local.Local`` data of this context for this thread.

    asgiref's Local hides data tagged with another thread; data moved on purpose
    (to the callee, and back to the caller) is re-tagged, as asgiref does.
    """
    storage = _storage_type()
    if storage is None:
        return
    for var, value in contextvars.copy_context().items():
        if type(value) is storage:
            var.set(storage(threading.get_ident(), value.data))


def _changes(start: contextvars.Context) -> _Changes:
    """The variables the current context has set since *start* was copied from it.

    Only what the callee changed travels back to the caller: values that a bridge
    set around the callee (asyncbridge's own bookkeeping) stay where they belong.
    """
    return [
        (var, value)
        for var, value in contextvars.copy_context().items()
        if start.get(var, _MISSING) is not value
    ]


def _apply(changes: _Changes) -> None:
    """Set *changes* in the current context (Local data re-tagged for this thread)."""
    storage = _storage_type()
    for var, value in changes:
        if storage is not None and type(value) is storage:
            var.set(storage(threading.get_ident(), value.data))
        else:
            var.set(value)


# ------------------------------------------------------------------ executors


class _Submitter(Protocol):
    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]: ...


class _SubmitOnly(concurrent.futures.Executor):
    """An object with only ``submit()``, as a `concurrent.futures.Executor`.

    asgiref accepts any object with ``submit()``; asyncbridge's ``executor=`` takes an
    `~concurrent.futures.Executor` (engine feature 4 of issue 11 widens it).
    """

    def __init__(self, target: _Submitter) -> None:
        self._target = target

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        return self._target.submit(fn, *args, **kwargs)


def _sync_caller() -> Any:
    """The executor of thread-sensitive calls outside any `ThreadSensitiveContext`.

    asyncbridge's ``executors.SYNC_CALLER``: the sync thread that waits for this
    coroutine, or one thread shared by the process where none waits.
    """
    return ab.executors.SYNC_CALLER


class _Waiter:
    """What `AsyncToSync.executors.current` holds while a sync thread waits."""

    __slots__ = ("thread",)

    def __init__(self) -> None:
        self.thread = threading.current_thread()

    def __repr__(self) -> str:
        return f"<sync caller {self.thread.name!r} waiting in async_to_sync>"


_waiting: contextvars.ContextVar[_Waiter | None] = contextvars.ContextVar(
    "asyncbridge.compat.asgiref.waiting", default=None
)


class _Executors:
    """``AsyncToSync.executors``: ``current`` is the sync caller that waits, if any.

    It is context-local: a coroutine started by `async_to_sync` (and the tasks it
    creates) sees the thread waiting for it; `ThreadSensitiveContext` with an
    executor hides it for its block.
    """

    __slots__ = ()

    @property
    def current(self) -> _Waiter | None:
        return _waiting.get()

    @current.setter
    def current(self, value: _Waiter | None) -> None:
        _waiting.set(value)


# ------------------------------------------------------------------ contexts


class AsyncSingleThreadContext:
    """Run every `async_to_sync` call of the block on one thread.

    asyncbridge already runs every `async_to_sync` call from plain sync code on one
    thread, its shared portal loop, so this context only keeps asgiref's
    re-entrancy: the outermost block is the one that counts.

    Example:
        >>> with AsyncSingleThreadContext():
        ...     async_to_sync(asyncio.sleep)(0)
    """

    def __init__(self) -> None:
        self.token: contextvars.Token[AsyncSingleThreadContext] | None = None

    def __enter__(self) -> Self:
        if AsyncToSync.async_single_thread_context.get(None) is None:
            self.token = AsyncToSync.async_single_thread_context.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.token is not None:
            AsyncToSync.async_single_thread_context.reset(self.token)
            self.token = None


class ThreadSensitiveContext:
    """Give thread-sensitive `sync_to_async` calls of this block their own thread.

    Without *executor*, the outermost context of a task chain gets a one-thread
    executor, created at its first thread-sensitive call and shut down (without
    waiting) when the block exits; nested plain contexts share it. With
    *executor* (one worker thread, owned by the caller and not shut down here), the
    block uses it even inside another context or an `async_to_sync` call; such a
    context can be entered once. Tasks created inside it must finish before it
    exits: their later thread-sensitive calls raise `RuntimeError`.

    Example:
        >>> async def main() -> None:
        ...     async with ThreadSensitiveContext():
        ...         await sync_to_async(len)("abc")
        >>> asyncio.run(main())
    """

    def __init__(self, *, executor: concurrent.futures.Executor | None = None) -> None:
        self._executor = executor
        self.token: contextvars.Token[ThreadSensitiveContext] | None = None
        self._old_executor: _Waiter | None = None
        self._exited = False

    @property
    def exited(self) -> bool:
        """True once a context given an executor has exited (it cannot be reused)."""
        return self._exited

    async def __aenter__(self) -> Self:
        if self._executor is not None:
            if self.token is not None:
                raise RuntimeError("ThreadSensitiveContext is already entered")
            if self._exited:
                raise RuntimeError(
                    "ThreadSensitiveContext with an executor cannot be entered again"
                )
            self.token = SyncToAsync.thread_sensitive_context.set(self)
            SyncToAsync.context_to_thread_executor[self] = self._executor
            # Calls in this block go to the given executor, not the waiting caller.
            self._old_executor = _waiting.get()
            _waiting.set(None)
        elif SyncToAsync.thread_sensitive_context.get(None) is None:
            self.token = SyncToAsync.thread_sensitive_context.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.token is None:
            return
        executor = SyncToAsync.context_to_thread_executor.pop(self, None)
        SyncToAsync.thread_sensitive_context.reset(self.token)
        self.token = None
        if self._executor is not None:
            _waiting.set(self._old_executor)
            self._old_executor = None
            self._exited = True
            return
        if executor is not None:
            # Its thread may still wait for this loop: never block the loop on it.
            executor.shutdown(wait=False)


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

    executors = _Executors()
    async_single_thread_context: contextvars.ContextVar[AsyncSingleThreadContext] = (
        contextvars.ContextVar("async_single_thread_context")
    )

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
        after: list[_Changes] = []
        old = _waiting.get()
        _waiting.set(_Waiter())
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
                _apply(after[0])
            _waiting.set(old)

    def __get__(self, parent: Any, objtype: Any) -> Callable[_P, _R]:
        """Bind to *parent*, as a method."""
        func = functools.partial(self.__call__, parent)
        return functools.update_wrapper(func, self.awaitable)


async def _main(
    after: list[_Changes],
    call: _ThreadCall | None,
    exc: BaseException | None,
    awaitable: Awaitable[_R],
) -> _R:
    """Await *awaitable* on the target loop for `AsyncToSync`."""
    task = None if call is None else asyncio.current_task()
    if task is not None:
        call.tasks.append(task)  # type: ignore[union-attr]  # a cancelled caller cancels it
    _adopt_local_data()
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
        after.append(_changes(start))


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
        self.changes: _Changes | None = None  # what the function set, for the caller

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
        _adopt_local_data()
        start = contextvars.copy_context()
        try:
            return self.child()
        finally:
            self.changes = _changes(start)

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
    ] = contextvars.ContextVar("thread_sensitive_context")
    context_to_thread_executor: ClassVar[
        weakref.WeakKeyDictionary[ThreadSensitiveContext, concurrent.futures.Executor]
    ] = weakref.WeakKeyDictionary()

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
        self._executor: Any = (
            executor
            if executor is None or isinstance(executor, concurrent.futures.Executor)
            else _SubmitOnly(executor)
        )
        try:
            self.__self__ = func.__self__  # type: ignore[attr-defined]
        except AttributeError:
            pass

    def _pick_executor(self) -> Any:
        if not self._thread_sensitive:
            return self._executor
        if _waiting.get() is None:
            context = self.thread_sensitive_context.get(None)
            if context is not None:
                if context.exited:
                    raise RuntimeError(
                        "ThreadSensitiveContext has exited. Tasks created inside a "
                        "context with an executor must finish before it exits."
                    )
                executor = self.context_to_thread_executor.get(context)
                if executor is None:
                    executor = concurrent.futures.ThreadPoolExecutor(
                        max_workers=1, thread_name_prefix="asgiref-context"
                    )
                    self.context_to_thread_executor[context] = executor
                return executor
        return _sync_caller()

    async def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        loop = asyncio.get_running_loop()
        executor = self._pick_executor()
        context = contextvars.copy_context() if self.context is None else self.context
        call = _ThreadCall(
            loop,
            context,
            functools.partial(self.func, *args, **kwargs),
            sys.exc_info()[1],
        )
        try:
            # engine feature 3 of issue 11 (run_in_thread(..., context=)) would run
            # the function in *context* itself; `_ThreadCall.run` enters it here.
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
                _apply(call.changes)
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


# ------------------------------------------------------------------ install

_NAMES = (
    "AsyncSingleThreadContext",
    "AsyncToSync",
    "SyncToAsync",
    "ThreadSensitiveContext",
    "async_to_sync",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "sync_to_async",
)
_install_lock = threading.Lock()
_saved: dict[str, Any] = {}


def _asgiref_sync() -> ModuleType:
    try:
        import asgiref.sync  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "asyncbridge.compat.asgiref.install() needs asgiref: "
            "pip install 'asyncbridge[compat]'"
        ) from exc
    return asgiref.sync


def install() -> None:
    """Make ``asgiref.sync`` hand out these implementations, until `uninstall`.

    Exact effect: the attributes ``async_to_sync``, ``sync_to_async``,
    ``AsyncToSync``, ``SyncToAsync``, ``ThreadSensitiveContext``,
    ``AsyncSingleThreadContext``, ``iscoroutinefunction`` and
    ``markcoroutinefunction`` of the module ``asgiref.sync`` are replaced by this
    module's. Nothing else changes: other ``asgiref`` modules, and names a module
    bound with ``from asgiref.sync import ...`` *before* the call, keep asgiref's
    objects, so call it before importing Django (first lines of ``asgi.py``).
    Calling it again does nothing.

    Raises:
        ImportError: asgiref is not installed (``pip install 'asyncbridge[compat]'``).

    Example:
        >>> from asyncbridge.compat import asgiref as compat
        >>> compat.install()
        >>> import asgiref.sync
        >>> asgiref.sync.async_to_sync is compat.async_to_sync
        True
        >>> compat.uninstall()
    """
    module = _asgiref_sync()
    ours = globals()
    with _install_lock:
        if _saved:
            return
        for name in _NAMES:
            _saved[name] = getattr(module, name)
            setattr(module, name, ours[name])


def uninstall() -> None:
    """Put asgiref's own objects back into ``asgiref.sync`` (undo `install`).

    Calling it when not installed does nothing.
    """
    with _install_lock:
        if not _saved:
            return
        module = sys.modules["asgiref.sync"]
        for name, value in _saved.items():
            setattr(module, name, value)
        _saved.clear()
