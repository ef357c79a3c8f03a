"""The one place where asyncio and trio differ.

Two halves, one small interface each:

* `LoopHandle` — talk to a loop *from another thread*: start a `SyncJob` on it,
  cancel that job, tell whether the loop is gone. `AsyncioLoop` (uvloop included)
  and `TrioLoop` implement it; `handle_for()` wraps a native loop or trio token.
* `await_thread_job()` — inside a running loop, wait for a `ThreadJob` that a worker
  thread runs, with the cancellation semantics of `run_in_thread`.

trio is imported lazily: asyncbridge never imports it unless a trio loop is in play.
"""

from __future__ import annotations

import asyncio
import logging
from _thread import allocate_lock
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ._detect import running_asyncio_loop, state
from ._errors import LoopConflictError

if TYPE_CHECKING:
    import concurrent.futures
    import contextvars
    from collections.abc import Awaitable, Callable

    from trio import CancelScope
    from trio.lowlevel import TrioToken

__all__ = [
    "AsyncioLoop",
    "LoopHandle",
    "SyncJob",
    "ThreadJob",
    "TrioLoop",
    "await_thread_job",
    "handle_for",
]

T = TypeVar("T")
logger = logging.getLogger("asyncbridge")


class SyncJob(Generic[T]):
    """One sync→async call in flight: what to await, and how it ended.

    The waiting thread blocks on `done` (a plain lock, acquired at creation and
    released by the loop when the coroutine has finished): the leanest hand-off
    Python has, cheaper than a `concurrent.futures.Future`.
    """

    __slots__ = (
        "args",
        "cancel_requested",
        "cancelled",
        "context",
        "done",
        "error",
        "kwargs",
        "scope",
        "target",
        "task",
        "value",
    )

    def __init__(
        self,
        target: Callable[..., Awaitable[T]] | Awaitable[T],
        args: tuple[Any, ...] | None,
        kwargs: dict[str, Any] | None,
        context: contextvars.Context,
    ) -> None:
        self.target = target
        self.args = args  # None: `target` is the awaitable itself
        self.kwargs = kwargs
        self.context = context
        self.done = allocate_lock()
        self.done.acquire()
        self.value: T | None = None
        self.error: BaseException | None = None
        self.cancelled = False  # ended by a cancellation
        self.cancel_requested = False  # the waiting thread asked to cancel
        self.task: asyncio.Task[None] | None = None
        self.scope: CancelScope | None = None

    def awaitable(self) -> Awaitable[T]:
        """Return what to await (calling the async function on the loop)."""
        if self.args is None:
            return self.target  # type: ignore[return-value]
        if self.kwargs:
            return self.target(*self.args, **self.kwargs)  # type: ignore[operator]
        return self.target(*self.args)  # type: ignore[operator]


class LoopHandle(Protocol):
    """A loop seen from another thread."""

    @property
    def backend(self) -> str:
        """``"asyncio"`` or ``"trio"``."""
        ...

    @property
    def native(self) -> object:
        """The asyncio loop or the trio token."""
        ...

    def submit(self, job: SyncJob[Any]) -> None:
        """Start *job* on the loop (thread-safe); LoopConflictError if it is gone."""

    def cancel(self, job: SyncJob[Any]) -> None:
        """Ask the loop to cancel *job* (thread-safe); no-op if the loop is gone."""

    def is_closed(self) -> bool:
        """Tell whether the loop can no longer run anything."""
        ...

    def runs_here(self) -> bool:
        """Tell whether the loop runs in the calling thread."""
        ...


# ------------------------------------------------------------------ asyncio


async def _drive_asyncio(job: SyncJob[Any]) -> None:
    try:
        # Cancelling a task before its first step would skip this whole body (and
        # the release below), so `_cancel` only cancels once `task` is set here.
        job.task = asyncio.current_task()
        if job.cancel_requested:
            raise asyncio.CancelledError  # noqa: TRY301  (recorded just below)
        job.value = await job.awaitable()
    except asyncio.CancelledError as exc:
        job.cancelled = True
        job.error = exc
    except BaseException as exc:  # carried to the waiting thread, raised there
        job.error = exc
    finally:
        job.done.release()


class AsyncioLoop:
    """`LoopHandle` for an asyncio (or uvloop) event loop."""

    __slots__ = ("loop",)
    backend = "asyncio"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    @property
    def native(self) -> object:
        return self.loop

    def submit(self, job: SyncJob[Any]) -> None:
        try:
            self.loop.call_soon_threadsafe(self._start, job)
        except RuntimeError:  # closed
            raise LoopConflictError(
                f"cannot run on {self.loop!r}: that event loop is closed"
            ) from None

    def _start(self, job: SyncJob[Any]) -> None:
        self.loop.create_task(_drive_asyncio(job), context=job.context)

    def cancel(self, job: SyncJob[Any]) -> None:
        try:
            self.loop.call_soon_threadsafe(self._cancel, job)
        except RuntimeError:  # closed: nothing left to cancel
            pass

    @staticmethod
    def _cancel(job: SyncJob[Any]) -> None:
        job.cancel_requested = True
        if job.task is not None:
            job.task.cancel()

    def is_closed(self) -> bool:
        return self.loop.is_closed()

    def runs_here(self) -> bool:
        return running_asyncio_loop() is self.loop

    def __repr__(self) -> str:
        return f"<asyncio loop {self.loop!r}>"


