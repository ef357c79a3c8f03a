"""What both backends share: the jobs that cross threads, and the handle protocol.

* `SyncJob`: one sync→async call, waited for by the thread that made it;
* `ThreadJob`: one async→sync call, run by a worker thread (or served by a
  waiting thread), awaited by a task or a blocked thread;
* `LoopHandle`: a loop seen from another thread (`_asyncio.AsyncioLoop`,
  `_trio.TrioLoop`, and `_greenlet.ReentryLoop`), the first two built on
  `ThreadSafeHandle`;
* the fork generation: handles made before `os.fork()` are dead in the child.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from asyncbridge._core._errors import ExecutorShutdownError, LoopConflictError
from asyncbridge._core._state import state
from asyncbridge._core._waits import CHAIN, Wait, here, live

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures
    import contextvars
    from collections.abc import Awaitable, Callable
    from types import FrameType

    from trio import CancelScope

__all__ = [
    "Backend",
    "LoopHandle",
    "LoopHost",
    "OwnLoop",
    "SyncJob",
    "ThreadJob",
    "ThreadSafeHandle",
    "current_generation",
    "discard",
    "executor_gone",
    "forget_handles_after_fork",
    "forked_error",
    "wrong_backend",
]

T = TypeVar("T")


def _noop() -> None:
    pass


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
    def token(self) -> object:
        """What identifies the loop: the asyncio loop, or the trio run's TrioToken."""
        ...

    def describe(self) -> str:
        """Name the loop for a message ("the asyncio loop <uvloop.Loop at 0x...>")."""
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

    @property
    def ended(self) -> str:
        """How this kind of loop says it has ended (``"is closed"``, ...)."""
        ...

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run *callback* on the loop soon (thread-safe); LoopConflictError if gone."""

    def call_every(
        self, interval: float, callback: Callable[[], object]
    ) -> Callable[[], None]:
        """On the loop's thread: call *callback* every *interval* s; return a stop."""
        ...


class ThreadSafeHandle:
    """What the `LoopHandle` of both backends shares: reaching the loop's thread.

    A backend's handle says how to post a callback to its loop's thread (`_post`:
    False once the loop has ended) and how a job starts and is cancelled there
    (`_start`, `_cancel`); `submit`, `cancel` and `call_soon`, with the fork check
    and the error for a loop that has ended, are written once, here.
    """

    __slots__ = ("generation",)
    ended: ClassVar[str]  # how this kind of loop says it has ended ("is closed")

    def __init__(self) -> None:
        self.generation = current_generation()

    def describe(self) -> str:
        raise NotImplementedError

    def _post(self, callback: Callable[..., object], *args: Any) -> bool:
        raise NotImplementedError

    def _start(self, job: SyncJob[Any]) -> None:
        raise NotImplementedError

    def _cancel(self, job: SyncJob[Any]) -> None:
        raise NotImplementedError

    @property
    def forked(self) -> bool:
        return self.generation != _generation

    def submit(self, job: SyncJob[Any]) -> None:
        if self.generation != _generation:
            raise forked_error(self)
        if not self._post(self._start, job):
            raise LoopConflictError(f"cannot run on {self.describe()}: it {self.ended}")

    def cancel(self, job: SyncJob[Any]) -> None:
        if self.generation == _generation:
            self._post(self._cancel, job)  # ended: nothing left to cancel

    def call_soon(self, callback: Callable[[], object]) -> None:
        if not self._post(callback):
            raise LoopConflictError(f"{self.describe()} {self.ended}")


class LoopHost(Protocol):
    """What runs a loop thread (a portal): told when the loop runs, and how to stop."""

    cleanup_timeout: float  # seconds what still runs at the stop gets to clean up

    def started(self, handle: LoopHandle, stop: Callable[[], None]) -> None:
        """The loop runs (on this thread); *stop* (thread-safe) ends it."""


class Backend(Protocol):
    """Everything the engine needs of one event-loop library."""

    name: ClassVar[str]
    """``"asyncio"`` or ``"trio"``."""

    def current_token(self) -> object | None:
        """The token of this library's loop running in this thread, or None."""
        ...

    def handle(self, token: object) -> LoopHandle:
        """The handle of the loop of *token*."""
        ...

    def run_loop(self, host: LoopHost) -> None:
        """Run a new loop in this thread for *host*, until it stops it."""
        ...

    async def await_job(
        self,
        job: ThreadJob[T],
        submit: Callable[[ThreadJob[T]], None],
        cancellable: bool,
    ) -> T:
        """In a task of this library: hand *job* to *submit*, await its outcome."""
        ...

    def worker_parent(self) -> object | None:
        """The token this thread works for, if it is one of this library's workers."""
        ...

    def describe_tasks(self, token: object) -> str:
        """The tasks of the loop of *token*, for a diagnosis."""
        ...

    def idle_frame(self, frame: FrameType) -> bool:
        """Whether a loop thread at *frame* (its innermost) is the loop's own wait."""
        ...

    def raised_in_task(self, error: BaseException, fn: object) -> BaseException:
        """What a task of this library raises for *error*, raised by sync *fn*."""
        ...

    def new_own_loop(self) -> OwnLoop | None:
        """A loop for the calling thread to own (``sync_loop="thread"``), if any."""
        ...


class OwnLoop(Protocol):
    """A loop owned by one thread, run to completion per call, kept between calls."""

    def run(self, aw: Awaitable[T], timeout: float | None) -> T:
        """Run *aw* on it (a *timeout* in seconds cancels it, TimeoutError)."""
        ...

    def close(self) -> None:
        """Close it."""


def wrong_backend(exc: BaseException, job: SyncJob[Any], backend: str) -> BaseException:
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


def forked_error(what: object) -> LoopConflictError:
    return LoopConflictError(
        f"cannot run on {what!r}: that event loop belongs to the parent process "
        "(it was in use before os.fork()); create loop-bound objects (and their "
        "instances) again in the child"
    )


def current_generation() -> int:
    """The fork generation handles are compared with (see `forget_handles_after_fork`)."""
    return _generation


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
            self.context.run(CHAIN.set, waits)

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
            self._deliver(None, exc)
        else:
            tls.parent, tls.job = previous, previous_job
            finished()
            self._deliver(value, None)

    def abandon(self, error: BaseException) -> None:
        """Fail the job without running it (its executor shut down)."""
        if self.claim():
            self._deliver(None, error)

    def follow(self, future: concurrent.futures.Future[T]) -> None:
        """Deliver the outcome of *future*, which a foreign executor runs for us."""
        self.future = future
        future.add_done_callback(self._future_done)

    def _deliver(self, value: T | None, error: BaseException | None) -> None:
        """Hand the outcome to the waiting side; a job delivers at most once.

        The callback is dropped first: it usually refers back to the job (and to
        the future awaiting it), and keeping it would leave a reference cycle
        for the garbage collector, holding the call's arguments, result and
        contextvars until a collection.
        """
        deliver, self.deliver = self.deliver, _discard
        deliver(value, error)

    def _future_done(self, future: concurrent.futures.Future[T]) -> None:
        if future.cancelled():
            if not self.withdrawn:  # cancelled by its executor's shutdown
                self._deliver(None, executor_gone(future))
            return
        error = future.exception()
        self._deliver(None if error is not None else future.result(), error)


def executor_gone(future: object) -> ExecutorShutdownError:
    """The error for work an executor dropped without running it."""
    return ExecutorShutdownError(
        f"the executor running {future!r} was shut down before it started the call "
        "(cancel_futures=True); the call never ran"
    )


def _discard(value: object, _error: BaseException | None) -> None:
    discard(value)
