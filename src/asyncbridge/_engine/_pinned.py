"""Sync code pinned to one event loop: what bridges objects (not single calls) need.

`run_sync` picks a loop for each call. An async iterator, an async context manager
or a `DualInterface` instance needs one loop for its whole life, and an async context
manager needs one *task* for its enter and exit (cancel scopes, task groups and
``asyncio.timeout`` belong to the task that entered them). Here:

* a `_route.Route` chosen once (`pick_route` applies `run_sync`'s rules), with the
  checks that turn a call that could never finish into a `LoopConflictError`;
* `Session`: one task on that loop that runs a sync caller's steps, in order, all
  inside itself, and runs a clean-up step if the loop ends under it.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from asyncbridge._backends import SyncJob
from asyncbridge._backends._greenlet import ReentryLoop
from asyncbridge._core._errors import LoopConflictError
from asyncbridge._core._waits import CHAIN

from ._route import Route, route
from ._sync import run_job

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from asyncbridge._core._config import ConflictPolicy

__all__ = ["Session", "ThreadSessions", "pick_route"]

logger = logging.getLogger("asyncbridge")


def pick_route(what: str, backend: str | None, policy: ConflictPolicy | None) -> Route:
    """Choose the loop a sync caller here pins an object to, by `run_sync`'s rules.

    This thread's own loop is never chosen (``sync_loop="thread"`` does not apply):
    a pinned loop must be reachable from other threads.
    """
    chosen = route(what, backend, policy, own_loop=False)
    assert chosen is not None  # noqa: S101  (own_loop=False)
    return chosen


# ------------------------------------------------------------------ sessions


class ThreadSessions:
    """The open `with` blocks of one bridged object, kept per thread.

    An object entered from several threads at once (each with its own session) is
    exited, in each thread, in the session that thread entered: a stack per thread.
    """

    __slots__ = ("_lock", "_stacks")

    def __init__(self) -> None:
        self._stacks: dict[int, list[Session]] = {}
        self._lock = threading.Lock()

    def push(self, session: Session) -> None:
        """Record *session* as the calling thread's innermost open block."""
        with self._lock:
            self._stacks.setdefault(threading.get_ident(), []).append(session)

    def pop(self, what: str) -> Session:
        """Take the calling thread's innermost open block.

        Raises:
            RuntimeError: this thread has no open block (``__exit__`` without
                ``__enter__`` in this thread).
        """
        ident = threading.get_ident()
        with self._lock:
            stack = self._stacks.get(ident)
            if not stack:
                raise RuntimeError(
                    f"{what}.__exit__() was called without a matching __enter__() in "
                    "this thread"
                )
            session = stack.pop()
            if not stack:
                del self._stacks[ident]
            return session

    def __bool__(self) -> bool:
        return bool(self._stacks)


async def _run_step(job: SyncJob[Any]) -> None:
    """Run one step inside the session's task, as `_backends` runs a whole job.

    A cancellation (of the session, or from outside) is recorded and re-raised.
    """
    try:
        job.value = await job.awaitable()
    except anyio.get_cancelled_exc_class() as exc:
        job.cancelled = True
        job.error = exc
        raise
    except BaseException as exc:  # carried to the waiting thread, raised there
        job.error = exc
    finally:
        job.task = job.scope = None
        job.finish()