# --------------------------------------------------------------------- trio


async def _drive_trio(job: SyncJob[Any]) -> None:
    import trio  # noqa: PLC0415

    try:
        with trio.CancelScope() as scope:
            job.scope = scope
            if job.cancel_requested:
                scope.cancel()
            job.value = await job.awaitable()
        if scope.cancelled_caught:
            job.cancelled = True
    except trio.Cancelled as exc:  # the whole run is ending
        job.cancelled = True
        job.error = exc
    except BaseException as exc:  # carried to the waiting thread, raised there
        job.error = exc
    finally:
        job.done.release()


class TrioLoop:
    """`LoopHandle` for a trio run, reached through its `TrioToken`."""

    __slots__ = ("token",)
    backend = "trio"

    def __init__(self, token: TrioToken) -> None:
        self.token = token

    @property
    def native(self) -> object:
        return self.token

    def submit(self, job: SyncJob[Any]) -> None:
        import trio  # noqa: PLC0415

        try:
            self.token.run_sync_soon(self._start, job)
        except trio.RunFinishedError:
            raise LoopConflictError(
                f"cannot run on the trio run of {self.token!r}: it has finished"
            ) from None

    @staticmethod
    def _start(job: SyncJob[Any]) -> None:
        import trio  # noqa: PLC0415

        trio.lowlevel.spawn_system_task(_drive_trio, job, context=job.context)

    def cancel(self, job: SyncJob[Any]) -> None:
        import trio  # noqa: PLC0415

        try:
            self.token.run_sync_soon(self._cancel, job)
        except trio.RunFinishedError:
            pass

    @staticmethod
    def _cancel(job: SyncJob[Any]) -> None:
        job.cancel_requested = True
        if job.scope is not None:
            job.scope.cancel()

    def is_closed(self) -> bool:
        import trio  # noqa: PLC0415

        try:
            self.token.run_sync_soon(_noop)
        except trio.RunFinishedError:
            return True
        return False

    def runs_here(self) -> bool:
        import trio  # noqa: PLC0415

        if not trio.lowlevel.in_trio_run():
            return False
        return trio.lowlevel.current_trio_token() is self.token

    def __repr__(self) -> str:
        return f"<trio run {self.token!r}>"


def _noop() -> None:
    pass


def handle_for(native: object) -> LoopHandle:
    """Wrap an asyncio loop or a trio token in its `LoopHandle`."""
    if isinstance(native, asyncio.AbstractEventLoop):
        return AsyncioLoop(native)
    return TrioLoop(native)  # type: ignore[arg-type,unused-ignore]


# ------------------------------------------------------- waiting for threads


