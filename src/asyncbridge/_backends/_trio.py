"""trio: everything about it the engine needs.

The `LoopHandle` of a trio run (reached through its `TrioToken`), the system task
that runs a `SyncJob` there, awaiting a `ThreadJob` from a trio task (`await_job`),
running a portal's run, and asking trio whether this thread is one of its worker
threads. trio is imported only inside these functions: never unless a trio run is in
play (and never half-imported: ``import`` waits for another thread importing it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from asyncbridge._core._errors import LoopConflictError

from ._base import (
    LoopHandle,
    SyncJob,
    ThreadJob,
    ThreadSafeHandle,
    discard,
    wrong_backend,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from trio.lowlevel import TrioToken

    from ._base import LoopHost

__all__ = ["BACKEND", "TrioLoop"]

T = TypeVar("T")
logger = logging.getLogger("asyncbridge")


# ------------------------------------------------------------- sync → async


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
        job.error = wrong_backend(exc, job, "trio")
    finally:
        job.finish()


class TrioLoop(ThreadSafeHandle):
    """`LoopHandle` for a trio run, reached through its `TrioToken`."""

    __slots__ = ("token",)
    backend = "trio"
    ended = "has finished"

    def __init__(self, token: TrioToken) -> None:
        super().__init__()
        self.token = token

    def describe(self) -> str:
        return f"the trio run <TrioToken at {id(self.token):#x}>"

    def _post(self, callback: Callable[..., object], *args: Any) -> bool:
        import trio  # noqa: PLC0415

        try:
            self.token.run_sync_soon(callback, *args)
        except trio.RunFinishedError:
            return False
        return True

    def _start(self, job: SyncJob[Any]) -> None:
        import trio  # noqa: PLC0415

        trio.lowlevel.spawn_system_task(_drive_trio, job, context=job.context)

    def _cancel(self, job: SyncJob[Any]) -> None:
        job.cancel_requested = True
        if job.scope is not None:
            job.scope.cancel()

    def is_closed(self) -> bool:
        return self.forked or not self._post(_noop)

    def is_running(self) -> bool:
        """Tell whether the run goes on (a trio run cannot pause)."""
        return not self.is_closed()

    def runs_here(self) -> bool:
        import trio  # noqa: PLC0415

        if not trio.lowlevel.in_trio_run():
            return False
        return trio.lowlevel.current_trio_token() is self.token

    def call_every(
        self, interval: float, callback: Callable[[], object]
    ) -> Callable[[], None]:
        import trio  # noqa: PLC0415

        scope = trio.CancelScope()

        async def beats() -> None:
            with scope:
                while True:
                    await trio.sleep(interval)
                    callback()

        trio.lowlevel.spawn_system_task(beats)
        return scope.cancel

    def __repr__(self) -> str:
        return f"<trio run {self.token!r}>"


def _noop() -> None:
    pass


# ------------------------------------------------------------- async → sync


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


async def await_job(
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


# ------------------------------------------------------------------ runs


def run_loop(host: LoopHost) -> None:
    """Run a portal's trio run in this thread until the host stops it.

    Returning from the main task cancels the system tasks the calls run in; trio
    waits for them, and each one's cleanup runs.
    """
    import trio  # noqa: PLC0415

    async def main() -> None:
        token = trio.lowlevel.current_trio_token()
        stop = trio.Event()
        host.started(TrioLoop(token), lambda: token.run_sync_soon(stop.set))
        await stop.wait()

    trio.run(main)


def current_token() -> object | None:
    """The TrioToken of the trio run in this thread (None: none runs here)."""
    import trio  # noqa: PLC0415

    if not trio.lowlevel.in_trio_run():
        return None
    token: object = trio.lowlevel.current_trio_token()
    return token


def worker_parent() -> object | None:
    """The TrioToken this thread works for, if it is a trio worker thread.

    Raises:
        LoopConflictError: a trio worker thread whose run has finished.
    """
    import sys  # noqa: PLC0415

    if "trio" not in sys.modules:  # never imported: no trio worker threads exist
        return None
    import trio  # noqa: PLC0415  (waits for another thread still importing it)

    try:
        token: object = trio.from_thread.run_sync(trio.lowlevel.current_trio_token)
    except trio.RunFinishedError:
        raise LoopConflictError(
            "this trio worker thread's run has finished; "
            "there is no loop left to run the call on"
        ) from None
    except RuntimeError:  # not a trio worker thread
        return None
    return token


class _Trio:
    """The trio backend, as `_backends.Backend` describes it."""

    name: ClassVar[str] = "trio"
    current_token = staticmethod(current_token)
    run_loop = staticmethod(run_loop)
    await_job = staticmethod(await_job)
    worker_parent = staticmethod(worker_parent)

    @staticmethod
    def handle(token: object) -> LoopHandle:
        return TrioLoop(token)  # type: ignore[arg-type]

    @staticmethod
    def describe_tasks(token: object) -> str:  # noqa: ARG004  (the protocol's)
        return "  (a trio run: see its threads)"

    @staticmethod
    def idle_frame(frame: FrameType) -> bool:
        # trio's I/O manager, called by its run loop
        module = frame.f_globals.get("__name__", "")
        caller = frame.f_back
        return (
            module.startswith("trio._core._io_")
            and caller is not None
            and caller.f_globals.get("__name__") == "trio._core._run"
        )

    @staticmethod
    def new_own_loop() -> None:
        return None  # a trio run cannot be paused and resumed between calls

    @staticmethod
    def raised_in_task(error: BaseException, fn: object) -> BaseException:  # noqa: ARG004
        return error  # no exception type means "this task is cancelled" in trio


BACKEND: Final = _Trio()
