"""Iterators and context managers across colours.

* `iterate_in_thread`: an async iterator over a blocking one; each item is pulled
  by a worker thread when asked for, never ahead.
* `iterate_sync`: a sync iterator over an async one; every step runs in one task on
  one loop (a `Session`), as an ``async for`` loop would.
* `async_context` / `sync_context`: a context manager of one colour used with the
  statement of the other; enter and exit run on the side they belong to.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio

from asyncbridge._core._config import ConflictPolicy, check_conflict_policy
from asyncbridge._core._errors import ExecutorShutdownError, LoopConflictError
from asyncbridge._core._validate import (
    check_backend,
    check_executor,
    describe,
    reject_coroutine,
)
from asyncbridge._engine._executors import resolve
from asyncbridge._engine._offload import run_in_thread
from asyncbridge._engine._pinned import Session, ThreadSessions, pick_route

if TYPE_CHECKING:
    import concurrent.futures
    from collections.abc import (
        AsyncIterable,
        AsyncIterator,
        Callable,
        Generator,
        Iterable,
        Iterator,
    )
    from contextlib import AbstractAsyncContextManager, AbstractContextManager
    from types import TracebackType
    from typing import Self

    from asyncbridge._core._detect import BackendName
    from asyncbridge._engine._route import Route

__all__ = [
    "AsyncContext",
    "SyncContext",
    "ThreadIterator",
    "async_context",
    "enter_async_cm",
    "enter_in_thread",
    "exit_async_cm",
    "exit_in_thread",
    "iterate_in_thread",
    "iterate_on",
    "iterate_sync",
    "sync_context",
]

T = TypeVar("T")
logger = logging.getLogger("asyncbridge")
_END: Any = object()  # the end of an iteration, passed across threads


def _reject_coroutine(obj: object, func: str, param: str) -> None:
    reject_coroutine(
        obj,
        func,
        param,
        "A coroutine is neither an iterable nor a context manager: await it.",
        expected="an object",
    )


def _check_manager(obj: object, func: str, param: str, *, is_async: bool) -> None:
    """TypeError unless *obj* is a context manager of the kind asked (async or not)."""
    _reject_coroutine(obj, func, param)
    if is_async:
        enter, leave, expected = "__aenter__", "__aexit__", "an async context manager"
        other_enter, other, use = "__enter__", "a sync", "with"
    else:
        enter, leave, expected = "__enter__", "__exit__", "a context manager"
        other_enter, other, use = "__aenter__", "an async", "async with"
    kind = type(obj)
    if hasattr(kind, enter) and hasattr(kind, leave):
        return
    hint = ""
    if hasattr(kind, other_enter):
        hint = f"; it is {other} context manager: use `{use}` directly"
    raise TypeError(
        f"{func}() expected {expected} (with {enter} and {leave}) for {param}, got "
        f"{describe(obj)}{hint}"
    )


def _check_run_options(backend: object, on_loop_conflict: object) -> None:
    check_backend(backend)
    if on_loop_conflict is not None:
        check_conflict_policy(on_loop_conflict)


# ------------------------------------------------------------ sync → async


class ThreadIterator(Generic[T]):
    """The async iterator `iterate_in_thread` returns.

    Each ``__anext__`` pulls one item in a worker thread. ``aclose()`` (or leaving
    ``async with``) closes the underlying iterator in a thread and waits for it;
    dropping the bridge unfinished (``break`` out of ``async for``) starts that close
    in a worker thread at once. An item pulled for a caller that was cancelled
    meanwhile is kept and given to the next ``__anext__``.
    """

    __slots__ = ("_busy", "_closed", "_executor", "_iterator", "_stash")

    def __init__(
        self, iterator: Iterator[T], executor: str | concurrent.futures.Executor | None
    ) -> None:
        self._closed = True  # until fully built: __del__ must find nothing to do
        self._iterator = iterator
        self._executor = executor
        self._busy = False
        self._stash: list[T] = []
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        if not self._stash:
            if self._closed:
                raise StopAsyncIteration
            if self._busy:
                raise RuntimeError(
                    "iterate_in_thread(): __anext__() was called while another call "
                    "on the same iterator is still waiting for its item; iterate it "
                    "from one task at a time"
                )
            self._busy = True
            try:
                # Not a bound method: a worker may hold its last job for a while,
                # and must not keep this bridge alive through it.
                await run_in_thread(
                    _pull, self._iterator, self._stash, executor=self._executor
                )
            finally:
                self._busy = False
        item = self._stash.pop()
        if item is _END:
            self._closed = True
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        """Close the underlying iterator (in a worker thread) and wait for that.

        Its ``finally`` blocks run now; calling ``aclose()`` again does nothing. The
        close is shielded from cancellation, so it always completes.
        """
        if self._closed:
            return
        self._closed = True
        self._stash.clear()
        close = getattr(self._iterator, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await run_in_thread(close, executor=self._executor)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self._iterator, "close", None)
        if close is None:
            return
        try:
            future = resolve(self._executor).executor.submit(close)
        except Exception:  # no pool left (shutdown, exit): close it right here
            try:
                close()
            except Exception:
                logger.warning("iterate_in_thread: closing %r failed", self._iterator)
            return
        future.add_done_callback(_log_close_error)


def _pull(iterator: Iterator[T], stash: list[T]) -> None:  # in a worker thread
    stash.append(next(iterator, _END))


def _log_close_error(future: concurrent.futures.Future[Any]) -> None:
    error = future.exception()
    if error is not None:
        logger.warning("iterate_in_thread: closing the iterator failed", exc_info=error)


def iterate_in_thread(
    iterable: Iterable[T],
    /,
    *,
    executor: str | concurrent.futures.Executor | None = None,
) -> ThreadIterator[T]:
    """Iterate a blocking iterable from async code, one item per worker-thread call.

    ``iter(iterable)`` is called here; each ``__anext__`` then runs ``next()`` on it
    in a worker thread (by `run_in_thread`'s rules, so contextvars and the worker
    marker apply), only when asked: there is no read-ahead. Works on asyncio and
    trio.

    Closing: ``await it.aclose()``, or ``async with ab.iterate_in_thread(...) as it``,
    closes the underlying iterator (a generator's ``finally`` runs) and waits for
    it. Breaking out of ``async for`` over a bridge nothing else refers to starts
    that close in a worker thread at once, without blocking the loop.

    Cancellation: a caller cancelled while its item is being pulled waits for the
    thread (as `run_in_thread` does); the item is kept for the next ``__anext__``.

    Args:
        iterable: any iterable (a generator, a file, a DB cursor).
        executor: where the pulls run, as for `run_in_thread`; a one-thread
            executor (``ab.executors.dedicated(name)``) for iterators bound to a
            thread, such as a ``sqlite3`` cursor.

    Returns:
        An async iterator (also an async context manager) over the same items.

    Raises:
        TypeError: *iterable* is not iterable, is async already, or is a coroutine.
        Exception: whatever the iterator raises, unchanged, from ``__anext__``.

    Example:
        >>> import asyncio, asyncbridge as ab
        >>> def lines():
        ...     yield from ("a", "b")
        >>> async def main() -> list[str]:
        ...     return [line async for line in ab.iterate_in_thread(lines())]
        >>> asyncio.run(main())
        ['a', 'b']
    """
    _reject_coroutine(iterable, "iterate_in_thread", "iterable")
    if not hasattr(type(iterable), "__iter__") and hasattr(type(iterable), "__aiter__"):
        raise TypeError(
            f"iterate_in_thread() expected a blocking iterable for iterable, but "
            f"{describe(iterable)} is async already: iterate it with `async for`"
        )
    try:
        iterator = iter(iterable)
    except TypeError:
        raise TypeError(
            f"iterate_in_thread() expected an iterable for iterable, got "
            f"{describe(iterable)}"
        ) from None
    check_executor(executor, "iterate_in_thread")
    return ThreadIterator(iterator, executor)


# ------------------------------------------------------------ async → sync


def iterate_on(
    route: Route, aiterable: AsyncIterable[T], what: str
) -> Generator[T, None, None]:
    """Iterate *aiterable* from sync code, every step in one task on *route*."""
    return _drive(Session(route), aiterable, what)


def _drive(
    session: Session, aiterable: AsyncIterable[T], what: str
) -> Generator[T, None, None]:
    holder: list[AsyncIterator[T]] = []

    async def step() -> T:
        if not holder:
            holder.append(aiter(aiterable))
        try:
            return await anext(holder[0])
        except StopAsyncIteration:
            return _END  # type: ignore[no-any-return]

    async def finish(_: BaseException | None = None) -> None:
        if holder:
            aclose = getattr(holder.pop(), "aclose", None)
            if aclose is not None:
                await aclose()

    session.on_abort = finish
    route = session.route
    try:
        while True:
            route.check_usable(what)
            item = session.call(step)
            if item is _END:
                return
            yield item
    finally:
        _close_session(session, finish)


def _close_session(session: Session, finish: Callable[[], Any]) -> None:
    """Run *finish* as the session's last step; just queue it if nobody may wait."""
    if session.last is None:  # never started
        return
    route = session.route
    if route.handle.runs_here():  # dropped on the loop's own thread
        session.call_soon(finish)
        return
    try:
        session.call(finish, last=True)
    except LoopConflictError:
        if not (session.ended or route.handle.is_closed()):
            raise
        # The session ended first (the loop is ending, or a KeyboardInterrupt
        # cancelled it); its task ran the clean-up then.


def iterate_sync(
    async_iterable: AsyncIterable[T],
    /,
    *,
    backend: BackendName | None = None,
    on_loop_conflict: ConflictPolicy | None = None,
) -> Generator[T, None, None]:
    """Iterate an async iterable from sync code, by `run_sync`'s rules.

    The loop is chosen here, once, as `run_sync` would choose it (the loop of a
    worker thread, else the portal), and every step (``aiter()``, each ``anext()``,
    the final ``aclose()``) runs in one task on it, as an ``async for`` loop would,
    while the calling thread waits.

    Closing: the result is a generator. Exhausting it, ``close()``, or breaking out
    of ``for`` over it (once nothing else refers to it) closes the async iterator
    at once: its ``aclose()`` runs and is waited for, so an async generator's
    ``finally`` has run when ``close()`` returns.

    Args:
        async_iterable: any async iterable (an async generator, a stream).
        backend: ``"asyncio"`` (default) or ``"trio"``: the portal to use.
        on_loop_conflict: as for `run_sync`, when a loop runs in this thread.

    Returns:
        A generator over the same items.

    Raises:
        TypeError: *async_iterable* is not async-iterable, or is a coroutine.
        LoopConflictError: as for `run_sync` (a step would wait for its own loop,
            the loop is gone, or ``on_loop_conflict="raise"``).
        Exception: whatever the async iterator raises, unchanged.

    Example:
        >>> import asyncbridge as ab
        >>> async def numbers():
        ...     for n in range(3):
        ...         yield n
        >>> list(ab.iterate_sync(numbers()))
        [0, 1, 2]
    """
    _reject_coroutine(async_iterable, "iterate_sync", "async_iterable")
    if not hasattr(type(async_iterable), "__aiter__"):
        hint = (
            "; it is a sync iterable: iterate it directly"
            if hasattr(type(async_iterable), "__iter__")
            else ""
        )
        raise TypeError(
            "iterate_sync() expected an async iterable for async_iterable, got "
            f"{describe(async_iterable)}{hint}"
        )
    _check_run_options(backend, on_loop_conflict)
    route = pick_route("iterate_sync()", backend, on_loop_conflict)
    return iterate_on(route, async_iterable, "iterate_sync()")


# ----------------------------------------------------- context managers


async def enter_in_thread(
    enter: Callable[[Any], T],
    exit_: Callable[..., Any],
    cm: object,
    executor: str | concurrent.futures.Executor | None,
) -> T:
    """Run ``enter(cm)`` in a worker thread; leave again if the caller was cancelled.

    If the caller is cancelled while the thread enters, `run_in_thread` waits for
    the thread; when it did enter, ``exit_`` runs with the cancellation before it
    propagates, so nothing is left entered.
    """
    entered: list[T] = []

    def run() -> T:
        value = enter(cm)
        entered.append(value)
        return value

    try:
        return await run_in_thread(run, executor=executor)
    except BaseException as exc:
        if entered:
            await exit_in_thread(exit_, cm, type(exc), exc, exc.__traceback__, executor)
        raise


async def exit_in_thread(
    exit_: Callable[..., Any],
    cm: object,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
    executor: str | concurrent.futures.Executor | None,
) -> bool:
    """Run ``exit_(cm, ...)`` in a worker thread, shielded: it always completes."""
    suppress: object = False  # (a shielded scope never swallows; its type says it may)
    with anyio.CancelScope(shield=True):
        suppress = await run_in_thread(exit_, cm, exc_type, exc, tb, executor=executor)
    return bool(suppress)


class AsyncContext(Generic[T]):
    """The async context manager `async_context` returns."""

    __slots__ = ("_cm", "_executor")

    def __init__(
        self,
        cm: AbstractContextManager[T],
        executor: str | concurrent.futures.Executor | None,
    ) -> None:
        self._cm = cm
        self._executor = executor

    async def __aenter__(self) -> T:
        kind = type(self._cm)
        return await enter_in_thread(
            kind.__enter__, kind.__exit__, self._cm, self._executor
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return await exit_in_thread(
            type(self._cm).__exit__, self._cm, exc_type, exc, tb, self._executor
        )


def async_context(
    cm: AbstractContextManager[T],
    /,
    *,
    executor: str | concurrent.futures.Executor | None = None,
) -> AsyncContext[T]:
    """Use a blocking context manager with ``async with``, without blocking the loop.

    ``__enter__`` and ``__exit__`` each run in a worker thread (by `run_in_thread`'s
    rules; not necessarily the same thread: pass a one-thread executor from
    ``ab.executors.dedicated(name)`` for thread-bound managers). An exception raised
    in the block reaches ``__exit__``, which may suppress it by returning True.

    Cancellation: ``__exit__`` is shielded and always runs. A caller cancelled
    while ``__enter__`` runs waits for it; if it entered, ``__exit__`` runs with the
    cancellation before it propagates.

    Args:
        cm: a sync context manager (a lock, a file, a DB transaction).
        executor: where enter and exit run, as for `run_in_thread`.

    Returns:
        An async context manager giving what ``cm.__enter__()`` returned.

    Raises:
        TypeError: *cm* is not a sync context manager (or is a coroutine).

    Example:
        >>> import asyncio, threading, asyncbridge as ab
        >>> lock = threading.Lock()
        >>> async def main() -> bool:
        ...     async with ab.async_context(lock):
        ...         return lock.locked()
        >>> asyncio.run(main())
        True
    """
    _check_manager(cm, "async_context", "cm", is_async=False)
    check_executor(executor, "async_context")
    return AsyncContext(cm, executor)


def enter_async_cm(route: Route, acm: object, what: str) -> tuple[Session, Any]:
    """Enter *acm* in a new session on *route*; return the session and the value."""
    route.check_usable(what)
    kind: Any = type(acm)  # checked by the caller: an async context manager
    aexit = kind.__aexit__
    session = Session(route)

    async def abort(exc: BaseException) -> None:  # the loop ends while entered
        await aexit(acm, type(exc), exc, exc.__traceback__)

    async def enter() -> Any:
        value = await kind.__aenter__(acm)
        session.on_abort = abort
        return value

    async def leave(exc: BaseException | None = None) -> None:
        if exc is not None:
            await aexit(acm, type(exc), exc, exc.__traceback__)

    try:
        value = session.call(enter)
    except BaseException as exc:
        # Interrupted after __aenter__ finished (a KeyboardInterrupt while waiting):
        # leave again, with the interruption; otherwise just end the session.
        entered = session.on_abort is not None
        session.on_abort = None
        _close_session_with(session, leave, exc if entered else None)
        raise
    return session, value


def _close_session_with(
    session: Session, finish: Callable[..., Any], exc: BaseException | None
) -> None:
    async def last() -> None:
        await finish(exc)

    _close_session(session, last)


def exit_async_cm(
    session: Session,
    acm: object,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    """Exit *acm* in the session it was entered in, and end that session.

    Raises:
        ExecutorShutdownError: the portal was shut down while the block ran (its
            ``__aexit__`` ran then, with the cancellation).
        LoopConflictError: the loop ended, likewise, or cannot be reached from here.
    """
    if session.ended:  # the loop ended while the block ran
        portal = session.route.portal
        message = (
            f"the event loop of this context manager ({session.route.describe()}) "
            "ended while its block ran; its __aexit__ ran then, with a cancellation"
        )
        if portal is not None and portal.stopping:
            raise ExecutorShutdownError(
                "the asyncbridge portal was shut down: " + message
            )
        raise LoopConflictError(message)
    session.route.check_usable("__exit__")

    async def leave() -> object:
        session.on_abort = None
        return await type(acm).__aexit__(acm, exc_type, exc, tb)  # type: ignore[attr-defined]

    return bool(session.call(leave, last=True))


class SyncContext(Generic[T]):
    """The context manager `sync_context` returns (reusable, and re-entrant).

    Entered from several threads at once, each thread exits the block it entered.
    """

    __slots__ = ("_acm", "_backend", "_policy", "_sessions")

    def __init__(
        self,
        acm: AbstractAsyncContextManager[T],
        backend: str | None,
        policy: ConflictPolicy | None,
    ) -> None:
        self._acm = acm
        self._backend = backend
        self._policy: ConflictPolicy | None = policy  # (not widened to str)
        self._sessions = ThreadSessions()

    def __enter__(self) -> T:
        route = pick_route("sync_context()", self._backend, self._policy)
        session, value = enter_async_cm(route, self._acm, "sync_context()")
        self._sessions.push(session)
        return value  # type: ignore[no-any-return]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        session = self._sessions.pop("sync_context()")
        return exit_async_cm(session, self._acm, exc_type, exc, tb)


def sync_context(
    acm: AbstractAsyncContextManager[T],
    /,
    *,
    backend: BackendName | None = None,
    on_loop_conflict: ConflictPolicy | None = None,
) -> SyncContext[T]:
    """Use an async context manager with a plain ``with``, by `run_sync`'s rules.

    On ``__enter__`` a loop is chosen as `run_sync` would (the loop of a worker
    thread, else the portal) and one task is started on it; ``__aenter__`` and,
    later, ``__aexit__`` both run in that task while the calling thread waits, so
    managers bound to their task (cancel scopes, task groups, ``asyncio.timeout``)
    work. An exception raised in the block reaches ``__aexit__``, which may suppress
    it by returning True. If the loop ends while the block runs, ``__aexit__`` runs
    then, with the cancellation.

    Args:
        acm: an async context manager (a client session, a connection pool).
        backend: ``"asyncio"`` (default) or ``"trio"``: the portal to use.
        on_loop_conflict: as for `run_sync`, when a loop runs in this thread.

    Returns:
        A context manager giving what ``acm.__aenter__()`` returned.

    Raises:
        TypeError: *acm* is not an async context manager (or is a coroutine).
        LoopConflictError: as for `run_sync`.

    Example:
        >>> import contextlib, asyncbridge as ab
        >>> @contextlib.asynccontextmanager
        ... async def session():
        ...     yield "connected"
        >>> with ab.sync_context(session()) as state:
        ...     state
        'connected'
    """
    _check_manager(acm, "sync_context", "acm", is_async=True)
    _check_run_options(backend, on_loop_conflict)
    return SyncContext(acm, backend, on_loop_conflict)
