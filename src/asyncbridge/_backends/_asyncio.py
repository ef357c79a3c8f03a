"""asyncio (uvloop included): everything about it the engine needs.

The `LoopHandle` of an asyncio loop, the task that runs a `SyncJob` on it, awaiting
a `ThreadJob` from a task (`await_job`), running a portal loop, the loop class the
bridge uses (uvloop where installed), and the per-thread loop of
``sync_loop="thread"`` (`OwnLoop`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import logging
import os
import threading
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from asyncbridge._core._detect import running_asyncio_loop

from ._base import (
    LoopHandle,
    SyncJob,
    ThreadJob,
    ThreadSafeHandle,
    current_generation,
    discard,
    wrong_backend,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import FrameType

    from ._base import LoopHost

__all__ = ["BACKEND", "AsyncioLoop", "OwnLoop", "new_event_loop", "thread_cancellation"]

T = TypeVar("T")
logger = logging.getLogger("asyncbridge")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Create the kind of asyncio loop asyncbridge runs on (uvloop if available).

    ``ASYNCBRIDGE_PORTAL_LOOP=asyncio`` in the environment opts out of uvloop.
    """
    if os.environ.get("ASYNCBRIDGE_PORTAL_LOOP", "").lower() != "asyncio":
        try:
            import uvloop  # noqa: PLC0415
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


# ------------------------------------------------------------- sync → async


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
        job.error = wrong_backend(exc, job, "asyncio")
    finally:
        job.finish()


class AsyncioLoop(ThreadSafeHandle):
    """`LoopHandle` for an asyncio (or uvloop) event loop."""

    __slots__ = ("loop",)
    backend = "asyncio"
    ended = "is closed"

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop

    @property
    def token(self) -> object:
        return self.loop

    def describe(self) -> str:
        kind = type(self.loop)
        return f"the asyncio loop <{kind.__module__}.{kind.__qualname__} at {id(self.loop):#x}>"

    def _post(self, callback: Callable[..., object], *args: Any) -> bool:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # closed
            return False
        return True

    def _start(self, job: SyncJob[Any]) -> None:
        self.loop.create_task(_drive_asyncio(job), context=job.context)

    def _cancel(self, job: SyncJob[Any]) -> None:
        job.cancel_requested = True
        if job.task is not None:
            job.task.cancel()

    def is_closed(self) -> bool:
        return self.generation != current_generation() or self.loop.is_closed()

    def is_running(self) -> bool:
        """Tell whether the loop runs now (it can take work that is waited for)."""
        return self.generation == current_generation() and self.loop.is_running()

    def runs_here(self) -> bool:
        return running_asyncio_loop() is self.loop

    def call_every(
        self, interval: float, callback: Callable[[], object]
    ) -> Callable[[], None]:
        loop = self.loop
        stopped = False
        handle: asyncio.TimerHandle

        def tick() -> None:
            nonlocal handle
            callback()
            if not stopped:
                handle = loop.call_later(interval, tick)

        handle = loop.call_later(interval, tick)

        def stop() -> None:
            nonlocal stopped
            stopped = True
            handle.cancel()

        return stop

    def __repr__(self) -> str:
        return f"<asyncio loop {self.loop!r}>"


# ------------------------------------------------------------- async → sync


class Raised:
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


def _settle(fut: asyncio.Future[Any], value: object) -> None:
    if fut.done():  # the waiting task gave up
        if type(value) is not Raised:
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


def unwrap(value: Raised, fn: object) -> Any:
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


