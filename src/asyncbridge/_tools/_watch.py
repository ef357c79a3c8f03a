"""`watch_loop`: find the code that blocks an event loop.

Two parties, public APIs only:

* a heartbeat on the watched loop: a callback every ``threshold / 4`` seconds
  (asyncio and uvloop: ``loop.call_later``; trio: a system task sleeping in a loop)
  that records when the next beat is due;
* a watchdog thread that sleeps until that beat is ``threshold`` seconds overdue.
  If the beat has still not run, the loop is blocked: the watchdog takes the loop
  thread's stack (``sys._current_frames()``) while it blocks, finds the line of async
  code that made the blocking call, and reports it once per blocking site.

Only what the watchdog sees is reported: a block lasting up to about 1.25 times the
threshold may end before it looks (and is then not reported). A loop found idle
(waiting for I/O or timers: its thread only late to be scheduled) or paused (an
asyncio loop between two runs) is not blocked, and not reported either.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Final, Self

from asyncbridge._backends import LoopHandle, current_token, handle_for, named
from asyncbridge._core._errors import LoopConflictError
from asyncbridge._core._hooks import HOOKS, LoopBlocked, emit
from asyncbridge._core._validate import check_bool, check_seconds, describe
from asyncbridge._engine import _sync

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import CodeType, FrameType, TracebackType


__all__ = ["LoopWatch", "active_watches", "watch_loop"]

logger = logging.getLogger("asyncbridge.watch")

_ASYNC_CODE: Final = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_SYNC_MODULE: Final = _sync.__name__  # a block in run_sync's wait gets its own hint

HINT: Final = (
    "Fix: move the blocking call off the loop: `await asyncbridge.run_in_thread(fn, "
    "*args)` (or an `asyncbridge.asyncify(fn)` wrapper); if it runs an event loop of "
    "its own (asyncio.run inside), decorate it with `@asyncbridge.mixed_execution_safe`"
    " and `await fn.aio(...)`; for CPU-bound work, pass a process pool as "
    "`executor=`."
)
HINT_RUN_SYNC: Final = (
    "Fix: this coroutine calls sync code that waits in asyncbridge.run_sync() (or a "
    "sync twin, an async_safe function): await the async API directly, or move that "
    "sync caller off the loop with `await asyncbridge.run_in_thread(...)`."
)

# Every watch that is running, for `python -m asyncbridge doctor`.
_active: set[LoopWatch] = set()


def active_watches() -> list[str]:
    """Describe the watches running now (for the doctor)."""
    return sorted(repr(w) for w in list(_active))


def _is_async(code: CodeType) -> bool:
    return bool(code.co_flags & _ASYNC_CODE)


def is_idle(frame: FrameType, backend: str) -> bool:
    """Tell whether a loop thread whose innermost frame is *frame* waits, idle.

    Only the loop's own wait counts: user code waiting in a selector or on a lock is
    a blocking call.
    """
    if frame.f_code in _ON_LOOP:
        return True  # the watch's own callback: the loop has just turned
    return named(backend).idle_frame(frame)


class LoopWatch:
    """A watch on one event loop: reports the code that blocks it.

    Made by `watch_loop`; runs between `start` and `stop` (or for the length of a
    ``with`` / ``async with`` block). One use: a stopped watch does not restart.

    Attributes:
        threshold: seconds without a turn of the loop that count as blocked.
        reports: the `LoopBlocked` events reported so far, one per blocking site
            (the first time it blocked).
        blocks: how many times the loop was seen blocked, each site every time.
    """

    def __init__(
        self,
        threshold: float,
        loop: object | None,
        on_block: Callable[[LoopBlocked], object] | None,
        log: bool,
    ) -> None:
        self.threshold = threshold
        self.reports: list[LoopBlocked] = []
        self.blocks = 0
        self._interval = threshold / 4  # between heartbeats
        self._loop = loop
        self._on_block = on_block
        self._log = log
        self._backend = ""
        self._seen: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        # Held until stop(): the watchdog sleeps by acquiring it with a timeout (a
        # plain lock: the cheapest timed wait Python has).
        self._halt = threading.Lock()
        self._halt.acquire()
        self._state = "new"  # -> "running" -> "stopped"
        self._ident: int | None = None  # the loop thread's id
        self._thread_name = ""
        self._next_due = 0.0  # monotonic time the next heartbeat is due
        self._overdue = 0  # times the watchdog found the heartbeat overdue
        self._watchdog: threading.Thread | None = None
        self._stop_beats: Callable[[], None] | None = None  # runs on the loop thread
        self._target: LoopHandle

    def __repr__(self) -> str:
        where = f" of thread {self._thread_name!r}" if self._thread_name else ""
        return (
            f"<LoopWatch {self._state} threshold={self.threshold:g}s "
            f"{self._backend or 'loop'}{where}>"
        )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Start watching; return this watch.

        Raises:
            RuntimeError: no loop was given and none runs in this thread, or the
                watch was already started.
            LookupError: the given loop is closed or its run has finished.
        """
        if self._state != "new":
            raise RuntimeError(f"{self!r} was already started; make a new watch")
        token: object | None = self._loop
        here = False
        if token is None:
            token = current_token()
            if token is None:
                raise RuntimeError(
                    "watch_loop() found no event loop running in this thread; "
                    "enter it from async code (async with asyncbridge."
                    "watch_loop(): ...) or pass the loop to watch as loop="
                )
            here = True
        target = handle_for(token)
        self._target = target
        self._backend = target.backend
        self._state = "running"  # before _install can run, in any thread
        _active.add(self)
        if here or target.runs_here():
            self._install()
            return self
        try:
            target.call_soon(self._install)
        except LoopConflictError as exc:  # closed or finished
            self._state = "stopped"
            _active.discard(self)
            raise LookupError(f"watch_loop(): {exc}") from None
        return self

    def _install(self) -> None:
        """On the loop's thread: start the heartbeat and the watchdog."""
        if self._state != "running":
            return
        current = threading.current_thread()
        self._ident = current.ident
        self._thread_name = current.name
        self._next_due = time.monotonic() + self._interval
        self._stop_beats = self._target.call_every(self._interval, self._beat)
        watchdog = threading.Thread(
            target=self._watch,
            name=f"asyncbridge-watch-{self._thread_name}",
            daemon=True,
        )
        self._watchdog = watchdog
        watchdog.start()

    def stop(self) -> None:
        """Stop watching (idempotent); the reports stay readable."""
        if self._state != "running":
            self._state = "stopped"
            return
        self._state = "stopped"
        _active.discard(self)
        self._halt.release()
        self._cancel_beats()
        watchdog = self._watchdog
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(timeout=max(1.0, self.threshold))

    def _cancel_beats(self) -> None:
        if self._target.runs_here():
            self._cancel_on_loop()
            return
        try:
            self._target.call_soon(self._cancel_on_loop)
        except LoopConflictError:  # closed or finished: no beat runs any more
            pass

    def _cancel_on_loop(self) -> None:
        stop = self._stop_beats
        if stop is not None:
            self._stop_beats = None
            stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- heartbeat

    def _beat(self) -> None:
        """On the loop: it turned; the next beat is due one interval from now."""
        self._next_due = time.monotonic() + self._interval

    # ----------------------------------------------------------------- watchdog

    def _sleep(self, seconds: float) -> bool:
        """Sleep *seconds* in the watchdog; True if the watch stopped meanwhile."""
        if self._halt.acquire(timeout=max(0.0, seconds)):
            self._halt.release()  # stays released: every later sleep returns at once
            return True
        return False

    def _watch(self) -> None:
        while True:
            due = self._next_due
            if self._sleep(due + self.threshold - time.monotonic()):
                return
            if self._next_due != due:
                continue  # the loop turned in time
            target = self._target
            # documented in sys (pyright: private by its name)
            frames = sys._current_frames()  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
            frame = frames.get(self._ident)  # type: ignore[arg-type]
            if target.is_closed() or frame is None:
                return  # the loop (or its thread) has ended: nothing left to watch
            self._overdue += 1
            if (
                self._next_due == due
                and target.is_running()  # not paused between two runs
                and not is_idle(frame, self._backend)
            ):
                self._report(time.monotonic() - due, frame)
            del frame
            while self._next_due == due:  # one look per block
                if self._sleep(self._interval):
                    return

    # ---------------------------------------------------------------- reporting

    def _report(self, duration: float, frame: FrameType) -> None:
        frames: list[FrameType] = []
        f: FrameType | None = frame
        while f is not None:
            frames.append(f)
            f = f.f_back
        # the blocking call's line in async code: the innermost coroutine frame
        leaf = next((f for f in frames if _is_async(f.f_code)), frames[0])
        site = (leaf.f_code.co_filename, leaf.f_lineno, leaf.f_code.co_name)
        # show from the outermost coroutine frame down (the loop's own frames above
        # it say nothing about the blocking code)
        outer = max(
            (i for i, f in enumerate(frames) if _is_async(f.f_code)),
            default=len(frames) - 1,
        )
        summary = traceback.StackSummary.extract(
            ((f, f.f_lineno) for f in reversed(frames[: outer + 1])),
            capture_locals=False,
        )
        stack = "".join(summary.format()).rstrip("\n")
        in_run_sync = any(
            f.f_globals.get("__name__") == _SYNC_MODULE for f in frames[:8]
        )
        hint = HINT_RUN_SYNC if in_run_sync else HINT
        del frames, f, leaf
        with self._lock:
            self.blocks += 1
            if site[:2] in self._seen:
                return
            self._seen.add(site[:2])
        report = LoopBlocked(
            self._backend,
            self._thread_name,
            duration,
            self.threshold,
            *site,
            stack,
            hint,
        )
        with self._lock:
            self.reports.append(report)
        if self._log:
            logger.warning("asyncbridge: %s", report)
        if self._on_block is not None:
            try:
                self._on_block(report)
            except Exception:
                logger.exception(
                    "asyncbridge: watch_loop on_block=%r failed", self._on_block
                )
        if HOOKS:
            emit(report)