class ThreadJob(Generic[T]):
    """One async→sync call: run by a worker thread, awaited by a task.

    `claim()` decides, exactly once, between "a worker starts it" and "the waiting
    task gave up before it started"; whoever claims first wins. The worker marks its
    thread as working for `parent` while it runs, so that `run_sync` in there routes
    back to the waiting task's loop.
    """

    __slots__ = ("_claim", "args", "context", "deliver", "fn", "future", "parent")

    def __init__(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        context: contextvars.Context | None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.context = context
        self.parent: object | None = None
        self.deliver: Callable[[T | None, BaseException | None], None] = _discard
        self.future: concurrent.futures.Future[T] | None = None
        self._claim = [True]

    def claim(self) -> bool:
        """Take the right to decide this job's fate; True for the first caller only."""
        if self.future is not None:  # run by a foreign executor: it decides
            return self.future.cancel()
        try:
            self._claim.pop()  # atomic: exactly one caller gets the element
        except IndexError:
            return False
        return True

    def run(self, finished: Callable[[], None] = _noop) -> None:
        """Run the job in the calling worker thread and deliver its outcome."""
        if not self.claim():
            finished()
            return  # the waiting task gave up before it started
        tls = state
        previous = tls.parent
        tls.parent = self.parent
        try:
            if self.context is None:
                value = self.fn(*self.args)
            else:
                value = self.context.run(self.fn, *self.args)
        except BaseException as exc:  # delivered to the waiting task, raised there
            tls.parent = previous
            finished()
            self.deliver(None, exc)
        else:
            tls.parent = previous
            finished()
            self.deliver(value, None)

    def abandon(self, error: BaseException) -> None:
        """Fail the job without running it (its executor shut down)."""
        if self.claim():
            self.deliver(None, error)

    def follow(self, future: concurrent.futures.Future[T]) -> None:
        """Deliver the outcome of *future*, which a foreign executor runs for us."""
        self.future = future
        future.add_done_callback(self._future_done)

    def _future_done(self, future: concurrent.futures.Future[T]) -> None:
        if future.cancelled():  # withdrawn by the waiting task
            return
        error = future.exception()
        self.deliver(None if error is not None else future.result(), error)


def _discard(value: object, error: BaseException | None) -> None:
    pass


class _ThreadFuture(asyncio.Future[Any]):
    """The future a task awaits for a `ThreadJob`, with `run_in_thread`'s rules.

    Cancelling it before the worker starts the job always works (the job never
    runs). Once the job runs, it only works if `cancellable`; otherwise `cancel()`
    refuses, so asyncio delivers the cancellation when the thread is done.
    """

    def __init__(self, job: ThreadJob[Any], cancellable: bool, loop: Any) -> None:
        super().__init__(loop=loop)
        self._ab_job = job
        self._ab_cancellable = cancellable

    def cancel(self, msg: Any | None = None) -> bool:
        if self._ab_job.claim() or self._ab_cancellable:
            return super().cancel(msg)
        return False


def _resolve(
    fut: asyncio.Future[Any], value: object, error: BaseException | None
) -> None:
    if fut.done():  # the waiting task gave up
        return
    if error is None:
        fut.set_result(value)
    else:
        fut.set_exception(error)


async def _await_asyncio(
    loop: asyncio.AbstractEventLoop,
    job: ThreadJob[T],
    submit: Callable[[ThreadJob[T]], None],
    cancellable: bool,
) -> T:
    fut = _ThreadFuture(job, cancellable, loop)
    call_soon_threadsafe = loop.call_soon_threadsafe

    def deliver(value: T | None, error: BaseException | None) -> None:
        try:
            call_soon_threadsafe(_resolve, fut, value, error)
        except RuntimeError:  # the loop closed while the thread ran
            if error is not None:
                logger.warning(
                    "run_in_thread: %r raised after its event loop closed",
                    job.fn,
                    exc_info=error,
                )

    job.parent = loop
    job.deliver = deliver
    submit(job)
    try:
        value: T = await fut
    except asyncio.CancelledError as cancel:
        # Not cancellable: the thread has finished; keep what it raised visible.
        if fut.done() and not fut.cancelled():
            error = fut.exception()
            if error is not None:
                cancel.__context__ = error
        raise
    return value


async def _await_trio(
    job: ThreadJob[T],
    submit: Callable[[ThreadJob[T]], None],
    cancellable: bool,
) -> T:
    import outcome  # noqa: PLC0415  (a dependency of trio)
    import trio  # noqa: PLC0415

    await trio.lowlevel.checkpoint_if_cancelled()
    task = trio.lowlevel.current_task()
    token = trio.lowlevel.current_trio_token()
    abandoned = False
    cancel_pending = False

    def resume(value: T | None, error: BaseException | None) -> None:
        if not abandoned:
            trio.lowlevel.reschedule(
                task, outcome.Value(value) if error is None else outcome.Error(error)
            )

    def deliver(value: T | None, error: BaseException | None) -> None:
        try:
            token.run_sync_soon(resume, value, error)
        except trio.RunFinishedError:
            if error is not None:
                logger.warning(
                    "run_in_thread: %r raised after its trio run finished",
                    job.fn,
                    exc_info=error,
                )

    def abort(_: object) -> trio.lowlevel.Abort:
        nonlocal abandoned, cancel_pending
        if job.claim() or cancellable:
            abandoned = True
            return trio.lowlevel.Abort.SUCCEEDED
        cancel_pending = True
        return trio.lowlevel.Abort.FAILED

    job.parent = token
    job.deliver = deliver
    submit(job)
    try:
        return await trio.lowlevel.wait_task_rescheduled(abort)  # type: ignore[no-any-return]
    finally:
        if cancel_pending:  # deliver the deferred Cancelled (chained to any error)
            await trio.lowlevel.checkpoint()


async def await_thread_job(
    job: ThreadJob[T],
    submit: Callable[[ThreadJob[T]], None],
    cancellable: bool,
) -> T:
    """Hand *job* to *submit* (which queues it for a worker) and await its outcome.

    Cancellation: a job not yet started is withdrawn at once. A running one is waited
    for unless *cancellable*; then the cancellation propagates (what the thread raised
    is chained as its ``__context__``). With *cancellable*, the caller is released at
    once and the thread's outcome is discarded.
    """
    loop = running_asyncio_loop()
    if loop is not None:
        return await _await_asyncio(loop, job, submit, cancellable)
    return await _await_trio(job, submit, cancellable)