class Session:
    """One task on a `Route`'s loop that runs a sync caller's steps, in order.

    Steps are queued from the sync side through small put jobs and run one by one
    inside the session's task, so everything they do belongs to one task. The task
    ends after the step marked last; if the loop ends first, *on_abort* (set by the
    owner once there is something to clean up) runs, shielded, with the exception.
    """

    __slots__ = ("_ended", "_host", "_queue", "_wakeup", "last", "on_abort", "route")

    def __init__(self, route: Route) -> None:
        self.route = route
        self.on_abort: Callable[[BaseException], Awaitable[object]] | None = None
        self.last: SyncJob[Any] | None = None  # the step most recently run
        self._queue: deque[tuple[SyncJob[Any], bool]] = deque()
        self._wakeup: anyio.Event | None = None
        self._host: SyncJob[None] | None = None  # the job that runs the task
        self._ended = False  # the task has returned or was cancelled

    @property
    def ended(self) -> bool:
        """Tell whether the session's task is over (no step will run any more)."""
        return self._ended

    def call(
        self, target: Callable[..., Awaitable[Any]], *args: Any, last: bool = False
    ) -> Any:
        """Run ``await target(*args)`` in the session's task; wait and return it.

        With *last*, the task ends after this step, however it goes.
        """
        job: SyncJob[Any] = SyncJob(target, args, None, contextvars.copy_context())
        self.last = job
        if type(self.route.handle) is ReentryLoop:  # inline, in the caller's task
            return run_job(job, self.route.handle)
        return run_job(
            job, self.route.handle, self.route.portal, None, self._enqueue(last)
        )

    def call_soon(self, target: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Queue a last step without waiting for it (nobody could: see callers)."""
        if self._host is None:
            return
        job: SyncJob[Any] = SyncJob(target, args, None, contextvars.copy_context())
        try:
            self._enqueue(last=True)(job)
        except LoopConflictError:  # the loop is gone, and the task with it
            pass

    def _enqueue(self, last: bool) -> Callable[[SyncJob[Any]], None]:
        def submit(job: SyncJob[Any]) -> None:
            handle = self.route.handle
            if self._host is None:
                # Set before submitting: the task may start at once, and reads it.
                host: SyncJob[None] = SyncJob(
                    self._serve, (), None, contextvars.Context()
                )
                self._host = host
                try:
                    handle.submit(host)
                except BaseException:
                    self._host = None
                    raise
            handle.submit(SyncJob(self._put, (job, last), None, contextvars.Context()))

        return submit

    async def _put(self, job: SyncJob[Any], last: bool) -> None:
        if self._ended:
            _fail(job)
            return
        self._queue.append((job, last))
        if self._wakeup is not None:
            self._wakeup.set()

    async def _serve(self) -> None:
        """The session's task: run queued steps until the last one, or until cancelled.

        A step's job exposes the session's task (asyncio) or its cancel scope (trio)
        to `LoopHandle.cancel` through its ``task`` / ``scope`` slots: a timeout or
        KeyboardInterrupt in a waiting thread cancels the whole session, and the
        clean-up then runs, as when the loop ends. (A cancel scope per step would
        break managers that enter a scope in one step and exit it in another.)
        """
        host = self._host
        assert host is not None  # noqa: S101  (set before this task starts)
        queue = self._queue
        try:
            while True:
                while not queue:
                    self._wakeup = anyio.Event()
                    await self._wakeup.wait()
                self._wakeup = None
                job, last = queue.popleft()
                job.task, job.scope = host.task, host.scope
                # Steps run in this one task; each sees its caller's chain of waits.
                CHAIN.set(job.context.get(CHAIN, ()))
                if job.cancel_requested:  # asked before the step started
                    (host.task or host.scope).cancel()  # type: ignore[union-attr]
                await _run_step(job)
                if last:
                    self._ended = True
                    return
        except BaseException as exc:  # only cancellation gets here
            await self._abort(exc)
            raise

    async def _abort(self, exc: BaseException) -> None:
        """Fail the queued steps and run the clean-up.

        Not shielded: a shield scope would sit between a scope that a step entered
        and the clean-up that exits it.
        """
        self._ended = True
        while self._queue:
            _fail(self._queue.popleft()[0])
        on_abort, self.on_abort = self.on_abort, None
        if on_abort is None:
            return
        try:
            await on_abort(exc)
        except BaseException as error:
            if error is not exc:  # re-raising what it was given is normal
                logger.warning(
                    "asyncbridge: the clean-up of an interrupted bridge failed",
                    exc_info=True,
                )


def _fail(job: SyncJob[Any]) -> None:
    job.error = LoopConflictError(
        "the task this call needed has ended (its event loop is shutting down)"
    )
    job.finish()
