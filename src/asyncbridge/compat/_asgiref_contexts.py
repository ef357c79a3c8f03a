"""asgiref compatibility: contextvars that travel, and which thread a call uses.

The state `asyncbridge.compat.asgiref` keeps between its calls:

* what a callee changed in its contextvars, carried back to the caller
  (`changes` / `apply`), with ``asgiref.local.Local`` data re-homed to the thread
  that receives it (`adopt_local_data`);
* the sync thread waiting in ``async_to_sync`` (`WAITING`, shown to asgiref's API
  as ``AsyncToSync.executors.current``);
* the two contexts, `ThreadSensitiveContext` and `AsyncSingleThreadContext`, and
  the rule a thread-sensitive ``sync_to_async`` call follows to pick its thread
  (`thread_sensitive_executor`).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Self

import asyncbridge as ab

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "ASYNC_SINGLE_THREAD_CONTEXT",
    "CONTEXT_TO_THREAD_EXECUTOR",
    "THREAD_SENSITIVE_CONTEXT",
    "WAITING",
    "AsyncSingleThreadContext",
    "Changes",
    "Executors",
    "ThreadSensitiveContext",
    "Waiter",
    "adopt_local_data",
    "apply",
    "changes",
    "thread_sensitive_executor",
]

# ------------------------------------------------------------------ contextvars

Changes = list[tuple["contextvars.ContextVar[Any]", Any]]
_MISSING = object()


def _storage_type() -> Any:
    """asgiref.local's thread-tagged storage class, if asgiref.local is in use."""
    module = sys.modules.get("asgiref.local")
    return None if module is None else getattr(module, "_Storage", None)


def adopt_local_data() -> None:
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


def changes(start: contextvars.Context) -> Changes:
    """The variables the current context has set since *start* was copied from it.

    Only what the callee changed travels back to the caller: values that a bridge
    set around the callee (asyncbridge's own bookkeeping) stay where they belong.
    """
    return [
        (var, value)
        for var, value in contextvars.copy_context().items()
        if start.get(var, _MISSING) is not value
    ]


def apply(changed: Changes) -> None:
    """Set *changed* in the current context (Local data re-tagged for this thread)."""
    storage = _storage_type()
    for var, value in changed:
        if storage is not None and type(value) is storage:
            var.set(storage(threading.get_ident(), value.data))
        else:
            var.set(value)


# ------------------------------------------------------------------ the waiting caller


class Waiter:
    """What ``AsyncToSync.executors.current`` holds while a sync thread waits."""

    __slots__ = ("thread",)

    def __init__(self) -> None:
        self.thread = threading.current_thread()

    def __repr__(self) -> str:
        return f"<sync caller {self.thread.name!r} waiting in async_to_sync>"


WAITING: contextvars.ContextVar[Waiter | None] = contextvars.ContextVar(
    "asyncbridge.compat.asgiref.waiting", default=None
)


class Executors:
    """``AsyncToSync.executors``: ``current`` is the sync caller that waits, if any.

    It is context-local: a coroutine started by ``async_to_sync`` (and the tasks it
    creates) sees the thread waiting for it; `ThreadSensitiveContext` with an
    executor hides it for its block.
    """

    __slots__ = ()

    @property
    def current(self) -> Waiter | None:
        return WAITING.get()

    @current.setter
    def current(self, value: Waiter | None) -> None:
        WAITING.set(value)


# ------------------------------------------------------------------ contexts

# asgiref's class attributes ``AsyncToSync.async_single_thread_context``,
# ``SyncToAsync.thread_sensitive_context`` and
# ``SyncToAsync.context_to_thread_executor`` are these objects.
ASYNC_SINGLE_THREAD_CONTEXT: contextvars.ContextVar[AsyncSingleThreadContext] = (
    contextvars.ContextVar("async_single_thread_context")
)
THREAD_SENSITIVE_CONTEXT: contextvars.ContextVar[ThreadSensitiveContext] = (
    contextvars.ContextVar("thread_sensitive_context")
)
CONTEXT_TO_THREAD_EXECUTOR: weakref.WeakKeyDictionary[
    ThreadSensitiveContext, concurrent.futures.Executor
] = weakref.WeakKeyDictionary()
_exited: weakref.WeakSet[ThreadSensitiveContext] = weakref.WeakSet()  # with executor


