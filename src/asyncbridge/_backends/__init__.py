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
import functools
import inspect
import logging
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from asyncbridge._core._detect import running_asyncio_loop
from asyncbridge._core._errors import ExecutorShutdownError, LoopConflictError
from asyncbridge._core._state import state
from asyncbridge._core._waits import Wait, here, live
from asyncbridge._core._waits import _chain as _chain_var

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
    "discard",
    "executor_gone",
    "forget_handles_after_fork",
    "handle_for",
    "thread_cancellation",
]

T = TypeVar("T")
logger = logging.getLogger("asyncbridge")


class SyncJob(Generic[T]):
    """One sync→async call in flight: what to await, and how it ended.

    The waiting thread (the one that creates it) blocks on its inbox (see
    `_waits.serve_until`); the loop sets `finished` and wakes it when the coroutine
    has ended: a queue hand-off, cheaper than a `concurrent.futures.Future`.
    """

    __slots__ = (
        "args",
        "cancel_requested",
        "cancelled",
        "context",
        "error",
        "finished",
        "kwargs",
        "owner",
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
        self.owner = here()  # the waiting thread
        self.finished = False
        self.value: T | None = None
        self.error: BaseException | None = None
        self.cancelled = False  # ended by a cancellation
        self.cancel_requested = False  # the waiting thread asked to cancel
        self.task: asyncio.Task[None] | None = None
        self.scope: CancelScope | None = None

    def finish(self) -> None:
        """Mark the job ended and wake the waiting thread (called on the loop)."""
        self.finished = True
        self.owner.wake()

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

    def is_running(self) -> bool:
        """Tell whether the loop runs now (a stopped asyncio loop may run later)."""
        ...

    @property
    def forked(self) -> bool:
        """The loop belongs to the parent process (the handle predates a fork)."""
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
        job.error = _wrong_backend(exc, job, "asyncio")
    finally:
        job.finish()


def _wrong_backend(
    exc: BaseException, job: SyncJob[Any], backend: str
) -> BaseException:
    """Name the mistake when a coroutine of one library ran on the other's loop.

    trio code on asyncio fails with "Task got bad yield: <class 'trio._core...'>";
    asyncio code on trio with "no running event loop". Neither says what to do.
    """
    if not isinstance(exc, RuntimeError):
        return exc
    text = str(exc)
    if backend == "asyncio" and "bad yield" in text and "trio" in text:
        other = "trio"
    elif backend == "trio" and text == "no running event loop":
        other = "asyncio"
    else:
        return exc
    error = RuntimeError(
        f"{job.target!r} looks like {other} code, but ran on the {backend} loop "
        f"({text}); run it with backend={other!r}, e.g. "
        f"asyncbridge.run_sync(fn, backend={other!r})"
    )
    error.__cause__ = exc
    return error


# Bumped in a forked child: handles made before the fork are dead there (the loops
# they name ran in threads the child does not have).
_generation = 0


def forget_handles_after_fork() -> None:
    """In a forked child: make every handle created before the fork report closed."""
    global _generation  # noqa: PLW0603
    _generation += 1


def _forked_error(what: object) -> LoopConflictError:
    return LoopConflictError(
        f"cannot run on {what!r}: that event loop belongs to the parent process "
        "(it was in use before os.fork()); create loop-bound objects (and their "
        "instances) again in the child"
    )


class AsyncioLoop:
    """`LoopHandle` for an asyncio (or uvloop) event loop."""

    __slots__ = ("generation", "loop")
    backend = "asyncio"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.generation = _generation

    @property
    def native(self) -> object:
        return self.loop

    @property
    def forked(self) -> bool:
        return self.generation != _generation

    def submit(self, job: SyncJob[Any]) -> None:
        if self.generation != _generation:
            raise _forked_error(self)
        try:
            self.loop.call_soon_threadsafe(self._start, job)
        except RuntimeError:  # closed
            raise LoopConflictError(
                f"cannot run on {self.loop!r}: that event loop is closed"
            ) from None

    def _start(self, job: SyncJob[Any]) -> None:
        self.loop.create_task(_drive_asyncio(job), context=job.context)

    def cancel(self, job: SyncJob[Any]) -> None:
        if self.generation != _generation:
            return
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
        return self.generation != _generation or self.loop.is_closed()

    def is_running(self) -> bool:
        """Tell whether the loop runs now (it can take work that is waited for)."""
        return self.generation == _generation and self.loop.is_running()

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
            try:
                job.value = await job.awaitable()
            except trio.Cancelled as exc:  # kept: the waiting thread raises it
                job.error = exc
                raise
        if scope.cancelled_caught:
            job.cancelled = True
    except trio.Cancelled as exc:  # the whole run is ending
        job.cancelled = True
        job.error = exc
    except BaseException as exc:  # carried to the waiting thread, raised there
        job.error = _wrong_backend(exc, job, "trio")
    finally:
        job.finish()


class TrioLoop:
    """`LoopHandle` for a trio run, reached through its `TrioToken`."""

    __slots__ = ("generation", "token")
    backend = "trio"

    def __init__(self, token: TrioToken) -> None:
        self.token = token
        self.generation = _generation

    @property
    def native(self) -> object:
        return self.token

    @property
    def forked(self) -> bool:
        return self.generation != _generation

    def submit(self, job: SyncJob[Any]) -> None:
        import trio  # noqa: PLC0415

        if self.generation != _generation:
            raise _forked_error(self)
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

        if self.generation != _generation:
            return
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

        if self.generation != _generation:
            return True
        try:
            self.token.run_sync_soon(_noop)
        except trio.RunFinishedError:
            return True
        return False

    def is_running(self) -> bool:
        """Tell whether the run goes on (a trio run cannot pause)."""
        return not self.is_closed()

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


def discard(value: object) -> None:
    """Drop a result nobody will receive; close it if it is a coroutine.

    A sync function may return a coroutine for its caller to await; when the caller
    has given up (cancelled, timed out), closing it spares the "never awaited"
    warning and runs its ``finally`` blocks.
    """
    if inspect.iscoroutine(value):
        value.close()


class ThreadJob(Generic[T]):
    """One async→sync call: run by a worker thread, awaited by a task or a thread.

    `claim()` decides, exactly once, between "a worker starts it" and "the waiting
    side gave up before it started"; whoever claims first wins. The worker marks its
    thread as working for `parent` while it runs, so that `run_sync` in there routes
    back to the waiting task's loop. `waits` is the chain of waits the job belongs to
    (see `_waits`): it decides whether a pool treats the job as nested work, and
    whether a waiting thread serves it.
    """

    __slots__ = (
        "_claim",
        "args",
        "children",
        "context",
        "deliver",
        "fn",
        "future",
        "parent",
        "raise_cancel",
        "waits",
        "withdrawn",
    )

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
        self.waits: tuple[Wait, ...] = ()
        self.withdrawn = False  # the waiting side cancelled `future` itself
        # Set when the waiting task is cancelled while the job runs: raises its
        # cancellation; and the bridge calls the job makes meanwhile (children).
        self.raise_cancel: Callable[[], object] | None = None
        self.children: list[tuple[SyncJob[Any], LoopHandle]] = []
        self._claim = [True]

    def claim(self) -> bool:
        """Take the right to decide this job's fate; True for the first caller only."""
        if self.future is not None:  # run by a foreign executor: it decides
            self.withdrawn = self.future.cancel()
            return self.withdrawn
        try:
            self._claim.pop()  # atomic: exactly one caller gets the element
        except IndexError:
            return False
        return True

    def request_cancel(self, raise_cancel: Callable[[], object]) -> None:
        """The waiting task was cancelled while the job runs: pass it on.

        Coroutines the job started through bridge calls are cancelled, and its next
        bridge call (or `check_cancelled`) raises *raise_cancel*'s exception.
        """
        self.raise_cancel = raise_cancel
        for child, handle in list(self.children):
            handle.cancel(child)

    def adopt(self, child: SyncJob[Any], handle: LoopHandle) -> None:
        """Record a bridge call made by this job (or raise if it is cancelled)."""
        self.children.append((child, handle))
        if self.raise_cancel is not None:  # after appending: no cancel slips by
            self.children.remove((child, handle))
            self.raise_cancel()

    def disown(self, child: SyncJob[Any], handle: LoopHandle) -> None:
        """The bridge call *child* has ended."""
        try:
            self.children.remove((child, handle))
        except ValueError:
            pass

    def join(self, wait: Wait | None) -> None:
        """Make the job part of the calling code's chain of waits (plus *wait*)."""
        waits = live() if wait is None else (*live(), wait)
        self.waits = waits
        if wait is not None and self.context is not None:
            self.context.run(_set_chain, waits)

    def run(self, finished: Callable[[], None] = _noop) -> None:
        """Run the job in the calling worker thread and deliver its outcome."""
        if not self.claim():
            finished()
            return  # the waiting side gave up before it started
        tls = state
        previous, previous_job = tls.parent, tls.job
        tls.parent, tls.job = self.parent, self
        try:
            if self.context is None:
                value = self.fn(*self.args)
            else:
                value = self.context.run(self.fn, *self.args)
        except BaseException as exc:  # delivered to the waiting side, raised there
            tls.parent, tls.job = previous, previous_job
            finished()
            self.deliver(None, exc)
        else:
            tls.parent, tls.job = previous, previous_job
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
        if future.cancelled():
            if not self.withdrawn:  # cancelled by its executor's shutdown
                self.deliver(None, executor_gone(future))
            return
        error = future.exception()
        self.deliver(None if error is not None else future.result(), error)


def executor_gone(future: object) -> ExecutorShutdownError:
    """The error for work an executor dropped without running it."""
    return ExecutorShutdownError(
        f"the executor running {future!r} was shut down before it started the call "
        "(cancel_futures=True); the call never ran"
    )


def _set_chain(waits: tuple[Wait, ...]) -> None:
    _chain_var.set(waits)


def _discard(value: object, _error: BaseException | None) -> None:
    discard(value)


class _Raised:
    """An exception carried as a result: futures refuse some (StopIteration)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error: BaseException | None = error


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
        job = self._ab_job
        if job.claim() or self._ab_cancellable:
            return super().cancel(msg)
        if job.raise_cancel is None:  # running: pass the cancellation on to it
            job.request_cancel(functools.partial(_raise_cancelled, msg))
        return False


def _raise_cancelled(msg: Any | None) -> None:
    raise asyncio.CancelledError(msg)


def _resolve(fut: asyncio.Future[Any], value: object) -> None:
    if fut.done():  # the waiting task gave up
        if type(value) is not _Raised:
            discard(value)
        return
    fut.set_result(value)


def thread_cancellation(error: BaseException, fn: object) -> BaseException:
    """What to raise, on an asyncio loop, for *error* raised by sync code *fn*.

    An `asyncio.CancelledError` raised inside a task means "this task is cancelled":
    raised unchanged, a sync function's own CancelledError would read as the
    caller's cancellation and be swallowed by the task group around it. It comes
    out as a RuntimeError chained to it instead (as PEP 479 does for StopIteration).
    """
    if not isinstance(error, asyncio.CancelledError):
        return error
    wrapped = RuntimeError(
        f"{fn!r} raised {error!r} in its worker thread; a cancellation exception "
        "raised by sync code is not the caller's cancellation, so it is carried as "
        "this RuntimeError (its __cause__)"
    )
    wrapped.__cause__ = error
    return wrapped


def _unwrap(value: _Raised, fn: object) -> Any:
    error = value.error
    value.error = None
    assert error is not None  # noqa: S101  (unwrapped once)
    error = thread_cancellation(error, fn)
    try:
        # In a coroutine: a StopIteration becomes RuntimeError (PEP 479), chained
        # to it, as it would had the coroutine raised it itself.
        raise error
    finally:
        del error


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
            call_soon_threadsafe(
                _resolve, fut, value if error is None else _Raised(error)
            )
        except RuntimeError:  # the loop closed while the thread ran
            discard(value)
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
        value = await fut
    except asyncio.CancelledError as cancel:
        # Not cancellable: the thread has finished; keep what it raised visible,
        # and close a coroutine it returned for us to await.
        if fut.done() and not fut.cancelled():
            outcome = fut.result()
            if type(outcome) is _Raised:
                if outcome.error is not cancel:
                    cancel.__context__ = outcome.error
            else:
                discard(outcome)
        raise
    if type(value) is _Raised:
        return _unwrap(value, job.fn)  # type: ignore[no-any-return]
    return value  # type: ignore[no-any-return]


class _TrioWait:
    """A trio task waiting for a `ThreadJob`, with `run_in_thread`'s rules."""

    __slots__ = ("abandoned", "cancel_pending", "cancellable", "job", "task", "token")

    def __init__(self, job: ThreadJob[Any], cancellable: bool) -> None:
        import trio  # noqa: PLC0415

        self.job = job
        self.cancellable = cancellable
        self.task = trio.lowlevel.current_task()
        self.token = trio.lowlevel.current_trio_token()
        self.abandoned = False  # the task left: drop the outcome
        self.cancel_pending = False  # cancelled while the thread ran: deliver later

    def resume(self, value: object, error: BaseException | None) -> None:
        import outcome  # noqa: PLC0415  (a dependency of trio)
        import trio  # noqa: PLC0415

        if self.abandoned:
            discard(value)
            return
        result = outcome.Value(value) if error is None else outcome.Error(error)
        trio.lowlevel.reschedule(self.task, result)

    def deliver(self, value: object, error: BaseException | None) -> None:
        import trio  # noqa: PLC0415

        try:
            self.token.run_sync_soon(self.resume, value, error)
        except trio.RunFinishedError:
            discard(value)
            if error is not None:
                logger.warning(
                    "run_in_thread: %r raised after its trio run finished",
                    self.job.fn,
                    exc_info=error,
                )

    def abort(self, raise_cancel: Callable[[], object]) -> Any:
        import trio  # noqa: PLC0415

        if self.job.claim() or self.cancellable:
            self.abandoned = True
            return trio.lowlevel.Abort.SUCCEEDED
        self.cancel_pending = True
        # running: pass it on; *raise_cancel* raises trio's own Cancelled (trio
        # calls it from worker threads for trio.from_thread.check_cancelled too)
        self.job.request_cancel(raise_cancel)
        return trio.lowlevel.Abort.FAILED


async def _await_trio(
    job: ThreadJob[T],
    submit: Callable[[ThreadJob[T]], None],
    cancellable: bool,
) -> T:
    import trio  # noqa: PLC0415

    await trio.lowlevel.checkpoint_if_cancelled()
    wait = _TrioWait(job, cancellable)
    job.parent = wait.token
    job.deliver = wait.deliver
    submit(job)
    try:
        value = await trio.lowlevel.wait_task_rescheduled(wait.abort)
    except BaseException:
        if wait.cancel_pending:  # deliver the deferred Cancelled, chained to it
            await trio.lowlevel.checkpoint()
        raise
    if wait.cancel_pending:  # the thread returned; the caller was cancelled meanwhile
        try:
            await trio.lowlevel.checkpoint()
        except BaseException:
            discard(value)
            raise
    return value  # type: ignore[no-any-return]


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

    When this thread works in a pool, its loop awaiting the job is a wait of that
    pool's thread (see `_waits`): the thread lends its slot meanwhile, and the job
    belongs to the chain.
    """
    loop = running_asyncio_loop()
    waits = state.waits
    if waits is None or waits.pool is None:  # the common case: no pool thread here
        job.waits = live()
        if loop is not None:
            return await _await_asyncio(loop, job, submit, cancellable)
        return await _await_trio(job, submit, cancellable)
    native = loop if loop is not None else _trio_token()
    wait = Wait(waits, f"{job.fn!r} in a worker thread", sync=False, loop=native)
    wait.begin()
    try:
        job.join(wait)
        if loop is not None:
            return await _await_asyncio(loop, job, submit, cancellable)
        return await _await_trio(job, submit, cancellable)
    finally:
        wait.end()


def _trio_token() -> object:
    import trio  # noqa: PLC0415  (running here, so imported)

    return trio.lowlevel.current_trio_token()