# The code the watch runs on the loop's thread. Compared by code object, not by
# module name: a doctest or exec() namespace can carry this module's __name__.
_ON_LOOP: Final = frozenset(
    f.__code__
    for f in (LoopWatch._install, LoopWatch._cancel_on_loop, LoopWatch._beat)  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
)


def watch_loop(
    threshold: float = 0.1,
    *,
    loop: object | None = None,
    on_block: Callable[[LoopBlocked], object] | None = None,
    log: bool = True,
) -> LoopWatch:
    """Watch an event loop and report the code that blocks it past *threshold*.

    Use it as ``async with ab.watch_loop():`` (or ``with``) in async code to watch
    the loop running there, or pass ``loop=`` (an asyncio loop or a trio token) to
    watch a loop from any thread, with ``with`` or `LoopWatch.start` /
    `LoopWatch.stop`. When the loop has not turned for *threshold* seconds, the
    stack of the loop's thread is taken while it is still blocked; the report (a
    `asyncbridge.instrumentation.LoopBlocked`) names the line of async code that
    made the blocking call (the innermost coroutine frame), shows the stack, and
    says how to fix it. Each blocking site is reported once per watch: logged as a
    WARNING on the ``asyncbridge.watch`` logger, given to *on_block*, sent to the
    instrumentation hooks, and kept in `LoopWatch.reports`.

    Cost: a heartbeat callback on the loop every ``threshold / 4`` seconds and a
    watchdog thread that wakes as often; nothing else on the loop's hot path.
    asyncio (uvloop included) and trio.

    Args:
        threshold: seconds without a turn of the loop that count as blocked.
        loop: the loop to watch: an asyncio loop or a `trio.lowlevel.TrioToken`
            (None: the loop running in the calling thread, found at start).
        on_block: called with each report, in the watchdog thread.
        log: log each report on the ``asyncbridge.watch`` logger.

    Returns:
        A `LoopWatch`, not yet started: enter it, or call its ``start()``.

    Raises:
        TypeError: a parameter of the wrong type.
        ValueError: *threshold* is not a positive number of seconds.

    Example:
        >>> import asyncio, threading, asyncbridge as ab
        >>> async def main() -> int:
        ...     async with ab.watch_loop(0.05, log=False) as watch:
        ...         threading.Event().wait(0.5)  # a blocking wait on the loop
        ...     return len(watch.reports)
        >>> asyncio.run(main())
        1
    """
    seconds = check_seconds(
        threshold, "threshold", func="watch_loop", none_ok=False, zero_ok=False
    )
    assert seconds is not None  # noqa: S101  (none_ok=False)
    if loop is not None and not (
        isinstance(loop, asyncio.AbstractEventLoop) or hasattr(loop, "run_sync_soon")
    ):
        raise TypeError(
            "watch_loop(): loop must be an asyncio event loop, a trio.lowlevel."
            f"TrioToken or None, got {describe(loop)}"
        )
    if on_block is not None and not callable(on_block):
        raise TypeError(
            f"watch_loop(): on_block must be a callable or None, got {describe(on_block)}"
        )
    check_bool(log, "log", func="watch_loop")
    return LoopWatch(seconds, loop, on_block, log)