class AsyncSingleThreadContext:
    """Run every ``async_to_sync`` call of the block on one thread.

    asyncbridge already runs every ``async_to_sync`` call from plain sync code on
    one thread, its shared portal loop, so this context only keeps asgiref's
    re-entrancy: the outermost block is the one that counts.

    Example:
        >>> import asyncio
        >>> from asyncbridge.compat.asgiref import async_to_sync
        >>> with AsyncSingleThreadContext():
        ...     async_to_sync(asyncio.sleep)(0)
    """

    def __init__(self) -> None:
        self.token: contextvars.Token[AsyncSingleThreadContext] | None = None

    def __enter__(self) -> Self:
        if ASYNC_SINGLE_THREAD_CONTEXT.get(None) is None:
            self.token = ASYNC_SINGLE_THREAD_CONTEXT.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.token is not None:
            ASYNC_SINGLE_THREAD_CONTEXT.reset(self.token)
            self.token = None


class ThreadSensitiveContext:
    """Give thread-sensitive ``sync_to_async`` calls of this block their own thread.

    Without *executor*, the outermost context of a task chain gets a one-thread
    executor, created at its first thread-sensitive call and shut down (without
    waiting) when the block exits; nested plain contexts share it. With
    *executor* (one worker thread, owned by the caller and not shut down here), the
    block uses it even inside another context or an ``async_to_sync`` call; such a
    context can be entered once. Tasks created inside it must finish before it
    exits: their later thread-sensitive calls raise `RuntimeError`.

    Example:
        >>> import asyncio
        >>> from asyncbridge.compat.asgiref import sync_to_async
        >>> async def main() -> None:
        ...     async with ThreadSensitiveContext():
        ...         await sync_to_async(len)("abc")
        >>> asyncio.run(main())
    """

    def __init__(self, *, executor: concurrent.futures.Executor | None = None) -> None:
        self._executor = executor
        self.token: contextvars.Token[ThreadSensitiveContext] | None = None
        self._old_executor: Waiter | None = None

    async def __aenter__(self) -> Self:
        if self._executor is not None:
            if self.token is not None:
                raise RuntimeError("ThreadSensitiveContext is already entered")
            if self in _exited:
                raise RuntimeError(
                    "ThreadSensitiveContext with an executor cannot be entered again"
                )
            self.token = THREAD_SENSITIVE_CONTEXT.set(self)
            CONTEXT_TO_THREAD_EXECUTOR[self] = self._executor
            # Calls in this block go to the given executor, not the waiting caller.
            self._old_executor = WAITING.get()
            WAITING.set(None)
        elif THREAD_SENSITIVE_CONTEXT.get(None) is None:
            self.token = THREAD_SENSITIVE_CONTEXT.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.token is None:
            return
        executor = CONTEXT_TO_THREAD_EXECUTOR.pop(self, None)
        THREAD_SENSITIVE_CONTEXT.reset(self.token)
        self.token = None
        if self._executor is not None:
            WAITING.set(self._old_executor)
            self._old_executor = None
            _exited.add(self)
            return
        if executor is not None:
            # Its thread may still wait for this loop: never block the loop on it.
            executor.shutdown(wait=False)


def thread_sensitive_executor() -> concurrent.futures.Executor:
    """Where a thread-sensitive ``sync_to_async`` call runs, by asgiref's rule.

    On the sync thread waiting in ``async_to_sync`` for this coroutine if there is
    one (asyncbridge's ``executors.SYNC_CALLER``, nested to any depth), else on the
    thread of the enclosing `ThreadSensitiveContext` (made at its first call), else
    on one thread shared by the process (``SYNC_CALLER`` again).

    Raises:
        RuntimeError: the enclosing context, one with an executor, has exited.
    """
    if WAITING.get() is None:
        context = THREAD_SENSITIVE_CONTEXT.get(None)
        if context is not None:
            if context in _exited:
                raise RuntimeError(
                    "ThreadSensitiveContext has exited. Tasks created inside a "
                    "context with an executor must finish before it exits."
                )
            executor = CONTEXT_TO_THREAD_EXECUTOR.get(context)
            if executor is None:
                executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="asgiref-context"
                )
                CONTEXT_TO_THREAD_EXECUTOR[context] = executor
            return executor
    return ab.executors.SYNC_CALLER