async def await_job(
    job: ThreadJob[T],
    submit: Callable[[ThreadJob[T]], None],
    cancellable: bool,
) -> T:
    """Hand *job* to *submit* and await its outcome from this asyncio task."""
    loop = asyncio.get_running_loop()
    fut = _ThreadFuture(job, cancellable, loop)
    call_soon_threadsafe = loop.call_soon_threadsafe

    def deliver(value: T | None, error: BaseException | None) -> None:
        try:
            call_soon_threadsafe(
                _settle, fut, value if error is None else Raised(error)
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
            if type(outcome) is Raised:
                if outcome.error is not cancel:
                    cancel.__context__ = outcome.error
            else:
                discard(outcome)
        raise
    if type(value) is Raised:
        return unwrap(value, job.fn)  # type: ignore[no-any-return]
    return value  # type: ignore[no-any-return]


# ------------------------------------------------------------------ loops


def run_loop(host: LoopHost) -> None:
    """Run a portal's loop in this thread until the host stops it, then clean up.

    What still runs at the stop is cancelled and gets ``host.cleanup_timeout``
    seconds for its cleanup (async generators too) before the loop closes.
    """
    loop = new_event_loop()

    def stop() -> None:
        loop.call_soon_threadsafe(loop.stop)

    loop.call_soon(host.started, AsyncioLoop(loop), stop)
    tasks: set[asyncio.Task[Any]] = set()
    try:
        loop.run_forever()
    finally:
        try:
            tasks = asyncio.all_tasks(loop)
            _cancel_left_running(tasks)
            if tasks:
                loop.run_until_complete(
                    asyncio.wait(tasks, timeout=host.cleanup_timeout)
                )
            loop.run_until_complete(
                asyncio.wait_for(
                    loop.shutdown_asyncgens(), max(0.01, host.cleanup_timeout)
                )
            )
        finally:
            loop.close()
            if tasks:
                _release_left_running(tasks)


def _cancel_left_running(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel the tasks a portal stops, each with a ResourceWarning at its code."""
    for task in tasks:
        task.cancel()
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        if frame is None:
            continue  # not a coroutine we can place (or it never started)
        _warn_left_running(task.get_name(), coro, frame)


def _release_left_running(tasks: set[asyncio.Task[Any]]) -> None:
    """Drop the stopped tasks here, so that a ResourceWarning shows whose objects.

    Python prints the source line where an unclosed object was freed under its
    ResourceWarning: that is one of the two lines below, so each carries the
    explanation as its comment (the same words on purpose).
    """
    tasks.clear()  # an object held by a task left running on the portal (see above)
    gc.collect()  # an object held by a task left running on the portal (see above)


def _warn_left_running(name: str, coro: object, frame: FrameType) -> None:
    what = getattr(coro, "__qualname__", type(coro).__qualname__)
    message = (
        f"task {name!r} ({what}) was still running on asyncbridge's portal loop "
        "when the portal stopped: it is cancelled now, and the objects it holds are "
        "released without being closed"
    )
    where = frame.f_code.co_filename, frame.f_lineno
    try:
        warnings.warn_explicit(
            message, ResourceWarning, *where, module=frame.f_globals.get("__name__")
        )
    except Warning:  # -W error: the portal's cleanup goes on; the message is kept
        logger.warning("%s:%d: ResourceWarning: %s", *where, message)


def describe_tasks(token: object) -> str:
    """The tasks of the asyncio loop *token*, one line each: name and where it is."""
    assert isinstance(token, asyncio.AbstractEventLoop)  # noqa: S101
    try:
        tasks = asyncio.all_tasks(token)
    except RuntimeError:  # pragma: no cover - changed too often to list
        return "  (unavailable)"
    lines: list[str] = []
    for task in tasks:
        frames = task.get_stack(limit=1)
        where = (
            f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else "-"
        )
        lines.append(f"  {task.get_name()} at {where}")
    return "\n".join(lines) or "  (none)"


class OwnLoop:
    """A thread's own loop under ``sync_loop="thread"``; closed with the thread."""

    __slots__ = ("runner",)

    def __init__(self) -> None:
        # uvloop is slower than asyncio here on the main thread: with a SIGINT
        # handler installed per run (asyncio.Runner does that), it makes a new
        # socketpair on every run_until_complete.
        main = threading.current_thread() is threading.main_thread()
        factory = asyncio.new_event_loop if main else new_event_loop
        self.runner = asyncio.Runner(loop_factory=factory)

    def run(self, aw: Awaitable[T], timeout: float | None) -> T:
        """Run *aw* to completion on this loop, in a copy of the caller's context."""
        coroutine = (
            aw
            if timeout is None and asyncio.iscoroutine(aw)
            else _with_timeout(aw, timeout)
        )
        return self.runner.run(coroutine, context=contextvars.copy_context())

    def close(self) -> None:
        """Close the loop (what still runs there is cancelled first)."""
        self.runner.close()

    def __del__(self) -> None:
        try:
            self.runner.close()
        except Exception:
            pass


async def _with_timeout(aw: Awaitable[T], seconds: float | None) -> T:
    if seconds is None:
        return await aw
    async with asyncio.timeout(seconds):
        return await aw


_IDLE_RUNNERS: Final = frozenset({("asyncio.runners", "run"), ("threading", "run")})


class _Asyncio:
    """The asyncio backend, as `_backends.Backend` describes it."""

    name: ClassVar[str] = "asyncio"

    @staticmethod
    def current_token() -> object | None:
        return running_asyncio_loop()

    @staticmethod
    def handle(token: object) -> LoopHandle:
        return AsyncioLoop(token)  # type: ignore[arg-type]

    run_loop = staticmethod(run_loop)
    await_job = staticmethod(await_job)
    describe_tasks = staticmethod(describe_tasks)

    @staticmethod
    def worker_parent() -> object | None:
        return None  # asyncio has no worker threads of its own to ask

    @staticmethod
    def idle_frame(frame: FrameType) -> bool:
        # asyncio's selector called by its loop; or (uvloop, whose loop is C code)
        # the Python frame that called the loop's run method.
        module = frame.f_globals.get("__name__", "")
        if module == "selectors":
            caller = frame.f_back
            return caller is not None and (
                caller.f_globals.get("__name__") == "asyncio.base_events"
            )
        return (module, frame.f_code.co_name) in _IDLE_RUNNERS

    @staticmethod
    def raised_in_task(error: BaseException, fn: object) -> BaseException:
        return thread_cancellation(error, fn)

    @staticmethod
    def new_own_loop() -> OwnLoop:
        return OwnLoop()


BACKEND: Final = _Asyncio()
